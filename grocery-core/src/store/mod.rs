//! The SQLite store: connections, migrations and every SQL statement of the crate.
//!
//! One writer connection and a small pool of read connections (WAL lets readers run
//! beside the writer). Every call runs on tokio's blocking pool, never on the async
//! executor's threads, and every write is one `IMMEDIATE` transaction, so a logical
//! operation lands whole or not at all.
//!
//! The rest of the crate talks to the store only through the async methods in
//! `catalog`, `lists`, `prices` and `users` below; a PostgreSQL backend for deployments of
//! several server instances slots in behind the same methods.

mod backup;
mod cache;
mod catalog;
mod current;
mod lists;
mod prices;
mod sessions;
mod tracking;
mod users;

pub(crate) use backup::restore_blocking;
pub use catalog::{CatalogStats, DepartmentCount, ImportSummary};
pub(crate) use catalog::{ProductRow, fts_matches};
pub(crate) use lists::{Access, Edit, ListOp, ListRef, OpDone};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use rusqlite_migration::{M, Migrations};

use crate::error::{Error, Result};

/// `PRAGMA application_id` of our databases ('GROC').
pub(crate) const APPLICATION_ID: i64 = 0x4752_4F43;

/// The embedded migrations, in order. Never edit a merged one: add a new file.
static MIGRATIONS: LazyLock<Migrations<'static>> = LazyLock::new(|| {
    Migrations::new(vec![
        M::up(include_str!("../../migrations/0001_create_schema.sql")),
        M::up(include_str!("../../migrations/0002_agent_sessions.sql")),
        M::up(include_str!("../../migrations/0003_cache.sql")),
        M::up(include_str!("../../migrations/0004_price_tracking.sql")),
        M::up(include_str!("../../migrations/0005_cache_counters.sql")),
        M::up(include_str!(
            "../../migrations/0006_sharing_and_list_events.sql"
        )),
        M::up(include_str!("../../migrations/0007_current_list.sql")),
    ])
});

/// Options for [`Store::open`].
#[derive(Debug, Clone)]
pub(crate) struct StoreOptions {
    pub readers: usize,
    pub busy_timeout: Duration,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub(crate) struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// One permit per reader: reads beyond that wait here, asynchronously,
    /// instead of parking blocking-pool threads on the connection locks.
    read_permits: tokio::sync::Semaphore,
    /// Woken after a commit that appended to the list change log.
    change_logged: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field("readers", &self.inner.readers.len())
            .finish()
    }
}

/// Recover a poisoned lock: a panic inside a closure dropped its transaction
/// (rolled back), so the connection itself is still sound.
fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Store {
    /// Open (creating if needed) the database at `path` and bring its schema up to date.
    pub(crate) async fn open(path: &Path, opts: StoreOptions) -> Result<Store> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            Self::open_blocking(path.clone(), opts).map_err(|e| describe_open_error(e, &path))
        })
        .await?
    }

    fn open_blocking(path: PathBuf, opts: StoreOptions) -> Result<Store> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let mut writer = Connection::open(&path)?;
        configure(&writer, opts.busy_timeout)?;
        check_ours(&writer, &path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        MIGRATIONS.to_latest(&mut writer).map_err(|e| match e {
            rusqlite_migration::Error::MigrationDefinition(
                rusqlite_migration::MigrationDefinitionError::DatabaseTooFarAhead,
            ) => Error::Config(format!(
                "{} was written by a newer version of grocery",
                path.display()
            )),
            other => Error::from(other),
        })?;
        let mut readers = Vec::with_capacity(opts.readers.max(1));
        for _ in 0..opts.readers.max(1) {
            let r = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            configure(&r, opts.busy_timeout)?;
            r.pragma_update(None, "query_only", true)?;
            // Map the file instead of copying pages through read(): FTS5 queries
            // touch many small pages. 256 MiB of address space, not of memory.
            r.pragma_update(None, "mmap_size", 256 * 1024 * 1024)?;
            readers.push(Mutex::new(r));
        }
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(writer),
                read_permits: tokio::sync::Semaphore::new(readers.len()),
                readers,
                next_reader: AtomicUsize::new(0),
                change_logged: Arc::default(),
            }),
        })
    }

    /// This database's random identity, made on first use: processes on the
    /// same database share it (and so their Redis event channel).
    pub(crate) async fn database_id(&self) -> Result<String> {
        let mut bytes = [0_u8; 16];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Internal(format!("no randomness for an id: {e}")))?;
        let fresh: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('database_id', ?1) ON CONFLICT DO NOTHING",
                [&fresh],
            )?;
            Ok(tx.query_row(
                "SELECT value FROM meta WHERE key = 'database_id'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// A trivial read, for health checks.
    pub(crate) async fn ping(&self) -> Result<()> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    /// Write a probe row and read it back in the same transaction, for health
    /// checks.
    pub(crate) async fn probe_write(&self) -> Result<()> {
        self.write(|tx| {
            let now = now_ms().to_string();
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('health_probe', ?1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [&now],
            )?;
            let back: String = tx.query_row(
                "SELECT value FROM meta WHERE key = 'health_probe'",
                [],
                |r| r.get(0),
            )?;
            if back == now {
                Ok(())
            } else {
                Err(Error::Internal(
                    "the probe row read back differently".into(),
                ))
            }
        })
        .await
    }

    /// Woken (`notify_waiters`) after each commit that logged a list change.
    pub(crate) fn change_logged(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.inner.change_logged)
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Run `f` on a read connection, off the async executor.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let _permit = self
            .inner
            .read_permits
            .acquire()
            .await
            .map_err(|_| Error::Internal("store closed".into()))?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.with_reader(f)).await?
    }

    /// Run `f` inside one `IMMEDIATE` write transaction, off the async executor.
    /// The transaction commits only if `f` returns `Ok`.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = lock(&inner.writer);
            lists::LOGGED_CHANGE.with(|c| c.set(false));
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            if lists::LOGGED_CHANGE.with(|c| c.replace(false)) {
                inner.change_logged.notify_waiters();
            }
            Ok(out)
        })
        .await?
    }
}

