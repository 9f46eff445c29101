//! Lists and their items. Every statement is scoped by the caller: a list they
//! neither own nor were shared reads as not found; a write needs the role for
//! it (and, when the caller gives one, the version it was based on). Every
//! change bumps the list's version and appends to the change log
//! (`list_events`) in the same transaction.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::list_cache::ListCache;
use super::{Store, amount_from_sql, amount_to_sql, now_ms, ts, unit_from_sql};
use crate::error::{Error, Result};
use crate::lists::{
    ChangeKind, GroceryList, ItemId, ItemPatch, ListChange, ListId, ListItem, ListOp, ListSummary,
    NewItem, OpDone, Revert, Role, UndoStep, UserId,
};
use crate::quantity::Quantity;

const SELECT_ITEM: &str = "SELECT i.id, i.name, i.amount, i.unit, i.note, i.checked, p.id, \
     i.added_by, i.added_at, i.updated_at FROM list_items i \
     LEFT JOIN products p ON p.pk = i.product_pk";

struct RawItem {
    id: i64,
    name: String,
    amount: String,
    unit: String,
    note: Option<String>,
    checked: bool,
    product_id: Option<String>,
    added_by: i64,
    added_at: i64,
    updated_at: i64,
}

fn raw_item(r: &Row<'_>) -> rusqlite::Result<RawItem> {
    Ok(RawItem {
        id: r.get(0)?,
        name: r.get(1)?,
        amount: r.get(2)?,
        unit: r.get(3)?,
        note: r.get(4)?,
        checked: r.get(5)?,
        product_id: r.get(6)?,
        added_by: r.get(7)?,
        added_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

impl RawItem {
    fn into_item(self) -> Result<ListItem> {
        Ok(ListItem {
            id: ItemId(self.id),
            name: self.name,
            quantity: Quantity::new(amount_from_sql(&self.amount)?, unit_from_sql(&self.unit)?),
            note: self.note,
            checked: self.checked,
            product_id: self.product_id,
            added_by: UserId(self.added_by),
            added_at: ts(self.added_at),
            updated_at: ts(self.updated_at),
        })
    }
}

fn conflict_on_unique(e: rusqlite::Error, name: &str) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => {
            Error::Conflict(format!("a list named `{name}` already exists"))
        }
        _ => Error::from(e),
    }
}

/// Who is asking, and for a write the list version it is based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Access {
    /// The caller.
    pub user: UserId,
    /// For writes: fail with [`Error::StaleVersion`] unless the list is at this version.
    pub expected: Option<i64>,
}

impl From<UserId> for Access {
    fn from(user: UserId) -> Self {
        Access {
            user,
            expected: None,
        }
    }
}

fn role_from_sql(s: &str) -> Role {
    match s {
        "owner" => Role::Owner,
        "editor" => Role::Editor,
        _ => Role::Viewer,
    }
}

/// The list as `user` sees it (without items): theirs, or shared with them.
fn list_header(conn: &Connection, user: UserId, id: ListId) -> Result<GroceryList> {
    conn.prepare_cached(
        "SELECT l.id, l.name, l.owner_id, l.version, l.created_at, l.updated_at, \
         CASE WHEN l.owner_id = ?2 THEN 'owner' ELSE s.role END \
         FROM lists l LEFT JOIN list_shares s ON s.list_id = l.id AND s.user_id = ?2 \
         WHERE l.id = ?1 AND (l.owner_id = ?2 OR s.user_id IS NOT NULL)",
    )?
    .query_row(params![id.0, user.0], header_row)
    .optional()?
    .ok_or_else(|| Error::not_found("list", id.to_string()))
}

/// The header of `owner`'s own list called `name` (case-insensitively).
fn own_list_header(conn: &Connection, owner: UserId, name: &str) -> Result<Option<GroceryList>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, name, owner_id, version, created_at, updated_at, 'owner' \
             FROM lists WHERE owner_id = ?1 AND name = ?2 COLLATE NOCASE",
        )?
        .query_row(params![owner.0, name], header_row)
        .optional()?)
}

/// A list header from its row (id, name, owner, version, created, updated, role).
fn header_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroceryList> {
    Ok(GroceryList {
        id: ListId(r.get(0)?),
        name: r.get(1)?,
        owner: UserId(r.get(2)?),
        version: r.get(3)?,
        created_at: ts(r.get(4)?),
        updated_at: ts(r.get(5)?),
        role: role_from_sql(&r.get::<_, String>(6)?),
        items: Vec::new(),
    })
}

/// The list header, if `who` may do what needs `need` to it, at the version
/// they expect.
fn writable(conn: &Connection, who: Access, id: ListId, need: Role) -> Result<GroceryList> {
    let list = list_header(conn, who.user, id)?;
    check_writable(&list, who, need)?;
    Ok(list)
}

/// Whether `who` may do what needs `need` to `list` (as they see it), at the
/// version they expect.
fn check_writable(list: &GroceryList, who: Access, need: Role) -> Result<()> {
    if list.role < need {
        return Err(Error::Forbidden(match need {
            Role::Owner => format!("only the owner of `{}` may do that", list.name),
            _ => format!("`{}` is shared with you to view only", list.name),
        }));
    }
    if let Some(expected) = who.expected
        && expected != list.version
    {
        return Err(Error::StaleVersion {
            what: "list",
            expected,
            current: list.version,
        });
    }
    Ok(())
}

