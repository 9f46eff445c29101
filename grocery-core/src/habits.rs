//! What a user usually buys, learned from what they add and check off:
//! restock prediction ("you usually buy milk every 6 days; the last time was
//! 7 days ago") and product preferences ("milk" is the milk this user buys).
//!
//! A purchase is a line checked off (unchecking takes it back). Purchases of
//! one thing — the same catalog kind when linked (`milk`), else the same line
//! name — on distinct UTC days give the intervals; the usual interval is
//! their median, and a thing is due once as many days have passed since the
//! last purchase. Confidence grows with the number of intervals and falls
//! with their spread.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::grocery::Grocery;
use crate::lists::UserId;
use crate::store::ts;

/// Purchases older than this are not looked at.
const HORIZON_DAYS: i64 = 365;

/// Something a user buys regularly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usual {
    /// What they call it (their latest line's name).
    pub item: String,
    /// The product they bought last, when linked.
    pub product_id: Option<String>,
    /// Distinct days they bought it.
    pub times_bought: u32,
    /// The usual days between purchases (the median interval).
    pub every_days: u32,
    /// When they last bought it (UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_bought_at: Timestamp,
    /// Whole days since then.
    pub days_since: u32,
    /// Whether it is time to buy it again.
    pub due: bool,
    /// 0..=1: more purchases and steadier intervals give more.
    pub confidence: f64,
    /// Whether it is on the list asked about (see [`Habits::forgotten`]).
    pub on_list: bool,
    /// In words.
    pub message: String,
}

/// Habits of one user; from [`Grocery::habits`].
#[derive(Debug, Clone, Copy)]
pub struct Habits<'a> {
    g: &'a Grocery,
    user: UserId,
}

/// One purchase as prediction sees it: the grouping key, the name, the
/// product and when.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub key: String,
    pub name: String,
    pub product_id: Option<String>,
    pub at: Timestamp,
}

/// The usuals among `seen` (oldest first) at `now`, due first.
pub(crate) fn predict(seen: &[Seen], now: Timestamp) -> Vec<Usual> {
    let mut groups: BTreeMap<&str, Vec<&Seen>> = BTreeMap::new();
    for s in seen {
        groups.entry(s.key.as_str()).or_default().push(s);
    }
    let today = now.as_second().div_euclid(86_400);
    let mut out = Vec::new();
    for buys in groups.values() {
        let mut days: Vec<i64> = buys
            .iter()
            .map(|s| s.at.as_second().div_euclid(86_400))
            .filter(|d| *d <= today)
            .collect();
        days.sort_unstable();
        days.dedup();
        if days.len() < 2 {
            continue;
        }
        let mut gaps: Vec<i64> = days.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_unstable();
        let median = gaps[gaps.len() / 2].max(1);
        let spread = gaps.iter().map(|g| (g - median).abs()).sum::<i64>() as f64
            / gaps.len() as f64
            / median as f64;
        let confidence =
            ((gaps.len() as f64 / 4.0).min(1.0) * (1.0 - spread.min(0.8)) * 100.0).round() / 100.0;
        let Some(last) = buys.iter().filter(|s| s.at <= now).max_by_key(|s| s.at) else {
            continue;
        };
        let last_day = days.last().copied().unwrap_or(today);
        let since = u32::try_from(today - last_day).unwrap_or(u32::MAX);
        let every = u32::try_from(median).unwrap_or(u32::MAX);
        let due = since >= every;
        let ago = match since {
            0 => "today".to_string(),
            1 => "yesterday".to_string(),
            n => format!("{n} days ago"),
        };
        out.push(Usual {
            item: last.name.clone(),
            product_id: last.product_id.clone(),
            times_bought: u32::try_from(days.len()).unwrap_or(u32::MAX),
            every_days: every,
            last_bought_at: last.at,
            days_since: since,
            due,
            confidence,
            on_list: false,
            message: format!(
                "you usually buy {} every {} day{}; the last time was {ago}",
                last.name,
                every,
                if every == 1 { "" } else { "s" }
            ),
        });
    }
    // Due first, the most overdue (relative to their rhythm) first.
    out.sort_by(|a, b| {
        let late = |u: &Usual| f64::from(u.days_since) / f64::from(u.every_days.max(1));
        b.due
            .cmp(&a.due)
            .then(late(b).total_cmp(&late(a)))
            .then(a.item.cmp(&b.item))
    });
    out
}

impl<'a> Habits<'a> {
    pub(crate) fn new(g: &'a Grocery, user: UserId) -> Self {
        Habits { g, user }
    }

