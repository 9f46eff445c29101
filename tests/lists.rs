//! Lists through the public API: lifecycle, merging, checking, pricing, isolation.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

mod common;

use grocery_core::catalog::ImportFormat;
use grocery_core::lists::ItemPatch;
use grocery_core::{Error, Grocery, NewItem, Quantity, UserId};

const CATALOG: &str =
    "id,upc,name,brand,department,aisle,size,unit,price_cents,tags,kind,popularity
milk-gal,,Whole Milk,Acme,dairy-eggs,Milk,1,gal,389,,milk,100
beef-16oz,,Ground Beef 80/20,Acme,meat-seafood,Beef,16,oz,549,,ground beef,100
eggs-12,,Large Eggs,Acme,dairy-eggs,Eggs,12,ct,329,,egg,100
soda-12,,Cola,Fizz,beverages,Soda,12,can,699,,cola,100
";

async fn setup() -> (common::TestGrocery, grocery_core::ListId) {
    let t = common::open_empty().await;
    t.grocery
        .catalog()
        .import_bytes(CATALOG.as_bytes().to_vec(), ImportFormat::Csv)
        .await
        .unwrap();
    let list = t.grocery.lists().create("Shopping").await.unwrap();
    (t, list.id)
}

fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap()
}

#[tokio::test]
async fn create_rename_delete() {
    let (t, id) = setup().await;
    let lists = t.grocery.lists();
    let err = lists.create("  shopping ").await.unwrap_err();
    assert!(
        matches!(err, Error::Conflict(_)),
        "names are unique case-insensitively: {err:?}"
    );
    let renamed = lists.rename(id, "Weekly").await.unwrap();
    assert_eq!(renamed.name, "Weekly");
    assert!(renamed.version > 1);
    lists.create("Party").await.unwrap();
    let names: Vec<String> = lists
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, ["Weekly", "Party"]);
    lists.delete(id).await.unwrap();
    assert!(matches!(lists.get(id).await, Err(Error::NotFound { .. })));
    assert!(matches!(
        lists.delete(id).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(lists.find_or_create("party").await.unwrap().name, "Party");
}

#[tokio::test]
async fn merges_quantity_when_the_same_product_is_added_again() {
    let (t, id) = setup().await;
    let lists = t.grocery.lists();
    let a = lists
        .add_item(
            id,
            NewItem::new("milk")
                .product("milk-gal")
                .quantity(q("1 gal")),
        )
        .await
        .unwrap();
    let b = lists
        .add_item(
            id,
            NewItem::new("milk").product("milk-gal").quantity(q("2 qt")),
        )
        .await
        .unwrap();
    assert_eq!(a.id, b.id, "merged into one line");
    assert_eq!(b.quantity, q("1.5 gal"));
    // Incompatible units stay separate lines rather than failing or guessing.
    let c = lists
        .add_item(
            id,
            NewItem::new("milk")
                .product("milk-gal")
                .quantity(q("2 bottle")),
        )
        .await
        .unwrap();
    assert_ne!(c.id, a.id);
    // Unlinked items merge by name.
    lists.add_item(id, NewItem::new("Napkins")).await.unwrap();
    let n = lists
        .add_item(id, NewItem::new("napkins").quantity(q("2")))
        .await
        .unwrap();
    assert_eq!(n.quantity, q("3 ct"));
    assert_eq!(lists.get(id).await.unwrap().items.len(), 3);
}

#[tokio::test]
async fn checked_items_do_not_absorb_new_ones_and_clear_removes_them() {
    let (t, id) = setup().await;
    let lists = t.grocery.lists();
    let eggs = lists
        .add_item(id, NewItem::new("eggs").product("eggs-12"))
        .await
        .unwrap();
    lists.check(id, eggs.id, true).await.unwrap();
    let again = lists
        .add_item(id, NewItem::new("eggs").product("eggs-12"))
        .await
        .unwrap();
    assert_ne!(again.id, eggs.id);
    assert_eq!(lists.clear_checked(id).await.unwrap(), 1);
    let list = lists.get(id).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert!(!list.items[0].checked);
    let unchecked = lists.check(id, again.id, false).await.unwrap();
    assert!(!unchecked.checked);
}

#[tokio::test]
async fn prices_whole_packs_and_totals_unchecked_lines() {
    let (t, id) = setup().await;
    let lists = t.grocery.lists();
    lists
        .add_item(
            id,
            NewItem::new("ground beef")
                .product("beef-16oz")
                .quantity(q("2 lb")),
        )
        .await
        .unwrap();
    lists
        .add_item(
            id,
            NewItem::new("eggs").product("eggs-12").quantity(q("18 ct")),
        )
        .await
        .unwrap();
    lists
        .add_item(id, NewItem::new("cola").product("soda-12").quantity(q("1")))
        .await
        .unwrap();
    let free = lists
        .add_item(id, NewItem::new("birthday candles"))
        .await
        .unwrap();
    let priced = lists.priced(id).await.unwrap();
    let packs: Vec<u32> = priced.lines.iter().map(|l| l.packs).collect();
    assert_eq!(packs, [2, 2, 1, 0]);
    assert_eq!(priced.total.cents, 2 * 549 + 2 * 329 + 699);
    assert_eq!(priced.unpriced, 1);
    lists.check(id, free.id, true).await.unwrap();
    assert_eq!(lists.priced(id).await.unwrap().unpriced, 0);
}

#[tokio::test]
async fn batch_add_is_all_or_nothing() {
    let (t, id) = setup().await;
    let lists = t.grocery.lists();
    let err = lists
        .add_items(
            id,
            vec![
                NewItem::new("milk").product("milk-gal"),
                NewItem::new("mystery").product("no-such-product"),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                what: "product",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(lists.get(id).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn update_item_changes_only_what_is_given() {
    let (t, id) = setup().await;
    let lists = t.grocery.lists();
    let item = lists
        .add_item(
            id,
            NewItem::new("milk")
                .product("milk-gal")
                .note("lactose free if any"),
        )
        .await
        .unwrap();
    let patch = ItemPatch {
        quantity: Some(q("3 gal")),
        ..ItemPatch::default()
    };
    let updated = lists.update_item(id, item.id, patch).await.unwrap();
    assert_eq!(updated.quantity, q("3 gal"));
    assert_eq!(updated.note.as_deref(), Some("lactose free if any"));
    assert_eq!(updated.product_id.as_deref(), Some("milk-gal"));
    let cleared = ItemPatch {
        note: Some(None),
        product_id: Some(None),
        ..ItemPatch::default()
    };
    let updated = lists.update_item(id, item.id, cleared).await.unwrap();
    assert_eq!(updated.note, None);
    assert_eq!(updated.product_id, None);
}

#[tokio::test]
async fn users_never_see_each_others_lists() {
    let (t, id) = setup().await;
    let other = t.grocery.lists_for(UserId(2));
    assert!(matches!(other.get(id).await, Err(Error::NotFound { .. })));
    assert!(matches!(
        other.add_item(id, NewItem::new("x")).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        other.delete(id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        other.rename(id, "mine").await,
        Err(Error::NotFound { .. })
    ));
    assert!(other.all().await.unwrap().is_empty());
    assert_eq!(t.grocery.lists().get(id).await.unwrap().name, "Shopping");
}

#[tokio::test]
async fn the_handle_is_send_sync_and_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Grocery>();
}

#[tokio::test]
async fn sharing_gives_each_role_its_rights_and_nothing_more() {
    use grocery_core::lists::Role;
    let (t, id) = setup().await;
    let g = &t.grocery;
    let ed = g.users().add("Ed").await.unwrap();
    let vi = g.users().add("Vi").await.unwrap();
    let stranger = g.users().add("Stranger").await.unwrap();
    g.lists().add_item(id, NewItem::new("milk")).await.unwrap();

    // Before sharing, nobody else sees it: not found, not forbidden.
    let e = g.lists_for(ed.id).get(id).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    g.lists().share(id, ed.id, Role::Editor).await.unwrap();
    g.lists().share(id, vi.id, Role::Viewer).await.unwrap();

    let as_ed = g.lists_for(ed.id);
    let seen = as_ed.all().await.unwrap();
    assert_eq!((seen.len(), seen[0].role), (1, Role::Editor));
    as_ed.add_item(id, NewItem::new("eggs")).await.unwrap();
    assert!(matches!(
        as_ed.rename(id, "Mine").await.unwrap_err(),
        Error::Forbidden(_)
    ));
    assert!(matches!(
        as_ed.delete(id).await.unwrap_err(),
        Error::Forbidden(_)
    ));
    assert!(matches!(
        as_ed
            .share(id, stranger.id, Role::Viewer)
            .await
            .unwrap_err(),
        Error::Forbidden(_)
    ));

    let as_vi = g.lists_for(vi.id);
    let list = as_vi.get(id).await.unwrap();
    assert_eq!((list.role, list.items.len()), (Role::Viewer, 2));
    let before = list.version;
    assert!(matches!(
        as_vi.add_item(id, NewItem::new("bread")).await.unwrap_err(),
        Error::Forbidden(_)
    ));
    assert!(matches!(
        as_vi.clear(id).await.unwrap_err(),
        Error::Forbidden(_)
    ));
    assert_eq!(
        g.lists().get(id).await.unwrap().version,
        before,
        "nothing changed"
    );
    assert!(g.lists_for(stranger.id).all().await.unwrap().is_empty());

    // A viewer may leave; the owner may take access away.
    assert!(as_vi.unshare(id, vi.id).await.unwrap());
    assert!(matches!(
        as_vi.get(id).await.unwrap_err(),
        Error::NotFound { .. }
    ));
    assert!(g.lists().unshare(id, ed.id).await.unwrap());
    assert!(g.lists_for(ed.id).all().await.unwrap().is_empty());
    // Sharing with the owner or as owner is refused.
    assert!(matches!(
        g.lists()
            .share(id, UserId::LOCAL, Role::Editor)
            .await
            .unwrap_err(),
        Error::InvalidInput(_)
    ));
    assert!(matches!(
        g.lists().share(id, ed.id, Role::Owner).await.unwrap_err(),
        Error::InvalidInput(_)
    ));
}

#[tokio::test]
async fn a_write_based_on_an_old_version_changes_nothing() {
    let (t, id) = setup().await;
    let g = &t.grocery;
    let v1 = g.lists().get(id).await.unwrap().version;
    g.lists()
        .expecting(v1)
        .add_item(id, NewItem::new("milk"))
        .await
        .unwrap();
    let v2 = g.lists().get(id).await.unwrap().version;
    assert!(v2 > v1);
    // A second device still at v1 loses the race, typed, and writes nothing.
    let e = g
        .lists()
        .expecting(v1)
        .add_items(id, vec![NewItem::new("eggs"), NewItem::new("bread")])
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::StaleVersion { expected, current, .. } if expected == v1 && current == v2),
        "{e:?}"
    );
    let list = g.lists().get(id).await.unwrap();
    assert_eq!((list.version, list.items.len()), (v2, 1));
    assert!(matches!(
        g.lists().expecting(v1).delete(id).await.unwrap_err(),
        Error::StaleVersion { .. }
    ));
    g.lists().expecting(v2).rename(id, "Weekly").await.unwrap();
}

#[tokio::test]
async fn every_change_is_logged_in_order_for_those_who_may_see_it() {
    use grocery_core::lists::{ChangeKind, Role};
    use grocery_core::pricing::Event;
    let (t, id) = setup().await;
    let g = &t.grocery;
    let ed = g.users().add("Ed").await.unwrap();
    let mut live = g.subscribe();
    let start = g.lists().changes_since(0, 1_000).await.unwrap().unwrap();
    let cursor = start.last().map_or(0, |c| c.seq);

    g.lists().add_item(id, NewItem::new("milk")).await.unwrap();
    g.lists().share(id, ed.id, Role::Editor).await.unwrap();
    g.lists_for(ed.id)
        .add_item(id, NewItem::new("eggs"))
        .await
        .unwrap();
    let other = g.lists().create("Party").await.unwrap();
    g.lists().delete(other.id).await.unwrap();

    // The owner sees all five, in order, with rising versions per list.
    let mine = g.lists().changes_since(cursor, 100).await.unwrap().unwrap();
    let kinds: Vec<_> = mine.iter().map(|c| (c.list_id, c.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (id, ChangeKind::Changed),
            (id, ChangeKind::Shared),
            (id, ChangeKind::Changed),
            (other.id, ChangeKind::Changed),
            (other.id, ChangeKind::Deleted),
        ]
    );
    assert!(mine.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(mine[2].actor, ed.id);
    // Ed sees the list from the moment it was shared, not the owner's other list.
    let eds = g
        .lists_for(ed.id)
        .changes_since(cursor, 100)
        .await
        .unwrap()
        .unwrap();
    let seqs: Vec<i64> = eds.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![mine[1].seq, mine[2].seq]);
    // Resuming from the middle gives the rest.
    let rest = g
        .lists()
        .changes_since(mine[2].seq, 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest.len(), 2);

    // The same five arrive live, in order.
    let mut got = Vec::new();
    while got.len() < 5 {
        match tokio::time::timeout(std::time::Duration::from_secs(5), live.recv()).await {
            Ok(Ok(Event::ListChanged(c))) => got.push(c.seq),
            Ok(Ok(_)) => {}
            other => panic!("no live change: {other:?}"),
        }
    }
    assert_eq!(got, mine.iter().map(|c| c.seq).collect::<Vec<_>>());
}

#[tokio::test]
async fn changes_written_by_another_process_reach_live_subscribers() {
    use grocery_core::pricing::Event;
    let (t, id) = setup().await;
    let server = &t.grocery;
    let mut live = server.subscribe();
    // Another handle on the same file stands for the CLI in another process.
    let cli = Grocery::open(server.config().clone()).await.unwrap();
    cli.lists()
        .add_item(id, NewItem::new("coffee"))
        .await
        .unwrap();
    let change = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), live.recv()).await {
            Ok(Ok(Event::ListChanged(c))) => break c,
            Ok(Ok(_)) => {}
            other => panic!("the other process's change never arrived: {other:?}"),
        }
    };
    assert_eq!(change.list_id, id);
    assert_eq!(
        change.version,
        server.lists().get(id).await.unwrap().version
    );
}

