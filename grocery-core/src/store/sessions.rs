//! Agent sessions, kept as the agent's JSON per user and session name.

use rusqlite::{OptionalExtension, params};

use super::{Store, now_ms};
use crate::error::Result;
use crate::lists::UserId;

impl Store {
    /// A session's saved state, if any.
    pub(crate) async fn load_session(&self, user: UserId, name: String) -> Result<Option<String>> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT state FROM agent_sessions WHERE user_id = ?1 AND name = ?2",
            )?
            .query_row(params![user.0, name], |r| r.get(0))
            .optional()?)
        })
        .await
    }

    /// Save sessions' states, replacing what was there, in one transaction.
    pub(crate) async fn save_sessions(
        &self,
        sessions: Vec<(UserId, String, String)>,
    ) -> Result<()> {
        if sessions.is_empty() {
            return Ok(());
        }
        self.write(move |tx| {
            let now = now_ms();
            let mut stmt = tx.prepare_cached(
                "INSERT INTO agent_sessions (user_id, name, state, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (user_id, name) DO UPDATE SET state = excluded.state, \
                 updated_at = excluded.updated_at",
            )?;
            for (user, name, state) in &sessions {
                stmt.execute(params![user.0, name, state, now])?;
            }
            Ok(())
        })
        .await
    }
}
