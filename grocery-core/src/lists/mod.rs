//! Grocery lists: create, rename, delete; add (merging), update, check and remove
//! items; price a list from the catalog.

mod current;
mod lines;
mod model;

pub use lines::{LinesAdded, MAX_LINES, RejectedLine};
pub use model::{
    ChangeKind, GroceryList, ItemId, ItemPatch, ListChange, ListId, ListItem, ListOp, ListSummary,
    MAX_NAME_CHARS, MAX_NOTE_CHARS, NewItem, OpDone, PricedLine, PricedList, Role, User, UserId,
};

pub(crate) use model::{Revert, UndoStep, clean_name};

/// A patch with its name and note checked and tidied as they are stored.
fn clean_patch(mut patch: ItemPatch) -> Result<ItemPatch> {
    if let Some(n) = &patch.name {
        patch.name = Some(clean_name("item name", n)?);
    }
    if let Some(n) = &patch.note {
        patch.note = Some(clean_note(n.as_deref())?);
    }
    Ok(patch)
}
use model::clean_note;

use crate::error::{Error, Result};
use crate::grocery::Grocery;
use crate::money::{Currency, Money};

/// Name of the list used when none is named.
pub const DEFAULT_LIST: &str = "Shopping";

/// List operations for one user; get one from [`Grocery::lists`].
#[derive(Debug, Clone, Copy)]
pub struct Lists<'a> {
    g: &'a Grocery,
    owner: UserId,
    expected: Option<i64>,
}

impl<'a> Lists<'a> {
    pub(crate) fn new(g: &'a Grocery, owner: UserId) -> Self {
        Lists {
            g,
            owner,
            expected: None,
        }
    }

    /// The same operations, but each write happens only if the list is still
    /// at `version` (what the caller last read; the HTTP `If-Match`), failing
    /// with [`Error::StaleVersion`] and changing nothing otherwise.
    #[must_use]
    pub fn expecting(self, version: i64) -> Self {
        Lists {
            expected: Some(version),
            ..self
        }
    }

    fn access(&self) -> crate::store::Access {
        crate::store::Access {
            user: self.owner,
            expected: self.expected,
        }
    }

