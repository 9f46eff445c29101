//! Price observations: one row per change point per source.

use rusqlite::{OptionalExtension, params};

use super::{Store, ts};
use crate::error::{Error, Result};
use crate::money::{Currency, Money};
use crate::pricing::PricePoint;

impl Store {
    /// Record an observed price. Returns `false` (and writes nothing) when the
    /// latest observation from the same source already has this price, so history
    /// keeps change points only.
    pub(crate) async fn record_price(
        &self,
        product_id: String,
        source: String,
        price: Money,
        at_ms: i64,
    ) -> Result<bool> {
        self.write(move |tx| {
            let pk: i64 = tx
                .prepare_cached("SELECT pk FROM products WHERE id = ?1")?
                .query_row(params![product_id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| Error::not_found("product", product_id.clone()))?;
            let last: Option<(i64, String)> = tx
                .prepare_cached(
                    "SELECT price_cents, currency FROM prices WHERE product_pk = ?1 AND source = ?2 \
                     ORDER BY observed_at DESC LIMIT 1",
                )?
                .query_row(params![pk, source], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if last == Some((price.cents, price.currency.code().to_string())) {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO prices (product_pk, source, price_cents, currency, observed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![pk, source, price.cents, price.currency.code(), at_ms])?;
            Ok(true)
        })
        .await
    }

    /// The latest observed price of a product, from any source.
    pub(crate) async fn latest_price(&self, product_id: String) -> Result<Option<Money>> {
        self.read(move |c| {
            let row: Option<(i64, String)> = c
                .prepare_cached(
                    "SELECT s.price_cents, s.currency FROM prices s \
                     JOIN products p ON p.pk = s.product_pk \
                     WHERE p.id = ?1 ORDER BY s.observed_at DESC, s.id DESC LIMIT 1",
                )?
                .query_row(params![product_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            row.map(|(cents, currency)| {
                let currency: Currency = currency
                    .parse()
                    .map_err(|_| Error::Internal(format!("corrupt currency `{currency}`")))?;
                Ok(Money::new(cents, currency))
            })
            .transpose()
        })
        .await
    }

    /// Observations of a product at or after `since_ms`, newest first.
    pub(crate) async fn price_history(
        &self,
        product_id: String,
        since_ms: i64,
    ) -> Result<Vec<PricePoint>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT s.source, s.price_cents, s.currency, s.observed_at FROM prices s \
                 JOIN products p ON p.pk = s.product_pk \
                 WHERE p.id = ?1 AND s.observed_at >= ?2 ORDER BY s.observed_at DESC, s.id DESC",
            )?;
            let rows = stmt.query_map(params![product_id, since_ms], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (source, cents, currency, at) = row?;
                let currency: Currency = currency
                    .parse()
                    .map_err(|_| Error::Internal(format!("corrupt currency `{currency}`")))?;
                out.push(PricePoint {
                    source,
                    price: Money::new(cents, currency),
                    observed_at: ts(at),
                });
            }
            Ok(out)
        })
        .await
    }
}
