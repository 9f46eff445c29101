//! The OpenAPI 3.1 document of the server, generated from the code with
//! `utoipa` and served at `GET /api/v1/openapi.json` (no token needed).
//!
//! Each handler carries a `#[utoipa::path(...)]` attribute; [`ApiDoc`] lists
//! them and adds the bearer security scheme, the tags and the reusable error
//! responses. The request and response types derive `utoipa::ToSchema`
//! (grocery-core's behind its `openapi` feature). The types here only describe
//! shapes the handlers write by hand: the error body, the liveness answer and
//! the live-update control messages.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use grocery_core::pricing::Event;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToResponse, ToSchema};

use crate::{live, ops, routes};

/// The OpenAPI document: every route of [`crate::app`], its schemas and
/// reusable responses.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Grocery Agent",
        description = "Natural-language shopping lists with prices, over HTTP.\n\n\
            Every `/api/v1` route except this document needs `Authorization: Bearer TOKEN` \
            (`grocery user add NAME` prints one) unless the server runs in single-user mode; \
            product search and product pages accept a token but do not need one. Errors are \
            `{\"error\":{\"kind\",\"message\"}}` with a stable `kind`. Lists carry their version \
            as a strong `ETag`; a write may send `If-Match` and gets 412 when the list has moved on."
    ),
    paths(
        routes::agent,
        routes::all_lists,
        routes::create_list,
        routes::get_list,
        routes::rename_list,
        routes::delete_list,
        routes::add_item,
        routes::update_item,
        routes::remove_item,
        routes::check_item,
        routes::uncheck_item,
        routes::clear_checked,
        routes::shares,
        routes::share,
        routes::unshare,
        routes::search,
        routes::product,
        routes::price,
        routes::history,
        routes::optimize,
        routes::deals,
        routes::usuals,
        routes::tracks,
        routes::track,
        routes::untrack,
        routes::alerts,
        live::events,
        live::ws,
        openapi_json,
        ops::page,
        ops::live,
        ops::ready,
        ops::deep,
        ops::metrics_text,
    ),
    components(
        schemas(LiveMessage, ErrorCode),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PreconditionFailed,
            TooLarge,
            UnsupportedMediaType,
            NotUnderstood,
            RateLimited,
            Internal,
            Unavailable,
            GatewayTimeout,
        )
    ),
    modifiers(&Security),
    tags(
        (name = "agent", description = "One sentence in; list changes and a priced reply out."),
        (name = "lists", description = "Grocery lists, versioned with `ETag` / `If-Match`."),
        (name = "items", description = "The lines of a list."),
        (name = "sharing", description = "Sharing a list with another user, as editor or viewer."),
        (name = "products", description = "The catalog."),
        (name = "prices", description = "Current prices and price history."),
        (name = "tracking", description = "Price tracks and the alerts they raise."),
        (name = "deals", description = "Deals, and the cheapest way to buy a list across stores."),
        (name = "live", description = "Live updates: server-sent events and WebSocket."),
        (name = "health", description = "Health checks and metrics."),
        (name = "meta", description = "The web page and this document."),
    )
)]
pub struct ApiDoc;

/// Adds the security schemes the paths name.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer TOKEN`; `grocery user add NAME` prints a token.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "access_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "access_token",
                "The token as a query parameter, for the live routes only (browsers cannot \
                 set headers on EventSource or WebSocket).",
            ))),
        );
    }
}

/// The document as JSON, built once.
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        // Serialising the derived document cannot fail: it is plain data with string keys.
        ApiDoc::openapi()
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    })
}

/// This document (OpenAPI 3.1), generated from the code.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI document.", body = Object, content_type = "application/json"),
    )
)]
pub(crate) async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json()).into_response()
}

// ---- the error body ----------------------------------------------------

/// Every error: `{"error":{"kind":"not_found","message":"..."}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"kind": "not_found", "message": "list 7 not found"}}))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code: what the client can do about it.
    pub kind: ErrorCode,
    /// For people; `internal error` for server-side failures (500), never details.
    pub message: String,
}

