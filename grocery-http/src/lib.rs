//! # grocery-http
//!
//! The HTTP front end of Grocery Agent: an axum [`Router`] over one
//! [`grocery_core::Grocery`] handle. Handlers extract, call the core and wrap
//! the result; errors map from [`grocery_core::ErrorKind`] in one place
//! ([`ApiError`]).
//!
//! - REST under `/api/v1`: the agent, lists and items (with `ETag` /
//!   `If-Match`), sharing, products, prices, tracking and alerts;
//! - live updates: `/api/v1/events` (SSE) and `/api/v1/ws` (WebSocket), see
//!   [`live`];
//! - `/api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the
//!   code (see [`openapi`]);
//! - `/health/live`, `/health/ready`, `/health/deep`, `/metrics` (Prometheus);
//! - `/`: the web page, embedded.
//!
//! Every API route needs `Authorization: Bearer TOKEN` (`grocery user add
//! NAME` prints one) unless the server runs in single-user mode, which only
//! listens on loopback. Each user has a rate limit (429 with `Retry-After`);
//! bodies, request times and live connections are bounded.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let grocery = grocery_core::Grocery::open(grocery_core::Config::default()).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! grocery_http::serve(grocery, listener, std::future::pending()).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod auth;
mod error;
pub mod live;
pub mod openapi;
mod ops;
pub mod routes;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use axum::routing::{get, post};
use grocery_core::{Config, Grocery};
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use auth::Caller;
pub use error::ApiError;
pub use ops::{prometheus, rss_bytes};
pub use state::{AppState, TOKEN_CACHE_TTL};

/// The application router over `state`.
pub fn app(state: AppState) -> Router {
    use routes as r;
    // Full paths, merged rather than nested: a nested router strips the
    // prefix and routes a second time on every API request.
    let api = Router::new()
        .route("/api/v1/agent", post(r::agent))
        .route("/api/v1/lists", get(r::all_lists).post(r::create_list))
        .route(
            "/api/v1/lists/{id}",
            get(r::get_list)
                .patch(r::rename_list)
                .delete(r::delete_list),
        )
        .route("/api/v1/lists/{id}/items", post(r::add_item))
        .route(
            "/api/v1/lists/{id}/items/{item}",
            axum::routing::patch(r::update_item).delete(r::remove_item),
        )
        .route("/api/v1/lists/{id}/items/{item}/check", post(r::check_item))
        .route(
            "/api/v1/lists/{id}/items/{item}/uncheck",
            post(r::uncheck_item),
        )
        .route("/api/v1/lists/{id}/clear-checked", post(r::clear_checked))
        .route("/api/v1/lists/{id}/shares", get(r::shares))
        .route(
            "/api/v1/lists/{id}/shares/{user}",
            axum::routing::put(r::share).delete(r::unshare),
        )
        .route("/api/v1/products/search", get(r::search))
        .route("/api/v1/products/{id}", get(r::product))
        .route("/api/v1/prices/{id}", get(r::price))
        .route("/api/v1/prices/{id}/history", get(r::history))
        .route("/api/v1/tracks", get(r::tracks).post(r::track))
        .route("/api/v1/tracks/{id}", axum::routing::delete(r::untrack))
        .route("/api/v1/alerts", get(r::alerts))
        .route("/api/v1/optimize", post(r::optimize))
        .route("/api/v1/deals", get(r::deals))
        .route("/api/v1/usuals", get(r::usuals))
        .route("/api/v1/events", get(live::events))
        .route("/api/v1/ws", get(live::ws))
        .route("/api/v1/openapi.json", get(openapi::openapi_json));
    let body_limit = state.config().body_limit_bytes;
    let cors = cors(&state.config().cors_origins);
    Router::new()
        .merge(api)
        .route("/", get(ops::page))
        .route("/health/live", get(ops::live))
        .route("/health/ready", get(ops::ready))
        .route("/health/deep", get(ops::deep))
        .route("/metrics", get(ops::metrics_text))
        .fallback(|| async {
            ApiError::Core(grocery_core::Error::not_found("route", "this path"))
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::observe,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(cors)
        .layer(
            // Paths only: a query may carry an access token.
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<_>| {
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                },
            ),
        )
        .with_state(state)
}

fn cors(origins: &[String]) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
        ])
        .expose_headers([header::ETAG, header::RETRY_AFTER]);
    if origins.iter().any(|o| o == "*") {
        return base.allow_origin(AllowOrigin::any());
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    base.allow_origin(AllowOrigin::list(list))
}

