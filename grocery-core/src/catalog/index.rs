//! The in-memory side of the catalog: every product by row key and id, the
//! spelling vocabulary, and per-kind facts used in ranking. Rebuilt from the
//! store after every import; searches share it through an `Arc`.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::Arc;

use super::product::Product;
use super::text::{Vocabulary, is_stopword, stem, tokens};
use crate::store::ProductRow;

/// An interned stem: catalog words compare as integers while ranking.
pub(crate) type Sym = u32;

/// The symbol of a stem the catalog does not contain; matches nothing.
pub(crate) const UNKNOWN: Sym = Sym::MAX;

/// A product with what ranking needs precomputed.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Shared: a priced list holds its lines' products without copying them.
    pub product: Arc<Product>,
    /// Stems of the kind's words, stopwords removed ("half-and-half" -> ["half"]).
    pub kind_stems: Vec<Sym>,
    /// How common the kind is in the catalog, 0..=1 (more variants = more everyday).
    pub kind_weight: f64,
    /// Stems of every searchable word (name, brand, kind, tags, aisle), sorted.
    pub text_stems: Vec<Sym>,
    /// Stems of each searchable field, in [`FIELD_WEIGHTS`] order; `fields[0]` is
    /// the name, in order.
    pub fields: [Vec<Sym>; 5],
    /// Stems the product says it lacks: "no pulp", "sugar free", "without salt".
    pub negated: Vec<Sym>,
    /// [`Product::display_name`], made once: replies name products often.
    pub display: String,
    /// Brand, name and kind in lower case (`great value whole milk milk`), for
    /// matching the words of a request against it.
    pub words: String,
}

/// Stems the text declares absent: the word after "no"/"non"/"without", the word
/// before "free" ("pulp free", "sugar-free").
fn negated_stems(words: &[String]) -> HashSet<String> {
    let mut out = HashSet::default();
    for (i, w) in words.iter().enumerate() {
        match w.as_str() {
            "no" | "non" | "without" => {
                if let Some(n) = words.get(i + 1) {
                    out.insert(stem(n));
                }
            }
            "free" if i > 0 => {
                out.insert(stem(&words[i - 1]));
            }
            _ => {}
        }
    }
    out
}

/// Searchable fields and their BM25F weights: name, brand, kind, tags, aisle.
pub(crate) const FIELD_WEIGHTS: [f64; 5] = [10.0, 4.0, 8.0, 2.0, 1.0];

/// Ranked results by (folded query, limit).
pub(crate) type ResultCache = moka::sync::Cache<(String, usize), Arc<[super::SearchHit]>>;

/// Snapshot of the catalog for search and pricing.
#[derive(Default)]
pub(crate) struct CatalogIndex {
    entries: HashMap<i64, Entry>,
    by_id: HashMap<String, i64>,
    /// Kind -> row keys of its products, ascending.
    by_kind: HashMap<String, Vec<i64>>,
    pub vocab: Vocabulary,
    /// Stem -> symbol.
    syms: HashMap<String, Sym>,
    /// Products containing each symbol (in any field), by symbol.
    df: Vec<u32>,
    /// Average length of each field, in words.
    pub avg_len: [f64; 5],
    /// FTS5 expression -> matching row keys. Lives and dies with this snapshot, so
    /// an import (which builds a new snapshot) can never serve stale matches.
    pub matches: Option<moka::sync::Cache<String, Arc<[i64]>>>,
    /// (query as typed, folded; limit) -> ranked hits, for the same lifetime. A
    /// repeated query ("milk", "eggs") skips analysis and ranking entirely.
    pub results: Option<ResultCache>,
}

