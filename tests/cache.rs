//! The tiered cache through a `Grocery` handle: a real Redis (`REDIS_URL`,
//! default 127.0.0.1:6379) as L2 shared by two handles, and a dead Redis that
//! must not stop requests.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use grocery_core::config::Secret;
use grocery_core::{Grocery, Tier, TieredCache};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// A cache name (the Redis key prefix) no other test run uses.
fn unique_name(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("test-{test}-{}-{nanos}", std::process::id())
}

async fn open_with_redis(url: &str) -> common::TestGrocery {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = common::config_in(&dir);
    config.store.seed_catalog = false;
    config.cache.redis_url = Some(Secret::new(url));
    let grocery = Grocery::open(config).await.expect("open");
    common::TestGrocery { grocery, dir }
}

fn counting(
    calls: &Arc<AtomicUsize>,
    value: u64,
) -> impl FnOnce() -> std::future::Ready<grocery_core::Result<Option<u64>>> + Send + 'static {
    let calls = Arc::clone(calls);
    move || {
        calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(Some(value)))
    }
}

#[tokio::test]
async fn redis_tier_is_shared_between_handles_and_backfills_memory() {
    let url = redis_url();
    // Fail with a clear message rather than silently testing nothing.
    let addr = url
        .trim_start_matches("redis://")
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_ok(),
        "this test needs a Redis server at {url} (set REDIS_URL); start one with `redis-server`"
    );

    let name = unique_name("shared");
    let a = open_with_redis(&url).await;
    let b = open_with_redis(&url).await;
    let cache_a: TieredCache<String, u64> = a.grocery.tiered_cache(&name);
    let cache_b: TieredCache<String, u64> = b.grocery.tiered_cache(&name);
    let calls = Arc::new(AtomicUsize::new(0));
    let k = "milk".to_string();

    let first = cache_a
        .get_with(&k, None, counting(&calls, 349))
        .await
        .unwrap();
    assert_eq!((first.value, first.tier), (Some(349), Tier::Upstream));

    // Another process (own memory, own SQLite file) finds it in Redis...
    let other = cache_b
        .get_with(&k, None, counting(&calls, 0))
        .await
        .unwrap();
    assert_eq!(
        (other.value, other.tier, other.stale),
        (Some(349), Tier::L2, false)
    );
    // ...and has copied it into its memory.
    let again = cache_b
        .get_with(&k, None, counting(&calls, 0))
        .await
        .unwrap();
    assert_eq!(again.tier, Tier::L1);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let st = cache_b.stats();
    assert_eq!(
        (st.l1.hits, st.l2.hits, st.l2.misses, st.l2.skipped),
        (1, 1, 0, 0)
    );
    assert_eq!((st.l3.hits, st.loads), (0, 0));

    // Invalidation reaches Redis: the other handle has to ask the upstream.
    cache_a.invalidate(&k).await.unwrap();
    cache_b.invalidate_l1(&k).await;
    let after = cache_b
        .get_with(&k, None, counting(&calls, 350))
        .await
        .unwrap();
    assert_eq!((after.value, after.tier), (Some(350), Tier::Upstream));
    cache_b.invalidate(&k).await.unwrap();
}

#[tokio::test]
async fn dead_redis_is_skipped_and_every_request_is_served() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let g = open_with_redis(&format!("redis://127.0.0.1:{port}")).await;
    let cache: TieredCache<String, u64> = g.grocery.tiered_cache(&unique_name("dead"));
    let calls = Arc::new(AtomicUsize::new(0));
    let k = "eggs".to_string();

    let started = std::time::Instant::now();
    let first = cache
        .get_with(&k, None, counting(&calls, 499))
        .await
        .unwrap();
    assert_eq!((first.value, first.tier), (Some(499), Tier::Upstream));
    cache.invalidate_l1(&k).await;
    let second = cache.get_with(&k, None, counting(&calls, 0)).await.unwrap();
    assert_eq!((second.value, second.tier), (Some(499), Tier::L3));
    for _ in 0..20 {
        cache.invalidate_l1(&k).await;
        let got = cache.get_with(&k, None, counting(&calls, 0)).await.unwrap();
        assert_eq!(got.value, Some(499));
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a dead redis must not slow every request: {:?}",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let st = cache.stats();
    assert_eq!(st.l2.hits, 0);
    assert_eq!(st.l2.misses, 0);
    assert_eq!(st.l2.skipped, 22, "every read skipped L2: {st:?}");
    assert!(st.l2.errors >= 1, "{st:?}");
    assert_eq!(st.l3.hits, 21);
}

/// Forward connections on `listener` to the Redis at `target`.
async fn proxy(listener: tokio::net::TcpListener, target: String) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            return;
        };
        let target = target.clone();
        tokio::spawn(async move {
            if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
    }
}

