//! Load harness for the HTTP server: the old system's scenarios against a
//! release `grocery-server` on loopback, printed as one JSON document. A
//! benchmark, not a test.
//!
//! Run with:
//!
//! ```sh
//! cargo build --release -p grocery-http --bin grocery-server
//! cargo bench --bench load -- --quick   # about 40 s: 5 s phases, 1,000 subscribers
//! cargo bench --bench load              # the full run: about 5 minutes
//! ```
//!
//! What it does, in one run:
//! 1. creates `max(--users, --spike-users)` users with tokens, each with a
//!    default list, by opening a temporary database with `grocery_core`;
//! 2. starts `grocery-server` (next to this binary in `target/release`, or
//!    `--server PATH`) on `127.0.0.1:0` over that database, with a config file
//!    that lifts the per-user rate limit (a closed-loop user with no think time
//!    asks far more often than the default 50 requests per second);
//! 3. phases, each with fresh keep-alive connections (one per user, opened by
//!    its first request, which is timed with it), closed loop (a user sends its
//!    next request when the last answer is read; `--think-ms` adds a pause):
//!    `health` (`GET /health/live` alone, the ceiling), `agent` (agent requests
//!    alone), `sustained` (the realistic mix) and `spike` (the mix at
//!    `--spike-users`), after an unreported warm-up;
//! 4. `websocket`: one list shared by its owner with every other user (as
//!    editors), `--subscribers` WebSocket connections spread over the users
//!    (several devices each), server RSS with them idle, then three rounds of
//!    one item added to the shared list, timing until every subscriber has the
//!    `list_changed` event.
//!
//! Client and server share the machine: by default the server is pinned to
//! CPU 0 (`taskset -c 0`) and this process to the others (`--no-pin` turns it
//! off). The open-file limit is raised to its hard limit here, and the server
//! inherits it.
//!
//! Latencies are from the client: request sent to the whole body read, in
//! microseconds into HDR histograms (reported in milliseconds). Non-2xx
//! answers are counted by status and timed; transport errors (connect, reset,
//! a 30 s timeout) are counted apart and not timed.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use grocery_core::Grocery;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

const HELP: &str = "\
load: the HTTP server under load; prints one JSON document on stdout.

  --quick              5 s phases, 1,000 subscribers (under a minute)
  --users N            concurrent users in the health, agent and sustained phases (100)
  --spike-users N      concurrent users in the spike (500)
  --secs S             sustained phase (60; quick 5)
  --spike-secs S       spike phase (30; quick 5)
  --ceiling-secs S     health and agent-only phases each (20; quick 5)
  --warmup-secs S      unreported warm-up on the mix (5; quick 1)
  --subscribers N      idle WebSocket subscribers (10000; quick 1000)
  --think-ms MS        pause between a user's requests (0: closed loop)
  --server PATH        the grocery-server binary (default: next to this one)
  --no-pin             do not pin the server to CPU 0 and the client to the rest
";

/// Command-line settings.
#[derive(Debug, Clone)]
struct Args {
    users: usize,
    spike_users: usize,
    secs: u64,
    spike_secs: u64,
    ceiling_secs: u64,
    warmup_secs: u64,
    subscribers: usize,
    think_ms: u64,
    server: Option<PathBuf>,
    pin: bool,
    quick: bool,
}

impl Args {
    fn parse() -> Res<Args> {
        let raw: Vec<String> = std::env::args().skip(1).collect();
        let quick = raw.iter().any(|a| a == "--quick");
        let mut a = Args {
            users: 100,
            spike_users: 500,
            secs: if quick { 5 } else { 60 },
            spike_secs: if quick { 5 } else { 30 },
            ceiling_secs: if quick { 5 } else { 20 },
            warmup_secs: if quick { 1 } else { 5 },
            subscribers: if quick { 1_000 } else { 10_000 },
            think_ms: 0,
            server: None,
            pin: true,
            quick,
        };
        let mut it = raw.into_iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--quick" => {}
                // `cargo bench` passes --bench to harness-less benchmarks.
                "--bench" => {}
                "--users" => a.users = value()?.parse()?,
                "--spike-users" => a.spike_users = value()?.parse()?,
                "--secs" => a.secs = value()?.parse()?,
                "--spike-secs" => a.spike_secs = value()?.parse()?,
                "--ceiling-secs" => a.ceiling_secs = value()?.parse()?,
                "--warmup-secs" => a.warmup_secs = value()?.parse()?,
                "--subscribers" => a.subscribers = value()?.parse()?,
                "--think-ms" => a.think_ms = value()?.parse()?,
                "--server" => a.server = Some(value()?.into()),
                "--no-pin" => a.pin = false,
                "-h" | "--help" => {
                    print!("{HELP}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument `{other}` (try --help)").into()),
            }
        }
        if a.users == 0 || a.spike_users == 0 {
            return Err("--users and --spike-users must be at least 1".into());
        }
        Ok(a)
    }
}

