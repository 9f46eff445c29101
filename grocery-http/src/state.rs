//! What every handler shares: the core handle, the token cache, the per-user
//! rate limiter, the in-flight slots, the count of live connections and the
//! shutdown signal.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use grocery_core::config::ServerConfig;
use grocery_core::{Grocery, UserId};

use crate::error::ApiError;

/// How long a token's user is remembered: a revoked token stops working
/// within this time.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);

/// Shared state of every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    grocery: Grocery,
    config: ServerConfig,
    tokens: moka::future::Cache<String, UserId>,
    limiter: DefaultKeyedRateLimiter<i64>,
    /// API requests worked on at once; `None`: no limit.
    in_flight: Option<tokio::sync::Semaphore>,
    /// API requests waiting for a slot now.
    waiting: AtomicUsize,
    subscribers: AtomicUsize,
    /// Live messages dropped because their client read too slowly.
    live_dropped: AtomicU64,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("grocery", &self.inner.grocery)
            .field("no_auth", &self.inner.config.no_auth)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `grocery` with the `[server]` settings of its configuration.
    pub fn new(grocery: Grocery) -> Self {
        let config = grocery.config().server.clone();
        Self::with_config(grocery, config)
    }

    /// State over `grocery` with the given server settings.
    pub fn with_config(grocery: Grocery, config: ServerConfig) -> Self {
        let per_sec =
            NonZeroU32::new(config.rate_per_user_per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.rate_burst.max(1)).unwrap_or(NonZeroU32::MIN);
        // Live events for every client, and list reads from memory kept
        // current by the change log.
        grocery.watch_changes();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let slots = config
            .max_in_flight_per_core
            .saturating_mul(cores)
            .min(tokio::sync::Semaphore::MAX_PERMITS);
        AppState {
            inner: Arc::new(Shared {
                grocery,
                tokens: moka::future::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(TOKEN_CACHE_TTL)
                    .build(),
                limiter: RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst)),
                in_flight: (slots > 0).then(|| {
                    // Shown on /metrics from the start, at 0.
                    waiting_gauge().set(0.0);
                    tokio::sync::Semaphore::new(slots)
                }),
                waiting: AtomicUsize::new(0),
                subscribers: AtomicUsize::new(0),
                live_dropped: AtomicU64::new(0),
                shutdown: tokio::sync::watch::channel(false).0,
                config,
            }),
        }
    }

    /// The core handle.
    pub fn grocery(&self) -> &Grocery {
        &self.inner.grocery
    }

    /// The server settings.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    pub(crate) fn no_auth(&self) -> bool {
        self.inner.config.no_auth
    }

    pub(crate) fn limiter(&self) -> &DefaultKeyedRateLimiter<i64> {
        &self.inner.limiter
    }

    /// A slot to work on one API request, held until dropped: at once when
    /// one is free, else after every request that asked before it (the
    /// semaphore is fair). `None` when there is no limit.
    pub(crate) async fn in_flight_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let slots = self.inner.in_flight.as_ref()?;
        if let Ok(slot) = slots.try_acquire() {
            return Some(slot);
        }
        // Counted until it has a slot, or until the request gives up
        // waiting (its timeout drops this future mid-wait).
        let _waiting = Waiting::new(&self.inner.waiting);
        slots.acquire().await.ok()
    }

    /// API requests waiting for an in-flight slot now (also
    /// `http_requests_waiting` on `/metrics`).
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// The user a token belongs to (remembered for [`TOKEN_CACHE_TTL`]).
    pub(crate) async fn authenticate(&self, token: &str) -> Result<Option<UserId>, ApiError> {
        if let Some(user) = self.inner.tokens.get(token).await {
            return Ok(Some(user));
        }
        let user = self.inner.grocery.users().authenticate(token).await?;
        if let Some(u) = &user {
            self.inner.tokens.insert(token.to_string(), u.id).await;
        }
        Ok(user.map(|u| u.id))
    }

    /// Tell live connections to close (graceful shutdown).
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Resolves when shutdown begins.
    pub(crate) fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Count a new live connection, or refuse it when at the limit.
    pub(crate) fn open_subscriber(&self) -> Result<SubscriberGuard, ApiError> {
        let max = self.inner.config.max_subscribers;
        let prev = self.inner.subscribers.fetch_add(1, Ordering::SeqCst);
        if prev >= max {
            self.inner.subscribers.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::Busy);
        }
        metrics::gauge!("grocery_live_connections").set((prev + 1) as f64);
        Ok(SubscriberGuard {
            state: self.clone(),
        })
    }

    /// Live connections now.
    pub fn subscribers(&self) -> usize {
        self.inner.subscribers.load(Ordering::SeqCst)
    }

    /// Count a live message dropped because its client read too slowly.
    pub(crate) fn live_message_dropped(&self) {
        self.inner.live_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Live messages dropped since start because their clients read too
    /// slowly (each such client is sent `resync`); also
    /// `grocery_live_messages_dropped_total` on `/metrics`.
    pub fn live_messages_dropped(&self) -> u64 {
        self.inner.live_dropped.load(Ordering::Relaxed)
    }
}

