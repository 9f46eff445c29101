//! The web page end to end, in headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`; `scripts/test` installs them).
//!
//! The server runs in this process on 127.0.0.1:0 and ChromeDriver on a free
//! port. Alice signs in and asks the agent for milk and eggs; Bob, with whom
//! the list is shared, opens the same list in a second session (phone-sized)
//! and sees Alice's next change arrive over the WebSocket without a reload.
//! Alice sees Bob check an item off, also from a stale version (412, reload,
//! retry), and Bob's page catches up on a change made while its socket was
//! down. Then a single-user server shows the page without asking for a token.
//! Screenshots of both sessions go to the test's temp dir, and also to
//! `target/browser-e2e.png` (Alice's) and `target/browser-e2e-phone.png` (Bob's).
//!
//! Every wait polls the DOM until a deadline; there are no fixed sleeps.
#![cfg(unix)] // process groups; Debian's Chromium

use std::net::TcpListener as StdListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use grocery_core::config::ServerConfig;
use grocery_core::{Config, Grocery};
use grocery_http::AppState;
use serde_json::{Value, json};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// How long any one condition may take to show on the page.
const WAIT: Duration = Duration::from_secs(20);

fn chromedriver_path() -> PathBuf {
    std::env::var_os("CHROMEDRIVER").map_or_else(|| "/usr/bin/chromedriver".into(), PathBuf::from)
}

fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

