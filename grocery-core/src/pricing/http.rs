//! Store APIs as [`PriceSource`]s: the Walmart Affiliate Product API
//! ([`WalmartSource`]) and a Kroger-style Products API with OAuth2 client
//! credentials ([`KrogerSource`]).
//!
//! Both map catalog products to store items by UPC ([`Product::upc`]); a product
//! without a UPC is not sold by these sources and is left out of the answer, as
//! is a product the store did not return. UPCs are compared as digits with
//! leading zeros ignored, since stores pad them to 12, 13 or 14 digits.
//!
//! Kroger takes UPCs as its product ids. Walmart does not: its batch lookup
//! takes Walmart **itemIds**, and a UPC is looked up one per call. So the
//! Walmart source learns each product's itemId (from a UPC lookup or a
//! [search](WalmartSource::search)), keeps it in a bounded map, and asks for
//! known items 20 at a time; see [`WalmartSource`].
//!
//! Prices arrive as JSON numbers in dollars. They are turned into whole cents
//! from the number's decimal text (never by multiplying a float), rounding half
//! up at the third decimal place, so `3.48` is 348 and `0.30000000000000004` is
//! 30. A price that is negative or above [`MAX_PRICE_CENTS`] leaves that one item
//! out (logged), not the whole batch.
//!
//! Every request has a timeout (the source's `timeout_ms`), follows no
//! redirects (one could carry credentials elsewhere) and reads at most
//! [`MAX_BODY_BYTES`] of the answer. Failures come out as:
//! - [`Error::Timeout`] when the upstream is slower than the timeout;
//! - [`Error::Upstream`] with a [`crate::resilience::RateLimited`] source for
//!   HTTP 429 (its `Retry-After` seconds; 1 s when missing or not a number);
//! - [`Error::Upstream`] with a [`SourceError`] source for everything else
//!   (connection refused, other HTTP errors, malformed JSON, oversize bodies).
//!
//! "Not found" is not a failure: Walmart's answer that it does not know a UPC
//! leaves the product out (and is remembered for [`WALMART_UNKNOWN_TTL`]).
//!
//! These sources do not retry (except Kroger's single retry after refreshing an
//! expired token): the pricing client puts its breaker, bulkhead, rate limit and
//! retries around every source.

use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::source::{BoxFuture, Offer, PriceSource, Quote};
use crate::catalog::Product;
use crate::config::Secret;
use crate::error::{Error, Result};
use crate::money::Money;
use crate::resilience::RateLimited;

/// Largest answer body read from a store API, in bytes.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Largest price accepted from a store API, in cents ($100,000).
pub const MAX_PRICE_CENTS: i64 = 10_000_000;
/// Most itemIds in one Walmart item lookup (`ids=` takes up to 20).
pub const WALMART_MAX_BATCH: usize = 20;
/// Most hits one Walmart search returns (`numItems` takes up to 25).
pub const WALMART_MAX_SEARCH: usize = 25;
/// Longest Walmart search query accepted, in characters.
pub const WALMART_MAX_QUERY_CHARS: usize = 200;
/// UPC → itemId entries a [`WalmartSource`] keeps (least used go first).
pub const WALMART_ID_ENTRIES: u64 = 100_000;
/// How long a UPC Walmart answered "not found" for is not asked again.
pub const WALMART_UNKNOWN_TTL: Duration = Duration::from_secs(3_600);
/// Most UPCs in one Kroger call (`filter.productId` takes up to 50).
pub const KROGER_MAX_BATCH: usize = 50;

/// Why a store API call failed; the source inside [`Error::Upstream`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The request could not be sent or the answer not read (connection
    /// refused, reset, TLS).
    #[error("request failed")]
    Transport(#[source] reqwest::Error),
    /// The upstream answered an error status (other than 429).
    #[error("upstream answered HTTP {0}")]
    Status(u16),
    /// The answer body is larger than [`MAX_BODY_BYTES`].
    #[error("answer is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// The answer is not the documented JSON shape.
    #[error("malformed answer: {0}")]
    Malformed(String),
}

/// The `[pricing.walmart]` settings of a [`WalmartSource`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalmartConfig {
    /// API root, without the `/v2/...` path.
    pub base_url: String,
    /// Sent as `WM_CONSUMER.ID`.
    pub consumer_id: String,
    /// Sent as `WM_SEC.AUTH_SIGNATURE` (a fixed API key).
    pub api_key: Secret,
    /// Calls allowed per day (UTC).
    pub daily_quota: u32,
    /// Time allowed for one call, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for WalmartConfig {
    fn default() -> Self {
        Self {
            base_url: "https://developer.api.walmart.com/api-proxy/service/affil/product".into(),
            consumer_id: String::new(),
            api_key: Secret::new(""),
            daily_quota: 5_000,
            timeout_ms: 3_000,
        }
    }
}

