//! Products: bulk upsert, full load for the in-memory index, FTS5 candidates, stats.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use super::{Store, amount_from_sql, amount_to_sql, now_ms, unit_from_sql};
use crate::catalog::{Department, Product};
use crate::error::{Error, Result};
use crate::money::{Currency, Money};
use crate::quantity::Quantity;

/// A product with its internal row key.
pub(crate) type ProductRow = (i64, Product);

/// What `grocery catalog stats` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogStats {
    /// Number of products.
    pub products: u64,
    /// Number of departments with at least one product.
    pub departments: u64,
    /// Number of distinct brands.
    pub brands: u64,
    /// Number of distinct kinds (`milk`, `egg`, ...).
    pub kinds: u64,
    /// Products per department, by slug.
    pub by_department: Vec<DepartmentCount>,
}

/// Products in one department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepartmentCount {
    /// Department slug.
    pub department: String,
    /// Number of products.
    pub products: u64,
}

/// How an import changed the catalog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Rows read from the file.
    pub rows: u64,
    /// Products that were new.
    pub inserted: u64,
    /// Existing products (same id) that were replaced.
    pub updated: u64,
}

const SELECT_PRODUCT: &str = "SELECT pk, id, upc, name, brand, department, aisle, size_amount, \
     size_unit, price_cents, currency, tags, kind, popularity FROM products";

fn product_from_row(r: &Row<'_>) -> rusqlite::Result<(i64, RawProduct)> {
    Ok((
        r.get(0)?,
        RawProduct {
            id: r.get(1)?,
            upc: r.get(2)?,
            name: r.get(3)?,
            brand: r.get(4)?,
            department: r.get(5)?,
            aisle: r.get(6)?,
            size_amount: r.get(7)?,
            size_unit: r.get(8)?,
            price_cents: r.get(9)?,
            currency: r.get(10)?,
            tags: r.get(11)?,
            kind: r.get(12)?,
            popularity: r.get(13)?,
        },
    ))
}

struct RawProduct {
    id: String,
    upc: Option<String>,
    name: String,
    brand: String,
    department: String,
    aisle: String,
    size_amount: String,
    size_unit: String,
    price_cents: i64,
    currency: String,
    tags: String,
    kind: String,
    popularity: i64,
}

impl RawProduct {
    fn into_product(self) -> Result<Product> {
        let corrupt =
            |what: &str| Error::Internal(format!("corrupt {what} for product {}", self.id));
        let department: Department = self.department.parse().map_err(|_| corrupt("department"))?;
        let currency: Currency = self.currency.parse().map_err(|_| corrupt("currency"))?;
        Ok(Product {
            size: Quantity::new(
                amount_from_sql(&self.size_amount)?,
                unit_from_sql(&self.size_unit)?,
            ),
            price: Money::new(self.price_cents, currency),
            tags: self
                .tags
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            popularity: u8::try_from(self.popularity.clamp(1, 100)).unwrap_or(50),
            department,
            id: self.id,
            upc: self.upc,
            name: self.name,
            brand: self.brand,
            aisle: self.aisle,
            kind: self.kind,
        })
    }
}

/// Insert or replace (by id) every product, inside the caller's transaction.
pub(crate) fn upsert_products(tx: &Transaction<'_>, products: &[Product]) -> Result<ImportSummary> {
    let now = now_ms();
    let mut summary = ImportSummary {
        rows: products.len() as u64,
        ..ImportSummary::default()
    };
    let mut exists = tx.prepare_cached("SELECT 1 FROM products WHERE id = ?1")?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO products (id, upc, name, brand, department, aisle, size_amount, size_unit, \
         price_cents, currency, tags, kind, popularity, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
         ON CONFLICT (id) DO UPDATE SET upc = excluded.upc, name = excluded.name, \
         brand = excluded.brand, department = excluded.department, aisle = excluded.aisle, \
         size_amount = excluded.size_amount, size_unit = excluded.size_unit, \
         price_cents = excluded.price_cents, currency = excluded.currency, tags = excluded.tags, \
         kind = excluded.kind, popularity = excluded.popularity, updated_at = excluded.updated_at",
    )?;
    for p in products {
        let existed = exists.exists(params![p.id])?;
        upsert
            .execute(params![
                p.id,
                p.upc,
                p.name,
                p.brand,
                p.department.slug(),
                p.aisle,
                amount_to_sql(p.size.amount),
                p.size.unit.code(),
                p.price.cents,
                p.price.currency.code(),
                p.tags.join(" "),
                p.kind,
                i64::from(p.popularity),
                now,
            ])
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ConstraintViolation) => Error::Conflict(format!(
                    "product {}: UPC {} already belongs to another product",
                    p.id,
                    p.upc.as_deref().unwrap_or("-")
                )),
                _ => Error::from(e),
            })?;
        if existed {
            summary.updated += 1;
        } else {
            summary.inserted += 1;
        }
    }
    Ok(summary)
}

