//! # grocery-core
//!
//! The core of Grocery Agent: an embeddable grocery shopping library. It keeps
//! shopping lists in an embedded SQLite database, searches a product catalog the
//! way shoppers type (typos, plurals, shorthand such as `oj` or `evoo`), and prices
//! lists from the catalog with exact unit arithmetic.
//!
//! ## The agent
//! [`Grocery::agent`] takes a sentence ("add 2 gallons of milk and a dozen eggs,
//! we're out of coffee") through four stages:
//! 1. **Interpret** ([`nlp::parse_request`], pure): the commands in the sentence,
//!    each with an intent, a list and items parsed by the item grammar
//!    ([`nlp::parse_item`], also used for recipe ingredient lines);
//! 2. **Resolve**: each item to a catalog product by search, with alternatives;
//! 3. **Apply**: list changes, each command in one transaction;
//! 4. **Reply**: an [`agent::AgentReply`] with the actions, the priced list and a
//!    short message. `agent().preview(text)` stops after Resolve.
//!
//! Sessions (`agent().handle_in(session, ..)`) keep the last items for "it" and
//! "that" and an undo history; they are per user and per session id, and are
//! saved to the store behind the requests ([`Grocery::flush_sessions`] before a
//! process exits), so a conversation continues in the next process.
//!
//! Questions about prices compare per unit: `compare` offers the cheapest
//! product of the same kind ([`Catalog::cheaper_than`]), `deals` the items whose
//! price is under their own 30-day median. An optional LLM fallback ([`llm`],
//! off by default) is asked only when the built-in understanding is unsure; its
//! answers are validated before anything is applied, and [`resilience`] guards
//! the call (timeout, circuit breaker).
//!
//! [`deals`] is the pure arithmetic behind shopping cheaply: what a multi-buy or
//! BOGO makes `n` packs cost ([`deals::cost_of`]), the cheapest way to shop a
//! list over at most `K` stores with trip costs and "$10 off $50" thresholds
//! ([`plan_basket`], exact), and whether a price is a deal, why and how surely
//! ([`deals::detect_deal`]). It takes plain data and touches no store;
//! [`Grocery::deals`] gathers a user's list, the stores' prices (the demo
//! market's and those imported per store) and the configured trip costs and
//! thresholds, and asks it (`optimize`, `on_list`, `on_sale`).
//! [`Grocery::habits`] learns from what a user adds and checks off: restock
//! prediction ("you usually buy milk every 6 days") and the products they
//! prefer, which the agent uses to resolve "milk". The agent answers "cheapest
//! way to buy this list", "split it between walmart and kroger", "keep it
//! under $40" and "what am I forgetting?" with them.
//!
//! Everything goes through one [`Grocery`] handle, grouped by noun:
//! [`Grocery::catalog`] (search, lookup, import), [`Grocery::lists`]
//! (lists and items), [`Grocery::prices`] (price history),
//! [`Grocery::deals`], [`Grocery::habits`] and [`Grocery::users`]. All
//! methods are async and return [`Result`].
//!
//! ```no_run
//! use grocery_core::{Config, Grocery, NewItem, Quantity};
//!
//! # async fn demo() -> grocery_core::Result<()> {
//! let g = Grocery::open(Config::default()).await?;
//! let milk = g.catalog().search("half gallon 2% milk", 1).await?.remove(0).product;
//! let list = g.lists().find_or_create("Shopping").await?;
//! g.lists()
//!     .add_item(list.id, NewItem::new(&milk.name).product(&milk.id).quantity(Quantity::parse("1 gal")?))
//!     .await?;
//! let priced = g.lists().priced(list.id).await?;
//! println!("total {}", priced.total);
//! # Ok(()) }
//! ```
//!
//! ## Data
//! - **Money** is integer cents with a currency ([`Money`]); no floats.
//! - **Quantities** are exact rationals with a typed [`Unit`]; units of one
//!   dimension convert exactly (1 gal + 2 qt = 1.5 gal).
//! - **Time** is UTC ([`jiff::Timestamp`]).
//!
//! ## Storage
//! SQLite (bundled, no system library) in WAL mode with foreign keys, embedded
//! migrations, one writer thread and a few reader threads, each with its own
//! connection; no database call runs on the async executor's threads. Each
//! logical operation lands whole or not at all; writes queued at the same
//! moment share one commit (group commit), each in its own savepoint.
//!
//! [`Grocery::backup`] copies the database with SQLite's online backup API while
//! it stays in use (the copy is one snapshot, written whole or not at all);
//! [`restore`] checks a backup (ours, sound, not from a newer version) and
//! swaps it in atomically, refusing while another process has the database open.
//!
//! The embedded catalog (about 2,600 everyday US products in 17 departments, with
//! plausible shelf prices) is demo data written for this project; it loads into a
//! new database on first open. `catalog().import_file` adds or replaces products
//! from CSV or JSON Lines.
//!
//! ## Cache
//! [`Grocery::tiered_cache`] gives a named [`TieredCache`] that reads memory,
//! then Redis (when `cache.redis_url` or `GROCERY_REDIS_URL` is set), then
//! SQLite, then the upstream, with stale-while-revalidate, negative caching and
//! one upstream call per key at a time. A cache failure (Redis down included) is
//! logged and counted, never returned. See [`cache`].
//!
//! ## Configuration
//! [`Config::load`] layers defaults, a TOML file (`GROCERY_CONFIG`) and
//! `GROCERY_<SECTION>__<KEY>` environment variables, e.g. `GROCERY_STORE__PATH`.
//! See `config/grocery.example.toml`.
//!
//! ## LLM fallback (optional, off by default)
//! The `[llm]` section configures [`llm::LlmFallback`]: an Ollama or
//! OpenAI-compatible model asked to understand a sentence the built-in parser is
//! unsure of (confidence below `llm.threshold`). Its JSON answer is validated as
//! strictly as user input; every request has a timeout and goes through a circuit
//! breaker ([`resilience::CircuitBreaker`]), and is never retried. The API key
//! comes from `GROCERY_LLM__API_KEY` or `llm.api_key_file` and is shown as `***`.
#![warn(missing_docs)]

pub mod agent;
mod backup;
pub mod cache;
pub mod catalog;
pub mod config;
pub mod deals;
pub mod error;
mod events;
mod grocery;
pub mod habits;
pub mod health;
pub mod lists;
pub mod llm;
pub mod money;
pub mod nlp;
pub mod pricing;
pub mod quantity;
pub mod resilience;
mod store;
pub mod users;

pub use backup::{BackupInfo, BackupProgress, restore, restore_with_progress};
pub use cache::{CacheConfig, CacheReport, CacheStats, Cached, Tier, TierReport, TieredCache};
pub use catalog::{Catalog, Department, Product, SearchHit};
pub use config::Config;
pub use deals::{BasketAnswer, BasketRequest, Deal, DealKind, Offer, plan_basket};
pub use error::{Error, ErrorKind, Result};
pub use grocery::{Grocery, LIST_CHANGES_KEPT};
pub use jiff;
pub use lists::{
    GroceryList, ItemId, ListId, ListItem, ListOp, Lists, NewItem, OpDone, PricedList, User, UserId,
};
pub use money::{Currency, Money};
pub use quantity::{Amount, Dimension, Quantity, Unit};