/// The `[pricing.kroger]` settings of a [`KrogerSource`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KrogerConfig {
    /// API root, without the `/v1/...` path.
    pub base_url: String,
    /// OAuth2 client id.
    pub client_id: String,
    /// OAuth2 client secret.
    pub client_secret: Secret,
    /// The store whose prices are asked (`filter.locationId`).
    pub location_id: String,
    /// Calls allowed per day (UTC).
    pub daily_quota: u32,
    /// Time allowed for one HTTP request, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for KrogerConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.kroger.com".into(),
            client_id: String::new(),
            client_secret: Secret::new(""),
            location_id: String::new(),
            daily_quota: 10_000,
            timeout_ms: 3_000,
        }
    }
}

/// A validated API root and an HTTP client for it.
#[derive(Debug, Clone)]
struct Http {
    service: &'static str,
    base: String,
    client: reqwest::Client,
}

impl Http {
    fn new(service: &'static str, base_url: &str, timeout_ms: u64) -> Result<Self> {
        let bad = |msg: String| Error::Config(format!("pricing.{service}.{msg}"));
        let base =
            reqwest::Url::parse(base_url.trim()).map_err(|e| bad(format!("base_url: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(bad("base_url must be an http(s) URL with a host".into()));
        }
        if !base.username().is_empty() || base.password().is_some() || base.query().is_some() {
            return Err(bad("base_url must not carry credentials or a query".into()));
        }
        if timeout_ms == 0 {
            return Err(bad("timeout_ms must be at least 1".into()));
        }
        let timeout = Duration::from_millis(timeout_ms);
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            // Covers connecting, sending and reading the whole body.
            .timeout(timeout)
            // An API has no business redirecting; following one could carry the
            // credentials elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("grocery-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http {
            service,
            base: base.as_str().trim_end_matches('/').to_string(),
            client,
        })
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Url> {
        let raw = format!("{}{path}", self.base);
        // `parse_with_params` with no pairs would leave a bare `?`.
        let url = if query.is_empty() {
            reqwest::Url::parse(&raw)
        } else {
            reqwest::Url::parse_with_params(&raw, query)
        };
        url.map_err(|e| self.upstream(SourceError::Malformed(format!("url: {e}"))))
    }

    fn upstream(&self, e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Upstream {
            service: self.service.to_string(),
            source: Box::new(e),
        }
    }

    fn transport(&self, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            return Error::Timeout {
                service: self.service.to_string(),
            };
        }
        self.upstream(SourceError::Transport(e))
    }

