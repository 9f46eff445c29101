//! Configuration: defaults, then a TOML file, then `GROCERY_` environment variables.
//!
//! Defaults live only in the `impl Default` blocks below. `config/grocery.example.toml`
//! lists every key set to its default, and a test keeps the two in step.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::resilience::BreakerConfig;

/// Environment variable naming the config file when no path is given.
pub const CONFIG_ENV: &str = "GROCERY_CONFIG";
/// Environment variable with a Redis URL: turns on the L2 cache tier
/// (`cache.redis_url`; `GROCERY_CACHE__REDIS_URL` takes precedence).
pub const REDIS_URL_ENV: &str = "GROCERY_REDIS_URL";
/// Prefix of environment overrides; `__` separates sections (`GROCERY_STORE__PATH`).
pub const ENV_PREFIX: &str = "GROCERY_";

/// The whole configuration of a [`crate::Grocery`] handle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where and how the SQLite database is kept.
    pub store: StoreConfig,
    /// Product catalog and search.
    pub catalog: CatalogConfig,
    /// The optional LLM fallback for requests the built-in parser is unsure of.
    pub llm: LlmConfig,
    /// The tiered cache in front of upstream services (memory, Redis, SQLite).
    pub cache: crate::cache::CacheConfig,
    /// Where prices come from.
    pub pricing: PricingConfig,
    /// The HTTP server (`grocery serve`).
    pub server: ServerConfig,
    /// What shopping at each store costs beyond its prices (basket optimisation).
    pub deals: DealsConfig,
}

/// The `[deals]` section: per store, a trip cost and spend thresholds, used by
/// basket optimisation (`grocery optimize`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DealsConfig {
    /// One entry per store that needs one (`[[deals.stores]]`).
    pub stores: Vec<StoreDeals>,
}

/// One store's costs beyond its prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreDeals {
    /// The store (`walmart`; `demo` for the catalog's own).
    pub name: String,
    /// What a trip there costs when it is not the main store, in cents;
    /// unset: the trip cost of the request (`--trip-cost`).
    #[serde(default)]
    pub trip_cost_cents: Option<i64>,
    /// "$10 off $50": `{ min_cents = 5000, off_cents = 1000 }`.
    #[serde(default)]
    pub thresholds: Vec<crate::deals::SpendThreshold>,
}

impl DealsConfig {
    /// Check the stores' settings.
    ///
    /// # Errors
    /// [`Error::Config`] for an empty or repeated store name, a negative trip
    /// cost or a threshold that is not `0 < off <= min`.
    pub fn validate(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for s in &self.stores {
            let name = s.name.trim().to_ascii_lowercase();
            if name.is_empty() || !seen.insert(name.clone()) {
                return Err(Error::Config(format!(
                    "deals.stores: store name `{}` is empty or repeated",
                    s.name
                )));
            }
            if s.trip_cost_cents.is_some_and(|c| c < 0) {
                return Err(Error::Config(format!(
                    "deals.stores.{name}: trip_cost_cents cannot be negative"
                )));
            }
            for t in &s.thresholds {
                t.validate()
                    .map_err(|e| Error::Config(format!("deals.stores.{name}: {e}")))?;
            }
        }
        Ok(())
    }

    /// The settings of `store` (any case), if any.
    pub fn store(&self, store: &str) -> Option<&StoreDeals> {
        self.stores
            .iter()
            .find(|s| s.name.trim().eq_ignore_ascii_case(store))
    }
}

