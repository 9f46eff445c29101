//! `grocery catalog stats | import`.

use std::path::PathBuf;

use grocery_core::Grocery;

use crate::error::CliError;
use crate::output::Output;

/// Catalog commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Count products, departments, brands and kinds.
    Stats,
    /// Add or replace products from a CSV or JSON Lines file (all rows or none).
    ///
    /// Columns: id, upc, name, brand, department, aisle, size, unit, price_cents,
    /// tags, and optionally kind and popularity.
    Import {
        /// The file (.csv, .jsonl).
        file: PathBuf,
    },
}

impl Command {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        match self {
            Command::Stats => {
                let stats = grocery.catalog().stats().await?;
                if out.is_json() {
                    return Ok(out.json(&stats)?);
                }
                out.line(&format!(
                    "{} products, {} departments, {} brands, {} kinds",
                    stats.products, stats.departments, stats.brands, stats.kinds
                ))?;
                let rows: Vec<Vec<String>> = stats
                    .by_department
                    .iter()
                    .map(|d| vec![d.department.clone(), d.products.to_string()])
                    .collect();
                Ok(out.table(&["department", ">products"], &rows)?)
            }
            Command::Import { file } => {
                // The core validates and writes the file in one call with no
                // progress to report, so a spinner with the time taken.
                let spinner = if out.is_json() || out.is_quiet() {
                    indicatif::ProgressBar::hidden()
                } else {
                    indicatif::ProgressBar::new_spinner()
                        .with_message(format!("importing {}", file.display()))
                };
                spinner.enable_steady_tick(std::time::Duration::from_millis(100));
                let summary = grocery.catalog().import_file(&file).await;
                spinner.finish_and_clear();
                let summary = summary?;
                if out.is_json() {
                    return Ok(out.json(&summary)?);
                }
                Ok(out.line(&format!(
                    "imported {} rows from {}: {} new, {} updated",
                    summary.rows,
                    file.display(),
                    summary.inserted,
                    summary.updated
                ))?)
            }
        }
    }
}
