//! # grocery-http
//!
//! The HTTP front end of Grocery Agent: an axum [`Router`] over one
//! [`grocery_core::Grocery`] handle. Handlers extract, call the core once and wrap
//! the result; errors map from [`grocery_core::ErrorKind`] in one place.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let grocery = grocery_core::Grocery::open(grocery_core::Config::default()).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! grocery_http::serve(grocery, listener, std::future::pending()).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod error;

use std::future::Future;

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use grocery_core::agent::AgentReply;
use grocery_core::{Grocery, SearchHit};
use serde::Deserialize;

pub use error::ApiError;

/// Shared state of every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The core handle.
    pub grocery: Grocery,
}

/// The application router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/api/v1/products/search", get(search))
        .route("/api/v1/agent", post(agent))
        .with_state(state)
}

/// Serve until `shutdown` resolves, then drain in-flight requests. Starts the
/// scheduled pricing jobs (the warmer and the check of tracked products, as
/// `[pricing]` configures them) for as long as the handle lives.
///
/// # Errors
/// I/O errors from the listener.
pub async fn serve(
    grocery: Grocery,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    grocery.pricing().start_background();
    let served = axum::serve(
        listener,
        app(AppState {
            grocery: grocery.clone(),
        }),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    // Conversations continue after a restart; cache counts add up across runs.
    if let Err(e) = grocery.flush().await {
        tracing::warn!(error = %e, "could not save sessions or cache counts at shutdown");
    }
    served
}

async fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[derive(Debug, Deserialize)]
struct SearchParams {
    q: String,
    #[serde(default)]
    limit: usize,
}

async fn search(
    State(app): State<AppState>,
    Query(p): Query<SearchParams>,
) -> Result<Json<Vec<SearchHit>>, ApiError> {
    Ok(Json(app.grocery.catalog().search(&p.q, p.limit).await?))
}

#[derive(Debug, Deserialize)]
struct AgentRequest {
    text: String,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    list: Option<String>,
}

async fn agent(
    State(app): State<AppState>,
    Json(body): Json<AgentRequest>,
) -> Result<Json<AgentReply>, ApiError> {
    let session = body.session.as_deref().unwrap_or("default");
    Ok(Json(
        app.grocery
            .agent()
            .handle_in(session, &body.text, body.list.as_deref())
            .await?,
    ))
}
