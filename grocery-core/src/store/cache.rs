//! SQL of the L3 cache tier (`cache_entries`, migration 0003).

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
}
