//! Offers on a product ("2 for $5", BOGO, rollbacks) and store-wide spend
//! thresholds ("$10 off $50"), with the exact cost of buying `n` packs.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest shelf or offer price accepted, in cents ($1,000,000): far above any
/// grocery price, and small enough that no sum in a basket can overflow `i64`.
pub const MAX_PRICE_CENTS: i64 = 100_000_000;

/// A product-level offer, as a source reports it.
///
/// JSON is tagged by `kind`: `{"kind": "multi_buy", "qty": 2, "price_cents": 500}`,
/// `{"kind": "bogo"}`, `{"kind": "rollback", "was_cents": 399}`.
///
/// Only [`Offer::MultiBuy`] and [`Offer::Bogo`] change what a purchase costs;
/// rollbacks, clearance and promos describe a shelf price that is already
/// lowered, and only matter for [deal detection](crate::deals::detect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Offer {
    /// `qty` packs for `price_cents` together ("2 for $5"); packs outside a
    /// full group are charged the unit price.
    MultiBuy {
        /// Packs in one group, at least 2.
        qty: u32,
        /// Price of a whole group, in cents.
        price_cents: i64,
    },
    /// Buy one, get one free: of `n` packs, `ceil(n / 2)` are paid.
    Bogo,
    /// The shelf price was lowered from `was_cents`.
    Rollback {
        /// The price before the rollback, in cents.
        was_cents: i64,
    },
    /// Marked down to clear, from `was_cents` when the source says.
    Clearance {
        /// The price before the markdown, in cents, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        was_cents: Option<i64>,
    },
    /// A temporary promotional price, down from `was_cents`.
    Promo {
        /// The regular price, in cents.
        was_cents: i64,
    },
}

impl Offer {
    /// Checks the offer for nonsense: a multi-buy of 0 or 1 packs, negative or
    /// absurd cents.
    ///
    /// A multi-buy whose group price is not below `qty` times the unit price is
    /// accepted: it is harmless, [`cost_of`] never uses it.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] saying what is wrong.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Offer::MultiBuy { qty, price_cents } => {
                if qty < 2 {
                    return Err(Error::invalid(format!(
                        "a multi-buy needs at least 2 packs per group, not {qty}"
                    )));
                }
                if qty > crate::Quantity::MAX_PACKS {
                    return Err(Error::invalid(format!(
                        "a multi-buy of {qty} packs is more than {} packs",
                        crate::Quantity::MAX_PACKS
                    )));
                }
                check_cents("multi-buy price", price_cents)
            }
            Offer::Bogo => Ok(()),
            Offer::Rollback { was_cents } | Offer::Promo { was_cents } => {
                check_cents("was price", was_cents)
            }
            Offer::Clearance { was_cents } => {
                was_cents.map_or(Ok(()), |c| check_cents("was price", c))
            }
        }
    }

    /// Packs in one offer group: 2 for BOGO, `qty` for a multi-buy, 1 otherwise.
    ///
    /// Buying a whole group more than a need covers is never cheaper than
    /// stopping within one group, which bounds how far the optimiser looks.
    pub fn group_size(&self) -> u32 {
        match *self {
            Offer::MultiBuy { qty, .. } => qty.max(1),
            Offer::Bogo => 2,
            Offer::Rollback { .. } | Offer::Clearance { .. } | Offer::Promo { .. } => 1,
        }
    }
}

/// A store-wide discount once a trip's spend reaches a minimum ("$10 off $50").
///
/// Spend is what the items cost after product offers, before trip costs.
/// When a store has several thresholds only the best one reached applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpendThreshold {
    /// Spend needed, in cents (at least 1).
    pub min_cents: i64,
    /// Discount once reached, in cents (1..=`min_cents`).
    pub off_cents: i64,
}

impl SpendThreshold {
    /// Checks `0 < off_cents <= min_cents <= MAX_PRICE_CENTS`, so a discount
    /// never makes a trip cost less than nothing.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] saying what is wrong.
    pub fn validate(&self) -> Result<()> {
        check_cents("threshold minimum", self.min_cents)?;
        check_cents("threshold discount", self.off_cents)?;
        if self.off_cents < 1 || self.off_cents > self.min_cents {
            return Err(Error::invalid(format!(
                "a spend threshold of {} off {} is not a discount (need 0 < off <= min)",
                self.off_cents, self.min_cents
            )));
        }
        Ok(())
    }

