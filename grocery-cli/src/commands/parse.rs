//! `grocery parse`: understanding only, one JSON object per input line.

use std::io::BufRead;

use grocery_core::Grocery;
use grocery_core::nlp::{self, ItemPhrase, Understanding};
use serde_json::{Value, json};

use crate::error::CliError;
use crate::output::Output;

/// Read one text per line on stdin (a line that is a JSON object uses its "text"
/// field) and print, per line and in order, what the agent understood. Changes
/// nothing.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `request`: shopping requests ("add milk and eggs"); `item`: ingredient or
    /// item lines ("2 tbsp olive oil, divided").
    #[arg(long, value_enum, default_value_t = Mode::Request)]
    mode: Mode,
}

/// What each line is.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mode {
    Request,
    Item,
}

impl Args {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let line = line?;
            let text = match serde_json::from_str::<Value>(&line) {
                Ok(Value::Object(o)) => o
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                _ => line,
            };
            let understanding = match self.mode {
                Mode::Request => nlp::parse_request(&text),
                Mode::Item => Understanding {
                    commands: Vec::new(),
                    confidence: if nlp::parse_item(&text).is_some() {
                        0.9
                    } else {
                        0.1
                    },
                },
            };
            let commands: Vec<Value> = match self.mode {
                Mode::Request => {
                    let mut cmds = Vec::new();
                    for c in &understanding.commands {
                        let mut items = Vec::new();
                        for i in &c.items {
                            items.push(item_json(grocery, i).await?);
                        }
                        let mut cmd = json!({"intent": c.intent, "list": c.list, "items": items});
                        // Only a move says where from.
                        if let Some(from) = &c.from {
                            cmd["from"] = json!(from);
                        }
                        cmds.push(cmd);
                    }
                    cmds
                }
                Mode::Item => {
                    let items = match nlp::parse_item(&text) {
                        Some(i) => vec![item_json(grocery, &i).await?],
                        None => Vec::new(),
                    };
                    vec![json!({"intent": "item", "list": null, "items": items})]
                }
            };
            out.json_line(&json!({
                "text": text,
                "confidence": (f64::from(understanding.confidence) * 100.0).round() / 100.0,
                "commands": commands,
            }))?;
        }
        Ok(())
    }
}

async fn item_json(grocery: &Grocery, item: &ItemPhrase) -> Result<Value, CliError> {
    let query = if item.modifiers.is_empty() {
        item.name.clone()
    } else {
        format!("{} {}", item.modifiers.join(" "), item.name)
    };
    // "the ingredients for tacos" is linked to no product, as the agent does.
    let hit = match item.dish() {
        Some(_) => None,
        None => grocery
            .catalog()
            .search(&query, 1)
            .await?
            .into_iter()
            .next(),
    };
    Ok(json!({
        "name": item.name,
        "quantity": item.amount.map(|a| a.to_f64()),
        "unit": item.unit.map(|u| u.singular()),
        "pack": item.pack.map(|p| p.to_string()),
        "note": item.note,
        "product_id": hit.as_ref().map(|h| h.product.id.clone()),
        "product_name": hit.as_ref().map(|h| h.product.display_name()),
    }))
}