/// The stable codes of [`ErrorDetail::kind`]: the core's error kinds
/// (`grocery_core::ErrorKind::code`) and the server's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 422: the agent did not understand the sentence.
    NotUnderstood,
    /// 400: a value is not acceptable (an empty name, a bad quantity).
    InvalidInput,
    /// 404: no such thing, or not the caller's to see.
    NotFound,
    /// 409: clashes with what exists (a list name already taken).
    Conflict,
    /// 403: the caller's role does not allow it (a viewer editing).
    Forbidden,
    /// 412: `If-Match` names an older version of the list.
    StaleVersion,
    /// 503: a store's API failed.
    Upstream,
    /// 504 from an upstream timeout; 503 when the request itself took too long.
    Timeout,
    /// 500: the server is misconfigured.
    Config,
    /// 500: anything else on the server's side.
    Internal,
    /// 401: no token, or an unknown or revoked one.
    Unauthorized,
    /// 429: the caller's rate limit is used up; see `Retry-After`.
    RateLimited,
    /// 400 (or 415): the body, path, query or a header is malformed.
    BadRequest,
    /// 413: the body is larger than the server accepts.
    TooLarge,
    /// 503: too many live connections.
    Busy,
}

/// 400: the body, path, query or a header is malformed (`bad_request`), or a
/// value is not acceptable (`invalid_input`).
#[derive(ToResponse)]
pub struct BadRequest(pub ErrorBody);

/// 401: a valid bearer token is required (`unauthorized`).
#[derive(ToResponse)]
#[response(headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"grocery\"`")))]
pub struct Unauthorized(pub ErrorBody);

/// 403: the caller's role on the list does not allow this (`forbidden`).
#[derive(ToResponse)]
pub struct Forbidden(pub ErrorBody);

/// 404: no such thing, or one the caller may not see (`not_found`).
#[derive(ToResponse)]
pub struct NotFound(pub ErrorBody);

/// 409: clashes with what exists, e.g. a list name already taken (`conflict`).
#[derive(ToResponse)]
pub struct Conflict(pub ErrorBody);

/// 412: `If-Match` names an older version; nothing was changed (`stale_version`).
#[derive(ToResponse)]
#[response(headers(("ETag" = String, description = "The list's current version, quoted: `\"9\"`.")))]
pub struct PreconditionFailed(pub ErrorBody);

/// 413: the body is larger than `[server] body_limit_bytes` (`too_large`).
#[derive(ToResponse)]
pub struct TooLarge(pub ErrorBody);

/// 415: the body is not sent as `application/json` (`bad_request`).
#[derive(ToResponse)]
pub struct UnsupportedMediaType(pub ErrorBody);

/// 422: the agent did not understand the sentence (`not_understood`).
#[derive(ToResponse)]
pub struct NotUnderstood(pub ErrorBody);

/// 429: the caller's rate limit is used up (`rate_limited`).
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")))]
pub struct RateLimited(pub ErrorBody);

/// 500: a server-side failure; the message is always `internal error`
/// (`internal`, `config`).
#[derive(ToResponse)]
pub struct Internal(pub ErrorBody);

/// 503: the request took longer than `[server] request_timeout_ms` (`timeout`),
/// too many live connections (`busy`), or a store's API failed (`upstream`).
#[derive(ToResponse)]
pub struct Unavailable(pub ErrorBody);

/// 504: a store's API did not answer in time (`timeout`).
#[derive(ToResponse)]
pub struct GatewayTimeout(pub ErrorBody);

