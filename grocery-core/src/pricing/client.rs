//! The pricing client: current prices through the tiered cache, from the
//! configured sources, each guarded (breaker, bulkhead, rate limit, retries of
//! reads), with every fresh observation recorded in the history and checked
//! against users' price tracks.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::source::{BoxFuture, DemoMarket, Offer, PriceSource, Quote};
use crate::cache::{CacheReport, CacheStats, Tier, TieredCache};
use crate::error::{Error, Result};
use crate::grocery::Grocery;
use crate::resilience::{
    BreakerSnapshot, Bulkhead, CircuitBreaker, RateLimiter, RetryBudget, RetryConfig, retry,
};

/// A current price, as the CLI, the server and the agent show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceAnswer {
    /// The product.
    pub product_id: String,
    /// Its display name.
    pub name: String,
    /// What one pack costs, in cents.
    pub price_cents: i64,
    /// The price per unit of its size, e.g. "$0.03/fl oz".
    pub unit_price: String,
    /// The store the price comes from.
    pub source: String,
    /// Which cache tier answered (`l1`, `l2`, `l3`) or `upstream`.
    pub tier: Tier,
    /// Served past its freshness (the source is being asked again, or failed).
    pub stale: bool,
    /// Seconds since the source gave this price.
    pub age_secs: u64,
    /// Offers that apply now.
    pub offers: Vec<Offer>,
    /// Whether the store has it.
    pub in_stock: bool,
}

/// One price source's guards and usage now, for health checks and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// The source (store) name.
    pub name: String,
    /// Its circuit breaker: state, calls and failures in the window, rejections.
    pub breaker: BreakerSnapshot,
    /// Calls running now (the bulkhead's count).
    pub in_flight: usize,
    /// Calls made today (UTC).
    pub calls_today: u32,
    /// Its daily quota, if it has one.
    pub daily_quota: Option<u32>,
}

/// One source with its guards.
#[derive(Debug, Clone)]
struct Guarded {
    source: Arc<dyn PriceSource>,
    /// Longest wait for one call.
    timeout: Duration,
    /// Calls made today (UTC day number, count), against the daily quota.
    calls_today: Arc<std::sync::Mutex<(i64, u32)>>,
    breaker: CircuitBreaker,
    bulkhead: Bulkhead,
    limiter: Arc<RateLimiter>,
    retry: RetryConfig,
    budget: Arc<RetryBudget>,
}

/// The sources and the cache, built once per handle.
#[derive(Debug, Clone)]
pub(crate) struct PricingState {
    sources: Arc<Vec<Guarded>>,
    cache: TieredCache<String, Quote>,
    popularity: Arc<Popularity>,
}

/// How often each product is asked for, with counts that halve every
/// [`HALF_LIFE`], so the warmer follows what people ask for now.
#[derive(Debug, Default)]
pub(crate) struct Popularity {
    counts: std::sync::Mutex<std::collections::HashMap<String, (f64, tokio::time::Instant)>>,
}

/// Request counts halve in this time.
const HALF_LIFE: Duration = Duration::from_secs(600);
/// Most products whose popularity is remembered.
const POPULARITY_CAP: usize = 100_000;

fn decayed(count: f64, at: tokio::time::Instant, now: tokio::time::Instant) -> f64 {
    let secs = now.saturating_duration_since(at).as_secs_f64();
    count * (-secs * std::f64::consts::LN_2 / HALF_LIFE.as_secs_f64()).exp()
}

impl Popularity {
    /// One more request for `id`.
    fn bump(&self, id: &str) {
        let now = tokio::time::Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.get(id).map_or(0.0, |(c, at)| decayed(*c, *at, now)) + 1.0;
        counts.insert(id.to_string(), (count, now));
        if counts.len() > POPULARITY_CAP {
            // Forget the least asked-for tenth.
            let mut ranked: Vec<(f64, String)> = counts
                .iter()
                .map(|(k, (c, at))| (decayed(*c, *at, now), k.clone()))
                .collect();
            ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (_, k) in ranked.into_iter().take(POPULARITY_CAP / 10) {
                counts.remove(&k);
            }
        }
    }

    /// The `n` most asked-for products now, most first.
    fn top(&self, n: usize) -> Vec<String> {
        let now = tokio::time::Instant::now();
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut ranked: Vec<(f64, &String)> = counts
            .iter()
            .map(|(k, (c, at))| (decayed(*c, *at, now), k))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        ranked.into_iter().take(n).map(|(_, k)| k.clone()).collect()
    }
}

