//! The item grammar: "2 tbsp olive oil, divided", "a 12 pack of coke",
//! "500ml/18 fl oz vegetable oil, for frying", "one 5 lb bag of flour".
//!
//! An item is `[quantity] [unit] [of] [modifiers] name [, note]`, where the
//! quantity may be digits, a fraction, a mixed number, a unicode fraction, a
//! number word or phrase ("a couple of", "two dozen") or a range (its upper bound
//! is the amount), and a second measure in another system ("/18 fl oz",
//! "(50 mL)") is kept as an alternative. A pack size between the count and the
//! package ("one *5 lb* bag") is kept apart from the wanted quantity.

use serde::{Deserialize, Serialize};

use crate::quantity::{Amount, Dimension, Quantity, Ratio, Unit};

/// One item as said or written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemPhrase {
    /// What to buy, lower-case, without quantity, unit, size words or preparation
    /// ("olive oil", "eggs").
    pub name: String,
    /// How many `unit`s (or items, when `unit` is `None`); for a range, the upper
    /// bound. `None` when the text gives no amount.
    pub amount: Option<Amount>,
    /// The lower bound of a range ("2-3 eggs": 2).
    pub amount_min: Option<Amount>,
    /// The unit of `amount`; `None` for a plain count.
    pub unit: Option<Unit>,
    /// The pack size asked for ("one 5 lb bag": 5 lb; "a 12 pack": 12 ct).
    pub pack: Option<Quantity>,
    /// Size and preparation words taken off the name ("large", "chopped").
    pub modifiers: Vec<String>,
    /// The same amount in another system ("500ml/18 fl oz": 18 fl oz).
    // In JSON under its own key: an `ItemPhrase` is flattened into
    // `ResolvedItem`, whose `alternatives` are products, and one object
    // cannot hold the same key twice.
    #[serde(rename = "other_measures", alias = "alternatives", default)]
    pub alternatives: Vec<Quantity>,
    /// What followed the item ("divided", "for frying").
    pub note: Option<String>,
    /// For an update, how many times the line's quantity is wanted ("double
    /// the milk": 2, "halve the rice": 1/2); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<Amount>,
}

impl ItemPhrase {
    /// An item with no name, only an amount: "make that *3*".
    pub fn bare(amount: Amount, unit: Option<Unit>) -> Self {
        ItemPhrase {
            name: String::new(),
            amount: Some(amount),
            amount_min: None,
            unit,
            pack: None,
            modifiers: Vec::new(),
            alternatives: Vec::new(),
            note: None,
            times: None,
        }
    }

    /// An item with only a name and no amount.
    pub fn named(name: &str) -> Self {
        ItemPhrase {
            name: name.to_string(),
            amount: None,
            amount_min: None,
            unit: None,
            pack: None,
            modifiers: Vec::new(),
            alternatives: Vec::new(),
            note: None,
            times: None,
        }
    }

    /// What goes into a dish, asked for by the dish: "the ingredients for
    /// tacos", "stuff for pancakes", "taco ingredients". The name is
    /// "ingredients" and the note says for what ("for tacos").
    pub fn for_dish(dish: &str) -> Self {
        let mut item = ItemPhrase::named(DISH_NAME);
        item.note = Some(format!("for {dish}"));
        item
    }

    /// The dish this item asks the ingredients of ([`ItemPhrase::for_dish`]),
    /// if it does: "tacos".
    pub fn dish(&self) -> Option<&str> {
        if self.name != DISH_NAME {
            return None;
        }
        self.note.as_deref()?.strip_prefix("for ")
    }

    /// The wanted quantity: amount and unit, one each when the text gave none.
    pub fn quantity(&self) -> Option<Quantity> {
        let amount = match self.amount {
            Some(a) => a,
            None => Amount::from_int(1).ok()?,
        };
        Some(Quantity::new(amount, self.unit.unwrap_or(Unit::Each)))
    }
}

/// The name of an item that stands for a dish's ingredients
/// ([`ItemPhrase::for_dish`]).
pub(crate) const DISH_NAME: &str = "ingredients";

/// Words that stand for "whatever the dish needs" before "for DISH":
/// "*the ingredients* for lasagna", "*everything we need* for chili".
const DISH_WORDS: &[&str] = &[
    "ingredients",
    "ingredient",
    "the ingredients",
    "all the ingredients",
    "everything",
    "everything i need",
    "everything we need",
    "everything needed",
    "stuff",
    "the stuff",
    "all the stuff",
    "things",
    "the things",
    "all the things",
    "what i need",
    "what we need",
    "whatever i need",
    "whatever we need",
    "what's needed",
    "fixings",
    "the fixings",
    "all the fixings",
    "fixins",
    "the fixins",
    "makings",
    "the makings",
];

/// The dish a phrase asks the ingredients of: "the ingredients for tacos",
/// "stuff to make pancakes", "everything for a caesar salad", "taco
/// ingredients"; `None` for anything else ("party supplies", "milk for the
/// kids").
pub(crate) fn dish_asked(phrase: &str) -> Option<String> {
    let phrase = phrase.trim().trim_end_matches(['.', '!', '?']);
    let dish = match phrase.strip_suffix(" ingredients") {
        // "taco ingredients", "the lasagna ingredients"
        Some(dish) if !dish.contains(' ') || dish.starts_with("the ") => dish,
        _ => DISH_WORDS.iter().find_map(|w| {
            let rest = phrase.strip_prefix(w)?;
            [
                " for ",
                " to make ",
                " needed for ",
                " i need for ",
                " we need for ",
            ]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
        })?,
    };
    let mut dish = dish.trim();
    for article in ["a ", "an ", "some ", "the ", "my ", "our ", "making "] {
        dish = dish.strip_prefix(article).unwrap_or(dish);
    }
    let ok = !dish.is_empty()
        && dish.len() <= 60
        && dish
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '\'' | '-' | '&'));
    ok.then(|| dish.to_string())
}

