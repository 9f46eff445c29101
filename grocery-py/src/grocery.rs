//! The `Grocery` and `List` classes: thin wrappers around one core call each.
//!
//! Every method has an owned-argument `async fn` below the classes; the sync
//! method runs it with [`EnterCore::enter`] and the async twin with
//! [`awaitable`], so the two cannot drift apart.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use grocery_core::agent::AgentReply;
use grocery_core::jiff::{SignedDuration, Timestamp};
use grocery_core::lists::ListSummary;
use grocery_core::pricing::client::PriceAnswer;
use grocery_core::pricing::source::DemoMarket;
use grocery_core::pricing::{Alert, Target, Track};
use grocery_core::{
    Error, ErrorKind, GroceryList, ItemId, ListId, ListItem, Money, NewItem, PricedList, Product,
    Quantity, SearchHit,
};
use pyo3::exceptions::PyImportError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::runtime::{EnterCore, awaitable};
use crate::types::{HistoryRow, Plain};

/// Handles alive in this process, flushed by `_flush_all` at interpreter exit.
static HANDLES: Mutex<Vec<Weak<grocery_core::Grocery>>> = Mutex::new(Vec::new());

/// Flushes started by dropped handles, awaited by `_flush_all` at exit.
static DROP_FLUSHES: Mutex<Vec<tokio::task::JoinHandle<()>>> = Mutex::new(Vec::new());

/// A handle on a grocery database: the agent, lists, catalog search and prices.
///
/// One handle per database is enough: it is thread-safe, and sync calls from
/// several threads run in parallel (the interpreter is released while the core
/// works). Sync and async methods share one tokio runtime.
///
/// Do not `fork` after first use (the runtime's threads do not survive it); use
/// the "spawn" start method of multiprocessing.
#[pyclass(name = "Grocery", module = "grocery", frozen)]
pub(crate) struct PyGrocery {
    g: Arc<grocery_core::Grocery>,
}

#[pymethods]
impl PyGrocery {
    /// Open a grocery database, creating it with the embedded catalog if new.
    ///
    /// Args:
    ///     db: the SQLite file (default: the configured path, else grocery.db
    ///         in the user's data directory).
    ///     config: a TOML config file (default: $GROCERY_CONFIG, else the XDG
    ///         path); GROCERY_* environment variables apply on top.
    ///     redis_url: a Redis URL for the shared price cache tier.
    ///
    /// Raises:
    ///     ConfigError: the config is invalid or the file is not a grocery database.
    ///     GroceryError: the database cannot be opened.
    #[new]
    #[pyo3(signature = (db=None, config=None, redis_url=None))]
    fn new(
        py: Python<'_>,
        db: Option<PathBuf>,
        config: Option<PathBuf>,
        redis_url: Option<String>,
    ) -> PyResult<Self> {
        let g = py.enter(async move {
            let mut config = grocery_core::Config::load(config.as_deref())?;
            if db.is_some() {
                config.store.path = db;
            }
            if let Some(url) = redis_url {
                config.cache.redis_url = Some(grocery_core::config::Secret::new(url));
            }
            grocery_core::Grocery::open(config).await
        })?;
        let g = Arc::new(g);
        let mut handles = HANDLES.lock().unwrap_or_else(|e| e.into_inner());
        handles.retain(|h| h.strong_count() > 0);
        handles.push(Arc::downgrade(&g));
        Ok(PyGrocery { g })
    }

