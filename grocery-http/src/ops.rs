//! Operations: health checks, Prometheus metrics, the request middleware
//! (timing, in-flight count, timeout) and the embedded web page.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use grocery_core::health::{Health, Status};
use grocery_core::resilience::BreakerState;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::ApiError;
use crate::openapi::{Liveness, Unavailable};
use crate::routes::ApiJson;
use crate::state::AppState;

/// Histogram buckets for durations, in seconds (0.25 ms to 10 s).
const BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];

/// Histogram buckets for counts of jobs (the store's write batches).
const JOB_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

/// How often histogram samples are drained into their buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(1);

/// The process's Prometheus recorder, installed on first use (a process has
/// one global recorder; every app in it shares it).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_jobs".into()), JOB_BUCKETS))
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
        }
        // Histograms keep every sample until drained into their buckets; a
        // server nobody scrapes would grow by 8 bytes a request without this.
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(METRICS_UPKEEP);
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no metrics upkeep thread; histogram samples pile up until /metrics is read");
        }
        handle
    })
}

/// Time every request by route and status, count those in flight, let API
/// requests in as slots free up (`max_in_flight_per_core`), and cut off a
/// request that takes longer than `request_timeout_ms`, its wait included
/// (live streams excepted).
pub(crate) async fn observe(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = method_label(req.method());
    let streaming = route == "/api/v1/ws" || route == "/api/v1/events";
    let started = Instant::now();
    static IN_FLIGHT: OnceLock<metrics::Gauge> = OnceLock::new();
    let in_flight = IN_FLIGHT.get_or_init(|| {
        let _ = prometheus();
        metrics::gauge!("http_requests_in_flight")
    });
    in_flight.increment(1.0);
    let timeout = Duration::from_millis(app.config().request_timeout_ms.max(1));
    let response = if streaming {
        next.run(req).await
    } else {
        // API requests take turns for a slot; probes and scrapes never wait.
        let gated = route.starts_with("/api/");
        let run = async {
            let _slot = if gated {
                app.in_flight_slot().await
            } else {
                None
            };
            next.run(req).await
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(r) => r,
            Err(_) => ApiError::TimedOut.into_response(),
        }
    };
    in_flight.decrement(1.0);
    duration_histogram(method, route, response.status().as_u16())
        .record(started.elapsed().as_secs_f64());
    response
}

/// A request method as a label: the standard ones by name, others as `OTHER`
/// (a client cannot make up label values).
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The duration histogram of (method, route, status), made once and kept:
/// building a labelled key and looking it up in the registry on every
/// request cost more than the rest of the bookkeeping. Routes are the
/// router's own patterns, so the map stays small.
fn duration_histogram(method: &'static str, route: &str, status: u16) -> metrics::Histogram {
    type ByRoute = HashMap<String, HashMap<(&'static str, u16), metrics::Histogram>>;
    static CACHE: OnceLock<RwLock<ByRoute>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        // Handles made before the recorder is installed would record nowhere.
        let _ = prometheus();
        RwLock::default()
    });
    let found = cache
        .read()
        .ok()
        .and_then(|c| c.get(route)?.get(&(method, status)).cloned());
    if let Some(h) = found {
        return h;
    }
    let h = metrics::histogram!(
        "http_request_duration_seconds",
        "method" => method,
        "route" => route.to_string(),
        "status" => status.to_string(),
    );
    if let Ok(mut c) = cache.write() {
        c.entry(route.to_string())
            .or_default()
            .insert((method, status), h.clone());
    }
    h
}

/// `GET /health/live`: the process answers.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "health",
    responses(
        (status = 200, description = "The process answers.", body = Liveness),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn live() -> ApiJson<serde_json::Value> {
    ApiJson(serde_json::json!({ "status": "ok" }))
}

fn health_response(h: Health) -> Response {
    let status = if h.status == Status::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, axum::Json(h)).into_response()
}

/// `GET /health/ready`: the store (and Redis, when configured) answer; 503
/// with details when not.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "Ready (`ok`, or `degraded` but still serving), with each check.", body = Health),
        (status = 503, description = "Not ready: a check is `down`, with each check.", body = Health),
    )
)]
pub(crate) async fn ready(State(app): State<AppState>) -> Response {
    health_response(app.grocery().ready().await)
}

/// `GET /health/deep`: a store write and read, each cache tier, each price
/// source's breaker.
#[utoipa::path(
    get,
    path = "/health/deep",
    tag = "health",
    responses(
        (status = 200, description = "Every part works (`ok`), or works around a problem (`degraded`).", body = Health),
        (status = 503, description = "A part is `down`, with each check.", body = Health),
    )
)]
pub(crate) async fn deep(State(app): State<AppState>) -> Response {
    health_response(app.grocery().deep_health().await)
}

/// Resident memory of this process, in bytes (Linux; 0 elsewhere).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// `GET /metrics`: Prometheus text format.
///
/// Request durations by route and status, requests in flight, cache hits and
/// misses per tier, breaker states, live connections, resident memory.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4.", body = String, content_type = "text/plain; version=0.0.4"),
    )
)]
pub(crate) async fn metrics_text(State(app): State<AppState>) -> Response {
    let g = app.grocery();
    let pricing = g.pricing();
    let stats = pricing.cache_stats();
    for (tier, t) in [("l1", stats.l1), ("l2", stats.l2), ("l3", stats.l3)] {
        metrics::counter!("grocery_cache_hits_total", "tier" => tier).absolute(t.hits);
        metrics::counter!("grocery_cache_misses_total", "tier" => tier).absolute(t.misses);
        metrics::counter!("grocery_cache_errors_total", "tier" => tier).absolute(t.errors);
    }
    metrics::counter!("grocery_cache_requests_total").absolute(stats.requests);
    metrics::counter!("grocery_cache_upstream_loads_total").absolute(stats.loads);
    metrics::counter!("grocery_cache_stale_served_total").absolute(stats.stale_served);
    for s in pricing.sources() {
        let state = match s.breaker.state {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        };
        metrics::gauge!("grocery_breaker_state", "source" => s.name.clone()).set(state);
        metrics::counter!("grocery_breaker_rejected_total", "source" => s.name.clone())
            .absolute(s.breaker.rejected_total);
        metrics::gauge!("grocery_source_in_flight", "source" => s.name.clone())
            .set(s.in_flight as f64);
    }
    metrics::gauge!("process_resident_memory_bytes").set(rss_bytes() as f64);
    metrics::gauge!("grocery_live_connections").set(app.subscribers() as f64);
    metrics::counter!("grocery_live_messages_dropped_total").absolute(app.live_messages_dropped());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        prometheus().render(),
    )
        .into_response()
}

/// `GET /`: the web page, embedded in the binary.
#[utoipa::path(
    get,
    path = "/",
    tag = "meta",
    responses(
        (status = 200, description = "The web page: chat with the agent, the list with prices, live updates.", body = String, content_type = "text/html"),
    )
)]
pub(crate) async fn page() -> Html<&'static str> {
    Html(include_str!("../static/index.html"))
}
