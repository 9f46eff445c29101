//! Plain data of lists: what the CLI prints, HTTP returns and Python wraps.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::catalog::Product;
use crate::error::{Error, Result};
use crate::money::Money;
use crate::quantity::Quantity;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Identifies a grocery list.
    ListId
);
id_type!(
    /// Identifies an item on a list.
    ItemId
);
id_type!(
    /// Identifies a user.
    UserId
);

impl UserId {
    /// The built-in local user that owns everything made without a server.
    pub const LOCAL: UserId = UserId(1);
}

/// A person who owns or shares lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Identifier.
    pub id: UserId,
    /// Unique name.
    pub name: String,
    /// When the user was created (UTC).
    pub created_at: Timestamp,
}

/// What a user may do with a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Read it.
    Viewer,
    /// Read it and change its items.
    Editor,
    /// Everything: rename, delete, share.
    Owner,
}

impl Role {
    /// `owner`, `editor` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    /// The role named `s` (`owner`, `editor`, `viewer`).
    ///
    /// # Errors
    /// [`crate::Error::InvalidInput`] for any other text.
    pub fn parse(s: &str) -> crate::Result<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "owner" => Ok(Role::Owner),
            "editor" => Ok(Role::Editor),
            "viewer" => Ok(Role::Viewer),
            other => Err(crate::Error::invalid(format!(
                "unknown role `{other}`: expected owner, editor or viewer"
            ))),
        }
    }
}

/// What happened to a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChangeKind {
    /// Its items or name changed.
    Changed,
    /// It was deleted.
    Deleted,
    /// It was shared with someone (or their role changed).
    Shared,
    /// Someone's access was removed.
    Unshared,
}

/// One change to a list, as live subscribers receive it: in commit order,
/// numbered by `seq` across all lists (the resume cursor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListChange {
    /// Position in the database's change log; a client resumes after the last
    /// one it saw.
    pub seq: i64,
    /// The list.
    pub list_id: ListId,
    /// The list's version after the change.
    pub version: i64,
    /// What happened.
    pub kind: ChangeKind,
    /// Who did it.
    pub actor: UserId,
    /// When (UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// Who may see it: the owner and the users it is shared with (and one just
    /// removed). Not sent to clients.
    #[serde(skip)]
    pub audience: Vec<UserId>,
}

/// A grocery list with its items, in the order they were added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroceryList {
    /// Identifier.
    pub id: ListId,
    /// Name, unique per owner (case-insensitive).
    pub name: String,
    /// Owner.
    pub owner: UserId,
    /// What the user who read it may do with it.
    pub role: Role,
    /// Bumped by every change; the HTTP ETag.
    pub version: i64,
    /// Creation time (UTC).
    pub created_at: Timestamp,
    /// Last change (UTC).
    pub updated_at: Timestamp,
    /// Items, oldest first.
    pub items: Vec<ListItem>,
}

/// A list without its items, for listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListSummary {
    /// Identifier.
    pub id: ListId,
    /// Name.
    pub name: String,
    /// What the user who read it may do with it.
    pub role: Role,
    /// Bumped by every change.
    pub version: i64,
    /// Items on the list.
    pub items: u64,
    /// Items not yet checked off.
    pub remaining: u64,
    /// Last change (UTC).
    pub updated_at: Timestamp,
}

/// One line of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListItem {
    /// Identifier.
    pub id: ItemId,
    /// What to buy, as the person said it or as the product is called.
    pub name: String,
    /// How much is wanted (not the pack size).
    pub quantity: Quantity,
    /// Free-text note ("ripe ones").
    pub note: Option<String>,
    /// Bought / crossed off.
    pub checked: bool,
    /// The catalog product this item resolved to, if any.
    pub product_id: Option<String>,
    /// Who added it.
    pub added_by: UserId,
    /// When it was added (UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub added_at: Timestamp,
    /// Last change (UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

/// An item to add. Build with [`NewItem::new`] and the setters. From JSON,
/// a field it does not have is an error, not ignored (`"checked": true` on an
/// add would otherwise be dropped without a word).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewItem {
    /// What to buy.
    pub name: String,
    /// How much; one each when absent.
    #[serde(default)]
    pub quantity: Option<Quantity>,
    /// Link to a catalog product by id.
    #[serde(default)]
    pub product_id: Option<String>,
    /// Free-text note.
    #[serde(default)]
    pub note: Option<String>,
}