    /// What this user buys regularly, due first, as of now.
    ///
    /// # Errors
    /// Storage errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn usuals(&self) -> Result<Vec<Usual>> {
        self.usuals_at(Timestamp::now()).await
    }

    /// [`Habits::usuals`] as of `now` (replays, tests).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn usuals_at(&self, now: Timestamp) -> Result<Vec<Usual>> {
        let since = now.as_millisecond() - HORIZON_DAYS * 86_400_000;
        let purchases = self.g.store().purchases(self.user, since).await?;
        let index = self.g.index();
        let seen: Vec<Seen> = purchases
            .into_iter()
            .map(|p| {
                let kind = p
                    .product_id
                    .as_deref()
                    .and_then(|id| index.by_id(id))
                    .map(|prod| prod.kind.clone())
                    .filter(|k| !k.is_empty());
                Seen {
                    key: kind.unwrap_or_else(|| p.name.clone()),
                    name: p.name,
                    product_id: p.product_id,
                    at: ts(p.at),
                }
            })
            .collect();
        Ok(predict(&seen, now))
    }

    /// "What am I forgetting?": the usuals that are due and not on the list
    /// (by name; `None` for the current list). A missing list forgets nothing
    /// of what is due.
    ///
    /// # Errors
    /// Storage errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn forgotten(&self, list: Option<&str>) -> Result<Vec<Usual>> {
        let lists = self.g.lists_for(self.user);
        // Reading the current list never creates it.
        let found = match list {
            Some(n) => lists.find(n).await,
            None => match lists.current_if_any().await? {
                Some(l) => Ok(l),
                None => Err(Error::not_found("list", crate::lists::DEFAULT_LIST)),
            },
        };
        let on: Vec<(String, Option<String>)> = match found {
            Ok(l) => {
                let index = self.g.index();
                l.items
                    .iter()
                    .filter(|i| !i.checked)
                    .map(|i| {
                        let kind = i
                            .product_id
                            .as_deref()
                            .and_then(|id| index.by_id(id))
                            .map(|p| p.kind.clone());
                        (i.name.to_lowercase(), kind)
                    })
                    .collect()
            }
            Err(crate::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let index = self.g.index();
        let mut usuals = self.usuals().await?;
        for u in &mut usuals {
            let kind = u
                .product_id
                .as_deref()
                .and_then(|id| index.by_id(id))
                .map(|p| p.kind.clone());
            u.on_list = on
                .iter()
                .any(|(name, k)| *name == u.item || (k.is_some() && *k == kind));
        }
        usuals.retain(|u| u.due && !u.on_list);
        Ok(usuals)
    }

    /// [`crate::Catalog::search`] ranked for this user: a product they
    /// picked (added or bought, a purchase counting double) at least twice
    /// moves up, by half its score at most; so do products of the brand that
    /// has most of their picks in that kind, and organic products in a kind
    /// where most of their picks are organic. A user with no picks gets the
    /// catalog's own order. Relevance still leads: a boost is at most 1.9×.
    ///
    /// # Errors
    /// As [`crate::Catalog::search`]; storage errors.
    pub async fn search(&self, query: &str, limit: usize) -> Result<Vec<crate::SearchHit>> {
        let limit = limit.max(1);
        // Look a little deeper, so that a favourite just past the cut can rise.
        let wider = (limit * 2).clamp(limit, limit + 20);
        let hits = self.g.catalog().search_shared(query, wider).await?;
        let picks = self.g.picks(self.user).await?;
        let taste = Taste::of(&picks, &self.g.index());
        let mut ranked: Vec<(f32, usize, crate::SearchHit)> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| (h.score * taste.boost(&h.product), i, h.clone()))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(ranked
            .into_iter()
            .take(limit)
            .map(|(score, _, mut h)| {
                h.score = score;
                h
            })
            .collect())
    }

    /// This user's preferred product among `candidates` (catalog ids) for a
    /// request of `kind`: the one they added or bought most (a purchase
    /// counts double), when they picked it at least twice. `None` when they
    /// have no habit there.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn preferred(&self, kind: &str, words: &[String]) -> Result<Option<String>> {
        let picks = self.g.picks(self.user).await?;
        let index = self.g.index();
        let mut best: Option<(i64, i64, &str)> = None;
        for p in picks.iter() {
            let score = p.added + 2 * p.bought;
            if score < 2 {
                continue;
            }
            let Some(entry) = index.entry(&p.product_id) else {
                continue;
            };
            if entry.product.kind != kind {
                continue;
            }
            // Every word asked for must be in its name ("2% milk" is not whole milk).
            if !words.iter().all(|w| entry.words.contains(w.as_str())) {
                continue;
            }
            if best
                .as_ref()
                .is_none_or(|(s, at, _)| (score, p.last_at) > (*s, *at))
            {
                best = Some((score, p.last_at, p.product_id.as_str()));
            }
        }
        if let Some((_, _, id)) = best {
            return Ok(Some(id.to_string()));
        }
        // No product of theirs fits these words: the one that fits their
        // taste in this kind, if they have one (their brand, organic or not,
        // their usual pack size): "2% milk" from the shopper who always takes
        // Kroger's gallon of whole milk is Kroger's gallon of 2%.
        let taste = Taste::of(&picks, &index);
        let Some(prefs) = taste.kind(kind) else {
            return Ok(None);
        };
        let mut found: Option<(u32, u8, &str)> = None;
        for entry in index.of_kind_entries(kind) {
            if !words.iter().all(|w| entry.words.contains(w.as_str())) {
                continue;
            }
            let prod = &*entry.product;
            let fit = prefs.fit(prod);
            if fit == 0 {
                continue;
            }
            if found
                .as_ref()
                .is_none_or(|(f, pop, _)| (fit, prod.popularity) > (*f, *pop))
            {
                found = Some((fit, prod.popularity, prod.id.as_str()));
            }
        }
        Ok(found.map(|(_, _, id)| id.to_string()))
    }
}

