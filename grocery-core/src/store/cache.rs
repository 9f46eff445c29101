//! SQL of the L3 cache tier (`cache_entries`, migration 0003) and the caches'
//! cumulative counters (`cache_counters`, migration 0005).

use rusqlite::{OptionalExtension, params};

use super::Store;
use crate::error::Result;

impl Store {
    /// The stored value and fetch time (ms) of `key` in cache `cache`, if any.
    pub(crate) async fn cache_get(
        &self,
        cache: String,
        key: String,
    ) -> Result<Option<(String, i64)>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT value, fetched_at FROM cache_entries WHERE cache = ?1 AND key = ?2",
            )?;
            Ok(stmt
                .query_row(params![cache, key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
        .await
    }

    /// Insert or replace one entry.
    pub(crate) async fn cache_put(
        &self,
        cache: String,
        key: String,
        value: String,
        fetched_at: i64,
    ) -> Result<()> {
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO cache_entries (cache, key, value, fetched_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (cache, key) DO UPDATE SET value = excluded.value,
                     fetched_at = excluded.fetched_at",
            )?
            .execute(params![cache, key, value, fetched_at])?;
            Ok(())
        })
        .await
    }

    /// Delete one entry; deleting a missing entry is not an error.
    pub(crate) async fn cache_delete(&self, cache: String, key: String) -> Result<()> {
        self.write(move |tx| {
            tx.prepare_cached("DELETE FROM cache_entries WHERE cache = ?1 AND key = ?2")?
                .execute(params![cache, key])?;
            Ok(())
        })
        .await
    }

    /// Delete the entries of `cache` fetched before `before_ms`; returns how many.
    pub(crate) async fn cache_purge(&self, cache: String, before_ms: i64) -> Result<usize> {
        self.write(move |tx| {
            Ok(tx
                .prepare_cached("DELETE FROM cache_entries WHERE cache = ?1 AND fetched_at < ?2")?
                .execute(params![cache, before_ms])?)
        })
        .await
    }

    /// How many entries cache `cache` holds.
    pub(crate) async fn cache_len(&self, cache: String) -> Result<u64> {
        self.read(move |c| {
            let n: i64 = c
                .prepare_cached("SELECT count(*) FROM cache_entries WHERE cache = ?1")?
                .query_row(params![cache], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    /// Add `deltas` to the cumulative counters of `cache`, in one transaction.
    pub(crate) async fn cache_counters_add(
        &self,
        cache: String,
        deltas: Vec<(&'static str, u64)>,
    ) -> Result<()> {
        self.write(move |tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO cache_counters (cache, counter, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (cache, counter) DO UPDATE SET value = value + excluded.value",
            )?;
            for (counter, delta) in deltas {
                stmt.execute(params![
                    cache,
                    counter,
                    i64::try_from(delta).unwrap_or(i64::MAX)
                ])?;
            }
            Ok(())
        })
        .await
    }

    /// The cumulative counters of `cache`, by name.
    pub(crate) async fn cache_counters(
        &self,
        cache: String,
    ) -> Result<std::collections::HashMap<String, u64>> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT counter, value FROM cache_counters WHERE cache = ?1")?;
            let rows = stmt.query_map(params![cache], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            let mut out = std::collections::HashMap::new();
            for row in rows {
                let (name, value) = row?;
                out.insert(name, u64::try_from(value).unwrap_or(0));
            }
            Ok(out)
        })
        .await
    }

    /// Forget the cumulative counters of `cache`.
    pub(crate) async fn cache_counters_reset(&self, cache: String) -> Result<()> {
        self.write(move |tx| {
            tx.prepare_cached("DELETE FROM cache_counters WHERE cache = ?1")?
                .execute(params![cache])?;
            Ok(())
        })
        .await
    }
}