/// Serve until `shutdown` resolves, then close live connections and drain
/// in-flight requests. Starts the scheduled pricing jobs (the warmer and the
/// check of tracked products, as `[pricing]` configures them) for as long as
/// the handle lives.
///
/// # Errors
/// I/O errors from the listener.
pub async fn serve(
    grocery: Grocery,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_state(AppState::new(grocery), listener, shutdown).await
}

/// Connections a burst may queue before the server accepts them. The kernel
/// caps it at `net.core.somaxconn` (4096 on current Linux). A queue too short
/// (128, what `TcpListener::bind` gave here) drops the SYNs of a burst of new
/// clients, and each of them waits a whole second to retry.
const LISTEN_BACKLOG: u32 = 4096;

/// A listening socket on `addr` with [`LISTEN_BACKLOG`], address reuse on (a
/// restart does not wait out TIME_WAIT).
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// [`serve`] with state built by the caller (tests, custom settings).
///
/// # Errors
/// I/O errors from the listener.
pub async fn serve_state(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grocery = state.grocery().clone();
    grocery.pricing().start_background();
    let _ = prometheus();
    let closing = state.clone();
    let served = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: closing live connections, draining requests");
        closing.begin_shutdown();
    })
    .await;
    // Conversations continue after a restart; cache counts add up across runs.
    if let Err(e) = grocery.flush().await {
        tracing::warn!(error = %e, "could not save sessions or cache counts at shutdown");
    }
    served
}

/// Options of [`run`], from the command line.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Address to listen on; `[server] bind` when absent.
    pub bind: Option<String>,
    /// Single-user mode without tokens (loopback only).
    pub no_auth: bool,
}

/// Why [`run`] could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration or the database is unusable.
    #[error(transparent)]
    Core(#[from] grocery_core::Error),
    /// Single-user mode on an address other people can reach.
    #[error("--no-auth serves everyone as the local user; it only listens on loopback, not {0}")]
    NoAuthOffLoopback(String),
    /// The bind address is not `HOST:PORT`.
    #[error("bad bind address `{0}`: expected HOST:PORT, like 127.0.0.1:8080")]
    BadAddress(String),
    /// Binding or serving failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

/// Open the database of `config` and serve it until SIGTERM or Ctrl-C (then
/// drain for up to `shutdown_grace_secs`). Logs the bound address. What
/// `grocery serve` and `grocery-server` run.
///
/// # Errors
/// See [`ServeError`].
pub async fn run(mut config: Config, options: ServeOptions) -> Result<(), ServeError> {
    if let Some(bind) = options.bind {
        config.server.bind = bind;
    }
    config.server.no_auth |= options.no_auth;
    let bind = config.server.bind.clone();
    let found = tokio::net::lookup_host(bind.as_str())
        .await
        .ok()
        .and_then(|mut addrs| addrs.next());
    let Some(addr) = found else {
        return Err(ServeError::BadAddress(bind));
    };
    if config.server.no_auth && !addr.ip().is_loopback() {
        return Err(ServeError::NoAuthOffLoopback(addr.to_string()));
    }
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let grocery = Grocery::open(config).await?;
    let listener = listen(addr).map_err(|source| ServeError::Io {
        context: format!("cannot listen on {addr}"),
        source,
    })?;
    let bound = listener.local_addr().map_err(|source| ServeError::Io {
        context: "no local address".into(),
        source,
    })?;
    let single = grocery.config().server.no_auth;
    // Signals are caught from before the address is out: a supervisor may
    // stop the server as soon as it has seen it.
    let terminated = terminate();
    tracing::info!(addr = %bound, single_user = single, "listening on http://{bound}");
    if !tracing::enabled!(tracing::Level::INFO) {
        // Logs quieter than that still say where the server is (a plain
        // line only then: it would break a JSON log).
        eprintln!("grocery: listening on http://{bound}");
    }
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        terminated.await;
        let _ = signalled_tx.send(());
    };
    let serving = serve(grocery, listener, shutdown);
    tokio::pin!(serving);
    let outcome = tokio::select! {
        r = &mut serving => r,
        () = async {
            let _ = signalled_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "requests still running after the grace period; stopping");
            Ok(())
        }
    };
    outcome.map_err(|source| ServeError::Io {
        context: "serving failed".into(),
        source,
    })
}

