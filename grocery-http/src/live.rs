//! Real-time updates: `GET /api/v1/events` (server-sent events) and
//! `GET /api/v1/ws` (WebSocket) carry the same JSON messages to a user:
//!
//! - `{"event":"list_changed","seq":41,"list_id":3,"version":9,"kind":"changed",...}`
//!   for every change to a list the user may see (by anyone: another user,
//!   another device, the CLI writing the same database), in commit order;
//!   `seq` is the resume cursor;
//! - `{"event":"price_alert",...}` for the user's alerts, and
//!   `{"event":"price_changed",...}` for products the user tracks or has on a list;
//! - `{"event":"ready","seq":41}` once the backlog is sent (the cursor now);
//! - `{"event":"resync","reason":"..."}` when the server could not keep the
//!   client whole (the cursor is older than the log keeps, or the client read
//!   too slowly): reload the lists, then continue.
//!
//! A client resumes with `?after=SEQ` (or, for SSE, the standard
//! `Last-Event-ID`): every list change after it is sent first, then live ones,
//! with none missed or repeated. A connection's queue is bounded
//! ([`QUEUE`] messages): a client that falls behind gets `resync`, the
//! server does not grow. On shutdown, streams end and sockets close cleanly.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use grocery_core::pricing::Event;
use grocery_core::{Grocery, UserId};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::openapi::{AuthErrors, ErrorBody, LiveMessage};
use crate::routes::ApiQuery;
use crate::state::{AppState, SubscriberGuard};

/// Messages queued per connection before it counts as too slow.
pub const QUEUE: usize = 256;

/// `?after=SEQ`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResumeParams {
    /// The last `seq` the client saw.
    #[serde(default)]
    pub after: Option<i64>,
}

/// One message to a client, as JSON text with its `seq` when it has one.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    seq: Option<i64>,
    json: String,
}

fn outgoing(event: &Event) -> Option<Outgoing> {
    let seq = match event {
        Event::ListChanged(c) => Some(c.seq),
        _ => None,
    };
    serde_json::to_string(event)
        .ok()
        .map(|json| Outgoing { seq, json })
}

fn control(kind: &str, extra: serde_json::Value) -> Outgoing {
    let mut v = serde_json::json!({ "event": kind });
    if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in more {
            obj.insert(k.clone(), x.clone());
        }
    }
    Outgoing {
        seq: None,
        json: v.to_string(),
    }
}

/// The products whose price changes concern `user`: tracked, or on a list.
async fn watched(g: &Grocery, user: UserId) -> HashSet<String> {
    let mut ids: HashSet<String> = HashSet::new();
    if let Ok(tracks) = g.prices_for(user).tracks().await {
        ids.extend(tracks.into_iter().map(|t| t.product_id));
    }
    let lists = g.lists_for(user);
    if let Ok(all) = lists.all().await {
        for s in all {
            if let Ok(list) = lists.get(s.id).await {
                ids.extend(list.items.into_iter().filter_map(|i| i.product_id));
            }
        }
    }
    ids
}

