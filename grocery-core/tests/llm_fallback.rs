//! The LLM fallback against a fake Ollama / OpenAI-compatible server on 127.0.0.1:0
//! that counts the requests it receives.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use grocery_core::config::{LlmApi, LlmConfig, Secret};
use grocery_core::llm::{CONFIDENCE, LlmError, LlmFallback, SYSTEM_PROMPT};
use grocery_core::nlp::Intent;
use grocery_core::resilience::{BreakerConfig, BreakerOpen, BreakerState};
use grocery_core::{Amount, Error, ErrorKind, Unit};
use serde_json::{Value, json};

/// What the fake server answers.
#[derive(Clone)]
enum Mode {
    /// A 200 chat reply in the API's envelope with this message content.
    Answer(String),
    /// This status and raw body.
    Raw(StatusCode, String),
    /// Never answers.
    Hang,
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    hits: Arc<AtomicUsize>,
    /// The key the server wants, if any (401 otherwise).
    key: Option<String>,
    bodies: Arc<Mutex<Vec<Value>>>,
    auth: Arc<Mutex<Vec<Option<String>>>>,
}

impl Fake {
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn answer(&self, content: &Value) {
        self.set(Mode::Answer(content.to_string()));
    }

    fn last_body(&self) -> Value {
        self.bodies.lock().unwrap().last().cloned().unwrap()
    }
}

async fn handle(fake: Fake, api: LlmApi, headers: HeaderMap, body: Value) -> Response {
    fake.hits.fetch_add(1, Ordering::SeqCst);
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_string());
    fake.bodies.lock().unwrap().push(body);
    fake.auth.lock().unwrap().push(auth.clone());
    if let Some(key) = &fake.key
        && auth != Some(format!("Bearer {key}"))
    {
        return (StatusCode::UNAUTHORIZED, "bad key").into_response();
    }
    let mode = fake.mode.lock().unwrap().clone();
    match mode {
        Mode::Answer(content) => {
            let envelope = match api {
                LlmApi::Ollama => json!({
                    "model": "m",
                    "message": {"role": "assistant", "content": content},
                    "done": true,
                }),
                _ => json!({
                    "id": "x",
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                }),
            };
            Json(envelope).into_response()
        }
        Mode::Raw(status, body) => (status, body).into_response(),
        Mode::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
    }
}

async fn ollama(State(fake): State<Fake>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    handle(fake, LlmApi::Ollama, headers, body).await
}

async fn openai(State(fake): State<Fake>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    handle(fake, LlmApi::Openai, headers, body).await
}

/// Start a fake server; returns it and its base URL.
async fn start(mode: Mode, key: Option<&str>) -> (Fake, String) {
    let fake = Fake {
        mode: Arc::new(Mutex::new(mode)),
        hits: Arc::default(),
        key: key.map(str::to_string),
        bodies: Arc::default(),
        auth: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/api/chat", post(ollama))
        .route("/v1/chat/completions", post(openai))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, url)
}

fn config(api: LlmApi, url: &str) -> LlmConfig {
    LlmConfig {
        enabled: true,
        api,
        url: Some(url.to_string()),
        model: Some("test-model".into()),
        ..LlmConfig::default()
    }
}

fn fallback(config: &LlmConfig) -> LlmFallback {
    LlmFallback::from_config(config).unwrap().unwrap()
}

/// The `LlmError` inside an `Error::Upstream`.
fn llm_error(err: &Error) -> &LlmError {
    match err {
        Error::Upstream { source, .. } => source
            .downcast_ref::<LlmError>()
            .unwrap_or_else(|| panic!("not an LlmError: {err}")),
        other => panic!("not upstream: {other:?}"),
    }
}

fn good_answer() -> Value {
    json!({"commands": [
        {"intent": "add", "list": null, "items": [
            {"name": "Milk", "quantity": 2, "unit": "gallons"},
            {"name": "eggs", "quantity": null, "unit": null}
        ]},
        {"intent": "remove", "list": "Costco", "items": [{"name": "bread", "quantity": 1.5, "unit": "lb"}]},
        {"intent": "total", "list": null, "items": []}
    ]})
}

