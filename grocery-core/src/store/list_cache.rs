//! Lists kept in memory in front of the database, so that reading a list (the
//! agent's "what's on my list", `GET /lists`) costs no SQLite read and no trip
//! to a reader thread, and a write plans on the items it already has.
//!
//! The database stays the one source of truth; the cache only ever holds a
//! list as some committed snapshot had it, and drops it as soon as a newer
//! version is known to exist:
//! - Every logged change carries the list's new version. After each commit the
//!   writer raises the list's *floor* to that version (before it answers its
//!   callers), and an entry under its floor is gone. Changes by other
//!   processes on the same database arrive the same way from the change
//!   tailer ([`crate::Grocery::watch_changes`]), within its poll interval or
//!   at once through Redis.
//! - A list is offered (after a read or a write) with the version it was read
//!   at, and kept only if that version is not under the floor: a read that
//!   raced a newer commit cannot put its older copy back.
//! - Access is cached per user: an entry knows the roles of the users it was
//!   read for, so another user's read goes to the database (and a share or
//!   unshare, which bumps the version, drops the entry).
//! - The lists each user may see (for "all my lists") are kept apart and
//!   dropped on every change of membership: a list created, deleted, shared or
//!   unshared.
//!
//! Reads are answered from memory only while [`ListCache::serving`]: once
//! something follows other processes' changes. Without it (a short-lived CLI
//! command) every read goes to the database as before.
//!
//! Writes still check roles and `If-Match` versions inside their transaction
//! against the database, and plan on cached items only when the cached
//! version, owner and creation time equal the database's, so a stale entry can
//! never change what is written.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::lists::{ChangeKind, GroceryList, ListId, ListItem, Role, UserId};

/// At most this many lists are kept; past it the cache starts afresh.
const MAX_LISTS: usize = 50_000;
/// At most this many lists' floors are kept; past it the cache starts afresh.
const MAX_FLOORS: usize = 1_000_000;

/// One change as the log has it: its place in the log, the list, its version
/// after, and whether it changed who may see the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Logged {
    pub seq: i64,
    pub list: ListId,
    pub version: i64,
    pub membership: bool,
}

impl Logged {
    /// The change `kind` logged at `seq`, leaving `list` at `version`.
    pub(crate) fn new(seq: i64, list: ListId, version: i64, kind: ChangeKind) -> Logged {
        Logged {
            seq,
            list,
            version,
            // Version 1 is a list just created.
            membership: kind != ChangeKind::Changed || version == 1,
        }
    }

    /// What `change` tells the cache.
    pub(crate) fn of(change: &crate::lists::ListChange) -> Logged {
        Logged::new(change.seq, change.list_id, change.version, change.kind)
    }
}

/// What a read saw of the cache before it started: an offer made with it is
/// refused if the cache started afresh or membership changed since.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    epoch: u64,
    members: u64,
}

/// A list as committed, and the roles of the users it was read for.
#[derive(Debug)]
struct Entry {
    list: GroceryList,
    roles: Vec<(UserId, Role)>,
}

impl Entry {
    fn role_of(&self, user: UserId) -> Option<Role> {
        if self.list.owner == user {
            return Some(Role::Owner);
        }
        self.roles.iter().find(|(u, _)| *u == user).map(|(_, r)| *r)
    }

    fn as_seen_by(&self, user: UserId) -> Option<GroceryList> {
        let role = self.role_of(user)?;
        let mut list = self.list.clone();
        list.role = role;
        Some(list)
    }
}

#[derive(Debug, Default)]
struct State {
    /// The newest version known to exist of each changed list.
    floors: HashMap<ListId, i64>,
    lists: HashMap<ListId, Entry>,
    /// (owner, ASCII-lower-case name) → list: a hint, checked against the entry.
    names: HashMap<(UserId, String), ListId>,
    /// The lists each user may see, in the database's order.
    members: HashMap<UserId, Arc<[ListId]>>,
    /// Bumped when everything is dropped.
    epoch: u64,
    /// Bumped when membership changes.
    member_gen: u64,
}

impl State {
    fn floor(&self, id: ListId) -> i64 {
        self.floors.get(&id).copied().unwrap_or(i64::MIN)
    }

    fn drop_list(&mut self, id: ListId) {
        if let Some(e) = self.lists.remove(&id) {
            let key = (e.list.owner, e.list.name.to_ascii_lowercase());
            if self.names.get(&key) == Some(&id) {
                self.names.remove(&key);
            }
        }
    }

