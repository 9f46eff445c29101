//! Prices: observed shelf prices per product and source, kept as change points.
//!
//! This is the storage side of pricing; [`source`] has the price source trait
//! and the embedded demo market, [`http`] the store APIs (Walmart- and
//! Kroger-style); the tiered cache and tracking build on both.

pub mod client;
pub mod http;
pub mod source;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::grocery::Grocery;
use crate::lists::UserId;
use crate::money::Money;

/// One observed price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PricePoint {
    /// Where the price came from (`catalog`, `walmart`, ...).
    pub source: String,
    /// The price of one pack.
    pub price: Money,
    /// When it was observed (UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub observed_at: Timestamp,
}

/// What a track waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Target {
    /// A price at or below this.
    Below(Money),
    /// A price this many percent (1..=99) under the price when tracking began.
    DropPercent(u8),
}

/// A user watching a product's price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Track {
    /// Its id.
    pub id: i64,
    /// Whose.
    pub user: UserId,
    /// The product watched.
    pub product_id: String,
    /// What it waits for.
    pub target: Target,
    /// The price when tracking began.
    pub baseline: Money,
    /// Whether the price is past the target now (an alert was raised and no new
    /// one will be until the price goes back up).
    pub crossed: bool,
    /// When tracking began (UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

impl Track {
    /// The price at or below which the track fires.
    pub fn threshold(&self) -> Money {
        match self.target {
            Target::Below(m) => m,
            Target::DropPercent(p) => {
                Money::usd(self.baseline.cents * i64::from(100 - p.min(99)) / 100)
            }
        }
    }
}

/// A track's target was reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    /// Its id.
    pub id: i64,
    /// The track that fired.
    pub track_id: i64,
    /// Whose.
    pub user: UserId,
    /// The product.
    pub product_id: String,
    /// The price that crossed the target.
    pub price: Money,
    /// Why, in words.
    pub reason: String,
    /// When (UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// Something that happened, for live subscribers ([`Grocery::subscribe`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Event {
    /// A price alert was raised (for `alert.user` only).
    PriceAlert(Alert),
    /// A list changed (for the users in its audience).
    ListChanged(crate::lists::ListChange),
    /// A product's price changed at a store (for whoever tracks it or has it on
    /// a list).
    PriceChanged(PriceChange),
}

/// A new price observed for a product, different from the one before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceChange {
    /// The product.
    pub product_id: String,
    /// The store.
    pub source: String,
    /// The new price.
    pub price: Money,
    /// When it was observed (UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
}

/// Minimum, average and maximum of a product's prices over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceStats {
    /// Observations in the period.
    pub points: usize,
    /// The lowest price seen.
    pub min: Money,
    /// The average of the observations, rounded to the cent.
    pub average: Money,
    /// The highest price seen.
    pub max: Money,
    /// The latest price.
    pub latest: Money,
    /// Whether the latest price is the lowest of the period.
    pub latest_is_lowest: bool,
}

/// Price history, tracking and alerts; get one from [`Grocery::prices`].
#[derive(Debug, Clone, Copy)]
pub struct Prices<'a> {
    g: &'a Grocery,
    user: UserId,
}

impl<'a> Prices<'a> {
    pub(crate) fn new(g: &'a Grocery, user: UserId) -> Self {
        Prices { g, user }
    }

