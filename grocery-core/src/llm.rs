//! An optional LLM fallback for requests the built-in parser is unsure of.
//!
//! [`LlmFallback::understand`] sends the text to an Ollama or OpenAI-compatible
//! server with a system prompt ([`SYSTEM_PROMPT`]) that asks for JSON commands,
//! and turns the answer into the same [`Understanding`] the built-in parser
//! ([`crate::nlp::parse_request`]) returns. The agent asks it only when the
//! built-in confidence is below [`LlmConfig::threshold`] and keeps the built-in
//! result on any error.
//!
//! The answer is validated before anything could act on it: it must match the
//! schema exactly (unknown keys and unknown intents are refused), and names,
//! counts and quantities are bounded ([`MAX_COMMANDS`], [`MAX_ITEMS`],
//! [`MAX_NAME_CHARS`], quantities in `(0, 1e6]`). A unit the crate does not know
//! is dropped (the item stays, as a plain count) rather than failing the answer:
//! the name and amount are still useful, and the built-in parser treats unknown
//! unit words the same way.
//!
//! Every request goes through a [`CircuitBreaker`] (an open breaker answers at
//! once, without network I/O) and a timeout ([`LlmConfig::timeout_ms`]); it is
//! never retried, since a user is waiting. Validated answers are cached by the
//! normalised text (lower case, single spaces); failures are not cached. The
//! breaker counts transport errors, HTTP errors, timeouts and replies that are
//! not the API's JSON envelope; an answer that arrives but fails validation
//! counts as a success for the breaker (the server is up, the model's answer was
//! bad), so one user's odd request cannot open it for everyone.
//!
//! ```no_run
//! use grocery_core::config::{LlmApi, LlmConfig};
//! use grocery_core::llm::LlmFallback;
//!
//! # async fn demo() -> grocery_core::Result<()> {
//! let config = LlmConfig {
//!     enabled: true,
//!     api: LlmApi::Ollama,
//!     url: Some("http://127.0.0.1:11434".into()),
//!     model: Some("llama3.2".into()),
//!     ..LlmConfig::default()
//! };
//! if let Some(llm) = LlmFallback::from_config(&config)? {
//!     let understood = llm.understand("grab some oj and 2 lbs of ground beef").await?;
//!     println!("{understood:?}");
//! }
//! # Ok(()) }
//! ```

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{LlmApi, LlmConfig, Secret};
use crate::error::{Error, Result};
use crate::nlp::{Command, Intent, ItemPhrase, Understanding, clamp_text};
use crate::quantity::{Amount, Unit};
use crate::resilience::{BreakerOpen, BreakerSnapshot, CircuitBreaker};

/// The upstream name used in errors and in the breaker's name.
pub const SERVICE: &str = "llm";
/// The confidence given to every understanding from the LLM (it reports none):
/// above the default [`LlmConfig::threshold`], below what the built-in parser
/// gives a sentence it fully matched.
pub const CONFIDENCE: f32 = 0.6;
/// Most commands accepted in one answer.
pub const MAX_COMMANDS: usize = 10;
/// Most items accepted in one command.
pub const MAX_ITEMS: usize = 50;
/// Longest item name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Largest reply body read from the server, in bytes.
pub const MAX_REPLY_BYTES: usize = 1024 * 1024;

/// The system prompt: the command schema, exactly, and a few examples.
pub const SYSTEM_PROMPT: &str = r#"You turn one grocery shopping request into commands. Reply with a single JSON object and nothing else, of exactly this shape:
{"commands": [{"intent": INTENT, "list": LIST, "items": [{"name": NAME, "quantity": QUANTITY, "unit": UNIT}]}]}
- INTENT is one of: add, remove, update, check, check_all, uncheck, clear_checked, clear, move, rename_list, show, price, total, deals, compare, undo, help, create_list, delete_list, unknown. "check" marks items bought, "check_all" everything on the list, "uncheck" marks items not bought after all; "clear_checked" takes the bought items off the list, "clear" every item; "move" moves the items onto the list named, from the list they are on; "rename_list" gives the list being talked about the name in LIST; "update" changes an item's quantity; "unknown" is for anything that is not about shopping.
- LIST is the name of the list in lower case ("costco" for "my costco list"), or null for the default list.
- NAME is the item in lower case without its quantity or unit ("olive oil"). Every item needs a name.
- QUANTITY is a positive number, or null when no amount is given.
- UNIT is null for a plain count, else one of: lb, oz, g, kg, gal, qt, pt, l, ml, fl oz, cup, tbsp, tsp, dozen, pack, can, bottle, box, bag, carton, jar, loaf, bunch.
- Use "items": [] for commands about a whole list. Give one command per action, in the order said. Use no other keys.
Examples:
"add 2 gallons of milk and a dozen eggs" -> {"commands": [{"intent": "add", "list": null, "items": [{"name": "milk", "quantity": 2, "unit": "gal"}, {"name": "eggs", "quantity": 1, "unit": "dozen"}]}]}
"take the bread off my costco list, then what's the total" -> {"commands": [{"intent": "remove", "list": "costco", "items": [{"name": "bread", "quantity": null, "unit": null}]}, {"intent": "total", "list": "costco", "items": []}]}
"start a party list" -> {"commands": [{"intent": "create_list", "list": "party", "items": []}]}"#;