    fn clear(&mut self) {
        self.lists.clear();
        self.names.clear();
        self.members.clear();
        self.floors.clear();
        self.epoch += 1;
        self.member_gen += 1;
    }

    fn fresh(&self, t: Ticket) -> bool {
        t.epoch == self.epoch
    }

    /// Keep `list` as `user` sees it, unless a newer version is known.
    fn offer(&mut self, user: UserId, list: &GroceryList) {
        if list.version < self.floor(list.id) {
            return;
        }
        if let Some(e) = self.lists.get_mut(&list.id) {
            if e.list.version > list.version {
                return;
            }
            if e.list.version == list.version
                && e.list.created_at == list.created_at
                && e.list.owner == list.owner
            {
                if e.role_of(user).is_none() {
                    e.roles.push((user, list.role));
                }
                return;
            }
        }
        self.drop_list(list.id);
        if self.lists.len() >= MAX_LISTS {
            self.clear();
            return;
        }
        let mut kept = list.clone();
        kept.role = Role::Owner;
        let roles = if user == list.owner {
            Vec::new()
        } else {
            vec![(user, list.role)]
        };
        self.names
            .insert((list.owner, list.name.to_ascii_lowercase()), list.id);
        self.lists.insert(list.id, Entry { list: kept, roles });
    }
}

/// The lists in memory (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct ListCache {
    state: Mutex<State>,
    serving: AtomicBool,
}

impl ListCache {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answer reads from memory from now on: call once something applies
    /// every change logged from now on, ours and other processes'
    /// ([`ListCache::changed`]). Drops what was kept before.
    pub(crate) fn serve(&self) {
        self.state().clear();
        self.serving.store(true, Ordering::Release);
    }

    /// Whether reads are answered from memory.
    pub(crate) fn serving(&self) -> bool {
        self.serving.load(Ordering::Acquire)
    }

    /// Stop answering from memory and drop everything (the change log could
    /// not be followed).
    pub(crate) fn stop(&self) {
        self.serving.store(false, Ordering::Release);
        self.state().clear();
    }

    /// Taken before a read whose result will be offered.
    pub(crate) fn ticket(&self) -> Ticket {
        let s = self.state();
        Ticket {
            epoch: s.epoch,
            members: s.member_gen,
        }
    }

    /// List `id` as `user` sees it, if kept and they may see it.
    pub(crate) fn get(&self, user: UserId, id: ListId) -> Option<GroceryList> {
        if !self.serving() {
            return None;
        }
        self.state().lists.get(&id)?.as_seen_by(user)
    }

    /// `owner`'s list called `name` (ASCII case-insensitive, as SQLite's
    /// NOCASE), if kept.
    pub(crate) fn find(&self, owner: UserId, name: &str) -> Option<GroceryList> {
        if !self.serving() {
            return None;
        }
        let s = self.state();
        let id = s.names.get(&(owner, name.to_ascii_lowercase()))?;
        let e = s.lists.get(id)?;
        (e.list.owner == owner && e.list.name.eq_ignore_ascii_case(name))
            .then(|| e.as_seen_by(owner))
            .flatten()
    }

    /// How many lists `user` may see, if all are kept.
    pub(crate) fn count(&self, user: UserId) -> Option<usize> {
        if !self.serving() {
            return None;
        }
        self.state().members.get(&user).map(|ids| ids.len())
    }

    /// Every list `user` may see, if all are kept.
    pub(crate) fn all(&self, user: UserId) -> Option<Vec<GroceryList>> {
        if !self.serving() {
            return None;
        }
        let s = self.state();
        let ids = s.members.get(&user)?;
        ids.iter()
            .map(|id| s.lists.get(id)?.as_seen_by(user))
            .collect()
    }

    /// The items of the list whose header (read in a write transaction) is
    /// `header`, when the kept copy is of that very version.
    pub(crate) fn items_at(&self, header: &GroceryList) -> Option<Vec<ListItem>> {
        let s = self.state();
        let e = s.lists.get(&header.id)?;
        (e.list.version == header.version
            && e.list.owner == header.owner
            && e.list.created_at == header.created_at)
            .then(|| e.list.items.clone())
    }