    /// The database file.
    #[getter]
    fn db(&self) -> String {
        self.g.database_path().display().to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "Grocery(db={:?})",
            self.g.database_path().display().to_string()
        )
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Flush on leaving a `with` block; exceptions propagate.
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.flush(py)?;
        Ok(false)
    }

    /// Write what is kept in memory between background flushes (agent
    /// sessions, cache counts) to the database. Done at interpreter exit, and
    /// in the background anyway (each changed session about half a second
    /// after it changed).
    ///
    /// Raises:
    ///     GroceryError: the database write failed.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let g = self.core();
        py.enter(async move { g.flush().await })
    }

    /// Tell the agent what you need; it changes the list and replies.
    ///
    /// Args:
    ///     text: the request ("add 2 gallons of milk and a dozen eggs").
    ///     session: the conversation: "it", "that" and "undo" refer to its
    ///         earlier requests (kept in the database).
    ///     list: the list to use when the request names none (default: Shopping).
    ///
    /// Returns:
    ///     The reply as a dict: commands, actions, list (priced, or None),
    ///     suggestions, message, confidence, understood_by, elapsed_us.
    ///
    /// Raises:
    ///     InvalidInputError: an absurd quantity; nothing was changed.
    #[pyo3(
        signature = (text, session="default".to_string(), list=None),
        text_signature = "($self, text, session='default', list=None)"
    )]
    fn ask(
        &self,
        py: Python<'_>,
        text: String,
        session: String,
        list: Option<String>,
    ) -> PyResult<Plain<AgentReply>> {
        py.enter(ask(self.core(), text, session, list))
    }

    /// Awaitable twin of `ask`.
    #[pyo3(
        signature = (text, session="default".to_string(), list=None),
        text_signature = "($self, text, session='default', list=None)"
    )]
    fn ask_async<'py>(
        &self,
        py: Python<'py>,
        text: String,
        session: String,
        list: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, ask(self.core(), text, session, list))
    }

    /// What the agent would do with `text`, without changing anything.
    ///
    /// Args:
    ///     text: the request.
    ///
    /// Returns:
    ///     A reply dict as from `ask`, with no actions and no list.
    ///
    /// Raises:
    ///     GroceryError: catalog search failed.
    fn preview(&self, py: Python<'_>, text: String) -> PyResult<Plain<AgentReply>> {
        py.enter(preview(self.core(), text))
    }

    /// Awaitable twin of `preview`.
    fn preview_async<'py>(&self, py: Python<'py>, text: String) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, preview(self.core(), text))
    }

    /// Your lists, oldest first.
    ///
    /// Returns:
    ///     A list of dicts: id, name, role, version, items, remaining, updated_at.
    ///
    /// Raises:
    ///     GroceryError: the database read failed.
    fn lists(&self, py: Python<'_>) -> PyResult<Plain<Vec<ListSummary>>> {
        py.enter(lists(self.core()))
    }

    /// Awaitable twin of `lists`.
    fn lists_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, lists(self.core()))
    }

    /// A list by name (case-insensitive), created when missing unless
    /// `create` is false.
    ///
    /// Args:
    ///     name: the list's name.
    ///     create: create the list when there is none of that name.
    ///
    /// Returns:
    ///     A `List`.
    ///
    /// Raises:
    ///     NotFoundError: no such list and `create` is false.
    ///     InvalidInputError: an empty or over-long name.
    #[pyo3(
        signature = (name="Shopping".to_string(), create=true),
        text_signature = "($self, name='Shopping', create=True)"
    )]
    fn list(&self, py: Python<'_>, name: String, create: bool) -> PyResult<PyList> {
        let g = self.core();
        let list = py.enter(async move {
            if create {
                g.lists().find_or_create(&name).await
            } else {
                g.lists().find(&name).await
            }
        })?;
        Ok(PyList::new(self.core(), list))
    }

    /// Create a new list.
    ///
    /// Args:
    ///     name: the new list's name.
    ///
    /// Returns:
    ///     The new `List`.
    ///
    /// Raises:
    ///     ConflictError: you already have a list of that name.
    ///     InvalidInputError: an empty or over-long name.
    fn create_list(&self, py: Python<'_>, name: String) -> PyResult<PyList> {
        let g = self.core();
        let list = py.enter(async move { g.lists().create(&name).await })?;
        Ok(PyList::new(self.core(), list))
    }

    /// Search the catalog the way shoppers type ("bannana", "oj", "2% milk").
    ///
    /// Args:
    ///     query: what to look for.
    ///     limit: most results (1 to 100).
    ///
    /// Returns:
    ///     A list of product dicts (id, name, brand, size, unit, price_cents,
    ///     ... and score), best first.
    ///
    /// Raises:
    ///     InvalidInputError: an empty or over-long query, or a bad limit.
    #[pyo3(signature = (query, limit=10))]
    fn search(
        &self,
        py: Python<'_>,
        query: String,
        limit: usize,
    ) -> PyResult<Plain<Vec<SearchHit>>> {
        py.enter(search(self.core(), query, limit))
    }

    /// Awaitable twin of `search`.
    #[pyo3(signature = (query, limit=10))]
    fn search_async<'py>(
        &self,
        py: Python<'py>,
        query: String,
        limit: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, search(self.core(), query, limit))
    }

    /// The current price of a product, through the price cache.
    ///
    /// Args:
    ///     query: a product id, or what to search for (the best hit is priced).
    ///     max_age: the oldest cached price accepted, in seconds; 0 asks the
    ///         store now; None uses the cache's freshness.
    ///
    /// Returns:
    ///     A dict: product_id, name, price_cents, unit_price, source, tier,
    ///     stale, age_secs, offers, in_stock.
    ///
    /// Raises:
    ///     NotFoundError: no such product, or no store sells it.
    ///     InvalidInputError: a negative max_age.
    ///     UpstreamError, GroceryTimeoutError: the store failed and nothing
    ///         cached could be used.
    #[pyo3(signature = (query, max_age=None))]
    fn price(
        &self,
        py: Python<'_>,
        query: String,
        max_age: Option<f64>,
    ) -> PyResult<Plain<PriceAnswer>> {
        py.enter(price(self.core(), query, max_age))
    }

    /// Awaitable twin of `price`.
    #[pyo3(signature = (query, max_age=None))]
    fn price_async<'py>(
        &self,
        py: Python<'py>,
        query: String,
        max_age: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, price(self.core(), query, max_age))
    }

    /// The prices recorded for a product over the last `days` days.
    ///
    /// Prices are recorded whenever one is fetched (`price`, the agent, the
    /// server's warmer); `backfill_demo` records the demo market's past days.
    ///
    /// Args:
    ///     query: a product id, or what to search for.
    ///     days: how many days back (1 to 3650).
    ///
    /// Returns:
    ///     A list of dicts, oldest first: product_id, name, observed_at (RFC
    ///     3339, UTC), price_cents, currency, source.
    ///
    /// Raises:
    ///     NotFoundError: no such product.
    ///     InvalidInputError: days out of range.
    #[pyo3(signature = (query, days=90))]
    fn history(
        &self,
        py: Python<'_>,
        query: String,
        days: u32,
    ) -> PyResult<Plain<Vec<HistoryRow>>> {
        py.enter(history(self.core(), query, days)).map(Plain)
    }

    /// Awaitable twin of `history`.
    #[pyo3(signature = (query, days=90))]
    fn history_async<'py>(
        &self,
        py: Python<'py>,
        query: String,
        days: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let g = self.core();
        awaitable(py, async move { history(g, query, days).await.map(Plain) })
    }

    /// `history` as a pandas DataFrame (needs pandas).
    ///
    /// Args:
    ///     query: a product id, or what to search for.
    ///     days: how many days back (1 to 3650).
    ///
    /// Returns:
    ///     A DataFrame, oldest first, with the columns of `history` plus
    ///     `price` (dollars); `observed_at` is a UTC datetime column.
    ///
    /// Raises:
    ///     ImportError: pandas is not installed.
    ///     NotFoundError: no such product.
    ///     InvalidInputError: days out of range.
    #[pyo3(signature = (query, days=90))]
    fn history_frame<'py>(
        &self,
        py: Python<'py>,
        query: String,
        days: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let pd = py.import("pandas").map_err(|e| {
            let hint = PyImportError::new_err(
                "history_frame needs pandas: pip install pandas (or grocery[pandas])",
            );
            hint.set_cause(py, Some(e));
            hint
        })?;
        let rows = py.enter(history(self.core(), query, days))?;
        let columns = [
            "product_id",
            "name",
            "observed_at",
            "price_cents",
            "currency",
            "source",
        ];
        let kwargs = PyDict::new(py);
        kwargs.set_item("columns", columns)?;
        let frame = pd.call_method("DataFrame", (Plain(rows),), Some(&kwargs))?;
        let utc = PyDict::new(py);
        utc.set_item("utc", true)?;
        let at = pd.call_method("to_datetime", (frame.get_item("observed_at")?,), Some(&utc))?;
        frame.set_item("observed_at", at)?;
        let dollars = frame
            .get_item("price_cents")?
            .call_method1("__truediv__", (100,))?;
        frame.set_item("price", dollars)?;
        Ok(frame)
    }

    /// Record the embedded demo market's price of a product for each of the
    /// last `days` days into the history, so a new database has a history to
    /// look at. Demo data: the market is deterministic in (product, day).
    ///
    /// Args:
    ///     query: a product id, or what to search for.
    ///     days: how many days back (1 to 3650).
    ///
    /// Returns:
    ///     How many observations were added (an unchanged price adds none).
    ///
    /// Raises:
    ///     NotFoundError: no such product.
    ///     InvalidInputError: days out of range.
    #[pyo3(signature = (query, days=90))]
    fn backfill_demo(&self, py: Python<'_>, query: String, days: u32) -> PyResult<usize> {
        py.enter(backfill_demo(self.core(), query, days))
    }

    /// Watch a product's price: an alert when it is at or below `below`, or
    /// `drop` percent under today's price. Replaces an earlier track of it.
    ///
    /// Args:
    ///     query: a product id, or what to search for.
    ///     below: a price in dollars (3.49, "3.49" or "$3.49").
    ///     drop: a percentage, 1 to 99.
    ///
    /// Returns:
    ///     The track as a dict (id, product_id, target, baseline, crossed, ...).
    ///
    /// Raises:
    ///     InvalidInputError: neither or both of below and drop, or a bad value.
    ///     NotFoundError: no such product.
    #[pyo3(signature = (query, below=None, drop=None))]
    fn track(
        &self,
        py: Python<'_>,
        query: String,
        below: Option<Bound<'_, PyAny>>,
        drop: Option<i64>,
    ) -> PyResult<Plain<Track>> {
        let below = below.map(|b| b.str().map(|s| s.to_string())).transpose()?;
        py.enter(track(self.core(), query, below, drop))
    }

    /// Awaitable twin of `track`.
    #[pyo3(signature = (query, below=None, drop=None))]
    fn track_async<'py>(
        &self,
        py: Python<'py>,
        query: String,
        below: Option<Bound<'py, PyAny>>,
        drop: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let below = below.map(|b| b.str().map(|s| s.to_string())).transpose()?;
        awaitable(py, track(self.core(), query, below, drop))
    }

    /// Price alerts raised for you, newest first.
    ///
    /// Args:
    ///     limit: most alerts returned.
    ///
    /// Returns:
    ///     A list of dicts: id, track_id, product_id, price, reason, created_at.
    ///
    /// Raises:
    ///     GroceryError: the database read failed.
    #[pyo3(signature = (limit=20))]
    fn alerts(&self, py: Python<'_>, limit: usize) -> PyResult<Plain<Vec<Alert>>> {
        py.enter(alerts(self.core(), limit))
    }

    /// Awaitable twin of `alerts`.
    #[pyo3(signature = (limit=20))]
    fn alerts_async<'py>(&self, py: Python<'py>, limit: usize) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, alerts(self.core(), limit))
    }

    /// The cheapest way to buy a list across stores: for each line the
    /// product, pack count and store, honouring offers (multi-buy, BOGO).
    ///
    /// Args:
    ///     list: the list's name; None for the current list.
    ///     stores: the stores allowed (names); None for every store with prices.
    ///     max_stores: visit at most this many stores.
    ///     trip_cost_cents: what each store beyond the main one costs.
    ///     budget_cents: say whether the plan fits this budget; when the
    ///         list's own variants miss it, other products of the kind may
    ///         stand in (budget["widened"]).
    ///     substitutes: False buys every line as the list's own product.
    ///
    /// Returns:
    ///     A dict: list, stores, lines (item, product_id, store, packs,
    ///     cost_cents, ...), total_cents, naive_total_cents, savings_cents,
    ///     single_store, store_totals, unavailable, budget.
    ///
    /// Raises:
    ///     NotFoundError: no such list.
    ///     InvalidInputError: a store with no prices, max_stores 0, a negative
    ///         trip cost or budget.
    #[pyo3(signature = (list=None, stores=None, max_stores=2, trip_cost_cents=0, budget_cents=None, substitutes=true))]
    // One argument per Python keyword.
    #[allow(clippy::too_many_arguments)]
    fn optimize(
        &self,
        py: Python<'_>,
        list: Option<String>,
        stores: Option<Vec<String>>,
        max_stores: u32,
        trip_cost_cents: i64,
        budget_cents: Option<i64>,
        substitutes: bool,
    ) -> PyResult<Plain<grocery_core::deals::Optimized>> {
        py.enter(optimize(
            self.core(),
            optimize_options(
                list,
                stores,
                max_stores,
                trip_cost_cents,
                budget_cents,
                substitutes,
            ),
        ))
    }

    /// Awaitable twin of `optimize`.
    #[pyo3(signature = (list=None, stores=None, max_stores=2, trip_cost_cents=0, budget_cents=None, substitutes=true))]
    // One argument per Python keyword.
    #[allow(clippy::too_many_arguments)]
    fn optimize_async<'py>(
        &self,
        py: Python<'py>,
        list: Option<String>,
        stores: Option<Vec<String>>,
        max_stores: u32,
        trip_cost_cents: i64,
        budget_cents: Option<i64>,
        substitutes: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            optimize(
                self.core(),
                optimize_options(
                    list,
                    stores,
                    max_stores,
                    trip_cost_cents,
                    budget_cents,
                    substitutes,
                ),
            ),
        )
    }

    /// Deals on a list (store offers, prices under their usual), best first;
    /// with all=True, what is on sale anywhere (at most `limit`).
    ///
    /// Args:
    ///     list: the list's name; None for the current list.
    ///     all: everything on sale instead of one list.
    ///     limit: most deals with all=True.
    ///
    /// Returns:
    ///     A list of dicts: item, product_id, product_name, store, kind, score,
    ///     reason, confidence, price_cents, usual_cents.
    ///
    /// Raises:
    ///     NotFoundError: no such list.
    #[pyo3(signature = (list=None, all=false, limit=20))]
    fn deals(
        &self,
        py: Python<'_>,
        list: Option<String>,
        all: bool,
        limit: usize,
    ) -> PyResult<Plain<Vec<grocery_core::deals::ProductDeal>>> {
        py.enter(deals(self.core(), list, all, limit))
    }

    /// What you usually buy, due first (restock prediction from what you
    /// checked off); with forgotten=True only what is due and not on the list.
    ///
    /// Args:
    ///     forgotten: only what is due and not on the list.
    ///     list: the list for forgotten; None for the current list.
    ///
    /// Returns:
    ///     A list of dicts: item, product_id, times_bought, every_days,
    ///     last_bought_at, days_since, due, confidence, on_list, message.
    ///
    /// Raises:
    ///     GroceryError: the database read failed.
    #[pyo3(signature = (forgotten=false, list=None))]
    fn usuals(
        &self,
        py: Python<'_>,
        forgotten: bool,
        list: Option<String>,
    ) -> PyResult<Plain<Vec<grocery_core::habits::Usual>>> {
        py.enter(usuals(self.core(), forgotten, list))
    }

    /// Awaitable twin of `usuals`.
    #[pyo3(signature = (forgotten=false, list=None))]
    fn usuals_async<'py>(
        &self,
        py: Python<'py>,
        forgotten: bool,
        list: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, usuals(self.core(), forgotten, list))
    }

    /// Awaitable twin of `deals`.
    #[pyo3(signature = (list=None, all=false, limit=20))]
    fn deals_async<'py>(
        &self,
        py: Python<'py>,
        list: Option<String>,
        all: bool,
        limit: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, deals(self.core(), list, all, limit))
    }
}