impl NewItem {
    /// An item called `name`, one each.
    pub fn new(name: impl Into<String>) -> Self {
        NewItem {
            name: name.into(),
            quantity: None,
            product_id: None,
            note: None,
        }
    }

    /// Set the wanted quantity.
    pub fn quantity(mut self, q: Quantity) -> Self {
        self.quantity = Some(q);
        self
    }

    /// The quantity to add: the one asked for, else one each.
    ///
    /// # Errors
    /// None in practice (one each is always a valid quantity).
    pub fn quantity_or_one(&self) -> Result<Quantity> {
        match self.quantity {
            Some(q) => Ok(q),
            None => Ok(Quantity::count(1)?),
        }
    }

    /// Link to a catalog product.
    pub fn product(mut self, id: impl Into<String>) -> Self {
        self.product_id = Some(id.into());
        self
    }

    /// Attach a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// A change to an item; `None` fields stay as they are. From JSON, a field
/// it does not have is an error (a misspelt `"nmae"` changes nothing silently
/// otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemPatch {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New quantity.
    #[serde(default)]
    pub quantity: Option<Quantity>,
    /// New note; `Some(None)` clears it.
    #[serde(default, with = "double_option")]
    pub note: Option<Option<String>>,
    /// New product link; `Some(None)` unlinks.
    #[serde(default, with = "double_option")]
    pub product_id: Option<Option<String>>,
    /// Checked state.
    #[serde(default)]
    pub checked: Option<bool>,
}

/// `null` means "clear", absent means "keep".
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Option<String>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(inner) => inner.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// A priced line of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricedLine {
    /// The item.
    pub item: ListItem,
    /// The product it is priced from, if linked (shared with the catalog).
    pub product: Option<std::sync::Arc<Product>>,
    /// Packs of the product that cover the wanted quantity.
    pub packs: u32,
    /// Price of the packs; absent when the item has no product or the
    /// quantity cannot be expressed in the product's packs.
    pub line_total: Option<Money>,
}

/// A list with prices and a total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricedList {
    /// The list.
    pub id: ListId,
    /// Its name.
    pub name: String,
    /// Version at the time of pricing.
    pub version: i64,
    /// One line per item.
    pub lines: Vec<PricedLine>,
    /// Sum of the priced, unchecked lines.
    pub total: Money,
    /// Unchecked lines without a price.
    pub unpriced: u64,
}

/// Longest list or item name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 1_000;

/// Trim and check a name: non-empty, at most [`MAX_NAME_CHARS`], no control characters.
pub(crate) fn clean_name(what: &str, s: &str) -> Result<String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if t.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(format!(
            "{what} is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if t.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(t.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Trim and check a note; empty becomes `None`.
pub(crate) fn clean_note(s: Option<&str>) -> Result<Option<String>> {
    let Some(t) = s.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if t.chars().count() > MAX_NOTE_CHARS {
        return Err(Error::invalid(format!(
            "note is longer than {MAX_NOTE_CHARS} characters"
        )));
    }
    if t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::invalid("note must not contain control characters"));
    }
    Ok(Some(t.to_string()))
}

/// How to revert one change of an agent request (an entry of a session's
/// undo log is a request's steps, applied last first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub(crate) enum UndoStep {
    /// Put a list's items back as they were (whole: written by older versions,
    /// and for a list a request changed and then deleted).
    Restore { list: ListId, items: Vec<ListItem> },
    /// Undo the lines a request changed, one by one (see [`Revert`]): what
    /// others changed since on other lines stays.
    Revert {
        /// The list.
        list: ListId,
        /// The line changes.
        #[serde(flatten)]
        revert: Revert,
    },
    /// Delete a list the request created.
    DeleteList {
        /// The list.
        list: ListId,
    },
    /// Recreate a list the request deleted, with its items.
    Recreate { name: String, items: Vec<ListItem> },
    /// Give a list the request renamed its name back.
    Rename {
        /// The list.
        list: ListId,
        /// Its name before.
        name: String,
    },
}

/// Line-level changes that put the lines one request changed back as they
/// were, and nothing else: lines it did not touch, and others' later changes
/// to them, stay. Made from the list before and after the request
/// ([`Revert::between`]); its size is that of the change, not of the list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Revert {
    /// Lines the request added: taken out again (matched by id and the time
    /// added, so a line that replaced one since is left alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<ListItem>,
    /// Lines the request changed, as they were: set back (matched the same way).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<ListItem>,
    /// Lines the request removed: put back, in their place when their id is
    /// still free.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub put_back: Vec<ListItem>,
}

