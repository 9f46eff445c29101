//! The one error type of grocery-core.
//!
//! Variants are named by what the caller can do about them. Frontends map
//! [`ErrorKind`] with one exhaustive `match` (HTTP status, CLI exit code,
//! Python exception class), so a new kind breaks their build where a mapping
//! is missing.

use crate::money::MoneyError;
use crate::quantity::QuantityError;

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in grocery-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text could not be understood. HTTP 422.
    #[error("could not understand the request: {hint}")]
    NotUnderstood {
        /// What the user could say instead.
        hint: String,
    },
    /// The input is malformed or out of range. HTTP 400.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A row of an import file is malformed; nothing was written. HTTP 400.
    #[error("line {line}: {reason}")]
    InvalidRow {
        /// 1-based line number in the file (the header is line 1).
        line: u64,
        /// What is wrong with the row.
        reason: String,
    },
    /// The thing asked for does not exist. HTTP 404.
    #[error("{what} not found: {id}")]
    NotFound {
        /// The kind of thing (`list`, `item`, `product`, ...).
        what: &'static str,
        /// The identifier or name that was looked up.
        id: String,
    },
    /// The change conflicts with the current state (duplicate name). HTTP 409.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller may see this but not do this to it (a viewer editing a shared
    /// list, an editor deleting it). HTTP 403.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The write was based on an older version than the current one; nothing
    /// was changed. HTTP 412.
    #[error("{what} changed since version {expected}; it is at version {current}")]
    StaleVersion {
        /// The kind of thing (`list`).
        what: &'static str,
        /// The version the caller based the change on.
        expected: i64,
        /// The version now.
        current: i64,
    },
    /// An upstream service failed. HTTP 503.
    #[error("upstream {service} failed")]
    Upstream {
        /// Which upstream.
        service: String,
        /// The underlying failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An upstream service did not answer in time. HTTP 504.
    #[error("upstream {service} timed out")]
    Timeout {
        /// Which upstream.
        service: String,
    },
    /// The database failed. HTTP 500 (generic body).
    #[error("storage error")]
    Storage(#[source] Box<rusqlite::Error>),
    /// The schema migration failed. HTTP 500 (generic body).
    #[error("database migration failed")]
    Migration(#[source] Box<rusqlite_migration::Error>),
    /// Reading or writing a file failed. HTTP 500 (generic body).
    #[error("i/o error on {path}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// The configuration is invalid. The server refuses to start.
    #[error("configuration error: {0}")]
    Config(String),
    /// A bug or a lost background task. HTTP 500 (generic body).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The small, `Copy` classification of an [`Error`] that frontends map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// See [`Error::NotUnderstood`].
    NotUnderstood,
    /// See [`Error::InvalidInput`] and [`Error::InvalidRow`].
    InvalidInput,
    /// See [`Error::NotFound`].
    NotFound,
    /// See [`Error::Conflict`].
    Conflict,
    /// See [`Error::Forbidden`].
    Forbidden,
    /// See [`Error::StaleVersion`].
    StaleVersion,
    /// See [`Error::Upstream`].
    Upstream,
    /// See [`Error::Timeout`].
    Timeout,
    /// See [`Error::Config`].
    Config,
    /// Storage, I/O and internal failures.
    Internal,
}

impl ErrorKind {
    /// Stable snake_case code, as used in JSON error bodies.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::NotUnderstood => "not_understood",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::StaleVersion => "stale_version",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Config => "config",
            ErrorKind::Internal => "internal",
        }
    }
}

impl Error {
    /// The classification frontends map to a status, exit code or exception.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotUnderstood { .. } => ErrorKind::NotUnderstood,
            Error::InvalidInput(_) | Error::InvalidRow { .. } => ErrorKind::InvalidInput,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Forbidden(_) => ErrorKind::Forbidden,
            Error::StaleVersion { .. } => ErrorKind::StaleVersion,
            Error::Upstream { .. } => ErrorKind::Upstream,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Config(_) => ErrorKind::Config,
            Error::Storage(_) | Error::Migration(_) | Error::Io { .. } | Error::Internal(_) => {
                ErrorKind::Internal
            }
        }
    }

    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            what,
            id: id.into(),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Storage(Box::new(e))
    }
}

impl From<rusqlite_migration::Error> for Error {
    fn from(e: rusqlite_migration::Error) -> Self {
        Error::Migration(Box::new(e))
    }
}

impl From<QuantityError> for Error {
    fn from(e: QuantityError) -> Self {
        Error::InvalidInput(e.to_string())
    }
}

impl From<MoneyError> for Error {
    fn from(e: MoneyError) -> Self {
        Error::InvalidInput(e.to_string())
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::Internal(format!("background task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_stable_codes() {
        assert_eq!(Error::invalid("x").kind().code(), "invalid_input");
        assert_eq!(Error::not_found("list", "x").kind(), ErrorKind::NotFound);
        let row = Error::InvalidRow {
            line: 3,
            reason: "bad".into(),
        };
        assert_eq!(row.kind(), ErrorKind::InvalidInput);
        assert_eq!(row.to_string(), "line 3: bad");
    }
}
