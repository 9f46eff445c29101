//! Agent speed on the embedded catalog.
//!
//! Run with: taskset -c 0 cargo bench --bench agent
//!
//! - `understand`: `nlp::parse_request` alone (pure, no I/O).
//! - `preview`: understanding + resolution of every item (catalog search, match
//!   cache warm as in steady state).
//! - `handle`: the whole pipeline on a file-backed store: understand, resolve,
//!   apply (one write transaction per command) and price the list. Each iteration
//!   adds and then removes the same item so the list does not grow.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use grocery_core::{Config, Grocery, nlp};

const REQUESTS: &[&str] = &[
    "add 2 gallons of milk and a dozen eggs",
    "we're out of coffee",
    "hey can you put bananas, bread and peanut butter on my costco list please",
    "scratch the eggs",
    "what's on my shopping list",
    "I need 3 cans of black beans and a 12 pack of coke",
];

fn agent(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::default();
    config.store.path = Some(dir.path().join("bench.db"));
    let grocery = rt.block_on(Grocery::open(config)).expect("open");

    let mut group = c.benchmark_group("agent");
    group.throughput(Throughput::Elements(REQUESTS.len() as u64));
    group.bench_function("understand", |b| {
        b.iter(|| {
            for r in REQUESTS {
                std::hint::black_box(nlp::parse_request(r));
            }
        })
    });
    group.bench_function("preview", |b| {
        b.to_async(&rt).iter(|| async {
            for r in REQUESTS {
                std::hint::black_box(grocery.agent().preview(r).await.expect("preview"));
            }
        })
    });
    group.throughput(Throughput::Elements(2));
    group.bench_function("handle", |b| {
        b.to_async(&rt).iter(|| async {
            let a = grocery.agent();
            std::hint::black_box(a.handle("add a dozen eggs", None).await.expect("add"));
            std::hint::black_box(a.handle("remove the eggs", None).await.expect("remove"));
        })
    });
    group.finish();
}

criterion_group!(benches, agent);
criterion_main!(benches);