/// Live list changes are the log's, field for field, each once and in `seq`
/// order, when this process's changes (published as its writer logged them)
/// and another process's (read from the log) interleave.
#[tokio::test]
async fn live_changes_are_the_logs_when_two_processes_interleave() {
    use grocery_core::lists::{ListChange, Role};
    use grocery_core::pricing::Event;
    let (t, id) = setup().await;
    let server = &t.grocery;
    let ed = server.users().add("Ed").await.unwrap();
    server.lists().share(id, ed.id, Role::Editor).await.unwrap();
    let cursor = server
        .lists()
        .changes_since(0, 1_000)
        .await
        .unwrap()
        .unwrap()
        .last()
        .map_or(0, |c| c.seq);
    let mut live = server.subscribe();
    // Another handle on the same file stands for the CLI in another process.
    let cli = Grocery::open(server.config().clone()).await.unwrap();
    let normal = |mut c: ListChange| {
        c.audience.sort();
        c
    };
    let mut next_live = async || loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), live.recv()).await {
            Ok(Ok(Event::ListChanged(c))) => break normal(c),
            Ok(Ok(_)) => {}
            other => panic!("a change never arrived: {other:?}"),
        }
    };
    // Who writes each change: this process (the owner) or the other (Ed).
    let here = [true, false, true, true, false, false, true];
    for (i, mine) in here.iter().enumerate() {
        let item = NewItem::new(format!("item {i}"));
        if *mine {
            server.lists().add_item(id, item).await.unwrap();
        } else {
            cli.lists_for(ed.id).add_item(id, item).await.unwrap();
        }
    }
    let logged: Vec<ListChange> = server
        .lists()
        .changes_since(cursor, 100)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(normal)
        .collect();
    assert_eq!(logged.len(), here.len());
    let actors: Vec<bool> = logged.iter().map(|c| c.actor != ed.id).collect();
    assert_eq!(actors, here);
    assert!(logged.iter().all(|c| c.audience.len() == 2));
    let mut got = Vec::new();
    while got.len() < logged.len() {
        got.push(next_live().await);
    }
    assert_eq!(got, logged);
    // None came twice: the next one heard is the next one written.
    let last = server
        .lists()
        .add_item(id, NewItem::new("last"))
        .await
        .unwrap();
    let next = next_live().await;
    assert_eq!(next.seq, logged[logged.len() - 1].seq + 1);
    assert_eq!(next.version, server.lists().get(id).await.unwrap().version);
    assert_eq!(last.name, "last");
}

