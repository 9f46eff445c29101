//! Guards for outbound calls: a circuit breaker and a timeout helper.
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
}