/// Current prices; get it from [`Grocery::pricing`].
#[derive(Debug, Clone, Copy)]
pub struct Pricing<'a> {
    g: &'a Grocery,
    state: &'a PricingState,
}

/// The sources the configuration asks for, in order.
///
/// # Errors
/// [`Error::Config`] for a source whose settings are unusable.
pub(crate) fn configured_sources(
    config: &crate::config::PricingConfig,
) -> Result<Vec<Arc<dyn PriceSource>>> {
    config.guard.validate()?;
    let mut sources: Vec<Arc<dyn PriceSource>> = Vec::new();
    if let Some(w) = &config.walmart {
        sources.push(Arc::new(super::http::WalmartSource::new(w)?));
    }
    if let Some(k) = &config.kroger {
        sources.push(Arc::new(super::http::KrogerSource::new(k)?));
    }
    if config.demo {
        sources.push(Arc::new(DemoMarket::default()));
    }
    Ok(sources)
}

impl Guarded {
    /// Count one call against the daily quota; `false` when it is used up, or
    /// when more than `share_percent` of it is (the warmer leaves the rest for
    /// people's requests).
    fn take_quota(&self, share_percent: u32) -> bool {
        let Some(quota) = self.source.daily_quota() else {
            return true;
        };
        let quota = u32::try_from(u64::from(quota) * u64::from(share_percent.min(100)) / 100)
            .unwrap_or(quota);
        let today = jiff::Timestamp::now().as_second().div_euclid(86_400);
        let mut calls = self.calls_today.lock().unwrap_or_else(|e| e.into_inner());
        if calls.0 != today {
            *calls = (today, 0);
        }
        if calls.1 >= quota {
            return false;
        }
        calls.1 += 1;
        true
    }
}

impl PricingState {
    /// The configured sources, guarded as `[pricing.guard]` says, behind the
    /// handle's tiered cache.
    pub(crate) fn new(g: &Grocery) -> Self {
        let cfg = &g.config().pricing.guard;
        let guard = |source: Arc<dyn PriceSource>| {
            let name = source.name().to_string();
            let retry: RetryConfig = cfg.retry.clone();
            Guarded {
                timeout: Duration::from_millis(cfg.timeout_ms),
                breaker: CircuitBreaker::new(name.clone(), cfg.breaker.clone()),
                bulkhead: Bulkhead::new(
                    name.clone(),
                    cfg.max_concurrent,
                    Duration::from_millis(cfg.max_queue_wait_ms),
                ),
                limiter: Arc::new(RateLimiter::new(
                    name,
                    cfg.rate_per_sec,
                    cfg.burst,
                    Duration::from_millis(cfg.max_rate_wait_ms),
                )),
                budget: Arc::new(RetryBudget::new(&retry)),
                retry,
                source,
                calls_today: Arc::default(),
            }
        };
        PricingState {
            sources: Arc::new(g.price_sources().iter().cloned().map(guard).collect()),
            cache: g.tiered_cache("prices"),
            popularity: Arc::default(),
        }
    }
}

impl<'a> Pricing<'a> {
    pub(crate) fn new(g: &'a Grocery, state: &'a PricingState) -> Self {
        Pricing { g, state }
    }

    /// The current price of a product: from the cache when fresh enough
    /// (`max_age`: how old a price the caller accepts; zero asks the source), else
    /// from the first source that has it. A fresh observation goes into the
    /// price history and is checked against price tracks.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown product or one no source sells; the
    /// source's error when it fails and nothing cached is usable.
    pub async fn price(&self, product_id: &str, max_age: Option<Duration>) -> Result<PriceAnswer> {
        let g = self.g;
        let product = g.catalog().get(product_id)?;
        self.state.popularity.bump(&product.id);
        let cached = self
            .state
            .cache
            .get_with(
                &product.id,
                max_age,
                self.loader(product.clone(), 100, true),
            )
            .await?;
        let quote = cached
            .value
            .ok_or_else(|| Error::not_found("price", product.id.clone()))?;
        Ok(PriceAnswer {
            product_id: product.id.clone(),
            name: product.display_name(),
            price_cents: quote.price.cents,
            unit_price: unit_price(quote.price.cents, &product.size),
            source: quote.source,
            tier: cached.tier,
            stale: cached.stale,
            age_secs: cached.age.as_secs(),
            offers: quote.offers,
            in_stock: quote.in_stock,
        })
    }

