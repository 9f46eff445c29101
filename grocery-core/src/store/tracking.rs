//! Price tracks and the alerts they raise.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Store, now_ms, ts};
use crate::error::{Error, Result};
use crate::lists::UserId;
use crate::money::Money;
use crate::pricing::{Alert, Target, Track};

const SELECT_TRACK: &str = "SELECT t.id, t.user_id, p.id, t.below_cents, t.drop_percent, \
     t.baseline_cents, t.crossed, t.created_at FROM price_tracks t \
     JOIN products p ON p.pk = t.product_pk";

fn track_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Track> {
    let below: Option<i64> = r.get(3)?;
    let drop: Option<i64> = r.get(4)?;
    let target = match (below, drop) {
        (Some(c), _) => Target::Below(Money::usd(c)),
        (None, Some(p)) => Target::DropPercent(u8::try_from(p).unwrap_or(99)),
        (None, None) => Target::DropPercent(99),
    };
    Ok(Track {
        id: r.get(0)?,
        user: UserId(r.get(1)?),
        product_id: r.get(2)?,
        target,
        baseline: Money::usd(r.get(5)?),
        crossed: r.get::<_, i64>(6)? != 0,
        created_at: ts(r.get(7)?),
    })
}

fn product_pk(tx: &rusqlite::Connection, id: &str) -> Result<i64> {
    tx.prepare_cached("SELECT pk FROM products WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::not_found("product", id))
}

fn get_track(c: &rusqlite::Connection, id: i64) -> Result<Track> {
    c.prepare_cached(&format!("{SELECT_TRACK} WHERE t.id = ?1"))?
        .query_row(params![id], track_row)
        .optional()?
        .ok_or_else(|| Error::not_found("track", id.to_string()))
}

fn record_alert(tx: &Transaction<'_>, t: &Track, price: Money, reason: &str) -> Result<Alert> {
    let now = now_ms();
    let pk = product_pk(tx, &t.product_id)?;
    tx.prepare_cached(
        "INSERT INTO price_alerts (track_id, user_id, product_pk, price_cents, reason, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![t.id, t.user.0, pk, price.cents, reason, now])?;
    Ok(Alert {
        id: tx.last_insert_rowid(),
        track_id: t.id,
        user: t.user,
        product_id: t.product_id.clone(),
        price,
        reason: reason.to_string(),
        created_at: ts(now),
    })
}

impl Store {
    /// Watch a product for a user (replacing their earlier track of it).
    pub(crate) async fn track(
        &self,
        user: UserId,
        product_id: String,
        target: Target,
        baseline: Money,
    ) -> Result<Track> {
        self.write(move |tx| {
            let pk = product_pk(tx, &product_id)?;
            let (below, drop) = match target {
                Target::Below(m) => (Some(m.cents), None),
                Target::DropPercent(p) => (None, Some(i64::from(p))),
            };
            tx.prepare_cached(
                "INSERT INTO price_tracks (user_id, product_pk, below_cents, drop_percent, \
                 baseline_cents, crossed, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6) \
                 ON CONFLICT (user_id, product_pk) DO UPDATE SET below_cents = excluded.below_cents, \
                 drop_percent = excluded.drop_percent, baseline_cents = excluded.baseline_cents, \
                 crossed = 0",
            )?
            .execute(params![user.0, pk, below, drop, baseline.cents, now_ms()])?;
            let id: i64 = tx
                .prepare_cached("SELECT id FROM price_tracks WHERE user_id = ?1 AND product_pk = ?2")?
                .query_row(params![user.0, pk], |r| r.get(0))?;
            get_track(tx, id)
        })
        .await
    }

    /// A user's tracks, oldest first.
    pub(crate) async fn tracks(&self, user: UserId) -> Result<Vec<Track>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "{SELECT_TRACK} WHERE t.user_id = ?1 ORDER BY t.id"
            ))?;
            let rows = stmt.query_map(params![user.0], track_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Stop watching; `false` if there was no such track.
    pub(crate) async fn untrack(&self, user: UserId, product_id: String) -> Result<bool> {
        self.write(move |tx| {
            let pk = product_pk(tx, &product_id)?;
            let n = tx
                .prepare_cached("DELETE FROM price_tracks WHERE user_id = ?1 AND product_pk = ?2")?
                .execute(params![user.0, pk])?;
            Ok(n > 0)
        })
        .await
    }

    /// The products anyone tracks, for the scheduled check.
    pub(crate) async fn tracked_products(&self) -> Result<Vec<String>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT DISTINCT p.id FROM price_tracks t JOIN products p ON p.pk = t.product_pk
                 ORDER BY p.id",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Every track of a product, for checking a new price against.
    pub(crate) async fn tracks_of_product(&self, product_id: String) -> Result<Vec<Track>> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached(&format!("{SELECT_TRACK} WHERE p.id = ?1 ORDER BY t.id"))?;
            let rows = stmt.query_map(params![product_id], track_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Set tracks' crossed state in one transaction and store an alert for each
    /// new crossing: `(track, now crossed, alert reason if it just crossed)`.
    pub(crate) async fn settle_tracks(
        &self,
        price: Money,
        changes: Vec<(Track, bool, Option<String>)>,
    ) -> Result<Vec<Alert>> {
        self.write(move |tx| {
            let mut alerts = Vec::new();
            for (t, crossed, reason) in &changes {
                tx.prepare_cached("UPDATE price_tracks SET crossed = ?2 WHERE id = ?1")?
                    .execute(params![t.id, i64::from(*crossed)])?;
                if let Some(reason) = reason {
                    alerts.push(record_alert(tx, t, price, reason)?);
                }
            }
            Ok(alerts)
        })
        .await
    }

    /// A user's alerts, newest first, at most `limit`.
    pub(crate) async fn alerts(&self, user: UserId, limit: usize) -> Result<Vec<Alert>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT a.id, a.track_id, a.user_id, p.id, a.price_cents, a.reason, a.created_at \
                 FROM price_alerts a JOIN products p ON p.pk = a.product_pk \
                 WHERE a.user_id = ?1 ORDER BY a.created_at DESC, a.id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![user.0, limit as i64], |r| {
                Ok(Alert {
                    id: r.get(0)?,
                    track_id: r.get(1)?,
                    user: UserId(r.get(2)?),
                    product_id: r.get(3)?,
                    price: Money::usd(r.get(4)?),
                    reason: r.get(5)?,
                    created_at: ts(r.get(6)?),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }
}
