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

/// Run `grocery ARGS` in `dir`; its exit code and stdout.
fn run(dir: &TempDir, args: &[&str]) -> (i32, String) {
    let out = grocery(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn names(list: &Value) -> Vec<String> {
    list["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["item"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn list_shows_the_current_list_priced_with_a_total() {
    let dir = TempDir::new().unwrap();
    let v = json(&dir, &["list"]);
    assert_eq!(v["name"], "Shopping", "the default list: {v}");
    assert_eq!(v["lines"].as_array().unwrap().len(), 0);
    grocery(&dir)
        .args([
            "list",
            "add",
            "2 gallons of milk",
            "a dozen eggs",
            "zzqxv widgets",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("Added 3 items").and(predicate::str::contains("total $")));
    let v = json(&dir, &["list"]);
    for key in ["id", "name", "version", "lines", "total", "unpriced"] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(names(&v), ["milk", "eggs", "zzqxv widgets"]);
    assert_eq!(v["lines"][0]["item"]["quantity"]["amount"], 2.0);
    assert_eq!(v["lines"][0]["item"]["quantity"]["unit"], "gal");
    assert!(v["lines"][0]["product"]["id"].is_string());
    assert!(v["total"]["cents"].as_i64().unwrap() > 0, "{v}");
    assert_eq!(v["unpriced"], 1);
    let (code, out) = run(&dir, &["list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Shopping") && out.contains("milk") && out.contains("(1 without a price)"),
        "{out}"
    );
    assert!(!out.contains('\u{1b}'), "no colour off a terminal: {out:?}");
}

#[test]
fn list_subcommands_create_choose_edit_and_delete() {
    let dir = TempDir::new().unwrap();
    assert_eq!(json(&dir, &["list", "new", "Party"])["name"], "Party");
    assert_eq!(json(&dir, &["list", "use", "party"])["name"], "Party");
    // The choice persists: the next run's `list` and the agent use it.
    assert_eq!(json(&dir, &["list"])["name"], "Party");
    json(&dir, &["ask", "add chips and salsa"]);
    json(&dir, &["list", "add", "3 limes"]);
    assert_eq!(names(&json(&dir, &["list"])), ["chips", "salsa", "limes"]);
    let all = json(&dir, &["list", "all"]);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|l| l["name"] == "Party" && l["items"] == 3),
        "{all}"
    );

    // ITEM by number, by name (any case) and by a unique part of a name.
    assert_eq!(json(&dir, &["list", "check", "2"])["checked"], true);
    assert_eq!(json(&dir, &["list", "uncheck", "SALSA"])["checked"], false);
    assert_eq!(json(&dir, &["list", "check", "lim"])["name"], "limes");
    assert_eq!(json(&dir, &["list", "rm", "1"])["name"], "chips");
    assert_eq!(json(&dir, &["list", "clear", "--checked"])["removed"], 1);
    assert_eq!(names(&json(&dir, &["list"])), ["salsa"]);
    assert_eq!(json(&dir, &["list", "clear"])["removed"], 1);

    assert_eq!(
        json(&dir, &["list", "rename", "party", "Fiesta"])["name"],
        "Fiesta"
    );
    assert_eq!(
        json(&dir, &["list"])["name"],
        "Fiesta",
        "still current after a rename"
    );
    json(&dir, &["list", "add", "--list", "Shopping", "bread"]);
    assert_eq!(names(&json(&dir, &["list", "show", "shopping"])), ["bread"]);
    assert_eq!(json(&dir, &["list", "delete", "Fiesta"])["name"], "Fiesta");
    assert_eq!(
        json(&dir, &["list"])["name"],
        "Shopping",
        "back to the default"
    );

    // Bad input: clear codes, nothing changed.
    let code = |args: &[&str]| run(&dir, args).0;
    assert_eq!(code(&["list", "use", "nowhere"]), 66);
    assert_eq!(code(&["list", "rm", "7"]), 66);
    assert_eq!(code(&["list", "rm", "caviar"]), 66);
    assert_eq!(code(&["list", "check", "0"]), 66);
    assert_eq!(code(&["list", "new", "Shopping"]), 65, "taken");
    assert_eq!(code(&["list", "new", "  "]), 65);
    assert_eq!(code(&["list", "new", &"x".repeat(10_000)]), 65);
    assert_eq!(code(&["list", "new", "tab\there"]), 65);
    assert_eq!(code(&["list", "add", ""]), 65);
    assert_eq!(code(&["list", "add", "Heading:"]), 65);
    assert_eq!(code(&["list", "add", &"9".repeat(5_000)]), 65);
    assert_eq!(code(&["list", "rename", "Shopping"]), 2);
    assert_eq!(code(&["list", "frobnicate"]), 2);
    json(&dir, &["list", "add", "green apples", "red apples"]);
    assert_eq!(code(&["list", "rm", "apples"]), 65, "ambiguous");
    assert_eq!(
        names(&json(&dir, &["list"])),
        ["bread", "green apples", "red apples"]
    );
}

#[test]
fn list_export_formats() {
    let dir = TempDir::new().unwrap();
    json(&dir, &["list", "add", "2 gallons of milk", "bread"]);
    json(&dir, &["list", "check", "bread"]);
    let export = |format: &str| run(&dir, &["list", "export", "--format", format]);
    let (code, csv) = export("csv");
    assert_eq!(code, 0);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("number,checked,item,quantity,product_id,product,packs,price")
    );
    assert!(
        lines.next().unwrap().starts_with("1,false,milk,2 gal,"),
        "{csv}"
    );
    assert!(lines.next().unwrap().starts_with("2,true,bread,"), "{csv}");
    let (_, md) = export("markdown");
    assert!(
        md.starts_with("# Shopping\n")
            && md.contains("- [ ] 2 gal milk")
            && md.contains("- [x] 1 ct bread"),
        "{md}"
    );
    assert!(md.contains("**Total: $"), "{md}");
    let (_, text) = export("text");
    assert!(
        text.contains("2 gal milk") && !text.contains("bread") && text.contains("Total: $"),
        "{text}"
    );
    let (_, table) = export("table");
    assert!(
        table.contains("product") && table.contains("total $"),
        "{table}"
    );
    let (_, j) = export("json");
    let v: Value = serde_json::from_str(&j).unwrap();
    assert_eq!(names(&v), ["milk", "bread"]);
    assert_eq!(
        json(&dir, &["list", "export", "--format", "csv"]),
        v,
        "--json wins"
    );
    assert_eq!(run(&dir, &["list", "export", "--format", "pdf"]).0, 2);
}

#[test]
fn import_recipe_merges_ingredients_and_reports_bad_lines() {
    let dir = TempDir::new().unwrap();
    json(&dir, &["list", "add", "2 eggs"]);
    let recipe = dir.path().join("pancakes.txt");
    std::fs::write(
        &recipe,
        "# Pancakes\nIngredients:\n- 2 cups all-purpose flour\n* 3 large eggs\n\n1 1/2 cups milk\n2 tbsp butter, melted\n1000000000000000 eggs\n",
    )
    .unwrap();
    let out = grocery(&dir)
        .args(["list", "import-recipe"])
        .arg(&recipe)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 8"),
        "the bad line is reported: {stderr}"
    );
    let v = json(&dir, &["list"]);
    assert_eq!(names(&v), ["eggs", "all-purpose flour", "milk", "butter"]);
    assert_eq!(
        v["lines"][0]["item"]["quantity"]["amount"], 5.0,
        "merged with the 2 eggs"
    );
    assert!(
        v["lines"][1]["product"]["id"].is_string(),
        "resolved to a product: {v}"
    );

    // --json: the items and the rejected lines.
    std::fs::write(&recipe, "1 lb coffee\n%%%\n").unwrap();
    let v = json(&dir, &["list", "import-recipe", recipe.to_str().unwrap()]);
    assert_eq!(v["items"][0]["name"], "coffee");
    assert_eq!(v["rejected"][0]["line"], 2);
    // From stdin.
    grocery(&dir)
        .args(["list", "import-recipe", "-", "--json"])
        .write_stdin("2 lemons\n")
        .assert()
        .success()
        .stdout(predicate::str::contains("lemon"));

    // Bad files.
    let code = |path: &std::path::Path| {
        grocery(&dir)
            .args(["list", "import-recipe"])
            .arg(path)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(code(&dir.path().join("missing.txt")), Some(66));
    let binary = dir.path().join("photo.jpg");
    std::fs::write(&binary, [0xff_u8, 0xd8, 0xff, 0xe0, 0x00, 0x10]).unwrap();
    assert_eq!(code(&binary), Some(65));
    let huge = dir.path().join("huge.txt");
    std::fs::write(&huge, "1 cup flour\n".repeat(200_000)).unwrap();
    assert_eq!(code(&huge), Some(65));
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "%%%\n&&&\n").unwrap();
    assert_eq!(code(&junk), Some(65), "no line is an item");
    assert_eq!(code(dir.path()), Some(74), "a directory");
}