    /// Send `request`; the status and the body (bounded), or the error for a
    /// transport failure, 429 (with its `Retry-After`) or an oversize body.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>)> {
        let mut response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        if status == 429 {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                // An HTTP date or nothing: wait a little rather than not at all.
                .unwrap_or(1);
            return Err(self.upstream(RateLimited {
                retry_after: Duration::from_secs(retry_after.min(24 * 3_600)),
            }));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(self.upstream(SourceError::TooLarge));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(self.upstream(SourceError::TooLarge));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    /// A successful JSON answer as `T`.
    fn parse<T: serde::de::DeserializeOwned>(&self, status: u16, body: &[u8]) -> Result<T> {
        if !(200..300).contains(&status) {
            return Err(self.upstream(SourceError::Status(status)));
        }
        serde_json::from_slice(body)
            .map_err(|e| self.upstream(SourceError::Malformed(e.to_string())))
    }
}

/// A UPC as compared: its digits without leading zeros; `None` when it has no
/// digits or anything but digits.
fn upc_key(upc: &str) -> Option<String> {
    let upc = upc.trim();
    if upc.is_empty() || !upc.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(upc.trim_start_matches('0').to_string())
}

/// The products that have a usable UPC, with their keys.
fn with_upc(products: &[Product]) -> Vec<(&Product, String)> {
    products
        .iter()
        .filter_map(|p| Some((p, upc_key(p.upc.as_deref()?)?)))
        .collect()
}

/// Dollars, as a JSON number's decimal text, in whole cents: half up at the
/// third decimal; `None` for negative, non-numeric or above [`MAX_PRICE_CENTS`].
pub fn dollars_to_cents(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.starts_with('-') {
        return None;
    }
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // All the digits, and where the decimal point falls among them.
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    let point = i64::try_from(int.len()).ok()? + i64::from(exp);
    // Cents are the digits up to two places after the point; the next decides rounding.
    let digit = |i: i64| -> u8 {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut cents: i64 = 0;
    let first = digits
        .iter()
        .position(|&d| d != 0)
        .map_or(i64::MAX, |i| i as i64);
    for i in first.min(point + 2)..point + 2 {
        cents = cents.checked_mul(10)?.checked_add(i64::from(digit(i)))?;
        if cents > MAX_PRICE_CENTS {
            return None;
        }
    }
    if digit(point + 2) >= 5 {
        cents += 1;
    }
    (cents <= MAX_PRICE_CENTS).then_some(cents)
}

/// A JSON number in dollars as cents; see [`dollars_to_cents`].
fn cents(n: &serde_json::Number) -> Option<i64> {
    // Without serde_json's `arbitrary_precision`, a float prints as the shortest
    // text that reads back as the same f64: the text the upstream sent.
    dollars_to_cents(&n.to_string())
}

/// Prices from the Walmart Affiliate Product API; see the [module docs](self).
///
/// Every call carries `WM_CONSUMER.ID`, `WM_SEC.KEY_VERSION` and
/// `WM_SEC.AUTH_SIGNATURE` headers. Walmart's item lookup takes Walmart
/// itemIds, which the catalog does not have, so the source learns them:
///
/// 1. A product whose itemId is known is asked in a batch:
///    `GET {base_url}/v2/items?ids=ID1,ID2,...` (at most
///    [`WALMART_MAX_BATCH`] per call), answering `{"items": [{"itemId", "upc",
///    "salePrice", "msrp", "stock", "rollback", "clearance", ...}]}`.
/// 2. A product with a UPC but no known itemId is looked up by UPC, one per
///    call: `GET {base_url}/v2/items?upc=UPC` (zero-padded to 12 digits). The
///    answer has the same shape, so it is both the quote and the itemId learnt.
/// 3. [`WalmartSource::search`] (`GET {base_url}/v2/search?query=...`) teaches
///    the itemIds of the items it returns, too.
///
/// Items are matched back to products by `upc` (by the itemId asked for when
/// an item has no `upc`). An item that comes back under another itemId than
/// the one asked for updates the map; a known itemId whose product is missing
/// from the answer is forgotten, so the next quote looks the UPC up again.
///
/// A UPC lookup Walmart answers "not found" (HTTP 200 with no items, or 400 or
/// 404 with an `{"errors": [...]}` body) leaves the product out and is
/// remembered for [`WALMART_UNKNOWN_TTL`], during which the product costs no
/// call. A 404 without that body (a wrong `base_url`, say) is a failure.
///
/// The map keeps up to [`WALMART_ID_ENTRIES`] UPCs, in memory only; clones of
/// a source share it.
#[derive(Clone)]
pub struct WalmartSource {
    http: Http,
    consumer_id: String,
    api_key: Secret,
    daily_quota: u32,
    /// UPC key → Walmart itemId.
    item_ids: moka::sync::Cache<String, String>,
    /// UPC keys Walmart does not know, for [`WALMART_UNKNOWN_TTL`].
    unknown: moka::sync::Cache<String, ()>,
}

impl std::fmt::Debug for WalmartSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // By hand, to be sure the key stays `***` whatever the fields become.
        f.debug_struct("WalmartSource")
            .field("base_url", &self.http.base)
            .field("consumer_id", &self.consumer_id)
            .field("api_key", &self.api_key)
            .field("daily_quota", &self.daily_quota)
            .field("known_item_ids", &self.item_ids.entry_count())
            .finish_non_exhaustive()
    }
}

/// One item Walmart returned from a [`WalmartSource::search`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalmartHit {
    /// Walmart's itemId (digits).
    pub item_id: String,
    /// The item's name, as Walmart shows it.
    pub name: String,
    /// The item's UPC, as Walmart sent it; `None` when it sent none.
    pub upc: Option<String>,
    /// The sale price; `None` when missing or unusable (see the module docs).
    pub price: Option<Money>,
    /// Whether Walmart has it (`stock` is not "Not available").
    pub in_stock: bool,
}

/// The answer of an item lookup, by itemIds or by UPC.
#[derive(Deserialize)]
struct WalmartAnswer {
    items: Vec<WalmartItem>,
}

