//! The Walmart- and Kroger-style price sources against fake upstreams on
//! 127.0.0.1:0 that serve the documented shapes, count requests and inject
//! faults.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use grocery_core::catalog::Product;
use grocery_core::config::Secret;
use grocery_core::money::Money;
use grocery_core::pricing::http::{
    KrogerConfig, KrogerSource, SourceError, WalmartConfig, WalmartHit, WalmartSource,
};
use grocery_core::pricing::source::{Offer, PriceSource, Quote};
use grocery_core::resilience::RateLimited;
use grocery_core::{Error, ErrorKind};
use serde_json::{Value, json};
use tokio::sync::Notify;

const WALMART_KEY: &str = "walmart-key-s3cr3t";
const KROGER_SECRET: &str = "kroger-secret-xyz";
/// base64("kroger-client:kroger-secret-xyz")
const KROGER_BASIC: &str = "Basic a3JvZ2VyLWNsaWVudDprcm9nZXItc2VjcmV0LXh5eg==";

fn product(id: &str, upc: Option<&str>) -> Product {
    serde_json::from_value(json!({
        "id": id, "upc": upc, "name": id, "brand": "Test", "department": "pantry",
        "size": 1, "unit": "lb", "price_cents": 100,
    }))
    .unwrap()
}

/// `n` products with 12-digit UPCs `000000000100`, `000000000101`, ...
fn products(n: usize) -> Vec<Product> {
    (0..n)
        .map(|i| product(&format!("p-{i}"), Some(&format!("{:012}", 100 + i))))
        .collect()
}

fn by_id(quotes: &[Quote]) -> HashMap<String, Quote> {
    quotes
        .iter()
        .map(|q| (q.product_id.clone(), q.clone()))
        .collect()
}

/// What a fake answers to product calls.
#[derive(Clone)]
enum Mode {
    /// The documented shape, from the fake's table.
    Good,
    /// This status and raw body.
    Raw(StatusCode, &'static str),
    /// 429 with `Retry-After: 7`.
    TooMany,
    /// Answers after 30 s.
    Hang,
}

/// One call the Walmart fake received.
#[derive(Clone, Debug, PartialEq)]
enum WalmartCall {
    /// `GET /v2/items?ids=...`: the itemIds.
    Ids(Vec<String>),
    /// `GET /v2/items?upc=...`: the UPC.
    Upc(String),
    /// `GET /v2/search?query=...&numItems=...`.
    Search { query: String, num_items: String },
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    /// Kroger: product calls received, and the ids each carried.
    calls: Arc<Mutex<Vec<Vec<String>>>>,
    /// Walmart: calls received, in order.
    walmart: Arc<Mutex<Vec<WalmartCall>>>,
    /// Items by UPC (without leading zeros); Walmart's item without a UPC is
    /// under a non-digit key.
    table: Arc<Mutex<HashMap<String, Value>>>,
    /// Walmart: former itemId -> UPC key of the item that now answers for it.
    moved: Arc<Mutex<HashMap<String, String>>>,
    /// Kroger: token requests received.
    token_calls: Arc<AtomicUsize>,
    /// Kroger: the token the fake accepts now (`None`: every token is expired).
    valid: Arc<Mutex<Option<String>>>,
    /// Kroger: `expires_in` of issued tokens.
    expires_in: u64,
    headers: Arc<Mutex<Vec<HeaderMap>>>,
    /// Wakes the server's graceful shutdown.
    stop: Arc<Notify>,
    /// The server task, done once every connection is closed.
    server: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Fake {
    fn new(table: HashMap<String, Value>) -> Self {
        Fake {
            mode: Arc::new(Mutex::new(Mode::Good)),
            calls: Arc::default(),
            walmart: Arc::default(),
            table: Arc::new(Mutex::new(table)),
            moved: Arc::default(),
            token_calls: Arc::default(),
            valid: Arc::default(),
            expires_in: 1_800,
            headers: Arc::default(),
            stop: Arc::default(),
            server: Arc::default(),
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().unwrap().clone()
    }

    /// Walmart calls received since the last call of this method.
    fn take_walmart(&self) -> Vec<WalmartCall> {
        std::mem::take(&mut *self.walmart.lock().unwrap())
    }

    /// Stop serving: close every connection, then the listener. Later calls
    /// are refused.
    async fn shut_down(&self) {
        self.stop.notify_one();
        let server = self.server.lock().unwrap().take();
        if let Some(server) = server {
            server.await.unwrap();
        }
    }

    /// The fault for the current mode, or `None` to answer normally.
    async fn fault(&self) -> Option<Response> {
        let mode = self.mode.lock().unwrap().clone();
        match mode {
            Mode::Good => None,
            Mode::Raw(status, body) => Some((status, body).into_response()),
            Mode::TooMany => Some(
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "7")],
                    "slow down",
                )
                    .into_response(),
            ),
            // Never answers: the client's timeout must end the call.
            Mode::Hang => std::future::pending().await,
        }
    }
}

