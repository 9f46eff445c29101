//! Health checks: is the process able to serve (`ready`), and does a full round
//! trip through every part work (`deep`)? The HTTP server exposes both.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cache::Tier;
use crate::grocery::Grocery;
use crate::resilience::BreakerState;

/// How one part is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    /// Working.
    Ok,
    /// Working around a problem (a source's breaker is open, Redis is down and
    /// skipped): requests are still answered.
    Degraded,
    /// Not working: requests that need it fail.
    Down,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Check {
    /// What was checked (`store`, `redis`, `cache.l1`, `source.walmart`, ...).
    pub name: String,
    /// How it went.
    pub status: Status,
    /// What was seen, in words.
    pub detail: String,
    /// How long the check took, in milliseconds.
    pub millis: f64,
}

/// Every check and the overall status (the worst of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// The worst status of the checks.
    pub status: Status,
    /// Each check.
    pub checks: Vec<Check>,
}

impl Health {
    fn of(checks: Vec<Check>) -> Health {
        let status = if checks.iter().any(|c| c.status == Status::Down) {
            Status::Down
        } else if checks.iter().any(|c| c.status == Status::Degraded) {
            Status::Degraded
        } else {
            Status::Ok
        };
        Health { status, checks }
    }
}

/// Checks take at most this long each.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

async fn check<F, Fut>(name: impl Into<String>, f: F) -> Check
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = (Status, String)>,
{
    let started = Instant::now();
    let (status, detail) = match tokio::time::timeout(CHECK_TIMEOUT, f()).await {
        Ok(out) => out,
        Err(_) => (Status::Down, format!("no answer within {CHECK_TIMEOUT:?}")),
    };
    Check {
        name: name.into(),
        status,
        detail,
        millis: started.elapsed().as_secs_f64() * 1e3,
    }
}

impl Grocery {
    /// Whether this handle can serve: the store answers a read, and Redis (when
    /// configured) answers a ping. Redis down is `degraded`: the cache skips it.
    pub async fn ready(&self) -> Health {
        let mut checks = vec![
            check("store", || async {
                match self.store().ping().await {
                    Ok(()) => (Status::Ok, "read ok".into()),
                    Err(e) => {
                        // The reason for the operator; the probe's answer
                        // says no more than the error's kind.
                        tracing::warn!(error = ?e, "health: the store cannot be read");
                        (Status::Down, e.to_string())
                    }
                }
            })
            .await,
        ];
        if let Some(redis) = self.redis() {
            checks.push(
                check("redis", || async {
                    if redis.ping().await {
                        (Status::Ok, "ping ok".into())
                    } else {
                        (Status::Degraded, "unreachable; the cache skips it".into())
                    }
                })
                .await,
            );
        }
        Health::of(checks)
    }

    /// A full round trip: a store write and read back, a value through each
    /// cache tier (memory, Redis when configured, SQLite), and each price
    /// source's breaker (open is `degraded`: cached prices are still served).
    pub async fn deep_health(&self) -> Health {
        let mut checks = self.ready().await.checks;
        checks.push(
            check("store.write", || async {
                match self.store().probe_write().await {
                    Ok(()) => (Status::Ok, "write and read back ok".into()),
                    Err(e) => {
                        tracing::warn!(error = ?e, "health: the store cannot be written");
                        (Status::Down, e.to_string())
                    }
                }
            })
            .await,
        );
        let cache = self.tiered_cache::<String, i64>("health");
        let key = format!("probe-{}", std::process::id());
        let stamp = crate::store::now_ms();
        let tiers: &[(Tier, &str)] = if self.redis().is_some() {
            &[
                (Tier::L1, "cache.l1"),
                (Tier::L2, "cache.l2"),
                (Tier::L3, "cache.l3"),
            ]
        } else {
            &[(Tier::L1, "cache.l1"), (Tier::L3, "cache.l3")]
        };
        // Write through every tier, then read each back by dropping the faster ones.
        let written = cache
            .get_with(&key, Some(Duration::ZERO), move || async move {
                Ok(Some(stamp))
            })
            .await;
        for (tier, name) in tiers {
            let c = check(*name, || async {
                if let Err(e) = &written {
                    return (Status::Down, format!("write failed: {e}"));
                }
                match tier {
                    Tier::L2 => cache.invalidate_l1(&key).await,
                    Tier::L3 => {
                        cache.invalidate_l1(&key).await;
                        if let Some(redis) = self.redis() {
                            redis
                                .delete_key(&format!("grocery:cache:health:{key}"))
                                .await;
                        }
                    }
                    _ => {}
                }
                match cache.get_with(&key, None, || async { Ok(None) }).await {
                    Ok(got) if got.tier == *tier && got.value == Some(stamp) => {
                        (Status::Ok, "read back ok".into())
                    }
                    Ok(got) => (
                        if *tier == Tier::L2 {
                            Status::Degraded
                        } else {
                            Status::Down
                        },
                        format!("answered by {:?} with {:?}", got.tier, got.value),
                    ),
                    Err(e) => (Status::Down, e.to_string()),
                }
            })
            .await;
            checks.push(c);
        }
        for s in self.pricing().sources() {
            let (status, detail) = match s.breaker.state {
                BreakerState::Closed => (Status::Ok, "breaker closed".to_string()),
                BreakerState::HalfOpen => (Status::Degraded, "breaker half-open".to_string()),
                BreakerState::Open => (
                    Status::Degraded,
                    "breaker open; cached prices are served".to_string(),
                ),
            };
            checks.push(Check {
                name: format!("source.{}", s.name),
                status,
                detail: format!(
                    "{detail}; {}/{} failed in the window, {} rejected",
                    s.breaker.failed_calls, s.breaker.calls, s.breaker.rejected_total
                ),
                millis: 0.0,
            });
        }
        Health::of(checks)
    }
}
