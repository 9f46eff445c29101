//! JSON errors: `{"error":{"kind":"not_found","message":"..."}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use grocery_core::ErrorKind;

/// An error returned by a handler.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub grocery_core::Error);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.0.kind();
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
        let message = if status.is_server_error() {
            tracing::error!(error = ?self.0, "request failed");
            "internal error".to_string()
        } else {
            self.0.to_string()
        };
        let body = serde_json::json!({ "error": { "kind": kind.code(), "message": message } });
        (status, Json(body)).into_response()
    }
}
