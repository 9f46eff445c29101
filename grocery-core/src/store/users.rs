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
            let rows = stmt.query_map([], |r| {
                Ok(User {
                    id: UserId(r.get(0)?),
                    name: r.get(1)?,
                    created_at: ts(r.get(2)?),
                })
            })?;
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
            .query_row(params![name], |r| {
                Ok(User {
                    id: UserId(r.get(0)?),
                    name: r.get(1)?,
                    created_at: ts(r.get(2)?),
                })
            })
            .optional()?
            .ok_or_else(|| Error::not_found("user", name))
        })
        .await
    }
}