impl Drop for PyGrocery {
    /// A handle dropped before exit (`Grocery(...).ask(...)` in one line) is
    /// no longer in `HANDLES` when `_flush_all` runs: write what it holds now.
    /// Spawned, not awaited: dropping must not block or release the
    /// interpreter.
    fn drop(&mut self) {
        let Ok(rt) = crate::runtime::runtime() else {
            return;
        };
        let g = self.core();
        // A failed flush leaves the sessions queued in the core; nothing to
        // tell anyone from a destructor.
        let task = rt.spawn(async move {
            let _ = g.flush().await;
        });
        let mut pending = DROP_FLUSHES.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|t| !t.is_finished());
        pending.push(task);
    }
}

impl PyGrocery {
    /// An owned clone of the core handle (an `Arc`), for a future to move.
    fn core(&self) -> grocery_core::Grocery {
        (*self.g).clone()
    }
}

/// One grocery list. Reads (`items`, `total`) always show the list as it is
/// in the database now, including changes made by the agent or other processes.
#[pyclass(name = "List", module = "grocery", frozen)]
pub(crate) struct PyList {
    g: grocery_core::Grocery,
    id: ListId,
    name: String,
}

/// An item named by its id or, case-insensitively, its name.
#[derive(Debug, FromPyObject)]
enum ItemRef {
    Id(i64),
    Name(String),
}