/// The answer of a search; neither field present is not a search answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WalmartSearchAnswer {
    #[serde(default)]
    items: Option<Vec<WalmartItem>>,
    #[serde(default)]
    total_results: Option<u64>,
}

/// Walmart's error body, e.g. `{"errors": [{"code": 4002, "message": "..."}]}`.
#[derive(Deserialize)]
struct WalmartErrors {
    errors: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WalmartItem {
    /// A JSON number in Walmart's answers; a string is accepted too.
    #[serde(default)]
    item_id: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    upc: Option<String>,
    #[serde(default)]
    sale_price: Option<serde_json::Number>,
    #[serde(default)]
    msrp: Option<serde_json::Number>,
    #[serde(default)]
    stock: Option<String>,
    #[serde(default)]
    rollback: bool,
    #[serde(default)]
    clearance: bool,
}

impl WalmartItem {
    /// Its itemId, if it is one we can send back in `ids=`: 1 to 20 digits.
    fn id(&self) -> Option<String> {
        let id = match self.item_id.as_ref()? {
            serde_json::Value::Number(n) => n.as_u64()?.to_string(),
            serde_json::Value::String(s) => s.trim().to_string(),
            _ => return None,
        };
        // Anything else could smuggle a `,` or `&` into the next `ids=` list.
        (!id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
    }

    fn key(&self) -> Option<String> {
        self.upc.as_deref().and_then(upc_key)
    }

    fn in_stock(&self) -> bool {
        self.stock
            .as_deref()
            .is_none_or(|s| !s.trim().eq_ignore_ascii_case("not available"))
    }

    /// The quote this item gives `product`; `None` (logged) for a missing or
    /// unusable sale price.
    fn quote(&self, product: &Product, observed_at: Timestamp) -> Option<Quote> {
        let Some(price) = self.sale_price.as_ref().and_then(cents) else {
            tracing::warn!(product = %product.id, "walmart: missing or bad salePrice; item left out");
            return None;
        };
        let was = self.msrp.as_ref().and_then(cents).filter(|&m| m > price);
        let mut offers = Vec::new();
        if let Some(was) = was.map(Money::usd) {
            if self.clearance {
                offers.push(Offer::Clearance { was });
            } else if self.rollback {
                offers.push(Offer::Rollback { was });
            }
        }
        Some(Quote {
            product_id: product.id.clone(),
            source: WalmartSource::NAME.to_string(),
            price: Money::usd(price),
            offers,
            in_stock: self.in_stock(),
            observed_at,
        })
    }
}

/// A product to quote by itemId: the product, its UPC key and the itemId.
type ById<'a> = (&'a Product, String, String);

impl WalmartSource {
    /// The source's name, as a store.
    pub const NAME: &'static str = "walmart";

    /// Build the source from its settings; its itemId map starts empty.
    ///
    /// # Errors
    /// [`Error::Config`] when `base_url` is not an http(s) URL (or carries
    /// credentials or a query), `timeout_ms` is 0, or `consumer_id` or `api_key`
    /// is empty.
    ///
    /// # Examples
    /// ```
    /// use grocery_core::config::Secret;
    /// use grocery_core::pricing::http::{WalmartConfig, WalmartSource};
    /// use grocery_core::pricing::source::PriceSource;
    ///
    /// let walmart = WalmartSource::new(&WalmartConfig {
    ///     consumer_id: "consumer".into(),
    ///     api_key: Secret::new("key"),
    ///     ..WalmartConfig::default()
    /// })?;
    /// assert_eq!(walmart.max_batch(), 20);
    /// # Ok::<(), grocery_core::Error>(())
    /// ```
    pub fn new(config: &WalmartConfig) -> Result<Self> {
        let http = Http::new(Self::NAME, &config.base_url, config.timeout_ms)?;
        if config.consumer_id.trim().is_empty() || config.api_key.expose().trim().is_empty() {
            return Err(Error::Config(
                "pricing.walmart: consumer_id and api_key are required".into(),
            ));
        }
        Ok(WalmartSource {
            http,
            consumer_id: config.consumer_id.trim().to_string(),
            api_key: config.api_key.clone(),
            daily_quota: config.daily_quota,
            item_ids: moka::sync::Cache::new(WALMART_ID_ENTRIES),
            unknown: moka::sync::Cache::builder()
                .max_capacity(WALMART_ID_ENTRIES)
                .time_to_live(WALMART_UNKNOWN_TTL)
                .build(),
        })
    }

