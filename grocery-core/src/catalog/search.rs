//! Product search: query analysis in Rust, candidate retrieval and BM25 in FTS5,
//! then a re-rank that puts the everyday product first.
//!
//! 1. **Analyse** (pure, microseconds): rewrite shorthand (`oj`, `evoo`,
//!    `half n half`), pull out a wanted size (`5 lb`, `half gallon`, `18`), drop
//!    filler words, expand synonyms (`garbanzo` = `chickpea`) and correct
//!    misspellings against the catalog's own words (`bannana` → `banana`).
//! 2. **Retrieve**: an FTS5 query with every word quoted (so user text can never
//!    be FTS5 syntax), all clauses required; if nothing matches, any clause.
//! 3. **Rank**: BM25 plus what a shopper means: a product whose *kind* is exactly
//!    what was asked (`milk` is milk, not milk chocolate), its everyday
//!    popularity, and closeness to a wanted size.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::index::{CatalogIndex, Entry, FIELD_WEIGHTS, Sym};
use super::product::Product;
use super::text::{LEXICON, is_stopword, stem, tokens};
use crate::quantity::{Amount, Dimension, Quantity, Unit};

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    /// The product.
    #[serde(flatten)]
    pub product: Product,
    /// Relevance; higher is better. Comparable within one result list only.
    pub score: f32,
}

/// A query after analysis: what to ask FTS5 and how to rank what comes back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QueryPlan {
    /// Each clause is a set of alternatives; each alternative is a list of words
    /// (several words = a phrase).
    pub clauses: Vec<Vec<Vec<String>>>,
    /// A size the shopper asked for, if any.
    pub size: Option<Quantity>,
    /// The kind a bare everyday word means ("chicken": chicken breast).
    pub everyday_kind: Option<&'static str>,
}

/// What a bare word on a shopping list means when the catalog's kinds only
/// have longer names: "chicken" is chicken breasts, not chicken broth; "oats"
/// are oatmeal, not oat milk. Grocery knowledge, as a store's search keeps it.
const EVERYDAY_KINDS: &[(&str, &str)] = &[
    ("chicken", "chicken breast"),
    ("raw chicken", "chicken breast"),
    ("oats", "oatmeal"),
    ("oat", "oatmeal"),
    ("rolled oats", "oatmeal"),
    ("dishwasher pods", "dishwasher detergent"),
    ("dishwasher tabs", "dishwasher detergent"),
    ("dishwasher tablets", "dishwasher detergent"),
    ("beef", "ground beef"),
    ("turkey", "ground turkey"),
    ("hamburger", "ground beef"),
    ("hamburger meat", "ground beef"),
];

/// Words that ask for a size without a number: "gallon of milk".
fn implicit_size_unit(u: Unit) -> bool {
    matches!(
        u,
        Unit::Gallon | Unit::Quart | Unit::Pint | Unit::Liter | Unit::Pound | Unit::Dozen
    )
}

fn parse_number(s: &str) -> Option<Amount> {
    // "93/7" is a lean ratio, "2%" a fat level: both are names, not amounts.
    if let Some((a, b)) = s.split_once('/') {
        let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
        if a >= b {
            return None;
        }
    }
    if s == "half" {
        return Amount::parse("1/2").ok();
    }
    if !s.starts_with(|c: char| c.is_ascii_digit() || c == '.' || "½¼¾⅓⅔⅛".contains(c)) {
        return None;
    }
    Amount::parse(s).ok()
}

/// Split a glued number and unit: "5lb", "16.9oz", "12pk", "24-pack".
fn split_glued(s: &str) -> Option<(Amount, Unit)> {
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    if end == 0 {
        return None;
    }
    let (num, rest) = s.split_at(end);
    let unit = Unit::parse(rest.trim_start_matches('-')).ok()?;
    Some((Amount::parse(num).ok()?, unit))
}

impl QueryPlan {
    /// Analyse a query against the catalog's vocabulary.
    pub(crate) fn build(query: &str, index: &CatalogIndex) -> QueryPlan {
        let lowered = query.to_lowercase().replace('&', " and ");
        // Coarse words keep '.', '/', '%' and '-' so sizes and "93/7" survive.
        let coarse: Vec<String> = lowered
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '(' || c == ')')
            .map(|w| {
                w.trim_matches(|c: char| !c.is_alphanumeric() && c != '%' && c != '½')
                    .to_string()
            })
            .filter(|w| !w.is_empty())
            .collect();
        let coarse = LEXICON.rewrite(&coarse);