/// Import a parsed file in one transaction.
///
/// - Products with a row of the catalog's own (no `store`) are upserted as
///   [`upsert_products`] does, and sold by the catalog's own store.
/// - Products that only appear with a store are created when new (and not
///   sold by the catalog's own store); an existing product keeps its
///   description, and a store price for it must be for the same pack.
/// - Each (product, store) price the file gives replaces that pair's earlier
///   price; other stores' prices stay. A catalog row without an offer drops
///   an earlier offer of the catalog's own store.
pub(crate) fn import_parsed(
    tx: &Transaction<'_>,
    parsed: &crate::catalog::import::Parsed,
) -> Result<ImportSummary> {
    let now = now_ms();
    let store_only: std::collections::HashSet<&str> =
        parsed.store_only.iter().map(String::as_str).collect();
    let mut existing =
        tx.prepare_cached("SELECT pk, size_amount, size_unit, kind FROM products WHERE id = ?1")?;
    let mut own_products = Vec::new();
    let mut new_store_only = Vec::new();
    let mut kept = 0_u64;
    for p in &parsed.products {
        if !store_only.contains(p.id.as_str()) {
            own_products.push(p.clone());
            continue;
        }
        let found: Option<(i64, String, String, String)> = existing
            .query_row(params![p.id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        match found {
            None => new_store_only.push(p.clone()),
            Some((_, amount, unit, _)) => {
                let size = Quantity::new(amount_from_sql(&amount)?, unit_from_sql(&unit)?);
                if size != p.size {
                    let line = parsed
                        .prices
                        .iter()
                        .find(|sp| sp.product_id == p.id)
                        .map_or(0, |sp| sp.line);
                    return Err(Error::InvalidRow {
                        line,
                        reason: format!(
                            "`{}` is {} in the catalog, not {}: a store price is for the same pack",
                            p.id, size, p.size
                        ),
                    });
                }
                kept += 1;
            }
        }
    }
    let mut summary = upsert_products(tx, &own_products)?;
    let added = upsert_products(tx, &new_store_only)?;
    summary.inserted += added.inserted;
    summary.updated += added.updated + kept;
    summary.rows = parsed.rows;
    let mut pk_of = tx.prepare_cached("SELECT pk FROM products WHERE id = ?1")?;
    let mut own = tx.prepare_cached("UPDATE products SET own_store = ?2 WHERE pk = ?1")?;
    let mut drop_pair =
        tx.prepare_cached("DELETE FROM store_prices WHERE product_pk = ?1 AND store = ?2")?;
    for (list, sold_here) in [(&own_products, true), (&new_store_only, false)] {
        for p in list {
            let pk: i64 = pk_of.query_row(params![p.id], |r| r.get(0))?;
            own.execute(params![pk, i64::from(sold_here)])?;
            if sold_here {
                drop_pair.execute(params![pk, ""])?;
            }
        }
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO store_prices (product_pk, store, price_cents, offer, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (product_pk, store) DO UPDATE SET \
         price_cents = excluded.price_cents, offer = excluded.offer, \
         updated_at = excluded.updated_at",
    )?;
    for sp in &parsed.prices {
        let pk: i64 = pk_of.query_row(params![sp.product_id], |r| r.get(0))?;
        let offer = sp
            .offer
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| Error::Internal(format!("offer to JSON: {e}")))?;
        insert.execute(params![
            pk,
            sp.store.as_deref().unwrap_or(""),
            sp.price.cents,
            offer,
            now
        ])?;
    }
    Ok(summary)
}

/// One product's price at one store, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredPrice {
    /// The product (catalog id).
    pub product_id: String,
    /// The store; `None` for the catalog's own.
    pub store: Option<String>,
    /// One pack's price.
    pub price: Money,
    /// Its offer.
    pub offer: Option<crate::pricing::source::Offer>,
}

/// Every imported store price and offer, and the products the catalog's own
/// store does not sell.
pub(crate) fn store_prices(conn: &Connection) -> Result<(Vec<StoredPrice>, Vec<String>)> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.id, s.store, s.price_cents, s.offer FROM store_prices s \
         JOIN products p ON p.pk = s.product_pk ORDER BY p.pk, s.store",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    let mut prices = Vec::new();
    for row in rows {
        let (product_id, store, cents, offer) = row?;
        let offer = match offer {
            None => None,
            Some(json) => Some(serde_json::from_str(&json).map_err(|e| {
                Error::Internal(format!("corrupt offer of {product_id} in database: {e}"))
            })?),
        };
        prices.push(StoredPrice {
            product_id,
            store: (!store.is_empty()).then_some(store),
            price: Money::usd(cents),
            offer,
        });
    }
    let mut stmt =
        conn.prepare_cached("SELECT id FROM products WHERE own_store = 0 ORDER BY id")?;
    let store_only = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok((prices, store_only))
}

