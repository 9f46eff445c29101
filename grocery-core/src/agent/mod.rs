//! The agent: one sentence in, list changes and a priced reply out.
//!
//! Stages, in order: **Interpret** ([`crate::nlp::parse_request`], pure) →
//! **Resolve** (each item to a catalog product, with alternatives) → **Apply**
//! (list changes, each command one transaction) → **Reply** (what was done, the
//! priced list, a short message). [`Agent::preview`] runs Interpret and Resolve
//! only and changes nothing.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::catalog::text::stem;
use crate::error::{Error, Result};
use crate::grocery::Grocery;
use crate::lists::{DEFAULT_LIST, GroceryList, ListId, NewItem, PricedList, UserId};
use crate::nlp::{self, Command, Intent, ItemPhrase};

/// Least search score for an item to be linked to a product without asking.
const LINK_SCORE: f32 = 4.0;

/// An item resolved to the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedItem {
    /// The item as understood.
    #[serde(flatten)]
    pub item: ItemPhrase,
    /// The product it resolved to, when confident.
    pub product_id: Option<String>,
    /// That product's display name.
    pub product_name: Option<String>,
    /// Other likely products (id, display name), best first.
    pub alternatives: Vec<(String, String)>,
}

/// A command with its items resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedCommand {
    /// What to do.
    pub intent: Intent,
    /// The list named, if any.
    pub list: Option<String>,
    /// The items.
    pub items: Vec<ResolvedItem>,
}

/// One change (or answer) the agent made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// An item was added (or merged into an existing line).
    Added {
        /// The list.
        list: String,
        /// The line as it is now.
        item: String,
        /// Its quantity now.
        quantity: String,
    },
    /// An item was removed.
    Removed {
        /// The list.
        list: String,
        /// The line removed.
        item: String,
    },
    /// An item was checked off.
    Checked {
        /// The list.
        list: String,
        /// The line.
        item: String,
    },
    /// A list was emptied.
    Cleared {
        /// The list.
        list: String,
        /// Lines removed.
        removed: u64,
    },
    /// A list was created.
    CreatedList {
        /// Its name.
        list: String,
    },
    /// A list was deleted.
    DeletedList {
        /// Its name.
        list: String,
    },
    /// Nothing on the list matched.
    NotOnList {
        /// The list.
        list: String,
        /// What was asked for.
        item: String,
    },
}

/// A line of the list in a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyLine {
    /// The item's name.
    pub name: String,
    /// Quantity, e.g. "2 gal".
    pub quantity: String,
    /// The linked product's id.
    pub product_id: Option<String>,
    /// The linked product's name.
    pub product_name: Option<String>,
    /// Packs to buy.
    pub packs: u32,
    /// Price of the line in cents, if priced.
    pub line_total_cents: Option<i64>,
    /// Checked off.
    pub checked: bool,
}

/// The list after the request, priced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyList {
    /// The list's name.
    pub name: String,
    /// Its lines.
    pub items: Vec<ReplyLine>,
    /// Total of unchecked priced lines, in cents.
    pub total_cents: i64,
}

/// What the agent understood, did and says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentReply {
    /// The commands understood, items resolved.
    pub commands: Vec<ResolvedCommand>,
    /// What was changed.
    pub actions: Vec<Action>,
    /// The list the request was about, after the change.
    pub list: Option<ReplyList>,
    /// A short message for the person.
    pub message: String,
    /// How sure the understanding is, 0..=1.
    pub confidence: f32,
    /// Time spent, in microseconds.
    pub elapsed_us: u64,
}

/// Agent operations for one user; get one from [`Grocery::agent`].
#[derive(Debug, Clone, Copy)]
pub struct Agent<'a> {
    g: &'a Grocery,
    user: UserId,
}

fn same_thing(a: &str, b: &str) -> bool {
    let key = |s: &str| {
        crate::catalog::text::tokens(s)
            .map(|t| stem(&t))
            .collect::<Vec<_>>()
    };
    let (a, b) = (key(a), key(b));
    !a.is_empty() && (a == b || a.iter().all(|w| b.contains(w)) || b.iter().all(|w| a.contains(w)))
}

