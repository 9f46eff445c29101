//! Prices: observed shelf prices per product and source, kept as change points.
//!
//! This is the storage side of pricing; [`source`] has the price sources (the
//! embedded demo market and the store APIs); the tiered cache and tracking build
//! on both.

pub mod source;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::grocery::Grocery;
use crate::money::Money;

/// One observed price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricePoint {
    /// Where the price came from (`catalog`, `walmart`, ...).
    pub source: String,
    /// The price of one pack.
    pub price: Money,
    /// When it was observed (UTC).
    pub observed_at: Timestamp,
}

/// Price history operations; get one from [`Grocery::prices`].
#[derive(Debug, Clone, Copy)]
pub struct Prices<'a> {
    g: &'a Grocery,
}

impl<'a> Prices<'a> {
    pub(crate) fn new(g: &'a Grocery) -> Self {
        Prices { g }
    }

    /// Record a price seen now or at `at`. An unchanged price (same source, same
    /// amount as its latest observation) adds no row; returns whether a row was added.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown product; [`Error::InvalidInput`] for a
    /// negative price or an empty source.
    #[tracing::instrument(skip_all, err)]
    pub async fn record(
        &self,
        product_id: &str,
        source: &str,
        price: Money,
        at: Option<Timestamp>,
    ) -> Result<bool> {
        if price.cents < 0 {
            return Err(Error::invalid("a price cannot be negative"));
        }
        let source = source.trim();
        if source.is_empty() || source.len() > 64 {
            return Err(Error::invalid("a price source is 1 to 64 characters"));
        }
        let at = at.unwrap_or_else(Timestamp::now).as_millisecond();
        self.g
            .store()
            .record_price(product_id.to_string(), source.to_string(), price, at)
            .await
    }

    /// Observations of a product since `since` (all when `None`), newest first.
    ///
    /// # Errors
    /// Storage errors.
    #[tracing::instrument(skip_all, err)]
    pub async fn history(
        &self,
        product_id: &str,
        since: Option<Timestamp>,
    ) -> Result<Vec<PricePoint>> {
        let since = since.map_or(i64::MIN, Timestamp::as_millisecond);
        self.g
            .store()
            .price_history(product_id.to_string(), since)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn history_keeps_change_points_only() {
        let (g, _dir) = Grocery::open_empty_for_test().await;
        g.catalog()
            .import_bytes(
                b"id,name,department,size,unit,price_cents\nm-1,Milk,dairy-eggs,1,gal,389\n"
                    .to_vec(),
                crate::catalog::ImportFormat::Csv,
            )
            .await
            .unwrap();
        let p = g.prices();
        let t = |s: i64| Some(Timestamp::from_second(1_800_000_000 + s).unwrap());
        assert!(
            p.record("m-1", "catalog", Money::usd(389), t(0))
                .await
                .unwrap()
        );
        assert!(
            !p.record("m-1", "catalog", Money::usd(389), t(60))
                .await
                .unwrap()
        );
        assert!(
            p.record("m-1", "catalog", Money::usd(349), t(120))
                .await
                .unwrap()
        );
        assert!(
            p.record("m-1", "walmart", Money::usd(349), t(130))
                .await
                .unwrap()
        );
        let h = p.history("m-1", None).await.unwrap();
        let cents: Vec<i64> = h.iter().map(|x| x.price.cents).collect();
        assert_eq!(cents, [349, 349, 389]);
        assert_eq!(h[0].source, "walmart");
        assert_eq!(p.history("m-1", t(100)).await.unwrap().len(), 2);
        assert!(matches!(
            p.record("nope", "catalog", Money::usd(1), None).await,
            Err(Error::NotFound { .. })
        ));
        assert!(
            p.record("m-1", "catalog", Money::usd(-1), None)
                .await
                .is_err()
        );
    }
}
