//! `grocery search`.

use grocery_core::Grocery;

use crate::error::CliError;
use crate::output::Output;

/// Search the catalog the way you would type it: typos, plurals and shorthand
/// ("oj", "evoo", "half n half") are understood.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to look for, e.g. "2% milk" or "bannana".
    #[arg(required = true, num_args = 1..)]
    query: Vec<String>,
    /// How many results to show (at most 100).
    #[arg(short = 'n', long, default_value_t = 10)]
    limit: usize,
}

impl Args {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        if !(1..=100).contains(&self.limit) {
            return Err(CliError::Usage("--limit must be between 1 and 100".into()));
        }
        // Ranked by what you pick.
        let hits = grocery
            .habits()
            .search(&self.query.join(" "), self.limit)
            .await?;
        if out.is_json() {
            return Ok(out.json(&hits)?);
        }
        if hits.is_empty() {
            return Ok(out.line("no products found")?);
        }
        let rows: Vec<Vec<String>> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let p = &h.product;
                vec![
                    (i + 1).to_string(),
                    format!("{} {}", p.brand, p.name),
                    p.size.to_string(),
                    p.price.to_string(),
                    p.department.display_name().to_string(),
                    p.id.clone(),
                ]
            })
            .collect();
        Ok(out.table(
            &[">#", "product", ">size", ">price", "department", "id"],
            &rows,
        )?)
    }
}