/// Why an LLM request failed; the source inside [`Error::Upstream`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The request could not be sent or the reply not read.
    #[error("request failed")]
    Transport(#[source] reqwest::Error),
    /// The server answered with an error status.
    #[error("server answered HTTP {0}")]
    Status(u16),
    /// The reply body is larger than [`MAX_REPLY_BYTES`].
    #[error("reply is larger than {MAX_REPLY_BYTES} bytes")]
    TooLarge,
    /// The reply is not the API's JSON envelope, or has no message content.
    #[error("reply is not a chat answer: {0}")]
    Envelope(String),
    /// The model's answer does not match the command schema or is out of bounds.
    #[error("invalid answer: {0}")]
    InvalidAnswer(String),
}

fn upstream(e: LlmError) -> Error {
    Error::Upstream {
        service: SERVICE.to_string(),
        source: Box::new(e),
    }
}

fn transport(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        return Error::Timeout {
            service: SERVICE.to_string(),
        };
    }
    upstream(LlmError::Transport(e))
}

/// Asks an LLM to understand a request; see the [module docs](self).
///
/// Cheap to clone: the HTTP client, breaker and cache are shared.
#[derive(Clone)]
pub struct LlmFallback {
    api: LlmApi,
    endpoint: String,
    model: String,
    api_key: Option<Secret>,
    timeout: Duration,
    threshold: f32,
    client: reqwest::Client,
    breaker: CircuitBreaker,
    cache: Option<moka::sync::Cache<String, Understanding>>,
}

impl std::fmt::Debug for LlmFallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // By hand: the cache's Debug would print its entries.
        f.debug_struct("LlmFallback")
            .field("api", &self.api)
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .field("threshold", &self.threshold)
            .field("breaker", &self.breaker.snapshot())
            .finish_non_exhaustive()
    }
}

