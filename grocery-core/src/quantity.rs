//! Typed units and exact quantity arithmetic.
//!
//! Quantities are an exact, positive rational [`Amount`] paired with a [`Unit`].
//! Units belong to a [`Dimension`]; units of the same dimension convert into
//! each other exactly (US customary volumes, avoirdupois mass), and package
//! units (can, bottle, box, ...) are only compatible with themselves.
//!
//! All arithmetic is checked: nothing here panics or overflows on any input,
//! and every failure is reported as a [`QuantityError`].

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use num_traits::{CheckedAdd, CheckedDiv, CheckedMul, Zero};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Exact rational number used for all quantity arithmetic.
pub type Ratio = num_rational::Ratio<i128>;

/// The physical (or packaging) dimension a [`Unit`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dimension {
    /// Discrete items; base unit is "each".
    Count,
    /// Weight; base unit is the gram.
    Mass,
    /// Liquid or dry volume; base unit is the milliliter.
    Volume,
    /// A package (can, bottle, box, ...); only compatible with the same unit.
    Package,
    /// Length (a 2-inch piece of ginger); base unit is the millimeter.
    Length,
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dimension::Count => "count",
            Dimension::Mass => "mass",
            Dimension::Volume => "volume",
            Dimension::Package => "package",
            Dimension::Length => "length",
        })
    }
}

/// A unit of measure for groceries.
///
/// Serializes as its [`code`](Unit::code) (e.g. `"fl oz"`) and deserializes
/// from any spelling accepted by [`Unit::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    /// A single item ("ct").
    Each,
    /// Twelve items.
    Dozen,
    /// Two items.
    Pair,
    /// Gram, the base unit of mass.
    Gram,
    /// Kilogram (1000 g).
    Kilogram,
    /// Avoirdupois ounce (28.349523125 g).
    Ounce,
    /// Avoirdupois pound (453.59237 g).
    Pound,
    /// Milliliter, the base unit of volume.
    Milliliter,
    /// Liter (1000 ml).
    Liter,
    /// US fluid ounce (1/128 US gallon).
    FluidOunce,
    /// US cup (1/16 US gallon).
    Cup,
    /// US pint (1/8 US gallon).
    Pint,
    /// US quart (1/4 US gallon).
    Quart,
    /// US gallon (3785.411784 ml).
    Gallon,
    /// US teaspoon (1/3 tablespoon).
    Teaspoon,
    /// US tablespoon (1/2 fluid ounce).
    Tablespoon,
    /// A pack or package.
    Pack,
    /// A can or tin.
    Can,
    /// A bottle.
    Bottle,
    /// A box.
    Box,
    /// A bag.
    Bag,
    /// A carton.
    Carton,
    /// A jar.
    Jar,
    /// A loaf (of bread).
    Loaf,
    /// A bunch (of herbs, bananas, ...).
    Bunch,
    /// A head (of lettuce, garlic, ...).
    Head,
    /// A roll.
    Roll,
    /// A stick (of butter, ...).
    Stick,
    /// A slice.
    Slice,
    /// A clove (of garlic).
    Clove,
    /// A piece.
    Piece,
    /// A sprig of a herb.
    Sprig,
    /// A pinch (of salt, spice).
    Pinch,
    /// A dash (of a liquid).
    Dash,
    /// A handful.
    Handful,
    /// A stalk (celery, lemongrass).
    Stalk,
    /// A bulb (garlic, fennel).
    Bulb,
    /// A sheet (pastry, nori).
    Sheet,
    /// A drop.
    Drop,
    /// A rasher of bacon.
    Rasher,
    /// A fillet of fish or meat.
    Fillet,
    /// A packet or sachet.
    Packet,
    /// A tub.
    Tub,
    /// An inch (25.4 mm), for pieces of ginger or cinnamon.
    Inch,
    /// A centimeter (10 mm).
    Centimeter,
    /// A millimeter, the base unit of length.
    Millimeter,
    /// An ear of corn.
    Ear,
    /// A strip (lemon peel, bacon).
    Strip,
    /// A leaf (kale, gelatin).
    Leaf,
    /// A ball (mozzarella, dough).
    Ball,
    /// A punnet (a small basket of berries).
    Punnet,
    /// A knob (of ginger, of butter).
    Knob,
}

/// Every spelling [`Unit::parse`] accepts, lower-case: codes, singular and plural
/// names, then aliases (a name never shadows an alias of another unit).
static UNIT_NAMES: std::sync::LazyLock<rustc_hash::FxHashMap<&'static str, Unit>> =
    std::sync::LazyLock::new(|| {
        let mut names = rustc_hash::FxHashMap::default();
        for (alias, unit) in ALIASES {
            names.insert(*alias, *unit);
        }
        for &unit in Unit::ALL {
            for name in [unit.plural(), unit.singular(), unit.code()] {
                names.insert(name, unit);
            }
        }
        names
    });

/// Extra spellings accepted by [`Unit::parse`], besides each unit's code,
/// singular and plural. Keys are lowercase with single spaces.
const ALIASES: &[(&str, Unit)] = &[
    ("ea", Unit::Each),
    ("count", Unit::Each),
    ("cnt", Unit::Each),
    ("cts", Unit::Each),
    ("pc", Unit::Each),
    ("pcs", Unit::Each),
    ("doz", Unit::Dozen),
    ("dz", Unit::Dozen),
    ("dozens", Unit::Dozen),
    ("pr", Unit::Pair),
    ("prs", Unit::Pair),
    ("gr", Unit::Gram),
    ("gm", Unit::Gram),
    ("gms", Unit::Gram),
    ("gramme", Unit::Gram),
    ("grammes", Unit::Gram),
    ("kilo", Unit::Kilogram),
    ("kilos", Unit::Kilogram),
    ("kgs", Unit::Kilogram),
    ("kilogramme", Unit::Kilogram),
    ("kilogrammes", Unit::Kilogram),
    ("ozs", Unit::Ounce),
    ("lbs", Unit::Pound),
    ("mls", Unit::Milliliter),
    ("millilitre", Unit::Milliliter),
    ("millilitres", Unit::Milliliter),
    ("litre", Unit::Liter),
    ("litres", Unit::Liter),
    ("ltr", Unit::Liter),
    ("ltrs", Unit::Liter),
    ("floz", Unit::FluidOunce),
    ("fl.oz", Unit::FluidOunce),
    ("fl ozs", Unit::FluidOunce),
    ("fluid oz", Unit::FluidOunce),
    ("c", Unit::Cup),
    ("pts", Unit::Pint),
    ("qts", Unit::Quart),
    ("gals", Unit::Gallon),
    ("tsps", Unit::Teaspoon),
    ("tbs", Unit::Tablespoon),
    ("tbsps", Unit::Tablespoon),
    ("tblsp", Unit::Tablespoon),
    ("tblsps", Unit::Tablespoon),
    ("tbl", Unit::Tablespoon),
    ("pk", Unit::Pack),
    ("pks", Unit::Pack),
    ("pkg", Unit::Pack),
    ("pkgs", Unit::Pack),
    ("package", Unit::Pack),
    ("packages", Unit::Pack),
    ("tin", Unit::Can),
    ("tins", Unit::Can),
    ("sachet", Unit::Packet),
    ("sachets", Unit::Packet),
    ("envelope", Unit::Packet),
    ("envelopes", Unit::Packet),
    ("filet", Unit::Fillet),
    ("filets", Unit::Fillet),
];