    /// Hit and miss counts of the price cache, per tier, in this process.
    pub fn cache_stats(&self) -> CacheStats {
        self.state.cache.stats()
    }

    /// Hit and miss counts of the price cache per tier, summed over every
    /// process that used this database, with each tier's entries now.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn cache_report(&self) -> Result<CacheReport> {
        self.state.cache.report().await
    }

    /// Wait for the background refreshes of stale prices started so far (tests,
    /// shutdown).
    pub async fn wait_for_refreshes(&self) {
        self.state.cache.wait_for_refreshes().await;
    }

    /// Add this process's cache counts to the database's totals.
    pub(crate) async fn flush_stats(&self) -> Result<()> {
        self.state.cache.flush_stats().await
    }

    /// Each configured source in the order they are asked, with its breaker's
    /// state and counts, calls in flight and quota used today.
    pub fn sources(&self) -> Vec<SourceStatus> {
        let today = jiff::Timestamp::now().as_second().div_euclid(86_400);
        self.state
            .sources
            .iter()
            .map(|s| {
                let (day, calls) = *s.calls_today.lock().unwrap_or_else(|e| e.into_inner());
                SourceStatus {
                    name: s.source.name().to_string(),
                    breaker: s.breaker.snapshot(),
                    in_flight: s.bulkhead.in_flight(),
                    calls_today: if day == today { calls } else { 0 },
                    daily_quota: s.source.daily_quota(),
                }
            })
            .collect()
    }

    /// Empty the price cache (memory and SQLite); returns SQLite rows deleted.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn clear_cache(&self) -> Result<usize> {
        self.state.cache.clear().await
    }

    /// What the cache calls on a miss: ask the sources, record a fresh price in
    /// the history and check it against tracks.
    /// `quota_percent`: the share of each source's daily quota this call may
    /// use (100 for people's requests, less for the warmer); `check`: whether to
    /// check a new price against tracks here (the scheduled check does it itself).
    fn loader(
        &self,
        product: crate::catalog::Product,
        quota_percent: u32,
        check: bool,
    ) -> impl FnOnce() -> BoxFuture<'static, Result<Option<Quote>>> + Send + 'static {
        let sources = Arc::clone(&self.state.sources);
        let g = self.g.clone();
        move || {
            Box::pin(async move {
                let quote = fetch(&sources, &product, quota_percent).await?;
                if let Some(q) = &quote {
                    let prices = g.prices();
                    if prices
                        .record(&q.product_id, &q.source, q.price, Some(q.observed_at))
                        .await?
                    {
                        g.publish(super::Event::PriceChanged(super::PriceChange {
                            product_id: q.product_id.clone(),
                            source: q.source.clone(),
                            price: q.price,
                            at: q.observed_at,
                        }));
                        if check {
                            prices.check_at(&q.product_id, q.price).await?;
                        }
                    }
                }
                Ok(quote)
            })
        }
    }

    /// Refresh the `top` most asked-for products (by decaying request counts;
    /// the catalog's everyday popularity fills in when few requests were seen)
    /// whose cached price is older than `refresh_after`, so they never expire in
    /// the cache; `progress(done, total)` after each. Sources' rate limits and
    /// quotas apply as for any call. Returns how many were fetched.
    ///
    /// # Errors
    /// The first source failure other than an unknown product.
    pub async fn warm(
        &self,
        top: usize,
        refresh_after: Duration,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<usize> {
        let quota_percent = self.g.config().pricing.warm_quota_percent;
        let mut ids = self.state.popularity.top(top);
        if ids.len() < top {
            for id in self.g.catalog().most_popular(top) {
                if ids.len() >= top {
                    break;
                }
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        let total = ids.len();
        let mut fetched = 0;
        for (k, id) in ids.iter().enumerate() {
            let Ok(product) = self.g.catalog().get(id) else {
                continue;
            };
            let got = self
                .state
                .cache
                .get_with(
                    id,
                    Some(refresh_after),
                    self.loader(product, quota_percent, true),
                )
                .await;
            match got {
                Ok(c) => fetched += usize::from(c.tier == Tier::Upstream),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            progress(k + 1, total);
        }
        Ok(fetched)
    }

    /// Price every product anyone tracks (from the cache when its price is at
    /// most `max_age` old, else from its source) and check the tracks against
    /// it: each new crossing raises one alert, stored and published on
    /// [`Grocery::subscribe`]. Returns the alerts raised. A product whose source
    /// fails is skipped (logged) and checked next time.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn check_tracks(&self, max_age: Duration) -> Result<Vec<super::Alert>> {
        let mut alerts = Vec::new();
        for id in self.g.store().tracked_products().await? {
            let Ok(product) = self.g.catalog().get(&id) else {
                continue;
            };
            let got = self
                .state
                .cache
                .get_with(&id, Some(max_age), self.loader(product, 100, false))
                .await;
            match got.map(|c| c.value) {
                Ok(Some(quote)) => {
                    alerts.extend(self.g.prices().check_at(&id, quote.price).await?);
                }
                Ok(None) => {}
                Err(e) if e.kind() == crate::ErrorKind::Internal => return Err(e),
                Err(e) => tracing::warn!(product = %id, error = %e, "tracked product not priced"),
            }
        }
        Ok(alerts)
    }

    /// Start the scheduled jobs `[pricing]` asks for, in the background: the
    /// warmer (every `warm_every_secs`, the `warm_top` most asked-for products,
    /// refreshing prices older than `warm_refresh_after_secs`) and the check of
    /// tracked products (every `check_every_secs`). The tasks end when the last
    /// handle is dropped; a failed round is logged and the next one runs. Needs
    /// a tokio runtime (does nothing outside one). The server calls this.
    pub fn start_background(&self) {
        let cfg = &self.g.config().pricing;
        if cfg.warm_top > 0 && cfg.warm_every_secs > 0 {
            let (top, refresh_after) = (
                cfg.warm_top,
                Duration::from_secs(cfg.warm_refresh_after_secs),
            );
            self.every(Duration::from_secs(cfg.warm_every_secs), move |g| {
                Box::pin(async move {
                    g.pricing()
                        .warm(top, refresh_after, |_, _| {})
                        .await
                        .map(drop)
                })
            });
        }
        if cfg.check_every_secs > 0 {
            let every = Duration::from_secs(cfg.check_every_secs);
            self.every(every, move |g| {
                Box::pin(async move { g.pricing().check_tracks(every).await.map(drop) })
            });
        }
    }

    /// Run `round` every `every` (the first one at once) while a handle lives.
    fn every(
        &self,
        every: Duration,
        round: impl Fn(Grocery) -> BoxFuture<'static, Result<()>> + Send + 'static,
    ) {
        let weak = self.g.downgrade();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(g) = Grocery::upgrade(&weak) else {
                    break;
                };
                if let Err(e) = round(g).await {
                    tracing::warn!(error = %e, "scheduled pricing round failed");
                }
            }
        });
    }
}

