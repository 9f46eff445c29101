//! Products and departments.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::money::{Currency, Money};
use crate::quantity::{Amount, Quantity, Unit};

/// A store department. Every product belongs to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Department {
    /// Fruit, vegetables, herbs.
    Produce,
    /// Milk, cheese, yogurt, butter, eggs.
    DairyEggs,
    /// Fresh meat, poultry and fish.
    MeatSeafood,
    /// Bread, bagels, tortillas, pastries.
    Bakery,
    /// Sliced meats and cheeses, prepared food.
    Deli,
    /// Dry goods: rice, pasta, oils, spreads.
    Pantry,
    /// Canned vegetables, beans, soups, fish.
    CannedGoods,
    /// Cereal, oatmeal, coffee, tea.
    Breakfast,
    /// Chips, crackers, cookies, candy.
    Snacks,
    /// Juice, soda, water.
    Beverages,
    /// Frozen meals, vegetables, ice cream.
    Frozen,
    /// Flour, sugar, baking mixes.
    Baking,
    /// Sauces, dressings, salt and spices.
    CondimentsSpices,
    /// Paper goods, cleaning, laundry.
    Household,
    /// Toiletries.
    PersonalCare,
    /// Diapers, wipes, formula, baby food.
    Baby,
    /// Pet food and supplies.
    Pet,
}

impl Department {
    /// Every department, in store-walk order.
    pub const ALL: [Department; 17] = [
        Department::Produce,
        Department::DairyEggs,
        Department::MeatSeafood,
        Department::Bakery,
        Department::Deli,
        Department::Pantry,
        Department::CannedGoods,
        Department::Breakfast,
        Department::Snacks,
        Department::Beverages,
        Department::Frozen,
        Department::Baking,
        Department::CondimentsSpices,
        Department::Household,
        Department::PersonalCare,
        Department::Baby,
        Department::Pet,
    ];

    /// The stable slug used in files and JSON (`dairy-eggs`).
    pub fn slug(self) -> &'static str {
        match self {
            Department::Produce => "produce",
            Department::DairyEggs => "dairy-eggs",
            Department::MeatSeafood => "meat-seafood",
            Department::Bakery => "bakery",
            Department::Deli => "deli",
            Department::Pantry => "pantry",
            Department::CannedGoods => "canned-goods",
            Department::Breakfast => "breakfast",
            Department::Snacks => "snacks",
            Department::Beverages => "beverages",
            Department::Frozen => "frozen",
            Department::Baking => "baking",
            Department::CondimentsSpices => "condiments-spices",
            Department::Household => "household",
            Department::PersonalCare => "personal-care",
            Department::Baby => "baby",
            Department::Pet => "pet",
        }
    }

    /// The name shown to people (`Dairy & Eggs`).
    pub fn display_name(self) -> &'static str {
        match self {
            Department::Produce => "Produce",
            Department::DairyEggs => "Dairy & Eggs",
            Department::MeatSeafood => "Meat & Seafood",
            Department::Bakery => "Bakery",
            Department::Deli => "Deli",
            Department::Pantry => "Pantry",
            Department::CannedGoods => "Canned Goods",
            Department::Breakfast => "Breakfast",
            Department::Snacks => "Snacks",
            Department::Beverages => "Beverages",
            Department::Frozen => "Frozen",
            Department::Baking => "Baking",
            Department::CondimentsSpices => "Condiments & Spices",
            Department::Household => "Household",
            Department::PersonalCare => "Personal Care",
            Department::Baby => "Baby",
            Department::Pet => "Pet",
        }
    }
}

impl fmt::Display for Department {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl FromStr for Department {
    type Err = Error;

    /// Accepts the slug or the display name, case-insensitively, with `&`/`and`,
    /// spaces, dashes and underscores treated alike (`Dairy & Eggs`, `dairy_eggs`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .trim()
            .to_ascii_lowercase()
            .replace('&', " and ")
            .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
            .filter(|w| !w.is_empty() && *w != "and")
            .collect::<Vec<_>>()
            .join("-");
        Department::ALL
            .into_iter()
            .find(|d| d.slug() == norm)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown department `{}` (expected one of: {})",
                    s.chars().take(60).collect::<String>(),
                    Department::ALL.map(|d| d.slug()).join(", ")
                ))
            })
    }
}