/// The `[server]` section: the HTTP server's address, limits and logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (`--bind` overrides).
    pub bind: String,
    /// Serve without tokens, every request as the local user: a personal
    /// setup. Refused on any address but loopback (`--no-auth` sets it).
    pub no_auth: bool,
    /// Origins allowed to call the API from a browser (CORS); empty allows
    /// none but the server's own page, `["*"]` any.
    pub cors_origins: Vec<String>,
    /// Largest request body, in bytes.
    pub body_limit_bytes: usize,
    /// Longest time a request may take, in milliseconds (streams excepted),
    /// its wait for an in-flight slot included.
    pub request_timeout_ms: u64,
    /// Most API requests worked on at once, per core (live streams and
    /// `/health`, `/metrics` not counted). Others wait their turn, first come
    /// first served, so that under overload every request waits about as
    /// long; 0 sets no limit.
    pub max_in_flight_per_core: usize,
    /// Requests per second each user may make (token bucket refill rate).
    pub rate_per_user_per_sec: u32,
    /// Requests a user may make in a burst (token bucket size).
    pub rate_burst: u32,
    /// Most live connections (WebSocket and event streams) at once.
    pub max_subscribers: usize,
    /// On SIGTERM or Ctrl-C, how long in-flight requests may take to finish,
    /// in seconds.
    pub shutdown_grace_secs: u64,
    /// Log level (`error`, `warn`, `info`, `debug`, `trace`, or a tracing
    /// filter); `RUST_LOG` overrides.
    pub log_level: String,
    /// Log format: `text` or `json`.
    pub log_format: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            no_auth: false,
            cors_origins: Vec::new(),
            body_limit_bytes: 64 * 1024,
            request_timeout_ms: 10_000,
            max_in_flight_per_core: 48,
            rate_per_user_per_sec: 50,
            rate_burst: 100,
            max_subscribers: 20_000,
            shutdown_grace_secs: 10,
            log_level: "info".into(),
            log_format: "text".into(),
        }
    }
}

/// The `[pricing]` section: the price sources, one per store, asked in this
/// order: Walmart, Kroger, then the demo market.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PricingConfig {
    /// Use the embedded demo market (the catalog's prices moved day by day; demo
    /// data, the only source that works offline).
    pub demo: bool,
    /// A Walmart-style product API (`[pricing.walmart]`); off when absent.
    pub walmart: Option<crate::pricing::http::WalmartConfig>,
    /// A Kroger-style product API (`[pricing.kroger]`); off when absent.
    pub kroger: Option<crate::pricing::http::KrogerConfig>,
    /// The resilience settings put around every source (`[pricing.guard]`).
    pub guard: GuardConfig,
    /// How many of the most asked-for products the warmer keeps fresh (0 turns
    /// the warmer off). Runs in `grocery serve`.
    pub warm_top: usize,
    /// How often the warmer runs, in seconds.
    pub warm_every_secs: u64,
    /// The warmer refreshes a price older than this, in seconds (below the
    /// memory tier's freshness, so popular prices never expire).
    pub warm_refresh_after_secs: u64,
    /// Share of each source's daily quota the warmer may use, in percent; the
    /// rest is kept for people's requests.
    pub warm_quota_percent: u32,
    /// How often tracked products are priced and checked for alerts, in seconds
    /// (0 turns the scheduled check off). Runs in `grocery serve`.
    pub check_every_secs: u64,
}

impl Default for PricingConfig {
    fn default() -> Self {
        Self {
            demo: true,
            walmart: None,
            kroger: None,
            guard: GuardConfig::default(),
            warm_top: 500,
            warm_every_secs: 30,
            warm_refresh_after_secs: 45,
            warm_quota_percent: 50,
            check_every_secs: 900,
        }
    }
}

/// The `[pricing.guard]` section: what guards every call to a price source, in
/// this order: retries (reads only), the rate limit, the bulkhead, the circuit
/// breaker and the call's timeout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardConfig {
    /// Longest wait for one call to a source, in milliseconds.
    pub timeout_ms: u64,
    /// Calls to one source at once (the bulkhead).
    pub max_concurrent: usize,
    /// How long a call waits for a bulkhead slot before failing `Busy`, in ms.
    pub max_queue_wait_ms: u64,
    /// Calls per second to one source (token bucket refill rate).
    pub rate_per_sec: f64,
    /// Calls allowed in a burst (token bucket size).
    pub burst: u32,
    /// How long a call waits for a token (or a `Retry-After`) before failing, in ms.
    pub max_rate_wait_ms: u64,
    /// The circuit breaker of each source (`[pricing.guard.breaker]`).
    pub breaker: BreakerConfig,
    /// Retries of failed reads (`[pricing.guard.retry]`).
    pub retry: crate::resilience::RetryConfig,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 5_000,
            max_concurrent: 8,
            max_queue_wait_ms: 1_000,
            rate_per_sec: 50.0,
            burst: 50,
            max_rate_wait_ms: 2_000,
            breaker: BreakerConfig::default(),
            retry: crate::resilience::RetryConfig::default(),
        }
    }
}