#[tokio::test]
async fn ollama_answer_becomes_commands() {
    let (fake, url) = start(Mode::Hang, None).await;
    fake.answer(&good_answer());
    let llm = fallback(&config(LlmApi::Ollama, &url));
    let u = llm
        .understand("add 2 gallons of milk and eggs, drop the bread")
        .await
        .unwrap();
    assert_eq!(u.confidence, CONFIDENCE);
    assert_eq!(u.commands.len(), 3);
    let add = &u.commands[0];
    assert_eq!((add.intent, add.list.as_deref()), (Intent::Add, None));
    assert_eq!(add.items[0].name, "milk");
    assert_eq!(add.items[0].amount, Some(Amount::from_int(2).unwrap()));
    assert_eq!(add.items[0].unit, Some(Unit::Gallon));
    assert_eq!(
        (
            add.items[1].name.as_str(),
            add.items[1].amount,
            add.items[1].unit
        ),
        ("eggs", None, None)
    );
    let remove = &u.commands[1];
    assert_eq!(remove.intent, Intent::Remove);
    assert_eq!(remove.list.as_deref(), Some("costco"));
    assert_eq!(remove.items[0].amount, Some(Amount::from_f64(1.5).unwrap()));
    assert_eq!(remove.items[0].unit, Some(Unit::Pound));
    assert_eq!(u.commands[2].intent, Intent::Total);
    assert!(u.commands[2].items.is_empty());

    assert_eq!(fake.hits(), 1);
    let body = fake.last_body();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["stream"], false);
    assert_eq!(body["format"], "json");
    assert_eq!(body["options"]["temperature"], 0);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][0]["content"], SYSTEM_PROMPT);
    assert_eq!(body["messages"][1]["role"], "user");
    assert_eq!(
        body["messages"][1]["content"],
        "add 2 gallons of milk and eggs, drop the bread"
    );
    assert_eq!(fake.auth.lock().unwrap().last().unwrap(), &None);
    assert_eq!(llm.breaker().state, BreakerState::Closed);
}

#[tokio::test]
async fn openai_answer_with_bearer_key() {
    let (fake, url) = start(Mode::Hang, Some("sk-test-123")).await;
    fake.answer(&json!({"commands": [{"intent": "create_list", "list": "party", "items": []}]}));
    let mut cfg = config(LlmApi::Openai, &url);
    cfg.api_key = Some(Secret::new("sk-test-123"));
    let llm = fallback(&cfg);
    assert!(!format!("{llm:?}").contains("sk-test-123"));
    let u = llm.understand("start a party list").await.unwrap();
    assert_eq!(u.commands[0].intent, Intent::CreateList);
    assert_eq!(u.commands[0].list.as_deref(), Some("party"));
    let body = fake.last_body();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["temperature"], 0);
    assert_eq!(body["response_format"]["type"], "json_object");
    assert_eq!(body["messages"][1]["content"], "start a party list");
    assert!(body.get("stream").is_none());

    // A wrong key is refused by the server: a typed upstream error.
    cfg.api_key = Some(Secret::new("sk-wrong"));
    let err = fallback(&cfg)
        .understand("start a party list")
        .await
        .unwrap_err();
    assert!(matches!(llm_error(&err), LlmError::Status(401)), "{err:?}");
    assert_eq!(fake.hits(), 2);
}

#[tokio::test]
async fn malformed_answers_are_typed_errors() {
    let (fake, url) = start(Mode::Hang, None).await;
    let llm = fallback(&config(LlmApi::Ollama, &url));

    fake.set(Mode::Raw(StatusCode::OK, "hello, not json".into()));
    let err = llm.understand("one").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert!(matches!(llm_error(&err), LlmError::Envelope(_)), "{err:?}");

    fake.set(Mode::Answer("Sure! Here is your list: milk".into()));
    let err = llm.understand("two").await.unwrap_err();
    assert!(
        matches!(llm_error(&err), LlmError::InvalidAnswer(_)),
        "{err:?}"
    );

    for wrong in [
        json!({"cmds": []}),
        json!({"commands": {"intent": "add"}}),
        json!({"commands": [{"intent": "add", "items": [{"name": "x", "qty": 2}]}]}),
        json!({"commands": []}),
    ] {
        fake.answer(&wrong);
        let err = llm.understand("three").await.unwrap_err();
        assert!(
            matches!(llm_error(&err), LlmError::InvalidAnswer(_)),
            "{wrong}: {err:?}"
        );
    }

    fake.set(Mode::Raw(StatusCode::INTERNAL_SERVER_ERROR, "boom".into()));
    let err = llm.understand("four").await.unwrap_err();
    assert!(matches!(llm_error(&err), LlmError::Status(500)), "{err:?}");
}

#[tokio::test]
async fn unknown_intent_is_an_upstream_error() {
    let (fake, url) = start(Mode::Hang, None).await;
    fake.answer(&json!({"commands": [{"intent": "buy_everything", "list": null, "items": []}]}));
    let llm = fallback(&config(LlmApi::Ollama, &url));
    let err = llm.understand("buy everything").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream);
    let LlmError::InvalidAnswer(reason) = llm_error(&err) else {
        panic!("{err:?}");
    };
    assert!(
        reason.contains("unknown intent `buy_everything`"),
        "{reason}"
    );
    // An answer that arrives but is invalid does not count against the server.
    assert_eq!(llm.breaker().failed_calls, 0);
}

