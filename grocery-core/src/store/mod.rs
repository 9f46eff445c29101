//! The SQLite store: connections, migrations and every SQL statement of the crate.
//!
//! One writer connection on its own thread and a small pool of reader threads,
//! each owning a read connection (WAL lets readers run beside the writer). No
//! SQLite call runs on the async executor's threads: an async method sends a
//! closure to the right thread and awaits its answer.
//!
//! Every write is one closure, and a closure's work lands whole or not at all.
//! The writer runs the closures queued at the same moment in one `IMMEDIATE`
//! transaction (group commit), inside savepoints: a closure that fails rolls
//! back and leaves the others alone, and every caller hears of its result
//! only after the shared commit. A closure gets a savepoint of its own, or,
//! when it may run again (the list edits), shares one with its neighbours
//! and runs again if one of them fails halfway (see `run_batch`). Under load this
//! turns hundreds of small commits into a few larger ones; alone, a write is
//! its own batch.
//!
//! The rest of the crate talks to the store only through the async methods in
//! `catalog`, `lists`, `prices` and `users` below; a PostgreSQL backend for deployments of
//! several server instances slots in behind the same methods.

mod backup;
mod cache;
mod catalog;
mod current;
mod list_cache;
mod lists;
mod prices;
mod sessions;
mod tracking;
mod users;

pub(crate) use backup::restore_blocking;
pub use catalog::{CatalogStats, DepartmentCount, ImportSummary};
pub(crate) use catalog::{ProductRow, StoredPrice, fts_matches};
pub(crate) use list_cache::Logged;
pub(crate) use lists::{Access, Edit, ListRef, Moved, Pick};

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel as channel;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use rusqlite_migration::{M, Migrations};

use crate::error::{Error, Result};

/// `PRAGMA application_id` of our databases ('GROC').
pub(crate) const APPLICATION_ID: i64 = 0x4752_4F43;

/// The embedded migrations' SQL, in order. Never edit a merged one: add a new
/// file.
const MIGRATION_SQL: &[&str] = &[
    include_str!("../../migrations/0001_create_schema.sql"),
    include_str!("../../migrations/0002_agent_sessions.sql"),
    include_str!("../../migrations/0003_cache.sql"),
    include_str!("../../migrations/0004_price_tracking.sql"),
    include_str!("../../migrations/0005_cache_counters.sql"),
    include_str!("../../migrations/0006_sharing_and_list_events.sql"),
    include_str!("../../migrations/0007_current_list.sql"),
    include_str!("../../migrations/0008_store_prices.sql"),
    include_str!("../../migrations/0009_purchases_and_picks.sql"),
    include_str!("../../migrations/0010_agent_undo.sql"),
    include_str!("../../migrations/0011_list_event_audience_in_log_order.sql"),
    include_str!("../../migrations/0012_lean_change_log.sql"),
];

/// The embedded migrations, in order.
static MIGRATIONS: LazyLock<Migrations<'static>> =
    LazyLock::new(|| Migrations::new(MIGRATION_SQL.iter().map(|sql| M::up(sql)).collect()));

/// Options for [`Store::open`].
#[derive(Debug, Clone)]
pub(crate) struct StoreOptions {
    pub readers: usize,
    pub busy_timeout: Duration,
    /// WAL frames past which the writer copies the WAL back itself
    /// ([`WAL_LIMIT_FRAMES`]).
    pub wal_limit_frames: i64,
    /// Commits between the checkpointer's rounds ([`CHECKPOINT_EVERY`]; 0:
    /// none, for tests).
    pub checkpoint_every: u32,
}

impl StoreOptions {
    /// `readers` reader threads, `busy_timeout`, the WAL bounds as
    /// [`WAL_LIMIT_FRAMES`] and [`CHECKPOINT_EVERY`] say.
    pub(crate) fn new(readers: usize, busy_timeout: Duration) -> StoreOptions {
        StoreOptions {
            readers,
            busy_timeout,
            wal_limit_frames: WAL_LIMIT_FRAMES,
            checkpoint_every: CHECKPOINT_EVERY,
        }
    }
}

/// The size a WAL that grew is cut back to when it starts over
/// (`journal_size_limit`), in bytes.
const WAL_KEPT_BYTES: i64 = 64 * 1024 * 1024;

/// WAL frames (pages) past which the writer copies the WAL back into the
/// database itself, between two batches: [`WAL_KEPT_BYTES`] of 4 KiB pages
/// (SQLite's default page size, which ours keep). The checkpointer's rounds copy
/// frames beside the writer without holding it up, but a round only lets the
/// WAL start over when no commit landed while it ran, and under a steady
/// stream of commits (and a sync taking milliseconds) one always does: the
/// WAL grew by 42 MB a second under the load test's agent requests, to 1.6 GB
/// in 40 s. Between two batches nothing else writes, so the writer's own
/// round ends with every frame copied and the next transaction starts the
/// WAL over.
pub(crate) const WAL_LIMIT_FRAMES: i64 = WAL_KEPT_BYTES / 4096;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub(crate) struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Write closures for the writer thread (`None` once closing).
    writes: Option<channel::Sender<Box<dyn WriteJob>>>,
    /// Read closures for the reader threads (`None` once closing).
    reads: Option<channel::Sender<ReadJob>>,
    readers: usize,
    /// The reader threads, then the writer and checkpointer threads (in the
    /// order they must be joined), joined on drop so that the file is closed
    /// when the last handle goes.
    reader_threads: Vec<JoinHandle<()>>,
    writer_threads: Vec<JoinHandle<()>>,
    /// Woken after a commit that appended to the list change log.
    change_logged: Arc<tokio::sync::Notify>,
    /// The newest change in the log this process knows of: the last when it
    /// opened the database, then its own commits' (see [`Store::known_seq`]).
    known_seq: Arc<AtomicI64>,
    /// Lists in memory, kept current by every commit's logged changes.
    list_cache: Arc<list_cache::ListCache>,
    /// This process's logged changes, for the change-log tailer.
    own_changes: Arc<OwnChanges>,
    /// Write closures sent to the writer so far (tests check what skips it).
    writes_sent: AtomicU64,
}