    /// The discount `thresholds` give to a trip spending `spend_cents`: the
    /// largest `off_cents` among those reached, or 0.
    pub fn discount(thresholds: &[SpendThreshold], spend_cents: i64) -> i64 {
        thresholds
            .iter()
            .filter(|t| spend_cents >= t.min_cents)
            .map(|t| t.off_cents)
            .max()
            .unwrap_or(0)
    }
}

/// Checks that `cents` is a price: `0..=MAX_PRICE_CENTS`.
pub(crate) fn check_cents(what: &str, cents: i64) -> Result<()> {
    if (0..=MAX_PRICE_CENTS).contains(&cents) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} of {cents} cents is out of range (0..={MAX_PRICE_CENTS})"
        )))
    }
}

/// The exact cost in cents of `n_packs` packs at `unit_price_cents` each, with
/// the best single offer in `offers` applied (or none, when none is cheaper).
///
/// - multi-buy: `floor(n / qty)` groups at the group price, the rest at the
///   unit price;
/// - BOGO: `ceil(n / 2)` packs paid;
/// - rollback, clearance, promo: no effect (the unit price already is the
///   lowered price).
///
/// Offers are not combined with each other on one product.
///
/// # Errors
/// [`Error::InvalidInput`] for a negative or absurd price, an invalid offer, or
/// a cost that overflows `i64`.
///
/// # Examples
/// ```
/// use grocery_core::deals::{Offer, cost_of};
///
/// let two_for_five = [Offer::MultiBuy { qty: 2, price_cents: 500 }];
/// assert_eq!(cost_of(3, 300, &two_for_five)?, 800);
/// assert_eq!(cost_of(3, 300, &[Offer::Bogo])?, 600);
/// # Ok::<(), grocery_core::Error>(())
/// ```
pub fn cost_of(n_packs: u32, unit_price_cents: i64, offers: &[Offer]) -> Result<i64> {
    check_cents("unit price", unit_price_cents)?;
    let overflow = || {
        Error::invalid(format!(
            "{n_packs} packs at {unit_price_cents} cents overflow"
        ))
    };
    let n = i64::from(n_packs);
    let mut best = n.checked_mul(unit_price_cents).ok_or_else(overflow)?;
    for offer in offers {
        offer.validate()?;
        let cost = match *offer {
            Offer::MultiBuy { qty, price_cents } => {
                let q = i64::from(qty);
                (n / q)
                    .checked_mul(price_cents)
                    .and_then(|g| (n % q).checked_mul(unit_price_cents)?.checked_add(g))
                    .ok_or_else(overflow)?
            }
            // n <= u32::MAX, so n + 1 cannot overflow.
            Offer::Bogo => ((n + 1) / 2)
                .checked_mul(unit_price_cents)
                .ok_or_else(overflow)?,
            Offer::Rollback { .. } | Offer::Clearance { .. } | Offer::Promo { .. } => continue,
        };
        best = best.min(cost);
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_parse_from_the_documented_json() {
        let cases = [
            (
                r#"{"kind": "multi_buy", "qty": 2, "price_cents": 500}"#,
                Offer::MultiBuy {
                    qty: 2,
                    price_cents: 500,
                },
            ),
            (r#"{"kind": "bogo"}"#, Offer::Bogo),
            (
                r#"{"kind": "rollback", "was_cents": 399}"#,
                Offer::Rollback { was_cents: 399 },
            ),
            (
                r#"{"kind": "clearance"}"#,
                Offer::Clearance { was_cents: None },
            ),
            (
                r#"{"kind": "clearance", "was_cents": 250}"#,
                Offer::Clearance {
                    was_cents: Some(250),
                },
            ),
            (
                r#"{"kind": "promo", "was_cents": 199}"#,
                Offer::Promo { was_cents: 199 },
            ),
        ];
        for (json, want) in cases {
            let got: Offer = serde_json::from_str(json).unwrap();
            assert_eq!(got, want, "{json}");
            let back: Offer = serde_json::from_str(&serde_json::to_string(&got).unwrap()).unwrap();
            assert_eq!(back, want);
        }
        assert!(serde_json::from_str::<Offer>(r#"{"kind": "free_lunch"}"#).is_err());
        assert!(serde_json::from_str::<Offer>(r#"{"kind": "multi_buy", "qty": 2}"#).is_err());
    }

    #[test]
    fn validation_rejects_nonsense_offers() {
        let bad = [
            Offer::MultiBuy {
                qty: 0,
                price_cents: 500,
            },
            Offer::MultiBuy {
                qty: 1,
                price_cents: 500,
            },
            Offer::MultiBuy {
                qty: 2,
                price_cents: -1,
            },
            Offer::Rollback { was_cents: -399 },
            Offer::Promo {
                was_cents: MAX_PRICE_CENTS + 1,
            },
            Offer::Clearance {
                was_cents: Some(-1),
            },
        ];
        for offer in bad {
            let err = offer.validate().unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{offer:?}");
        }
        // Harmless: a "deal" dearer than the shelf price.
        Offer::MultiBuy {
            qty: 2,
            price_cents: 900,
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn thresholds_validate_and_pick_the_best_reached() {
        let ok = SpendThreshold {
            min_cents: 5000,
            off_cents: 1000,
        };
        ok.validate().unwrap();
        for (min_cents, off_cents) in [(0, 0), (5000, 0), (500, 1000), (-5, -1)] {
            let t = SpendThreshold {
                min_cents,
                off_cents,
            };
            assert!(t.validate().is_err(), "{t:?}");
        }
        let tiers = [
            ok,
            SpendThreshold {
                min_cents: 10_000,
                off_cents: 2500,
            },
        ];
        let table = [
            (0, 0),
            (4999, 0),
            (5000, 1000),
            (9999, 1000),
            (10_000, 2500),
        ];
        for (spend, off) in table {
            assert_eq!(
                SpendThreshold::discount(&tiers, spend),
                off,
                "spend {spend}"
            );
        }
    }

    #[test]
    fn cost_of_applies_the_best_offer() {
        let two_for_5 = Offer::MultiBuy {
            qty: 2,
            price_cents: 500,
        };
        let three_for_10 = Offer::MultiBuy {
            qty: 3,
            price_cents: 1000,
        };
        let dearer = Offer::MultiBuy {
            qty: 2,
            price_cents: 700,
        };
        let rollback = Offer::Rollback { was_cents: 399 };
        #[rustfmt::skip]
        let table: &[(u32, i64, &[Offer], i64)] = &[
            (0, 300, &[], 0),
            (1, 300, &[], 300),
            (4, 300, &[], 1200),
            (1, 300, std::slice::from_ref(&two_for_5), 300),
            (2, 300, std::slice::from_ref(&two_for_5), 500),
            (3, 300, std::slice::from_ref(&two_for_5), 800),
            (5, 300, std::slice::from_ref(&two_for_5), 1300),
            (1, 300, &[Offer::Bogo], 300),
            (2, 300, &[Offer::Bogo], 300),
            (3, 300, &[Offer::Bogo], 600),
            (4, 300, &[Offer::Bogo, two_for_5.clone()], 600),
            (3, 400, &[three_for_10.clone(), Offer::Bogo], 800),
            (6, 400, &[three_for_10.clone(), Offer::Bogo], 1200),
            (2, 300, &[dearer], 600),
            (2, 300, &[rollback], 600),
        ];
        for (n, unit, offers, want) in table {
            assert_eq!(
                cost_of(*n, *unit, offers).unwrap(),
                *want,
                "{n} x {unit} {offers:?}"
            );
        }
    }

    #[test]
    fn cost_of_rejects_bad_prices_without_panicking() {
        assert!(cost_of(1, -1, &[]).is_err());
        assert!(cost_of(1, i64::MAX, &[]).is_err());
        let bad = Offer::MultiBuy {
            qty: 1,
            price_cents: 1,
        };
        assert!(cost_of(3, 100, &[bad]).is_err());
        // The largest inputs stay exact.
        assert_eq!(
            cost_of(u32::MAX, MAX_PRICE_CENTS, &[]).unwrap(),
            i64::from(u32::MAX) * MAX_PRICE_CENTS
        );
    }
}