#[tokio::test]
async fn slow_server_times_out_in_about_the_timeout() {
    let (fake, url) = start(Mode::Hang, None).await;
    let mut cfg = config(LlmApi::Ollama, &url);
    cfg.timeout_ms = 200;
    let llm = fallback(&cfg);
    let started = Instant::now();
    let err = llm.understand("add milk").await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, Error::Timeout { ref service } if service == "llm"),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(took >= Duration::from_millis(190), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(fake.hits(), 1);
    assert_eq!(llm.breaker().failed_calls, 1);
}

fn quick_breaker() -> BreakerConfig {
    BreakerConfig {
        window: 4,
        minimum_calls: 2,
        failure_rate_percent: 50.0,
        slow_call_ms: 2_000,
        wait_in_open_ms: 60_000,
        half_open_calls: 1,
    }
}

#[tokio::test]
async fn dead_endpoint_fails_fast_then_breaker_opens() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config(LlmApi::Ollama, &format!("http://127.0.0.1:{port}"));
    cfg.breaker = quick_breaker();
    let llm = fallback(&cfg);
    for _ in 0..2 {
        let started = Instant::now();
        let err = llm.understand("add milk").await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(matches!(llm_error(&err), LlmError::Transport(_)), "{err:?}");
        assert!(!BreakerOpen::is_rejection(&err));
    }
    let snap = llm.breaker();
    assert_eq!(snap.state, BreakerState::Open);
    assert_eq!(snap.failure_rate_percent, None);
    let err = llm.understand("add milk").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert!(BreakerOpen::is_rejection(&err), "{err:?}");
    assert_eq!(llm.breaker().rejected_total, 1);
}

#[tokio::test]
async fn open_breaker_does_not_contact_the_server() {
    let (fake, url) = start(
        Mode::Raw(StatusCode::SERVICE_UNAVAILABLE, "overloaded".into()),
        None,
    )
    .await;
    let mut cfg = config(LlmApi::Openai, &url);
    cfg.breaker = quick_breaker();
    let llm = fallback(&cfg);
    for text in ["a", "b"] {
        let err = llm.understand(text).await.unwrap_err();
        assert!(matches!(llm_error(&err), LlmError::Status(503)), "{err:?}");
    }
    assert_eq!(fake.hits(), 2);
    assert_eq!(llm.breaker().state, BreakerState::Open);
    // Even a good answer now would not be asked for.
    fake.answer(&good_answer());
    for text in ["c", "d", "e"] {
        let err = llm.understand(text).await.unwrap_err();
        assert!(BreakerOpen::is_rejection(&err), "{err:?}");
    }
    assert_eq!(fake.hits(), 2);
    assert_eq!(llm.breaker().rejected_total, 3);
}

#[tokio::test]
async fn identical_requests_are_answered_from_the_cache() {
    let (fake, url) = start(Mode::Raw(StatusCode::BAD_GATEWAY, "down".into()), None).await;
    let llm = fallback(&config(LlmApi::Ollama, &url));
    // Failures are not cached.
    assert!(llm.understand("add milk please").await.is_err());
    fake.answer(&good_answer());
    let first = llm.understand("add milk please").await.unwrap();
    let second = llm.understand("  Add   MILK\tplease ").await.unwrap();
    assert_eq!(first, second);
    assert_eq!(fake.hits(), 2);
    llm.understand("add bread").await.unwrap();
    assert_eq!(fake.hits(), 3);

    // cache_entries = 0 turns the cache off.
    let mut cfg = config(LlmApi::Ollama, &url);
    cfg.cache_entries = 0;
    let uncached = fallback(&cfg);
    uncached.understand("add milk please").await.unwrap();
    uncached.understand("add milk please").await.unwrap();
    assert_eq!(fake.hits(), 5);
}

