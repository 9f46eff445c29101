//! Hostile and malformed input: a typed error or an empty result, never a panic,
//! never a partial write.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

mod common;

use grocery_core::catalog::ImportFormat;
use grocery_core::{Amount, Error, ErrorKind, NewItem, Quantity, Unit};
use proptest::prelude::*;

#[tokio::test]
async fn search_survives_hostile_queries() {
    let t = common::open().await;
    let catalog = t.grocery.catalog();
    let queries = [
        "",
        "   ",
        "\t\n",
        "\"",
        "\"\"\"",
        "*",
        "milk*",
        "NEAR(milk eggs)",
        "milk NEAR eggs",
        "milk AND OR NOT",
        "'; DROP TABLE products; --",
        "name:milk",
        "{name}: milk",
        "^milk",
        "milk + eggs - cheese",
        "(((",
        "\u{0}\u{1}\u{7f}milk\u{1b}[31m",
        "🥛🥚",
        "牛奶",
        "ñ",
        "a",
        "1/0",
        "99999999999999999999999 lb milk",
        "-5 lb flour",
        "0 eggs",
        "1e9 gallons milk",
    ];
    for q in queries {
        let hits = catalog.search(q, 10).await;
        assert!(hits.is_ok(), "{q:?} -> {hits:?}");
    }
    assert!(catalog.search("", 10).await.unwrap().is_empty());
    assert!(
        catalog
            .search("'; DROP TABLE products; --", 10)
            .await
            .unwrap()
            .len()
            <= 10
    );
    // The catalog is intact after all that.
    assert!(catalog.stats().await.unwrap().products >= 1500);
    let milk = catalog.search("\u{1}milk\u{7f}", 1).await.unwrap();
    assert_eq!(milk.len(), 1, "control characters are ignored");
}

#[tokio::test]
async fn over_long_queries_are_invalid_input() {
    let t = common::open().await;
    let q = "milk ".repeat(2048); // 10 KB
    let err = t.grocery.catalog().search(&q, 10).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn list_input_is_validated_before_anything_is_written() {
    let t = common::open().await;
    let lists = t.grocery.lists();
    for bad in ["", "   ", "a\u{0}b", &"x".repeat(201)] {
        assert_eq!(
            lists.create(bad).await.unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{bad:?}"
        );
    }
    let list = lists.create("Ok").await.unwrap();
    let too_long = NewItem::new("y".repeat(5000));
    assert_eq!(
        lists.add_item(list.id, too_long).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let batch = vec![NewItem::new("fine"), NewItem::new("bad\u{7}name")];
    assert_eq!(
        lists.add_items(list.id, batch).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert!(
        lists.get(list.id).await.unwrap().items.is_empty(),
        "no half-written batch"
    );
    assert!(lists.all().await.unwrap().len() == 1);
}

#[test]
fn absurd_quantities_and_units_are_typed_errors() {
    for bad in [
        "-1",
        "0",
        "1e9",
        "999999999999",
        "1/0",
        "abc",
        "",
        "NaN",
        "inf",
    ] {
        assert!(Amount::parse(bad).is_err(), "{bad}");
    }
    for bad in ["furlong", "", "📦", "gallonz"] {
        assert!(Unit::parse(bad).is_err(), "{bad}");
    }
    assert!(Quantity::parse("3 parsecs").is_err());
    // Adding up to past the bound is refused, not wrapped.
    let big = Quantity::parse("900000 gal").unwrap();
    assert!(big.checked_add(&big).is_err());
}

#[tokio::test]
async fn merging_past_the_bound_changes_nothing() {
    let t = common::open().await;
    let lists = t.grocery.lists();
    let list = lists.create("Bulk").await.unwrap();
    let big = Quantity::parse("900000 gal").unwrap();
    lists
        .add_item(list.id, NewItem::new("water").quantity(big))
        .await
        .unwrap();
    let err = lists
        .add_item(list.id, NewItem::new("water").quantity(big))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let items = lists.get(list.id).await.unwrap().items;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].quantity, big);
}

#[tokio::test]
async fn malformed_import_files_are_rejected_whole() {
    let t = common::open().await;
    let before = t.grocery.catalog().stats().await.unwrap();
    let header = "id,upc,name,brand,department,aisle,size,unit,price_cents,tags\n";
    let cases: Vec<(&str, Vec<u8>, ImportFormat)> = vec![
        ("empty", Vec::new(), ImportFormat::Csv),
        ("header only", header.into(), ImportFormat::Csv),
        ("missing column", b"id,name\nx,y\n".to_vec(), ImportFormat::Csv),
        ("binary", vec![0xff, 0xfe, 0x00, 0x12, 0x80], ImportFormat::Csv),
        ("not json", b"{\"id\": \n".to_vec(), ImportFormat::JsonLines),
        ("json array", b"[1,2,3]\n".to_vec(), ImportFormat::JsonLines),
        (
            "float price",
            b"{\"id\":\"a\",\"name\":\"A\",\"department\":\"pantry\",\"size\":1,\"unit\":\"ct\",\"price_cents\":1.5}\n".to_vec(),
            ImportFormat::JsonLines,
        ),
    ];
    for (what, bytes, format) in cases {
        let err = t
            .grocery
            .catalog()
            .import_bytes(bytes, format)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{what}: {err}");
    }
    assert_eq!(t.grocery.catalog().stats().await.unwrap(), before);
    let missing = t.dir.path().join("nope.csv");
    let err = t.grocery.catalog().import_file(&missing).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

/// Any string at all: Ok (possibly empty) or InvalidInput, never a panic.
#[test]
fn search_never_panics_on_arbitrary_text() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = rt.block_on(common::open());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(300));
    let strategy = prop_oneof!["\\PC{0,80}", "[\"*():^+\\-{} a-z]{0,30}"];
    runner
        .run(&strategy, |q| {
            match rt.block_on(t.grocery.catalog().search(&q, 5)) {
                Ok(hits) => prop_assert!(hits.len() <= 5),
                Err(e) => prop_assert_eq!(e.kind(), ErrorKind::InvalidInput),
            }
            Ok(())
        })
        .unwrap();
}