/// Words that size or prepare an ingredient rather than name it; taken off the
/// front of a name.
const MODIFIERS: &[&str] = &[
    "large",
    "small",
    "medium",
    "lg",
    "med",
    "sm",
    "big",
    "jumbo",
    "heaped",
    "heaping",
    "level",
    "scant",
    "generous",
    "good",
    "rounded",
    "chopped",
    "minced",
    "sliced",
    "diced",
    "grated",
    "shredded",
    "cubed",
    "peeled",
    "halved",
    "quartered",
    "cooked",
    "toasted",
    "melted",
    "softened",
    "beaten",
    "sifted",
    "packed",
    "trimmed",
    "finely",
    "coarsely",
    "roughly",
    "thinly",
    "freshly",
    "lightly",
    "firmly",
    "loosely",
    "well",
    "torn",
    "mashed",
    "julienned",
    "deseeded",
    "seeded",
    "pitted",
    "rinsed",
    "drained",
    "thawed",
    "very",
    "about",
    "approximately",
    "approx",
    "around",
    "roughly",
    "some",
    "more",
    "extra-large",
    "md",
    "pureed",
    "puréed",
    "fully",
    "partially",
    "lrg",
    "medium-size",
    "medium-sized",
    "large-size",
    "snipped",
    "cracked",
    "coarse-ground",
    "lukewarm",
];

/// Size words that may stand between a number and its unit.
const SIZE_WORDS: &[&str] = &[
    "small", "large", "medium", "big", "level", "heaped", "heaping", "scant", "generous", "good",
    "rounded", "fat", "thick", "thin", "generous", "lg", "sm", "packed", "loosely", "firmly",
    "lightly", "well", "tightly", "extra", "family", "party", "value", "size", "sized", "king",
    "giant", "mega", "bulk", "club", "economy",
];

/// Units that also come after a counted name ("3 garlic cloves", "2 ciabatta
/// loaves", "3 celery sticks"). Fillets, rashers and heads after a name are part
/// of what is bought ("anchovy fillets", "bacon rashers"), and so is a trailing
/// unit word with no number ("cinnamon sticks").
const TRAILING_UNITS: &[Unit] = &[
    Unit::Clove,
    Unit::Loaf,
    Unit::Stick,
    Unit::Sprig,
    Unit::Stalk,
    Unit::Bunch,
    Unit::Bulb,
];

/// Units that may open an item with no number and no "of": "pinch dried thyme",
/// "small bunch fresh chervil", "sheets nori".
const BARE_LEADING_UNITS: &[Unit] = &[
    Unit::Knob,
    Unit::Pinch,
    Unit::Dash,
    Unit::Handful,
    Unit::Bunch,
    Unit::Sprig,
    Unit::Sheet,
];

/// Adverbs that make the next word preparation too ("freshly *squeezed*",
/// "finely *grated*", "coarsely *ground*").
const PREP_ADVERBS: &[&str] = &[
    "freshly",
    "finely",
    "coarsely",
    "roughly",
    "thinly",
    "well",
    "very",
    "firmly",
    "loosely",
    "fully",
    "partially",
];

/// Size words that never name a product, dropped wherever they stand inside a
/// name ("1 ripe *large* tomato").
const INNER_SIZE_WORDS: &[&str] = &[
    "large",
    "small",
    "medium",
    "extra-large",
    "lg",
    "sm",
    "md",
    "med",
    "medium-size",
    "medium-sized",
    "large-size",
    "jumbo",
];

/// Words after which the rest of the text is a note, not the name (with the
/// [`PARTICIPLES`], which are notes only at the end of a name).
const NOTE_STARTS: &[&str] = &[
    "for",
    "plus",
    "to",
    "divided",
    "such",
    "if",
    "at",
    "into",
    "finely",
    "roughly",
    "coarsely",
    "thinly",
    "optional",
    "from",
    "about",
    "preferably",
    "as",
    "with",
    "then",
    "and/or",
    "room",
    "dissolved",
    "beaten",
    "diluted",
];

/// Note words that are preparation participles: inside a name ("canned
/// *chopped* tomatoes") they stay, at its end ("1 onion *chopped*") a note starts.
const PARTICIPLES: &[&str] = &[
    "cut",
    "chopped",
    "minced",
    "sliced",
    "diced",
    "grated",
    "peeled",
    "halved",
    "trimmed",
    "drained",
    "rinsed",
    "torn",
    "deseeded",
    "washed",
    "crumbled",
    "cored",
    "stemmed",
    "scrubbed",
    "soaked",
    "thawed",
    "softened",
    "melted",
    "cubed",
    "quartered",
    "crushed",
    "sifted",
    "julienned",
    "seeded",
    "skinned",
    "cleaned",
];

/// Whether a note starts at `w` (a note word or a participle).
fn is_note_start(w: &str) -> bool {
    NOTE_STARTS.contains(&w) || PARTICIPLES.contains(&w)
}

/// Whether `w` is a number said as a word ("a", "one", "two", "couple"…).
pub(crate) fn is_number_word(w: &str) -> bool {
    number_word(w).is_some()
}

/// The value of a number word ("two": 2, "a": 1, "couple": 2).
fn number_word(w: &str) -> Option<i64> {
    static VALUES: std::sync::LazyLock<rustc_hash::FxHashMap<&'static str, i64>> =
        std::sync::LazyLock::new(|| NUMBER_WORDS.iter().copied().collect());
    VALUES.get(w).copied()
}

/// Number words and phrases: (words, value).
const NUMBER_WORDS: &[(&str, i64)] = &[
    ("a", 1),
    ("an", 1),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("hundred", 100),
    ("couple", 2),
    ("few", 3),
    ("several", 3),
];

fn ratio(n: i64, d: i64) -> Option<Amount> {
    Amount::new(Ratio::new(i128::from(n), i128::from(d))).ok()
}

