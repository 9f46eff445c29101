//! Guards for outbound calls: a circuit breaker, a timeout helper, retries of
//! idempotent reads with backoff, jitter and a retry budget ([`retry`]), a
//! bulkhead ([`Bulkhead`]) and a token-bucket rate limit that honours
//! `Retry-After` ([`RateLimiter`]).
//!
//! [`CircuitBreaker`] follows resilience4j's count-based breaker:
//! - **Closed**: calls run; the outcomes of the last [`BreakerConfig::window`] calls
//!   are kept. Once at least [`BreakerConfig::minimum_calls`] are in the window and
//!   the failure rate reaches [`BreakerConfig::failure_rate_percent`], it opens. A
//!   call slower than [`BreakerConfig::slow_call_ms`] counts as a failure even if
//!   it succeeded.
//! - **Open**: calls are rejected at once, without running, with
//!   [`Error::Upstream`] whose source is a [`BreakerOpen`]. After
//!   [`BreakerConfig::wait_in_open_ms`] the next call finds it half-open.
//! - **HalfOpen**: [`BreakerConfig::half_open_calls`] probe calls are let through
//!   and further calls are rejected. When all probes have reported, a failure rate
//!   under the threshold closes the breaker (with an empty window); otherwise it
//!   opens again.
//!
//! Time comes from [`tokio::time::Instant`], so tests drive it with
//! `tokio::time::pause` and `advance` instead of sleeping.
//!
//! ```
//! use std::time::Duration;
//! use grocery_core::resilience::{BreakerConfig, CircuitBreaker};
//!
//! # async fn demo() -> grocery_core::Result<()> {
//! let breaker = CircuitBreaker::new("prices", BreakerConfig::default());
//! let answer = breaker
//!     .call(Duration::from_secs(2), async { Ok::<_, grocery_core::Error>(42) })
//!     .await?;
//! assert_eq!(answer, 42);
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::{Error, Result};

/// Settings of one [`CircuitBreaker`] (a `breaker` table in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// How many of the most recent call outcomes the failure rate is computed over.
    pub window: usize,
    /// Calls needed in the window before the failure rate is looked at (capped at
    /// `window`).
    pub minimum_calls: usize,
    /// Failure rate, in percent of the window, at or above which the breaker opens.
    pub failure_rate_percent: f32,
    /// A call that takes longer than this, in milliseconds, counts as a failure.
    pub slow_call_ms: u64,
    /// How long the breaker stays open before letting probe calls through, in
    /// milliseconds.
    pub wait_in_open_ms: u64,
    /// Probe calls let through while half-open.
    pub half_open_calls: usize,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window: 20,
            minimum_calls: 5,
            failure_rate_percent: 50.0,
            slow_call_ms: 2_000,
            wait_in_open_ms: 30_000,
            half_open_calls: 2,
        }
    }
}

impl BreakerConfig {
    /// Check the settings.
    ///
    /// # Errors
    /// [`Error::Config`] when `window`, `minimum_calls` or `half_open_calls` is 0
    /// or `failure_rate_percent` is not in `(0, 100]`; `section` names the table
    /// in the message.
    pub fn validate(&self, section: &str) -> Result<()> {
        let bad = |msg: &str| Err(Error::Config(format!("{section}: {msg}")));
        if self.window == 0 {
            return bad("window must be at least 1");
        }
        if self.minimum_calls == 0 {
            return bad("minimum_calls must be at least 1");
        }
        if self.half_open_calls == 0 {
            return bad("half_open_calls must be at least 1");
        }
        let rate = self.failure_rate_percent;
        if !(rate > 0.0 && rate <= 100.0) {
            return bad("failure_rate_percent must be in (0, 100]");
        }
        Ok(())
    }
}

/// The state of a [`CircuitBreaker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls run and their outcomes are counted.
    Closed,
    /// Calls are rejected without running.
    Open,
    /// A few probe calls run to decide whether to close again.
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open` or `half_open`, as in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// How a guarded call went, as reported through [`Permit::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The call worked (it may still count as a failure if it was slow).
    Success,
    /// The call failed.
    Failure,
}

