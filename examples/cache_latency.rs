//! Latency of tiered-cache reads per tier, as percentiles (HDR histogram).
//!
//! Run with: cargo run --release --example cache_latency [-- READS]
//!
//! Uses the Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`) under a key
//! prefix of its own, and a temporary SQLite database. 1,000 keys are loaded
//! once; then, for each tier, `READS` reads (default 100,000) of keys spread
//! over them, each timed alone on a current-thread runtime:
//! - `l1`: the key is in memory;
//! - `l2`: the key is dropped from memory first (not timed), so Redis answers
//!   over loopback and memory is refilled;
//! - `l3`: as `l2` with Redis not configured, so SQLite answers on the blocking
//!   pool.
//!
//! Prints one JSON line: per tier, p50 / p99 / p99.9 / max in microseconds and
//! how many reads that tier really answered (every read must be a hit of it).

use std::time::{Duration, Instant};

use grocery_core::{CacheConfig, Config, Grocery, Tier, TieredCache};
use hdrhistogram::Histogram;

const KEYS: u64 = 1_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reads: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let run = format!("latency-{}", std::process::id());
        let open = |redis: Option<&str>, db: &str| {
            let mut config = Config::default();
            config.store.path = Some(dir.path().join(db));
            config.store.seed_catalog = false;
            config.cache = CacheConfig {
                redis_url: redis.map(grocery_core::config::Secret::new),
                ..CacheConfig::default()
            };
            Grocery::open(config)
        };
        let with_redis = open(Some(&redis_url), "l2.db").await?;
        let l2 = with_redis.tiered_cache::<u64, u64>(&run);
        let sqlite_only = open(None, "l3.db").await?;
        let l3 = sqlite_only.tiered_cache::<u64, u64>(&run);
        for cache in [&l2, &l3] {
            for k in 0..KEYS {
                cache
                    .get_with(&k, None, move || async move { Ok(Some(k)) })
                    .await?;
            }
        }
        let l1 = measure(&l2, reads, Tier::L1, false).await?;
        let l2_hits = measure(&l2, reads, Tier::L2, true).await?;
        let l3_hits = measure(&l3, reads, Tier::L3, true).await?;
        l2.clear().await?;
        let line = serde_json::json!({
            "reads_per_tier": reads,
            "l1": l1,
            "l2": l2_hits,
            "l3": l3_hits,
        });
        println!("{line}");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

/// Time `reads` reads that `tier` should answer; `drop_l1` empties memory of
/// the key before each (untimed).
async fn measure(
    cache: &TieredCache<u64, u64>,
    reads: u64,
    tier: Tier,
    drop_l1: bool,
) -> grocery_core::Result<serde_json::Value> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .map_err(|e| grocery_core::Error::Internal(e.to_string()))?;
    let mut answered = 0_u64;
    // Warm-up: connections, prepared statements, allocator.
    for i in 0..reads.min(5_000) {
        let k = i % KEYS;
        if drop_l1 {
            cache.invalidate_l1(&k).await;
        }
        cache.get_with(&k, None, || async { Ok(None) }).await?;
    }
    for i in 0..reads {
        let k = (i * 7_919) % KEYS;
        if drop_l1 {
            cache.invalidate_l1(&k).await;
        }
        let started = Instant::now();
        let got = cache.get_with(&k, None, || async { Ok(None) }).await?;
        let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        h.saturating_record(ns.max(1));
        answered += u64::from(got.tier == tier && got.value == Some(k));
    }
    let us = |q: f64| Duration::from_nanos(h.value_at_quantile(q)).as_secs_f64() * 1e6;
    Ok(serde_json::json!({
        "answered_by_tier": answered,
        "p50_us": round(us(0.5)),
        "p99_us": round(us(0.99)),
        "p999_us": round(us(0.999)),
        "max_us": round(Duration::from_nanos(h.max()).as_secs_f64() * 1e6),
    }))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