/// A product of the catalog.
///
/// In JSON the size and price are flat: `"size": 1.0, "unit": "gal", "price_cents": 389`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "ProductWire", try_from = "ProductWire")]
pub struct Product {
    /// Stable external id (`gv-whole-milk-1gal`).
    pub id: String,
    /// UPC-A / EAN-13 barcode, when known.
    pub upc: Option<String>,
    /// Display name without brand or size (`Whole Milk`).
    pub name: String,
    /// Brand (`Great Value`).
    pub brand: String,
    /// Department.
    pub department: Department,
    /// Shelf or aisle name (`Milk`).
    pub aisle: String,
    /// Pack size (`1 gal`, `12 ct`, `16 oz`).
    pub size: Quantity,
    /// Shelf price of one pack.
    pub price: Money,
    /// Tags such as `organic`, `store-brand`, `gluten-free`.
    pub tags: Vec<String>,
    /// The everyday thing this product is, lower-case singular (`milk`, `chocolate bar`).
    pub kind: String,
    /// How likely a shopper naming the kind means this product, 1..=100.
    pub popularity: u8,
}

impl Product {
    /// `Great Value Whole Milk, 1 gal`.
    pub fn display_name(&self) -> String {
        format!("{} {}, {}", self.brand, self.name, self.size)
    }

    /// Whether the product carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// The flat JSON shape of a [`Product`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(description = "A product of the catalog; size and price are flat.")
)]
struct ProductWire {
    /// Stable external id (`gv-whole-milk-1gal`).
    id: String,
    /// UPC-A / EAN-13 barcode, when known.
    #[serde(default)]
    upc: Option<String>,
    /// Display name without brand or size (`Whole Milk`).
    name: String,
    /// Brand (`Great Value`).
    brand: String,
    /// Department.
    department: Department,
    /// Shelf or aisle name (`Milk`).
    #[serde(default)]
    aisle: String,
    /// Pack size, in `unit`s.
    size: Amount,
    /// Unit of the pack size.
    unit: Unit,
    /// Shelf price of one pack, in cents.
    price_cents: i64,
    /// Currency of `price_cents`.
    #[serde(default)]
    currency: Currency,
    /// Tags such as `organic`, `store-brand`, `gluten-free`.
    #[serde(default)]
    tags: Vec<String>,
    /// The everyday thing this product is (`milk`).
    #[serde(default)]
    kind: String,
    /// How likely a shopper naming the kind means this product, 1..=100.
    #[serde(default = "default_popularity")]
    popularity: u8,
}

// serde writes a `Product` as its `ProductWire`, so its schema is that one.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Product {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <ProductWire as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Product {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <ProductWire as utoipa::ToSchema>::schemas(schemas);
    }
}

fn default_popularity() -> u8 {
    50
}

impl From<Product> for ProductWire {
    fn from(p: Product) -> Self {
        ProductWire {
            id: p.id,
            upc: p.upc,
            name: p.name,
            brand: p.brand,
            department: p.department,
            aisle: p.aisle,
            size: p.size.amount,
            unit: p.size.unit,
            price_cents: p.price.cents,
            currency: p.price.currency,
            tags: p.tags,
            kind: p.kind,
            popularity: p.popularity,
        }
    }
}

impl TryFrom<ProductWire> for Product {
    type Error = Error;

    fn try_from(w: ProductWire) -> Result<Self, Self::Error> {
        if w.price_cents < 0 {
            return Err(Error::invalid("price_cents must not be negative"));
        }
        Ok(Product {
            id: w.id,
            upc: w.upc,
            name: w.name,
            brand: w.brand,
            department: w.department,
            aisle: w.aisle,
            size: Quantity::new(w.size, w.unit),
            price: Money::new(w.price_cents, w.currency),
            tags: w.tags,
            kind: w.kind,
            popularity: w.popularity.clamp(1, 100),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn department_parses_slugs_and_display_names() {
        for d in Department::ALL {
            assert_eq!(d.slug().parse::<Department>().unwrap(), d);
            assert_eq!(d.display_name().parse::<Department>().unwrap(), d);
        }
        assert_eq!(
            "dairy_eggs".parse::<Department>().unwrap(),
            Department::DairyEggs
        );
        assert!("liquor".parse::<Department>().is_err());
    }

    #[test]
    fn product_json_is_flat() {
        let p = Product {
            id: "gv-whole-milk-1gal".into(),
            upc: Some("078742351865".into()),
            name: "Whole Milk".into(),
            brand: "Great Value".into(),
            department: Department::DairyEggs,
            aisle: "Milk".into(),
            size: Quantity::parse("1 gal").unwrap(),
            price: Money::usd(389),
            tags: vec!["store-brand".into()],
            kind: "milk".into(),
            popularity: 100,
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["size"], 1.0);
        assert_eq!(v["unit"], "gal");
        assert_eq!(v["price_cents"], 389);
        assert_eq!(v["department"], "dairy-eggs");
        let back: Product = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);
    }
}
