//! Backups: a consistent copy of the database while it is in use, and a checked,
//! atomic restore. Both use SQLite's online backup API.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Result;
use crate::grocery::Grocery;

/// How far a backup or restore has got, in database pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BackupProgress {
    /// Pages copied so far.
    pub copied_pages: u64,
    /// Pages in the database being copied.
    pub total_pages: u64,
}

/// What a backup or restore wrote: the new file and what is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupInfo {
    /// The file written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its schema version (the number of migrations applied).
    pub schema_version: i64,
    /// Lists in it, of every user.
    pub lists: u64,
    /// List items in it.
    pub items: u64,
    /// Catalog products in it.
    pub products: u64,
}

impl Grocery {
    /// Copy the database to `path` while it stays in use: other connections and
    /// processes keep reading and writing, and the copy holds exactly what was
    /// committed when the backup started. The copy is written next to `path`,
    /// checked, and renamed into place, so `path` is never half written; an
    /// existing file there is replaced.
    ///
    /// # Errors
    /// [`crate::Error::InvalidInput`] when `path` is the database itself;
    /// [`crate::Error::Conflict`] when `path` is a database another process has
    /// open; storage and I/O errors.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn demo(g: grocery_core::Grocery) -> grocery_core::Result<()> {
    /// let info = g.backup("grocery-backup.db").await?;
    /// println!("{} items in {} bytes", info.items, info.bytes);
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn backup(&self, path: impl AsRef<Path>) -> Result<BackupInfo> {
        self.backup_with_progress(path, |_| {}).await
    }

    /// [`Grocery::backup`], calling `progress` (on a blocking-pool thread) after
    /// every step of about a megabyte.
    ///
    /// # Errors
    /// As [`Grocery::backup`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn backup_with_progress(
        &self,
        path: impl AsRef<Path>,
        progress: impl FnMut(BackupProgress) + Send + 'static,
    ) -> Result<BackupInfo> {
        self.store()
            .backup_to(path.as_ref().to_path_buf(), Box::new(progress))
            .await
    }
}

/// Replace the database at `to` with the backup at `from`.
///
/// `from` must be a sound grocery database (its `application_id`, an integrity
/// check, and a schema no newer than this version's); anything else is refused
/// and `to` is left alone. The copy is made into a temp file next to `to`,
/// checked, and renamed over it, so `to` is the old database or the whole new
/// one. Run it while nothing else has `to` open: it refuses a database another
/// process is using. A backup from an older version is upgraded when next
/// opened.
///
/// # Errors
/// [`crate::Error::NotFound`] when `from` does not exist;
/// [`crate::Error::InvalidInput`] when it is not a grocery database, is damaged
/// or is newer; [`crate::Error::Conflict`] when `to` is in use; storage and I/O
/// errors.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> grocery_core::Result<()> {
/// let info = grocery_core::restore("grocery-backup.db", "grocery.db").await?;
/// println!("restored {} lists", info.lists);
/// # Ok(()) }
/// ```
#[tracing::instrument(level = "debug", skip_all, err)]
pub async fn restore(from: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<BackupInfo> {
    restore_with_progress(from, to, |_| {}).await
}

/// [`restore`], calling `progress` (on a blocking-pool thread) after every step.
///
/// # Errors
/// As [`restore`].
#[tracing::instrument(level = "debug", skip_all, err)]
pub async fn restore_with_progress(
    from: impl AsRef<Path>,
    to: impl AsRef<Path>,
    progress: impl FnMut(BackupProgress) + Send + 'static,
) -> Result<BackupInfo> {
    let (from, to) = (from.as_ref().to_path_buf(), to.as_ref().to_path_buf());
    tokio::task::spawn_blocking(move || {
        crate::store::restore_blocking(&from, &to, Box::new(progress))
    })
    .await?
}
