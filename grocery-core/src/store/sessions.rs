//! Agent sessions: the agent's small JSON state per user and session name, and
//! its undo entries one row each (see [`crate::agent::SessionSave`]).

use rusqlite::{OptionalExtension, params};

use super::{Store, now_ms};
use crate::agent::SessionSave;
use crate::error::Result;
use crate::lists::UserId;

impl Store {
    /// A session's saved state and its undo entries by number, if saved.
    pub(crate) async fn load_session(
        &self,
        user: UserId,
        name: String,
    ) -> Result<Option<(String, Vec<(i64, String)>)>> {
        self.read(move |c| {
            // One snapshot: a save between the two reads cannot mix.
            let c = &c.unchecked_transaction()?;
            let state: Option<String> = c
                .prepare_cached("SELECT state FROM agent_sessions WHERE user_id = ?1 AND name = ?2")?
                .query_row(params![user.0, name], |r| r.get(0))
                .optional()?;
            let Some(state) = state else {
                return Ok(None);
            };
            let undo = c
                .prepare_cached(
                    "SELECT seq, steps FROM agent_undo WHERE user_id = ?1 AND name = ?2 ORDER BY seq",
                )?
                .query_map(params![user.0, name], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some((state, undo)))
        })
        .await
    }

    /// Save sessions, in one transaction: each one's state, its changed undo
    /// entries, and the removal of entries it no longer has.
    pub(crate) async fn save_sessions(
        &self,
        sessions: Vec<(UserId, String, SessionSave)>,
    ) -> Result<()> {
        if sessions.is_empty() {
            return Ok(());
        }
        self.write(move |tx| {
            let now = now_ms();
            let mut head = tx.prepare_cached(
                "INSERT INTO agent_sessions (user_id, name, state, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (user_id, name) DO UPDATE SET state = excluded.state, \
                 updated_at = excluded.updated_at",
            )?;
            let mut gone = tx.prepare_cached(
                "DELETE FROM agent_undo WHERE user_id = ?1 AND name = ?2 AND (seq < ?3 OR seq >= ?4)",
            )?;
            let mut entry = tx.prepare_cached(
                "INSERT OR REPLACE INTO agent_undo (user_id, name, seq, steps) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (user, name, save) in &sessions {
                head.execute(params![user.0, name, save.state, now])?;
                gone.execute(params![user.0, name, save.undo_from, save.undo_to])?;
                for (seq, steps) in &save.undo {
                    entry.execute(params![user.0, name, seq, steps])?;
                }
            }
            Ok(())
        })
        .await
    }
}