/// Feed one client: the backlog after `after`, then live events for `user`,
/// into a bounded queue; ends when the client goes or the server shuts down.
fn subscribe(app: &AppState, user: UserId, after: Option<i64>) -> mpsc::Receiver<Outgoing> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let g = app.grocery().clone();
    // Subscribe before reading the backlog, so nothing falls in between.
    let mut live = g.subscribe();
    let mut shutdown = app.shutdown_signal();
    let app = app.clone();
    tokio::spawn(async move {
        let mut last = after;
        // Sends in order; `false` when the client is gone. A full queue means
        // the client is too slow: what it cannot take is dropped until half
        // its queue is free again, and then it is told to resync (below).
        let mut behind = false;
        let send = |msg: Outgoing, behind: &mut bool| -> bool {
            if *behind {
                app.live_message_dropped();
                return !tx.is_closed();
            }
            match tx.try_send(msg) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    app.live_message_dropped();
                    *behind = true;
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        };
        if !catch_up(&g, user, &mut last, &tx).await {
            return;
        }
        let mut products = watched(&g, user).await;
        let mut products_stale = false;
        loop {
            let event = tokio::select! {
                // In this order: a client that fell behind hears of it as
                // soon as it has read half its queue, before the next event.
                biased;
                room = tx.reserve_many(QUEUE / 2), if behind => {
                    let Ok(mut room) = room else { return };
                    if let Some(slot) = room.next() {
                        slot.send(control("resync", serde_json::json!({"reason": "too slow"})));
                    }
                    behind = false;
                    continue;
                }
                _ = shutdown.changed() => return,
                () = tx.closed() => return,
                e = live.recv() => e,
            };
            let msg = match event {
                Ok(Event::ListChanged(c)) => {
                    if !c.audience.contains(&user) || last.is_some_and(|l| c.seq <= l) {
                        continue;
                    }
                    last = Some(c.seq);
                    products_stale = true;
                    outgoing(&Event::ListChanged(c))
                }
                Ok(Event::PriceAlert(a)) => {
                    if a.user != user {
                        continue;
                    }
                    outgoing(&Event::PriceAlert(a))
                }
                Ok(Event::PriceChanged(p)) => {
                    if products_stale {
                        products = watched(&g, user).await;
                        products_stale = false;
                    }
                    if !products.contains(&p.product_id) {
                        continue;
                    }
                    outgoing(&Event::PriceChanged(p))
                }
                Ok(_) => None,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // The server fell behind the broadcast: replay list
                    // changes from the log; nothing else can be replayed.
                    if !catch_up(&g, user, &mut last, &tx).await {
                        return;
                    }
                    Some(control(
                        "resync",
                        serde_json::json!({"reason": "prices skipped"}),
                    ))
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if let Some(msg) = msg
                && !send(msg, &mut behind)
            {
                return;
            }
        }
    });
    rx
}

/// Send the logged list changes after `last` (all of them, waiting for room:
/// a reconnecting client must get everything), then `ready`. `false` when the
/// client is gone.
async fn catch_up(
    g: &Grocery,
    user: UserId,
    last: &mut Option<i64>,
    tx: &mpsc::Sender<Outgoing>,
) -> bool {
    let lists = g.lists_for(user);
    if let Some(after) = *last {
        loop {
            match lists.changes_since(last.unwrap_or(after), 500).await {
                Ok(Some(changes)) => {
                    let n = changes.len();
                    for c in changes {
                        *last = Some(c.seq);
                        let Some(msg) = outgoing(&Event::ListChanged(c)) else {
                            continue;
                        };
                        if tx.send(msg).await.is_err() {
                            return false;
                        }
                    }
                    if n < 500 {
                        break;
                    }
                }
                Ok(None) => {
                    let msg = control(
                        "resync",
                        serde_json::json!({"reason": "the cursor is older than the log keeps"}),
                    );
                    if tx.send(msg).await.is_err() {
                        return false;
                    }
                    *last = None;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the list change log");
                    let msg = control("resync", serde_json::json!({"reason": "log unreadable"}));
                    if tx.send(msg).await.is_err() {
                        return false;
                    }
                    break;
                }
            }
        }
    }
    let seq = match *last {
        Some(s) => s,
        None => match lists.latest_change().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the list change log");
                0
            }
        },
    };
    *last = Some(seq);
    tx.send(control("ready", serde_json::json!({ "seq": seq })))
        .await
        .is_ok()
}

/// The cursor a request resumes after: `?after=`, else `Last-Event-ID`.
fn resume_point(params: &ResumeParams, headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    if let Some(a) = params.after {
        return Ok(Some(a.max(0)));
    }
    match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map(|s| Some(s.max(0)))
            .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be a seq number")),
        None => Ok(None),
    }
}