thread_local! {
    /// The changes the writes on this (the writer) thread appended to the
    /// change log, as the log holds them; the writer takes them after each
    /// batch's commit.
    pub(crate) static LOGGED: std::cell::RefCell<Vec<ListChange>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The users who may see list `list` now: its owner (known to the caller)
/// and those it is shared with.
fn audience(conn: &Connection, list: ListId, owner: i64) -> Result<Vec<i64>> {
    let mut users = vec![owner];
    let mut stmt = conn.prepare_cached("SELECT user_id FROM list_shares WHERE list_id = ?1")?;
    for user in stmt.query_map(params![list.0], |r| r.get(0))? {
        users.push(user?);
    }
    Ok(users)
}

/// Append one change to the log, visible to `users`.
fn log_change(
    tx: &Transaction<'_>,
    list: ListId,
    version: i64,
    kind: ChangeKind,
    actor: UserId,
    users: &[i64],
    now: i64,
) -> Result<()> {
    let kind_name = match kind {
        ChangeKind::Changed => "changed",
        ChangeKind::Deleted => "deleted",
        ChangeKind::Shared => "shared",
        ChangeKind::Unshared => "unshared",
    };
    tx.prepare_cached(
        "INSERT INTO list_events (list_id, version, kind, actor_id, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![list.0, version, kind_name, actor.0, now])?;
    let seq = tx.last_insert_rowid();
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO list_event_audience (seq, user_id) VALUES (?1, ?2)",
    )?;
    let mut audience: Vec<UserId> = Vec::with_capacity(users.len());
    for &u in users {
        // As the table keeps them: each user once.
        if stmt.execute(params![seq, u])? > 0 {
            audience.push(UserId(u));
        }
    }
    LOGGED.with_borrow_mut(|l| {
        l.push(ListChange {
            seq,
            list_id: list,
            version,
            kind,
            actor,
            at: ts(now),
            audience,
        });
    });
    Ok(())
}

/// A list with its items, header and items from one snapshot: a read outside
/// a transaction gets one of its own, so a write landing between the two
/// statements cannot pair one version with another's items.
fn get_list(conn: &Connection, owner: UserId, id: ListId) -> Result<GroceryList> {
    if conn.is_autocommit() {
        let tx = conn.unchecked_transaction()?;
        let list = read_list(&tx, owner, id);
        tx.commit()?;
        return list;
    }
    read_list(conn, owner, id)
}

fn read_list(conn: &Connection, owner: UserId, id: ListId) -> Result<GroceryList> {
    let mut list = list_header(conn, owner, id)?;
    list.items = read_items(conn, id)?;
    Ok(list)
}

fn read_items(conn: &Connection, id: ListId) -> Result<Vec<ListItem>> {
    let mut stmt =
        conn.prepare_cached(&format!("{SELECT_ITEM} WHERE i.list_id = ?1 ORDER BY i.id"))?;
    let raws = stmt
        .query_map(params![id.0], raw_item)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raws.into_iter().map(RawItem::into_item).collect()
}

/// A list with its items inside a write transaction: the header from the
/// database, the items from memory when the cache holds this very version.
fn get_list_in(
    tx: &Transaction<'_>,
    cache: &ListCache,
    owner: UserId,
    id: ListId,
) -> Result<GroceryList> {
    with_items_in(tx, cache, list_header(tx, owner, id)?)
}

/// `header` (read in this write transaction) with its items, from memory
/// when the cache holds this very version.
fn with_items_in(
    tx: &Transaction<'_>,
    cache: &ListCache,
    mut list: GroceryList,
) -> Result<GroceryList> {
    list.items = match cache.items_at(&list) {
        Some(items) => items,
        None => read_items(tx, list.id)?,
    };
    Ok(list)
}

fn get_item(conn: &Connection, list: ListId, item: ItemId) -> Result<ListItem> {
    conn.prepare_cached(&format!("{SELECT_ITEM} WHERE i.list_id = ?1 AND i.id = ?2"))?
        .query_row(params![list.0, item.0], raw_item)
        .optional()?
        .ok_or_else(|| Error::not_found("item", item.to_string()))?
        .into_item()
}

/// Bump the list's version and log the change; the new version. `list` is its
/// header as read (and checked) in this transaction.
fn touch(tx: &Transaction<'_>, list: &GroceryList, actor: UserId, now: i64) -> Result<i64> {
    touch_as(tx, list, actor, now, ChangeKind::Changed)
}

fn touch_as(
    tx: &Transaction<'_>,
    list: &GroceryList,
    actor: UserId,
    now: i64,
    kind: ChangeKind,
) -> Result<i64> {
    let (version, owner) = bump_version(tx, list, now)?;
    let users = audience(tx, list.id, owner)?;
    log_change(tx, list.id, version, kind, actor, &users, now)?;
    Ok(version)
}

/// Bump the version of `list` (its header as read in this transaction); the
/// new version and the owner. The UPDATE is conditional on the version read,
/// so nothing is read back. A header that is not the stored one (none should
/// be) takes an UPDATE and a SELECT instead; not `UPDATE … RETURNING`, which on
/// a table other tables refer to costs SQLite several times the two.
fn bump_version(tx: &Transaction<'_>, list: &GroceryList, now: i64) -> Result<(i64, i64)> {
    let moved = tx
        .prepare_cached(
            "UPDATE lists SET version = ?3, updated_at = ?2 WHERE id = ?1 AND version = ?4",
        )?
        .execute(params![list.id.0, now, list.version + 1, list.version])?;
    if moved == 1 {
        return Ok((list.version + 1, list.owner.0));
    }
    let changed = tx
        .prepare_cached("UPDATE lists SET version = version + 1, updated_at = ?2 WHERE id = ?1")?
        .execute(params![list.id.0, now])?;
    if changed == 0 {
        return Err(Error::not_found("list", list.id.0.to_string()));
    }
    Ok(tx
        .prepare_cached("SELECT version, owner_id FROM lists WHERE id = ?1")?
        .query_row(params![list.id.0], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Insert `item` on `list` as it was (who added it and when), with the id
/// `id` or a new one.
fn insert_as_was(
    tx: &Transaction<'_>,
    list: ListId,
    id: Option<ItemId>,
    item: &ListItem,
    now: i64,
) -> Result<()> {
    let pk = known_product_pk(tx, item.product_id.as_deref())?;
    tx.prepare_cached(
        "INSERT INTO list_items (id, list_id, product_pk, name, amount, unit, note, checked, \
         added_by, added_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        id.map(|i| i.0),
        list.0,
        pk,
        item.name,
        amount_to_sql(item.quantity.amount),
        item.quantity.unit.code(),
        item.note,
        item.checked,
        item.added_by.0,
        item.added_at.as_millisecond(),
        now
    ])?;
    Ok(())
}

/// The product's row, when it is still in the catalog (a line whose product
/// went keeps its name, unlinked).
fn known_product_pk(tx: &Transaction<'_>, id: Option<&str>) -> Result<Option<i64>> {
    let Some(id) = id else { return Ok(None) };
    Ok(tx
        .prepare_cached("SELECT pk FROM products WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()?)
}

fn product_pk(tx: &Transaction<'_>, id: &str) -> Result<i64> {
    known_product_pk(tx, Some(id))?.ok_or_else(|| Error::not_found("product", id))
}

/// Add an item, merging into an unchecked item of the same product (or, unlinked,
/// the same name) whose unit is compatible; the line as it is now. `checked`:
/// the item is already bought, a line of its own that nothing merges into.
/// The caller has checked the role and bumps the version once for all its
/// changes.
fn add_item(
    tx: &Transaction<'_>,
    actor: UserId,
    list: ListId,
    item: &NewItem,
    checked: bool,
    now: i64,
    lines: Option<&[ListItem]>,
) -> Result<ListItem> {
    let qty = item.quantity_or_one()?;
    let pk = item
        .product_id
        .as_deref()
        .map(|id| product_pk(tx, id))
        .transpose()?;
    if let Some(pk) = pk {
        note_pick(tx, actor, pk, false, now)?;
    }
    let candidates: Vec<ListItem> = match lines {
        _ if checked => Vec::new(),
        // The same lines as the query below finds, from the list as this
        // transaction has it (a product id names one product row; SQLite's
        // NOCASE folds ASCII letters only).
        Some(lines) => {
            let mut found: Vec<ListItem> = lines
                .iter()
                .filter(|i| {
                    !i.checked
                        && match pk {
                            Some(_) => i.product_id == item.product_id,
                            None => {
                                i.product_id.is_none() && i.name.eq_ignore_ascii_case(&item.name)
                            }
                        }
                })
                .cloned()
                .collect();
            found.sort_by_key(|i| i.id);
            found
        }
        None => {
            let mut stmt = tx.prepare_cached(&format!(
                "{SELECT_ITEM} WHERE i.list_id = ?1 AND i.checked = 0 AND \
                 ((?2 IS NOT NULL AND i.product_pk = ?2) OR \
                  (?2 IS NULL AND i.product_pk IS NULL AND i.name = ?3 COLLATE NOCASE)) \
                 ORDER BY i.id"
            ))?;
            stmt.query_map(params![list.0, pk, item.name], raw_item)?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .map(RawItem::into_item)
                .collect::<Result<_>>()?
        }
    };
    for mut existing in candidates {
        if !existing.quantity.unit.is_compatible(qty.unit) {
            continue;
        }
        let merged = existing.quantity.checked_add(&qty)?;
        tx.prepare_cached(
            "UPDATE list_items SET amount = ?2, unit = ?3, note = coalesce(?4, note), \
             updated_at = ?5 WHERE id = ?1",
        )?
        .execute(params![
            existing.id.0,
            amount_to_sql(merged.amount),
            merged.unit.code(),
            item.note,
            now
        ])?;
        existing.quantity = merged;
        if item.note.is_some() {
            existing.note.clone_from(&item.note);
        }
        existing.updated_at = ts(now);
        return Ok(existing);
    }
    tx.prepare_cached(
        "INSERT INTO list_items (list_id, product_pk, name, amount, unit, note, checked, \
         added_by, added_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute(params![
        list.0,
        pk,
        item.name,
        amount_to_sql(qty.amount),
        qty.unit.code(),
        item.note,
        checked,
        actor.0,
        now
    ])?;
    Ok(ListItem {
        id: ItemId(tx.last_insert_rowid()),
        name: item.name.clone(),
        quantity: qty,
        note: item.note.clone(),
        checked,
        product_id: pk.and(item.product_id.clone()),
        added_by: actor,
        added_at: ts(now),
        updated_at: ts(now),
    })
}

/// Change an item; the line as it is now. The caller has checked the role and
/// bumps the version.
fn update_item(
    tx: &Transaction<'_>,
    actor: UserId,
    list: ListId,
    item: ItemId,
    patch: &ItemPatch,
    now: i64,
    lines: Option<&[ListItem]>,
) -> Result<ListItem> {
    let current = match lines {
        Some(lines) => lines
            .iter()
            .find(|i| i.id == item)
            .cloned()
            .ok_or_else(|| Error::not_found("item", item.to_string()))?,
        None => get_item(tx, list, item)?,
    };
    let name = patch.name.as_ref().unwrap_or(&current.name);
    let qty = patch.quantity.unwrap_or(current.quantity);
    let note = match &patch.note {
        Some(n) => n.clone(),
        None => current.note.clone(),
    };
    let product_id = match &patch.product_id {
        Some(p) => p.clone(),
        None => current.product_id.clone(),
    };
    let pk = product_id
        .as_deref()
        .map(|id| product_pk(tx, id))
        .transpose()?;
    let checked = patch.checked.unwrap_or(current.checked);
    if checked && !current.checked {
        tx.prepare_cached(
            "INSERT INTO purchases (user_id, item_id, name, product_pk, amount, unit, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            actor.0,
            item.0,
            name.to_lowercase(),
            pk,
            amount_to_sql(qty.amount),
            qty.unit.code(),
            now
        ])?;
        if let Some(pk) = pk {
            note_pick(tx, actor, pk, true, now)?;
        }
    } else if !checked && current.checked {
        // Unchecked: it was not bought after all.
        tx.prepare_cached(
            "DELETE FROM purchases WHERE id = (SELECT max(id) FROM purchases \
             WHERE item_id = ?1 AND user_id = ?2)",
        )?
        .execute(params![item.0, actor.0])?;
    }
    tx.prepare_cached(
        "UPDATE list_items SET name = ?3, amount = ?4, unit = ?5, note = ?6, product_pk = ?7, \
         checked = ?8, updated_at = ?9 WHERE list_id = ?1 AND id = ?2",
    )?
    .execute(params![
        list.0,
        item.0,
        name,
        amount_to_sql(qty.amount),
        qty.unit.code(),
        note,
        pk,
        checked,
        now
    ])?;
    Ok(ListItem {
        id: item,
        name: name.clone(),
        quantity: qty,
        note,
        checked,
        product_id,
        added_by: current.added_by,
        added_at: current.added_at,
        updated_at: ts(now),
    })
}

/// Count a product added (or bought) by `user`: their learned preferences.
fn note_pick(tx: &Transaction<'_>, user: UserId, pk: i64, bought: bool, now: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO product_picks (user_id, product_pk, added, bought, last_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id, product_pk) DO UPDATE SET \
         added = added + excluded.added, bought = bought + excluded.bought, \
         last_at = excluded.last_at",
    )?
    .execute(params![
        user.0,
        pk,
        i64::from(!bought),
        i64::from(bought),
        now
    ])?;
    Ok(())
}

/// One purchase: a line checked off.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Purchase {
    /// The line's name, lower-case.
    pub name: String,
    /// Its product, when linked.
    pub product_id: Option<String>,
    /// When (UTC, milliseconds).
    pub at: i64,
}

/// One product a user picked: how often added and bought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pick {
    /// The product.
    pub product_id: String,
    /// Times added to a list.
    pub added: i64,
    /// Times checked off.
    pub bought: i64,
    /// Last time either happened (milliseconds).
    pub last_at: i64,
}

