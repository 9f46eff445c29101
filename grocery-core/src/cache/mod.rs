//! A read-through cache in three tiers, in front of a slow or rate-limited
//! upstream (the pricing service).
//!
//! A read asks **L1** (memory, [`moka`], per process), then **L2** (Redis, shared
//! by processes, optional), then **L3** (SQLite, the `cache_entries` table), then
//! the **upstream** through the caller's loader, and fills the faster tiers on the
//! way back. Each tier keeps an entry *fresh* for its TTL ([`CacheConfig`]) and
//! then *stale* for up to `max_stale_secs` more:
//!
//! - fresh: served as is;
//! - stale, and no faster-or-slower tier has a fresh copy: served with
//!   [`Cached::stale`] set, and refreshed in the background (stale-while-revalidate).
//!   A failed refresh is logged and counted; the entry keeps being served until
//!   `max_stale` runs out, then the next read waits for the upstream and gets its error;
//! - older: ignored.
//!
//! A caller-given `max_age` ignores entries fetched longer ago;
//! `Some(Duration::ZERO)` skips every tier and asks the upstream (the answer still
//! fills the tiers). Identical concurrent misses share one loader call.
//!
//! The loader answers `Ok(None)` when the upstream says the key does not exist.
//! That answer is cached too (for `negative_ttl_secs`) and returned as
//! `Cached { value: None, .. }`, so the caller decides whether it is an error.
//!
//! A cache failure (Redis down, a storage error, an undecodable entry) is logged
//! and counted in [`CacheStats`], never returned: the read falls through to the
//! next tier and, at worst, to the upstream. All SQLite work runs on the blocking
//! pool through the store.
//!
//! ```no_run
//! use std::time::Duration;
//! use grocery_core::{Config, Grocery};
//!
//! # async fn demo() -> grocery_core::Result<()> {
//! let g = Grocery::open(Config::default()).await?;
//! let prices = g.tiered_cache::<String, u64>("prices");
//! let hit = prices
//!     .get_with(&"milk".to_string(), None, || async { Ok(Some(349)) })
//!     .await?;
//! println!("{:?} from {:?}, {:?} old", hit.value, hit.tier, hit.age);
//! # Ok(()) }
//! ```

mod redis;

pub use self::redis::RedisTier;

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::config::Secret;
use crate::error::{Error, Result};
use crate::store::Store;

/// The `[cache]` section: sizes and TTLs of the tiers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Entries kept in memory (L1), per cache.
    pub l1_entries: u64,
    /// Freshness of an entry in memory, in seconds.
    pub l1_ttl_secs: u64,
    /// Freshness of an entry in Redis, in seconds.
    pub l2_ttl_secs: u64,
    /// Freshness of an entry in SQLite, in seconds.
    pub l3_ttl_secs: u64,
    /// Freshness of a "does not exist" answer, in seconds (capped by each tier's TTL).
    pub negative_ttl_secs: u64,
    /// How long past its freshness an entry may still be served, stale, in seconds.
    pub max_stale_secs: u64,
    /// Redis server for L2; `None` means no L2. `GROCERY_REDIS_URL` also sets it.
    pub redis_url: Option<Secret>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            l1_entries: 10_000,
            l1_ttl_secs: 60,
            l2_ttl_secs: 300,
            l3_ttl_secs: 30 * 24 * 3600,
            negative_ttl_secs: 300,
            max_stale_secs: 3600,
            redis_url: None,
        }
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Tier {
    /// Process memory.
    L1,
    /// Redis.
    L2,
    /// SQLite.
    L3,
    /// The loader, just now.
    Upstream,
}

/// One answer of [`TieredCache::get_with`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cached<V> {
    /// The value; `None` when the upstream said the key does not exist.
    pub value: Option<V>,
    /// The tier that answered.
    pub tier: Tier,
    /// Past its freshness (served while a refresh runs, or because the upstream failed).
    pub stale: bool,
    /// Time since the upstream produced the value.
    pub age: Duration,
}

/// Hits and misses of one tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierStats {
    /// Reads this tier answered (fresh or stale).
    pub hits: u64,
    /// Reads that asked this tier and went on.
    pub misses: u64,
    /// Reads that did not ask this tier because it was down (L2).
    pub skipped: u64,
    /// Failed reads or writes (errors, undecodable entries); logged.
    pub errors: u64,
}

/// Counters of one [`TieredCache`], as returned by [`TieredCache::stats`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    /// The cache's name.
    pub name: String,
    /// Calls to [`TieredCache::get_with`].
    pub requests: u64,
    /// Memory.
    pub l1: TierStats,
    /// Redis (all zero without Redis).
    pub l2: TierStats,
    /// SQLite (all zero without a store).
    pub l3: TierStats,
    /// Loader calls, foreground and background.
    pub loads: u64,
    /// Loader calls that failed.
    pub load_errors: u64,
    /// Answers served stale.
    pub stale_served: u64,
    /// Requests answered by a tier (not the upstream), over all requests; 0 when none.
    pub hit_ratio: f64,
    /// Entries in memory now (approximate: moka counts lazily).
    pub l1_entries: u64,
}