/// Live updates as server-sent events.
///
/// Each event's `data` is one JSON [`LiveMessage`](crate::openapi::LiveMessage);
/// `list_changed` events carry their `seq` as the event id. The backlog after
/// the resume cursor comes first, then `ready`, then live events. A comment
/// line every 15 s keeps the connection open.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "live",
    params(
        ResumeParams,
        ("Last-Event-ID" = Option<String>, Header, description = "SSE's standard resume cursor: the last `seq` seen; `after` wins when both are given."),
        ("access_token" = Option<String>, Query, description = "The bearer token, for clients that cannot set headers."),
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`; each event's `data` is a `LiveMessage`.", body = LiveMessage, content_type = "text/event-stream"),
        (status = 400, description = "`Last-Event-ID` or `after` is not a number.", body = ErrorBody),
        AuthErrors,
    ),
    security(("bearer" = []), ("access_token" = [])),
)]
pub(crate) async fn events(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiQuery(params): ApiQuery<ResumeParams>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let after = resume_point(&params, &headers)?;
    let guard = app.open_subscriber()?;
    let rx = subscribe(&app, user, after);
    let stream = futures_util::stream::unfold((rx, guard), |(mut rx, guard)| async move {
        let msg = rx.recv().await?;
        let mut ev = SseEvent::default().data(msg.json);
        if let Some(seq) = msg.seq {
            ev = ev.id(seq.to_string());
        }
        Some((Ok(ev), (rx, guard)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Live updates over a WebSocket.
///
/// After the `101 Switching Protocols` handshake, each text frame from the
/// server is one JSON [`LiveMessage`](crate::openapi::LiveMessage), in the same
/// order as over SSE; the client sends nothing but pings and close. On
/// shutdown the server closes with code 1001.
#[utoipa::path(
    get,
    path = "/api/v1/ws",
    tag = "live",
    params(
        ResumeParams,
        ("Last-Event-ID" = Option<String>, Header, description = "SSE's standard resume cursor: the last `seq` seen; `after` wins when both are given."),
        ("access_token" = Option<String>, Query, description = "The bearer token, for clients that cannot set headers."),
    ),
    responses(
        (status = 101, description = "Switching Protocols. Every text frame then carries one `LiveMessage` (JSON), see `#/components/schemas/LiveMessage`."),
        (status = 400, description = "Not a WebSocket handshake (plain text), or `Last-Event-ID` or `after` is not a number (JSON error body)."),
        AuthErrors,
    ),
    security(("bearer" = []), ("access_token" = [])),
)]
pub(crate) async fn ws(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiQuery(params): ApiQuery<ResumeParams>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let after = resume_point(&params, &headers)?;
    let guard = app.open_subscriber()?;
    Ok(upgrade
        // Messages are small and clients send next to nothing: small buffers
        // keep an idle connection cheap (the default read buffer is 128 KiB).
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve_socket(app, user, after, socket, guard))
        .into_response())
}

async fn serve_socket(
    app: AppState,
    user: UserId,
    after: Option<i64>,
    mut socket: WebSocket,
    _guard: SubscriberGuard,
) {
    let mut rx = subscribe(&app, user, after);
    let mut shutdown = app.shutdown_signal();
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(m) => {
                    if socket.send(Message::Text(m.json.into())).await.is_err() {
                        return;
                    }
                }
                None => break,
            },
            incoming = socket.recv() => match incoming {
                // Pings are answered by the library; clients send nothing else we need.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => break,
        }
    }
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: axum::extract::ws::close_code::AWAY,
            reason: "server shutting down".into(),
        })))
        .await;
}

#[cfg(test)]
mod tests {
    use std::ops::RangeInclusive;
    use std::time::Duration;

    use grocery_core::UserId;
    use grocery_core::lists::NewItem;
    use tokio::sync::mpsc;

    use super::{Outgoing, QUEUE, subscribe};
    use crate::state::{AppState, test_state};

    /// The next message, as JSON; fails the test after 10 s.
    async fn next(rx: &mut mpsc::Receiver<Outgoing>) -> serde_json::Value {
        let msg = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a message within 10 s")
            .expect("the feed is open");
        serde_json::from_str(&msg.json).expect("JSON")
    }

