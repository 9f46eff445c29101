//! Online backup and restore with SQLite's backup API.
//!
//! Both copy into a temporary file next to the destination, check the copy and
//! then rename it into place, so the destination is either the old file or a
//! complete, checked database, never half of one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{APPLICATION_ID, MIGRATIONS, Store};
use crate::backup::{BackupInfo, BackupProgress};
use crate::error::{Error, Result};

/// Pages copied per step of the backup API: about 1 MiB at 4 KiB pages, a few
/// progress updates per second on a slow disk.
const PAGES_PER_STEP: std::os::raw::c_int = 256;

/// How many times a step that found the destination busy or locked is retried
/// (10 ms apart) before giving up.
const BUSY_RETRIES: u32 = 500;

/// A progress callback, called on the blocking thread doing the copy.
pub(crate) type OnProgress = Box<dyn FnMut(BackupProgress) + Send>;

/// An I/O error writing `path` (a missing directory included: it is the
/// destination, not something the caller asked to find).
fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A file next to `dest` to copy into; removed on drop unless renamed.
struct TempFile {
    path: PathBuf,
    kept: bool,
}

impl TempFile {
    fn next_to(dest: &Path) -> Result<TempFile> {
        let name = dest
            .file_name()
            .ok_or_else(|| Error::invalid(format!("{} is not a file name", dest.display())))?
            .to_string_lossy();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dest.with_file_name(format!(".{name}.partial-{}-{nanos}", std::process::id()));
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        Ok(TempFile { path, kept: false })
    }

