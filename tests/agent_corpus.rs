//! The request corpus (`tests/data/requests/*.tsv`, format in its README): every
//! sentence through `nlp::parse_request`, compared with what a careful person
//! means. Prints the accuracy by category and every miss (`--nocapture`), and
//! fails when accuracy falls below the floors pinned from the measured figures.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use grocery_core::nlp::{Command, Intent, ItemPhrase, parse_request};
use grocery_core::{Amount, Unit};

/// Whole sentence right: every command's intent and list, every item's name,
/// quantity and unit.
const MIN_EXACT: f64 = 0.935;
/// Every command's intent and list right (items aside).
const MIN_INTENT: f64 = 0.965;

#[derive(Debug, Clone, PartialEq)]
struct Item {
    name: String,
    /// Amount in items for plain counts (a dozen = 12), else in `unit`s.
    qty: Option<f64>,
    unit: Option<Unit>,
}

#[derive(Debug, Clone, PartialEq)]
struct Cmd {
    intent: String,
    list: Option<String>,
    items: Vec<Item>,
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.intent)?;
        if let Some(l) = &self.list {
            write!(f, "@{l}")?;
        }
        for (k, i) in self.items.iter().enumerate() {
            f.write_str(if k == 0 { ":" } else { "|" })?;
            f.write_str(&i.name)?;
            if let Some(q) = i.qty {
                write!(f, "={q}")?;
                if let Some(u) = i.unit {
                    write!(f, " {u}")?;
                }
            }
        }
        Ok(())
    }
}

struct Case {
    file: String,
    line: usize,
    text: String,
    expected: Vec<Cmd>,
    category: String,
}

fn parse_expected(s: &str) -> Result<Vec<Cmd>, String> {
    s.split(" ; ")
        .map(|c| {
            let (head, items) = match c.split_once(':') {
                Some((h, i)) => (h, Some(i)),
                None => (c, None),
            };
            let (intent, list) = match head.split_once('@') {
                Some((i, l)) => (i.trim(), Some(l.trim().to_string())),
                None => (head.trim(), None),
            };
            let items = items
                .map(|i| i.split('|').map(parse_expected_item).collect())
                .transpose()?
                .unwrap_or_default();
            Ok(Cmd {
                intent: intent.to_string(),
                list,
                items,
            })
        })
        .collect()
}

fn parse_expected_item(s: &str) -> Result<Item, String> {
    let (name, measure) = match s.split_once('=') {
        Some((n, m)) => (n, Some(m)),
        None => (s, None),
    };
    let (qty, unit) = match measure {
        None => (None, None),
        Some(m) => {
            let (q, u) = match m.split_once(' ') {
                Some((q, u)) => (q, Some(u)),
                None => (m, None),
            };
            let q: f64 = q.parse().map_err(|_| format!("bad quantity {q:?}"))?;
            let u = u
                .map(|u| Unit::parse(u).map_err(|e| format!("{e}")))
                .transpose()?;
            (Some(q), u)
        }
    };
    Ok(normalise_item(Item {
        name: name.to_string(),
        qty,
        unit,
    }))
}

fn as_f64(a: Amount) -> f64 {
    let r = a.ratio();
    *r.numer() as f64 / *r.denom() as f64
}

/// Words that carry no meaning in a rendered name.
const NOISE: &[&str] = &[
    "the",
    "a",
    "an",
    "some",
    "more",
    "my",
    "of",
    "about",
    "approximately",
    "around",
    "any",
];

fn singular(w: &str) -> String {
    for (plural, one) in [
        ("ies", "y"),
        ("oes", "o"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("ves", "f"),
    ] {
        if w.len() > plural.len() + 1
            && let Some(stem) = w.strip_suffix(plural)
        {
            return format!("{stem}{one}");
        }
    }
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
        return w[..w.len() - 1].to_string();
    }
    w.to_string()
}

fn normalise_name(s: &str) -> String {
    s.to_lowercase()
        .replace(['-', '&'], " ")
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '%'))
        .filter(|w| !w.is_empty() && !NOISE.contains(w))
        .map(singular)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One item in one shape: a dozen is 12, "one" with no unit is no quantity.
fn normalise_item(mut i: Item) -> Item {
    i.name = normalise_name(&i.name);
    if i.unit == Some(Unit::Dozen) {
        i.qty = i.qty.map(|q| q * 12.0);
        i.unit = None;
    }
    if i.unit == Some(Unit::Each) {
        i.unit = None;
    }
    if i.unit.is_none() && i.qty == Some(1.0) {
        i.qty = None;
    }
    i
}