        let mut size = None;
        let mut rest: Vec<String> = Vec::new();
        let mut i = 0;
        while i < coarse.len() {
            let w = &coarse[i];
            // Catalog sizes are never lengths: "2 in 1 shampoo" is a name.
            let next_unit = coarse
                .get(i + 1)
                .and_then(|n| Unit::parse(n).ok())
                .filter(|u| u.dimension() != crate::quantity::Dimension::Length);
            if size.is_none() {
                if let (Some(n), Some(u)) = (parse_number(w), next_unit) {
                    size = Some(Quantity::new(n, u));
                    i += 2;
                    continue;
                }
                if let Some((n, u)) = split_glued(w) {
                    size = Some(Quantity::new(n, u));
                    i += 1;
                    continue;
                }
                let after_size = i > 0 && coarse[i - 1] == "size";
                if w != "half"
                    && !after_size
                    && let Some(n) = parse_number(w)
                    && n.ratio().is_integer()
                    && n.ceil() <= 1000
                    && i + 1 < coarse.len()
                {
                    // "18 eggs": a bare count.
                    size = Some(Quantity::new(n, Unit::Each));
                    i += 1;
                    continue;
                }
                if let Ok(u) = Unit::parse(w)
                    && implicit_size_unit(u)
                    && coarse.len() > 1
                {
                    size = Amount::from_int(1).ok().map(|one| Quantity::new(one, u));
                    i += 1;
                    continue;
                }
            }
            rest.push(w.clone());
            i += 1;
        }

        let mut words: Vec<String> = rest.iter().flat_map(|w| tokens(w)).collect();
        let content: Vec<String> = words.iter().filter(|w| !is_stopword(w)).cloned().collect();
        if !content.is_empty() {
            words = content;
        }