fn key(upc: &str) -> String {
    upc.trim_start_matches('0').to_string()
}

/// Walmart's error body.
fn walmart_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({"errors": [{"code": code, "message": message}]});
    (status, Json(body)).into_response()
}

fn walmart_authorized(headers: &HeaderMap) -> bool {
    headers.get("WM_SEC.AUTH_SIGNATURE").map(|v| v.as_bytes()) == Some(WALMART_KEY.as_bytes())
}

/// `GET /v2/items`: by `ids` (at most 20 itemIds; unknown ones are left out)
/// or by one `upc` (an unknown UPC is a 400 error body).
async fn walmart_items(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let call = match (q.get("ids"), q.get("upc")) {
        (Some(ids), None) => WalmartCall::Ids(ids.split(',').map(str::to_string).collect()),
        (None, Some(upc)) => WalmartCall::Upc(upc.clone()),
        _ => return walmart_error(StatusCode::BAD_REQUEST, 4000, "ids or upc is required"),
    };
    fake.walmart.lock().unwrap().push(call.clone());
    fake.headers.lock().unwrap().push(headers.clone());
    if let Some(r) = fake.fault().await {
        return r;
    }
    if !walmart_authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let table = fake.table.lock().unwrap();
    match call {
        WalmartCall::Ids(ids) if ids.len() > 20 => {
            walmart_error(StatusCode::BAD_REQUEST, 4001, "at most 20 ids")
        }
        WalmartCall::Ids(ids) => {
            let moved = fake.moved.lock().unwrap();
            let items: Vec<Value> = ids
                .iter()
                .filter_map(|id| {
                    table
                        .values()
                        .find(|item| {
                            item["itemId"].as_u64().map(|n| n.to_string()).as_ref() == Some(id)
                        })
                        .or_else(|| table.get(moved.get(id)?))
                        .cloned()
                })
                .collect();
            Json(json!({ "items": items })).into_response()
        }
        WalmartCall::Upc(upc) => match table.get(&key(&upc)) {
            Some(item) => Json(json!({ "items": [item] })).into_response(),
            None => walmart_error(StatusCode::BAD_REQUEST, 4003, "Invalid UPC"),
        },
        WalmartCall::Search { .. } => unreachable!("not an items call"),
    }
}

/// `GET /v2/search`: items whose name contains the query, by itemId, at most
/// `numItems` (10 when absent, 25 at most).
async fn walmart_search(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let query = q.get("query").cloned().unwrap_or_default();
    let num_items = q.get("numItems").cloned().unwrap_or_default();
    fake.walmart.lock().unwrap().push(WalmartCall::Search {
        query: query.clone(),
        num_items: num_items.clone(),
    });
    if let Some(r) = fake.fault().await {
        return r;
    }
    if !walmart_authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let n = match num_items.parse::<usize>() {
        Ok(n @ 1..=25) => n,
        Err(_) if num_items.is_empty() => 10,
        _ => return walmart_error(StatusCode::BAD_REQUEST, 4001, "numItems is 1..=25"),
    };
    let mut found: Vec<Value> = fake
        .table
        .lock()
        .unwrap()
        .values()
        .filter(|item| {
            let name = item["name"].as_str().unwrap_or_default().to_lowercase();
            name.contains(&query.to_lowercase())
        })
        .cloned()
        .collect();
    found.sort_by_key(|item| item["itemId"].as_u64());
    let total = found.len();
    found.truncate(n);
    Json(json!({
        "query": query, "sort": "relevance", "responseGroup": "base",
        "totalResults": total, "start": 1, "numItems": found.len(), "items": found,
    }))
    .into_response()
}

async fn kroger_token(State(fake): State<Fake>, headers: HeaderMap, body: String) -> Response {
    let n = fake.token_calls.fetch_add(1, Ordering::SeqCst) + 1;
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth != Some(KROGER_BASIC)
        || !body.contains("grant_type=client_credentials")
        || !body.contains("scope=product.compact")
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let token = format!("token-{n}");
    *fake.valid.lock().unwrap() = Some(token.clone());
    Json(json!({"access_token": token, "expires_in": fake.expires_in, "token_type": "bearer"}))
        .into_response()
}