/// `http_requests_waiting`: API requests waiting for an in-flight slot.
fn waiting_gauge() -> &'static metrics::Gauge {
    static WAITING: std::sync::OnceLock<metrics::Gauge> = std::sync::OnceLock::new();
    WAITING.get_or_init(|| {
        let _ = crate::prometheus();
        metrics::gauge!("http_requests_waiting")
    })
}

/// One request waiting for a slot, counted (here and in
/// `http_requests_waiting`) until dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        waiting_gauge().increment(1.0);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
        waiting_gauge().decrement(1.0);
    }
}

/// One live connection, counted until dropped.
pub(crate) struct SubscriberGuard {
    state: AppState,
}

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        let now = self.state.inner.subscribers.fetch_sub(1, Ordering::SeqCst) - 1;
        metrics::gauge!("grocery_live_connections").set(now as f64);
    }
}

/// For tests: state over a new database in a temporary directory (kept
/// while the directory lives), with `[server]` as `edit` leaves it and no
/// price warming.
#[cfg(test)]
pub(crate) async fn test_state(
    edit: impl FnOnce(&mut ServerConfig),
) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = grocery_core::Config::default();
    config.store.path = Some(dir.path().join("g.db"));
    config.pricing.warm_top = 0;
    edit(&mut config.server);
    let grocery = Grocery::open(config).await.expect("open");
    (AppState::new(grocery), dir)
}

/// For tests: a new user `ana` of `state` and her token.
#[cfg(test)]
pub(crate) async fn test_user(state: &AppState) -> grocery_core::users::Issued {
    state
        .grocery()
        .users()
        .add_with_token("ana")
        .await
        .expect("user")
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::test_state as state;

    /// Polled once: ready or not, without waiting.
    fn ready<F: Future>(f: std::pin::Pin<&mut F>) -> Option<F::Output> {
        match f.poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        }
    }

    fn cores() -> usize {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }

    #[tokio::test]
    async fn in_flight_slots_are_per_core_and_handed_out_in_arrival_order() {
        let (app, _dir) = state(|c| c.max_in_flight_per_core = 2).await;
        let mut held = Vec::new();
        for _ in 0..2 * cores() {
            held.push(app.in_flight_slot().await.expect("a free slot"));
        }
        let mut first = pin!(app.in_flight_slot());
        let mut second = pin!(app.in_flight_slot());
        assert!(ready(first.as_mut()).is_none(), "every slot is taken");
        assert!(ready(second.as_mut()).is_none());
        assert_eq!(app.waiting(), 2);
        // A later ask never jumps the queue, even with try_acquire's fast path.
        held.pop();
        let mut third = Box::pin(app.in_flight_slot());
        assert!(
            ready(third.as_mut()).is_none(),
            "the freed slot is the first waiter's"
        );
        assert!(ready(second.as_mut()).is_none(), "and not the second's");
        let first = ready(first.as_mut()).expect("the first waiter goes in");
        assert!(first.is_some());
        held.pop();
        assert!(ready(third.as_mut()).is_none());
        assert!(ready(second.as_mut()).expect("then the second").is_some());
        assert_eq!(app.waiting(), 1);
        // An ask given up while waiting is no longer counted.
        drop(third);
        assert_eq!(app.waiting(), 0);
    }

    #[tokio::test]
    async fn no_limit_means_no_slot_to_wait_for() {
        let (app, _dir) = state(|c| c.max_in_flight_per_core = 0).await;
        let mut asks: Vec<_> = (0..10_000)
            .map(|_| Box::pin(app.in_flight_slot()))
            .collect();
        for ask in &mut asks {
            assert!(matches!(ready(ask.as_mut()), Some(None)));
        }
    }

    #[tokio::test]
    async fn a_limit_too_large_for_a_semaphore_is_the_largest_one() {
        let (app, _dir) = state(|c| c.max_in_flight_per_core = usize::MAX).await;
        let mut asks: Vec<_> = (0..1_000).map(|_| Box::pin(app.in_flight_slot())).collect();
        for ask in &mut asks {
            assert!(matches!(ready(ask.as_mut()), Some(Some(_))));
        }
    }

    #[tokio::test]
    async fn api_requests_wait_for_a_slot_within_the_timeout_and_probes_never_do() {
        let (app, _dir) = state(|c| {
            c.max_in_flight_per_core = 1;
            c.request_timeout_ms = 200;
        })
        .await;
        let token = super::test_user(&app).await.token;
        let router = crate::app(app.clone());
        let call = |path: &str| {
            let request = Request::get(path)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request");
            router.clone().oneshot(request)
        };
        let mut held = Vec::new();
        for _ in 0..cores() {
            held.push(app.in_flight_slot().await.expect("a free slot"));
        }
        // Every slot busy: the probe answers, the API request runs out of
        // time waiting (its whole budget, the wait included) and says so.
        let live = call("/health/live").await.expect("live");
        assert_eq!(live.status(), StatusCode::OK);
        let waited = call("/api/v1/lists").await.expect("lists");
        assert_eq!(waited.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(waited.into_body(), 64 * 1024)
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"]["kind"], "timeout", "{body}");
        assert_eq!(app.waiting(), 0, "the timed-out request stopped waiting");
        // A slot free: it goes through, and gives the slot back.
        held.pop();
        for _ in 0..2 {
            let served = call("/api/v1/lists").await.expect("lists");
            assert_eq!(served.status(), StatusCode::OK);
        }
    }
}