impl Store {
    /// A user's purchases since `since` (milliseconds), oldest first.
    pub(crate) async fn purchases(&self, user: UserId, since: i64) -> Result<Vec<Purchase>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT pu.name, p.id, pu.at FROM purchases pu \
                 LEFT JOIN products p ON p.pk = pu.product_pk \
                 WHERE pu.user_id = ?1 AND pu.at >= ?2 ORDER BY pu.at, pu.id LIMIT 100000",
            )?;
            let rows = stmt.query_map(params![user.0, since], |r| {
                Ok(Purchase {
                    name: r.get(0)?,
                    product_id: r.get(1)?,
                    at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// A user's picks, most used first.
    pub(crate) async fn picks(&self, user: UserId) -> Result<Vec<Pick>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT p.id, k.added, k.bought, k.last_at FROM product_picks k \
                 JOIN products p ON p.pk = k.product_pk WHERE k.user_id = ?1 \
                 ORDER BY k.added + 2 * k.bought DESC, k.last_at DESC LIMIT 5000",
            )?;
            let rows = stmt.query_map(params![user.0], |r| {
                Ok(Pick {
                    product_id: r.get(0)?,
                    added: r.get(1)?,
                    bought: r.get(2)?,
                    last_at: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }
}

/// Which list an edit is about.
#[derive(Debug, Clone)]
pub(crate) enum ListRef {
    /// By id.
    Id(ListId),
    /// By name, case-insensitively (already cleaned).
    Name(String),
}

/// What [`Store::edit`] did.
#[derive(Debug, Clone)]
pub(crate) struct Edit<T> {
    /// The list before the changes.
    pub before: GroceryList,
    /// What each change did.
    pub done: Vec<OpDone>,
    /// The list after the changes.
    pub after: GroceryList,
    /// What the plan returned besides the changes.
    pub extra: T,
    /// Whether the list was created by this edit.
    pub created: bool,
}

/// What [`Store::move_lines`] did.
#[derive(Debug, Clone)]
pub(crate) struct Moved {
    /// The list the lines went onto.
    pub to: Edit<()>,
    /// The list they left, before.
    pub from_before: GroceryList,
    /// The list they left, after.
    pub from_after: GroceryList,
}

fn apply_op(
    tx: &Transaction<'_>,
    actor: UserId,
    list: ListId,
    op: &ListOp,
    now: i64,
    lines: Option<&[ListItem]>,
) -> Result<OpDone> {
    Ok(match op {
        ListOp::Add(item) => OpDone::Item(add_item(tx, actor, list, item, false, now, lines)?),
        ListOp::AddChecked(item) => {
            OpDone::Item(add_item(tx, actor, list, item, true, now, lines)?)
        }
        ListOp::Update(item, patch) => {
            OpDone::Item(update_item(tx, actor, list, *item, patch, now, lines)?)
        }
        ListOp::Remove(item) => {
            let n = tx
                .prepare_cached("DELETE FROM list_items WHERE list_id = ?1 AND id = ?2")?
                .execute(params![list.0, item.0])?;
            if n == 0 {
                return Err(Error::not_found("item", item.to_string()));
            }
            OpDone::Removed(*item)
        }
        ListOp::Clear => {
            let n = tx
                .prepare_cached("DELETE FROM list_items WHERE list_id = ?1")?
                .execute(params![list.0])?;
            OpDone::Cleared(n as u64)
        }
    })
}

/// Run `ops` on `list` (the caller has checked the role), then bump the
/// version and log one change for all of them when any changed something:
/// what each did, and the new version if it moved. `lines`, when the caller
/// holds the list's lines as this transaction has them, are kept up to date
/// op by op (and spare the ops their lookups).
fn run_ops(
    tx: &Transaction<'_>,
    actor: UserId,
    header: &GroceryList,
    ops: &[ListOp],
    now: i64,
    mut lines: Option<&mut Vec<ListItem>>,
) -> Result<(Vec<OpDone>, Option<i64>)> {
    let list = header.id;
    let mut done = Vec::with_capacity(ops.len());
    for op in ops {
        let d = apply_op(
            tx,
            actor,
            list,
            op,
            now,
            lines.as_deref().map(Vec::as_slice),
        )?;
        if let Some(lines) = lines.as_deref_mut() {
            match &d {
                OpDone::Item(item) => match lines.iter_mut().find(|i| i.id == item.id) {
                    Some(slot) => *slot = item.clone(),
                    None => lines.push(item.clone()),
                },
                OpDone::Removed(id) => lines.retain(|i| i.id != *id),
                OpDone::Cleared(_) => lines.clear(),
            }
        }
        done.push(d);
    }
    let version = if done.iter().any(|d| !matches!(d, OpDone::Cleared(0))) {
        Some(touch(tx, header, actor, now)?)
    } else {
        None
    };
    Ok((done, version))
}

/// Apply `ops` to `before` (the list as `who` sees it, read in this
/// transaction) after checking that `who` may edit it: what each op did and
/// the list afterwards, which is `before` with the changes applied, not read
/// again.
fn apply_ops(
    tx: &Transaction<'_>,
    who: Access,
    before: &GroceryList,
    ops: &[ListOp],
) -> Result<(Vec<OpDone>, GroceryList)> {
    let mut after = before.clone();
    if ops.is_empty() {
        return Ok((Vec::new(), after));
    }
    check_writable(before, who, Role::Editor)?;
    let now = now_ms();
    let (done, version) = run_ops(tx, who.user, before, ops, now, Some(&mut after.items))?;
    if let Some(v) = version {
        after.version = v;
        after.updated_at = ts(now);
    }
    Ok((done, after))
}

/// Apply `ops` to a list after checking that `who` may edit it, without
/// reading its items: what each op did.
fn change(tx: &Transaction<'_>, who: Access, list: ListId, ops: &[ListOp]) -> Result<Vec<OpDone>> {
    let header = writable(tx, who, list, Role::Editor)?;
    Ok(run_ops(tx, who.user, &header, ops, now_ms(), None)?.0)
}

/// Rename list `id` (its owner only) and log it.
fn rename_in(tx: &Transaction<'_>, who: Access, id: ListId, name: &str) -> Result<()> {
    let list = writable(tx, who, id, Role::Owner)?;
    tx.prepare_cached("UPDATE lists SET name = ?2 WHERE id = ?1")?
        .execute(params![id.0, name])
        .map_err(|e| conflict_on_unique(e, name))?;
    touch(tx, &list, who.user, now_ms())?;
    Ok(())
}

/// Delete list `id` (its owner only) and log it.
fn delete_in(tx: &Transaction<'_>, who: Access, id: ListId) -> Result<()> {
    let list = writable(tx, who, id, Role::Owner)?;
    let users = audience(tx, id, list.owner.0)?;
    tx.prepare_cached("DELETE FROM lists WHERE id = ?1")?
        .execute(params![id.0])?;
    log_change(
        tx,
        id,
        list.version + 1,
        ChangeKind::Deleted,
        who.user,
        &users,
        now_ms(),
    )
}

/// Replace a list's items with `items` (names, quantities, notes, products,
/// checked state and authors kept; ids are new).
fn restore_in(tx: &Transaction<'_>, who: Access, list: ListId, items: &[ListItem]) -> Result<()> {
    let header = writable(tx, who, list, Role::Editor)?;
    tx.prepare_cached("DELETE FROM list_items WHERE list_id = ?1")?
        .execute(params![list.0])?;
    let now = now_ms();
    for i in items {
        insert_as_was(tx, list, None, i, now)?;
    }
    touch(tx, &header, who.user, now)?;
    Ok(())
}

/// Undo one request's line changes (see [`Revert`]); the list's version
/// moves only when a line changed.
fn revert_in(tx: &Transaction<'_>, who: Access, list: ListId, revert: &Revert) -> Result<()> {
    let header = writable(tx, who, list, Role::Editor)?;
    let now = now_ms();
    let mut changed = 0;
    for i in &revert.remove {
        changed += tx
            .prepare_cached(
                "DELETE FROM list_items WHERE id = ?1 AND list_id = ?2 AND added_at = ?3",
            )?
            .execute(params![i.id.0, list.0, i.added_at.as_millisecond()])?;
    }
    for i in &revert.set {
        let pk = known_product_pk(tx, i.product_id.as_deref())?;
        changed += tx
            .prepare_cached(
                "UPDATE list_items SET product_pk = ?4, name = ?5, amount = ?6, unit = ?7, \
                 note = ?8, checked = ?9, updated_at = ?10 \
                 WHERE id = ?1 AND list_id = ?2 AND added_at = ?3",
            )?
            .execute(params![
                i.id.0,
                list.0,
                i.added_at.as_millisecond(),
                pk,
                i.name,
                amount_to_sql(i.quantity.amount),
                i.quantity.unit.code(),
                i.note,
                i.checked,
                now
            ])?;
    }
    for i in &revert.put_back {
        // Back in its place (lines are ordered by id) unless another
        // line took the id since: then at the end.
        let taken = tx
            .prepare_cached("SELECT 1 FROM list_items WHERE id = ?1")?
            .exists(params![i.id.0])?;
        insert_as_was(tx, list, (!taken).then_some(i.id), i, now)?;
        changed += 1;
    }
    if changed > 0 {
        touch(tx, &header, who.user, now)?;
    }
    Ok(())
}

/// Create `owner`'s list called `name` and log it; [`Error::Conflict`] if
/// they have one of that name.
fn create_in(tx: &Transaction<'_>, owner: UserId, name: &str) -> Result<ListId> {
    let now = now_ms();
    tx.prepare_cached(
        "INSERT INTO lists (owner_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
    )?
    .execute(params![owner.0, name, now])
    .map_err(|e| conflict_on_unique(e, name))?;
    let id = ListId(tx.last_insert_rowid());
    log_change(tx, id, 1, ChangeKind::Changed, owner, &[owner.0], now)?;
    Ok(id)
}

/// `owner`'s list called `name`, created when there is none.
fn own_or_created(tx: &Transaction<'_>, owner: UserId, name: &str) -> Result<ListId> {
    match own_list_header(tx, owner, name)? {
        Some(header) => Ok(header.id),
        None => create_in(tx, owner, name),
    }
}

impl Store {
    /// Apply `ops` to a list in one transaction and return what each did and the
    /// list afterwards, read in the same transaction.
    pub(crate) async fn apply(
        &self,
        who: Access,
        list: ListId,
        ops: Vec<ListOp>,
    ) -> Result<(Vec<OpDone>, GroceryList)> {
        let cache = Arc::clone(&self.inner.list_cache);
        let ticket = cache.ticket();
        let (done, after) = self
            .write_repeatable(move |tx| {
                let before = get_list_in(tx, &cache, who.user, list)?;
                apply_ops(tx, who, &before, &ops)
            })
            .await?;
        self.list_cache().offer(ticket, who.user, &after);
        Ok((done, after))
    }

    /// Plan and apply changes to one list in one write transaction: find the list
    /// (by id, or by name and created if `create`), hand it to `plan`, apply the
    /// changes `plan` returns and read the list back.
    pub(crate) async fn edit<T, F>(
        &self,
        who: Access,
        target: ListRef,
        create: bool,
        plan: F,
    ) -> Result<Edit<T>>
    where
        T: Send + 'static,
        F: Fn(&GroceryList) -> Result<(Vec<ListOp>, T)> + Send + 'static,
    {
        let owner = who.user;
        let cache = Arc::clone(&self.inner.list_cache);
        let ticket = cache.ticket();
        let edit = self
            .write_repeatable(move |tx| {
                let (header, created) = match &target {
                    ListRef::Id(id) => (list_header(tx, owner, *id)?, false),
                    ListRef::Name(name) => match own_list_header(tx, owner, name)? {
                        Some(header) => (header, false),
                        None if create => {
                            let id = create_in(tx, owner, name)?;
                            (list_header(tx, owner, id)?, true)
                        }
                        None => return Err(Error::not_found("list", name.clone())),
                    },
                };
                let before = with_items_in(tx, &cache, header)?;
                let (ops, extra) = plan(&before)?;
                let (done, after) = apply_ops(tx, who, &before, &ops)?;
                Ok(Edit {
                    before,
                    done,
                    after,
                    extra,
                    created,
                })
            })
            .await?;
        self.list_cache().offer(ticket, owner, &edit.after);
        Ok(edit)
    }

    /// Move the lines `ids` of list `from` onto the caller's list called
    /// `to` (made when missing) in one write transaction: added there with
    /// their quantity, product and note (merged into a line for the same
    /// thing) and removed here, or neither. Both lists are checked for the
    /// editor role; a line not on `from` is [`Error::NotFound`], `to` being
    /// `from` is [`Error::InvalidInput`].
    pub(crate) async fn move_lines(
        &self,
        who: Access,
        from: ListId,
        to: String,
        ids: Vec<ItemId>,
    ) -> Result<Moved> {
        let owner = who.user;
        let cache = Arc::clone(&self.inner.list_cache);
        let ticket = cache.ticket();
        let moved = self
            .write_repeatable(move |tx| {
                let source = get_list_in(tx, &cache, owner, from)?;
                let mut adds = Vec::with_capacity(ids.len());
                for id in &ids {
                    let line = source
                        .items
                        .iter()
                        .find(|i| i.id == *id)
                        .ok_or_else(|| Error::not_found("item", id.to_string()))?;
                    let item = NewItem {
                        name: line.name.clone(),
                        quantity: Some(line.quantity),
                        product_id: line.product_id.clone(),
                        note: line.note.clone(),
                    };
                    // A line already checked off arrives checked, a line of its
                    // own: merged into one still to buy, it would be bought
                    // twice or not at all.
                    adds.push(if line.checked {
                        ListOp::AddChecked(item)
                    } else {
                        ListOp::Add(item)
                    });
                }
                let (header, created) = match own_list_header(tx, owner, &to)? {
                    Some(header) => (header, false),
                    None => (list_header(tx, owner, create_in(tx, owner, &to)?)?, true),
                };
                // Onto itself it would merge each line into itself, then drop it.
                if header.id == from {
                    return Err(Error::invalid(format!("those lines are on {to} already")));
                }
                let before = with_items_in(tx, &cache, header)?;
                let (done, after) = apply_ops(tx, who, &before, &adds)?;
                let removes: Vec<ListOp> = ids.iter().copied().map(ListOp::Remove).collect();
                let (_, from_after) = apply_ops(tx, who, &source, &removes)?;
                Ok(Moved {
                    to: Edit {
                        before,
                        done,
                        after,
                        extra: (),
                        created,
                    },
                    from_before: source,
                    from_after,
                })
            })
            .await?;
        self.list_cache().offer(ticket, owner, &moved.to.after);
        self.list_cache().offer(ticket, owner, &moved.from_after);
        Ok(moved)
    }

    /// As [`Store::edit`] (never creating the list), but planned first on the
    /// copy kept in memory: when that plan changes nothing ("remove the eggs"
    /// with no eggs on the list) the answer is that copy, read as any list
    /// read is, and nothing is written; the writer, its transaction and its
    /// commit are skipped. Otherwise the plan runs again in the write
    /// transaction, on the list as it is there.
    pub(crate) async fn edit_if_changed<T, F>(
        &self,
        who: Access,
        target: ListRef,
        plan: F,
    ) -> Result<Edit<T>>
    where
        T: Send + 'static,
        F: Fn(&GroceryList) -> Result<(Vec<ListOp>, T)> + Send + 'static,
    {
        let kept = match &target {
            ListRef::Id(id) => self.list_cache().get(who.user, *id),
            ListRef::Name(name) => self.list_cache().find(who.user, name),
        };
        if let Some(list) = kept {
            let (ops, extra) = plan(&list)?;
            if ops.is_empty() {
                return Ok(Edit {
                    before: list.clone(),
                    done: Vec::new(),
                    after: list,
                    extra,
                    created: false,
                });
            }
        }
        self.edit(who, target, false, plan).await
    }

    /// A list with its items, by name (case-insensitive), in one read.
    pub(crate) async fn find_list_full(
        &self,
        owner: UserId,
        name: String,
    ) -> Result<Option<GroceryList>> {
        if let Some(l) = self.list_cache().find(owner, &name) {
            return Ok(Some(l));
        }
        let ticket = self.list_cache().ticket();
        let found = self
            .read(move |c| {
                let id = c
                    .prepare_cached(
                        "SELECT id FROM lists WHERE owner_id = ?1 AND name = ?2 COLLATE NOCASE",
                    )?
                    .query_row(params![owner.0, name], |r| r.get(0))
                    .optional()?;
                match id {
                    Some(id) => get_list(c, owner, ListId(id)).map(Some),
                    None => Ok(None),
                }
            })
            .await?;
        if let Some(l) = &found {
            self.list_cache().offer(ticket, owner, l);
        }
        Ok(found)
    }

    /// Create a list; [`Error::Conflict`] if the owner has one of that name.
    pub(crate) async fn create_list(&self, owner: UserId, name: String) -> Result<GroceryList> {
        let ticket = self.list_cache().ticket();
        let list = self
            .write_repeatable(move |tx| {
                let id = create_in(tx, owner, &name)?;
                get_list(tx, owner, id)
            })
            .await?;
        self.list_cache().offer(ticket, owner, &list);
        Ok(list)
    }

    /// The lists `owner` owns or was shared, oldest first.
    pub(crate) async fn lists_of(&self, owner: UserId) -> Result<Vec<ListSummary>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT l.id, l.name, count(i.id), count(i.id) - coalesce(sum(i.checked), 0), \
                 l.updated_at, CASE WHEN l.owner_id = ?1 THEN 'owner' ELSE s.role END, l.version \
                 FROM lists l LEFT JOIN list_shares s ON s.list_id = l.id AND s.user_id = ?1 \
                 LEFT JOIN list_items i ON i.list_id = l.id \
                 WHERE l.owner_id = ?1 OR s.user_id IS NOT NULL \
                 GROUP BY l.id ORDER BY l.created_at, l.id",
            )?;
            let rows = stmt.query_map(params![owner.0], |r| {
                Ok(ListSummary {
                    id: ListId(r.get(0)?),
                    name: r.get(1)?,
                    items: r.get::<_, i64>(2)? as u64,
                    remaining: r.get::<_, i64>(3)? as u64,
                    updated_at: ts(r.get(4)?),
                    role: role_from_sql(&r.get::<_, String>(5)?),
                    version: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Every list `user` may see, with its items, oldest first, in one read.
    pub(crate) async fn lists_full(&self, user: UserId) -> Result<Vec<GroceryList>> {
        if let Some(all) = self.list_cache().all(user) {
            return Ok(all);
        }
        let ticket = self.list_cache().ticket();
        let all = self
            .read(move |c| {
                // One snapshot for all of them.
                let c = &c.unchecked_transaction()?;
                let ids: Vec<i64> = c
                    .prepare_cached(
                        "SELECT l.id FROM lists l LEFT JOIN list_shares s ON s.list_id = l.id \
                     AND s.user_id = ?1 WHERE l.owner_id = ?1 OR s.user_id IS NOT NULL \
                     ORDER BY l.created_at, l.id",
                    )?
                    .query_map(params![user.0], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                ids.into_iter()
                    .map(|id| get_list(c, user, ListId(id)))
                    .collect::<Result<Vec<_>>>()
            })
            .await?;
        self.list_cache().offer_all(ticket, user, &all);
        Ok(all)
    }

    /// A list with its items.
    pub(crate) async fn get_list(&self, owner: UserId, id: ListId) -> Result<GroceryList> {
        if let Some(l) = self.list_cache().get(owner, id) {
            return Ok(l);
        }
        let ticket = self.list_cache().ticket();
        let list = self.read(move |c| get_list(c, owner, id)).await?;
        self.list_cache().offer(ticket, owner, &list);
        Ok(list)
    }

    /// Rename a list.
    pub(crate) async fn rename_list(
        &self,
        who: Access,
        id: ListId,
        name: String,
    ) -> Result<GroceryList> {
        let owner = who.user;
        self.write_repeatable(move |tx| {
            rename_in(tx, who, id, &name)?;
            get_list(tx, owner, id)
        })
        .await
    }

    /// Delete a list and its items.
    pub(crate) async fn delete_list(&self, who: Access, id: ListId) -> Result<()> {
        self.write_repeatable(move |tx| delete_in(tx, who, id))
            .await
    }

    /// Add (or merge) an item.
    pub(crate) async fn add_item(
        &self,
        who: Access,
        list: ListId,
        item: NewItem,
    ) -> Result<ListItem> {
        let mut items = self.add_items(who, list, vec![item]).await?;
        items
            .pop()
            .ok_or_else(|| Error::Internal("an add returned no item".into()))
    }

    /// Add several items in one transaction: all land or none do.
    pub(crate) async fn add_items(
        &self,
        who: Access,
        list: ListId,
        items: Vec<NewItem>,
    ) -> Result<Vec<ListItem>> {
        let ops: Vec<ListOp> = items.into_iter().map(ListOp::Add).collect();
        let done = self
            .write_repeatable(move |tx| change(tx, who, list, &ops))
            .await?;
        Ok(done
            .into_iter()
            .filter_map(|d| match d {
                OpDone::Item(i) => Some(i),
                _ => None,
            })
            .collect())
    }

    /// Change an item.
    pub(crate) async fn update_item(
        &self,
        who: Access,
        list: ListId,
        item: ItemId,
        patch: ItemPatch,
    ) -> Result<ListItem> {
        let ops = vec![ListOp::Update(item, patch)];
        match self
            .write_repeatable(move |tx| change(tx, who, list, &ops))
            .await?
            .pop()
        {
            Some(OpDone::Item(i)) => Ok(i),
            _ => Err(Error::Internal("an update returned no item".into())),
        }
    }

    /// Remove an item.
    pub(crate) async fn remove_item(&self, who: Access, list: ListId, item: ItemId) -> Result<()> {
        let ops = vec![ListOp::Remove(item)];
        self.write_repeatable(move |tx| change(tx, who, list, &ops))
            .await?;
        Ok(())
    }

    /// Replace a list's items with `items` (names, quantities, notes, products,
    /// checked state and authors kept; ids are new), in one transaction.
    pub(crate) async fn restore_items(
        &self,
        who: Access,
        list: ListId,
        items: Vec<ListItem>,
    ) -> Result<()> {
        self.write_repeatable(move |tx| restore_in(tx, who, list, &items))
            .await
    }

    /// Apply an agent's undo entry, its steps last first, in one transaction:
    /// all of them, or none when any fails. `current` is the list the session
    /// is on; returns it as the steps leave it (a list put back or recreated
    /// becomes current, a deleted one stops being).
    pub(crate) async fn undo(
        &self,
        who: Access,
        steps: Vec<UndoStep>,
        current: Option<ListId>,
    ) -> Result<Option<ListId>> {
        self.write_repeatable(move |tx| {
            let mut current = current;
            for step in steps.iter().rev() {
                match step {
                    UndoStep::Restore { list, items } => {
                        restore_in(tx, who, *list, items)?;
                        current = Some(*list);
                    }
                    UndoStep::Revert { list, revert } => {
                        revert_in(tx, who, *list, revert)?;
                        current = Some(*list);
                    }
                    UndoStep::DeleteList { list } => {
                        delete_in(tx, who, *list)?;
                        if current == Some(*list) {
                            current = None;
                        }
                    }
                    UndoStep::Recreate { name, items } => {
                        let list = own_or_created(tx, who.user, name)?;
                        restore_in(tx, who, list, items)?;
                        current = Some(list);
                    }
                    UndoStep::Rename { list, name } => {
                        rename_in(tx, who, *list, name)?;
                        current = Some(*list);
                    }
                }
            }
            Ok(current)
        })
        .await
    }

    /// Remove every item; returns how many went.
    pub(crate) async fn clear_items(&self, who: Access, list: ListId) -> Result<u64> {
        self.write_repeatable(move |tx| {
            let header = writable(tx, who, list, Role::Editor)?;
            let n = tx
                .prepare_cached("DELETE FROM list_items WHERE list_id = ?1")?
                .execute(params![list.0])?;
            if n > 0 {
                touch(tx, &header, who.user, now_ms())?;
            }
            Ok(n as u64)
        })
        .await
    }

    /// Remove every checked item; returns how many went.
    pub(crate) async fn clear_checked(&self, who: Access, list: ListId) -> Result<u64> {
        self.write_repeatable(move |tx| {
            let header = writable(tx, who, list, Role::Editor)?;
            let n = tx
                .prepare_cached("DELETE FROM list_items WHERE list_id = ?1 AND checked = 1")?
                .execute(params![list.0])?;
            if n > 0 {
                touch(tx, &header, who.user, now_ms())?;
            }
            Ok(n as u64)
        })
        .await
    }

    /// Share a list with `user` as `role` (editor or viewer), or change their
    /// role; only the owner may. Returns the list as the owner sees it.
    pub(crate) async fn share_list(
        &self,
        who: Access,
        id: ListId,
        user: UserId,
        role: Role,
    ) -> Result<GroceryList> {
        self.write_repeatable(move |tx| {
            let list = writable(tx, who, id, Role::Owner)?;
            if user == list.owner {
                return Err(Error::invalid("the owner already has every right"));
            }
            if role == Role::Owner {
                return Err(Error::invalid("a list has one owner; share as editor or viewer"));
            }
            let exists: bool = tx
                .prepare_cached("SELECT 1 FROM users WHERE id = ?1 AND revoked_at IS NULL")?
                .query_row(params![user.0], |_| Ok(true))
                .optional()?
                .unwrap_or(false);
            if !exists {
                return Err(Error::not_found("user", user.to_string()));
            }
            let now = now_ms();
            tx.prepare_cached(
                "INSERT INTO list_shares (list_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (list_id, user_id) DO UPDATE SET role = excluded.role",
            )?
            .execute(params![id.0, user.0, role.as_str(), now])?;
            touch_as(tx, &list, who.user, now, ChangeKind::Shared)?;
            get_list(tx, who.user, id)
        })
        .await
    }

    /// Take `user`'s access to a list away (the owner may; a user may leave a
    /// list shared with them). Returns whether they had access.
    pub(crate) async fn unshare_list(&self, who: Access, id: ListId, user: UserId) -> Result<bool> {
        self.write_repeatable(move |tx| {
            let need = if user == who.user {
                Role::Viewer
            } else {
                Role::Owner
            };
            let list = writable(tx, who, id, need)?;
            let users = audience(tx, id, list.owner.0)?;
            let n = tx
                .prepare_cached("DELETE FROM list_shares WHERE list_id = ?1 AND user_id = ?2")?
                .execute(params![id.0, user.0])?;
            if n == 0 {
                return Ok(false);
            }
            let now = now_ms();
            let (version, _) = bump_version(tx, &list, now)?;
            log_change(tx, id, version, ChangeKind::Unshared, who.user, &users, now)?;
            Ok(true)
        })
        .await
    }

    /// Who a list is shared with, and as what (the owner or a sharer may ask).
    pub(crate) async fn list_shares(
        &self,
        user: UserId,
        id: ListId,
    ) -> Result<Vec<(crate::lists::User, Role)>> {
        self.read(move |c| {
            list_header(c, user, id)?;
            let mut stmt = c.prepare_cached(
                "SELECT u.id, u.name, u.created_at, s.role FROM list_shares s \
                 JOIN users u ON u.id = s.user_id WHERE s.list_id = ?1 ORDER BY u.name",
            )?;
            let rows = stmt.query_map(params![id.0], |r| {
                Ok((
                    crate::lists::User {
                        id: UserId(r.get(0)?),
                        name: r.get(1)?,
                        created_at: ts(r.get(2)?),
                    },
                    role_from_sql(&r.get::<_, String>(3)?),
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Changes logged after `after`, in order, at most `limit`, each with its
    /// audience; `user` narrows them to what that user may see.
    pub(crate) async fn list_changes(
        &self,
        after: i64,
        user: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<ListChange>> {
        self.read(move |c| {
            // No `LIMIT ?`: a bound LIMIT makes SQLite prepare the statement
            // again at every run. Rows come in `seq` order; taking `limit` of
            // them stops the scan there.
            let mut stmt = c.prepare_cached(
                "SELECT e.seq, e.list_id, e.version, e.kind, e.actor_id, e.at, \
                 (SELECT group_concat(a.user_id) FROM list_event_audience a WHERE a.seq = e.seq) \
                 FROM list_events e WHERE e.seq > ?1 AND (?2 IS NULL OR EXISTS \
                 (SELECT 1 FROM list_event_audience a WHERE a.seq = e.seq AND a.user_id = ?2)) \
                 ORDER BY e.seq",
            )?;
            let rows = stmt.query_map(params![after, user.map(|u| u.0)], |r| {
                let kind = match r.get::<_, String>(3)?.as_str() {
                    "deleted" => ChangeKind::Deleted,
                    "shared" => ChangeKind::Shared,
                    "unshared" => ChangeKind::Unshared,
                    _ => ChangeKind::Changed,
                };
                let audience: Option<String> = r.get(6)?;
                Ok(ListChange {
                    seq: r.get(0)?,
                    list_id: ListId(r.get(1)?),
                    version: r.get(2)?,
                    kind,
                    actor: UserId(r.get(4)?),
                    at: ts(r.get(5)?),
                    audience: audience
                        .unwrap_or_default()
                        .split(',')
                        .filter_map(|u| u.parse().ok().map(UserId))
                        .collect(),
                })
            })?;
            Ok(rows.take(limit).collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// The last logged change's `seq` (0 when none) and the oldest kept (the
    /// log is pruned; a client behind it must resync).
    pub(crate) async fn list_change_bounds(&self) -> Result<(i64, i64)> {
        self.read(|c| {
            Ok(c.prepare_cached(
                // Two subqueries: each uses the index's first or last row;
                // max() and min() together would scan the whole log.
                "SELECT coalesce((SELECT max(seq) FROM list_events), 0), \
                 coalesce((SELECT min(seq) FROM list_events), 0)",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
        })
        .await
    }

    /// Forget logged changes older than `before_ms`, keeping the newest; returns
    /// how many went.
    pub(crate) async fn prune_list_changes(&self, before_ms: i64) -> Result<usize> {
        self.write_repeatable(move |tx| {
            // The newest stays: the next seq is max(seq) + 1, never one used.
            const GOING: &str = "SELECT seq FROM list_events WHERE at < ?1 \
                                 AND seq < (SELECT max(seq) FROM list_events)";
            tx.prepare_cached(&format!(
                "DELETE FROM list_event_audience WHERE seq IN ({GOING})"
            ))?
            .execute(params![before_ms])?;
            Ok(tx
                .prepare_cached(&format!("DELETE FROM list_events WHERE seq IN ({GOING})"))?
                .execute(params![before_ms])?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::{ListOp, OpDone};
    use crate::grocery::temp_grocery;
    use crate::lists::{ItemPatch, NewItem};
    use crate::quantity::Quantity;

    /// A move is one transaction: the lines land on the other list (merged
    /// into a line for the same thing, quantity, product and note kept) and
    /// leave this one, and the lists handed back are the lists as stored. A
    /// move that cannot be done whole (a line not on the list, a move onto
    /// the list itself) changes neither list and makes no list.
    #[tokio::test]
    async fn a_move_lands_and_leaves_together_or_not_at_all() {
        let (g, _d) = temp_grocery().await;
        let lists = g.lists();
        let home = lists.create("home").await.unwrap();
        let costco = lists.create("costco").await.unwrap();
        let added = lists
            .add_items(
                home.id,
                vec![
                    NewItem::new("milk")
                        .product("gv-whole-milk-1gal")
                        .quantity(Quantity::parse("2 gal").unwrap()),
                    NewItem::new("rice").note("brown"),
                    NewItem::new("eggs"),
                ],
            )
            .await
            .unwrap();
        lists
            .add_items(
                costco.id,
                vec![
                    NewItem::new("milk")
                        .product("gv-whole-milk-1gal")
                        .quantity(Quantity::parse("1 gal").unwrap()),
                ],
            )
            .await
            .unwrap();
        let (milk, rice, eggs) = (added[0].id, added[1].id, added[2].id);

        // Not whole: nothing moves, and no "party" list is made.
        let home_before = lists.get(home.id).await.unwrap();
        let costco_before = lists.get(costco.id).await.unwrap();
        let gone = crate::lists::ItemId(i64::MAX);
        assert!(matches!(
            lists.move_lines(home.id, "party", vec![rice, gone]).await,
            Err(crate::Error::NotFound { .. })
        ));
        assert!(matches!(
            lists.move_lines(home.id, "HOME", vec![rice]).await,
            Err(crate::Error::InvalidInput(_))
        ));
        assert_eq!(lists.get(home.id).await.unwrap(), home_before);
        assert_eq!(lists.get(costco.id).await.unwrap(), costco_before);
        assert!(lists.find("party").await.is_err());

        let moved = lists
            .move_lines(home.id, "costco", vec![milk, rice])
            .await
            .unwrap();
        assert!(!moved.to.created);
        assert_eq!(moved.to.after, lists.get(costco.id).await.unwrap());
        assert_eq!(moved.from_after, lists.get(home.id).await.unwrap());
        let line = |l: &crate::lists::GroceryList, n: &str| {
            l.items
                .iter()
                .find(|i| i.name == n)
                .map(|i| (i.quantity.to_string(), i.note.clone()))
        };
        assert_eq!(line(&moved.to.after, "milk"), Some(("3 gal".into(), None)));
        assert_eq!(
            line(&moved.to.after, "rice"),
            Some(("1 ct".into(), Some("brown".into())))
        );
        let left: Vec<_> = moved.from_after.items.iter().map(|i| i.id).collect();
        assert_eq!(left, [eggs]);
    }

    /// A line already checked off moves checked, as a line of its own (not
    /// merged into a line of the same thing still to buy there), beside the
    /// unchecked lines, which merge as before; alone, it still moves the
    /// list's version on and may make the list.
    #[tokio::test]
    async fn a_checked_line_moves_checked_and_on_its_own() {
        let (g, _d) = temp_grocery().await;
        let lists = g.lists();
        let home = lists.create("home").await.unwrap();
        let costco = lists.create("costco").await.unwrap();
        let gallons = |n: &str| {
            NewItem::new("milk")
                .product("gv-whole-milk-1gal")
                .quantity(Quantity::parse(n).unwrap())
        };
        let added = lists
            .add_items(
                home.id,
                vec![
                    gallons("2 gal"),
                    NewItem::new("bread"),
                    NewItem::new("eggs"),
                ],
            )
            .await
            .unwrap();
        lists
            .add_items(costco.id, vec![gallons("1 gal")])
            .await
            .unwrap();
        let (milk, bread, eggs) = (added[0].id, added[1].id, added[2].id);
        lists.check(home.id, milk, true).await.unwrap();
        lists.check(home.id, eggs, true).await.unwrap();
        let costco_before = lists.get(costco.id).await.unwrap();

        let moved = lists
            .move_lines(home.id, "costco", vec![milk, bread])
            .await
            .unwrap();
        let stored = lists.get(costco.id).await.unwrap();
        assert_eq!(moved.to.after, stored);
        assert!(stored.version > costco_before.version);
        let lines: Vec<(String, String, bool)> = stored
            .items
            .iter()
            .map(|i| (i.name.clone(), i.quantity.to_string(), i.checked))
            .collect();
        assert_eq!(
            lines,
            // The new lines in the order they were moved.
            [
                ("milk".to_string(), "1 gal".to_string(), false),
                ("milk".to_string(), "2 gal".to_string(), true),
                ("bread".to_string(), "1 ct".to_string(), false),
            ]
        );
        assert_eq!(
            stored.items[1].product_id.as_deref(),
            Some("gv-whole-milk-1gal")
        );
        assert_eq!(moved.from_after, lists.get(home.id).await.unwrap());

        // Only checked lines, onto a list made for them.
        let moved = lists
            .move_lines(home.id, "party", vec![eggs])
            .await
            .unwrap();
        assert!(moved.to.created);
        let party = lists.get(moved.to.after.id).await.unwrap();
        assert_eq!(moved.to.after, party);
        assert!(party.version > moved.to.before.version);
        assert!(matches!(&party.items[..], [e] if e.name == "eggs" && e.checked));
        assert!(lists.get(home.id).await.unwrap().items.is_empty());
    }

    /// Several changes in one edit: the list handed back (built from the list
    /// before and what each change did) is the list as stored, and the version
    /// and the change log move once for the whole edit.
    #[tokio::test]
    async fn a_batch_of_changes_returns_the_stored_list_and_bumps_once() {
        let (g, _d) = temp_grocery().await;
        let lists = g.lists();
        let list = lists.create("week").await.unwrap();
        let first = lists
            .add_items(
                list.id,
                vec![
                    NewItem::new("milk").product("gv-whole-milk-1gal"),
                    NewItem::new("bananas"),
                    NewItem::new("rice").note("brown"),
                ],
            )
            .await
            .unwrap();
        let (milk, bananas, rice) = (first[0].id, first[1].id, first[2].id);
        let v0 = lists.get(list.id).await.unwrap().version;
        let log0 = lists.changes_since(0, 1000).await.unwrap().unwrap().len();

        let ops = vec![
            // Merges into the milk line.
            ListOp::Add(
                NewItem::new("milk")
                    .product("gv-whole-milk-1gal")
                    .quantity(Quantity::count(2).unwrap())
                    .note("for the week"),
            ),
            ListOp::Add(NewItem::new("eggs").quantity(Quantity::count(12).unwrap())),
            ListOp::Update(
                bananas,
                ItemPatch {
                    checked: Some(true),
                    note: Some(Some("ripe".into())),
                    ..ItemPatch::default()
                },
            ),
            ListOp::Remove(rice),
        ];
        let (done, after) = lists.apply(list.id, ops).await.unwrap();
        assert!(matches!(&done[0], OpDone::Item(i) if i.id == milk));
        assert!(matches!(&done[3], OpDone::Removed(id) if *id == rice));
        let stored = lists.get(list.id).await.unwrap();
        assert_eq!(after, stored);
        assert_eq!(stored.version, v0 + 1);
        assert_eq!(stored.items.len(), 3);
        let log = lists.changes_since(0, 1000).await.unwrap().unwrap();
        assert_eq!(log.len(), log0 + 1);

        // A batch that fails part-way changes nothing, the version included.
        let bad = vec![ListOp::Add(NewItem::new("tea")), ListOp::Remove(rice)];
        assert!(lists.apply(list.id, bad).await.is_err());
        assert_eq!(lists.get(list.id).await.unwrap(), stored);

        // Clearing is a change; clearing an empty list is not.
        let (_, cleared) = lists.apply(list.id, vec![ListOp::Clear]).await.unwrap();
        assert_eq!((cleared.items.len(), cleared.version), (0, v0 + 2));
        assert_eq!(lists.get(list.id).await.unwrap(), cleared);
        let (_, again) = lists.apply(list.id, vec![ListOp::Clear]).await.unwrap();
        assert_eq!(again.version, v0 + 2);
    }

    /// A change moves the version on from the header it read in its
    /// transaction without reading it back; with a header older than the
    /// list (which no caller hands it, but the bump must not trust) it still
    /// moves on from the stored version and logs the change at it.
    #[tokio::test]
    async fn a_change_from_an_old_header_moves_the_stored_version_on() {
        let (g, _d) = temp_grocery().await;
        let lists = g.lists();
        let list = lists.create("week").await.unwrap();
        lists
            .add_items(list.id, vec![NewItem::new("milk")])
            .await
            .unwrap();
        let old = lists.get(list.id).await.unwrap();
        lists
            .add_items(list.id, vec![NewItem::new("eggs")])
            .await
            .unwrap();
        let v = lists.get(list.id).await.unwrap().version;
        assert_eq!(v, old.version + 1);
        let who = super::Access::from(old.owner);
        let after = g
            .store()
            .write(move |tx| {
                let ops = [ListOp::Add(NewItem::new("tea"))];
                Ok(super::apply_ops(tx, who, &old, &ops)?.1)
            })
            .await
            .unwrap();
        assert_eq!(after.version, v + 1);
        assert_eq!(lists.get(list.id).await.unwrap().version, v + 1);
        let log = lists.changes_since(0, 1000).await.unwrap().unwrap();
        let last = log.last().unwrap();
        assert_eq!((last.list_id, last.version), (list.id, v + 1));
        let at_v = |c: &&crate::lists::ListChange| c.list_id == list.id && c.version == v + 1;
        assert_eq!(log.iter().filter(at_v).count(), 1);
    }
}
