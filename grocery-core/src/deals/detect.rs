//! Deal detection: is today's price a deal, why, and how sure are we?
//!
//! A price is a deal when its source flags it ([`Offer`]: rollback, clearance,
//! promo, multi-buy, BOGO) or when its own history says so:
//! - **below the median**: at least 10% under the time-weighted median of the
//!   last 30 days. History holds change points only, so each price counts for
//!   as long as it held (until the next change point, the last one until
//!   `now`); time before the first point is unknown and not counted;
//! - **lowest in N days**: the product has not been this cheap for at least
//!   30 days (or ever, in at least 30 days of history).
//!
//! Every signal gets a score (0..=100) and a confidence (0.0..=1.0); the answer
//! carries the strongest signal's kind, the highest score plus 10 for each other
//! signal that agrees (capped at 100), the highest confidence, and every
//! reason, strongest first. Scores: a percentage saving `p` scores `2p` (25% off
//! is 50, half price is 100); clearance without a former price scores 30;
//! lowest in `N` days scores `20 + min(N, 180)/9` (20..=40: it says nothing of
//! how much cheaper). Source flags have confidence 0.9 (1.0
//! for multi-buy and BOGO, whose saving is plain arithmetic); history signals
//! have `covered days / 30`, so under 7 days of history they are below 0.25.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::offer::Offer;
use crate::money::Money;

/// A change point of a price history: from this instant the price was `cents`.
pub type PricePoint = (Timestamp, i64);

/// Days of history the median looks back over.
pub const MEDIAN_WINDOW_DAYS: i64 = 30;

/// Days a price must be the lowest for to count as a deal.
pub const LOWEST_MIN_DAYS: i64 = 30;

const DAY: i64 = 24 * 60 * 60;

/// Why a price is a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DealKind {
    /// The source says the price was rolled back.
    Rollback,
    /// The source marks the product for clearance.
    Clearance,
    /// The source reports a promotional price.
    Promo,
    /// "2 for $5".
    MultiBuy,
    /// Buy one, get one free.
    Bogo,
    /// At least 10% under its own 30-day median.
    BelowMedian,
    /// The lowest price in at least 30 days.
    LowestInDays,
}

/// A price judged to be a deal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deal {
    /// The strongest signal.
    pub kind: DealKind,
    /// How good a deal, 0..=100.
    pub score: u8,
    /// In words, strongest signal first, separated by `; `
    /// (`rollback: was $3.99, now $2.98 (25% off)`).
    pub reason: String,
    /// How sure, 0.0..=1.0: low when it rests on a short history.
    pub confidence: f64,
    /// The price judged, in cents.
    pub price_cents: i64,
    /// The usual price, in cents, when known (the former price or the median).
    pub usual_cents: Option<i64>,
}

/// One piece of evidence.
struct Signal {
    kind: DealKind,
    score: u8,
    confidence: f64,
    reason: String,
    usual: Option<i64>,
}

