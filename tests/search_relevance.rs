//! Table-driven search relevance: `tests/data/relevance.tsv` holds queries and the
//! product ids a sensible shopper expects first. Reports top-1 and top-3 accuracy
//! per category and fails below the floors.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

mod common;

use std::collections::BTreeMap;

const TABLE: &str = include_str!("data/relevance.tsv");

/// Floors, measured and then pinned: a regression below them fails the build.
const MIN_TOP1: f64 = 0.97;
const MIN_TOP3: f64 = 0.99;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relevance_table() {
    let t = common::open().await;
    let catalog = t.grocery.catalog();
    let mut per_note: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let (mut n, mut top1, mut top3) = (0, 0, 0);
    let mut misses = Vec::new();
    for line in TABLE.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 2, "bad table row: {line}");
        let (query, expected) = (cols[0], cols[1]);
        let note = cols.get(2).copied().unwrap_or("").to_string();
        let expected: Vec<&str> = expected.split('|').collect();
        for id in &expected {
            assert!(catalog.get(id).is_ok(), "table names unknown product {id}");
        }
        let hits = catalog.search(query, 3).await.expect("search");
        let ids: Vec<&str> = hits.iter().map(|h| h.product.id.as_str()).collect();
        let hit1 = ids.first().is_some_and(|id| expected.contains(id));
        let hit3 = ids.iter().any(|id| expected.contains(id));
        n += 1;
        top1 += usize::from(hit1);
        top3 += usize::from(hit3);
        let e = per_note.entry(note).or_default();
        e.0 += 1;
        e.1 += usize::from(hit1);
        e.2 += usize::from(hit3);
        if !hit1 {
            misses.push(format!("  {query:?}: expected {expected:?}, got {ids:?}"));
        }
    }
    assert!(n >= 80, "the table must hold at least 80 cases, has {n}");
    let (a1, a3) = (top1 as f64 / n as f64, top3 as f64 / n as f64);
    println!(
        "relevance: {n} queries, top-1 {top1}/{n} = {:.1}%, top-3 {top3}/{n} = {:.1}%",
        a1 * 100.0,
        a3 * 100.0
    );
    for (note, (k, h1, h3)) in &per_note {
        println!("  {note:<10} {k:>3} queries  top-1 {h1:>3}  top-3 {h3:>3}");
    }
    if !misses.is_empty() {
        println!("top-1 misses:\n{}", misses.join("\n"));
    }
    assert!(a1 >= MIN_TOP1, "top-1 accuracy {a1:.3} is below {MIN_TOP1}");
    assert!(a3 >= MIN_TOP3, "top-3 accuracy {a3:.3} is below {MIN_TOP3}");
}
