//! Who is calling: a bearer token looked up (hashed) in the store, or the local
//! user in single-user mode; then the caller's rate limit.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use grocery_core::UserId;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller of a request (an extractor; rejects with 401 or 429).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub UserId);

/// The token of a request: `Authorization: Bearer ...`, or for WebSocket and
/// event-stream requests (browsers cannot set headers there) the
/// `access_token` query parameter.
fn token(parts: &Parts) -> Option<String> {
    if let Some(v) = parts.headers.get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    // Inside the nested `/api/v1` router the path is stripped; the original is kept.
    let path = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| parts.uri.path(), |u| u.0.path());
    if path == "/api/v1/ws" || path == "/api/v1/events" {
        return parts.uri.query().and_then(|q| {
            q.split('&').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k == "access_token").then(|| v.to_string())
            })
        });
    }
    None
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = if state.no_auth() {
            UserId::LOCAL
        } else {
            let token = token(parts).ok_or(ApiError::Unauthorized)?;
            state
                .authenticate(&token)
                .await?
                .ok_or(ApiError::Unauthorized)?
        };
        if let Err(not_until) = state.limiter().check_key(&user.0) {
            return Err(ApiError::RateLimited(
                not_until.wait_time_from(DefaultClock::default().now()),
            ));
        }
        Ok(Caller(user))
    }
}

impl OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        match <Caller as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(c) => Ok(Some(c)),
            Err(ApiError::Unauthorized) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
