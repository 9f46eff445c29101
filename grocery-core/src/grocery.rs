//! The `Grocery` handle: one per process, cheap to clone.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::agent::Agent;
use crate::catalog::index::CatalogIndex;
use crate::catalog::{self, Catalog};
use crate::config::Config;
use crate::error::Result;
use crate::lists::{Lists, UserId};
use crate::pricing::Prices;
use crate::store::{Store, StoreOptions};
use crate::users::Users;

/// The library's entry point: opens the store and holds the shared state.
///
/// Cloning is cheap (an `Arc`); clones share the database, caches and catalog.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> grocery_core::Result<()> {
/// use grocery_core::{Config, Grocery};
/// let g = Grocery::open(Config::default()).await?;
/// for hit in g.catalog().search("milk", 3).await? {
///     println!("{} {}", hit.product.display_name(), hit.product.price);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Grocery {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: Config,
    store: Store,
    index: RwLock<Arc<CatalogIndex>>,
    sessions: crate::agent::Sessions,
    llm: Option<crate::llm::LlmFallback>,
    events: tokio::sync::broadcast::Sender<crate::pricing::Event>,
    pricing: std::sync::OnceLock<crate::pricing::client::PricingState>,
    price_sources: Vec<Arc<dyn crate::pricing::source::PriceSource>>,
    /// The shared L2 cache tier, when `cache.redis_url` is set.
    redis: Option<crate::cache::RedisTier>,
    /// The task publishing logged list changes, started by the first subscriber.
    tailer: std::sync::OnceLock<()>,
    /// Events to and from other instances through Redis, when configured.
    relay: tokio::sync::OnceCell<Option<crate::events::Relay>>,
    /// Woken when another instance says it logged a list change.
    remote_change: Arc<tokio::sync::Notify>,
    /// Sessions changed since they were last written, by (user, name), in
    /// the order they were first changed (a change to one already here keeps
    /// its place).
    dirty_sessions: std::sync::Mutex<DirtySessions>,
    /// Each user's product picks (learned preferences), briefly remembered so
    /// that the agent does not read them on every request.
    picks: moka::sync::Cache<UserId, RememberedPicks>,
    /// Tokens recently authenticated, by hash: a request needs no read to
    /// know its caller. Emptied when this process issues or revokes a token;
    /// kept one second, so that a revocation by another process sharing the
    /// database takes effect within that.
    tokens: moka::sync::Cache<String, crate::lists::User>,
}

/// How often the list change log is read for other processes' changes.
/// How long an authenticated token is remembered (see `Inner::tokens`).
const TOKEN_MEMORY: Duration = Duration::from_secs(1);

const TAIL_INTERVAL: Duration = Duration::from_millis(250);
/// How long logged list changes are kept for clients that reconnect.
pub const LIST_CHANGES_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often old list changes are pruned.
const LIST_CHANGES_PRUNE_EVERY: Duration = Duration::from_secs(600);

/// How often the price cache's counts are written, and about how long a
/// changed agent session waits before it is (see [`SESSION_FLUSH_TICK`]).
const SESSION_FLUSH: Duration = Duration::from_millis(500);

/// How long a changed session is left before the background writes it: the
/// requests of a conversation in that time are written once.
const SESSION_SETTLE: Duration = Duration::from_millis(250);

/// How often the background flush writes the sessions changed longest ago
/// (and at least [`SESSION_SETTLE`] ago): a tenth of those waiting each time,
/// so a queue of busy sessions is written in turn, each about every
/// [`SESSION_FLUSH`]. All of them every half second instead held the writer,
/// and the list writes queued behind it, for tens of milliseconds twice a
/// second (quick load run, agent requests alone: the slowest hundredth
/// bunched in the 60 ms after each flush).
const SESSION_FLUSH_TICK: Duration = Duration::from_millis(50);

/// Changed sessions waiting to be written, with when each was first changed,
/// oldest first.
type DirtySessions =
    indexmap::IndexMap<(UserId, String), (crate::agent::SharedSession, std::time::Instant)>;

/// A user's remembered picks: the snapshot readers take, counted in place as
/// the agent adds (a new copy only while a reader still holds the last one).
type RememberedPicks = Arc<std::sync::Mutex<Arc<Vec<crate::store::Pick>>>>;