/// Whether the letters at the start of `rest` (up to the next non-letter)
/// are a unit or a multiplier written against a number ("oz" of "12oz").
fn glued_unit(rest: &str) -> bool {
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphabetic())
        .flat_map(|c| c.to_lowercase())
        .collect();
    matches!(
        word.as_str(),
        "x" | "fl" | "pk" | "pc" | "pcs" | "in" | "cm" | "mm"
    ) || Unit::from_word(&word).is_some()
}

/// Split glued numbers and units ("500ml", "10½oz", "12-pack") and free-standing
/// slashes ("g/6oz") into words; keep fractions ("1/2") and ranges whole.
/// A digit, a fraction character or a decimal point: part of a number.
fn is_number_char(c: char) -> bool {
    c.is_ascii_digit() || c == '.' || is_fraction_char(c)
}

/// One of the fraction characters amounts are written with ("½").
fn is_fraction_char(c: char) -> bool {
    matches!(c, '½' | '¼' | '¾' | '⅓' | '⅔' | '⅛' | '⅜' | '⅝' | '⅞')
}

fn pre_tokenize(s: &str) -> Vec<String> {
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev: Option<char> = None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        match c {
            '/' if prev.is_some_and(|p| p.is_ascii_digit())
                && next.is_some_and(|n| n.is_ascii_digit()) =>
            {
                out.push('/')
            }
            '/' => out.push_str(" / "),
            '-' | '–' | '—'
                if prev.is_some_and(is_number_char) && next.is_some_and(is_number_char) =>
            {
                out.push_str(" - ")
            }
            '-' if prev.is_some_and(is_number_char) && next.is_some_and(char::is_alphabetic) => {
                out.push(' ')
            }
            // "12oz", "500ml", "2x": a number and its unit. Not "7up" or
            // "3musketeers", whose letters are no unit: one word, a name.
            c if c.is_alphabetic()
                && prev.is_some_and(is_number_char)
                && prev != Some('.')
                && glued_unit(&s[i..]) =>
            {
                out.push(' ');
                out.push(c);
            }
            _ => out.push(c),
        }
        prev = Some(c);
    }
    let mut words = Vec::with_capacity(8);
    for w in out.split_whitespace() {
        // "twenty-four", "six-packs": number words joined to what follows.
        match w.split_once('-') {
            Some((a, b))
                if is_number_word(a)
                    && !b.is_empty()
                    && (is_number_word(b) || Unit::from_word(b).is_some()) =>
            {
                words.push(a.to_string());
                words.push(b.to_string());
            }
            _ => words.push(w.to_string()),
        }
    }
    words
}

/// A number at `words[i..]`: digits, fractions, mixed numbers, unicode fractions,
/// number words, "a couple of", "half a". Returns the value and words used.
fn number_at(words: &[String], i: usize) -> Option<(Amount, usize)> {
    let (value, used) = number_at_plain(words, i)?;
    // "two and a half", "1 and 1/2": a whole number and a fraction.
    if value.ratio().is_integer() && words.get(i + used).is_some_and(|w| w == "and") {
        let frac = match words.get(i + used + 1).map(String::as_str) {
            Some("a" | "one") if words.get(i + used + 2).is_some_and(|w| w == "half") => {
                Some((ratio(1, 2)?, 3))
            }
            Some("a" | "one") if words.get(i + used + 2).is_some_and(|w| w == "quarter") => {
                Some((ratio(1, 4)?, 3))
            }
            Some(f) if f.contains('/') || f.chars().all(|c| "½¼¾⅓⅔⅛".contains(c)) => {
                Amount::parse(f)
                    .ok()
                    .filter(|a| a.ratio() < Ratio::from_integer(1))
                    .map(|a| (a, 2))
            }
            _ => None,
        };
        if let Some((f, n)) = frac
            && let Ok(sum) = Amount::new(value.ratio() + f.ratio())
        {
            return Some((sum, used + n));
        }
    }
    Some((value, used))
}

fn number_at_plain(words: &[String], i: usize) -> Option<(Amount, usize)> {
    let w = words.get(i)?.as_str();
    // "a half gallon", "a quarter pound", "quarter pound": fractions said in words.
    let frac_word = |k: usize| match words.get(k).map(String::as_str) {
        Some("half") => ratio(1, 2),
        Some("quarter") => ratio(1, 4),
        _ => None,
    };
    let unit_or_of = |k: usize| {
        unit_at(words, k).is_some() || words.get(k).is_some_and(|n| n == "of" || n == "a")
    };
    if (w == "a" || w == "an")
        && let Some(f) = frac_word(i + 1)
        && unit_or_of(i + 2)
    {
        let of = usize::from(words.get(i + 2).is_some_and(|n| n == "of"));
        return Some((f, 2 + of));
    }
    if w == "quarter"
        && let Some(f) = frac_word(i)
        && unit_or_of(i + 1)
    {
        let of = usize::from(words.get(i + 1).is_some_and(|n| n == "of"));
        return Some((f, 1 + of));
    }
    // "half a lemon", "half gallon": a number; "half and half": a name.
    let next_is_article = words.get(i + 1).is_some_and(|n| n == "a" || n == "an");
    if (w == "half" && (next_is_article || unit_at(words, i + 1).is_some()))
        || (w == "½" && next_is_article)
    {
        let used = if words.get(i + 1).is_some_and(|n| n == "a" || n == "an") {
            2
        } else {
            1
        };
        return Some((ratio(1, 2)?, used));
    }
    if w.starts_with(is_number_char) {
        let first = Amount::parse(w).ok()?;
        // "80/20 ground beef", "90/10": a lean ratio, not an amount.
        if w.contains('/') && first.ratio() >= Ratio::from_integer(1) {
            return None;
        }
        // "1 1/2": a whole number and a fraction.
        if first.ratio().is_integer()
            && let Some(next) = words.get(i + 1)
            && (next.contains('/') || next.chars().all(is_fraction_char))
            && let Ok(frac) = Amount::parse(next)
            && frac.ratio() < Ratio::from_integer(1)
            && let Ok(sum) = Amount::new(first.ratio() + frac.ratio())
        {
            return Some((sum, 2));
        }
        return Some((first, 1));
    }
    let mut value = number_word(w)?;
    let mut used = 1;
    // "a couple of", "a few", "twenty four"
    if (w == "a" || w == "an")
        && let Some(next) = words.get(i + 1)
        && let Some(v) = number_word(next).filter(|v| *v != 1)
    {
        value = v;
        used = 2;
    }
    if value >= 20
        && value % 10 == 0
        && let Some(next) = words.get(i + used)
        && let Some(v) = number_word(next).filter(|v| (2..10).contains(v) || next == "one")
    {
        value += v;
        used += 1;
    }
    if words.get(i + used).is_some_and(|n| n == "of") && matches!(w, "a" | "an" | "couple" | "few")
    {
        used += 1;
    }
    Some((Amount::from_int(value).ok()?, used))
}