impl Unit {
    /// Every unit, in declaration order.
    pub const ALL: &'static [Unit] = &[
        Unit::Each,
        Unit::Dozen,
        Unit::Pair,
        Unit::Gram,
        Unit::Kilogram,
        Unit::Ounce,
        Unit::Pound,
        Unit::Milliliter,
        Unit::Liter,
        Unit::FluidOunce,
        Unit::Cup,
        Unit::Pint,
        Unit::Quart,
        Unit::Gallon,
        Unit::Teaspoon,
        Unit::Tablespoon,
        Unit::Pack,
        Unit::Can,
        Unit::Bottle,
        Unit::Box,
        Unit::Bag,
        Unit::Carton,
        Unit::Jar,
        Unit::Loaf,
        Unit::Bunch,
        Unit::Head,
        Unit::Roll,
        Unit::Stick,
        Unit::Slice,
        Unit::Clove,
        Unit::Piece,
        Unit::Sprig,
        Unit::Pinch,
        Unit::Dash,
        Unit::Handful,
        Unit::Stalk,
        Unit::Bulb,
        Unit::Sheet,
        Unit::Drop,
        Unit::Rasher,
        Unit::Fillet,
        Unit::Packet,
        Unit::Tub,
        Unit::Inch,
        Unit::Centimeter,
        Unit::Millimeter,
        Unit::Ear,
        Unit::Strip,
        Unit::Leaf,
        Unit::Ball,
        Unit::Punnet,
        Unit::Knob,
    ];

    /// The dimension this unit measures.
    pub fn dimension(self) -> Dimension {
        match self {
            Unit::Each | Unit::Dozen | Unit::Pair => Dimension::Count,
            Unit::Gram | Unit::Kilogram | Unit::Ounce | Unit::Pound => Dimension::Mass,
            Unit::Milliliter
            | Unit::Liter
            | Unit::FluidOunce
            | Unit::Cup
            | Unit::Pint
            | Unit::Quart
            | Unit::Gallon
            | Unit::Teaspoon
            | Unit::Tablespoon => Dimension::Volume,
            Unit::Pack
            | Unit::Can
            | Unit::Bottle
            | Unit::Box
            | Unit::Bag
            | Unit::Carton
            | Unit::Jar
            | Unit::Loaf
            | Unit::Bunch
            | Unit::Head
            | Unit::Roll
            | Unit::Stick
            | Unit::Slice
            | Unit::Clove
            | Unit::Piece
            | Unit::Sprig
            | Unit::Pinch
            | Unit::Dash
            | Unit::Handful
            | Unit::Stalk
            | Unit::Bulb
            | Unit::Sheet
            | Unit::Drop
            | Unit::Rasher
            | Unit::Fillet
            | Unit::Packet
            | Unit::Tub
            | Unit::Ear
            | Unit::Strip
            | Unit::Leaf
            | Unit::Ball
            | Unit::Punnet
            | Unit::Knob => Dimension::Package,
            Unit::Inch | Unit::Centimeter | Unit::Millimeter => Dimension::Length,
        }
    }

    /// The canonical short code, e.g. `"g"`, `"fl oz"`, `"ct"`.
    pub fn code(self) -> &'static str {
        match self {
            Unit::Each => "ct",
            Unit::Dozen => "dozen",
            Unit::Pair => "pair",
            Unit::Gram => "g",
            Unit::Kilogram => "kg",
            Unit::Ounce => "oz",
            Unit::Pound => "lb",
            Unit::Milliliter => "ml",
            Unit::Liter => "l",
            Unit::FluidOunce => "fl oz",
            Unit::Cup => "cup",
            Unit::Pint => "pt",
            Unit::Quart => "qt",
            Unit::Gallon => "gal",
            Unit::Teaspoon => "tsp",
            Unit::Tablespoon => "tbsp",
            Unit::Pack => "pack",
            Unit::Can => "can",
            Unit::Bottle => "bottle",
            Unit::Box => "box",
            Unit::Bag => "bag",
            Unit::Carton => "carton",
            Unit::Jar => "jar",
            Unit::Loaf => "loaf",
            Unit::Bunch => "bunch",
            Unit::Head => "head",
            Unit::Roll => "roll",
            Unit::Stick => "stick",
            Unit::Slice => "slice",
            Unit::Clove => "clove",
            Unit::Piece => "piece",
            Unit::Sprig => "sprig",
            Unit::Pinch => "pinch",
            Unit::Dash => "dash",
            Unit::Handful => "handful",
            Unit::Stalk => "stalk",
            Unit::Bulb => "bulb",
            Unit::Sheet => "sheet",
            Unit::Drop => "drop",
            Unit::Rasher => "rasher",
            Unit::Fillet => "fillet",
            Unit::Packet => "packet",
            Unit::Tub => "tub",
            Unit::Inch => "in",
            Unit::Centimeter => "cm",
            Unit::Millimeter => "mm",
            Unit::Ear => "ear",
            Unit::Strip => "strip",
            Unit::Leaf => "leaf",
            Unit::Ball => "ball",
            Unit::Punnet => "punnet",
            Unit::Knob => "knob",
        }
    }

    /// The human-readable singular name, e.g. `"gram"`, `"fluid ounce"`.
    pub fn singular(self) -> &'static str {
        match self {
            Unit::Each => "each",
            Unit::Dozen => "dozen",
            Unit::Pair => "pair",
            Unit::Gram => "gram",
            Unit::Kilogram => "kilogram",
            Unit::Ounce => "ounce",
            Unit::Pound => "pound",
            Unit::Milliliter => "milliliter",
            Unit::Liter => "liter",
            Unit::FluidOunce => "fluid ounce",
            Unit::Cup => "cup",
            Unit::Pint => "pint",
            Unit::Quart => "quart",
            Unit::Gallon => "gallon",
            Unit::Teaspoon => "teaspoon",
            Unit::Tablespoon => "tablespoon",
            Unit::Pack => "pack",
            Unit::Can => "can",
            Unit::Bottle => "bottle",
            Unit::Box => "box",
            Unit::Bag => "bag",
            Unit::Carton => "carton",
            Unit::Jar => "jar",
            Unit::Loaf => "loaf",
            Unit::Bunch => "bunch",
            Unit::Head => "head",
            Unit::Roll => "roll",
            Unit::Stick => "stick",
            Unit::Slice => "slice",
            Unit::Clove => "clove",
            Unit::Piece => "piece",
            Unit::Sprig => "sprig",
            Unit::Pinch => "pinch",
            Unit::Dash => "dash",
            Unit::Handful => "handful",
            Unit::Stalk => "stalk",
            Unit::Bulb => "bulb",
            Unit::Sheet => "sheet",
            Unit::Drop => "drop",
            Unit::Rasher => "rasher",
            Unit::Fillet => "fillet",
            Unit::Packet => "packet",
            Unit::Tub => "tub",
            Unit::Inch => "inch",
            Unit::Centimeter => "centimeter",
            Unit::Millimeter => "millimeter",
            Unit::Ear => "ear",
            Unit::Strip => "strip",
            Unit::Leaf => "leaf",
            Unit::Ball => "ball",
            Unit::Punnet => "punnet",
            Unit::Knob => "knob",
        }
    }

    /// The human-readable plural name, e.g. `"grams"`, `"loaves"`; `"each"`
    /// and `"dozen"` do not change.
    pub fn plural(self) -> &'static str {
        match self {
            Unit::Each => "each",
            Unit::Dozen => "dozen",
            Unit::Pair => "pairs",
            Unit::Gram => "grams",
            Unit::Kilogram => "kilograms",
            Unit::Ounce => "ounces",
            Unit::Pound => "pounds",
            Unit::Milliliter => "milliliters",
            Unit::Liter => "liters",
            Unit::FluidOunce => "fluid ounces",
            Unit::Cup => "cups",
            Unit::Pint => "pints",
            Unit::Quart => "quarts",
            Unit::Gallon => "gallons",
            Unit::Teaspoon => "teaspoons",
            Unit::Tablespoon => "tablespoons",
            Unit::Pack => "packs",
            Unit::Can => "cans",
            Unit::Bottle => "bottles",
            Unit::Box => "boxes",
            Unit::Bag => "bags",
            Unit::Carton => "cartons",
            Unit::Jar => "jars",
            Unit::Loaf => "loaves",
            Unit::Bunch => "bunches",
            Unit::Head => "heads",
            Unit::Roll => "rolls",
            Unit::Stick => "sticks",
            Unit::Slice => "slices",
            Unit::Clove => "cloves",
            Unit::Piece => "pieces",
            Unit::Sprig => "sprigs",
            Unit::Pinch => "pinches",
            Unit::Dash => "dashes",
            Unit::Handful => "handfuls",
            Unit::Stalk => "stalks",
            Unit::Bulb => "bulbs",
            Unit::Sheet => "sheets",
            Unit::Drop => "drops",
            Unit::Rasher => "rashers",
            Unit::Fillet => "fillets",
            Unit::Packet => "packets",
            Unit::Tub => "tubs",
            Unit::Inch => "inches",
            Unit::Centimeter => "centimeters",
            Unit::Millimeter => "millimeters",
            Unit::Ear => "ears",
            Unit::Strip => "strips",
            Unit::Leaf => "leaves",
            Unit::Ball => "balls",
            Unit::Punnet => "punnets",
            Unit::Knob => "knobs",
        }
    }

    /// Parses a unit from its code, singular or plural name, or a common
    /// abbreviation (`"lbs"`, `"fl. oz."`, `"tbsp"`, `"pkg"`, ...).
    ///
    /// Matching is case-insensitive, ignores surrounding whitespace and a
    /// trailing `.` on each word — except that a bare lowercase `"t"` means
    /// teaspoon and a bare uppercase `"T"` means tablespoon.
    pub fn parse(s: &str) -> Result<Unit, QuantityError> {
        // Fast path: one lower-case word, as the parsers pass them.
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase()) && s != "t" {
            return UNIT_NAMES
                .get(s)
                .copied()
                .ok_or_else(|| QuantityError::UnknownUnit(s.to_string()));
        }
        let normalized = s
            .split_whitespace()
            .map(|word| word.strip_suffix('.').unwrap_or(word))
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        match normalized.as_str() {
            "t" => return Ok(Unit::Teaspoon),
            "T" => return Ok(Unit::Tablespoon),
            _ => {}
        }
        let lower = normalized.to_lowercase();
        UNIT_NAMES
            .get(lower.as_str())
            .copied()
            .ok_or_else(|| QuantityError::UnknownUnit(s.to_string()))
    }

    /// [`Unit::parse`] for the word-by-word parsers: no allocation when the word
    /// is not a unit.
    pub(crate) fn from_word(s: &str) -> Option<Unit> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase()) && s != "t" {
            UNIT_NAMES.get(s).copied()
        } else {
            Unit::parse(s).ok()
        }
    }

    /// Whether quantities in `self` and `other` can be converted and added:
    /// same dimension, and for [`Dimension::Package`] the very same unit.
    pub fn is_compatible(self, other: Unit) -> bool {
        match (self.dimension(), other.dimension()) {
            (Dimension::Package, Dimension::Package) => self == other,
            (a, b) => a == b,
        }
    }

    /// The exact factor converting one of this unit into the dimension's base
    /// unit: each (count), gram (mass), milliliter (volume), millimeter
    /// (length); packages are 1.
    pub fn to_base(self) -> Ratio {
        // US gallon = 231 in³ = 3785.411784 ml = 473176473/125000 ml.
        const GALLON_NUM: i128 = 473_176_473;
        const GALLON_DEN: i128 = 125_000;
        // Avoirdupois pound = 453.59237 g = 45359237/100000 g.
        const POUND_NUM: i128 = 45_359_237;
        const POUND_DEN: i128 = 100_000;
        let (n, d) = match self {
            Unit::Each => (1, 1),
            Unit::Dozen => (12, 1),
            Unit::Pair => (2, 1),
            Unit::Gram => (1, 1),
            Unit::Kilogram => (1000, 1),
            Unit::Ounce => (POUND_NUM, POUND_DEN * 16),
            Unit::Pound => (POUND_NUM, POUND_DEN),
            Unit::Milliliter => (1, 1),
            Unit::Liter => (1000, 1),
            Unit::Gallon => (GALLON_NUM, GALLON_DEN),
            Unit::Quart => (GALLON_NUM, GALLON_DEN * 4),
            Unit::Pint => (GALLON_NUM, GALLON_DEN * 8),
            Unit::Cup => (GALLON_NUM, GALLON_DEN * 16),
            Unit::FluidOunce => (GALLON_NUM, GALLON_DEN * 128),
            Unit::Tablespoon => (GALLON_NUM, GALLON_DEN * 256),
            Unit::Teaspoon => (GALLON_NUM, GALLON_DEN * 768),
            Unit::Pack
            | Unit::Can
            | Unit::Bottle
            | Unit::Box
            | Unit::Bag
            | Unit::Carton
            | Unit::Jar
            | Unit::Loaf
            | Unit::Bunch
            | Unit::Head
            | Unit::Roll
            | Unit::Stick
            | Unit::Slice
            | Unit::Clove
            | Unit::Piece
            | Unit::Sprig
            | Unit::Pinch
            | Unit::Dash
            | Unit::Handful
            | Unit::Stalk
            | Unit::Bulb
            | Unit::Sheet
            | Unit::Drop
            | Unit::Rasher
            | Unit::Fillet
            | Unit::Packet
            | Unit::Tub
            | Unit::Ear
            | Unit::Strip
            | Unit::Leaf
            | Unit::Ball
            | Unit::Punnet
            | Unit::Knob
            | Unit::Millimeter => (1, 1),
            Unit::Inch => (127, 5),
            Unit::Centimeter => (10, 1),
        };
        // Denominators above are non-zero constants, so this cannot panic.
        Ratio::new(n, d)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Unit {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Unit::parse(s)
    }
}