/// Take from `dirty` the background flush's share at `now`: of the sessions
/// changed at least [`SESSION_SETTLE`] before, the longest waiting, at most
/// as many as [`sessions_due`] says of all those waiting.
fn take_due(
    dirty: &mut DirtySessions,
    now: std::time::Instant,
) -> Vec<((UserId, String), crate::agent::SharedSession)> {
    let n = dirty
        .values()
        .take(sessions_due(dirty.len()))
        .take_while(|(_, since)| now.saturating_duration_since(*since) >= SESSION_SETTLE)
        .count();
    dirty.drain(..n).map(|(key, (s, _))| (key, s)).collect()
}

/// Background ticks per [`SESSION_FLUSH`].
const TICKS_PER_FLUSH: usize =
    (SESSION_FLUSH.as_millis() / SESSION_FLUSH_TICK.as_millis()) as usize;
const _: () = assert!(TICKS_PER_FLUSH > 0, "a tick longer than a flush");

/// How many of `waiting` changed sessions one background tick may write: the
/// share that writes them all within [`SESSION_FLUSH`], at least one.
fn sessions_due(waiting: usize) -> usize {
    waiting.div_ceil(TICKS_PER_FLUSH)
}

/// Sessions saved per write transaction by a flush: a hundred busy sessions
/// (each up to twenty new undo entries) would otherwise hold the writer, and
/// every list write behind it, for tens of milliseconds.
const SESSIONS_PER_WRITE: usize = 8;

