//! Hit ratios of the tiered price cache on a Zipf workload, in simulated time.
//!
//! Run: `cargo run --release --example cache_hit_ratio` (prints one JSON line).
//!
//! The workload of the pricing issue: Zipf(0.99) requests over 50,000 products at
//! 1,000 requests per second, L1 capacity 5,000 and the default freshness (L1 60 s,
//! L2 5 min, L3 30 days); 200,000 requests of warm-up, then 2,000,000 measured.
//! L1 is the same moka cache the tiered cache uses (TinyLFU admission, LRU
//! eviction), with freshness checked against simulated time as the cache does;
//! L2 (Redis) and L3 (SQLite) keep everything they are given for their TTLs. The
//! plain LRU of the same capacity and freshness runs on the same trace, and so
//! does the moka cache alone in front of the source (`moka_alone_hit_ratio`),
//! the like-for-like comparison of the two eviction policies.
//!
//! The warmer runs every 30 s: by decaying request counts (half-life 10 min), it
//! fetches again the most popular products whose Redis copy would go stale
//! before its next round, in calls of 20 products, at most 50 calls a second
//! (the source's rate limit); `warmer_calls` counts those upstream calls.
//!
//! Optional arguments: `--products N --requests N --warmup N --l1 N --seed N`.

use std::collections::{BTreeMap, HashMap};

const L1_TTL: f64 = 60.0;
const L2_TTL: f64 = 300.0;
const L3_TTL: f64 = 30.0 * 24.0 * 3600.0;
const RATE: f64 = 1_000.0;
/// The warmer runs every this many seconds.
const WARM_EVERY: f64 = 30.0;
/// Upstream calls the warmer may make per second (the source's rate limit).
const WARM_RATE: f64 = 50.0;
/// Products per upstream call (Walmart's item lookup takes up to 20 ids).
const BATCH: usize = 20;
/// Popularity halves in about this many seconds (decaying request counts).
const HALF_LIFE: f64 = 600.0;

/// SplitMix64: a small deterministic generator for the trace.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf(s) over 0..n by inverse CDF.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for k in 1..=n {
            sum += 1.0 / (k as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut Rng) -> u32 {
        let u = rng.next_f64();
        self.cdf.partition_point(|c| *c < u) as u32
    }
}

/// A plain LRU with freshness, for comparison.
struct Lru {
    cap: usize,
    tick: u64,
    entries: HashMap<u32, (f64, u64)>,
    order: BTreeMap<u64, u32>,
}

impl Lru {
    fn new(cap: usize) -> Self {
        Lru {
            cap,
            tick: 0,
            entries: HashMap::with_capacity(cap + 1),
            order: BTreeMap::new(),
        }
    }

    /// Whether `k` was fresh; either way it is now stored as used at `now`.
    fn access(&mut self, k: u32, now: f64) -> bool {
        self.tick += 1;
        let hit = match self.entries.get(&k) {
            Some((fetched, tick)) => {
                self.order.remove(tick);
                now - fetched < L1_TTL
            }
            None => false,
        };
        let fetched = match (hit, self.entries.get(&k)) {
            (true, Some((f, _))) => *f,
            _ => now,
        };
        self.entries.insert(k, (fetched, self.tick));
        self.order.insert(self.tick, k);
        if self.entries.len() > self.cap
            && let Some((_, old)) = self.order.pop_first()
        {
            self.entries.remove(&old);
        }
        hit
    }
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let products = arg("--products", 50_000) as usize;
    let measured = arg("--requests", 2_000_000);
    let warmup = arg("--warmup", 200_000);
    let l1_cap = arg("--l1", 5_000);
    let mut rng = Rng(arg("--seed", 42));
    let zipf = Zipf::new(products.max(1), 0.99);