    /// Keep `list` (as `user` sees it, read or written after `ticket` was
    /// taken), unless something newer is known.
    pub(crate) fn offer(&self, ticket: Ticket, user: UserId, list: &GroceryList) {
        if !self.serving() {
            return;
        }
        let mut s = self.state();
        if s.fresh(ticket) {
            s.offer(user, list);
        }
    }

    /// Keep every list `user` may see (read after `ticket` was taken).
    pub(crate) fn offer_all(&self, ticket: Ticket, user: UserId, lists: &[GroceryList]) {
        if !self.serving() {
            return;
        }
        let mut s = self.state();
        if !s.fresh(ticket) {
            return;
        }
        for l in lists {
            s.offer(user, l);
        }
        if ticket.members == s.member_gen
            && lists.iter().all(|l| {
                s.lists
                    .get(&l.id)
                    .is_some_and(|e| e.list.version == l.version)
            })
        {
            s.members
                .insert(user, lists.iter().map(|l| l.id).collect::<Arc<[ListId]>>());
        }
    }

    /// Changes committed (by this process or, through the tailer, another):
    /// older copies of those lists go.
    pub(crate) fn changed(&self, changes: &[Logged]) {
        if changes.is_empty() {
            return;
        }
        let mut s = self.state();
        if s.floors.len() >= MAX_FLOORS {
            s.clear();
        }
        let mut membership = false;
        for c in changes {
            let floor = s.floors.entry(c.list).or_insert(i64::MIN);
            *floor = (*floor).max(c.version);
            let floor = *floor;
            if s.lists.get(&c.list).is_some_and(|e| e.list.version < floor) {
                s.drop_list(c.list);
            }
            membership |= c.membership;
        }
        if membership {
            s.members.clear();
            s.member_gen += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::ItemId;
    use crate::quantity::Quantity;

    const ANN: UserId = UserId(1);
    const BOB: UserId = UserId(2);

    fn list(id: i64, version: i64, items: &[&str]) -> GroceryList {
        let at = jiff::Timestamp::from_millisecond(1_700_000_000_000).unwrap();
        GroceryList {
            id: ListId(id),
            name: "Shopping".into(),
            owner: ANN,
            role: Role::Owner,
            version,
            created_at: at,
            updated_at: at,
            items: items
                .iter()
                .enumerate()
                .map(|(i, n)| ListItem {
                    id: ItemId(i as i64 + 1),
                    name: (*n).into(),
                    quantity: Quantity::count(1).unwrap(),
                    note: None,
                    checked: false,
                    product_id: None,
                    added_by: ANN,
                    added_at: at,
                    updated_at: at,
                })
                .collect(),
        }
    }

    fn names(l: &GroceryList) -> Vec<&str> {
        l.items.iter().map(|i| i.name.as_str()).collect()
    }

    fn serving() -> ListCache {
        let c = ListCache::default();
        c.serve();
        c
    }

    #[test]
    fn nothing_is_answered_or_kept_until_serving() {
        let c = ListCache::default();
        c.offer(c.ticket(), ANN, &list(1, 1, &["milk"]));
        assert_eq!(c.get(ANN, ListId(1)), None);
        c.serve();
        assert_eq!(c.get(ANN, ListId(1)), None, "kept before serving: dropped");
        c.offer(c.ticket(), ANN, &list(1, 1, &["milk"]));
        assert_eq!(names(&c.get(ANN, ListId(1)).unwrap()), ["milk"]);
        c.stop();
        assert_eq!(c.get(ANN, ListId(1)), None);
    }

    #[test]
    fn a_read_that_raced_a_newer_commit_cannot_put_its_copy_back() {
        let c = serving();
        // Each row: offer this version (with a ticket taken before the change
        // below, or after it), after the writer logged `changed_to`; kept?
        let cases: &[(i64, i64, bool, bool)] = &[
            // (offered, changed_to, ticket before change, kept)
            (1, 2, true, false),
            (2, 2, true, true),
            (3, 2, false, true),
            (1, 1, false, true),
        ];
        for (i, &(offered, changed_to, early, kept)) in cases.iter().enumerate() {
            let id = i as i64 + 10;
            let before = c.ticket();
            c.changed(&[Logged::new(0, ListId(id), changed_to, ChangeKind::Changed)]);
            let t = if early { before } else { c.ticket() };
            c.offer(t, ANN, &list(id, offered, &["eggs"]));
            assert_eq!(c.get(ANN, ListId(id)).is_some(), kept, "case {i}");
        }
    }

    #[test]
    fn a_logged_change_drops_older_copies_and_keeps_newer_ones() {
        let c = serving();
        c.offer(c.ticket(), ANN, &list(1, 3, &["milk"]));
        c.changed(&[Logged::new(0, ListId(1), 3, ChangeKind::Changed)]);
        assert!(c.get(ANN, ListId(1)).is_some(), "its own version stays");
        c.changed(&[Logged::new(0, ListId(1), 4, ChangeKind::Changed)]);
        assert_eq!(c.get(ANN, ListId(1)), None);
        assert_eq!(c.find(ANN, "shopping"), None);
        // An older offer after a newer one keeps the newer.
        c.offer(c.ticket(), ANN, &list(1, 5, &["milk", "eggs"]));
        c.offer(c.ticket(), ANN, &list(1, 4, &["milk"]));
        assert_eq!(names(&c.get(ANN, ListId(1)).unwrap()), ["milk", "eggs"]);
    }

    #[test]
    fn access_is_per_user_and_a_share_change_drops_it() {
        let c = serving();
        c.offer(c.ticket(), ANN, &list(1, 2, &["milk"]));
        assert_eq!(c.get(BOB, ListId(1)), None, "bob was never read for");
        let mut as_bob = list(1, 2, &["milk"]);
        as_bob.role = Role::Viewer;
        c.offer(c.ticket(), BOB, &as_bob);
        assert_eq!(c.get(BOB, ListId(1)).unwrap().role, Role::Viewer);
        assert_eq!(c.get(ANN, ListId(1)).unwrap().role, Role::Owner);
        assert_eq!(c.find(BOB, "Shopping"), None, "names are the owner's");
        c.changed(&[Logged::new(0, ListId(1), 3, ChangeKind::Unshared)]);
        assert_eq!(c.get(BOB, ListId(1)), None);
    }

    #[test]
    fn names_are_ascii_case_insensitive_and_follow_renames() {
        let c = serving();
        c.offer(c.ticket(), ANN, &list(1, 1, &[]));
        assert_eq!(c.find(ANN, "SHOPPING").unwrap().id, ListId(1));
        let mut renamed = list(1, 2, &[]);
        renamed.name = "Party".into();
        c.changed(&[Logged::new(0, ListId(1), 2, ChangeKind::Changed)]);
        c.offer(c.ticket(), ANN, &renamed);
        assert_eq!(c.find(ANN, "shopping"), None);
        assert_eq!(c.find(ANN, "party").unwrap().id, ListId(1));
    }

    #[test]
    fn all_lists_are_kept_until_membership_changes() {
        let c = serving();
        let t = c.ticket();
        let mine = [list(1, 1, &["milk"]), list(2, 4, &[])];
        c.offer_all(t, ANN, &mine);
        let got: Vec<ListId> = c.all(ANN).unwrap().iter().map(|l| l.id).collect();
        assert_eq!(got, [ListId(1), ListId(2)]);
        // An item change keeps membership but not the old copy.
        c.changed(&[Logged::new(0, ListId(2), 5, ChangeKind::Changed)]);
        assert_eq!(c.all(ANN), None);
        c.offer_all(c.ticket(), ANN, &[list(1, 1, &["milk"]), list(2, 5, &[])]);
        assert!(c.all(ANN).is_some());
        // A list created elsewhere: membership changed.
        c.changed(&[Logged::new(0, ListId(3), 1, ChangeKind::Changed)]);
        assert_eq!(c.all(ANN), None);
        // A read that started before a membership change is not kept whole.
        let t = c.ticket();
        c.changed(&[Logged::new(0, ListId(3), 2, ChangeKind::Deleted)]);
        c.offer_all(t, ANN, &[list(1, 1, &["milk"]), list(2, 5, &[])]);
        assert_eq!(c.all(ANN), None);
    }

    #[test]
    fn the_writer_plans_on_kept_items_only_at_the_same_version_and_list() {
        let c = serving();
        c.offer(c.ticket(), ANN, &list(1, 3, &["milk"]));
        assert_eq!(c.items_at(&list(1, 3, &[])).unwrap().len(), 1);
        assert_eq!(c.items_at(&list(1, 4, &[])), None);
        let mut reused = list(1, 3, &[]);
        reused.created_at = jiff::Timestamp::from_millisecond(1_800_000_000_000).unwrap();
        assert_eq!(c.items_at(&reused), None, "an id used again by a new list");
    }
}

/// The cache in a running process: what is answered from memory always
/// equals what the database holds.
#[cfg(test)]
mod served {
    use std::time::Duration;

    use crate::grocery::temp_grocery;
    use crate::lists::{GroceryList, ListId, NewItem, Role, UserId};
    use crate::pricing::Event;
    use crate::{Config, Error, Grocery};

    /// Another process on the same database: it does not watch the log, so
    /// every read it makes goes to the database.
    async fn plain(dir: &tempfile::TempDir) -> Grocery {
        let mut config = Config::default();
        config.store.path = Some(dir.path().join("g.db"));
        Grocery::open(config)
            .await
            .expect("the same database opens")
    }

    /// Wait for the change leaving `list` at `version` (a hang is a failure).
    async fn heard(
        events: &mut tokio::sync::broadcast::Receiver<Event>,
        list: ListId,
        version: i64,
    ) {
        let wait = async {
            loop {
                if let Ok(Event::ListChanged(c)) = events.recv().await
                    && c.list_id == list
                    && c.version >= version
                {
                    return;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("the change is published");
    }

    /// Every list each user sees, read through `g` and through the database.
    async fn same_as_database(g: &Grocery, db: &Grocery, users: &[UserId], ids: &[ListId]) {
        for &u in users {
            let mine = g.lists_for(u).all_with_items().await.unwrap();
            let stored = db.lists_for(u).all_with_items().await.unwrap();
            assert_eq!(mine, stored, "all lists of user {u:?}");
            for &id in ids {
                let a: Result<GroceryList, Error> = g.lists_for(u).get(id).await;
                let b = db.lists_for(u).get(id).await;
                match (a, b) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "list {id:?} as user {u:?} sees it"),
                    (Err(Error::NotFound { .. }), Err(Error::NotFound { .. })) => {}
                    (a, b) => panic!("user {u:?}, list {id:?}: memory {a:?}, database {b:?}"),
                }
            }
        }
    }

    #[derive(Debug, Clone, Copy)]
    enum Step {
        Add(&'static str),
        Agent(&'static str),
        Check(usize),
        Rename(&'static str),
        ShareWithBob(Role),
        UnshareBob,
        ClearChecked,
        Remove(usize),
        CreateSecond,
        DeleteSecond,
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_from_memory_equal_the_database_after_every_change() {
        let (g, dir) = temp_grocery().await;
        let db = plain(&dir).await;
        let mut events = g.subscribe();
        let ann = g.users().add("ann").await.unwrap().id;
        let bob = g.users().add("bob").await.unwrap().id;
        let lists = g.lists_for(ann);
        let list = lists.create("Shopping").await.unwrap();
        heard(&mut events, list.id, 1).await;
        // The follower publishes what it read of the log before it starts
        // serving from memory: hearing the change does not mean it has.
        tokio::time::timeout(Duration::from_secs(10), async {
            while !g.store().list_cache().serving() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("reads are served from memory once the log is followed");
        assert!(g.store().list_cache().serving());
        let mut second: Option<ListId> = None;
        let steps = [
            Step::Add("milk"),
            Step::Agent("add 2 gallons of milk and a dozen eggs"),
            Step::ShareWithBob(Role::Viewer),
            Step::Add("bread"),
            Step::Check(0),
            Step::ShareWithBob(Role::Editor),
            Step::CreateSecond,
            Step::Rename("Weekly"),
            Step::Agent("remove eggs"),
            Step::ClearChecked,
            Step::UnshareBob,
            Step::Remove(0),
            Step::DeleteSecond,
            Step::Agent("add coffee to my weekly list"),
        ];
        for (i, step) in steps.into_iter().enumerate() {
            let now = lists.get(list.id).await.unwrap();
            match step {
                Step::Add(name) => {
                    lists.add_item(list.id, NewItem::new(name)).await.unwrap();
                }
                Step::Agent(text) => {
                    g.agent_for(ann).handle_in("t", text, None).await.unwrap();
                }
                Step::Check(n) => {
                    lists.check(list.id, now.items[n].id, true).await.unwrap();
                }
                Step::Rename(name) => {
                    lists.rename(list.id, name).await.unwrap();
                }
                Step::ShareWithBob(role) => {
                    lists.share(list.id, bob, role).await.unwrap();
                }
                Step::UnshareBob => assert!(lists.unshare(list.id, bob).await.unwrap()),
                Step::ClearChecked => {
                    lists.clear_checked(list.id).await.unwrap();
                }
                Step::Remove(n) => lists.remove_item(list.id, now.items[n].id).await.unwrap(),
                Step::CreateSecond => second = Some(lists.create("Party").await.unwrap().id),
                Step::DeleteSecond => lists.delete(second.unwrap()).await.unwrap(),
            }
            let mut ids = vec![list.id];
            ids.extend(second);
            same_as_database(&g, &db, &[ann, bob], &ids).await;
            // And the reads were answered from memory.
            assert!(
                g.store().list_cache().get(ann, list.id).is_some(),
                "step {i} {step:?}: read from memory"
            );
        }
        let bobs = g.lists_for(bob);
        assert!(matches!(
            bobs.get(list.id).await,
            Err(Error::NotFound { .. })
        ));
        assert!(bobs.all_with_items().await.unwrap().is_empty());
    }

    /// A subscriber hears every change committed after `subscribe` returns,
    /// even one that commits before the log follower first runs (it used to
    /// start from the log's end as it was then, and skip such changes).
    #[tokio::test(flavor = "current_thread")]
    async fn a_change_committed_right_after_subscribing_is_heard() {
        let (g, dir) = temp_grocery().await;
        let other = plain(&dir).await;
        let ann = g.users().add("ann").await.unwrap().id;
        let list = g.lists_for(ann).create("Shopping").await.unwrap();
        let mut events = g.subscribe();
        // This thread is the runtime's only one and stays blocked while the
        // other process commits: the follower cannot run before the commit.
        std::thread::scope(|s| {
            s.spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("a runtime")
                    .block_on(other.lists_for(ann).add_item(list.id, NewItem::new("milk")))
                    .expect("the other process adds")
            });
        });
        heard(&mut events, list.id, 2).await;
        let now = g.lists_for(ann).get(list.id).await.unwrap();
        assert_eq!(now.version, 2);
        assert_eq!(now.items.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_process_change_replaces_the_copy_in_memory() {
        let (g, dir) = temp_grocery().await;
        let other = plain(&dir).await;
        let mut events = g.subscribe();
        let ann = g.users().add("ann").await.unwrap().id;
        let list = g.lists_for(ann).create("Shopping").await.unwrap();
        g.lists_for(ann)
            .add_item(list.id, NewItem::new("milk"))
            .await
            .unwrap();
        heard(&mut events, list.id, 2).await;
        // Read into memory.
        let before = g.lists_for(ann).find("shopping").await.unwrap();
        assert_eq!(before.items.len(), 1);
        assert!(g.store().list_cache().get(ann, list.id).is_some());

        // The other process adds an item: once its change is published here,
        // no read shows the old copy, and a write here plans on the new one.
        other
            .lists_for(ann)
            .add_item(list.id, NewItem::new("eggs"))
            .await
            .unwrap();
        heard(&mut events, list.id, 3).await;
        let names =
            |l: &GroceryList| -> Vec<String> { l.items.iter().map(|i| i.name.clone()).collect() };
        assert_eq!(
            names(&g.lists_for(ann).get(list.id).await.unwrap()),
            ["milk", "eggs"]
        );
        assert_eq!(
            names(&g.lists_for(ann).find("Shopping").await.unwrap()),
            ["milk", "eggs"]
        );
        let (_, after) = g
            .lists_for(ann)
            .apply(
                list.id,
                vec![crate::lists::ListOp::Add(NewItem::new("bread"))],
            )
            .await
            .unwrap();
        assert_eq!(names(&after), ["milk", "eggs", "bread"]);
        assert_eq!(after, other.lists_for(ann).get(list.id).await.unwrap());

        // Deleted elsewhere: gone here too.
        other.lists_for(ann).delete(list.id).await.unwrap();
        heard(&mut events, list.id, 5).await;
        assert!(matches!(
            g.lists_for(ann).get(list.id).await,
            Err(Error::NotFound { .. })
        ));
        assert!(g.lists_for(ann).all_with_items().await.unwrap().is_empty());
    }
}