/// How many of its own logged changes this process keeps for the change-log
/// tailer; past that they are dropped, and the tailer reads the log instead.
const OWN_CHANGES_KEPT: usize = 4_096;

/// The changes this process's commits logged, in `seq` order, as the log
/// holds them, handed to the change-log tailer so that it publishes them
/// without reading them back (it reads the log when another process may have
/// logged changes in between, see [`OwnChanges::take`]). Kept only once the
/// tailer follows, and at most [`OWN_CHANGES_KEPT`].
#[derive(Debug, Default)]
pub(crate) struct OwnChanges {
    following: std::sync::atomic::AtomicBool,
    queue: std::sync::Mutex<OwnQueue>,
}

#[derive(Debug, Default)]
struct OwnQueue {
    changes: Vec<crate::lists::ListChange>,
    /// Some were dropped since the last take.
    dropped: bool,
}

impl OwnChanges {
    /// Keep this process's changes from now on.
    pub(crate) fn follow(&self) {
        self.following.store(true, Ordering::Release);
    }

    /// The writer's committed changes, in `seq` order.
    fn push(&self, changes: Vec<crate::lists::ListChange>) {
        if changes.is_empty() || !self.following.load(Ordering::Acquire) {
            return;
        }
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.changes.len() + changes.len() > OWN_CHANGES_KEPT {
            q.changes = Vec::new();
            q.dropped = true;
        } else if q.changes.is_empty() {
            q.changes = changes;
        } else {
            q.changes.extend(changes);
        }
    }

    /// The changes logged after `after`, when they are all of the log after
    /// it as this process knows it: their `seq`s follow `after` with no gap
    /// (`seq` is `AUTOINCREMENT` and only this process's commits are here, so
    /// a gap is another process's change). `None` when there is a gap or some
    /// were dropped: the log must be read. Takes what was kept either way.
    pub(crate) fn take(&self, after: i64) -> Option<Vec<crate::lists::ListChange>> {
        let (mut changes, dropped) = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            (
                std::mem::take(&mut q.changes),
                std::mem::take(&mut q.dropped),
            )
        };
        if dropped {
            return None;
        }
        changes.retain(|c| c.seq > after);
        let mut expected = after;
        for c in &changes {
            if c.seq != expected + 1 {
                return None;
            }
            expected = c.seq;
        }
        Some(changes)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let me = std::thread::current().id();
        let on_store_thread = self
            .reader_threads
            .iter()
            .chain(&self.writer_threads)
            .any(|t| t.thread().id() == me);
        if on_store_thread {
            // A store thread dropping the last handle cannot wait for itself:
            // closing the channels still ends every thread.
            self.writes = None;
            self.reads = None;
            return;
        }
        // Readers first, then the writer (which checkpoints as it goes, with
        // no reader left to hold the WAL), then the checkpointer it feeds: the
        // file is closed, its WAL copied back, when the last handle goes.
        self.reads = None;
        for t in self.reader_threads.drain(..) {
            let _ = t.join();
        }
        self.writes = None;
        for t in self.writer_threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field("readers", &self.inner.readers)
            .finish()
    }
}