#[test]
fn chat_keeps_the_conversation_between_lines() {
    let dir = TempDir::new().unwrap();
    let out = grocery(&dir)
        .args(["chat", "--json", "--session", "kitchen"])
        .write_stdin("add eggs\n\nmake that 18\nadd 10^12 eggs\nquit\nadd milk\n")
        .output()
        .unwrap();
    assert!(out.status.success());
    let replies: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        replies.len(),
        3,
        "blank skipped, nothing after quit: {replies:?}"
    );
    assert_eq!(replies[1]["list"]["items"][0]["quantity"], "18 ct");
    assert_eq!(
        replies[2]["error"]["kind"], "invalid_input",
        "an error does not end the chat"
    );
    let v = json(&dir, &["list"]);
    assert_eq!(names(&v), ["eggs"], "milk came after quit");
    // Plain text; Ctrl-D (end of input) ends it too.
    grocery(&dir)
        .args(["chat", "--session", "kitchen"])
        .write_stdin("undo\n")
        .assert()
        .success()
        .stdout(predicate::str::contains("Undid"));
    grocery(&dir).arg("chat").write_stdin("").assert().success();
}

#[test]
fn users_get_a_token_once_and_can_be_revoked() {
    let dir = TempDir::new().unwrap();
    let (code, token) = run(&dir, &["user", "add", "alice", "-q"]);
    assert_eq!(code, 0);
    let token = token.trim();
    assert!(
        token.starts_with("gro_") && !token.contains(char::is_whitespace),
        "only the token: {token:?}"
    );
    let (_, text) = run(&dir, &["user", "add", "bob"]);
    assert!(text.contains("bob") && text.contains("gro_"), "{text}");
    let v = json(&dir, &["user", "add", "carol"]);
    assert_eq!(v["user"]["name"], "carol");
    assert!(v["token"].as_str().unwrap().starts_with("gro_"));
    let users = json(&dir, &["user", "list"]);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["local", "alice", "bob", "carol"]);
    assert!(
        !users.to_string().contains("gro_"),
        "tokens are never listed"
    );
    // Sharing names a user.
    let shared = json(
        &dir,
        &["list", "share", "Shopping", "bob", "--role", "viewer"],
    );
    assert_eq!(shared["name"], "Shopping");
    assert_eq!(json(&dir, &["user", "revoke", "bob"])["name"], "bob");
    let users = json(&dir, &["user", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 3);
    let code = |args: &[&str]| run(&dir, args).0;
    assert_eq!(code(&["user", "revoke", "bob"]), 66);
    assert_eq!(
        code(&["user", "add", "ALICE"]),
        65,
        "names are case-insensitive"
    );
    assert_eq!(code(&["user", "add", ""]), 65);
    assert_eq!(code(&["user", "add", &"u".repeat(5_000)]), 65);
    assert_eq!(code(&["user", "revoke", "local"]), 65);
    assert_eq!(code(&["list", "share", "Shopping", "nobody"]), 66);
    assert_eq!(
        code(&["list", "share", "Shopping", "alice", "--role", "owner"]),
        2
    );
}