/// What a [`CircuitBreaker`] looks like now, for logs, health checks and tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerSnapshot {
    /// The breaker's name (the upstream it guards).
    pub name: String,
    /// The current state.
    pub state: BreakerState,
    /// Failure rate in percent over the calls counted so far in this state (the
    /// window when closed, the probes when half-open); `None` when fewer than the
    /// calls needed to judge have been counted.
    pub failure_rate_percent: Option<f32>,
    /// Calls counted in this state (in the window when closed, probes reported when
    /// half-open, 0 when open).
    pub calls: usize,
    /// Of `calls`, those that failed (slow calls included).
    pub failed_calls: usize,
    /// Of `calls`, those slower than `slow_call_ms`.
    pub slow_calls: usize,
    /// Calls rejected because the breaker was open or out of probes, since creation.
    pub rejected_total: u64,
}

/// The error inside [`Error::Upstream`] when a [`CircuitBreaker`] rejects a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker `{name}` is open; retry in {retry_in:?}")]
pub struct BreakerOpen {
    /// The breaker's name.
    pub name: String,
    /// How long until the breaker lets probe calls through (zero when half-open
    /// and all probes are in flight).
    pub retry_in: Duration,
}

impl BreakerOpen {
    /// Whether `err` is a rejection by an open breaker (no call was made).
    pub fn is_rejection(err: &Error) -> bool {
        match err {
            Error::Upstream { source, .. } => source.downcast_ref::<BreakerOpen>().is_some(),
            _ => false,
        }
    }
}

/// Outcome of one call in the closed window.
#[derive(Debug, Clone, Copy)]
struct Mark {
    failed: bool,
    slow: bool,
}

#[derive(Debug)]
enum Phase {
    Closed {
        window: VecDeque<Mark>,
    },
    Open {
        until: Instant,
    },
    HalfOpen {
        /// Probe permits handed out and not released.
        issued: usize,
        marks: Vec<Mark>,
    },
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    /// Bumped on every state change, so a permit from an earlier state does not
    /// count in the new one.
    epoch: u64,
    rejected_total: u64,
}