async fn kroger_products(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ids: Vec<String> = q
        .get("filter.productId")
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    fake.calls.lock().unwrap().push(ids.clone());
    if let Some(r) = fake.fault().await {
        return r;
    }
    let want = fake
        .valid
        .lock()
        .unwrap()
        .as_ref()
        .map(|t| format!("Bearer {t}"));
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if want.is_none()
        || auth != want.as_deref()
        || q.get("filter.locationId").map(String::as_str) != Some("01400943")
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let table = fake.table.lock().unwrap();
    let data: Vec<Value> = ids
        .iter()
        .filter_map(|id| table.get(&key(id)).cloned())
        .collect();
    Json(json!({ "data": data, "meta": {} })).into_response()
}

/// Serve `app` for `fake` on 127.0.0.1:0; its URL.
async fn serve(app: Router, fake: &Fake) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::clone(&fake.stop);
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.notified().await })
            .await
            .unwrap();
    });
    *fake.server.lock().unwrap() = Some(server);
    format!("http://{addr}")
}

/// Walmart's items 0..30 (UPC `{100 + i:012}`, itemId `1000 + i`, "item i",
/// $1.00 + i cents, with a few odd ones), and "item 2 without a UPC".
fn walmart_table() -> HashMap<String, Value> {
    let mut t = HashMap::new();
    for i in 0..30 {
        let upc = format!("{:012}", 100 + i);
        let cents = 100 + i;
        let price = format!("{}.{:02}", cents / 100, cents % 100);
        let item = json!({
            "itemId": 1000 + i, "name": format!("item {i}"), "upc": upc,
            "salePrice": serde_json::from_str::<Value>(&price).unwrap(),
            "msrp": 9.99, "stock": "Available", "offerType": "ONLINE_AND_STORE",
            "rollback": false, "clearance": false,
        });
        t.insert(key(&upc), item);
    }
    let mut set = |i: usize, patch: Value| {
        let item = t.get_mut(&key(&format!("{:012}", 100 + i))).unwrap();
        for (k, v) in patch.as_object().unwrap() {
            item[k] = v.clone();
        }
    };
    set(
        0,
        json!({"salePrice": 3.48, "msrp": 3.98, "rollback": true}),
    );
    set(
        1,
        json!({"salePrice": 0.1_f64 + 0.2_f64, "msrp": 0.1_f64 + 0.2_f64}),
    );
    set(
        2,
        json!({"salePrice": 1.15, "msrp": 2.0, "clearance": true}),
    );
    set(3, json!({"stock": "Not available"}));
    set(4, json!({"salePrice": -1.0}));
    set(5, json!({"salePrice": 100_000.01}));
    t.insert(
        "no upc".into(),
        json!({"itemId": 7777, "name": "Item 2 without a UPC", "salePrice": 5.0}),
    );
    t
}

async fn walmart(timeout_ms: u64) -> (WalmartSource, Fake) {
    let fake = Fake::new(walmart_table());
    let app = Router::new()
        .route("/v2/items", get(walmart_items))
        .route("/v2/search", get(walmart_search))
        .with_state(fake.clone());
    let base_url = serve(app, &fake).await;
    let source = WalmartSource::new(&WalmartConfig {
        base_url,
        consumer_id: "consumer-1".into(),
        api_key: Secret::new(WALMART_KEY),
        daily_quota: 5_000,
        timeout_ms,
    })
    .unwrap();
    (source, fake)
}

fn kroger_table() -> HashMap<String, Value> {
    let mut t = HashMap::new();
    let mut add = |i: usize, regular: Value, promo: Value, stock: &str| {
        let upc = format!("{:013}", 100 + i);
        t.insert(
            key(&upc),
            json!({
                "productId": upc, "upc": upc, "description": format!("product {i}"),
                "items": [{"price": {"regular": regular, "promo": promo},
                           "inventory": {"stockLevel": stock}}],
            }),
        );
    };
    add(0, json!(3.99), json!(3.49), "HIGH");
    add(1, json!(2.5), json!(0), "LOW");
    add(2, json!(1.99), json!(2.49), "TEMPORARILY_OUT_OF_STOCK");
    add(3, json!(0.1_f64 + 0.2_f64), json!(0), "HIGH");
    t
}

