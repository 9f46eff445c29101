//! The agent: one sentence in, list changes and a priced reply out.
//!
//! Stages, in order: **Interpret** ([`crate::nlp::parse_request`], pure) →
//! **Resolve** (each item to a catalog product, with alternatives) → **Apply**
//! (list changes, each command one transaction) → **Reply** (what was done, the
//! priced list, a short message). [`Agent::preview`] runs Interpret and Resolve
//! only and changes nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::catalog::text::stem;
use crate::error::{Error, Result};
use crate::grocery::Grocery;
use crate::lists::{
    DEFAULT_LIST, GroceryList, ItemId, ItemPatch, ListId, ListItem, NewItem, PricedList, UserId,
};
use crate::lists::{ListOp, OpDone, Revert, UndoStep};
use crate::nlp::{self, Command, Intent, ItemPhrase};
use crate::quantity::{Dimension, Quantity, Unit};
use crate::store::ListRef;

/// What the agent remembers between the requests of one session: the list and
/// items last talked about (for "it", "that") and how to undo recent changes.
/// Sessions are per user and per session id; nothing is shared between them.
///
/// Sessions are kept in memory and saved to the store after each request that
/// changes them, so a conversation continues across processes (one-shot CLI
/// runs with `--session`, server restarts). The saved state is small; each
/// undoable request is saved once, on its own ([`SessionSave`]), not the whole
/// history again with every request.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Session {
    last_list: Option<ListId>,
    last_items: Vec<ItemId>,
    /// How to undo recent requests, oldest first. Saved apart, one row per
    /// request; read here only from sessions saved before that.
    #[serde(default, skip_serializing)]
    undo: Vec<Vec<UndoStep>>,
    /// The number of `undo[0]`: the entries are numbered on from it, one up
    /// per entry, so each keeps its number while older ones are dropped.
    #[serde(default)]
    undo_base: i64,
    /// The lowest entry number changed since the last save.
    #[serde(skip)]
    unsaved_from: Option<i64>,
}

impl Session {
    /// Remember how to undo a request (the oldest goes past [`UNDO_DEPTH`]).
    fn push_undo(&mut self, steps: Vec<UndoStep>) {
        self.undo.push(steps);
        if self.undo.len() > UNDO_DEPTH {
            self.undo.remove(0);
            self.undo_base += 1;
        }
        let newest = self.undo_base + self.undo.len() as i64 - 1;
        self.unsaved_from = Some(self.unsaved_from.map_or(newest, |n| n.min(newest)));
    }

    /// What to write for this session now. Marks everything saved:
    /// [`Session::unsaved`] undoes that when the write fails.
    fn take_save(&mut self) -> Result<SessionSave> {
        let from = self.unsaved_from;
        let state = to_json(&*self)?;
        let mut undo = Vec::new();
        if let Some(from) = from {
            for (i, steps) in self.undo.iter().enumerate() {
                let seq = self.undo_base + i as i64;
                if seq >= from {
                    undo.push((seq, to_json(steps)?));
                }
            }
        }
        self.unsaved_from = None;
        Ok(SessionSave {
            state,
            undo_from: self.undo_base,
            undo_to: self.undo_base + self.undo.len() as i64,
            undo,
            unsaved_from: from,
        })
    }

    /// A save of this session failed: what it carried is unsaved again.
    fn unsaved(&mut self, from: Option<i64>) {
        if let Some(from) = from {
            self.unsaved_from = Some(self.unsaved_from.map_or(from, |n| n.min(from)));
        }
    }
}

/// JSON of a session or an undo entry.
fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(format!("session state: {e}")))
}

/// One session's write: its small state, and its undo entries numbered
/// `undo_from..undo_to` of which `undo` carries those changed since the last
/// save (the others are already stored; stored ones outside the range go).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SessionSave {
    /// The session without its undo entries, as JSON.
    pub state: String,
    /// The first entry kept.
    pub undo_from: i64,
    /// One past the last entry kept.
    pub undo_to: i64,
    /// Changed entries: number and JSON.
    pub undo: Vec<(i64, String)>,
    /// What was unsaved before this save (restored if it fails).
    unsaved_from: Option<i64>,
}

impl SessionSave {
    /// The lowest undo entry number this save carries, if any.
    pub(crate) fn unsaved_from(&self) -> Option<i64> {
        self.unsaved_from
    }
}

/// Whether an undo that failed with `e` can never apply (a list in it is
/// gone, the caller may no longer change it, its lines no longer fit): then
/// its entry is dropped. Other failures (storage, a timeout) leave it to be
/// asked again.
fn undo_cannot_apply(e: &Error) -> bool {
    matches!(
        e,
        Error::NotFound { .. } | Error::Forbidden(_) | Error::Conflict(_) | Error::InvalidInput(_)
    )
}

/// Most requests that can be undone in one session.
const UNDO_DEPTH: usize = 20;

/// A session, shared between the requests that use it.
pub(crate) type SharedSession = Arc<Mutex<Session>>;

/// Shared session store: bounded, idle sessions expire.
pub(crate) type Sessions = moka::sync::Cache<(UserId, String), SharedSession>;

/// What to write for a changed session (see [`SessionSave`]).
pub(crate) fn session_save(session: &SharedSession) -> Result<SessionSave> {
    session
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take_save()
}

/// A session's save failed: what it carried (`from`, see
/// [`SessionSave::unsaved_from`]) is to be written again.
pub(crate) fn session_unsaved(session: &SharedSession, from: Option<i64>) {
    session
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unsaved(from);
}

/// A session as stored: its state and its undo entries by number (`None`
/// when the stored state cannot be read).
fn session_from_store(state: &str, undo: Vec<(i64, String)>) -> Option<Session> {
    let mut s: Session = match serde_json::from_str(state) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable saved session; starting afresh");
            return None;
        }
    };
    if !s.undo.is_empty() {
        // Saved whole, before undo entries were saved apart: save them apart.
        s.unsaved_from = Some(s.undo_base);
        return Some(s);
    }
    let mut expected = s.undo_base;
    for (seq, json) in undo {
        let steps = (seq == expected)
            .then(|| serde_json::from_str::<Vec<UndoStep>>(&json).ok())
            .flatten();
        let Some(steps) = steps else {
            tracing::warn!(seq, "unreadable saved undo entry; undo starts after it");
            s.undo.clear();
            s.undo_base = seq + 1;
            expected = seq + 1;
            continue;
        };
        s.undo.push(steps);
        expected += 1;
    }
    Some(s)
}

/// A new session store.
pub(crate) fn sessions() -> Sessions {
    moka::sync::Cache::builder()
        .max_capacity(100_000)
        .time_to_idle(std::time::Duration::from_secs(3600))
        .build()
}

/// Understanding below this confidence does not change any list.
const UNSURE: f32 = 0.45;

/// Whether a command writes.
fn changes_a_list(intent: Intent) -> bool {
    matches!(
        intent,
        Intent::Add
            | Intent::Remove
            | Intent::Update
            | Intent::Check
            | Intent::CheckAll
            | Intent::Uncheck
            | Intent::ClearChecked
            | Intent::Move
            | Intent::RenameList
            | Intent::Clear
            | Intent::CreateList
            | Intent::DeleteList
    )
}

/// Least search score for an item to be linked to a product without asking.
const LINK_SCORE: f32 = 4.0;

/// An item resolved to the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolvedCommand {
    /// What to do.
    pub intent: Intent,
    /// The list named, if any.
    pub list: Option<String>,
    /// For a move, the list the items leave, if named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The items.
    pub items: Vec<ResolvedItem>,
}

/// One change (or answer) the agent made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Action {
    /// An item was added (or merged into an existing line).
    Added {
        /// The list.
        list: String,
        /// The line as it is now.
        item: String,
        /// Its quantity now (with what was already on the line).
        quantity: String,
        /// What this request added, as asked ("2 gal" of milk onto 6 gal
        /// already there: `added` 2 gal, `quantity` 8 gal).
        added: String,
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
    /// A list got a new name.
    Renamed {
        /// Its name before.
        from: String,
        /// Its name now.
        to: String,
    },
    /// An item moved from one list to another.
    Moved {
        /// The line.
        item: String,
        /// The list it left.
        from: String,
        /// The list it is on now.
        to: String,
    },
    /// An item checked off is needed again.
    Unchecked {
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
    /// An item's quantity or product changed.
    Updated {
        /// The list.
        list: String,
        /// The line.
        item: String,
        /// Its quantity now.
        quantity: String,
        /// The product it is linked to now, when the change picked another
        /// ("make it 2%").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        product: Option<String>,
    },
    /// The previous request was undone.
    Undone,
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplyList {
    /// The list's name.
    pub name: String,
    /// Its lines.
    pub items: Vec<ReplyLine>,
    /// Total of unchecked priced lines, in cents.
    pub total_cents: i64,
    /// Unchecked lines without a price (no product, or more packs than are
    /// priced), left out of the total.
    #[serde(default)]
    pub unpriced: u64,
}

/// What the agent understood, did and says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentReply {
    /// The commands understood, items resolved.
    pub commands: Vec<ResolvedCommand>,
    /// What was changed.
    pub actions: Vec<Action>,
    /// The list the request was about, after the change.
    pub list: Option<ReplyList>,
    /// Cheaper options and deals found for the items asked about.
    pub suggestions: Vec<Suggestion>,
    /// A short message for the person.
    pub message: String,
    /// How sure the understanding is, 0..=1.
    pub confidence: f32,
    /// Who understood the request.
    pub understood_by: UnderstoodBy,
    /// Time spent, in microseconds.
    pub elapsed_us: u64,
    /// The cheapest way to shop the list, when asked ("cheapest way to buy
    /// this list", "split it between walmart and kroger", "keep it under $40").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<crate::deals::Optimized>,
    /// What the user usually buys, is due and is not on the list, when asked
    /// ("what am I forgetting?").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forgotten: Vec<crate::habits::Usual>,
}

impl AgentReply {
    /// A reply to a question that changes nothing (plans, habits).
    fn answer(message: String, started: Instant) -> AgentReply {
        AgentReply {
            commands: Vec::new(),
            actions: Vec::new(),
            list: None,
            suggestions: Vec::new(),
            message,
            confidence: 1.0,
            understood_by: UnderstoodBy::Builtin,
            elapsed_us: started.elapsed().as_micros() as u64,
            plan: None,
            forgotten: Vec::new(),
        }
    }
}

/// A cheaper option or a deal for an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suggestion {
    /// The item asked about.
    pub item: String,
    /// The product suggested (for a deal: the item's own product).
    pub product_id: String,
    /// Its display name.
    pub product_name: String,
    /// Its price, in cents.
    pub price_cents: i64,
    /// Why, in words ("18% less per fl oz", "usually $4.49").
    pub reason: String,
}

/// Who understood a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum UnderstoodBy {
    /// The built-in grammar ([`crate::nlp::parse_request`]).
    Builtin,
    /// The optional LLM fallback, asked because the built-in grammar was unsure.
    Llm,
}

/// Agent operations for one user; get one from [`Grocery::agent`].
#[derive(Debug, Clone, Copy)]
pub struct Agent<'a> {
    g: &'a Grocery,
    user: UserId,
}

fn same_thing(a: &str, b: &str) -> bool {
    let (a, b) = (name_key(a), name_key(b));
    !a.is_empty() && (a == b || a.iter().all(|w| b.contains(w)) || b.iter().all(|w| a.contains(w)))
}

/// A name's words, stemmed: "Avocados" and "avocado" have the same key.
fn name_key(s: &str) -> Vec<String> {
    crate::catalog::text::tokens(s).map(|t| stem(&t)).collect()
}

impl<'a> Agent<'a> {
    pub(crate) fn new(g: &'a Grocery, user: UserId) -> Self {
        Agent { g, user }
    }