/// A unit at `words[i..]`, two-word units ("fl oz", "fluid ounces") first.
fn unit_at(words: &[String], i: usize) -> Option<(Unit, usize)> {
    // Two-word units: "fl oz", "fluid ounces".
    if matches!(
        words.get(i).map(String::as_str),
        Some("fl" | "fl." | "fluid")
    ) && let Some(next) = words.get(i + 1)
        && let Ok(u) = Unit::parse(&format!("{} {next}", words[i]))
    {
        return Some((u, 2));
    }
    let w = words.get(i)?;
    // "a" and "t" alone are too ambiguous in running text: only "T"/"t" right after
    // a number would be a spoon, and the caller lower-cases.
    if w.len() == 1 && w != "g" && w != "l" && w != "c" {
        return None;
    }
    // "in" is an inch only before a name: "2 in the cart" is not.
    if w == "in"
        && words.get(i + 1).is_none_or(|n| {
            // "2 in 1 shampoo"
            n.starts_with(|c: char| c.is_ascii_digit())
                || matches!(
                    n.as_str(),
                    "the"
                        | "a"
                        | "an"
                        | "my"
                        | "our"
                        | "your"
                        | "this"
                        | "that"
                        | "it"
                        | "them"
                        | "there"
                        | "each"
                        | "to"
                        | "of"
                        | "stock"
                        | "total"
                        | "all"
                        | "cart"
                )
        })
    {
        return None;
    }
    Unit::from_word(w).map(|u| (u, 1))
}

/// A measure at `words[i..]`: number, optional range, optional unit.
fn measure_at(words: &[String], i: usize) -> Option<(Amount, Option<Amount>, Option<Unit>, usize)> {
    let (mut amount, mut used) = number_at(words, i)?;
    let mut min = None;
    // "2-3", "2 to 3", "2 or 3"
    if let Some(sep) = words.get(i + used)
        && matches!(sep.as_str(), "-" | "to" | "or" | "–")
        && let Some((hi, n)) = number_at(words, i + used + 1)
        && hi > amount
    {
        min = Some(amount);
        amount = hi;
        used += 1 + n;
    }
    // "1 small sprig", "4 large garlic cloves", "1 level tsp": a size word may sit
    // between the number and the unit.
    let mut unit = unit_at(words, i + used);
    let is_size = |k: usize| {
        words
            .get(k)
            .is_some_and(|w| SIZE_WORDS.contains(&w.as_str()))
    };
    if unit.is_none() && is_size(i + used) {
        // "1 loosely packed cup": up to two size words.
        let sizes = if is_size(i + used + 1) { 2 } else { 1 };
        if let Some((u, n)) = unit_at(words, i + used + sizes) {
            unit = Some((u, n + sizes));
        }
    }
    let unit = match unit {
        Some((u, n)) => {
            used += n;
            Some(u)
        }
        None => None,
    };
    // "a pound and a half", "two gallons and a half"
    if unit.is_some()
        && words.get(i + used).is_some_and(|w| w == "and")
        && words.get(i + used + 1).is_some_and(|w| w == "a")
        && words.get(i + used + 2).is_some_and(|w| w == "half")
        && amount.ratio().is_integer()
        && let Some(half) = ratio(1, 2)
        && let Ok(sum) = Amount::new(amount.ratio() + half.ratio())
    {
        amount = sum;
        used += 3;
    }
    Some((amount, min, unit, used))
}

/// Split voice-style runs of items at each new measure: "2 gallons of milk a
/// dozen eggs" → "2 gallons of milk", "a dozen eggs"; "1 red onion 2 green
/// peppers" → two. A measure that ends the text ("chicken 2 lbs") stays.
pub(crate) fn split_at_measures(chunk: &str) -> Vec<String> {
    let words: Vec<String> = chunk.split_whitespace().map(str::to_string).collect();
    let mut out: Vec<String> = Vec::new();
    let mut start = 0;
    let mut named = false;
    let mut k = 0;
    while k < words.len() {
        let measure = measure_at(&words, k);
        let opens = match &measure {
            // "a" or "an" opens an item only before a unit or a number word.
            Some((_, _, unit, used)) if matches!(words[k].as_str(), "a" | "an") => {
                unit.is_some() || *used > 1
            }
            Some((_, _, _, _)) => {
                words[k].starts_with(|c: char| c.is_ascii_digit()) || is_number_word(&words[k])
            }
            None => false,
        };
        if opens && named {
            // Only when a name follows the measure.
            let used = measure.as_ref().map_or(1, |m| m.3);
            let rest = words[k + used..].join(" ");
            if parse_item(&rest).is_some() && !rest.starts_with('%') {
                out.push(words[start..k].join(" "));
                start = k;
                named = false;
            }
        }
        match measure {
            Some((_, _, _, used)) if !named => k += used,
            _ => {
                if !matches!(words[k].as_str(), "of" | "x" | "-") {
                    named = true;
                }
                k += 1;
            }
        }
    }
    out.push(words[start..].join(" "));
    out.retain(|w| !w.is_empty());
    out
}