fn config_error(msg: impl std::fmt::Display) -> Error {
    Error::Config(format!("llm.{msg}"))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl LlmFallback {
    /// Build the fallback from the `[llm]` section; `None` when it is disabled.
    ///
    /// # Errors
    /// [`Error::Config`] when enabled and `url` or `model` is missing, `url` is
    /// not an `http`/`https` URL (or carries credentials, a query or a fragment),
    /// `timeout_ms` is 0, `threshold` is outside 0..=1, the breaker settings are
    /// invalid, both `api_key` and `api_key_file` are set, or the key file cannot
    /// be read or is empty.
    ///
    /// # Examples
    /// ```
    /// use grocery_core::config::LlmConfig;
    /// use grocery_core::llm::LlmFallback;
    ///
    /// assert!(LlmFallback::from_config(&LlmConfig::default())?.is_none());
    /// # Ok::<(), grocery_core::Error>(())
    /// ```
    pub fn from_config(config: &LlmConfig) -> Result<Option<Self>> {
        if !config.enabled {
            return Ok(None);
        }
        let url = config
            .url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| config_error("url is required when llm.enabled is true"))?;
        let base = reqwest::Url::parse(url).map_err(|e| config_error(format!("url: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(config_error("url must start with http:// or https://"));
        }
        let Some(host) = base.host_str() else {
            return Err(config_error("url has no host"));
        };
        if !base.username().is_empty() || base.password().is_some() {
            return Err(config_error(
                "url must not contain credentials; set llm.api_key",
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(config_error("url must not have a query or fragment"));
        }
        let model = config
            .model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| config_error("model is required when llm.enabled is true"))?;
        if config.timeout_ms == 0 {
            return Err(config_error("timeout_ms must be at least 1"));
        }
        if !(0.0..=1.0).contains(&config.threshold) {
            return Err(config_error("threshold must be between 0 and 1"));
        }
        config.breaker.validate("llm.breaker")?;
        let api_key = match (&config.api_key, &config.api_key_file) {
            (Some(_), Some(_)) => {
                return Err(config_error("set api_key or api_key_file, not both"));
            }
            (Some(key), None) => Some(key.clone()).filter(|k| !k.expose().trim().is_empty()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| config_error(format!("api_key_file {}: {e}", path.display())))?;
                let key = text.trim();
                if key.is_empty() {
                    return Err(config_error(format!(
                        "api_key_file {} is empty",
                        path.display()
                    )));
                }
                Some(Secret::new(key))
            }
            (None, None) => None,
        };
        if api_key.is_some() && base.scheme() == "http" && !is_loopback(host) {
            tracing::warn!(
                host,
                "llm.api_key is sent over plain http; use https for remote servers"
            );
        }
        let path = match config.api {
            LlmApi::Ollama => "api/chat",
            LlmApi::Openai => "v1/chat/completions",
        };
        let endpoint = format!("{}/{path}", base.as_str().trim_end_matches('/'));
        let timeout = Duration::from_millis(config.timeout_ms);
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            // An API endpoint has no business redirecting; following one could
            // carry the key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("grocery-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config_error(format!("cannot build the HTTP client: {e}")))?;
        let cache = (config.cache_entries > 0 && config.cache_ttl_secs > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(config.cache_entries)
                .time_to_live(Duration::from_secs(config.cache_ttl_secs))
                .build()
        });
        tracing::debug!(api = ?config.api, host, model, "llm fallback enabled");
        Ok(Some(LlmFallback {
            api: config.api,
            endpoint,
            model: model.to_string(),
            api_key,
            timeout,
            threshold: config.threshold,
            client,
            breaker: CircuitBreaker::new(SERVICE, config.breaker.clone()),
            cache,
        }))
    }

    /// The confidence below which the agent should ask the LLM.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Whether a built-in understanding this confident should go to the LLM
    /// (`confidence < threshold`).
    pub fn should_ask(&self, confidence: f32) -> bool {
        confidence < self.threshold
    }

    /// The API the server speaks.
    pub fn api(&self) -> LlmApi {
        self.api
    }

    /// The model asked.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The circuit breaker's state and counts.
    pub fn breaker(&self) -> BreakerSnapshot {
        self.breaker.snapshot()
    }

    /// Understand `text` with the LLM. The result has [`CONFIDENCE`] as its
    /// confidence. Text longer than [`crate::nlp::MAX_TEXT_BYTES`] is cut first.
    ///
    /// # Errors
    /// - [`Error::InvalidInput`] for empty text (nothing is sent);
    /// - [`Error::Upstream`] (source [`crate::resilience::BreakerOpen`]) at once
    ///   while the breaker is open;
    /// - [`Error::Timeout`] when the server takes longer than `timeout_ms`;
    /// - [`Error::Upstream`] (source [`LlmError`]) when the request fails, the
    ///   server answers an error status, or the answer is not valid.
    ///
    /// # Examples
    /// See the [module docs](self).
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    pub async fn understand(&self, text: &str) -> Result<Understanding> {
        let text = clamp_text(text).trim();
        if text.is_empty() {
            return Err(Error::invalid("nothing to understand"));
        }
        let key = cache_key(text);
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(&key)) {
            tracing::debug!("llm answer from cache");
            return Ok(hit);
        }
        let content = self
            .breaker
            .call(self.timeout, self.exchange(text))
            .await
            .inspect_err(|e| {
                if !BreakerOpen::is_rejection(e) {
                    tracing::warn!(error = %e, "llm request failed");
                }
            })?;
        let understanding = parse_answer(&content).map_err(|reason| {
            tracing::warn!(%reason, "llm answer rejected");
            upstream(LlmError::InvalidAnswer(reason))
        })?;
        if let Some(cache) = &self.cache {
            cache.insert(key, understanding.clone());
        }
        Ok(understanding)
    }

    /// One HTTP exchange: the model's answer text, unvalidated.
    async fn exchange(&self, text: &str) -> Result<String> {
        let messages = serde_json::json!([
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": text},
        ]);
        let body = match self.api {
            LlmApi::Ollama => serde_json::json!({
                "model": self.model,
                "messages": messages,
                "stream": false,
                "format": "json",
                "options": {"temperature": 0},
            }),
            LlmApi::Openai => serde_json::json!({
                "model": self.model,
                "messages": messages,
                "temperature": 0,
                "response_format": {"type": "json_object"},
            }),
        };
        let mut request = self.client.post(&self.endpoint).json(&body);
        if let Some(key) = &self.api_key {
            // reqwest marks the header sensitive, so its Debug hides the value.
            request = request.bearer_auth(key.expose());
        }
        tracing::debug!(chars = text.chars().count(), "asking the llm");
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(upstream(LlmError::Status(status.as_u16())));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_REPLY_BYTES as u64)
        {
            return Err(upstream(LlmError::TooLarge));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(upstream(LlmError::TooLarge));
            }
            bytes.extend_from_slice(&chunk);
        }
        let content = match self.api {
            LlmApi::Ollama => {
                serde_json::from_slice::<OllamaReply>(&bytes).map(|r| r.message.content)
            }
            LlmApi::Openai => serde_json::from_slice::<OpenAiReply>(&bytes)
                .map(|r| r.choices.into_iter().next().and_then(|c| c.message.content)),
        };
        match content {
            Ok(Some(content)) => Ok(content),
            Ok(None) => Err(upstream(LlmError::Envelope("no message content".into()))),
            Err(e) => Err(upstream(LlmError::Envelope(e.to_string()))),
        }
    }
}

