//! The OpenAPI document at `/api/v1/openapi.json` against the running server:
//! it is OpenAPI 3.x, it documents exactly the routes of the router in
//! `src/lib.rs` (each documented path and method is served), and real
//! responses, requests and live messages validate against the schemas it
//! documents for them (strictly: a field serde writes that the schema does not
//! name fails too).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use grocery_core::config::ServerConfig;
use grocery_core::{Config, Grocery};
use grocery_http::AppState;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

struct Server {
    base: String,
    grocery: Grocery,
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
    // Serves until the test's runtime ends.
    tokio::spawn(grocery_http::serve_state(
        state,
        listener,
        std::future::pending(),
    ));
    Server {
        base,
        grocery,
        _dir: dir,
    }
}

async fn user(s: &Server, name: &str) -> String {
    s.grocery.users().add_with_token(name).await.unwrap().token
}

/// The document and checks against it.
struct Doc(Value);

/// One exchange with the server, checked against the document.
struct Call<'a> {
    s: &'a Server,
    doc: &'a Doc,
    token: Option<&'a str>,
}

impl Doc {
    async fn fetch(s: &Server) -> Doc {
        let res = reqwest::get(format!("{}/api/v1/openapi.json", s.base))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "served without a token");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let doc: Value = serde_json::from_str(&res.text().await.unwrap()).expect("valid JSON");
        let written = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("openapi.json");
        std::fs::write(&written, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        Doc(doc)
    }

    fn operation(&self, template: &str, method: &Method) -> &Value {
        let op = &self.0["paths"][template][method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {template} is not documented");
        op
    }

    /// The schema documented for `status` of an operation, as `content_type`.
    fn response_schema(
        &self,
        template: &str,
        method: &Method,
        status: StatusCode,
        content_type: &str,
    ) -> Value {
        let op = self.operation(template, method);
        let mut response = &op["responses"][status.as_str()];
        assert!(
            response.is_object(),
            "{method} {template} answered {status}, which it does not document"
        );
        if let Some(r) = response["$ref"].as_str() {
            let name = r.strip_prefix("#/components/responses/").unwrap();
            response = &self.0["components"]["responses"][name];
        }
        let schema = &response["content"][content_type]["schema"];
        assert!(
            schema.is_object(),
            "{method} {template} {status} documents no {content_type} body: {response}"
        );
        schema.clone()
    }

    fn request_schema(&self, template: &str, method: &Method) -> Value {
        let schema = &self.operation(template, method)["requestBody"]["content"]["application/json"]
            ["schema"];
        assert!(schema.is_object(), "{method} {template} documents no body");
        schema.clone()
    }

    /// Validate `instance` against `schema` (with its `$ref`s into the
    /// components inlined, and unknown properties refused).
    fn validate(&self, schema: &Value, instance: &Value, what: &str) {
        let mut strict = self.strict(schema, false, 0);
        if let Value::Object(m) = &mut strict {
            m.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&strict)
            .unwrap_or_else(|e| panic!("{what}: the schema does not compile: {e}\n{strict:#}"));
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what} does not match its schema:\n{}\nvalue: {instance:#}\nschema: {strict:#}",
            errors.join("\n")
        );
    }

    /// `schema` with component references inlined and every object closed
    /// (`unevaluatedProperties: false`), except the members of an `allOf`
    /// (serde's `flatten` and internally tagged variants), which their
    /// container closes.
    fn strict(&self, schema: &Value, all_of_member: bool, depth: usize) -> Value {
        assert!(depth < 64, "the schema recurses: {schema}");
        let Value::Object(map) = schema else {
            return schema.clone();
        };
        if let Some(r) = map.get("$ref").and_then(Value::as_str) {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {r}"));
            let target = &self.0["components"]["schemas"][name];
            assert!(target.is_object(), "dangling $ref {r}");
            return self.strict(target, all_of_member, depth + 1);
        }
        let mut out = Map::new();
        for (k, v) in map {
            let v = match (k.as_str(), v) {
                ("properties", Value::Object(props)) => Value::Object(
                    props
                        .iter()
                        .map(|(p, s)| (p.clone(), self.strict(s, false, depth + 1)))
                        .collect(),
                ),
                ("allOf", Value::Array(items)) => Value::Array(
                    items
                        .iter()
                        .map(|s| self.strict(s, true, depth + 1))
                        .collect(),
                ),
                ("oneOf" | "anyOf" | "prefixItems", Value::Array(items)) => Value::Array(
                    items
                        .iter()
                        .map(|s| self.strict(s, false, depth + 1))
                        .collect(),
                ),
                ("items" | "additionalProperties" | "not", s @ Value::Object(_)) => {
                    self.strict(s, false, depth + 1)
                }
                _ => v.clone(),
            };
            out.insert(k.clone(), v);
        }
        let object_like = map.contains_key("properties") || map.contains_key("allOf");
        if object_like && !all_of_member && !map.contains_key("additionalProperties") {
            out.insert("unevaluatedProperties".into(), json!(false));
        }
        Value::Object(out)
    }
}