/// Catch SIGTERM and Ctrl-C (SIGINT) from now on; the future resolves on
/// the first of them.
fn terminate() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async fn next(s: Option<Signal>) {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        async move {
            tokio::select! {
                () = next(term) => {}
                () = next(int) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The runtime the server binaries (`grocery-server`, `grocery serve`) run
/// on: multi-threaded, one worker per core, I/O and timers on.
///
/// Every other task a worker runs comes from the runtime's shared queue when
/// that queue has any. Tasks woken from outside the runtime wait there:
/// requests whose store work has finished on the store's threads (a write
/// committed, a read done) and only need their answer written. Left to its
/// default, tokio takes one of them per several tasks of its own queue,
/// which under load is full of connections with new requests, so in a
/// 500-user spike the answers to committed writes waited behind new work
/// (quick load runs, three pairs: spike p99 123-140 ms by default, 88-95 ms
/// with this, the same throughput). Taking the shared queue *first* every
/// time (an interval of 1) starves the worker's own queue once it overflows
/// into the shared one: new connections then waited until the load stopped.
///
/// # Errors
/// The runtime's own (no threads, no I/O driver).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .global_queue_interval(2)
        .build()
}

/// Set up logging as `[server]` says (`log_level`, `log_format` text or
/// json); `RUST_LOG` overrides the level. Text is coloured only on a
/// terminal (never in a log file or a pipe) and never with `NO_COLOR` set.
/// For the server binaries (`grocery-server`, `grocery serve`).
pub fn init_tracing(config: &grocery_core::config::ServerConfig) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_level));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = if config.log_format.eq_ignore_ascii_case("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode, header};
    use tower::ServiceExt;

    use crate::state::{test_state, test_user};

    /// The router with `cors_origins` set, and a token.
    async fn router(origins: &[&str]) -> (axum::Router, String, tempfile::TempDir) {
        let (state, dir) = test_state(|c| {
            c.cors_origins = origins.iter().map(|o| (*o).to_string()).collect();
        })
        .await;
        let token = test_user(&state).await.token;
        (super::app(state), token, dir)
    }

    /// A browser's preflight for a `DELETE` with a token and `If-Match`.
    async fn preflight(router: &axum::Router, origin: &str) -> axum::response::Response {
        let request = Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/lists/1")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "DELETE")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,if-match",
            )
            .body(Body::empty())
            .expect("request");
        router.clone().oneshot(request).await.expect("answer")
    }

    /// A cross-origin `GET` with a token.
    async fn get(router: &axum::Router, token: &str, origin: &str) -> axum::response::Response {
        let request = Request::get("/api/v1/lists")
            .header(header::ORIGIN, origin)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        router.clone().oneshot(request).await.expect("answer")
    }

    fn header_of(r: &axum::response::Response, name: header::HeaderName) -> Option<&str> {
        r.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// Fails unless the header `name` of `r` lists every one of `wanted`.
    fn names_all(r: &axum::response::Response, name: header::HeaderName, wanted: &[&str]) {
        let listed = header_of(r, name.clone())
            .unwrap_or_default()
            .to_ascii_lowercase();
        for w in wanted {
            assert!(listed.contains(w), "{name}: {listed} lacks {w}");
        }
    }

    /// The origin a browser is allowed to read as (`Access-Control-Allow-Origin`),
    /// for a preflight and for a `GET` from `origin`.
    async fn allowed(router: &axum::Router, token: &str, origin: &str) -> [Option<String>; 2] {
        let allow = |r: axum::response::Response| {
            header_of(&r, header::ACCESS_CONTROL_ALLOW_ORIGIN).map(str::to_string)
        };
        [
            allow(preflight(router, origin).await),
            allow(get(router, token, origin).await),
        ]
    }

    #[tokio::test]
    async fn cors_lets_in_the_configured_origins_and_no_others() {
        let (router, token, _dir) = router(&["https://lists.example"]).await;

        let ok = preflight(&router, "https://lists.example").await;
        assert!(ok.status().is_success(), "{}", ok.status());
        assert_eq!(
            header_of(&ok, header::ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("https://lists.example")
        );
        let methods = header_of(&ok, header::ACCESS_CONTROL_ALLOW_METHODS).unwrap_or_default();
        assert!(methods.contains("DELETE"), "{methods}");
        names_all(
            &ok,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            &["authorization", "if-match"],
        );

        let read = get(&router, &token, "https://lists.example").await;
        assert_eq!(read.status(), StatusCode::OK);
        assert_eq!(
            header_of(&read, header::ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("https://lists.example")
        );
        // A script may read the version and a 429's wait.
        names_all(
            &read,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            &["etag", "retry-after"],
        );

        // Another origin gets no permission: the browser refuses the answer.
        assert_eq!(
            allowed(&router, &token, "https://evil.example").await,
            [None, None]
        );
    }

    #[tokio::test]
    async fn cors_allows_no_origin_by_default_and_any_with_a_star() {
        let (closed, token, _dir) = router(&[]).await;
        assert_eq!(
            allowed(&closed, &token, "https://lists.example").await,
            [None, None]
        );
        let (open, token, _dir2) = router(&["*"]).await;
        let any = Some("*".to_string());
        assert_eq!(
            allowed(&open, &token, "https://anywhere.example").await,
            [any.clone(), any]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_finishes_the_requests_in_flight_then_stops() {
        let (state, _dir) = test_state(|c| c.max_in_flight_per_core = 1).await;
        let grocery = state.grocery().clone();
        let issued = test_user(&state).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(super::serve_state(state.clone(), listener, async {
            let _ = stopped.await;
        }));

        // Every slot held: the request below is accepted and waits to run,
        // in flight, when shutdown begins.
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let mut held = Vec::new();
        for _ in 0..cores {
            held.push(state.in_flight_slot().await.expect("a free slot"));
        }
        let request = tokio::spawn(
            reqwest::Client::new()
                .post(format!("http://{addr}/api/v1/lists"))
                .bearer_auth(&issued.token)
                .json(&serde_json::json!({ "name": "party" }))
                .send(),
        );
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while state.waiting() == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the request reaches the server within 10 s");

        let mut shutting = state.shutdown_signal();
        stop.send(()).expect("the server listens for the stop");
        shutting.wait_for(|s| *s).await.expect("shutdown begins");
        assert!(!server.is_finished(), "a request is still in flight");

        // Let it run: it is answered and done, then the server stops.
        drop(held);
        let response = tokio::time::timeout(std::time::Duration::from_secs(10), request)
            .await
            .expect("answered within 10 s")
            .expect("the request task")
            .expect("an answer, not a reset connection");
        assert_eq!(response.status(), StatusCode::CREATED);
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("the server stops within 10 s")
            .expect("the server task")
            .expect("served without an error");
        let lists = grocery
            .lists_for(issued.user.id)
            .all()
            .await
            .expect("lists");
        assert!(lists.iter().any(|l| l.name == "party"), "{lists:?}");
    }
}
