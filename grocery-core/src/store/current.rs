//! The current list of each user (`grocery list use NAME`).

use rusqlite::{OptionalExtension, params};

use super::Store;
use crate::error::Result;
use crate::lists::{ListId, UserId};

impl Store {
    /// The list `user` chose, if any (it may since have been unshared from them:
    /// the caller reads it with their access).
    pub(crate) async fn current_list(&self, user: UserId) -> Result<Option<ListId>> {
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT list_id FROM current_lists WHERE user_id = ?1")?
                    .query_row(params![user.0], |r| r.get(0).map(ListId))
                    .optional()?,
            )
        })
        .await
    }

    /// Make `list` the current list of `user` (the caller checked they may see it).
    pub(crate) async fn set_current_list(&self, user: UserId, list: ListId) -> Result<()> {
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO current_lists (user_id, list_id) VALUES (?1, ?2) \
                 ON CONFLICT (user_id) DO UPDATE SET list_id = excluded.list_id",
            )?
            .execute(params![user.0, list.0])?;
            Ok(())
        })
        .await
    }
}