struct Server {
    base: String,
    grocery: Grocery,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start_server(dir: &Path, no_auth: bool) -> Res<Server> {
    let mut config = Config::default();
    config.store.path = Some(dir.join(if no_auth { "single.db" } else { "g.db" }));
    config.pricing.warm_top = 0;
    let server = ServerConfig {
        no_auth,
        ..config.server.clone()
    };
    let grocery = Grocery::open(config).await?;
    let state = AppState::with_config(grocery.clone(), server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(grocery_http::serve_state(state, listener, async {
        let _ = stopped.await;
    }));
    Ok(Server {
        base,
        grocery,
        stop: Some(stop),
        task,
    })
}

impl Server {
    async fn token(&self, name: &str) -> Res<String> {
        Ok(self.grocery.users().add_with_token(name).await?.token)
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// ChromeDriver on a free loopback port, in a process group of its own with
/// the browsers it starts: the whole group is killed on drop, so no Chromium
/// outlives a failed test.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver(log: &Path) -> Res<Driver> {
    let path = chromedriver_path();
    assert!(
        path.exists() && chromium_path().exists(),
        "the browser test needs Chromium and ChromeDriver ({} and {}): \
         install them with `apt-get install chromium chromium-driver` \
         (scripts/test does), or set CHROMIUM and CHROMEDRIVER",
        chromium_path().display(),
        path.display(),
    );
    let port = StdListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(&path)
        .process_group(0)
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await
            && r.status().is_success()
        {
            return Ok(driver);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "chromedriver did not answer on {} (log: {})",
                driver.url,
                log.display()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A new browser session: its own temporary profile, so its own localStorage.
async fn session(driver: &Driver, width: u32, height: u32) -> Res<Client> {
    let mut caps = Capabilities::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium_path(),
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                // This machine has no network beyond loopback: keep Chromium
                // from trying to reach Google's services at every start.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--no-first-run",
                format!("--window-size={width},{height}"),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    Ok(ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await?)
}

/// What the page shows now: list name, item names, checked flags, total,
/// the last agent reply, visible screens, and a marker that a reload clears.
const READ_PAGE: &str = r#"
const q = (s) => document.querySelector(s);
const items = [...document.querySelectorAll('#items .item')];
const replies = [...document.querySelectorAll('#log .agent')];
return {
  list: q('#list-h').textContent,
  items: items.map((li) => li.querySelector('label').firstChild.textContent),
  checked: items.map((li) => li.querySelector('input[type=checkbox]').checked),
  total: q('#total').textContent,
  reply: replies.length ? replies[replies.length - 1].firstChild.textContent : null,
  app: !q('#app').hidden,
  signin: !q('#signin').hidden,
  who: q('#who').textContent,
  live: q('#live').dataset.state,
  sparks: document.querySelectorAll('#items svg.spark').length,
  sparks_pending: document.querySelectorAll('#items [data-pending]').length,
  marker: window.__sameDocument === true,
};
"#;

async fn read(c: &Client) -> Res<Value> {
    Ok(c.execute(READ_PAGE, vec![]).await?)
}

/// Poll the page until `ok` holds, or fail after [`WAIT`] with the last state.
async fn wait_for(c: &Client, what: &str, ok: impl Fn(&Value) -> bool) -> Res<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let page = read(c).await?;
        if ok(&page) {
            return Ok(page);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}; the page shows {page}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_in(c: &Client, base: &str, token: &str) -> Res<()> {
    c.goto(base).await?;
    wait_for(c, "the sign-in form", |p| p["signin"] == true).await?;
    c.find(Locator::Css("#token"))
        .await?
        .send_keys(token)
        .await?;
    c.find(Locator::Css("#signin-form button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_for(c, "the signed-in page, live", |p| {
        p["app"] == true && p["live"] == "live"
    })
    .await?;
    Ok(())
}

async fn ask(c: &Client, text: &str) -> Res<()> {
    c.find(Locator::Css("#ask")).await?.send_keys(text).await?;
    c.find(Locator::Css("#ask-send")).await?.click().await?;
    Ok(())
}

/// An assertion that returns an error, so the browser sessions still get closed.
fn ensure(ok: bool, what: impl FnOnce() -> String) -> Res<()> {
    if ok { Ok(()) } else { Err(what().into()) }
}

fn items(p: &Value) -> usize {
    p["items"].as_array().map_or(0, Vec::len)
}

/// `$x.yy`, not zero.
fn is_money(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.strip_prefix('$')
            .and_then(|n| n.split_once('.'))
            .is_some_and(|(d, c)| {
                !d.is_empty()
                    && d.chars().all(|ch| ch.is_ascii_digit() || ch == ',')
                    && c.len() == 2
                    && c.chars().all(|ch| ch.is_ascii_digit())
            })
            && s != "$0.00"
    })
}

async fn screenshot(c: &Client, to: &Path) -> Res<()> {
    std::fs::write(to, c.screenshot().await?)?;
    Ok(())
}

/// Give the products these requests resolve to a price history over the
/// last 90 days (a new database has none), so that sparklines show.
async fn seed_history(g: &Grocery, requests: &[&str]) -> Res<()> {
    let now = jiff::Timestamp::now();
    for text in requests {
        let plan = g.agent().preview(text).await?;
        for id in plan
            .commands
            .iter()
            .flat_map(|c| &c.items)
            .filter_map(|i| i.product_id.as_deref())
        {
            let base = g.catalog().get(id)?.price.cents;
            for (days_ago, percent) in
                [(84, 104), (63, 96), (41, 108), (25, 100), (9, 92), (2, 100)]
            {
                let at = now.checked_sub(jiff::SignedDuration::from_hours(24 * days_ago))?;
                let price = grocery_core::Money::usd(base * percent / 100);
                g.prices().record(id, "demo", price, Some(at)).await?;
            }
        }
    }
    Ok(())
}

async fn scenario(server: &Server, alice: &Client, bob: &Client, shots: &Path) -> Res<()> {
    let (alice_token, bob_token) = (server.token("alice").await?, server.token("bob").await?);
    let (first, second) = (
        "add 2 gallons of milk and a dozen eggs",
        "add a loaf of bread",
    );
    seed_history(&server.grocery, &[first, second]).await?;

    // Alice: sign in, ask, see two priced lines and a total.
    sign_in(alice, &server.base, &alice_token).await?;
    ask(alice, first).await?;
    let page = wait_for(alice, "two items and a total", |p| {
        items(p) == 2 && is_money(&p["total"]) && p["reply"].is_string()
    })
    .await?;
    let names = page["items"].to_string().to_lowercase();
    ensure(names.contains("milk") && names.contains("egg"), || {
        format!("milk and eggs on the list: {page}")
    })?;
    let total = page["total"].clone();

    // Share the list with Bob (through the API, as another client would).
    let lists: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/lists", server.base))
        .bearer_auth(&alice_token)
        .send()
        .await?
        .json()
        .await?;
    let list_id = &lists[0]["id"];
    let shared = reqwest::Client::new()
        .put(format!("{}/api/v1/lists/{list_id}/shares/bob", server.base))
        .bearer_auth(&alice_token)
        .json(&json!({"role": "editor"}))
        .send()
        .await?;
    ensure(shared.status().is_success(), || {
        format!("sharing answered {}", shared.status())
    })?;

    // Bob: the same list, the same total.
    sign_in(bob, &server.base, &bob_token).await?;
    wait_for(bob, "Alice's list with its two items", |p| {
        items(p) == 2 && p["total"] == total
    })
    .await?;
    bob.execute("window.__sameDocument = true;", vec![]).await?;

    // Alice adds bread: Bob's page shows it without reloading.
    ask(alice, second).await?;
    wait_for(alice, "bread on Alice's page", |p| items(p) == 3).await?;
    let page = wait_for(bob, "bread on Bob's page, live", |p| items(p) == 3).await?;
    ensure(page["marker"] == true, || {
        format!("Bob's page reloaded: {page}")
    })?;
    ensure(page["total"] != total, || {
        format!("the total moved with the bread: {page}")
    })?;

    // Bob checks the milk off: Alice sees it, and the total drops.
    bob.find(Locator::Css(
        "#items .item:first-child input[type=checkbox]",
    ))
    .await?
    .click()
    .await?;
    let checked = wait_for(alice, "milk checked on Alice's page", |p| {
        p["checked"][0] == true
    })
    .await?;
    wait_for(bob, "milk checked on Bob's page", |p| {
        p["checked"][0] == true
    })
    .await?;
    wait_for(alice, "a sparkline per line", |p| {
        p["sparks"] == 3 && p["sparks_pending"] == 0
    })
    .await?;
    wait_for(bob, "a sparkline per line", |p| p["sparks"] == 3).await?;
    screenshot(alice, &shots.join("alice.png")).await?;
    screenshot(bob, &shots.join("bob.png")).await?;
    ensure(checked["total"] != page["total"], || {
        format!("a checked line leaves the total: {checked}")
    })?;

    // A page that missed an update checks against an old version: the server
    // answers 412, the page reloads the list and retries once.
    bob.execute("state.list.version -= 1;", vec![]).await?;
    bob.find(Locator::Css(
        "#items .item:nth-child(2) input[type=checkbox]",
    ))
    .await?
    .click()
    .await?;
    wait_for(alice, "eggs checked after Bob's retry", |p| {
        p["checked"][1] == true
    })
    .await?;

    // Bob's socket drops; a change made meanwhile arrives when the page
    // reconnects with `after=` its last seq.
    bob.execute("state.ws.close();", vec![]).await?;
    let added = reqwest::Client::new()
        .post(format!("{}/api/v1/lists/{list_id}/items", server.base))
        .bearer_auth(&alice_token)
        .json(&json!({"name": "bananas"}))
        .send()
        .await?;
    ensure(added.status().is_success(), || {
        format!("adding bananas answered {}", added.status())
    })?;
    let page = wait_for(bob, "bananas on Bob's page after reconnecting", |p| {
        items(p) == 4 && p["live"] == "live"
    })
    .await?;
    ensure(page["marker"] == true, || {
        format!("Bob's page reloaded: {page}")
    })?;
    Ok(())
}

/// A server in single-user mode: the page works without a token.
async fn single_user(c: &Client, dir: &Path) -> Res<()> {
    let server = start_server(dir, true).await?;
    let result = async {
        c.goto(&server.base).await?;
        wait_for(c, "the page without sign-in", |p| {
            p["app"] == true && p["signin"] == false && p["who"] == "Single-user mode"
        })
        .await?;
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    }
    .await;
    server.shutdown().await;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_share_a_live_list() -> Res<()> {
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let server = start_server(dir.path(), false).await?;
    let driver = start_driver(&dir.path().join("chromedriver.log")).await?;
    let alice = session(&driver, 1280, 860).await?;
    let bob = match session(&driver, 412, 860).await {
        Ok(b) => b,
        Err(e) => {
            let _ = alice.close().await;
            return Err(e);
        }
    };
    let mut result = scenario(&server, &alice, &bob, dir.path()).await;
    if result.is_ok() {
        result = single_user(&bob, dir.path()).await;
    }
    // Always end the browser sessions, so no Chromium outlives the test.
    let _ = alice.close().await;
    let _ = bob.close().await;
    drop(driver);
    server.shutdown().await;
    result?;

    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap_or(Path::new("target"));
    std::fs::copy(dir.path().join("alice.png"), target.join("browser-e2e.png"))?;
    std::fs::copy(
        dir.path().join("bob.png"),
        target.join("browser-e2e-phone.png"),
    )?;
    eprintln!(
        "screenshots: {} (alice.png, bob.png), {} (and -phone.png); {:.1} s",
        dir.path().display(),
        target.join("browser-e2e.png").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
