//! Catalog files: CSV and JSON Lines, validated whole before anything is written.
//!
//! Columns / keys: `id, upc, name, brand, department, aisle, size, unit,
//! price_cents, tags` and optionally `kind`, `popularity`, `store` and `offer`.
//! A malformed row rejects the whole file with its line number and the reason.
//!
//! A row with a `store` is that store's price for the product, used as it is
//! (the demo market moves only the catalog's own prices); the same id may then
//! appear once per store, and its first row describes the product. A product
//! that only ever appears with a store is not sold by the catalog's own store.
//! An `offer` is a JSON object (in CSV, a JSON text in the column):
//! `{"kind": "multi_buy", "qty": 2, "price_cents": 500}`, `{"kind": "bogo"}`,
//! `{"kind": "rollback", "was_cents": 399}`, and `clearance` or `promo` with
//! `was_cents`.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::product::{Department, Product};
use crate::error::{Error, Result};
use crate::money::Money;
use crate::pricing::source::Offer;
use crate::quantity::{Amount, Quantity, Unit};

/// The format of a catalog file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl ImportFormat {
    /// Guess from the file extension, else from the first non-blank byte.
    pub fn detect(path: &Path, bytes: &[u8]) -> ImportFormat {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
        {
            Some(e) if e == "jsonl" || e == "ndjson" || e == "json" => ImportFormat::JsonLines,
            Some(e) if e == "csv" => ImportFormat::Csv,
            _ => match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'{') => ImportFormat::JsonLines,
                _ => ImportFormat::Csv,
            },
        }
    }
}

/// A number or a string, for `size` (JSON may give either).
#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Int(i64),
    Float(f64),
    Text(String),
}

impl NumOrText {
    fn text(self) -> String {
        match self {
            NumOrText::Int(i) => i.to_string(),
            NumOrText::Float(f) => f.to_string(),
            NumOrText::Text(s) => s,
        }
    }
}

/// `tags` as `organic;store-brand` or as a JSON array.
#[derive(Deserialize)]
#[serde(untagged)]
enum Tags {
    List(Vec<String>),
    Text(String),
}

/// An offer as an import row gives it.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum RowOffer {
    MultiBuy { qty: u32, price_cents: i64 },
    // A struct variant, so that unknown keys are refused here too.
    Bogo {},
    Rollback { was_cents: i64 },
    Clearance { was_cents: i64 },
    Promo { was_cents: i64 },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    id: String,
    #[serde(default)]
    upc: Option<String>,
    name: String,
    #[serde(default)]
    brand: String,
    department: String,
    #[serde(default)]
    aisle: String,
    size: NumOrText,
    unit: String,
    price_cents: i64,
    #[serde(default)]
    tags: Option<Tags>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    popularity: Option<i64>,
    #[serde(default)]
    store: Option<String>,
    /// A JSON object, or (CSV) JSON text; empty for none.
    #[serde(default)]
    offer: Option<serde_json::Value>,
}

/// One product's price at one store, from an import row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StorePrice {
    /// The product (catalog id).
    pub product_id: String,
    /// The store, lower-case; `None` for the catalog's own store.
    pub store: Option<String>,
    /// One pack's price.
    pub price: Money,
    /// The row's offer.
    pub offer: Option<Offer>,
    /// The row's line in the file.
    pub line: u64,
}

/// A parsed catalog file: its products (one per id) and every row's price.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    /// The products, in file order, one per id.
    pub products: Vec<Product>,
    /// Rows that name a store or carry an offer.
    pub prices: Vec<StorePrice>,
    /// Ids that only ever appear with a store.
    pub store_only: Vec<String>,
    /// Rows in the file.
    pub rows: u64,
}

/// Largest price accepted: $100,000.
const MAX_PRICE_CENTS: i64 = 10_000_000;

/// Parse and validate a whole file. Any bad row fails the file.
///
/// # Errors
/// [`Error::InvalidRow`] with the 1-based line (the CSV header is line 1).
pub(crate) fn parse(bytes: &[u8], format: ImportFormat) -> Result<Vec<Product>> {
    parse_with_prices(bytes, format).map(|p| p.products)
}