/// What a user's picks say about their taste: how much they picked each
/// product, the brand with most of their picks in each kind, and the kinds
/// where most of their picks are organic.
struct Taste {
    product: std::collections::HashMap<String, i64>,
    brand: std::collections::HashMap<String, String>,
    organic: std::collections::HashSet<String>,
    /// Kind → the pack size with most of their picks there.
    size: std::collections::HashMap<String, crate::Quantity>,
}

/// The choice with more than half of the weight, if one has.
fn majority<T>(weights: impl IntoIterator<Item = (T, i64)>) -> Option<T> {
    let weights: Vec<(T, i64)> = weights.into_iter().collect();
    let total: i64 = weights.iter().map(|(_, n)| n).sum();
    let (top, n) = weights.into_iter().max_by_key(|(_, n)| *n)?;
    (n * 2 > total).then_some(top)
}

/// What a user prefers within one kind.
struct KindTaste<'t> {
    brand: Option<&'t str>,
    organic: bool,
    size: Option<crate::Quantity>,
}

impl KindTaste<'_> {
    /// How well `p` fits: the brand counts most, then organic, then the pack
    /// size; 0 when nothing fits.
    fn fit(&self, p: &crate::catalog::Product) -> u32 {
        let mut fit = 0;
        if self.brand.is_some_and(|b| p.brand.eq_ignore_ascii_case(b)) {
            fit += 4;
        }
        if self.organic && p.has_tag("organic") {
            fit += 2;
        }
        if self.size.is_some_and(|s| s == p.size) {
            fit += 1;
        }
        fit
    }
}

impl Taste {
    fn of(picks: &[crate::store::Pick], index: &crate::catalog::index::CatalogIndex) -> Taste {
        let mut product = std::collections::HashMap::new();
        // kind → (brand → score), (organic score, all score)
        let mut brands: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        let mut organic: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let mut sizes: BTreeMap<String, Vec<(crate::Quantity, i64)>> = BTreeMap::new();
        for p in picks {
            let score = p.added + 2 * p.bought;
            if score < 2 {
                continue;
            }
            product.insert(p.product_id.clone(), score);
            if let Some(prod) = index.by_id(&p.product_id) {
                *brands
                    .entry(prod.kind.clone())
                    .or_default()
                    .entry(prod.brand.to_lowercase())
                    .or_default() += score;
                let by_size = sizes.entry(prod.kind.clone()).or_default();
                match by_size.iter_mut().find(|(q, _)| *q == prod.size) {
                    Some((_, n)) => *n += score,
                    None => by_size.push((prod.size, score)),
                }
                let o = organic.entry(prod.kind.clone()).or_default();
                o.1 += score;
                if prod.has_tag("organic") {
                    o.0 += score;
                }
            }
        }
        let brand = brands
            .into_iter()
            .filter_map(|(kind, by)| Some((kind, majority(by)?)))
            .collect();
        let organic = organic
            .into_iter()
            .filter(|(_, (o, all))| o * 2 > *all)
            .map(|(kind, _)| kind)
            .collect();
        let size = sizes
            .into_iter()
            .filter_map(|(kind, by)| Some((kind, majority(by)?)))
            .collect();
        Taste {
            product,
            brand,
            organic,
            size,
        }
    }

