//! `grocery ask "TEXT"` (also plain `grocery "TEXT"`): run the agent once.

use grocery_core::Grocery;
use grocery_core::agent::AgentReply;

use crate::error::CliError;
use crate::output::Output;

/// Tell the agent what you need: "add 2 gallons of milk and a dozen eggs",
/// "we're out of coffee", "I got the milk", "what's on my costco list".
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request.
    #[arg(required = true, num_args = 1..)]
    text: Vec<String>,
    /// The list to use when the request names none (default: Shopping).
    #[arg(long, value_name = "NAME")]
    list: Option<String>,
    /// The conversation this request belongs to: "it", "that" and "undo" refer
    /// to its earlier requests, across runs. Saved in the database.
    #[arg(long, value_name = "NAME", default_value = "default")]
    session: String,
}

impl Args {
    /// From the words of `grocery "TEXT"`.
    pub fn from_words(text: Vec<String>) -> Self {
        Args {
            text,
            list: None,
            session: "default".into(),
        }
    }

    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        let list = list_or_current(grocery, self.list).await?;
        let reply = grocery
            .agent()
            .handle_in(&self.session, &self.text.join(" "), list.as_deref())
            .await?;
        if out.is_json() {
            return Ok(out.json(&reply)?);
        }
        render(&reply, out)
    }
}

/// `list`, else the list chosen with `grocery list use` (else none: the agent's
/// default list).
pub async fn list_or_current(
    grocery: &Grocery,
    list: Option<String>,
) -> Result<Option<String>, CliError> {
    Ok(match list {
        Some(l) => Some(l),
        None => grocery.lists().chosen().await?.map(|l| l.name),
    })
}

fn cents(c: i64) -> String {
    format!("${}.{:02}", c / 100, c % 100)
}

pub fn render(reply: &AgentReply, out: &mut Output) -> Result<(), CliError> {
    out.line(&reply.message)?;
    if let Some(list) = &reply.list {
        let rows: Vec<Vec<String>> = list
            .items
            .iter()
            .map(|l| {
                vec![
                    if l.checked { "x".into() } else { " ".into() },
                    l.name.clone(),
                    l.quantity.clone(),
                    l.product_name.clone().unwrap_or_else(|| "-".into()),
                    l.line_total_cents.map(cents).unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        out.line("")?;
        out.table(&["", "item", ">qty", "product", ">price"], &rows)?;
        out.line(&format!("total {}", cents(list.total_cents)))?;
    }
    Ok(())
}