/// [`parse`], with the rows' store prices and offers.
///
/// # Errors
/// As [`parse`].
pub(crate) fn parse_with_prices(bytes: &[u8], format: ImportFormat) -> Result<Parsed> {
    let rows = match format {
        ImportFormat::Csv => parse_csv(bytes)?,
        ImportFormat::JsonLines => parse_jsonl(bytes)?,
    };
    // Per id: the line of its first row, and whether any row lacked a store.
    // Per id: its product's index in `out`, the line of its first row, and
    // whether any row lacked a store.
    let mut ids: HashMap<String, (usize, u64, bool)> = HashMap::new();
    let mut pairs: HashMap<(String, Option<String>), u64> = HashMap::new();
    let mut upcs: HashMap<String, u64> = HashMap::new();
    let row_count = rows.len() as u64;
    let mut out: Vec<Product> = Vec::with_capacity(rows.len());
    let mut prices = Vec::new();
    for (line, mut row) in rows {
        let store = row.store.take();
        let offer = row.offer.take();
        let p = validate(row).map_err(|reason| Error::InvalidRow { line, reason })?;
        let store = match store.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(check_store(s).map_err(|reason| Error::InvalidRow { line, reason })?),
        };
        let offer = match offer {
            None => None,
            Some(o) => validate_offer(o, p.price.cents)
                .map_err(|reason| Error::InvalidRow { line, reason })?,
        };
        if let Some(first) = pairs.insert((p.id.clone(), store.clone()), line) {
            return Err(Error::InvalidRow {
                line,
                reason: match &store {
                    None => format!("duplicate id `{}` (first on line {first})", p.id),
                    Some(st) => format!(
                        "duplicate id `{}` for store `{st}` (first on line {first})",
                        p.id
                    ),
                },
            });
        }
        if store.is_some() || offer.is_some() {
            prices.push(StorePrice {
                product_id: p.id.clone(),
                store: store.clone(),
                price: p.price,
                offer,
                line,
            });
        }
        if let Some((at, first_line, own)) = ids.get_mut(&p.id) {
            // Later rows of an id only add prices; the first describes it, and
            // a price is for the same pack.
            let first = &mut out[*at];
            if first.size != p.size {
                return Err(Error::InvalidRow {
                    line,
                    reason: format!(
                        "`{}` is {} here but {} on line {first_line}: one id is one pack",
                        p.id, p.size, first.size
                    ),
                });
            }
            if store.is_none() {
                // The catalog's own price is the product's shelf price.
                *own = true;
                first.price = p.price;
            }
            continue;
        }
        ids.insert(p.id.clone(), (out.len(), line, store.is_none()));
        if let Some(upc) = &p.upc
            && let Some(first) = upcs.insert(upc.clone(), line)
        {
            return Err(Error::InvalidRow {
                line,
                reason: format!("duplicate upc `{upc}` (first on line {first})"),
            });
        }
        out.push(p);
    }
    if out.is_empty() {
        return Err(Error::invalid("the file has no products"));
    }
    let mut store_only: Vec<String> = ids
        .into_iter()
        .filter(|(_, (_, _, own))| !own)
        .map(|(id, _)| id)
        .collect();
    store_only.sort();
    Ok(Parsed {
        products: out,
        prices,
        store_only,
        rows: row_count,
    })
}

/// A store name: lower-case letters, digits and dashes, up to 32.
fn check_store(s: &str) -> std::result::Result<String, String> {
    let st = s.to_ascii_lowercase();
    if st == crate::deals::OWN_STORE {
        return Err(format!(
            "store `{st}` is the catalog's own: leave `store` empty for its prices"
        ));
    }
    if st.len() > 32
        || !st
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "store `{}` must be up to 32 letters, digits, dashes or underscores",
            s.chars().take(32).collect::<String>()
        ));
    }
    Ok(st)
}