#[pymethods]
impl PyList {
    /// The list's id.
    #[getter]
    fn id(&self) -> i64 {
        self.id.0
    }

    /// The list's name.
    #[getter]
    fn name(&self) -> String {
        self.name.clone()
    }

    fn __repr__(&self) -> String {
        format!("<grocery.List {:?} id={}>", self.name, self.id.0)
    }

    /// The items, oldest first, as dicts: id, name, quantity, note, checked,
    /// product_id, added_by, added_at, updated_at.
    ///
    /// Raises:
    ///     NotFoundError: the list was deleted.
    #[getter]
    fn items(&self, py: Python<'_>) -> PyResult<Plain<Vec<ListItem>>> {
        let (g, id) = (self.g.clone(), self.id);
        py.enter(async move { Ok(g.lists().get(id).await?.items) })
            .map(Plain)
    }

    /// The total of the unchecked priced items, in cents.
    ///
    /// Raises:
    ///     NotFoundError: the list was deleted.
    #[getter]
    fn total(&self, py: Python<'_>) -> PyResult<i64> {
        let (g, id) = (self.g.clone(), self.id);
        py.enter(async move { Ok(g.lists().priced(id).await?.total.cents) })
    }

    /// The list priced from the catalog.
    ///
    /// Returns:
    ///     A dict: id, name, version, lines (item, product, packs,
    ///     line_total), total, unpriced.
    ///
    /// Raises:
    ///     NotFoundError: the list was deleted.
    fn priced(&self, py: Python<'_>) -> PyResult<Plain<PricedList>> {
        let (g, id) = (self.g.clone(), self.id);
        py.enter(async move { g.lists().priced(id).await })
            .map(Plain)
    }