impl Serialize for Unit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// In OpenAPI, like its JSON: one of the canonical codes (`"fl oz"`).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Unit {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A unit of measure, as its canonical code; requests may use any spelling \
                 the parser accepts (\"gallons\", \"fl. oz\").",
            ))
            .enum_values(Some(Unit::ALL.iter().map(|u| u.code())))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Unit {}

impl<'de> Deserialize<'de> for Unit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UnitVisitor;

        impl Visitor<'_> for UnitVisitor {
            type Value = Unit;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a unit such as \"g\", \"fl oz\" or \"can\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Unit, E> {
                Unit::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(UnitVisitor)
    }
}

/// An exact, positive, bounded amount.
///
/// Invariants: `0 < amount <= Amount::MAX`, stored in lowest terms with a
/// denominator of at most [`Amount::MAX_DENOM`]. These bounds keep all
/// arithmetic on amounts far inside `i128`.
///
/// Serializes as a JSON number (an `f64`, for display); deserializes from a
/// number or from a string accepted by [`Amount::parse`] such as `"1 1/2"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = f64))]
pub struct Amount(Ratio);

impl Amount {
    /// Largest amount accepted in any unit.
    pub const MAX: i128 = 1_000_000;

    /// Largest denominator (in lowest terms) of any amount.
    ///
    /// Large enough that every amount [`Amount::parse`] accepts converts
    /// exactly into every compatible unit whenever the result is at most
    /// [`Amount::MAX`]: unit-to-unit factors have denominators up to ~3.2e10
    /// (teaspoon → liter), times [`Amount::MAX_PARSE_DENOM`]. With values
    /// bounded by `MAX`, numerators stay below 1e24, far inside `i128`.
    pub const MAX_DENOM: i128 = 1_000_000_000_000_000_000;

    /// Largest denominator (in lowest terms) accepted from text by
    /// [`Amount::parse`] (six decimal places, or fractions up to `1/1000000`).
    pub const MAX_PARSE_DENOM: i128 = 1_000_000;

    /// Creates an amount from an exact ratio.
    ///
    /// Fails with [`QuantityError::ZeroOrNegative`] unless `r > 0`, and with
    /// [`QuantityError::OutOfRange`] if `r > MAX` or its reduced denominator
    /// exceeds [`Amount::MAX_DENOM`]. A zero denominator is
    /// [`QuantityError::Malformed`].
    pub fn new(r: Ratio) -> Result<Amount, QuantityError> {
        let (numer, denom) = (*r.numer(), *r.denom());
        if denom == 0 {
            return Err(QuantityError::Malformed(format!("{numer}/0")));
        }
        if numer == 0 || (numer < 0) != (denom < 0) {
            return Err(QuantityError::ZeroOrNegative(format!("{numer}/{denom}")));
        }
        // Both have the same sign; `unsigned_abs` avoids overflow on i128::MIN.
        let (n, d) = (numer.unsigned_abs(), denom.unsigned_abs());
        let g = num_integer::gcd(n, d);
        let (n, d) = (n / g, d / g);
        let max = Amount::MAX.unsigned_abs();
        let max_denom = Amount::MAX_DENOM.unsigned_abs();
        if d > max_denom {
            return Err(QuantityError::OutOfRange(format!(
                "{numer}/{denom} is finer than 1/{max_denom}"
            )));
        }
        // n/d > MAX  <=>  n > MAX * d (no overflow: d <= MAX_DENOM).
        if n > max * d {
            return Err(QuantityError::OutOfRange(format!(
                "{numer}/{denom} exceeds {max}"
            )));
        }
        // n <= MAX * MAX_DENOM < i128::MAX, so the casts are lossless.
        Ok(Amount(Ratio::new_raw(n as i128, d as i128)))
    }

    /// Creates a whole-number amount.
    pub fn from_int(n: i64) -> Result<Amount, QuantityError> {
        Amount::new(Ratio::from_integer(i128::from(n)))
    }

    /// Creates an amount from a floating-point number.
    ///
    /// Uses the exact decimal value when it has at most six decimal places,
    /// otherwise the closest fraction with a denominator of at most
    /// [`Amount::MAX_PARSE_DENOM`] (so `0.3333333333333333` becomes `1/3`).
    pub fn from_f64(x: f64) -> Result<Amount, QuantityError> {
        if x.is_nan() || x.is_infinite() {
            return Err(QuantityError::Malformed(x.to_string()));
        }
        if x <= 0.0 {
            return Err(QuantityError::ZeroOrNegative(x.to_string()));
        }
        if x > Amount::MAX as f64 {
            return Err(QuantityError::OutOfRange(format!(
                "{x} exceeds {}",
                Amount::MAX
            )));
        }
        // `Display` for f64 never uses exponents and round-trips exactly.
        if let Ok(r) = parse_decimal(&x.to_string()) {
            if *r.denom() <= Amount::MAX_PARSE_DENOM {
                return Amount::new(r);
            }
        }
        Amount::new(approximate(x, Amount::MAX_PARSE_DENOM))
    }

    /// Parses an amount: `"2"`, `"1.5"`, `".5"`, `"1/2"`, `"1 1/2"`, `"½"`,
    /// `"1½"`, `"1 ½"` (Unicode vulgar fractions and `⁄` are accepted).
    ///
    /// Rejects empty, negative, zero, exponent, `NaN`, non-numeric input
    /// and division by zero; rejects values above [`Amount::MAX`] or with a
    /// reduced denominator above [`Amount::MAX_PARSE_DENOM`].
    pub fn parse(s: &str) -> Result<Amount, QuantityError> {
        let trimmed = s.trim();
        if let Some(rest) = trimmed.strip_prefix('-') {
            // Distinguish "-1" (a negative number) from "-abc" (garbage).
            return match parse_nonnegative(rest, s) {
                Ok(_) => Err(QuantityError::ZeroOrNegative(s.to_string())),
                Err(e) => Err(e),
            };
        }
        let r = parse_nonnegative(trimmed, s)?;
        if r.is_zero() {
            return Err(QuantityError::ZeroOrNegative(s.to_string()));
        }
        if *r.denom() > Amount::MAX_PARSE_DENOM {
            return Err(QuantityError::OutOfRange(format!(
                "`{s}` is more precise than 1/{}",
                Amount::MAX_PARSE_DENOM
            )));
        }
        Amount::new(r).map_err(|e| match e {
            QuantityError::OutOfRange(_) => {
                QuantityError::OutOfRange(format!("`{s}` exceeds {}", Amount::MAX))
            }
            other => other,
        })
    }

    /// The exact value.
    pub fn ratio(self) -> Ratio {
        self.0
    }

    /// The value as a (possibly rounded) floating-point number.
    pub fn to_f64(self) -> f64 {
        // Both parts are bounded (see the type invariants), so these casts
        // only lose precision beyond 2^53, never range.
        *self.0.numer() as f64 / *self.0.denom() as f64
    }

    /// The smallest integer not less than the amount (always at least 1).
    pub fn ceil(self) -> i128 {
        let (n, d) = (*self.0.numer(), *self.0.denom());
        n / d + i128::from(n % d != 0)
    }
}

impl fmt::Display for Amount {
    /// Up to three decimals with trailing zeros trimmed (`"2"`, `"1.5"`,
    /// `"0.333"`); amounts that would round to zero get more decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, d) = (*self.0.numer(), *self.0.denom());
        // Whole amounts, most of them ("2", "16"): no rounding to do, and
        // printed as 64-bit numbers when they fit (formatting an i128 costs
        // several times more).
        if d == 1 {
            return match i64::try_from(n) {
                Ok(small) => write!(f, "{small}"),
                Err(_) => write!(f, "{n}"),
            };
        }
        for decimals in 3..=18u32 {
            let scale = 10i128.pow(decimals);
            // Round half up: floor((2 * n * scale + d) / (2 * d)).
            let scaled = n
                .checked_mul(scale)
                .and_then(|x| x.checked_mul(2))
                .and_then(|x| x.checked_add(d))
                .zip(d.checked_mul(2))
                .map(|(num, den)| num / den);
            let Some(scaled) = scaled else { break };
            if scaled == 0 && decimals < 18 {
                continue;
            }
            let whole = scaled / scale;
            let frac = scaled % scale;
            if frac == 0 {
                return write!(f, "{whole}");
            }
            let digits = format!("{frac:0width$}", width = decimals as usize);
            return write!(f, "{whole}.{}", digits.trim_end_matches('0'));
        }
        write!(f, "{}", self.to_f64())
    }
}

impl FromStr for Amount {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse(s)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.to_f64())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AmountVisitor;

        impl Visitor<'_> for AmountVisitor {
            type Value = Amount;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive number or a string such as \"1 1/2\"")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                Amount::from_int(v).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                Amount::new(Ratio::from_integer(i128::from(v))).map_err(E::custom)
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                Amount::from_f64(v).map_err(E::custom)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                Amount::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(AmountVisitor)
    }
}

/// Value of a Unicode vulgar fraction character, if it is one.
fn vulgar_fraction(c: char) -> Option<(i128, i128)> {
    Some(match c {
        '½' => (1, 2),
        '⅓' => (1, 3),
        '⅔' => (2, 3),
        '¼' => (1, 4),
        '¾' => (3, 4),
        '⅕' => (1, 5),
        '⅖' => (2, 5),
        '⅗' => (3, 5),
        '⅘' => (4, 5),
        '⅙' => (1, 6),
        '⅚' => (5, 6),
        '⅐' => (1, 7),
        '⅛' => (1, 8),
        '⅜' => (3, 8),
        '⅝' => (5, 8),
        '⅞' => (7, 8),
        '⅑' => (1, 9),
        '⅒' => (1, 10),
        _ => return None,
    })
}

