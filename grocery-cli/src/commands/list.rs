//! `grocery list`: show, create, choose and edit lists.

use std::path::PathBuf;

use grocery_core::lists::{DEFAULT_LIST, LinesAdded, PricedList, Role};
use grocery_core::{Error, Grocery, GroceryList, ListItem};

use crate::error::CliError;
use crate::output::{Output, Style};

/// Largest recipe file read, in bytes.
const MAX_RECIPE_BYTES: u64 = 1024 * 1024;

/// Your shopping lists. Without a subcommand: the current list, priced.
///
/// ITEM is an item's name (case-insensitive; a unique part of it will do) or
/// its number as `grocery list` shows it.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// The list to act on (default: the current one, see `list use`).
    #[arg(long, global = true, value_name = "NAME")]
    list: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// List subcommands.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Show a list with prices and the total (default: the current list).
    Show {
        /// The list.
        name: Option<String>,
    },
    /// Every list you own or that is shared with you.
    All,
    /// Create a list.
    New {
        /// Its name.
        name: String,
    },
    /// Make a list the current one: the one commands use when no list is named.
    Use {
        /// The list.
        name: String,
    },
    /// Rename a list.
    Rename {
        /// Its name now.
        old: String,
        /// The new name.
        new: String,
    },
    /// Delete a list and its items.
    Delete {
        /// The list.
        name: String,
    },
    /// Add items, one per argument: grocery list add "2 gallons of milk" eggs "1 lb coffee".
    ///
    /// Each argument is an item line ("a dozen eggs", "2 tbsp olive oil"),
    /// matched to a catalog product and merged with the same item already on
    /// the list. Arguments that are not items are reported and skipped.
    Add {
        /// The items; quote an item of several words.
        #[arg(required = true, num_args = 1..)]
        items: Vec<String>,
    },
    /// Remove an item.
    Rm {
        /// The item: its name or number.
        #[arg(required = true, num_args = 1..)]
        item: Vec<String>,
    },
    /// Check an item off (bought).
    Check {
        /// The item: its name or number.
        #[arg(required = true, num_args = 1..)]
        item: Vec<String>,
    },
    /// Put a checked item back on the list.
    Uncheck {
        /// The item: its name or number.
        #[arg(required = true, num_args = 1..)]
        item: Vec<String>,
    },
    /// Remove every item (with --checked: only the checked ones).
    Clear {
        /// Only the checked items.
        #[arg(long)]
        checked: bool,
    },
    /// Share a list with another user (see `grocery user add`).
    Share {
        /// The list.
        name: String,
        /// The user's name.
        user: String,
        /// What they may do: edit its items, or only view it.
        #[arg(long, value_enum, default_value_t = ShareRole::Editor)]
        role: ShareRole,
    },
    /// Print a list in another format (--json: the priced list as JSON).
    Export {
        /// The format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Add a recipe's ingredients: one ingredient per line ("2 cups flour").
    ///
    /// Items merge with what is on the list; blank lines, headings ("For the
    /// sauce:") and `#` comments are passed over; lines that are not items are
    /// reported, not fatal.
    ImportRecipe {
        /// A text file, one ingredient per line ("-" for stdin).
        file: PathBuf,
    },
}

/// A role to share with.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ShareRole {
    Editor,
    Viewer,
}

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
    Markdown,
    Text,
}