    /// Add an item; an unchecked item of the same product (or name) in a
    /// compatible unit absorbs the quantity instead (1 gal + 2 qt = 1.5 gal).
    /// The item is priced only when linked to a product (see `Grocery.search`;
    /// `Grocery.ask` links products itself).
    ///
    /// Args:
    ///     name: what to buy.
    ///     quantity: how much ("2 gal", "1 1/2 lb", 3); one each when None.
    ///     product: a catalog product id to link.
    ///     note: a free-text note.
    ///
    /// Returns:
    ///     The item as it is now, as a dict.
    ///
    /// Raises:
    ///     InvalidInputError: a bad name, quantity or note.
    ///     NotFoundError: an unknown product id, or the list was deleted.
    #[pyo3(signature = (name, quantity=None, product=None, note=None))]
    fn add(
        &self,
        py: Python<'_>,
        name: String,
        quantity: Option<Bound<'_, PyAny>>,
        product: Option<String>,
        note: Option<String>,
    ) -> PyResult<Plain<ListItem>> {
        let quantity = quantity
            .map(|q| q.str().map(|s| s.to_string()))
            .transpose()?;
        let (g, id) = (self.g.clone(), self.id);
        py.enter(async move {
            let mut item = NewItem::new(name);
            if let Some(q) = quantity {
                item = item.quantity(Quantity::parse(&q)?);
            }
            if let Some(p) = product {
                item = item.product(p);
            }
            if let Some(n) = note {
                item = item.note(n);
            }
            g.lists().add_item(id, item).await
        })
        .map(Plain)
    }

