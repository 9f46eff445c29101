//! JSON errors with stable codes: `{"error":{"kind":"not_found","message":"..."}}`.
//!
//! Core errors map from [`grocery_core::ErrorKind`] in one exhaustive `match`;
//! the server's own failures (no token, too many requests, a malformed body)
//! have codes of their own. Server-side failures never show their details.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grocery_core::ErrorKind;

/// An error returned by a handler or an extractor.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A core error.
    #[error(transparent)]
    Core(#[from] grocery_core::Error),
    /// No token, or one that is unknown or revoked. 401, code `unauthorized`.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The caller's rate limit is used up. 429, code `rate_limited`, with `Retry-After`.
    #[error("too many requests; retry in {0:?}")]
    RateLimited(Duration),
    /// The request itself is malformed (body, path, query, header). 400,
    /// code `bad_request` (413 `too_large` for an oversize body).
    #[error("{message}")]
    BadRequest {
        /// The status (400, 413 or 415).
        status: StatusCode,
        /// What is wrong.
        message: String,
    },
    /// The request took longer than the server allows. 503, code `timeout`.
    #[error("the request took too long")]
    TimedOut,
    /// Too many live connections. 503, code `busy`.
    #[error("too many live connections; retry later")]
    Busy,
}

impl ApiError {
    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// The HTTP status and stable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Core(e) => {
                let kind = e.kind();
                let status = match kind {
                    ErrorKind::NotUnderstood => StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
                    ErrorKind::NotFound => StatusCode::NOT_FOUND,
                    ErrorKind::Conflict => StatusCode::CONFLICT,
                    ErrorKind::Forbidden => StatusCode::FORBIDDEN,
                    ErrorKind::StaleVersion => StatusCode::PRECONDITION_FAILED,
                    ErrorKind::Upstream => StatusCode::SERVICE_UNAVAILABLE,
                    ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
                    ErrorKind::Config | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (status, kind.code())
            }
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::BadRequest { status, .. } => (
                *status,
                if *status == StatusCode::PAYLOAD_TOO_LARGE {
                    "too_large"
                } else {
                    "bad_request"
                },
            ),
            ApiError::TimedOut => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = ?self, "request failed");
            "internal error".to_string()
        } else {
            self.to_string()
        };
        let body = serde_json::json!({ "error": { "kind": code, "message": message } });
        let mut response = (status, Json(body)).into_response();
        match &self {
            ApiError::RateLimited(wait) => {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::Unauthorized => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"grocery\""),
                );
            }
            ApiError::Core(grocery_core::Error::StaleVersion { current, .. }) => {
                if let Ok(v) = HeaderValue::from_str(&format!("\"{current}\"")) {
                    response.headers_mut().insert(header::ETAG, v);
                }
            }
            _ => {}
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        ApiError::BadRequest {
            status: if status == StatusCode::PAYLOAD_TOO_LARGE
                || status == StatusCode::UNSUPPORTED_MEDIA_TYPE
            {
                status
            } else {
                StatusCode::BAD_REQUEST
            },
            message: r.body_text(),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}