    /// Search Walmart's catalog: `GET {base_url}/v2/search?query=...&numItems=...`,
    /// answering `{"query", "totalResults", "items": [...]}`. Returns at most
    /// `limit` hits (capped at [`WALMART_MAX_SEARCH`]; 0 makes no call), in
    /// Walmart's order. Hits with a UPC teach the source their itemIds, so a
    /// later quote of those products is a batched `ids=` lookup.
    ///
    /// The search is one upstream call, outside the pricing client's quotas
    /// and guards.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty query or one longer than
    /// [`WALMART_MAX_QUERY_CHARS`]; otherwise as the [module docs](self) say
    /// (`Upstream`, `Timeout`).
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn search(&self, query: &str, limit: usize) -> Result<Vec<WalmartHit>> {
        let query = query.trim();
        if query.is_empty() {
            return Err(Error::InvalidInput("walmart search: empty query".into()));
        }
        if query.chars().count() > WALMART_MAX_QUERY_CHARS {
            return Err(Error::InvalidInput(format!(
                "walmart search: query longer than {WALMART_MAX_QUERY_CHARS} characters"
            )));
        }
        let limit = limit.min(WALMART_MAX_SEARCH);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let num_items = limit.to_string();
        let url = self
            .http
            .url("/v2/search", &[("query", query), ("numItems", &num_items)])?;
        let (status, body) = self.get(url).await?;
        let answer: WalmartSearchAnswer = self.http.parse(status, &body)?;
        if answer.items.is_none() && answer.total_results.is_none() {
            return Err(self.http.upstream(SourceError::Malformed(
                "search answer has neither items nor totalResults".into(),
            )));
        }
        let mut hits = Vec::new();
        for item in answer.items.unwrap_or_default() {
            let Some(item_id) = item.id() else {
                continue;
            };
            if let Some(key) = item.key() {
                self.learn(key, item_id.clone());
            }
            hits.push(WalmartHit {
                price: item.sale_price.as_ref().and_then(cents).map(Money::usd),
                in_stock: item.in_stock(),
                name: item.name.unwrap_or_default(),
                upc: item.upc.map(|u| u.trim().to_string()),
                item_id,
            });
            if hits.len() == limit {
                break;
            }
        }
        Ok(hits)
    }

    fn headers(&self) -> Result<HeaderMap> {
        let value = |s: &str| {
            HeaderValue::from_str(s).map_err(|_| {
                Error::Config("pricing.walmart: credentials must be visible ASCII".into())
            })
        };
        let mut key = value(self.api_key.expose())?;
        // Sensitive: hidden from reqwest's and hyper's Debug output.
        key.set_sensitive(true);
        let mut h = HeaderMap::new();
        h.insert("WM_CONSUMER.ID", value(&self.consumer_id)?);
        h.insert("WM_SEC.KEY_VERSION", HeaderValue::from_static("1"));
        h.insert("WM_SEC.AUTH_SIGNATURE", key);
        h.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        Ok(h)
    }

    async fn get(&self, url: reqwest::Url) -> Result<(u16, Vec<u8>)> {
        let request = self.http.client.get(url).headers(self.headers()?);
        self.http.send(request).await
    }

    /// Remember `key`'s itemId (it is a known item from now on).
    fn learn(&self, key: String, item_id: String) {
        self.unknown.invalidate(&key);
        if self.item_ids.get(&key).as_ref() != Some(&item_id) {
            self.item_ids.insert(key, item_id);
        }
    }

    /// Quotes for `products`: batched by known itemIds, else one UPC lookup
    /// each; products known to be unknown are skipped.
    async fn quote_all(&self, products: &[Product]) -> Result<Vec<Quote>> {
        let mut by_id: Vec<ById<'_>> = Vec::new();
        let mut by_upc: Vec<(&Product, String)> = Vec::new();
        for (product, key) in with_upc(products) {
            if self.unknown.contains_key(&key) {
                continue;
            }
            match self.item_ids.get(&key) {
                Some(id) => by_id.push((product, key, id)),
                None => by_upc.push((product, key)),
            }
        }
        let mut quotes = Vec::new();
        // Each itemId once, however many products share it.
        let mut ids: Vec<&str> = Vec::new();
        for (_, _, id) in &by_id {
            if !ids.contains(&id.as_str()) {
                ids.push(id);
            }
        }
        for batch in ids.chunks(WALMART_MAX_BATCH) {
            let wanted: Vec<&ById<'_>> = by_id
                .iter()
                .filter(|(_, _, id)| batch.contains(&id.as_str()))
                .collect();
            quotes.extend(self.lookup_ids(batch, &wanted).await?);
        }
        let mut asked: Vec<&str> = Vec::new();
        for (_, key) in &by_upc {
            if asked.contains(&key.as_str()) {
                continue;
            }
            asked.push(key);
            let same: Vec<&Product> = by_upc
                .iter()
                .filter(|(_, k)| k == key)
                .map(|(p, _)| *p)
                .collect();
            quotes.extend(self.lookup_upc(key, &same).await?);
        }
        Ok(quotes)
    }