    /// Remove an item.
    ///
    /// Args:
    ///     item: the item's id, or its name (case-insensitive; the first match).
    ///
    /// Raises:
    ///     NotFoundError: no such item on the list.
    fn remove(&self, py: Python<'_>, item: ItemRef) -> PyResult<()> {
        let (g, id) = (self.g.clone(), self.id);
        py.enter(async move {
            let item = item_id(&g, id, item).await?;
            g.lists().remove_item(id, item).await
        })
    }

    /// Check an item off (bought), or uncheck it.
    ///
    /// Args:
    ///     item: the item's id, or its name (case-insensitive; the first match).
    ///     checked: False unchecks.
    ///
    /// Returns:
    ///     The item as it is now, as a dict.
    ///
    /// Raises:
    ///     NotFoundError: no such item on the list.
    #[pyo3(signature = (item, checked=true))]
    fn check(&self, py: Python<'_>, item: ItemRef, checked: bool) -> PyResult<Plain<ListItem>> {
        let (g, id) = (self.g.clone(), self.id);
        py.enter(async move {
            let item = item_id(&g, id, item).await?;
            g.lists().check(id, item, checked).await
        })
        .map(Plain)
    }
}

impl PyList {
    fn new(g: grocery_core::Grocery, list: GroceryList) -> Self {
        PyList {
            g,
            id: list.id,
            name: list.name,
        }
    }
}

