//! The pricing client end to end against a fake Kroger-style upstream on
//! 127.0.0.1:0: the circuit breaker opens on failures and half-opens after its
//! wait, callers are answered from the cache (stale, with its age) while the
//! upstream is down, nobody waits past the timeout, and no observation is lost.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use grocery_core::config::Secret;
use grocery_core::pricing::http::KrogerConfig;
use grocery_core::resilience::{BreakerConfig, BreakerState, RetryConfig};
use grocery_core::{CacheConfig, Config, Error, Grocery, Tier};
use serde_json::json;

/// How the fake answers product calls.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Good,
    Fail,
    Hang,
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    /// The regular price of every product, in cents.
    cents: Arc<AtomicI64>,
    /// Product calls received (each for one or more products).
    calls: Arc<AtomicUsize>,
}

impl Fake {
    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn token() -> Json<serde_json::Value> {
    Json(json!({"access_token": "t", "expires_in": 1800, "token_type": "bearer"}))
}

async fn products(State(fake): State<Fake>, Query(q): Query<HashMap<String, String>>) -> Response {
    fake.calls.fetch_add(1, Ordering::SeqCst);
    let mode = *fake.mode.lock().unwrap();
    match mode {
        Mode::Good => {}
        Mode::Fail => return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response(),
        Mode::Hang => std::future::pending().await,
    }
    let cents = fake.cents.load(Ordering::SeqCst);
    let price = format!("{}.{:02}", cents / 100, cents % 100);
    let data: Vec<serde_json::Value> = q
        .get("filter.productId")
        .map(|ids| ids.split(',').collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|upc| {
            json!({"productId": upc, "upc": upc, "items": [{
                "price": {"regular": serde_json::from_str::<serde_json::Value>(&price).unwrap(),
                          "promo": 0},
                "inventory": {"stockLevel": "HIGH"}}]})
        })
        .collect();
    Json(json!({ "data": data })).into_response()
}

async fn fake_kroger() -> (String, Fake) {
    let fake = Fake {
        mode: Arc::new(Mutex::new(Mode::Good)),
        cents: Arc::new(AtomicI64::new(349)),
        calls: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/connect/oauth2/token", post(token))
        .route("/v1/products", get(products))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

const TIMEOUT_MS: u64 = 300;
/// Long enough that an open breaker stays open through a test's reads on a
/// busy machine (a probe in between would make one more upstream call); the
/// half-open test waits it out once.
const WAIT_IN_OPEN_MS: u64 = 3_000;

/// Kroger only (no demo market to fall back on), one attempt per call, a
/// breaker that opens at 50% of 10 calls (at least 4) and waits 3 s.
fn config(dir: &tempfile::TempDir, base_url: String, cache: CacheConfig) -> Config {
    let mut c = Config::default();
    c.store.path = Some(dir.path().join("g.db"));
    c.cache = cache;
    c.pricing.demo = false;
    c.pricing.kroger = Some(KrogerConfig {
        base_url,
        client_id: "c".into(),
        client_secret: Secret::new("s"),
        location_id: "01400943".into(),
        daily_quota: 100_000,
        timeout_ms: 10_000,
    });
    c.pricing.guard.timeout_ms = TIMEOUT_MS;
    c.pricing.guard.rate_per_sec = 10_000.0;
    c.pricing.guard.burst = 10_000;
    c.pricing.guard.retry = RetryConfig {
        max_attempts: 1,
        ..RetryConfig::default()
    };
    c.pricing.guard.breaker = BreakerConfig {
        window: 10,
        minimum_calls: 4,
        failure_rate_percent: 50.0,
        slow_call_ms: 10_000,
        wait_in_open_ms: WAIT_IN_OPEN_MS,
        half_open_calls: 1,
    };
    c
}

/// Tiers that keep entries fresh for no time and servable stale for
/// `max_stale_secs`: every read is answered from the cache and refreshed in
/// the background, through the breaker.
fn stale_only(max_stale_secs: u64) -> CacheConfig {
    CacheConfig {
        l1_ttl_secs: 0,
        l3_ttl_secs: 0,
        max_stale_secs,
        ..CacheConfig::default()
    }
}

/// Products of the embedded catalog that have a UPC, most popular first.
fn with_upcs(g: &Grocery, n: usize) -> Vec<String> {
    g.catalog()
        .most_popular(4 * n)
        .into_iter()
        .filter(|id| g.catalog().get(id).unwrap().upc.is_some())
        .take(n)
        .collect()
}

fn breaker(g: &Grocery) -> grocery_core::resilience::BreakerSnapshot {
    let sources = g.pricing().sources();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].name, "kroger");
    sources[0].breaker.clone()
}

/// Every tier keeps entries fresh for 0 s and stale for an hour: each read is
/// answered from the cache at once and refreshed in the background, through
/// the breaker.
#[tokio::test]
async fn the_breaker_opens_on_failures_half_opens_after_its_wait_and_stale_prices_are_served() {
    let (url, fake) = fake_kroger().await;
    let dir = tempfile::tempdir().unwrap();
    let always_stale = stale_only(3_600);
    let g = Grocery::open(config(&dir, url, always_stale))
        .await
        .unwrap();
    let ids = with_upcs(&g, 6);
    let pricing = g.pricing();

    // Healthy: six cold reads, six upstream calls.
    for id in &ids {
        let a = pricing.price(id, None).await.unwrap();
        assert_eq!(
            (a.tier, a.price_cents, a.stale),
            (Tier::Upstream, 349, false)
        );
    }
    assert_eq!(fake.calls(), 6);
    assert_eq!(breaker(&g).state, BreakerState::Closed);

    // Down: every read is answered from the cache, stale, with the last price;
    // the background refreshes fail until the window is half failures
    // (6 successes + 5 failures, the last 10 being 5/5), then the breaker
    // opens and the next refreshes are rejected without calling.
    fake.set(Mode::Fail);
    for round in 0..3 {
        for id in &ids {
            let a = pricing.price(id, None).await.unwrap();
            assert!(a.stale, "round {round}: {a:?}");
            assert_eq!(a.price_cents, 349);
            assert_ne!(a.tier, Tier::Upstream);
            pricing.wait_for_refreshes().await;
        }
    }
    assert_eq!(fake.calls(), 6 + 5, "the open breaker stops the calls");
    let b = breaker(&g);
    assert_eq!(b.state, BreakerState::Open);
    assert_eq!(b.rejected_total, 18 - 5);

    // A live read (the caller accepts no cached price) fails fast, typed.
    let e = pricing
        .price(&ids[0], Some(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(
        grocery_core::resilience::BreakerOpen::is_rejection(&e),
        "{e}"
    );

    // Back up, with a new price. After the wait, the breaker reads half-open
    // and lets one probe through; its success closes it.
    fake.set(Mode::Good);
    fake.cents.store(299, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while breaker(&g).state != BreakerState::HalfOpen {
        assert!(Instant::now() < deadline, "never half-open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let a = pricing.price(&ids[0], None).await.unwrap();
    assert!(a.stale);
    pricing.wait_for_refreshes().await;
    assert_eq!(fake.calls(), 12, "one probe");
    assert_eq!(breaker(&g).state, BreakerState::Closed);
    let a = pricing.price(&ids[0], None).await.unwrap();
    assert_eq!(a.price_cents, 299, "the probe's answer was cached");
    pricing.wait_for_refreshes().await;

    // Nothing lost: the history holds the old price and the change point.
    let history = g.prices().history(&ids[0], None).await.unwrap();
    let seen: Vec<i64> = history.iter().map(|o| o.price.cents).collect();
    assert!(seen.contains(&349) && seen.contains(&299), "{seen:?}");

    // The counts reach every process through the database.
    let report = pricing.cache_report().await.unwrap();
    assert!(report.stale_served >= 19, "{report:?}");
    // Failed loads: 5 failures, 13 rejected refreshes and the live read.
    assert_eq!(report.upstream_errors, 5 + 13 + 1, "{report:?}");
}

#[tokio::test]
async fn a_hanging_upstream_never_holds_a_caller_past_the_timeout() {
    let (url, fake) = fake_kroger().await;
    let dir = tempfile::tempdir().unwrap();
    let g = Grocery::open(config(&dir, url, CacheConfig::default()))
        .await
        .unwrap();
    let ids = with_upcs(&g, 3);
    fake.set(Mode::Hang);
    for id in &ids {
        let started = Instant::now();
        let e = g.pricing().price(id, None).await.unwrap_err();
        let waited = started.elapsed();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        // The timeout is 300 ms; scheduling on a busy machine adds a little.
        assert!(
            waited < Duration::from_millis(TIMEOUT_MS + 1_500),
            "{waited:?}"
        );
    }
    assert_eq!(fake.calls(), 3);
}

/// With the upstream down, every product priced before is still priced, by a
/// new process (empty memory tier) on the same database, stale, with its age;
/// the breaker keeps the failing upstream from being called for each.
#[tokio::test]
async fn with_the_upstream_down_every_product_seen_before_is_still_priced() {
    let (url, fake) = fake_kroger().await;
    let dir = tempfile::tempdir().unwrap();
    let stale_for_a_month = stale_only(30 * 24 * 3_600);
    let ids = {
        let g = Grocery::open(config(&dir, url.clone(), stale_for_a_month.clone()))
            .await
            .unwrap();
        let ids = with_upcs(&g, 300);
        assert_eq!(ids.len(), 300);
        for id in &ids {
            g.pricing().price(id, None).await.unwrap();
        }
        ids
    };
    assert_eq!(fake.calls(), 300);
    fake.set(Mode::Fail);
    let g = Grocery::open(config(&dir, url, stale_for_a_month))
        .await
        .unwrap();
    let mut priced = 0;
    for id in &ids {
        let a = g.pricing().price(id, None).await.unwrap();
        assert_eq!((a.tier, a.price_cents, a.stale), (Tier::L3, 349, true));
        priced += 1;
        g.pricing().wait_for_refreshes().await;
    }
    assert_eq!(priced, ids.len(), "100% of the products seen before");
    // Four failed refreshes open the breaker; the other 296 make no call.
    assert_eq!(fake.calls(), 300 + 4);
    assert_eq!(breaker(&g).state, BreakerState::Open);
    // A product never seen has nothing to fall back on: a typed upstream error.
    let unseen = with_upcs(&g, 301).pop().unwrap();
    let e = g.pricing().price(&unseen, None).await.unwrap_err();
    assert_eq!(e.kind(), grocery_core::ErrorKind::Upstream, "{e}");
}

#[tokio::test]
async fn tracked_products_are_checked_on_demand_and_on_schedule_once_per_crossing() {
    use grocery_core::money::Money;
    use grocery_core::pricing::Target;

    let (url, fake) = fake_kroger().await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&dir, url, CacheConfig::default());
    c.pricing.warm_top = 0;
    c.pricing.check_every_secs = 1;
    let g = Grocery::open(c).await.unwrap();
    let ids = with_upcs(&g, 2);
    for id in &ids {
        g.pricing().price(id, None).await.unwrap();
    }
    let track = g
        .prices()
        .track(&ids[0], Target::Below(Money::usd(300)))
        .await
        .unwrap();
    assert!(!track.crossed, "349 is above 300");
    let mut events = g.subscribe();

    // On demand: the price falls to 2.99; one alert, then none while it stays.
    fake.cents.store(299, Ordering::SeqCst);
    let alerts = g.pricing().check_tracks(Duration::ZERO).await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        (alerts[0].product_id.as_str(), alerts[0].price.cents),
        (ids[0].as_str(), 299)
    );
    let a = next_alert(&mut events).await;
    assert_eq!(a.track_id, track.id);
    assert!(
        g.pricing()
            .check_tracks(Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(g.prices().alerts(10).await.unwrap().len(), 1);

    // Scheduled: back above the target (re-armed), then down again; the
    // background check (every second here) raises the second alert by itself.
    fake.cents.store(349, Ordering::SeqCst);
    assert!(
        g.pricing()
            .check_tracks(Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    fake.cents.store(289, Ordering::SeqCst);
    g.pricing().start_background();
    let a = next_alert(&mut events).await;
    assert_eq!(a.price.cents, 289);
    assert_eq!(g.prices().alerts(10).await.unwrap().len(), 2);
}

/// The next price alert on the event stream (price changes come too), within 10 s.
async fn next_alert(
    events: &mut tokio::sync::broadcast::Receiver<grocery_core::pricing::Event>,
) -> grocery_core::pricing::Alert {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Ok(grocery_core::pricing::Event::PriceAlert(a))) => return a,
            Ok(Ok(_)) => {}
            other => panic!("no price alert: {other:?}"),
        }
    }
}
