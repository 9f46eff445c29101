//! Events across processes through Redis pub/sub, when Redis is configured.
//!
//! Every process on one database already sees every list change: they are
//! logged in the database and each process publishes them from the log (see
//! [`Grocery::subscribe`]). Redis adds two things for several server
//! instances behind a load balancer:
//! - price changes and alerts, which are not logged, reach the subscribers
//!   of every instance (an alert raised by one instance's scheduled check is
//!   pushed to a client connected to another);
//! - a commit on one instance wakes the others' log readers at once instead
//!   of at their next poll.
//!
//! The channel is `grocery:events:{database id}`, so instances of one
//! database share it and nothing else does. Each message carries its origin;
//! an instance ignores its own. Redis down: events stay local and list
//! changes still arrive through the log; the relay reconnects by itself.

use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::grocery::Grocery;
use crate::pricing::Event;

/// One message on the channel.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// The process that sent it.
    origin: String,
    /// An event to pass on, or `None` for "a list change was logged".
    event: Option<Event>,
}

/// Wait before reconnecting after the subscription failed.
const RECONNECT: Duration = Duration::from_secs(1);

/// The relay of one process.
#[derive(Debug, Clone)]
pub(crate) struct Relay {
    redis: crate::cache::RedisTier,
    origin: String,
    channel: String,
}

impl Relay {
    /// A relay over `redis` for the database with id `database_id`.
    pub(crate) fn new(redis: crate::cache::RedisTier, database_id: &str) -> Relay {
        let mut bytes = [0_u8; 8];
        let origin = match getrandom::fill(&mut bytes) {
            Ok(()) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
            Err(_) => format!("pid-{}", std::process::id()),
        };
        Relay {
            redis,
            origin,
            channel: format!("grocery:events:{database_id}"),
        }
    }

    /// Pass an event to the other instances (in the background).
    pub(crate) fn send(&self, event: Option<Event>) {
        let Ok(message) = serde_json::to_string(&Envelope {
            origin: self.origin.clone(),
            event,
        }) else {
            return;
        };
        let (redis, channel) = (self.redis.clone(), self.channel.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if !redis.publish(&channel, &message).await {
                    tracing::debug!("redis unavailable; event stays local");
                }
            });
        }
    }

    /// Listen to the channel while a handle lives: others' events go to this
    /// process's subscribers, their wake-ups to its log reader; and tell the
    /// others after each commit here that logged a list change.
    pub(crate) fn start(&self, g: &Grocery) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // Tell the others after our commits.
        let weak = g.downgrade();
        let notify = g.store().change_logged();
        let me = self.clone();
        rt.spawn(async move {
            loop {
                notify.notified().await;
                if Grocery::upgrade(&weak).is_none() {
                    break;
                }
                me.send(None);
            }
        });
        // Hear theirs.
        let weak = g.downgrade();
        let me = self.clone();
        rt.spawn(async move {
            loop {
                if Grocery::upgrade(&weak).is_none() {
                    break;
                }
                match me.redis.client().get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if let Err(e) = pubsub.subscribe(&me.channel).await {
                            tracing::warn!(error = %e, "could not subscribe to redis events");
                        } else {
                            let mut messages = pubsub.on_message();
                            while let Some(msg) = messages.next().await {
                                let Some(g) = Grocery::upgrade(&weak) else {
                                    return;
                                };
                                let Ok(text) = msg.get_payload::<String>() else {
                                    continue;
                                };
                                let Ok(env) = serde_json::from_str::<Envelope>(&text) else {
                                    tracing::debug!("ignored a malformed redis event");
                                    continue;
                                };
                                if env.origin == me.origin {
                                    continue;
                                }
                                match env.event {
                                    Some(event) => g.publish_local(event),
                                    None => g.remote_change(),
                                }
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "redis events unavailable"),
                }
                tokio::time::sleep(RECONNECT).await;
            }
        });
    }
}