#[test]
fn backup_and_restore_round_trip_and_refuse_bad_files() {
    let dir = TempDir::new().unwrap();
    json(&dir, &["list", "add", "milk", "eggs"]);
    let file = dir.path().join("backup.db");
    let file_s = file.to_str().unwrap();
    let v = json(&dir, &["backup", file_s]);
    for key in [
        "path",
        "bytes",
        "schema_version",
        "lists",
        "items",
        "products",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(
        (v["lists"].as_u64(), v["items"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        run(&dir, &["backup", file_s]).0,
        64,
        "exists: needs --force"
    );
    json(&dir, &["list", "add", "bread"]);
    assert_eq!(json(&dir, &["backup", file_s, "--force"])["items"], 3);
    json(&dir, &["list", "clear"]);
    let (code, out) = run(&dir, &["restore", file_s]);
    assert_eq!(code, 0);
    assert!(out.contains("Restored") && out.contains("3 items"), "{out}");
    assert_eq!(names(&json(&dir, &["list"])), ["milk", "eggs", "bread"]);
    // Into a new database, with --json.
    let other = TempDir::new().unwrap();
    assert_eq!(json(&other, &["restore", file_s])["lists"], 1);
    assert_eq!(names(&json(&other, &["list"])), ["milk", "eggs", "bread"]);

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not a database ".repeat(1000)).unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let code = |args: &[&str]| run(&dir, args).0;
    assert_eq!(code(&["restore", junk.to_str().unwrap()]), 65);
    assert_eq!(code(&["restore", empty.to_str().unwrap()]), 65);
    assert_eq!(code(&["restore", "/definitely/not/here.db"]), 66);
    assert_eq!(code(&["backup", "/proc/no/such/dir/b.db"]), 74);
    assert_eq!(code(&["backup"]), 2);
    assert_eq!(
        names(&json(&dir, &["list"])),
        ["milk", "eggs", "bread"],
        "untouched"
    );
}

/// Acceptance: a backup taken while another writer commits in a loop restores
/// to a consistent database holding every item committed before it began.
#[test]
fn backup_while_a_writer_is_busy_restores_every_committed_item() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::mpsc;

    let dir = TempDir::new().unwrap();
    json(&dir, &["list", "new", "Busy"]);
    let db = dir.path().join("g.db");
    let committed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (ready, started) = mpsc::channel();
    let writer = {
        let (committed, stop, db) = (Arc::clone(&committed), Arc::clone(&stop), db.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut config = grocery_core::Config::default();
                config.store.path = Some(db);
                let g = grocery_core::Grocery::open(config).await.unwrap();
                let list = g.lists().find("Busy").await.unwrap();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    g.lists()
                        .add_item(list.id, grocery_core::NewItem::new(format!("item {n}")))
                        .await
                        .unwrap();
                    committed.store(n, Ordering::SeqCst);
                    if n == 50 {
                        ready.send(()).unwrap();
                    }
                }
                n
            })
        })
    };
    started.recv().unwrap();
    let before = committed.load(Ordering::SeqCst);
    let file = dir.path().join("busy-backup.db");
    let backup = json(&dir, &["backup", file.to_str().unwrap()]);
    stop.store(true, Ordering::SeqCst);
    let last = writer.join().unwrap();
    assert!(backup["items"].as_u64().unwrap() >= before, "{backup}");

    let restored = TempDir::new().unwrap();
    json(&restored, &["restore", file.to_str().unwrap()]);
    let v = json(&restored, &["list", "show", "Busy"]);
    let got = names(&v);
    let k = got.len() as u64;
    assert!(
        k >= before && k <= last,
        "{k} items; {before} committed before, {last} in all"
    );
    let expected: Vec<String> = (1..=k).map(|n| format!("item {n}")).collect();
    assert_eq!(
        got, expected,
        "every committed item up to the snapshot, no gaps"
    );
}