impl<'a> Agent<'a> {
    pub(crate) fn new(g: &'a Grocery, user: UserId) -> Self {
        Agent { g, user }
    }

    /// Understand and resolve `text` without changing anything.
    ///
    /// # Errors
    /// Storage errors from catalog search.
    #[tracing::instrument(skip_all, err)]
    pub async fn preview(&self, text: &str) -> Result<AgentReply> {
        let started = Instant::now();
        let understanding = nlp::parse_request(text);
        let commands = self.resolve(&understanding.commands).await?;
        let message = describe_plan(&commands);
        Ok(AgentReply {
            commands,
            actions: Vec::new(),
            list: None,
            message,
            confidence: understanding.confidence,
            elapsed_us: started.elapsed().as_micros() as u64,
        })
    }

    /// Understand `text`, apply it to the named list (else `list`, else the
    /// default list) and reply with the priced list.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an absurd quantity; storage errors. Text that
    /// is not understood gives a reply with a hint, not an error.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn demo(g: grocery_core::Grocery) -> grocery_core::Result<()> {
    /// let reply = g.agent().handle("add 2 gallons of milk and a dozen eggs", None).await?;
    /// println!("{}", reply.message);
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(skip_all, err)]
    pub async fn handle(&self, text: &str, list: Option<&str>) -> Result<AgentReply> {
        let started = Instant::now();
        let understanding = nlp::parse_request(text);
        // A number too large to be a quantity stays in the name ("10000000000000
        // eggs"): refuse before anything is written.
        if let Some(bad) = understanding
            .commands
            .iter()
            .flat_map(|c| &c.items)
            .find(|i| {
                i.amount.is_none()
                    && i.name.split(' ').next().is_some_and(|w| {
                        w.len() > 3 && w.chars().all(|c| c.is_ascii_digit() || c == '^')
                    })
            })
        {
            return Err(Error::invalid(format!(
                "`{}`: quantities go up to {}",
                bad.name.chars().take(40).collect::<String>(),
                crate::quantity::Amount::MAX
            )));
        }
        let commands = self.resolve(&understanding.commands).await?;
        let lists = self.g.lists_for(self.user);
        let mut actions = Vec::new();
        let mut messages = Vec::new();
        let mut current: Option<ListId> = None;
        for cmd in &commands {
            let name = cmd
                .list
                .as_deref()
                .or(list)
                .unwrap_or(DEFAULT_LIST)
                .to_string();
            match cmd.intent {
                Intent::Add => {
                    let l = lists.find_or_create(&name).await?;
                    let items: Vec<NewItem> = cmd.items.iter().filter_map(new_item).collect();
                    for added in lists.add_items(l.id, items).await? {
                        actions.push(Action::Added {
                            list: l.name.clone(),
                            item: added.name,
                            quantity: added.quantity.to_string(),
                        });
                    }
                    current = Some(l.id);
                }
                Intent::Remove | Intent::Check => {
                    let l = match lists.find(&name).await {
                        Ok(l) => l,
                        Err(Error::NotFound { .. }) => {
                            messages.push(format!("You have no list called {name}."));
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    for want in &cmd.items {
                        match find_line(&l, want) {
                            Some((id, line)) if cmd.intent == Intent::Remove => {
                                lists.remove_item(l.id, id).await?;
                                actions.push(Action::Removed { list: l.name.clone(), item: line });
                            }
                            Some((id, line)) => {
                                lists.check(l.id, id, true).await?;
                                actions.push(Action::Checked { list: l.name.clone(), item: line });
                            }
                            None => actions.push(Action::NotOnList {
                                list: l.name.clone(),
                                item: want.item.name.clone(),
                            }),
                        }
                    }
                    current = Some(l.id);
                }
                Intent::Clear => {
                    if let Ok(l) = lists.find(&name).await {
                        let removed = lists.clear(l.id).await?;
                        actions.push(Action::Cleared { list: l.name.clone(), removed });
                        current = Some(l.id);
                    }
                }
                Intent::CreateList => {
                    let l = lists.find_or_create(&name).await?;
                    actions.push(Action::CreatedList { list: l.name.clone() });
                    current = Some(l.id);
                }
                Intent::DeleteList => match lists.find(&name).await {
                    Ok(l) => {
                        lists.delete(l.id).await?;
                        actions.push(Action::DeletedList { list: l.name });
                    }
                    Err(Error::NotFound { .. }) => {
                        messages.push(format!("You have no list called {name}."));
                    }
                    Err(e) => return Err(e),
                },
                Intent::Show | Intent::Total => {
                    if let Ok(l) = lists.find(&name).await {
                        current = Some(l.id);
                    } else {
                        messages.push(format!("Your {name} list is empty."));
                    }
                }
                Intent::Price => {
                    for it in &cmd.items {
                        if let Some(id) = &it.product_id {
                            let p = self.g.catalog().get(id)?;
                            messages.push(format!("{} is {}.", p.display_name(), p.price));
                        }
                    }
                }
                Intent::Help => messages.push(HELP.to_string()),
                Intent::Unknown => messages.push(
                    "I can only help with shopping lists. Try \"add milk and eggs\" or \"what's on my list\".".into(),
                ),
                // Not built yet: say so plainly rather than pretend.
                Intent::Update | Intent::Deals | Intent::Compare | Intent::Undo => messages.push(
                    format!("I understood that ({:?}) but can't do it yet.", cmd.intent).to_lowercase(),
                ),
            }
        }
        let list = match current {
            Some(id) => match lists.priced(id).await {
                Ok(p) => Some(reply_list(p)),
                Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let mut message = describe_actions(&actions);
        for m in messages {
            if !message.is_empty() {
                message.push(' ');
            }
            message.push_str(&m);
        }
        if let Some(l) = &list {
            if !message.is_empty() {
                message.push(' ');
            }
            message.push_str(&format!(
                "{} has {} item{}, total ${}.{:02}.",
                l.name,
                l.items.len(),
                if l.items.len() == 1 { "" } else { "s" },
                l.total_cents / 100,
                l.total_cents % 100
            ));
        }
        Ok(AgentReply {
            commands,
            actions,
            list,
            message,
            confidence: understanding.confidence,
            elapsed_us: started.elapsed().as_micros() as u64,
        })
    }

    async fn resolve(&self, commands: &[Command]) -> Result<Vec<ResolvedCommand>> {
        let mut out = Vec::with_capacity(commands.len());
        for c in commands {
            let mut items = Vec::with_capacity(c.items.len());
            for item in &c.items {
                let query = if item.modifiers.is_empty() {
                    item.name.clone()
                } else {
                    format!("{} {}", item.modifiers.join(" "), item.name)
                };
                let hits = self.g.catalog().search(&query, 3).await?;
                let confident = hits.first().is_some_and(|h| h.score >= LINK_SCORE);
                items.push(ResolvedItem {
                    item: item.clone(),
                    product_id: hits
                        .first()
                        .filter(|_| confident)
                        .map(|h| h.product.id.clone()),
                    product_name: hits
                        .first()
                        .filter(|_| confident)
                        .map(|h| h.product.display_name()),
                    alternatives: hits
                        .iter()
                        .skip(usize::from(confident))
                        .map(|h| (h.product.id.clone(), h.product.display_name()))
                        .collect(),
                });
            }
            out.push(ResolvedCommand {
                intent: c.intent,
                list: c.list.clone(),
                items,
            });
        }
        Ok(out)
    }
}

const HELP: &str = "Tell me what you need, e.g. \"add 2 gallons of milk and a dozen eggs\", \
\"we're out of coffee\", \"remove the bread\", \"I got the milk\", \"what's on my costco list\".";

fn new_item(r: &ResolvedItem) -> Option<NewItem> {
    let mut item = NewItem::new(&r.item.name);
    item.quantity = r.item.quantity();
    item.product_id = r.product_id.clone();
    Some(item)
}

/// The unchecked line that matches what was asked for, by product or name.
fn find_line(list: &GroceryList, want: &ResolvedItem) -> Option<(crate::lists::ItemId, String)> {
    list.items
        .iter()
        .filter(|i| !i.checked)
        .find(|i| {
            (want.product_id.is_some() && i.product_id == want.product_id)
                || same_thing(&i.name, &want.item.name)
        })
        .map(|i| (i.id, i.name.clone()))
}

fn reply_list(p: PricedList) -> ReplyList {
    ReplyList {
        name: p.name,
        items: p
            .lines
            .into_iter()
            .map(|l| ReplyLine {
                name: l.item.name,
                quantity: l.item.quantity.to_string(),
                product_id: l.item.product_id,
                product_name: l.product.map(|p| p.display_name()),
                packs: l.packs,
                line_total_cents: l.line_total.map(|m| m.cents),
                checked: l.item.checked,
            })
            .collect(),
        total_cents: p.total.cents,
    }
}

fn describe_actions(actions: &[Action]) -> String {
    let mut parts = Vec::new();
    for a in actions {
        parts.push(match a {
            Action::Added { item, quantity, .. } => format!("Added {item} ({quantity})."),
            Action::Removed { item, .. } => format!("Removed {item}."),
            Action::Checked { item, .. } => format!("Checked off {item}."),
            Action::Cleared { list, removed } => format!("Cleared {list} ({removed} items)."),
            Action::CreatedList { list } => format!("Created the {list} list."),
            Action::DeletedList { list } => format!("Deleted the {list} list."),
            Action::NotOnList { item, list } => format!("{item} is not on {list}."),
        });
    }
    parts.join(" ")
}

fn describe_plan(commands: &[ResolvedCommand]) -> String {
    commands
        .iter()
        .map(|c| {
            let items: Vec<&str> = c.items.iter().map(|i| i.item.name.as_str()).collect();
            format!("{:?} {}", c.intent, items.join(", "))
                .trim()
                .to_lowercase()
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use crate::grocery::Grocery;

    async fn open() -> (Grocery, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::config::Config::default();
        config.store.path = Some(dir.path().join("g.db"));
        (Grocery::open(config).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn adds_prices_removes_and_checks() {
        let (g, _d) = open().await;
        let r = g
            .agent()
            .handle(
                "add 2 gallons of milk and a dozen eggs, we're out of coffee",
                None,
            )
            .await
            .unwrap();
        let list = r.list.unwrap();
        assert_eq!(list.name, "Shopping");
        assert_eq!(list.items.len(), 3);
        assert_eq!(list.items[0].quantity, "2 gal");
        assert!(list.items[0].product_id.is_some());
        assert!(list.total_cents > 0);
        let r = g.agent().handle("I got the milk", None).await.unwrap();
        assert!(r.list.unwrap().items[0].checked);
        let r = g.agent().handle("remove the eggs", None).await.unwrap();
        assert_eq!(r.list.unwrap().items.len(), 2);
        let r = g
            .agent()
            .handle("put paper towels on my costco list", None)
            .await
            .unwrap();
        assert_eq!(r.list.unwrap().name, "costco");
    }

    #[tokio::test]
    async fn preview_changes_nothing_and_unknown_is_a_reply() {
        let (g, _d) = open().await;
        let p = g.agent().preview("add milk").await.unwrap();
        assert_eq!(p.commands.len(), 1);
        assert!(g.lists().all().await.unwrap().is_empty());
        let r = g
            .agent()
            .handle("what's the capital of France", None)
            .await
            .unwrap();
        assert!(r.actions.is_empty());
        assert!(r.message.contains("shopping lists"), "{}", r.message);
        for text in [
            "",
            "\u{0}",
            "🥛",
            "牛乳を買う",
            &"x".repeat(100_000),
            &"add milk ".repeat(12_000),
        ] {
            match g.agent().handle(text, None).await {
                Ok(_) => {}
                Err(e) => assert_eq!(e.kind(), crate::error::ErrorKind::InvalidInput, "{e}"),
            }
        }
    }

    #[tokio::test]
    async fn absurd_quantities_are_refused_and_change_nothing() {
        let (g, _d) = open().await;
        for text in ["add 10000000000000 eggs", "add 10^12 eggs"] {
            let err = g.agent().handle(text, None).await.unwrap_err();
            assert_eq!(err.kind(), crate::error::ErrorKind::InvalidInput, "{text}");
        }
        assert!(g.lists().all().await.unwrap().is_empty(), "nothing written");
    }
}