#[derive(Deserialize)]
struct OllamaReply {
    message: ReplyMessage,
}

#[derive(Deserialize)]
struct OpenAiReply {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ReplyMessage,
}

#[derive(Deserialize)]
struct ReplyMessage {
    content: Option<String>,
}

/// The answer schema, exactly: unknown keys are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    commands: Vec<AnswerCommand>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerCommand {
    intent: String,
    #[serde(default)]
    list: Option<String>,
    #[serde(default)]
    items: Option<Vec<AnswerItem>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerItem {
    name: String,
    #[serde(default)]
    quantity: Option<f64>,
    #[serde(default)]
    unit: Option<String>,
}

/// The cache key: lower case, whitespace folded to single spaces.
fn cache_key(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// At most `n` characters of `s`, for error messages.
fn excerpt(s: &str) -> String {
    const N: usize = 40;
    let mut out: String = s.chars().take(N).collect();
    if s.chars().nth(N).is_some() {
        out.push('…');
    }
    out
}

/// The model's answer, validated, as an [`Understanding`].
fn parse_answer(content: &str) -> std::result::Result<Understanding, String> {
    let answer: Answer =
        serde_json::from_str(content.trim()).map_err(|e| format!("not the schema: {e}"))?;
    if answer.commands.is_empty() {
        return Err("no commands".into());
    }
    if answer.commands.len() > MAX_COMMANDS {
        return Err(format!("more than {MAX_COMMANDS} commands"));
    }
    let commands = answer
        .commands
        .into_iter()
        .map(parse_command)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Understanding {
        commands,
        confidence: CONFIDENCE,
    })
}

fn parse_command(raw: AnswerCommand) -> std::result::Result<Command, String> {
    // Through Intent's own Deserialize, so the names stay the ones it accepts.
    let intent: Intent = serde_json::from_value(serde_json::Value::String(raw.intent.clone()))
        .map_err(|_| format!("unknown intent `{}`", excerpt(&raw.intent)))?;
    let list = match raw.list.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => Some(
            crate::lists::clean_name("list name", name)
                .map_err(|e| e.to_string())?
                .to_lowercase(),
        ),
    };
    let raw_items = raw.items.unwrap_or_default();
    if raw_items.len() > MAX_ITEMS {
        return Err(format!("more than {MAX_ITEMS} items in a command"));
    }
    let items = raw_items
        .into_iter()
        .map(|item| parse_item(intent, item))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Command {
        intent,
        list,
        from: None,
        items,
    })
}

