//! `grocery backup FILE` and `grocery restore FILE`.

use std::path::{Path, PathBuf};

use grocery_core::{BackupInfo, BackupProgress, Grocery};
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::CliError;
use crate::output::Output;

/// Copy the database to FILE while it is in use (SQLite's online backup): the
/// copy holds everything committed when it started, and FILE is written whole
/// or not at all.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the backup.
    file: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

/// Replace the database (--db) with the backup in FILE. FILE is checked first
/// (a grocery database, sound, not from a newer version); the database is
/// replaced whole, and never while another process has it open.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup to restore.
    file: PathBuf,
}

/// A bar on stderr (drawn only on a terminal), hidden for --json and -q.
fn bar(out: &Output, what: &str) -> ProgressBar {
    if out.is_json() || out.is_quiet() {
        return ProgressBar::hidden();
    }
    ProgressBar::new(0).with_style(
        ProgressStyle::with_template(&format!("{what} {{bar:30}} {{percent:>3}}% eta {{eta}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}

/// Progress in database pages.
fn on_progress(bar: &ProgressBar) -> impl FnMut(BackupProgress) + Send + 'static {
    let bar = bar.clone();
    move |p| {
        bar.set_length(p.total_pages);
        bar.set_position(p.copied_pages);
    }
}

fn report(out: &mut Output, verb: &str, info: &BackupInfo, from: &Path) -> Result<(), CliError> {
    if out.is_json() {
        return Ok(out.json(info)?);
    }
    Ok(out.line(&format!(
        "{verb} {} to {}: {} lists, {} items, {} products, {:.1} MB.",
        from.display(),
        info.path.display(),
        info.lists,
        info.items,
        info.products,
        info.bytes as f64 / 1e6
    ))?)
}

impl BackupArgs {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        if self.file.exists() && !self.force {
            return Err(CliError::Usage(format!(
                "{} exists; add --force to replace it",
                self.file.display()
            )));
        }
        let bar = bar(out, "backing up");
        let done = grocery
            .backup_with_progress(&self.file, on_progress(&bar))
            .await;
        bar.finish_and_clear();
        report(out, "Backed up", &done?, grocery.database_path())
    }
}

impl RestoreArgs {
    /// Restore into `db`; runs without an open handle on it.
    pub async fn run(self, db: &Path, out: &mut Output) -> Result<(), CliError> {
        let bar = bar(out, "restoring");
        let done = grocery_core::restore_with_progress(&self.file, db, on_progress(&bar)).await;
        bar.finish_and_clear();
        report(out, "Restored", &done?, &self.file)
    }
}