fn validate_offer(
    o: serde_json::Value,
    price_cents: i64,
) -> std::result::Result<Option<Offer>, String> {
    let o: RowOffer = match o {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::String(t) if t.trim().is_empty() => return Ok(None),
        serde_json::Value::String(t) => {
            serde_json::from_str(&t).map_err(|e| format!("offer: {e}"))?
        }
        v => serde_json::from_value(v).map_err(|e| format!("offer: {e}"))?,
    };
    let cents = |c: i64, what: &str| {
        if (0..=MAX_PRICE_CENTS).contains(&c) {
            Ok(Money::usd(c))
        } else {
            Err(format!(
                "offer: {what} {c} is outside 0..={MAX_PRICE_CENTS}"
            ))
        }
    };
    let was = |c: i64| {
        if c > price_cents {
            cents(c, "was_cents")
        } else {
            Err(format!(
                "offer: was_cents {c} is not above the price ({price_cents})"
            ))
        }
    };
    Ok(Some(match o {
        RowOffer::MultiBuy {
            qty,
            price_cents: total,
        } => {
            if !(2..=100).contains(&qty) {
                return Err(format!("offer: multi_buy qty {qty} is outside 2..=100"));
            }
            let full = price_cents.saturating_mul(i64::from(qty));
            if total >= full {
                return Err(format!(
                    "offer: {qty} for {total} cents is no saving on {qty} x {price_cents}"
                ));
            }
            Offer::MultiBuy {
                qty,
                price: cents(total, "price_cents")?,
            }
        }
        RowOffer::Bogo {} => Offer::Bogo,
        RowOffer::Rollback { was_cents } => Offer::Rollback {
            was: was(was_cents)?,
        },
        RowOffer::Clearance { was_cents } => Offer::Clearance {
            was: was(was_cents)?,
        },
        RowOffer::Promo { was_cents } => Offer::Promo {
            was: was(was_cents)?,
        },
    }))
}

fn parse_csv(bytes: &[u8]) -> Result<Vec<(u64, Row)>> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes);
    let headers = rdr.headers().map_err(|e| csv_error(e, 1))?.clone();
    for required in ["id", "name", "department", "size", "unit", "price_cents"] {
        if !headers.iter().any(|h| h == required) {
            return Err(Error::InvalidRow {
                line: 1,
                reason: format!("missing column `{required}`"),
            });
        }
    }
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_error(e, 0))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let row: Row = rec
            .deserialize(Some(&headers))
            .map_err(|e| csv_error(e, line))?;
        rows.push((line, row));
    }
    Ok(rows)
}

fn csv_error(e: csv::Error, fallback: u64) -> Error {
    let line = e.position().map(|p| p.line()).unwrap_or(fallback);
    let reason = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields, found {len}"),
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(f) => format!("field {}: {}", f + 1, err.kind()),
            None => err.kind().to_string(),
        },
        _ => e.to_string(),
    };
    Error::InvalidRow { line, reason }
}

fn parse_jsonl(bytes: &[u8]) -> Result<Vec<(u64, Row)>> {
    let mut rows = Vec::new();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i as u64 + 1;
        let text = std::str::from_utf8(raw).map_err(|_| Error::InvalidRow {
            line,
            reason: "invalid UTF-8".into(),
        })?;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(text).map_err(|e| Error::InvalidRow {
            line,
            reason: e.to_string(),
        })?;
        rows.push((line, row));
    }
    Ok(rows)
}

fn check_text(
    field: &str,
    v: &str,
    max: usize,
    required: bool,
) -> std::result::Result<String, String> {
    let t = v.trim();
    if required && t.is_empty() {
        return Err(format!("{field} is empty"));
    }
    if t.chars().count() > max {
        return Err(format!("{field} is longer than {max} characters"));
    }
    if t.chars().any(char::is_control) {
        return Err(format!("{field} contains control characters"));
    }
    Ok(t.to_string())
}

/// GTIN check digit (UPC-A, EAN-8, EAN-13, GTIN-14).
fn gtin_valid(digits: &str) -> bool {
    let ds: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    let Some((&check, body)) = ds.split_last() else {
        return false;
    };
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    (10 - sum % 10) % 10 == check
}

/// Words dropped when a kind is inferred from a product name.
const KIND_NOISE: &[&str] = &[
    "organic", "fresh", "natural", "large", "small", "medium", "premium", "classic", "original",
    "family", "size", "value", "pack",
];