    /// Flush the copy to disk and rename it to `dest` (atomic on one file system).
    fn persist(mut self, dest: &Path) -> Result<()> {
        std::fs::File::open(&self.path)
            .and_then(|f| f.sync_all())
            .map_err(io(&self.path))?;
        std::fs::rename(&self.path, dest).map_err(io(dest))?;
        self.kept = true;
        // Make the rename itself durable; not every platform can open a directory.
        if let Some(dir) = dest.parent()
            && let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.kept {
            for suffix in ["", "-journal", "-wal", "-shm"] {
                let mut p = self.path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

fn open_read_only(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        return Err(Error::not_found("file", path.display().to_string()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// Start a read transaction: the copy then reads one snapshot of the source
/// (WAL keeps it while writers go on), so other connections' commits neither
/// restart the backup nor end up half in it.
fn begin_snapshot(src: &Connection) -> Result<()> {
    src.execute_batch("BEGIN DEFERRED")?;
    src.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(())
}

/// Copy `src` into `dst` a few pages at a time, reporting progress.
fn copy(src: &Connection, dst: &mut Connection, progress: &mut OnProgress) -> Result<()> {
    let backup = Backup::new(src, dst)?;
    let mut busy = 0;
    loop {
        let step = backup.step(PAGES_PER_STEP)?;
        let p = backup.progress();
        let total = u64::try_from(p.pagecount).unwrap_or(0);
        let remaining = u64::try_from(p.remaining).unwrap_or(0);
        match step {
            StepResult::Done => {
                progress(BackupProgress {
                    copied_pages: total,
                    total_pages: total,
                });
                return Ok(());
            }
            StepResult::More => {
                busy = 0;
                progress(BackupProgress {
                    copied_pages: total.saturating_sub(remaining),
                    total_pages: total,
                });
            }
            // Only the destination can be busy here (the source is read inside
            // our own read transaction); it is our temp file, so this is brief.
            _ => {
                busy += 1;
                if busy > BUSY_RETRIES {
                    return Err(Error::Conflict(
                        "the backup destination stayed locked".into(),
                    ));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Check that `conn` is a sound grocery database this version can open, and
/// count what is in it.
fn validate(conn: &Connection, path: &Path) -> Result<BackupInfo> {
    let not_ours = |why: String| Error::invalid(format!("{} {why}", path.display()));
    let app_id: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => not_ours("is not a SQLite database".into()),
            _ => Error::from(e),
        })?;
    if app_id != APPLICATION_ID {
        return Err(not_ours(format!(
            "is not a grocery database (application_id {app_id:#x})"
        )));
    }
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(not_ours(format!("is damaged: {check}")));
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let latest = match MIGRATIONS.current_version(conn)? {
        rusqlite_migration::SchemaVersion::Outside(_) => {
            return Err(not_ours(format!(
                "has schema version {version}, written by a newer version of grocery"
            )));
        }
        _ => version,
    };
    if latest < 1 {
        return Err(not_ours("has no grocery schema".into()));
    }
    let count = |table: &str| -> Result<u64> {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
    Ok(BackupInfo {
        path: path.to_path_buf(),
        bytes: u64::try_from(page_size.saturating_mul(pages)).unwrap_or(0),
        schema_version: latest,
        lists: count("lists")?,
        items: count("list_items")?,
        products: count("products")?,
    })
}

/// Copy the open source into a checked temp file next to `dest` (journal mode
/// DELETE: one self-contained file), then rename it to `dest`.
fn copy_to(src: &Connection, dest: &Path, mut progress: OnProgress) -> Result<BackupInfo> {
    let tmp = TempFile::next_to(dest)?;
    let info = {
        let mut dst = Connection::open(&tmp.path)?;
        copy(src, &mut dst, &mut progress)?;
        dst.pragma_update(None, "journal_mode", "DELETE")?;
        validate(&dst, dest)?
    };
    make_room(dest)?;
    tmp.persist(dest)?;
    Ok(info)
}

/// Before a database file is replaced: refuse when another connection has it
/// open, and empty its write-ahead log, which would otherwise be replayed into
/// the new file.
fn make_room(dest: &Path) -> Result<()> {
    let sidecar = |suffix: &str| {
        let mut p = dest.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    };
    if dest.exists() {
        let in_use = || {
            Error::Conflict(format!(
                "{} is in use by another process; stop it and try again",
                dest.display()
            ))
        };
        match Connection::open(dest) {
            Ok(conn) => {
                conn.busy_timeout(Duration::from_millis(500))?;
                // Exclusive locking: fails while any other connection, even an
                // idle one in another process, has the database open.
                let locked = conn
                    .pragma_update(None, "locking_mode", "EXCLUSIVE")
                    .and_then(|()| conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;"));
                match locked {
                    Ok(()) => {
                        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                    }
                    Err(e)
                        if matches!(
                            e.sqlite_error_code(),
                            Some(rusqlite::ErrorCode::DatabaseBusy)
                                | Some(rusqlite::ErrorCode::DatabaseLocked)
                        ) =>
                    {
                        return Err(in_use());
                    }
                    // A damaged file is what a restore is for: replace it.
                    Err(e) => tracing::warn!(error = %e, "replacing an unreadable database"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "replacing an unreadable database"),
        }
        let wal = sidecar("-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            return Err(in_use());
        }
    }
    for suffix in ["-wal", "-shm"] {
        match std::fs::remove_file(sidecar(suffix)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io(dest)(e));
            }
            _ => {}
        }
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

impl Store {
    /// Write a consistent copy of the database to `dest` while it stays in use.
    pub(crate) async fn backup_to(
        &self,
        dest: PathBuf,
        progress: OnProgress,
    ) -> Result<BackupInfo> {
        let source = self.inner.path.clone();
        tokio::task::spawn_blocking(move || {
            if same_file(&source, &dest) {
                return Err(Error::invalid(format!(
                    "{} is the database itself",
                    dest.display()
                )));
            }
            let src = open_read_only(&source)?;
            begin_snapshot(&src)?;
            copy_to(&src, &dest, progress)
        })
        .await?
    }
}

/// Replace the database at `to` with the backup at `from`, checked first.
pub(crate) fn restore_blocking(from: &Path, to: &Path, progress: OnProgress) -> Result<BackupInfo> {
    let src = open_read_only(from)?;
    validate(&src, from)?;
    if same_file(from, to) {
        return Err(Error::invalid(format!(
            "{} is the database itself",
            from.display()
        )));
    }
    begin_snapshot(&src)?;
    copy_to(&src, to, progress)
}
