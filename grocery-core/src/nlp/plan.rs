//! Requests to plan the shop rather than change a list: "cheapest way to buy
//! this list", "split it between walmart and kroger", "keep it under $40".

use serde::{Deserialize, Serialize};

/// A request to plan the shop (see [`plan_ask`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PlanAsk {
    /// Stores named ("between walmart and kroger"), lower-case; empty for any.
    pub stores: Vec<String>,
    /// A budget ("keep it under $40"), in cents.
    pub budget_cents: Option<i64>,
}

/// Phrases that ask for the cheapest way to shop.
const CHEAPEST: &[&str] = &[
    "cheapest way",
    "cheapest place",
    "cheapest store",
    "cheapest option for my list",
    "cheapest option for this list",
    "best way to buy this",
    "best way to buy my",
    "best way to buy the list",
    "where should i shop",
    "where's cheapest",
    "where is cheapest",
    "optimize my list",
    "optimise my list",
    "optimize the list",
    "optimise the list",
    "optimize this list",
    "optimise this list",
    "save the most",
];

/// Words right before an amount that make it a budget ("under $40", "at
/// most 30", "more than $25"); "of" and "is" only after "budget".
const BUDGET_BEFORE: &[&str] = &["under", "below", "than", "within", "max", "most"];

/// Words that must appear for an amount to be a budget.
const BUDGET_VERBS: &[&str] = &["keep", "stay", "budget", "spend", "afford"];

/// Words that change a list: a sentence with one is a list command, whatever
/// else it says ("add 6 eggs, keep it under $5" adds the eggs).
const LIST_VERBS: &[&str] = &[
    "add", "remove", "put", "delete", "take", "grab", "need", "needs", "check", "uncheck", "clear",
    "drop", "get", "pick",
];

/// Whether `text` asks to plan the shop, and with which stores and budget.
///
/// # Examples
/// ```
/// use grocery_core::nlp::plan_ask;
/// let ask = plan_ask("split it between Walmart and Kroger, keep it under $40").unwrap();
/// assert_eq!(ask.stores, ["walmart", "kroger"]);
/// assert_eq!(ask.budget_cents, Some(4000));
/// assert!(plan_ask("add milk").is_none());
/// ```
pub fn plan_ask(text: &str) -> Option<PlanAsk> {
    if text.len() > 500 {
        return None;
    }
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '?' | '!' | ';'))
        .filter(|w| !w.is_empty())
        .collect();
    if words.iter().any(|w| LIST_VERBS.contains(w)) {
        return None;
    }
    let mut ask = PlanAsk::default();
    let mut asked = CHEAPEST.iter().any(|p| lower.contains(p));
    // "split it between walmart and kroger", "shop at aldi and costco".
    if let Some(at) = words
        .iter()
        .position(|w| matches!(*w, "between" | "across"))
        .filter(|_| {
            words
                .iter()
                .any(|w| matches!(*w, "split" | "shop" | "buy" | "divide"))
        })
    {
        let tail: Vec<&str> = words[at + 1..]
            .iter()
            .copied()
            .take_while(|w| !matches!(*w, "keep" | "stay" | "under" | "with" | "for" | "but"))
            .collect();
        for part in tail.split(|w| matches!(*w, "and" | "or" | "&")) {
            let name: String = part
                .iter()
                .filter(|w| !matches!(**w, "the" | "stores" | "store"))
                .copied()
                .collect::<Vec<_>>()
                .join("-");
            let name = name.trim_end_matches(['.', '\'']).to_string();
            if !name.is_empty() && name.len() <= 32 {
                ask.stores.push(name);
            }
        }
        asked |= ask.stores.len() >= 2;
        if ask.stores.len() < 2 {
            ask.stores.clear();
        }
    }
    if words.iter().any(|w| BUDGET_VERBS.contains(w)) {
        for (i, w) in words.iter().enumerate() {
            let before = |k: usize| i >= k && i - k < words.len();
            let budget_word = (before(1) && BUDGET_BEFORE.contains(&words[i - 1]))
                || (before(2) && matches!(words[i - 1], "of" | "is") && words[i - 2] == "budget");
            if budget_word && let Some(cents) = dollars(w) {
                ask.budget_cents = Some(cents);
                asked = true;
                break;
            }
        }
    }
    asked.then_some(ask)
}