/// A text that is only a measure ("3", "two gallons"): its amount and unit.
pub(crate) fn measure_of(text: &str) -> Option<(Amount, Option<Unit>)> {
    let words = pre_tokenize(&text.to_lowercase());
    let (a, _, u, used) = measure_at(&words, 0)?;
    (used == words.len()).then_some((a, u))
}

/// Parse one item line. Returns `None` when nothing nameable is left.
pub fn parse_item(text: &str) -> Option<ItemPhrase> {
    let text = super::clamp_text(text);
    // "4 cups cooked, rinsed black beans", "lean, boneless beef": the words before
    // the comma only describe what follows it.
    let first = parse_line(text, 0);
    if let Some(item) = &first
        && item.note.is_some()
        && describes_only(&item.name)
        && let Some(whole) = parse_line(text, 1)
    {
        return Some(whole);
    }
    // "2 tablespoons peeled, minced ginger": the comma was inside the item.
    first.or_else(|| {
        let head = text.split(',').next().unwrap_or("");
        if head.trim().is_empty() {
            return None;
        }
        (1..=text.matches(',').count().min(3)).find_map(|joined| parse_line(text, joined))
    })
}

/// A name that is a single describing word ("cooked", "boneless", "lean"), so
/// not the thing itself.
fn describes_only(name: &str) -> bool {
    !name.contains(' ')
        && (name.ends_with("ed")
            || name.ends_with("less")
            || matches!(
                name,
                "lean" | "cold" | "dry" | "thin" | "thick" | "hot" | "warm"
            ))
}

/// Openings that name a part of the item: "juice of 2 limes", "zest of 1 lemon".
const PART_OF: &[&str] = &[
    "juice of",
    "zest of",
    "zest and juice of",
    "juice and zest of",
    "grated zest of",
    "finely grated zest of",
    "freshly squeezed juice of",
];