    /// Understand and resolve `text` without changing anything.
    ///
    /// # Errors
    /// Storage errors from catalog search.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn preview(&self, text: &str) -> Result<AgentReply> {
        let started = Instant::now();
        let (understanding, understood_by) = self.understand(text).await;
        let commands = self.resolve(&understanding.commands).await?;
        let message = describe_plan(&commands);
        Ok(AgentReply {
            commands,
            actions: Vec::new(),
            suggestions: Vec::new(),
            list: None,
            message,
            confidence: understanding.confidence,
            understood_by,
            elapsed_us: started.elapsed().as_micros() as u64,
            plan: None,
            forgotten: Vec::new(),
        })
    }

    /// The built-in understanding, or the LLM fallback's when the built-in one is
    /// unsure and the fallback is configured, answers and validates. Any failure
    /// of the fallback (down, slow, open breaker, invalid answer) keeps the
    /// built-in result; an open breaker costs no waiting at all.
    async fn understand(&self, text: &str) -> (nlp::Understanding, UnderstoodBy) {
        let builtin = nlp::parse_request(text);
        let Some(llm) = self.g.llm() else {
            return (builtin, UnderstoodBy::Builtin);
        };
        if !llm.should_ask(builtin.confidence) {
            return (builtin, UnderstoodBy::Builtin);
        }
        match llm.understand(text).await {
            Ok(u) => (u, UnderstoodBy::Llm),
            Err(e) => {
                tracing::debug!(error = %e, "LLM fallback unavailable; keeping the built-in understanding");
                (builtin, UnderstoodBy::Builtin)
            }
        }
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
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn handle(&self, text: &str, list: Option<&str>) -> Result<AgentReply> {
        self.handle_in("default", text, list).await
    }

    /// [`Agent::handle`] within a named session: "it" and "that" refer to the
    /// session's last items, and "undo" reverts the session's last request.
    ///
    /// # Errors
    /// As [`Agent::handle`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn handle_in(
        &self,
        session: &str,
        text: &str,
        list: Option<&str>,
    ) -> Result<AgentReply> {
        let started = Instant::now();
        if let Some(ask) = crate::nlp::plan_ask(text) {
            return self.plan(ask, list, started).await;
        }
        if crate::nlp::forgetting_ask(text) {
            return self.forgotten(list, started).await;
        }
        let session_name: String = session.chars().take(128).collect();
        let session = self.session(&session_name).await?;
        let (understanding, understood_by) = self.understand(text).await;
        // An amount the parser could not take stays in the name ("10000000000000
        // eggs", "-3 eggs", "1/0 cups of flour", "0 eggs"): refuse before
        // anything is written, rather than add a line called "3 eggs".
        if let Some((bad, word)) = understanding
            .commands
            .iter()
            .flat_map(|c| &c.items)
            .filter(|i| i.amount.is_none())
            .find_map(|i| Some((i, unreadable_amount(&i.name)?)))
        {
            let name: String = bad.name.chars().take(40).collect();
            let max = crate::quantity::Amount::MAX;
            return Err(Error::invalid(
                if word.len() > 3 && word.chars().all(|c| c.is_ascii_digit() || c == '^') {
                    format!("`{name}`: quantities go up to {max}")
                } else {
                    format!(
                        "`{name}`: `{word}` is not an amount I can use (more than 0 and at most {max}: 2, 1.5, 1/2)"
                    )
                },
            ));
        }
        let commands = self.resolve(&understanding.commands).await?;
        // A guess this unsure ("the guac situation is dire") is not written down:
        // the reply says what it would do and how to say it plainly.
        if understanding.confidence < UNSURE && commands.iter().any(|c| changes_a_list(c.intent)) {
            let guess = describe_plan(&commands);
            return Ok(AgentReply {
                message: format!(
                    "I'm not sure what you mean (my best guess: {guess}). Try \"add milk\" or \"remove the eggs\"."
                ),
                commands,
                actions: Vec::new(),
                suggestions: Vec::new(),
                list: None,
                confidence: understanding.confidence,
                understood_by,
                elapsed_us: started.elapsed().as_micros() as u64,
                plan: None,
                forgotten: Vec::new(),
            });
        }
        let lists = self.g.lists_for(self.user);
        let mut actions = Vec::new();
        let mut messages = Vec::new();
        let mut suggestions: Vec<Suggestion> = Vec::new();
        let (mut current, mut last_items, undo_at_start) = {
            let s = session.lock().unwrap_or_else(|e| e.into_inner());
            (s.last_list, s.last_items.clone(), s.undo.len())
        };
        let mut undo = UndoLog::default();
        // Products added, to count in the remembered picks as the store did.
        let mut added_products: Vec<String> = Vec::new();
        // The list as the last write left it, to price without reading it again.
        let mut latest: Option<GroceryList> = None;
        for cmd in &commands {
            let name = cmd
                .list
                .as_deref()
                .or(list)
                .unwrap_or(DEFAULT_LIST)
                .to_string();
            match cmd.intent {
                Intent::Add => {
                    let items: Vec<NewItem> = cmd
                        .items
                        .iter()
                        .filter_map(new_item)
                        .map(|i| lists.cleaned(i))
                        .collect::<Result<_>>()?;
                    // "add the ingredients for tacos": no recipe says what that
                    // is, so nothing is added for it; the reply says so and
                    // what the catalog has for the dish.
                    for r in &cmd.items {
                        if let Some(dish) = r.item.dish() {
                            messages.push(dish_answer(dish, &r.alternatives));
                        }
                    }
                    if items.is_empty() && cmd.items.iter().any(|r| r.item.dish().is_some()) {
                        continue;
                    }
                    // "add 🥛": nothing to add, and no list made for it.
                    if items.is_empty() {
                        messages.push(
                            "I didn't catch what to add. Try \"add milk and eggs\".".to_string(),
                        );
                        continue;
                    }
                    // What each add asks for, to say beside the line's new total.
                    let asked: Vec<String> = items
                        .iter()
                        .map(|i| i.quantity_or_one().map(|q| q.to_string()))
                        .collect::<Result<_>>()?;
                    let ops: Vec<ListOp> = items.into_iter().map(ListOp::Add).collect();
                    let edit = lists
                        .edit(ListRef::Name(name.clone()), true, move |_| Ok((ops.clone(), ())))
                        .await?;
                    let l = &edit.before;
                    if edit.created {
                        undo.push(UndoStep::DeleteList { list: l.id });
                    } else {
                        undo.before(l);
                    }
                    last_items.clear();
                    // One answer per change, in order.
                    for (d, asked) in edit.done.into_iter().zip(asked) {
                        if let OpDone::Item(added) = d {
                            last_items.push(added.id);
                            added_products.extend(added.product_id.clone());
                            actions.push(Action::Added {
                                list: l.name.clone(),
                                item: added.name,
                                quantity: added.quantity.to_string(),
                                added: asked,
                            });
                        }
                    }
                    current = Some(l.id);
                    undo.after(&edit.after);
                    latest = Some(edit.after);
                }
                Intent::Remove
                | Intent::Check
                | Intent::CheckAll
                | Intent::Uncheck
                | Intent::ClearChecked => {
                    let target = match (cmd.list.as_deref().or(list), current) {
                        (Some(n), _) => ListRef::Name(n.to_string()),
                        (None, Some(id)) => ListRef::Id(id),
                        (None, None) => ListRef::Name(DEFAULT_LIST.to_string()),
                    };
                    let wanted = cmd.clone();
                    let last = last_items.clone();
                    let plan = move |l: &GroceryList| Ok(plan_remove_or_check(l, &wanted, &last));
                    // A remove of what is not there writes nothing.
                    let edit = match lists.edit_if_changed(target.clone(), plan.clone()).await {
                        // The session's last list is gone: the default one.
                        Err(Error::NotFound { .. }) if matches!(target, ListRef::Id(_)) => {
                            lists
                                .edit_if_changed(
                                    ListRef::Name(DEFAULT_LIST.to_string()),
                                    plan.clone(),
                                )
                                .await
                        }
                        other => other,
                    };
                    let mut edit = match edit {
                        Ok(e) => e,
                        Err(Error::NotFound { what: "list", .. }) => {
                            messages.push(format!("You have no list called {name}."));
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    // "got the milk" while talking about the costco list, with
                    // the milk on Shopping: no list was named, so the one that
                    // has what was named.
                    let none_here = edit.done.is_empty()
                        && !cmd.items.is_empty()
                        && edit.extra.iter().all(|a| matches!(a, Action::NotOnList { .. }));
                    // (Not with one list, the one just looked at.)
                    let one_list = self.g.store().list_cache().count(self.user) == Some(1);
                    if none_here && !one_list && matches!(target, ListRef::Id(_)) {
                        let checked = cmd.intent == Intent::Uncheck;
                        let all = lists.all_with_items().await?;
                        let holder = all.iter().find(|l| {
                            l.id != edit.after.id
                                && cmd.items.iter().any(|w| line_named(l, w, checked).is_some())
                        });
                        if let Some(holder) = holder {
                            edit = lists.edit_if_changed(ListRef::Id(holder.id), plan).await?;
                        }
                    }
                    if !edit.done.is_empty() {
                        undo.before(&edit.before);
                        undo.after(&edit.after);
                    } else if cmd.intent == Intent::CheckAll {
                        messages.push(format!("Nothing on {} is left to check off.", edit.after.name));
                    } else if cmd.intent == Intent::ClearChecked {
                        messages.push(format!("Nothing on {} is checked off.", edit.after.name));
                    }
                    actions.extend(edit.extra);
                    current = Some(edit.after.id);
                    latest = Some(edit.after);
                }
                Intent::Clear => {
                    if let Ok(l) = self.target_list(cmd, list, current).await {
                        // "everything except the milk": the lines named stay.
                        let ops = if cmd.items.is_empty() {
                            vec![ListOp::Clear]
                        } else {
                            let kept: Vec<ItemId> = cmd
                                .items
                                .iter()
                                .flat_map(|w| [line_named(&l, w, false), line_named(&l, w, true)])
                                .flatten()
                                .map(|(id, _)| id)
                                .collect();
                            l.items
                                .iter()
                                .filter(|i| !kept.contains(&i.id))
                                .map(|i| ListOp::Remove(i.id))
                                .collect()
                        };
                        undo.before(&l);
                        let (done, after) = lists.apply(l.id, ops).await?;
                        undo.after(&after);
                        let removed = done
                            .iter()
                            .map(|d| match d {
                                OpDone::Cleared(n) => *n,
                                OpDone::Removed(_) => 1,
                                OpDone::Item(_) => 0,
                            })
                            .sum();
                        actions.push(Action::Cleared { list: l.name.clone(), removed });
                        current = Some(l.id);
                        latest = Some(after);
                    }
                }
                Intent::Move => {
                    let Some(to) = cmd.list.as_deref() else {
                        messages.push(
                            "Which list should it go to? Say \"move the bread to the costco list\"."
                                .into(),
                        );
                        continue;
                    };
                    // Where from: the list named; else the first of the list
                    // being talked about, the default list and the others
                    // that has what is named on it.
                    let source = match &cmd.from {
                        Some(n) => match lists.find(n).await {
                            Ok(l) => l,
                            Err(Error::NotFound { .. }) => {
                                messages.push(format!("You have no list called {n}."));
                                continue;
                            }
                            Err(e) => return Err(e),
                        },
                        None => {
                            let all = lists.all_with_items().await?;
                            let first = |l: &GroceryList| {
                                if current == Some(l.id) {
                                    0
                                } else if l.name.eq_ignore_ascii_case(list.unwrap_or(DEFAULT_LIST)) {
                                    1
                                } else {
                                    2
                                }
                            };
                            let mut order: Vec<&GroceryList> = all
                                .iter()
                                .filter(|l| !l.name.eq_ignore_ascii_case(to))
                                .collect();
                            order.sort_by_key(|l| first(l));
                            let holding = order
                                .iter()
                                .find(|l| !lines_to_move(l, cmd, &last_items).0.is_empty())
                                .or(order.first());
                            match holding {
                                Some(l) => (*l).clone(),
                                None => {
                                    messages.push("There is nothing to move yet.".into());
                                    continue;
                                }
                            }
                        }
                    };
                    if source.name.eq_ignore_ascii_case(to) {
                        messages.push(format!("That is on {} already.", source.name));
                        current = Some(source.id);
                        latest = Some(source);
                        continue;
                    }
                    let (moving, missing) = lines_to_move(&source, cmd, &last_items);
                    for item in missing {
                        actions.push(Action::NotOnList { list: source.name.clone(), item });
                    }
                    if moving.is_empty() {
                        current = Some(source.id);
                        latest = Some(source);
                        continue;
                    }
                    // Onto the other list and off this one in one transaction.
                    let ids = moving.iter().map(|i| i.id).collect();
                    let moved = lists.move_lines(source.id, to, ids).await?;
                    let edit = moved.to;
                    if edit.created {
                        undo.push(UndoStep::DeleteList { list: edit.after.id });
                    } else {
                        undo.before(&edit.before);
                        undo.after(&edit.after);
                    }
                    undo.before(&moved.from_before);
                    undo.after(&moved.from_after);
                    for i in &moving {
                        actions.push(Action::Moved {
                            item: i.name.clone(),
                            from: source.name.clone(),
                            to: edit.after.name.clone(),
                        });
                    }
                    last_items = edit
                        .done
                        .iter()
                        .filter_map(|d| match d {
                            OpDone::Item(i) => Some(i.id),
                            _ => None,
                        })
                        .collect();
                    current = Some(edit.after.id);
                    latest = Some(edit.after);
                }
                // "what lists do i have": every list, by name.
                Intent::Show
                    if cmd.items.is_empty()
                        && cmd.list.is_none()
                        && crate::nlp::asks_for_lists(text) =>
                {
                    let all = lists.all().await?;
                    let names: Vec<String> = all
                        .iter()
                        .map(|l| match l.items {
                            1 => format!("{} (1 item)", l.name),
                            n => format!("{} ({n} items)", l.name),
                        })
                        .collect();
                    messages.push(match names.as_slice() {
                        [] => "You have no lists yet. Say \"add milk\" to start one.".to_string(),
                        [one] => format!("You have one list: {one}."),
                        _ => format!("You have {} lists: {}.", names.len(), names.join(", ")),
                    });
                }
                Intent::RenameList => {
                    // (The grammar always gives the new name; the LLM may not.)
                    let Some(to) = cmd.list.as_deref() else {
                        messages.push(
                            "What should the list be called? Say \"rename the list to party\"."
                                .into(),
                        );
                        continue;
                    };
                    // The list named, else the one talked about, else the default.
                    let l = match (&cmd.from, current) {
                        (Some(n), _) => lists.find(n).await,
                        (None, Some(id)) => lists.get(id).await,
                        (None, None) => lists.find(list.unwrap_or(DEFAULT_LIST)).await,
                    };
                    let l = match l {
                        Ok(l) => l,
                        Err(Error::NotFound { .. }) => {
                            let n = cmd.from.as_deref().unwrap_or(DEFAULT_LIST);
                            messages.push(format!("You have no list called {n}."));
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    let renamed = match lists.rename(l.id, to).await {
                        Ok(r) => r,
                        Err(Error::Conflict(_)) => {
                            messages.push(format!("You already have a list called {to}."));
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    if renamed.name != l.name {
                        undo.push(UndoStep::Rename {
                            list: l.id,
                            name: l.name.clone(),
                        });
                    }
                    actions.push(Action::Renamed {
                        from: l.name,
                        to: renamed.name.clone(),
                    });
                    current = Some(renamed.id);
                    latest = Some(renamed);
                }
                Intent::CreateList if cmd.list.is_none() && list.is_none() => messages.push(
                    "What should the new list be called? Say \"make a list called party\".".into(),
                ),
                Intent::CreateList => {
                    let existed = lists.find(&name).await.is_ok();
                    let l = lists.find_or_create(&name).await?;
                    if !existed {
                        undo.push(UndoStep::DeleteList { list: l.id });
                    }
                    actions.push(Action::CreatedList { list: l.name.clone() });
                    current = Some(l.id);
                }
                Intent::DeleteList => match lists.find(&name).await {
                    Ok(l) => {
                        undo.push(UndoStep::Recreate {
                            name: l.name.clone(),
                            items: l.items.clone(),
                        });
                        lists.delete(l.id).await?;
                        undo.deleted(l.id);
                        if current == Some(l.id) {
                            current = None;
                        }
                        actions.push(Action::DeletedList { list: l.name });
                    }
                    Err(Error::NotFound { .. }) => {
                        messages.push(format!("You have no list called {name}."));
                    }
                    Err(e) => return Err(e),
                },
                Intent::Show | Intent::Total => {
                    let found = lists.find(&name).await.ok();
                    // "do i have eggs on my list", "is milk on the costco list":
                    // yes or no, and where else it is.
                    if cmd.intent == Intent::Show && !cmd.items.is_empty() {
                        let others = lists.all_with_items().await?;
                        for want in &cmd.items {
                            messages.push(whether_listed(found.as_ref(), &name, &others, want));
                        }
                    }
                    if let Some(l) = found {
                        current = Some(l.id);
                        latest = Some(l);
                    } else if cmd.items.is_empty() || cmd.intent == Intent::Total {
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
                Intent::Update => {
                    // "increase it by 2": nothing understood to change.
                    if cmd.items.is_empty() {
                        messages.push(
                            "I'm not sure what to change. Try \"make the milk 2 gallons\" or \"add 2 more eggs\"."
                                .into(),
                        );
                        continue;
                    }
                    let l = match self.target_list(cmd, list, current).await {
                        Ok(l) => l,
                        Err(Error::NotFound { .. }) => {
                            messages.push("There is nothing to change yet.".into());
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    undo.before(&l);
                    for want in &cmd.items {
                        // "actually make that 4 avocados" after adding bananas,
                        // avocados and spinach: the words after "that" name a
                        // line, which is the one to change (not a variant of
                        // the last item, spinach).
                        let named = if want.item.name.is_empty() {
                            named_by_variant(&l, want)
                        } else {
                            None
                        };
                        // Words that named the line are not a variant of it.
                        let variant: &[String] = match named {
                            Some(_) => &[],
                            None => &want.item.modifiers,
                        };
                        let target = if let Some(id) = named {
                            l.items.iter().find(|i| i.id == id)
                        } else if want.item.name.is_empty() {
                            l.items.iter().rev().find(|i| last_items.contains(&i.id))
                        } else {
                            find_line(&l, want).and_then(|(id, _)| l.items.iter().find(|i| i.id == id))
                        };
                        let Some(mut target) = target else {
                            messages.push("I'm not sure which item to change.".into());
                            continue;
                        };
                        // "make it 2 gallons" just after the ground beef (in lb):
                        // the one line measured in gallons' kind, else a question.
                        if named.is_none()
                            && want.item.name.is_empty()
                            && let Some(unit) = want.item.unit
                            && !unit.is_compatible(target.quantity.unit)
                            && matches!(
                                target.quantity.unit.dimension(),
                                Dimension::Mass | Dimension::Volume | Dimension::Length
                            )
                        {
                            let mut fits = l
                                .items
                                .iter()
                                .filter(|i| !i.checked && i.quantity.unit.is_compatible(unit));
                            match (fits.next(), fits.next()) {
                                (Some(only), None) => target = only,
                                _ => {
                                    messages.push(format!(
                                        "{} is measured in {}, not {}: which item do you mean?",
                                        target.name,
                                        target.quantity.unit,
                                        unit
                                    ));
                                    continue;
                                }
                            }
                        }
                        let mut patch = ItemPatch::default();
                        if let Some(amount) = want.item.amount {
                            let names_it = named.is_some() || !want.item.name.is_empty();
                            let unit = match want.item.unit {
                                Some(u) => u,
                                // "make that 4 eggs" on a line of a dozen: four
                                // eggs, where "make that 2" is two dozen.
                                None if names_it
                                    && matches!(
                                        target.quantity.unit,
                                        crate::quantity::Unit::Dozen
                                            | crate::quantity::Unit::Pair
                                    ) =>
                                {
                                    crate::quantity::Unit::Each
                                }
                                None => target.quantity.unit,
                            };
                            patch.quantity = Some(Quantity::new(amount, unit));
                        }
                        // "double the ground beef": its quantity times two.
                        if let Some(times) = want.item.times {
                            match target.quantity.checked_mul(times) {
                                Ok(q) => patch.quantity = Some(q),
                                Err(e) => {
                                    messages.push(format!(
                                        "I can't change {} ({}): {e}.",
                                        target.name, target.quantity
                                    ));
                                    continue;
                                }
                            }
                        }
                        if !variant.is_empty() {
                            let query = format!("{} {}", variant.join(" "), target.name);
                            if let Some(hit) = self.g.catalog().search(&query, 1).await?.into_iter().next() {
                                patch.product_id = Some(Some(hit.product.id));
                            }
                        }
                        let was = target.product_id.clone();
                        let (done, after) =
                            lists.apply(l.id, vec![ListOp::Update(target.id, patch)]).await?;
                        undo.after(&after);
                        if let Some(OpDone::Item(updated)) = done.into_iter().next() {
                            last_items = vec![updated.id];
                            let index = self.g.index();
                            let product = updated
                                .product_id
                                .as_deref()
                                .filter(|p| was.as_deref() != Some(*p))
                                .and_then(|p| index.by_id(p))
                                .map(|p| index.shown(p));
                            actions.push(Action::Updated {
                                list: l.name.clone(),
                                item: updated.name,
                                quantity: updated.quantity.to_string(),
                                product,
                            });
                        }
                        latest = Some(after);
                    }
                    current = Some(l.id);
                }
                Intent::Undo => {
                    latest = None;
                    let entry = session.lock().unwrap_or_else(|e| e.into_inner()).undo.pop();
                    let Some(steps) = entry else {
                        messages.push("There is nothing to undo.".into());
                        continue;
                    };
                    match lists.undo(steps.clone(), current).await {
                        Ok(now_current) => {
                            current = now_current;
                            actions.push(Action::Undone);
                        }
                        // The entry can never apply: it goes, and the next
                        // undo takes back the request before it.
                        Err(e) if undo_cannot_apply(&e) => {
                            messages.push(match &e {
                                Error::NotFound { .. } => {
                                    "I can't undo that: a list it changed is gone.".to_string()
                                }
                                Error::Forbidden(_) => {
                                    "I can't undo that: you may no longer change that list."
                                        .to_string()
                                }
                                other => format!("I can't undo that: {other}."),
                            });
                        }
                        // Nothing was written (one transaction): it can be
                        // asked again.
                        Err(e) => {
                            session
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push_undo(steps);
                            return Err(e);
                        }
                    }
                }
                Intent::Deals if cmd.items.is_empty() => {
                    // About the list: the deals that matter to this user.
                    let l = match self.target_list(cmd, list, current).await {
                        Ok(l) => Some(l),
                        Err(Error::NotFound { .. }) => None,
                        Err(e) => return Err(e),
                    };
                    let mut found = match &l {
                        Some(l) => {
                            current = Some(l.id);
                            self.g.deals_for(self.user).on_list(Some(&l.name)).await?
                        }
                        None => Vec::new(),
                    };
                    if found.is_empty() {
                        found = self.g.deals_for(self.user).on_sale(5).await?;
                        messages.push(if found.is_empty() {
                            "Nothing is on a deal right now.".to_string()
                        } else {
                            "Nothing on your list is on a deal; on sale now:".to_string()
                        });
                    }
                    found.truncate(8);
                    for d in &found {
                        messages.push(deal_line(d));
                    }
                    suggestions.extend(found.into_iter().map(suggestion_of));
                }
                Intent::Deals | Intent::Compare => {
                    let targets = match self.products_asked(cmd, list, current).await? {
                        (targets, Some(id)) => {
                            current = Some(id);
                            targets
                        }
                        (targets, None) => targets,
                    };
                    if targets.is_empty() {
                        messages.push(if cmd.items.is_empty() {
                            "Your list has no priced items to look at yet.".to_string()
                        } else {
                            "I don't know those products well enough to compare prices.".to_string()
                        });
                        continue;
                    }
                    let found = if cmd.intent == Intent::Compare {
                        self.cheaper_options(&targets)?
                    } else {
                        self.g
                            .deals_for(self.user)
                            .on_products(&targets)
                            .await?
                            .into_iter()
                            .map(suggestion_of)
                            .collect()
                    };
                    if found.is_empty() {
                        let names: Vec<&str> = targets.iter().map(|(n, _)| n.as_str()).collect();
                        messages.push(if cmd.intent == Intent::Compare {
                            format!("{} already cost the least per unit.", names.join(", "))
                        } else {
                            format!("No deals on {} right now.", names.join(", "))
                        });
                    }
                    for s in &found {
                        messages.push(format!("{}: {} at ${}.{:02} ({}).", s.item, s.product_name,
                            s.price_cents / 100, s.price_cents % 100, s.reason));
                    }
                    suggestions.extend(found);
                }
            }
        }
        let saved = {
            let mut s = session.lock().unwrap_or_else(|e| e.into_inner());
            let undone = actions.iter().any(|a| matches!(a, Action::Undone));
            let changes_kept = s.last_list != current || s.last_items != last_items;
            s.last_list = current;
            s.last_items = last_items;
            let changed = actions
                .iter()
                .any(|a| !matches!(a, Action::NotOnList { .. } | Action::Undone));
            let undo = undo.steps();
            let pushed = changed && !undo.is_empty();
            if pushed {
                s.push_undo(undo);
            }
            // An entry taken (undone, or dropped as one that cannot apply)
            // or pushed changes the undo log.
            pushed || undone || changes_kept || undo_at_start != s.undo.len()
        };
        if saved {
            self.g
                .session_changed(self.user, session_name, Arc::clone(&session));
        }
        if actions.iter().any(|a| matches!(a, Action::Checked { .. })) {
            self.g.picks_changed(self.user);
        } else {
            let added: Vec<&str> = added_products.iter().map(String::as_str).collect();
            self.g.picks_added(self.user, &added);
        }
        let index = self.g.index();
        let list = match (current, latest) {
            (Some(id), Some(l)) if l.id == id => Some(reply_list(lists.price(l)?, &index)),
            (Some(id), _) => match lists.priced(id).await {
                Ok(p) => Some(reply_list(p, &index)),
                Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
            (None, _) => None,
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
                "{} has {} item{}, total ${}.{:02}",
                l.name,
                l.items.len(),
                if l.items.len() == 1 { "" } else { "s" },
                l.total_cents / 100,
                l.total_cents % 100
            ));
            // Lines left out of the total: said, as the list view does.
            if l.unpriced > 0 {
                message.push_str(&format!(" ({} without a price)", l.unpriced));
            }
            message.push('.');
        }
        Ok(AgentReply {
            commands,
            actions,
            suggestions,
            list,
            message,
            confidence: understanding.confidence,
            understood_by,
            elapsed_us: started.elapsed().as_micros() as u64,
            plan: None,
            forgotten: Vec::new(),
        })
    }

    /// The (item name, product id) pairs a deals or compare question is about: the
    /// items named, else the unchecked linked lines of the list (whose id is
    /// returned too).
    async fn products_asked(
        &self,
        cmd: &ResolvedCommand,
        list: Option<&str>,
        current: Option<ListId>,
    ) -> Result<(Vec<(String, String)>, Option<ListId>)> {
        if !cmd.items.is_empty() {
            let named = cmd
                .items
                .iter()
                .filter_map(|r| {
                    r.product_id
                        .clone()
                        .or_else(|| r.alternatives.first().map(|a| a.0.clone()))
                        .map(|p| (r.item.name.clone(), p))
                })
                .collect();
            return Ok((named, None));
        }
        match self.target_list(cmd, list, current).await {
            Ok(l) => Ok((
                l.items
                    .iter()
                    .filter(|i| !i.checked)
                    .filter_map(|i| i.product_id.clone().map(|p| (i.name.clone(), p)))
                    .collect(),
                Some(l.id),
            )),
            Err(Error::NotFound { .. }) => Ok((Vec::new(), None)),
            Err(e) => Err(e),
        }
    }

    /// The cheapest-per-unit option of the same kind for each product.
    fn cheaper_options(&self, targets: &[(String, String)]) -> Result<Vec<Suggestion>> {
        let mut out = Vec::new();
        for (name, pid) in targets {
            let base = self.g.catalog().get(pid)?;
            if let Some(c) = self.g.catalog().cheaper_than(pid, 1)?.into_iter().next() {
                out.push(Suggestion {
                    item: name.clone(),
                    product_id: c.product.id.clone(),
                    product_name: c.product.display_name(),
                    price_cents: c.product.price.cents,
                    reason: format!(
                        "{}% less per unit than {}",
                        c.saving_percent,
                        base.display_name()
                    ),
                });
            }
        }
        Ok(out)
    }

    /// This user's session of that name: in memory, else as saved, else new. A
    /// saved state this version cannot read starts a fresh session.
    async fn session(&self, name: &str) -> Result<Arc<Mutex<Session>>> {
        let key = (self.user, name.to_string());
        if let Some(s) = self.g.sessions().get(&key) {
            return Ok(s);
        }
        if let Some(unsaved) = self.g.unsaved_session(self.user, name) {
            return Ok(self.g.sessions().get_with(key, || unsaved));
        }
        let saved = self
            .g
            .store()
            .load_session(self.user, name.to_string())
            .await?
            .and_then(|(state, undo)| session_from_store(&state, undo));
        // Saved whole by an older version: written again, its undo apart.
        let rewrite = saved.as_ref().is_some_and(|s| s.unsaved_from.is_some());
        let session = self
            .g
            .sessions()
            .get_with(key, || Arc::new(Mutex::new(saved.unwrap_or_default())));
        if rewrite {
            self.g
                .session_changed(self.user, name.to_string(), Arc::clone(&session));
        }
        Ok(session)
    }

    /// Answer "what am I forgetting?" with what this user usually buys, is due
    /// and is not on the list.
    async fn forgotten(&self, list: Option<&str>, started: Instant) -> Result<AgentReply> {
        let due = self.g.habits_for(self.user).forgotten(list).await?;
        let message = if due.is_empty() {
            "Nothing you usually buy is due that isn't on your list.".to_string()
        } else {
            let mut m = String::from("You might be forgetting: ");
            let parts: Vec<String> = due
                .iter()
                .take(5)
                .map(|u| format!("{} ({})", u.item, u.message))
                .collect();
            m.push_str(&parts.join("; "));
            m.push_str(". Say \"add ...\" to put them on the list.");
            m
        };
        Ok(AgentReply {
            forgotten: due,
            ..AgentReply::answer(message, started)
        })
    }

    /// Answer "cheapest way to buy this list" and its kin with the optimised plan.
    async fn plan(
        &self,
        ask: crate::nlp::PlanAsk,
        list: Option<&str>,
        started: Instant,
    ) -> Result<AgentReply> {
        let opts = crate::deals::OptimizeOptions {
            list: list.map(str::to_string),
            max_stores: u32::try_from(ask.stores.len()).unwrap_or(2).max(2),
            stores: (!ask.stores.is_empty()).then_some(ask.stores),
            budget_cents: ask.budget_cents,
            ..Default::default()
        };
        let money = |c: i64| crate::Money::usd(c).to_string();
        let (message, plan) = match self.g.deals_for(self.user).optimize(&opts).await {
            Ok(p) if p.lines.is_empty() => (
                format!("Your {} list has nothing left to buy.", p.list),
                Some(p),
            ),
            Ok(p) if p.stores.is_empty() => (
                format!(
                    "None of those stores sells what is on your {} list.",
                    p.list
                ),
                Some(p),
            ),
            Ok(p) => {
                let mut m = format!(
                    "Cheapest: {} at {}",
                    money(p.total_cents),
                    p.stores.join(" and ")
                );
                if p.savings_cents > 0 && p.naive_unavailable.is_empty() {
                    m.push_str(&format!(
                        " (you save {} on {})",
                        money(p.savings_cents),
                        money(p.naive_total_cents)
                    ));
                }
                m.push('.');
                if p.stores.len() > 1 {
                    for s in &p.stores {
                        let items: Vec<&str> = p
                            .lines
                            .iter()
                            .filter(|l| l.store.as_deref() == Some(s.as_str()))
                            .map(|l| l.item.as_str())
                            .collect();
                        m.push_str(&format!(" At {s}: {}.", items.join(", ")));
                    }
                }
                let swaps: Vec<String> = p
                    .lines
                    .iter()
                    .filter(|l| l.substituted)
                    .filter_map(|l| {
                        l.product_name
                            .as_ref()
                            .map(|n| format!("{} as {n}", l.item))
                    })
                    .collect();
                if !swaps.is_empty() {
                    m.push_str(&format!(" Swaps: {}.", swaps.join("; ")));
                }
                if let Some(b) = &p.budget {
                    m.push_str(&match (b.fits, b.widened) {
                        (true, false) => format!(" That fits your {} budget.", money(b.budget_cents)),
                        (true, true) => format!(
                            " With those swaps it fits your {} budget.",
                            money(b.budget_cents)
                        ),
                        (false, widened) => format!(
                            " I can't get it under {}{}: the cheapest is {} over. Remove something?",
                            money(b.budget_cents),
                            if widened { ", even with cheaper swaps" } else { "" },
                            money(b.over_cents)
                        ),
                    });
                }
                if !p.unavailable.is_empty() {
                    m.push_str(&format!(" Not sold there: {}.", p.unavailable.join(", ")));
                }
                (m, Some(p))
            }
            Err(Error::InvalidInput(m)) => (format!("I can't plan that: {m}."), None),
            Err(Error::NotFound { .. }) => ("You have no list to plan yet.".to_string(), None),
            Err(e) => return Err(e),
        };
        Ok(AgentReply {
            plan,
            ..AgentReply::answer(message, started)
        })
    }

    pub(crate) async fn resolve(&self, commands: &[Command]) -> Result<Vec<ResolvedCommand>> {
        let mut out = Vec::with_capacity(commands.len());
        let index = self.g.index();
        for c in commands {
            let mut items = Vec::with_capacity(c.items.len());
            for item in &c.items {
                // "the ingredients for tacos": what the catalog has for the
                // dish, offered, never linked (no recipe says which).
                if let Some(dish) = item.dish() {
                    let hits = self.g.catalog().search_shared(dish, 3).await?;
                    items.push(ResolvedItem {
                        item: item.clone(),
                        product_id: None,
                        product_name: None,
                        alternatives: hits
                            .iter()
                            .map(|h| (h.product.id.clone(), index.shown(&h.product)))
                            .collect(),
                    });
                    continue;
                }
                let query = if item.modifiers.is_empty() {
                    item.name.clone()
                } else {
                    format!("{} {}", item.modifiers.join(" "), item.name)
                };
                let hits = self.g.catalog().search_shared(&query, 3).await?;
                let confident = hits.first().is_some_and(|h| h.score >= LINK_SCORE);
                // The product this user usually takes for these words, if any.
                let preferred = match hits.first() {
                    Some(top) if !top.product.kind.is_empty() => {
                        let words: Vec<String> = query
                            .to_lowercase()
                            .split_whitespace()
                            .filter(|w| w.len() > 1)
                            .map(str::to_string)
                            .collect();
                        self.g
                            .habits_for(self.user)
                            .preferred(&top.product.kind, &words)
                            .await?
                            .and_then(|id| index.by_id(&id))
                    }
                    _ => None,
                };
                let chosen = match preferred {
                    Some(p) => Some((p.id.clone(), index.shown(p))),
                    None => hits
                        .first()
                        .filter(|_| confident)
                        .map(|h| (h.product.id.clone(), index.shown(&h.product))),
                };
                items.push(ResolvedItem {
                    item: item.clone(),
                    alternatives: hits
                        .iter()
                        .filter(|h| chosen.as_ref().is_none_or(|(id, _)| *id != h.product.id))
                        .map(|h| (h.product.id.clone(), index.shown(&h.product)))
                        .collect(),
                    product_id: chosen.as_ref().map(|(id, _)| id.clone()),
                    product_name: chosen.map(|(_, name)| name),
                });
            }
            out.push(ResolvedCommand {
                intent: c.intent,
                list: c.list.clone(),
                from: c.from.clone(),
                items,
            });
        }
        Ok(out)
    }
}

/// The changes "remove the eggs", "I got the milk", "uncheck the milk",
/// "check off everything" or "clear checked items" make to `l`, and what to
/// report: the lines named (or, with no names, the session's last items;
/// for the last two, every line not yet / already checked off); a line named
/// twice is changed once; a name not on the list is reported.
fn plan_remove_or_check(
    l: &GroceryList,
    cmd: &ResolvedCommand,
    last_items: &[ItemId],
) -> (Vec<ListOp>, Vec<Action>) {
    // Uncheck looks among the lines checked off, the others among the rest.
    let checked = cmd.intent == Intent::Uncheck;
    let targets: Vec<Option<(ItemId, String)>> = match cmd.intent {
        Intent::CheckAll | Intent::ClearChecked => {
            let checked = cmd.intent == Intent::ClearChecked;
            l.items
                .iter()
                .filter(|i| i.checked == checked)
                .map(|i| Some((i.id, i.name.clone())))
                .collect()
        }
        _ if cmd.items.is_empty() => l
            .items
            .iter()
            .filter(|i| last_items.contains(&i.id) && i.checked == checked)
            .map(|i| Some((i.id, i.name.clone())))
            .collect(),
        _ => cmd
            .items
            .iter()
            .map(|want| line_named(l, want, checked))
            .collect(),
    };
    let mut ops: Vec<ListOp> = Vec::new();
    let mut actions = Vec::new();
    for (k, target) in targets.into_iter().enumerate() {
        match target {
            Some((id, _))
                if ops
                    .iter()
                    .any(|o| matches!(o, ListOp::Remove(x) | ListOp::Update(x, _) if *x == id)) => {
            }
            Some((id, line)) if matches!(cmd.intent, Intent::Remove | Intent::ClearChecked) => {
                // "remove 1 bag of chips" from 2 bags: 1 bag is left.
                let left = cmd
                    .items
                    .get(k)
                    .and_then(|w| {
                        Some(Quantity::new(
                            w.item.amount?,
                            w.item.unit.unwrap_or(Unit::Each),
                        ))
                    })
                    .zip(l.items.iter().find(|i| i.id == id))
                    .and_then(|(less, i)| i.quantity.checked_sub(&less).ok().flatten());
                match left {
                    Some(left) => {
                        ops.push(ListOp::Update(
                            id,
                            ItemPatch {
                                quantity: Some(left),
                                ..Default::default()
                            },
                        ));
                        actions.push(Action::Updated {
                            list: l.name.clone(),
                            item: line,
                            quantity: left.to_string(),
                            product: None,
                        });
                    }
                    None => {
                        ops.push(ListOp::Remove(id));
                        actions.push(Action::Removed {
                            list: l.name.clone(),
                            item: line,
                        });
                    }
                }
            }
            Some((id, line)) => {
                ops.push(ListOp::Update(
                    id,
                    ItemPatch {
                        checked: Some(!checked),
                        ..Default::default()
                    },
                ));
                let list = l.name.clone();
                actions.push(if checked {
                    Action::Unchecked { list, item: line }
                } else {
                    Action::Checked { list, item: line }
                });
            }
            // "uncheck the milk" with the milk not checked off: as asked already.
            None if checked
                && cmd
                    .items
                    .get(k)
                    .is_some_and(|w| line_named(l, w, false).is_some()) => {}
            None => actions.push(Action::NotOnList {
                list: l.name.clone(),
                item: cmd
                    .items
                    .get(k)
                    .map(|w| w.item.name.clone())
                    .unwrap_or_default(),
            }),
        }
    }
    (ops, actions)
}

/// How to undo one request, gathered as it runs: its steps in order, each
/// changed list's [`UndoStep::Revert`] worked out after every change to it
/// from the list as it was before the request's first change.
#[derive(Default)]
struct UndoLog {
    steps: Vec<UndoStep>,
    /// The items of each list the request changes, before its first change.
    before: HashMap<ListId, Vec<ListItem>>,
}

impl UndoLog {
    fn push(&mut self, step: UndoStep) {
        self.steps.push(step);
    }

    /// `list` is about to change (only its first state counts; a list the
    /// request created is deleted on undo instead).
    fn before(&mut self, list: &GroceryList) {
        let created = self
            .steps
            .iter()
            .any(|s| matches!(s, UndoStep::DeleteList { list: id } if *id == list.id));
        if !created && !self.before.contains_key(&list.id) {
            self.before.insert(list.id, list.items.clone());
            self.steps.push(UndoStep::Revert {
                list: list.id,
                revert: Revert::default(),
            });
        }
    }

    /// `list` as a change left it.
    fn after(&mut self, list: &GroceryList) {
        let Some(before) = self.before.get(&list.id) else {
            return;
        };
        for step in &mut self.steps {
            if let UndoStep::Revert { list: id, revert } = step
                && *id == list.id
            {
                *revert = Revert::between(before, &list.items);
            }
        }
    }

    /// `list` was deleted (its [`UndoStep::Recreate`] just pushed): if the
    /// request changed it first, undo recreates it as it was before that,
    /// and has nothing else to do on it.
    fn deleted(&mut self, list: ListId) {
        let Some(before) = self.before.remove(&list) else {
            return;
        };
        if let Some(UndoStep::Recreate { items, .. }) = self.steps.last_mut() {
            *items = before;
        }
        self.steps
            .retain(|s| !matches!(s, UndoStep::Revert { list: id, .. } if *id == list));
    }

    /// The steps, without lists looked at but not changed.
    fn steps(mut self) -> Vec<UndoStep> {
        self.steps
            .retain(|s| !matches!(s, UndoStep::Revert { revert, .. } if revert.is_empty()));
        self.steps
    }
}

impl Agent<'_> {
    /// The list a command is about: the one it names, else the caller's, else the
    /// one this session last used, else the default list.
    async fn target_list(
        &self,
        cmd: &ResolvedCommand,
        list: Option<&str>,
        current: Option<ListId>,
    ) -> Result<GroceryList> {
        let lists = self.g.lists_for(self.user);
        match (cmd.list.as_deref().or(list), current) {
            (Some(name), _) => lists.find(name).await,
            (None, Some(id)) => match lists.get(id).await {
                Err(Error::NotFound { .. }) => lists.find(DEFAULT_LIST).await,
                other => other,
            },
            (None, None) => lists.find(DEFAULT_LIST).await,
        }
    }
}

const HELP: &str = "Tell me what you need, e.g. \"add 2 gallons of milk and a dozen eggs\", \
\"we're out of coffee\", \"remove the bread\", \"I got the milk\", \"what's on my costco list\".";

/// The first word of an item's name when it is a number the parser could not
/// take as the amount (`-3` arrives as `3`, `0`, `1/0`, `2.5.5`, `0.0000001`,
/// `10^12`, `1e308`): only digits and number punctuation, with a digit, or a
/// number in scientific notation. Names that merely start with a digit ("7up",
/// "2% milk", "2-liter soda") are not.
fn unreadable_amount(name: &str) -> Option<&str> {
    let word = name.split(' ').next()?;
    let digits = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
    let plain = word.chars().any(|c| c.is_ascii_digit())
        && word
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '/' | '^' | '-' | '+'));
    let scientific = word.split_once(['e', 'E']).is_some_and(|(m, e)| {
        digits(&m.replace('.', "")) && digits(e.trim_start_matches(['+', '-']))
    });
    (plain || scientific).then_some(word)
}

fn new_item(r: &ResolvedItem) -> Option<NewItem> {
    if r.item.dish().is_some() {
        return None;
    }
    let mut item = NewItem::new(&r.item.name);
    item.quantity = r.item.quantity();
    item.product_id = r.product_id.clone();
    Some(item)
}

/// The answer to "add the ingredients for DISH": nothing added, what the
/// catalog has for it (`found`: id, display name), and how to ask.
fn dish_answer(dish: &str, found: &[(String, String)]) -> String {
    // Display names hold commas ("Taco Shells, 12 ct"): semicolons between.
    let names: Vec<&str> = found.iter().map(|(_, name)| name.as_str()).collect();
    let found = match names.as_slice() {
        [] => String::new(),
        [one] => format!(" The catalog has {one}."),
        [rest @ .., last] => format!(" The catalog has {}; and {last}.", rest.join("; ")),
    };
    format!(
        "I don't know the recipe for {dish}, so I added nothing for it.{found} Say which items to add."
    )
}

/// The unchecked line an update with no item name ("make that 4 avocados")
/// names with its other words: the line of the product they resolved to, or
/// the line called just that. `None` when they name no line ("make it
/// organic", "make it oat milk" with only milk on the list): they are a
/// variant of the item just mentioned.
fn named_by_variant(list: &GroceryList, want: &ResolvedItem) -> Option<crate::lists::ItemId> {
    if want.item.modifiers.is_empty() {
        return None;
    }
    let key = name_key(&want.item.modifiers.join(" "));
    list.items
        .iter()
        .filter(|i| !i.checked)
        .find(|i| {
            (want.product_id.is_some() && i.product_id == want.product_id)
                || name_key(&i.name) == key
        })
        .map(|i| i.id)
}

/// The answer to "is milk on the costco list": whether `list` (called
/// `name`; `None` when there is no such list) has a line for `want`, and if
/// not, which of the user's other lists has one.
fn whether_listed(
    list: Option<&GroceryList>,
    name: &str,
    all: &[GroceryList],
    want: &ResolvedItem,
) -> String {
    let line = |l: &GroceryList| {
        line_named(l, want, false)
            .or_else(|| line_named(l, want, true))
            .and_then(|(id, _)| l.items.iter().find(|i| i.id == id).cloned())
    };
    if let Some(i) = list.and_then(line) {
        let bought = if i.checked { ", checked off" } else { "" };
        return format!("Yes, {name} has {} ({}{bought}).", i.name, i.quantity);
    }
    let asked = &want.item.name;
    let elsewhere: Vec<String> = all
        .iter()
        .filter(|l| list.is_none_or(|on| on.id != l.id))
        .filter_map(|l| line(l).map(|i| format!("{} has {} ({})", l.name, i.name, i.quantity)))
        .collect();
    if elsewhere.is_empty() {
        format!("No, {name} has no {asked}.")
    } else {
        format!("No, {name} has no {asked}; {}.", elsewhere.join(", "))
    }
}

/// The lines "move the bread and the eggs" names on `l` (checked off or not),
/// or with no names the session's last items; and the names not on it.
fn lines_to_move(
    l: &GroceryList,
    cmd: &ResolvedCommand,
    last_items: &[ItemId],
) -> (Vec<ListItem>, Vec<String>) {
    if cmd.items.is_empty() {
        let lines = l
            .items
            .iter()
            .filter(|i| last_items.contains(&i.id))
            .cloned()
            .collect();
        return (lines, Vec::new());
    }
    let mut lines: Vec<ListItem> = Vec::new();
    let mut missing = Vec::new();
    for want in &cmd.items {
        let found = line_named(l, want, false).or_else(|| line_named(l, want, true));
        match found.and_then(|(id, _)| l.items.iter().find(|i| i.id == id)) {
            Some(line) if !lines.iter().any(|m| m.id == line.id) => lines.push(line.clone()),
            Some(_) => {}
            None => missing.push(want.item.name.clone()),
        }
    }
    (lines, missing)
}

/// The unchecked line that matches what was asked for, by product or name.
fn find_line(list: &GroceryList, want: &ResolvedItem) -> Option<(crate::lists::ItemId, String)> {
    line_named(list, want, false)
}

/// The line, checked off or not as `checked` says, that matches what was
/// asked for, by product or name.
fn line_named(
    list: &GroceryList,
    want: &ResolvedItem,
    checked: bool,
) -> Option<(crate::lists::ItemId, String)> {
    list.items
        .iter()
        .filter(|i| i.checked == checked)
        .find(|i| {
            (want.product_id.is_some() && i.product_id == want.product_id)
                || same_thing(&i.name, &want.item.name)
        })
        .map(|i| (i.id, i.name.clone()))
}

fn reply_list(p: PricedList, index: &crate::catalog::index::CatalogIndex) -> ReplyList {
    ReplyList {
        name: p.name,
        items: p
            .lines
            .into_iter()
            .map(|l| ReplyLine {
                name: l.item.name,
                quantity: l.item.quantity.to_string(),
                product_id: l.item.product_id,
                product_name: l.product.map(|p| index.shown(&p)),
                packs: l.packs,
                line_total_cents: l.line_total.map(|m| m.cents),
                checked: l.item.checked,
            })
            .collect(),
        total_cents: p.total.cents,
        unpriced: p.unpriced,
    }
}

fn describe_actions(actions: &[Action]) -> String {
    let mut parts = Vec::new();
    for a in actions {
        parts.push(match a {
            Action::Added {
                item,
                quantity,
                added,
                ..
            } if added != quantity => format!("Added {item} ({added}; {quantity} in all)."),
            Action::Added { item, quantity, .. } => format!("Added {item} ({quantity})."),
            Action::Removed { item, .. } => format!("Removed {item}."),
            Action::Checked { item, .. } => format!("Checked off {item}."),
            Action::Unchecked { item, .. } => format!("Unchecked {item}: still to buy."),
            Action::Moved { item, from, to } => format!("Moved {item} from {from} to {to}."),
            Action::Renamed { from, to } => format!("Renamed {from} to {to}."),
            Action::Cleared { list, removed: 1 } => format!("Cleared {list} (1 item)."),
            Action::Cleared { list, removed } => format!("Cleared {list} ({removed} items)."),
            Action::CreatedList { list } => format!("Created the {list} list."),
            Action::DeletedList { list } => format!("Deleted the {list} list."),
            Action::NotOnList { item, list } => format!("{item} is not on {list}."),
            Action::Updated {
                item,
                quantity,
                product: Some(product),
                ..
            } => format!("Changed {item} to {product} ({quantity})."),
            Action::Updated { item, quantity, .. } => format!("Changed {item} to {quantity}."),
            Action::Undone => "Undid the last change.".to_string(),
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

/// One deal in a sentence: "milk: Acme Test Whole Milk, 0.5 gal at walmart,
/// $2.20 (2 for $3; $3.000/gal against $4.000/gal for ...)".
fn deal_line(d: &crate::deals::ProductDeal) -> String {
    let why = d.explanation();
    let whose = d
        .matched
        .note()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    let item = d
        .item
        .as_deref()
        .map(|i| format!("{i}: "))
        .unwrap_or_default();
    format!(
        "{item}{}{whose} at {}, ${}.{:02} ({why}).",
        d.product_name,
        d.store,
        d.deal.price_cents / 100,
        d.deal.price_cents % 100
    )
}

/// A deal as a suggestion in the reply.
fn suggestion_of(d: crate::deals::ProductDeal) -> Suggestion {
    let reason = format!("at {}: {}", d.store, d.explanation());
    Suggestion {
        item: d.item.unwrap_or_else(|| d.product_name.clone()),
        product_id: d.product_id,
        product_name: d.product_name,
        price_cents: d.deal.price_cents,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use crate::agent::Action;
    use crate::grocery::Grocery;

    use crate::grocery::temp_grocery as open;

    /// "Cheapest way", "split it between", "keep it under": the agent answers
    /// with the optimised plan over the stores' imported prices.
    #[tokio::test]
    async fn plans_the_shop_across_named_stores_and_a_budget() {
        let (g, _d) = open().await;
        let rows = [
            r#"{"id":"t-milk","name":"Test Whole Milk","brand":"Acme","department":"dairy-eggs","size":1,"unit":"gal","price_cents":400,"store":"walmart","offer":{"kind":"multi_buy","qty":2,"price_cents":600}}"#,
            r#"{"id":"t-milk","name":"Test Whole Milk","brand":"Acme","department":"dairy-eggs","size":1,"unit":"gal","price_cents":350,"store":"kroger"}"#,
            r#"{"id":"t-eggs","name":"Test Eggs","brand":"Acme","department":"dairy-eggs","size":12,"unit":"ct","price_cents":300,"store":"walmart"}"#,
            r#"{"id":"t-eggs","name":"Test Eggs","brand":"Acme","department":"dairy-eggs","size":12,"unit":"ct","price_cents":250,"store":"kroger","offer":{"kind":"bogo"}}"#,
        ];
        g.catalog()
            .import_bytes(
                rows.join("\n").into_bytes(),
                crate::catalog::ImportFormat::JsonLines,
            )
            .await
            .unwrap();
        g.agent()
            .handle("add 2 gal test whole milk and 2 dozen test eggs", None)
            .await
            .unwrap();
        let cases: &[(&str, i64, &[&str], &str)] = &[
            (
                "split it between walmart and kroger",
                850,
                &["kroger", "walmart"],
                "At kroger: test eggs",
            ),
            (
                "what's the cheapest way to buy this list?",
                850,
                &["kroger", "walmart"],
                "you save $1.00",
            ),
            (
                "keep it under $8",
                850,
                &["kroger", "walmart"],
                "can't get it under $8.00",
            ),
            (
                "keep it under $9",
                850,
                &["kroger", "walmart"],
                "fits your $9.00 budget",
            ),
        ];
        for (text, total, stores, says) in cases {
            let r = g.agent().handle(text, None).await.unwrap();
            let plan = r.plan.as_ref().unwrap_or_else(|| panic!("{text}: no plan"));
            assert_eq!(plan.total_cents, *total, "{text}");
            let mut got = plan.stores.clone();
            got.sort();
            assert_eq!(got, *stores, "{text}");
            assert!(r.message.contains(says), "{text}: {}", r.message);
            assert!(r.actions.is_empty(), "{text}: planning changes nothing");
        }
        let r = g
            .agent()
            .handle("split it between walmart and costco", None)
            .await
            .unwrap();
        assert!(r.plan.is_none());
        assert!(r.message.contains("costco"), "{}", r.message);
    }

    /// "milk" becomes the milk this user keeps adding; words that do not fit
    /// it ("2% milk") still get the best match.
    #[tokio::test]
    async fn learned_preferences_pick_the_users_own_product() {
        let (g, _d) = open().await;
        let a = g.agent();
        let first = a.handle("add milk", None).await.unwrap();
        let usual = first.commands[0].items[0].product_id.clone().unwrap();
        assert_ne!(
            usual, "kroger-whole-milk-1gal",
            "the test needs another default"
        );
        for text in [
            "add kroger whole milk",
            "remove the milk",
            "add kroger whole milk",
            "remove the milk",
        ] {
            a.handle(text, None).await.unwrap();
        }
        let r = a.handle("add milk", None).await.unwrap();
        assert_eq!(
            r.commands[0].items[0].product_id.as_deref(),
            Some("kroger-whole-milk-1gal"),
            "{:?}",
            r.commands
        );
        // Words their usual product lacks get another product, of their
        // brand and pack size: Kroger's gallon of 2%.
        let r = a.handle("add 2% milk", None).await.unwrap();
        assert_eq!(
            r.commands[0].items[0].product_id.as_deref(),
            Some("kroger-2-pct-reduced-fat-milk-1gal"),
            "{:?}",
            r.commands
        );
        // The remembered picks, counted in memory, are what the store counted.
        let counts = |picks: &[crate::store::Pick]| {
            let mut v: Vec<_> = picks
                .iter()
                .map(|p| (p.product_id.clone(), p.added, p.bought))
                .collect();
            v.sort();
            v
        };
        let remembered = g.picks(crate::lists::UserId::LOCAL).await.unwrap();
        let stored = g.store().picks(crate::lists::UserId::LOCAL).await.unwrap();
        assert_eq!(counts(&remembered), counts(&stored));
        assert!(
            counts(&stored)
                .iter()
                .any(|(id, added, _)| id == "kroger-whole-milk-1gal" && *added == 3)
        );
        // Another user's habits are their own.
        let bo = g.users().add("bo").await.unwrap();
        let r = g.agent_for(bo.id).handle("add milk", None).await.unwrap();
        assert_eq!(
            r.commands[0].items[0].product_id.as_deref(),
            Some(usual.as_str())
        );
    }

    /// "What am I forgetting?": due usuals that are not on the list.
    #[tokio::test]
    async fn what_am_i_forgetting_names_due_usuals_not_on_the_list() {
        let (g, _d) = open().await;
        let day = 86_400_000_i64;
        let now = crate::store::now_ms();
        g.store()
            .write(move |tx| {
                for (name, ago) in [("coffee", 21), ("coffee", 14), ("coffee", 7), ("eggs", 9), ("eggs", 2)] {
                    tx.execute(
                        "INSERT INTO purchases (user_id, name, amount, unit, at) VALUES (1, ?1, '1/1', 'ea', ?2)",
                        rusqlite::params![name, now - ago * day],
                    )?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let r = g
            .agent()
            .handle("what am I forgetting?", None)
            .await
            .unwrap();
        let names: Vec<&str> = r.forgotten.iter().map(|u| u.item.as_str()).collect();
        assert_eq!(names, ["coffee"], "{}", r.message);
        assert!(
            r.message
                .contains("every 7 days; the last time was 7 days ago"),
            "{}",
            r.message
        );
        g.agent().handle("add coffee", None).await.unwrap();
        let r = g
            .agent()
            .handle("did I forget anything", None)
            .await
            .unwrap();
        assert!(r.forgotten.is_empty(), "{}", r.message);
        // Checking off records a purchase for the one who checked.
        g.agent().handle("I got the coffee", None).await.unwrap();
        let usuals = g.habits().usuals().await.unwrap();
        let coffee = usuals.iter().find(|u| u.item == "coffee").unwrap();
        assert_eq!(
            (coffee.times_bought, coffee.days_since, coffee.due),
            (4, 0, false)
        );
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

    /// An add that merges into a line already there says what it added and
    /// what the line holds now; a first add says it once.
    #[tokio::test]
    async fn an_add_onto_a_line_says_what_it_added_and_the_total() {
        let (g, _d) = open().await;
        let a = g.agent();
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "add 2 gallons of milk",
                "2 gal",
                "2 gal",
                "Added milk (2 gal).",
            ),
            (
                "add 2 gallons of milk",
                "2 gal",
                "4 gal",
                "Added milk (2 gal; 4 gal in all).",
            ),
            ("add bananas", "1 ct", "1 ct", "Added bananas (1 ct)."),
            (
                "add bananas",
                "1 ct",
                "2 ct",
                "Added bananas (1 ct; 2 ct in all).",
            ),
        ];
        for (text, added, total, says) in cases {
            let r = a.handle(text, None).await.unwrap();
            match &r.actions[..] {
                [
                    Action::Added {
                        added: got_added,
                        quantity,
                        ..
                    },
                ] => {
                    assert_eq!(got_added, added, "{text}");
                    assert_eq!(quantity, total, "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
            assert!(r.message.starts_with(says), "{text}: {}", r.message);
        }
    }

    /// With lists kept in memory (as in the server), "remove the eggs" with
    /// no eggs on the list answers from the kept copy and sends nothing to the
    /// writer; with eggs there it writes once. Either way the answer is the
    /// one the writer would give.
    #[tokio::test]
    async fn removing_what_is_not_on_the_list_writes_nothing() {
        let (g, _d) = open().await;
        g.watch_changes();
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while !g.store().list_cache().serving() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("lists are kept in memory");
        let a = g.agent();
        a.handle("add milk", None).await.unwrap();
        let shown = a
            .handle("what's on my list", None)
            .await
            .unwrap()
            .list
            .unwrap();
        let writes = g.store().writes_sent();
        let r = a.handle("remove the eggs", None).await.unwrap();
        assert_eq!(
            g.store().writes_sent(),
            writes,
            "nothing sent to the writer"
        );
        assert!(
            matches!(&r.actions[..], [Action::NotOnList { item, list }] if item == "eggs" && list == "Shopping"),
            "{:?}",
            r.actions
        );
        assert!(
            r.message.contains("eggs is not on Shopping"),
            "{}",
            r.message
        );
        let list = r.list.unwrap();
        assert_eq!(list.items.len(), 1);
        assert_eq!(list.total_cents, shown.total_cents);
        let version = g.lists().find("Shopping").await.unwrap().version;

        a.handle("add a dozen eggs", None).await.unwrap();
        let writes = g.store().writes_sent();
        let r = a.handle("remove the eggs", None).await.unwrap();
        assert_eq!(g.store().writes_sent(), writes + 1, "the remove is written");
        assert!(
            matches!(&r.actions[..], [Action::Removed { item, .. }] if item == "eggs"),
            "{:?}",
            r.actions
        );
        assert_eq!(r.list.unwrap().items.len(), 1);
        let after = g.lists().find("Shopping").await.unwrap();
        assert_eq!(after.version, version + 2, "the add and the remove");
        assert_eq!(after.items.len(), 1);
    }

    /// Checking off, unchecking, checking off everything and clearing what is
    /// checked off, in one conversation: each step's lines (name, checked)
    /// and message. "Clear checked items" once cleared the whole list.
    #[tokio::test]
    async fn checked_items_are_checked_unchecked_and_cleared() {
        #[allow(clippy::type_complexity)]
        let steps: &[(&str, &[(&str, bool)], &str)] = &[
            (
                "add milk, eggs and bread",
                &[("milk", false), ("eggs", false), ("bread", false)],
                "Added milk",
            ),
            (
                "check off the milk",
                &[("milk", true), ("eggs", false), ("bread", false)],
                "Checked off milk.",
            ),
            (
                "clear checked items",
                &[("eggs", false), ("bread", false)],
                "Removed milk.",
            ),
            (
                "remove the checked items",
                &[("eggs", false), ("bread", false)],
                "Nothing on Shopping is checked off.",
            ),
            (
                "check off everything",
                &[("eggs", true), ("bread", true)],
                "Checked off eggs. Checked off bread.",
            ),
            (
                "check off everything",
                &[("eggs", true), ("bread", true)],
                "Nothing on Shopping is left to check off.",
            ),
            (
                "uncheck the eggs",
                &[("eggs", false), ("bread", true)],
                "Unchecked eggs",
            ),
            (
                "uncheck the eggs",
                &[("eggs", false), ("bread", true)],
                "Shopping has 2 items",
            ),
            (
                "uncheck the cheese",
                &[("eggs", false), ("bread", true)],
                "cheese is not on Shopping.",
            ),
            ("undo", &[("eggs", true), ("bread", true)], "Undid"),
            ("clear the list", &[], "Cleared Shopping (2 items)."),
        ];
        let (g, _d) = open().await;
        let a = g.agent();
        for (text, lines, said) in steps {
            say(&a, text, said).await;
            let now: Vec<(String, bool)> = g
                .lists()
                .find("Shopping")
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|i| (i.name, i.checked))
                .collect();
            let want: Vec<(String, bool)> =
                lines.iter().map(|(n, c)| (n.to_string(), *c)).collect();
            assert_eq!(now, want, "{text}");
        }
    }

    /// Moving lines between lists: from the list that has them (or the one
    /// named), onto the one named, keeping quantity and product; undo puts
    /// them back. Each step: the lists' lines (name, quantity) afterwards.
    #[tokio::test]
    async fn items_move_between_lists_and_back() {
        #[allow(clippy::type_complexity)]
        let steps: &[(&str, &str, &[(&str, &[(&str, &str)])])] = &[
            (
                "add 2 loaves of bread, milk and eggs",
                "Added bread",
                &[(
                    "Shopping",
                    &[("bread", "2 loaf"), ("milk", "1 ct"), ("eggs", "1 ct")],
                )],
            ),
            (
                "move the bread to the costco list",
                "Moved bread from Shopping to costco.",
                &[
                    ("Shopping", &[("milk", "1 ct"), ("eggs", "1 ct")]),
                    ("costco", &[("bread", "2 loaf")]),
                ],
            ),
            (
                // Talking about costco now; the milk is still on Shopping.
                "move the milk to costco",
                "Moved milk from Shopping to costco.",
                &[
                    ("Shopping", &[("eggs", "1 ct")]),
                    ("costco", &[("bread", "2 loaf"), ("milk", "1 ct")]),
                ],
            ),
            (
                "put the bread on the party list instead",
                "Moved bread from costco to party.",
                &[
                    ("Shopping", &[("eggs", "1 ct")]),
                    ("costco", &[("milk", "1 ct")]),
                    ("party", &[("bread", "2 loaf")]),
                ],
            ),
            (
                "move the eggs from the party list to costco",
                "eggs is not on party.",
                &[
                    ("Shopping", &[("eggs", "1 ct")]),
                    ("costco", &[("milk", "1 ct")]),
                    ("party", &[("bread", "2 loaf")]),
                ],
            ),
            (
                "undo",
                "Undid",
                &[
                    ("Shopping", &[("eggs", "1 ct")]),
                    ("costco", &[("bread", "2 loaf"), ("milk", "1 ct")]),
                ],
            ),
            (
                "move the bread to my shopping list",
                "Moved bread from costco to Shopping.",
                &[
                    ("Shopping", &[("eggs", "1 ct"), ("bread", "2 loaf")]),
                    ("costco", &[("milk", "1 ct")]),
                ],
            ),
        ];
        let (g, _d) = open().await;
        let a = g.agent();
        for (text, said, lists) in steps {
            say(&a, text, said).await;
            let now: Vec<(String, Vec<(String, String)>)> = g
                .lists()
                .all_with_items()
                .await
                .unwrap()
                .into_iter()
                .map(|l| {
                    let lines = l
                        .items
                        .iter()
                        .map(|i| (i.name.clone(), i.quantity.to_string()))
                        .collect();
                    (l.name, lines)
                })
                .collect();
            let want: Vec<(String, Vec<(String, String)>)> = lists
                .iter()
                .map(|(n, lines)| {
                    let lines = lines
                        .iter()
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .collect();
                    (n.to_string(), lines)
                })
                .collect();
            assert_eq!(now, want, "{text}");
        }
    }

    /// Lines with no price (no product; more packs than are priced) are not
    /// in the total, and the answer says how many there are still to buy.
    #[tokio::test]
    async fn the_answer_counts_the_lines_left_out_of_the_total() {
        let (g, _d) = open().await;
        let a = g.agent();
        // (what is said, lines without a price after it)
        let cases: &[(&str, usize)] = &[
            ("add milk", 0),
            ("add unicorn dust", 1),
            ("add 900000 eggs", 2),
            ("I got the unicorn dust", 1),
        ];
        for (text, unpriced) in cases {
            let r = a.handle_in("s", text, None).await.unwrap();
            let list = r.list.unwrap();
            let left_out = list
                .items
                .iter()
                .filter(|i| !i.checked && i.line_total_cents.is_none())
                .count();
            assert_eq!(left_out, *unpriced, "{text}");
            assert_eq!(list.unpriced, *unpriced as u64, "{text}");
            let total = format!(
                "total ${}.{:02}",
                list.total_cents / 100,
                list.total_cents % 100
            );
            let ends = match unpriced {
                0 => format!("{total}."),
                n => format!("{total} ({n} without a price)."),
            };
            assert!(r.message.ends_with(&ends), "{text}: {}", r.message);
        }
    }

    /// A line checked off moves checked, beside a line of the same thing still
    /// to buy on the other list, and undo puts it back checked.
    #[tokio::test]
    async fn a_checked_line_moves_checked_and_comes_back_checked() {
        let (g, _d) = open().await;
        let a = g.agent();
        say(&a, "add 2 gallons of milk and eggs", "Added milk").await;
        say(&a, "I got the milk", "Checked").await;
        say(&a, "add a gallon of milk to my costco list", "Added milk").await;
        say(
            &a,
            "move the milk from my shopping list to costco",
            "Moved milk",
        )
        .await;
        let lines = |name: &str| {
            let g = &g;
            let name = name.to_string();
            async move {
                let l = g.lists().find(&name).await.unwrap();
                g.lists()
                    .get(l.id)
                    .await
                    .unwrap()
                    .items
                    .into_iter()
                    .map(|i| (i.name, i.quantity.to_string(), i.checked))
                    .collect::<Vec<_>>()
            }
        };
        let row = |n: &str, q: &str, c: bool| (n.to_string(), q.to_string(), c);
        assert_eq!(
            lines("costco").await,
            [row("milk", "1 gal", false), row("milk", "2 gal", true)]
        );
        assert_eq!(lines("Shopping").await, [row("eggs", "1 ct", false)]);
        say(&a, "undo", "Undid").await;
        assert_eq!(lines("costco").await, [row("milk", "1 gal", false)]);
        assert_eq!(
            lines("Shopping").await,
            [row("milk", "2 gal", true), row("eggs", "1 ct", false)]
        );
    }

    /// "Do I have eggs on my list?" is answered yes or no, with where else
    /// the item is; and a check-off or remove naming no list finds the item
    /// on another list when the one talked about lacks it.
    #[tokio::test]
    async fn whether_an_item_is_listed_is_answered_and_found_elsewhere() {
        let steps: &[(&str, &str)] = &[
            ("do i have eggs on my list", "No, Shopping has no eggs."),
            ("add eggs and 2 gallons of milk", "Added eggs"),
            ("add cheddar to the costco list", "Added cheddar"),
            (
                "do i have eggs on my list",
                "Yes, Shopping has eggs (1 ct).",
            ),
            (
                "is milk on the costco list",
                "No, costco has no milk; Shopping has milk (2 gal).",
            ),
            // Talking about costco; the milk is on Shopping.
            ("got the milk", "Checked off milk."),
            (
                "is the milk on my list",
                "Yes, Shopping has milk (2 gal, checked off).",
            ),
            ("remove the cheddar", "Removed cheddar."),
            ("remove the pickles", "pickles is not on "),
        ];
        let (g, _d) = open().await;
        let a = g.agent();
        for (text, said) in steps {
            say(&a, text, said).await;
        }
        let shopping = g.lists().find("Shopping").await.unwrap();
        let milk = shopping.items.iter().find(|i| i.name == "milk").unwrap();
        assert!(milk.checked);
        assert!(g.lists().find("costco").await.unwrap().items.is_empty());
    }

    /// Naming the lists, renaming one (the one named, or the one talked
    /// about), a name taken, a list that is not there, and undo.
    #[tokio::test]
    async fn lists_are_named_and_renamed() {
        // (text, what the reply starts with, the lists' names afterwards)
        let steps: &[(&str, &str, &[&str])] = &[
            ("what lists do i have", "You have no lists yet.", &[]),
            ("add milk and eggs", "Added milk", &["Shopping"]),
            (
                "add rice to the costco list",
                "Added rice",
                &["Shopping", "costco"],
            ),
            (
                "what lists do i have",
                "You have 2 lists: Shopping (2 items), costco (1 item).",
                &["Shopping", "costco"],
            ),
            (
                "rename the shopping list to weekly",
                "Renamed Shopping to weekly.",
                &["weekly", "costco"],
            ),
            (
                "rename the list to costco",
                "You already have a list called costco.",
                &["weekly", "costco"],
            ),
            (
                "rename it to big shop",
                "Renamed weekly to big shop.",
                &["big shop", "costco"],
            ),
            (
                "rename the party list to bbq",
                "You have no list called party.",
                &["big shop", "costco"],
            ),
            ("undo", "Undid", &["weekly", "costco"]),
        ];
        let (g, _d) = open().await;
        let a = g.agent();
        for (text, said, names) in steps {
            say(&a, text, said).await;
            let now: Vec<String> = g
                .lists()
                .all()
                .await
                .unwrap()
                .into_iter()
                .map(|l| l.name)
                .collect();
            assert_eq!(now, *names, "{text}");
        }
    }

    /// "Remove everything except the milk and the bread" keeps those lines
    /// (checked off or not); "we need coffee, not eggs" adds the coffee and
    /// takes the eggs off.
    #[tokio::test]
    async fn a_clear_keeps_what_is_excepted_and_not_wanted_items_go() {
        let steps: &[(&str, &str, &[&str])] = &[
            (
                "add milk, eggs, bread and butter",
                "Added milk",
                &["milk", "eggs", "bread", "butter"],
            ),
            (
                "check off the bread",
                "Checked off bread.",
                &["milk", "eggs", "bread", "butter"],
            ),
            (
                "remove everything except the milk and the bread",
                "Cleared Shopping (2 items).",
                &["milk", "bread"],
            ),
            ("undo", "Undid", &["milk", "eggs", "bread", "butter"]),
            (
                "we need coffee, not eggs",
                "Added coffee (1 ct). Removed eggs.",
                &["milk", "bread", "butter", "coffee"],
            ),
            ("clear the list", "Cleared Shopping (4 items).", &[]),
        ];
        let (g, _d) = open().await;
        let a = g.agent();
        for (text, said, names) in steps {
            say(&a, text, said).await;
            let now: Vec<String> = g
                .lists()
                .find("Shopping")
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|i| i.name)
                .collect();
            assert_eq!(now, *names, "{text}");
        }
    }

    /// "Remove 1 bag of chips" from 2 bags leaves 1 bag; an amount as large
    /// as the line's, no amount, or one in another kind of unit removes the
    /// line. Undo puts back what was there.
    #[tokio::test]
    async fn removing_part_of_a_line_leaves_the_rest() {
        // (remove, the line it names, what is left: None when the line goes)
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("remove 1 bag of chips", "tortilla chips", Some("1 bag")),
            ("remove 2 apples", "apples", Some("3 ct")),
            (
                "take 2 quarts of milk off the list",
                "milk",
                Some("1.5 gal"),
            ),
            ("remove a dozen eggs", "eggs", None),
            ("remove 10 apples", "apples", None),
            ("remove the milk", "milk", None),
            ("remove 1 lb of milk", "milk", None),
        ];
        for (remove, line, left) in cases {
            let (g, _d) = open().await;
            let a = g.agent();
            a.handle_in(
                "s",
                "add 2 bags of tortilla chips, 5 apples, 2 gallons of milk and a dozen eggs",
                None,
            )
            .await
            .unwrap();
            let before = g.lists().find("Shopping").await.unwrap();
            let r = a.handle_in("s", remove, None).await.unwrap();
            let lines = r.list.unwrap().items;
            let now = lines.iter().find(|l| l.name == *line);
            assert_eq!(now.map(|l| l.quantity.as_str()), *left, "{remove}");
            assert_eq!(lines.len(), 4 - usize::from(left.is_none()), "{remove}");
            match left {
                Some(q) => assert!(
                    matches!(&r.actions[..], [Action::Updated { item, quantity, .. }] if item == line && quantity == q),
                    "{remove}: {:?}",
                    r.actions
                ),
                None => assert!(
                    matches!(&r.actions[..], [Action::Removed { item, .. }] if item == line),
                    "{remove}: {:?}",
                    r.actions
                ),
            }
            a.handle_in("s", "undo", None).await.unwrap();
            let back = g.lists().find("Shopping").await.unwrap();
            let quantities = |l: &crate::lists::GroceryList| {
                l.items
                    .iter()
                    .map(|i| (i.name.clone(), i.quantity.to_string()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(quantities(&back), quantities(&before), "{remove}: undo");
        }
    }

    /// "Make it 4 cans" when no line is in cans, and the last item is
    /// weighed: a question, and nothing changes.
    #[tokio::test]
    async fn an_amount_of_another_kind_asks_which_item() {
        let (g, _d) = open().await;
        let a = g.agent();
        say(
            &a,
            "add 2 gallons of milk and 2 lbs of ground beef",
            "Added milk",
        )
        .await;
        let before = g.lists().find("Shopping").await.unwrap();
        say(
            &a,
            "make it 4 cans",
            "ground beef is measured in lb, not can",
        )
        .await;
        let after = g.lists().find("Shopping").await.unwrap();
        assert_eq!(after.version, before.version);
        assert_eq!(after.items, before.items);
    }

    /// "Add the ingredients for tacos": the agent has no recipes, so it adds
    /// nothing for the dish (no line called "ingredients" linked to some
    /// product), says so, and names what the catalog has for it; the other
    /// items of the request are added.
    #[tokio::test]
    async fn a_dish_adds_nothing_for_it_and_offers_what_the_catalog_has() {
        let (g, _d) = open().await;
        let a = g.agent();
        let r = a
            .handle("add the ingredients for tacos", None)
            .await
            .unwrap();
        assert!(r.actions.is_empty(), "{:?}", r.actions);
        assert!(
            r.message
                .starts_with("I don't know the recipe for tacos, so I added nothing"),
            "{}",
            r.message
        );
        let offered = &r.commands[0].items[0];
        assert_eq!(offered.product_id, None);
        assert!(!offered.alternatives.is_empty());
        for (_, name) in &offered.alternatives {
            assert!(name.to_lowercase().contains("taco"), "{name}");
            assert!(r.message.contains(name.as_str()), "{}", r.message);
        }
        assert!(g.lists().all().await.unwrap().is_empty(), "no list made");

        let r = a
            .handle("add a dozen eggs and the stuff for pancakes", None)
            .await
            .unwrap();
        assert!(
            matches!(&r.actions[..], [Action::Added { item, .. }] if item == "eggs"),
            "{:?}",
            r.actions
        );
        assert!(r.message.contains("recipe for pancakes"), "{}", r.message);
        let names: Vec<String> = r.list.unwrap().items.into_iter().map(|l| l.name).collect();
        assert_eq!(names, ["eggs"]);
    }

    /// Say `text` in session "s" and check that the answer starts with `said`.
    async fn say(a: &crate::agent::Agent<'_>, text: &str, said: &str) {
        let r = a.handle_in("s", text, None).await.unwrap();
        assert!(r.message.starts_with(said), "{text}: {}", r.message);
    }

    /// "Make that …" after adding several things: the words after "that"
    /// either name a line (that line changes) or are a variant of the item
    /// just mentioned (its product changes).
    #[tokio::test]
    async fn make_that_changes_the_line_it_names_else_the_last_item() {
        // (what was added, the update, the line that changes: name, quantity,
        // words its product has; the line that must not change: name, quantity)
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, &str, (&str, &str, &str), (&str, &str))] = &[
            (
                "we need bananas, 3 avocados and a bag of spinach",
                "actually make that 4 avocados",
                ("avocados", "4 ct", "avocado"),
                ("spinach", "1 bag"),
            ),
            (
                "add 2 gallons of milk and a dozen eggs",
                "make that 2 dozen eggs",
                ("eggs", "2 dozen", "eggs"),
                ("milk", "2 gal"),
            ),
            (
                "add eggs and milk",
                "make it oat milk",
                ("milk", "1 ct", "oat"),
                ("eggs", "1 ct"),
            ),
            (
                // The beef (in lb) was last, but only the milk is in gallons.
                "add 2 gallons of milk and 2 lbs of ground beef",
                "make it 1 gallon",
                ("milk", "1 gal", "milk"),
                ("ground beef", "2 lb"),
            ),
            (
                "add milk and bananas",
                "make that 5",
                ("bananas", "5 ct", "banana"),
                ("milk", "1 ct"),
            ),
        ];
        for (added, update, (name, quantity, product), (other, other_quantity)) in cases {
            let (g, _d) = open().await;
            let a = g.agent();
            a.handle_in("s", added, None).await.unwrap();
            let r = a.handle_in("s", update, None).await.unwrap();
            assert!(
                matches!(&r.actions[..], [Action::Updated { item, .. }] if item == name),
                "{update}: {:?} {}",
                r.actions,
                r.message
            );
            let lines = r.list.unwrap().items;
            let line = |n: &str| lines.iter().find(|l| l.name == n).unwrap();
            assert_eq!(line(name).quantity, *quantity, "{update}");
            let shown = line(name).product_name.clone().unwrap_or_default();
            assert!(shown.to_lowercase().contains(product), "{update}: {shown}");
            // A new product is named in the answer; a new amount alone is not.
            let changed_product = update.contains("oat");
            assert!(
                matches!(&r.actions[..], [Action::Updated { product, .. }]
                    if product.as_deref() == changed_product.then_some(shown.as_str())),
                "{update}: {:?}",
                r.actions
            );
            assert_eq!(
                r.message.contains(&shown),
                changed_product,
                "{update}: {}",
                r.message
            );
            assert_eq!(line(other).quantity, *other_quantity, "{update}");
        }
    }

    /// A line named with a new amount ("make the eggs 6", with no "to"), an
    /// amount more or less ("increase the ground beef by a pound") or a
    /// factor ("double the ground beef") changes that line's quantity only: the last item mentioned keeps its
    /// product and quantity (before, the words were taken for a variant of
    /// it, and the milk became ground beef's "organic" neighbour).
    #[tokio::test]
    async fn a_named_line_takes_a_new_amount_or_an_amount_more_or_less() {
        // (what was added, the update, the line: name and quantity after;
        // None when nothing may change)
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, &str, Option<(&str, &str)>)] = &[
            (
                "add 2 lbs of ground beef and a gallon of milk",
                "increase the ground beef by 1 pound",
                Some(("ground beef", "3 lb")),
            ),
            (
                "add 12 eggs and a gallon of milk",
                "decrease the eggs by 2",
                Some(("eggs", "10 ct")),
            ),
            (
                "add eggs and a gallon of milk",
                "make the eggs 6",
                Some(("eggs", "6 ct")),
            ),
            (
                "add 2 lbs of ground beef and a gallon of milk",
                "change the ground beef 4 pounds",
                Some(("ground beef", "4 lb")),
            ),
            (
                "add 2 lbs of ground beef and a gallon of milk",
                "bump the ground beef up by 2 pounds",
                Some(("ground beef", "4 lb")),
            ),
            ("add eggs and a gallon of milk", "increase it by 2", None),
            (
                "add 2 lbs of ground beef and a gallon of milk",
                "double the ground beef",
                Some(("ground beef", "4 lb")),
            ),
            (
                "add 2 lbs of ground beef and a gallon of milk",
                "triple it",
                Some(("milk", "3 gal")),
            ),
            (
                "add 4 lbs of ground beef and a gallon of milk",
                "halve the ground beef",
                Some(("ground beef", "2 lb")),
            ),
            // A line in dozens, its count named: eggs, not dozens.
            (
                "add a dozen eggs and a gallon of milk",
                "make the eggs 6",
                Some(("eggs", "6 ct")),
            ),
            (
                "add a dozen eggs and a gallon of milk",
                "actually make that 4 eggs",
                Some(("eggs", "4 ct")),
            ),
        ];
        for (added, update, changed) in cases {
            let (g, _d) = open().await;
            let a = g.agent();
            let before = a.handle_in("s", added, None).await.unwrap().list.unwrap();
            let r = a.handle_in("s", update, None).await.unwrap();
            let after = r.list.clone().unwrap();
            assert_eq!(
                after.items.len(),
                before.items.len(),
                "{update}: no new line"
            );
            for (was, now) in before.items.iter().zip(&after.items) {
                assert_eq!(was.name, now.name, "{update}");
                assert_eq!(was.product_id, now.product_id, "{update}: {}", now.name);
                match changed {
                    Some((name, quantity)) if now.name == *name => {
                        assert_eq!(now.quantity, *quantity, "{update}");
                    }
                    _ => assert_eq!(was.quantity, now.quantity, "{update}: {}", now.name),
                }
            }
            if changed.is_none() {
                assert!(
                    r.message.starts_with("I'm not sure what to change"),
                    "{}",
                    r.message
                );
            }
        }
    }

    #[tokio::test]
    async fn context_update_and_undo_within_a_session() {
        let (g, _d) = open().await;
        let a = g.agent();
        a.handle_in("s1", "add milk", None).await.unwrap();
        let r = a.handle_in("s1", "make that 3", None).await.unwrap();
        assert_eq!(r.list.as_ref().unwrap().items[0].quantity, "3 ct");
        let r = a
            .handle_in("s1", "change the milk to 2 gallons", None)
            .await
            .unwrap();
        assert_eq!(r.list.as_ref().unwrap().items[0].quantity, "2 gal");
        let r = a.handle_in("s1", "make it organic", None).await.unwrap();
        let line = &r.list.as_ref().unwrap().items[0];
        assert!(
            line.product_name
                .as_deref()
                .unwrap()
                .to_lowercase()
                .contains("organic"),
            "{line:?}"
        );
        // Undo reverts the last request only.
        let r = a.handle_in("s1", "undo", None).await.unwrap();
        let line = &r.list.as_ref().unwrap().items[0];
        assert_eq!(line.quantity, "2 gal");
        assert!(
            !line
                .product_name
                .as_deref()
                .unwrap()
                .to_lowercase()
                .contains("organic")
        );
        a.handle_in("s1", "add eggs", None).await.unwrap();
        let r = a.handle_in("s1", "remove that", None).await.unwrap();
        let names: Vec<&str> = r
            .list
            .as_ref()
            .unwrap()
            .items
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(names, ["milk"]);
        // Another session has no "that" and its own undo history.
        let r = a.handle_in("s2", "remove that", None).await.unwrap();
        assert!(r.actions.is_empty());
        let r = a.handle_in("s2", "undo", None).await.unwrap();
        assert!(r.message.contains("nothing to undo"), "{}", r.message);
        // Undo of the list's creation deletes it again.
        a.handle_in("s3", "put chips on the party list", None)
            .await
            .unwrap();
        a.handle_in("s3", "undo", None).await.unwrap();
        assert!(g.lists().find("party").await.is_err());
    }

    #[tokio::test]
    async fn compare_finds_a_cheaper_option_and_deals_use_price_history() {
        let (g, _d) = open().await;
        let r = g
            .agent()
            .handle("is there a cheaper milk", None)
            .await
            .unwrap();
        let s = r.suggestions.first().expect("a cheaper milk");
        let asked = g
            .catalog()
            .get(r.commands[0].items[0].product_id.as_ref().unwrap())
            .unwrap();
        let offered = g.catalog().get(&s.product_id).unwrap();
        assert_eq!(offered.kind, asked.kind);
        // Cheaper per unit: price / size, compared exactly.
        assert!(
            i128::from(offered.price.cents)
                * asked.size.in_base().numer()
                * offered.size.in_base().denom()
                < i128::from(asked.price.cents)
                    * offered.size.in_base().numer()
                    * asked.size.in_base().denom()
        );
        assert!(r.actions.is_empty(), "comparing changes nothing");

        // No history: no deal, said plainly, unless the demo store has an
        // offer on it this week (the demo market's offers come and go by date).
        let r = g.agent().handle("any deals on coffee", None).await.unwrap();
        let coffee = r.commands[0].items[0].product_id.clone().unwrap();
        let today = jiff::Timestamp::now().as_second().div_euclid(86_400);
        let offered = !crate::pricing::source::DemoMarket::default()
            .quote_on(&g.catalog().get(&coffee).unwrap(), today)
            .offers
            .is_empty();
        if offered {
            assert_eq!(r.suggestions.len(), 1, "{}", r.message);
        } else {
            assert!(r.suggestions.is_empty());
            assert!(r.message.contains("No deals"), "{}", r.message);
        }
        // A price 15% under its usual one is a deal.
        let day = |d: i64| {
            Some(
                jiff::Timestamp::now()
                    .checked_sub(jiff::SignedDuration::from_hours(24 * d))
                    .unwrap(),
            )
        };
        let p = g.prices();
        p.record(&coffee, "demo", crate::Money::usd(1000), day(20))
            .await
            .unwrap();
        p.record(&coffee, "demo", crate::Money::usd(990), day(10))
            .await
            .unwrap();
        p.record(&coffee, "demo", crate::Money::usd(1000), day(5))
            .await
            .unwrap();
        p.record(&coffee, "demo", crate::Money::usd(850), day(0))
            .await
            .unwrap();
        let r = g.agent().handle("any deals on coffee", None).await.unwrap();
        assert_eq!(r.suggestions.len(), 1, "{}", r.message);
        assert_eq!(r.suggestions[0].price_cents, 850);
        assert!(
            r.suggestions[0].reason.contains("$10.00"),
            "{:?}",
            r.suggestions[0]
        );
        // "what's on sale" looks at the list's lines.
        g.agent()
            .handle("add coffee and bread", None)
            .await
            .unwrap();
        let r = g.agent().handle("what's on sale", None).await.unwrap();
        assert!(
            r.suggestions
                .iter()
                .any(|s| s.product_id == coffee && s.price_cents == 850 && s.item == "coffee"),
            "{}",
            r.message
        );
        // A new list needs a name.
        let r = g.agent().handle("make a new list", None).await.unwrap();
        assert!(
            r.actions.is_empty() && r.message.contains("called"),
            "{}",
            r.message
        );
    }

    #[tokio::test]
    async fn a_session_continues_in_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::Config::default();
        config.store.path = Some(dir.path().join("g.db"));
        {
            let g = Grocery::open(config.clone()).await.unwrap();
            g.agent()
                .handle_in("kitchen", "add milk", None)
                .await
                .unwrap();
            g.agent()
                .handle_in("kitchen", "add eggs", None)
                .await
                .unwrap();
            assert_eq!(g.flush_sessions().await.unwrap(), 1);
        }
        // A new handle on the same file, as the next `grocery ask --session` run.
        let g = Grocery::open(config.clone()).await.unwrap();
        let r = g
            .agent()
            .handle_in("kitchen", "make that 18", None)
            .await
            .unwrap();
        let eggs = r
            .list
            .as_ref()
            .unwrap()
            .items
            .iter()
            .find(|i| i.name == "eggs")
            .cloned();
        assert_eq!(eggs.unwrap().quantity, "18 ct");
        let r = g.agent().handle_in("kitchen", "undo", None).await.unwrap();
        assert_eq!(r.actions, [super::Action::Undone]);
        g.flush_sessions().await.unwrap();
        let g = Grocery::open(config).await.unwrap();
        let r = g.agent().handle_in("kitchen", "undo", None).await.unwrap();
        let names: Vec<String> = r.list.unwrap().items.into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["milk"], "the second undo reverts adding the eggs");
        // Another session name starts empty.
        let r = g.agent().handle_in("garage", "undo", None).await.unwrap();
        assert!(r.actions.is_empty());
    }

    /// The items of `list` in `g`'s default list, by name.
    async fn default_list(g: &Grocery) -> Vec<String> {
        match g.lists().find("Shopping").await {
            Ok(l) => l.items.into_iter().map(|i| i.name).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// A configuration with its database in a new directory (kept while
    /// the directory lives).
    fn on_disk() -> (tempfile::TempDir, std::path::PathBuf, crate::Config) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let mut config = crate::Config::default();
        config.store.path = Some(path.clone());
        (dir, path, config)
    }

    /// (state length, undo rows) of a saved session.
    fn saved(path: &std::path::Path, name: &str) -> (usize, Vec<i64>) {
        let c = rusqlite::Connection::open(path).unwrap();
        let state: String = c
            .query_row(
                "SELECT state FROM agent_sessions WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap();
        let mut st = c
            .prepare("SELECT seq FROM agent_undo WHERE name = ?1 ORDER BY seq")
            .unwrap();
        let seqs = st
            .query_map([name], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<Vec<i64>>>()
            .unwrap();
        (state.len(), seqs)
    }

    #[tokio::test]
    async fn a_session_saves_each_request_once_and_undoes_after_a_restart() {
        let (_dir, path, config) = on_disk();
        let words: Vec<String> = (0..25).map(|i| format!("item{i}")).collect();
        {
            let g = Grocery::open(config.clone()).await.unwrap();
            for w in &words {
                g.agent()
                    .handle_in("k", &format!("add {w}"), None)
                    .await
                    .unwrap();
                g.flush_sessions().await.unwrap();
            }
            // The state row stays small however long the history; the last
            // UNDO_DEPTH requests are rows of their own.
            let (state_len, seqs) = saved(&path, "k");
            assert!(state_len < 200, "state is {state_len} bytes");
            assert_eq!(seqs, (5..25).collect::<Vec<i64>>());
            // Two undos, saved: the entries undone go.
            g.agent().handle_in("k", "undo", None).await.unwrap();
            g.agent().handle_in("k", "undo", None).await.unwrap();
            g.flush_sessions().await.unwrap();
            assert_eq!(saved(&path, "k").1, (5..23).collect::<Vec<i64>>());
            // A new request takes the number of the last undone.
            g.agent().handle_in("k", "add tea", None).await.unwrap();
            g.flush_sessions().await.unwrap();
            assert_eq!(saved(&path, "k").1, (5..24).collect::<Vec<i64>>());
        }
        // Another process goes on: undo tea, then item22 (item24 and item23
        // were undone already).
        let g = Grocery::open(config.clone()).await.unwrap();
        let before = default_list(&g).await;
        assert_eq!(before.last().map(String::as_str), Some("tea"));
        g.agent().handle_in("k", "undo", None).await.unwrap();
        g.agent().handle_in("k", "undo", None).await.unwrap();
        assert_eq!(default_list(&g).await, words[..22].to_vec());
        // Undo as deep as was kept (the adds of item5 to item21), no deeper.
        for _ in 0..17 {
            let r = g.agent().handle_in("k", "undo", None).await.unwrap();
            assert_eq!(r.actions, [super::Action::Undone]);
        }
        let r = g.agent().handle_in("k", "undo", None).await.unwrap();
        assert!(r.actions.is_empty(), "nothing left to undo: {}", r.message);
        assert_eq!(default_list(&g).await, words[..5].to_vec());
    }

    /// Undo takes back the caller's own line changes only: a line another
    /// user changed or added since stays as they left it, a removed line
    /// comes back in its place with its id, and the saved entry is the size
    /// of the change, not of the list.
    #[tokio::test]
    async fn undo_on_a_shared_list_takes_back_only_the_callers_lines() {
        use crate::lists::{ItemPatch, NewItem, Role};
        let (_dir, path, config) = on_disk();
        let g = Grocery::open(config).await.unwrap();
        let ann = g.users().add("ann").await.unwrap().id;
        let bob = g.users().add("bob").await.unwrap().id;
        let agent = g.agent_for(ann);
        agent
            .handle_in("k", "add milk and flour", None)
            .await
            .unwrap();
        let list = g.lists_for(ann).find("Shopping").await.unwrap();
        g.lists_for(ann)
            .share(list.id, bob, Role::Editor)
            .await
            .unwrap();
        // A long list: a whole copy of it would be many kilobytes.
        let bulk: Vec<NewItem> = (0..80)
            .map(|i| NewItem::new(format!("thing {i}")).note("a note long enough to weigh"))
            .collect();
        g.lists_for(bob).add_items(list.id, bulk).await.unwrap();

        // Ann adds eggs and more milk (merged into the milk line).
        agent
            .handle_in("k", "add eggs and 2 milk", None)
            .await
            .unwrap();
        let names = |l: &crate::lists::GroceryList| -> Vec<(String, String, bool)> {
            l.items
                .iter()
                .map(|i| (i.name.clone(), i.quantity.to_string(), i.checked))
                .collect()
        };
        let before_bob = g.lists_for(ann).get(list.id).await.unwrap();
        let milk = before_bob
            .items
            .iter()
            .find(|i| i.name == "milk")
            .unwrap()
            .clone();
        assert_eq!(milk.quantity.to_string(), "3 ct");
        // Bob then checks the flour and adds bread.
        let flour = before_bob
            .items
            .iter()
            .find(|i| i.name == "flour")
            .unwrap()
            .id;
        g.lists_for(bob)
            .update_item(
                list.id,
                flour,
                ItemPatch {
                    checked: Some(true),
                    ..ItemPatch::default()
                },
            )
            .await
            .unwrap();
        g.lists_for(bob)
            .add_item(list.id, NewItem::new("bread"))
            .await
            .unwrap();
        g.flush_sessions().await.unwrap();
        let entry: String = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row(
                "SELECT steps FROM agent_undo WHERE name = 'k' ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();

        // Undo: eggs go, milk is back to 1, Bob's flour check and bread stay.
        let r = agent.handle_in("k", "undo", None).await.unwrap();
        assert_eq!(r.actions, [super::Action::Undone]);
        let now = g.lists_for(ann).get(list.id).await.unwrap();
        let mut expected = names(&before_bob);
        expected.retain(|(n, _, _)| n != "eggs");
        for (n, q, c) in &mut expected {
            match n.as_str() {
                "milk" => *q = "1 ct".into(),
                "flour" => *c = true,
                _ => {}
            }
        }
        expected.push(("bread".into(), "1 ct".into(), false));
        assert_eq!(names(&now), expected);
        // What was saved to undo it was the change, not the 83-line list.
        assert!(
            entry.len() < 1_000,
            "{} bytes: {}",
            entry.len(),
            entry.chars().take(300).collect::<String>()
        );

        // Ann removes the milk; undo puts the same line back in its place.
        agent.handle_in("k", "remove the milk", None).await.unwrap();
        assert!(
            g.lists_for(ann)
                .get(list.id)
                .await
                .unwrap()
                .items
                .iter()
                .all(|i| i.name != "milk")
        );
        agent.handle_in("k", "undo", None).await.unwrap();
        let back = g.lists_for(ann).get(list.id).await.unwrap();
        assert_eq!(names(&back), expected);
        assert_eq!(back.items[0].id, milk.id);
        assert_eq!(back.items[0].added_at, milk.added_at);
    }

    /// An undo log reverts each list to its state before the request's first
    /// change, leaves out lists looked at but not changed, and recreates a
    /// list changed and then deleted as it was before the change.
    #[tokio::test]
    async fn an_undo_log_keeps_each_lists_first_state() {
        use super::{UndoLog, UndoStep};
        use crate::lists::{NewItem, Revert};
        let (g, _d) = open().await;
        let lists = g.lists();
        // Each list after each of its items is added.
        let mut states = Vec::new();
        for (name, items) in [
            ("a", &["milk", "eggs", "tea"][..]),
            ("b", &["bread"]),
            ("c", &["jam", "ham"]),
        ] {
            let id = lists.create(name).await.unwrap().id;
            for i in items {
                lists.add_item(id, NewItem::new(*i)).await.unwrap();
                states.push(lists.get(id).await.unwrap());
            }
        }
        let [a0, a1, a2, b0, c0, c1] = &states[..] else {
            panic!("six states: {states:?}");
        };
        let mut log = UndoLog::default();
        log.before(a0);
        log.after(a1);
        log.before(a1);
        log.after(a2);
        log.before(b0);
        log.before(c0);
        log.after(c1);
        log.push(UndoStep::Recreate {
            name: "c".into(),
            items: c1.items.clone(),
        });
        log.deleted(c0.id);
        let revert = Revert::between(&a0.items, &a2.items);
        let taken_out: Vec<&str> = revert.remove.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(taken_out, ["eggs", "tea"]);
        assert_eq!(
            log.steps(),
            [
                UndoStep::Revert {
                    list: a0.id,
                    revert
                },
                UndoStep::Recreate {
                    name: "c".into(),
                    items: c0.items.clone()
                }
            ]
        );
    }

    /// An undo entry applies whole or not at all. One that can never apply
    /// (a list it changed was deleted meanwhile, on another device) changes
    /// nothing, says why, and goes: the next undo takes back the request
    /// before it.
    #[tokio::test]
    async fn an_undo_that_cannot_apply_changes_nothing_and_goes() {
        use super::{Action, AgentReply, DEFAULT_LIST, Error};
        let (g, _d) = open().await;
        let a = g.agent();
        let said = |r: &AgentReply| r.actions.iter().any(|x| matches!(x, Action::Undone));
        a.handle_in("s", "add bread", Some("pantry")).await.unwrap();
        a.handle_in("s", "add milk", None).await.unwrap();
        a.handle_in("s", "add chips", Some("party")).await.unwrap();
        // One entry over two lists: the party list's step is applied first.
        {
            let session = a.session("s").await.unwrap();
            let mut s = session.lock().unwrap();
            let party = s.undo.pop().unwrap();
            let mut both = s.undo.pop().unwrap();
            both.extend(party);
            s.push_undo(both);
            assert_eq!(s.undo.len(), 2);
        }
        let default = g.lists().find(DEFAULT_LIST).await.unwrap();
        g.lists().delete(default.id).await.unwrap();

        let r = a.handle_in("s", "undo", None).await.unwrap();
        assert!(!said(&r), "{r:?}");
        assert!(
            r.message
                .contains("can't undo that: a list it changed is gone"),
            "{}",
            r.message
        );
        // Nothing of it was applied: the party list and its chips stay.
        let party = g.lists().find("party").await.unwrap();
        let names: Vec<&str> = party.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["chips"]);
        assert_eq!(a.session("s").await.unwrap().lock().unwrap().undo.len(), 1);

        // The request before it is next.
        let r = a.handle_in("s", "undo", None).await.unwrap();
        assert!(said(&r), "{r:?}");
        assert!(matches!(
            g.lists().find("pantry").await,
            Err(Error::NotFound { .. })
        ));
        assert!(g.lists().find("party").await.is_ok());
        let r = a.handle_in("s", "undo", None).await.unwrap();
        assert!(r.message.contains("nothing to undo"), "{}", r.message);
    }

    /// An undo that fails for a passing reason (here the database refuses the
    /// delete, as a full disk would) changes nothing and keeps its entry, so
    /// the same "undo" works once the store does again.
    #[tokio::test]
    async fn an_undo_that_fails_in_the_store_keeps_its_entry_for_next_time() {
        use super::{Action, Error};
        let (_dir, path, config) = on_disk();
        let g = Grocery::open(config).await.unwrap();
        let a = g.agent();
        a.handle_in("s", "add milk", None).await.unwrap();
        a.handle_in("s", "add eggs", None).await.unwrap();
        let side = rusqlite::Connection::open(&path).unwrap();
        side.execute_batch(
            "CREATE TRIGGER sad BEFORE DELETE ON list_items \
             BEGIN SELECT RAISE(ABORT, 'the disk is sad'); END;",
        )
        .unwrap();

        let failed = a.handle_in("s", "undo", None).await;
        assert!(matches!(failed, Err(Error::Storage(_))), "{failed:?}");
        assert_eq!(default_list(&g).await, ["milk", "eggs"]);
        assert_eq!(a.session("s").await.unwrap().lock().unwrap().undo.len(), 2);

        side.execute_batch("DROP TRIGGER sad;").unwrap();
        let r = a.handle_in("s", "undo", None).await.unwrap();
        assert!(
            r.actions.iter().any(|x| matches!(x, Action::Undone)),
            "{r:?}"
        );
        assert_eq!(default_list(&g).await, ["milk"]);
        let r = a.handle_in("s", "undo", None).await.unwrap();
        assert!(
            r.actions.iter().any(|x| matches!(x, Action::Undone)),
            "{r:?}"
        );
        assert!(default_list(&g).await.is_empty());
    }

    /// Undo entries saved by older versions put the whole list back.
    #[tokio::test]
    async fn an_undo_entry_saved_whole_by_an_older_version_still_undoes() {
        let (_dir, path, config) = on_disk();
        let g = Grocery::open(config.clone()).await.unwrap();
        g.agent().handle_in("k", "add milk", None).await.unwrap();
        let before = g.lists().find("Shopping").await.unwrap();
        g.agent()
            .handle_in("k", "add eggs and tea", None)
            .await
            .unwrap();
        g.flush_sessions().await.unwrap();
        drop(g);
        let old =
            serde_json::json!([{ "step": "restore", "list": before.id, "items": before.items }]);
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            let n = c
                .execute(
                    "UPDATE agent_undo SET steps = ?1 WHERE seq = (SELECT max(seq) FROM agent_undo)",
                    [old.to_string()],
                )
                .unwrap();
            assert_eq!(n, 1);
        }
        let g = Grocery::open(config).await.unwrap();
        assert_eq!(default_list(&g).await, ["milk", "eggs", "tea"]);
        let r = g.agent().handle_in("k", "undo", None).await.unwrap();
        assert_eq!(r.actions, [super::Action::Undone]);
        assert_eq!(default_list(&g).await, ["milk"]);
    }

    #[tokio::test]
    async fn a_session_saved_whole_by_an_older_version_is_read_and_saved_apart() {
        let (_dir, path, config) = on_disk();
        let g = Grocery::open(config.clone()).await.unwrap();
        g.agent().handle_in("k", "add milk", None).await.unwrap();
        g.agent().handle_in("k", "add eggs", None).await.unwrap();
        // What the previous version wrote: the whole session, undo included.
        let session = g
            .sessions()
            .get(&(crate::lists::UserId::LOCAL, "k".to_string()))
            .unwrap();
        let legacy = {
            let s = session.lock().unwrap();
            let mut v = serde_json::to_value(&*s).unwrap();
            v["undo"] = serde_json::to_value(&s.undo).unwrap();
            v.as_object_mut().unwrap().remove("undo_base");
            v.to_string()
        };
        drop(session);
        g.flush_sessions().await.unwrap();
        drop(g);
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute("DELETE FROM agent_undo", []).unwrap();
            c.execute("UPDATE agent_sessions SET state = ?1", [&legacy])
                .unwrap();
        }
        let g = Grocery::open(config.clone()).await.unwrap();
        let r = g.agent().handle_in("k", "undo", None).await.unwrap();
        assert_eq!(r.actions, [super::Action::Undone]);
        assert_eq!(default_list(&g).await, ["milk"]);
        g.flush_sessions().await.unwrap();
        let (state_len, seqs) = saved(&path, "k");
        assert!(
            state_len < 200,
            "saved apart now: state is {state_len} bytes"
        );
        assert_eq!(seqs, [0]);
    }

    #[tokio::test]
    async fn users_have_separate_lists_and_sessions() {
        let (g, _d) = open().await;
        let bob = g.users().add("bob").await.unwrap();
        g.agent().handle("add milk", None).await.unwrap();
        let r = g
            .agent_for(bob.id)
            .handle("what's on my list", None)
            .await
            .unwrap();
        assert!(
            r.list.is_none(),
            "bob sees nothing of the local user's list"
        );
        let r = g.agent_for(bob.id).handle("undo", None).await.unwrap();
        assert!(r.actions.is_empty());
        assert_eq!(g.lists().find("Shopping").await.unwrap().items.len(), 1);
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

    /// A reply read back from its own JSON is the same reply: one key per
    /// field, though an item's phrase is flattened beside its products.
    #[tokio::test]
    async fn a_reply_reads_back_from_its_json() {
        let (g, _d) = open().await;
        let r = g
            .agent()
            .handle("add 500ml/18 fl oz olive oil and 2 gallons of milk", None)
            .await
            .unwrap();
        let items = &r.commands[0].items;
        assert!(
            items.iter().any(|i| !i.alternatives.is_empty()),
            "{items:?}"
        );
        assert!(
            items.iter().any(|i| !i.item.alternatives.is_empty()),
            "{items:?}"
        );
        let json = serde_json::to_string(&r).unwrap();
        let back: super::AgentReply = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let oil = &value["commands"][0]["items"][0];
        assert_eq!(
            oil["other_measures"][0],
            serde_json::json!({"amount": 18.0, "unit": "fl oz"}),
            "{oil}"
        );
        assert!(oil["alternatives"][0][0].is_string(), "{oil}");
    }

    #[tokio::test]
    async fn absurd_quantities_are_refused_and_change_nothing() {
        let (g, _d) = open().await;
        for (text, says) in [
            ("add 10000000000000 eggs", "quantities go up to 1000000"),
            ("add 10^12 eggs", "quantities go up to 1000000"),
            ("add -3 eggs", "`3` is not an amount"),
            ("add 0 eggs", "`0` is not an amount"),
            ("add 1/0 cups of flour", "`1/0` is not an amount"),
            ("add 2.5.5 lbs of apples", "`2.5.5` is not an amount"),
            ("add 0.0000001 oz of salt", "`0.0000001` is not an amount"),
            ("add 1e308 gallons of milk", "`1e308` is not an amount"),
            ("add 2.5E-3 lbs of saffron", "`2.5e-3` is not an amount"),
            ("add milk and 0 eggs", "`0` is not an amount"),
            ("remove 0 eggs", "`0` is not an amount"),
        ] {
            let err = g.agent().handle(text, None).await.unwrap_err();
            assert_eq!(err.kind(), crate::error::ErrorKind::InvalidInput, "{text}");
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
        assert!(g.lists().all().await.unwrap().is_empty(), "nothing written");
        // Nothing to add is said, and makes no list.
        for text in ["add 🥛 and 🥚🥚", "add", "add it"] {
            let r = g.agent().handle(text, None).await.unwrap();
            assert!(r.actions.is_empty(), "{text}: {:?}", r.actions);
            assert!(
                r.message.contains("didn't catch what to add"),
                "{text}: {}",
                r.message
            );
        }
        assert!(g.lists().all().await.unwrap().is_empty(), "nothing written");
        // Names that start with a digit are names.
        for (text, item) in [
            ("add 7up", "7up"),
            ("add 2% milk", "milk"),
            ("add 1% milk to costco", "milk"),
            ("add a 2-liter soda", "soda"),
        ] {
            let r = g.agent().handle(text, None).await.unwrap();
            assert!(
                matches!(&r.actions[..], [Action::Added { item: i, .. }] if i.contains(item)),
                "{text}: {:?}",
                r.actions
            );
        }
    }
}
