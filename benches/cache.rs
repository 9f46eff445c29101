//! Cost of a tiered-cache read that memory (L1) answers.
//!
//! Run with: cargo bench --bench cache
//!
//! `l1_hit` is one `get_with` on a key already in memory, through the public
//! async API on a current-thread runtime (key formatting, the moka lookup, the
//! freshness check and the clone of the value). `l3_hit` drops the key from
//! memory first, so SQLite answers on the blocking pool and refills memory.

use criterion::{Criterion, criterion_group, criterion_main};
use grocery_core::{CacheConfig, Config, Grocery, TieredCache};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cache: TieredCache<String, u64> = TieredCache::in_memory("bench", CacheConfig::default());
    let key = "whole milk 1 gal".to_string();
    rt.block_on(cache.get_with(&key, None, || async { Ok(Some(349)) }))
        .expect("load");
    c.bench_function("l1_hit", |b| {
        b.to_async(&rt).iter(|| async {
            cache
                .get_with(&key, None, || async { Ok(Some(0)) })
                .await
                .expect("hit")
        });
    });

    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::default();
    config.store.path = Some(dir.path().join("bench.db"));
    config.store.seed_catalog = false;
    let grocery = rt.block_on(Grocery::open(config)).expect("open");
    let cache: TieredCache<String, u64> = grocery.tiered_cache("bench");
    rt.block_on(cache.get_with(&key, None, || async { Ok(Some(349)) }))
        .expect("load");
    c.bench_function("l3_hit", |b| {
        b.to_async(&rt).iter(|| async {
            cache.invalidate_l1(&key).await;
            cache
                .get_with(&key, None, || async { Ok(Some(0)) })
                .await
                .expect("hit")
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
