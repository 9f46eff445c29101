//! Run with: cargo run --release --example fuzz_parse -- [SECONDS]
//!
//! Feeds random text (arbitrary Unicode, and grocery-shaped text built from the
//! grammar's pieces) to the request and item parsers for SECONDS (default 60)
//! and reports how many inputs ran. Any panic aborts with the input that caused it.

use std::time::{Duration, Instant};

use grocery_core::nlp::{parse_item, parse_request};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(60);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let pieces = proptest::collection::vec(
        proptest::sample::select(vec![
            "add",
            "remove",
            "and",
            ",",
            "of",
            "a",
            "dozen",
            "1/2",
            "½",
            "2-3",
            "12",
            "pack",
            "lb",
            "gallons",
            "fl",
            "oz",
            "(",
            ")",
            "/",
            "to",
            "my",
            "list",
            "costco",
            "milk",
            "eggs",
            "half",
            "that",
            "it",
            "make",
            "undo",
            "what's",
            "on",
            "x",
            "10^12",
            "–",
            "99999999999999999999",
            "🥛",
            "\u{0}",
            "'",
            "\"",
            "-",
            "plus",
            "or",
            "the",
        ]),
        0..24,
    )
    .prop_map(|v| v.join(" "));
    let arbitrary = "\\PC{0,300}";
    let mut runner = TestRunner::default();
    let mut n: u64 = 0;
    while Instant::now() < deadline {
        for _ in 0..1_000 {
            let text = if n.is_multiple_of(2) {
                pieces
                    .new_tree(&mut runner)
                    .map_err(|e| e.to_string())?
                    .current()
            } else {
                arbitrary
                    .new_tree(&mut runner)
                    .map_err(|e| e.to_string())?
                    .current()
            };
            let u = parse_request(&text);
            assert!(!u.commands.is_empty(), "{text:?}");
            let _ = parse_item(&text);
            n += 1;
        }
    }
    println!("fuzz_parse: {n} inputs in {secs} s, no panic");
    Ok(())
}
