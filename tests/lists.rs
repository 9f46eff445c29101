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
