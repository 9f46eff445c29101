//! The product catalog: departments, products, import and search.
//!
//! The catalog lives in SQLite (with an FTS5 index) and, for ranking and pricing,
//! as an in-memory snapshot that is rebuilt after every import.

pub(crate) mod import;
pub(crate) mod index;
mod product;
mod search;
pub(crate) mod text;

use std::path::Path;
use std::sync::Arc;

pub use import::ImportFormat;
pub use product::{Department, Product};
pub use search::SearchHit;

/// A cheaper option for a product ([`Catalog::cheaper_than`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cheaper {
    /// The cheaper product.
    pub product: Product,
    /// How much less it costs per unit, in whole percent.
    pub saving_percent: u8,
}

/// Dietary tags a product keeps through any substitution.
const KEPT_TAGS: &[&str] = &["organic", "gluten-free", "lactose-free", "vegan"];

/// Whether `instead` may stand in for `base` as far as diet goes: it has every
/// kept tag `base` has (organic stays organic; the reverse is allowed).
pub(crate) fn keeps_diet(base: &Product, instead: &Product) -> bool {
    KEPT_TAGS
        .iter()
        .all(|t| !base.has_tag(t) || instead.has_tag(t))
}

/// Price in cents per base unit of the product's size (gram, milliliter, item).
fn unit_price(p: &Product) -> Option<crate::quantity::Ratio> {
    let size = p.size.in_base();
    (size > crate::quantity::Ratio::from_integer(0))
        .then(|| crate::quantity::Ratio::from_integer(i128::from(p.price.cents)) / size)
}

pub use crate::store::{CatalogStats, DepartmentCount, ImportSummary};

use crate::error::{Error, Result};
use crate::grocery::Grocery;
use crate::store::fts_matches;
use index::CatalogIndex;
use search::QueryPlan;

/// The embedded default catalog (CSV, about 2,600 everyday US products with
/// plausible shelf prices). Demo data written for this project.
pub(crate) const EMBEDDED_CATALOG: &str = include_str!("../../data/catalog.csv");

/// Most candidates fetched from FTS5 for ranking.
const CANDIDATES: usize = 2_000;
/// Most results a search returns.
pub const MAX_LIMIT: usize = 100;

/// Catalog operations; get one from [`Grocery::catalog`].
#[derive(Debug, Clone, Copy)]
pub struct Catalog<'a> {
    g: &'a Grocery,
}

impl<'a> Catalog<'a> {
    pub(crate) fn new(g: &'a Grocery) -> Self {
        Catalog { g }
    }