#[tokio::test]
async fn redis_tier_comes_back_by_itself() {
    let url = redis_url();
    let target = url.trim_start_matches("redis://").to_string();
    assert!(
        tokio::net::TcpStream::connect(&target).await.is_ok(),
        "this test needs a Redis server at {url} (set REDIS_URL to redis://host:port)"
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);

    let g = open_with_redis(&format!("redis://{addr}")).await;
    let cache: TieredCache<String, u64> = g.grocery.tiered_cache(&unique_name("back"));
    let calls = Arc::new(AtomicUsize::new(0));
    let k = "coffee".to_string();
    let first = cache
        .get_with(&k, None, counting(&calls, 899))
        .await
        .unwrap();
    assert_eq!(first.tier, Tier::Upstream);
    assert_eq!(cache.stats().l2.hits, 0);

    // Redis appears at that address (the proxy); without any call from us the
    // tier starts answering again within a couple of retry intervals.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let proxy = tokio::spawn(proxy(listener, target));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen_l2 = false;
    while std::time::Instant::now() < deadline {
        // Writes go to Redis once it is back; reads then find them there.
        let _ = cache
            .get_with(&k, Some(Duration::ZERO), counting(&calls, 899))
            .await
            .unwrap();
        cache.invalidate_l1(&k).await;
        let got = cache.get_with(&k, None, counting(&calls, 0)).await.unwrap();
        assert_eq!(got.value, Some(899));
        if got.tier == Tier::L2 {
            seen_l2 = true;
            break;
        }
        // Polling for the tier's state, not racing: the retry interval is 1 s.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen_l2, "L2 never came back: {:?}", cache.stats());
    cache.invalidate(&k).await.unwrap();
    proxy.abort();
}

#[tokio::test]
async fn report_counts_every_tier_and_clear_empties_redis_too() {
    let url = redis_url();
    let name = unique_name("report");
    let a = open_with_redis(&url).await;
    let cache: TieredCache<String, u64> = a.grocery.tiered_cache(&name);
    let calls = Arc::new(AtomicUsize::new(0));
    for k in ["milk", "eggs", "bread"] {
        cache
            .get_with(&k.to_string(), None, counting(&calls, 1))
            .await
            .unwrap();
    }
    // Again from memory, then from Redis.
    cache
        .get_with(&"milk".to_string(), None, counting(&calls, 1))
        .await
        .unwrap();
    cache.invalidate_l1(&"eggs".to_string()).await;
    let eggs = cache
        .get_with(&"eggs".to_string(), None, counting(&calls, 1))
        .await
        .unwrap();
    assert_eq!(eggs.tier, Tier::L2);
    let r = cache.report().await.unwrap();
    assert_eq!((r.requests, r.upstream_calls), (5, 3), "{r:?}");
    assert_eq!((r.l1.hits, r.l2.hits, r.l3.hits), (1, 1, 0), "{r:?}");
    assert_eq!((r.l2.entries, r.l3.entries), (Some(3), Some(3)), "{r:?}");
    assert!((r.hit_ratio - 0.4).abs() < 1e-9, "{r:?}");
    // The counts are in the database: reporting again adds nothing.
    assert_eq!(cache.report().await.unwrap().requests, 5);

    assert_eq!(cache.clear().await.unwrap(), 6, "3 in Redis, 3 in SQLite");
    let r = cache.report().await.unwrap();
    assert_eq!(
        (r.requests, r.l2.entries, r.l3.entries),
        (0, Some(0), Some(0)),
        "{r:?}"
    );
    let again = cache
        .get_with(&"milk".to_string(), None, counting(&calls, 1))
        .await
        .unwrap();
    assert_eq!(again.tier, Tier::Upstream, "nothing left in any tier");
}

#[tokio::test]
async fn price_events_cross_instances_through_redis() {
    use grocery_core::pricing::Event;
    let url = redis_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = common::config_in(&dir);
    config.cache.redis_url = Some(Secret::new(&url));
    config.pricing.warm_top = 0;
    // Two server instances on one database, sharing Redis.
    let a = Grocery::open(config.clone()).await.unwrap();
    let b = Grocery::open(config).await.unwrap();
    let mut on_b = b.subscribe();
    // B's relay subscribes in the background. A prices one product after
    // another (each first observation is a price change) until B hears one
    // that A saw: it can only have come through Redis, B asked for nothing.
    let products = a.catalog().most_popular(200);
    let mut sent = Vec::new();
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        for id in &products {
            a.pricing().price(id, None).await.unwrap();
            sent.push(id.clone());
            match tokio::time::timeout(Duration::from_millis(100), on_b.recv()).await {
                Ok(Ok(Event::PriceChanged(p))) => return Some(p),
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(e)) => panic!("{e}"),
            }
        }
        None
    })
    .await
    .expect("B never heard A's price changes")
    .expect("ran out of products");
    assert!(sent.contains(&heard.product_id));
    assert_eq!(heard.source, "demo");
}
