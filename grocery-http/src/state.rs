//! What every handler shares: the core handle, the token cache, the per-user
//! rate limiter, the count of live connections and the shutdown signal.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    subscribers: AtomicUsize,
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
        AppState {
            inner: Arc::new(Shared {
                grocery,
                tokens: moka::future::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(TOKEN_CACHE_TTL)
                    .build(),
                limiter: RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst)),
                subscribers: AtomicUsize::new(0),
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
