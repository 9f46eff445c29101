//! Search throughput on the embedded catalog.
//!
//! Run with: cargo bench --bench search
//! Pin to one core for the "searches per second on one core" figure:
//! taskset -c 0 cargo bench --bench search
//!
//! Each iteration is one full `catalog().search(query, 10)` through the public async
//! API: query analysis, the FTS5 query on a pooled read connection (on tokio's
//! blocking pool) and the re-rank.

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

fn search(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::default();
    config.store.path = Some(dir.path().join("bench.db"));
    let grocery = rt.block_on(Grocery::open(config)).expect("open");

    let mut group = c.benchmark_group("search");
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
    group.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
