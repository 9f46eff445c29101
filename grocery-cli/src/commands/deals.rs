//! `grocery optimize`, `grocery deals` and `grocery usuals`.

use grocery_core::deals::{Matched, OptimizeOptions, ProductDeal};
use grocery_core::{Currency, Grocery, Money};

use crate::error::CliError;
use crate::output::Output;

/// The cheapest way to buy a list: products, pack sizes and stores, with the
/// savings against buying it the plain way.
#[derive(Debug, clap::Args)]
pub struct OptimizeArgs {
    /// The list (default: the current list).
    #[arg(long)]
    list: Option<String>,
    /// Only these stores, comma-separated (default: every store with prices).
    #[arg(long, value_delimiter = ',')]
    stores: Option<Vec<String>>,
    /// Visit at most this many stores.
    #[arg(long = "max-stores", default_value_t = 2)]
    max_stores: u32,
    /// What each extra store trip costs you, in dollars (e.g. 3 or 2.50).
    #[arg(long = "trip-cost", default_value = "0")]
    trip_cost: String,
    /// Keep the total at or under this, in dollars (e.g. 50).
    #[arg(long)]
    budget: Option<String>,
    /// Buy every line as the list's own product: no other brand, size or
    /// variant.
    #[arg(long = "no-substitutes")]
    no_substitutes: bool,
}

fn dollars(flag: &str, text: &str) -> Result<i64, CliError> {
    Money::parse(text.trim().trim_start_matches('$'), Currency::Usd)
        .map(|m| m.cents)
        .map_err(|e| CliError::Usage(format!("{flag}: {e}")))
}

fn money(cents: i64) -> String {
    Money::usd(cents).to_string()
}

impl OptimizeArgs {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        let opts = OptimizeOptions {
            list: self.list,
            stores: self.stores,
            max_stores: self.max_stores,
            trip_cost_cents: dollars("--trip-cost", &self.trip_cost)?,
            budget_cents: self
                .budget
                .as_deref()
                .map(|b| dollars("--budget", b))
                .transpose()?,
            substitutes: !self.no_substitutes,
        };
        let plan = grocery.deals().optimize(&opts).await?;
        if out.is_json() {
            return Ok(out.json(&plan)?);
        }
        if plan.lines.is_empty() {
            return Ok(out.line(&format!("{} has nothing left to buy.", plan.list))?);
        }
        let rows: Vec<Vec<String>> = plan
            .lines
            .iter()
            .map(|l| {
                vec![
                    l.item.clone(),
                    l.product_name.clone().unwrap_or_else(|| "-".into()),
                    l.packs.to_string(),
                    l.store.clone().unwrap_or_else(|| "unavailable".into()),
                    money(l.cost_cents),
                    l.savings_cents
                        .filter(|s| *s != 0)
                        .map(money)
                        .unwrap_or_default(),
                ]
            })
            .collect();
        out.table(
            &["item", "buy", ">packs", "store", ">cost", ">saves"],
            &rows,
        )?;
        if plan.naive_unavailable.is_empty() {
            out.line(&format!(
                "Total {} at {} (plain way {}, you save {}).",
                money(plan.total_cents),
                plan.stores.join(" + "),
                money(plan.naive_total_cents),
                money(plan.savings_cents),
            ))?;
        } else {
            out.line(&format!(
                "Total {} at {} (the plain way, {} without {}, is not the same basket).",
                money(plan.total_cents),
                plan.stores.join(" + "),
                money(plan.naive_total_cents),
                plan.naive_unavailable.join(", "),
            ))?;
        }
        if plan.trip_cents > 0 {
            out.line(&format!(
                "Includes {} of extra trips.",
                money(plan.trip_cents)
            ))?;
        }
        if let Some(single) = &plan.single_store
            && plan.stores.len() > 1
        {
            out.line(&format!(
                "Cheapest single store: {} at {}.",
                single.store,
                money(single.total_cents)
            ))?;
        }
        if !plan.unavailable.is_empty() {
            out.line(&format!(
                "Not sold by these stores: {}.",
                plan.unavailable.join(", ")
            ))?;
        }
        if let Some(b) = &plan.budget {
            out.line(&if b.fits {
                format!("That fits your budget of {}.", money(b.budget_cents))
            } else {
                format!(
                    "Even the cheapest way is {} over your budget of {}.",
                    money(b.over_cents),
                    money(b.budget_cents)
                )
            })?;
        }
        Ok(())
    }
}

/// Deals on your list (store offers and prices under their usual), or with
/// `--all`, what is on sale anywhere.
#[derive(Debug, clap::Args)]
pub struct DealsArgs {
    /// The list (default: the current list).
    #[arg(long, conflicts_with = "all")]
    list: Option<String>,
    /// Everything on sale, not just your list.
    #[arg(long)]
    all: bool,
    /// How many deals to show with --all (at most 500).
    #[arg(short = 'n', long, default_value_t = 20)]
    limit: usize,
}

impl DealsArgs {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        if !(1..=500).contains(&self.limit) {
            return Err(CliError::Usage("--limit must be between 1 and 500".into()));
        }
        let deals: Vec<ProductDeal> = if self.all {
            grocery.deals().on_sale(self.limit).await?
        } else {
            grocery.deals().on_list(self.list.as_deref()).await?
        };
        if out.is_json() {
            return Ok(out.json(&deals)?);
        }
        if deals.is_empty() {
            return Ok(out.line(if self.all {
                "Nothing is on sale right now."
            } else {
                "No deals on your list right now."
            })?);
        }
        let rows: Vec<Vec<String>> = deals
            .iter()
            .map(|d| {
                let item = d.item.as_deref().unwrap_or("");
                let for_ = match d.matched.note() {
                    Some(note) if d.matched == Matched::Usual => note.to_string(),
                    Some(note) => format!("{item} ({note})"),
                    None => item.to_string(),
                };
                vec![
                    for_,
                    d.product_name.clone(),
                    d.store.clone(),
                    money(d.deal.price_cents),
                    d.deal.score.to_string(),
                    d.explanation(),
                ]
            })
            .collect();
        Ok(out.table(
            &["for", "product", "store", ">price", ">score", "why"],
            &rows,
        )?)
    }
}

/// What you usually buy and when it is due again, learned from what you
/// check off; `--forgotten` shows only what is due and not on your list.
#[derive(Debug, clap::Args)]
pub struct UsualsArgs {
    /// Only what is due and not on the list.
    #[arg(long)]
    forgotten: bool,
    /// The list for --forgotten (default: the current list).
    #[arg(long, requires = "forgotten")]
    list: Option<String>,
}

impl UsualsArgs {
    pub async fn run(self, grocery: &Grocery, out: &mut Output) -> Result<(), CliError> {
        let usuals = if self.forgotten {
            grocery.habits().forgotten(self.list.as_deref()).await?
        } else {
            grocery.habits().usuals().await?
        };
        if out.is_json() {
            return Ok(out.json(&usuals)?);
        }
        if usuals.is_empty() {
            return Ok(out.line(if self.forgotten {
                "Nothing you usually buy is due that isn't on your list."
            } else {
                "No habits yet: check items off as you buy them and they show up here."
            })?);
        }
        let rows: Vec<Vec<String>> = usuals
            .iter()
            .map(|u| {
                vec![
                    u.item.clone(),
                    format!("every {} d", u.every_days),
                    format!("{} d ago", u.days_since),
                    if u.due { "due".into() } else { String::new() },
                    format!("{:.0}%", u.confidence * 100.0),
                ]
            })
            .collect();
        Ok(out.table(&["item", ">usually", ">last", "", ">sure"], &rows)?)
    }
}