/// Cumulative counters of one tier, as [`TieredCache::report`] gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TierReport {
    /// Reads this tier answered (fresh or stale).
    pub hits: u64,
    /// Reads that asked this tier and went on.
    pub misses: u64,
    /// Reads that did not ask this tier because it was down (L2).
    pub skipped: u64,
    /// Failed reads or writes.
    pub errors: u64,
    /// `hits / (hits + misses)`; 0 when the tier was never asked.
    pub hit_ratio: f64,
    /// Entries the tier holds now; `None` when it cannot be counted (no Redis
    /// configured, or Redis down).
    pub entries: Option<u64>,
}

/// Counters of one [`TieredCache`] added up over every process that used the
/// same database (each flushes its counts there), with the tiers' sizes now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheReport {
    /// The cache's name.
    pub name: String,
    /// Reads, in all.
    pub requests: u64,
    /// Reads answered by a tier (not the upstream), over all reads; 0 when none.
    pub hit_ratio: f64,
    /// Memory (entries: this process's).
    pub l1: TierReport,
    /// Redis.
    pub l2: TierReport,
    /// SQLite.
    pub l3: TierReport,
    /// Upstream (loader) calls, foreground and background.
    pub upstream_calls: u64,
    /// Upstream calls that failed.
    pub upstream_errors: u64,
    /// Answers served stale.
    pub stale_served: u64,
}

/// The names under which [`TieredCache::flush_stats`] stores the counters, in
/// the order of [`flat`].
const COUNTER_NAMES: [&str; 15] = [
    "requests",
    "l1_hits",
    "l1_misses",
    "l1_skipped",
    "l1_errors",
    "l2_hits",
    "l2_misses",
    "l2_skipped",
    "l2_errors",
    "l3_hits",
    "l3_misses",
    "l3_skipped",
    "l3_errors",
    "loads",
    "load_errors",
];

/// Stale answers are stored under this name, after [`COUNTER_NAMES`].
const STALE_NAME: &str = "stale_served";

/// The counters of `s` as one array: [`COUNTER_NAMES`], then stale answers.
fn flat(s: &CacheStats) -> [u64; 16] {
    let t = |t: &TierStats| [t.hits, t.misses, t.skipped, t.errors];
    let [a, b, c, d] = t(&s.l1);
    let [e, f, g, h] = t(&s.l2);
    let [i, j, k, l] = t(&s.l3);
    [
        s.requests,
        a,
        b,
        c,
        d,
        e,
        f,
        g,
        h,
        i,
        j,
        k,
        l,
        s.loads,
        s.load_errors,
        s.stale_served,
    ]
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[derive(Default)]
struct TierCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    skipped: AtomicU64,
    errors: AtomicU64,
}

impl TierCounters {
    fn snapshot(&self) -> TierStats {
        TierStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    l1: TierCounters,
    l2: TierCounters,
    l3: TierCounters,
    loads: AtomicU64,
    load_errors: AtomicU64,
    stale_served: AtomicU64,
}

/// What the upstream said, as stored in every tier.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Stored<V> {
    Found(V),
    Missing,
}

impl<V> Stored<V> {
    fn into_option(self) -> Option<V> {
        match self {
            Stored::Found(v) => Some(v),
            Stored::Missing => None,
        }
    }
}

/// An entry in L1 and L2 (as JSON). Times are Unix milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry<V> {
    value: Stored<V>,
    fetched_at: i64,
    fresh_until: i64,
}

enum Judgement {
    Fresh,
    Stale,
    Unusable,
}

/// The clock the cache judges freshness by; tests use a manual one.
#[derive(Clone)]
enum Clock {
    System,
    #[cfg_attr(not(test), allow(dead_code))]
    Manual(Arc<AtomicI64>),
}

impl Clock {
    fn now_ms(&self) -> i64 {
        match self {
            Clock::System => crate::store::now_ms(),
            Clock::Manual(ms) => ms.load(Ordering::SeqCst),
        }
    }
}

type Flight<V> = Arc<OnceCell<std::result::Result<(Entry<V>, Tier), Arc<Error>>>>;

/// A named read-through cache over memory, Redis and SQLite; cheap to clone.
///
/// Keys are turned into strings with `Display` (`cache name` + key is the
/// identity in Redis and SQLite, so two caches never share entries); values are
/// stored in Redis and SQLite as JSON. See the [module docs](self) for the rules.
pub struct TieredCache<K, V> {
    inner: Arc<Inner<V>>,
    _key: PhantomData<fn(&K)>,
}

impl<K, V> Clone for TieredCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            _key: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for TieredCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TieredCache")
            .field("name", &self.inner.name)
            .field("redis", &self.inner.redis.is_some())
            .field("store", &self.inner.store.is_some())
            .finish_non_exhaustive()
    }
}