async fn kroger_with(fake: Fake) -> (KrogerSource, Fake) {
    let app = Router::new()
        .route("/v1/connect/oauth2/token", post(kroger_token))
        .route("/v1/products", get(kroger_products))
        .with_state(fake.clone());
    let base_url = serve(app, &fake).await;
    let source = KrogerSource::new(&KrogerConfig {
        base_url,
        client_id: "kroger-client".into(),
        client_secret: Secret::new(KROGER_SECRET),
        location_id: "01400943".into(),
        daily_quota: 10_000,
        timeout_ms: 2_000,
    })
    .unwrap();
    (source, fake)
}

async fn kroger() -> (KrogerSource, Fake) {
    kroger_with(Fake::new(kroger_table())).await
}

/// How a Walmart source asks for `products(2)`.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Their itemIds are unknown: one `upc=` call each.
    Upc,
    /// Their itemIds are known: one `ids=` call.
    Ids,
}

/// A Walmart source whose next quote of `products(2)` is of `kind`, with its
/// fake's call log empty.
async fn walmart_asking_by(kind: Kind, timeout_ms: u64) -> (WalmartSource, Fake) {
    let (walmart, fake) = walmart(timeout_ms).await;
    if let Kind::Ids = kind {
        assert_eq!(walmart.quote(&products(2)).await.unwrap().len(), 2);
    }
    fake.take_walmart();
    (walmart, fake)
}

/// The first Walmart call was of `kind`.
fn asked_by(fake: &Fake, kind: Kind) {
    let calls = fake.take_walmart();
    let first = calls.first();
    match kind {
        Kind::Upc => assert!(matches!(first, Some(WalmartCall::Upc(_))), "{calls:?}"),
        Kind::Ids => assert!(matches!(first, Some(WalmartCall::Ids(_))), "{calls:?}"),
    }
}

fn ids(calls: &[WalmartCall]) -> Vec<Vec<String>> {
    calls
        .iter()
        .filter_map(|c| match c {
            WalmartCall::Ids(ids) => Some(ids.clone()),
            _ => None,
        })
        .collect()
}

fn upcs(calls: &[WalmartCall]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| match c {
            WalmartCall::Upc(upc) => Some(upc.clone()),
            _ => None,
        })
        .collect()
}

fn source_error(e: &Error) -> &SourceError {
    match e {
        Error::Upstream { source, .. } => source
            .downcast_ref::<SourceError>()
            .unwrap_or_else(|| panic!("not a SourceError: {e:?}")),
        other => panic!("not upstream: {other:?}"),
    }
}

/// The quotes for `products(21)` and a product without a UPC.
fn assert_walmart_prices(quotes: &[Quote]) {
    let q = by_id(quotes);
    // Items 4 (negative) and 5 (over $100,000) are left out, as is the product without a UPC.
    assert_eq!(quotes.len(), 19, "{quotes:#?}");
    assert!(!q.contains_key("p-4") && !q.contains_key("p-5") && !q.contains_key("no-upc"));
    assert_eq!(q["p-0"].price, Money::usd(348));
    assert_eq!(
        q["p-0"].offers,
        [Offer::Rollback {
            was: Money::usd(398)
        }]
    );
    assert_eq!(q["p-1"].price, Money::usd(30), "0.1 + 0.2 dollars");
    assert!(
        q["p-1"].offers.is_empty(),
        "msrp equal to the price is no offer"
    );
    assert_eq!(q["p-2"].price, Money::usd(115));
    assert_eq!(
        q["p-2"].offers,
        [Offer::Clearance {
            was: Money::usd(200)
        }]
    );
    assert!(!q["p-3"].in_stock && q["p-0"].in_stock);
    // The others are $1.00 + i cents, exactly.
    for i in 6..21 {
        assert_eq!(q[&format!("p-{i}")].price, Money::usd(100 + i as i64));
        assert_eq!(q[&format!("p-{i}")].source, "walmart");
    }
}

#[tokio::test]
async fn walmart_prices_in_exact_cents_by_upc_and_by_item_id() {
    let (walmart, fake) = walmart(2_000).await;
    assert_eq!(walmart.name(), "walmart");
    assert_eq!(walmart.max_batch(), 20);
    assert_eq!(walmart.daily_quota(), Some(5_000));
    let mut ps = products(21);
    ps.push(product("no-upc", None));

    let first = walmart.quote(&ps).await.unwrap();
    let calls = fake.take_walmart();
    assert_eq!(upcs(&calls).len(), 21, "{calls:?}");
    assert_eq!(upcs(&calls)[0], "000000000100");
    assert!(ids(&calls).is_empty());
    assert_walmart_prices(&first);
    // A clone: a guard held over the next quote would block the fake.
    let h = fake.headers.lock().unwrap()[0].clone();
    assert_eq!(h["WM_CONSUMER.ID"], "consumer-1");
    assert_eq!(h["WM_SEC.KEY_VERSION"], "1");

    // Items 4 and 5 were left out for their prices, but their itemIds are known.
    let second = walmart.quote(&ps).await.unwrap();
    let calls = fake.take_walmart();
    assert_eq!(
        ids(&calls).iter().map(Vec::len).collect::<Vec<_>>(),
        [20, 1]
    );
    assert_eq!(ids(&calls)[0][0], "1000");
    assert!(upcs(&calls).is_empty());
    assert_walmart_prices(&second);
}

