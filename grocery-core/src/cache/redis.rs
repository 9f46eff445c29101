//! L2: Redis, shared between processes. Optional, and allowed to be down.
//!
//! The connection is a redis-rs [`ConnectionManager`] created lazily (no network
//! at construction) that reconnects by itself after I/O errors. On top of it,
//! a failure marks the tier down: for [`RETRY_INTERVAL`] requests skip Redis
//! without touching the network, then one request tries again. The first failure
//! is logged at `warn`, repeats at `debug`, and the recovery at `info`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::{Error, Result};

/// Time allowed to connect, and for one command, before Redis counts as down.
const OP_TIMEOUT: Duration = Duration::from_millis(250);
/// While down, Redis is tried again at most this often.
pub(crate) const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// Why an L2 operation did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// Redis is marked down; the network was not touched.
    Skipped,
    /// The command failed or timed out (now marked down).
    Failed,
}

/// A handle to the Redis tier; cheap to clone, shared by every cache of a process.
#[derive(Clone)]
pub struct RedisTier {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    conn: ConnectionManager,
    /// `Some(last attempt)` while Redis is marked down.
    down: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RedisTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: not shown.
        f.debug_struct("RedisTier")
            .field("available", &self.is_available())
            .finish_non_exhaustive()
    }
}

impl RedisTier {
    /// A Redis tier for `url` (`redis://[:password@]host:port[/db]`). Nothing is
    /// sent until the first cache read, so a server that is down now is fine.
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`Error::Config`] when the URL cannot be parsed.
    pub fn connect(url: &str) -> Result<RedisTier> {
        let client =
            redis::Client::open(url).map_err(|e| Error::Config(format!("cache.redis_url: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            // One quick retry; beyond that our own down-marking takes over.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| Error::Config(format!("cache.redis_url: {e}")))?;
        Ok(RedisTier {
            inner: Arc::new(Inner {
                client,
                conn,
                down: Mutex::new(None),
            }),
        })
    }

    /// Whether Redis answered the last command (true before the first one).
    pub fn is_available(&self) -> bool {
        self.inner
            .down
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<String>, Unavailable> {
        self.run(redis::cmd("GET").arg(key)).await
    }

    pub(crate) async fn set(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), Unavailable> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.run(redis::cmd("SET").arg(key).arg(value).arg("PX").arg(ms))
            .await
    }

    pub(crate) async fn del(&self, key: &str) -> Result<(), Unavailable> {
        self.run::<i64>(redis::cmd("DEL").arg(key)).await.map(drop)
    }

    /// Whether Redis answers a `PING` now (tried even while marked down).
    pub async fn ping(&self) -> bool {
        let mut conn = self.inner.conn.clone();
        matches!(
            tokio::time::timeout(
                OP_TIMEOUT * 2,
                redis::cmd("PING").query_async::<String>(&mut conn)
            )
            .await,
            Ok(Ok(_))
        )
    }

    /// The client, for connections of their own (pub/sub).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    /// Publish `message` on `channel`; `false` when Redis is unavailable.
    pub(crate) async fn publish(&self, channel: &str, message: &str) -> bool {
        self.run::<i64>(redis::cmd("PUBLISH").arg(channel).arg(message))
            .await
            .is_ok()
    }

    /// Delete one key; failures are ignored (health checks).
    pub async fn delete_key(&self, key: &str) {
        let _ = self.del(key).await;
    }

    /// The keys matching `pattern` (a Redis glob), found with `SCAN`, at most
    /// `cap` of them.
    pub(crate) async fn scan(&self, pattern: &str, cap: usize) -> Result<Vec<String>, Unavailable> {
        let mut keys = Vec::new();
        let mut cursor = 0_u64;
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .run(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(1_000),
                )
                .await?;
            keys.extend(batch);
            if next == 0 || keys.len() >= cap {
                keys.truncate(cap);
                return Ok(keys);
            }
            cursor = next;
        }
    }

    /// Delete `keys` (in batches of 500); returns how many existed.
    pub(crate) async fn del_many(&self, keys: &[String]) -> Result<u64, Unavailable> {
        let mut deleted = 0;
        for chunk in keys.chunks(500) {
            deleted += self.run::<u64>(redis::cmd("DEL").arg(chunk)).await?;
        }
        Ok(deleted)
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Unavailable> {
        let probe = {
            let mut down = self
                .inner
                .down
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(last) = *down {
                if last.elapsed() < RETRY_INTERVAL {
                    return Err(Unavailable::Skipped);
                }
                // This request is the probe; others keep skipping meanwhile.
                *down = Some(Instant::now());
                true
            } else {
                false
            }
        };
        let mut conn = self.inner.conn.clone();
        let mut outcome =
            tokio::time::timeout(OP_TIMEOUT * 2, cmd.query_async::<T>(&mut conn)).await;
        if probe && matches!(&outcome, Ok(Err(e)) if e.is_io_error() || e.is_connection_refusal()) {
            // The probe met the connection that failed earlier; the manager has
            // just started a new one. Wait for that one, once.
            outcome = tokio::time::timeout(OP_TIMEOUT * 2, cmd.query_async::<T>(&mut conn)).await;
        }
        let mut down = self
            .inner
            .down
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok(Ok(v)) => {
                if down.take().is_some() {
                    tracing::info!("redis cache tier is back");
                }
                Ok(v)
            }
            Ok(Err(e)) if !(e.is_io_error() || e.is_timeout() || e.is_connection_refusal()) => {
                // The server answered with an error (wrong type, OOM...): it is up.
                tracing::debug!(error = %e, "redis cache command failed");
                Err(Unavailable::Failed)
            }
            failure => {
                let reason = match failure {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_string(),
                };
                if down.is_none() {
                    tracing::warn!(error = %reason, "redis cache tier unavailable; skipping it");
                } else {
                    tracing::debug!(error = %reason, "redis cache tier still unavailable");
                }
                *down = Some(Instant::now());
                Err(Unavailable::Failed)
            }
        }
    }
}