struct Inner<V> {
    name: String,
    config: CacheConfig,
    l1: moka::future::Cache<String, Entry<V>>,
    redis: Option<RedisTier>,
    store: Option<Store>,
    clock: Clock,
    counters: Counters,
    flights: Mutex<HashMap<String, Flight<V>>>,
    /// The counters as last added to the store by [`TieredCache::flush_stats`].
    flushed: tokio::sync::Mutex<[u64; 16]>,
    refreshes: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

fn secs_ms(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
}

fn ms_duration(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An error handed to every caller that shared one failed loader call.
fn share_error(e: &Error) -> Error {
    match e {
        Error::NotFound { what, id } => Error::NotFound {
            what,
            id: id.clone(),
        },
        Error::Timeout { service } => Error::Timeout {
            service: service.clone(),
        },
        Error::Upstream { service, source } => Error::Upstream {
            service: service.clone(),
            // Typed reasons callers act on stay typed; others become their text.
            source: if let Some(open) = source.downcast_ref::<crate::resilience::BreakerOpen>() {
                Box::new(open.clone())
            } else if let Some(limited) = source.downcast_ref::<crate::resilience::RateLimited>() {
                Box::new(limited.clone())
            } else {
                source.to_string().into()
            },
        },
        Error::InvalidInput(m) => Error::InvalidInput(m.clone()),
        Error::Conflict(m) => Error::Conflict(m.clone()),
        Error::Config(m) => Error::Config(m.clone()),
        other => Error::Internal(other.to_string()),
    }
}

impl<K, V> TieredCache<K, V>
where
    K: Display + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// A cache named `name` (the namespace in Redis and SQLite) over memory,
    /// Redis when given and the store when given. [`crate::Grocery::tiered_cache`]
    /// builds one with the handle's store and Redis.
    pub(crate) fn new(
        name: impl Into<String>,
        config: CacheConfig,
        store: Option<Store>,
        redis: Option<RedisTier>,
    ) -> Self {
        // moka drops an entry once it can no longer be served even stale; the
        // freshness itself is judged against `Entry::fresh_until`.
        let keep = Duration::from_secs(config.l1_ttl_secs.saturating_add(config.max_stale_secs));
        let l1 = moka::future::Cache::builder()
            .max_capacity(config.l1_entries)
            .time_to_live(keep.max(Duration::from_secs(1)))
            .build();
        TieredCache {
            inner: Arc::new(Inner {
                name: name.into(),
                config,
                l1,
                redis,
                store,
                clock: Clock::System,
                counters: Counters::default(),
                flights: Mutex::new(HashMap::new()),
                flushed: tokio::sync::Mutex::new([0; 16]),
                refreshes: Mutex::new(Vec::new()),
            }),
            _key: PhantomData,
        }
    }

    /// A cache over memory only (no Redis, no SQLite), e.g. for tests and tools.
    pub fn in_memory(name: impl Into<String>, config: CacheConfig) -> Self {
        Self::new(name, config, None, None)
    }

    /// A cache over memory and the given Redis tier, without SQLite.
    pub fn with_redis(name: impl Into<String>, config: CacheConfig, redis: RedisTier) -> Self {
        Self::new(name, config, None, Some(redis))
    }

    #[cfg(test)]
    fn with_clock(mut self, clock: Clock) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("clock is set before the cache is shared")
            .clock = clock;
        self
    }

    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The value of `key`, from the fastest tier that has it (at most `max_age`
    /// old when given), else from `loader`, which the tiers then keep.
    ///
    /// `loader` is called at most once per key at a time: concurrent misses of
    /// one key wait for the same call. It may also be run in the background to
    /// refresh a stale entry, hence `Send + 'static`.
    ///
    /// # Errors
    /// The loader's error, when no usable cached value exists (identical errors
    /// for every caller that shared the call; kinds are kept). Cache failures are
    /// never returned.
    #[tracing::instrument(level = "debug", skip_all, err, fields(cache = %self.inner.name))]
    pub async fn get_with<F, Fut>(
        &self,
        key: &K,
        max_age: Option<Duration>,
        loader: F,
    ) -> Result<Cached<V>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<V>>> + Send + 'static,
    {
        let inner = &self.inner;
        let c = &inner.counters;
        bump(&c.requests);
        let key = key.to_string();
        let live = max_age == Some(Duration::ZERO);
        if live {
            let (entry, tier) = self.load(key, max_age, loader).await?;
            return Ok(self.answer(entry, tier, false));
        }
        let mut stale: Option<(Entry<V>, Tier)> = None;

        // L1
        match inner.l1.get(&key).await.map(|e| {
            let j = self.judge(&e, max_age);
            (e, j)
        }) {
            Some((e, Judgement::Fresh)) => {
                bump(&c.l1.hits);
                return Ok(self.answer(e, Tier::L1, false));
            }
            Some((e, Judgement::Stale)) => {
                bump(&c.l1.misses);
                stale = Some((e, Tier::L1));
            }
            _ => bump(&c.l1.misses),
        }

        // L2
        if let Some(redis) = &inner.redis {
            match redis.get(&self.redis_key(&key)).await {
                Ok(Some(json)) => match serde_json::from_str::<Entry<V>>(&json) {
                    Ok(e) => match self.judge(&e, max_age) {
                        Judgement::Fresh => {
                            bump(&c.l2.hits);
                            self.fill_l1(&key, &e).await;
                            return Ok(self.answer(e, Tier::L2, false));
                        }
                        Judgement::Stale => {
                            bump(&c.l2.misses);
                            keep_newer(&mut stale, e, Tier::L2);
                        }
                        Judgement::Unusable => bump(&c.l2.misses),
                    },
                    Err(err) => {
                        bump(&c.l2.errors);
                        bump(&c.l2.misses);
                        tracing::debug!(error = %err, key, "undecodable redis cache entry");
                    }
                },
                Ok(None) => bump(&c.l2.misses),
                Err(redis::Unavailable::Skipped) => bump(&c.l2.skipped),
                Err(redis::Unavailable::Failed) => {
                    bump(&c.l2.errors);
                    bump(&c.l2.skipped);
                }
            }
        }

        // L3
        if let Some(store) = &inner.store {
            match store.cache_get(inner.name.clone(), key.clone()).await {
                Ok(Some((json, fetched_at))) => match serde_json::from_str::<Stored<V>>(&json) {
                    Ok(value) => {
                        let ttl = match value {
                            Stored::Found(_) => inner.config.l3_ttl_secs,
                            Stored::Missing => inner.config.negative_ttl_secs,
                        };
                        let e = Entry {
                            value,
                            fetched_at,
                            fresh_until: fetched_at.saturating_add(secs_ms(ttl)),
                        };
                        match self.judge(&e, max_age) {
                            Judgement::Fresh => {
                                bump(&c.l3.hits);
                                self.fill_l2(&key, &e).await;
                                self.fill_l1(&key, &e).await;
                                return Ok(self.answer(e, Tier::L3, false));
                            }
                            Judgement::Stale => {
                                bump(&c.l3.misses);
                                keep_newer(&mut stale, e, Tier::L3);
                            }
                            Judgement::Unusable => bump(&c.l3.misses),
                        }
                    }
                    Err(err) => {
                        bump(&c.l3.errors);
                        bump(&c.l3.misses);
                        tracing::debug!(error = %err, key, "undecodable sqlite cache entry");
                    }
                },
                Ok(None) => bump(&c.l3.misses),
                Err(err) => {
                    bump(&c.l3.errors);
                    bump(&c.l3.misses);
                    tracing::warn!(error = %err, "sqlite cache tier read failed");
                }
            }
        }

        if let Some((e, tier)) = stale {
            match tier {
                Tier::L1 => bump(&c.l1.hits),
                Tier::L2 => bump(&c.l2.hits),
                Tier::L3 => bump(&c.l3.hits),
                Tier::Upstream => {}
            }
            bump(&c.stale_served);
            self.spawn_refresh(key, loader);
            return Ok(self.answer(e, tier, true));
        }
        let (entry, tier) = self.load(key, max_age, loader).await?;
        Ok(self.answer(entry, tier, false))
    }

    /// Drop `key` from every tier. A Redis that is down is skipped (logged): its
    /// copy expires within `l2_ttl_secs` + `max_stale_secs`.
    ///
    /// # Errors
    /// Storage errors from deleting the SQLite row.
    #[tracing::instrument(level = "debug", skip_all, err, fields(cache = %self.inner.name))]
    pub async fn invalidate(&self, key: &K) -> Result<()> {
        let key = key.to_string();
        self.inner.l1.invalidate(&key).await;
        if let Some(redis) = &self.inner.redis
            && redis.del(&self.redis_key(&key)).await.is_err()
        {
            bump(&self.inner.counters.l2.errors);
            tracing::debug!(key, "could not delete from the redis cache tier");
        }
        if let Some(store) = &self.inner.store {
            store.cache_delete(self.inner.name.clone(), key).await?;
        }
        Ok(())
    }

    /// Drop `key` from memory only, so the next read asks Redis and SQLite
    /// (tests, or a process told by others that its copy is outdated).
    pub async fn invalidate_l1(&self, key: &K) {
        self.inner.l1.invalidate(&key.to_string()).await;
    }

    /// Delete this cache's SQLite rows that can no longer be served (older than
    /// `l3_ttl_secs` + `max_stale_secs`); returns how many.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn purge_expired(&self) -> Result<usize> {
        let Some(store) = &self.inner.store else {
            return Ok(0);
        };
        let cfg = &self.inner.config;
        let keep = secs_ms(cfg.l3_ttl_secs.max(cfg.negative_ttl_secs))
            .saturating_add(secs_ms(cfg.max_stale_secs));
        let before = self.inner.clock.now_ms().saturating_sub(keep);
        store.cache_purge(self.inner.name.clone(), before).await
    }

