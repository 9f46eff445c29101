//! Money as integer cents with a currency.
//!
//! No floating point is used anywhere: amounts are parsed digit by digit and
//! all arithmetic is checked.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A supported currency. Serializes as its ISO 4217 code (`"USD"`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Currency {
    /// United States dollar.
    #[default]
    #[serde(rename = "USD")]
    Usd,
    /// Canadian dollar.
    #[serde(rename = "CAD")]
    Cad,
    /// Euro.
    #[serde(rename = "EUR")]
    Eur,
    /// Pound sterling.
    #[serde(rename = "GBP")]
    Gbp,
}

impl Currency {
    /// Every supported currency.
    pub const ALL: &'static [Currency] =
        &[Currency::Usd, Currency::Cad, Currency::Eur, Currency::Gbp];

    /// The ISO 4217 code, e.g. `"USD"`.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Cad => "CAD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
        }
    }

    /// The symbol used when displaying amounts: `"$"`, `"CA$"`, `"€"`, `"£"`.
    pub fn symbol(self) -> &'static str {
        match self {
            Currency::Usd => "$",
            Currency::Cad => "CA$",
            Currency::Eur => "€",
            Currency::Gbp => "£",
        }
    }

    /// Symbols accepted when parsing, longest first.
    fn parse_symbols(self) -> &'static [&'static str] {
        match self {
            Currency::Usd => &["US$", "$"],
            Currency::Cad => &["CA$", "C$", "$"],
            Currency::Eur => &["€"],
            Currency::Gbp => &["£"],
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    /// Parses a code, case-insensitively (`"usd"`, `"EUR"`), or one of the
    /// unambiguous symbols `"CA$"`, `"€"`, `"£"` (`"$"` means USD).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Currency::ALL
            .iter()
            .copied()
            .find(|c| c.code().eq_ignore_ascii_case(t) || c.symbol().eq_ignore_ascii_case(t))
            .ok_or_else(|| MoneyError::Malformed(s.to_string()))
    }
}

