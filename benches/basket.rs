//! Basket optimiser speed: a 40-line list over 3 stores, 3 to 6 candidates per
//! line and store, some multi-buy and BOGO offers, spend thresholds at two
//! stores (one of them with two tiers), trip costs at two.
//!
//! Run with: cargo bench --bench basket
//!
//! - `plan_40x3`: the whole answer (best split over up to 3 stores, every
//!   single store, the naive plan), exact. Seed 7 is the slowest of seeds
//!   0..30 on this generator (the median seed takes about a third as long).
//! - `plan_40x3_tight`: the same list with thresholds near what one store's
//!   share of it costs, so meeting them means moving lines between stores.

use criterion::{Criterion, criterion_group, criterion_main};
use grocery_core::Quantity;
use grocery_core::deals::{
    BasketLine, BasketRequest, Candidate, LineConstraints, Offer, SpendThreshold, Store,
    plan_basket,
};

/// A deterministic list: the same seed gives the same request. `tight` raises
/// the thresholds to about what the list spends at one store, so reaching them
/// means moving lines (the hard case for the search).
fn request(seed: u64, tight: bool) -> BasketRequest {
    let mut x = seed;
    let mut rnd = move |n: u64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        i64::try_from((x >> 33) % n).expect("small")
    };
    let store = |name: &str, trip, tiers: &[(i64, i64)]| Store {
        name: name.into(),
        trip_cost_cents: trip,
        thresholds: tiers
            .iter()
            .map(|&(min_cents, off_cents)| SpendThreshold {
                min_cents,
                off_cents,
            })
            .collect(),
    };
    let stores = if tight {
        vec![
            store("north", 0, &[(12_000, 1500)]),
            store("south", 400, &[(10_000, 1200), (15_000, 2000)]),
            store("east", 300, &[]),
        ]
    } else {
        vec![
            store("north", 0, &[(5000, 1000)]),
            store("south", 400, &[(3000, 500), (6000, 1200)]),
            store("east", 300, &[]),
        ]
    };
    // Pairs of compatible pack sizes and needs, by kind of product.
    let sizes = [
        "1 gal", "0.5 gal", "1 qt", "2 lb", "16 oz", "12 ct", "6 ct", "1 can",
    ];
    let needs = [
        "1 gal", "1.5 gal", "2 qt", "3 lb", "1 lb", "18", "12", "3 can",
    ];
    let idx = |i: i64| usize::try_from(i).expect("small");
    let lines = (0..40)
        .map(|i| {
            let kind = idx(rnd(4)) * 2;
            let mut candidates = Vec::new();
            for s in ["north", "south", "east"] {
                for j in 0..3 + rnd(4) {
                    let price = 150 + rnd(450);
                    let offers = match rnd(6) {
                        0 => vec![Offer::Bogo],
                        1 => vec![Offer::MultiBuy {
                            qty: 2,
                            price_cents: price * 2 - 50 - rnd(100),
                        }],
                        _ => vec![],
                    };
                    candidates.push(Candidate {
                        store: s.into(),
                        product_id: format!("{s}-{i}-{j}"),
                        pack: Quantity::parse(sizes[kind + idx(rnd(2))]).expect("size"),
                        price_cents: price,
                        offers,
                        brand: None,
                        organic: false,
                    });
                }
            }
            BasketLine {
                item: format!("item {i}"),
                need: Quantity::parse(needs[kind + idx(rnd(2))]).expect("need"),
                candidates,
                constraints: LineConstraints::default(),
            }
        })
        .collect();
    BasketRequest {
        stores,
        lines,
        max_stores: 3,
        allowed_stores: None,
    }
}

fn basket(c: &mut Criterion) {
    let mut group = c.benchmark_group("basket");
    for (name, tight) in [("plan_40x3", false), ("plan_40x3_tight", true)] {
        let req = request(7, tight);
        let answer = plan_basket(&req).expect("plan");
        assert!(answer.proven_optimal);
        println!(
            "{name}: best {} at {:?} (discount {}), single store {}, naive {}",
            answer.total_cents,
            answer
                .best
                .stores
                .iter()
                .map(|s| s.store.as_str())
                .collect::<Vec<_>>(),
            answer.best.discount_cents,
            answer.single_store.as_ref().map_or(0, |p| p.total_cents),
            answer.naive_total_cents
        );
        group.bench_function(name, |b| {
            b.iter(|| std::hint::black_box(plan_basket(std::hint::black_box(&req)).expect("plan")))
        });
    }
    group.finish();
}

criterion_group!(benches, basket);
criterion_main!(benches);
