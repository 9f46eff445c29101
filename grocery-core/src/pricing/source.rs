//! Price sources: where current prices come from.
//!
//! A [`PriceSource`] answers "what does this product cost at your store now" for a
//! batch of product ids. Several can be configured at once, one per store; each
//! declares its daily quota so a source out of quota is skipped, not hammered.
//! The embedded default is [`DemoMarket`]: the catalog's prices moved day by day
//! by a deterministic demo market (promotions, rollbacks, multi-buy offers), so
//! that history, alerts and deals work offline. It is demo data, not real prices.

use std::future::Future;
use std::pin::Pin;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::catalog::Product;
use crate::error::Result;
use crate::money::Money;

/// A boxed future, so that sources can live behind `dyn PriceSource`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A special price or multi-buy deal attached to a quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Offer {
    /// "2 for $5": `qty` packs for `price`.
    MultiBuy {
        /// Packs in the deal.
        qty: u32,
        /// Price of the `qty` packs together.
        price: Money,
    },
    /// Buy one, get one free.
    Bogo,
    /// A temporary price cut ("rollback"); `was` is the regular price.
    Rollback {
        /// The regular price.
        was: Money,
    },
    /// Clearance; `was` is the regular price.
    Clearance {
        /// The regular price.
        was: Money,
    },
    /// A promotion (weekly ad, digital coupon); `was` is the regular price.
    Promo {
        /// The regular price.
        was: Money,
    },
}

/// One product's price at one store, as a source reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The product (catalog id).
    pub product_id: String,
    /// The store (source name).
    pub source: String,
    /// What one pack costs now.
    pub price: Money,
    /// The offers that apply now, if any.
    pub offers: Vec<Offer>,
    /// Whether the store has it.
    pub in_stock: bool,
    /// When the source observed the price (UTC).
    pub observed_at: Timestamp,
}

/// A store's current prices.
pub trait PriceSource: Send + Sync + std::fmt::Debug {
    /// The source's name, used as the store name (`demo`, `walmart`).
    fn name(&self) -> &str;

    /// Calls allowed per day (UTC); `None` for no limit.
    fn daily_quota(&self) -> Option<u32>;

    /// Most product ids one call may carry.
    fn max_batch(&self) -> usize;

    /// Quotes for `products` (at most [`PriceSource::max_batch`]); products the
    /// store does not sell are left out of the answer.
    fn quote<'a>(&'a self, products: &'a [Product]) -> BoxFuture<'a, Result<Vec<Quote>>>;
}

/// The embedded demo market: the catalog's shelf prices, moved day by day.
///
/// Deterministic in (product, UTC day), so every run and every process sees the
/// same market:
/// - a slow drift of up to ±4% over a 28-day cycle;
/// - a weekly promotion on about one product in twelve (15–30% off for 7 days);
/// - a two-week rollback on about one product in twenty (10% off);
/// - a multi-buy offer on about one product in twenty-five ("2 for" 85% of two);
/// - clearance on about one product in a hundred, for 10 days (40% off).
///
/// Prices stay whole cents ending in 9 where the shelf price did.
#[derive(Debug, Clone)]
pub struct DemoMarket {
    name: String,
    /// A fixed day (days since 1970-01-01, UTC); `None` for today.
    today: Option<i64>,
}

impl Default for DemoMarket {
    fn default() -> Self {
        DemoMarket {
            name: "demo".to_string(),
            today: None,
        }
    }
}