    /// Yield until `done` holds; fails the test after 10 s.
    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while !done() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what} within 10 s"));
    }

    /// The next messages are the list changes `seqs`, in order.
    async fn expect_changes(rx: &mut mpsc::Receiver<Outgoing>, seqs: RangeInclusive<i64>) {
        for seq in seqs {
            let m = next(rx).await;
            assert_eq!(m["event"], "list_changed", "{m}");
            assert_eq!(m["seq"].as_i64(), Some(seq), "{m}");
        }
    }

    /// The next message is `ready` at `seq`.
    async fn expect_ready(rx: &mut mpsc::Receiver<Outgoing>, seq: i64) {
        let ready = next(rx).await;
        assert_eq!(ready["event"], "ready", "{ready}");
        assert_eq!(ready["seq"].as_i64(), Some(seq), "{ready}");
    }

    async fn add(app: &AppState, user: UserId, list: grocery_core::ListId, n: usize) -> i64 {
        let lists = app.grocery().lists_for(user);
        for i in 0..n {
            lists
                .add_item(list, NewItem::new(format!("item {i}")))
                .await
                .expect("add");
        }
        lists.latest_change().await.expect("latest")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_client_is_bounded_told_to_resync_and_can_resume_without_gaps() {
        let (app, _dir) = test_state(|_| {}).await;
        let ann = app.grocery().users().add("ann").await.expect("user").id;
        let list = app
            .grocery()
            .lists_for(ann)
            .create("Shopping")
            .await
            .expect("list")
            .id;
        let mut rx = subscribe(&app, ann, None);
        let ready = next(&mut rx).await;
        assert_eq!(ready["event"], "ready", "{ready}");
        let start = ready["seq"].as_i64().expect("seq");

        // The client reads nothing while 300 changes are made.
        let extra = 44;
        let last = add(&app, ann, list, QUEUE + extra).await;
        assert_eq!(last, start + (QUEUE + extra) as i64);
        until("the changes the queue cannot hold dropped", || {
            app.live_messages_dropped() == extra as u64
        })
        .await;
        assert_eq!(rx.len(), QUEUE, "the queue holds what it can and no more");

        // What it holds comes in order with nothing skipped, then `resync`
        // (sent as soon as half the queue is read, not with a later change).
        expect_changes(&mut rx, start + 1..=start + QUEUE as i64).await;
        let resync = next(&mut rx).await;
        assert_eq!(resync["event"], "resync", "{resync}");
        assert_eq!(resync["reason"], "too slow", "{resync}");
        assert!(matches!(
            rx.try_recv(),
            Err(mpsc::error::TryRecvError::Empty)
        ));
        assert_eq!(app.live_messages_dropped(), extra as u64);

        // The feed goes on live...
        let newest = add(&app, ann, list, 1).await;
        let m = next(&mut rx).await;
        assert_eq!(m["seq"].as_i64(), Some(newest), "{m}");

        // ...and resuming from the last change read gives what was dropped,
        // in order, then `ready` at the newest.
        let seen = start + QUEUE as i64;
        let mut again = subscribe(&app, ann, Some(seen));
        expect_changes(&mut again, seen + 1..=newest).await;
        expect_ready(&mut again, newest).await;
    }

    /// A feed that falls more than the broadcast holds (1,024 events) behind,
    /// here because its client read nothing while resuming, replays the list
    /// changes it missed from the log: every change once, in order, then
    /// `ready` at the newest and `resync` (prices cannot be replayed), and
    /// then the feed goes on live without repeating anything.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_feed_that_falls_behind_the_broadcast_replays_the_log_without_gaps() {
        let (app, _dir) = test_state(|_| {}).await;
        let ann = app.grocery().users().add("ann").await.expect("user").id;
        let lists = app.grocery().lists_for(ann);
        let list = lists.create("Shopping").await.expect("list").id;
        let start = lists.latest_change().await.expect("latest");

        // A client resumes from `start` with more behind it than its queue
        // holds, and reads nothing: its feed waits for room in the backlog.
        let backlog = QUEUE + 50;
        let resumed = add(&app, ann, list, backlog).await;
        let mut rx = subscribe(&app, ann, Some(start));
        until("the queue full of backlog", || rx.len() == QUEUE).await;

        // Meanwhile more changes than the broadcast keeps.
        let newest = add(&app, ann, list, 1_200).await;
        assert_eq!(newest, resumed + 1_200);

        // The backlog, `ready` where it ends...
        expect_changes(&mut rx, start + 1..=resumed).await;
        expect_ready(&mut rx, resumed).await;
        // ...then what the broadcast dropped, from the log, in order...
        expect_changes(&mut rx, resumed + 1..=newest).await;
        expect_ready(&mut rx, newest).await;
        let resync = next(&mut rx).await;
        assert_eq!(resync["event"], "resync", "{resync}");
        assert_eq!(resync["reason"], "prices skipped", "{resync}");

        // ...and live again: the next message is the next change, not one of
        // the old ones the broadcast still holds.
        let after = add(&app, ann, list, 1).await;
        let m = next(&mut rx).await;
        assert_eq!(m["event"], "list_changed", "{m}");
        assert_eq!(m["seq"].as_i64(), Some(after), "{m}");
        assert_eq!(app.live_messages_dropped(), 0, "nothing was dropped");
    }
}
