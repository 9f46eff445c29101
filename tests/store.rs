//! The store end to end: persistence across reopen, migrations, and imports that
//! fail part-way leaving the database exactly as it was.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

mod common;

use grocery_core::catalog::ImportFormat;
use grocery_core::{Error, Grocery, NewItem, Quantity};

const HEADER: &str = "id,upc,name,brand,department,aisle,size,unit,price_cents,tags\n";

fn rows(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{prefix}-{i},,Qqqzzz Widget {prefix} {i},Acme,pantry,Misc,1,ct,{},\n",
                100 + i
            )
        })
        .collect()
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let t = common::open().await;
    let products = t.grocery.catalog().len();
    assert!(products >= 1500, "embedded catalog loaded: {products}");
    let list = t.grocery.lists().create("Costco").await.unwrap();
    t.grocery
        .lists()
        .add_item(
            list.id,
            NewItem::new("paper plates").quantity(Quantity::parse("2 pack").unwrap()),
        )
        .await
        .unwrap();
    t.grocery
        .catalog()
        .import_bytes(
            format!("{HEADER}{}", rows("keep", 3)).into_bytes(),
            ImportFormat::Csv,
        )
        .await
        .unwrap();
    let config = t.grocery.config().clone();
    drop(t.grocery);

    let g = Grocery::open(config).await.unwrap();
    assert_eq!(
        g.catalog().len(),
        products + 3,
        "no second seeding, import kept"
    );
    assert!(g.catalog().get("keep-2").is_ok());
    let again = g.lists().find("costco").await.unwrap();
    assert_eq!(again.id, list.id);
    assert_eq!(again.items.len(), 1);
    assert_eq!(again.items[0].quantity.to_string(), "2 pack");
    let hits = g.catalog().search("qqqzzz keep", 5).await.unwrap();
    assert_eq!(hits.len(), 3, "the FTS index survived too");
}

#[tokio::test]
async fn a_bad_row_rejects_the_whole_file() {
    let t = common::open().await;
    let before = t.grocery.catalog().stats().await.unwrap();
    let mut file = format!("{HEADER}{}", rows("good", 40));
    file.push_str("bad-1,,Broken,Acme,pantry,Misc,1,furlongs,100,\n");
    file.push_str(&rows("late", 5));
    let path = t.dir.path().join("bad.csv");
    std::fs::write(&path, file).unwrap();
    match t.grocery.catalog().import_file(&path).await {
        Err(Error::InvalidRow { line, reason }) => {
            assert_eq!(line, 42, "header + 40 good rows, then the bad one");
            assert!(reason.contains("furlongs"), "{reason}");
        }
        other => panic!("expected InvalidRow, got {other:?}"),
    }
    assert_eq!(t.grocery.catalog().stats().await.unwrap(), before);
    assert!(t.grocery.catalog().get("good-0").is_err());
    assert!(
        t.grocery
            .catalog()
            .search("qqqzzz", 5)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_failure_inside_the_write_transaction_rolls_everything_back() {
    let t = common::open_empty().await;
    let first = "a-1,036000291452,Milk,Acme,dairy-eggs,Milk,1,gal,399,\n";
    t.grocery
        .catalog()
        .import_bytes(format!("{HEADER}{first}").into_bytes(), ImportFormat::Csv)
        .await
        .unwrap();
    // The file is valid on its own; its last row's UPC belongs to a-1 already, which
    // only the database can see, after 30 rows were written in the transaction.
    let clash = "z-9,036000291452,Other Milk,Acme,dairy-eggs,Milk,1,gal,399,\n";
    let file = format!("{HEADER}{}{clash}", rows("mid", 30));
    let err = t
        .grocery
        .catalog()
        .import_bytes(file.into_bytes(), ImportFormat::Csv)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let stats = t.grocery.catalog().stats().await.unwrap();
    assert_eq!(stats.products, 1);
    assert!(t.grocery.catalog().get("mid-0").is_err());
    assert!(
        t.grocery
            .catalog()
            .search("test widget", 5)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn reimport_replaces_by_id() {
    let t = common::open_empty().await;
    let v1 = format!("{HEADER}p-1,,Bread,Acme,bakery,Bread,20,oz,299,\n");
    let s = t
        .grocery
        .catalog()
        .import_bytes(v1.into_bytes(), ImportFormat::Csv)
        .await
        .unwrap();
    assert_eq!((s.inserted, s.updated), (1, 0));
    let v2 = format!("{HEADER}p-1,,Sourdough Bread,Acme,bakery,Bread,24,oz,449,\n");
    let s = t
        .grocery
        .catalog()
        .import_bytes(v2.into_bytes(), ImportFormat::Csv)
        .await
        .unwrap();
    assert_eq!((s.inserted, s.updated), (0, 1));
    let p = t.grocery.catalog().get("p-1").unwrap();
    assert_eq!(p.price.cents, 449);
    let hits = t.grocery.catalog().search("sourdough", 5).await.unwrap();
    assert_eq!(hits.len(), 1, "the FTS row was updated, not duplicated");
}

#[tokio::test]
async fn refuses_a_database_that_is_not_ours() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "just some text, not a database at all ".repeat(200)).unwrap();
    let mut config = common::config_in(&dir);
    config.store.path = Some(path.clone());
    let err = Grocery::open(config).await.unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("just some text"),
        "the file was left alone"
    );
}

#[tokio::test]
async fn concurrent_readers_and_a_writer() {
    let t = common::open().await;
    let list = t.grocery.lists().create("Busy").await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let g = t.grocery.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                g.catalog().search("milk", 5).await.unwrap();
            }
            g.lists()
                .add_item(list.id, NewItem::new(format!("thing {i}")))
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(t.grocery.lists().get(list.id).await.unwrap().items.len(), 8);
}