/// Digits accepted in one integer literal; anything longer is out of range
/// for every amount, and this keeps `i128` parsing overflow-free.
const MAX_INT_DIGITS: usize = 18;

/// Parses a run of ASCII digits (leading zeros allowed) into an integer.
fn parse_digits(digits: &str, input: &str) -> Result<i128, QuantityError> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QuantityError::Malformed(input.to_string()));
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > MAX_INT_DIGITS {
        return Err(QuantityError::OutOfRange(format!(
            "`{input}` exceeds {}",
            Amount::MAX
        )));
    }
    significant
        .bytes()
        .try_fold(0i128, |acc, b| {
            acc.checked_mul(10)?.checked_add(i128::from(b - b'0'))
        })
        .ok_or_else(|| QuantityError::OutOfRange(format!("`{input}` is too large")))
}

/// Parses `"12"`, `"1.5"` or `".5"` exactly.
fn parse_decimal(s: &str) -> Result<Ratio, QuantityError> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    let whole = if whole.is_empty() && frac.is_some() {
        0
    } else {
        parse_digits(whole, s)?
    };
    let Some(frac) = frac else {
        return Ok(Ratio::from_integer(whole));
    };
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QuantityError::Malformed(s.to_string()));
    }
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        return Ok(Ratio::from_integer(whole));
    }
    if frac.len() > MAX_INT_DIGITS {
        return Err(QuantityError::OutOfRange(format!(
            "`{s}` has too many decimal places"
        )));
    }
    let numer = parse_digits(frac, s)?;
    let denom = 10i128.pow(frac.len() as u32);
    Ratio::from_integer(whole)
        .checked_add(&Ratio::new(numer, denom))
        .ok_or_else(|| QuantityError::OutOfRange(format!("`{s}` is too large")))
}

/// Parses `"3/4"` (ASCII digits on both sides).
fn parse_fraction(s: &str, input: &str) -> Result<Ratio, QuantityError> {
    let Some((n, d)) = s.split_once('/') else {
        return Err(QuantityError::Malformed(input.to_string()));
    };
    let n = parse_digits(n, input)?;
    let d = parse_digits(d, input)?;
    if d == 0 {
        return Err(QuantityError::Malformed(input.to_string()));
    }
    Ok(Ratio::new(n, d))
}

/// Parses one token: a decimal, a fraction, or digits followed by a vulgar
/// fraction character (`"1½"`, `"½"`).
fn parse_token(token: &str, input: &str) -> Result<Ratio, QuantityError> {
    let mut chars = token.chars();
    if let Some((n, d)) = chars.next_back().and_then(vulgar_fraction) {
        let prefix = chars.as_str();
        let whole = if prefix.is_empty() {
            0
        } else {
            parse_digits(prefix, input)?
        };
        return Ratio::from_integer(whole)
            .checked_add(&Ratio::new(n, d))
            .ok_or_else(|| QuantityError::OutOfRange(format!("`{input}` is too large")));
    }
    if token.contains('/') {
        parse_fraction(token, input)
    } else {
        parse_decimal(token).map_err(|e| match e {
            QuantityError::Malformed(_) => QuantityError::Malformed(input.to_string()),
            other => other,
        })
    }
}

/// Parses a non-negative number (may be zero); `input` is used in errors.
fn parse_nonnegative(s: &str, input: &str) -> Result<Ratio, QuantityError> {
    let normalized = s.replace('⁄', "/");
    let tokens: Vec<&str> = normalized.split_whitespace().collect();
    match tokens.as_slice() {
        [single] => parse_token(single, input),
        [whole, frac] => {
            // Mixed number: "1 1/2" or "1 ½"; the whole part is plain digits
            // and the fractional part a fraction, not a decimal.
            let whole = parse_digits(whole, input)?;
            let is_fraction = frac.contains('/')
                || (frac.chars().count() == 1
                    && frac.chars().all(|c| vulgar_fraction(c).is_some()));
            if !is_fraction {
                return Err(QuantityError::Malformed(input.to_string()));
            }
            let frac = parse_token(frac, input)?;
            Ratio::from_integer(whole)
                .checked_add(&frac)
                .ok_or_else(|| QuantityError::OutOfRange(format!("`{input}` is too large")))
        }
        _ => Err(QuantityError::Malformed(input.to_string())),
    }
}

/// Best rational approximation of a positive finite `x` with denominator at
/// most `max_denom`, by continued-fraction convergents.
fn approximate(x: f64, max_denom: i128) -> Ratio {
    // Convergents h/k; start with h_{-1}/k_{-1} = 1/0 and h_{-2}/k_{-2} = 0/1.
    let (mut h_prev, mut k_prev) = (1i128, 0i128);
    let (mut h_prev2, mut k_prev2) = (0i128, 1i128);
    let mut rest = x;
    for _ in 0..64 {
        let a_float = rest.floor();
        if !(0.0..=1e18).contains(&a_float) {
            break;
        }
        let a = a_float as i128;
        let next = a
            .checked_mul(h_prev)
            .and_then(|v| v.checked_add(h_prev2))
            .zip(a.checked_mul(k_prev).and_then(|v| v.checked_add(k_prev2)));
        let Some((h, k)) = next else { break };
        if k > max_denom {
            break;
        }
        (h_prev2, k_prev2, h_prev, k_prev) = (h_prev, k_prev, h, k);
        let fraction = rest - a_float;
        if fraction < 1e-12 {
            break;
        }
        rest = 1.0 / fraction;
    }
    if k_prev == 0 {
        // Only reachable for absurd inputs; yields a clean error downstream.
        return Ratio::from_integer(0);
    }
    Ratio::new(h_prev, k_prev)
}

/// An amount of something in a unit, e.g. `1.5 gal`.
///
/// JSON: `{"amount": 1.5, "unit": "gal"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quantity {
    /// How much.
    pub amount: Amount,
    /// Of what unit.
    pub unit: Unit,
}

impl Quantity {
    /// Largest number of packs [`Quantity::packs_needed`] will report.
    pub const MAX_PACKS: u32 = 10_000;

    /// Creates a quantity from a validated amount.
    pub fn new(amount: Amount, unit: Unit) -> Self {
        Quantity { amount, unit }
    }

    /// Creates a quantity from a raw ratio, validating it as an [`Amount`].
    pub fn try_new(amount: Ratio, unit: Unit) -> Result<Self, QuantityError> {
        Ok(Quantity::new(Amount::new(amount)?, unit))
    }

    /// `n` each.
    pub fn count(n: i64) -> Result<Self, QuantityError> {
        Ok(Quantity::new(Amount::from_int(n)?, Unit::Each))
    }