/// Parse one line; the name ends at the comma after the first `joined` commas.
fn parse_line(text: &str, joined: usize) -> Option<ItemPhrase> {
    let text = text.trim();
    let mut lowered = if text.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        text.to_lowercase()
    } else {
        text.to_string()
    };
    // "scant ¼ teaspoon", "about 20 leaves": a size word before the number.
    for lead in [
        "optional: ",
        "optional ",
        "scant ",
        "about ",
        "approximately ",
        "approx. ",
        "heaping ",
        "generous ",
        "good ",
        "roughly ",
    ] {
        if let Some(rest) = lowered.strip_prefix(lead) {
            lowered = rest.to_string();
        }
    }
    for part in PART_OF {
        if let Some(rest) = lowered.strip_prefix(part) {
            lowered = rest.trim_start().to_string();
        }
    }
    // Parenthesised measures are alternatives ("(50 mL)") or pack sizes ("(15 oz)").
    let mut paren_measures: Vec<Quantity> = Vec::new();
    let mut main = String::with_capacity(lowered.len());
    let mut depth = 0usize;
    let mut inner = String::new();
    for c in lowered.chars() {
        match c {
            '(' | '[' => {
                depth += 1;
                inner.clear();
            }
            ')' | ']' if depth > 0 => {
                depth -= 1;
                let ws = pre_tokenize(&inner);
                if let Some((a, _, Some(u), _)) = measure_at(&ws, 0) {
                    paren_measures.push(Quantity::new(a, u));
                }
                main.push(' ');
            }
            _ if depth > 0 => inner.push(c),
            _ => main.push(c),
        }
    }
    // "4 ounces soba noodles; or substitute udon": what follows a semicolon is a note.
    let main = match main.split_once(';') {
        Some((head, _)) if !head.trim().is_empty() => head.to_string(),
        _ => main,
    };
    let split = main
        .match_indices(',')
        .nth(joined)
        .map(|(at, _)| (&main[..at], &main[at + 1..]));
    let (head, note) = match split {
        Some((h, n)) => (
            h.to_string(),
            Some(n.trim().to_string()).filter(|n| !n.is_empty()),
        ),
        None => (main.clone(), None),
    };
    let words = pre_tokenize(&head);
    let mut i = 0;
    let mut item = ItemPhrase {
        name: String::new(),
        amount: None,
        amount_min: None,
        unit: None,
        pack: None,
        modifiers: Vec::new(),
        alternatives: Vec::new(),
        note,
        times: None,
    };
    // "2 in 1 shampoo", "3-in-1 oil": a product's name, not an amount.
    let name_with_number = words.get(1).is_some_and(|w| w == "in")
        && words
            .get(2)
            .is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()));
    if let Some((a, min, unit, used)) = measure_at(&words, i).filter(|_| !name_with_number) {
        item.amount = Some(a);
        item.amount_min = min;
        item.unit = unit;
        i += used;
        // "the 6 pack of beer", "a 12 pk": a singular "pack" after a number
        // above one is the size of one pack.
        if item.unit == Some(Unit::Pack)
            && a.ratio() > Ratio::from_integer(1)
            && words
                .get(i - 1)
                .is_some_and(|w| matches!(w.as_str(), "pack" | "pk" | "pkg"))
            && words.get(i).is_some_and(|w| w == "of")
        {
            item.pack = Some(Quantity::new(a, Unit::Each));
            item.amount = Amount::from_int(1).ok();
        }
        // "2 x 400g can": the "x" multiplies packs.
        if item.unit.is_none() && words.get(i).is_some_and(|w| w == "x") {
            i += 1;
        }
        // "one 5 lb bag", "a 12 pack", "3 (15 oz) cans": count, pack size, package.
        if item.unit.is_none()
            || item.unit == Some(Unit::Dozen) && a.ratio() == Ratio::from_integer(1)
        {
            if let Some((pa, _, Some(pu), n)) = measure_at(&words, i) {
                if pu.dimension() == Dimension::Package && pu != Unit::Pack {
                    // "2 12 cans"? treat "12 cans" as the pack size of count 2.
                    item.pack = Some(Quantity::new(pa, Unit::Each));
                    item.unit = Some(pu);
                    i += n;
                } else if pu == Unit::Pack {
                    item.pack = Some(Quantity::new(pa, Unit::Each));
                    item.unit = Some(Unit::Pack);
                    i += n;
                } else {
                    item.pack = Some(Quantity::new(pa, pu));
                    i += n;
                    // "400g/14oz can": the pack size in another system.
                    while words.get(i).is_some_and(|w| w == "/")
                        && let Some((_, _, Some(u1), m)) = measure_at(&words, i + 1)
                    {
                        i += 1 + m;
                        // "600g/1lb 5oz": pounds and ounces together.
                        if let Some((_, _, Some(u2), m2)) = measure_at(&words, i)
                            && u2.dimension() == u1.dimension()
                        {
                            i += m2;
                        }
                    }
                    if let Some((pkg, m)) = unit_at(&words, i)
                        && pkg.dimension() == Dimension::Package
                    {
                        item.unit = Some(pkg);
                        i += m;
                    }
                }
            } else if let Some(size) = paren_measures.first().copied()
                && let Some((pkg, m)) = unit_at(&words, i)
                && pkg.dimension() == Dimension::Package
            {
                item.pack = Some(size);
                item.unit = Some(pkg);
                i += m;
                paren_measures.remove(0);
            }
        }
        // "500 ml / 18 fl oz", "1 kg/2 lb 4 oz": further measures are alternatives.
        loop {
            let mut at = i;
            while words
                .get(at)
                .is_some_and(|w| w == "/" || w == "plus" || w == "+")
            {
                at += 1;
            }
            match measure_at(&words, at) {
                Some((a2, _, Some(u2), n))
                    if at > i || item.unit.is_some_and(|u| u.dimension() != Dimension::Count) =>
                {
                    item.alternatives.push(Quantity::new(a2, u2));
                    i = at + n;
                }
                _ => break,
            }
        }
    }
    // "3 (15 oz) cans": the parenthesised measure is the size of each can.
    if item.pack.is_none()
        && item
            .unit
            .is_some_and(|u| u.dimension() == Dimension::Package)
        && !paren_measures.is_empty()
    {
        item.pack = Some(paren_measures.remove(0));
    }
    item.alternatives.extend(paren_measures);
    // "handful of baby spinach", "pinch of salt", "small bunch fresh chervil": a
    // unit with no number before the name.
    if item.amount.is_none() {
        let size = usize::from(
            words
                .get(i)
                .is_some_and(|w| SIZE_WORDS.contains(&w.as_str())),
        );
        if let Some((u, n)) = unit_at(&words, i + size) {
            let of = words.get(i + size + n).is_some_and(|w| w == "of");
            let named_after = words.len() > i + size + n + usize::from(of);
            if named_after
                && ((u.dimension() == Dimension::Package && of) || BARE_LEADING_UNITS.contains(&u))
            {
                item.unit = Some(u);
                i += size + n;
            }
        }
    }
    // "of", "x" between the measure and the name.
    while words
        .get(i)
        .is_some_and(|w| w == "of" || w == "x" || w == "-")
    {
        i += 1;
    }
    let mut name_words: Vec<&str> = Vec::new();
    let mut skip = 0usize;
    for (k, w) in words[i..].iter().enumerate() {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '&' && c != '%' && c != '\'');
        if w.is_empty() {
            continue;
        }
        if skip > 0 {
            skip -= 1;
            continue;
        }
        if name_words.is_empty()
            && (MODIFIERS.contains(&w)
                || PARTICIPLES.contains(&w) && !matches!(w, "crushed" | "crumbled"))
        {
            item.modifiers.push(w.to_string());
            continue;
        }
        let next = words
            .get(i + k + 1)
            .map(|n| n.trim_matches(|c: char| !c.is_alphanumeric() && c != '-'));
        if name_words.is_empty() {
            // "extra large eggs"
            if w == "extra" && next.is_some_and(|n| INNER_SIZE_WORDS.contains(&n)) {
                item.modifiers.push(w.to_string());
                continue;
            }
            // "chopped or sliced almonds", "pitted and halved cherries"
            if matches!(w, "and" | "or" | "&")
                && !item.modifiers.is_empty()
                && next.is_some_and(|n| MODIFIERS.contains(&n) || PARTICIPLES.contains(&n))
            {
                continue;
            }
            // "4 medium or 8 small fillets of trout": the first amount counts.
            if w == "or"
                && let Some((_, _, _, n)) = measure_at(&words, i + k + 1)
            {
                skip = n;
                continue;
            }
            // "28 oz can whole tomatoes": the container of a measured amount.
            if w == "of" && k > 0 {
                continue;
            }
            if item
                .unit
                .is_some_and(|u| u.dimension() != Dimension::Package)
                && next.is_some()
                && let Some(u) = Unit::from_word(w)
                && u.dimension() == Dimension::Package
            {
                continue;
            }
        }
        // "freshly squeezed", "finely grated": the adverb's participle prepares too.
        if name_words.is_empty()
            && item
                .modifiers
                .last()
                .is_some_and(|m| PREP_ADVERBS.contains(&m.as_str()))
        {
            item.modifiers.push(w.to_string());
            continue;
        }
        // "1 ripe large tomato": a size word inside the name.
        if !name_words.is_empty()
            && INNER_SIZE_WORDS.contains(&w)
            && next.is_some_and(|n| !is_note_start(n))
        {
            item.modifiers.push(w.to_string());
            continue;
        }
        // "1 small red onion or 2-3 spring onions": another measure starts an
        // alternative, which is a note.
        if !name_words.is_empty() && w == "or" && number_at(&words, i + k + 1).is_some() {
            let rest = words[i + k..].join(" ");
            item.note = Some(match item.note.take() {
                Some(n) => format!("{rest}, {n}"),
                None => rest,
            });
            break;
        }
        // "canned chopped tomatoes": a participle followed by more name stays.
        if !name_words.is_empty()
            && PARTICIPLES.contains(&w)
            && next.is_some_and(|n| {
                !n.is_empty()
                    && !is_note_start(n)
                    && !MODIFIERS.contains(&n)
                    && !matches!(n, "and" | "or" | "in" | "with" | "&")
                    && number_at(&words, i + k + 1).is_none()
            })
        {
            name_words.push(w);
            continue;
        }
        // "freshly ground black pepper": "ground" after "freshly" prepares.
        if name_words.is_empty()
            && w == "ground"
            && item.modifiers.last().is_some_and(|m| m == "freshly")
        {
            item.modifiers.push(w.to_string());
            continue;
        }
        if !name_words.is_empty() && is_note_start(w) {
            let rest = words[i + k..].join(" ");
            item.note = Some(match item.note.take() {
                Some(n) => format!("{rest}, {n}"),
                None => rest,
            });
            break;
        }
        name_words.push(w);
    }
    // "canola oil 30 ml": a second measure after the name.
    if name_words.len() > 2 {
        let n = name_words.len();
        let tail: Vec<String> = name_words[n - 2..]
            .iter()
            .map(|w| (*w).to_string())
            .collect();
        if let Some((a, min, Some(u), 2)) = measure_at(&tail, 0) {
            name_words.truncate(n - 2);
            // "heavy cream 2 cups": the only measure is the amount.
            if item.amount.is_none() {
                item.amount = Some(a);
                item.amount_min = min;
                item.unit = Some(u);
            } else {
                item.alternatives.push(Quantity::new(a, u));
            }
        }
    }
    // "heavy cream, 1½ cups": the amount after the comma.
    if item.amount.is_none()
        && let Some(note) = item.note.clone()
    {
        let ws = pre_tokenize(&note);
        if let Some((a, min, Some(u), used)) = measure_at(&ws, 0) {
            item.amount = Some(a);
            item.amount_min = min;
            item.unit = Some(u);
            let rest = ws[used..].join(" ");
            item.note = Some(rest).filter(|r| !r.trim().is_empty());
        }
    }
    if item.unit.is_none()
        && item.amount.is_some()
        && name_words.len() > 1
        && let Some(last) = name_words.last()
        && let Some(u) = Unit::from_word(last)
        && TRAILING_UNITS.contains(&u)
    {
        item.unit = Some(u);
        name_words.pop();
    }
    if name_words.is_empty() {
        return None;
    }
    item.name = name_words.join(" ");
    Some(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amt(s: &str) -> Option<Amount> {
        Some(Amount::parse(s).unwrap())
    }

    /// (text, amount, unit, name)
    const CASES: &[(&str, Option<&str>, Option<&str>, &str)] = &[
        (
            "2 tbsp olive oil, divided",
            Some("2"),
            Some("tbsp"),
            "olive oil",
        ),
        (
            "500ml/18 fl oz vegetable oil, for frying",
            Some("500"),
            Some("ml"),
            "vegetable oil",
        ),
        (
            "1 clove garlic, peeled and minced",
            Some("1"),
            Some("clove"),
            "garlic",
        ),
        (
            "175g/6oz tomato ketchup",
            Some("175"),
            Some("g"),
            "tomato ketchup",
        ),
        ("1 1/2 cups flour", Some("1 1/2"), Some("cup"), "flour"),
        ("1½ cups sugar", Some("1 1/2"), Some("cup"), "sugar"),
        ("½ cup milk", Some("1/2"), Some("cup"), "milk"),
        ("2-3 large eggs", Some("3"), None, "eggs"),
        ("2 to 3 carrots", Some("3"), None, "carrots"),
        ("a dozen eggs", Some("1"), Some("dozen"), "eggs"),
        ("two dozen eggs", Some("2"), Some("dozen"), "eggs"),
        ("a couple of apples", Some("2"), None, "apples"),
        ("half a lemon", Some("1/2"), None, "lemon"),
        ("one 5 lb bag of flour", Some("1"), Some("bag"), "flour"),
        ("a 12 pack of coke", Some("1"), Some("pack"), "coke"),
        ("a 24-pack of water", Some("1"), Some("pack"), "water"),
        (
            "3 (15 oz) cans black beans",
            Some("3"),
            Some("can"),
            "black beans",
        ),
        (
            "8 slices of bacon, chopped",
            Some("8"),
            Some("slice"),
            "bacon",
        ),
        (
            "¼ cup (50 mL) chopped fresh basil leaves",
            Some("1/4"),
            Some("cup"),
            "fresh basil leaves",
        ),
        ("salt, to taste", None, None, "salt"),
        ("freshly ground black pepper", None, None, "black pepper"),
        ("2 gallons of milk", Some("2"), Some("gal"), "milk"),
        ("milk", None, None, "milk"),
        ("twenty four cans of soda", Some("24"), Some("can"), "soda"),
        ("1 onion finely chopped", Some("1"), None, "onion"),
        (
            "3 sprigs fresh thyme",
            Some("3"),
            Some("sprig"),
            "fresh thyme",
        ),
        ("2% milk", None, None, "2% milk"),
        ("half and half", None, None, "half and half"),
        (
            "3 garlic cloves, peeled",
            Some("3"),
            Some("clove"),
            "garlic",
        ),
        (
            "1 small sprig fresh rosemary",
            Some("1"),
            Some("sprig"),
            "fresh rosemary",
        ),
        (
            "2 x 400g/14oz can borlotti beans",
            Some("2"),
            Some("can"),
            "borlotti beans",
        ),
        (
            "150–200g/5½–7oz parmesan, finely grated",
            Some("200"),
            Some("g"),
            "parmesan",
        ),
        ("pinch of salt", None, Some("pinch"), "salt"),
        (
            "2 tbsp canola oil 30 mL",
            Some("2"),
            Some("tbsp"),
            "canola oil",
        ),
        (
            "2 tablespoons peeled, minced ginger",
            Some("2"),
            Some("tbsp"),
            "ginger",
        ),
        ("juice of 2 limes", Some("2"), None, "limes"),
        ("scant ¼ teaspoon salt", Some("1/4"), Some("tsp"), "salt"),
        (
            "1 tbsp tamari or soy sauce",
            Some("1"),
            Some("tbsp"),
            "tamari or soy sauce",
        ),
        (
            "1 c plus 1 tbsp semolina",
            Some("1"),
            Some("cup"),
            "semolina",
        ),
        ("half gallon of milk", Some("1/2"), Some("gal"), "milk"),
        (
            "300g canned chopped tomatoes",
            Some("300"),
            Some("g"),
            "canned chopped tomatoes",
        ),
        (
            "6 anchovy fillets, minced",
            Some("6"),
            None,
            "anchovy fillets",
        ),
        ("3 celery sticks, diced", Some("3"), Some("stick"), "celery"),
        ("cinnamon sticks", None, None, "cinnamon sticks"),
        ("pinch dried thyme", None, Some("pinch"), "dried thyme"),
        (
            "small bunch fresh chervil, chopped",
            None,
            Some("bunch"),
            "fresh chervil",
        ),
        (
            "Heavy cream 2 cups (500 grams)",
            Some("2"),
            Some("cup"),
            "heavy cream",
        ),
        (
            "Heavy cream, 1½ cups",
            Some("1 1/2"),
            Some("cup"),
            "heavy cream",
        ),
        (
            "1 small red onion or 2-3 spring onions, finely chopped",
            Some("1"),
            None,
            "red onion",
        ),
        (
            "4 cups cooked, rinsed and drained black beans",
            Some("4"),
            Some("cup"),
            "black beans",
        ),
        (
            "3 boneless, skinless chicken breast halves",
            Some("3"),
            None,
            "boneless skinless chicken breast halves",
        ),
        (
            "1-inch piece of fresh ginger root, peeled",
            Some("1"),
            Some("in"),
            "fresh ginger root",
        ),
        (
            "2.5cm/1in piece root ginger, grated",
            Some("2.5"),
            Some("cm"),
            "root ginger",
        ),
        (
            "1 loosely packed cup cilantro leaves",
            Some("1"),
            Some("cup"),
            "cilantro leaves",
        ),
        ("2 extra-large eggs", Some("2"), None, "eggs"),
        (
            "1 tablespoon freshly squeezed lemon juice",
            Some("1"),
            Some("tbsp"),
            "lemon juice",
        ),
        (
            "1 cup extra virgin olive oil",
            Some("1"),
            Some("cup"),
            "extra virgin olive oil",
        ),
        (
            "28 oz can whole peeled plum tomatoes",
            Some("28"),
            Some("oz"),
            "whole peeled plum tomatoes",
        ),
        ("Optional: 1 tomato", Some("1"), None, "tomato"),
        (
            "4 ounces soba noodles; or substitute udon",
            Some("4"),
            Some("oz"),
            "soba noodles",
        ),
        (
            "1 x 600g/1lb 5oz pork fillet",
            Some("1"),
            None,
            "pork fillet",
        ),
        (
            "¼ teaspoon crushed red pepper",
            Some("1/4"),
            Some("tsp"),
            "crushed red pepper",
        ),
        ("1 ripe large tomato", Some("1"), None, "ripe tomato"),
        ("3 ears of corn", Some("3"), Some("ear"), "corn"),
        ("2 in 1 shampoo", None, None, "2 in 1 shampoo"),
        // A number glued to its unit splits; glued to other letters it is a name.
        ("12oz cheddar", Some("12"), Some("oz"), "cheddar"),
        ("1.5kg flour", Some("1.5"), Some("kg"), "flour"),
        ("2lbs apples", Some("2"), Some("lb"), "apples"),
        ("250ml/8fl oz cream", Some("250"), Some("ml"), "cream"),
        ("7up", None, None, "7up"),
        ("2 7up", Some("2"), None, "7up"),
        ("3musketeers bar", None, None, "3musketeers bar"),
    ];

    #[test]
    fn parses_the_item_grammar() {
        for (text, a, u, name) in CASES {
            let item = parse_item(text).unwrap_or_else(|| panic!("{text}: nothing parsed"));
            assert_eq!(item.amount, a.and_then(amt), "{text}: amount");
            assert_eq!(
                item.unit,
                u.map(|u| Unit::parse(u).unwrap()),
                "{text}: unit"
            );
            assert_eq!(item.name, *name, "{text}: name");
        }
    }

    #[test]
    fn keeps_pack_sizes_and_alternatives_apart() {
        let bag = parse_item("one 5 lb bag of flour").unwrap();
        assert_eq!(bag.pack, Some(Quantity::parse("5 lb").unwrap()));
        let beans = parse_item("3 (15 oz) cans black beans").unwrap();
        assert_eq!(beans.pack, Some(Quantity::parse("15 oz").unwrap()));
        let coke = parse_item("a 12 pack of coke").unwrap();
        assert_eq!(coke.pack, Some(Quantity::parse("12 ct").unwrap()));
        let oil = parse_item("500ml/18 fl oz vegetable oil, for frying").unwrap();
        assert_eq!(oil.alternatives, vec![Quantity::parse("18 fl oz").unwrap()]);
        assert_eq!(oil.note.as_deref(), Some("for frying"));
        let range = parse_item("2-3 large eggs").unwrap();
        assert_eq!(range.amount_min, amt("2"));
        assert_eq!(range.modifiers, ["large"]);
    }

    #[test]
    fn nothing_to_name_is_none() {
        for text in ["", "   ", "2 cups", ", for frying", "()", "½"] {
            assert!(parse_item(text).is_none(), "{text:?}");
        }
    }
}