    /// Empty this cache in memory, in Redis (shared with other processes; their
    /// memory copies expire within `l1_ttl_secs`) and in SQLite, and reset its
    /// cumulative counters; returns the Redis and SQLite entries deleted. Redis
    /// down is not an error: its copies expire on their own.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn clear(&self) -> Result<usize> {
        self.inner.l1.invalidate_all();
        let mut removed = 0;
        if let Some(redis) = &self.inner.redis {
            let pattern = self.redis_key("*");
            if let Ok(keys) = redis.scan(&pattern, usize::MAX).await
                && let Ok(n) = redis.del_many(&keys).await
            {
                removed += usize::try_from(n).unwrap_or(usize::MAX);
            }
        }
        if let Some(store) = &self.inner.store {
            let mut flushed = self.inner.flushed.lock().await;
            removed += store.cache_purge(self.inner.name.clone(), i64::MAX).await?;
            store.cache_counters_reset(self.inner.name.clone()).await?;
            *flushed = flat(&self.stats());
        }
        Ok(removed)
    }

    /// Wait for the background refreshes started so far (tests, shutdown).
    pub async fn wait_for_refreshes(&self) {
        loop {
            let handles: Vec<_> = std::mem::take(
                &mut *self
                    .inner
                    .refreshes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            if handles.is_empty() {
                return;
            }
            for h in handles {
                if let Err(e) = h.await {
                    tracing::warn!(error = %e, "cache refresh task failed");
                }
            }
        }
    }

    /// Add this process's counts since the last flush to the store's
    /// cumulative counters, so that other processes (a one-shot `grocery cache
    /// stats`) see them. [`crate::Grocery::flush`] does it for the price cache.
    ///
    /// # Errors
    /// Storage errors; the counts stay pending for the next flush.
    pub async fn flush_stats(&self) -> Result<()> {
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        let mut flushed = self.inner.flushed.lock().await;
        let now = flat(&self.stats());
        let names = COUNTER_NAMES.iter().copied().chain([STALE_NAME]);
        let deltas: Vec<(&'static str, u64)> = names
            .zip(now.iter().zip(flushed.iter()))
            .map(|(name, (n, f))| (name, n.saturating_sub(*f)))
            .filter(|(_, d)| *d > 0)
            .collect();
        if deltas.is_empty() {
            return Ok(());
        }
        store
            .cache_counters_add(self.inner.name.clone(), deltas)
            .await?;
        *flushed = now;
        Ok(())
    }

    /// Hits, misses and hit ratios per tier summed over every process that
    /// flushed into this database (this one is flushed first), with the number
    /// of entries each tier holds now. Without a store, this process's counts.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn report(&self) -> Result<CacheReport> {
        self.flush_stats().await?;
        let totals = match &self.inner.store {
            Some(store) => {
                let stored = store.cache_counters(self.inner.name.clone()).await?;
                let mut v = [0_u64; 16];
                for (slot, name) in v
                    .iter_mut()
                    .zip(COUNTER_NAMES.iter().copied().chain([STALE_NAME]))
                {
                    *slot = stored.get(name).copied().unwrap_or(0);
                }
                v
            }
            None => flat(&self.stats()),
        };
        let l3_entries = match &self.inner.store {
            Some(store) => Some(store.cache_len(self.inner.name.clone()).await?),
            None => None,
        };
        let l2_entries = match &self.inner.redis {
            Some(redis) => redis
                .scan(&self.redis_key("*"), 10_000_000)
                .await
                .ok()
                .map(|keys| keys.len() as u64),
            None => None,
        };
        self.inner.l1.run_pending_tasks().await;
        let tier = |i: usize, entries: Option<u64>| TierReport {
            hits: totals[i],
            misses: totals[i + 1],
            skipped: totals[i + 2],
            errors: totals[i + 3],
            hit_ratio: ratio(totals[i], totals[i] + totals[i + 1]),
            entries,
        };
        let requests = totals[0];
        Ok(CacheReport {
            name: self.inner.name.clone(),
            requests,
            hit_ratio: ratio(totals[1] + totals[5] + totals[9], requests),
            l1: tier(1, Some(self.inner.l1.entry_count())),
            l2: tier(5, l2_entries),
            l3: tier(9, l3_entries),
            upstream_calls: totals[13],
            upstream_errors: totals[14],
            stale_served: totals[15],
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        let l1 = c.l1.snapshot();
        let l2 = c.l2.snapshot();
        let l3 = c.l3.snapshot();
        let requests = c.requests.load(Ordering::Relaxed);
        let hits = l1.hits + l2.hits + l3.hits;
        CacheStats {
            name: self.inner.name.clone(),
            requests,
            l1,
            l2,
            l3,
            loads: c.loads.load(Ordering::Relaxed),
            load_errors: c.load_errors.load(Ordering::Relaxed),
            stale_served: c.stale_served.load(Ordering::Relaxed),
            hit_ratio: if requests == 0 {
                0.0
            } else {
                hits as f64 / requests as f64
            },
            l1_entries: self.inner.l1.entry_count(),
        }
    }

    fn redis_key(&self, key: &str) -> String {
        format!("grocery:cache:{}:{key}", self.inner.name)
    }

    fn judge(&self, e: &Entry<V>, max_age: Option<Duration>) -> Judgement {
        let now = self.inner.clock.now_ms();
        if let Some(max) = max_age
            && now.saturating_sub(e.fetched_at) > duration_ms(max)
        {
            return Judgement::Unusable;
        }
        if now < e.fresh_until {
            Judgement::Fresh
        } else if now
            < e.fresh_until
                .saturating_add(secs_ms(self.inner.config.max_stale_secs))
        {
            Judgement::Stale
        } else {
            Judgement::Unusable
        }
    }

    fn answer(&self, e: Entry<V>, tier: Tier, stale: bool) -> Cached<V> {
        let age = self.inner.clock.now_ms().saturating_sub(e.fetched_at);
        Cached {
            value: e.value.into_option(),
            tier,
            stale,
            age: ms_duration(age),
        }
    }

    /// `e` as a tier with freshness `ttl_secs` keeps it: fresh for the TTL from
    /// now, but never longer than the copy it came from.
    fn for_tier(&self, e: &Entry<V>, ttl_secs: u64) -> Entry<V> {
        let ttl = match e.value {
            Stored::Found(_) => ttl_secs,
            Stored::Missing => ttl_secs.min(self.inner.config.negative_ttl_secs),
        };
        let now = self.inner.clock.now_ms();
        Entry {
            value: e.value.clone(),
            fetched_at: e.fetched_at,
            fresh_until: e.fresh_until.min(now.saturating_add(secs_ms(ttl))),
        }
    }

    async fn fill_l1(&self, key: &str, e: &Entry<V>) {
        let e = self.for_tier(e, self.inner.config.l1_ttl_secs);
        self.inner.l1.insert(key.to_string(), e).await;
    }

    async fn fill_l2(&self, key: &str, e: &Entry<V>) {
        let Some(redis) = &self.inner.redis else {
            return;
        };
        let e = self.for_tier(e, self.inner.config.l2_ttl_secs);
        let json = match serde_json::to_string(&e) {
            Ok(j) => j,
            Err(err) => {
                bump(&self.inner.counters.l2.errors);
                tracing::warn!(error = %err, "cache value does not serialize");
                return;
            }
        };
        // Redis keeps it as long as it can be served, stale included.
        let keep = e
            .fresh_until
            .saturating_sub(self.inner.clock.now_ms())
            .saturating_add(secs_ms(self.inner.config.max_stale_secs));
        if redis
            .set(&self.redis_key(key), &json, ms_duration(keep))
            .await
            .is_err()
        {
            bump(&self.inner.counters.l2.errors);
        }
    }

    async fn fill_l3(&self, key: &str, e: &Entry<V>) {
        let Some(store) = &self.inner.store else {
            return;
        };
        let json = match serde_json::to_string(&e.value) {
            Ok(j) => j,
            Err(err) => {
                bump(&self.inner.counters.l3.errors);
                tracing::warn!(error = %err, "cache value does not serialize");
                return;
            }
        };
        if let Err(err) = store
            .cache_put(self.inner.name.clone(), key.to_string(), json, e.fetched_at)
            .await
        {
            bump(&self.inner.counters.l3.errors);
            tracing::warn!(error = %err, "sqlite cache tier write failed");
        }
    }

    /// Ask the upstream, sharing the call with concurrent callers of the same key.
    /// Live calls (`max_age` zero, background refreshes) share only among
    /// themselves, so they never get an answer from memory.
    async fn load<F, Fut>(
        &self,
        key: String,
        max_age: Option<Duration>,
        loader: F,
    ) -> Result<(Entry<V>, Tier)>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<V>>> + Send + 'static,
    {
        let live = max_age == Some(Duration::ZERO);
        let flight_key = flight_key(&key, live);
        let flight: Flight<V> = Arc::clone(
            self.inner
                .flights
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(flight_key.clone())
                .or_default(),
        );
        let out = flight
            .get_or_init(|| async {
                // A call that finished between this caller's miss and now has
                // filled L1: use that rather than asking again.
                if !live
                    && let Some(e) = self.inner.l1.get(&key).await
                    && matches!(self.judge(&e, max_age), Judgement::Fresh)
                {
                    return Ok((e, Tier::L1));
                }
                self.fetch(&key, loader).await.map_err(Arc::new)
            })
            .await
            .clone();
        {
            let mut flights = self
                .inner
                .flights
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if flights
                .get(&flight_key)
                .is_some_and(|f| Arc::ptr_eq(f, &flight))
            {
                flights.remove(&flight_key);
            }
        }
        match out {
            Ok((e, Tier::L1)) => {
                // This request counted an L1 miss before it joined; memory answered after all.
                let l1 = &self.inner.counters.l1;
                l1.misses.fetch_sub(1, Ordering::Relaxed);
                bump(&l1.hits);
                Ok((e, Tier::L1))
            }
            Ok(found) => Ok(found),
            Err(e) => Err(share_error(&e)),
        }
    }

    /// One loader call; on success every tier keeps the answer.
    async fn fetch<F, Fut>(&self, key: &str, loader: F) -> Result<(Entry<V>, Tier)>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<V>>>,
    {
        bump(&self.inner.counters.loads);
        let value = match loader().await {
            Ok(v) => v,
            Err(e) => {
                bump(&self.inner.counters.load_errors);
                return Err(e);
            }
        };
        let cfg = &self.inner.config;
        let now = self.inner.clock.now_ms();
        let (value, ttl) = match value {
            Some(v) => (Stored::Found(v), cfg.l3_ttl_secs),
            None => (Stored::Missing, cfg.negative_ttl_secs),
        };
        let e = Entry {
            value,
            fetched_at: now,
            fresh_until: now.saturating_add(secs_ms(ttl)),
        };
        self.fill_l3(key, &e).await;
        self.fill_l2(key, &e).await;
        self.fill_l1(key, &e).await;
        Ok((e, Tier::Upstream))
    }

    fn spawn_refresh<F, Fut>(&self, key: String, loader: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<V>>> + Send + 'static,
    {
        let running = self
            .inner
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&flight_key(&key, true));
        if running {
            return;
        }
        let this = self.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = this.load(key, Some(Duration::ZERO), loader).await {
                tracing::warn!(cache = %this.inner.name, error = %e, "background cache refresh failed");
            }
        });
        let mut refreshes = self
            .inner
            .refreshes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        refreshes.retain(|h| !h.is_finished());
        refreshes.push(task);
    }
}