impl Call<'_> {
    /// Send a request to `template` (filled in as `path`), validate the body
    /// sent against the documented request schema and the answer against the
    /// schema documented for its status; return status, headers and body.
    async fn run(
        &self,
        method: Method,
        template: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req =
            reqwest::Client::new().request(method.clone(), format!("{}{path}", self.s.base));
        if let Some(t) = self.token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = &body {
            let schema = self.doc.request_schema(template, &method);
            self.doc
                .validate(&schema, b, &format!("the body sent to {method} {template}"));
            req = req.json(b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let op = self.doc.operation(template, &method);
        assert!(
            op["responses"][status.as_str()].is_object(),
            "{method} {template} answered {status}, which it does not document: {text}"
        );
        let value = if text.is_empty() {
            Value::Null
        } else {
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
            let schema = self
                .doc
                .response_schema(template, &method, status, "application/json");
            self.doc
                .validate(&schema, &value, &format!("{method} {template} {status}"));
            value
        };
        (status, headers, value)
    }

    async fn ok(&self, method: Method, template: &str, path: &str, body: Option<Value>) -> Value {
        let (status, _, value) = self.run(method.clone(), template, path, body, &[]).await;
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }
}

/// The routes of `app()` in `src/lib.rs`: (path, lower-case method). Every
/// route is written with its full path.
fn router_routes() -> BTreeSet<(String, String)> {
    let src = include_str!("../src/lib.rs");
    let start = src.find("pub fn app(").expect("app() in lib.rs");
    let body = &src[start..];
    let body = &body[..body.find("\n}\n").expect("end of app()")];
    let mut routes = BTreeSet::new();
    for (at, _) in body.match_indices(".route(") {
        let rest = &body[at + ".route(".len()..];
        let rest = rest.trim_start();
        let rest = rest.strip_prefix('"').expect("a literal path");
        let end = rest.find('"').unwrap();
        let path = &rest[..end];
        // The arguments up to the matching parenthesis.
        let mut depth = 1;
        let mut args_end = 0;
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        args_end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let args = &rest[end + 1..args_end];
        let mut found = false;
        for method in ["get", "post", "put", "patch", "delete"] {
            for (m, _) in args.match_indices(&format!("{method}(")) {
                let before = args[..m].chars().last().unwrap_or(' ');
                if !(before.is_alphanumeric() || before == '_') {
                    routes.insert((path.to_string(), method.to_string()));
                    found = true;
                }
            }
        }
        assert!(found, "no method found for route {path}: {args}");
    }
    assert!(routes.len() > 20, "parsed too few routes: {routes:?}");
    routes
}

fn documented_routes(doc: &Doc) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc.0["paths"].as_object().unwrap() {
        for method in [
            "get", "post", "put", "patch", "delete", "head", "options", "trace",
        ] {
            if item.get(method).is_some() {
                out.insert((path.clone(), method.to_string()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_covers_every_route_of_the_router() {
    let s = start_with(|_| {}).await;
    let doc = Doc::fetch(&s).await;
    let version = doc.0["openapi"].as_str().unwrap();
    assert!(version.starts_with("3."), "{version}");
    assert!(doc.0["info"]["title"].is_string());

    let router = router_routes();
    let documented = documented_routes(&doc);
    let undocumented: Vec<_> = router.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes without docs: {undocumented:?}"
    );
    let unrouted: Vec<_> = documented.difference(&router).collect();
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );

    // Every operation is tagged and says who may call it; every API route
    // but this document needs a token (search and product: optional).
    for (path, method) in &documented {
        let op = &doc.0["paths"][path][method];
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{method} {path}"
        );
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
        let security = op["security"].as_array();
        let open = ["/api/v1/openapi.json", "/", "/metrics"].contains(&path.as_str())
            || path.starts_with("/health/");
        if open {
            assert!(security.is_none(), "{method} {path} needs no token");
        } else {
            let names: Vec<String> = security
                .unwrap_or_else(|| panic!("{method} {path} has no security"))
                .iter()
                .flat_map(|req| req.as_object().unwrap().keys().cloned())
                .collect();
            assert!(names.contains(&"bearer".to_string()), "{method} {path}");
        }
    }
    let bearer = &doc.0["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");

    // Live routes are described as what they are.
    let events = &doc.0["paths"]["/api/v1/events"]["get"]["responses"]["200"]["content"];
    assert!(
        events["text/event-stream"]["schema"].is_object(),
        "{events}"
    );
    assert!(doc.0["paths"]["/api/v1/ws"]["get"]["responses"]["101"].is_object());
    assert!(doc.0["components"]["schemas"]["LiveMessage"].is_object());
    // Error responses carry their headers.
    let responses = &doc.0["components"]["responses"];
    assert!(responses["RateLimited"]["headers"]["Retry-After"].is_object());
    assert!(responses["PreconditionFailed"]["headers"]["ETag"].is_object());

    // Each documented method and path is served (not 405, not the fallback).
    let t = user(&s, "ana").await;
    for (path, method) in &documented {
        let concrete = path
            .replace("{id}", "1")
            .replace("{item}", "1")
            .replace("{user}", "nobody");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let res = reqwest::Client::new()
            .request(method.clone(), format!("{}{concrete}", s.base))
            .bearer_auth(&t)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        if status == StatusCode::NOT_FOUND {
            let body = res.text().await.unwrap();
            assert!(!body.contains("this path"), "{method} {path} is not routed");
        }
    }
}

#[tokio::test]
async fn real_answers_match_their_schemas() {
    let s = start_with(|_| {}).await;
    let doc = Doc::fetch(&s).await;
    let t = user(&s, "ana").await;
    let bo = user(&s, "bo").await;
    let c = Call {
        s: &s,
        doc: &doc,
        token: Some(&t),
    };

    // The agent.
    let reply = c
        .ok(
            Method::POST,
            "/api/v1/agent",
            "/api/v1/agent",
            Some(json!({"text": "add 2 gallons of milk and a dozen eggs", "session": "s1"})),
        )
        .await;
    assert_eq!(
        reply["list"]["items"].as_array().unwrap().len(),
        2,
        "{reply}"
    );
    c.ok(
        Method::POST,
        "/api/v1/agent",
        "/api/v1/agent",
        Some(json!({"text": "what's on my list and how much is it"})),
    )
    .await;

    // Lists and items.
    let lists = c
        .ok(Method::GET, "/api/v1/lists", "/api/v1/lists", None)
        .await;
    let id = lists[0]["id"].as_i64().unwrap();
    let list_path = format!("/api/v1/lists/{id}");
    let list = c
        .ok(Method::GET, "/api/v1/lists/{id}", &list_path, None)
        .await;
    let item = list["items"][0]["id"].as_i64().unwrap();
    let version = list["version"].as_i64().unwrap();
    let items = format!("{list_path}/items");
    c.ok(
        Method::POST,
        "/api/v1/lists/{id}/items",
        &items,
        Some(json!({"name": "olive oil", "quantity": {"amount": 1.5, "unit": "l"}, "note": "extra virgin"})),
    )
    .await;
    let item_path = format!("{items}/{item}");
    c.ok(
        Method::PATCH,
        "/api/v1/lists/{id}/items/{item}",
        &item_path,
        Some(json!({"quantity": {"amount": 3, "unit": "gal"}, "note": null})),
    )
    .await;
    c.ok(
        Method::POST,
        "/api/v1/lists/{id}/items/{item}/check",
        &format!("{item_path}/check"),
        None,
    )
    .await;
    c.ok(
        Method::POST,
        "/api/v1/lists/{id}/clear-checked",
        &format!("{list_path}/clear-checked"),
        None,
    )
    .await;
    let created = c
        .ok(
            Method::POST,
            "/api/v1/lists",
            "/api/v1/lists",
            Some(json!({"name": "party"})),
        )
        .await;
    let party = format!("/api/v1/lists/{}", created["id"]);
    c.ok(
        Method::PUT,
        "/api/v1/lists/{id}/shares/{user}",
        &format!("{party}/shares/bo"),
        Some(json!({"role": "viewer"})),
    )
    .await;
    c.ok(
        Method::GET,
        "/api/v1/lists/{id}/shares",
        &format!("{party}/shares"),
        None,
    )
    .await;

    // Errors: each with the one error shape.
    let (status, headers, body) = c
        .run(
            Method::PATCH,
            "/api/v1/lists/{id}",
            &list_path,
            Some(json!({"name": "renamed"})),
            &[("if-match", &format!("\"{version}\""))],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert!(headers.contains_key("etag"));
    let (status, _, body) = c
        .run(
            Method::GET,
            "/api/v1/lists/{id}",
            "/api/v1/lists/999999",
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["kind"], "not_found");
    let viewer = Call {
        s: &s,
        doc: &doc,
        token: Some(&bo),
    };
    let (status, _, _) = viewer
        .run(
            Method::POST,
            "/api/v1/lists/{id}/items",
            &format!("{party}/items"),
            Some(json!({"name": "chips"})),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = c
        .run(
            Method::POST,
            "/api/v1/lists",
            "/api/v1/lists",
            Some(json!({"name": "party"})),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let anonymous = Call {
        s: &s,
        doc: &doc,
        token: None,
    };
    let (status, headers, _) = anonymous
        .run(Method::GET, "/api/v1/lists", "/api/v1/lists", None, &[])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key("www-authenticate"));

    // Products and prices.
    let hits = anonymous
        .ok(
            Method::GET,
            "/api/v1/products/search",
            "/api/v1/products/search?q=milk&limit=3",
            None,
        )
        .await;
    let product = hits[0]["id"].as_str().unwrap().to_string();
    c.ok(
        Method::GET,
        "/api/v1/products/{id}",
        &format!("/api/v1/products/{product}"),
        None,
    )
    .await;
    let price = c
        .ok(
            Method::GET,
            "/api/v1/prices/{id}",
            &format!("/api/v1/prices/{product}?max_age=0"),
            None,
        )
        .await;
    assert_eq!(price["product_id"], product.as_str());
    c.ok(
        Method::GET,
        "/api/v1/prices/{id}",
        &format!("/api/v1/prices/{product}"),
        None,
    )
    .await;
    c.ok(
        Method::GET,
        "/api/v1/prices/{id}/history",
        &format!("/api/v1/prices/{product}/history?days=30"),
        None,
    )
    .await;
    c.ok(
        Method::POST,
        "/api/v1/tracks",
        "/api/v1/tracks",
        Some(json!({"product_id": product, "below_cents": 100_000})),
    )
    .await;
    c.ok(Method::GET, "/api/v1/tracks", "/api/v1/tracks", None)
        .await;
    c.ok(
        Method::GET,
        "/api/v1/alerts",
        "/api/v1/alerts?limit=5",
        None,
    )
    .await;

    // Health.
    for path in ["/health/live", "/health/ready", "/health/deep"] {
        anonymous.run(Method::GET, path, path, None, &[]).await;
    }
}

#[tokio::test]
async fn rate_limits_are_documented_with_retry_after() {
    let s = start_with(|c| {
        c.rate_per_user_per_sec = 1;
        c.rate_burst = 1;
    })
    .await;
    let doc = Doc::fetch(&s).await;
    let t = user(&s, "ana").await;
    let c = Call {
        s: &s,
        doc: &doc,
        token: Some(&t),
    };
    let mut limited = None;
    for _ in 0..5 {
        let (status, headers, body) = c
            .run(Method::GET, "/api/v1/lists", "/api/v1/lists", None, &[])
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((headers, body));
            break;
        }
    }
    let (headers, body) = limited.expect("a 429 within 5 quick requests");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(body["error"]["kind"], "rate_limited");
}

#[tokio::test]
async fn live_messages_match_their_schema() {
    let s = start_with(|_| {}).await;
    let doc = Doc::fetch(&s).await;
    let t = user(&s, "ana").await;
    let schema = doc.response_schema(
        "/api/v1/events",
        &Method::GET,
        StatusCode::OK,
        "text/event-stream",
    );
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/events", s.base))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut stream = res.bytes_stream();
    let mut text = String::new();
    let mut seen: Vec<Value> = Vec::new();
    let mut changed = false;
    while !seen.iter().any(|m| m["event"] == "list_changed") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    let message: Value = serde_json::from_str(data.trim()).unwrap();
                    doc.validate(&schema, &message, "a live message");
                    seen.push(message);
                }
            }
        }
        if !changed && seen.iter().any(|m| m["event"] == "ready") {
            // Something to hear about: a change to the caller's list.
            let c = Call {
                s: &s,
                doc: &doc,
                token: Some(&t),
            };
            c.ok(
                Method::POST,
                "/api/v1/lists",
                "/api/v1/lists",
                Some(json!({"name": "live"})),
            )
            .await;
            changed = true;
        }
    }
    assert_eq!(seen[0]["event"], "ready", "{seen:?}");
}