#[derive(Debug)]
struct Shared {
    name: String,
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

/// A count-based circuit breaker; see the [module docs](self).
///
/// Cheap to clone (an `Arc`); clones share state. The lock is held only for
/// bookkeeping, never while a call runs.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

/// Leave to make one call through a [`CircuitBreaker`]; report how it went with
/// [`Permit::record`]. Dropped without a report (the call was cancelled), it
/// frees its probe slot and counts as nothing.
#[derive(Debug)]
#[must_use = "report the call's outcome with Permit::record"]
pub struct Permit {
    shared: Arc<Shared>,
    epoch: u64,
    recorded: bool,
}

fn rate(marks: impl Iterator<Item = Mark>) -> (usize, usize, usize) {
    marks.fold((0, 0, 0), |(n, f, s), m| {
        (n + 1, f + usize::from(m.failed), s + usize::from(m.slow))
    })
}

fn percent(failed: usize, calls: usize) -> f32 {
    // Window sizes are small, so the casts are exact.
    failed as f32 * 100.0 / calls as f32
}

impl CircuitBreaker {
    /// A closed breaker named after the upstream it guards. Zero counts in
    /// `config` are treated as 1 (use [`BreakerConfig::validate`] to refuse them).
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Self {
        let config = BreakerConfig {
            window: config.window.max(1),
            minimum_calls: config.minimum_calls.clamp(1, config.window.max(1)),
            half_open_calls: config.half_open_calls.max(1),
            ..config
        };
        CircuitBreaker {
            shared: Arc::new(Shared {
                name: name.into(),
                inner: Mutex::new(Inner {
                    phase: Phase::Closed {
                        window: VecDeque::with_capacity(config.window),
                    },
                    epoch: 0,
                    rejected_total: 0,
                }),
                config,
            }),
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The settings in effect.
    pub fn config(&self) -> &BreakerConfig {
        &self.shared.config
    }

    /// Ask to make a call.
    ///
    /// # Errors
    /// [`Error::Upstream`] with a [`BreakerOpen`] source when the breaker is open,
    /// or half-open with all probe calls in flight.
    pub fn try_acquire(&self) -> Result<Permit> {
        let now = Instant::now();
        let mut inner = self.shared.lock();
        self.shared.advance(&mut inner, now);
        let retry_in = match &mut inner.phase {
            Phase::Closed { .. } => None,
            Phase::Open { until } => Some(until.saturating_duration_since(now)),
            Phase::HalfOpen { issued, .. } => {
                if *issued < self.shared.config.half_open_calls {
                    *issued += 1;
                    None
                } else {
                    Some(Duration::ZERO)
                }
            }
        };
        if let Some(retry_in) = retry_in {
            inner.rejected_total += 1;
            return Err(Error::Upstream {
                service: self.shared.name.clone(),
                source: Box::new(BreakerOpen {
                    name: self.shared.name.clone(),
                    retry_in,
                }),
            });
        }
        Ok(Permit {
            shared: Arc::clone(&self.shared),
            epoch: inner.epoch,
            recorded: false,
        })
    }

    /// Run `fut` through the breaker with a `timeout`: rejected at once when open;
    /// otherwise an `Err` result or a timeout counts as a failure, and an `Ok`
    /// slower than `slow_call_ms` as a slow call.
    ///
    /// # Errors
    /// The rejection of [`CircuitBreaker::try_acquire`], [`Error::Timeout`] named
    /// after the breaker, or the future's own error.
    pub async fn call<T, F>(&self, timeout: Duration, fut: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let permit = self.try_acquire()?;
        let started = Instant::now();
        let result = with_timeout(timeout, &self.shared.name, fut).await;
        let outcome = match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        };
        permit.record(outcome, started.elapsed());
        result
    }

    /// The current state (an open breaker whose wait is over reads as half-open).
    pub fn state(&self) -> BreakerState {
        self.snapshot().state
    }

    /// State and counts, serialisable.
    pub fn snapshot(&self) -> BreakerSnapshot {
        let mut inner = self.shared.lock();
        self.shared.advance(&mut inner, Instant::now());
        let config = &self.shared.config;
        let (state, (calls, failed_calls, slow_calls), needed) = match &inner.phase {
            Phase::Closed { window } => (
                BreakerState::Closed,
                rate(window.iter().copied()),
                config.minimum_calls,
            ),
            Phase::Open { .. } => (BreakerState::Open, (0, 0, 0), usize::MAX),
            Phase::HalfOpen { marks, .. } => (
                BreakerState::HalfOpen,
                rate(marks.iter().copied()),
                config.half_open_calls,
            ),
        };
        BreakerSnapshot {
            name: self.shared.name.clone(),
            state,
            failure_rate_percent: (calls >= needed).then(|| percent(failed_calls, calls)),
            calls,
            failed_calls,
            slow_calls,
            rejected_total: inner.rejected_total,
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state is plain counters, consistent after every statement that
        // could panic, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Open -> HalfOpen once the wait is over.
    fn advance(&self, inner: &mut Inner, now: Instant) {
        if let Phase::Open { until } = inner.phase
            && now >= until
        {
            tracing::debug!(breaker = %self.name, "circuit half-open");
            inner.phase = Phase::HalfOpen {
                issued: 0,
                marks: Vec::with_capacity(self.config.half_open_calls),
            };
            inner.epoch += 1;
        }
    }

    fn open(&self, inner: &mut Inner, now: Instant) {
        inner.phase = Phase::Open {
            until: now + Duration::from_millis(self.config.wait_in_open_ms),
        };
        inner.epoch += 1;
    }

    fn record(&self, epoch: u64, mark: Mark) {
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.epoch != epoch {
            // The permit is from an earlier state: its call does not count now.
            return;
        }
        let config = &self.config;
        let threshold = config.failure_rate_percent;
        match &mut inner.phase {
            Phase::Closed { window } => {
                if window.len() == config.window {
                    window.pop_front();
                }
                window.push_back(mark);
                let (calls, failed, _) = rate(window.iter().copied());
                if calls >= config.minimum_calls && percent(failed, calls) >= threshold {
                    tracing::warn!(
                        breaker = %self.name,
                        calls,
                        failed,
                        "circuit opened: failure rate over threshold"
                    );
                    self.open(&mut inner, now);
                }
            }
            // No permits are handed out while open, and every change bumps the epoch.
            Phase::Open { .. } => {}
            Phase::HalfOpen { marks, .. } => {
                marks.push(mark);
                if marks.len() >= config.half_open_calls {
                    let (calls, failed, _) = rate(marks.iter().copied());
                    if percent(failed, calls) >= threshold {
                        tracing::warn!(breaker = %self.name, calls, failed, "circuit re-opened after probes");
                        self.open(&mut inner, now);
                    } else {
                        tracing::debug!(breaker = %self.name, "circuit closed after probes");
                        inner.phase = Phase::Closed {
                            window: VecDeque::with_capacity(config.window),
                        };
                        inner.epoch += 1;
                    }
                }
            }
        }
    }

    /// A permit dropped without a report frees its probe slot.
    fn release(&self, epoch: u64) {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            return;
        }
        if let Phase::HalfOpen { issued, .. } = &mut inner.phase {
            *issued = issued.saturating_sub(1);
        }
    }
}

impl Permit {
    /// Report how the call went and how long it took; a success slower than
    /// `slow_call_ms` counts as a failure.
    pub fn record(mut self, outcome: Outcome, elapsed: Duration) {
        self.recorded = true;
        let slow = elapsed > Duration::from_millis(self.shared.config.slow_call_ms);
        let mark = Mark {
            failed: outcome == Outcome::Failure || slow,
            slow,
        };
        self.shared.record(self.epoch, mark);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.recorded {
            self.shared.release(self.epoch);
        }
    }
}

/// Run `fut` for at most `duration`.
///
/// # Errors
/// [`Error::Timeout`] naming `service` when time runs out (the future is
/// dropped), else the future's own error.
pub async fn with_timeout<T, F>(duration: Duration, service: &str, fut: F) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    match tokio::time::timeout(duration, fut).await {
        Ok(result) => result,
        Err(_elapsed) => Err(Error::Timeout {
            service: service.to_string(),
        }),
    }
}

// ---------------------------------------------------------------------------
// Retries, bulkheads and rate limits.

/// Settings of [`retry`] (a `retry` table in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first included (1 = no retries).
    pub max_attempts: u32,
    /// Backoff before the first retry, in milliseconds; doubles each retry.
    pub base_backoff_ms: u64,
    /// Longest backoff, in milliseconds.
    pub max_backoff_ms: u64,
    /// Retries may add at most this share of the calls (percent): the retry
    /// budget, so that a failing upstream is not hit by a storm of retries.
    pub budget_percent: u32,
    /// Retries always allowed per second, whatever the budget says.
    pub min_retries_per_sec: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_backoff_ms: 100,
            max_backoff_ms: 2_000,
            budget_percent: 20,
            min_retries_per_sec: 1,
        }
    }
}