/// The id of an item named by id or name.
async fn item_id(g: &grocery_core::Grocery, list: ListId, item: ItemRef) -> Result<ItemId, Error> {
    let name = match item {
        ItemRef::Id(id) => return Ok(ItemId(id)),
        ItemRef::Name(name) => name,
    };
    let wanted = name.trim().to_lowercase();
    g.lists()
        .get(list)
        .await?
        .items
        .into_iter()
        .find(|i| i.name.to_lowercase() == wanted)
        .map(|i| i.id)
        .ok_or_else(|| Error::not_found("item", name))
}

/// The product a query names: a product id, else the best search hit.
async fn product_for(g: &grocery_core::Grocery, query: &str) -> Result<Product, Error> {
    match g.catalog().get(query) {
        Ok(p) => return Ok(p),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    g.catalog()
        .search(query, 1)
        .await?
        .into_iter()
        .next()
        .map(|h| h.product)
        .ok_or_else(|| Error::not_found("product", query))
}

/// `days` checked as the CLI checks `--days`.
fn check_days(days: u32) -> Result<u32, Error> {
    if (1..=3650).contains(&days) {
        Ok(days)
    } else {
        Err(Error::invalid("days must be between 1 and 3650"))
    }
}

async fn ask(
    g: grocery_core::Grocery,
    text: String,
    session: String,
    list: Option<String>,
) -> Result<Plain<AgentReply>, Error> {
    let reply = g
        .agent()
        .handle_in(&session, &text, list.as_deref())
        .await?;
    Ok(Plain(reply))
}

async fn preview(g: grocery_core::Grocery, text: String) -> Result<Plain<AgentReply>, Error> {
    g.agent().preview(&text).await.map(Plain)
}

async fn lists(g: grocery_core::Grocery) -> Result<Plain<Vec<ListSummary>>, Error> {
    g.lists().all().await.map(Plain)
}

fn optimize_options(
    list: Option<String>,
    stores: Option<Vec<String>>,
    max_stores: u32,
    trip_cost_cents: i64,
    budget_cents: Option<i64>,
    substitutes: bool,
) -> grocery_core::deals::OptimizeOptions {
    grocery_core::deals::OptimizeOptions {
        list,
        stores,
        max_stores,
        trip_cost_cents,
        budget_cents,
        substitutes,
    }
}

async fn optimize(
    g: grocery_core::Grocery,
    opts: grocery_core::deals::OptimizeOptions,
) -> Result<Plain<grocery_core::deals::Optimized>, Error> {
    g.deals().optimize(&opts).await.map(Plain)
}

async fn deals(
    g: grocery_core::Grocery,
    list: Option<String>,
    all: bool,
    limit: usize,
) -> Result<Plain<Vec<grocery_core::deals::ProductDeal>>, Error> {
    if all {
        g.deals().on_sale(limit.clamp(1, 500)).await.map(Plain)
    } else {
        g.deals().on_list(list.as_deref()).await.map(Plain)
    }
}

async fn usuals(
    g: grocery_core::Grocery,
    forgotten: bool,
    list: Option<String>,
) -> Result<Plain<Vec<grocery_core::habits::Usual>>, Error> {
    if forgotten {
        g.habits().forgotten(list.as_deref()).await.map(Plain)
    } else {
        g.habits().usuals().await.map(Plain)
    }
}

async fn search(
    g: grocery_core::Grocery,
    query: String,
    limit: usize,
) -> Result<Plain<Vec<SearchHit>>, Error> {
    g.habits().search(&query, limit).await.map(Plain)
}

async fn price(
    g: grocery_core::Grocery,
    query: String,
    max_age: Option<f64>,
) -> Result<Plain<PriceAnswer>, Error> {
    let max_age = max_age
        .map(|secs| {
            Duration::try_from_secs_f64(secs)
                .map_err(|_| Error::invalid("max_age is a number of seconds, 0 or more"))
        })
        .transpose()?;
    let product = product_for(&g, &query).await?;
    g.pricing().price(&product.id, max_age).await.map(Plain)
}

async fn history(
    g: grocery_core::Grocery,
    query: String,
    days: u32,
) -> Result<Vec<HistoryRow>, Error> {
    let days = check_days(days)?;
    let product = product_for(&g, &query).await?;
    let since = Timestamp::now()
        .checked_sub(SignedDuration::from_hours(24 * i64::from(days)))
        .ok();
    let name = product.display_name();
    let points = g.prices().history(&product.id, since).await?;
    // The core gives newest first; a time series reads oldest first.
    Ok(points
        .into_iter()
        .rev()
        .map(|p| HistoryRow {
            product_id: product.id.clone(),
            name: name.clone(),
            observed_at: p.observed_at.to_string(),
            price_cents: p.price.cents,
            currency: p.price.currency.code(),
            source: p.source,
        })
        .collect())
}

async fn backfill_demo(g: grocery_core::Grocery, query: String, days: u32) -> Result<usize, Error> {
    let days = i64::from(check_days(days)?);
    let product = product_for(&g, &query).await?;
    let today = Timestamp::now().as_second().div_euclid(86_400);
    let market = DemoMarket::default();
    let mut added = 0;
    for day in today - days + 1..=today {
        let quote = market.quote_on(&product, day);
        let at = Some(quote.observed_at);
        if g.prices()
            .record(&product.id, &quote.source, quote.price, at)
            .await?
        {
            added += 1;
        }
    }
    Ok(added)
}

async fn track(
    g: grocery_core::Grocery,
    query: String,
    below: Option<String>,
    drop: Option<i64>,
) -> Result<Plain<Track>, Error> {
    let target = match (below, drop) {
        (Some(price), None) => Target::Below(Money::parse(
            price.trim().trim_start_matches('$'),
            grocery_core::Currency::Usd,
        )?),
        (None, Some(pct)) => Target::DropPercent(
            u8::try_from(pct).map_err(|_| Error::invalid("drop is a percentage, 1 to 99"))?,
        ),
        _ => return Err(Error::invalid("give one of below= or drop=")),
    };
    let product = product_for(&g, &query).await?;
    g.prices().track(&product.id, target).await.map(Plain)
}

async fn alerts(g: grocery_core::Grocery, limit: usize) -> Result<Plain<Vec<Alert>>, Error> {
    g.prices().alerts(limit).await.map(Plain)
}

/// Finish the flushes of dropped handles and flush every live one; the
/// package calls it at interpreter exit so the next process continues the
/// conversation ("undo", "it").
#[pyfunction]
#[pyo3(name = "_flush_all")]
pub(crate) fn flush_all(py: Python<'_>) -> PyResult<()> {
    let dropped: Vec<_> =
        std::mem::take(&mut *DROP_FLUSHES.lock().unwrap_or_else(|e| e.into_inner()));
    py.enter(async move {
        for task in dropped {
            task.await?;
        }
        Ok(())
    })?;
    let handles: Vec<_> = HANDLES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    // Every handle gets its flush; the first failure is raised after.
    let mut first_error = None;
    for g in handles {
        if let Err(e) = py.enter(async move { g.flush().await }) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}
