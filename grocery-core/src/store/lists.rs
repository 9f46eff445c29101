//! Lists and their items. Every statement is scoped by owner, so a list that is
//! not the caller's reads as not found.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::{Store, amount_from_sql, amount_to_sql, now_ms, ts, unit_from_sql};
use crate::error::{Error, Result};
use crate::lists::{
    GroceryList, ItemId, ItemPatch, ListId, ListItem, ListSummary, NewItem, UserId,
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

fn list_header(conn: &Connection, owner: UserId, id: ListId) -> Result<GroceryList> {
    conn.prepare_cached(
        "SELECT id, name, owner_id, version, created_at, updated_at FROM lists \
         WHERE id = ?1 AND owner_id = ?2",
    )?
    .query_row(params![id.0, owner.0], |r| {
        Ok(GroceryList {
            id: ListId(r.get(0)?),
            name: r.get(1)?,
            owner: UserId(r.get(2)?),
            version: r.get(3)?,
            created_at: ts(r.get(4)?),
            updated_at: ts(r.get(5)?),
            items: Vec::new(),
        })
    })
    .optional()?
    .ok_or_else(|| Error::not_found("list", id.to_string()))
}

fn get_list(conn: &Connection, owner: UserId, id: ListId) -> Result<GroceryList> {
    let mut list = list_header(conn, owner, id)?;
    let mut stmt =
        conn.prepare_cached(&format!("{SELECT_ITEM} WHERE i.list_id = ?1 ORDER BY i.id"))?;
    let raws = stmt
        .query_map(params![id.0], raw_item)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    list.items = raws
        .into_iter()
        .map(RawItem::into_item)
        .collect::<Result<_>>()?;
    Ok(list)
}

fn get_item(conn: &Connection, list: ListId, item: ItemId) -> Result<ListItem> {
    conn.prepare_cached(&format!("{SELECT_ITEM} WHERE i.list_id = ?1 AND i.id = ?2"))?
        .query_row(params![list.0, item.0], raw_item)
        .optional()?
        .ok_or_else(|| Error::not_found("item", item.to_string()))?
        .into_item()
}

fn touch(tx: &Transaction<'_>, list: ListId, now: i64) -> Result<()> {
    tx.prepare_cached("UPDATE lists SET version = version + 1, updated_at = ?2 WHERE id = ?1")?
        .execute(params![list.0, now])?;
    Ok(())
}

fn product_pk(tx: &Transaction<'_>, id: &str) -> Result<i64> {
    tx.prepare_cached("SELECT pk FROM products WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::not_found("product", id))
}

/// Add an item, merging into an unchecked item of the same product (or, unlinked,
/// the same name) whose unit is compatible.
fn add_item(tx: &Transaction<'_>, owner: UserId, list: ListId, item: &NewItem) -> Result<ListItem> {
    list_header(tx, owner, list)?;
    let now = now_ms();
    let qty = match item.quantity {
        Some(q) => q,
        None => Quantity::count(1)?,
    };
    let pk = item
        .product_id
        .as_deref()
        .map(|id| product_pk(tx, id))
        .transpose()?;
    let candidates: Vec<(i64, String, String)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, amount, unit FROM list_items WHERE list_id = ?1 AND checked = 0 AND \
             ((?2 IS NOT NULL AND product_pk = ?2) OR \
              (?2 IS NULL AND product_pk IS NULL AND name = ?3 COLLATE NOCASE)) ORDER BY id",
        )?;
        stmt.query_map(params![list.0, pk, item.name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?
    };
    for (id, amount, unit) in candidates {
        let existing = Quantity::new(amount_from_sql(&amount)?, unit_from_sql(&unit)?);
        if !existing.unit.is_compatible(qty.unit) {
            continue;
        }
        let merged = existing.checked_add(&qty)?;
        tx.prepare_cached(
            "UPDATE list_items SET amount = ?2, unit = ?3, note = coalesce(?4, note), \
             updated_at = ?5 WHERE id = ?1",
        )?
        .execute(params![
            id,
            amount_to_sql(merged.amount),
            merged.unit.code(),
            item.note,
            now
        ])?;
        touch(tx, list, now)?;
        return get_item(tx, list, ItemId(id));
    }
    tx.prepare_cached(
        "INSERT INTO list_items (list_id, product_pk, name, amount, unit, note, added_by, \
         added_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![
        list.0,
        pk,
        item.name,
        amount_to_sql(qty.amount),
        qty.unit.code(),
        item.note,
        owner.0,
        now
    ])?;
    let id = tx.last_insert_rowid();
    touch(tx, list, now)?;
    get_item(tx, list, ItemId(id))
}

fn update_item(
    tx: &Transaction<'_>,
    owner: UserId,
    list: ListId,
    item: ItemId,
    patch: &ItemPatch,
) -> Result<ListItem> {
    list_header(tx, owner, list)?;
    let current = get_item(tx, list, item)?;
    let now = now_ms();
    let name = patch.name.as_ref().unwrap_or(&current.name);
    let qty = patch.quantity.unwrap_or(current.quantity);
    let note = match &patch.note {
        Some(n) => n.clone(),
        None => current.note.clone(),
    };
    let pk = match &patch.product_id {
        Some(Some(id)) => Some(product_pk(tx, id)?),
        Some(None) => None,
        None => match &current.product_id {
            Some(id) => Some(product_pk(tx, id)?),
            None => None,
        },
    };
    let checked = patch.checked.unwrap_or(current.checked);
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
    touch(tx, list, now)?;
    get_item(tx, list, item)
}

/// One change to a list, for [`Store::apply`].
#[derive(Debug, Clone)]
pub(crate) enum ListOp {
    /// Add an item (merged into a line for the same thing).
    Add(NewItem),
    /// Remove an item.
    Remove(ItemId),
    /// Change an item.
    Update(ItemId, ItemPatch),
    /// Remove every item.
    Clear,
}

/// What one [`ListOp`] did.
#[derive(Debug, Clone)]
pub(crate) enum OpDone {
    /// The line added or changed, as it is now.
    Item(ListItem),
    /// The item was removed.
    Removed,
    /// The list was emptied of this many items.
    Cleared(u64),
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

fn apply_op(tx: &Transaction<'_>, owner: UserId, list: ListId, op: &ListOp) -> Result<OpDone> {
    Ok(match op {
        ListOp::Add(item) => OpDone::Item(add_item(tx, owner, list, item)?),
        ListOp::Update(item, patch) => OpDone::Item(update_item(tx, owner, list, *item, patch)?),
        ListOp::Remove(item) => {
            let n = tx
                .prepare_cached("DELETE FROM list_items WHERE list_id = ?1 AND id = ?2")?
                .execute(params![list.0, item.0])?;
            if n == 0 {
                return Err(Error::not_found("item", item.to_string()));
            }
            touch(tx, list, now_ms())?;
            OpDone::Removed
        }
        ListOp::Clear => {
            let n = tx
                .prepare_cached("DELETE FROM list_items WHERE list_id = ?1")?
                .execute(params![list.0])?;
            if n > 0 {
                touch(tx, list, now_ms())?;
            }
            OpDone::Cleared(n as u64)
        }
    })
}

impl Store {
    /// Apply `ops` to a list in one transaction and return what each did and the
    /// list afterwards, read in the same transaction.
    pub(crate) async fn apply(
        &self,
        owner: UserId,
        list: ListId,
        ops: Vec<ListOp>,
    ) -> Result<(Vec<OpDone>, GroceryList)> {
        self.write(move |tx| {
            list_header(tx, owner, list)?;
            let mut done = Vec::with_capacity(ops.len());
            for op in &ops {
                done.push(apply_op(tx, owner, list, op)?);
            }
            Ok((done, get_list(tx, owner, list)?))
        })
        .await
    }

    /// Plan and apply changes to one list in one write transaction: find the list
    /// (by id, or by name and created if `create`), hand it to `plan`, apply the
    /// changes `plan` returns and read the list back.
    pub(crate) async fn edit<T, F>(
        &self,
        owner: UserId,
        target: ListRef,
        create: bool,
        plan: F,
    ) -> Result<Edit<T>>
    where
        T: Send + 'static,
        F: FnOnce(&GroceryList) -> Result<(Vec<ListOp>, T)> + Send + 'static,
    {
        self.write(move |tx| {
            let (id, created) = match target {
                ListRef::Id(id) => (id, false),
                ListRef::Name(name) => {
                    let found: Option<i64> = tx
                        .prepare_cached(
                            "SELECT id FROM lists WHERE owner_id = ?1 AND name = ?2 COLLATE NOCASE",
                        )?
                        .query_row(params![owner.0, name], |r| r.get(0))
                        .optional()?;
                    match found {
                        Some(id) => (ListId(id), false),
                        None if create => {
                            let now = now_ms();
                            tx.prepare_cached(
                                "INSERT INTO lists (owner_id, name, created_at, updated_at) \
                                 VALUES (?1, ?2, ?3, ?3)",
                            )?
                            .execute(params![owner.0, name, now])
                            .map_err(|e| conflict_on_unique(e, &name))?;
                            (ListId(tx.last_insert_rowid()), true)
                        }
                        None => return Err(Error::not_found("list", name)),
                    }
                }
            };
            let before = get_list(tx, owner, id)?;
            let (ops, extra) = plan(&before)?;
            let mut done = Vec::with_capacity(ops.len());
            for op in &ops {
                done.push(apply_op(tx, owner, id, op)?);
            }
            let after = if ops.is_empty() {
                before.clone()
            } else {
                get_list(tx, owner, id)?
            };
            Ok(Edit {
                before,
                done,
                after,
                extra,
                created,
            })
        })
        .await
    }

    /// A list with its items, by name (case-insensitive), in one read.
    pub(crate) async fn find_list_full(
        &self,
        owner: UserId,
        name: String,
    ) -> Result<Option<GroceryList>> {
        self.read(move |c| {
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
        .await
    }

    /// Create a list; [`Error::Conflict`] if the owner has one of that name.
    pub(crate) async fn create_list(&self, owner: UserId, name: String) -> Result<GroceryList> {
        self.write(move |tx| {
            let now = now_ms();
            tx.prepare_cached(
                "INSERT INTO lists (owner_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
            )?
            .execute(params![owner.0, name, now])
            .map_err(|e| conflict_on_unique(e, &name))?;
            get_list(tx, owner, ListId(tx.last_insert_rowid()))
        })
        .await
    }

    /// The owner's lists, oldest first.
    pub(crate) async fn lists_of(&self, owner: UserId) -> Result<Vec<ListSummary>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT l.id, l.name, count(i.id), count(i.id) - coalesce(sum(i.checked), 0), \
                 l.updated_at FROM lists l LEFT JOIN list_items i ON i.list_id = l.id \
                 WHERE l.owner_id = ?1 GROUP BY l.id ORDER BY l.created_at, l.id",
            )?;
            let rows = stmt.query_map(params![owner.0], |r| {
                Ok(ListSummary {
                    id: ListId(r.get(0)?),
                    name: r.get(1)?,
                    items: r.get::<_, i64>(2)? as u64,
                    remaining: r.get::<_, i64>(3)? as u64,
                    updated_at: ts(r.get(4)?),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// A list with its items.
    pub(crate) async fn get_list(&self, owner: UserId, id: ListId) -> Result<GroceryList> {
        self.read(move |c| get_list(c, owner, id)).await
    }

    /// Rename a list.
    pub(crate) async fn rename_list(
        &self,
        owner: UserId,
        id: ListId,
        name: String,
    ) -> Result<GroceryList> {
        self.write(move |tx| {
            list_header(tx, owner, id)?;
            tx.prepare_cached(
                "UPDATE lists SET name = ?3, version = version + 1, updated_at = ?4 \
                 WHERE id = ?1 AND owner_id = ?2",
            )?
            .execute(params![id.0, owner.0, name, now_ms()])
            .map_err(|e| conflict_on_unique(e, &name))?;
            get_list(tx, owner, id)
        })
        .await
    }

    /// Delete a list and its items.
    pub(crate) async fn delete_list(&self, owner: UserId, id: ListId) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM lists WHERE id = ?1 AND owner_id = ?2")?
                .execute(params![id.0, owner.0])?;
            if n == 0 {
                return Err(Error::not_found("list", id.to_string()));
            }
            Ok(())
        })
        .await
    }

    /// Add (or merge) an item.
    pub(crate) async fn add_item(
        &self,
        owner: UserId,
        list: ListId,
        item: NewItem,
    ) -> Result<ListItem> {
        self.write(move |tx| add_item(tx, owner, list, &item)).await
    }

    /// Add several items in one transaction: all land or none do.
    pub(crate) async fn add_items(
        &self,
        owner: UserId,
        list: ListId,
        items: Vec<NewItem>,
    ) -> Result<Vec<ListItem>> {
        self.write(move |tx| items.iter().map(|i| add_item(tx, owner, list, i)).collect())
            .await
    }

    /// Change an item.
    pub(crate) async fn update_item(
        &self,
        owner: UserId,
        list: ListId,
        item: ItemId,
        patch: ItemPatch,
    ) -> Result<ListItem> {
        self.write(move |tx| update_item(tx, owner, list, item, &patch))
            .await
    }

    /// Remove an item.
    pub(crate) async fn remove_item(
        &self,
        owner: UserId,
        list: ListId,
        item: ItemId,
    ) -> Result<()> {
        self.write(move |tx| {
            list_header(tx, owner, list)?;
            let n = tx
                .prepare_cached("DELETE FROM list_items WHERE list_id = ?1 AND id = ?2")?
                .execute(params![list.0, item.0])?;
            if n == 0 {
                return Err(Error::not_found("item", item.to_string()));
            }
            touch(tx, list, now_ms())
        })
        .await
    }

    /// Replace a list's items with `items` (names, quantities, notes, products,
    /// checked state and authors kept; ids are new), in one transaction.
    pub(crate) async fn restore_items(
        &self,
        owner: UserId,
        list: ListId,
        items: Vec<ListItem>,
    ) -> Result<()> {
        self.write(move |tx| {
            list_header(tx, owner, list)?;
            tx.prepare_cached("DELETE FROM list_items WHERE list_id = ?1")?
                .execute(params![list.0])?;
            for i in &items {
                let pk: Option<i64> = match &i.product_id {
                    Some(id) => tx
                        .prepare_cached("SELECT pk FROM products WHERE id = ?1")?
                        .query_row(params![id], |r| r.get(0))
                        .optional()?,
                    None => None,
                };
                tx.prepare_cached(
                    "INSERT INTO list_items (list_id, product_pk, name, amount, unit, note, checked, \
                     added_by, added_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    list.0,
                    pk,
                    i.name,
                    amount_to_sql(i.quantity.amount),
                    i.quantity.unit.code(),
                    i.note,
                    i.checked,
                    i.added_by.0,
                    i.added_at.as_millisecond(),
                    now_ms()
                ])?;
            }
            touch(tx, list, now_ms())
        })
        .await
    }

    /// Remove every item; returns how many went.
    pub(crate) async fn clear_items(&self, owner: UserId, list: ListId) -> Result<u64> {
        self.write(move |tx| {
            list_header(tx, owner, list)?;
            let n = tx
                .prepare_cached("DELETE FROM list_items WHERE list_id = ?1")?
                .execute(params![list.0])?;
            if n > 0 {
                touch(tx, list, now_ms())?;
            }
            Ok(n as u64)
        })
        .await
    }

    /// Remove every checked item; returns how many went.
    pub(crate) async fn clear_checked(&self, owner: UserId, list: ListId) -> Result<u64> {
        self.write(move |tx| {
            list_header(tx, owner, list)?;
            let n = tx
                .prepare_cached("DELETE FROM list_items WHERE list_id = ?1 AND checked = 1")?
                .execute(params![list.0])?;
            if n > 0 {
                touch(tx, list, now_ms())?;
            }
            Ok(n as u64)
        })
        .await
    }
}