    /// Share a list with another user as [`Role::Editor`] or [`Role::Viewer`]
    /// (or change their role). Only the owner may.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a list this user cannot see or an unknown user;
    /// [`Error::Forbidden`] when this user is not the owner;
    /// [`Error::InvalidInput`] for sharing with the owner or as owner.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn share(&self, id: ListId, user: UserId, role: Role) -> Result<GroceryList> {
        self.g
            .store()
            .share_list(self.access(), id, user, role)
            .await
    }

    /// Take a user's access to a list away (the owner may; anyone may leave a
    /// list shared with them). Returns whether they had access.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Forbidden`] for someone else's access
    /// when this user is not the owner.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn unshare(&self, id: ListId, user: UserId) -> Result<bool> {
        self.g.store().unshare_list(self.access(), id, user).await
    }

    /// The changes to lists this user may see, logged after `after` (a `seq`
    /// they saw), oldest first, at most `limit`. `None` when `after` is older
    /// than the log keeps ([`crate::LIST_CHANGES_KEPT`]): the client
    /// must reload its lists.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn changes_since(&self, after: i64, limit: usize) -> Result<Option<Vec<ListChange>>> {
        let store = self.g.store();
        let (_, oldest) = store.list_change_bounds().await?;
        if after < oldest.saturating_sub(1) {
            return Ok(None);
        }
        store
            .list_changes(after, Some(self.owner), limit)
            .await
            .map(Some)
    }

    /// The `seq` of the latest logged change to any list (0 when none): the
    /// cursor of "now" for a client that starts listening.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn latest_change(&self) -> Result<i64> {
        Ok(self.g.store().list_change_bounds().await?.0)
    }

    /// Who a list is shared with, and as what.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a list this user cannot see.
    pub async fn shares(&self, id: ListId) -> Result<Vec<(User, Role)>> {
        self.g.store().list_shares(self.owner, id).await
    }

    /// Create a list.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty or over-long name;
    /// [`Error::Conflict`] if this user already has a list of that name.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn create(&self, name: &str) -> Result<GroceryList> {
        let name = clean_name("list name", name)?;
        self.g.store().create_list(self.owner, name).await
    }

    /// The lists this user owns or was shared, oldest first.
    ///
    /// # Errors
    /// Storage errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn all(&self) -> Result<Vec<ListSummary>> {
        self.g.store().lists_of(self.owner).await
    }

    /// Every list this user owns or was shared, with its items, oldest first,
    /// read together (one consistent view).
    ///
    /// # Errors
    /// Storage errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn all_with_items(&self) -> Result<Vec<GroceryList>> {
        self.g.store().lists_full(self.owner).await
    }

    /// A list with its items.
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no such list for this user.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn get(&self, id: ListId) -> Result<GroceryList> {
        self.g.store().get_list(self.owner, id).await
    }

    /// A list by name, case-insensitively.
    ///
    /// # Errors
    /// [`Error::NotFound`] if this user has no list of that name.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn find(&self, name: &str) -> Result<GroceryList> {
        let name = clean_name("list name", name)?;
        match self
            .g
            .store()
            .find_list_full(self.owner, name.clone())
            .await?
        {
            Some(list) => Ok(list),
            None => Err(Error::not_found("list", name)),
        }
    }

    /// Plan and apply changes to one list in one write transaction (see
    /// [`crate::store::Store::edit`]); added items must already be cleaned with
    /// [`Lists::cleaned`].
    pub(crate) async fn edit<T, F>(
        &self,
        target: crate::store::ListRef,
        create: bool,
        plan: F,
    ) -> Result<crate::store::Edit<T>>
    where
        T: Send + 'static,
        F: Fn(&GroceryList) -> Result<(Vec<ListOp>, T)> + Send + 'static,
    {
        let target = cleaned_target(target)?;
        self.g
            .store()
            .edit(self.access(), target, create, plan)
            .await
    }

    /// Move lines of list `from` onto the list called `to` (made when
    /// missing), all in one write transaction (see
    /// [`crate::store::Store::move_lines`]).
    pub(crate) async fn move_lines(
        &self,
        from: ListId,
        to: &str,
        ids: Vec<ItemId>,
    ) -> Result<crate::store::Moved> {
        let to = clean_name("list name", to)?;
        self.g
            .store()
            .move_lines(self.access(), from, to, ids)
            .await
    }

    /// As [`Lists::edit`] on an existing list, without writing anything when
    /// the plan changes nothing (see [`crate::store::Store::edit_if_changed`]).
    pub(crate) async fn edit_if_changed<T, F>(
        &self,
        target: crate::store::ListRef,
        plan: F,
    ) -> Result<crate::store::Edit<T>>
    where
        T: Send + 'static,
        F: Fn(&GroceryList) -> Result<(Vec<ListOp>, T)> + Send + 'static,
    {
        let target = cleaned_target(target)?;
        self.g
            .store()
            .edit_if_changed(self.access(), target, plan)
            .await
    }

    /// An item checked and tidied as [`Lists::add_items`] would store it.
    pub(crate) fn cleaned(&self, item: NewItem) -> Result<NewItem> {
        self.clean(item)
    }

    /// Apply several changes to one list in one transaction; returns what each
    /// did and the list afterwards, as that transaction left it. Nothing is
    /// written if any change fails. The list's version goes up by one for the
    /// whole batch (when anything changed), and one change is announced.
    ///
    /// # Errors
    /// As [`Lists::add_item`], [`Lists::update_item`] and [`Lists::remove_item`],
    /// for any of the changes; [`Error::StaleVersion`] when the list is not at
    /// the version given to [`Lists::expecting`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn apply(
        &self,
        list: ListId,
        ops: Vec<ListOp>,
    ) -> Result<(Vec<OpDone>, GroceryList)> {
        let ops = ops
            .into_iter()
            .map(|op| match op {
                ListOp::Add(item) => self.clean(item).map(ListOp::Add),
                ListOp::AddChecked(item) => self.clean(item).map(ListOp::AddChecked),
                ListOp::Update(id, patch) => clean_patch(patch).map(|p| ListOp::Update(id, p)),
                other => Ok(other),
            })
            .collect::<Result<Vec<_>>>()?;
        self.g.store().apply(self.access(), list, ops).await
    }

    /// A list by name, created if missing.
    ///
    /// # Errors
    /// As [`Lists::create`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn find_or_create(&self, name: &str) -> Result<GroceryList> {
        match self.find(name).await {
            Err(Error::NotFound { .. }) => match self.create(name).await {
                // Lost a race with another writer: the list exists now.
                Err(Error::Conflict(_)) => self.find(name).await,
                other => other,
            },
            other => other,
        }
    }

    /// Rename a list.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::InvalidInput`], [`Error::Conflict`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn rename(&self, id: ListId, name: &str) -> Result<GroceryList> {
        let name = clean_name("list name", name)?;
        self.g.store().rename_list(self.access(), id, name).await
    }

    /// Delete a list and its items.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn delete(&self, id: ListId) -> Result<()> {
        self.g.store().delete_list(self.access(), id).await
    }

    /// Add an item. An unchecked item of the same product (or, without a product,
    /// the same name) in a compatible unit absorbs the quantity instead
    /// (1 gal + 2 qt = 1.5 gal).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown list or product id; [`Error::InvalidInput`]
    /// for a bad name or note, or a merged quantity out of range.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn add_item(&self, list: ListId, item: NewItem) -> Result<ListItem> {
        let item = self.clean(item)?;
        self.g.store().add_item(self.access(), list, item).await
    }

    /// Add several items in one transaction: all are added or none.
    ///
    /// # Errors
    /// As [`Lists::add_item`], for any of the items.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn add_items(&self, list: ListId, items: Vec<NewItem>) -> Result<Vec<ListItem>> {
        let items = items
            .into_iter()
            .map(|i| self.clean(i))
            .collect::<Result<Vec<_>>>()?;
        self.g.store().add_items(self.access(), list, items).await
    }

    fn clean(&self, mut item: NewItem) -> Result<NewItem> {
        if item.name.trim().is_empty()
            && let Some(pid) = &item.product_id
        {
            item.name = self.g.catalog().get(pid)?.name;
        }
        item.name = clean_name("item name", &item.name)?;
        item.note = clean_note(item.note.as_deref())?;
        Ok(item)
    }

    /// Change an item's name, quantity, note, product link or checked state.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::InvalidInput`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn update_item(
        &self,
        list: ListId,
        item: ItemId,
        patch: ItemPatch,
    ) -> Result<ListItem> {
        let patch = clean_patch(patch)?;
        self.g
            .store()
            .update_item(self.access(), list, item, patch)
            .await
    }

    /// Check (bought) or uncheck an item.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn check(&self, list: ListId, item: ItemId, checked: bool) -> Result<ListItem> {
        let patch = ItemPatch {
            checked: Some(checked),
            ..ItemPatch::default()
        };
        self.update_item(list, item, patch).await
    }

    /// Remove an item.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn remove_item(&self, list: ListId, item: ItemId) -> Result<()> {
        self.g.store().remove_item(self.access(), list, item).await
    }

    /// Put back a list's items as they were in `items` (an earlier snapshot), in
    /// one transaction. Used by undo.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn restore(&self, list: ListId, items: Vec<ListItem>) -> Result<()> {
        self.g
            .store()
            .restore_items(self.access(), list, items)
            .await
    }

    /// Apply an agent's undo entry (see [`crate::store::Store::undo`]): all
    /// of its steps in one transaction, or none. Returns the session's
    /// current list as the steps leave it.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a list that is gone or the caller may not see,
    /// [`Error::Forbidden`] for one they may no longer change; nothing is
    /// written then.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub(crate) async fn undo(
        &self,
        steps: Vec<UndoStep>,
        current: Option<ListId>,
    ) -> Result<Option<ListId>> {
        self.g.store().undo(self.access(), steps, current).await
    }

    /// Remove every item; returns how many were removed.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn clear(&self, list: ListId) -> Result<u64> {
        self.g.store().clear_items(self.access(), list).await
    }

    /// Remove every checked item; returns how many were removed.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn clear_checked(&self, list: ListId) -> Result<u64> {
        self.g.store().clear_checked(self.access(), list).await
    }

    /// The list priced from the catalog: each linked item is bought in whole packs
    /// (need 2 lb, sold as 16 oz: 2 packs); the total covers unchecked items.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InvalidInput`] if a total overflows.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn priced(&self, id: ListId) -> Result<PricedList> {
        let list = self.get(id).await?;
        self.price(list)
    }

    /// Price a list already in hand (see [`Lists::priced`]).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if a total overflows.
    pub fn price(&self, list: GroceryList) -> Result<PricedList> {
        let index = self.g.index();
        let mut total = Money::zero(Currency::Usd);
        let mut unpriced = 0;
        let mut lines = Vec::with_capacity(list.items.len());
        for item in list.items {
            let product = item.product_id.as_deref().and_then(|p| index.shared(p));
            let (packs, line_total) = match &product {
                Some(p) => match item.quantity.packs_needed(&p.size) {
                    Ok(n) => (n, Some(p.price.checked_mul(i64::from(n))?)),
                    Err(_) => (0, None),
                },
                None => (0, None),
            };
            if !item.checked {
                match line_total {
                    Some(m) => total = total.checked_add(m)?,
                    None => unpriced += 1,
                }
            }
            lines.push(PricedLine {
                item,
                product,
                packs,
                line_total,
            });
        }
        Ok(PricedList {
            id: list.id,
            name: list.name,
            version: list.version,
            lines,
            total,
            unpriced,
        })
    }
}

/// `target` with its name, if named by one, checked and tidied.
fn cleaned_target(target: crate::store::ListRef) -> Result<crate::store::ListRef> {
    Ok(match target {
        crate::store::ListRef::Name(n) => crate::store::ListRef::Name(clean_name("list name", &n)?),
        other => other,
    })
}