    /// Search products, best first.
    ///
    /// Typos, plurals, synonyms and shorthand are understood; an empty query gives
    /// no results. `limit` is capped at [`MAX_LIMIT`]; 0 means the configured default.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a query longer than `catalog.max_query_chars`;
    /// storage errors.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn demo(g: grocery_core::Grocery) -> grocery_core::Result<()> {
    /// let hits = g.catalog().search("oj", 5).await?;
    /// println!("{}", hits[0].product.display_name()); // an orange juice
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        Ok(self.search_shared(query, limit).await?.to_vec())
    }

    /// [`Catalog::search`] without copying the hits out of the result cache.
    pub(crate) async fn search_shared(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Arc<[SearchHit]>> {
        let cfg = &self.g.config().catalog;
        if query.chars().count() > cfg.max_query_chars {
            return Err(Error::invalid(format!(
                "search query is longer than {} characters",
                cfg.max_query_chars
            )));
        }
        let limit = match limit {
            0 => cfg.default_limit,
            n => n,
        }
        .min(MAX_LIMIT);
        let index = self.g.index();
        let key = (
            query
                .split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" "),
            limit,
        );
        if let Some(hits) = index.results.as_ref().and_then(|c| c.get(&key)) {
            return Ok(hits);
        }
        let plan = QueryPlan::build(query, &index);
        if plan.is_empty() || index.len() == 0 {
            return Ok(Arc::from(Vec::new()));
        }
        let and = plan.fts_expr("AND");
        let cached = index.matches.as_ref().and_then(|c| c.get(&and));
        let hits: Arc<[i64]> = match cached {
            Some(hits) => hits,
            None => {
                let or = (plan.clauses.len() > 1).then(|| plan.fts_expr("OR"));
                let key = and.clone();
                let hits: Arc<[i64]> = self
                    .g
                    .store()
                    .read(move |c| {
                        let hits = fts_matches(c, &and, CANDIDATES)?;
                        match or {
                            // Nothing has every word: rank what has any of them.
                            Some(or) if hits.is_empty() => fts_matches(c, &or, CANDIDATES),
                            _ => Ok(hits),
                        }
                    })
                    .await?
                    .into();
                if let Some(cache) = &index.matches {
                    cache.insert(key, Arc::clone(&hits));
                }
                hits
            }
        };
        let ranked: Arc<[SearchHit]> = plan.rank(&hits, &index, limit).into();
        if let Some(cache) = &index.results {
            cache.insert(key, Arc::clone(&ranked));
        }
        Ok(ranked)
    }

    /// A product by id.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no product has that id.
    pub fn get(&self, id: &str) -> Result<Product> {
        self.g
            .index()
            .by_id(id)
            .cloned()
            .ok_or_else(|| Error::not_found("product", id))
    }

    /// Products of the same kind that cost less per unit (per gram, milliliter or
    /// item), cheapest per unit first. Dietary tags of the original (organic,
    /// gluten-free, lactose-free, vegan) are kept: an organic product is only
    /// compared with organic ones.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown product.
    pub fn cheaper_than(&self, id: &str, limit: usize) -> Result<Vec<Cheaper>> {
        let index = self.g.index();
        let base = index
            .by_id(id)
            .ok_or_else(|| Error::not_found("product", id))?;
        let Some(base_unit) = unit_price(base) else {
            return Ok(Vec::new());
        };
        // The same variant first ("whole milk" for whole milk), then the cheapest.
        let words = |name: &str| -> Vec<String> {
            name.split_whitespace().map(str::to_lowercase).collect()
        };
        let base_words = words(&base.name);
        let overlap = |p: &Product| {
            words(&p.name)
                .iter()
                .filter(|w| base_words.contains(w))
                .count()
        };
        let mut cheaper: Vec<(usize, crate::quantity::Ratio, Cheaper)> = index
            .of_kind(&base.kind)
            .filter(|p| p.id != base.id)
            .filter(|p| p.size.dimension() == base.size.dimension())
            .filter(|p| keeps_diet(base, p))
            .filter_map(|p| {
                let per = unit_price(p)?;
                (per < base_unit).then(|| {
                    let saving =
                        (base_unit - per) / base_unit * crate::quantity::Ratio::from_integer(100);
                    (
                        overlap(p),
                        per,
                        Cheaper {
                            product: p.clone(),
                            saving_percent: saving.to_integer().clamp(0, 100) as u8,
                        },
                    )
                })
            })
            .collect();
        cheaper.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| a.1.cmp(&b.1))
                .then_with(|| a.2.product.id.cmp(&b.2.product.id))
        });
        Ok(cheaper.into_iter().take(limit).map(|(_, _, c)| c).collect())
    }

    /// The ids of the `n` most popular products (everyday likelihood), most
    /// popular first.
    pub fn most_popular(&self, n: usize) -> Vec<String> {
        let index = self.g.index();
        let mut all: Vec<&Product> = index.products().collect();
        all.sort_by(|a, b| {
            b.popularity
                .cmp(&a.popularity)
                .then_with(|| a.id.cmp(&b.id))
        });
        all.into_iter().take(n).map(|p| p.id.clone()).collect()
    }

    /// Counts of products, departments, brands and kinds.
    ///
    /// # Errors
    /// Storage errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn stats(&self) -> Result<CatalogStats> {
        self.g.store().catalog_stats().await
    }

    /// Import a CSV or JSON Lines file (format from the extension or content).
    ///
    /// The whole file is validated first and written in one transaction: a bad row
    /// rejects the file with its line number and changes nothing. Products with an
    /// existing id are replaced.
    ///
    /// # Errors
    /// [`Error::InvalidRow`], [`Error::InvalidInput`] (too large, empty),
    /// [`Error::NotFound`] (no such file), [`Error::Io`], [`Error::Conflict`] (a UPC already used by another product).
    #[tracing::instrument(level = "debug", skip_all, err, fields(path = %path.display()))]
    pub async fn import_file(&self, path: &Path) -> Result<ImportSummary> {
        let max = self.g.config().catalog.max_import_bytes;
        let p = path.to_path_buf();
        let (bytes, format) = tokio::task::spawn_blocking(move || {
            let io = |source: std::io::Error| match source.kind() {
                std::io::ErrorKind::NotFound => Error::not_found("file", p.display().to_string()),
                _ => Error::Io {
                    path: p.display().to_string(),
                    source,
                },
            };
            let len = std::fs::metadata(&p).map_err(io)?.len();
            if len > max {
                return Err(Error::invalid(format!(
                    "{} is {len} bytes; the limit is {max} (catalog.max_import_bytes)",
                    p.display()
                )));
            }
            let bytes = std::fs::read(&p).map_err(io)?;
            let format = ImportFormat::detect(&p, &bytes);
            Ok((bytes, format))
        })
        .await??;
        self.import_bytes(bytes, format).await
    }

    /// Import catalog data already in memory. See [`Catalog::import_file`].
    ///
    /// # Errors
    /// As [`Catalog::import_file`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn import_bytes(
        &self,
        bytes: Vec<u8>,
        format: ImportFormat,
    ) -> Result<ImportSummary> {
        let parsed = tokio::task::spawn_blocking(move || import::parse_with_prices(&bytes, format))
            .await??;
        let summary = self.g.store().import_catalog(parsed).await?;
        self.g.reload_index().await?;
        Ok(summary)
    }

    /// Number of products.
    pub fn len(&self) -> usize {
        self.g.index().len()
    }

    /// Whether the catalog has no products.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Parse the embedded catalog.
pub(crate) fn embedded_products() -> Result<Vec<Product>> {
    import::parse(EMBEDDED_CATALOG.as_bytes(), ImportFormat::Csv)
}

/// Build the in-memory index on a blocking thread.
pub(crate) async fn build_index(
    rows: Vec<crate::store::ProductRow>,
    match_cache: u64,
) -> Result<Arc<CatalogIndex>> {
    Ok(Arc::new(
        tokio::task::spawn_blocking(move || CatalogIndex::build(rows, match_cache)).await?,
    ))
}