/// A read closure, with its answer channel inside.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// A write closure with its answer channel: run inside the batch's transaction,
/// or failed without running when the batch cannot start.
trait WriteJob: Send {
    /// Run the closure in `tx` and keep its answer for after the commit;
    /// whether its work is to be kept.
    fn run(&mut self, tx: &Transaction<'_>) -> bool;
    /// Whether the closure may run again after its work was rolled back: it
    /// is `Fn` and changes rows only (see [`Store::write_repeatable`]).
    fn repeatable(&self) -> bool;
    /// Answer the caller after the commit: the commit's error if it failed,
    /// else the closure's answer (none, after a panic: the dropped channel
    /// tells of an internal error).
    fn tell(self: Box<Self>, commit_error: Option<&rusqlite::Error>);
    fn fail(self: Box<Self>, error: Error);
    /// When it was asked for.
    fn asked(&self) -> std::time::Instant;
}

/// A write's answer, waiting for the batch's commit.
struct Answer<T> {
    out: Option<Result<T>>,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
    asked: std::time::Instant,
}

impl<T> Answer<T> {
    fn keep(&mut self, out: Result<T>) -> bool {
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn tell(self, commit_error: Option<&rusqlite::Error>) {
        let out = match (commit_error, self.out) {
            (Some(e), _) => Err(copy_error(e)),
            (None, Some(out)) => out,
            (None, None) => return,
        };
        let _ = self.reply.send(out);
    }
}

/// A write closure and its answer.
struct Job<R, T> {
    run: R,
    answer: Answer<T>,
}

/// How a job's closure runs: once, or again after a rollback.
trait Run<T>: Send {
    /// The closure's answer; none when it already ran and cannot again.
    fn run(&mut self, tx: &Transaction<'_>) -> Option<Result<T>>;
    fn repeatable(&self) -> bool;
}

/// A closure that runs once.
struct Once<F>(Option<F>);

/// A closure that may run again (see [`Store::write_repeatable`]).
struct Again<F>(F);

impl<F, T> Run<T> for Once<F>
where
    F: FnOnce(&Transaction<'_>) -> Result<T> + Send,
{
    fn run(&mut self, tx: &Transaction<'_>) -> Option<Result<T>> {
        self.0.take().map(|f| f(tx))
    }

    fn repeatable(&self) -> bool {
        false
    }
}

impl<F, T> Run<T> for Again<F>
where
    F: Fn(&Transaction<'_>) -> Result<T> + Send,
{
    fn run(&mut self, tx: &Transaction<'_>) -> Option<Result<T>> {
        Some((self.0)(tx))
    }

    fn repeatable(&self) -> bool {
        true
    }
}

impl<R, T> WriteJob for Job<R, T>
where
    R: Run<T>,
    T: Send + 'static,
{
    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        self.answer.out = None;
        match self.run.run(tx) {
            Some(out) => self.answer.keep(out),
            None => false,
        }
    }

    fn repeatable(&self) -> bool {
        self.run.repeatable()
    }

    fn tell(self: Box<Self>, commit_error: Option<&rusqlite::Error>) {
        self.answer.tell(commit_error);
    }

    fn fail(self: Box<Self>, error: Error) {
        let _ = self.answer.reply.send(Err(error));
    }

    fn asked(&self) -> std::time::Instant {
        self.answer.asked
    }
}

/// The same SQLite failure again, for each caller of a batch whose commit failed.
fn copy_error(e: &rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            Error::from(rusqlite::Error::SqliteFailure(*code, msg.clone()))
        }
        other => Error::Internal(format!("commit failed: {other}")),
    }
}

/// At most this many write closures share one transaction.
const MAX_BATCH: usize = 128;

/// The writer asks for a checkpoint after this many commits (SQLite's own
/// automatic checkpoint is off on the writer so that its fsyncs never hold up
/// a commit; a separate connection copies the WAL back beside the writer).
const CHECKPOINT_EVERY: u32 = 64;

/// What the writer tells after each commit: the subscribers' log tailer, and
/// the list cache.
struct Committed {
    change_logged: Arc<tokio::sync::Notify>,
    known_seq: Arc<AtomicI64>,
    list_cache: Arc<list_cache::ListCache>,
    own_changes: Arc<OwnChanges>,
}

thread_local! {
    /// Frames in the WAL after the writer's last commit (its WAL hook).
    static WAL_FRAMES: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// The writer connection's WAL hook: note the WAL's length after a commit.
fn note_wal_frames(_: &rusqlite::hooks::Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.set(i64::from(frames));
    Ok(())
}

/// The writer's own checkpoint, between batches. A reader still on an older
/// snapshot, or a round of the checkpointer still running, can keep it from
/// copying every frame; the writer tries again later.
fn checkpoint_between_batches(conn: &Connection) {
    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    });
    metrics::counter!("grocery_store_writer_checkpoints_total").increment(1);
    match done {
        Ok((busy, log, copied)) if busy != 0 || log != copied => {
            tracing::debug!(busy, log, copied, "writer checkpoint left frames");
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "writer checkpoint skipped"),
    }
}

fn writer_loop(
    mut conn: Connection,
    jobs: channel::Receiver<Box<dyn WriteJob>>,
    checkpoint: channel::Sender<()>,
    committed: Committed,
    opts: &StoreOptions,
) {
    conn.wal_hook(Some(note_wal_frames));
    let mut commits = 0_u32;
    // Commits since the writer's own checkpoint: one that could not copy
    // everything is not tried again at once.
    let mut since_own = u32::MAX;
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        while !batch.is_empty() {
            batch = run_batch(&mut conn, batch, &committed);
            commits += 1;
            since_own = since_own.saturating_add(1);
            // Past the limit the writer's own checkpoint takes over: a round
            // of the checkpointer running beside it would make it give up.
            let over = WAL_FRAMES.get() > opts.wal_limit_frames;
            if over && since_own >= CHECKPOINT_EVERY {
                since_own = 0;
                checkpoint_between_batches(&conn);
            }
            if opts.checkpoint_every > 0 && commits >= opts.checkpoint_every {
                commits = 0;
                if !over {
                    let _ = checkpoint.try_send(());
                }
            }
        }
    }
    // Closing: copy the WAL back and truncate it while nothing else reads.
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::debug!(error = %e, "closing checkpoint skipped");
    }
}