impl Inner {
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        // Take the first idle reader; if all are busy, wait for the one in turn.
        for i in 0..n {
            if let Ok(conn) = self.readers[(start + i) % n].try_lock() {
                return f(&conn);
            }
        }
        let conn = lock(&self.readers[start % n]);
        f(&conn)
    }
}

fn configure(conn: &Connection, busy: Duration) -> Result<()> {
    conn.busy_timeout(busy)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // WAL + NORMAL: durable across application crashes; a power loss can drop the
    // last transactions but never corrupts the file.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Refuse a SQLite file that holds tables but is not one of ours.
fn check_ours(conn: &Connection, path: &Path) -> Result<()> {
    let app_id: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if app_id == APPLICATION_ID {
        return Ok(());
    }
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    if tables == 0 {
        return Ok(());
    }
    Err(Error::Config(format!(
        "{} is not a grocery database (application_id {app_id:#x})",
        path.display()
    )))
}

/// Map a `SQLITE_NOTADB` ("file is not a database") to a clear config error.
fn describe_open_error(e: Error, path: &Path) -> Error {
    match &e {
        Error::Storage(inner)
            if matches!(
                inner.sqlite_error_code(),
                Some(rusqlite::ErrorCode::NotADatabase)
            ) =>
        {
            Error::Config(format!("{} is not a SQLite database", path.display()))
        }
        _ => e,
    }
}

/// An exact amount as stored: `numerator/denominator`.
pub(crate) fn amount_to_sql(a: crate::quantity::Amount) -> String {
    let r = a.ratio();
    format!("{}/{}", r.numer(), r.denom())
}

/// Read an amount stored by [`amount_to_sql`].
pub(crate) fn amount_from_sql(s: &str) -> Result<crate::quantity::Amount> {
    let bad = || Error::Internal(format!("corrupt amount `{s}` in database"));
    let (n, d) = s.split_once('/').ok_or_else(bad)?;
    let n: i128 = n.parse().map_err(|_| bad())?;
    let d: i128 = d.parse().map_err(|_| bad())?;
    if d == 0 {
        return Err(bad());
    }
    crate::quantity::Amount::new(crate::quantity::Ratio::new_raw(n, d)).map_err(|_| bad())
}

/// Read a stored unit code.
pub(crate) fn unit_from_sql(s: &str) -> Result<crate::quantity::Unit> {
    crate::quantity::Unit::parse(s)
        .map_err(|_| Error::Internal(format!("corrupt unit `{s}` in database")))
}

/// Milliseconds since the Unix epoch, UTC.
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Read a stored millisecond timestamp.
pub(crate) fn ts(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> StoreOptions {
        StoreOptions {
            readers: 2,
            busy_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn migrations_are_valid() {
        MIGRATIONS.validate().unwrap();
    }

    #[tokio::test]
    async fn a_version_1_database_upgrades_and_keeps_its_lists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut c = rusqlite::Connection::open(&path).unwrap();
            c.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            Migrations::new(vec![M::up(include_str!(
                "../../migrations/0001_create_schema.sql"
            ))])
            .to_latest(&mut c)
            .unwrap();
            c.execute(
                "INSERT INTO lists (owner_id, name, created_at, updated_at) VALUES (1, 'old', 0, 0)",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path, opts()).await.unwrap();
        let sessions: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM agent_sessions", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(sessions, 0);
        assert!(
            store
                .find_list_full(crate::lists::UserId::LOCAL, "old".into())
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn migrations_run_once_and_reopen_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let store = Store::open(&path, opts()).await.unwrap();
        async fn version(s: &Store) -> i64 {
            s.read(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
                .await
                .unwrap()
        }
        assert_eq!(version(&store).await, 7);
        drop(store);
        let store = Store::open(&path, opts()).await.unwrap();
        assert_eq!(version(&store).await, 7);
        let mode: String = store
            .read(|c| Ok(c.pragma_query_value(None, "journal_mode", |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn refuses_foreign_sqlite_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE t (x)").unwrap();
        }
        let err = Store::open(&path, opts()).await.unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
    }

    #[tokio::test]
    async fn refuses_files_that_are_not_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.db");
        std::fs::write(&path, vec![b'x'; 8192]).unwrap();
        let err = Store::open(&path, opts()).await.unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
    }

    #[tokio::test]
    async fn failed_write_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("g.db"), opts()).await.unwrap();
        let res: Result<()> = store
            .write(|tx| {
                tx.execute("INSERT INTO users (name, created_at) VALUES ('a', 0)", [])?;
                Err(Error::invalid("boom"))
            })
            .await;
        assert!(res.is_err());
        let n: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 1, "only the built-in local user");
    }
}
