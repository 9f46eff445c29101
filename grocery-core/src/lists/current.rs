//! The current list: the one a frontend acts on when the user names none.

use super::{DEFAULT_LIST, GroceryList, ListId, Lists};
use crate::error::{Error, Result};

impl Lists<'_> {
    /// The list this user chose with [`Lists::set_current`], if it still exists
    /// and they may still see it.
    ///
    /// # Errors
    /// Storage errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn chosen(&self) -> Result<Option<GroceryList>> {
        let Some(id) = self.g.store().current_list(self.owner).await? else {
            return Ok(None);
        };
        match self.get(id).await {
            Ok(list) => Ok(Some(list)),
            // Unshared from them since: as if never chosen.
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The current list: the one chosen with [`Lists::set_current`], else the
    /// default list ([`DEFAULT_LIST`]), created if missing.
    ///
    /// # Errors
    /// Storage errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn current(&self) -> Result<GroceryList> {
        match self.chosen().await? {
            Some(list) => Ok(list),
            None => self.find_or_create(DEFAULT_LIST).await,
        }
    }

    /// The current list as [`Lists::current`] finds it, without creating the
    /// default list: `None` when none was chosen and the default list does
    /// not exist (yet). For readers that must not write.
    ///
    /// # Errors
    /// Storage errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn current_if_any(&self) -> Result<Option<GroceryList>> {
        if let Some(list) = self.chosen().await? {
            return Ok(Some(list));
        }
        match self.find(DEFAULT_LIST).await {
            Ok(list) => Ok(Some(list)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Make a list this user can see their current list (kept in the database,
    /// so every later process uses it). Returns the list.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a list this user cannot see.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn set_current(&self, id: ListId) -> Result<GroceryList> {
        let list = self.get(id).await?;
        self.g.store().set_current_list(self.owner, id).await?;
        Ok(list)
    }
}