// ---- request kinds and the mix --------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Health,
    AgentAdd,
    AgentRemove,
    AgentShow,
    ListRead,
    ItemWrite,
    PriceRead,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Health,
        Kind::AgentAdd,
        Kind::AgentRemove,
        Kind::AgentShow,
        Kind::ListRead,
        Kind::ItemWrite,
        Kind::PriceRead,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Health => "health_live",
            Kind::AgentAdd => "agent_add",
            Kind::AgentRemove => "agent_remove",
            Kind::AgentShow => "agent_show",
            Kind::ListRead => "list_read",
            Kind::ItemWrite => "item_write",
            Kind::PriceRead => "price_read",
        }
    }

    fn is_agent(self) -> bool {
        matches!(self, Kind::AgentAdd | Kind::AgentRemove | Kind::AgentShow)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What a phase's users ask for.
#[derive(Debug, Clone, Copy)]
enum Mix {
    /// `GET /health/live` only.
    Health,
    /// Agent requests only (add, remove, show in turn).
    Agent,
    /// The realistic mix: 40% agent (15 add, 10 remove, 15 show), 25% list
    /// reads, 20% item writes, 15% price reads.
    Realistic,
}

impl Mix {
    fn pick(self, rng: &mut Rng) -> Kind {
        match self {
            Mix::Health => Kind::Health,
            Mix::Agent => {
                [Kind::AgentAdd, Kind::AgentRemove, Kind::AgentShow][rng.below(3) as usize]
            }
            Mix::Realistic => match rng.below(100) {
                0..15 => Kind::AgentAdd,
                15..25 => Kind::AgentRemove,
                25..40 => Kind::AgentShow,
                40..65 => Kind::ListRead,
                65..85 => Kind::ItemWrite,
                _ => Kind::PriceRead,
            },
        }
    }
}

/// xorshift64*: enough for picking requests, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

const AGENT_ADD: &str = r#"{"text":"add 2 gallons of milk and a dozen eggs","session":"load"}"#;
const AGENT_REMOVE: &str = r#"{"text":"remove eggs","session":"load"}"#;
const AGENT_SHOW: &str = r#"{"text":"what's on my list","session":"load"}"#;
/// Item writes cycle through these; each merges into the item already there,
/// so lists stay small.
const ITEM_NAMES: &[&str] = &[
    "apples", "butter", "coffee", "bread", "bananas", "yogurt", "rice", "pasta",
];

// ---- users, the server and /proc -------------------------------------------

/// One user of the test: name, `Authorization` value and default list.
#[derive(Debug, Clone)]
struct LoadUser {
    name: String,
    token: String,
    auth: HeaderValue,
    items_path: String,
}

/// What every request needs.
struct Ctx {
    addr: SocketAddr,
    host: HeaderValue,
    users: Vec<LoadUser>,
    price_paths: Vec<String>,
    item_bodies: Vec<Bytes>,
    server_pid: u32,
    think: Duration,
}

/// The server's settings for the test: the per-user rate limit lifted, room
/// for every subscriber; everything else is the default.
fn server_config(subscribers: usize) -> String {
    format!(
        "[server]\nrate_per_user_per_sec = 1000000\nrate_burst = 1000000\nmax_subscribers = {}\n",
        subscribers + 1_000
    )
}

/// Users with tokens and default lists, and the product ids prices are read for.
async fn seed(config: grocery_core::Config, n: usize) -> Res<(Vec<LoadUser>, Vec<String>)> {
    let g = Grocery::open(config).await?;
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let issued = g.users().add_with_token(&format!("load{i}")).await?;
        let list = g
            .lists_for(issued.user.id)
            .find_or_create(grocery_core::lists::DEFAULT_LIST)
            .await?;
        users.push(LoadUser {
            name: issued.user.name.clone(),
            auth: HeaderValue::from_str(&format!("Bearer {}", issued.token))?,
            token: issued.token,
            items_path: format!("/api/v1/lists/{}/items", list.id.0),
        });
    }
    let products = g.catalog().most_popular(200);
    g.flush().await?;
    Ok((users, products))
}

/// The server binary: `--server`, else `grocery-server` beside this binary's
/// folder (`target/release/deps/load-*` -> `target/release/grocery-server`).
fn server_binary(args: &Args) -> Res<PathBuf> {
    if let Some(p) = &args.server {
        return Ok(p.clone());
    }
    let exe = std::env::current_exe()?;
    let candidates = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|d| d.join("grocery-server"));
    for c in candidates {
        if c.is_file() {
            return Ok(c);
        }
    }
    Err(format!(
        "no grocery-server next to {}: run `cargo build --release -p grocery-http --bin grocery-server` \
         (with the same CARGO_TARGET_DIR) or pass --server PATH",
        exe.display()
    )
    .into())
}