impl Args {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        let lists = grocery.lists();
        // A list by name; the default list always exists, as `grocery list` shows.
        let find = async |name: &str| -> Result<GroceryList, CliError> {
            if name.trim().eq_ignore_ascii_case(DEFAULT_LIST) {
                return Ok(lists.find_or_create(DEFAULT_LIST).await?);
            }
            Ok(lists.find(name).await?)
        };
        let named = self.list;
        // The list the command acts on: --list, else the current one.
        let target = async || -> Result<GroceryList, CliError> {
            match &named {
                Some(name) => find(name).await,
                None => Ok(lists.current().await?),
            }
        };
        match self.command.unwrap_or(Command::Show { name: None }) {
            Command::Show { name } => {
                let list = match name {
                    Some(n) => find(&n).await?,
                    None => target().await?,
                };
                let priced = lists.priced(list.id).await?;
                if out.is_json() {
                    return Ok(out.json(&priced)?);
                }
                show(&priced, out)
            }
            Command::All => {
                let all = lists.all().await?;
                if out.is_json() {
                    return Ok(out.json(&all)?);
                }
                let current = lists.chosen().await?.map(|l| l.id);
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|l| {
                        vec![
                            if Some(l.id) == current { "*" } else { "" }.into(),
                            l.name.clone(),
                            l.items.to_string(),
                            l.remaining.to_string(),
                            l.role.as_str().into(),
                        ]
                    })
                    .collect();
                Ok(out.table(&["", "list", ">items", ">to buy", "role"], &rows)?)
            }
            Command::New { name } => {
                let list = lists.create(&name).await?;
                done(out, &list, &format!("Created list {}.", list.name))
            }
            Command::Use { name } => {
                let list = find(&name).await?;
                let list = lists.set_current(list.id).await?;
                done(out, &list, &format!("Now using {}.", list.name))
            }
            Command::Rename { old, new } => {
                let list = find(&old).await?;
                let renamed = lists.rename(list.id, &new).await?;
                done(
                    out,
                    &renamed,
                    &format!("Renamed {} to {}.", list.name, renamed.name),
                )
            }
            Command::Delete { name } => {
                let list = lists.find(&name).await?;
                lists.delete(list.id).await?;
                let msg = format!("Deleted {} ({} items).", list.name, list.items.len());
                done(out, &list, &msg)
            }
            Command::Add { items } => {
                let list = target().await?;
                let added = lists.add_lines(list.id, &items).await?;
                report_lines(grocery, list.id, added, out).await
            }
            Command::ImportRecipe { file } => {
                let list = target().await?;
                let text = read_recipe(&file)?;
                let lines: Vec<&str> = text.lines().collect();
                let added = lists.add_lines(list.id, &lines).await?;
                report_lines(grocery, list.id, added, out).await
            }
            Command::Rm { item } => {
                let list = target().await?;
                let found = find_item(&list, &item.join(" "))?.clone();
                lists.remove_item(list.id, found.id).await?;
                done(
                    out,
                    &found,
                    &format!("Removed {} from {}.", found.name, list.name),
                )
            }
            Command::Check { item } => check(grocery, target().await?, &item, true, out).await,
            Command::Uncheck { item } => check(grocery, target().await?, &item, false, out).await,
            Command::Clear { checked } => {
                let list = target().await?;
                let removed = if checked {
                    lists.clear_checked(list.id).await?
                } else {
                    lists.clear(list.id).await?
                };
                let what = if checked { "checked items" } else { "items" };
                done(
                    out,
                    &serde_json::json!({ "list": list.name, "removed": removed }),
                    &format!("Removed {removed} {what} from {}.", list.name),
                )
            }
            Command::Share { name, user, role } => {
                let list = find(&name).await?;
                let user = grocery.users().find(&user).await?;
                let role = match role {
                    ShareRole::Editor => Role::Editor,
                    ShareRole::Viewer => Role::Viewer,
                };
                let shared = lists.share(list.id, user.id, role).await?;
                let msg = format!(
                    "Shared {} with {} as {}.",
                    shared.name,
                    user.name,
                    role.as_str()
                );
                done(out, &shared, &msg)
            }
            Command::Export { format } => {
                let priced = lists.priced(target().await?.id).await?;
                if out.is_json() || format == Format::Json {
                    return Ok(out.json(&priced)?);
                }
                match format {
                    Format::Table | Format::Json => show(&priced, out),
                    Format::Csv => Ok(out.always(&to_csv(&priced)?)?),
                    Format::Markdown => Ok(out.always(&markdown(&priced))?),
                    Format::Text => Ok(out.always(&text(&priced))?),
                }
            }
        }
    }
}

/// Print `value` as JSON, or `message`.
fn done<T: serde::Serialize>(out: &mut Output, value: &T, message: &str) -> Result<(), CliError> {
    if out.is_json() {
        return Ok(out.json(value)?);
    }
    Ok(out.line(message)?)
}

async fn check(
    grocery: &Grocery,
    list: GroceryList,
    item: &[String],
    checked: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let found = find_item(&list, &item.join(" "))?;
    let item = grocery.lists().check(list.id, found.id, checked).await?;
    let msg = if checked {
        format!("Checked off {}.", item.name)
    } else {
        format!("{} is back on {}.", item.name, list.name)
    };
    done(out, &item, &msg)
}

/// The item `spec` names on `list`: its number as shown (1-based), its name
/// (case-insensitive), or the one item whose name contains it.
fn find_item<'l>(list: &'l GroceryList, spec: &str) -> Result<&'l ListItem, CliError> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(Error::invalid("name an item, or give its number").into());
    }
    if let Ok(n) = spec.parse::<usize>() {
        return n
            .checked_sub(1)
            .and_then(|i| list.items.get(i))
            .ok_or_else(|| {
                Error::not_found(
                    "item",
                    format!("#{n} on {} ({} items)", list.name, list.items.len()),
                )
                .into()
            });
    }
    let lower = spec.to_lowercase();
    if let Some(item) = list.items.iter().find(|i| i.name.to_lowercase() == lower) {
        return Ok(item);
    }
    let partial: Vec<&ListItem> = list
        .items
        .iter()
        .filter(|i| i.name.to_lowercase().contains(&lower))
        .collect();
    match partial.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::not_found("item", format!("`{spec}` on {}", list.name)).into()),
        several => Err(Error::invalid(format!(
            "`{spec}` matches {}; give the whole name or the number",
            several
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into()),
    }
}