impl std::fmt::Debug for CatalogIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogIndex")
            .field("products", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl CatalogIndex {
    /// Build from every product in the store.
    pub(crate) fn build(rows: Vec<ProductRow>, match_cache: u64) -> CatalogIndex {
        let mut freqs: HashMap<String, u32> = HashMap::default();
        let mut kind_counts: HashMap<String, u32> = HashMap::default();
        for (_, p) in &rows {
            *kind_counts.entry(p.kind.clone()).or_default() += 1;
            let mut words: Vec<String> = tokens(&p.name)
                .chain(tokens(&p.brand))
                .chain(tokens(&p.kind))
                .chain(tokens(&p.aisle))
                .chain(p.tags.iter().flat_map(|t| tokens(t)))
                .collect();
            words.sort();
            words.dedup();
            for w in words {
                *freqs.entry(w).or_default() += 1;
            }
        }
        let max_kind = kind_counts.values().copied().max().unwrap_or(1).max(1);
        let n = rows.len().max(1) as f64;
        let mut syms: HashMap<String, Sym> = HashMap::default();
        let mut intern = |s: String| -> Sym {
            let next = syms.len() as Sym;
            *syms.entry(s).or_insert(next)
        };
        let mut df: Vec<u32> = Vec::new();
        let mut len_sum = [0.0f64; 5];
        let mut entries = HashMap::with_capacity_and_hasher(rows.len(), Default::default());
        let mut by_id = HashMap::with_capacity_and_hasher(rows.len(), Default::default());
        let mut by_kind: HashMap<String, Vec<i64>> = HashMap::default();
        for (pk, p) in rows {
            let n = kind_counts.get(&p.kind).copied().unwrap_or(1);
            let kind_weight = (1.0 + f64::from(n)).ln() / (1.0 + f64::from(max_kind)).ln();
            let mut kind_stems: Vec<Sym> = Vec::new();
            for t in tokens(&p.kind).filter(|t| !is_stopword(t)) {
                let s = intern(stem(&t));
                if !kind_stems.contains(&s) {
                    kind_stems.push(s);
                }
            }
            let name_words: Vec<String> = tokens(&p.name).collect();
            let mut negated: Vec<Sym> = negated_stems(&name_words)
                .into_iter()
                .map(&mut intern)
                .collect();
            for t in &p.tags {
                let words: Vec<String> = tokens(t).collect();
                negated.extend(negated_stems(&words).into_iter().map(&mut intern));
            }
            let mut stems = |s: &str| tokens(s).map(|w| intern(stem(&w))).collect::<Vec<_>>();
            let fields = [
                stems(&p.name),
                stems(&p.brand),
                stems(&p.kind),
                stems(&p.tags.join(" ")),
                stems(&p.aisle),
            ];
            let mut text_stems: Vec<Sym> = fields.iter().flatten().copied().collect();
            text_stems.sort_unstable();
            text_stems.dedup();
            for s in &text_stems {
                let i = *s as usize;
                if df.len() <= i {
                    df.resize(i + 1, 0);
                }
                df[i] += 1;
            }
            for (total, f) in len_sum.iter_mut().zip(&fields) {
                *total += f.len() as f64;
            }
            by_id.insert(p.id.clone(), pk);
            by_kind.entry(p.kind.clone()).or_default().push(pk);
            let display = p.display_name();
            let words = format!("{} {} {}", p.brand, p.name, p.kind).to_lowercase();
            entries.insert(
                pk,
                Entry {
                    display,
                    words,
                    product: Arc::new(p),
                    kind_stems,
                    kind_weight,
                    text_stems,
                    fields,
                    negated,
                },
            );
        }
        for pks in by_kind.values_mut() {
            pks.sort_unstable();
        }
        CatalogIndex {
            entries,
            by_id,
            by_kind,
            vocab: Vocabulary::new(freqs),
            syms,
            df,
            avg_len: len_sum.map(|t| (t / n).max(1.0)),
            matches: (match_cache > 0).then(|| moka::sync::Cache::new(match_cache)),
            results: (match_cache > 0).then(|| moka::sync::Cache::new(match_cache)),
        }
    }

    /// A product by row key.
    pub(crate) fn get(&self, pk: i64) -> Option<&Entry> {
        self.entries.get(&pk)
    }

    /// A product by external id.
    pub(crate) fn by_id(&self, id: &str) -> Option<&Product> {
        self.entry(id).map(|e| &*e.product)
    }

    /// The product with this id, shared with the index (no copy).
    pub(crate) fn shared(&self, id: &str) -> Option<Arc<Product>> {
        self.entry(id).map(|e| Arc::clone(&e.product))
    }

    /// The display name of `p`: the snapshot's copy when it holds `p` as it
    /// is (same brand, name and size), else made now.
    pub(crate) fn shown(&self, p: &Product) -> String {
        match self.entry(&p.id) {
            Some(e)
                if e.product.brand == p.brand
                    && e.product.name == p.name
                    && e.product.size == p.size =>
            {
                e.display.clone()
            }
            _ => p.display_name(),
        }
    }

    /// The entry of a product by external id.
    pub(crate) fn entry(&self, id: &str) -> Option<&Entry> {
        self.by_id.get(id).and_then(|pk| self.entries.get(pk))
    }

    /// The products of one kind (`milk`), in row order.
    pub(crate) fn of_kind<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Product> + 'a {
        self.of_kind_entries(kind).map(|e| &*e.product)
    }

    /// The entries of the products of `kind`, by row key.
    pub(crate) fn of_kind_entries<'a>(
        &'a self,
        kind: &str,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.by_kind
            .get(kind)
            .into_iter()
            .flatten()
            .filter_map(|pk| self.entries.get(pk))
    }

    /// Every product, in no particular order.
    pub(crate) fn products(&self) -> impl Iterator<Item = &Product> {
        self.entries.values().map(|e| &*e.product)
    }

    /// The symbol of a stem, [`UNKNOWN`] if no product has it.
    pub(crate) fn sym(&self, stem: &str) -> Sym {
        self.syms.get(stem).copied().unwrap_or(UNKNOWN)
    }

    /// Inverse document frequency of a symbol (BM25's, never negative).
    pub(crate) fn idf(&self, sym: Sym) -> f64 {
        let n = self.entries.len() as f64;
        let df = f64::from(self.df.get(sym as usize).copied().unwrap_or(1).max(1));
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// Number of products.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use crate::grocery::temp_grocery;

    /// The names kept in the snapshot are the products' own, for every
    /// product: a reply shows the same name whether it came from here or was
    /// made from the product.
    #[tokio::test]
    async fn kept_names_are_the_products_own() {
        let (g, _dir) = temp_grocery().await;
        let index = g.index();
        assert!(index.entries.len() > 100, "the built-in catalog is loaded");
        for e in index.entries.values() {
            let p = &*e.product;
            assert_eq!(e.display, p.display_name());
            assert_eq!(index.shown(p), p.display_name());
            assert_eq!(
                e.words,
                format!("{} {} {}", p.brand, p.name, p.kind).to_lowercase()
            );
        }
        // A product the snapshot does not hold is named all the same.
        let mut stranger = index.by_id("gv-whole-milk-1gal").unwrap().clone();
        stranger.id = "not-in-the-catalog".into();
        stranger.brand = "Elsewhere".into();
        assert!(index.entry(&stranger.id).is_none());
        assert_eq!(index.shown(&stranger), "Elsewhere Whole Milk, 1 gal");
        // Nor is one whose name changed since (an import in between).
        let mut renamed = index.by_id("gv-whole-milk-1gal").unwrap().clone();
        renamed.name = "Vitamin D Milk".into();
        assert_eq!(index.shown(&renamed), "Great Value Vitamin D Milk, 1 gal");
    }
}