#[tokio::test]
async fn walmart_resolves_upcs_once_then_batches_item_ids_by_twenty() {
    let (walmart, fake) = walmart(2_000).await;
    let ps = products(25);
    let first = walmart.quote(&ps).await.unwrap();
    let calls = fake.take_walmart();
    assert_eq!(calls.len(), 25, "{calls:?}");
    assert_eq!(upcs(&calls).len(), 25, "one upc lookup per product");

    let second = walmart.quote(&ps).await.unwrap();
    let calls = fake.take_walmart();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let batches = ids(&calls);
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [20, 5]);
    let mut asked: Vec<&String> = batches.iter().flatten().collect();
    asked.sort();
    asked.dedup();
    assert_eq!(asked.len(), 25, "each itemId once");

    // Both answers price the same 23 products (4 and 5 have bad prices) alike.
    let strip = |qs: &[Quote]| {
        let mut v: Vec<(String, Money)> =
            qs.iter().map(|q| (q.product_id.clone(), q.price)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(first.len(), 23);
    assert_eq!(strip(&first), strip(&second));
}

#[tokio::test]
async fn walmart_leaves_an_unknown_upc_out_and_does_not_ask_again() {
    let (walmart, fake) = walmart(2_000).await;
    let mut ps = products(1);
    // 14 digits here; Walmart is asked with the 12-digit UPC.
    ps.push(product("ghost", Some("00000000099999")));

    let quotes = walmart.quote(&ps).await.unwrap();
    assert_eq!(quotes.len(), 1, "{quotes:#?}");
    assert_eq!(quotes[0].product_id, "p-0");
    let calls = fake.take_walmart();
    assert_eq!(upcs(&calls), ["000000000100", "000000099999"]);

    for _ in 0..2 {
        let again = walmart.quote(&ps).await.unwrap();
        assert_eq!(again.len(), 1);
        let calls = fake.take_walmart();
        assert_eq!(
            calls,
            [WalmartCall::Ids(vec!["1000".into()])],
            "no call for the ghost"
        );
    }
}

#[tokio::test]
async fn walmart_not_found_answers_to_a_upc_lookup_mean_not_sold() {
    for (status, body, not_sold) in [
        (StatusCode::OK, r#"{"items": []}"#, true),
        (
            StatusCode::BAD_REQUEST,
            r#"{"errors": [{"code": 4003, "message": "Invalid UPC"}]}"#,
            true,
        ),
        (
            StatusCode::NOT_FOUND,
            r#"{"errors": [{"code": 4004, "message": "No item found"}]}"#,
            true,
        ),
        // Not Walmart's answer about a UPC (a wrong base_url, a proxy): failures.
        (StatusCode::NOT_FOUND, "Not Found", false),
        (StatusCode::BAD_REQUEST, r#"{"errors": []}"#, false),
    ] {
        let (walmart, fake) = walmart(2_000).await;
        let ps = products(1);
        fake.set(Mode::Raw(status, body));
        let got = walmart.quote(&ps).await;
        fake.set(Mode::Good);
        if not_sold {
            assert!(got.unwrap().is_empty(), "{status} {body}");
            fake.take_walmart();
            assert!(walmart.quote(&ps).await.unwrap().is_empty());
            assert!(
                fake.take_walmart().is_empty(),
                "remembered: {status} {body}"
            );
        } else {
            let e = got.unwrap_err();
            assert!(
                matches!(source_error(&e), SourceError::Status(s) if *s == status.as_u16()),
                "{e:?}"
            );
            fake.take_walmart();
            // Not remembered: asked again, and now it is there.
            assert_eq!(walmart.quote(&ps).await.unwrap().len(), 1);
            assert_eq!(upcs(&fake.take_walmart()).len(), 1);
        }
    }
}

#[tokio::test]
async fn walmart_search_returns_hits_and_teaches_item_ids() {
    let (walmart, fake) = walmart(2_000).await;
    let hits = walmart.search("  Item 2 ", 25).await.unwrap();
    assert_eq!(
        fake.take_walmart(),
        [WalmartCall::Search {
            query: "Item 2".into(),
            num_items: "25".into()
        }]
    );
    // "item 2", "item 20" ... "item 29", by itemId, then the one without a UPC.
    assert_eq!(hits.len(), 12, "{hits:#?}");
    assert_eq!(
        hits[0],
        WalmartHit {
            item_id: "1002".into(),
            name: "item 2".into(),
            upc: Some("000000000102".into()),
            price: Some(Money::usd(115)),
            in_stock: true,
        }
    );
    assert_eq!(hits[1].item_id, "1020");
    assert_eq!(hits[1].price, Some(Money::usd(120)));
    let last = &hits[11];
    assert_eq!((last.item_id.as_str(), last.upc.as_ref()), ("7777", None));

    // A later quote of products found asks by itemId, in one call.
    let ps = products(30);
    let quotes = walmart
        .quote(&[ps[2].clone(), ps[21].clone()])
        .await
        .unwrap();
    assert_eq!(
        fake.take_walmart(),
        [WalmartCall::Ids(vec!["1002".into(), "1021".into()])]
    );
    let q = by_id(&quotes);
    assert_eq!(q["p-2"].price, Money::usd(115));
    assert_eq!(q["p-21"].price, Money::usd(121));

    // `limit` caps the hits (and numItems, at 25).
    assert_eq!(walmart.search("item", 3).await.unwrap().len(), 3);
    assert_eq!(walmart.search("item", 100).await.unwrap().len(), 25);
    let sent: Vec<String> = fake
        .take_walmart()
        .into_iter()
        .filter_map(|c| match c {
            WalmartCall::Search { num_items, .. } => Some(num_items),
            _ => None,
        })
        .collect();
    assert_eq!(sent, ["3", "25"]);
    assert!(
        walmart
            .search("nothing like it", 5)
            .await
            .unwrap()
            .is_empty()
    );
    fake.take_walmart();

    // Nothing to ask: no call.
    assert!(walmart.search("milk", 0).await.unwrap().is_empty());
    for bad in ["", "   ", &"x".repeat(201)] {
        let e = walmart.search(bad, 5).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    assert!(fake.take_walmart().is_empty());
}

#[tokio::test]
async fn walmart_follows_a_changed_item_id_and_forgets_a_vanished_one() {
    let (walmart, fake) = walmart(2_000).await;
    let ps = products(2);
    assert_eq!(walmart.quote(&ps).await.unwrap().len(), 2);
    fake.take_walmart();
    {
        let mut table = fake.table.lock().unwrap();
        // Item 0 moved to itemId 9000; the old id answers with it.
        table.get_mut("100").unwrap()["itemId"] = json!(9000);
        fake.moved
            .lock()
            .unwrap()
            .insert("1000".into(), "100".into());
        // Item 1 is 9001 now, and its old id answers nothing.
        table.get_mut("101").unwrap()["itemId"] = json!(9001);
    }
    let quotes = walmart.quote(&ps).await.unwrap();
    assert_eq!(
        fake.take_walmart(),
        [WalmartCall::Ids(vec!["1000".into(), "1001".into()])]
    );
    assert_eq!(quotes.len(), 1);
    assert_eq!(quotes[0].product_id, "p-0");

    // p-1 is looked up by UPC again; p-0 under its new id.
    assert_eq!(walmart.quote(&ps).await.unwrap().len(), 2);
    assert_eq!(
        fake.take_walmart(),
        [
            WalmartCall::Ids(vec!["9000".into()]),
            WalmartCall::Upc("000000000101".into())
        ]
    );
    assert_eq!(walmart.quote(&ps).await.unwrap().len(), 2);
    assert_eq!(
        fake.take_walmart(),
        [WalmartCall::Ids(vec!["9000".into(), "9001".into()])]
    );
}

#[tokio::test]
async fn walmart_without_upcs_makes_no_call() {
    let (walmart, fake) = walmart(2_000).await;
    let quotes = walmart
        .quote(&[product("a", None), product("b", Some("  "))])
        .await
        .unwrap();
    assert!(quotes.is_empty());
    assert!(fake.take_walmart().is_empty());
}

#[tokio::test]
async fn server_errors_and_malformed_json_are_typed_upstream_errors() {
    // A body past the size limit is refused, not buffered.
    let huge: &'static str = Box::leak(" ".repeat(5 * 1024 * 1024).into_boxed_str());
    for kind in [Kind::Upc, Kind::Ids] {
        let (walmart, fake) = walmart_asking_by(kind, 2_000).await;
        let ps = products(2);
        fake.set(Mode::Raw(StatusCode::INTERNAL_SERVER_ERROR, "oops"));
        let e = walmart.quote(&ps).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Upstream);
        assert!(
            matches!(source_error(&e), SourceError::Status(500)),
            "{kind:?} {e:?}"
        );
        asked_by(&fake, kind);

        fake.set(Mode::Raw(StatusCode::OK, "{\"items\": [{\"upc\": "));
        let e = walmart.quote(&ps).await.unwrap_err();
        assert!(
            matches!(source_error(&e), SourceError::Malformed(_)),
            "{kind:?} {e:?}"
        );
        asked_by(&fake, kind);

        fake.set(Mode::Raw(StatusCode::OK, "{\"products\": []}"));
        let e = walmart.quote(&ps).await.unwrap_err();
        assert!(
            matches!(source_error(&e), SourceError::Malformed(_)),
            "{kind:?} {e:?}"
        );
        asked_by(&fake, kind);

        fake.set(Mode::Raw(StatusCode::OK, huge));
        let e = walmart.quote(&ps).await.unwrap_err();
        assert!(matches!(source_error(&e), SourceError::TooLarge), "{e:?}");
        asked_by(&fake, kind);

        // Failures teach nothing and forget nothing: asked the same way again.
        fake.set(Mode::Good);
        assert_eq!(walmart.quote(&ps).await.unwrap().len(), 2);
        asked_by(&fake, kind);
    }

    // Search fails the same ways.
    let (walmart, fake) = walmart(2_000).await;
    fake.set(Mode::Raw(StatusCode::INTERNAL_SERVER_ERROR, "oops"));
    let e = walmart.search("item", 5).await.unwrap_err();
    assert!(
        matches!(source_error(&e), SourceError::Status(500)),
        "{e:?}"
    );
    fake.set(Mode::Raw(StatusCode::OK, "{\"products\": []}"));
    let e = walmart.search("item", 5).await.unwrap_err();
    assert!(
        matches!(source_error(&e), SourceError::Malformed(_)),
        "{e:?}"
    );
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    for kind in [Kind::Upc, Kind::Ids] {
        let (walmart, fake) = walmart_asking_by(kind, 2_000).await;
        fake.set(Mode::TooMany);
        let e = walmart.quote(&products(2)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Upstream);
        assert_eq!(RateLimited::retry_after(&e), Some(Duration::from_secs(7)));
        asked_by(&fake, kind);
        let e = walmart.search("item", 5).await.unwrap_err();
        assert_eq!(RateLimited::retry_after(&e), Some(Duration::from_secs(7)));
    }

    let (kroger, fake) = kroger().await;
    fake.set(Mode::TooMany);
    let e = kroger.quote(&products(1)).await.unwrap_err();
    assert_eq!(RateLimited::retry_after(&e), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn a_slow_server_times_out_within_about_the_timeout() {
    for kind in [Kind::Upc, Kind::Ids] {
        let (walmart, fake) = walmart_asking_by(kind, 300).await;
        fake.set(Mode::Hang);
        let started = Instant::now();
        let e = walmart.quote(&products(2)).await.unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(e, Error::Timeout { ref service } if service == "walmart"),
            "{kind:?} {e:?}"
        );
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(2),
            "{kind:?} {took:?}"
        );
        asked_by(&fake, kind);
    }
}

#[tokio::test]
async fn connection_refused_fails_fast_with_a_typed_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let walmart = WalmartSource::new(&WalmartConfig {
        base_url: format!("http://127.0.0.1:{port}"),
        consumer_id: "c".into(),
        api_key: Secret::new(WALMART_KEY),
        daily_quota: 1,
        timeout_ms: 5_000,
    })
    .unwrap();
    let started = Instant::now();
    let e = walmart.quote(&products(1)).await.unwrap_err();
    assert!(
        matches!(source_error(&e), SourceError::Transport(_)),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));

    // By itemId: a source that knows them, whose upstream is gone.
    let (walmart, fake) = walmart_asking_by(Kind::Ids, 5_000).await;
    fake.shut_down().await;
    let started = Instant::now();
    let e = walmart.quote(&products(2)).await.unwrap_err();
    assert!(
        matches!(source_error(&e), SourceError::Transport(_)),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn kroger_prices_promos_and_caches_its_token() {
    let (kroger, fake) = kroger().await;
    assert_eq!(kroger.name(), "kroger");
    assert_eq!(kroger.daily_quota(), Some(10_000));
    let mut ps = products(5); // p-4 is not in the store's table
    ps.push(product("no-upc", None));
    for _ in 0..3 {
        let quotes = kroger.quote(&ps).await.unwrap();
        let q = by_id(&quotes);
        assert_eq!(quotes.len(), 4, "{quotes:#?}");
        assert_eq!(q["p-0"].price, Money::usd(349));
        assert_eq!(
            q["p-0"].offers,
            [Offer::Promo {
                was: Money::usd(399)
            }]
        );
        assert_eq!(q["p-1"].price, Money::usd(250), "promo 0 is no promo");
        assert!(q["p-1"].offers.is_empty());
        assert_eq!(
            q["p-2"].price,
            Money::usd(199),
            "a promo above regular is ignored"
        );
        assert!(q["p-2"].offers.is_empty() && !q["p-2"].in_stock);
        assert_eq!(q["p-3"].price, Money::usd(30));
    }
    assert_eq!(
        fake.token_calls.load(Ordering::SeqCst),
        1,
        "one token for three calls"
    );
    let calls = fake.calls();
    assert_eq!(calls.len(), 3);
    // Zero-padded to 13 digits, the product without a UPC left out.
    assert_eq!(calls[0].len(), 5);
    assert_eq!(calls[0][0], "0000000000100");
}

#[tokio::test]
async fn kroger_refreshes_an_expired_token_once_and_retries() {
    let (kroger, fake) = kroger().await;
    let ps = products(1);
    kroger.quote(&ps).await.unwrap();
    // The upstream expires the token early: the next call gets 401 once.
    *fake.valid.lock().unwrap() = None;
    let quotes = kroger.quote(&ps).await.unwrap();
    assert_eq!(quotes[0].price, Money::usd(349));
    assert_eq!(fake.token_calls.load(Ordering::SeqCst), 2);
    assert_eq!(fake.calls().len(), 3, "ok, 401, retried ok");
    // And the new token is cached again.
    kroger.quote(&ps).await.unwrap();
    assert_eq!(fake.token_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn kroger_gives_up_after_one_refresh() {
    let (kroger, fake) = kroger().await;
    // The products endpoint refuses every token.
    fake.set(Mode::Raw(StatusCode::UNAUTHORIZED, "no"));
    let e = kroger.quote(&products(1)).await.unwrap_err();
    assert!(
        matches!(source_error(&e), SourceError::Status(401)),
        "{e:?}"
    );
    assert_eq!(fake.token_calls.load(Ordering::SeqCst), 2);
    assert_eq!(fake.calls().len(), 2);
}

#[tokio::test]
async fn kroger_does_not_reuse_an_expired_token() {
    let mut fake = Fake::new(kroger_table());
    fake.expires_in = 0;
    let (kroger, fake) = kroger_with(fake).await;
    for _ in 0..2 {
        kroger.quote(&products(1)).await.unwrap();
    }
    assert_eq!(fake.token_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn secrets_never_appear_in_debug_output() {
    let (walmart, _) = walmart(2_000).await;
    let (kroger, _) = kroger().await;
    kroger.quote(&products(1)).await.unwrap();
    for text in [
        format!("{walmart:?}"),
        format!("{walmart:#?}"),
        format!("{kroger:?}"),
        format!("{kroger:#?}"),
    ] {
        assert!(!text.contains(WALMART_KEY), "{text}");
        assert!(!text.contains(KROGER_SECRET), "{text}");
        assert!(!text.contains("token-1"), "{text}");
        assert!(text.contains("***"), "{text}");
    }
}

#[test]
fn bad_settings_are_config_errors() {
    let ok = WalmartConfig {
        consumer_id: "c".into(),
        api_key: Secret::new("k"),
        ..WalmartConfig::default()
    };
    assert!(WalmartSource::new(&ok).is_ok());
    for bad in [
        WalmartConfig {
            api_key: Secret::new(""),
            ..ok.clone()
        },
        WalmartConfig {
            base_url: "ftp://x".into(),
            ..ok.clone()
        },
        WalmartConfig {
            timeout_ms: 0,
            ..ok.clone()
        },
    ] {
        assert_eq!(
            WalmartSource::new(&bad).unwrap_err().kind(),
            ErrorKind::Config
        );
    }
    assert_eq!(
        KrogerSource::new(&KrogerConfig::default())
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );
}
