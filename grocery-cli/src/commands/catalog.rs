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
                let summary = grocery.catalog().import_file(&file).await?;
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