    // Each tier keeps when its copy stops being fresh: its own TTL from when it
    // stored the copy, never past the freshness of the copy it came from.
    let l1: moka::sync::Cache<u32, f64> = moka::sync::Cache::new(l1_cap);
    let mut l2: HashMap<u32, f64> = HashMap::new();
    let mut l3: HashMap<u32, f64> = HashMap::new();
    // The same moka cache and a plain LRU, each alone in front of the source.
    let alone: moka::sync::Cache<u32, f64> = moka::sync::Cache::new(l1_cap);
    let mut lru = Lru::new(l1_cap as usize);
    let (mut n, mut l1_hits, mut l2_hits, mut l3_hits) = (0u64, 0u64, 0u64, 0u64);
    let (mut alone_hits, mut lru_hits) = (0u64, 0u64);
    // Decaying request counts: (count, when last updated).
    let mut popularity: HashMap<u32, (f64, f64)> = HashMap::new();
    let mut next_warm = WARM_EVERY;
    let mut warm_calls = 0u64;
    for i in 0..warmup + measured {
        let now = i as f64 / RATE;
        let k = zipf.sample(&mut rng);
        let counted = i >= warmup;
        let decay =
            |(c, at): (f64, f64)| c * (-(now - at) * std::f64::consts::LN_2 / HALF_LIFE).exp();
        let count = popularity.get(&k).copied().map_or(0.0, decay) + 1.0;
        popularity.insert(k, (count, now));
        // The warmer: the most popular products whose L2 copy would go stale
        // before the next round are fetched again, within the source's rate.
        if now >= next_warm {
            let mut ranked: Vec<(f64, u32)> =
                popularity.iter().map(|(k, v)| (decay(*v), *k)).collect();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut budget = (WARM_EVERY * WARM_RATE) as usize * BATCH;
            let mut refreshed = 0u64;
            for (_, key) in ranked {
                if budget == 0 {
                    break;
                }
                let expiring = l2.get(&key).is_none_or(|u| *u < now + WARM_EVERY + 1.0);
                if expiring {
                    l3.insert(key, now + L3_TTL);
                    l2.insert(key, now + L2_TTL);
                    if l1.contains_key(&key) {
                        l1.insert(key, now + L1_TTL);
                    }
                    budget -= 1;
                    refreshed += 1;
                }
            }
            if counted {
                warm_calls += refreshed.div_ceil(BATCH as u64);
            }
            next_warm += WARM_EVERY;
        }
        let fresh = |until: Option<f64>| until.filter(|u| now < *u);
        let tier = if fresh(l1.get(&k)).is_some() {
            1
        } else if let Some(until) = fresh(l2.get(&k).copied()) {
            l1.insert(k, until.min(now + L1_TTL));
            2
        } else if let Some(until) = fresh(l3.get(&k).copied()) {
            let l2_until = until.min(now + L2_TTL);
            l2.insert(k, l2_until);
            l1.insert(k, l2_until.min(now + L1_TTL));
            3
        } else {
            l3.insert(k, now + L3_TTL);
            l2.insert(k, now + L2_TTL);
            l1.insert(k, now + L1_TTL);
            4
        };
        let alone_hit = fresh(alone.get(&k)).is_some();
        if !alone_hit {
            alone.insert(k, now + L1_TTL);
        }
        let lru_hit = lru.access(k, now);
        if counted {
            n += 1;
            match tier {
                1 => l1_hits += 1,
                2 => l2_hits += 1,
                3 => l3_hits += 1,
                _ => {}
            }
            alone_hits += u64::from(alone_hit);
            lru_hits += u64::from(lru_hit);
        }
        if i % 4_096 == 0 {
            l1.run_pending_tasks();
            alone.run_pending_tasks();
        }
    }
    let ratio = |h: u64| if n == 0 { 0.0 } else { h as f64 / n as f64 };
    println!(
        "{}",
        serde_json::json!({
            "requests": n,
            "warmup": warmup,
            "products": products,
            "l1_capacity": l1_cap,
            "l1_hit_ratio": ratio(l1_hits),
            "l1_l2_hit_ratio": ratio(l1_hits + l2_hits),
            "overall_hit_ratio": ratio(l1_hits + l2_hits + l3_hits),
            "lru_hit_ratio": ratio(lru_hits),
            "moka_alone_hit_ratio": ratio(alone_hits),
            "upstream_calls": n - l1_hits - l2_hits - l3_hits,
            "warmer_calls": warm_calls,
        })
    );
}