fn read_recipe(file: &std::path::Path) -> Result<String, CliError> {
    use std::io::Read;
    let mut bytes = Vec::new();
    let limit = MAX_RECIPE_BYTES + 1;
    if file.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)?;
    } else {
        let f = std::fs::File::open(file).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                CliError::from(Error::not_found("file", file.display().to_string()))
            }
            _ => CliError::Io(e),
        })?;
        f.take(limit).read_to_end(&mut bytes)?;
    }
    if bytes.len() as u64 > MAX_RECIPE_BYTES {
        return Err(Error::invalid(format!(
            "{} is larger than {MAX_RECIPE_BYTES} bytes; a recipe is a page of text",
            file.display()
        ))
        .into());
    }
    String::from_utf8(bytes)
        .map_err(|_| Error::invalid(format!("{} is not UTF-8 text", file.display())).into())
}

/// Report what adding lines did: bad lines as warnings on stderr, then the list.
async fn report_lines(
    grocery: &Grocery,
    list: grocery_core::ListId,
    added: LinesAdded,
    out: &mut Output,
) -> Result<(), CliError> {
    if added.items.is_empty() {
        return Err(Error::invalid(match added.rejected.first() {
            Some(r) => format!("no items added; line {} `{}`: {}", r.line, r.text, r.reason),
            None => "no items added: every line is blank or a heading".into(),
        })
        .into());
    }
    if out.is_json() {
        return Ok(out.json(&added)?);
    }
    let warn = crate::output::use_color(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    for r in &added.rejected {
        eprintln!(
            "{} line {} `{}`: {}",
            Style::Yellow.paint(warn, "skipped:"),
            r.line,
            r.text,
            r.reason
        );
    }
    out.line(&format!(
        "Added {} item{}.",
        added.items.len(),
        if added.items.len() == 1 { "" } else { "s" }
    ))?;
    if out.is_quiet() {
        return Ok(());
    }
    out.line("")?;
    show(&grocery.lists().priced(list).await?, out)
}

/// The priced list as a table, with the total.
fn show(list: &PricedList, out: &mut Output) -> Result<(), CliError> {
    out.line(&out.paint(Style::Bold, &list.name))?;
    if list.lines.is_empty() {
        return Ok(out.line("(empty)")?);
    }
    let rows: Vec<Vec<String>> = list
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let cells = vec![
                (i + 1).to_string(),
                if l.item.checked { "x" } else { " " }.into(),
                l.item.name.clone(),
                l.item.quantity.to_string(),
                l.product
                    .as_ref()
                    .map_or_else(|| "-".into(), |p| p.display_name()),
                l.line_total.map_or_else(|| "-".into(), |m| m.to_string()),
            ];
            if l.item.checked {
                cells.iter().map(|c| out.paint(Style::Dim, c)).collect()
            } else {
                cells
            }
        })
        .collect();
    out.table(&[">#", "", "item", ">qty", "product", ">price"], &rows)?;
    let mut total = format!("total {}", list.total);
    if list.unpriced > 0 {
        total.push_str(&format!(" ({} without a price)", list.unpriced));
    }
    Ok(out.line(&out.paint(Style::Bold, &total))?)
}

fn to_csv(list: &PricedList) -> Result<String, CliError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| CliError::Io(std::io::Error::other(e));
    w.write_record([
        "number",
        "checked",
        "item",
        "quantity",
        "product_id",
        "product",
        "packs",
        "price",
    ])
    .map_err(bad)?;
    for (i, l) in list.lines.iter().enumerate() {
        w.write_record([
            (i + 1).to_string(),
            l.item.checked.to_string(),
            l.item.name.clone(),
            l.item.quantity.to_string(),
            l.item.product_id.clone().unwrap_or_default(),
            l.product
                .as_ref()
                .map(|p| p.display_name())
                .unwrap_or_default(),
            l.packs.to_string(),
            l.line_total.map(|m| m.to_string()).unwrap_or_default(),
        ])
        .map_err(bad)?;
    }
    let bytes = w.into_inner().map_err(|e| CliError::Io(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).trim_end().to_string())
}

fn markdown(list: &PricedList) -> String {
    let mut s = format!("# {}\n\n", list.name);
    for l in &list.lines {
        let mut line = format!(
            "- [{}] {} {}",
            if l.item.checked { "x" } else { " " },
            l.item.quantity,
            l.item.name
        );
        if let Some(p) = &l.product {
            line.push_str(&format!(" ({})", p.display_name()));
        }
        if let Some(m) = l.line_total {
            line.push_str(&format!(": {m}"));
        }
        s.push_str(&line);
        s.push('\n');
    }
    s.push_str(&format!("\n**Total: {}**", list.total));
    s
}

fn text(list: &PricedList) -> String {
    let mut s = format!("{}\n", list.name);
    for l in list.lines.iter().filter(|l| !l.item.checked) {
        s.push_str(&format!("{} {}", l.item.quantity, l.item.name));
        if let Some(m) = l.line_total {
            s.push_str(&format!(", {m}"));
        }
        s.push('\n');
    }
    s.push_str(&format!("Total: {}", list.total));
    s
}