/// The running server, its address, and counts of what it logged.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    warnings: Arc<AtomicUsize>,
}

fn start_server(
    bin: &Path,
    db: &Path,
    config: &Path,
    log: &Path,
    cpu: Option<&str>,
) -> Res<Server> {
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.arg("--bind")
        .arg("127.0.0.1:0")
        .arg("--db")
        .arg(db)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    let warnings = Arc::new(AtomicUsize::new(0));
    let counted = warnings.clone();
    let mut file = std::fs::File::create(log)?;
    // Drain the server's log into a file (a full pipe would block it), and
    // pick the bound address out of it.
    std::thread::spawn(move || {
        use std::io::Write;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("listening on http://").nth(1)
                && let Some(Ok(a)) = rest.split_whitespace().next().map(str::parse)
            {
                let _ = tx.send(a);
            }
            if line.contains("WARN") || line.contains("ERROR") {
                counted.fetch_add(1, Ordering::Relaxed);
            }
            let _ = writeln!(file, "{line}");
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(120)).map_err(|_| {
        format!(
            "the server did not say where it listens; see {}",
            log.display()
        )
    })?;
    Ok(Server {
        child,
        addr,
        log: log.to_path_buf(),
        warnings,
    })
}

impl Server {
    /// SIGTERM, then wait (killing it after 20 s).
    fn stop(mut self) -> Res<Option<i32>> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.code());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        Ok(self.child.wait()?.code())
    }
}

/// VmRSS of a process, in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The parts of a process's RSS, in MB: anonymous memory (heap, stacks),
/// file-backed pages (the mapped database, the binary) and shared memory.
fn rss_parts(pid: u32) -> Value {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0.0, mb)
    };
    json!({"anon": field("RssAnon:"), "file": field("RssFile:"), "shmem": field("RssShmem:")})
}