    /// One `ids=` call for `ids`; quotes for the `wanted` products it returns.
    async fn lookup_ids(&self, ids: &[&str], wanted: &[&ById<'_>]) -> Result<Vec<Quote>> {
        let url = self.http.url("/v2/items", &[("ids", &ids.join(","))])?;
        let (status, body) = self.get(url).await?;
        let answer: WalmartAnswer = self.http.parse(status, &body)?;
        let observed_at = Timestamp::now();
        let mut quotes = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for item in &answer.items {
            let item_id = item.id();
            // By UPC; by the itemId asked for when the item carries no UPC.
            let key = item.key().or_else(|| {
                let id = item_id.as_deref()?;
                wanted.iter().find(|w| w.2 == id).map(|w| w.1.clone())
            });
            let Some(key) = key else {
                continue;
            };
            let mut matched = false;
            for (product, _, _) in wanted.iter().copied().filter(|w| w.1 == key) {
                matched = true;
                quotes.extend(item.quote(product, observed_at));
            }
            if matched {
                if let Some(id) = item_id {
                    // Walmart may answer an old itemId with the item's new one.
                    self.learn(key.clone(), id);
                }
                seen.push(key);
            }
        }
        for (product, key, id) in wanted {
            if !seen.contains(key) {
                // Gone under that itemId: ask by UPC next time.
                tracing::debug!(product = %product.id, item_id = %id, "walmart: itemId not returned; forgotten");
                self.item_ids.invalidate(key);
            }
        }
        Ok(quotes)
    }

    /// One `upc=` call for `key`; quotes for `products` (all with that UPC),
    /// and the itemId learnt, or `key` remembered as unknown.
    async fn lookup_upc(&self, key: &str, products: &[&Product]) -> Result<Vec<Quote>> {
        let upc = format!("{key:0>12}");
        let url = self.http.url("/v2/items", &[("upc", &upc)])?;
        let (status, body) = self.get(url).await?;
        // Walmart's "no such UPC" is an error body, not a failure.
        let not_found = matches!(status, 400 | 404)
            && serde_json::from_slice::<WalmartErrors>(&body).is_ok_and(|e| !e.errors.is_empty());
        let item = if not_found {
            None
        } else {
            let answer: WalmartAnswer = self.http.parse(status, &body)?;
            // Several items may share a UPC (sellers, variants): the first that
            // carries this UPC, or none at all.
            answer
                .items
                .into_iter()
                .find(|i| i.upc.is_none() || i.key().as_deref() == Some(key))
        };
        let Some(item) = item else {
            tracing::debug!(status, "walmart: UPC not found; remembered as not sold");
            self.unknown.insert(key.to_string(), ());
            return Ok(Vec::new());
        };
        if let Some(id) = item.id() {
            self.learn(key.to_string(), id);
        }
        let observed_at = Timestamp::now();
        Ok(products
            .iter()
            .filter_map(|p| item.quote(p, observed_at))
            .collect())
    }
}

impl PriceSource for WalmartSource {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn daily_quota(&self) -> Option<u32> {
        Some(self.daily_quota)
    }

    fn max_batch(&self) -> usize {
        WALMART_MAX_BATCH
    }