impl std::fmt::Debug for Grocery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grocery")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl Grocery {
    /// Open the database named by the config (creating it, running migrations and
    /// loading the embedded catalog into a new one).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for a file that is not a grocery database or was
    /// written by a newer version; storage and I/O errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn open(config: Config) -> Result<Grocery> {
        config.deals.validate()?;
        let path = config.database_path()?;
        let store = Store::open(
            &path,
            StoreOptions::new(
                config.store.readers,
                Duration::from_millis(config.store.busy_timeout_ms),
            ),
        )
        .await?;
        if config.store.seed_catalog && !store.catalog_seeded().await? {
            let products = tokio::task::spawn_blocking(catalog::embedded_products).await??;
            if store.seed_catalog(products).await? {
                tracing::info!(path = %path.display(), "loaded the embedded catalog");
            }
        }
        let index = catalog::build_index(
            store.load_products().await?,
            config.catalog.match_cache_entries,
        )
        .await?;
        let llm = crate::llm::LlmFallback::from_config(&config.llm)?;
        let price_sources = crate::pricing::client::configured_sources(&config.pricing)?;
        let redis = match &config.cache.redis_url {
            Some(url) => Some(crate::cache::RedisTier::connect(url.expose())?),
            None => None,
        };
        let inner = Arc::new(Inner {
            config,
            store,
            index: RwLock::new(index),
            sessions: crate::agent::sessions(),
            llm,
            redis,
            dirty_sessions: Default::default(),
            picks: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(30))
                .build(),
            tokens: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(TOKEN_MEMORY)
                .build(),
            events: tokio::sync::broadcast::channel(1_024).0,
            pricing: std::sync::OnceLock::new(),
            tailer: std::sync::OnceLock::new(),
            relay: tokio::sync::OnceCell::new(),
            remote_change: Arc::default(),
            price_sources,
        });
        // Write changed sessions behind the requests, the longest changed a
        // few at a time, and the cache counts every SESSION_FLUSH; the task
        // ends with the last handle.
        let weak = Arc::downgrade(&inner);
        let runtime = tokio::runtime::Handle::try_current();
        if let Ok(runtime) = runtime {
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(SESSION_FLUSH_TICK);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                for n in (1..=TICKS_PER_FLUSH).cycle() {
                    tick.tick().await;
                    let Some(inner) = weak.upgrade() else { break };
                    let g = Grocery { inner };
                    if let Err(e) = g.flush_due_sessions(std::time::Instant::now()).await {
                        tracing::warn!(error = %e, "could not save sessions");
                    }
                    if n == TICKS_PER_FLUSH
                        && g.inner.pricing.get().is_some()
                        && let Err(e) = g.pricing().flush_stats().await
                    {
                        tracing::warn!(error = %e, "could not save cache counts");
                    }
                }
            });
        }
        Ok(Grocery { inner })
    }

    /// A [`TieredCache`](crate::TieredCache) named `name` over memory, this
    /// handle's Redis tier (when configured) and its SQLite store, with the
    /// `[cache]` settings. Caches of one name share Redis and SQLite entries
    /// (memory is per cache value); create each once and clone it.
    pub fn tiered_cache<K, V>(&self, name: &str) -> crate::TieredCache<K, V>
    where
        K: std::fmt::Display + 'static,
        V: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        crate::TieredCache::new(
            name,
            self.inner.config.cache.clone(),
            Some(self.inner.store.clone()),
            self.inner.redis.clone(),
        )
    }

    /// The configuration this handle was opened with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The database file.
    pub fn database_path(&self) -> &Path {
        self.inner.store.path()
    }

    /// Catalog search, lookup and import.
    pub fn catalog(&self) -> Catalog<'_> {
        Catalog::new(self)
    }

    /// The local user's lists.
    pub fn lists(&self) -> Lists<'_> {
        Lists::new(self, UserId::LOCAL)
    }

    /// Another user's lists (the server passes the authenticated user).
    pub fn lists_for(&self, user: UserId) -> Lists<'_> {
        Lists::new(self, user)
    }

    /// What the local user usually buys: restock prediction and preferences.
    pub fn habits(&self) -> crate::habits::Habits<'_> {
        crate::habits::Habits::new(self, UserId::LOCAL)
    }

    /// What `user` usually buys (a server's caller).
    pub fn habits_for(&self, user: UserId) -> crate::habits::Habits<'_> {
        crate::habits::Habits::new(self, user)
    }

    /// Deals and basket optimisation for the local user.
    pub fn deals(&self) -> crate::deals::Deals<'_> {
        crate::deals::Deals::new(self, UserId::LOCAL)
    }

    /// Deals and basket optimisation for `user` (a server's caller).
    pub fn deals_for(&self, user: UserId) -> crate::deals::Deals<'_> {
        crate::deals::Deals::new(self, user)
    }

    /// The agent, acting for the local user.
    pub fn agent(&self) -> Agent<'_> {
        Agent::new(self, UserId::LOCAL)
    }

    /// The agent, acting for another user.
    pub fn agent_for(&self, user: UserId) -> Agent<'_> {
        Agent::new(self, user)
    }

    /// Write every agent session changed since it was last written to the
    /// store, a few sessions per transaction (each session's save is whole),
    /// so that a big flush never holds other writes up for long. A background
    /// task writes each changed session about half a second after it changed,
    /// a few at a time; call this before a process exits so the next run
    /// continues the conversation (the CLI and the server do). Returns how
    /// many sessions were written.
    ///
    /// # Errors
    /// Storage errors; the sessions not written stay queued for the next flush.
    pub async fn flush_sessions(&self) -> Result<usize> {
        let taken: Vec<_> = std::mem::take(&mut *self.dirty_sessions())
            .into_iter()
            .map(|(key, (s, _))| (key, s))
            .collect();
        self.save_taken(taken).await
    }

    /// Write the background flush's share at `now` ([`take_due`]). Returns
    /// how many were written.
    async fn flush_due_sessions(&self, now: std::time::Instant) -> Result<usize> {
        let taken = take_due(&mut self.dirty_sessions(), now);
        self.save_taken(taken).await
    }

    fn dirty_sessions(&self) -> std::sync::MutexGuard<'_, DirtySessions> {
        self.inner
            .dirty_sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Save `taken` sessions, [`SESSIONS_PER_WRITE`] per transaction; after a
    /// failure, that chunk and the rest wait again (behind those changed
    /// since). Returns how many were written.
    async fn save_taken(
        &self,
        taken: Vec<((UserId, String), crate::agent::SharedSession)>,
    ) -> Result<usize> {
        let mut written = 0;
        let mut rest = taken.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<_> = rest.by_ref().take(SESSIONS_PER_WRITE).collect();
            if let Err(e) = self.save_sessions(&chunk).await {
                let mut dirty = self.dirty_sessions();
                let now = std::time::Instant::now();
                for (key, session) in chunk.into_iter().chain(rest) {
                    dirty.entry(key).or_insert((session, now));
                }
                return Err(e);
            }
            written += chunk.len();
        }
        Ok(written)
    }

    /// Save `sessions` in one transaction; on failure each is marked unsaved
    /// again, with what the save carried.
    async fn save_sessions(
        &self,
        sessions: &[((UserId, String), crate::agent::SharedSession)],
    ) -> Result<()> {
        let mut batch = Vec::with_capacity(sessions.len());
        // The sessions whose saves are in `batch`, in the same order.
        let mut carried = Vec::with_capacity(sessions.len());
        let mut failed = None;
        for ((user, name), session) in sessions {
            match crate::agent::session_save(session) {
                Ok(save) => {
                    carried.push((session, save.unsaved_from()));
                    batch.push((*user, name.clone(), save));
                }
                Err(e) => failed = Some(e),
            }
        }
        let written = match failed {
            None => self.inner.store.save_sessions(batch).await,
            Some(e) => Err(e),
        };
        if written.is_err() {
            for (session, from) in carried {
                crate::agent::session_unsaved(session, from);
            }
        }
        written
    }

    /// Write what is kept in memory between flushes to the store: changed agent
    /// sessions ([`Grocery::flush_sessions`]) and the price cache's hit and miss
    /// counts (so `grocery cache stats` sees every process's). A background
    /// task writes each changed session about half a second after it
    /// changed, and the counts every half second; call this before a process
    /// exits.
    ///
    /// # Errors
    /// Storage errors; what was not written stays queued for the next flush.
    pub async fn flush(&self) -> Result<()> {
        let sessions = self.flush_sessions().await;
        if self.inner.pricing.get().is_some() {
            self.pricing().flush_stats().await?;
        }
        sessions.map(drop)
    }

    /// Queue a changed session to be written (behind those changed earlier).
    pub(crate) fn session_changed(
        &self,
        user: UserId,
        name: String,
        session: crate::agent::SharedSession,
    ) {
        match self.dirty_sessions().entry((user, name)) {
            indexmap::map::Entry::Occupied(mut e) => e.get_mut().0 = session,
            indexmap::map::Entry::Vacant(e) => {
                e.insert((session, std::time::Instant::now()));
            }
        }
    }

    /// A changed session not yet written.
    pub(crate) fn unsaved_session(
        &self,
        user: UserId,
        name: &str,
    ) -> Option<crate::agent::SharedSession> {
        self.dirty_sessions()
            .get(&(user, name.to_string()))
            .map(|(s, _)| s.clone())
    }

    /// The LLM fallback, when `[llm]` is enabled.
    pub fn llm(&self) -> Option<&crate::llm::LlmFallback> {
        self.inner.llm.as_ref()
    }

    /// A weak reference, for background tasks that must not keep the handle
    /// alive.
    pub(crate) fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    /// The handle behind a weak reference, while any handle lives.
    pub(crate) fn upgrade(weak: &std::sync::Weak<Inner>) -> Option<Grocery> {
        weak.upgrade().map(|inner| Grocery { inner })
    }

    /// The shared Redis tier, when `cache.redis_url` is set.
    pub fn redis(&self) -> Option<&crate::cache::RedisTier> {
        self.inner.redis.as_ref()
    }

    /// The price sources configured, in the order they are asked.
    pub(crate) fn price_sources(&self) -> &[Arc<dyn crate::pricing::source::PriceSource>] {
        &self.inner.price_sources
    }

    /// Current prices through the tiered cache ([`crate::pricing::client`]).
    pub fn pricing(&self) -> crate::pricing::client::Pricing<'_> {
        let state = self
            .inner
            .pricing
            .get_or_init(|| crate::pricing::client::PricingState::new(self));
        crate::pricing::client::Pricing::new(self, state)
    }

    /// Another user's price tracking and alerts.
    pub fn prices_for(&self, user: UserId) -> Prices<'_> {
        Prices::new(self, user)
    }

    /// Live events: list changes (from this process, and within a quarter
    /// second from any other process writing the same database: the CLI,
    /// another server), price changes and price alerts. A receiver sees what
    /// happens from now on; one that falls more than 1,024 events behind gets a
    /// `Lagged` error and continues from the oldest kept (a client then
    /// resyncs, with [`crate::Lists::changes_since`] for lists). Each event
    /// says who may see it; a server filters by user. Needs a tokio runtime
    /// for list changes.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<crate::pricing::Event> {
        let rx = self.inner.events.subscribe();
        self.watch_changes();
        rx
    }

    /// Follow the database's change log from now on, this process's commits
    /// and other processes' (within a quarter second, or at once through
    /// Redis): list changes reach subscribers ([`Grocery::subscribe`]), and
    /// list reads are answered from memory, each list dropped there as soon
    /// as a newer version of it is logged. A long-running process (a server)
    /// calls it once at start; [`Grocery::subscribe`] calls it too. Without
    /// it every list read goes to the database. Needs a tokio runtime;
    /// calling it again does nothing.
    pub fn watch_changes(&self) {
        self.inner.tailer.get_or_init(|| {
            self.start_tailer();
            // Hear other instances through Redis too (see [`crate::events`]).
            if self.inner.redis.is_some()
                && let Ok(rt) = tokio::runtime::Handle::try_current()
            {
                let g = self.clone();
                rt.spawn(async move {
                    if let Some(relay) = g.relay().await {
                        relay.start(&g);
                    }
                });
            }
        });
    }

    /// The Redis relay, when Redis is configured (made once).
    async fn relay(&self) -> Option<crate::events::Relay> {
        let redis = self.inner.redis.clone()?;
        self.inner
            .relay
            .get_or_init(|| async {
                match self.inner.store.database_id().await {
                    Ok(id) => Some(crate::events::Relay::new(redis, &id)),
                    Err(e) => {
                        tracing::warn!(error = %e, "no database id; events stay in this process");
                        None
                    }
                }
            })
            .await
            .clone()
    }

    /// Publish logged list changes in order: at once after this process's
    /// commits, and every [`TAIL_INTERVAL`] for other processes' (the log is
    /// the one source, so each change goes out once, in `seq` order). This
    /// process's own changes are published as its writer logged them, without
    /// reading them back, as long as nothing else was logged in between; the
    /// log is read at start, every [`TAIL_INTERVAL`], when told of another
    /// instance's change, and whenever the own changes leave a gap. Prunes
    /// changes older than [`LIST_CHANGES_KEPT`] now and then.
    fn start_tailer(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = self.downgrade();
        let notify = self.inner.store.change_logged();
        let remote = Arc::clone(&self.inner.remote_change);
        // From what this process knows now, not from when the task first
        // runs: a change committed after `subscribe` returns is heard even if
        // it commits before the task gets a thread.
        let mut last = self.inner.store.known_seq();
        // Own changes are kept from here on: each comes after `last`.
        self.inner.store.own_changes().follow();
        runtime.spawn(async move {
            let mut pruned_at = tokio::time::Instant::now();
            // Whether list reads are answered from memory: from the first
            // read of the log on, as long as the log can be read.
            let mut serving = false;
            // When the log is read next (at once: the first time).
            let mut read_at = tokio::time::Instant::now();
            let mut told_remote = false;
            loop {
                let notified = notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let told = remote.notified();
                tokio::pin!(told);
                told.as_mut().enable();
                let Some(g) = Grocery::upgrade(&weak) else {
                    break;
                };
                let store = &g.inner.store;
                let due = !serving || told_remote || tokio::time::Instant::now() >= read_at;
                // Taken either way: a read of the log covers them.
                let own = store.own_changes().take(last);
                match own.filter(|_| !due) {
                    Some(changes) => {
                        // The writer told the cache of them before their
                        // writers heard of the commit.
                        for c in changes {
                            last = c.seq;
                            g.publish(crate::pricing::Event::ListChanged(c));
                        }
                    }
                    None => {
                        told_remote = false;
                        read_at = tokio::time::Instant::now() + TAIL_INTERVAL;
                        match Self::publish_log(&g, &mut last).await {
                            Ok(()) => {
                                if !serving {
                                    store.list_cache().serve();
                                    serving = true;
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "could not read the list change log");
                                // Other processes' changes cannot be seen: every
                                // read goes to the database until the log is read
                                // again.
                                if serving {
                                    store.list_cache().stop();
                                    serving = false;
                                }
                            }
                        }
                    }
                }
                if pruned_at.elapsed() > LIST_CHANGES_PRUNE_EVERY {
                    pruned_at = tokio::time::Instant::now();
                    let before = crate::store::now_ms()
                        - i64::try_from(LIST_CHANGES_KEPT.as_millis()).unwrap_or(i64::MAX);
                    if let Err(e) = store.prune_list_changes(before).await {
                        tracing::warn!(error = %e, "could not prune the list change log");
                    }
                }
                drop(g);
                tokio::select! {
                    () = &mut notified => {}
                    () = &mut told => told_remote = true,
                    () = tokio::time::sleep_until(read_at) => {}
                }
            }
        });
    }

    /// Read the change log after `last` to its end and publish what is there,
    /// in order, advancing `last`. Older copies of the changed lists leave
    /// memory before anyone hears of the changes.
    async fn publish_log(g: &Grocery, last: &mut i64) -> Result<()> {
        let store = &g.inner.store;
        loop {
            let changes = store.list_changes(*last, None, 1_000).await?;
            let more = changes.len() == 1_000;
            let logged: Vec<crate::store::Logged> =
                changes.iter().map(crate::store::Logged::of).collect();
            store.list_cache().changed(&logged);
            for c in changes {
                *last = c.seq;
                g.publish(crate::pricing::Event::ListChanged(c));
            }
            if !more {
                return Ok(());
            }
        }
    }

    /// Send an event to the subscribers (none listening is fine); price
    /// events also go to other instances through Redis, when configured.
    pub(crate) fn publish(&self, event: crate::pricing::Event) {
        if self.inner.redis.is_some()
            && matches!(
                event,
                crate::pricing::Event::PriceAlert(_) | crate::pricing::Event::PriceChanged(_)
            )
        {
            if let Some(Some(relay)) = self.inner.relay.get() {
                relay.send(Some(event.clone()));
            } else if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let (g, e) = (self.clone(), event.clone());
                rt.spawn(async move {
                    if let Some(relay) = g.relay().await {
                        relay.send(Some(e));
                    }
                });
            }
        }
        self.publish_local(event);
    }

    /// Another instance logged a list change: read the log now.
    pub(crate) fn remote_change(&self) {
        self.inner.remote_change.notify_waiters();
    }

    /// Send an event to this process's subscribers only.
    pub(crate) fn publish_local(&self, event: crate::pricing::Event) {
        let _ = self.inner.events.send(event);
    }

    /// Price observations and history.
    pub fn prices(&self) -> Prices<'_> {
        Prices::new(self, UserId::LOCAL)
    }

    /// Users.
    pub fn users(&self) -> Users<'_> {
        Users::new(self)
    }

    /// A handle on a new database without the embedded catalog, in a temp dir
    /// that lives as long as the returned guard.
    #[cfg(test)]
    pub(crate) async fn open_empty_for_test() -> (Grocery, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::default();
        config.store.path = Some(dir.path().join("g.db"));
        config.store.seed_catalog = false;
        (Grocery::open(config).await.expect("open"), dir)
    }

    pub(crate) fn sessions(&self) -> &crate::agent::Sessions {
        &self.inner.sessions
    }

    /// `user`'s product picks, from memory when read in the last 30 s.
    pub(crate) async fn picks(&self, user: UserId) -> Result<Arc<Vec<crate::store::Pick>>> {
        if let Some(p) = self.inner.picks.get(&user) {
            return Ok(Arc::clone(&p.lock().unwrap_or_else(|e| e.into_inner())));
        }
        let p = Arc::new(self.inner.store.picks(user).await?);
        self.inner
            .picks
            .insert(user, Arc::new(std::sync::Mutex::new(Arc::clone(&p))));
        Ok(p)
    }

    /// The tokens recently authenticated, by hash.
    pub(crate) fn tokens(&self) -> &moka::sync::Cache<String, crate::lists::User> {
        &self.inner.tokens
    }

    /// Forget `user`'s remembered picks (they just bought something).
    pub(crate) fn picks_changed(&self, user: UserId) {
        self.inner.picks.invalidate(&user);
    }

    /// Count `products` as just added by `user` in their remembered picks, as
    /// the store counted them, so the next request needs no read. Nothing to
    /// do when none are remembered.
    pub(crate) fn picks_added(&self, user: UserId, products: &[&str]) {
        if products.is_empty() {
            return;
        }
        // Counted in place: a write to the cache itself (a compute) costs
        // more than the rest of the count, on every agent request that adds.
        let Some(remembered) = self.inner.picks.get(&user) else {
            return;
        };
        let now = crate::store::now_ms();
        let mut snapshot = remembered.lock().unwrap_or_else(|e| e.into_inner());
        // A copy only while a reader still holds the last snapshot.
        let picks = Arc::make_mut(&mut snapshot);
        for id in products {
            match picks.iter_mut().find(|p| p.product_id == *id) {
                Some(p) => {
                    p.added += 1;
                    p.last_at = now;
                }
                None => picks.push(crate::store::Pick {
                    product_id: (*id).to_string(),
                    added: 1,
                    bought: 0,
                    last_at: now,
                }),
            }
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The current catalog snapshot.
    pub(crate) fn index(&self) -> Arc<CatalogIndex> {
        let guard = self.inner.index.read().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&guard)
    }

    /// Rebuild the catalog snapshot from the store (after an import).
    pub(crate) async fn reload_index(&self) -> Result<()> {
        let index = catalog::build_index(
            self.inner.store.load_products().await?,
            self.inner.config.catalog.match_cache_entries,
        )
        .await?;
        *self.inner.index.write().unwrap_or_else(|e| e.into_inner()) = index;
        Ok(())
    }
}