/// Whether `current_cents` is a deal, given the source's `offers`, the price
/// `history` (change points, any order; points after `now` are ignored) and
/// the time `now`.
///
/// Returns `None` when nothing says it is, and for a negative price. Offers
/// that make no sense (a rollback from a lower price, an invalid multi-buy)
/// are ignored.
///
/// # Examples
/// ```
/// use grocery_core::deals::{DealKind, Offer, detect_deal};
///
/// let now = grocery_core::jiff::Timestamp::from_second(1_750_000_000)?;
/// let deal = detect_deal(298, &[Offer::Rollback { was_cents: 399 }], &[], now).unwrap();
/// assert_eq!(deal.kind, DealKind::Rollback);
/// assert_eq!(deal.reason, "rollback: was $3.99, now $2.98 (25% off)");
/// # Ok::<(), grocery_core::jiff::Error>(())
/// ```
pub fn detect_deal(
    current_cents: i64,
    offers: &[Offer],
    history: &[PricePoint],
    now: Timestamp,
) -> Option<Deal> {
    if current_cents < 0 {
        return None;
    }
    let mut signals: Vec<Signal> = offers
        .iter()
        .filter_map(|o| offer_signal(current_cents, o))
        .collect();
    let segments = segments(history, now);
    signals.extend(median_signal(current_cents, &segments, now));
    signals.extend(lowest_signal(current_cents, &segments, now));
    // Strongest first; ties keep the order above (source flags first).
    signals.sort_by_key(|s| std::cmp::Reverse(s.score));
    let top = signals.first()?;
    let bonus = 10 * u32::try_from(signals.len() - 1).unwrap_or(u32::MAX).min(10);
    Some(Deal {
        kind: top.kind,
        score: u8::try_from((u32::from(top.score) + bonus).min(100)).unwrap_or(100),
        reason: signals
            .iter()
            .map(|s| s.reason.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        confidence: signals.iter().map(|s| s.confidence).fold(0.0, f64::max),
        price_cents: current_cents,
        usual_cents: signals.iter().find_map(|s| s.usual),
    })
}

/// `$3.99`.
fn money(cents: i64) -> String {
    Money::usd(cents).to_string()
}

/// `$5` for whole dollars, else `$4.50`: how shelf tags print offers.
fn tag_money(cents: i64) -> String {
    if cents % 100 == 0 {
        format!("${}", cents / 100)
    } else {
        money(cents)
    }
}

/// `two` .. `ten`, else digits.
fn count_word(n: u32) -> String {
    const WORDS: [&str; 11] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    usize::try_from(n)
        .ok()
        .and_then(|i| WORDS.get(i))
        .map_or_else(|| n.to_string(), |w| (*w).to_string())
}

/// Percent saved going from `was` to `now`, rounded half up; `None` unless a saving.
fn percent_off(was: i64, now: i64) -> Option<i64> {
    if was <= 0 || now >= was || now < 0 {
        return None;
    }
    let saved = i128::from(was - now);
    i64::try_from((saved * 200 + i128::from(was)) / (2 * i128::from(was))).ok()
}

/// Score of a percentage saving: twice the percent, at most 100.
fn percent_score(pct: i64) -> u8 {
    u8::try_from(pct.saturating_mul(2).clamp(0, 100)).unwrap_or(100)
}

fn offer_signal(current: i64, offer: &Offer) -> Option<Signal> {
    offer.validate().ok()?;
    let was_signal = |kind: DealKind, label: &str, was: i64| {
        let pct = percent_off(was, current)?;
        Some(Signal {
            kind,
            score: percent_score(pct),
            confidence: 0.9,
            reason: format!(
                "{label}: was {}, now {} ({pct}% off)",
                money(was),
                money(current)
            ),
            usual: Some(was),
        })
    };
    match *offer {
        Offer::Rollback { was_cents } => was_signal(DealKind::Rollback, "rollback", was_cents),
        Offer::Promo { was_cents } => was_signal(DealKind::Promo, "promo", was_cents),
        Offer::Clearance {
            was_cents: Some(was),
        } => was_signal(DealKind::Clearance, "clearance", was),
        Offer::Clearance { was_cents: None } => Some(Signal {
            kind: DealKind::Clearance,
            score: 30,
            confidence: 0.9,
            reason: format!("clearance at {}", money(current)),
            usual: None,
        }),
        Offer::MultiBuy { qty, price_cents } => {
            let full = current.checked_mul(i64::from(qty))?;
            let pct = percent_off(full, price_cents)?;
            Some(Signal {
                kind: DealKind::MultiBuy,
                score: percent_score(pct),
                confidence: 1.0,
                reason: format!(
                    "{qty} for {} saves {} on {}",
                    tag_money(price_cents),
                    money(full - price_cents),
                    count_word(qty)
                ),
                usual: None,
            })
        }
        Offer::Bogo => (current > 0).then(|| Signal {
            kind: DealKind::Bogo,
            score: percent_score(50),
            confidence: 1.0,
            reason: format!("buy one get one free: two for {}", money(current)),
            usual: None,
        }),
    }
}

/// A price and the seconds `[start, end)` it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    cents: i64,
    start: i64,
    end: i64,
}

/// The history as non-empty intervals ending at `now`, oldest first.
fn segments(history: &[PricePoint], now: Timestamp) -> Vec<Segment> {
    let now_s = now.as_second();
    let mut points: Vec<(i64, i64)> = history
        .iter()
        .map(|&(t, c)| (t.as_second(), c))
        .filter(|&(t, c)| t <= now_s && c >= 0)
        .collect();
    // Stable: of two points at one second, the later listed wins below.
    points.sort_by_key(|&(t, _)| t);
    let mut out: Vec<Segment> = Vec::with_capacity(points.len());
    for (i, &(t, cents)) in points.iter().enumerate() {
        let end = points.get(i + 1).map_or(now_s, |&(next, _)| next);
        if end > t {
            out.push(Segment {
                cents,
                start: t,
                end,
            });
        }
    }
    out
}

/// Confidence of a history-based signal covering `secs`.
fn history_confidence(secs: i64) -> f64 {
    (secs as f64 / (MEDIAN_WINDOW_DAYS * DAY) as f64).clamp(0.0, 1.0)
}