fn infer_kind(name: &str) -> String {
    super::text::tokens(name)
        .filter(|t| !KIND_NOISE.contains(&t.as_str()) && !t.chars().all(|c| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn validate(r: Row) -> std::result::Result<Product, String> {
    let id = r.id.trim();
    if id.is_empty() || id.len() > 64 {
        return Err("id must be 1 to 64 characters".into());
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(format!(
            "id `{}` may only hold letters, digits and - _ . :",
            id.chars().take(64).collect::<String>()
        ));
    }
    let upc = match r.upc.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(u) => {
            if !u.chars().all(|c| c.is_ascii_digit()) || ![8, 12, 13, 14].contains(&u.len()) {
                return Err(format!(
                    "upc `{}` must be 8, 12, 13 or 14 digits",
                    u.chars().take(20).collect::<String>()
                ));
            }
            if !gtin_valid(u) {
                return Err(format!("upc `{u}` has a wrong check digit"));
            }
            Some(u.to_string())
        }
    };
    let name = check_text("name", &r.name, 200, true)?;
    let brand = check_text("brand", &r.brand, 100, false)?;
    let department: Department = r.department.parse().map_err(|e: Error| match e {
        Error::InvalidInput(m) => m,
        other => other.to_string(),
    })?;
    let aisle = check_text("aisle", &r.aisle, 100, false)?;
    let size_text = r.size.text();
    let amount = Amount::parse(&size_text).map_err(|e| format!("size: {e}"))?;
    let unit = Unit::parse(&r.unit).map_err(|e| format!("unit: {e}"))?;
    if !(0..=MAX_PRICE_CENTS).contains(&r.price_cents) {
        return Err(format!(
            "price_cents {} is outside 0..={MAX_PRICE_CENTS}",
            r.price_cents
        ));
    }
    let tags: Vec<String> = match r.tags {
        None => Vec::new(),
        Some(Tags::List(v)) => v,
        Some(Tags::Text(s)) => s.split([';', ',', '|', ' ']).map(str::to_string).collect(),
    }
    .into_iter()
    .map(|t| t.trim().to_ascii_lowercase())
    .filter(|t| !t.is_empty())
    .collect();
    if tags.len() > 20 {
        return Err("more than 20 tags".into());
    }
    if let Some(bad) = tags
        .iter()
        .find(|t| t.len() > 32 || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(format!(
            "tag `{}` must be up to 32 letters, digits or dashes",
            bad.chars().take(32).collect::<String>()
        ));
    }
    let kind = match r.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => check_text("kind", k, 100, true)?.to_lowercase(),
        None => infer_kind(&name),
    };
    let popularity = match r.popularity {
        None => 50,
        Some(p) if (1..=100).contains(&p) => p as u8,
        Some(p) => return Err(format!("popularity {p} is outside 1..=100")),
    };
    Ok(Product {
        id: id.to_string(),
        upc,
        name,
        brand,
        department,
        aisle,
        size: Quantity::new(amount, unit),
        price: Money::usd(r.price_cents),
        tags,
        kind,
        popularity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "id,upc,name,brand,department,aisle,size,unit,price_cents,tags\n";

    fn csv(rows: &str) -> Result<Vec<Product>> {
        parse(format!("{HEADER}{rows}").as_bytes(), ImportFormat::Csv)
    }

    fn line_of(e: Error) -> (u64, String) {
        match e {
            Error::InvalidRow { line, reason } => (line, reason),
            other => panic!("expected InvalidRow, got {other:?}"),
        }
    }

    #[test]
    fn parses_good_csv_and_infers_kind() {
        let ps = csv("a-1,036000291452,Organic Whole Milk,Acme,Dairy & Eggs,Milk,1,gal,499,organic;store-brand\n").unwrap();
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].kind, "whole milk");
        assert_eq!(ps[0].tags, ["organic", "store-brand"]);
        assert_eq!(ps[0].size.to_string(), "1 gal");
    }

    #[test]
    fn reports_the_line_and_reason_of_a_bad_row() {
        let good = "a-1,,Milk,Acme,dairy-eggs,Milk,1,gal,399,\n";
        let cases = [
            ("a-2,,Eggs,Acme,dairy-eggs,Eggs,12,parsecs,399,\n", "unit"),
            ("a-2,,Eggs,Acme,dairy-eggs,Eggs,-1,ct,399,\n", "size"),
            ("a-2,,Eggs,Acme,dairy-eggs,Eggs,12,ct,-5,\n", "price_cents"),
            ("a-2,,Eggs,Acme,dairy-eggs,Eggs,12,ct,3.99,\n", "field 9"),
            ("a-2,,Eggs,Acme,liquor,Eggs,12,ct,399,\n", "department"),
            ("a-2,123,Eggs,Acme,dairy-eggs,Eggs,12,ct,399,\n", "upc"),
            (
                "a-2,036000291453,Eggs,Acme,dairy-eggs,Eggs,12,ct,399,\n",
                "check digit",
            ),
            ("a 2,,Eggs,Acme,dairy-eggs,Eggs,12,ct,399,\n", "id"),
            (
                "a-1,,Eggs,Acme,dairy-eggs,Eggs,12,ct,399,\n",
                "duplicate id",
            ),
            (",,Eggs,Acme,dairy-eggs,Eggs,12,ct,399,\n", "id"),
            ("a-2,,,Acme,dairy-eggs,Eggs,12,ct,399,\n", "name"),
            ("a-2,,Eggs,Acme,dairy-eggs,Eggs,12,ct\n", "fields"),
            ("a-2,,Eggs,Acme,dairy-eggs,Eggs,1e9,ct,399,\n", "size"),
        ];
        for (row, needle) in cases {
            let (line, reason) = line_of(csv(&format!("{good}{row}")).unwrap_err());
            assert_eq!(line, 3, "{row}: {reason}");
            assert!(
                reason.contains(needle),
                "{row}: `{reason}` lacks `{needle}`"
            );
        }
    }

    #[test]
    fn rejects_invalid_utf8_and_over_long_names() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"a-1,,Mi\xff\xfelk,Acme,dairy-eggs,Milk,1,gal,399,\n");
        let (line, reason) = line_of(parse(&bytes, ImportFormat::Csv).unwrap_err());
        assert_eq!(line, 2);
        assert!(reason.contains("UTF-8"), "{reason}");

        let long = "x".repeat(300);
        let (_, reason) =
            line_of(csv(&format!("a-1,,{long},Acme,dairy-eggs,Milk,1,gal,399,\n")).unwrap_err());
        assert!(reason.contains("longer"), "{reason}");
    }

    #[test]
    fn store_rows_and_offers_are_prices_of_their_own() {
        let text = r#"{"id":"m","name":"Milk","department":"dairy-eggs","size":1,"unit":"gal","price_cents":350,"store":"Walmart","offer":{"kind":"multi_buy","qty":2,"price_cents":600}}
{"id":"m","name":"ignored","department":"dairy-eggs","size":1,"unit":"gal","price_cents":330,"store":"kroger","offer":{"kind":"rollback","was_cents":399}}
{"id":"e","name":"Eggs","department":"dairy-eggs","size":12,"unit":"ct","price_cents":299,"offer":{"kind":"bogo"}}
{"id":"e","name":"Eggs","department":"dairy-eggs","size":12,"unit":"ct","price_cents":280,"store":"kroger"}
"#;
        let p = parse_with_prices(text.as_bytes(), ImportFormat::JsonLines).unwrap();
        assert_eq!(p.products.len(), 2);
        assert_eq!(
            p.products[0].name, "Milk",
            "the first row describes the product"
        );
        assert_eq!(p.store_only, ["m"]);
        let got: Vec<(&str, Option<&str>, i64, Option<&Offer>)> = p
            .prices
            .iter()
            .map(|s| {
                (
                    s.product_id.as_str(),
                    s.store.as_deref(),
                    s.price.cents,
                    s.offer.as_ref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "m",
                    Some("walmart"),
                    350,
                    Some(&Offer::MultiBuy {
                        qty: 2,
                        price: Money::usd(600)
                    })
                ),
                (
                    "m",
                    Some("kroger"),
                    330,
                    Some(&Offer::Rollback {
                        was: Money::usd(399)
                    })
                ),
                ("e", None, 299, Some(&Offer::Bogo)),
                ("e", Some("kroger"), 280, None),
            ]
        );
        // CSV carries the offer as JSON text.
        let csv_text = "id,name,department,size,unit,price_cents,store,offer\n\
            m,Milk,dairy-eggs,1,gal,350,walmart,\"{\"\"kind\"\": \"\"bogo\"\"}\"\n\
            m,Milk,dairy-eggs,1,gal,340,kroger,\n";
        let p = parse_with_prices(csv_text.as_bytes(), ImportFormat::Csv).unwrap();
        assert_eq!(p.prices.len(), 2);
        assert_eq!(p.prices[0].offer, Some(Offer::Bogo));
        assert_eq!(p.prices[1].offer, None);
    }

    #[test]
    fn bad_stores_and_offers_reject_the_file_with_their_line() {
        let good = r#"{"id":"a","name":"Milk","department":"dairy-eggs","size":1,"unit":"gal","price_cents":300}"#;
        let cases = [
            (r#""store":"wal mart""#, "store"),
            (
                r#""offer":{"kind":"multi_buy","qty":1,"price_cents":200}"#,
                "qty",
            ),
            (
                r#""offer":{"kind":"multi_buy","qty":2,"price_cents":600}"#,
                "no saving",
            ),
            (
                r#""offer":{"kind":"rollback","was_cents":250}"#,
                "not above",
            ),
            (r#""offer":{"kind":"coupon"}"#, "offer"),
            (r#""offer":{"kind":"bogo","extra":1}"#, "offer"),
            (r#""offer":"not json""#, "offer"),
        ];
        for (extra, needle) in cases {
            let row = format!(
                r#"{{"id":"b","name":"Eggs","department":"dairy-eggs","size":12,"unit":"ct","price_cents":300,{extra}}}"#
            );
            let text = format!("{good}\n{row}\n");
            let (line, reason) =
                line_of(parse_with_prices(text.as_bytes(), ImportFormat::JsonLines).unwrap_err());
            assert_eq!(line, 2, "{extra}: {reason}");
            assert!(
                reason.contains(needle),
                "{extra}: `{reason}` lacks `{needle}`"
            );
        }
        // The same id twice for one store.
        let twice = format!(
            "{good}\n{}\n{}\n",
            r#"{"id":"a","name":"Milk","department":"dairy-eggs","size":1,"unit":"gal","price_cents":310,"store":"kroger"}"#,
            r#"{"id":"a","name":"Milk","department":"dairy-eggs","size":1,"unit":"gal","price_cents":320,"store":"KROGER"}"#
        );
        let (line, reason) =
            line_of(parse_with_prices(twice.as_bytes(), ImportFormat::JsonLines).unwrap_err());
        assert_eq!(line, 3);
        assert!(reason.contains("store `kroger`"), "{reason}");
        // Another pack size under the same id, and the reserved store name.
        for (extra, needle) in [
            (
                r#"{"id":"a","name":"Milk","department":"dairy-eggs","size":0.5,"unit":"gal","price_cents":200,"store":"kroger"}"#,
                "one id is one pack",
            ),
            (
                r#"{"id":"a","name":"Milk","department":"dairy-eggs","size":1,"unit":"gal","price_cents":200,"store":"demo"}"#,
                "catalog's own",
            ),
        ] {
            let text = format!("{good}\n{extra}\n");
            let (line, reason) =
                line_of(parse_with_prices(text.as_bytes(), ImportFormat::JsonLines).unwrap_err());
            assert_eq!(line, 2, "{reason}");
            assert!(reason.contains(needle), "`{reason}` lacks `{needle}`");
        }
    }

    #[test]
    fn parses_json_lines_with_numbers_and_tag_arrays() {
        let text = r#"{"id":"j-1","name":"Bananas","brand":"","department":"produce","size":1,"unit":"lb","price_cents":62,"tags":["by-weight"]}

{"id":"j-2","upc":null,"name":"Olive Oil","brand":"Acme","department":"pantry","size":16.9,"unit":"fl oz","price_cents":899,"kind":"olive oil","popularity":80}
"#;
        let ps = parse(text.as_bytes(), ImportFormat::JsonLines).unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[1].size.to_string(), "16.9 fl oz");
        assert_eq!(ps[1].popularity, 80);
    }

    #[test]
    fn json_lines_errors_name_the_line() {
        let text = "{\"id\":\"j-1\",\"name\":\"A\",\"department\":\"produce\",\"size\":1,\"unit\":\"lb\",\"price_cents\":1}\n{not json}\n";
        let (line, _) = line_of(parse(text.as_bytes(), ImportFormat::JsonLines).unwrap_err());
        assert_eq!(line, 2);
        let text = "{\"id\":\"j-1\",\"name\":\"A\",\"department\":\"produce\",\"size\":1,\"unit\":\"lb\",\"price_cents\":1,\"colour\":\"red\"}\n";
        let (_, reason) = line_of(parse(text.as_bytes(), ImportFormat::JsonLines).unwrap_err());
        assert!(reason.contains("unknown field"), "{reason}");
    }

    #[test]
    fn empty_files_are_refused() {
        assert!(parse(b"", ImportFormat::JsonLines).is_err());
        assert!(parse(HEADER.as_bytes(), ImportFormat::Csv).is_err());
    }

    #[test]
    fn gtin_check_digits() {
        assert!(gtin_valid("036000291452"));
        assert!(!gtin_valid("036000291453"));
        assert!(gtin_valid("4006381333931"));
    }
}