#[tokio::test]
async fn hostile_values_are_rejected() {
    let (fake, url) = start(Mode::Hang, None).await;
    let llm = fallback(&config(LlmApi::Ollama, &url));
    let item =
        |item: Value| json!({"commands": [{"intent": "add", "list": null, "items": [item]}]});
    let many: Vec<Value> = (0..1_000)
        .map(|i| json!({"name": format!("item {i}"), "quantity": 1, "unit": null}))
        .collect();
    let cases = [
        item(json!({"name": "milk", "quantity": 1e12, "unit": "gal"})),
        item(json!({"name": "milk", "quantity": -2, "unit": null})),
        item(json!({"name": "milk", "quantity": 0, "unit": null})),
        item(json!({"name": "milk", "quantity": "NaN", "unit": null})),
        item(json!({"name": "milk", "quantity": "Infinity", "unit": null})),
        item(json!({"name": "x".repeat(10_000), "quantity": 1, "unit": null})),
        item(json!({"name": "", "quantity": 1, "unit": null})),
        json!({"commands": [{"intent": "add", "list": null, "items": many}]}),
        json!({"commands": [{"intent": "show", "list": "l".repeat(10_000), "items": []}]}),
        json!({"commands": vec![json!({"intent": "help", "list": null, "items": []}); 1_000]}),
    ];
    for (i, answer) in cases.iter().enumerate() {
        fake.answer(answer);
        // Distinct texts so that no answer comes from the cache.
        let err = llm.understand(&format!("hostile {i}")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Upstream, "case {i}");
        assert!(
            matches!(llm_error(&err), LlmError::InvalidAnswer(_)),
            "case {i}: {err:?}"
        );
    }
    // A huge number literal that overflows f64 is refused by the parser itself.
    fake.set(Mode::Answer(
        r#"{"commands": [{"intent": "add", "items": [{"name": "milk", "quantity": 1e999}]}]}"#
            .into(),
    ));
    assert!(llm.understand("hostile overflow").await.is_err());
    // A reply body over the size limit is not read.
    fake.set(Mode::Raw(StatusCode::OK, " ".repeat(2 * 1024 * 1024)));
    let err = llm.understand("hostile size").await.unwrap_err();
    assert!(matches!(llm_error(&err), LlmError::TooLarge), "{err:?}");
    assert_eq!(fake.hits(), cases.len() + 2);
}

#[tokio::test]
async fn empty_text_is_not_sent() {
    let (fake, url) = start(Mode::Hang, None).await;
    let llm = fallback(&config(LlmApi::Ollama, &url));
    let err = llm.understand(" \n ").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(fake.hits(), 0);
}

/// A `Grocery` on a temp database with the fallback pointed at `url`.
async fn grocery_with(llm: LlmConfig) -> (grocery_core::Grocery, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = grocery_core::Config::default();
    config.store.path = Some(dir.path().join("g.db"));
    config.llm = llm;
    (grocery_core::Grocery::open(config).await.unwrap(), dir)
}

#[tokio::test]
async fn the_agent_asks_only_when_unsure_and_applies_the_validated_answer() {
    let (fake, url) = start(Mode::Hang, None).await;
    fake.answer(&json!({"commands": [
        {"intent": "add", "list": null, "items": [{"name": "avocados", "quantity": 3, "unit": null}]}
    ]}));
    let (g, _dir) = grocery_with(config(LlmApi::Ollama, &url)).await;

    // Sure of itself: the built-in grammar answers and the server is not asked.
    let reply = g.agent().handle("add milk", None).await.unwrap();
    assert_eq!(
        reply.understood_by,
        grocery_core::agent::UnderstoodBy::Builtin
    );
    assert_eq!(fake.hits(), 0);

    // Unsure (the built-in grammar reads it as not about shopping): the LLM's
    // validated answer is applied.
    let text = "the guac situation is dire, sort it";
    assert!(grocery_core::nlp::parse_request(text).confidence < 0.5);
    let reply = g.agent().handle(text, None).await.unwrap();
    assert_eq!(reply.understood_by, grocery_core::agent::UnderstoodBy::Llm);
    assert_eq!(fake.hits(), 1);
    let list = reply.list.unwrap();
    let names: Vec<&str> = list.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["milk", "avocados"]);
}

#[tokio::test]
async fn the_agent_keeps_the_builtin_answer_when_the_fallback_fails() {
    // A malformed answer, then a dead endpoint: the built-in reply each time,
    // nothing written, no error.
    let (fake, url) = start(Mode::Raw(StatusCode::OK, "not json".into()), None).await;
    let (g, _dir) = grocery_with(config(LlmApi::Ollama, &url)).await;
    let text = "the guac situation is dire, sort it";
    let reply = g.agent().handle(text, None).await.unwrap();
    assert_eq!(
        reply.understood_by,
        grocery_core::agent::UnderstoodBy::Builtin
    );
    assert_eq!(fake.hits(), 1);
    assert!(reply.actions.is_empty());

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut llm = config(LlmApi::Ollama, &dead);
    llm.breaker = quick_breaker();
    let (g, _dir) = grocery_with(llm).await;
    for _ in 0..10 {
        let started = Instant::now();
        let reply = g.agent().handle(text, None).await.unwrap();
        assert_eq!(
            reply.understood_by,
            grocery_core::agent::UnderstoodBy::Builtin
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    let breaker = g.llm().unwrap().breaker();
    assert_eq!(breaker.state, BreakerState::Open);
    assert!(g.lists().all().await.unwrap().is_empty());
}