fn parse_item(intent: Intent, raw: AnswerItem) -> std::result::Result<ItemPhrase, String> {
    let name = raw.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "item `{}` is longer than {MAX_NAME_CHARS} characters",
            excerpt(&name)
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("item name has control characters".into());
    }
    let amount = match raw.quantity {
        None => None,
        // from_f64 refuses NaN, infinities, zero, negatives and values over 1e6.
        Some(q) => {
            Some(Amount::from_f64(q).map_err(|e| format!("item `{}`: {e}", excerpt(&name)))?)
        }
    };
    // A name-less item is only meaningful as "make that 3" (an update of the item
    // last talked about).
    if name.is_empty() && !(intent == Intent::Update && amount.is_some()) {
        return Err("item without a name".into());
    }
    let unit = match raw.unit.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => match Unit::parse(text) {
            // A plain count is `None`, as from the built-in parser.
            Ok(Unit::Each) => None,
            Ok(unit) => Some(unit),
            Err(_) => {
                // Kept as a plain count; see the module docs.
                tracing::debug!(unit = %excerpt(text), "llm gave an unknown unit; dropped");
                None
            }
        },
    };
    // Built from `bare` so the fields this module does not set keep their
    // "nothing said" values.
    let mut phrase = ItemPhrase::bare(Amount::from_int(1).map_err(|e| e.to_string())?, unit);
    phrase.name = name.to_lowercase();
    phrase.amount = amount;
    Ok(phrase)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap; the library code does not.
mod tests {
    use super::*;

    fn parse(json: &str) -> std::result::Result<Understanding, String> {
        parse_answer(json)
    }

    #[test]
    fn parses_the_prompt_examples() {
        for line in SYSTEM_PROMPT.lines().filter(|l| l.contains(" -> ")) {
            let (_, json) = line.split_once(" -> ").unwrap();
            let u = parse(json).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(u.confidence, CONFIDENCE);
        }
        let u = parse(
            r#"{"commands": [{"intent": "remove", "list": "Costco ", "items": [{"name": "  White   Bread ", "quantity": 1.5, "unit": "LB"}]}]}"#,
        )
        .unwrap();
        let cmd = &u.commands[0];
        assert_eq!(cmd.intent, Intent::Remove);
        assert_eq!(cmd.list.as_deref(), Some("costco"));
        assert_eq!(cmd.items[0].name, "white bread");
        assert_eq!(cmd.items[0].amount, Some(Amount::from_f64(1.5).unwrap()));
        assert_eq!(cmd.items[0].unit, Some(Unit::Pound));
    }

    #[test]
    fn prompt_units_all_parse() {
        let line = SYSTEM_PROMPT
            .lines()
            .find(|l| l.starts_with("- UNIT"))
            .unwrap();
        let (_, units) = line.split_once("one of: ").unwrap();
        for unit in units.trim_end_matches('.').split(", ") {
            assert!(Unit::parse(unit).is_ok(), "{unit}");
        }
    }

    #[test]
    fn unknown_units_are_dropped_and_counts_are_none() {
        let u = parse(
            r#"{"commands": [{"intent": "add", "items": [{"name": "hay", "quantity": 2, "unit": "furlong"}, {"name": "eggs", "quantity": 3, "unit": "each"}, {"name": "milk", "unit": ""}]}]}"#,
        )
        .unwrap();
        let items = &u.commands[0].items;
        assert_eq!(items[0].unit, None);
        assert_eq!(items[0].amount, Some(Amount::from_int(2).unwrap()));
        assert_eq!(items[1].unit, None);
        assert_eq!((items[2].amount, items[2].unit), (None, None));
        assert_eq!(u.commands[0].list, None);
    }

    #[test]
    fn update_may_have_a_bare_amount_other_intents_may_not() {
        let ok = parse(
            r#"{"commands": [{"intent": "update", "list": null, "items": [{"name": "", "quantity": 3, "unit": null}]}]}"#,
        )
        .unwrap();
        assert_eq!(ok.commands[0].items[0].name, "");
        for bad in [
            r#"{"commands": [{"intent": "add", "items": [{"name": " ", "quantity": 3}]}]}"#,
            r#"{"commands": [{"intent": "update", "items": [{"name": ""}]}]}"#,
        ] {
            assert!(parse(bad).unwrap_err().contains("without a name"), "{bad}");
        }
    }