impl Revert {
    /// What undoes going from `before` to `after` (the same list's items).
    pub(crate) fn between(before: &[ListItem], after: &[ListItem]) -> Revert {
        let old: std::collections::HashMap<ItemId, &ListItem> =
            before.iter().map(|i| (i.id, i)).collect();
        let new: std::collections::HashSet<ItemId> = after.iter().map(|i| i.id).collect();
        let mut r = Revert::default();
        for a in after {
            match old.get(&a.id) {
                None => r.remove.push(a.clone()),
                Some(b) if *b != a => r.set.push((*b).clone()),
                Some(_) => {}
            }
        }
        r.put_back = before
            .iter()
            .filter(|b| !new.contains(&b.id))
            .cloned()
            .collect();
        r
    }

    /// Nothing to undo.
    pub(crate) fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.set.is_empty() && self.put_back.is_empty()
    }
}

/// One change to a list, for [`crate::Lists::apply`].
#[derive(Debug, Clone)]
pub enum ListOp {
    /// Add an item (merged into a line for the same thing).
    Add(NewItem),
    /// Add an item already checked off, as a line of its own (never merged
    /// into a line still to buy): a line moved after it was bought.
    AddChecked(NewItem),
    /// Remove an item.
    Remove(ItemId),
    /// Change an item.
    Update(ItemId, ItemPatch),
    /// Remove every item.
    Clear,
}

/// What one [`ListOp`] did.
#[derive(Debug, Clone)]
pub enum OpDone {
    /// The line added or changed, as it is now.
    Item(ListItem),
    /// The item was removed.
    Removed(ItemId),
    /// The list was emptied of this many items.
    Cleared(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, name: &str, n: i64, checked: bool) -> ListItem {
        let at = Timestamp::from_millisecond(1_700_000_000_000).unwrap();
        ListItem {
            id: ItemId(id),
            name: name.into(),
            quantity: Quantity::count(n).unwrap(),
            note: None,
            checked,
            product_id: None,
            added_by: UserId(1),
            added_at: at,
            updated_at: at,
        }
    }

    /// Each kind of line change is undone by its opposite; lines left alone
    /// are not in it.
    #[test]
    fn a_revert_holds_the_opposite_of_each_changed_line_only() {
        let milk = item(1, "milk", 1, false);
        let eggs = item(2, "eggs", 1, false);
        let tea = item(3, "tea", 1, false);
        type Case = (&'static str, Vec<ListItem>, Vec<ListItem>, Revert);
        let cases: Vec<Case> = vec![
            (
                "nothing",
                vec![milk.clone()],
                vec![milk.clone()],
                Revert::default(),
            ),
            (
                "added",
                vec![milk.clone()],
                vec![milk.clone(), eggs.clone()],
                Revert {
                    remove: vec![eggs.clone()],
                    ..Revert::default()
                },
            ),
            (
                "removed",
                vec![milk.clone(), eggs.clone()],
                vec![eggs.clone()],
                Revert {
                    put_back: vec![milk.clone()],
                    ..Revert::default()
                },
            ),
            (
                "merged",
                vec![milk.clone(), eggs.clone()],
                vec![item(1, "milk", 3, false), eggs.clone()],
                Revert {
                    set: vec![milk.clone()],
                    ..Revert::default()
                },
            ),
            (
                "checked",
                vec![milk.clone()],
                vec![item(1, "milk", 1, true)],
                Revert {
                    set: vec![milk.clone()],
                    ..Revert::default()
                },
            ),
            (
                "cleared",
                vec![milk.clone(), eggs.clone()],
                vec![],
                Revert {
                    put_back: vec![milk.clone(), eggs.clone()],
                    ..Revert::default()
                },
            ),
            (
                "all at once",
                vec![milk.clone(), eggs.clone()],
                vec![item(2, "eggs", 2, false), tea.clone()],
                Revert {
                    remove: vec![tea.clone()],
                    set: vec![eggs.clone()],
                    put_back: vec![milk.clone()],
                },
            ),
        ];
        for (what, before, after, want) in cases {
            let got = Revert::between(&before, &after);
            assert_eq!(got, want, "{what}");
            assert_eq!(got.is_empty(), want == Revert::default(), "{what}");
        }
    }
}