fn flight_key(key: &str, live: bool) -> String {
    if live {
        format!("\u{0}live\u{0}{key}")
    } else {
        key.to_string()
    }
}

fn keep_newer<V>(slot: &mut Option<(Entry<V>, Tier)>, e: Entry<V>, tier: Tier) {
    if slot
        .as_ref()
        .is_none_or(|(old, _)| e.fetched_at > old.fetched_at)
    {
        *slot = Some((e, tier));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::store::StoreOptions;

    const S: i64 = 1000;

    struct Setup {
        cache: TieredCache<String, String>,
        clock: Arc<AtomicI64>,
        _dir: tempfile::TempDir,
    }

    impl Setup {
        fn advance_secs(&self, secs: i64) {
            self.clock.fetch_add(secs * S, Ordering::SeqCst);
        }
    }

    async fn setup(config: CacheConfig) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("g.db"),
            StoreOptions::new(2, Duration::from_secs(1)),
        )
        .await
        .unwrap();
        let clock = Arc::new(AtomicI64::new(1_700_000_000 * S));
        let cache = TieredCache::new("t", config, Some(store), None)
            .with_clock(Clock::Manual(Arc::clone(&clock)));
        Setup {
            cache,
            clock,
            _dir: dir,
        }
    }

    /// A loader answering `value` (None = does not exist) and counting its calls.
    fn loader(
        calls: &Arc<AtomicUsize>,
        value: Option<&str>,
    ) -> impl FnOnce() -> std::future::Ready<Result<Option<String>>> + Send + 'static {
        let calls = Arc::clone(calls);
        let value = value.map(str::to_string);
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(value))
        }
    }

    fn failing(
        calls: &Arc<AtomicUsize>,
    ) -> impl FnOnce() -> std::future::Ready<Result<Option<String>>> + Send + 'static {
        let calls = Arc::clone(calls);
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Err(Error::Timeout {
                service: "prices".into(),
            }))
        }
    }

    fn key(k: &str) -> String {
        k.to_string()
    }

    #[tokio::test]
    async fn falls_through_tiers_and_fills_the_faster_ones() {
        let s = setup(CacheConfig::default()).await;
        let calls = Arc::new(AtomicUsize::new(0));
        let k = key("milk");

        let first = s
            .cache
            .get_with(&k, None, loader(&calls, Some("349")))
            .await
            .unwrap();
        assert_eq!(
            (first.value.as_deref(), first.tier, first.stale),
            (Some("349"), Tier::Upstream, false)
        );

        s.advance_secs(5);
        let second = s
            .cache
            .get_with(&k, None, loader(&calls, Some("x")))
            .await
            .unwrap();
        assert_eq!(
            (second.value.as_deref(), second.tier),
            (Some("349"), Tier::L1)
        );
        assert_eq!(second.age, Duration::from_secs(5));

        // Memory lost (another process, a restart): SQLite answers and refills L1.
        s.cache.invalidate_l1(&k).await;
        let third = s
            .cache
            .get_with(&k, None, loader(&calls, Some("x")))
            .await
            .unwrap();
        assert_eq!(
            (third.value.as_deref(), third.tier),
            (Some("349"), Tier::L3)
        );
        let fourth = s
            .cache
            .get_with(&k, None, loader(&calls, Some("x")))
            .await
            .unwrap();
        assert_eq!(fourth.tier, Tier::L1);

        // Past L1's 60 s freshness, L3 (30 days) is still fresh: not stale.
        s.advance_secs(120);
        let fifth = s
            .cache
            .get_with(&k, None, loader(&calls, Some("x")))
            .await
            .unwrap();
        assert_eq!((fifth.tier, fifth.stale), (Tier::L3, false));

        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let st = s.cache.stats();
        assert_eq!((st.l1.hits, st.l1.misses), (2, 3));
        assert_eq!((st.l3.hits, st.l3.misses), (2, 1));
        assert_eq!((st.requests, st.loads), (5, 1));
        assert!((st.hit_ratio - 0.8).abs() < 1e-9, "{st:?}");
        assert_eq!(st.l2, TierStats::default(), "no redis configured");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_hundred_concurrent_misses_make_one_loader_call() {
        let s = setup(CacheConfig::default()).await;
        let calls = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let cache = s.cache.clone();
            let calls = Arc::clone(&calls);
            let gate = Arc::clone(&gate);
            let started = Arc::clone(&started);
            tasks.push(tokio::spawn(async move {
                started.fetch_add(1, Ordering::SeqCst);
                cache
                    .get_with(&key("eggs"), None, move || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        // Hold the call open until the test lets it finish, so
                        // the other callers really arrive while it runs.
                        gate.notified().await;
                        Ok(Some("499".to_string()))
                    })
                    .await
            }));
        }
        while started.load(Ordering::SeqCst) < 100 || calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for t in tasks {
            let got = t.await.unwrap().unwrap();
            assert_eq!(got.value.as_deref(), Some("499"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(s.cache.stats().loads, 1);
    }

    fn short_l3() -> CacheConfig {
        // L3 as short as L1, so an entry really goes stale everywhere.
        CacheConfig {
            l1_ttl_secs: 60,
            l3_ttl_secs: 60,
            max_stale_secs: 3600,
            ..CacheConfig::default()
        }
    }

    #[tokio::test]
    async fn stale_entry_is_served_and_refreshed_in_the_background() {
        let s = setup(short_l3()).await;
        let calls = Arc::new(AtomicUsize::new(0));
        let k = key("bread");
        s.cache
            .get_with(&k, None, loader(&calls, Some("v1")))
            .await
            .unwrap();

        s.advance_secs(61);
        let stale = s
            .cache
            .get_with(&k, None, loader(&calls, Some("v2")))
            .await
            .unwrap();
        assert_eq!((stale.value.as_deref(), stale.stale), (Some("v1"), true));
        assert_eq!(stale.age, Duration::from_secs(61));
        s.cache.wait_for_refreshes().await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let fresh = s
            .cache
            .get_with(&k, None, loader(&calls, Some("v3")))
            .await
            .unwrap();
        assert_eq!(
            (fresh.value.as_deref(), fresh.tier, fresh.stale),
            (Some("v2"), Tier::L1, false)
        );
        assert_eq!(fresh.age, Duration::ZERO);
        assert_eq!(s.cache.stats().stale_served, 1);
    }

    #[tokio::test]
    async fn stale_value_outlives_a_failing_upstream_until_max_stale() {
        let s = setup(short_l3()).await;
        let calls = Arc::new(AtomicUsize::new(0));
        let k = key("rice");
        s.cache
            .get_with(&k, None, loader(&calls, Some("v1")))
            .await
            .unwrap();

        s.advance_secs(600);
        for _ in 0..2 {
            let got = s.cache.get_with(&k, None, failing(&calls)).await.unwrap();
            assert_eq!((got.value.as_deref(), got.stale), (Some("v1"), true));
            s.cache.wait_for_refreshes().await;
        }
        let st = s.cache.stats();
        assert_eq!((st.loads, st.load_errors, st.stale_served), (3, 2, 2));

        // Past freshness + max_stale: nothing usable, the upstream's error comes out.
        s.advance_secs(3600);
        let err = s
            .cache
            .get_with(&k, None, failing(&calls))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Timeout);
    }

    #[tokio::test]
    async fn max_age_bypasses_older_entries_and_zero_is_live() {
        let s = setup(CacheConfig::default()).await;
        let calls = Arc::new(AtomicUsize::new(0));
        let k = key("oj");
        s.cache
            .get_with(&k, None, loader(&calls, Some("v1")))
            .await
            .unwrap();
        s.advance_secs(30);

        let young = Some(Duration::from_secs(45));
        let got = s
            .cache
            .get_with(&k, young, loader(&calls, Some("x")))
            .await
            .unwrap();
        assert_eq!((got.value.as_deref(), got.tier), (Some("v1"), Tier::L1));

        let got = s
            .cache
            .get_with(
                &k,
                Some(Duration::from_secs(10)),
                loader(&calls, Some("v2")),
            )
            .await
            .unwrap();
        assert_eq!(
            (got.value.as_deref(), got.tier),
            (Some("v2"), Tier::Upstream)
        );

        let got = s
            .cache
            .get_with(&k, Some(Duration::ZERO), loader(&calls, Some("v3")))
            .await
            .unwrap();
        assert_eq!(
            (got.value.as_deref(), got.tier),
            (Some("v3"), Tier::Upstream)
        );

        // A live read whose upstream fails gets the error, not the cached value.
        let err = s
            .cache
            .get_with(&k, Some(Duration::ZERO), failing(&calls))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Timeout);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn missing_keys_are_cached_for_the_negative_ttl() {
        let config = CacheConfig {
            negative_ttl_secs: 300,
            max_stale_secs: 0,
            ..CacheConfig::default()
        };
        let s = setup(config).await;
        let calls = Arc::new(AtomicUsize::new(0));
        let k = key("unobtainium");
        let got = s
            .cache
            .get_with(&k, None, loader(&calls, None))
            .await
            .unwrap();
        assert_eq!((got.value, got.tier), (None, Tier::Upstream));
        let got = s
            .cache
            .get_with(&k, None, loader(&calls, Some("x")))
            .await
            .unwrap();
        assert_eq!((got.value, got.tier), (None, Tier::L1));
        s.cache.invalidate_l1(&k).await;
        let got = s
            .cache
            .get_with(&k, None, loader(&calls, Some("x")))
            .await
            .unwrap();
        assert_eq!((got.value, got.tier), (None, Tier::L3));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        s.advance_secs(301);
        let got = s
            .cache
            .get_with(&k, None, loader(&calls, Some("now")))
            .await
            .unwrap();
        assert_eq!(
            (got.value.as_deref(), got.tier),
            (Some("now"), Tier::Upstream)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn invalidate_clears_every_tier() {
        let s = setup(CacheConfig::default()).await;
        let calls = Arc::new(AtomicUsize::new(0));
        let k = key("tea");
        s.cache
            .get_with(&k, None, loader(&calls, Some("v1")))
            .await
            .unwrap();
        s.cache.invalidate(&k).await.unwrap();
        let got = s
            .cache
            .get_with(&k, None, loader(&calls, Some("v2")))
            .await
            .unwrap();
        assert_eq!(
            (got.value.as_deref(), got.tier),
            (Some("v2"), Tier::Upstream)
        );
        let st = s.cache.stats();
        assert_eq!((st.l3.hits, st.l3.misses, st.loads), (0, 2, 2));
        assert!(
            serde_json::to_string(&st)
                .unwrap()
                .contains("\"hit_ratio\"")
        );
    }

    #[tokio::test]
    async fn purge_removes_only_unservable_rows() {
        let s = setup(short_l3()).await;
        let calls = Arc::new(AtomicUsize::new(0));
        s.cache
            .get_with(&key("a"), None, loader(&calls, Some("1")))
            .await
            .unwrap();
        assert_eq!(s.cache.purge_expired().await.unwrap(), 0);
        s.advance_secs(300 + 3600 + 1);
        assert_eq!(s.cache.purge_expired().await.unwrap(), 1);
    }
}