    /// Parses `"1.5 gal"`, `"2 lbs"`, `"16oz"`, `"16.9 fl oz"`, `"12 ct"`,
    /// `"1 1/2 cups"`, `"½ cup"`; a bare number such as `"3"` means 3 each.
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        let trimmed = s.trim();
        let split = trimmed
            .char_indices()
            .find(|&(_, c)| {
                !(c.is_ascii_digit()
                    || c.is_whitespace()
                    || matches!(c, '.' | '/' | '⁄' | '-' | '+')
                    || vulgar_fraction(c).is_some())
            })
            .map_or(trimmed.len(), |(i, _)| i);
        let (amount, unit) = trimmed.split_at(split);
        let (amount, unit) = (amount.trim(), unit.trim());
        if amount.is_empty() {
            return Err(QuantityError::Malformed(s.to_string()));
        }
        let amount = Amount::parse(amount)?;
        let unit = if unit.is_empty() {
            Unit::Each
        } else {
            Unit::parse(unit)?
        };
        Ok(Quantity::new(amount, unit))
    }

    /// The dimension of the unit.
    pub fn dimension(&self) -> Dimension {
        self.unit.dimension()
    }

    /// The exact amount in the dimension's base unit (each, gram,
    /// milliliter; packages unchanged).
    pub fn in_base(&self) -> Ratio {
        // Amount bounds (value <= 1e6, denominator <= 1e18) and unit factors
        // (< 5e8 / 1e8) keep this product far inside i128, so the fallback is
        // unreachable; it only exists to keep this function panic-free.
        self.amount
            .0
            .checked_mul(&self.unit.to_base())
            .unwrap_or_else(|| Ratio::from_integer(i128::MAX))
    }

    /// The exact amount expressed in `unit` as a raw ratio (not validated).
    fn ratio_in(&self, unit: Unit) -> Result<Ratio, QuantityError> {
        if unit == self.unit {
            return Ok(self.amount.0);
        }
        self.unit
            .to_base()
            .checked_div(&unit.to_base())
            .and_then(|factor| self.amount.0.checked_mul(&factor))
            .ok_or_else(|| QuantityError::OutOfRange(format!("{self} in {unit}")))
    }

    fn incompatible(&self, other: Unit) -> QuantityError {
        QuantityError::IncompatibleUnits {
            from: self.unit,
            to: other,
        }
    }

    /// Converts exactly into `unit`.
    ///
    /// Fails with [`QuantityError::IncompatibleUnits`] across dimensions (or
    /// between different package units), and with
    /// [`QuantityError::OutOfRange`] if the result is not a valid [`Amount`].
    pub fn convert_to(&self, unit: Unit) -> Result<Quantity, QuantityError> {
        if !self.unit.is_compatible(unit) {
            return Err(self.incompatible(unit));
        }
        if unit == self.unit {
            return Ok(*self);
        }
        let r = self.ratio_in(unit)?;
        Quantity::try_new(r, unit)
            .map_err(|_| QuantityError::OutOfRange(format!("{self} in {unit}")))
    }

    /// This quantity `times` over, in its own unit: `2 lb × 2 = 4 lb`,
    /// `1 dozen × 1/2 = 0.5 dozen`. An unrepresentable product gives
    /// [`QuantityError::OutOfRange`].
    pub fn checked_mul(&self, times: Amount) -> Result<Quantity, QuantityError> {
        self.amount
            .ratio()
            .checked_mul(&times.ratio())
            .ok_or_else(|| QuantityError::OutOfRange(format!("{self} × {times}")))
            .and_then(|r| Quantity::try_new(r, self.unit))
    }

    /// Adds exactly, expressing the sum in the larger of the two units (the
    /// one with the larger [`Unit::to_base`]): `1 gal + 2 qt = 1.5 gal`.
    ///
    /// Commutative and associative within a dimension whenever the results
    /// are in range. Incompatible units give
    /// [`QuantityError::IncompatibleUnits`]; an unrepresentable sum gives
    /// [`QuantityError::OutOfRange`].
    pub fn checked_add(&self, other: &Quantity) -> Result<Quantity, QuantityError> {
        if !self.unit.is_compatible(other.unit) {
            return Err(self.incompatible(other.unit));
        }
        let target = std::cmp::max(
            (self.unit.to_base(), self.unit),
            (other.unit.to_base(), other.unit),
        )
        .1;
        let a = self.ratio_in(target)?;
        let b = other.ratio_in(target)?;
        let sum = a
            .checked_add(&b)
            .ok_or_else(|| QuantityError::OutOfRange(format!("{self} + {other}")))?;
        Quantity::try_new(sum, target)
            .map_err(|_| QuantityError::OutOfRange(format!("{self} + {other}")))
    }

    /// What is left after taking `other` away, in this quantity's unit:
    /// `2 bag - 1 bag = 1 bag`, `1 gal - 2 qt = 0.5 gal`; `Ok(None)` when
    /// nothing is (`other` is as much or more).
    ///
    /// Incompatible units give [`QuantityError::IncompatibleUnits`]; a rest
    /// that is not a valid [`Amount`] gives [`QuantityError::OutOfRange`].
    pub fn checked_sub(&self, other: &Quantity) -> Result<Option<Quantity>, QuantityError> {
        if !self.unit.is_compatible(other.unit) {
            return Err(self.incompatible(other.unit));
        }
        let taken = other.ratio_in(self.unit)?;
        if taken >= self.amount.0 {
            return Ok(None);
        }
        let left = self.amount.0 - taken;
        Quantity::try_new(left, self.unit)
            .map(Some)
            .map_err(|_| QuantityError::OutOfRange(format!("{self} - {other}")))
    }

    /// How many packs of size `pack` cover this need.
    ///
    /// - Compatible units: `ceil(need / pack)` (need 2 lb, pack 16 oz → 2).
    /// - Need in a count or package unit, pack in anything incompatible: one
    ///   pack per item, `ceil(need in each)` (need 2 can of a 12 oz product → 2).
    /// - Otherwise (e.g. need mass, pack volume): [`QuantityError::IncompatibleUnits`].
    ///
    /// The result is at least 1; above [`Quantity::MAX_PACKS`] it is
    /// [`QuantityError::OutOfRange`].
    pub fn packs_needed(&self, pack: &Quantity) -> Result<u32, QuantityError> {
        let packs = if self.unit == pack.unit {
            // The usual case ("4 gal" of a 1 gal pack): the unit's factor
            // cancels out, no conversion to reduce.
            self.amount
                .0
                .checked_div(&pack.amount.0)
                .ok_or_else(|| QuantityError::OutOfRange(format!("{self} / {pack}")))?
        } else if self.unit.is_compatible(pack.unit) {
            self.in_base()
                .checked_div(&pack.in_base())
                .ok_or_else(|| QuantityError::OutOfRange(format!("{self} / {pack}")))?
        } else if matches!(self.dimension(), Dimension::Count | Dimension::Package) {
            self.in_base()
        } else {
            return Err(self.incompatible(pack.unit));
        };
        let (n, d) = (*packs.numer(), *packs.denom());
        let ceil = (n / d + i128::from(n % d != 0)).max(1);
        u32::try_from(ceil)
            .ok()
            .filter(|&p| p <= Quantity::MAX_PACKS)
            .ok_or_else(|| {
                QuantityError::OutOfRange(format!(
                    "{self} needs more than {} packs of {pack}",
                    Quantity::MAX_PACKS
                ))
            })
    }

    /// Compares two compatible quantities by their exact size.
    pub fn compare(&self, other: &Quantity) -> Result<Ordering, QuantityError> {
        if !self.unit.is_compatible(other.unit) {
            return Err(self.incompatible(other.unit));
        }
        Ok(self.in_base().cmp(&other.in_base()))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.unit)
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

/// Errors from parsing or combining quantities.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuantityError {
    /// The text is not a known unit.
    #[error("unknown unit `{0}`")]
    UnknownUnit(String),
    /// The units measure different things (or are different packages).
    #[error("cannot combine {from} with {to}: different dimensions")]
    IncompatibleUnits {
        /// The unit of the left-hand quantity.
        from: Unit,
        /// The unit of the right-hand quantity or conversion target.
        to: Unit,
    },
    /// Too large, too precise, or an arithmetic overflow.
    #[error("quantity out of range: {0}")]
    OutOfRange(String),
    /// Zero or a negative amount.
    #[error("quantity must be positive: `{0}`")]
    ZeroOrNegative(String),
    /// Text that is not a quantity at all.
    #[error("malformed quantity `{0}`")]
    Malformed(String),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap; the library code does not.
mod tests {
    use super::*;
    use num_traits::Signed;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    fn r(n: i128, d: i128) -> Ratio {
        Ratio::new(n, d)
    }

    #[test]
    fn one_gallon_plus_two_quarts_is_one_and_a_half_gallons() {
        assert_eq!(q("1 gal").checked_add(&q("2 qt")).unwrap(), q("1.5 gal"));
        assert_eq!(q("2 qt").checked_add(&q("1 gal")).unwrap(), q("1.5 gal"));
    }