/// The errors of every route that needs a token.
#[derive(IntoResponses)]
pub enum AuthErrors {
    /// No valid token.
    #[response(status = 401)]
    Unauthorized(#[ref_response] Unauthorized),
    /// Rate limited.
    #[response(status = 429)]
    RateLimited(#[ref_response] RateLimited),
    /// Server-side failure.
    #[response(status = 500)]
    Internal(#[ref_response] Internal),
    /// Timed out or overloaded.
    #[response(status = 503)]
    Unavailable(#[ref_response] Unavailable),
}

/// The errors of a JSON request body.
#[derive(IntoResponses)]
pub enum BodyErrors {
    /// Malformed or unacceptable.
    #[response(status = 400)]
    BadRequest(#[ref_response] BadRequest),
    /// Too large.
    #[response(status = 413)]
    TooLarge(#[ref_response] TooLarge),
    /// Not JSON.
    #[response(status = 415)]
    UnsupportedMediaType(#[ref_response] UnsupportedMediaType),
}

/// `If-Match` on a write to a list.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatch {
    /// The list's `ETag` the write is based on (`"7"`); when the list has
    /// moved on, the answer is 412 and nothing changes. Absent or `*`: no check.
    #[param(rename = "If-Match")]
    pub if_match: Option<String>,
}

// ---- shapes written by hand ---------------------------------------------

/// `GET /health/live`: `{"status":"ok"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok`.
    #[schema(pattern = "^ok$")]
    pub status: String,
}

/// One message of `GET /api/v1/events` (the `data` of each event) and of
/// `GET /api/v1/ws` (each text frame): a core [`Event`] the user may see, or a
/// control message. `event` tells which.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LiveMessage {
    /// `list_changed` (its `seq` is the resume cursor and, over SSE, the event
    /// id), `price_alert` or `price_changed`.
    Event(Event),
    /// `ready` or `resync`.
    Control(Control),
}

/// The server's own messages on a live connection.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Control {
    /// The backlog after the resume cursor is sent; `seq` is the cursor now.
    Ready {
        /// The latest list change's `seq`.
        seq: i64,
    },
    /// The server could not keep the client whole (the cursor is older than
    /// the log keeps, or the client read too slowly): reload the lists, then
    /// continue.
    Resync {
        /// Why, in words.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use grocery_core::ErrorKind;

    use super::ErrorCode;
    use crate::ApiError;

    /// The documented code of each core kind; exhaustive, so a new kind
    /// breaks the build here.
    fn documented(kind: ErrorKind) -> ErrorCode {
        match kind {
            ErrorKind::NotUnderstood => ErrorCode::NotUnderstood,
            ErrorKind::InvalidInput => ErrorCode::InvalidInput,
            ErrorKind::NotFound => ErrorCode::NotFound,
            ErrorKind::Conflict => ErrorCode::Conflict,
            ErrorKind::Forbidden => ErrorCode::Forbidden,
            ErrorKind::StaleVersion => ErrorCode::StaleVersion,
            ErrorKind::Upstream => ErrorCode::Upstream,
            ErrorKind::Timeout => ErrorCode::Timeout,
            ErrorKind::Config => ErrorCode::Config,
            ErrorKind::Internal => ErrorCode::Internal,
        }
    }

    fn json(code: ErrorCode) -> Option<serde_json::Value> {
        serde_json::to_value(code).ok()
    }

    #[test]
    fn error_codes_name_every_core_kind_as_it_is_sent() {
        for kind in [
            ErrorKind::NotUnderstood,
            ErrorKind::InvalidInput,
            ErrorKind::NotFound,
            ErrorKind::Conflict,
            ErrorKind::Forbidden,
            ErrorKind::StaleVersion,
            ErrorKind::Upstream,
            ErrorKind::Timeout,
            ErrorKind::Config,
            ErrorKind::Internal,
        ] {
            assert_eq!(json(documented(kind)), Some(serde_json::json!(kind.code())));
        }
    }

    #[test]
    fn error_codes_name_the_servers_own_codes() {
        let own = [
            (ApiError::Unauthorized, ErrorCode::Unauthorized),
            (
                ApiError::RateLimited(std::time::Duration::from_secs(1)),
                ErrorCode::RateLimited,
            ),
            (ApiError::bad_request("x"), ErrorCode::BadRequest),
            (
                ApiError::BadRequest {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    message: "x".into(),
                },
                ErrorCode::TooLarge,
            ),
            (ApiError::TimedOut, ErrorCode::Timeout),
            (ApiError::Busy, ErrorCode::Busy),
        ];
        for (error, code) in own {
            let (_, sent) = error.status_and_code();
            assert_eq!(json(code), Some(serde_json::json!(sent)), "{error}");
        }
    }
}