fn actual_item(p: &ItemPhrase) -> Item {
    let mut words: Vec<&str> = p.modifiers.iter().map(String::as_str).collect();
    words.push(&p.name);
    normalise_item(Item {
        name: words.join(" "),
        qty: p.amount.map(as_f64),
        unit: p.amount.and(p.unit),
    })
}

fn intent_name(i: Intent) -> String {
    serde_json::to_value(i)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Adjacent commands with the same intent and list are one command ("we're out
/// of coffee and running low on sugar" is one add of two items).
fn merge(cmds: Vec<Cmd>) -> Vec<Cmd> {
    let mut out: Vec<Cmd> = Vec::new();
    for c in cmds {
        match out.last_mut() {
            Some(last)
                if last.intent == c.intent
                    && last.list == c.list
                    && matches!(c.intent.as_str(), "add" | "remove" | "check") =>
            {
                last.items.extend(c.items)
            }
            _ => out.push(c),
        }
    }
    out
}

fn actual(cmds: &[Command]) -> Vec<Cmd> {
    merge(
        cmds.iter()
            .map(|c| Cmd {
                intent: intent_name(c.intent),
                list: c.list.clone(),
                items: c.items.iter().map(actual_item).collect(),
            })
            .collect(),
    )
}

/// Names match when equal, or within a typo of each other: the agent's search
/// corrects spelling when it resolves the item to a product.
fn same_name(want: &str, got: &str) -> bool {
    want == got
        || (want.len() >= 5
            && strsim::osa_distance(want, got) <= if want.len() >= 9 { 2 } else { 1 })
}

fn same_item(want: &Item, got: &Item) -> bool {
    let qty = match (want.qty, got.qty) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() < 1e-6,
        _ => false,
    };
    same_name(&want.name, &got.name) && qty && want.unit == got.unit
}

fn load() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/requests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).expect("read corpus");
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 3, "{file}:{}: three fields", n + 1);
            let expected =
                parse_expected(fields[1]).unwrap_or_else(|e| panic!("{file}:{}: {e}", n + 1));
            cases.push(Case {
                file: file.clone(),
                line: n + 1,
                text: fields[0].to_string(),
                expected: merge(expected),
                category: fields[2].trim().to_string(),
            });
        }
    }
    cases
}

#[test]
fn the_request_corpus_is_understood() {
    let cases = load();
    assert!(cases.len() >= 600, "corpus has {} requests", cases.len());
    let (mut exact, mut intent_ok) = (0usize, 0usize);
    let mut by_category: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for case in &cases {
        let got = actual(&parse_request(&case.text).commands);
        let intents_match = got.len() == case.expected.len()
            && got
                .iter()
                .zip(&case.expected)
                .all(|(g, w)| g.intent == w.intent && g.list == w.list);
        let items_match = intents_match
            && got.iter().zip(&case.expected).all(|(g, w)| {
                g.items.len() == w.items.len()
                    && g.items
                        .iter()
                        .zip(&w.items)
                        .all(|(gi, wi)| same_item(wi, gi))
            });
        intent_ok += usize::from(intents_match);
        exact += usize::from(items_match);
        let entry = by_category.entry(case.category.clone()).or_default();
        entry.0 += usize::from(items_match);
        entry.1 += 1;
        if !items_match {
            let show = |c: &[Cmd]| {
                c.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ; ")
            };
            println!(
                "MISS {}:{} [{}] {:?}\n     want {}\n     got  {}",
                case.file,
                case.line,
                case.category,
                case.text,
                show(&case.expected),
                show(&got)
            );
        }
    }
    let n = cases.len() as f64;
    println!("\nby category (exact):");
    for (cat, (ok, total)) in &by_category {
        println!(
            "  {cat:<14} {ok:>4}/{total:<4} {:5.1}%",
            100.0 * *ok as f64 / *total as f64
        );
    }
    println!(
        "\n{} requests: exact {exact} = {:.1}%, intents and lists {intent_ok} = {:.1}%",
        cases.len(),
        100.0 * exact as f64 / n,
        100.0 * intent_ok as f64 / n
    );
    assert!(exact as f64 / n >= MIN_EXACT, "exact accuracy fell");
    assert!(intent_ok as f64 / n >= MIN_INTENT, "intent accuracy fell");
}
