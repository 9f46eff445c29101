//! The `grocery` binary end to end: output, `--json` shapes, exit codes.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

fn grocery(dir: &TempDir) -> Command {
    let mut cmd = Command::cargo_bin("grocery").unwrap();
    cmd.arg("--db")
        .arg(dir.path().join("g.db"))
        .env_remove("GROCERY_CONFIG")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("NO_COLOR", "1");
    cmd
}

/// Run `grocery ARGS --json` in `dir`; it must succeed; its JSON output.
fn json(dir: &TempDir, args: &[&str]) -> Value {
    let out = grocery(dir).args(args).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn search_json(dir: &TempDir, query: &str) -> Vec<Value> {
    serde_json::from_value(json(dir, &["search", query])).unwrap()
}

fn kind_of(hit: &Value) -> String {
    hit["kind"].as_str().unwrap().to_string()
}

#[test]
fn search_json_has_the_documented_fields() {
    let dir = TempDir::new().unwrap();
    let hits = search_json(&dir, "oj");
    assert!(!hits.is_empty());
    for key in [
        "id",
        "name",
        "brand",
        "department",
        "size",
        "unit",
        "price_cents",
    ] {
        assert!(hits[0].get(key).is_some(), "missing {key} in {}", hits[0]);
    }
    assert!(hits[0]["price_cents"].is_i64());
    assert!(hits[0]["size"].is_number());
}

#[test]
fn acceptance_queries_find_the_everyday_product() {
    let dir = TempDir::new().unwrap();
    let oj = search_json(&dir, "oj");
    assert_eq!(kind_of(&oj[0]), "orange juice", "{}", oj[0]);
    let bananas = search_json(&dir, "bannana");
    assert_eq!(kind_of(&bananas[0]), "banana", "{}", bananas[0]);
    let milk = search_json(&dir, "milk");
    assert_eq!(kind_of(&milk[0]), "milk", "{}", milk[0]);
    let name = milk[0]["name"].as_str().unwrap().to_lowercase();
    assert!(!name.contains("chocolate"), "{name}");
    let hh = search_json(&dir, "half and half");
    assert_eq!(kind_of(&hh[0]), "half-and-half", "{}", hh[0]);
}

#[test]
fn search_prints_a_table() {
    let dir = TempDir::new().unwrap();
    grocery(&dir)
        .args(["search", "eggs", "-n", "3"])
        .assert()
        .success()
        .stdout(predicate::str::contains("product").and(predicate::str::contains("Egg")));
}

#[test]
fn catalog_stats_json() {
    let dir = TempDir::new().unwrap();
    let out = grocery(&dir)
        .args(["catalog", "stats", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["products"].as_u64().unwrap() >= 1500, "{v}");
    assert!(v["departments"].as_u64().unwrap() >= 15, "{v}");
}

#[test]
fn catalog_import_good_and_bad_files() {
    let dir = TempDir::new().unwrap();
    let header = "id,upc,name,brand,department,aisle,size,unit,price_cents,tags\n";
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!("{header}zz-1,,Zanzibar Spice Mix,Acme,condiments-spices,Spices,2,oz,499,\n"),
    )
    .unwrap();
    grocery(&dir)
        .args(["catalog", "import"])
        .arg(&good)
        .assert()
        .success()
        .stdout(predicate::str::contains("1 new"));
    let hits = search_json(&dir, "zanzibar");
    assert_eq!(hits[0]["id"], "zz-1");

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "{header}zz-2,,Thing,Acme,pantry,X,1,ct,100,\nzz-3,,Other,Acme,nowhere,X,1,ct,100,\n"
        ),
    )
    .unwrap();
    grocery(&dir)
        .args(["catalog", "import"])
        .arg(&bad)
        .assert()
        .code(65)
        .stderr(predicate::str::contains("line 3").and(predicate::str::contains("department")));
    assert!(
        search_json(&dir, "thing").iter().all(|h| h["id"] != "zz-2"),
        "nothing written"
    );

    grocery(&dir)
        .args(["catalog", "import", "/definitely/not/here.csv"])
        .assert()
        .code(66);
}

#[test]
fn bad_input_exit_codes() {
    let dir = TempDir::new().unwrap();
    grocery(&dir)
        .args(["search", "milk", "--limit", "0"])
        .assert()
        .code(64);
    grocery(&dir)
        .args(["search", &"x".repeat(10_240)])
        .assert()
        .code(65);
    grocery(&dir)
        .args(["search", "--no-such-flag", "x"])
        .assert()
        .code(2);
    grocery(&dir)
        .args(["search", "'; DROP TABLE products; --", "--json"])
        .assert()
        .success();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not a database ".repeat(1000)).unwrap();
    let mut cmd = Command::cargo_bin("grocery").unwrap();
    cmd.arg("--db")
        .arg(&junk)
        .args(["search", "milk"])
        .assert()
        .code(78);
}

#[test]
fn config_show_prints_the_effective_config() {
    let dir = TempDir::new().unwrap();
    grocery(&dir)
        .args(["config", "show"])
        .env("GROCERY_CATALOG__DEFAULT_LIMIT", "7")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("[store]").and(predicate::str::contains("default_limit = 7")),
        );
}

#[test]
fn ask_applies_and_prints_the_priced_list() {
    let dir = TempDir::new().unwrap();
    let v = json(&dir, &["ask", "add 2 gallons of milk and a dozen eggs"]);
    assert_eq!(v["commands"][0]["intent"], "add");
    assert_eq!(v["list"]["name"], "Shopping");
    assert_eq!(v["list"]["items"].as_array().unwrap().len(), 2);
    assert!(v["list"]["total_cents"].as_i64().unwrap() > 0);
    assert!(v["message"].as_str().unwrap().contains("Added milk"));
    // The bare form is the same command, and the list persists between runs.
    grocery(&dir)
        .arg("we're out of coffee")
        .assert()
        .success()
        .stdout(predicate::str::contains("coffee").and(predicate::str::contains("total")));
    grocery(&dir)
        .args(["ask", "add 10^12 eggs"])
        .assert()
        .code(65);
}