        let mut clauses: Vec<Vec<Vec<String>>> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut i = 0;
        while i < words.len() {
            // Synonym groups, two-word members first.
            let group = LEXICON.synonyms_at(&words, i);
            if let Some((g, used)) = group {
                clauses.push(
                    g.iter()
                        .map(|m| m.split(' ').map(str::to_string).collect())
                        .collect(),
                );
                i += used;
                continue;
            }
            let w = &words[i];
            i += 1;
            if !seen.insert(stem(w)) {
                continue;
            }
            if index.vocab.knows(w) || w.chars().all(|c| c.is_ascii_digit()) {
                clauses.push(vec![vec![w.clone()]]);
                continue;
            }
            let fixes = index.vocab.correct(w);
            if !fixes.is_empty() {
                clauses.push(fixes.into_iter().map(|f| vec![f]).collect());
            } else if w.chars().count() >= 3 && index.vocab.has_prefix(w) {
                // As-you-type: "bana" matches "banana". Marked with a trailing '*'.
                clauses.push(vec![vec![format!("{w}*")]]);
            } else {
                // Unknown word: keep it so the all-clauses query finds nothing and
                // the any-clause fallback ranks on the words that do exist.
                clauses.push(vec![vec![w.clone()]]);
            }
        }
        let asked = coarse.join(" ");
        let everyday_kind = EVERYDAY_KINDS
            .iter()
            .find(|(q, _)| *q == asked)
            .map(|(_, k)| *k);
        QueryPlan {
            clauses,
            size,
            everyday_kind,
        }
    }

    /// The FTS5 expression: every word double-quoted, clauses joined by `op`.
    pub(crate) fn fts_expr(&self, op: &str) -> String {
        let clause = |alts: &Vec<Vec<String>>| {
            let parts: Vec<String> = alts
                .iter()
                .map(|phrase| {
                    let (words, prefix) = match phrase.as_slice() {
                        [one] if one.ends_with('*') => {
                            (vec![one.trim_end_matches('*').to_string()], true)
                        }
                        _ => (phrase.clone(), false),
                    };
                    // Words are alphanumeric runs, but quote-doubling keeps this
                    // safe even if that ever changes.
                    let q = format!("\"{}\"", words.join(" ").replace('"', "\"\""));
                    if prefix { format!("{q}*") } else { q }
                })
                .collect();
            if parts.len() == 1 {
                parts[0].clone()
            } else {
                format!("({})", parts.join(" OR "))
            }
        };
        self.clauses
            .iter()
            .map(clause)
            .collect::<Vec<_>>()
            .join(&format!(" {op} "))
    }

    /// Whether there is anything to search for.
    pub(crate) fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// Rank the products FTS5 matched (row keys) and keep the best `limit`.
    pub(crate) fn rank(&self, hits: &[i64], index: &CatalogIndex, limit: usize) -> Vec<SearchHit> {
        // Stems of each clause's alternatives, for matching against a product's kind.
        let clause_stems: Vec<Vec<Vec<String>>> = self
            .clauses
            .iter()
            .map(|alts| {
                alts.iter()
                    .map(|p| {
                        p.iter()
                            .flat_map(|w| tokens(w.trim_end_matches('*')).map(|t| stem(&t)))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let negating = clause_stems
            .iter()
            .flatten()
            .flatten()
            .any(|s| matches!(s.as_str(), "no" | "free" | "without" | "non"));
        // From here on, stems are compared as interned symbols.
        let clause_stems: Vec<Vec<Vec<Sym>>> = clause_stems
            .iter()
            .map(|alts| {
                alts.iter()
                    .map(|words| words.iter().map(|w| index.sym(w)).collect())
                    .collect()
            })
            .collect();
        let mut all_query_stems: Vec<Sym> =
            clause_stems.iter().flatten().flatten().copied().collect();
        all_query_stems.sort_unstable();
        all_query_stems.dedup();
        // The head noun is the last word in English noun phrases: "milk chocolate"
        // is chocolate, "chocolate milk" is milk.
        let heads: Vec<Sym> = clause_stems
            .last()
            .map(|alts| {
                alts.iter()
                    .filter_map(|words| words.last().copied())
                    .collect()
            })
            .unwrap_or_default();
        // The query's words in order, for phrase matching against names.
        let sequence: Vec<Sym> = clause_stems
            .iter()
            .filter_map(|alts| alts.first())
            .flatten()
            .copied()
            .collect();
        let idf: Vec<Vec<Vec<f64>>> = clause_stems
            .iter()
            .map(|alts| {
                alts.iter()
                    .map(|words| words.iter().map(|w| index.idf(*w)).collect())
                    .collect()
            })
            .collect();
        let everyday: Option<Vec<Sym>> = self.everyday_kind.map(|k| {
            tokens(k)
                .filter(|t| !is_stopword(t))
                .map(|t| index.sym(&stem(&t)))
                .collect()
        });
        let entries: Vec<&Entry> = hits.iter().filter_map(|pk| index.get(*pk)).collect();
        let text: Vec<f64> = entries
            .iter()
            .map(|e| bm25f(e, &clause_stems, &idf, &index.avg_len))
            .collect();
        let best_text = text.iter().copied().fold(f64::MIN_POSITIVE, f64::max);
        let mut scored: Vec<(f64, &Product)> = entries
            .iter()
            .zip(&text)
            .map(|(entry, t)| {
                let p: &Product = &entry.product;
                let mut score = (t / best_text).clamp(0.0, 1.0);
                // Share of the query's clauses found anywhere in the product's text
                // (all of them unless this is the any-clause fallback).
                let matched = clause_stems
                    .iter()
                    .filter(|alts| {
                        alts.iter()
                            .any(|a| a.iter().all(|s| entry.text_stems.binary_search(s).is_ok()))
                    })
                    .count();
                score += 2.0 * matched as f64 / clause_stems.len().max(1) as f64;
                let kind = kind_score(&entry.kind_stems, &clause_stems, &all_query_stems, &heads);
                score += kind;
                // When the kind does not explain the query, the words as written in
                // the name do: "milk chocolate" in "Milk Chocolate Bar".
                if kind <= 1.0
                    && sequence.len() >= 2
                    && entry.fields[0]
                        .windows(sequence.len())
                        .any(|w| w == sequence.as_slice())
                {
                    score += 1.0;
                }
                if !negating && all_query_stems.iter().any(|s| entry.negated.contains(s)) {
                    // Asked for pulp, this one says "no pulp".
                    score -= 2.0;
                }
                if everyday.as_ref().is_some_and(|k| *k == entry.kind_stems) {
                    score += 1.5;
                }
                score += 1.5 * f64::from(p.popularity) / 100.0;
                score += 0.6 * entry.kind_weight;
                if let Some(want) = &self.size {
                    score += 1.5 * size_closeness(want, &p.size);
                }
                (score, p)
            })
            .collect();
        let order = |(sa, a): &(f64, &Product), (sb, b): &(f64, &Product)| {
            sb.total_cmp(sa)
                .then(b.popularity.cmp(&a.popularity))
                .then(a.price.cents.cmp(&b.price.cents))
                .then(a.id.cmp(&b.id))
        };
        if scored.len() > limit && limit > 0 {
            scored.select_nth_unstable_by(limit - 1, order);
            scored.truncate(limit);
        }
        scored.sort_by(order);
        scored
            .into_iter()
            .take(limit)
            .map(|(score, p)| SearchHit {
                product: p.clone(),
                score: score as f32,
            })
            .collect()
    }
}

/// BM25F: per-field weighted term frequencies with length normalisation. Each
/// clause scores as its best alternative; prefix words (`bana*`) match any stem
/// they start.
fn bm25f(entry: &Entry, clauses: &[Vec<Vec<Sym>>], idf: &[Vec<Vec<f64>>], avg: &[f64; 5]) -> f64 {
    const K1: f64 = 1.2;
    const B: f64 = 0.75;
    let mut total = 0.0;
    for (alts, alt_idf) in clauses.iter().zip(idf) {
        let mut best: f64 = 0.0;
        for (words, word_idf) in alts.iter().zip(alt_idf) {
            let mut s = 0.0;
            for (w, idf) in words.iter().zip(word_idf) {
                let mut tf = 0.0;
                for (f, field) in entry.fields.iter().enumerate() {
                    let count = field.iter().filter(|s| *s == w).count() as f64;
                    if count > 0.0 {
                        let norm = 1.0 - B + B * field.len() as f64 / avg[f];
                        tf += FIELD_WEIGHTS[f] * count / norm;
                    }
                }
                s += idf * tf * (K1 + 1.0) / (tf + K1);
            }
            best = best.max(s);
        }
        total += best;
    }
    total
}

/// How well a product's kind is what the shopper asked for.
fn kind_score(kind: &[Sym], clauses: &[Vec<Vec<Sym>>], query: &[Sym], heads: &[Sym]) -> f64 {
    if kind.is_empty() || clauses.is_empty() {
        return 0.0;
    }
    let heads_agree = kind.last().is_some_and(|k| heads.contains(k));
    let kind_in_query = kind.iter().all(|k| query.contains(k));
    let covered = clauses
        .iter()
        .filter(|alts| alts.iter().any(|a| a.iter().all(|s| kind.contains(s))))
        .count();
    let query_in_kind = covered == clauses.len();
    match (kind_in_query, query_in_kind, heads_agree) {
        // "milk" is milk.
        (true, true, true) => 3.0,
        // "organic milk" is milk with a modifier.
        (true, false, true) => 2.5,
        // Same words, other head: "milk chocolate" vs "chocolate milk".
        (true, _, false) => 0.75,
        // "chips" names part of "potato chips"; "chicken" of "chicken breast".
        (false, true, _) => 1.0,
        // Some of the query is in the kind ("sharp cheddar" vs "cheddar cheese").
        (false, false, _) => 0.8 * covered as f64 / clauses.len() as f64,
    }
}

/// 1.0 when the product's pack is the wanted size, falling towards 0 as they differ.
fn size_closeness(want: &Quantity, have: &Quantity) -> f64 {
    let ratio = |a: f64, b: f64| {
        if a <= 0.0 || b <= 0.0 {
            0.0
        } else {
            a.min(b) / a.max(b)
        }
    };
    // "89 oz orange juice": on a liquid, ounces are fluid ounces.
    let want = match (want.unit, have.unit.dimension()) {
        (Unit::Ounce, Dimension::Volume) => Quantity::new(want.amount, Unit::FluidOunce),
        _ => *want,
    };
    if want.unit.is_compatible(have.unit) {
        return match want.convert_to(have.unit) {
            Ok(w) => ratio(w.amount.to_f64(), have.amount.to_f64()).powi(2),
            Err(_) => 0.0,
        };
    }
    // "24 pack water" against "24 bottle": compare the counts.
    let countish = |u: Unit| matches!(u.dimension(), Dimension::Count | Dimension::Package);
    if countish(want.unit) && countish(have.unit) {
        let w = want.in_base();
        let w = *w.numer() as f64 / *w.denom() as f64;
        return ratio(w, have.amount.to_f64()).powi(2);
    }
    0.0
}