    /// Min / average / max over the last `days` days; `None` with no
    /// observations in the period.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn stats(&self, product_id: &str, days: u32) -> Result<Option<PriceStats>> {
        let since = Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(24 * i64::from(days)))
            .ok();
        let points = self.history(product_id, since).await?;
        let Some(latest) = points.first().map(|p| p.price) else {
            return Ok(None);
        };
        let cents: Vec<i64> = points.iter().map(|p| p.price.cents).collect();
        let min = cents.iter().copied().min().unwrap_or(latest.cents);
        let max = cents.iter().copied().max().unwrap_or(latest.cents);
        let n = i64::try_from(cents.len()).unwrap_or(i64::MAX).max(1);
        let sum: i64 = cents.iter().sum();
        Ok(Some(PriceStats {
            points: cents.len(),
            min: Money::usd(min),
            average: Money::usd((sum + n / 2) / n),
            max: Money::usd(max),
            latest,
            latest_is_lowest: latest.cents <= min,
        }))
    }

    /// Watch a product: an alert when its price reaches `target`. Replaces this
    /// user's earlier track of the product.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a target of zero or a drop outside 1..=99%;
    /// [`Error::NotFound`] for an unknown product.
    pub async fn track(&self, product_id: &str, target: Target) -> Result<Track> {
        match target {
            Target::Below(m) if m.cents <= 0 => {
                return Err(Error::invalid("a target price must be above zero"));
            }
            Target::DropPercent(p) if !(1..=99).contains(&p) => {
                return Err(Error::invalid("a price drop is 1 to 99 percent"));
            }
            _ => {}
        }
        let baseline = self.current(product_id).await?;
        let track = self
            .g
            .store()
            .track(self.user, product_id.to_string(), target, baseline)
            .await?;
        // Already there: say so at once.
        let fired = self.check_at(product_id, baseline).await?;
        let crossed = fired.iter().any(|a| a.track_id == track.id);
        Ok(Track { crossed, ..track })
    }

    /// This user's tracks.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn tracks(&self) -> Result<Vec<Track>> {
        self.g.store().tracks(self.user).await
    }

    /// Stop watching a product; whether it was watched.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown product.
    pub async fn untrack(&self, product_id: &str) -> Result<bool> {
        self.g
            .store()
            .untrack(self.user, product_id.to_string())
            .await
    }

    /// This user's alerts, newest first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn alerts(&self, limit: usize) -> Result<Vec<Alert>> {
        self.g
            .store()
            .alerts(self.user, limit.clamp(1, 1_000))
            .await
    }

    /// The latest observed price of a product, else its catalog price.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown product.
    pub async fn current(&self, product_id: &str) -> Result<Money> {
        let catalog = self.g.catalog().get(product_id)?.price;
        let latest = self.g.store().latest_price(product_id.to_string()).await?;
        Ok(latest.unwrap_or(catalog))
    }

    /// Check every user's tracks of a product against its current price: one
    /// alert per crossing (stored and published to subscribers), re-armed when the
    /// price goes back above the target. Call it after recording prices and on
    /// demand.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn check(&self, product_id: &str) -> Result<Vec<Alert>> {
        let price = self.current(product_id).await?;
        self.check_at(product_id, price).await
    }

    /// [`Prices::check`] against a price already known (just observed).
    pub(crate) async fn check_at(&self, product_id: &str, price: Money) -> Result<Vec<Alert>> {
        let tracks = self
            .g
            .store()
            .tracks_of_product(product_id.to_string())
            .await?;
        let mut changes = Vec::new();
        for t in tracks {
            let crossed = price.cents <= t.threshold().cents;
            if crossed != t.crossed {
                let reason = crossed.then(|| match t.target {
                    Target::Below(m) => format!("now {price}, at or below your target {m}"),
                    Target::DropPercent(p) => {
                        format!("now {price}, {p}% or more under {}", t.baseline)
                    }
                });
                changes.push((t, crossed, reason));
            }
        }
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let alerts = self.g.store().settle_tracks(price, changes).await?;
        for a in &alerts {
            self.g.publish(Event::PriceAlert(a.clone()));
        }
        Ok(alerts)
    }

    /// Record a price seen now or at `at`. An unchanged price (same source, same
    /// amount as its latest observation) adds no row; returns whether a row was added.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown product; [`Error::InvalidInput`] for a
    /// negative price or an empty source.
    #[tracing::instrument(level = "debug", skip_all, err)]
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
    #[tracing::instrument(level = "debug", skip_all, err)]
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

    /// A new database whose catalog is one gallon of milk (`m-1`) at `cents`.
    async fn with_milk(cents: i64) -> (Grocery, tempfile::TempDir) {
        let (g, dir) = Grocery::open_empty_for_test().await;
        let csv = format!(
            "id,name,department,size,unit,price_cents\nm-1,Milk,dairy-eggs,1,gal,{cents}\n"
        );
        g.catalog()
            .import_bytes(csv.into_bytes(), crate::catalog::ImportFormat::Csv)
            .await
            .unwrap();
        (g, dir)
    }

    #[tokio::test]
    async fn tracks_alert_once_per_crossing_and_publish_events() {
        let (g, _dir) = with_milk(400).await;
        let bob = g.users().add("bob").await.unwrap();
        let mut events = g.subscribe();
        let me = g.prices();
        let t = me
            .track("m-1", Target::Below(Money::usd(350)))
            .await
            .unwrap();
        assert_eq!(t.baseline, Money::usd(400));
        let b = g
            .prices_for(bob.id)
            .track("m-1", Target::DropPercent(20))
            .await
            .unwrap();
        assert_eq!(b.threshold(), Money::usd(320));
        async fn record(g: &Grocery, cents: i64, s: i64) -> Vec<Alert> {
            let at = Some(Timestamp::from_second(1_800_000_000 + s).unwrap());
            g.prices()
                .record("m-1", "demo", Money::usd(cents), at)
                .await
                .unwrap();
            g.prices().check("m-1").await.unwrap()
        }
        assert!(record(&g, 380, 0).await.is_empty());
        // 349 crosses my target (not bob's 20%): one alert, for me only.
        let fired = record(&g, 349, 60).await;
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].user, crate::lists::UserId::LOCAL);
        // Still below: no second alert; further down to 319 fires bob's.
        assert!(record(&g, 345, 120).await.is_empty());
        let fired = record(&g, 319, 180).await;
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].user, bob.id);
        // Back up re-arms; down again fires again.
        assert!(record(&g, 420, 240).await.is_empty());
        assert_eq!(record(&g, 340, 300).await.len(), 1);
        assert_eq!(me.alerts(10).await.unwrap().len(), 2);
        assert_eq!(g.prices_for(bob.id).alerts(10).await.unwrap().len(), 1);
        // Subscribers saw each alert as it happened.
        let mut seen = 0;
        while let Ok(Event::PriceAlert(_)) = events.try_recv() {
            seen += 1;
        }
        assert_eq!(seen, 3);
        // Bad targets change nothing.
        for bad in [
            Target::Below(Money::usd(0)),
            Target::DropPercent(0),
            Target::DropPercent(100),
        ] {
            assert_eq!(
                me.track("m-1", bad).await.unwrap_err().kind(),
                crate::error::ErrorKind::InvalidInput
            );
        }
        assert_eq!(me.tracks().await.unwrap().len(), 1);
        assert!(me.untrack("m-1").await.unwrap());
        assert!(me.tracks().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn stats_give_min_average_max_and_the_lowest() {
        let (g, _dir) = with_milk(400).await;
        let p = g.prices();
        assert!(p.stats("m-1", 30).await.unwrap().is_none());
        let ago = |d: i64| {
            Some(
                Timestamp::now()
                    .checked_sub(jiff::SignedDuration::from_hours(24 * d))
                    .unwrap(),
            )
        };
        for (cents, d) in [(500, 60), (400, 20), (450, 10), (380, 1)] {
            p.record("m-1", "demo", Money::usd(cents), ago(d))
                .await
                .unwrap();
        }
        let s = p.stats("m-1", 30).await.unwrap().unwrap();
        assert_eq!(s.points, 3, "the 60-day-old price is out of the period");
        assert_eq!(
            (s.min, s.max, s.latest),
            (Money::usd(380), Money::usd(450), Money::usd(380))
        );
        assert_eq!(s.average, Money::usd(410));
        assert!(s.latest_is_lowest);
    }

    #[tokio::test]
    async fn history_keeps_change_points_only() {
        let (g, _dir) = with_milk(389).await;
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