    #[test]
    fn taking_away_leaves_the_rest_in_the_first_unit() {
        // (have, take, left)
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("2 bag", "1 bag", Some("1 bag")),
            ("1 gal", "2 qt", Some("0.5 gal")),
            ("5 ct", "2 ct", Some("3 ct")),
            ("2 lb", "8 oz", Some("1.5 lb")),
            ("1 dozen", "1 dozen", None),
            ("5 ct", "10 ct", None),
            ("1 lb", "1 kg", None),
        ];
        for (have, take, left) in cases {
            assert_eq!(
                q(have).checked_sub(&q(take)).unwrap(),
                left.map(q),
                "{have} - {take}"
            );
        }
        assert!(matches!(
            q("2 gal").checked_sub(&q("1 lb")),
            Err(QuantityError::IncompatibleUnits { .. })
        ));
    }

    #[test]
    fn sixteen_ounces_equal_one_pound() {
        assert_eq!(q("16 oz").convert_to(Unit::Pound).unwrap(), q("1 lb"));
        assert_eq!(q("16 oz").compare(&q("1 lb")).unwrap(), Ordering::Equal);
        assert_eq!(q("16 oz").in_base(), q("1 lb").in_base());
    }

    #[test]
    fn three_teaspoons_equal_one_tablespoon() {
        assert_eq!(
            q("3 tsp").convert_to(Unit::Tablespoon).unwrap(),
            q("1 tbsp")
        );
        assert_eq!(q("1 tbsp").convert_to(Unit::Teaspoon).unwrap(), q("3 tsp"));
    }

    #[test]
    fn one_dozen_equals_twelve_count() {
        assert_eq!(q("1 dozen").convert_to(Unit::Each).unwrap(), q("12 ct"));
        assert_eq!(q("1 dozen").compare(&q("12 ct")).unwrap(), Ordering::Equal);
    }

    #[test]
    fn us_customary_volumes_are_exact() {
        assert_eq!(Unit::Gallon.to_base(), r(3_785_411_784, 1_000_000));
        assert_eq!(q("1 gal").convert_to(Unit::Cup).unwrap(), q("16 cups"));
        assert_eq!(
            q("1 cup").convert_to(Unit::FluidOunce).unwrap(),
            q("8 fl oz")
        );
        assert_eq!(q("1 pt").convert_to(Unit::Cup).unwrap(), q("2 cups"));
        assert_eq!(q("1 qt").convert_to(Unit::Pint).unwrap(), q("2 pt"));
        assert_eq!(
            q("1 fl oz").convert_to(Unit::Tablespoon).unwrap(),
            q("2 tbsp")
        );
        assert_eq!(q("1 l").convert_to(Unit::Milliliter).unwrap(), q("1000 ml"));
    }

    #[test]
    fn metric_and_us_mass_convert_exactly() {
        assert_eq!(Unit::Ounce.to_base(), r(28_349_523_125, 1_000_000_000));
        assert_eq!(Unit::Pound.to_base(), r(45_359_237, 100_000));
        // 1 oz has a denominator of 1.6e6 in grams, still a valid amount.
        let grams = q("1 oz").convert_to(Unit::Gram).unwrap();
        assert_eq!(grams.amount.ratio(), r(45_359_237, 1_600_000));
        assert_eq!(grams.convert_to(Unit::Ounce).unwrap(), q("1 oz"));
        assert_eq!(q("1 kg").convert_to(Unit::Gram).unwrap(), q("1000 g"));
    }

    #[test]
    fn to_base_factors_are_in_lowest_terms() {
        for &unit in Unit::ALL {
            let f = unit.to_base();
            assert_eq!(num_integer::gcd(*f.numer(), *f.denom()), 1, "{unit}");
        }
    }

    #[test]
    fn max_denom_covers_every_conversion_of_a_parsed_amount() {
        let worst = Unit::ALL
            .iter()
            .flat_map(|&a| Unit::ALL.iter().map(move |&b| (a, b)))
            .filter(|(a, b)| a.is_compatible(*b))
            .map(|(a, b)| *(a.to_base() / b.to_base()).denom())
            .max()
            .unwrap();
        assert_eq!(worst, 32_000_000_000); // teaspoon -> liter
        assert!(worst * Amount::MAX_PARSE_DENOM <= Amount::MAX_DENOM);
    }

    #[test]
    fn to_base_is_distinct_within_each_dimension() {
        for &a in Unit::ALL {
            for &b in Unit::ALL {
                if a != b && a.is_compatible(b) {
                    assert_ne!(a.to_base(), b.to_base(), "{a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn mixed_metric_and_us_addition_uses_larger_unit() {
        let sum = q("500 g").checked_add(&q("1 lb")).unwrap();
        assert_eq!(sum.unit, Unit::Pound);
        assert_eq!(sum.in_base(), r(500, 1) + Unit::Pound.to_base());
        let sum = q("1 l").checked_add(&q("1 gal")).unwrap();
        assert_eq!(sum.unit, Unit::Gallon);
        let sum = q("1 cup").checked_add(&q("1 l")).unwrap();
        assert_eq!(sum.unit, Unit::Liter);
        let sum = q("2 cans").checked_add(&q("1 can")).unwrap();
        assert_eq!(sum, q("3 cans"));
    }

    /// A quantity times a factor keeps its unit; past the largest amount or
    /// finer than the finest it is an error.
    #[test]
    fn a_quantity_times_a_factor_keeps_its_unit() {
        let times = |s: &str| Amount::parse(s).unwrap();
        let cases: &[(&str, &str, &str)] = &[
            ("2 lb", "2", "4 lb"),
            ("1 dozen", "1/2", "0.5 dozen"),
            ("3 cans", "3", "9 cans"),
            ("1/3 cup", "3", "1 cup"),
        ];
        for (q0, t, want) in cases {
            assert_eq!(q(q0).checked_mul(times(t)).unwrap(), q(want), "{q0} × {t}");
        }
        assert!(matches!(
            q("900000 ct").checked_mul(times("2")),
            Err(QuantityError::OutOfRange(_))
        ));
    }

    #[test]
    fn adding_incompatible_units_is_an_error() {
        assert_eq!(
            q("1 lb").checked_add(&q("1 gal")),
            Err(QuantityError::IncompatibleUnits {
                from: Unit::Pound,
                to: Unit::Gallon
            })
        );
        assert_eq!(
            q("1 can").checked_add(&q("1 bottle")),
            Err(QuantityError::IncompatibleUnits {
                from: Unit::Can,
                to: Unit::Bottle
            })
        );
        assert!(matches!(
            q("1 ct").convert_to(Unit::Gram),
            Err(QuantityError::IncompatibleUnits { .. })
        ));
        assert!(matches!(
            q("1 lb").compare(&q("1 l")),
            Err(QuantityError::IncompatibleUnits { .. })
        ));
    }

    #[test]
    fn sum_exceeding_max_is_out_of_range() {
        let big = Quantity::try_new(r(Amount::MAX, 1), Unit::Gram).unwrap();
        assert!(matches!(
            big.checked_add(&big),
            Err(QuantityError::OutOfRange(_))
        ));
        assert!(matches!(
            Quantity::try_new(r(Amount::MAX, 1), Unit::Kilogram)
                .unwrap()
                .convert_to(Unit::Gram),
            Err(QuantityError::OutOfRange(_))
        ));
    }

    #[test]
    fn packs_needed_examples() {
        assert_eq!(q("2 lb").packs_needed(&q("16 oz")).unwrap(), 2);
        assert_eq!(q("1 dozen").packs_needed(&q("12 ct")).unwrap(), 1);
        assert_eq!(q("18 ct").packs_needed(&q("12 ct")).unwrap(), 2);
        assert_eq!(q("2 each").packs_needed(&q("12 oz")).unwrap(), 2);
        assert_eq!(q("2 can").packs_needed(&q("12 oz")).unwrap(), 2);
        assert_eq!(q("1.5 can").packs_needed(&q("12 oz")).unwrap(), 2);
        assert_eq!(q("1 tsp").packs_needed(&q("1 gal")).unwrap(), 1);
        assert_eq!(q("1 gal").packs_needed(&q("1 qt")).unwrap(), 4);
        // Same unit: no conversion.
        assert_eq!(q("4 gal").packs_needed(&q("1 gal")).unwrap(), 4);
        assert_eq!(q("2.5 gal").packs_needed(&q("2 gal")).unwrap(), 2);
        assert_eq!(q("0.5 gal").packs_needed(&q("1 gal")).unwrap(), 1);
        assert_eq!(q("3 1/3 lb").packs_needed(&q("1/3 lb")).unwrap(), 10);
        assert_eq!(q("1 dozen").packs_needed(&q("1 can")).unwrap(), 12);
    }

    #[test]
    fn packs_needed_rejects_incompatible_and_too_many() {
        assert_eq!(
            q("1 lb").packs_needed(&q("1 l")),
            Err(QuantityError::IncompatibleUnits {
                from: Unit::Pound,
                to: Unit::Liter
            })
        );
        assert!(matches!(
            q("1000 kg").packs_needed(&q("1 g")),
            Err(QuantityError::OutOfRange(_))
        ));
        assert_eq!(q("10000 g").packs_needed(&q("1 g")).unwrap(), 10_000);
        assert!(q("10001 g").packs_needed(&q("1 g")).is_err());
    }

    #[test]
    fn unit_parse_accepts_common_spellings() {
        let table: &[(&str, Unit)] = &[
            ("ea", Unit::Each),
            ("each", Unit::Each),
            ("Count", Unit::Each),
            ("ct", Unit::Each),
            ("pc", Unit::Each),
            ("pcs", Unit::Each),
            ("doz", Unit::Dozen),
            ("dz", Unit::Dozen),
            ("dozen", Unit::Dozen),
            ("pair", Unit::Pair),
            ("pairs", Unit::Pair),
            ("g", Unit::Gram),
            ("gr", Unit::Gram),
            ("gm", Unit::Gram),
            ("grams", Unit::Gram),
            ("gramme", Unit::Gram),
            ("grammes", Unit::Gram),
            ("kg", Unit::Kilogram),
            ("kilo", Unit::Kilogram),
            ("kilos", Unit::Kilogram),
            ("kgs", Unit::Kilogram),
            ("kilogram", Unit::Kilogram),
            ("oz", Unit::Ounce),
            ("oz.", Unit::Ounce),
            ("ounce", Unit::Ounce),
            ("Ounces", Unit::Ounce),
            ("lb", Unit::Pound),
            ("lbs", Unit::Pound),
            ("LBS.", Unit::Pound),
            ("pound", Unit::Pound),
            ("pounds", Unit::Pound),
            ("ml", Unit::Milliliter),
            ("mL", Unit::Milliliter),
            ("mls", Unit::Milliliter),
            ("millilitre", Unit::Milliliter),
            ("millilitres", Unit::Milliliter),
            ("milliliter", Unit::Milliliter),
            ("milliliters", Unit::Milliliter),
            ("l", Unit::Liter),
            ("L", Unit::Liter),
            ("litre", Unit::Liter),
            ("litres", Unit::Liter),
            ("liter", Unit::Liter),
            ("liters", Unit::Liter),
            ("fl oz", Unit::FluidOunce),
            ("fl. oz.", Unit::FluidOunce),
            ("FL OZ", Unit::FluidOunce),
            ("fl  oz", Unit::FluidOunce),
            ("floz", Unit::FluidOunce),
            ("fl.oz.", Unit::FluidOunce),
            ("fluid ounce", Unit::FluidOunce),
            ("fluid ounces", Unit::FluidOunce),
            ("c", Unit::Cup),
            ("C", Unit::Cup),
            ("cup", Unit::Cup),
            ("cups", Unit::Cup),
            ("pt", Unit::Pint),
            ("pint", Unit::Pint),
            ("pints", Unit::Pint),
            ("qt", Unit::Quart),
            ("quart", Unit::Quart),
            ("quarts", Unit::Quart),
            ("gal", Unit::Gallon),
            ("gals", Unit::Gallon),
            ("gallon", Unit::Gallon),
            ("gallons", Unit::Gallon),
            ("t", Unit::Teaspoon),
            ("tsp", Unit::Teaspoon),
            ("tsps", Unit::Teaspoon),
            ("Tsp", Unit::Teaspoon),
            ("teaspoon", Unit::Teaspoon),
            ("teaspoons", Unit::Teaspoon),
            ("T", Unit::Tablespoon),
            ("tbs", Unit::Tablespoon),
            ("tbsp", Unit::Tablespoon),
            ("Tbsp.", Unit::Tablespoon),
            ("tbsps", Unit::Tablespoon),
            ("tblsp", Unit::Tablespoon),
            ("tablespoon", Unit::Tablespoon),
            ("tablespoons", Unit::Tablespoon),
            ("pk", Unit::Pack),
            ("pkg", Unit::Pack),
            ("pack", Unit::Pack),
            ("packs", Unit::Pack),
            ("package", Unit::Pack),
            ("packages", Unit::Pack),
            ("can", Unit::Can),
            ("cans", Unit::Can),
            ("tin", Unit::Can),
            ("tins", Unit::Can),
            ("bottle", Unit::Bottle),
            ("bottles", Unit::Bottle),
            ("box", Unit::Box),
            ("boxes", Unit::Box),
            ("bag", Unit::Bag),
            ("bags", Unit::Bag),
            ("carton", Unit::Carton),
            ("cartons", Unit::Carton),
            ("jar", Unit::Jar),
            ("jars", Unit::Jar),
            ("loaf", Unit::Loaf),
            ("loaves", Unit::Loaf),
            ("bunch", Unit::Bunch),
            ("bunches", Unit::Bunch),
            ("head", Unit::Head),
            ("heads", Unit::Head),
            ("roll", Unit::Roll),
            ("rolls", Unit::Roll),
            ("stick", Unit::Stick),
            ("sticks", Unit::Stick),
            ("slice", Unit::Slice),
            ("slices", Unit::Slice),
            ("clove", Unit::Clove),
            ("cloves", Unit::Clove),
            ("piece", Unit::Piece),
            ("pieces", Unit::Piece),
            ("  Gallon  ", Unit::Gallon),
        ];
        for &(text, unit) in table {
            assert_eq!(Unit::parse(text), Ok(unit), "{text:?}");
        }
    }

    #[test]
    fn unit_parse_rejects_unknown_spellings() {
        for text in ["", " ", "#", "cl", "mg", "xyz", "fl", "oz oz", ".", "t t"] {
            assert_eq!(
                Unit::parse(text),
                Err(QuantityError::UnknownUnit(text.to_string())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn every_unit_parses_from_its_code_singular_and_plural() {
        for &unit in Unit::ALL {
            assert_eq!(Unit::parse(unit.code()), Ok(unit));
            assert_eq!(Unit::parse(unit.singular()), Ok(unit));
            assert_eq!(Unit::parse(unit.plural()), Ok(unit));
            assert_eq!(unit.code().parse::<Unit>(), Ok(unit));
            assert_eq!(unit.to_string(), unit.code());
        }
        assert_eq!(Unit::ALL.len(), 52);
    }

    #[test]
    fn lengths_convert_exactly() {
        let inch = Quantity::parse("1 in").unwrap();
        let cm = Quantity::parse("2.54 cm").unwrap();
        assert_eq!(Unit::Inch.dimension(), Dimension::Length);
        assert_eq!(inch.in_base(), cm.in_base());
        assert!(!Unit::Inch.is_compatible(Unit::Ounce));
    }

    #[test]
    fn unit_dimensions_follow_groups() {
        assert_eq!(Unit::Pair.dimension(), Dimension::Count);
        assert_eq!(Unit::Pound.dimension(), Dimension::Mass);
        assert_eq!(Unit::Tablespoon.dimension(), Dimension::Volume);
        assert_eq!(Unit::Pack.dimension(), Dimension::Package);
        assert_eq!(Unit::Piece.dimension(), Dimension::Package);
        assert!(Unit::Gram.is_compatible(Unit::Pound));
        assert!(Unit::Can.is_compatible(Unit::Can));
        assert!(!Unit::Can.is_compatible(Unit::Bottle));
        assert!(!Unit::Each.is_compatible(Unit::Piece));
    }

    #[test]
    fn amount_parse_accepts_numbers_and_fractions() {
        let table: &[(&str, Ratio)] = &[
            ("2", r(2, 1)),
            ("1.5", r(3, 2)),
            (".5", r(1, 2)),
            ("0.25", r(1, 4)),
            ("1.500", r(3, 2)),
            ("007", r(7, 1)),
            ("1/2", r(1, 2)),
            ("3/2", r(3, 2)),
            ("1 1/2", r(3, 2)),
            ("2  3/4", r(11, 4)),
            ("½", r(1, 2)),
            ("1½", r(3, 2)),
            ("1 ½", r(3, 2)),
            ("¼", r(1, 4)),
            ("¾", r(3, 4)),
            ("⅓", r(1, 3)),
            ("⅔", r(2, 3)),
            ("⅛", r(1, 8)),
            ("2⅞", r(23, 8)),
            ("1⁄3", r(1, 3)),
            ("  4  ", r(4, 1)),
            ("1000000", r(1_000_000, 1)),
            ("0.000001", r(1, 1_000_000)),
            ("1/1000000", r(1, 1_000_000)),
        ];
        for &(text, value) in table {
            assert_eq!(
                Amount::parse(text).map(Amount::ratio),
                Ok(value),
                "{text:?}"
            );
        }
    }

    #[test]
    fn amount_parse_rejects_bad_input() {
        let malformed = [
            "", " ", "abc", "1e9", "NaN", "inf", "1/0", "1.", "1..5", "1,5", "1 2", "1 .5",
            "1/2/3", "½½", "+1", "1 1 1/2", "0x10", "١",
        ];
        for text in malformed {
            assert!(
                matches!(Amount::parse(text), Err(QuantityError::Malformed(_))),
                "{text:?} -> {:?}",
                Amount::parse(text)
            );
        }
        for text in ["0", "-1", "0.0", "0/5", "-½", "- 2"] {
            assert!(
                matches!(Amount::parse(text), Err(QuantityError::ZeroOrNegative(_))),
                "{text:?} -> {:?}",
                Amount::parse(text)
            );
        }
        for text in [
            "1000001",
            "99999999999999999999999999999999999999999999",
            "1/1000001",
            "0.0000001",
            "1000000.5",
        ] {
            assert!(
                matches!(Amount::parse(text), Err(QuantityError::OutOfRange(_))),
                "{text:?} -> {:?}",
                Amount::parse(text)
            );
        }
    }

    #[test]
    fn amount_new_validates_range_sign_and_precision() {
        assert!(Amount::new(r(1, 3)).is_ok());
        assert!(matches!(
            Amount::new(Ratio::new_raw(1, 0)),
            Err(QuantityError::Malformed(_))
        ));
        assert!(matches!(
            Amount::new(Ratio::new_raw(-1, 2)),
            Err(QuantityError::ZeroOrNegative(_))
        ));
        assert!(matches!(
            Amount::new(Ratio::new_raw(0, 2)),
            Err(QuantityError::ZeroOrNegative(_))
        ));
        assert_eq!(
            Amount::new(Ratio::new_raw(-2, -4)).unwrap().ratio(),
            r(1, 2)
        );
        assert!(matches!(
            Amount::new(Ratio::new_raw(i128::MIN, -1)),
            Err(QuantityError::OutOfRange(_))
        ));
        assert!(matches!(
            Amount::new(r(1, Amount::MAX_DENOM + 1)),
            Err(QuantityError::OutOfRange(_))
        ));
        assert!(Amount::from_int(0).is_err());
        assert!(Amount::from_int(-5).is_err());
        assert_eq!(Amount::from_int(5).unwrap().ratio(), r(5, 1));
    }

    #[test]
    fn amount_display_uses_up_to_three_decimals() {
        let table: &[(Ratio, &str)] = &[
            (r(2, 1), "2"),
            (r(16, 1), "16"),
            (r(3, 2), "1.5"),
            (r(1, 3), "0.333"),
            (r(2, 3), "0.667"),
            (r(1, 8), "0.125"),
            (r(1_000_000, 1), "1000000"),
            (r(19_999, 10_000), "2"),
            (r(1, 10_000), "0.0001"),
            (r(1, Amount::MAX_DENOM), "0.000000000000000001"),
        ];
        for &(value, text) in table {
            assert_eq!(Amount::new(value).unwrap().to_string(), text);
        }
    }

    #[test]
    fn amount_ceil_and_to_f64() {
        assert_eq!(Amount::new(r(3, 2)).unwrap().ceil(), 2);
        assert_eq!(Amount::new(r(2, 1)).unwrap().ceil(), 2);
        assert_eq!(Amount::new(r(1, 1000)).unwrap().ceil(), 1);
        assert!((Amount::new(r(1, 3)).unwrap().to_f64() - 1.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn quantity_parse_examples() {
        let table: &[(&str, Ratio, Unit)] = &[
            ("1.5 gal", r(3, 2), Unit::Gallon),
            ("2 lbs", r(2, 1), Unit::Pound),
            ("16oz", r(16, 1), Unit::Ounce),
            ("16.9 fl oz", r(169, 10), Unit::FluidOunce),
            ("12 ct", r(12, 1), Unit::Each),
            ("1 1/2 cups", r(3, 2), Unit::Cup),
            ("½ cup", r(1, 2), Unit::Cup),
            ("1½ cups", r(3, 2), Unit::Cup),
            ("3", r(3, 1), Unit::Each),
            ("2 T", r(2, 1), Unit::Tablespoon),
            ("2 t", r(2, 1), Unit::Teaspoon),
            ("  500 g  ", r(500, 1), Unit::Gram),
            ("1 fl. oz.", r(1, 1), Unit::FluidOunce),
            ("2 loaves", r(2, 1), Unit::Loaf),
        ];
        for &(text, amount, unit) in table {
            let parsed = Quantity::parse(text).unwrap();
            assert_eq!(
                (parsed.amount.ratio(), parsed.unit),
                (amount, unit),
                "{text:?}"
            );
            assert_eq!(text.parse::<Quantity>(), Ok(parsed));
        }
    }

    #[test]
    fn quantity_parse_rejects_bad_input() {
        assert!(matches!(
            Quantity::parse(""),
            Err(QuantityError::Malformed(_))
        ));
        assert!(matches!(
            Quantity::parse("cup"),
            Err(QuantityError::Malformed(_))
        ));
        assert_eq!(
            Quantity::parse("2 furlongs"),
            Err(QuantityError::UnknownUnit("furlongs".to_string()))
        );
        assert!(matches!(
            Quantity::parse("-1 cup"),
            Err(QuantityError::ZeroOrNegative(_))
        ));
        assert!(matches!(
            Quantity::parse("0 g"),
            Err(QuantityError::ZeroOrNegative(_))
        ));
        assert!(Quantity::parse("1e9 g").is_err());
        assert!(Quantity::parse("2000000 g").is_err());
    }

    #[test]
    fn quantity_display_uses_unit_code() {
        assert_eq!(q("1.5 gallons").to_string(), "1.5 gal");
        assert_eq!(q("12 each").to_string(), "12 ct");
        assert_eq!(q("2 pounds").to_string(), "2 lb");
        assert_eq!(Quantity::count(3).unwrap().to_string(), "3 ct");
        assert!(Quantity::count(0).is_err());
    }

    #[test]
    fn quantity_serde_round_trips_through_json() {
        let original = q("1.5 gal");
        let json = serde_json::to_string(&original).unwrap();
        assert_eq!(json, r#"{"amount":1.5,"unit":"gal"}"#);
        assert_eq!(serde_json::from_str::<Quantity>(&json).unwrap(), original);

        let third = q("1/3 cup");
        let json = serde_json::to_string(&third).unwrap();
        assert_eq!(serde_json::from_str::<Quantity>(&json).unwrap(), third);

        let fl = q("16.9 fl oz");
        let json = serde_json::to_string(&fl).unwrap();
        assert_eq!(json, r#"{"amount":16.9,"unit":"fl oz"}"#);
        assert_eq!(serde_json::from_str::<Quantity>(&json).unwrap(), fl);
    }

    #[test]
    fn quantity_deserializes_from_strings_integers_and_aliases() {
        let parsed: Quantity = serde_json::from_str(r#"{"amount":"1 1/2","unit":"cups"}"#).unwrap();
        assert_eq!(parsed, q("1.5 cup"));
        let parsed: Quantity = serde_json::from_str(r#"{"amount":12,"unit":"ct"}"#).unwrap();
        assert_eq!(parsed, q("12 ct"));
        for bad in [
            r#"{"amount":0,"unit":"ct"}"#,
            r#"{"amount":-1.5,"unit":"ct"}"#,
            r#"{"amount":1e300,"unit":"ct"}"#,
            r#"{"amount":"abc","unit":"ct"}"#,
            r#"{"amount":1,"unit":"furlong"}"#,
            r#"{"amount":null,"unit":"ct"}"#,
        ] {
            assert!(serde_json::from_str::<Quantity>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amount_from_f64_recovers_simple_fractions() {
        assert_eq!(Amount::from_f64(0.1).unwrap().ratio(), r(1, 10));
        assert_eq!(Amount::from_f64(1.0 / 3.0).unwrap().ratio(), r(1, 3));
        assert_eq!(Amount::from_f64(2.0 / 3.0).unwrap().ratio(), r(2, 3));
        assert!(Amount::from_f64(f64::NAN).is_err());
        assert!(Amount::from_f64(f64::INFINITY).is_err());
        assert!(Amount::from_f64(1e-300).is_err());
    }

    #[test]
    fn in_base_of_extreme_amounts_does_not_saturate() {
        let tiny = Amount::new(r(1, Amount::MAX_DENOM)).unwrap();
        let huge = Amount::new(r(Amount::MAX * Amount::MAX_DENOM - 1, Amount::MAX_DENOM)).unwrap();
        for &unit in Unit::ALL {
            for amount in [tiny, huge] {
                let base = Quantity::new(amount, unit).in_base();
                assert_eq!(base, amount.ratio() * unit.to_base());
            }
        }
    }

    fn arb_unit() -> impl Strategy<Value = Unit> {
        prop::sample::select(Unit::ALL.to_vec())
    }

    fn arb_amount() -> impl Strategy<Value = Amount> {
        (
            1i128..=100_000,
            prop::sample::select(vec![1i128, 2, 3, 4, 8, 10, 16, 100, 1000]),
        )
            .prop_map(|(n, d)| Amount::new(r(n, d)).unwrap())
    }

    fn small_amount() -> impl Strategy<Value = Amount> {
        (
            1i128..=1000,
            prop::sample::select(vec![1i128, 2, 3, 4, 8, 10, 100]),
        )
            .prop_map(|(n, d)| Amount::new(r(n, d)).unwrap())
    }

    /// Units that are all mutually compatible (a dimension, or one package).
    fn arb_compatible_units() -> impl Strategy<Value = Vec<Unit>> {
        arb_unit().prop_map(|seed| {
            Unit::ALL
                .iter()
                .copied()
                .filter(|u| u.is_compatible(seed))
                .collect::<Vec<_>>()
        })
    }

    fn arb_compatible_triple() -> impl Strategy<Value = (Quantity, Quantity, Quantity)> {
        arb_compatible_units().prop_flat_map(|units| {
            let unit = prop::sample::select(units);
            (
                (small_amount(), unit.clone()),
                (small_amount(), unit.clone()),
                (small_amount(), unit),
            )
                .prop_map(|((a, ua), (b, ub), (c, uc))| {
                    (
                        Quantity::new(a, ua),
                        Quantity::new(b, ub),
                        Quantity::new(c, uc),
                    )
                })
        })
    }

    proptest! {
        #[test]
        fn conversion_round_trips_exactly(
            (units, amount) in (arb_compatible_units(), arb_amount()),
            i in any::<prop::sample::Index>(),
            j in any::<prop::sample::Index>(),
        ) {
            let (a, b) = (*i.get(&units), *j.get(&units));
            let original = Quantity::new(amount, a);
            match original.convert_to(b) {
                Ok(converted) => {
                    prop_assert_eq!(converted.unit, b);
                    prop_assert_eq!(converted.in_base(), original.in_base());
                    prop_assert_eq!(converted.convert_to(a), Ok(original));
                }
                Err(e) => prop_assert!(matches!(e, QuantityError::OutOfRange(_)), "{e}"),
            }
        }

        #[test]
        fn any_parseable_amount_converts_exactly_when_in_range(
            units in arb_compatible_units(),
            (d, k) in (1i128..=Amount::MAX_PARSE_DENOM)
                .prop_flat_map(|d| (Just(d), 1i128..=1000 * d)),
            i in any::<prop::sample::Index>(),
            j in any::<prop::sample::Index>(),
        ) {
            // The denominator bound never blocks a conversion of anything
            // Amount::parse can produce (any k/d with d <= 1e6): only the
            // magnitude can.
            let amount = Amount::new(r(k, d)).unwrap();
            let (a, b) = (*i.get(&units), *j.get(&units));
            let expected = amount.ratio() * a.to_base() / b.to_base();
            let converted = Quantity::new(amount, a).convert_to(b);
            if expected <= Ratio::from_integer(Amount::MAX) {
                prop_assert_eq!(converted.map(|c| c.amount.ratio()), Ok(expected));
            } else {
                prop_assert!(matches!(converted, Err(QuantityError::OutOfRange(_))));
            }
        }

        #[test]
        fn checked_add_is_commutative((x, y, _z) in arb_compatible_triple()) {
            let xy = x.checked_add(&y);
            prop_assert_eq!(&xy, &y.checked_add(&x));
            let xy = xy.unwrap();
            prop_assert_eq!(xy.in_base(), y.checked_add(&x).unwrap().in_base());
        }

        #[test]
        fn checked_add_is_associative((x, y, z) in arb_compatible_triple()) {
            let left = x.checked_add(&y).and_then(|xy| xy.checked_add(&z));
            let right = y.checked_add(&z).and_then(|yz| x.checked_add(&yz));
            prop_assert!(left.is_ok(), "{left:?}");
            prop_assert_eq!(&left, &right);
            prop_assert_eq!(left.unwrap().in_base(), right.unwrap().in_base());
        }

        #[test]
        fn checked_add_groupings_agree_whenever_both_succeed(
            units in arb_compatible_units(),
            parts in prop::collection::vec(
                (1i128..=Amount::MAX_PARSE_DENOM)
                    .prop_flat_map(|d| (Just(d), 1i128..=100_000 * d)),
                3,
            ),
            idx in prop::collection::vec(any::<prop::sample::Index>(), 3),
        ) {
            let qs: Vec<Quantity> = parts
                .iter()
                .zip(&idx)
                .map(|(&(d, k), i)| Quantity::try_new(r(k, d), *i.get(&units)).unwrap())
                .collect();
            let (x, y, z) = (qs[0], qs[1], qs[2]);
            // Error messages name the operands in order, so compare values.
            prop_assert_eq!(x.checked_add(&y).ok(), y.checked_add(&x).ok());
            let left = x.checked_add(&y).and_then(|xy| xy.checked_add(&z));
            let right = y.checked_add(&z).and_then(|yz| x.checked_add(&yz));
            match (&left, &right) {
                (Ok(l), Ok(rr)) => prop_assert_eq!(l, rr),
                (Err(e), _) | (_, Err(e)) => {
                    prop_assert!(matches!(e, QuantityError::OutOfRange(_)), "{e}");
                }
            }
        }

        #[test]
        fn in_base_of_sum_is_sum_of_in_base((x, y, _z) in arb_compatible_triple()) {
            let sum = x.checked_add(&y).unwrap();
            prop_assert_eq!(sum.in_base(), x.in_base() + y.in_base());
            let larger = std::cmp::max((x.unit.to_base(), x.unit), (y.unit.to_base(), y.unit)).1;
            prop_assert_eq!(sum.unit, larger);
        }

        #[test]
        fn adding_incompatible_units_fails(
            a in arb_amount(),
            b in arb_amount(),
            (ua, ub) in arb_unit().prop_flat_map(|ua| {
                let others: Vec<Unit> =
                    Unit::ALL.iter().copied().filter(|u| !u.is_compatible(ua)).collect();
                (Just(ua), prop::sample::select(others))
            }),
        ) {
            let (x, y) = (Quantity::new(a, ua), Quantity::new(b, ub));
            prop_assert_eq!(x.checked_add(&y), Err(QuantityError::IncompatibleUnits { from: ua, to: ub }));
            prop_assert_eq!(y.checked_add(&x), Err(QuantityError::IncompatibleUnits { from: ub, to: ua }));
            prop_assert!(x.convert_to(ub).is_err());
            prop_assert!(x.compare(&y).is_err());
        }

        #[test]
        fn packs_needed_is_the_smallest_covering_count(
            (units, need, pack) in (arb_compatible_units(), small_amount(), small_amount()),
            i in any::<prop::sample::Index>(),
            j in any::<prop::sample::Index>(),
        ) {
            let need = Quantity::new(need, *i.get(&units));
            let pack = Quantity::new(pack, *j.get(&units));
            match need.packs_needed(&pack) {
                Ok(n) => {
                    prop_assert!(n >= 1);
                    let n = Ratio::from_integer(i128::from(n));
                    prop_assert!(n * pack.in_base() >= need.in_base());
                    prop_assert!((n - 1) * pack.in_base() < need.in_base());
                }
                Err(e) => prop_assert!(matches!(e, QuantityError::OutOfRange(_)), "{e}"),
            }
        }

        #[test]
        fn display_then_parse_is_close(amount in arb_amount(), unit in arb_unit()) {
            let original = Quantity::new(amount, unit);
            let reparsed = Quantity::parse(&original.to_string()).unwrap();
            prop_assert_eq!(reparsed.unit, unit);
            let diff = (reparsed.amount.ratio() - amount.ratio()).abs();
            prop_assert!(diff <= r(1, 2000));
        }

        #[test]
        fn amount_new_never_panics(n in any::<i128>(), d in any::<i128>()) {
            if let Ok(a) = Amount::new(Ratio::new_raw(n, d)) {
                prop_assert!(a.ratio() > Ratio::from_integer(0));
                prop_assert!(a.ratio() <= Ratio::from_integer(Amount::MAX));
                let _ = a.to_string();
                for &unit in Unit::ALL {
                    let _ = Quantity::new(a, unit).in_base();
                }
            }
        }

        #[test]
        fn amount_from_f64_never_panics(x in any::<f64>()) {
            let _ = Amount::from_f64(x);
        }

        #[test]
        fn parsers_never_panic_on_arbitrary_text(s in any::<String>()) {
            let _ = Amount::parse(&s);
            let _ = Unit::parse(&s);
            let _ = Quantity::parse(&s);
        }

        #[test]
        fn parsers_never_panic_on_quantity_like_text(s in "[0-9./⁄ ½¼¾⅓⅔⅛+-]{0,12}[a-zA-Z. ]{0,8}") {
            if let Ok(parsed) = Quantity::parse(&s) {
                prop_assert!(parsed.amount.ratio() > Ratio::from_integer(0));
            }
            let _ = Amount::parse(&s);
            let _ = Unit::parse(&s);
        }
    }
}
