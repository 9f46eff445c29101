//! Users.

use rusqlite::{OptionalExtension, params};

use super::{Store, now_ms, ts};
use crate::error::{Error, Result};
use crate::lists::{User, UserId};

fn conflict(e: rusqlite::Error, name: &str) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => {
            Error::Conflict(format!("a user named `{name}` already exists"))
        }
        _ => Error::from(e),
    }
}

/// A `users` row selected as `id, name, created_at`.
fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(r.get(0)?),
        name: r.get(1)?,
        created_at: ts(r.get(2)?),
    })
}

impl Store {
    /// Create a user; [`Error::Conflict`] if the name is taken (case-insensitive).
    pub(crate) async fn add_user(&self, name: String) -> Result<User> {
        self.write(move |tx| {
            let now = now_ms();
            tx.prepare_cached("INSERT INTO users (name, created_at) VALUES (?1, ?2)")?
                .execute(params![name, now])
                .map_err(|e| conflict(e, &name))?;
            Ok(User {
                id: UserId(tx.last_insert_rowid()),
                name,
                created_at: ts(now),
            })
        })
        .await
    }

    /// Users that are not revoked, oldest first.
    pub(crate) async fn users(&self) -> Result<Vec<User>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, name, created_at FROM users WHERE revoked_at IS NULL ORDER BY id",
            )?;
            let rows = stmt.query_map([], user_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// A user by name (case-insensitive).
    pub(crate) async fn user_by_name(&self, name: String) -> Result<User> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT id, name, created_at FROM users WHERE name = ?1 AND revoked_at IS NULL",
            )?
            .query_row(params![name], user_row)
            .optional()?
            .ok_or_else(|| Error::not_found("user", name))
        })
        .await
    }

    /// Set (or replace) a user's token hash; [`Error::NotFound`] for an
    /// unknown or revoked user.
    pub(crate) async fn set_token_hash(&self, user: UserId, hash: String) -> Result<()> {
        self.write(move |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE users SET token_hash = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                )?
                .execute(params![user.0, hash])?;
            if n == 0 {
                return Err(Error::not_found("user", user.to_string()));
            }
            Ok(())
        })
        .await
    }

    /// The active user whose token hashes to `hash`.
    pub(crate) async fn user_by_token_hash(&self, hash: String) -> Result<Option<User>> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT id, name, created_at FROM users WHERE token_hash = ?1 \
                 AND revoked_at IS NULL",
            )?
            .query_row(params![hash], user_row)
            .optional()?)
        })
        .await
    }

    /// Revoke a user by name: their token stops working and they disappear
    /// from listings (their lists stay, unreachable). Returns the user.
    pub(crate) async fn revoke_user(&self, name: String) -> Result<User> {
        self.write(move |tx| {
            let user = tx
                .prepare_cached(
                    "SELECT id, name, created_at FROM users WHERE name = ?1 AND revoked_at IS NULL",
                )?
                .query_row(params![name], user_row)
                .optional()?
                .ok_or_else(|| Error::not_found("user", name.clone()))?;
            if user.id == UserId::LOCAL {
                return Err(Error::invalid("the local user cannot be revoked"));
            }
            tx.prepare_cached(
                "UPDATE users SET revoked_at = ?2, token_hash = NULL, \
                 name = name || ' (revoked ' || ?2 || ')' WHERE id = ?1",
            )?
            .execute(params![user.id.0, now_ms()])?;
            Ok(user)
        })
        .await
    }
}
