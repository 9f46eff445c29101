//! Router tests with `oneshot`: the skeleton routes and the error shape.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use axum::body::Body;
use axum::http::{Request, StatusCode};
use grocery_http::{AppState, app};
use tower::ServiceExt;

async fn state() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = grocery_core::Config::default();
    config.store.path = Some(dir.path().join("g.db"));
    let grocery = grocery_core::Grocery::open(config).await.unwrap();
    (AppState { grocery }, dir)
}

async fn get(state: AppState, uri: &str) -> (StatusCode, serde_json::Value) {
    let res = app(state)
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn live_answers() {
    let (s, _d) = state().await;
    let (status, body) = get(s, "/health/live").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn search_returns_products() {
    let (s, _d) = state().await;
    let (status, body) = get(s, "/api/v1/products/search?q=bannana&limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["kind"], "banana", "{body}");
}

#[tokio::test]
async fn invalid_input_is_a_400_with_the_error_shape() {
    let (s, _d) = state().await;
    let q = "x".repeat(500);
    let (status, body) = get(s, &format!("/api/v1/products/search?q={q}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["kind"], "invalid_input");
}

#[tokio::test]
async fn agent_applies_the_request() {
    let (s, _d) = state().await;
    let req = Request::post("/api/v1/agent")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"text": "add 2 gallons of milk and a dozen eggs"}"#,
        ))
        .unwrap();
    let res = app(s).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["list"]["items"].as_array().unwrap().len(), 2, "{body}");
    assert!(body["list"]["total_cents"].as_i64().unwrap() > 0);
}