#[test]
fn completions_help_and_config_redaction() {
    let dir = TempDir::new().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        grocery(&dir)
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("grocery"));
    }
    grocery(&dir).args(["completions", "tcsh"]).assert().code(2);
    grocery(&dir).arg("--help").assert().success().stdout(
        predicate::str::contains("Exit codes").and(predicate::str::contains("66  not found")),
    );
    for args in [&["config", "show"][..], &["config", "show", "--json"][..]] {
        grocery(&dir)
            .args(args)
            .env("GROCERY_LLM__API_KEY", "sk-very-secret")
            .env("GROCERY_CACHE__REDIS_URL", "redis://:hunter2@127.0.0.1:1")
            .assert()
            .success()
            .stdout(
                predicate::str::contains("***")
                    .and(predicate::str::contains("sk-very-secret").not())
                    .and(predicate::str::contains("hunter2").not()),
            );
    }
}

#[test]
fn errors_are_one_line_with_a_hint() {
    let dir = TempDir::new().unwrap();
    let out = grocery(&dir)
        .args(["list", "use", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(66));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("error: list not found: nowhere"),
        "{stderr}"
    );
    assert!(lines[1].starts_with("hint: "), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "NO_COLOR: {stderr:?}");
}

#[test]
fn catalog_import_json_and_every_catalog_command_has_json() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("p.csv");
    std::fs::write(
        &file,
        "id,upc,name,brand,department,aisle,size,unit,price_cents,tags\nzz-9,,Quince Paste,Acme,pantry,Spreads,8,oz,699,\n",
    )
    .unwrap();
    let v = json(&dir, &["catalog", "import", file.to_str().unwrap()]);
    assert_eq!(
        (v["rows"].as_u64(), v["inserted"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert!(json(&dir, &["alerts"]).as_array().unwrap().is_empty());
}

/// One HTTP/1.1 request over a plain socket; the status code and body.
fn http(addr: &str, request: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[test]
fn serve_answers_with_a_token_from_user_add_and_stops_on_sigterm() {
    let dir = TempDir::new().unwrap();
    let token = grocery(&dir)
        .args(["-q", "user", "add", "ana"])
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("gro_"), "only the token with -q: {token}");

    // --no-auth is refused off loopback, before anything is opened.
    grocery(&dir)
        .args(["serve", "--no-auth", "--bind", "0.0.0.0:0"])
        .assert()
        .code(64);

    let (server, line) = serve(&dir, &[]);
    // A pipe is not a terminal: no colour codes in the log.
    assert!(!line.contains('\x1b'), "{line:?}");
    let addr = line
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    let (status, _) = http(
        &addr,
        "GET /api/v1/lists HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 401, "a token is required on loopback too");
    let (status, body) = http(
        &addr,
        &format!(
            "GET /api/v1/lists HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!((status, body.trim()), (200, "[]"));

    assert!(stop(server).success());
}

/// Start `grocery serve` on a free loopback port with `args` before `serve`;
/// the server and its first log line naming the bound address. The rest of
/// its log is read (and dropped) so it never blocks on a full pipe.
fn serve(dir: &TempDir, args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut server = std::process::Command::new(assert_cmd::cargo::cargo_bin("grocery"))
        .arg("--db")
        .arg(dir.path().join("g.db"))
        .args(args)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("GROCERY_CONFIG")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(server.stderr.take().unwrap()).lines();
    let line = loop {
        let line = lines.next().expect("the server exited").unwrap();
        if line.contains("listening on http://") {
            break line;
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (server, line)
}

/// SIGTERM `server` and wait for it (20 s at most).
fn stop(mut server: std::process::Child) -> std::process::ExitStatus {
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(s) = server.try_wait().unwrap() {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn serve_logs_as_its_configuration_says() {
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("grocery.toml");
    std::fs::write(&config, "[server]\nlog_format = \"json\"\n").unwrap();
    let (server, line) = serve(&dir, &["--config", config.to_str().unwrap()]);
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["level"], "INFO", "{line}");
    assert!(
        v["fields"]["addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{line}"
    );
    assert!(stop(server).success());
}

/// Two stores with known prices and offers: walmart sells milk "2 for $6"
/// ($4 each) and eggs at $3, kroger milk at $3.50 and eggs at $2.50 buy one
/// get one free, and only walmart has bread. For 2 gal milk, 2 dozen eggs and
/// bread the optimum is milk and bread at walmart ($6 + $2) and eggs at
/// kroger ($2.50 for two): $10.50; walmart alone is $14.
const TWO_STORES: &str = r#"{"id":"t-milk","name":"Test Whole Milk","brand":"Acme","department":"dairy-eggs","size":1,"unit":"gal","price_cents":400,"store":"walmart","offer":{"kind":"multi_buy","qty":2,"price_cents":600}}
{"id":"t-milk","name":"Test Whole Milk","brand":"Acme","department":"dairy-eggs","size":1,"unit":"gal","price_cents":350,"store":"kroger"}
{"id":"t-eggs","name":"Test Eggs","brand":"Acme","department":"dairy-eggs","size":12,"unit":"ct","price_cents":300,"store":"walmart"}
{"id":"t-eggs","name":"Test Eggs","brand":"Acme","department":"dairy-eggs","size":12,"unit":"ct","price_cents":250,"store":"kroger","offer":{"kind":"bogo"}}
{"id":"t-bread","name":"Test Bread","brand":"Acme","department":"bakery","size":1,"unit":"ea","price_cents":200,"store":"walmart"}
"#;

#[test]
fn optimize_finds_the_known_optimum_across_two_stores() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("stores.jsonl");
    std::fs::write(&file, TWO_STORES).unwrap();
    json(&dir, &["catalog", "import", file.to_str().unwrap()]);
    json(
        &dir,
        &[
            "list",
            "add",
            "2 gal test whole milk",
            "2 dozen test eggs",
            "test bread",
        ],
    );
    let plan = json(&dir, &["optimize", "--stores", "walmart,kroger"]);
    assert_eq!(plan["total_cents"], 1050, "{plan}");
    assert_eq!(plan["naive_total_cents"], 1400, "{plan}");
    assert_eq!(plan["savings_cents"], 350);
    let mut stores: Vec<&str> = plan["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    stores.sort_unstable();
    assert_eq!(stores, ["kroger", "walmart"]);
    let lines = plan["lines"].as_array().unwrap();
    let got: Vec<(&str, &str, &str, u64, i64)> = lines
        .iter()
        .map(|l| {
            (
                l["item"].as_str().unwrap(),
                l["product_id"].as_str().unwrap(),
                l["store"].as_str().unwrap(),
                l["packs"].as_u64().unwrap(),
                l["cost_cents"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("test whole milk", "t-milk", "walmart", 2, 600),
            ("test eggs", "t-eggs", "kroger", 2, 250),
            ("test bread", "t-bread", "walmart", 1, 200),
        ]
    );
    // One store only: walmart carries everything.
    let one = json(
        &dir,
        &[
            "optimize",
            "--stores",
            "walmart,kroger",
            "--max-stores",
            "1",
        ],
    );
    assert_eq!(one["stores"], serde_json::json!(["walmart"]));
    assert_eq!(one["total_cents"], 1400);
    // A trip cost larger than the eggs' saving keeps it to one store.
    let trip = json(
        &dir,
        &["optimize", "--stores", "walmart,kroger", "--trip-cost", "4"],
    );
    assert_eq!(trip["total_cents"], 1400, "{trip}");
    // A budget: the verdict, not an error.
    let tight = json(
        &dir,
        &["optimize", "--stores", "walmart,kroger", "--budget", "10"],
    );
    assert_eq!(tight["budget"]["fits"], false);
    assert_eq!(tight["budget"]["over_cents"], 50);
    // Deals on the list: the store-flagged offers.
    let deals = json(&dir, &["deals"]);
    let kinds: Vec<(&str, &str)> = deals
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["product_id"].as_str().unwrap(),
                d["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(kinds.contains(&("t-eggs", "bogo")), "{deals}");
    assert!(kinds.contains(&("t-milk", "multi_buy")), "{deals}");
    // Bad input: an unknown store, zero stores, a malformed budget.
    for (args, code) in [
        (&["optimize", "--stores", "costco"][..], 65),
        (&["optimize", "--max-stores", "0"][..], 65),
        (&["optimize", "--budget", "ten"][..], 64),
        (&["optimize", "--list", "nope"][..], 66),
    ] {
        let (status, err) = run(&dir, args);
        assert_eq!(status, code, "{args:?}: {err}");
    }
}

#[test]
fn usuals_learn_from_checked_items() {
    let dir = TempDir::new().unwrap();
    let none = json(&dir, &["usuals"]);
    assert_eq!(none, serde_json::json!([]));
    json(&dir, &["list", "add", "milk"]);
    json(&dir, &["list", "check", "milk"]);
    // One purchase is no habit yet; the shape is a JSON array either way.
    assert!(json(&dir, &["usuals"]).as_array().unwrap().is_empty());
    assert!(json(&dir, &["usuals", "--forgotten"]).is_array());
    let (code, _) = run(&dir, &["usuals", "--list", "x"]);
    assert_eq!(code, 2, "--list needs --forgotten");
}