/// CPU time (user + system) of a process (`None`: this one), in seconds;
/// assumes the usual 100 clock ticks per second.
fn cpu_secs(pid: Option<u32>) -> f64 {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_string(),
        |p| format!("/proc/{p}/stat"),
    );
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): state is the
    // 3rd field, utime the 14th, stime the 15th.
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// Open sockets and files of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Samples a process's RSS every 100 ms on its own thread (the runtime may
/// be saturated), keeping the peak and the last value.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    last: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let last = Arc::new(AtomicU64::new(0));
        let (s, p, l) = (stop.clone(), peak.clone(), last.clone());
        let thread = std::thread::spawn(move || {
            loop {
                if let Some(kb) = rss_kb(pid) {
                    p.fetch_max(kb, Ordering::Relaxed);
                    l.store(kb, Ordering::Relaxed);
                }
                if s.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        RssSampler {
            stop,
            peak,
            last,
            thread,
        }
    }

    /// Peak and last RSS, in MB.
    fn finish(self) -> (f64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        (
            mb(self.peak.load(Ordering::Relaxed)),
            mb(self.last.load(Ordering::Relaxed)),
        )
    }
}

fn mb(kb: u64) -> f64 {
    round1(kb as f64 / 1024.0)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ---- HTTP ------------------------------------------------------------------

type Sender = SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Res<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One request on `sender` (connecting first when there is none); the status
/// once the whole body is read.
async fn send(
    ctx: &Ctx,
    sender: &mut Option<Sender>,
    method: Method,
    path: &str,
    auth: Option<&HeaderValue>,
    body: Option<Bytes>,
) -> Res<(StatusCode, Bytes)> {
    if sender.as_ref().is_none_or(|s| s.is_closed()) {
        *sender = Some(connect(ctx.addr).await?);
    }
    let s = sender.as_mut().ok_or("no connection")?;
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, ctx.host.clone());
    if let Some(a) = auth {
        req = req.header(AUTHORIZATION, a.clone());
    }
    if body.is_some() {
        req = req.header(CONTENT_TYPE, "application/json");
    }
    let req = req.body(Full::new(body.unwrap_or_default()))?;
    s.ready().await?;
    let res = s.send_request(req).await?;
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// One user's request of `kind`.
async fn request(
    ctx: &Ctx,
    user: &LoadUser,
    sender: &mut Option<Sender>,
    kind: Kind,
    rng: &mut Rng,
) -> Res<StatusCode> {
    let auth = Some(&user.auth);
    let r = match kind {
        Kind::Health => send(ctx, sender, Method::GET, "/health/live", None, None).await,
        Kind::AgentAdd | Kind::AgentRemove | Kind::AgentShow => {
            let body = match kind {
                Kind::AgentAdd => AGENT_ADD,
                Kind::AgentRemove => AGENT_REMOVE,
                _ => AGENT_SHOW,
            };
            let body = Some(Bytes::from_static(body.as_bytes()));
            send(ctx, sender, Method::POST, "/api/v1/agent", auth, body).await
        }
        Kind::ListRead => send(ctx, sender, Method::GET, "/api/v1/lists", auth, None).await,
        Kind::ItemWrite => {
            let body = ctx.item_bodies[rng.below(ctx.item_bodies.len() as u64) as usize].clone();
            send(
                ctx,
                sender,
                Method::POST,
                &user.items_path,
                auth,
                Some(body),
            )
            .await
        }
        Kind::PriceRead => {
            let path = &ctx.price_paths[rng.below(ctx.price_paths.len() as u64) as usize];
            send(ctx, sender, Method::GET, path, auth, None).await
        }
    };
    r.map(|(status, _)| status)
}

/// Counts and latencies of one kind of request in one phase.
#[derive(Clone)]
struct KindStats {
    hist: Histogram<u64>,
    status: BTreeMap<u16, u64>,
    transport: u64,
}

impl KindStats {
    fn new() -> KindStats {
        KindStats {
            // 1 µs to 100 s, 3 significant digits.
            hist: Histogram::new_with_bounds(1, 100_000_000, 3).unwrap_or_else(|_| {
                Histogram::new(3).unwrap_or_else(|_| unreachable!("3 digits are valid"))
            }),
            status: BTreeMap::new(),
            transport: 0,
        }
    }

    fn add(&mut self, other: &KindStats) {
        let _ = self.hist.add(&other.hist);
        for (s, n) in &other.status {
            *self.status.entry(*s).or_default() += n;
        }
        self.transport += other.transport;
    }

    fn http_errors(&self) -> u64 {
        self.status
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    fn p99_ms(&self) -> f64 {
        self.hist.value_at_quantile(0.99) as f64 / 1000.0
    }

    fn report(&self, secs: f64) -> Value {
        let ms = |us: u64| round3(us as f64 / 1000.0);
        let h = &self.hist;
        let responses = h.len();
        let errors: BTreeMap<String, u64> = self
            .status
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(s, n)| (s.to_string(), *n))
            .collect();
        json!({
            "requests": responses + self.transport,
            "throughput_rps": round1((responses) as f64 / secs),
            "latency_ms": {
                "p50": ms(h.value_at_quantile(0.50)),
                "p95": ms(h.value_at_quantile(0.95)),
                "p99": ms(h.value_at_quantile(0.99)),
                "max": ms(h.max()),
                "mean": round3(h.mean() / 1000.0),
            },
            "errors": {
                "http_non_2xx": self.http_errors(),
                "http_by_status": errors,
                "transport": self.transport,
            },
        })
    }
}

/// One user's loop until `deadline`: its own connection, its own counts.
/// The stats by kind, and the user's first request (which opens its
/// connection) again on its own.
async fn user_loop(
    ctx: Arc<Ctx>,
    user: usize,
    mix: Mix,
    deadline: Instant,
) -> (Vec<KindStats>, KindStats) {
    let mut stats: Vec<KindStats> = Kind::ALL.iter().map(|_| KindStats::new()).collect();
    let mut first = KindStats::new();
    let mut is_first = true;
    let mut rng = Rng::new(user as u64 + 1);
    let mut sender = None;
    let u = &ctx.users[user % ctx.users.len()];
    while Instant::now() < deadline {
        let kind = mix.pick(&mut rng);
        let started = Instant::now();
        let outcome = tokio::time::timeout(
            Duration::from_secs(30),
            request(&ctx, u, &mut sender, kind, &mut rng),
        )
        .await;
        let s = &mut stats[kind.index()];
        match outcome {
            Ok(Ok(status)) => {
                let us = started.elapsed().as_micros().max(1) as u64;
                let _ = s.hist.record(us.min(100_000_000));
                *s.status.entry(status.as_u16()).or_default() += 1;
                if is_first {
                    let _ = first.hist.record(us.min(100_000_000));
                    *first.status.entry(status.as_u16()).or_default() += 1;
                }
            }
            Ok(Err(_)) | Err(_) => {
                s.transport += 1;
                sender = None;
            }
        }
        is_first = false;
        if !ctx.think.is_zero() {
            tokio::time::sleep(ctx.think).await;
        }
    }
    (stats, first)
}

/// Run `users` users on `mix` for `secs`; the phase's JSON and its stats by kind.
async fn phase(
    ctx: &Arc<Ctx>,
    name: &str,
    users: usize,
    mix: Mix,
    secs: u64,
) -> Res<(Value, Vec<KindStats>, f64)> {
    eprintln!("load: phase {name}: {users} users, {secs} s");
    let sampler = RssSampler::start(ctx.server_pid);
    let (server_cpu0, client_cpu0) = (cpu_secs(Some(ctx.server_pid)), cpu_secs(None));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..users)
        .map(|u| tokio::spawn(user_loop(ctx.clone(), u, mix, deadline)))
        .collect();
    let mut by_kind: Vec<KindStats> = Kind::ALL.iter().map(|_| KindStats::new()).collect();
    let mut firsts = KindStats::new();
    for t in tasks {
        let (stats, first) = t.await?;
        for (total, s) in by_kind.iter_mut().zip(stats) {
            total.add(&s);
        }
        firsts.add(&first);
    }
    let wall = started.elapsed().as_secs_f64();
    let (server_cpu, client_cpu) = (
        cpu_secs(Some(ctx.server_pid)) - server_cpu0,
        cpu_secs(None) - client_cpu0,
    );
    let (rss_peak, rss_end) = sampler.finish();
    let mut kinds = serde_json::Map::new();
    let mut agent = KindStats::new();
    let mut all = KindStats::new();
    for k in Kind::ALL {
        let s = &by_kind[k.index()];
        if s.hist.is_empty() && s.transport == 0 {
            continue;
        }
        kinds.insert(k.name().into(), s.report(wall));
        if k.is_agent() {
            agent.add(s);
        }
        all.add(s);
    }
    if !agent.hist.is_empty() {
        kinds.insert("agent".into(), agent.report(wall));
    }
    let report = json!({
        "users": users,
        "seconds": round3(wall),
        "all": all.report(wall),
        // Included in "all": each user's first request, which opens its
        // connection (its throughput figure means nothing).
        "first_requests": firsts.report(wall),
        "by_kind": kinds,
        "server_rss_mb": { "peak": rss_peak, "end": rss_end },
        "cpu_busy_fraction": {
            "server": round3(server_cpu / wall),
            "client": round3(client_cpu / wall),
        },
    });
    let mut summary = by_kind;
    summary.push(agent);
    summary.push(all);
    Ok((report, summary, wall))
}

// ---- WebSocket ---------------------------------------------------------------

/// Idle subscribers, then rounds of one list change each, timed to the last
/// subscriber.
async fn websocket(ctx: &Arc<Ctx>, subscribers: usize) -> Res<Value> {
    eprintln!("load: websocket: sharing one list, {subscribers} subscribers");
    let pid = ctx.server_pid;
    let owner = &ctx.users[0];
    let mut conn = None;
    // The shared list: created by user 0, shared with every other user.
    let (status, body) = send(
        ctx,
        &mut conn,
        Method::POST,
        "/api/v1/lists",
        Some(&owner.auth),
        Some(Bytes::from_static(br#"{"name":"Household"}"#)),
    )
    .await?;
    if !status.is_success() {
        return Err(format!("creating the shared list: {status}").into());
    }
    let list_id = serde_json::from_slice::<Value>(&body)?["id"]
        .as_i64()
        .ok_or("no list id")?;
    let sharing = Instant::now();
    let holders = ctx.users.len().min(subscribers.max(1));
    for u in &ctx.users[1..holders] {
        let (status, _) = send(
            ctx,
            &mut conn,
            Method::PUT,
            &format!("/api/v1/lists/{list_id}/shares/{}", u.name),
            Some(&owner.auth),
            Some(Bytes::from_static(br#"{"role":"editor"}"#)),
        )
        .await?;
        if !status.is_success() {
            return Err(format!("sharing with {}: {status}", u.name).into());
        }
    }
    let sharing_secs = sharing.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kb(pid).map_or(0.0, mb);

    // Connect, at most 256 handshakes at a time; each waits for `ready`.
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let (event_tx, mut event_rx) = tokio::sync::mpsc::unbounded_channel::<(i64, Instant)>();
    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
    let connecting = Instant::now();
    let sampler = RssSampler::start(pid);
    let mut tasks = Vec::with_capacity(subscribers);
    for i in 0..subscribers {
        let url = format!(
            "ws://{}/api/v1/ws?access_token={}",
            ctx.addr,
            ctx.users[i % holders].token
        );
        let (gate, ready_tx, event_tx, mut close_rx) = (
            gate.clone(),
            ready_tx.clone(),
            event_tx.clone(),
            close_rx.clone(),
        );
        tasks.push(tokio::spawn(async move {
            // Held until `ready`, so that at most 256 handshakes (with their
            // backlog reads) run at once; after that a connection only waits.
            let Ok(permit) = gate.acquire_owned().await else {
                return;
            };
            let mut permit = Some(permit);
            // Small buffers: 10,000 clients at the default 128 KiB each
            // would be the client's memory problem, not the server's.
            let config = WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(0);
            let connected = tokio::time::timeout(
                Duration::from_secs(30),
                tokio_tungstenite::connect_async_with_config(url, Some(config), true),
            )
            .await;
            let Ok(Ok((mut ws, _))) = connected else {
                let _ = ready_tx.send(false);
                return;
            };
            let mut ready = false;
            loop {
                tokio::select! {
                    msg = ws.next() => {
                        let Some(Ok(Message::Text(text))) = msg else {
                            if matches!(msg, Some(Ok(_))) {
                                continue;
                            }
                            if !ready {
                                let _ = ready_tx.send(false);
                            }
                            return;
                        };
                        let at = Instant::now();
                        if !ready {
                            if text.contains(r#""event":"ready""#) {
                                ready = true;
                                let _ = ready_tx.send(true);
                                permit.take();
                            }
                            continue;
                        }
                        if !text.contains("list_changed") {
                            continue;
                        }
                        let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                        if v["list_id"].as_i64() == Some(list_id) {
                            let _ = event_tx.send((v["seq"].as_i64().unwrap_or(0), at));
                        }
                    }
                    _ = close_rx.changed() => {
                        let _ = ws.close(None).await;
                        return;
                    }
                }
            }
        }));
    }
    drop(ready_tx);
    let mut connected = 0usize;
    let mut failed = 0usize;
    while connected + failed < subscribers {
        match tokio::time::timeout(Duration::from_secs(60), ready_rx.recv()).await {
            Ok(Some(true)) => connected += 1,
            Ok(Some(false)) => failed += 1,
            Ok(None) | Err(_) => break,
        }
    }
    let connect_secs = connecting.elapsed().as_secs_f64();
    eprintln!("load: websocket: {connected} connected, {failed} failed in {connect_secs:.1} s");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = rss_kb(pid).map_or(0.0, mb);
    let rss_idle_parts = rss_parts(pid);
    let fds = open_fds(pid);

    // Rounds: one item added to the shared list by its owner.
    let mut rounds = Vec::new();
    let mut last_seq = 0i64;
    let mut worst_ms: Option<f64> = None;
    let mut all_delivered = connected > 0;
    for (round, name) in ["paper towels", "dish soap", "coffee filters"]
        .iter()
        .enumerate()
    {
        // Drop anything left from an earlier round.
        while event_rx.try_recv().is_ok() {}
        let round_sampler = RssSampler::start(pid);
        let body = Bytes::from(serde_json::to_vec(&json!({ "name": name }))?);
        let t0 = Instant::now();
        let (status, _) = send(
            ctx,
            &mut conn,
            Method::POST,
            &format!("/api/v1/lists/{list_id}/items"),
            Some(&owner.auth),
            Some(body),
        )
        .await?;
        let write_ms = t0.elapsed().as_secs_f64() * 1000.0;
        let mut hist = KindStats::new().hist;
        let mut seq = None;
        let until = t0 + Duration::from_secs(10);
        while (hist.len() as usize) < connected {
            let left = until.saturating_duration_since(Instant::now());
            let Ok(Some((s, at))) = tokio::time::timeout(left, event_rx.recv()).await else {
                break;
            };
            if s <= last_seq || seq.is_some_and(|q| q != s) {
                continue;
            }
            seq = Some(s);
            let us = at.duration_since(t0).as_micros().max(1) as u64;
            let _ = hist.record(us);
        }
        last_seq = seq.unwrap_or(last_seq);
        let (rss_peak, _) = round_sampler.finish();
        let delivered = hist.len() as usize;
        let all_ms = (delivered == connected).then(|| round3(hist.max() as f64 / 1000.0));
        all_delivered &= delivered == connected;
        if let Some(ms) = all_ms {
            worst_ms = Some(worst_ms.map_or(ms, |w: f64| w.max(ms)));
        }
        let q = |x: f64| round3(hist.value_at_quantile(x) as f64 / 1000.0);
        rounds.push(json!({
            "round": round + 1,
            "write_status": status.as_u16(),
            "write_ms": round3(write_ms),
            "delivered": delivered,
            "expected": connected,
            "first_ms": round3(hist.min() as f64 / 1000.0),
            "p50_ms": q(0.5),
            "p99_ms": q(0.99),
            "all_received_ms": all_ms,
            "server_rss_peak_mb": rss_peak,
        }));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (rss_peak, rss_end) = sampler.finish();
    let _ = close_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    Ok(json!({
        "subscribers": subscribers,
        "connected": connected,
        "connect_failures": failed,
        "users_holding_them": holders,
        "shared_list_audience": holders,
        "sharing_setup_secs": round3(sharing_secs),
        "connect_secs": round3(connect_secs),
        "server_open_fds": fds,
        "server_rss_mb": {
            "before_connecting": rss_before,
            "idle_with_subscribers": rss_idle,
            "idle_parts": rss_idle_parts,
            "peak": rss_peak,
            "end": rss_end,
        },
        "rounds": rounds,
        "all_delivered_every_round": all_delivered,
        "worst_all_received_ms": worst_ms,
    }))
}

// ---- main ------------------------------------------------------------------

fn main() {
    match run() {
        Ok(doc) => println!(
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_else(|e| e.to_string())
        ),
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(1);
        }
    }
}

fn run() -> Res<Value> {
    let args = Args::parse()?;
    // The subscribers need a descriptor each, here and in the server (which
    // inherits this limit).
    let nofile_before = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let nofile = rlimit::increase_nofile_limit(u64::MAX)?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = args.pin && cpus >= 2 && Command::new("taskset").arg("-V").output().is_ok();
    let client_cpus = format!("1-{}", cpus - 1);
    if pinned {
        // Before the runtime starts: its threads inherit the mask.
        let ok = Command::new("taskset")
            .args([
                "-a",
                "-p",
                "-c",
                &client_cpus,
                &std::process::id().to_string(),
            ])
            .stdout(Stdio::null())
            .status()?
            .success();
        if !ok {
            return Err("taskset could not pin the client".into());
        }
    }
    let workers = if pinned { cpus - 1 } else { cpus };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_all()
        .build()?;
    let pinning = if pinned {
        json!({"server": "0", "client": client_cpus})
    } else {
        json!(null)
    };
    rt.block_on(run_async(args, pinning, cpus, nofile_before.0, nofile))
}

async fn run_async(
    args: Args,
    pinning: Value,
    cpus: usize,
    nofile_before: u64,
    nofile: u64,
) -> Res<Value> {
    let load_start = loadavg();
    let bin = server_binary(&args)?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("load.db");
    let config_path = dir.path().join("grocery.toml");
    let config_text = server_config(args.subscribers);
    std::fs::write(&config_path, &config_text)?;
    let mut config = grocery_core::Config::load(Some(&config_path))?;
    config.store.path = Some(db.clone());

    let n_users = args.users.max(args.spike_users);
    eprintln!("load: creating {n_users} users with tokens");
    let seeding = Instant::now();
    let (users, products) = seed(config, n_users).await?;
    let seed_secs = seeding.elapsed().as_secs_f64();

    let server = start_server(
        &bin,
        &db,
        &config_path,
        &dir.path().join("server.log"),
        (!pinning.is_null()).then_some("0"),
    )?;
    let ctx = Arc::new(Ctx {
        addr: server.addr,
        host: HeaderValue::from_str(&server.addr.to_string())?,
        users,
        price_paths: products
            .iter()
            .map(|p| format!("/api/v1/prices/{p}"))
            .collect(),
        item_bodies: ITEM_NAMES
            .iter()
            .map(|n| Bytes::from(format!(r#"{{"name":"{n}"}}"#)))
            .collect(),
        server_pid: server.child.id(),
        think: Duration::from_millis(args.think_ms),
    });
    let rss_start = rss_kb(ctx.server_pid).map_or(0.0, mb);
    eprintln!("load: server {} on {}", bin.display(), ctx.addr);

    let outcome = phases(&ctx, &args).await;
    let warnings = server.warnings.load(Ordering::Relaxed);
    let log = server.log.clone();
    let exit = server.stop()?;
    let (report, verdicts) = outcome?;
    let load_end = loadavg();
    // Keep the log when the server complained.
    if warnings > 0 {
        let kept = std::env::temp_dir().join("grocery-load-server.log");
        let _ = std::fs::copy(&log, &kept);
        eprintln!(
            "load: the server logged {warnings} warnings; {}",
            kept.display()
        );
    }
    Ok(json!({
        "tool": "grocery-agent benches/load.rs",
        "mode": if args.quick { "quick" } else { "full" },
        "machine": {
            "cpus": cpus,
            "client_worker_threads": if pinning.is_null() { cpus } else { cpus - 1 },
            "pinning": pinning,
            "loadavg_1m_start": load_start,
            "loadavg_1m_end": load_end,
            "nofile_limit": {"before": nofile_before, "raised_to": nofile, "server": "inherited"},
        },
        "setup": {
            "server": bin.display().to_string(),
            "server_config": config_text,
            "users_created": n_users,
            "seed_secs": round3(seed_secs),
            "server_rss_mb_at_start": rss_start,
            "think_ms": args.think_ms,
            "mix": "realistic: 15% agent add ('add 2 gallons of milk and a dozen eggs'), 10% agent remove ('remove eggs'), 15% agent show (\"what's on my list\"), 25% GET /api/v1/lists, 20% POST /api/v1/lists/{id}/items, 15% GET /api/v1/prices/{id} (200 most popular products)",
            "server_warnings_logged": warnings,
            "server_exit_code": exit,
        },
        "goals": goals_text(),
        "old_system": {
            "p95_ms": 287,
            "requests_per_minute": 60,
            "spike_success_percent": 98.2,
            "memory_gb": 8.4,
        },
        "results": report,
        "verdict": verdicts,
    }))
}

fn goals_text() -> Value {
    json!({
        "agent_p99_ms_at_100_users": "<= 10",
        "agent_throughput_vs_health_live": ">= 0.25",
        "spike_500_users": "zero errors, p99 <= 100 ms",
        "websocket_10k_idle": "server RSS <= 200 MB, one event to all within 1000 ms",
    })
}

async fn phases(ctx: &Arc<Ctx>, args: &Args) -> Res<(Value, Value)> {
    // Warm-up: caches, SQLite pages, the allocator; not reported.
    if args.warmup_secs > 0 {
        phase(ctx, "warmup", args.users, Mix::Realistic, args.warmup_secs).await?;
    }
    let (health, health_s, health_wall) =
        phase(ctx, "health", args.users, Mix::Health, args.ceiling_secs).await?;
    let (agent, agent_s, agent_wall) =
        phase(ctx, "agent", args.users, Mix::Agent, args.ceiling_secs).await?;
    let (sustained, sustained_s, sustained_wall) =
        phase(ctx, "sustained", args.users, Mix::Realistic, args.secs).await?;
    let (spike, spike_s, _) = phase(
        ctx,
        "spike",
        args.spike_users,
        Mix::Realistic,
        args.spike_secs,
    )
    .await?;
    let ws = websocket(ctx, args.subscribers).await?;

    // Summaries: [kinds..., agent, all].
    let agent_of = |s: &Vec<KindStats>| s[Kind::ALL.len()].clone();
    let all_of = |s: &Vec<KindStats>| s[Kind::ALL.len() + 1].clone();
    let health_rps = all_of(&health_s).hist.len() as f64 / health_wall;
    let agent_only_rps = agent_of(&agent_s).hist.len() as f64 / agent_wall;
    let sustained_agent = agent_of(&sustained_s);
    let mix_agent_rps = sustained_agent.hist.len() as f64 / sustained_wall;
    let spike_all = all_of(&spike_s);
    let spike_errors = spike_all.http_errors() + spike_all.transport;
    let ws_rss = ws["server_rss_mb"]["idle_with_subscribers"]
        .as_f64()
        .unwrap_or(f64::MAX);
    let ws_peak = ws["server_rss_mb"]["peak"].as_f64().unwrap_or(f64::MAX);
    let ws_worst = ws["worst_all_received_ms"].as_f64();
    let ws_all = ws["all_delivered_every_round"].as_bool().unwrap_or(false);
    let full_ws = args.subscribers >= 10_000;
    let verdict = json!({
        "agent_p99_ms_at_100_users": {
            "goal": "<= 10",
            "sustained_mix": round3(sustained_agent.p99_ms()),
            "agent_only": round3(agent_of(&agent_s).p99_ms()),
            "met": sustained_agent.p99_ms() <= 10.0 && agent_of(&agent_s).p99_ms() <= 10.0,
            "users": args.users,
        },
        "agent_throughput_vs_health_live": {
            "goal": ">= 0.25",
            "health_live_rps": round1(health_rps),
            "agent_only_rps": round1(agent_only_rps),
            "ratio": round3(agent_only_rps / health_rps.max(1e-9)),
            "agent_rps_within_mix": round1(mix_agent_rps),
            "met": agent_only_rps >= 0.25 * health_rps,
        },
        "spike": {
            "goal": "zero errors, p99 <= 100 ms",
            "users": args.spike_users,
            "errors": spike_errors,
            "p99_ms": round3(spike_all.p99_ms()),
            "met": spike_errors == 0 && spike_all.p99_ms() <= 100.0,
        },
        "websocket": {
            "goal": "10,000 idle subscribers, RSS <= 200 MB, event to all within 1000 ms",
            "subscribers": args.subscribers,
            "rss_idle_mb": ws_rss,
            "rss_peak_mb": ws_peak,
            "worst_all_received_ms": ws_worst,
            "met": ws_all && ws_peak <= 200.0 && ws_worst.is_some_and(|w| w <= 1000.0),
            "note": if full_ws { "" } else { "fewer than 10,000 subscribers: not the goal's scale" },
        },
    });
    Ok((
        json!({
            "health_live": health,
            "agent_only": agent,
            "sustained": sustained,
            "spike": spike,
            "websocket": ws,
        }),
        verdict,
    ))
}