/// Ask the sources in order for `product`; `None` when none sells it.
async fn fetch(
    sources: &[Guarded],
    product: &crate::catalog::Product,
    quota_percent: u32,
) -> Result<Option<Quote>> {
    let mut last_err = None;
    for s in sources {
        // Out of quota for today: skipped, not hammered.
        if !s.take_quota(quota_percent) {
            tracing::debug!(source = s.source.name(), "daily quota used up; skipping");
            continue;
        }
        let one = std::slice::from_ref(product);
        let attempt = retry(&s.retry, &s.budget, || async {
            s.limiter.acquire().await?;
            let started = std::time::Instant::now();
            let out = s
                .bulkhead
                .run(s.breaker.call(s.timeout, s.source.quote(one)))
                .await;
            let outcome = match &out {
                Ok(_) => "ok",
                Err(e) if crate::resilience::BreakerOpen::is_rejection(e) => "rejected",
                Err(_) => "error",
            };
            metrics::histogram!(
                "grocery_upstream_request_duration_seconds",
                "source" => s.source.name().to_string(),
                "outcome" => outcome,
            )
            .record(started.elapsed().as_secs_f64());
            out
        })
        .await;
        match attempt {
            Ok(quotes) => {
                if let Some(q) = quotes.into_iter().find(|q| q.product_id == product.id) {
                    return Ok(Some(q));
                }
            }
            Err(e) => {
                tracing::warn!(source = s.source.name(), error = %e, "price source failed");
                last_err = Some(e);
            }
        }
    }
    match last_err {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// "$0.03/fl oz": the price of one unit of the pack's own unit.
fn unit_price(cents: i64, size: &crate::Quantity) -> String {
    let amount = size.amount.ratio();
    if *amount.numer() <= 0 {
        return String::new();
    }
    // Tenths of a cent, rounded, without floats.
    let tenths =
        (i128::from(cents) * 10 * amount.denom() * 2 + amount.numer()) / (amount.numer() * 2);
    format!("${}.{:03}/{}", tenths / 1000, tenths % 1000, size.unit)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_store_falls_back_to_the_next_and_its_quota_is_kept() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::Config::default();
        config.store.path = Some(dir.path().join("g.db"));
        config.pricing.walmart = Some(crate::pricing::http::WalmartConfig {
            base_url: dead,
            consumer_id: "c".into(),
            api_key: crate::config::Secret::new("k"),
            daily_quota: 2,
            timeout_ms: 500,
        });
        let g = Grocery::open(config).await.unwrap();
        assert_eq!(g.price_sources().len(), 2);
        for q in ["milk", "eggs", "bread", "coffee"] {
            let id = g.catalog().search(q, 1).await.unwrap().remove(0).product.id;
            let started = std::time::Instant::now();
            let a = g.pricing().price(&id, None).await.unwrap();
            assert_eq!(a.source, "demo", "{q}");
            assert!(started.elapsed() < Duration::from_secs(5));
        }
        let walmart = &g.pricing().state.sources[0];
        assert_eq!(
            walmart.calls_today.lock().unwrap().1,
            2,
            "skipped once the quota is used"
        );
    }

    #[test]
    fn unit_prices_are_exact() {
        let gal = crate::Quantity::parse("1 gal").unwrap();
        assert_eq!(unit_price(389, &gal), "$3.890/gal");
        let oz = crate::Quantity::parse("16 oz").unwrap();
        assert_eq!(unit_price(499, &oz), "$0.312/oz");
    }

    #[tokio::test]
    async fn prices_come_from_the_source_once_then_the_cache_and_go_into_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::Config::default();
        config.store.path = Some(dir.path().join("g.db"));
        let g = Grocery::open(config).await.unwrap();
        let milk = g
            .catalog()
            .search("milk", 1)
            .await
            .unwrap()
            .remove(0)
            .product;
        let first = g.pricing().price(&milk.id, None).await.unwrap();
        assert_eq!(first.tier, Tier::Upstream);
        assert_eq!(first.source, "demo");
        assert!(first.price_cents > 0 && !first.stale);
        let again = g.pricing().price(&milk.id, None).await.unwrap();
        assert_eq!(again.tier, Tier::L1);
        assert_eq!(again.price_cents, first.price_cents);
        // "Live" asks the source again.
        let live = g
            .pricing()
            .price(&milk.id, Some(Duration::ZERO))
            .await
            .unwrap();
        assert_eq!(live.tier, Tier::Upstream);
        // The observation is in the history once (unchanged prices add no row).
        let history = g.prices().history(&milk.id, None).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].price.cents, first.price_cents);
        let stats = g.pricing().cache_stats();
        assert!(stats.l1.hits >= 1, "{stats:?}");
        assert_eq!(
            g.pricing()
                .price("no-such-product", None)
                .await
                .unwrap_err()
                .kind(),
            crate::ErrorKind::NotFound
        );
        // Warming prices the most popular products.
        let mut seen = 0;
        // Milk was asked for, so it is first; the catalog's popular products fill
        // in. Nothing fresh is fetched again; an old price is.
        let fetched = g
            .pricing()
            .warm(5, Duration::from_secs(3600), |d, _| seen = d)
            .await
            .unwrap();
        assert_eq!(seen, 5);
        assert_eq!(fetched, 4, "milk is fresh in the cache");
        let again = g
            .pricing()
            .warm(5, Duration::from_secs(3600), |_, _| {})
            .await
            .unwrap();
        assert_eq!(again, 0);
        let refreshed = g
            .pricing()
            .warm(5, Duration::ZERO, |_, _| {})
            .await
            .unwrap();
        assert_eq!(refreshed, 5);
    }
}
