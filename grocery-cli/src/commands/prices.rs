//! `grocery price`, `history`, `track`, `alerts` and `cache`: prices through the
//! tiered cache, their history, tracking and alerts.

use std::time::Duration;

use grocery_core::pricing::Target;
use grocery_core::{Grocery, Money};

use crate::error::CliError;
use crate::output::Output;

/// The product a query names: the best search hit.
async fn product_for(
    grocery: &Grocery,
    query: &[String],
) -> Result<grocery_core::Product, CliError> {
    let query = query.join(" ");
    grocery
        .catalog()
        .search(&query, 1)
        .await?
        .into_iter()
        .next()
        .map(|h| h.product)
        .ok_or_else(|| CliError::from(grocery_core::Error::not_found("product", query)))
}

/// The current price of a product, from the cache or its store.
#[derive(Debug, clap::Args)]
pub struct PriceArgs {
    /// The product, as you would search for it ("2% milk").
    #[arg(required = true, num_args = 1..)]
    query: Vec<String>,
    /// Oldest price accepted, in seconds; 0 asks the store now.
    #[arg(long, value_name = "SECS")]
    max_age: Option<u64>,
}

impl PriceArgs {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        let product = product_for(grocery, &self.query).await?;
        let answer = grocery
            .pricing()
            .price(&product.id, self.max_age.map(Duration::from_secs))
            .await?;
        if out.is_json() {
            return Ok(out.json(&answer)?);
        }
        let tier = serde_json::to_value(answer.tier)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.line(&format!(
            "{}: {} ({}) at {}{}, from {} ({} s old{})",
            answer.name,
            Money::usd(answer.price_cents),
            answer.unit_price,
            answer.source,
            if answer.in_stock {
                ""
            } else {
                ", out of stock"
            },
            tier,
            answer.age_secs,
            if answer.stale { ", stale" } else { "" },
        ))?;
        for offer in &answer.offers {
            out.line(&format!(
                "  offer: {}",
                serde_json::to_string(offer).unwrap_or_default()
            ))?;
        }
        Ok(())
    }
}

/// A product's price history, with a chart.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The product, as you would search for it.
    #[arg(required = true, num_args = 1..)]
    query: Vec<String>,
    /// How many days back.
    #[arg(long, default_value_t = 90)]
    days: u32,
}

impl HistoryArgs {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        if !(1..=3650).contains(&self.days) {
            return Err(CliError::Usage("--days must be between 1 and 3650".into()));
        }
        let product = product_for(grocery, &self.query).await?;
        let since = grocery_core::jiff::Timestamp::now()
            .checked_sub(grocery_core::jiff::SignedDuration::from_hours(
                24 * i64::from(self.days),
            ))
            .ok();
        let points = grocery.prices().history(&product.id, since).await?;
        let stats = grocery.prices().stats(&product.id, self.days).await?;
        if out.is_json() {
            return Ok(out.json(&serde_json::json!({
                "product_id": product.id,
                "name": product.display_name(),
                "points": points,
                "stats": stats,
            }))?);
        }
        out.line(&product.display_name())?;
        let Some(stats) = stats else {
            return Ok(out.line(&format!(
                "no prices recorded in the last {} days (try `grocery price`)",
                self.days
            ))?);
        };
        // Oldest first, one bar per observation.
        let span = (stats.max.cents - stats.min.cents).max(1);
        for p in points.iter().rev() {
            let width = 1 + ((p.price.cents - stats.min.cents) * 30 / span) as usize;
            out.line(&format!(
                "{}  {:>8}  {}",
                p.observed_at.strftime("%Y-%m-%d"),
                p.price.to_string(),
                "█".repeat(width)
            ))?;
        }
        out.line(&format!(
            "min {}  average {}  max {}  latest {}{}",
            stats.min,
            stats.average,
            stats.max,
            stats.latest,
            if stats.latest_is_lowest {
                " (lowest)"
            } else {
                ""
            }
        ))?;
        Ok(())
    }
}

/// Watch a product for a target price or a drop.
#[derive(Debug, clap::Args)]
pub struct TrackArgs {
    /// The product, as you would search for it.
    #[arg(required = true, num_args = 1..)]
    query: Vec<String>,
    /// Alert at or below this price, e.g. 3.49.
    #[arg(
        long,
        value_name = "PRICE",
        conflicts_with = "drop",
        required_unless_present = "drop"
    )]
    below: Option<String>,
    /// Alert when the price is this many percent under today's.
    #[arg(long, value_name = "PCT")]
    drop: Option<u8>,
}

impl TrackArgs {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        let target = match (self.below, self.drop) {
            (Some(price), _) => Target::Below(
                Money::parse(price.trim_start_matches('$'), grocery_core::Currency::Usd)
                    .map_err(|e| CliError::from(grocery_core::Error::invalid(e.to_string())))?,
            ),
            (None, Some(pct)) => Target::DropPercent(pct),
            (None, None) => return Err(CliError::Usage("give --below PRICE or --drop PCT".into())),
        };
        let product = product_for(grocery, &self.query).await?;
        let track = grocery.prices().track(&product.id, target).await?;
        if out.is_json() {
            return Ok(out.json(&track)?);
        }
        out.line(&format!(
            "Tracking {}: alert at or below {} (now {}).",
            product.display_name(),
            track.threshold(),
            track.baseline
        ))?;
        Ok(())
    }
}