/// Phrases asking what is missing from the list.
const FORGETTING: &[&str] = &[
    "what am i forgetting",
    "what am i missing",
    "am i forgetting",
    "am i missing anything",
    "did i forget",
    "have i forgotten",
    "what did i forget",
    "anything i forgot",
    "anything i'm forgetting",
    "what do i usually buy",
    "what do i normally buy",
    "what should i restock",
    "what needs restocking",
    "what am i running low on",
];

/// Whether `text` asks "what am I forgetting?".
///
/// # Examples
/// ```
/// assert!(grocery_core::nlp::forgetting_ask("What am I forgetting?"));
/// assert!(!grocery_core::nlp::forgetting_ask("forget the milk"));
/// ```
pub fn forgetting_ask(text: &str) -> bool {
    if text.len() > 200 {
        return false;
    }
    let lower = text.to_lowercase();
    // Every phrase has one of these words: most requests stop here, after a
    // few scans rather than one per phrase.
    if !FORGETTING_WORDS.iter().any(|w| lower.contains(w)) {
        return false;
    }
    let lower = lower.replace('’', "'");
    FORGETTING.iter().any(|p| lower.contains(p))
}

/// A word (or its start) that each of [`FORGETTING`] holds.
const FORGETTING_WORDS: &[&str] = &["forg", "miss", "buy", "restock", "low"];

/// `$40`, `40`, `39.99`, `$39.99.` as cents.
fn dollars(word: &str) -> Option<i64> {
    let w = word.trim_start_matches('$').trim_end_matches('.');
    if w.is_empty() || w.len() > 9 {
        return None;
    }
    let (whole, frac) = match w.split_once('.') {
        Some((a, b)) if b.len() <= 2 && !b.is_empty() => (a, b),
        Some(_) => return None,
        None => (w, ""),
    };
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick check before the phrases never turns one away: each phrase
    /// holds one of its words, and each phrase, in any case, is still asked.
    #[test]
    fn every_forgetting_phrase_passes_the_quick_check() {
        for p in FORGETTING {
            assert!(FORGETTING_WORDS.iter().any(|w| p.contains(w)), "{p}");
            assert!(forgetting_ask(p), "{p}");
            assert!(
                forgetting_ask(&format!("Hey, {}?", p.to_uppercase())),
                "{p}"
            );
            assert!(forgetting_ask(&p.replace('\'', "’")), "{p}");
        }
        for not in [
            "add milk",
            "remove eggs",
            "what's on my list",
            "forget the milk",
        ] {
            assert!(!forgetting_ask(not), "{not}");
        }
    }

    /// Stores named and budget in cents, or `None` for "not a plan".
    type Want = Option<(&'static [&'static str], Option<i64>)>;

    #[test]
    fn plan_requests_table() {
        let cases: &[(&str, Want)] = &[
            ("cheapest way to buy this list", Some((&[], None))),
            ("What's the cheapest way to buy my list?", Some((&[], None))),
            ("where should I shop", Some((&[], None))),
            ("optimise my list", Some((&[], None))),
            (
                "split it between walmart and kroger",
                Some((&["walmart", "kroger"], None)),
            ),
            (
                "split the list between Trader Joe's and Whole Foods",
                Some((&["trader-joe's", "whole-foods"], None)),
            ),
            ("keep it under $40", Some((&[], Some(4000)))),
            ("stay under 39.50", Some((&[], Some(3950)))),
            ("my budget is $50", Some((&[], Some(5000)))),
            ("I can't spend more than $25", Some((&[], Some(2500)))),
            (
                "split it between aldi and costco and keep it under $60",
                Some((&["aldi", "costco"], Some(6000))),
            ),
            ("add milk", None),
            ("add 2 gallons of milk under the eggs", None),
            ("what's on my list", None),
            ("remove the eggs", None),
            ("keep the milk", None),
            ("split peas", None),
            ("add 40 eggs", None),
            ("add milk and keep the eggs under 12", None),
            ("add 6 eggs, limit of 2", None),
            ("where should I buy milk", None),
            ("best way to buy avocados", None),
            ("split the bill between me and sam, add pizza", None),
            ("keep 2 of the eggs", None),
        ];
        for (text, want) in cases {
            let got = plan_ask(text);
            let want = want.map(|(stores, budget)| PlanAsk {
                stores: stores.iter().map(|s| s.to_string()).collect(),
                budget_cents: budget,
            });
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn hostile_input_is_not_a_plan() {
        assert_eq!(plan_ask(&"keep under $9999999999999 ".repeat(10)), None);
        assert_eq!(plan_ask("keep it under $99999999999"), None);
        assert_eq!(plan_ask(""), None);
    }
}