/// One step of a merge case: add an item, or check the line the last add returned.
#[derive(Clone)]
enum Step {
    Add(NewItem),
    CheckLast,
}

/// A line as a merge case expects it: name, quantity, checked.
type Line = (&'static str, &'static str, bool);

/// The lines of a list as (name, quantity, product, checked), in the order added.
fn shape(list: &grocery_core::GroceryList) -> Vec<(String, String, Option<String>, bool)> {
    let mut items = list.items.clone();
    items.sort_by_key(|i| i.id);
    items
        .into_iter()
        .map(|i| (i.name, i.quantity.to_string(), i.product_id, i.checked))
        .collect()
}

/// Adding merges the same way whichever path runs it: one add at a time (the
/// lines found by a query), through `apply` one op at a time, and all of a
/// run's adds in one `apply` (the lines found in the list the edit holds, as
/// the agent does).
#[tokio::test]
async fn adds_merge_alike_through_every_path() {
    use grocery_core::lists::ListOp;
    let milk = |qty: &str| NewItem::new("milk").product("milk-gal").quantity(q(qty));
    let plain = |name: &str, qty: &str| NewItem::new(name).quantity(q(qty));
    let eggs = || NewItem::new("eggs").product("eggs-12");
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<Step>, Vec<Line>)> = vec![
        ("same product, compatible units", vec![Step::Add(milk("1 gal")), Step::Add(milk("2 qt"))],
            vec![("milk", "1.5 gal", false)]),
        ("incompatible apart, then the first compatible line",
            vec![Step::Add(milk("2 bottle")), Step::Add(milk("1 gal")), Step::Add(milk("2 qt"))],
            vec![("milk", "2 bottle", false), ("milk", "1.5 gal", false)]),
        ("unlinked by name, ASCII case folded",
            vec![Step::Add(plain("Napkins", "1")), Step::Add(plain("napkins", "2"))],
            vec![("Napkins", "3 ct", false)]),
        ("other letters are not folded",
            vec![Step::Add(plain("Äpfel", "1")), Step::Add(plain("äpfel", "1"))],
            vec![("Äpfel", "1 ct", false), ("äpfel", "1 ct", false)]),
        ("linked and unlinked stay apart",
            vec![Step::Add(milk("1 gal")), Step::Add(plain("milk", "1 gal"))],
            vec![("milk", "1 gal", false), ("milk", "1 gal", false)]),
        ("a checked line takes nothing in",
            vec![Step::Add(eggs()), Step::CheckLast, Step::Add(eggs())],
            vec![("eggs", "1 ct", true), ("eggs", "1 ct", false)]),
        ("three adds in a row",
            vec![Step::Add(milk("1 gal")), Step::Add(plain("bread", "1")), Step::Add(milk("1 gal"))],
            vec![("milk", "2 gal", false), ("bread", "1 ct", false)]),
    ];
    for (case, steps, want) in cases {
        let (t, _) = setup().await;
        let lists = t.grocery.lists();
        let mut shapes = Vec::new();
        for path in ["add_item", "apply one op", "apply a run"] {
            let id = lists.create(path).await.unwrap().id;
            let mut last = None;
            let mut run: Vec<ListOp> = Vec::new();
            for step in steps.iter().cloned() {
                match (path, step) {
                    ("add_item", Step::Add(item)) => {
                        last = Some(lists.add_item(id, item).await.unwrap().id)
                    }
                    ("apply one op", Step::Add(item)) => {
                        let (done, _) = lists.apply(id, vec![ListOp::Add(item)]).await.unwrap();
                        last = Some(match &done[0] {
                            grocery_core::lists::OpDone::Item(i) => i.id,
                            other => panic!("{case}: {other:?}"),
                        });
                    }
                    (_, Step::Add(item)) => run.push(ListOp::Add(item)),
                    (_, Step::CheckLast) => {
                        if !run.is_empty() {
                            let (done, _) =
                                lists.apply(id, std::mem::take(&mut run)).await.unwrap();
                            last = done.iter().rev().find_map(|d| match d {
                                grocery_core::lists::OpDone::Item(i) => Some(i.id),
                                _ => None,
                            });
                        }
                        lists.check(id, last.unwrap(), true).await.unwrap();
                    }
                }
            }
            if !run.is_empty() {
                lists.apply(id, run).await.unwrap();
            }
            let got = shape(&lists.get(id).await.unwrap());
            let expected: Vec<(String, String, Option<String>, bool)> = got
                .iter()
                .zip(&want)
                .map(|(g, w)| (w.0.to_string(), w.1.to_string(), g.2.clone(), w.2))
                .collect();
            assert_eq!(got.len(), want.len(), "{case} via {path}: {got:?}");
            assert_eq!(got, expected, "{case} via {path}");
            shapes.push(got);
        }
        assert!(
            shapes.windows(2).all(|w| w[0] == w[1]),
            "{case}: {shapes:?}"
        );
    }
}