/// Price alerts raised for you, newest first.
#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
    /// How many to show.
    #[arg(short = 'n', long, default_value_t = 20)]
    limit: usize,
}

impl AlertsArgs {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        let alerts = grocery.prices().alerts(self.limit).await?;
        if out.is_json() {
            return Ok(out.json(&alerts)?);
        }
        if alerts.is_empty() {
            return Ok(out.line("no alerts")?);
        }
        let rows: Vec<Vec<String>> = alerts
            .iter()
            .map(|a| {
                vec![
                    a.created_at.strftime("%Y-%m-%d %H:%M").to_string(),
                    a.product_id.clone(),
                    a.price.to_string(),
                    a.reason.clone(),
                ]
            })
            .collect();
        Ok(out.table(&["when", "product", ">price", "why"], &rows)?)
    }
}

/// The price cache.
#[derive(Debug, clap::Subcommand)]
pub enum CacheCommand {
    /// Hits and misses per tier.
    Stats,
    /// Fetch the most popular products' prices into the cache.
    Warm {
        /// How many products.
        #[arg(long, default_value_t = 100)]
        top: usize,
    },
    /// Empty the cache (memory and database; Redis copies expire on their own).
    Clear,
}

/// `grocery cache stats --json`: the cache's counters and the sources' guards.
#[derive(serde::Serialize)]
struct Stats {
    #[serde(flatten)]
    cache: grocery_core::CacheReport,
    sources: Vec<grocery_core::pricing::client::SourceStatus>,
}

impl CacheCommand {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        let pricing = grocery.pricing();
        match self {
            CacheCommand::Stats => {
                let stats = Stats {
                    cache: pricing.cache_report().await?,
                    sources: pricing.sources(),
                };
                if out.is_json() {
                    return Ok(out.json(&stats)?);
                }
                render_stats(&stats, out)
            }
            CacheCommand::Warm { top } => {
                if !(1..=10_000).contains(&top) {
                    return Err(CliError::Usage("--top must be between 1 and 10000".into()));
                }
                let bar = if out.is_json() || out.is_quiet() {
                    indicatif::ProgressBar::hidden()
                } else {
                    // Drawn only on a terminal (stderr); nothing in a pipe or a log.
                    indicatif::ProgressBar::new(top as u64).with_style(
                        indicatif::ProgressStyle::with_template(
                            "warming prices {bar:30} {pos}/{len} {per_sec} eta {eta}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    )
                };
                // A one-shot run refreshes whatever is not fresh in the L1 sense.
                let done = pricing
                    .warm(top, Duration::from_secs(60), |done, total| {
                        bar.set_length(total as u64);
                        bar.set_position(done as u64);
                    })
                    .await;
                bar.finish_and_clear();
                let done = done?;
                if out.is_json() {
                    return Ok(out.json(&serde_json::json!({ "warmed": done }))?);
                }
                Ok(out.line(&format!("warmed {done} prices"))?)
            }
            CacheCommand::Clear => {
                let removed = pricing.clear_cache().await?;
                if out.is_json() {
                    return Ok(out.json(&serde_json::json!({ "removed": removed }))?);
                }
                Ok(out.line(&format!(
                    "cleared the price cache ({removed} stored entries)"
                ))?)
            }
        }
    }
}

fn render_stats(stats: &Stats, out: &mut Output) -> Result<(), CliError> {
    let c = &stats.cache;
    let percent = |r: f64| format!("{:.1}%", r * 100.0);
    let tier = |name: &str, t: &grocery_core::TierReport| {
        vec![
            name.to_string(),
            t.hits.to_string(),
            t.misses.to_string(),
            percent(t.hit_ratio),
            t.entries.map_or_else(|| "-".to_string(), |n| n.to_string()),
        ]
    };
    let rows = vec![
        tier("memory (l1)", &c.l1),
        tier("redis (l2)", &c.l2),
        tier("sqlite (l3)", &c.l3),
    ];
    out.table(
        &["tier", ">hits", ">misses", ">hit ratio", ">entries"],
        &rows,
    )?;
    out.line(&format!(
        "{} requests, {} answered by the cache; {} upstream calls ({} failed), {} served stale",
        c.requests,
        percent(c.hit_ratio),
        c.upstream_calls,
        c.upstream_errors,
        c.stale_served
    ))?;
    let rows: Vec<Vec<String>> = stats
        .sources
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.breaker.state.as_str().to_string(),
                format!("{}/{}", s.breaker.failed_calls, s.breaker.calls),
                s.breaker.rejected_total.to_string(),
                match s.daily_quota {
                    Some(q) => format!("{}/{q}", s.calls_today),
                    None => s.calls_today.to_string(),
                },
            ]
        })
        .collect();
    out.line("")?;
    Ok(out.table(
        &[
            "source",
            "breaker",
            ">failed/calls",
            ">rejected",
            ">today/quota",
        ],
        &rows,
    )?)
}