impl GuardConfig {
    /// Check the settings.
    ///
    /// # Errors
    /// [`Error::Config`] for a zero timeout or concurrency, a rate that is not a
    /// positive number, a zero burst, no attempts, or a bad breaker.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: &str| Err(Error::Config(format!("pricing.guard: {msg}")));
        if self.timeout_ms == 0 {
            return bad("timeout_ms must be at least 1");
        }
        if self.max_concurrent == 0 {
            return bad("max_concurrent must be at least 1");
        }
        if !(self.rate_per_sec.is_finite() && self.rate_per_sec > 0.0) {
            return bad("rate_per_sec must be a positive number");
        }
        if self.burst == 0 {
            return bad("burst must be at least 1");
        }
        if self.retry.max_attempts == 0 {
            return bad("retry.max_attempts must be at least 1");
        }
        self.breaker.validate("pricing.guard.breaker")
    }
}

/// The `[store]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Database file. Empty means `grocery.db` in the user's data directory
    /// (`$XDG_DATA_HOME/grocery` on Linux).
    pub path: Option<PathBuf>,
    /// Read connections besides the single writer.
    pub readers: usize,
    /// How long a connection waits for a lock before failing, in milliseconds.
    pub busy_timeout_ms: u64,
    /// Load the embedded default catalog into a new, empty database.
    pub seed_catalog: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: None,
            readers: 4,
            busy_timeout_ms: 5_000,
            seed_catalog: true,
        }
    }
}

/// The `[catalog]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// Results returned by a search when the caller gives no limit.
    pub default_limit: usize,
    /// Longest search query accepted, in characters.
    pub max_query_chars: usize,
    /// Largest import file accepted, in bytes.
    pub max_import_bytes: u64,
    /// Search queries whose full-text matches are kept in memory (0 turns the
    /// cache off). Emptied whenever the catalog changes.
    pub match_cache_entries: u64,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            default_limit: 10,
            max_query_chars: 200,
            max_import_bytes: 256 * 1024 * 1024,
            match_cache_entries: 10_000,
        }
    }
}

/// Which HTTP API the LLM server speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmApi {
    /// Ollama's `POST /api/chat`.
    #[default]
    Ollama,
    /// OpenAI-compatible `POST /v1/chat/completions` (OpenAI, vLLM, llama.cpp
    /// server, LM Studio, ...).
    Openai,
}

/// The `[llm]` section: an LLM asked when the built-in parser's confidence is low.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Ask the LLM at all. Off by default.
    pub enabled: bool,
    /// The API the server speaks.
    pub api: LlmApi,
    /// Base URL, `http` or `https`, without the API path
    /// (`http://127.0.0.1:11434` for Ollama, `https://api.openai.com` for OpenAI).
    /// Required when `enabled`.
    pub url: Option<String>,
    /// Model name (`llama3.2`, `gpt-4o-mini`). Required when `enabled`.
    pub model: Option<String>,
    /// Sent as `Authorization: Bearer <key>` when set. Prefer the environment
    /// (`GROCERY_LLM__API_KEY`) or `api_key_file` to writing it in a file.
    pub api_key: Option<Secret>,
    /// File holding the API key (container secrets); surrounding whitespace is
    /// ignored. Not allowed together with `api_key`.
    pub api_key_file: Option<PathBuf>,
    /// Time allowed for one LLM request, in milliseconds.
    pub timeout_ms: u64,
    /// The LLM is asked when the built-in understanding's confidence is below this
    /// (0..=1).
    pub threshold: f32,
    /// Validated answers kept in memory, keyed by the normalised text (0 turns the
    /// cache off).
    pub cache_entries: u64,
    /// How long a cached answer is kept, in seconds.
    pub cache_ttl_secs: u64,
    /// The circuit breaker in front of the LLM server.
    pub breaker: BreakerConfig,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            api: LlmApi::Ollama,
            url: None,
            model: None,
            api_key: None,
            api_key_file: None,
            timeout_ms: 3_000,
            threshold: 0.5,
            cache_entries: 1_000,
            cache_ttl_secs: 3_600,
            breaker: BreakerConfig::default(),
        }
    }
}