/// A stable 64-bit hash of a string and a number (FNV-1a then a mix); the demo
/// market must not depend on the process's random hasher seed.
fn mix(s: &str, n: i64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes().chain(n.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

impl DemoMarket {
    /// The market on a fixed day, counted in days since 1970-01-01 UTC (tests,
    /// replays); [`DemoMarket::default`] follows today.
    pub fn on(day: i64) -> Self {
        DemoMarket {
            today: Some(day),
            ..Default::default()
        }
    }

    fn day(&self) -> i64 {
        self.today
            .unwrap_or_else(|| Timestamp::now().as_second().div_euclid(86_400))
    }

    /// The quote for `p` on `day` (days since 1970-01-01 UTC).
    pub fn quote_on(&self, p: &Product, day: i64) -> Quote {
        let n = day;
        let base = p.price.cents.max(1);
        // Drift: a triangle wave of ±4% over 28 days, phase per product.
        let phase = (mix(&p.id, 0) % 28) as i64;
        let t = (n + phase).rem_euclid(28);
        let tri = if t < 14 { t } else { 28 - t } - 7; // -7..=7
        let regular = round_like(base, base + base * tri * 4 / 700, base);
        let week = n.div_euclid(7);
        let fortnight = n.div_euclid(14);
        let mut price = regular;
        let mut offers = Vec::new();
        let was = Money::usd(regular);
        if mix(&p.id, 1_000_000 + n.div_euclid(10)) % 100 == 0 {
            price = round_like(base, regular * 60 / 100, regular);
            offers.push(Offer::Clearance { was });
        } else if mix(&p.id, 2_000_000 + fortnight) % 20 == 0 {
            price = round_like(base, regular * 90 / 100, regular);
            offers.push(Offer::Rollback { was });
        } else if mix(&p.id, 3_000_000 + week) % 12 == 0 {
            let off = 15 + (mix(&p.id, 4_000_000 + week) % 16) as i64;
            price = round_like(base, regular * (100 - off) / 100, regular);
            offers.push(Offer::Promo { was });
        }
        if mix(&p.id, 5_000_000 + week) % 25 == 0 {
            // "2 for $X": a round 50 cents, below two packs.
            let two = (2 * price * 85 / 100).max(1);
            let rounded = (two / 50 * 50).max(50);
            if rounded < 2 * price {
                offers.push(Offer::MultiBuy {
                    qty: 2,
                    price: Money::usd(rounded),
                });
            }
        }
        let observed_at =
            Timestamp::from_second(day.saturating_mul(86_400)).unwrap_or(Timestamp::UNIX_EPOCH);
        Quote {
            product_id: p.id.clone(),
            source: self.name.clone(),
            price: Money::usd(price),
            offers,
            in_stock: mix(&p.id, 6_000_000 + n) % 50 != 0,
            observed_at,
        }
    }
}

/// `cents`, ending in 9 like `shelf` when the shelf price does, and never above
/// `cap` (a cut is never rounded up past the price it cuts).
fn round_like(shelf: i64, cents: i64, cap: i64) -> i64 {
    let cents = cents.max(1);
    let out = if shelf % 10 == 9 && cents >= 10 {
        cents / 10 * 10 + 9
    } else {
        cents
    };
    if cents < cap && out >= cap {
        if out > 10 { out - 10 } else { cents }
    } else {
        out
    }
}

impl PriceSource for DemoMarket {
    fn name(&self) -> &str {
        &self.name
    }

    fn daily_quota(&self) -> Option<u32> {
        None
    }

    fn max_batch(&self) -> usize {
        1_000
    }

    fn quote<'a>(&'a self, products: &'a [Product]) -> BoxFuture<'a, Result<Vec<Quote>>> {
        let day = self.day();
        Box::pin(async move { Ok(products.iter().map(|p| self.quote_on(p, day)).collect()) })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn products() -> Vec<Product> {
        crate::catalog::embedded_products().unwrap()
    }

    #[test]
    fn the_market_is_deterministic_and_moves_day_by_day() {
        let ps = products();
        let m = DemoMarket::default();
        let d1 = 20_758; // 2026-11-01
        let d2 = d1 + 19;
        let a: Vec<Quote> = ps.iter().map(|p| m.quote_on(p, d1)).collect();
        let again: Vec<Quote> = ps.iter().map(|p| m.quote_on(p, d1)).collect();
        assert_eq!(a, again);
        let b: Vec<Quote> = ps.iter().map(|p| m.quote_on(p, d2)).collect();
        let moved = a.iter().zip(&b).filter(|(x, y)| x.price != y.price).count();
        assert!(moved > ps.len() / 2, "{moved} of {} moved", ps.len());
    }

    #[test]
    fn offers_are_rare_real_and_never_raise_the_price() {
        let ps = products();
        let m = DemoMarket::default();
        let mut with_offer = 0;
        let mut kinds = std::collections::HashSet::new();
        for day in 0..28 {
            let d = 20_758 + day;
            for p in &ps {
                let q = m.quote_on(p, d);
                assert!(q.price.cents > 0);
                // Within the drift band (4%, then rounded to end in 9) or below it.
                assert!(
                    q.price.cents <= p.price.cents * 104 / 100 + 10,
                    "{} {:?}",
                    p.id,
                    q
                );
                for o in &q.offers {
                    kinds.insert(std::mem::discriminant(o));
                    match o {
                        Offer::Rollback { was }
                        | Offer::Promo { was }
                        | Offer::Clearance { was } => {
                            assert!(q.price.cents < was.cents, "{o:?} {q:?}");
                        }
                        Offer::MultiBuy { qty, price } => {
                            assert!(price.cents < i64::from(*qty) * q.price.cents, "{o:?} {q:?}");
                        }
                        Offer::Bogo => {}
                    }
                }
                with_offer += usize::from(!q.offers.is_empty());
            }
        }
        let share = with_offer as f64 / (28 * ps.len()) as f64;
        assert!((0.05..0.30).contains(&share), "share with offers {share}");
        assert!(
            kinds.len() >= 4,
            "rollback, promo, clearance and multi-buy all occur"
        );
    }
}