/// The error inside [`Error::Upstream`] when an upstream said "too many
/// requests" (HTTP 429), with how long it asked to wait (`Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limited; retry after {retry_after:?}")]
pub struct RateLimited {
    /// How long the upstream asked to wait.
    pub retry_after: Duration,
}

impl RateLimited {
    /// The wait `err` asks for, if it is a rate-limit answer.
    pub fn retry_after(err: &Error) -> Option<Duration> {
        match err {
            Error::Upstream { source, .. } => {
                source.downcast_ref::<RateLimited>().map(|r| r.retry_after)
            }
            _ => None,
        }
    }
}

/// A retry budget shared by the calls to one upstream: every call deposits
/// `budget_percent / 100` of a token, every retry withdraws one; a floor of
/// `min_retries_per_sec` tokens per second always remains available.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    floor_per_sec: f64,
    state: Mutex<BudgetState>,
}

#[derive(Debug)]
struct BudgetState {
    tokens: f64,
    floor_tokens: f64,
    floor_at: Instant,
}

impl RetryBudget {
    /// A budget for `config`.
    pub fn new(config: &RetryConfig) -> Self {
        RetryBudget {
            ratio: f64::from(config.budget_percent) / 100.0,
            floor_per_sec: f64::from(config.min_retries_per_sec),
            state: Mutex::new(BudgetState {
                tokens: 0.0,
                floor_tokens: f64::from(config.min_retries_per_sec),
                floor_at: Instant::now(),
            }),
        }
    }

    fn deposit(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // A bounded reserve: a long healthy spell does not buy a retry storm.
        s.tokens = (s.tokens + self.ratio).min(10.0);
    }