/// At least 10% under the time-weighted median of the last 30 days.
fn median_signal(current: i64, segments: &[Segment], now: Timestamp) -> Option<Signal> {
    let now_s = now.as_second();
    let from = now_s - MEDIAN_WINDOW_DAYS * DAY;
    let mut weighted: Vec<(i64, i64)> = segments
        .iter()
        .map(|s| (s.cents, s.end.min(now_s) - s.start.max(from)))
        .filter(|&(_, secs)| secs > 0)
        .collect();
    let total: i64 = weighted.iter().map(|&(_, secs)| secs).sum();
    if total == 0 {
        return None;
    }
    weighted.sort_unstable();
    // The lower weighted median: the first price by which half the time is covered.
    let mut cum = 0i64;
    let median = weighted.iter().find_map(|&(cents, secs)| {
        cum += secs;
        (cum * 2 >= total).then_some(cents)
    })?;
    if i128::from(current) * 10 > i128::from(median) * 9 {
        return None;
    }
    let pct = percent_off(median, current)?;
    Some(Signal {
        kind: DealKind::BelowMedian,
        score: percent_score(pct),
        confidence: history_confidence(total),
        reason: format!(
            "{pct}% under its {MEDIAN_WINDOW_DAYS}-day median of {}",
            money(median)
        ),
        usual: Some(median),
    })
}