/// A secret string (API key, password). `Debug`, `Display` and `Serialize` all
/// print `***`, so logs and `grocery config show` never reveal it; read it with
/// [`Secret::expose`].
///
/// Because it serialises as `***`, a configuration written out by
/// [`Config::to_toml`] does not carry its secrets.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself: only to put it where it is used, never in a log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// Keys whose environment overrides stay strings even when they look like
/// numbers (an all-digit API key or model name, a path made of digits).
const STRING_KEYS: &[&[&str]] = &[
    &["store", "path"],
    &["llm", "url"],
    &["llm", "model"],
    &["llm", "api_key"],
    &["llm", "api_key_file"],
    &["cache", "redis_url"],
    &["pricing", "walmart", "base_url"],
    &["pricing", "walmart", "consumer_id"],
    &["pricing", "walmart", "api_key"],
    &["pricing", "kroger", "base_url"],
    &["pricing", "kroger", "client_id"],
    &["pricing", "kroger", "client_secret"],
    &["pricing", "kroger", "location_id"],
    &["server", "bind"],
    &["server", "log_level"],
    &["server", "log_format"],
];

impl Config {
    /// Load the configuration: defaults, then the TOML file (`path`, else
    /// `$GROCERY_CONFIG`, else `grocery.toml` in the user's config directory if it
    /// exists), then `GROCERY_*` environment variables.
    ///
    /// # Errors
    /// [`Error::Config`] when the file cannot be read or parsed, has unknown keys,
    /// or an environment override has the wrong type.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        Self::load_from(path, std::env::vars())
    }

    /// [`Config::load`] with an explicit environment, for tests and embedders.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_from(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let explicit = path.map(Path::to_path_buf).or_else(|| {
            env.iter()
                .find(|(k, _)| k == CONFIG_ENV)
                .map(|(_, v)| PathBuf::from(v))
        });
        let file = match explicit {
            Some(p) => Some((read_file(&p)?, p)),
            None => match default_config_path() {
                Some(p) if p.is_file() => Some((read_file(&p)?, p)),
                _ => None,
            },
        };
        let mut value = toml::Value::try_from(Config::default())
            .map_err(|e| Error::Config(format!("defaults do not serialize: {e}")))?;
        if let Some((text, p)) = file {
            let file_value: toml::Value = toml::from_str(&text)
                .map_err(|e| Error::Config(format!("{}: {e}", p.display())))?;
            merge(&mut value, file_value);
        }
        if let Some((_, url)) = env.iter().find(|(k, _)| k == REDIS_URL_ENV) {
            set_path(
                &mut value,
                &["cache".to_string(), "redis_url".to_string()],
                toml::Value::String(url.clone()),
            )
            .map_err(|e| Error::Config(format!("{REDIS_URL_ENV}: {e}")))?;
        }
        for (key, raw) in &env {
            let Some(rest) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if key == CONFIG_ENV || !rest.contains("__") {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            let typed = if STRING_KEYS
                .iter()
                .any(|k| k.len() == path.len() && k.iter().zip(&path).all(|(a, b)| a == b))
            {
                toml::Value::String(raw.clone())
            } else {
                env_value(raw)
            };
            set_path(&mut value, &path, typed).map_err(|e| Error::Config(format!("{key}: {e}")))?;
        }
        value
            .try_into::<Config>()
            .map_err(|e| Error::Config(e.to_string()))
    }

    /// The database path in effect: `store.path`, else the user's data directory.
    ///
    /// # Errors
    /// [`Error::Config`] when no path is set and the platform has no data directory.
    pub fn database_path(&self) -> Result<PathBuf> {
        match &self.store.path {
            Some(p) if !p.as_os_str().is_empty() => Ok(p.clone()),
            _ => directories::ProjectDirs::from("", "", "grocery")
                .map(|d| d.data_dir().join("grocery.db"))
                .ok_or_else(|| Error::Config("no data directory; set store.path".into())),
        }
    }

    /// The configuration as TOML, as `grocery config show` prints it.
    ///
    /// # Errors
    /// [`Error::Internal`] if serialization fails (a bug).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Internal(e.to_string()))
    }
}

fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "grocery").map(|d| d.config_dir().join("grocery.toml"))
}

fn read_file(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).map_err(|e| Error::Config(format!("{}: {e}", p.display())))
}