    /// Their taste in `kind`, if they have picked anything of it.
    fn kind(&self, kind: &str) -> Option<KindTaste<'_>> {
        let t = KindTaste {
            brand: self.brand.get(kind).map(String::as_str),
            organic: self.organic.contains(kind),
            size: self.size.get(kind).copied(),
        };
        (t.brand.is_some() || t.organic || t.size.is_some()).then_some(t)
    }

    /// The factor a hit's relevance is multiplied by, 1.0 to 1.9.
    fn boost(&self, p: &crate::catalog::Product) -> f32 {
        let mut b = 1.0;
        if let Some(score) = self.product.get(&p.id) {
            b += (0.1 * *score as f32).min(0.5);
        }
        if self
            .brand
            .get(&p.kind)
            .is_some_and(|top| p.brand.eq_ignore_ascii_case(top))
        {
            b += 0.25;
        }
        if p.has_tag("organic") && self.organic.contains(&p.kind) {
            b += 0.15;
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: i64) -> Timestamp {
        Timestamp::from_second(d * 86_400 + 3_600).unwrap()
    }

    fn seen(key: &str, days: &[i64]) -> Vec<Seen> {
        days.iter()
            .map(|d| Seen {
                key: key.into(),
                name: key.into(),
                product_id: None,
                at: day(*d),
            })
            .collect()
    }

    /// Due, every, days since; `None` for "no habit yet".
    type Want = Option<(bool, u32, u32)>;

    #[test]
    fn restock_table() {
        // (purchase days, today, want)
        let cases: &[(&[i64], i64, Want)] = &[
            (&[0, 6, 12, 18], 25, Some((true, 6, 7))),
            (&[0, 6, 12, 18], 20, Some((false, 6, 2))),
            (&[0, 6, 12, 18], 24, Some((true, 6, 6))),
            (&[0, 7], 10, Some((false, 7, 3))),
            (&[0], 30, None),
            (&[5, 5, 5], 30, None),
            (&[0, 3, 10, 13, 20], 30, Some((true, 7, 10))),
            // A future purchase (clock skew) is ignored.
            (&[0, 5, 40], 12, Some((true, 5, 7))),
        ];
        for (days, today, want) in cases {
            let got = predict(&seen("milk", days), day(*today));
            match want {
                None => assert!(got.is_empty(), "{days:?}: {got:?}"),
                Some((due, every, since)) => {
                    assert_eq!(got.len(), 1, "{days:?}");
                    let u = &got[0];
                    assert_eq!(
                        (u.due, u.every_days, u.days_since),
                        (*due, *every, *since),
                        "{days:?}"
                    );
                    assert!(
                        u.message.contains(&format!("every {every} days")),
                        "{}",
                        u.message
                    );
                }
            }
        }
    }

    #[test]
    fn steady_habits_are_surer_and_due_ones_come_first() {
        let mut all = seen("milk", &[0, 6, 12, 18, 24]);
        all.extend(seen("coffee", &[0, 3, 20]));
        all.extend(seen("eggs", &[10, 24]));
        let got = predict(&all, day(31));
        let names: Vec<&str> = got.iter().map(|u| u.item.as_str()).collect();
        assert_eq!(names, ["milk", "coffee", "eggs"]);
        assert!(got[0].confidence > got[1].confidence, "{got:?}");
        assert!(got[0].due && !got[1].due && !got[2].due);
    }

    /// Search ranked for a user: what they pick rises; another user's order is
    /// the catalog's; nothing that does not match the query appears.
    #[tokio::test]
    async fn search_ranks_what_this_user_picks_higher() {
        let (g, _d) = crate::grocery::temp_grocery().await;
        let bo = g.users().add("bo").await.unwrap();
        let ids = |hits: Vec<crate::SearchHit>| -> Vec<String> {
            hits.into_iter().map(|h| h.product.id).collect()
        };
        // (query, which default hit becomes the favourite, times added)
        let table = [
            ("milk", 1, 5),
            ("eggs", 2, 6),
            ("coffee", 3, 8),
            ("bread", 4, 10),
        ];
        for (query, nth, added) in table {
            let plain = ids(g.catalog().search(query, 10).await.unwrap());
            let favourite = plain[nth].clone();
            let fav = favourite.clone();
            g.store()
                .write(move |tx| {
                    tx.execute(
                        "INSERT INTO product_picks (user_id, product_pk, added, bought, last_at) \
                         VALUES (1, (SELECT pk FROM products WHERE id = ?1), ?2, 0, 0)",
                        rusqlite::params![fav, added],
                    )?;
                    Ok(())
                })
                .await
                .unwrap();
            g.picks_changed(UserId::LOCAL);
            let mine = ids(g.habits().search(query, 10).await.unwrap());
            let rank = mine.iter().position(|id| *id == favourite).unwrap();
            assert!(
                rank < nth,
                "{query}: {favourite} at {rank}, was {nth}: {mine:?}"
            );
            if nth == 1 {
                assert_eq!(rank, 0, "{query}: {mine:?}");
            }
            let all = ids(g.catalog().search(query, 40).await.unwrap());
            assert!(mine.iter().all(|id| all.contains(id)), "{query}: {mine:?}");
            let theirs = ids(g.habits_for(bo.id).search(query, 10).await.unwrap());
            assert_eq!(theirs, plain, "{query}");
        }
    }
}