/// The lowest price in at least [`LOWEST_MIN_DAYS`] days.
fn lowest_signal(current: i64, segments: &[Segment], now: Timestamp) -> Option<Signal> {
    let now_s = now.as_second();
    // Skip the current run (the trailing prices equal to today's), then walk
    // back through dearer prices to the last time it was this cheap.
    let mut rest = segments
        .iter()
        .rev()
        .skip_while(|s| s.cents == current)
        .peekable();
    rest.peek()?;
    let mut since = None;
    let mut saw_dearer = false;
    for s in rest {
        if s.cents <= current {
            since = Some(s.end);
            break;
        }
        saw_dearer = true;
        since = Some(s.start);
    }
    let since = since?;
    if !saw_dearer {
        return None;
    }
    let days = (now_s - since) / DAY;
    if days < LOWEST_MIN_DAYS {
        return None;
    }
    let span = now_s - segments.first().map_or(now_s, |s| s.start);
    Some(Signal {
        kind: DealKind::LowestInDays,
        // Weak on its own: a one-cent drop can be the lowest in months.
        score: u8::try_from(20 + days.min(180) / 9).unwrap_or(40),
        confidence: history_confidence(span),
        reason: format!("lowest price in {days} days"),
        usual: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_second(1_750_000_000).unwrap()
    }

    /// Change points given as (days ago, cents).
    fn hist(points: &[(i64, i64)]) -> Vec<PricePoint> {
        points
            .iter()
            .map(|&(ago, c)| {
                (
                    Timestamp::from_second(now().as_second() - ago * DAY).unwrap(),
                    c,
                )
            })
            .collect()
    }

    struct Case {
        name: &'static str,
        current: i64,
        offers: Vec<Offer>,
        history: Vec<(i64, i64)>,
        /// Expected (kind, reason starts with, score) or no deal.
        want: Option<(DealKind, &'static str, u8)>,
    }

    #[test]
    fn detects_deals_table() {
        let cases = vec![
            Case {
                name: "rollback from the source",
                current: 298,
                offers: vec![Offer::Rollback { was_cents: 399 }],
                history: vec![],
                want: Some((
                    DealKind::Rollback,
                    "rollback: was $3.99, now $2.98 (25% off)",
                    50,
                )),
            },
            Case {
                name: "multi-buy from the source",
                current: 300,
                offers: vec![Offer::MultiBuy {
                    qty: 2,
                    price_cents: 500,
                }],
                history: vec![],
                want: Some((DealKind::MultiBuy, "2 for $5 saves $1.00 on two", 34)),
            },
            Case {
                name: "a multi-buy that saves nothing is no deal",
                current: 250,
                offers: vec![Offer::MultiBuy {
                    qty: 2,
                    price_cents: 500,
                }],
                history: vec![],
                want: None,
            },
            Case {
                name: "rollback from a lower price is ignored",
                current: 300,
                offers: vec![Offer::Rollback { was_cents: 250 }],
                history: vec![],
                want: None,
            },
            Case {
                name: "bogo",
                current: 450,
                offers: vec![Offer::Bogo],
                history: vec![],
                want: Some((DealKind::Bogo, "buy one get one free: two for $4.50", 100)),
            },
            Case {
                name: "clearance without a former price",
                current: 199,
                offers: vec![Offer::Clearance { was_cents: None }],
                history: vec![],
                want: Some((DealKind::Clearance, "clearance at $1.99", 30)),
            },
            Case {
                name: "no offers, no history",
                current: 300,
                offers: vec![],
                history: vec![],
                want: None,
            },
            Case {
                name: "12% under a steady 30-day price",
                current: 440,
                offers: vec![],
                history: vec![(40, 500), (1, 440)],
                // 12% off scores 24, lowest in 40 days 24, agreeing +10.
                want: Some((
                    DealKind::BelowMedian,
                    "12% under its 30-day median of $5.00",
                    34,
                )),
            },
            Case {
                name: "5% under is not below the median, but is the lowest in 40 days",
                current: 475,
                offers: vec![],
                history: vec![(40, 500), (1, 475)],
                want: Some((DealKind::LowestInDays, "lowest price in 40 days", 24)),
            },
            Case {
                name: "time-weighted: a brief spike does not move the median",
                current: 300,
                offers: vec![],
                // 500 for 2 days, 300 the other 28: the median is 300.
                history: vec![(40, 300), (10, 500), (8, 300)],
                want: None,
            },
            Case {
                name: "time-weighted: a long high price sets the median",
                current: 300,
                offers: vec![],
                // 400 for 25 of 30 days: median 400, 25% off scores 50,
                // plus 10 for also being the lowest in 30 days.
                history: vec![(30, 400), (5, 300)],
                want: Some((
                    DealKind::BelowMedian,
                    "25% under its 30-day median of $4.00",
                    60,
                )),
            },
            Case {
                name: "lowest in 60 days, but not 10% under the median",
                current: 390,
                offers: vec![],
                history: vec![(60, 410), (45, 400), (30, 420), (0, 390)],
                want: Some((DealKind::LowestInDays, "lowest price in 60 days", 26)),
            },
            Case {
                name: "as cheap 20 days ago: not the lowest in 30 days",
                current: 390,
                offers: vec![],
                history: vec![(60, 410), (25, 390), (20, 420), (0, 390)],
                want: None,
            },
        ];
        for c in cases {
            let got = detect_deal(c.current, &c.offers, &hist(&c.history), now());
            match (got, c.want) {
                (None, None) => {}
                (Some(d), Some((kind, reason, score))) => {
                    assert_eq!(d.kind, kind, "{}: {d:?}", c.name);
                    assert!(d.reason.starts_with(reason), "{}: {}", c.name, d.reason);
                    assert_eq!(d.score, score, "{}: {d:?}", c.name);
                    assert!((0.0..=1.0).contains(&d.confidence), "{}", c.name);
                    assert_eq!(d.price_cents, c.current);
                }
                (got, want) => panic!("{}: got {got:?}, want {want:?}", c.name),
            }
        }
    }

    #[test]
    fn confidence_is_low_on_short_history() {
        let short = detect_deal(400, &[], &hist(&[(3, 500), (0, 400)]), now()).unwrap();
        assert_eq!(short.kind, DealKind::BelowMedian);
        assert!(short.confidence < 0.25, "{short:?}");
        let long = detect_deal(400, &[], &hist(&[(45, 500), (0, 400)]), now()).unwrap();
        assert!((long.confidence - 1.0).abs() < 1e-9, "{long:?}");
        // A source flag is trusted regardless of history.
        let flagged = detect_deal(298, &[Offer::Rollback { was_cents: 399 }], &[], now()).unwrap();
        assert!(flagged.confidence >= 0.9);
    }

    #[test]
    fn agreeing_signals_raise_the_score_and_list_every_reason() {
        let d = detect_deal(
            298,
            &[Offer::Rollback { was_cents: 399 }],
            &hist(&[(90, 399), (0, 298)]),
            now(),
        )
        .unwrap();
        assert_eq!(d.kind, DealKind::Rollback);
        // Rollback 25% -> 50; below median 25% and lowest in 90 days agree.
        assert_eq!(d.score, 70);
        assert!(d.reason.contains("lowest price in 90 days"), "{}", d.reason);
        assert!(
            d.reason.contains("under its 30-day median of $3.99"),
            "{}",
            d.reason
        );
        assert_eq!(d.usual_cents, Some(399));
    }

    #[test]
    fn ignores_future_points_and_bad_prices() {
        assert_eq!(detect_deal(-1, &[Offer::Bogo], &[], now()), None);
        // A point after now does not count.
        let h = hist(&[(40, 300), (-5, 900)]);
        assert_eq!(detect_deal(300, &[], &h, now()), None);
        // Unsorted history is sorted first.
        let h = hist(&[(1, 440), (40, 500)]);
        assert_eq!(
            detect_deal(440, &[], &h, now()).unwrap().kind,
            DealKind::BelowMedian
        );
    }
}