/// Run `batch` in one transaction, then commit and answer. Returns the jobs
/// not run because SQLite aborted the transaction under them (they go in the
/// next one).
///
/// A job that fails leaves no trace, and the others keep their work. A job
/// that may not run again gets a savepoint of its own. Jobs that may run
/// again ([`Store::write_repeatable`]: the list edits, most of the load) share
/// one savepoint while they succeed, which spares SQLite copying each page
/// they all touch (the change log's last page, the lists' versions) once per
/// job: one that fails without having changed a row leaves nothing to undo,
/// and one that fails after changing rows sends the group back to its
/// savepoint, and its jobs run again, each in a savepoint of its own.
fn run_batch(
    conn: &mut Connection,
    batch: Vec<Box<dyn WriteJob>>,
    committed: &Committed,
) -> Vec<Box<dyn WriteJob>> {
    lists::LOGGED.with_borrow_mut(Vec::clear);
    let starting = std::time::Instant::now();
    let waits = metrics::histogram!("grocery_store_write_wait_seconds");
    for job in &batch {
        waits.record(
            starting
                .saturating_duration_since(job.asked())
                .as_secs_f64(),
        );
    }
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            for job in batch {
                job.fail(copy_error(&e));
            }
            return Vec::new();
        }
    };
    let mut done: Vec<Box<dyn WriteJob>> = Vec::with_capacity(batch.len());
    let mut group: Option<Group> = None;
    let mut jobs = batch.into_iter();
    let mut aborted = None;
    for job in jobs.by_ref() {
        let step = if job.repeatable() {
            run_grouped(&tx, job, &mut group, &mut done)
        } else {
            close_group(&tx, &mut group).and_then(|()| run_alone(&tx, job, &mut done))
        };
        if let Err(e) = step {
            aborted = Some(e);
            break;
        }
    }
    if aborted.is_none() {
        aborted = close_group(&tx, &mut group).err();
    }
    let rest: Vec<Box<dyn WriteJob>> = jobs.collect();
    if let Some(e) = aborted {
        // This job's work, or all of the batch's, may be in the transaction:
        // give the whole batch up.
        for job in done {
            job.tell(Some(&e));
        }
        drop(tx);
        return rest;
    }
    metrics::histogram!("grocery_store_write_batch_jobs").record(done.len() as f64);
    let committing = std::time::Instant::now();
    let result = tx.commit();
    metrics::histogram!("grocery_store_commit_duration_seconds")
        .record(committing.elapsed().as_secs_f64());
    let error = result.as_ref().err();
    let logged = lists::LOGGED.with_borrow_mut(std::mem::take);
    // Older copies of the changed lists go before any caller hears of the
    // commit, so none can read them afterwards.
    let logged_any = !logged.is_empty();
    if error.is_none() && logged_any {
        let marks: Vec<Logged> = logged.iter().map(Logged::of).collect();
        committed.list_cache.changed(&marks);
        if let Some(seq) = logged.iter().map(|l| l.seq).max() {
            committed.known_seq.fetch_max(seq, Ordering::AcqRel);
        }
        committed.own_changes.push(logged);
    }
    for job in done {
        job.tell(error);
    }
    if error.is_none() && logged_any {
        committed.change_logged.notify_waiters();
    }
    rest
}

/// The repeatable jobs sharing the open savepoint: where they start in the
/// batch's `done` and in the change log.
struct Group {
    first: usize,
    logged: usize,
}

/// The error that ends a batch SQLite rolled back by itself (disk full, I/O
/// error): the earlier jobs' work is gone with it.
fn rolled_back() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("the transaction was rolled back".into()),
    )
}

/// Run `job` and put it in `done`; whether it asked for its work to be kept
/// (a panicking closure is a failure), and how long the change log was
/// before it. An error when SQLite rolled the transaction back under it.
fn run_one(
    tx: &Transaction<'_>,
    mut job: Box<dyn WriteJob>,
    done: &mut Vec<Box<dyn WriteJob>>,
) -> rusqlite::Result<(bool, usize)> {
    let logged_before = lists::LOGGED.with_borrow(Vec::len);
    let kept = catch_unwind(AssertUnwindSafe(|| job.run(tx))).unwrap_or(false);
    done.push(job);
    if tx.is_autocommit() {
        return Err(rolled_back());
    }
    Ok((kept, logged_before))
}

/// Run `job` in a savepoint of its own, rolled back if it fails. An error ends
/// the batch (`job` is in `done` to hear of it).
fn run_alone(
    tx: &Transaction<'_>,
    job: Box<dyn WriteJob>,
    done: &mut Vec<Box<dyn WriteJob>>,
) -> rusqlite::Result<()> {
    if let Err(e) = savepoint(tx, "SAVEPOINT job") {
        job.fail(e.into());
        return Ok(());
    }
    let (kept, logged_before) = run_one(tx, job, done)?;
    if kept {
        savepoint(tx, "RELEASE job")
    } else {
        // Its logged changes are undone with it.
        lists::LOGGED.with_borrow_mut(|l| l.truncate(logged_before));
        savepoint(tx, "ROLLBACK TO job").and_then(|()| savepoint(tx, "RELEASE job"))
    }
}

/// Run a repeatable `job` in the group's savepoint (opened for it when none
/// is). An error ends the batch.
fn run_grouped(
    tx: &Transaction<'_>,
    job: Box<dyn WriteJob>,
    group: &mut Option<Group>,
    done: &mut Vec<Box<dyn WriteJob>>,
) -> rusqlite::Result<()> {
    if group.is_none() {
        if let Err(e) = savepoint(tx, "SAVEPOINT jobs") {
            job.fail(e.into());
            return Ok(());
        }
        *group = Some(Group {
            first: done.len(),
            logged: lists::LOGGED.with_borrow(Vec::len),
        });
    }
    let changes = tx.total_changes();
    let (kept, logged_before) = run_one(tx, job, done).inspect_err(|_| *group = None)?;
    if kept {
        return Ok(());
    }
    if tx.total_changes() == changes {
        // It failed before changing a row: there is nothing to undo.
        lists::LOGGED.with_borrow_mut(|l| l.truncate(logged_before));
        return Ok(());
    }
    // It failed after changing rows: undo the group, and run its jobs again,
    // each in a savepoint of its own.
    let Some(g) = group.take() else {
        return Ok(());
    };
    savepoint(tx, "ROLLBACK TO jobs").and_then(|()| savepoint(tx, "RELEASE jobs"))?;
    lists::LOGGED.with_borrow_mut(|l| l.truncate(g.logged));
    let again: Vec<Box<dyn WriteJob>> = done.drain(g.first..).collect();
    let mut again = again.into_iter();
    while let Some(job) = again.next() {
        if let Err(e) = run_alone(tx, job, done) {
            done.extend(again);
            return Err(e);
        }
    }
    Ok(())
}