    fn withdraw(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let refill = now.duration_since(s.floor_at).as_secs_f64() * self.floor_per_sec;
        s.floor_tokens = (s.floor_tokens + refill).min(self.floor_per_sec);
        s.floor_at = now;
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            true
        } else if s.floor_tokens >= 1.0 {
            s.floor_tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Whether an error is worth retrying: timeouts and upstream failures, but not
/// a call turned away by a breaker, bulkhead or rate limit (it would only be
/// turned away again) nor the caller's own mistakes.
pub fn is_retryable(err: &Error) -> bool {
    match err {
        Error::Timeout { .. } => true,
        Error::Upstream { source, .. } => {
            !BreakerOpen::is_rejection(err) && source.downcast_ref::<Busy>().is_none()
        }
        _ => false,
    }
}

/// A number in `0..bound` for jitter; not for anything secret.
fn jitter(bound: u64) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    if bound == 0 {
        return 0;
    }
    // SplitMix64 over a shared counter.
    let mut z = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % bound
}

/// Run an idempotent read, retrying retryable failures ([`is_retryable`]) with
/// exponential backoff and full jitter, within the shared `budget`. A
/// rate-limit answer ([`RateLimited`]) waits what the upstream asked instead.
/// Never use it for writes: a timed-out write may have happened.
///
/// # Errors
/// The last error when attempts or budget run out, or the first error that is
/// not retryable.
pub async fn retry<T, F, Fut>(config: &RetryConfig, budget: &RetryBudget, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        budget.deposit();
        let err = match op().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if attempt >= config.max_attempts.max(1) || !is_retryable(&err) || !budget.withdraw() {
            return Err(err);
        }
        let wait = match RateLimited::retry_after(&err) {
            Some(after) => after,
            None => {
                let ceiling = config
                    .base_backoff_ms
                    .saturating_mul(1u64 << (attempt - 1).min(20))
                    .min(config.max_backoff_ms);
                Duration::from_millis(jitter(ceiling + 1))
            }
        };
        tracing::debug!(attempt, ?wait, error = %err, "retrying");
        tokio::time::sleep(wait).await;
    }
}

/// The error inside [`Error::Upstream`] when a [`Bulkhead`] or [`RateLimiter`]
/// turns a call away without making it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is busy: {why}")]
pub struct Busy {
    /// The guard's name (the upstream).
    pub name: String,
    /// Why, in words.
    pub why: &'static str,
}

/// At most `limit` calls to one upstream at once; a call waits up to `max_wait`
/// for a slot, then is turned away with [`Busy`].
#[derive(Debug, Clone)]
pub struct Bulkhead {
    name: String,
    slots: Arc<tokio::sync::Semaphore>,
    limit: usize,
    max_wait: Duration,
}

impl Bulkhead {
    /// A bulkhead of `limit` concurrent calls.
    pub fn new(name: impl Into<String>, limit: usize, max_wait: Duration) -> Self {
        let limit = limit.max(1);
        Bulkhead {
            name: name.into(),
            slots: Arc::new(tokio::sync::Semaphore::new(limit)),
            limit,
            max_wait,
        }
    }

    /// Run `fut` in a slot.
    ///
    /// # Errors
    /// [`Error::Upstream`] with [`Busy`] when no slot frees up in time; else what
    /// `fut` returns.
    pub async fn run<T, F>(&self, fut: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let permit = tokio::time::timeout(self.max_wait, self.slots.acquire())
            .await
            .ok()
            .and_then(std::result::Result::ok);
        let Some(_permit) = permit else {
            return Err(busy(&self.name, "every slot is taken"));
        };
        fut.await
    }

    /// Calls running now.
    pub fn in_flight(&self) -> usize {
        self.limit - self.slots.available_permits()
    }
}

fn busy(name: &str, why: &'static str) -> Error {
    Error::Upstream {
        service: name.to_string(),
        source: Box::new(Busy {
            name: name.to_string(),
            why,
        }),
    }
}

