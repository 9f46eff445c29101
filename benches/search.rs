//! Search throughput on the embedded catalog.
//!
//! Run with: cargo bench --bench search
//! Pin to one core for the "searches per second on one core" figure:
//! taskset -c 0 cargo bench --bench search
//!
//! Each iteration is one full `catalog().search(query, 10)` through the public async
//! API. Two groups:
//! - `search_cold`: the match cache off, so every search runs query analysis, the
//!   FTS5 query on a pooled read connection (on tokio's blocking pool) and the rank;
//! - `search_warm`: the default configuration, where repeated queries take their
//!   FTS5 matches from the in-memory cache and only analysis and ranking run.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use grocery_core::{Config, Grocery};

const QUERIES: &[(&str, &str)] = &[
    ("plain", "milk"),
    ("plural", "eggs"),
    ("typo", "bannana"),
    ("synonym", "oj"),
    ("variant", "organic 2% milk half gallon"),
    ("brand", "kraft mac and cheese"),
    ("miss", "xylophone"),
];

fn open(rt: &tokio::runtime::Runtime, dir: &tempfile::TempDir, cache: u64) -> Grocery {
    let mut config = Config::default();
    config.store.path = Some(dir.path().join("bench.db"));
    config.catalog.match_cache_entries = cache;
    rt.block_on(Grocery::open(config)).expect("open")
}

fn search(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    for (group_name, cache) in [("search_cold", 0), ("search_warm", 10_000)] {
        let grocery = open(&rt, &dir, cache);
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(1));
        for (name, q) in QUERIES {
            group.bench_function(*name, |b| {
                b.to_async(&rt).iter(|| async {
                    let hits = grocery.catalog().search(q, 10).await.expect("search");
                    std::hint::black_box(hits)
                })
            });
        }
        group.bench_function("mixed", |b| {
            let mut i = 0;
            b.to_async(&rt).iter(|| {
                i = (i + 1) % QUERIES.len();
                let q = QUERIES[i].1;
                let g = grocery.clone();
                async move { std::hint::black_box(g.catalog().search(q, 10).await.expect("search")) }
            })
        });
        // Throughput with 64 searches in flight: on one core this is searches per
        // second of CPU, without the idle gaps of one-at-a-time thread hand-offs.
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function("concurrent64", |b| {
            b.to_async(&rt).iter(|| {
                let g = grocery.clone();
                async move {
                    let mut set = tokio::task::JoinSet::new();
                    for i in 0..BATCH {
                        let g = g.clone();
                        set.spawn(async move {
                            let q = QUERIES[i % QUERIES.len()].1;
                            g.catalog().search(q, 10).await.expect("search").len()
                        });
                    }
                    let mut n = 0;
                    while let Some(r) = set.join_next().await {
                        n += r.expect("task");
                    }
                    std::hint::black_box(n)
                }
            })
        });
        group.finish();
    }
}

const BATCH: usize = 64;

criterion_group!(benches, search);
criterion_main!(benches);
