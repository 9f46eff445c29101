//! `grocery user add | list | revoke`: the users a server authenticates.

use grocery_core::Grocery;

use crate::error::CliError;
use crate::output::{Output, Style};

/// Users and their API tokens (for `Authorization: Bearer` on the server).
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a user and print their API token, once (-q: only the token).
    Add {
        /// A unique name.
        name: String,
    },
    /// Every active user.
    List,
    /// Revoke a user: their token stops working at once.
    Revoke {
        /// The user's name.
        name: String,
    },
}

impl Command {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        let users = grocery.users();
        match self {
            Command::Add { name } => {
                let issued = users.add_with_token(&name).await?;
                if out.is_json() {
                    return Ok(out.json(&issued)?);
                }
                out.line(&format!(
                    "Created user {}. Their API token, shown only this once:",
                    issued.user.name
                ))?;
                // The token is what -q is for: printed even then.
                Ok(out.always(&issued.token)?)
            }
            Command::List => {
                let all = users.all().await?;
                if out.is_json() {
                    return Ok(out.json(&all)?);
                }
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|u| {
                        vec![
                            u.id.to_string(),
                            u.name.clone(),
                            u.created_at.strftime("%Y-%m-%d %H:%M").to_string(),
                        ]
                    })
                    .collect();
                Ok(out.table(&[">id", "user", "created (UTC)"], &rows)?)
            }
            Command::Revoke { name } => {
                let user = users.revoke(&name).await?;
                if out.is_json() {
                    return Ok(out.json(&user)?);
                }
                Ok(out.line(&format!(
                    "Revoked {}. {}",
                    user.name,
                    out.paint(Style::Dim, "Their lists stay in the database.")
                ))?)
            }
        }
    }
}