#[test]
fn sessions_continue_across_runs() {
    let dir = TempDir::new().unwrap();
    let ask = |session: &str, text: &str| json(&dir, &["ask", text, "--session", session]);
    ask("kitchen", "add eggs");
    let v = ask("kitchen", "make that 18");
    assert_eq!(v["list"]["items"][0]["quantity"], "18 ct");
    // Another session has no "that".
    let v = ask("garage", "remove that");
    assert_eq!(v["list"]["items"].as_array().unwrap().len(), 1);
    let v = ask("kitchen", "undo");
    assert_eq!(v["list"]["items"][0]["quantity"], "1 ct");
    // The default session, as `grocery "TEXT"` uses it.
    grocery(&dir).arg("add milk").assert().success();
    grocery(&dir)
        .arg("undo")
        .assert()
        .success()
        .stdout(predicate::str::contains("Undid"));
}

#[test]
fn parse_prints_one_json_line_per_input_and_changes_nothing() {
    let dir = TempDir::new().unwrap();
    let input =
        "add milk to my costco list\n{\"text\": \"take the eggs off\"}\n\nwhat's the weather\n";
    let out = grocery(&dir)
        .arg("parse")
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "one output per input line, blank included");
    assert_eq!(lines[0]["commands"][0]["intent"], "add");
    assert_eq!(lines[0]["commands"][0]["list"], "costco");
    assert_eq!(lines[0]["commands"][0]["items"][0]["name"], "milk");
    assert!(lines[0]["commands"][0]["items"][0]["product_id"].is_string());
    assert_eq!(lines[1]["text"], "take the eggs off");
    assert_eq!(lines[1]["commands"][0]["intent"], "remove");
    assert_eq!(lines[3]["commands"][0]["intent"], "unknown");
    let item = grocery(&dir)
        .args(["parse", "--mode", "item"])
        .write_stdin("2 tbsp olive oil, divided\n")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&item.stdout).unwrap();
    assert_eq!(v["commands"][0]["intent"], "item");
    assert_eq!(v["commands"][0]["items"][0]["quantity"], 2.0);
    assert_eq!(v["commands"][0]["items"][0]["unit"], "tablespoon");
    assert_eq!(v["commands"][0]["items"][0]["name"], "olive oil");
    let lists = grocery(&dir)
        .args(["ask", "what's on my list", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&lists.stdout).unwrap();
    assert!(v["list"].is_null(), "parse wrote nothing: {v}");
}

#[test]
fn price_history_track_alerts_and_cache() {
    let dir = TempDir::new().unwrap();
    let json = |args: &[&str]| json(&dir, args);
    let p = json(&["price", "milk"]);
    for field in [
        "product_id",
        "name",
        "price_cents",
        "unit_price",
        "source",
        "tier",
        "stale",
        "age_secs",
        "offers",
    ] {
        assert!(p.get(field).is_some(), "missing {field}: {p}");
    }
    assert_eq!(p["tier"], "upstream");
    // A new process finds it in the database tier.
    assert_eq!(json(&["price", "milk"])["tier"], "l3");
    assert_eq!(
        json(&["price", "milk", "--max-age", "0"])["tier"],
        "upstream"
    );
    // Every process's cache use adds up in the database.
    let s = json(&["cache", "stats"]);
    assert_eq!(s["requests"], 3, "{s}");
    assert_eq!(
        (s["l3"]["hits"].as_u64(), s["l3"]["entries"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(s["upstream_calls"], 2, "{s}");
    assert!(
        (s["hit_ratio"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9,
        "{s}"
    );
    assert!(s["l2"]["entries"].is_null(), "no Redis configured: {s}");
    assert_eq!(s["sources"][0]["name"], "demo");
    assert_eq!(s["sources"][0]["breaker"]["state"], "closed");
    let h = json(&["history", "milk", "--days", "30"]);
    assert_eq!(h["points"].as_array().unwrap().len(), 1);
    let price = p["price_cents"].as_i64().unwrap();
    // A target above today's price fires at once; one alert per crossing.
    let above = format!("{}.{:02}", (price + 100) / 100, (price + 100) % 100);
    let t = json(&["track", "milk", "--below", &above]);
    assert_eq!(t["crossed"], true);
    assert_eq!(json(&["alerts"]).as_array().unwrap().len(), 1);
    let t = json(&["track", "eggs", "--drop", "10"]);
    assert_eq!(t["crossed"], false);
    assert_eq!(json(&["alerts"]).as_array().unwrap().len(), 1);
    assert_eq!(json(&["cache", "warm", "--top", "5"])["warmed"], 5);
    assert!(json(&["cache", "stats"])["requests"].as_u64().unwrap() > 3);
    assert!(json(&["cache", "clear"])["removed"].as_u64().unwrap() >= 5);
    let s = json(&["cache", "stats"]);
    assert_eq!(
        (s["requests"].as_u64(), s["l3"]["entries"].as_u64()),
        (Some(0), Some(0)),
        "{s}"
    );
    // Bad input: a typed error and nothing tracked.
    grocery(&dir)
        .args(["track", "bread", "--below", "abc"])
        .assert()
        .code(65);
    grocery(&dir)
        .args(["track", "bread", "--drop", "0"])
        .assert()
        .code(65);
    grocery(&dir).args(["track", "bread"]).assert().code(2);
    grocery(&dir).args(["price", "zzqxv"]).assert().code(66);
}