/// A handle on a new database in a temporary directory (unit tests).
#[cfg(test)]
pub(crate) async fn temp_grocery() -> (Grocery, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = Config::default();
    config.store.path = Some(dir.path().join("g.db"));
    let g = Grocery::open(config).await.expect("a new database opens");
    (g, dir)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{DirtySessions, SESSION_SETTLE, UserId, sessions_due, take_due};

    #[test]
    fn a_tick_writes_a_tenth_of_the_waiting_sessions_and_at_least_one() {
        for (waiting, due) in [
            (0, 0),
            (1, 1),
            (9, 1),
            (10, 1),
            (11, 2),
            (100, 10),
            (1001, 101),
        ] {
            assert_eq!(sessions_due(waiting), due, "{waiting} waiting");
        }
    }

    /// `n` sessions, user i first changed `ages[i]` before `now`.
    fn waiting(now: Instant, ages_ms: &[u64]) -> DirtySessions {
        ages_ms
            .iter()
            .enumerate()
            .map(|(i, &age)| {
                (
                    (UserId(i as i64 + 1), "s".to_string()),
                    (Default::default(), now - Duration::from_millis(age)),
                )
            })
            .collect()
    }

    fn users(taken: &[((UserId, String), crate::agent::SharedSession)]) -> Vec<i64> {
        taken.iter().map(|((u, _), _)| u.0).collect()
    }

    #[test]
    fn the_background_flush_takes_the_longest_waiting_settled_sessions_in_turn() {
        let now = Instant::now() + Duration::from_secs(10);
        let settled = SESSION_SETTLE.as_millis() as u64;
        // Oldest first, as changed; a share of 25 is 3.
        let mut ages: Vec<u64> = (0..25).map(|i| 2 * settled - i * 10).collect();
        let mut dirty = waiting(now, &ages);
        assert_eq!(users(&take_due(&mut dirty, now)), [1, 2, 3]);
        assert_eq!(dirty.len(), 22);
        // The next ones in turn: a share of 22 is 3.
        assert_eq!(users(&take_due(&mut dirty, now)), [4, 5, 6]);
        // Sessions changed too recently stay, and stop the share there.
        ages = vec![settled + 5, settled - 1, settled + 100];
        let mut dirty = waiting(now, &ages);
        assert_eq!(users(&take_due(&mut dirty, now)), [1]);
        assert!(
            take_due(&mut dirty, now).is_empty(),
            "the next is not settled"
        );
        assert_eq!(dirty.len(), 2);
        assert!(take_due(&mut DirtySessions::default(), now).is_empty());
    }

    #[tokio::test]
    async fn a_session_changed_again_keeps_its_place_and_its_newest_copy() {
        let (g, _dir) = super::temp_grocery().await;
        let user = UserId::LOCAL;
        let first: crate::agent::SharedSession = Default::default();
        let newer: crate::agent::SharedSession = Default::default();
        g.session_changed(user, "a".into(), first.clone());
        g.session_changed(user, "b".into(), Default::default());
        g.session_changed(user, "a".into(), newer.clone());
        let dirty = g.dirty_sessions();
        let keys: Vec<&str> = dirty.keys().map(|(_, n)| n.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        let (kept, _) = &dirty[&(user, "a".to_string())];
        assert!(std::sync::Arc::ptr_eq(kept, &newer));
    }
}