    /// Takes any number of products; the calls are made one after another, and
    /// the first failure fails the whole quote (itemIds learnt before it are
    /// kept).
    ///
    /// # Errors
    /// See the [module docs](self).
    fn quote<'a>(&'a self, products: &'a [Product]) -> BoxFuture<'a, Result<Vec<Quote>>> {
        Box::pin(self.quote_all(products))
    }
}

/// An access token and when to stop using it.
struct Token {
    value: Secret,
    refresh_at: Instant,
}

/// Prices from a Kroger-style Products API; see the [module docs](self).
///
/// Authenticates with OAuth2 client credentials (`POST
/// {base_url}/v1/connect/oauth2/token`, `scope=product.compact`, HTTP Basic
/// `client_id:client_secret`). The token is cached until a minute before it
/// expires (or half its lifetime, if shorter); when a call still gets 401 the
/// token is fetched again once and the call retried once.
///
/// Products are looked up by UPC, which is Kroger's product id:
/// `GET {base_url}/v1/products?filter.productId=UPC1,UPC2,...&filter.locationId=...`
/// (at most [`KROGER_MAX_BATCH`], UPCs zero-padded to 13 digits), answering
/// `{"data": [{"productId", "upc", "items": [{"price": {"regular", "promo"},
/// "inventory": {"stockLevel"}}]}]}`. A promo price above 0 and below the
/// regular price is the price, with [`Offer::Promo`].
pub struct KrogerSource {
    http: Http,
    client_id: String,
    client_secret: Secret,
    location_id: String,
    daily_quota: u32,
    token: tokio::sync::Mutex<Option<Token>>,
}

impl std::fmt::Debug for KrogerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // By hand: the secret and the cached token must stay hidden.
        f.debug_struct("KrogerSource")
            .field("base_url", &self.http.base)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("location_id", &self.location_id)
            .field("daily_quota", &self.daily_quota)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct KrogerAnswer {
    data: Vec<KrogerProduct>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KrogerProduct {
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    upc: Option<String>,
    #[serde(default)]
    items: Vec<KrogerItem>,
}

#[derive(Deserialize)]
struct KrogerItem {
    #[serde(default)]
    price: Option<KrogerPrice>,
    #[serde(default)]
    inventory: Option<KrogerInventory>,
}

#[derive(Deserialize)]
struct KrogerPrice {
    #[serde(default)]
    regular: Option<serde_json::Number>,
    #[serde(default)]
    promo: Option<serde_json::Number>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KrogerInventory {
    #[serde(default)]
    stock_level: Option<String>,
}

/// A product call's outcome: quotes, or "the token was refused".
enum Attempt {
    Done(Vec<Quote>),
    Unauthorized,
}

impl KrogerSource {
    /// The source's name, as a store.
    pub const NAME: &'static str = "kroger";

    /// Build the source from its settings; no request is made until the first
    /// quote.
    ///
    /// # Errors
    /// [`Error::Config`] when `base_url` is not an http(s) URL (or carries
    /// credentials or a query), `timeout_ms` is 0, or `client_id`,
    /// `client_secret` or `location_id` is empty.
    pub fn new(config: &KrogerConfig) -> Result<Self> {
        let http = Http::new(Self::NAME, &config.base_url, config.timeout_ms)?;
        if config.client_id.trim().is_empty()
            || config.client_secret.expose().is_empty()
            || config.location_id.trim().is_empty()
        {
            return Err(Error::Config(
                "pricing.kroger: client_id, client_secret and location_id are required".into(),
            ));
        }
        Ok(KrogerSource {
            http,
            client_id: config.client_id.trim().to_string(),
            client_secret: config.client_secret.clone(),
            location_id: config.location_id.trim().to_string(),
            daily_quota: config.daily_quota,
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// A valid access token: the cached one, or a new one. `stale` is a token a
    /// call found refused: it is replaced even if not yet due.
    async fn token(&self, stale: Option<&Secret>) -> Result<Secret> {
        // Held across the fetch, so concurrent callers share one token request.
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            let refused = stale.is_some_and(|s| s == &t.value);
            if !refused && Instant::now() < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        *cached = None;
        let url = self.http.url("/v1/connect/oauth2/token", &[])?;
        let request = self
            .http
            .client
            .post(url)
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body("grant_type=client_credentials&scope=product.compact");
        let (status, body) = self.http.send(request).await?;
        let answer: TokenAnswer = self.http.parse(status, &body)?;
        if answer.access_token.is_empty() {
            return Err(self
                .http
                .upstream(SourceError::Malformed("empty access_token".into())));
        }
        let lifetime = Duration::from_secs(answer.expires_in);
        let margin = Duration::from_secs(60).min(lifetime / 2);
        let token = Secret::new(answer.access_token);
        *cached = Some(Token {
            value: token.clone(),
            refresh_at: Instant::now() + (lifetime - margin),
        });
        tracing::debug!(expires_in = answer.expires_in, "kroger: new access token");
        Ok(token)
    }

    async fn attempt(&self, token: &Secret, wanted: &[(&Product, String)]) -> Result<Attempt> {
        // Kroger product ids are UPCs zero-padded to 13 digits.
        let ids: Vec<String> = wanted.iter().map(|(_, k)| format!("{k:0>13}")).collect();
        let url = self.http.url(
            "/v1/products",
            &[
                ("filter.productId", &ids.join(",")),
                ("filter.locationId", &self.location_id),
            ],
        )?;
        let request = self
            .http
            .client
            .get(url)
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        let (status, body) = self.http.send(request).await?;
        if status == 401 {
            return Ok(Attempt::Unauthorized);
        }
        let answer: KrogerAnswer = self.http.parse(status, &body)?;
        let observed_at = Timestamp::now();
        let mut quotes = Vec::new();
        for found in answer.data {
            let key = found
                .upc
                .as_deref()
                .and_then(upc_key)
                .or_else(|| found.product_id.as_deref().and_then(upc_key));
            let Some((product, _)) = key.and_then(|key| wanted.iter().find(|(_, k)| *k == key))
            else {
                continue;
            };
            let Some(item) = found.items.first() else {
                continue;
            };
            let price = item.price.as_ref();
            let Some(regular) = price.and_then(|p| p.regular.as_ref()).and_then(cents) else {
                tracing::warn!(product = %product.id, "kroger: missing or bad regular price; item left out");
                continue;
            };
            let promo = price
                .and_then(|p| p.promo.as_ref())
                .and_then(cents)
                .filter(|&c| c > 0 && c < regular);
            let (cents_now, offers) = match promo {
                Some(p) => (
                    p,
                    vec![Offer::Promo {
                        was: Money::usd(regular),
                    }],
                ),
                None => (regular, Vec::new()),
            };
            let in_stock = item
                .inventory
                .as_ref()
                .and_then(|i| i.stock_level.as_deref())
                .is_none_or(|s| !s.eq_ignore_ascii_case("TEMPORARILY_OUT_OF_STOCK"));
            quotes.push(Quote {
                product_id: product.id.clone(),
                source: Self::NAME.to_string(),
                price: Money::usd(cents_now),
                offers,
                in_stock,
                observed_at,
            });
        }
        Ok(Attempt::Done(quotes))
    }

    async fn quote_batch(&self, products: &[Product]) -> Result<Vec<Quote>> {
        let wanted = with_upc(products);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let token = self.token(None).await?;
        if let Attempt::Done(quotes) = self.attempt(&token, &wanted).await? {
            return Ok(quotes);
        }
        // Refused: the token expired early or was revoked. Once more, with a new one.
        tracing::debug!("kroger: token refused; refreshing once");
        let token = self.token(Some(&token)).await?;
        match self.attempt(&token, &wanted).await? {
            Attempt::Done(quotes) => Ok(quotes),
            Attempt::Unauthorized => Err(self.http.upstream(SourceError::Status(401))),
        }
    }
}

impl PriceSource for KrogerSource {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn daily_quota(&self) -> Option<u32> {
        Some(self.daily_quota)
    }

    fn max_batch(&self) -> usize {
        KROGER_MAX_BATCH
    }

    fn quote<'a>(&'a self, products: &'a [Product]) -> BoxFuture<'a, Result<Vec<Quote>>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for chunk in products.chunks(KROGER_MAX_BATCH) {
                out.extend(self.quote_batch(chunk).await?);
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_become_exact_cents() {
        for (text, want) in [
            ("3.48", Some(348)),
            ("3", Some(300)),
            ("0.1", Some(10)),
            ("0.30000000000000004", Some(30)),
            ("1.15", Some(115)),
            ("4.35", Some(435)),
            ("2.675", Some(268)),
            ("0.004", Some(0)),
            ("0.005", Some(1)),
            ("1e2", Some(10_000)),
            ("3.48E0", Some(348)),
            ("5e-3", Some(1)),
            ("100000", Some(10_000_000)),
            ("100000.01", None),
            ("1e300", None),
            ("-1.00", None),
            ("NaN", None),
            ("inf", None),
            ("", None),
            (".", None),
        ] {
            assert_eq!(dollars_to_cents(text), want, "{text}");
        }
    }

    #[test]
    fn upcs_compare_without_leading_zeros() {
        assert_eq!(upc_key("0078742370934"), upc_key("78742370934"));
        assert_eq!(upc_key(" 012 "), Some("12".into()));
        assert_eq!(upc_key("12-3"), None);
        assert_eq!(upc_key(""), None);
    }
}