/// Release the group's savepoint, keeping its jobs' work. An error ends the
/// batch.
fn close_group(tx: &Transaction<'_>, group: &mut Option<Group>) -> rusqlite::Result<()> {
    match group.take() {
        Some(_) => savepoint(tx, "RELEASE jobs"),
        None => Ok(()),
    }
}

/// Run a savepoint statement, prepared once per connection.
fn savepoint(tx: &Transaction<'_>, sql: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn reader_loop(conn: Connection, jobs: channel::Receiver<ReadJob>) {
    while let Ok(job) = jobs.recv() {
        // A panicking closure drops its answer channel; the reader goes on.
        let _ = catch_unwind(AssertUnwindSafe(|| job(&conn)));
    }
}

/// Copies the WAL back into the database when the writer asks, on its own
/// connection, without blocking the writer (`PASSIVE`).
fn checkpoint_loop(conn: Connection, asks: channel::Receiver<()>) {
    while asks.recv().is_ok() {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(error = %e, "checkpoint skipped");
        }
    }
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .map_err(|e| Error::Internal(format!("cannot start a store thread: {e}")))
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
        // Checkpoints run on their own connection (see `checkpoint_loop`),
        // and on this one past `WAL_LIMIT_FRAMES`; a WAL that grew (a big
        // import) is cut back to 64 MiB when it starts over.
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        writer.pragma_update(None, "journal_size_limit", WAL_KEPT_BYTES)?;
        // Each job of a group commit runs in a savepoint, and the pages it
        // changes are copied to the transaction's statement journal. Past
        // 64 KiB that journal spills to a temporary file, a write(2) per
        // page for a batch of a few dozen jobs (5 % of the server's CPU
        // under load). In memory it holds at most one batch's pages, freed
        // at each commit.
        writer.pragma_update(None, "temp_store", "MEMORY")?;
        let checkpointer = Connection::open(&path)?;
        configure(&checkpointer, opts.busy_timeout)?;
        checkpointer.pragma_update(None, "journal_size_limit", WAL_KEPT_BYTES)?;
        let n = opts.readers.max(1);
        let mut reader_conns = Vec::with_capacity(n);
        for _ in 0..n {
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
            reader_conns.push(r);
        }
        let change_logged: Arc<tokio::sync::Notify> = Arc::default();
        let known_seq = Arc::new(AtomicI64::new(writer.query_row(
            "SELECT coalesce(max(seq), 0) FROM list_events",
            [],
            |r| r.get(0),
        )?));
        let (writes, write_jobs) = channel::unbounded::<Box<dyn WriteJob>>();
        let (reads, read_jobs) = channel::unbounded::<ReadJob>();
        let (ask_checkpoint, checkpoint_asks) = channel::bounded::<()>(1);
        let list_cache: Arc<list_cache::ListCache> = Arc::default();
        let own_changes: Arc<OwnChanges> = Arc::default();
        let committed = Committed {
            change_logged: Arc::clone(&change_logged),
            known_seq: Arc::clone(&known_seq),
            list_cache: Arc::clone(&list_cache),
            own_changes: Arc::clone(&own_changes),
        };
        let writer_threads = vec![
            spawn("grocery-writer".into(), {
                let opts = opts.clone();
                move || writer_loop(writer, write_jobs, ask_checkpoint, committed, &opts)
            })?,
            spawn("grocery-checkpoint".into(), move || {
                checkpoint_loop(checkpointer, checkpoint_asks)
            })?,
        ];
        let mut reader_threads = Vec::with_capacity(n);
        for (i, conn) in reader_conns.into_iter().enumerate() {
            let jobs = read_jobs.clone();
            reader_threads.push(spawn(format!("grocery-reader-{i}"), move || {
                reader_loop(conn, jobs)
            })?);
        }
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                writes: Some(writes),
                reads: Some(reads),
                readers: n,
                reader_threads,
                writer_threads,
                change_logged,
                known_seq,
                list_cache,
                own_changes,
                writes_sent: AtomicU64::new(0),
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

    /// A read of the database file, for health checks.
    pub(crate) async fn ping(&self) -> Result<()> {
        self.read(|c| {
            // Reads the file (its schema), not only the connection: a damaged
            // or unreadable database fails here.
            c.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
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

    /// The newest logged list change this process knows of: every change
    /// committed after this call, by any process, comes later in the log.
    pub(crate) fn known_seq(&self) -> i64 {
        self.inner.known_seq.load(Ordering::Acquire)
    }

    /// The lists kept in memory.
    pub(crate) fn list_cache(&self) -> &list_cache::ListCache {
        &self.inner.list_cache
    }

    /// This process's committed changes, for the change-log tailer.
    pub(crate) fn own_changes(&self) -> &OwnChanges {
        &self.inner.own_changes
    }

    /// How many writes were sent to the writer thread since the store
    /// opened (each one a savepoint in some group commit).
    #[cfg(test)]
    pub(crate) fn writes_sent(&self) -> u64 {
        self.inner.writes_sent.load(Ordering::Relaxed)
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Run `f` on a read connection, on a reader thread.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let _ = reply.send(f(conn));
        });
        self.inner
            .reads
            .as_ref()
            .and_then(|r| r.send(job).ok())
            .ok_or_else(closed)?;
        answer
            .await
            .map_err(|_| Error::Internal("a store read failed unexpectedly".into()))?
    }

    /// Run `f` on the writer thread inside a write transaction (a savepoint of
    /// a group commit, see the module docs). `f`'s work is kept only if it
    /// returns `Ok`, and the answer comes after the commit.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.send_write(|answer| {
            Box::new(Job {
                run: Once(Some(f)),
                answer,
            })
        })
        .await
    }

    /// As [`Store::write`], for a closure that changes rows only (no schema,
    /// no pragma) and may run again: its work can be rolled back with its
    /// neighbours' and done again, so it shares a savepoint with them instead
    /// of opening its own, which under load is most of what a small write
    /// costs the writer. Its answer is from its last run.
    pub(crate) async fn write_repeatable<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.send_write(|answer| {
            Box::new(Job {
                run: Again(f),
                answer,
            })
        })
        .await
    }

    async fn send_write<T: Send + 'static>(
        &self,
        job: impl FnOnce(Answer<T>) -> Box<dyn WriteJob>,
    ) -> Result<T> {
        self.inner.writes_sent.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = job(Answer {
            out: None,
            reply,
            asked: std::time::Instant::now(),
        });
        self.inner
            .writes
            .as_ref()
            .and_then(|w| w.send(job).ok())
            .ok_or_else(closed)?;
        answer
            .await
            .map_err(|_| Error::Internal("a store write failed unexpectedly".into()))?
    }
}

