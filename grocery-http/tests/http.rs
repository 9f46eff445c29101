//! The server over real TCP on 127.0.0.1:0: tokens, every route's isolation
//! between users, versions (`If-Match`), sharing, limits, health, metrics,
//! live updates over WebSocket and SSE, and graceful shutdown.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use grocery_core::config::ServerConfig;
use grocery_core::{Config, Grocery};
use grocery_http::AppState;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

struct Server {
    base: String,
    grocery: Grocery,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start_with(edit: impl FnOnce(&mut ServerConfig)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.store.path = Some(dir.path().join("g.db"));
    config.pricing.warm_top = 0;
    edit(&mut config.server);
    let grocery = Grocery::open(config).await.unwrap();
    let state = AppState::new(grocery.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(grocery_http::serve_state(state.clone(), listener, async {
        let _ = stopped.await;
    }));
    Server {
        base,
        grocery,
        state,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

async fn start() -> Server {
    start_with(|_| {}).await
}

impl Server {
    async fn user(&self, name: &str) -> String {
        self.grocery
            .users()
            .add_with_token(name)
            .await
            .unwrap()
            .token
    }

    async fn call(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let client = reqwest::Client::new();
        let mut req = client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let (s, _, b) = self.call(Some(token), Method::GET, path, None, &[]).await;
        (s, b)
    }

    async fn send(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let (s, _, b) = self.call(Some(token), method, path, Some(body), &[]).await;
        (s, b)
    }
}

#[tokio::test]
async fn tokens_are_required_and_errors_have_one_shape() {
    let s = start().await;
    let (status, headers, body) = s.call(None, Method::GET, "/api/v1/lists", None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["kind"], "unauthorized");
    assert!(headers.contains_key("www-authenticate"));
    for bad in ["nope", "gro_forged", ""] {
        let (status, _, _) = s
            .call(Some(bad), Method::GET, "/api/v1/lists", None, &[])
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    // Health and search need no token.
    let (status, _, body) = s.call(None, Method::GET, "/health/live", None, &[]).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, _, body) = s
        .call(
            None,
            Method::GET,
            "/api/v1/products/search?q=bannana&limit=2",
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["kind"], "banana", "{body}");
    // Malformed bodies and unknown routes answer in the same JSON shape.
    let t = s.user("ana").await;
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/api/v1/lists", s.base))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "bad_request");
    let (status, body) = s.get(&t, "/api/v1/nowhere").await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = s.get(&t, "/api/v1/lists/abc").await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
}

#[tokio::test]
async fn the_agent_fills_a_list_with_prices_and_a_total() {
    let s = start().await;
    let t = s.user("ana").await;
    let (status, reply) = s
        .send(
            &t,
            Method::POST,
            "/api/v1/agent",
            json!({"text": "add 2 gallons of milk and a dozen eggs"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (status, lists) = s.get(&t, "/api/v1/lists").await;
    assert_eq!(status, StatusCode::OK);
    let list = &lists[0];
    assert_eq!(list["role"], "owner");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert!(list["total_cents"].as_i64().unwrap() > 0, "{list}");
    let (status, one) = s.get(&t, &format!("/api/v1/lists/{}", list["id"])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["total_cents"], list["total_cents"]);
    // Huge text is refused, not parsed.
    let (status, _) = s
        .send(
            &t,
            Method::POST,
            "/api/v1/agent",
            json!({"text": "milk ".repeat(1000)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Every route that names a list, item, track or alert, as another user: 404
/// (not 403), and nothing changes.
#[tokio::test]
async fn a_user_never_reads_or_changes_anothers_data() {
    let s = start().await;
    let ana = s.user("ana").await;
    let bob = s.user("bob").await;
    let (_, list) = s
        .send(
            &ana,
            Method::POST,
            "/api/v1/lists",
            json!({"name": "Ana's"}),
        )
        .await;
    let id = list["id"].as_i64().unwrap();
    let (_, list) = s
        .send(
            &ana,
            Method::POST,
            &format!("/api/v1/lists/{id}/items"),
            json!({"name": "milk"}),
        )
        .await;
    let item = list["items"][0]["id"].as_i64().unwrap();
    let version = list["version"].as_i64().unwrap();
    let milk = s.grocery.catalog().search("milk", 1).await.unwrap()[0]
        .product
        .id
        .clone();
    let (status, _) = s
        .send(
            &ana,
            Method::POST,
            "/api/v1/tracks",
            json!({"product_id": milk, "below_cents": 99_999}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/lists/{id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/lists/{id}"),
            Some(json!({"name": "mine"})),
        ),
        (Method::DELETE, format!("/api/v1/lists/{id}"), None),
        (
            Method::POST,
            format!("/api/v1/lists/{id}/items"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/lists/{id}/items/{item}"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/lists/{id}/items/{item}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/lists/{id}/items/{item}/check"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/lists/{id}/items/{item}/uncheck"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/lists/{id}/clear-checked"),
            None,
        ),
        (Method::GET, format!("/api/v1/lists/{id}/shares"), None),
        (
            Method::PUT,
            format!("/api/v1/lists/{id}/shares/bob"),
            Some(json!({"role": "editor"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/lists/{id}/shares/bob"),
            None,
        ),
    ];
    for (method, path, body) in routes {
        let (status, _, err) = s.call(Some(&bob), method.clone(), &path, body, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {err}");
        assert_eq!(err["error"]["kind"], "not_found");
    }
    let (_, lists) = s.get(&bob, "/api/v1/lists").await;
    assert_eq!(lists, json!([]));
    let (_, tracks) = s.get(&bob, "/api/v1/tracks").await;
    assert_eq!(tracks, json!([]));
    let (_, alerts) = s.get(&bob, "/api/v1/alerts").await;
    assert_eq!(alerts, json!([]), "Ana's track fired for Ana only");
    let (_, alerts) = s.get(&ana, "/api/v1/alerts").await;
    assert_eq!(alerts.as_array().unwrap().len(), 1);
    let (status, _, _) = s
        .call(
            Some(&bob),
            Method::DELETE,
            &format!("/api/v1/tracks/{milk}"),
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing changed.
    let (_, after) = s.get(&ana, &format!("/api/v1/lists/{id}")).await;
    assert_eq!(after["version"].as_i64(), Some(version));
    assert_eq!(after["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_stale_if_match_gets_412_and_changes_nothing() {
    let s = start().await;
    let t = s.user("ana").await;
    let (_, headers, list) = s
        .call(
            Some(&t),
            Method::POST,
            "/api/v1/lists",
            Some(json!({"name": "L"})),
            &[],
        )
        .await;
    let id = list["id"].as_i64().unwrap();
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", list["version"]));
    // Device 1 writes with the current version.
    let (status, headers, _) = s
        .call(
            Some(&t),
            Method::POST,
            &format!("/api/v1/lists/{id}/items"),
            Some(json!({"name": "milk"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let new_etag = headers["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    // Device 2 still holds the old version: 412, the current ETag, no change.
    let (status, headers, body) = s
        .call(
            Some(&t),
            Method::POST,
            &format!("/api/v1/lists/{id}/items"),
            Some(json!({"name": "eggs"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(body["error"]["kind"], "stale_version");
    assert_eq!(headers["etag"].to_str().unwrap(), new_etag);
    let (status, _, _) = s
        .call(
            Some(&t),
            Method::DELETE,
            &format!("/api/v1/lists/{id}"),
            None,
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (_, list) = s.get(&t, &format!("/api/v1/lists/{id}")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // A malformed If-Match is a 400.
    let (status, _, _) = s
        .call(
            Some(&t),
            Method::PATCH,
            &format!("/api/v1/lists/{id}"),
            Some(json!({"name": "M"})),
            &[("if-match", "yesterday")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A field an item body does not have is a 400 naming it, and nothing is
/// written: `"checked": true` on an add, or a misspelt field on a change,
/// would otherwise be dropped without a word.
#[tokio::test]
async fn unknown_fields_in_item_bodies_are_refused() {
    let s = start().await;
    let t = s.user("ana").await;
    let (_, list) = s
        .send(&t, Method::POST, "/api/v1/lists", json!({"name": "L"}))
        .await;
    let id = list["id"].as_i64().unwrap();
    let items = format!("/api/v1/lists/{id}/items");
    let (status, item) = s
        .send(&t, Method::POST, &items, json!({"name": "milk"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    let (_, before) = s.get(&t, &format!("/api/v1/lists/{id}")).await;
    let item_id = before["items"][0]["id"].as_i64().unwrap();
    for (method, path, body, field) in [
        (
            Method::POST,
            items.clone(),
            json!({"name": "eggs", "checked": true}),
            "checked",
        ),
        (
            Method::PATCH,
            format!("{items}/{item_id}"),
            json!({"nmae": "oat milk"}),
            "nmae",
        ),
    ] {
        let (status, err) = s.send(&t, method, &path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {err}");
        assert_eq!(err["error"]["kind"], "bad_request", "{err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("unknown field `{field}`")),
            "{message}"
        );
    }
    let (_, after) = s.get(&t, &format!("/api/v1/lists/{id}")).await;
    assert_eq!(after["version"], before["version"], "nothing written");
    assert_eq!(after["items"], before["items"]);
}

#[tokio::test]
async fn sharing_roles_are_enforced_over_http() {
    let s = start().await;
    let ana = s.user("ana").await;
    let vi = s.user("vi").await;
    let ed = s.user("ed").await;
    let (_, list) = s
        .send(
            &ana,
            Method::POST,
            "/api/v1/lists",
            json!({"name": "Family"}),
        )
        .await;
    let id = list["id"].as_i64().unwrap();
    for (who, role) in [("vi", "viewer"), ("ed", "editor")] {
        let (status, _) = s
            .send(
                &ana,
                Method::PUT,
                &format!("/api/v1/lists/{id}/shares/{who}"),
                json!({"role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, shares) = s.get(&ana, &format!("/api/v1/lists/{id}/shares")).await;
    assert_eq!(shares.as_array().unwrap().len(), 2);
    let (_, lists) = s.get(&vi, "/api/v1/lists").await;
    assert_eq!(
        (lists[0]["id"].as_i64(), lists[0]["role"].as_str()),
        (Some(id), Some("viewer"))
    );
    let (status, body) = s
        .send(
            &vi,
            Method::POST,
            &format!("/api/v1/lists/{id}/items"),
            json!({"name": "candy"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, _) = s
        .send(
            &ed,
            Method::POST,
            &format!("/api/v1/lists/{id}/items"),
            json!({"name": "bread"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = s
        .call(
            Some(&ed),
            Method::DELETE,
            &format!("/api/v1/lists/{id}"),
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = s
        .call(
            Some(&ana),
            Method::DELETE,
            &format!("/api/v1/lists/{id}/shares/vi"),
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(&vi, &format!("/api/v1/lists/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rate_limits_and_body_limits_answer_with_their_codes() {
    let s = start_with(|c| {
        c.rate_per_user_per_sec = 1;
        c.rate_burst = 3;
        c.body_limit_bytes = 1_024;
    })
    .await;
    let t = s.user("ana").await;
    let other = s.user("bob").await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        let (status, headers, _) = s
            .call(Some(&t), Method::GET, "/api/v1/lists", None, &[])
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(headers.contains_key("retry-after"));
        }
        codes.push(status.as_u16());
    }
    assert_eq!(&codes[..3], &[200, 200, 200]);
    assert!(codes[3..].iter().all(|&c| c == 429), "{codes:?}");
    // Another user has a bucket of their own.
    let (status, _) = s.get(&other, "/api/v1/lists").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s
        .send(
            &other,
            Method::POST,
            "/api/v1/lists",
            json!({"name": "x".repeat(4_000)}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["kind"], "too_large");
}

#[tokio::test]
async fn ready_is_503_with_each_check_while_the_store_cannot_be_read() {
    let s = start().await;
    let ready = || async {
        let (status, _, body) = s.call(None, Method::GET, "/health/ready", None, &[]).await;
        (status, body)
    };
    assert_eq!(ready().await.0, StatusCode::OK);

    // Another program damages the schema (as a bad disk or a bad tool
    // would): every read fails.
    let other = rusqlite::Connection::open(s._dir.path().join("g.db")).unwrap();
    let version: i64 = other
        .query_row("PRAGMA schema_version", [], |r| r.get(0))
        .unwrap();
    let set_version = |v: i64| {
        other
            .execute_batch(&format!("PRAGMA schema_version = {v}"))
            .unwrap();
    };
    other
        .execute_batch(
            "PRAGMA writable_schema = ON; \
             INSERT INTO sqlite_schema VALUES ('table', 'broken', 'broken', 0, 'CREATE TABLE broken (');",
        )
        .unwrap();
    set_version(version + 1);
    let (status, body) = ready().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "down", "{body}");
    let store = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "store")
        .unwrap();
    assert_eq!(store["status"], "down", "{body}");
    // Which part, not the database's internals: the probe is public.
    assert_eq!(store["detail"], "storage error", "{body}");
    // The process itself still answers.
    let (status, _, _) = s.call(None, Method::GET, "/health/live", None, &[]).await;
    assert_eq!(status, StatusCode::OK);

    // Repaired, the server is ready again.
    other
        .execute_batch("DELETE FROM sqlite_schema WHERE name = 'broken'")
        .unwrap();
    set_version(version + 2);
    assert_eq!(ready().await.0, StatusCode::OK);
}

#[tokio::test]
async fn health_and_metrics_report_the_parts() {
    let s = start().await;
    let t = s.user("ana").await;
    s.get(&t, "/api/v1/lists").await;
    let (status, _, ready) = s.call(None, Method::GET, "/health/ready", None, &[]).await;
    assert_eq!(
        (status, ready["status"].as_str()),
        (StatusCode::OK, Some("ok")),
        "{ready}"
    );
    let (status, _, deep) = s.call(None, Method::GET, "/health/deep", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{deep}");
    let names: Vec<&str> = deep["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for n in [
        "store",
        "store.write",
        "cache.l1",
        "cache.l3",
        "source.demo",
    ] {
        assert!(names.contains(&n), "{n} missing: {deep}");
    }
    let (status, _, text) = s.call(None, Method::GET, "/metrics", None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap().to_string();
    for m in [
        "http_request_duration_seconds_bucket",
        "route=\"/api/v1/lists\"",
        "http_requests_in_flight",
        "http_requests_waiting",
        "grocery_store_write_wait_seconds",
        "grocery_cache_hits_total",
        "grocery_breaker_state",
        "process_resident_memory_bytes",
        "grocery_live_connections",
        "grocery_live_messages_dropped_total",
    ] {
        assert!(text.contains(m), "{m} missing from /metrics");
    }
}

async fn ws_connect(
    s: &Server,
    token: &str,
    after: Option<i64>,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let base = s.base.replace("http://", "ws://");
    let after = after.map(|a| format!("&after={a}")).unwrap_or_default();
    let url = format!("{base}/api/v1/ws?access_token={token}{after}");
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next JSON message of `event` kind, skipping others, within 10 s.
async fn next_event<S>(ws: &mut S, event: &str) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no `{event}` message"))
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["event"] == event {
                return v;
            }
        }
    }
}

#[tokio::test]
async fn websocket_clients_see_shared_changes_in_order_and_resume_without_gaps() {
    let s = start().await;
    let ana = s.user("ana").await;
    let bob = s.user("bob").await;
    let eve = s.user("eve").await;
    let (_, list) = s
        .send(
            &ana,
            Method::POST,
            "/api/v1/lists",
            json!({"name": "Shared"}),
        )
        .await;
    let id = list["id"].as_i64().unwrap();
    s.send(
        &ana,
        Method::PUT,
        &format!("/api/v1/lists/{id}/shares/bob"),
        json!({"role": "editor"}),
    )
    .await;
    let (_, private) = s
        .send(
            &ana,
            Method::POST,
            "/api/v1/lists",
            json!({"name": "Private"}),
        )
        .await;

    let mut ana_ws = ws_connect(&s, &ana, None).await;
    let ready = next_event(&mut ana_ws, "ready").await;
    let mut eve_ws = ws_connect(&s, &eve, None).await;
    next_event(&mut eve_ws, "ready").await;

    // Bob (another user, another device) adds two items; Ana sees both, in order.
    for name in ["milk", "eggs"] {
        s.send(
            &bob,
            Method::POST,
            &format!("/api/v1/lists/{id}/items"),
            json!({"name": name}),
        )
        .await;
    }
    let first = next_event(&mut ana_ws, "list_changed").await;
    let second = next_event(&mut ana_ws, "list_changed").await;
    assert_eq!(first["list_id"].as_i64(), Some(id));
    assert!(first["seq"].as_i64() < second["seq"].as_i64());
    assert!(first["version"].as_i64() < second["version"].as_i64());
    assert!(first["seq"].as_i64() > ready["seq"].as_i64());
    let bob_id = s.grocery.users().find("bob").await.unwrap().id.0;
    assert_eq!(first["actor"].as_i64(), Some(bob_id));

    // Ana disconnects; changes happen meanwhile (one on her private list, one
    // by the CLI writing the same database); she resumes after `second`.
    ana_ws.close(None).await.unwrap();
    s.send(
        &ana,
        Method::POST,
        &format!("/api/v1/lists/{}/items", private["id"]),
        json!({"name": "gift"}),
    )
    .await;
    let cli = Grocery::open(s.grocery.config().clone()).await.unwrap();
    let ana_user = s.grocery.users().find("ana").await.unwrap().id;
    cli.lists_for(ana_user)
        .add_item(
            grocery_core::ListId(id),
            grocery_core::NewItem::new("coffee"),
        )
        .await
        .unwrap();
    let mut again = ws_connect(&s, &ana, second["seq"].as_i64()).await;
    let a = next_event(&mut again, "list_changed").await;
    let b = next_event(&mut again, "list_changed").await;
    assert_eq!(a["list_id"], private["id"]);
    assert_eq!(b["list_id"].as_i64(), Some(id));
    assert_eq!(
        b["seq"].as_i64(),
        Some(a["seq"].as_i64().unwrap() + 1),
        "no gap, no repeat"
    );
    next_event(&mut again, "ready").await;

    // Eve, who has no access, was told nothing; Ana's private change never
    // reached Bob either.
    eve_ws.send(Message::Close(None)).await.unwrap();
    while let Some(Ok(m)) = eve_ws.next().await {
        if let Message::Text(t) = m {
            panic!("Eve received {t}");
        }
    }
    let mut bob_ws = ws_connect(&s, &bob, Some(0)).await;
    loop {
        let v: Value = match bob_ws.next().await.unwrap().unwrap() {
            Message::Text(t) => serde_json::from_str(&t).unwrap(),
            _ => continue,
        };
        if v["event"] == "ready" {
            break;
        }
        assert_eq!(v["list_id"].as_i64(), Some(id), "Bob saw another list: {v}");
    }
}

#[tokio::test]
async fn server_sent_events_carry_ids_and_honour_last_event_id() {
    let s = start().await;
    let t = s.user("ana").await;
    let (_, list) = s
        .send(&t, Method::POST, "/api/v1/lists", json!({"name": "L"}))
        .await;
    let id = list["id"].as_i64().unwrap();
    let seq = s.grocery.lists().latest_change().await.unwrap();
    s.send(
        &t,
        Method::POST,
        &format!("/api/v1/lists/{id}/items"),
        json!({"name": "milk"}),
    )
    .await;
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/events", s.base))
        .bearer_auth(&t)
        .header("last-event-id", seq.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = res.bytes_stream();
    let mut text = String::new();
    while !text.contains("\"ready\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains(&format!("id: {}", seq + 1)), "{text}");
    assert!(text.contains("\"list_changed\""), "{text}");
}

#[tokio::test]
async fn shutdown_closes_live_sockets_and_finishes() {
    let mut s = start().await;
    let t = s.user("ana").await;
    let mut ws = ws_connect(&s, &t, None).await;
    next_event(&mut ws, "ready").await;
    assert_eq!(s.state.subscribers(), 1);
    s.stop.take().unwrap().send(()).unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Close(frame) = m {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(closed, Some(1001), "going away");
    tokio::time::timeout(Duration::from_secs(10), s.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn single_user_mode_needs_no_token_and_only_listens_on_loopback() {
    let s = start_with(|c| c.no_auth = true).await;
    let (status, _, body) = s
        .call(
            None,
            Method::POST,
            "/api/v1/lists",
            Some(json!({"name": "Mine"})),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["owner"].as_i64(), Some(grocery_core::UserId::LOCAL.0));

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.store.path = Some(dir.path().join("g.db"));
    for bind in ["0.0.0.0:0", "[::]:0"] {
        let e = grocery_http::run(
            config.clone(),
            grocery_http::ServeOptions {
                bind: Some(bind.into()),
                no_auth: true,
            },
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, grocery_http::ServeError::NoAuthOffLoopback(_)),
            "{bind}: {e}"
        );
    }
    let e = grocery_http::run(
        config,
        grocery_http::ServeOptions {
            bind: Some("not an address".into()),
            no_auth: false,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, grocery_http::ServeError::BadAddress(_)), "{e}");
}

/// Optimising and deals over HTTP work on the caller's own lists only.
#[tokio::test]
async fn optimize_and_deals_answer_for_the_callers_lists() {
    let s = start().await;
    let ana = s.user("ana").await;
    let bo = s.user("bo").await;
    let (status, _) = s
        .send(
            &ana,
            Method::POST,
            "/api/v1/agent",
            json!({"text": "add 2 gallons of milk and a dozen eggs"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, plan) = s
        .send(
            &ana,
            Method::POST,
            "/api/v1/optimize",
            json!({"max_stores": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["lines"].as_array().unwrap().len(), 2, "{plan}");
    assert!(plan["total_cents"].as_i64().unwrap() > 0);
    assert!(plan["total_cents"].as_i64() <= plan["naive_total_cents"].as_i64());
    // Bo has no list of that name: not found, whoever owns one.
    let (status, err) = s
        .send(
            &bo,
            Method::POST,
            "/api/v1/optimize",
            json!({"list": "Shopping"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    let (status, err) = s
        .send(
            &ana,
            Method::POST,
            "/api/v1/optimize",
            json!({"max_stores": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, deals) = s.get(&ana, "/api/v1/deals").await;
    assert_eq!(status, StatusCode::OK, "{deals}");
    assert!(deals.is_array());
    let (status, sale) = s.get(&bo, "/api/v1/deals?all=true&limit=5").await;
    assert_eq!(status, StatusCode::OK, "{sale}");
    assert!(sale.as_array().unwrap().len() <= 5);
    let (status, _, _) = s
        .call(None, Method::POST, "/api/v1/optimize", Some(json!({})), &[])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, usuals) = s.get(&ana, "/api/v1/usuals?forgotten=true").await;
    assert_eq!(status, StatusCode::OK, "{usuals}");
    assert!(usuals.is_array());
}