/// Every product with its row key, for the in-memory search index.
pub(crate) fn load_products(conn: &Connection) -> Result<Vec<ProductRow>> {
    let mut stmt = conn.prepare(&format!("{SELECT_PRODUCT} ORDER BY pk"))?;
    let rows = stmt.query_map([], product_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        let (pk, raw) = row?;
        out.push((pk, raw.into_product()?));
    }
    Ok(out)
}

/// Row keys of up to `limit` products matching a query in FTS5 syntax.
///
/// Ranking happens in Rust (BM25F over the in-memory index, plus shopper signals):
/// SQLite's `bm25()` reads every match's position lists and cost about 100 µs for
/// a 100-match query such as "milk", several times the whole rest of a search.
pub(crate) fn fts_matches(conn: &Connection, query: &str, limit: usize) -> Result<Vec<i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT rowid FROM products_fts WHERE products_fts MATCH ?1 LIMIT ?2")?;
    let rows = stmt.query_map(params![query, limit as i64], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
}

fn stats(conn: &Connection) -> Result<CatalogStats> {
    let (products, brands, kinds): (i64, i64, i64) = conn.query_row(
        "SELECT count(*), count(DISTINCT brand), count(DISTINCT kind) FROM products",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut stmt = conn.prepare(
        "SELECT department, count(*) FROM products GROUP BY department ORDER BY department",
    )?;
    let counts: HashMap<String, i64> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    // Store-walk order, then anything unexpected.
    let by_department: Vec<DepartmentCount> = Department::ALL
        .iter()
        .filter_map(|d| {
            counts.get(d.slug()).map(|n| DepartmentCount {
                department: d.slug().to_string(),
                products: *n as u64,
            })
        })
        .collect();
    Ok(CatalogStats {
        products: products as u64,
        departments: by_department.len() as u64,
        brands: brands as u64,
        kinds: kinds as u64,
        by_department,
    })
}

fn is_seeded(conn: &Connection) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM meta WHERE key = 'catalog_seeded'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

impl Store {
    /// Import a parsed file: its products and its store prices, in one transaction.
    pub(crate) async fn import_catalog(
        &self,
        parsed: crate::catalog::import::Parsed,
    ) -> Result<ImportSummary> {
        self.write(move |tx| import_parsed(tx, &parsed)).await
    }

    /// Every imported store price (see [`store_prices`]).
    pub(crate) async fn store_prices(&self) -> Result<(Vec<StoredPrice>, Vec<String>)> {
        self.read(store_prices).await
    }

    /// Load the embedded catalog once into a database that never had it.
    /// Returns whether it loaded anything.
    pub(crate) async fn seed_catalog(&self, products: Vec<Product>) -> Result<bool> {
        self.write(move |tx| {
            if is_seeded(tx)? {
                return Ok(false);
            }
            upsert_products(tx, &products)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('catalog_seeded', ?1)",
                params![now_ms().to_string()],
            )?;
            Ok(true)
        })
        .await
    }

    /// Whether the embedded catalog was loaded before.
    pub(crate) async fn catalog_seeded(&self) -> Result<bool> {
        self.read(is_seeded).await
    }

    /// Every product, for the in-memory index.
    pub(crate) async fn load_products(&self) -> Result<Vec<ProductRow>> {
        self.read(load_products).await
    }

    /// Catalog counts.
    pub(crate) async fn catalog_stats(&self) -> Result<CatalogStats> {
        self.read(stats).await
    }
}