fn closed() -> Error {
    Error::Internal("the store is closed".into())
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
        StoreOptions::new(2, Duration::from_secs(1))
    }

    #[test]
    fn migrations_are_valid() {
        MIGRATIONS.validate().unwrap();
    }

    /// A database of ours at schema `version` (its first migrations only),
    /// as an older release left it.
    fn database_at(path: &Path, version: usize) -> rusqlite::Connection {
        let mut c = rusqlite::Connection::open(path).unwrap();
        c.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        Migrations::new(
            MIGRATION_SQL[..version]
                .iter()
                .map(|sql| M::up(sql))
                .collect(),
        )
        .to_latest(&mut c)
        .unwrap();
        c
    }

    /// A store opened on a database made at migration `version` and given
    /// `sql` there.
    async fn upgraded(version: usize, sql: &str) -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        database_at(&path, version).execute_batch(sql).unwrap();
        (Store::open(&path, opts()).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn a_version_1_database_upgrades_and_keeps_its_lists() {
        let (store, _dir) = upgraded(
            1,
            "INSERT INTO lists (owner_id, name, created_at, updated_at) VALUES (1, 'old', 0, 0)",
        )
        .await;
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

    /// The change log of a version-10 database (audience keyed by user)
    /// upgrades whole: each change keeps its audience, and each user still
    /// sees only the changes they were in the audience of.
    #[tokio::test]
    async fn a_version_10_change_log_upgrades_with_its_audiences() {
        use crate::lists::UserId;
        let (store, _dir) = upgraded(
            10,
            "INSERT INTO list_events (seq, list_id, version, kind, actor_id, at) VALUES \
                 (1, 7, 1, 'changed', 1, 1000), (2, 7, 2, 'shared', 1, 2000), \
                 (3, 7, 3, 'changed', 2, 3000);
             INSERT INTO list_event_audience (user_id, seq) VALUES \
                 (1, 1), (1, 2), (2, 2), (1, 3), (2, 3);",
        )
        .await;
        let all = store.list_changes(0, None, 100).await.unwrap();
        let audiences: Vec<(i64, Vec<UserId>)> = all
            .iter()
            .map(|c| {
                let mut a = c.audience.clone();
                a.sort();
                (c.seq, a)
            })
            .collect();
        assert_eq!(
            audiences,
            vec![
                (1, vec![UserId(1)]),
                (2, vec![UserId(1), UserId(2)]),
                (3, vec![UserId(1), UserId(2)]),
            ]
        );
        let seqs = |changes: Vec<crate::lists::ListChange>| -> Vec<i64> {
            changes.iter().map(|c| c.seq).collect()
        };
        assert_eq!(
            seqs(store.list_changes(0, Some(UserId(2)), 100).await.unwrap()),
            [2, 3]
        );
        assert_eq!(
            seqs(store.list_changes(2, Some(UserId(1)), 100).await.unwrap()),
            [3]
        );
        assert!(
            store
                .list_changes(0, Some(UserId(3)), 100)
                .await
                .unwrap()
                .is_empty()
        );
        // The log's end is known: new changes come after.
        assert_eq!(store.known_seq(), 3);
    }

    /// A version-11 change log (AUTOINCREMENT, audience tied to its event)
    /// becomes the lean one whole: every event keeps its seq and audience,
    /// new changes carry on after the newest, and pruning takes an event's
    /// audience with it while the newest event stays.
    #[tokio::test]
    async fn a_version_11_change_log_keeps_its_seqs_and_prunes_audiences() {
        use crate::lists::{NewItem, UserId};
        let (store, _dir) = upgraded(
            11,
            "INSERT INTO list_events (list_id, version, kind, actor_id, at) VALUES \
                 (7, 1, 'changed', 1, 1000), (7, 2, 'shared', 1, 2000), \
                 (7, 3, 'changed', 1, 3000);
             INSERT INTO list_event_audience (seq, user_id) VALUES \
                 (1, 1), (2, 1), (2, 2), (3, 1), (3, 2);",
        )
        .await;
        let audiences = |changes: Vec<crate::lists::ListChange>| -> Vec<(i64, usize)> {
            changes.iter().map(|c| (c.seq, c.audience.len())).collect()
        };
        assert_eq!(
            audiences(store.list_changes(0, None, 100).await.unwrap()),
            [(1, 1), (2, 2), (3, 2)]
        );
        assert_eq!(store.known_seq(), 3);
        let schema: String = store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT group_concat(sql, ';') FROM sqlite_schema \
                     WHERE name IN ('list_events', 'list_event_audience')",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        assert!(!schema.contains("AUTOINCREMENT"), "{schema}");
        assert!(!schema.contains("REFERENCES"), "{schema}");
        // A new change comes after the newest.
        let list = store
            .create_list(UserId(1), "groceries".into())
            .await
            .unwrap();
        let add = |name: &str| {
            let item = NewItem {
                name: name.into(),
                quantity: None,
                product_id: None,
                note: None,
            };
            store.add_item(UserId(1).into(), list.id, item)
        };
        add("milk").await.unwrap();
        let seqs: Vec<i64> = store
            .list_changes(3, None, 100)
            .await
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect();
        assert_eq!(seqs, [4, 5], "the list made, then the milk");
        // Pruning everything old keeps the newest, and no audience outlives
        // its event.
        assert_eq!(store.prune_list_changes(i64::MAX).await.unwrap(), 4);
        assert_eq!(
            audiences(store.list_changes(0, None, 100).await.unwrap()),
            [(5, 1)]
        );
        let orphans: i64 = store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM list_event_audience WHERE seq NOT IN \
                     (SELECT seq FROM list_events)",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(orphans, 0);
        // And the next seq is still new.
        add("eggs").await.unwrap();
        assert_eq!(store.known_seq(), 6);
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
        let latest = MIGRATION_SQL.len() as i64;
        assert_eq!(version(&store).await, latest);
        drop(store);
        let store = Store::open(&path, opts()).await.unwrap();
        assert_eq!(version(&store).await, latest);
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

    /// With no checkpointer rounds at all (as under a steady stream of
    /// commits, when none of them can end the WAL), the writer copies the
    /// WAL back itself past its limit, and the WAL starts over: the file
    /// stays near the limit instead of growing with every commit.
    #[tokio::test]
    async fn the_writer_keeps_the_wal_near_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let mut o = opts();
        o.checkpoint_every = 0;
        o.wal_limit_frames = 64;
        let store = Store::open(&path, o).await.unwrap();
        let commits = 600;
        for i in 0..commits {
            store
                .write(move |tx| {
                    tx.execute(
                        "INSERT INTO users (name, created_at) VALUES (?1, 0)",
                        [format!("user {i}")],
                    )?;
                    Ok(())
                })
                .await
                .unwrap();
        }
        let users: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(
            users,
            commits + 1,
            "every write is kept, and the local user"
        );
        // A frame is a page and its 24-byte header. Each commit here writes at
        // least two (the table and the name index), so without the writer's
        // checkpoints the WAL would reach 1,200 frames; with them, the limit
        // and the 64 commits it waits between two tries (four frames each).
        let frame = 4096 + 24;
        let wal = std::fs::metadata(dir.path().join("g.db-wal"))
            .unwrap()
            .len();
        assert!(wal <= (64 + 64 * 4) * frame, "WAL of {wal} bytes");
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

    /// A failing write that changed far more than the 64 KiB a statement
    /// journal holds before it would spill to a file is still undone whole,
    /// from the journal the writer keeps in memory.
    #[tokio::test]
    async fn a_large_failed_write_is_undone_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("g.db"), opts()).await.unwrap();
        let temp_store: i64 = store
            .write(|tx| Ok(tx.pragma_query_value(None, "temp_store", |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(temp_store, 2, "MEMORY");
        store
            .write(|tx| {
                let mut insert =
                    tx.prepare("INSERT INTO users (name, created_at) VALUES (?1, 0)")?;
                for i in 0..2_000 {
                    insert.execute([format!("user {i:04} {}", "x".repeat(200))])?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let res: Result<()> = store
            .write(|tx| {
                // Every page of the table is journaled.
                let changed = tx.execute("UPDATE users SET name = name || ' renamed'", [])?;
                Err(Error::invalid(format!("changed {changed}, then failed")))
            })
            .await;
        assert!(
            res.as_ref()
                .is_err_and(|e| e.to_string().contains("changed 2001,")),
            "{res:?}"
        );
        let renamed: i64 = store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM users WHERE name LIKE '% renamed'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(renamed, 0, "the 2,001 names are as they were");
    }

    /// Writes queued together share a commit, yet each lands whole or not at
    /// all: failing and panicking closures among them leave no trace and do
    /// not take the others down, and the writer carries on afterwards. The
    /// same with closures that may run again ([`Store::write_repeatable`]),
    /// which share a savepoint: one failing after changing rows sends its
    /// group back and the group runs again (a row left from a first run would
    /// make the second fail on the unique name), one failing before changing
    /// anything does not; and with both kinds interleaved.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_group_commit_keeps_each_write_whole() {
        for repeatable in [|_: i64| false, |_: i64| true, |i: i64| i % 2 == 0] {
            group_commit_keeps_each_write_whole(repeatable).await;
        }
    }

    async fn group_commit_keeps_each_write_whole(repeatable: fn(i64) -> bool) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("g.db"), opts()).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..500_i64 {
            let store = store.clone();
            let write = move |tx: &Transaction<'_>| {
                if i % 5 == 3 {
                    return Err(Error::invalid("refused before writing"));
                }
                tx.execute(
                    "INSERT INTO users (name, created_at) VALUES (?1, 0)",
                    [format!("u{i}")],
                )?;
                tx.execute(
                    "INSERT INTO users (name, created_at) VALUES (?1, 0)",
                    [format!("v{i}")],
                )?;
                match i % 5 {
                    0 | 4 => Ok(i),
                    1 => Err(Error::invalid("refused")),
                    _ if i % 50 == 2 => panic!("a bug in a closure"),
                    // A constraint error half way: the first row must go too.
                    _ => {
                        tx.execute(
                            "INSERT INTO users (name, created_at) VALUES (?1, 0)",
                            [format!("u{i}")],
                        )?;
                        Ok(i)
                    }
                }
            };
            tasks.push(tokio::spawn(async move {
                if repeatable(i) {
                    store.write_repeatable(write).await
                } else {
                    store.write(write).await
                }
            }));
        }
        let kept_ones: Vec<i64> = (0..500).filter(|i| i % 5 == 0 || i % 5 == 4).collect();
        let mut ok = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(v) => ok.push(v),
                Err(e) => match i % 5 {
                    1 | 3 => assert_eq!(e.kind(), crate::ErrorKind::InvalidInput),
                    2 => assert_eq!(e.kind(), crate::ErrorKind::Internal, "{e}"),
                    _ => panic!("write {i} failed: {e}"),
                },
            }
        }
        assert_eq!(ok, kept_ones);
        let names: Vec<String> = store
            .read(|c| {
                let mut st =
                    c.prepare("SELECT name FROM users WHERE name != 'local' ORDER BY id")?;
                let rows = st.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
            .unwrap();
        // Jobs reach the writer in whatever order the tasks ran: each kept
        // write's two rows sit together, and exactly the kept writes are there.
        let mut kept: Vec<i64> = names
            .chunks(2)
            .map(|pair| {
                let i: i64 = pair[0].trim_start_matches('u').parse().unwrap();
                assert_eq!(pair, [format!("u{i}"), format!("v{i}")], "{names:?}");
                i
            })
            .collect();
        kept.sort_unstable();
        assert_eq!(kept, kept_ones);
        // The writer is still there.
        assert_eq!(store.write(|_| Ok(7)).await.unwrap(), 7);
        assert_eq!(store.write_repeatable(|_| Ok(8)).await.unwrap(), 8);
    }

    /// The tailer gets this process's changes only when they are the whole
    /// log after its cursor; otherwise (a gap: another process's change, or
    /// some dropped) it must read the log.
    #[test]
    fn own_changes_are_taken_only_without_a_gap() {
        use crate::lists::{ChangeKind, ListChange, ListId, UserId};
        let change = |seq: i64| ListChange {
            seq,
            list_id: ListId(1),
            version: seq,
            kind: ChangeKind::Changed,
            actor: UserId(1),
            at: ts(seq),
            audience: vec![UserId(1)],
        };
        let seqs =
            |c: Option<Vec<ListChange>>| c.map(|c| c.iter().map(|c| c.seq).collect::<Vec<_>>());
        /// Name, the commits' seqs as pushed, the cursor, what is taken.
        type Case = (&'static str, Vec<Vec<i64>>, i64, Option<Vec<i64>>);
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("nothing kept", vec![], 4, Some(vec![])),
            ("right after the cursor", vec![vec![5, 6], vec![7]], 4, Some(vec![5, 6, 7])),
            ("those already heard are skipped", vec![vec![3, 4, 5]], 4, Some(vec![5])),
            ("another process's change first", vec![vec![6]], 4, None),
            ("another process's change between", vec![vec![5], vec![7]], 4, None),
        ];
        for (name, pushes, after, want) in cases {
            let own = OwnChanges::default();
            own.follow();
            for p in pushes {
                own.push(p.into_iter().map(change).collect());
            }
            assert_eq!(seqs(own.take(after)), want, "{name}");
            assert_eq!(seqs(own.take(after)), Some(vec![]), "{name}: taken once");
        }
        // Kept only once followed.
        let own = OwnChanges::default();
        own.push(vec![change(1)]);
        own.follow();
        own.push(vec![change(2)]);
        assert_eq!(seqs(own.take(1)), Some(vec![2]));
        // Past the bound they are dropped, and the log must be read once.
        for seq in 1..=(OWN_CHANGES_KEPT as i64 + 1) {
            own.push(vec![change(seq)]);
        }
        assert_eq!(seqs(own.take(0)), None);
        own.push(vec![change(10_000)]);
        assert_eq!(seqs(own.take(9_999)), Some(vec![10_000]));
    }

    #[tokio::test]
    async fn a_panicking_read_is_an_error_and_the_readers_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("g.db"), opts()).await.unwrap();
        for _ in 0..opts().readers + 1 {
            let r: Result<()> = store.read(|_| panic!("a bug in a read")).await;
            assert!(r.is_err());
        }
        store.ping().await.unwrap();
    }
}