/// An amount of money in integer cents (minor units).
///
/// JSON: `{"cents": 389, "currency": "USD"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money {
    /// The amount in cents (may be negative, e.g. for discounts).
    pub cents: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in US cents.
    pub const fn usd(cents: i64) -> Money {
        Money {
            cents,
            currency: Currency::Usd,
        }
    }

    /// An amount in cents of `currency`.
    pub fn new(cents: i64, currency: Currency) -> Money {
        Money { cents, currency }
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money::new(0, currency)
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`; fails on different currencies or overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let cents = self
            .cents
            .checked_add(other.cents)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(cents, self.currency))
    }

    /// `self - other`; fails on different currencies or overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let cents = self
            .cents
            .checked_sub(other.cents)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(cents, self.currency))
    }

    /// `self * n`; fails on overflow.
    pub fn checked_mul(self, n: i64) -> Result<Money, MoneyError> {
        let cents = self.cents.checked_mul(n).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(cents, self.currency))
    }

    /// Parses a non-negative amount: `"3.89"`, `"$3.89"`, `"3"`, `"0.5"`
    /// (= 50 cents), `"1,299.00"`, `"USD 3.89"`, `"3.89 €"`.
    ///
    /// An optional code or symbol of `currency` may precede or follow the
    /// number; thousands separators must group digits by three. Negative
    /// amounts, more than two decimals, other currencies' symbols, garbage and
    /// overflow are all rejected with [`MoneyError::Malformed`].
    pub fn parse(s: &str, currency: Currency) -> Result<Money, MoneyError> {
        let malformed = || MoneyError::Malformed(s.to_string());
        let number = strip_currency(s.trim(), currency).ok_or_else(malformed)?;
        let (whole, frac) = match number.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (number, None),
        };
        let whole_digits = ungroup(whole).ok_or_else(malformed)?;
        let frac_cents = match frac {
            None => 0,
            Some(f) if f.is_empty() || f.len() > 2 || !f.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(malformed());
            }
            // "5" means 50 cents, "05" means 5 cents.
            Some(f) => digits_value(f).ok_or_else(malformed)? * if f.len() == 1 { 10 } else { 1 },
        };
        if whole_digits.is_empty() && frac.is_none() {
            return Err(malformed());
        }
        let whole_value = if whole_digits.is_empty() {
            0
        } else {
            digits_value(&whole_digits).ok_or_else(malformed)?
        };
        let cents = whole_value
            .checked_mul(100)
            .and_then(|c| c.checked_add(frac_cents))
            .ok_or_else(malformed)?;
        Ok(Money::new(cents, currency))
    }

    /// Sums `items`, all of which must be in `currency`.
    pub fn sum<I: IntoIterator<Item = Money>>(
        items: I,
        currency: Currency,
    ) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }
}

/// Removes an optional code/symbol prefix and suffix for `currency`.
fn strip_currency(s: &str, currency: Currency) -> Option<&str> {
    fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
        let head = s.get(..prefix.len())?;
        head.eq_ignore_ascii_case(prefix)
            .then(|| &s[prefix.len()..])
    }
    fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
        let split = s.len().checked_sub(suffix.len())?;
        let tail = s.get(split..)?;
        tail.eq_ignore_ascii_case(suffix).then(|| &s[..split])
    }
    let marks: Vec<&str> = std::iter::once(currency.code())
        .chain(currency.parse_symbols().iter().copied())
        .collect();
    let mut rest = s;
    if let Some(stripped) = marks.iter().find_map(|m| strip_prefix_ci(rest, m)) {
        rest = stripped.trim_start();
    }
    if let Some(stripped) = marks.iter().find_map(|m| strip_suffix_ci(rest, m)) {
        rest = stripped.trim_end();
    }
    if rest.is_empty() {
        return None;
    }
    Some(rest)
}

/// Validates optional thousands separators in a run of digits and returns
/// the bare digits; `None` if anything but digits and well-placed commas.
fn ungroup(whole: &str) -> Option<String> {
    if !whole.contains(',') {
        return whole
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| whole.to_string());
    }
    let mut groups = whole.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits = first.to_string();
    for group in groups {
        if group.len() != 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.push_str(group);
    }
    Some(digits)
}

/// Value of a non-empty run of ASCII digits, `None` on overflow.
fn digits_value(digits: &str) -> Option<i64> {
    digits.bytes().try_fold(0i64, |acc, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

impl fmt::Display for Money {
    /// `"$3.89"`, `"-$0.50"`, `"€12.00"`, `"$1,299.00"`, `"CA$5.00"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        let units = (abs / 100).to_string();
        let mut grouped = String::with_capacity(units.len() + units.len() / 3);
        for (i, c) in units.chars().enumerate() {
            if i > 0 && (units.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(
            f,
            "{sign}{}{grouped}.{:02}",
            self.currency.symbol(),
            abs % 100
        )
    }
}

/// Errors from money arithmetic and parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// The two amounts are in different currencies.
    #[error("currency mismatch: {left} vs {right}")]
    CurrencyMismatch {
        /// Currency of the left-hand amount.
        left: Currency,
        /// Currency of the right-hand amount.
        right: Currency,
    },
    /// The result does not fit in 64-bit cents.
    #[error("money amount overflow")]
    Overflow,
    /// Text that is not a valid non-negative amount.
    #[error("malformed money amount `{0}`")]
    Malformed(String),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap; the library code does not.
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_formats_symbol_sign_and_thousands() {
        let table = [
            (Money::usd(389), "$3.89"),
            (Money::usd(-50), "-$0.50"),
            (Money::usd(0), "$0.00"),
            (Money::usd(5), "$0.05"),
            (Money::new(1200, Currency::Eur), "€12.00"),
            (Money::usd(129_900), "$1,299.00"),
            (Money::usd(100_000), "$1,000.00"),
            (Money::usd(99_999), "$999.99"),
            (Money::usd(12_345_678_900), "$123,456,789.00"),
            (Money::new(500, Currency::Cad), "CA$5.00"),
            (Money::new(-100, Currency::Gbp), "-£1.00"),
            (Money::usd(i64::MAX), "$92,233,720,368,547,758.07"),
            (Money::usd(i64::MIN), "-$92,233,720,368,547,758.08"),
        ];
        for (money, text) in table {
            assert_eq!(money.to_string(), text);
        }
    }

    #[test]
    fn parse_accepts_common_price_formats() {
        let table = [
            ("3.89", Currency::Usd, 389),
            ("$3.89", Currency::Usd, 389),
            ("3", Currency::Usd, 300),
            ("0.5", Currency::Usd, 50),
            (".5", Currency::Usd, 50),
            ("0.05", Currency::Usd, 5),
            ("1,299.00", Currency::Usd, 129_900),
            ("$1,299", Currency::Usd, 129_900),
            ("1,000,000.01", Currency::Usd, 100_000_001),
            ("  $ 3.89  ", Currency::Usd, 389),
            ("US$3.89", Currency::Usd, 389),
            ("USD 3.89", Currency::Usd, 389),
            ("3.89 usd", Currency::Usd, 389),
            ("CA$5.00", Currency::Cad, 500),
            ("C$5", Currency::Cad, 500),
            ("$5", Currency::Cad, 500),
            ("€12.00", Currency::Eur, 1200),
            ("12.00 €", Currency::Eur, 1200),
            ("£1", Currency::Gbp, 100),
            ("007.10", Currency::Usd, 710),
            ("0", Currency::Usd, 0),
            ("92233720368547758.07", Currency::Usd, i64::MAX),
        ];
        for (text, currency, cents) in table {
            assert_eq!(
                Money::parse(text, currency),
                Ok(Money::new(cents, currency)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn parse_rejects_garbage_negative_precision_and_overflow() {
        let rejects = [
            "",
            " ",
            "$",
            "abc",
            "-3.89",
            "$-3.89",
            "-$3.89",
            "3.899",
            "3.",
            "3.8.9",
            "1,29.00",
            "12,99",
            ",299",
            "1,2999",
            "1e3",
            "3.89x",
            "NaN",
            "inf",
            "€3.89",
            "USD",
            "3 .89",
            "+3",
            "92233720368547758.08",
            "999999999999999999999999",
            "٣",
        ];
        for text in rejects {
            assert!(
                matches!(
                    Money::parse(text, Currency::Usd),
                    Err(MoneyError::Malformed(_))
                ),
                "{text:?} -> {:?}",
                Money::parse(text, Currency::Usd)
            );
        }
        assert!(Money::parse("$3", Currency::Eur).is_err());
        assert!(Money::parse("£3", Currency::Usd).is_err());
    }

    #[test]
    fn arithmetic_overflow_is_reported() {
        assert_eq!(
            Money::usd(i64::MAX).checked_add(Money::usd(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::usd(i64::MIN).checked_sub(Money::usd(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::usd(i64::MAX).checked_mul(2),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::usd(i64::MIN).checked_mul(-1),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::sum([Money::usd(i64::MAX), Money::usd(1)], Currency::Usd),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn arithmetic_within_one_currency() {
        assert_eq!(
            Money::usd(389).checked_add(Money::usd(11)),
            Ok(Money::usd(400))
        );
        assert_eq!(
            Money::usd(100).checked_sub(Money::usd(150)),
            Ok(Money::usd(-50))
        );
        assert_eq!(Money::usd(389).checked_mul(3), Ok(Money::usd(1167)));
        assert_eq!(
            Money::sum([Money::usd(1), Money::usd(2), Money::usd(3)], Currency::Usd),
            Ok(Money::usd(6))
        );
        assert_eq!(
            Money::sum([], Currency::Eur),
            Ok(Money::zero(Currency::Eur))
        );
    }

    #[test]
    fn mixing_currencies_is_a_mismatch() {
        let eur = Money::new(100, Currency::Eur);
        let mismatch = MoneyError::CurrencyMismatch {
            left: Currency::Usd,
            right: Currency::Eur,
        };
        assert_eq!(Money::usd(100).checked_add(eur), Err(mismatch.clone()));
        assert_eq!(Money::usd(100).checked_sub(eur), Err(mismatch.clone()));
        assert_eq!(
            Money::sum([Money::usd(1), eur], Currency::Usd),
            Err(mismatch)
        );
        assert_eq!(
            Money::sum([eur], Currency::Usd),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::Usd,
                right: Currency::Eur
            })
        );
    }

    #[test]
    fn currency_codes_symbols_and_parsing() {
        for &c in Currency::ALL {
            assert_eq!(c.code().parse::<Currency>(), Ok(c));
            assert_eq!(c.code().to_lowercase().parse::<Currency>(), Ok(c));
            assert_eq!(c.symbol().parse::<Currency>(), Ok(c));
            assert_eq!(c.to_string(), c.code());
        }
        assert_eq!(Currency::default(), Currency::Usd);
        assert_eq!(Currency::Cad.symbol(), "CA$");
        assert!("XYZ".parse::<Currency>().is_err());
    }

    #[test]
    fn money_serializes_as_cents_and_code() {
        let m = Money::usd(389);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"cents":389,"currency":"USD"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        let gbp: Money = serde_json::from_str(r#"{"cents":-5,"currency":"GBP"}"#).unwrap();
        assert_eq!(gbp, Money::new(-5, Currency::Gbp));
        assert!(serde_json::from_str::<Money>(r#"{"cents":1,"currency":"usd"}"#).is_err());
    }

    proptest! {
        #[test]
        fn parse_of_display_round_trips(cents in 0i64..=i64::MAX, i in 0usize..4) {
            let currency = Currency::ALL[i];
            let money = Money::new(cents, currency);
            prop_assert_eq!(Money::parse(&money.to_string(), currency), Ok(money));
        }

        #[test]
        fn parse_of_display_round_trips_for_usd_prices(cents in 0i64..10_000_000) {
            let money = Money::usd(cents);
            prop_assert_eq!(Money::parse(&money.to_string(), Currency::Usd), Ok(money));
        }

        #[test]
        fn parse_never_panics(s in any::<String>(), i in 0usize..4) {
            let _ = Money::parse(&s, Currency::ALL[i]);
            let _ = s.parse::<Currency>();
        }
    }
}