/// A token bucket per upstream: `per_sec` calls a second on average, bursts of
/// up to `burst`. [`RateLimiter::pause_for`] honours an upstream's
/// `Retry-After`: no call goes out until it has passed.
#[derive(Debug)]
pub struct RateLimiter {
    name: String,
    per_sec: f64,
    burst: f64,
    max_wait: Duration,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
    paused_until: Option<Instant>,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(name: impl Into<String>, per_sec: f64, burst: u32, max_wait: Duration) -> Self {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            name: name.into(),
            per_sec: per_sec.max(1e-6),
            burst,
            max_wait,
            state: Mutex::new(Bucket {
                tokens: burst,
                at: Instant::now(),
                paused_until: None,
            }),
        }
    }

    /// Take a token, waiting for one up to `max_wait`.
    ///
    /// # Errors
    /// [`Error::Upstream`] with [`Busy`] when the wait would be longer.
    pub async fn acquire(&self) -> Result<()> {
        let wait = {
            let mut b = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let elapsed = now.duration_since(b.at).as_secs_f64();
            b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
            b.at = now;
            let paused = b.paused_until.filter(|u| *u > now).map(|u| u - now);
            let short = if b.tokens >= 1.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64((1.0 - b.tokens) / self.per_sec)
            };
            let wait = paused.unwrap_or_default().max(short);
            if wait > self.max_wait {
                return Err(busy(&self.name, "rate limit reached"));
            }
            // Reserve the token now; the wait pays for it.
            b.tokens -= 1.0;
            wait
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Stop sending for `d` (an upstream's `Retry-After`).
    pub fn pause_for(&self, d: Duration) {
        let mut b = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let until = Instant::now() + d;
        b.paused_until = Some(b.paused_until.map_or(until, |u| u.max(until)));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap; the library code does not.
mod tests {
    use super::*;
    use crate::ErrorKind;

    const FAST: Duration = Duration::from_millis(10);

    fn config() -> BreakerConfig {
        BreakerConfig {
            window: 10,
            minimum_calls: 4,
            failure_rate_percent: 50.0,
            slow_call_ms: 1_000,
            wait_in_open_ms: 30_000,
            half_open_calls: 2,
        }
    }

    fn run(b: &CircuitBreaker, outcome: Outcome) {
        b.try_acquire().unwrap().record(outcome, FAST);
    }

    fn open_breaker() -> CircuitBreaker {
        let b = CircuitBreaker::new("test", config());
        for _ in 0..4 {
            run(&b, Outcome::Failure);
        }
        assert_eq!(b.state(), BreakerState::Open);
        b
    }

    #[tokio::test(start_paused = true)]
    async fn opens_when_failure_rate_reaches_threshold_after_minimum_calls() {
        let b = CircuitBreaker::new("test", config());
        run(&b, Outcome::Success);
        run(&b, Outcome::Failure);
        run(&b, Outcome::Success);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.snapshot().failure_rate_percent, None);
        // Fourth call: 2 of 4 failed = 50%.
        run(&b, Outcome::Failure);
        let snap = b.snapshot();
        assert_eq!(snap.state, BreakerState::Open);
        assert_eq!(snap.rejected_total, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn stays_closed_before_minimum_calls() {
        let b = CircuitBreaker::new("test", config());
        for _ in 0..3 {
            run(&b, Outcome::Failure);
        }
        let snap = b.snapshot();
        assert_eq!(snap.state, BreakerState::Closed);
        assert_eq!((snap.calls, snap.failed_calls), (3, 3));
        assert_eq!(snap.failure_rate_percent, None);
    }

    #[tokio::test(start_paused = true)]
    async fn stays_closed_under_threshold_and_window_slides() {
        let b = CircuitBreaker::new("test", config());
        for _ in 0..10 {
            run(&b, Outcome::Success);
        }
        for _ in 0..4 {
            run(&b, Outcome::Failure);
        }
        let snap = b.snapshot();
        assert_eq!(snap.state, BreakerState::Closed);
        assert_eq!((snap.calls, snap.failed_calls), (10, 4));
        assert_eq!(snap.failure_rate_percent, Some(40.0));
        // The fifth failure pushes out a success: 5 of 10.
        run(&b, Outcome::Failure);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_successes_count_as_failures() {
        let b = CircuitBreaker::new("test", config());
        let slow = Duration::from_millis(1_001);
        b.try_acquire().unwrap().record(Outcome::Success, slow);
        b.try_acquire().unwrap().record(Outcome::Success, slow);
        run(&b, Outcome::Success);
        let snap = b.snapshot();
        assert_eq!((snap.failed_calls, snap.slow_calls), (2, 2));
        // Exactly the limit is not slow.
        b.try_acquire()
            .unwrap()
            .record(Outcome::Success, Duration::from_millis(1_000));
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn open_rejects_without_running_the_call() {
        let b = open_breaker();
        let mut ran = false;
        let err = b
            .call(FAST, async {
                ran = true;
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(!ran);
        assert_eq!(err.kind(), ErrorKind::Upstream);
        assert!(BreakerOpen::is_rejection(&err));
        assert!(b.try_acquire().is_err());
        assert_eq!(b.snapshot().rejected_total, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_after_wait() {
        let b = open_breaker();
        tokio::time::advance(Duration::from_millis(29_999)).await;
        assert_eq!(b.state(), BreakerState::Open);
        let Error::Upstream { source, .. } = b.try_acquire().unwrap_err() else {
            panic!("expected upstream");
        };
        let open = source.downcast_ref::<BreakerOpen>().unwrap();
        assert_eq!(open.retry_in, Duration::from_millis(1));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.try_acquire().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_successes_close_with_an_empty_window() {
        let b = open_breaker();
        tokio::time::advance(Duration::from_secs(30)).await;
        run(&b, Outcome::Success);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        run(&b, Outcome::Success);
        let snap = b.snapshot();
        assert_eq!(snap.state, BreakerState::Closed);
        assert_eq!(snap.calls, 0);
        // A fresh window: three failures are below minimum_calls again.
        for _ in 0..3 {
            run(&b, Outcome::Failure);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_failure_opens_again() {
        let b = open_breaker();
        tokio::time::advance(Duration::from_secs(30)).await;
        run(&b, Outcome::Success);
        run(&b, Outcome::Failure);
        assert_eq!(b.state(), BreakerState::Open);
        // And waits the full time again.
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_limits_probes_and_frees_dropped_ones() {
        let b = open_breaker();
        tokio::time::advance(Duration::from_secs(30)).await;
        let first = b.try_acquire().unwrap();
        let second = b.try_acquire().unwrap();
        let third = b.try_acquire().unwrap_err();
        assert!(BreakerOpen::is_rejection(&third));
        // A cancelled probe frees its slot without counting.
        drop(second);
        let again = b.try_acquire().unwrap();
        first.record(Outcome::Success, FAST);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        again.record(Outcome::Success, FAST);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn reports_from_an_earlier_state_are_ignored() {
        let b = CircuitBreaker::new("test", config());
        let late = b.try_acquire().unwrap();
        for _ in 0..4 {
            run(&b, Outcome::Failure);
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        late.record(Outcome::Failure, FAST);
        assert_eq!(b.snapshot().calls, 0);
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn call_counts_errors_and_timeouts() {
        let b = CircuitBreaker::new("test", config());
        let ok = b.call(FAST, async { Ok(1) }).await.unwrap();
        assert_eq!(ok, 1);
        let err = b
            .call(FAST, async { Err::<(), _>(Error::invalid("bad")) })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = b
            .call(FAST, std::future::pending::<Result<()>>())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Timeout { ref service } if service == "test"));
        let snap = b.snapshot();
        assert_eq!((snap.calls, snap.failed_calls), (3, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn with_timeout_maps_elapsed_to_timeout() {
        let started = Instant::now();
        let err = with_timeout(
            Duration::from_millis(200),
            "llm",
            std::future::pending::<Result<()>>(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Timeout { ref service } if service == "llm"));
        assert_eq!(started.elapsed(), Duration::from_millis(200));
        assert_eq!(with_timeout(FAST, "llm", async { Ok(5) }).await.unwrap(), 5);
    }

    #[test]
    fn config_validation_and_clamping() {
        assert!(BreakerConfig::default().validate("llm.breaker").is_ok());
        for bad in [
            BreakerConfig {
                window: 0,
                ..config()
            },
            BreakerConfig {
                half_open_calls: 0,
                ..config()
            },
            BreakerConfig {
                failure_rate_percent: 0.0,
                ..config()
            },
            BreakerConfig {
                failure_rate_percent: f32::NAN,
                ..config()
            },
        ] {
            let err = bad.validate("llm.breaker").unwrap_err();
            assert!(err.to_string().contains("llm.breaker"), "{err}");
        }
        let b = CircuitBreaker::new(
            "x",
            BreakerConfig {
                window: 3,
                minimum_calls: 10,
                ..config()
            },
        );
        assert_eq!(b.config().minimum_calls, 3);
    }

    #[test]
    fn snapshot_serialises() {
        let b = CircuitBreaker::new("llm", config());
        let json = serde_json::to_value(b.snapshot()).unwrap();
        assert_eq!(json["state"], "closed");
        assert_eq!(json["name"], "llm");
        assert!(json["failure_rate_percent"].is_null());
    }

    fn upstream_failure() -> Error {
        Error::Upstream {
            service: "t".into(),
            source: "boom".into(),
        }
    }

    fn retry_config() -> RetryConfig {
        RetryConfig {
            max_attempts: 4,
            base_backoff_ms: 100,
            max_backoff_ms: 1_000,
            budget_percent: 100,
            min_retries_per_sec: 0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_failures_with_bounded_backoff() {
        let config = retry_config();
        let budget = RetryBudget::new(&config);
        let calls = std::sync::atomic::AtomicU32::new(0);
        let started = Instant::now();
        let got = retry(&config, &budget, || async {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n < 2 {
                Err(upstream_failure())
            } else {
                Ok(n)
            }
        })
        .await
        .unwrap();
        assert_eq!(got, 2);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        // Two backoffs of at most 100 and 200 ms (full jitter).
        assert!(started.elapsed() <= Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_what_cannot_succeed() {
        let config = retry_config();
        let budget = RetryBudget::new(&config);
        for err in [
            Error::invalid("bad query"),
            busy("t", "every slot is taken"),
            Error::Upstream {
                service: "t".into(),
                source: Box::new(BreakerOpen {
                    name: "t".into(),
                    retry_in: Duration::from_secs(1),
                }),
            },
        ] {
            let calls = std::sync::atomic::AtomicU32::new(0);
            let kind = err.kind();
            let e = retry(&config, &budget, || {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let e = match &err {
                    Error::InvalidInput(m) => Error::invalid(m.clone()),
                    Error::Upstream { source, .. } if source.downcast_ref::<Busy>().is_some() => {
                        busy("t", "every slot is taken")
                    }
                    _ => Error::Upstream {
                        service: "t".into(),
                        source: Box::new(BreakerOpen {
                            name: "t".into(),
                            retry_in: Duration::from_secs(1),
                        }),
                    },
                };
                async move { Err::<(), _>(e) }
            })
            .await
            .unwrap_err();
            assert_eq!(e.kind(), kind);
            assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_caps_retries_and_retry_after_is_honoured() {
        // A 10% budget: ten calls earn one retry.
        let config = RetryConfig {
            budget_percent: 10,
            ..retry_config()
        };
        let budget = RetryBudget::new(&config);
        let calls = std::sync::atomic::AtomicU32::new(0);
        for _ in 0..10 {
            let _ = retry(&config, &budget, || async {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Err::<(), _>(upstream_failure())
            })
            .await;
        }
        let total = calls.load(std::sync::atomic::Ordering::SeqCst);
        assert!((10..=12).contains(&total), "{total} calls for 10 requests");

        // A 429 with Retry-After: 2 s waits two seconds, not the backoff.
        let budget = RetryBudget::new(&retry_config());
        let started = Instant::now();
        let first = std::sync::atomic::AtomicBool::new(true);
        retry(&retry_config(), &budget, || async {
            if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                Err(Error::Upstream {
                    service: "t".into(),
                    source: Box::new(RateLimited {
                        retry_after: Duration::from_secs(2),
                    }),
                })
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bulkhead_bounds_concurrent_calls() {
        let bulkhead = Bulkhead::new("t", 2, Duration::from_millis(50));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(Some(rx)));
        let hold = |b: Bulkhead,
                    rx: std::sync::Arc<
            tokio::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
        >| async move {
            b.run(async move {
                if let Some(rx) = rx.lock().await.take() {
                    let _ = rx.await;
                } else {
                    std::future::pending::<()>().await;
                }
                Ok(())
            })
            .await
        };
        let a = tokio::spawn(hold(bulkhead.clone(), rx.clone()));
        let b = tokio::spawn(hold(bulkhead.clone(), rx.clone()));
        tokio::task::yield_now().await;
        assert_eq!(bulkhead.in_flight(), 2);
        let err = bulkhead.run(async { Ok(()) }).await.unwrap_err();
        assert!(!is_retryable(&err), "{err}");
        tx.send(()).unwrap();
        a.await.unwrap().unwrap();
        assert_eq!(bulkhead.in_flight(), 1);
        bulkhead.run(async { Ok(()) }).await.unwrap();
        b.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limiter_spaces_calls_and_pauses_on_retry_after() {
        let limiter = RateLimiter::new("t", 10.0, 2, Duration::from_secs(1));
        let started = Instant::now();
        for _ in 0..4 {
            limiter.acquire().await.unwrap();
        }
        // A burst of two, then one every 100 ms.
        assert_eq!(started.elapsed(), Duration::from_millis(200));
        limiter.pause_for(Duration::from_millis(700));
        let before = Instant::now();
        limiter.acquire().await.unwrap();
        assert_eq!(before.elapsed(), Duration::from_millis(700));
        // Longer than max_wait: turned away at once.
        limiter.pause_for(Duration::from_secs(5));
        let err = limiter.acquire().await.unwrap_err();
        assert!(err.to_string().contains("upstream"), "{err}");
    }
}