    #[test]
    fn refuses_schema_violations() {
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"commands": []}"#,
            r#"{"commands": [{"intent": "add"}], "extra": 1}"#,
            r#"{"commands": [{"intent": "add", "items": [], "why": "x"}]}"#,
            r#"{"commands": [{"intent": "add", "items": [{"name": "x", "brand": "y"}]}]}"#,
            r#"{"commands": [{"intent": "buy_everything", "items": []}]}"#,
            r#"{"commands": [{"intent": "Add", "items": []}]}"#,
            r#"{"commands": [{"intent": 3, "items": []}]}"#,
            r#"{"commands": [{"intent": "add", "items": [{"name": 5}]}]}"#,
            r#"{"commands": [{"intent": "add", "items": [{"name": "x", "quantity": "2"}]}]}"#,
            r#"{"commands": [{"intent": "show", "list": "a\u0007b"}]}"#,
            r#"{"commands": [{"intent": "add", "items": [{"name": "a\u0000b"}]}]}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_out_of_bounds_values() {
        let item = |q: &str| {
            format!(
                r#"{{"commands": [{{"intent": "add", "items": [{{"name": "x", "quantity": {q}}}]}}]}}"#
            )
        };
        for q in ["1e12", "-1", "0", "1000000.5", "1e-300", "\"NaN\""] {
            assert!(parse(&item(q)).is_err(), "{q}");
        }
        assert!(parse(&item("1000000")).is_ok());
        let cmd = r#"{"intent": "help", "items": []}"#;
        let many = format!(r#"{{"commands": [{}]}}"#, [cmd; 11].join(","));
        assert!(parse(&many).unwrap_err().contains("commands"));
        let long_list = format!(
            r#"{{"commands": [{{"intent": "show", "list": "{}"}}]}}"#,
            "l".repeat(201)
        );
        assert!(parse(&long_list).is_err());
    }

    #[test]
    fn cache_key_folds_case_and_space() {
        assert_eq!(cache_key("  Add\tMILK  and\n eggs "), "add milk and eggs");
    }

    #[test]
    fn from_config_checks_settings() {
        let good = LlmConfig {
            enabled: true,
            url: Some("http://127.0.0.1:11434/".into()),
            model: Some("llama3.2".into()),
            ..LlmConfig::default()
        };
        let llm = LlmFallback::from_config(&good).unwrap().unwrap();
        assert_eq!(llm.endpoint, "http://127.0.0.1:11434/api/chat");
        let openai = LlmConfig {
            api: LlmApi::Openai,
            url: Some("https://example.invalid/proxy/".into()),
            api_key: Some(Secret::new("sk-secret")),
            ..good.clone()
        };
        let llm = LlmFallback::from_config(&openai).unwrap().unwrap();
        assert_eq!(
            llm.endpoint,
            "https://example.invalid/proxy/v1/chat/completions"
        );
        assert!(!format!("{llm:?}").contains("sk-secret"));
        let bad = [
            LlmConfig {
                url: None,
                ..good.clone()
            },
            LlmConfig {
                url: Some("ftp://x".into()),
                ..good.clone()
            },
            LlmConfig {
                url: Some("127.0.0.1:11434".into()),
                ..good.clone()
            },
            LlmConfig {
                url: Some("http://user:pw@host".into()),
                ..good.clone()
            },
            LlmConfig {
                model: Some(" ".into()),
                ..good.clone()
            },
            LlmConfig {
                timeout_ms: 0,
                ..good.clone()
            },
            LlmConfig {
                threshold: 1.5,
                ..good.clone()
            },
            LlmConfig {
                api_key: Some(Secret::new("k")),
                api_key_file: Some("/nonexistent".into()),
                ..good.clone()
            },
            LlmConfig {
                api_key_file: Some("/nonexistent/key".into()),
                ..good.clone()
            },
        ];
        for config in bad {
            let err = LlmFallback::from_config(&config).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{config:?}: {err}");
        }
        let disabled = LlmConfig {
            enabled: false,
            ..bad_url()
        };
        assert!(LlmFallback::from_config(&disabled).unwrap().is_none());
    }

    fn bad_url() -> LlmConfig {
        LlmConfig {
            url: Some("not a url".into()),
            ..LlmConfig::default()
        }
    }

    #[test]
    fn api_key_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "  sk-file\n").unwrap();
        let config = LlmConfig {
            enabled: true,
            url: Some("http://127.0.0.1:1".into()),
            model: Some("m".into()),
            api_key_file: Some(path.clone()),
            ..LlmConfig::default()
        };
        let llm = LlmFallback::from_config(&config).unwrap().unwrap();
        assert_eq!(llm.api_key.as_ref().map(Secret::expose), Some("sk-file"));
        std::fs::write(&path, "\n").unwrap();
        assert!(LlmFallback::from_config(&config).is_err());
    }
}