/// An environment string as a TOML scalar: integers, floats and booleans keep their
/// type so that `GROCERY_STORE__READERS=8` fills a `usize`.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if let Ok(b) = raw.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    if let Ok(f) = raw.parse::<f64>()
        && f.is_finite()
    {
        return toml::Value::Float(f);
    }
    toml::Value::String(raw.to_string())
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn set_path(
    value: &mut toml::Value,
    path: &[String],
    new: toml::Value,
) -> std::result::Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty key".into());
    };
    let mut cur = value;
    for p in parents {
        let table = cur.as_table_mut().ok_or("not a section")?;
        cur = table
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
    let table = cur.as_table_mut().ok_or("not a section")?;
    table.insert(last.clone(), new);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn example_file_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/grocery.example.toml");
        let loaded = Config::load_from(Some(&path), no_env()).unwrap();
        assert_eq!(loaded, Config::default());
    }

    #[test]
    fn env_overrides_file_and_keeps_types() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.toml");
        std::fs::write(&file, "[store]\nreaders = 2\npath = \"/tmp/a.db\"\n").unwrap();
        let env = vec![
            ("GROCERY_STORE__READERS".to_string(), "7".to_string()),
            (
                "GROCERY_CATALOG__DEFAULT_LIMIT".to_string(),
                "3".to_string(),
            ),
            ("HOME".to_string(), "/root".to_string()),
        ];
        let c = Config::load_from(Some(&file), env).unwrap();
        assert_eq!(c.store.readers, 7);
        assert_eq!(c.store.path, Some(PathBuf::from("/tmp/a.db")));
        assert_eq!(c.catalog.default_limit, 3);
    }

    #[test]
    fn api_key_comes_from_env_and_is_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.toml");
        std::fs::write(&file, "[llm]\nenabled = true\nmodel = \"m\"\n").unwrap();
        let env = vec![
            ("GROCERY_LLM__API_KEY".to_string(), "0123456789".to_string()),
            ("GROCERY_LLM__API".to_string(), "openai".to_string()),
            ("GROCERY_LLM__BREAKER__WINDOW".to_string(), "7".to_string()),
        ];
        let c = Config::load_from(Some(&file), env).unwrap();
        assert!(c.llm.enabled);
        assert_eq!(c.llm.api, LlmApi::Openai);
        assert_eq!(c.llm.breaker.window, 7);
        // Kept as the string it is, leading zero and all.
        assert_eq!(
            c.llm.api_key.as_ref().map(Secret::expose),
            Some("0123456789")
        );
        let shown = c.to_toml().unwrap();
        assert!(shown.contains("api_key = \"***\""), "{shown}");
        for text in [shown, format!("{c:?}"), serde_json::to_string(&c).unwrap()] {
            assert!(!text.contains("0123456789"), "{text}");
        }
    }

    #[test]
    fn redis_url_env_turns_on_l2_and_is_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("empty.toml");
        std::fs::write(&file, "").unwrap();
        let env = vec![(
            "GROCERY_REDIS_URL".to_string(),
            "redis://:hunter2@127.0.0.1:6379/0".to_string(),
        )];
        let c = Config::load_from(Some(&file), env).unwrap();
        assert_eq!(
            c.cache.redis_url.as_ref().map(Secret::expose),
            Some("redis://:hunter2@127.0.0.1:6379/0")
        );
        assert!(!format!("{c:?}").contains("hunter2"));
        let env = vec![
            ("GROCERY_REDIS_URL".to_string(), "redis://a".to_string()),
            (
                "GROCERY_CACHE__REDIS_URL".to_string(),
                "redis://b".to_string(),
            ),
        ];
        let c = Config::load_from(Some(&file), env).unwrap();
        assert_eq!(
            c.cache.redis_url.as_ref().map(Secret::expose),
            Some("redis://b")
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.toml");
        std::fs::write(&file, "[store]\nreadres = 2\n").unwrap();
        let err = Config::load_from(Some(&file), no_env()).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
        let env = vec![("GROCERY_STORE__NOPE".to_string(), "1".to_string())];
        assert!(Config::load_from(Some(&file), env).is_err());
    }

    #[test]
    fn wrong_type_in_env_is_a_config_error() {
        let env = vec![("GROCERY_STORE__READERS".to_string(), "many".to_string())];
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("empty.toml");
        std::fs::write(&file, "").unwrap();
        let err = Config::load_from(Some(&file), env).unwrap_err();
        assert!(matches!(err, Error::Config(_)));
    }
}
