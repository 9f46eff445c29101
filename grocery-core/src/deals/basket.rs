//! Basket optimisation across stores: where to buy each line of a list, and
//! which packs, so the whole shop costs least.
//!
//! # The problem
//! A [`BasketRequest`] lists stores (each with a trip cost and optional
//! [`SpendThreshold`]s), lines (an item, the quantity needed, and candidate
//! products at each store) and `max_stores`, the most stores the shopper will
//! visit. A plan buys each line at one store. Its total is
//!
//! ```text
//! total = Σ line costs + Σ trip costs of the stores beyond the main one − Σ threshold discounts
//! ```
//!
//! - **Line cost.** The packs bought to cover the need, each product charged
//!   with [`cost_of`] (its best multi-buy or BOGO offer). A purchase mixes at
//!   most two products of the store (1 gal + ½ gal for 1½ gal), and is a
//!   *minimal cover*: no pack can be left out with the need still covered.
//!   Each product's pack count may then be rounded up within one offer group
//!   when that is cheaper (BOGO: the free pack; "3 for $5": the third pack),
//!   which is the only way a plan buys more than the list needs.
//! - **Trip cost** is what going to one more store costs. A plan pays it for
//!   every store it uses except its *main store*: the one with the highest trip
//!   cost (the first in input order on a tie), where you would shop anyway.
//! - **Threshold discount.** A store's spend is the sum of its lines' costs;
//!   the largest `off_cents` among its thresholds with `min_cents <= spend`
//!   is taken off.
//! - **Unavailable lines.** A line with no usable candidate (wrong dimension,
//!   excluded by its constraints, only at stores not allowed) is listed in
//!   [`BasketAnswer::unavailable`] and costs nothing. When `max_stores` is too
//!   small to cover every line, plans are compared first by how many lines they
//!   leave out, then by total.
//!
//! # The naive plan
//! The baseline for savings is what a shopper does without help: go to the
//! *main naive store* (the allowed store carrying a usable candidate for the
//! most lines, the first in input order on a tie) and, for each line, take the
//! first usable candidate there (callers list the most popular first), buying
//! [`Quantity::packs_needed`] packs of it. The register still applies that
//! product's offers ([`cost_of`]) and the store's thresholds, but the choice
//! ignores them. Lines that store does not carry are unavailable in the naive
//! plan.
//!
//! # The algorithm
//! 1. **Options.** For each line and store, every minimal cover of at most two
//!    products is priced (`O(c² · k)` for `c` candidates needing up to `k`
//!    packs), each product at its exact count and at that count rounded up to
//!    its cheapest (completing an offer group: cheaper, but the exact count
//!    can reach a threshold the rounded one misses), and only distinct costs
//!    are kept, cheapest first. An option
//!    dearer than the store's cheapest by the store's largest threshold
//!    discount or more is dropped: switching to the cheapest option saves at
//!    least what any threshold could give back, so some optimal plan avoids it. A store
//!    without thresholds keeps only its cheapest option.
//! 2. **Store subsets.** Every subset `S` of at most `max_stores` allowed
//!    stores is solved exactly, and the best is kept (fewest unavailable lines,
//!    then lowest total, then fewest stores, then input order). With `n ≤ 12`
//!    stores that is at most `2ⁿ − 1` subsets; typically `n ≤ 6`.
//! 3. **Within a subset** lines are independent except through thresholds. So
//!    for every combination of *targeted* tiers (per store: no threshold or one
//!    of its thresholds, `Π (tᵢ + 1)` combinations) the solver minimises
//!    `Σ line costs` subject to `spend(s) >= min(s)` for each targeted store,
//!    and values the result at `Σ costs − Σ targeted discounts + trip costs`.
//!    The minimum over combinations is the optimum, because the optimal plan's
//!    own tiers form one of them (and a plan found under a combination can only
//!    reach more discount than targeted, which its true total counts).
//! 4. **Branch and bound** over lines, the most flexible first (smallest gap
//!    between their cheapest and second-cheapest store), so that below them the
//!    bound on the rest is nearly exact. The first incumbent is the plan buying
//!    every line at its cheapest store, and incumbents carry over between
//!    combinations. A node's lower bound is the larger of
//!    - a *Lagrangian* bound: each targeted store's minimum is priced into the
//!      line costs with a multiplier λ (spend there earns λ per cent back), so
//!      the bound is `Σ λ·gap + Σ` each remaining line's cheapest reduced cost;
//!      multipliers are chosen per set of still-unmet targets by coordinate
//!      ascent (the dual is concave) the first time that set occurs, after
//!      which a bound costs `O(targets)` from precomputed suffix sums;
//!    - a per-store *linear relaxation*: moving line `i` to a short store costs
//!      at least `(aᵢ − minᵢ)/aᵢ` per cent of spend up to its cheapest cost `aᵢ`
//!      there, and one cent per cent beyond; and, once a combination's search
//!      passes 2,048 nodes, per-store *knapsack tables* (`lines × threshold
//!      cents`, at most 4M cells each) that are exact in that store's spend and
//!      Lagrangian in the other targets', so no line counts toward two targets.
//!
//!    A node whose bound reaches the incumbent is cut; a node whose targets are
//!    all met is completed with every remaining line at its cheapest store,
//!    which is optimal below it.
//!
//! The search is exponential in the worst case (the problem contains subset
//! sum), but on realistic lists the bounds leave little to search: a 40-line
//! list over 3 stores with thresholds at two of them plans in about 10 ms
//! (median over 30 generated lists, the slowest 37 ms; see `benches/basket.rs`).
//! As a guard the search stops after [`NODE_BUDGET`] nodes and returns its best
//! plan with [`BasketAnswer::proven_optimal`] set to `false`.
//!
//! # Examples
//! ```
//! use grocery_core::Quantity;
//! use grocery_core::deals::{BasketLine, BasketRequest, Candidate, Offer, Store, plan_basket};
//!
//! let store = |name: &str| Store { name: name.into(), trip_cost_cents: 300, thresholds: vec![] };
//! let milk = |store: &str, price_cents, offers| Candidate {
//!     store: store.into(),
//!     product_id: format!("{store}-milk"),
//!     pack: Quantity::parse("1 gal").unwrap(),
//!     price_cents,
//!     offers,
//!     brand: None,
//!     organic: false,
//! };
//! let req = BasketRequest {
//!     stores: vec![store("corner"), store("mart")],
//!     lines: vec![BasketLine {
//!         item: "milk".into(),
//!         need: Quantity::parse("2 gal")?,
//!         candidates: vec![milk("corner", 389, vec![]), milk("mart", 399, vec![Offer::Bogo])],
//!         constraints: Default::default(),
//!     }],
//!     max_stores: 2,
//!     allowed_stores: None,
//! };
//! let answer = plan_basket(&req)?;
//! assert_eq!(answer.best.total_cents, 399); // two gallons at the mart, one free
//! assert_eq!(answer.naive.total_cents, 778); // two gallons at the corner shop
//! assert_eq!(answer.savings_cents, 379);
//! # Ok::<(), grocery_core::Error>(())
//! ```

use std::collections::HashMap;

use num_integer::Integer;
use serde::{Deserialize, Serialize};

use super::offer::{Offer, SpendThreshold, check_cents, cost_of};
use crate::error::{Error, Result};
use crate::quantity::{Dimension, Quantity, Ratio};

/// Most stores a request may offer after `allowed_stores` (subsets grow as `2ⁿ`).
pub const MAX_STORES: usize = 12;

/// Most lines in one request.
pub const MAX_LINES: usize = 1000;

/// Branch-and-bound nodes searched in one [`plan_basket`] call before it settles
/// for its best plan so far.
pub const NODE_BUDGET: u64 = 2_000_000;

/// A store a plan may visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Store {
    /// Unique name; candidates refer to it.
    pub name: String,
    /// What one more trip to this store costs (time, fuel, delivery), in cents.
    #[serde(default)]
    pub trip_cost_cents: i64,
    /// Store-wide spend thresholds; the best one reached applies.
    #[serde(default)]
    pub thresholds: Vec<SpendThreshold>,
}

/// One product a line could be bought as, at one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candidate {
    /// The [`Store::name`] selling it.
    pub store: String,
    /// Catalog id of the product.
    pub product_id: String,
    /// Size of one pack (`1 gal`, `12 ct`).
    pub pack: Quantity,
    /// Shelf price of one pack, in cents.
    pub price_cents: i64,
    /// The product's offers at this store.
    #[serde(default)]
    pub offers: Vec<Offer>,
    /// Brand, for [`LineConstraints::brand`].
    #[serde(default)]
    pub brand: Option<String>,
    /// Whether the product is organic, for [`LineConstraints::organic_only`].
    #[serde(default)]
    pub organic: bool,
}

/// What the shopper insists on for one line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineConstraints {
    /// Only this brand (compared case-insensitively).
    #[serde(default)]
    pub brand: Option<String>,
    /// Only organic products.
    #[serde(default)]
    pub organic_only: bool,
    /// Only these product ids.
    #[serde(default)]
    pub allowed_products: Option<Vec<String>>,
}

/// One line of the list to buy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BasketLine {
    /// What the shopper called it (`milk`).
    pub item: String,
    /// How much is needed; packs must cover it.
    pub need: Quantity,
    /// Products that could fill it, most popular first.
    pub candidates: Vec<Candidate>,
    /// Restrictions on the candidates.
    #[serde(default)]
    pub constraints: LineConstraints,
}

/// Everything [`plan_basket`] needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BasketRequest {
    /// The stores, in the shopper's order of preference.
    pub stores: Vec<Store>,
    /// The list.
    pub lines: Vec<BasketLine>,
    /// Most stores to visit (at least 1).
    pub max_stores: u32,
    /// If set, only these stores (by name) may be used.
    #[serde(default)]
    pub allowed_stores: Option<Vec<String>>,
}

/// Packs of one product bought for a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Purchase {
    /// Catalog id of the product.
    pub product_id: String,
    /// Number of packs.
    pub packs: u32,
    /// What they cost with the product's best offer, in cents.
    pub cost_cents: i64,
}

/// How a plan buys one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlannedLine {
    /// The line's item.
    pub item: String,
    /// Where it is bought; `None` when this plan cannot buy it.
    pub store: Option<String>,
    /// The packs, one entry per product (one or two); empty when unavailable.
    pub purchases: Vec<Purchase>,
    /// Sum of the purchases, in cents.
    pub cost_cents: i64,
}

/// One store a plan visits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreTrip {
    /// The store.
    pub store: String,
    /// What its lines cost, in cents.
    pub spend_cents: i64,
    /// Its threshold discount, in cents (0 or positive).
    pub discount_cents: i64,
    /// The trip cost charged (0 for the plan's main store), in cents.
    pub trip_cost_cents: i64,
}

/// A complete way to shop the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BasketPlan {
    /// The stores visited, in input order.
    pub stores: Vec<StoreTrip>,
    /// One entry per request line, in request order.
    pub lines: Vec<PlannedLine>,
    /// Items of the lines this plan cannot buy.
    pub unavailable: Vec<String>,
    /// Σ line costs, in cents.
    pub items_cents: i64,
    /// Σ trip costs charged, in cents.
    pub trip_cents: i64,
    /// Σ threshold discounts, in cents (0 or positive).
    pub discount_cents: i64,
    /// `items_cents + trip_cents − discount_cents`.
    pub total_cents: i64,
}

/// What the best plan saves on one line against the naive plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineSaving {
    /// The line's item.
    pub item: String,
    /// Its cost in the naive plan, if bought there.
    pub naive_cents: Option<i64>,
    /// Its cost in the best plan, if bought there.
    pub best_cents: Option<i64>,
    /// `naive − best` when both buy it. May be negative: the best plan can pay
    /// more for a line to reach a store's threshold.
    pub savings_cents: Option<i64>,
}

/// What one store alone would cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreTotal {
    /// The store.
    pub store: String,
    /// The best single-store plan's total there, in cents.
    pub total_cents: i64,
    /// How many lines it cannot supply.
    pub unavailable: usize,
}

/// The answer of [`plan_basket`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BasketAnswer {
    /// The best plan over at most `max_stores` stores.
    pub best: BasketPlan,
    /// The best plan at one store; `None` when no line is available anywhere.
    pub single_store: Option<BasketPlan>,
    /// Every allowed store's best single-store total, in input order.
    pub store_totals: Vec<StoreTotal>,
    /// The naive plan (see the module docs).
    pub naive: BasketPlan,
    /// `best.total_cents`.
    pub total_cents: i64,
    /// `naive.total_cents`.
    pub naive_total_cents: i64,
    /// `naive_total_cents − total_cents`. When the best plan buys lines the naive
    /// one cannot, this compares different baskets and may be negative.
    pub savings_cents: i64,
    /// Per line, in request order.
    pub line_savings: Vec<LineSaving>,
    /// Items no allowed store can supply under their constraints.
    pub unavailable: Vec<String>,
    /// `false` when the search hit [`NODE_BUDGET`] and `best` may not be optimal.
    pub proven_optimal: bool,
}

/// Plans the cheapest way to shop `req` over at most `max_stores` stores, with
/// the cheapest single store and the naive plan for comparison.
///
/// Deterministic: the same request always gives the same answer.
///
/// # Errors
/// [`Error::InvalidInput`] for `max_stores == 0`, duplicate or unknown store
/// names, more than [`MAX_STORES`] allowed stores or [`MAX_LINES`] lines,
/// negative or absurd prices and trip costs, invalid offers or thresholds,
/// and pack sizes too precise to compare exactly. An empty list or a line no
/// store can supply is not an error.
pub fn plan_basket(req: &BasketRequest) -> Result<BasketAnswer> {
    let model = Model::build(req)?;
    let mut budget = Budget {
        left: NODE_BUDGET,
        exhausted: false,
    };

    let n = model.stores.len();
    let k = usize::try_from(req.max_stores).unwrap_or(usize::MAX).min(n);
    let mut single_results = Vec::with_capacity(n);
    for s in 0..n {
        let found = Subset::new(&model, vec![s]).solve(None, &mut budget)?;
        single_results.push(found);
    }
    // Fewest unavailable, then cheapest, then input order.
    let best_single = single_results
        .iter()
        .filter_map(|r| r.as_ref())
        .min_by_key(|r| (r.missing, r.total))
        .cloned();

    let mut best = best_single.clone();
    for size in 2..=k {
        for stores in combinations(n, size) {
            let subset = Subset::new(&model, stores);
            let missing = subset.missing();
            let cutoff = match &best {
                Some(b) if b.missing < missing => continue,
                Some(b) if b.missing == missing => Some(b.total),
                _ => None,
            };
            if let Some(found) = subset.solve(cutoff, &mut budget)? {
                best = Some(found);
            }
        }
    }

    let empty = Found {
        missing: model.lines.len(),
        total: 0,
        choice: vec![None; model.lines.len()],
    };
    let best_plan = model.plan(&best.clone().unwrap_or(empty).choice)?;
    let single_store = match &best_single {
        Some(f) if f.missing < model.lines.len() => Some(model.plan(&f.choice)?),
        _ => None,
    };
    let store_totals = single_results
        .iter()
        .zip(&model.stores)
        .filter_map(|(r, s)| {
            r.as_ref().map(|f| StoreTotal {
                store: req.stores[s.req_ix].name.clone(),
                total_cents: f.total,
                unavailable: f.missing + model.unavailable.len(),
            })
        })
        .collect();
    let naive = model.plan(&model.naive_choice()?)?;

    let line_savings = best_plan
        .lines
        .iter()
        .zip(&naive.lines)
        .map(|(b, nv)| {
            let best_cents = b.store.as_ref().map(|_| b.cost_cents);
            let naive_cents = nv.store.as_ref().map(|_| nv.cost_cents);
            LineSaving {
                item: b.item.clone(),
                naive_cents,
                best_cents,
                savings_cents: naive_cents.zip(best_cents).map(|(n, b)| n - b),
            }
        })
        .collect();
    Ok(BasketAnswer {
        total_cents: best_plan.total_cents,
        naive_total_cents: naive.total_cents,
        savings_cents: naive.total_cents - best_plan.total_cents,
        best: best_plan,
        single_store,
        store_totals,
        naive,
        line_savings,
        unavailable: model
            .unavailable
            .iter()
            .map(|&i| req.lines[i].item.clone())
            .collect(),
        proven_optimal: !budget.exhausted,
    })
}

/// All `size`-element subsets of `0..n`, in lexicographic order.
fn combinations(n: usize, size: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut cur = Vec::with_capacity(size);
    fn rec(start: usize, n: usize, size: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if cur.len() == size {
            out.push(cur.clone());
            return;
        }
        for i in start..n {
            cur.push(i);
            rec(i + 1, n, size, cur, out);
            cur.pop();
        }
    }
    rec(0, n, size, &mut cur, &mut out);
    out
}

/// The search's node allowance, shared by all subsets of one call.
struct Budget {
    left: u64,
    exhausted: bool,
}

/// A store as the model sees it.
struct StoreModel {
    /// Index into the request's stores.
    req_ix: usize,
    trip: i64,
    thresholds: Vec<SpendThreshold>,
}

/// One way to buy a line at a store.
#[derive(Debug, Clone)]
struct Opt {
    cost: i64,
    /// `(candidate index in the request line, packs)`, one or two entries.
    buys: Vec<(usize, u32, i64)>,
}

/// A line with at least one usable candidate.
struct LineModel {
    /// Index into the request's lines.
    req_ix: usize,
    /// Options per model store, cheapest first (empty: not sold there).
    at: Vec<Vec<Opt>>,
    /// The naive purchase: (model store, first usable candidate there) per store.
    first: Vec<Option<(usize, u32, i64)>>,
}

/// The request, validated and priced into options.
struct Model<'a> {
    req: &'a BasketRequest,
    stores: Vec<StoreModel>,
    lines: Vec<LineModel>,
    /// Request lines with no usable candidate anywhere.
    unavailable: Vec<usize>,
}

impl<'a> Model<'a> {
    fn build(req: &'a BasketRequest) -> Result<Self> {
        if req.max_stores == 0 {
            return Err(Error::invalid("max_stores must be at least 1"));
        }
        if req.lines.len() > MAX_LINES {
            return Err(Error::invalid(format!(
                "a basket of {} lines is more than {MAX_LINES}",
                req.lines.len()
            )));
        }
        let mut by_name = HashMap::new();
        for (i, s) in req.stores.iter().enumerate() {
            if by_name.insert(s.name.as_str(), i).is_some() {
                return Err(Error::invalid(format!(
                    "store `{}` is listed twice",
                    s.name
                )));
            }
            check_cents("trip cost", s.trip_cost_cents)?;
            for t in &s.thresholds {
                t.validate()?;
            }
        }
        let allowed: Vec<usize> = match &req.allowed_stores {
            None => (0..req.stores.len()).collect(),
            Some(names) => {
                for name in names {
                    if !by_name.contains_key(name.as_str()) {
                        return Err(Error::invalid(format!(
                            "allowed store `{name}` is not a store"
                        )));
                    }
                }
                (0..req.stores.len())
                    .filter(|&i| names.iter().any(|n| *n == req.stores[i].name))
                    .collect()
            }
        };
        if allowed.len() > MAX_STORES {
            return Err(Error::invalid(format!(
                "{} stores are more than {MAX_STORES}; narrow allowed_stores",
                allowed.len()
            )));
        }
        let mut model_pos = vec![None; req.stores.len()];
        for (pos, &i) in allowed.iter().enumerate() {
            model_pos[i] = Some(pos);
        }
        let stores: Vec<StoreModel> = allowed
            .iter()
            .map(|&i| StoreModel {
                req_ix: i,
                trip: req.stores[i].trip_cost_cents,
                thresholds: req.stores[i].thresholds.clone(),
            })
            .collect();

        let mut lines = Vec::new();
        let mut unavailable = Vec::new();
        for (li, line) in req.lines.iter().enumerate() {
            let mut usable: Vec<Vec<(usize, Ratio)>> = vec![Vec::new(); stores.len()];
            for (ci, c) in line.candidates.iter().enumerate() {
                let Some(&req_store) = by_name.get(c.store.as_str()) else {
                    return Err(Error::invalid(format!(
                        "candidate `{}` for `{}` is at unknown store `{}`",
                        c.product_id, line.item, c.store
                    )));
                };
                check_cents("price", c.price_cents)?;
                for o in &c.offers {
                    o.validate()?;
                }
                let Some(pos) = model_pos[req_store] else {
                    continue;
                };
                if !allowed_by(&line.constraints, c) {
                    continue;
                }
                if let Some(per_pack) = coverage(&line.need, &c.pack) {
                    usable[pos].push((ci, per_pack));
                }
            }
            let mut at = Vec::with_capacity(stores.len());
            let mut first = Vec::with_capacity(stores.len());
            for (pos, cands) in usable.iter().enumerate() {
                let max_off = stores[pos]
                    .thresholds
                    .iter()
                    .map(|t| t.off_cents)
                    .max()
                    .unwrap_or(0);
                let (opts, naive) = options(line, cands, max_off)?;
                at.push(opts);
                first.push(naive);
            }
            if at.iter().all(Vec::is_empty) {
                unavailable.push(li);
            } else {
                lines.push(LineModel {
                    req_ix: li,
                    at,
                    first,
                });
            }
        }
        Ok(Model {
            req,
            stores,
            lines,
            unavailable,
        })
    }

    /// The naive plan's choice: see the module docs.
    fn naive_choice(&self) -> Result<Vec<Option<(usize, Opt)>>> {
        let main = (0..self.stores.len()).max_by_key(|&s| {
            let carried = self.lines.iter().filter(|l| l.first[s].is_some()).count();
            // max_by_key keeps the last maximum; rank earlier stores higher.
            (carried, std::cmp::Reverse(s))
        });
        Ok(self
            .lines
            .iter()
            .map(|l| {
                let s = main?;
                let (ci, packs, cost) = l.first[s]?;
                Some((
                    s,
                    Opt {
                        cost,
                        buys: vec![(ci, packs, cost)],
                    },
                ))
            })
            .collect())
    }

    /// Prices a choice (per model line: store and option) into a plan.
    fn plan(&self, choice: &[Option<(usize, Opt)>]) -> Result<BasketPlan> {
        let overflow = || Error::invalid("basket total overflows");
        let mut spend = vec![None::<i64>; self.stores.len()];
        let mut by_req: Vec<Option<(usize, &Opt)>> = vec![None; self.req.lines.len()];
        for (l, c) in self.lines.iter().zip(choice) {
            if let Some((s, opt)) = c {
                let sp = spend[*s].get_or_insert(0);
                *sp = sp.checked_add(opt.cost).ok_or_else(overflow)?;
                by_req[l.req_ix] = Some((*s, opt));
            }
        }
        let main = (0..self.stores.len())
            .filter(|&s| spend[s].is_some())
            .max_by_key(|&s| (self.stores[s].trip, std::cmp::Reverse(s)));
        let mut trips = Vec::new();
        let (mut items, mut trip_cents, mut discount) = (0i64, 0i64, 0i64);
        for (s, sp) in spend.iter().enumerate() {
            let Some(sp) = *sp else { continue };
            let store = &self.stores[s];
            let off = SpendThreshold::discount(&store.thresholds, sp);
            let trip = if Some(s) == main { 0 } else { store.trip };
            items = items.checked_add(sp).ok_or_else(overflow)?;
            trip_cents = trip_cents.checked_add(trip).ok_or_else(overflow)?;
            discount = discount.checked_add(off).ok_or_else(overflow)?;
            trips.push(StoreTrip {
                store: self.req.stores[store.req_ix].name.clone(),
                spend_cents: sp,
                discount_cents: off,
                trip_cost_cents: trip,
            });
        }
        let mut lines = Vec::with_capacity(self.req.lines.len());
        let mut unavailable = Vec::new();
        for (line, c) in self.req.lines.iter().zip(&by_req) {
            match c {
                Some((s, opt)) => lines.push(PlannedLine {
                    item: line.item.clone(),
                    store: Some(self.req.stores[self.stores[*s].req_ix].name.clone()),
                    purchases: opt
                        .buys
                        .iter()
                        .map(|&(ci, packs, cost_cents)| Purchase {
                            product_id: line.candidates[ci].product_id.clone(),
                            packs,
                            cost_cents,
                        })
                        .collect(),
                    cost_cents: opt.cost,
                }),
                None => {
                    unavailable.push(line.item.clone());
                    lines.push(PlannedLine {
                        item: line.item.clone(),
                        store: None,
                        purchases: Vec::new(),
                        cost_cents: 0,
                    });
                }
            }
        }
        let total = items
            .checked_add(trip_cents)
            .and_then(|t| t.checked_sub(discount))
            .ok_or_else(overflow)?;
        Ok(BasketPlan {
            stores: trips,
            lines,
            unavailable,
            items_cents: items,
            trip_cents,
            discount_cents: discount,
            total_cents: total,
        })
    }
}

/// Whether `c` passes the line's constraints.
fn allowed_by(k: &LineConstraints, c: &Candidate) -> bool {
    if k.organic_only && !c.organic {
        return false;
    }
    if let Some(brand) = &k.brand {
        let same = c
            .brand
            .as_deref()
            .is_some_and(|b| b.trim().eq_ignore_ascii_case(brand.trim()));
        if !same {
            return false;
        }
    }
    if let Some(ids) = &k.allowed_products {
        if !ids.contains(&c.product_id) {
            return false;
        }
    }
    true
}

/// How much of `need` (in its base unit) one `pack` covers, as in
/// [`Quantity::packs_needed`]: the pack's size when the units are compatible,
/// one item per pack when the need is a count or package, else `None`.
fn coverage(need: &Quantity, pack: &Quantity) -> Option<Ratio> {
    if need.unit.is_compatible(pack.unit) {
        Some(pack.in_base())
    } else if matches!(need.dimension(), Dimension::Count | Dimension::Package) {
        Some(Ratio::from_integer(1))
    } else {
        None
    }
}

/// `ceil(a / b)` for `a >= 0`, `b > 0`.
fn ceil_div(a: i128, b: i128) -> i128 {
    a / b + i128::from(a % b != 0)
}

/// Expresses positive rationals as integers of one common scale, reduced.
fn common_scale(values: &[Ratio]) -> Option<Vec<i128>> {
    let mut lcm: i128 = 1;
    for v in values {
        let d = *v.denom();
        lcm = (lcm / lcm.gcd(&d)).checked_mul(d)?;
    }
    let mut ints = values
        .iter()
        .map(|v| v.numer().checked_mul(lcm / v.denom()))
        .collect::<Option<Vec<i128>>>()?;
    let g = ints.iter().fold(0i128, |g, &x| g.gcd(&x));
    if g > 1 {
        for x in &mut ints {
            *x /= g;
        }
    }
    Some(ints)
}

/// Costs by pack count: exact, and `(packs, cost)` rounded up.
type PackCosts = (Vec<i64>, Vec<(u32, i64)>);

/// What `n` packs of a product cost, for `n` in `0..=k`: exactly `n`, and
/// its cheapest way to buy at least `n`, `(packs, cost)`, the packs rounded
/// up within one offer group when dearer counts are not cheaper.
fn pack_costs(c: &Candidate, k: u32) -> Result<PackCosts> {
    let group = c.offers.iter().map(Offer::group_size).max().unwrap_or(1);
    let top = k.saturating_add(group - 1);
    // Suffix minimum from the top: each offer's cost grows by a group's price
    // every `group` packs, so the cheapest count at or above n lies within one
    // group of n, and counts above k + group - 1 never matter.
    let len = usize::try_from(k).unwrap_or(0) + 1;
    let (mut exact, mut out) = (vec![0; len], vec![(0, 0); len]);
    let mut best = (top, cost_of(top, c.price_cents, &c.offers)?);
    for m in (1..=top).rev() {
        let cost = cost_of(m, c.price_cents, &c.offers)?;
        if cost <= best.1 {
            best = (m, cost);
        }
        if m <= k {
            let i = usize::try_from(m).unwrap_or(usize::MAX);
            if let (Some(e), Some(slot)) = (exact.get_mut(i), out.get_mut(i)) {
                *e = cost;
                *slot = best;
            }
        }
    }
    Ok((exact, out))
}

/// A usable candidate of one line at one store, on the common scale.
struct Sized {
    ci: usize,
    per_pack: i128,
    /// Packs covering the need alone.
    k: u32,
    /// [`pack_costs`] for `0..=k`: exactly that many packs…
    exact: Vec<i64>,
    /// …and rounded up to the cheapest `(packs, cost)`.
    costs: Vec<(u32, i64)>,
}

/// The options for one line at one store (distinct costs, cheapest first,
/// pruned by `max_off`) and the naive purchase (first candidate).
#[allow(clippy::type_complexity)] // One private caller.
fn options(
    line: &BasketLine,
    cands: &[(usize, Ratio)],
    max_off: i64,
) -> Result<(Vec<Opt>, Option<(usize, u32, i64)>)> {
    if cands.is_empty() {
        return Ok((Vec::new(), None));
    }
    let mut values = vec![line.need.in_base()];
    values.extend(cands.iter().map(|(_, r)| *r));
    let ints = common_scale(&values).ok_or_else(|| {
        Error::invalid(format!(
            "pack sizes for `{}` are too precise to compare exactly",
            line.item
        ))
    })?;
    let need = ints[0];
    let overflow = || Error::invalid(format!("the cost of `{}` overflows", line.item));
    let mut sized = Vec::new();
    let mut naive = None;
    for (&(ci, _), &per_pack) in cands.iter().zip(&ints[1..]) {
        let k = ceil_div(need, per_pack).max(1);
        // More packs than a shopper can buy: this product cannot fill the line.
        let Some(k) = u32::try_from(k).ok().filter(|&k| k <= Quantity::MAX_PACKS) else {
            continue;
        };
        let (exact, costs) = pack_costs(&line.candidates[ci], k)?;
        if naive.is_none() {
            naive = Some((ci, k, exact[exact.len() - 1]));
        }
        sized.push(Sized {
            ci,
            per_pack,
            k,
            exact,
            costs,
        });
    }
    let mut opts: Vec<(i64, u32, Opt)> = Vec::new();
    for (i, a) in sized.iter().enumerate() {
        // The packs that cover the need, and that count rounded up to its
        // cheapest (completing an offer group): the exact count is dearer
        // but can reach a spend threshold the rounded one misses.
        let exact = (a.k, a.exact[a.exact.len() - 1]);
        for (packs, cost) in [a.costs[a.costs.len() - 1], exact] {
            opts.push((
                cost,
                packs,
                Opt {
                    cost,
                    buys: vec![(a.ci, packs, cost)],
                },
            ));
        }
        for b in &sized[i + 1..] {
            // Minimal covers using both: fewer than k_a of `a`, then just
            // enough of `b`, and no pack of `a` to spare.
            for na in 1..a.k {
                // na < k_a, so have < need and nb >= 1; both stay below
                // need + per_pack, far inside i128 for scaled sizes.
                let have = a
                    .per_pack
                    .checked_mul(i128::from(na))
                    .ok_or_else(overflow)?;
                let nb = ceil_div(need - have, b.per_pack);
                let covered = nb
                    .checked_mul(b.per_pack)
                    .and_then(|x| x.checked_add(have - a.per_pack))
                    .ok_or_else(overflow)?;
                if covered >= need {
                    continue;
                }
                let Some(&(pb, cb)) = usize::try_from(nb).ok().and_then(|nb| b.costs.get(nb))
                else {
                    continue;
                };
                let (Ok(ib), Ok(nb)) = (usize::try_from(nb), u32::try_from(nb)) else {
                    continue;
                };
                let ia = usize::try_from(na).unwrap_or(0);
                let (pa, ca) = a.costs[ia];
                // Each product at its exact count or rounded up to its
                // cheapest (a dearer count may reach a threshold).
                let (ca_exact, cb_exact) = (a.exact[ia], b.exact[ib]);
                for ((pa, ca), (pb, cb)) in [
                    ((pa, ca), (pb, cb)),
                    ((na, ca_exact), (pb, cb)),
                    ((pa, ca), (nb, cb_exact)),
                    ((na, ca_exact), (nb, cb_exact)),
                ] {
                    let cost = ca.checked_add(cb).ok_or_else(overflow)?;
                    opts.push((
                        cost,
                        pa + pb,
                        Opt {
                            cost,
                            buys: vec![(a.ci, pa, ca), (b.ci, pb, cb)],
                        },
                    ));
                }
            }
        }
    }
    // Cheapest first; on a tie fewer packs, then candidate order (stable sort).
    opts.sort_by_key(|(cost, packs, _)| (*cost, *packs));
    opts.dedup_by_key(|(cost, _, _)| *cost);
    let cheapest = opts.first().map_or(0, |o| o.0);
    let opts = opts
        .into_iter()
        .enumerate()
        .filter(|(i, (cost, _, _))| *i == 0 || *cost - cheapest < max_off)
        .map(|(_, (_, _, o))| o)
        .collect();
    Ok((opts, naive))
}

/// The best plan found for one subset.
#[derive(Clone)]
struct Found {
    /// Lines with no option in the subset.
    missing: usize,
    total: i64,
    /// Per model line.
    choice: Vec<Option<(usize, Opt)>>,
}

/// A targeted threshold in one tier combination.
struct Target {
    store: usize,
    min: i64,
    off: i64,
    /// Σ over order positions ≥ d of the line's dearest option here.
    suffix_max: Vec<i64>,
    /// `(order position, cheapest here, cheapest anywhere in the subset)` of
    /// the lines sold here, by ascending `(here − anywhere) / here`.
    segments: Vec<(usize, i64, i64)>,
    /// Built when a search needs more than the root, for the multipliers
    /// `p` of [`Search::knapsack`]: `knapsack[d * (min + 1) + g]` is the least
    /// Lagrangian cost (scaled) of the lines at positions ≥ d spending at
    /// least `g` here, the other targets priced in by `p`.
    knapsack: Option<(Vec<i64>, Vec<i64>)>,
}

/// Most cells of one knapsack table (lines × cents of the threshold); above it
/// the search does with the linear bound.
const KNAPSACK_CELLS: usize = 1 << 22;

/// Nodes a combination's search takes before it builds knapsack tables: most
/// searches end sooner, and a table costs `lines × threshold cents × options`.
#[cfg(not(test))]
const KNAPSACK_AFTER: u64 = 2048;
/// In tests, build tables at once so the oracle checks the bounds using them.
#[cfg(test)]
const KNAPSACK_AFTER: u64 = 1;

/// "Cannot" in knapsack tables; far from overflowing when added to.
const UNREACHABLE: i64 = i64::MAX / 4;

/// One subset of stores, with its lines in search order.
struct Subset<'m, 'a> {
    model: &'m Model<'a>,
    stores: Vec<usize>,
    /// Model lines available in the subset, biggest cheapest cost first.
    order: Vec<usize>,
    /// Per order position: cheapest cost and its store.
    mins: Vec<(i64, usize)>,
    suffix_min: Vec<i64>,
    trips: i64,
}

impl<'m, 'a> Subset<'m, 'a> {
    fn new(model: &'m Model<'a>, stores: Vec<usize>) -> Self {
        let mut lines: Vec<(usize, i64, usize)> = Vec::new();
        let mut regret = Vec::new();
        for (li, l) in model.lines.iter().enumerate() {
            let mut costs: Vec<(i64, usize)> = stores
                .iter()
                .filter_map(|&s| l.at[s].first().map(|o| (o.cost, s)))
                .collect();
            costs.sort_unstable();
            if let Some(&(c, s)) = costs.first() {
                lines.push((li, c, s));
                regret.push(costs.get(1).map_or(i64::MAX, |&(c2, _)| c2 - c));
            }
        }
        // Flexible lines first (cheapest to move between stores), so that
        // below them the remaining lines' bound is nearly exact.
        let mut by_flex: Vec<usize> = (0..lines.len()).collect();
        by_flex.sort_by_key(|&i| (regret[i], std::cmp::Reverse(lines[i].1), lines[i].0));
        let lines: Vec<(usize, i64, usize)> = by_flex.into_iter().map(|i| lines[i]).collect();
        let mut suffix_min = vec![0i64; lines.len() + 1];
        for (d, &(_, c, _)) in lines.iter().enumerate().rev() {
            suffix_min[d] = suffix_min[d + 1].saturating_add(c);
        }
        let trips = {
            let t: Vec<i64> = stores.iter().map(|&s| model.stores[s].trip).collect();
            t.iter().sum::<i64>() - t.iter().copied().max().unwrap_or(0)
        };
        Subset {
            model,
            stores,
            order: lines.iter().map(|&(li, _, _)| li).collect(),
            mins: lines.iter().map(|&(_, c, s)| (c, s)).collect(),
            suffix_min,
            trips,
        }
    }

    fn missing(&self) -> usize {
        self.model.lines.len() - self.order.len()
    }

    fn target(&self, store: usize, t: &SpendThreshold) -> Target {
        let n = self.order.len();
        let mut suffix_max = vec![0i64; n + 1];
        let mut segments = Vec::new();
        for d in (0..n).rev() {
            let opts = &self.model.lines[self.order[d]].at[store];
            let dearest = opts.last().map_or(0, |o| o.cost);
            suffix_max[d] = suffix_max[d + 1].saturating_add(dearest);
            if let Some(o) = opts.first() {
                if o.cost > 0 {
                    segments.push((d, o.cost, self.mins[d].0));
                }
            }
        }
        // Ascending (a - m) / a, compared exactly by cross-multiplication.
        segments.sort_by(|&(d1, a1, m1), &(d2, a2, m2)| {
            (i128::from(a1 - m1) * i128::from(a2))
                .cmp(&(i128::from(a2 - m2) * i128::from(a1)))
                .then(d1.cmp(&d2))
        });
        Target {
            store,
            min: t.min_cents,
            off: t.off_cents,
            suffix_max,
            segments,
            knapsack: None,
        }
    }

    /// The subset's best plan with a total below `cutoff`, if any.
    fn solve(&self, cutoff: Option<i64>, budget: &mut Budget) -> Result<Option<Found>> {
        let n = self.order.len();
        // The first incumbent: every line at its cheapest store.
        let greedy: Vec<(usize, usize)> = self.mins.iter().map(|&(_, s)| (s, 0)).collect();
        let mut search = Search {
            sub: self,
            targets: Vec::new(),
            best_total: cutoff.unwrap_or(i64::MAX),
            best: None,
            stack: Vec::with_capacity(n),
            spend: vec![0; self.model.stores.len()],
            multipliers: HashMap::new(),
            combo_nodes: 0,
            budget,
        };
        search.offer_leaf(&greedy);

        // Every combination of targeted tiers: per store none or one threshold.
        let tiers: Vec<Vec<Option<&SpendThreshold>>> = self
            .stores
            .iter()
            .map(|&s| {
                std::iter::once(None)
                    .chain(self.model.stores[s].thresholds.iter().map(Some))
                    .collect()
            })
            .collect();
        let mut pick = vec![0usize; tiers.len()];
        loop {
            let targets: Vec<Target> = pick
                .iter()
                .zip(&tiers)
                .zip(&self.stores)
                .filter_map(|((&p, t), &s)| t[p].map(|t| self.target(s, t)))
                .collect();
            if !targets.is_empty() {
                search.targets = targets;
                search.multipliers.clear();
                search.combo_nodes = 0;
                search.dfs(0, 0);
            }
            // Next combination, like an odometer.
            let mut i = 0;
            while i < pick.len() {
                pick[i] += 1;
                if pick[i] < tiers[i].len() {
                    break;
                }
                pick[i] = 0;
                i += 1;
            }
            if i == pick.len() {
                break;
            }
        }

        let Some(best) = search.best else {
            return Ok(None);
        };
        let mut choice = vec![None; self.model.lines.len()];
        for (d, &(s, o)) in best.iter().enumerate() {
            choice[self.order[d]] = Some((s, self.model.lines[self.order[d]].at[s][o].clone()));
        }
        // Price it the way every plan is priced, so the reported total is exact.
        let total = self.model.plan(&choice)?.total_cents;
        Ok(Some(Found {
            missing: self.missing(),
            total,
            choice,
        }))
    }
}

/// Branch-and-bound state for one subset.
struct Search<'s, 'm, 'a, 'b> {
    sub: &'s Subset<'m, 'a>,
    targets: Vec<Target>,
    /// Best true total so far (or the cutoff).
    best_total: i64,
    /// Its choice: per order position, (store, option index).
    best: Option<Vec<(usize, usize)>>,
    stack: Vec<(usize, usize)>,
    /// Spend per model store of the fixed lines.
    spend: Vec<i64>,
    /// Lagrangian multipliers per set of targets still short (bit `t` set:
    /// `targets[t]` is short), computed the first time a node has that set.
    multipliers: HashMap<u64, Multipliers>,
    /// Nodes searched in the current combination of targets.
    combo_nodes: u64,
    budget: &'b mut Budget,
}

/// Multipliers for the Lagrangian bound, in 1/[`LAMBDA_ONE`] steps.
struct Multipliers {
    /// Per target; 0 for targets already met.
    p: Vec<i64>,
    /// Σ over order positions ≥ d of the lines' reduced costs (scaled).
    suffix: Vec<i64>,
}

/// Fixed-point scale of the Lagrangian multipliers (λ = p / LAMBDA_ONE).
const LAMBDA_ONE: i64 = 64;

impl Search<'_, '_, '_, '_> {
    /// The true total of a complete choice (per order position).
    fn total_of(&self, choice: &[(usize, usize)]) -> i64 {
        let stores = &self.sub.model.stores;
        let mut spend = vec![None::<i64>; stores.len()];
        for (d, &(s, o)) in choice.iter().enumerate() {
            let cost = self.sub.model.lines[self.sub.order[d]].at[s][o].cost;
            let sp = spend[s].get_or_insert(0);
            *sp = sp.saturating_add(cost);
        }
        let mut total = 0i64;
        let (mut trip_sum, mut trip_max) = (0i64, 0i64);
        for (s, sp) in spend.iter().enumerate() {
            if let Some(sp) = *sp {
                total = total
                    .saturating_add(sp)
                    .saturating_sub(SpendThreshold::discount(&stores[s].thresholds, sp));
                trip_sum = trip_sum.saturating_add(stores[s].trip);
                trip_max = trip_max.max(stores[s].trip);
            }
        }
        total.saturating_add(trip_sum - trip_max)
    }

    /// Keeps `choice` if it beats the incumbent.
    fn offer_leaf(&mut self, choice: &[(usize, usize)]) {
        let total = self.total_of(choice);
        if total < self.best_total {
            self.best_total = total;
            self.best = Some(choice.to_vec());
        }
    }

    /// Line `pos`'s cheapest cost in the Lagrangian relaxation with
    /// multipliers `p` (scaled by [`LAMBDA_ONE`]): spend at a targeted store
    /// earns `p` back per cent, so above λ = 1 its dearest option is best.
    fn reduced(&self, pos: usize, p: &[i64]) -> i64 {
        self.reduced_except(pos, p, usize::MAX)
    }

    /// [`Search::reduced`] over the subset's stores other than `except`.
    fn reduced_except(&self, pos: usize, p: &[i64], except: usize) -> i64 {
        let line = &self.sub.model.lines[self.sub.order[pos]];
        let mut best = UNREACHABLE;
        for &s in &self.sub.stores {
            if s == except {
                continue;
            }
            let opts = &line.at[s];
            let (Some(first), Some(last)) = (opts.first(), opts.last()) else {
                continue;
            };
            let ps = self
                .targets
                .iter()
                .position(|t| t.store == s)
                .map_or(0, |t| p[t]);
            let cost = if ps <= LAMBDA_ONE {
                first.cost
            } else {
                last.cost
            };
            best = best.min(cost.saturating_mul(LAMBDA_ONE - ps));
        }
        best
    }

    /// The Lagrangian value (scaled) of multipliers `p` at depth `d` with the
    /// given gaps, without the fixed cost.
    fn dual(&self, d: usize, gaps: &[i64], p: &[i64]) -> i64 {
        let mut v: i64 = gaps
            .iter()
            .zip(p)
            .map(|(&g, &p)| g.max(0).saturating_mul(p))
            .sum();
        for pos in d..self.sub.order.len() {
            v = v.saturating_add(self.reduced(pos, p));
        }
        v
    }

    /// The knapsack table of target `ti` (see [`Target::knapsack`]) for
    /// multipliers `p`, if small enough: exact in this store's spend,
    /// Lagrangian in the others', so lines cannot count toward two targets.
    fn knapsack(&self, ti: usize, p: &[i64]) -> Option<Vec<i64>> {
        let t = &self.targets[ti];
        let n = self.sub.order.len();
        let width = usize::try_from(t.min).ok()?.checked_add(1)?;
        if width.checked_mul(n + 1)? > KNAPSACK_CELLS {
            return None;
        }
        let mut q = p.to_vec();
        q[ti] = 0;
        let mut table = vec![UNREACHABLE; width * (n + 1)];
        table[n * width] = 0;
        for d in (0..n).rev() {
            let (head, tail) = table.split_at_mut((d + 1) * width);
            let (row, next) = (&mut head[d * width..], &tail[..width]);
            let elsewhere = self.reduced_except(d, &q, t.store);
            for (cell, &rest) in row.iter_mut().zip(next.iter()) {
                if rest < UNREACHABLE && elsewhere < UNREACHABLE {
                    *cell = rest + elsewhere;
                }
            }
            for o in &self.sub.model.lines[self.sub.order[d]].at[t.store] {
                let here = o.cost * LAMBDA_ONE;
                let reach = usize::try_from(o.cost).unwrap_or(usize::MAX);
                for (g, cell) in row.iter_mut().enumerate() {
                    let rest = next[g.saturating_sub(reach)];
                    if rest < UNREACHABLE {
                        *cell = (*cell).min(rest + here);
                    }
                }
            }
        }
        Some(table)
    }

    /// Multipliers for the targets in `mask`, chosen to maximise the bound at
    /// the first node that needs them (coordinate ascent; the dual is concave,
    /// so a ternary search per coordinate finds its best step).
    fn multipliers_for(&self, mask: u64, d: usize, gaps: &[i64]) -> Multipliers {
        let mut p = vec![0i64; self.targets.len()];
        for _round in 0..3 {
            for t in 0..self.targets.len() {
                if mask & (1 << t) == 0 {
                    continue;
                }
                let at = |x: i64| {
                    let mut q = p.clone();
                    q[t] = x;
                    self.dual(d, gaps, &q)
                };
                let (mut lo, mut hi) = (0, 2 * LAMBDA_ONE);
                while hi - lo > 2 {
                    let m1 = lo + (hi - lo) / 3;
                    let m2 = hi - (hi - lo) / 3;
                    if at(m1) < at(m2) {
                        lo = m1 + 1;
                    } else {
                        hi = m2;
                    }
                }
                p[t] = (lo..=hi).max_by_key(|&x| (at(x), -x)).unwrap_or(0);
            }
        }
        let n = self.sub.order.len();
        let mut suffix = vec![0i64; n + 1];
        for pos in (0..n).rev() {
            suffix[pos] = suffix[pos + 1].saturating_add(self.reduced(pos, &p));
        }
        Multipliers { p, suffix }
    }

    /// Lower bound on `Σ line costs` below a node at depth `d` with fixed cost
    /// `cost`; `None` when the targets cannot be met.
    ///
    /// The larger of two bounds: the Lagrangian one (targets priced into the
    /// line costs, `O(targets)` a node once its multipliers exist) and, if that
    /// does not already reach `cutoff`, the per-store linear relaxation.
    fn bound(&mut self, d: usize, cost: i64, cutoff: i64) -> Option<i64> {
        let gaps: Vec<i64> = self
            .targets
            .iter()
            .map(|t| t.min - self.spend[t.store])
            .collect();
        let mut mask = 0u64;
        for (i, (t, &gap)) in self.targets.iter().zip(&gaps).enumerate() {
            if gap > 0 {
                if t.suffix_max[d] < gap {
                    return None;
                }
                mask |= 1 << i;
            }
        }
        let base = cost.saturating_add(self.sub.suffix_min[d]);
        if mask == 0 {
            return Some(base);
        }
        if !self.multipliers.contains_key(&mask) {
            let m = self.multipliers_for(mask, d, &gaps);
            self.multipliers.insert(mask, m);
        }
        let lagrangian = self.multipliers.get(&mask).map_or(base, |m| {
            let scaled = gaps
                .iter()
                .zip(&m.p)
                .map(|(&g, &p)| g.max(0).saturating_mul(p))
                .fold(m.suffix[d], i64::saturating_add);
            // ceil(scaled / LAMBDA_ONE): costs are whole cents.
            cost.saturating_add(scaled.saturating_add(LAMBDA_ONE - 1).div_euclid(LAMBDA_ONE))
        });
        let lb = lagrangian.max(base);
        if lb >= cutoff {
            return Some(lb);
        }
        Some(lb.max(self.lp_bound(d, base, &gaps)?))
    }

    /// The per-store linear relaxation: each store short of its target must
    /// draw spend from the remaining lines, at least `(a − min)/a` extra cost
    /// per cent up to a line's cheapest cost `a` there, one per cent beyond.
    /// A store with a knapsack table uses it instead: the exact least extra
    /// cost for that store alone. `None` when a table says it cannot be done.
    fn lp_bound(&self, d: usize, base: i64, gaps: &[i64]) -> Option<i64> {
        let mut lb = base;
        for (t, &gap) in self.targets.iter().zip(gaps) {
            let mut gap = gap;
            if gap <= 0 {
                continue;
            }
            if t.knapsack.is_some() {
                // Counted below, with every target's gap.
                continue;
            }
            let mut pen: i64 = 0;
            for &(pos, a, m) in &t.segments {
                if pos < d {
                    continue;
                }
                let take = a.min(gap);
                // floor(take · (a − m) / a): a lower bound in whole cents.
                let p = i128::from(take) * i128::from(a - m) / i128::from(a);
                pen = pen.saturating_add(i64::try_from(p).unwrap_or(i64::MAX));
                gap -= take;
                if gap == 0 {
                    break;
                }
            }
            // The rest at one cent of cost per cent of spend.
            lb = lb.saturating_add(pen).saturating_add(gap);
        }
        let cost = base - self.sub.suffix_min[d];
        for (ti, t) in self.targets.iter().enumerate() {
            let Some((p, table)) = &t.knapsack else {
                continue;
            };
            let width = usize::try_from(t.min).unwrap_or(0) + 1;
            let g = usize::try_from(gaps[ti].max(0)).unwrap_or(0);
            let rest = table[d * width + g];
            if rest >= UNREACHABLE {
                return None;
            }
            // Other targets' gaps count with their sign: the bound holds for
            // any multipliers, met targets included.
            let scaled = gaps
                .iter()
                .zip(p)
                .enumerate()
                .filter(|&(i, _)| i != ti)
                .map(|(_, (&g, &p))| g.saturating_mul(p))
                .fold(rest, i64::saturating_add);
            let k =
                cost.saturating_add(scaled.saturating_add(LAMBDA_ONE - 1).div_euclid(LAMBDA_ONE));
            lb = lb.max(k);
        }
        Some(lb)
    }

    /// The incumbent in this combination's units: `Σ costs` must stay below it.
    fn item_cutoff(&self) -> i64 {
        let off: i64 = self.targets.iter().map(|t| t.off).sum();
        self.best_total
            .saturating_sub(self.sub.trips)
            .saturating_add(off)
    }

    fn dfs(&mut self, d: usize, cost: i64) {
        if self.budget.left == 0 {
            self.budget.exhausted = true;
            return;
        }
        self.budget.left -= 1;
        let cutoff = self.item_cutoff();
        let Some(lb) = self.bound(d, cost, cutoff) else {
            return;
        };
        if lb >= cutoff {
            return;
        }
        self.combo_nodes += 1;
        if self.combo_nodes == KNAPSACK_AFTER {
            // A search this long is worth exact per-store tables (too big ones
            // stay `None`); they hold for every later node of the combination.
            let full = (1u64 << self.targets.len()) - 1;
            let p = self.multipliers.get(&full).map(|m| m.p.clone());
            let p = p.unwrap_or_else(|| vec![0; self.targets.len()]);
            for i in 0..self.targets.len() {
                let table = self.knapsack(i, &p);
                self.targets[i].knapsack = table.map(|t| (p.clone(), t));
            }
        }
        if self.targets.iter().all(|t| self.spend[t.store] >= t.min) {
            // Every target met: the cheapest completion is optimal below here.
            let mut choice = self.stack.clone();
            choice.extend(self.sub.mins[d..].iter().map(|&(_, s)| (s, 0)));
            self.offer_leaf(&choice);
            return;
        }
        if d == self.sub.order.len() {
            return;
        }
        let sub = self.sub;
        let line = &sub.model.lines[sub.order[d]];
        let mut children: Vec<(i64, usize, usize, i64)> = Vec::new();
        for &s in &sub.stores {
            let opts = &line.at[s];
            let gap = self
                .targets
                .iter()
                .find(|t| t.store == s)
                .map_or(0, |t| t.min - self.spend[s]);
            for (o, opt) in opts.iter().enumerate() {
                // Dearer options only matter while they help reach a target,
                // and none dearer than the first that closes the gap alone.
                if o > 0 && (gap <= 0 || opts[o - 1].cost >= gap) {
                    break;
                }
                let child_cost = cost.saturating_add(opt.cost);
                self.spend[s] += opt.cost;
                let child_lb = self.bound(d + 1, child_cost, cutoff);
                self.spend[s] -= opt.cost;
                if let Some(lb) = child_lb {
                    children.push((lb, s, o, opt.cost));
                }
            }
        }
        children.sort_by_key(|&(lb, s, o, _)| (lb, s, o));
        for (lb, s, o, c) in children {
            if lb >= self.item_cutoff() || self.budget.exhausted {
                break;
            }
            self.spend[s] += c;
            self.stack.push((s, o));
            self.dfs(d + 1, cost.saturating_add(c));
            self.stack.pop();
            self.spend[s] -= c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    fn store(name: &str, trip: i64, thresholds: &[(i64, i64)]) -> Store {
        Store {
            name: name.into(),
            trip_cost_cents: trip,
            thresholds: thresholds
                .iter()
                .map(|&(min_cents, off_cents)| SpendThreshold {
                    min_cents,
                    off_cents,
                })
                .collect(),
        }
    }

    fn cand(store: &str, id: &str, pack: &str, price: i64, offers: Vec<Offer>) -> Candidate {
        Candidate {
            store: store.into(),
            product_id: id.into(),
            pack: q(pack),
            price_cents: price,
            offers,
            brand: None,
            organic: false,
        }
    }

    fn line(item: &str, need: &str, candidates: Vec<Candidate>) -> BasketLine {
        BasketLine {
            item: item.into(),
            need: q(need),
            candidates,
            constraints: LineConstraints::default(),
        }
    }

    fn req(stores: Vec<Store>, lines: Vec<BasketLine>, k: u32) -> BasketRequest {
        BasketRequest {
            stores,
            lines,
            max_stores: k,
            allowed_stores: None,
        }
    }

    /// `(store, [(product, packs)], cost)` of the best plan's line `i`.
    fn bought(a: &BasketAnswer, i: usize) -> (Option<&str>, Vec<(&str, u32)>, i64) {
        let l = &a.best.lines[i];
        (
            l.store.as_deref(),
            l.purchases
                .iter()
                .map(|p| (p.product_id.as_str(), p.packs))
                .collect(),
            l.cost_cents,
        )
    }

    #[test]
    fn empty_list_gives_an_empty_answer() {
        let a = plan_basket(&req(vec![store("a", 0, &[])], vec![], 2)).unwrap();
        assert_eq!(a.total_cents, 0);
        assert_eq!(a.naive_total_cents, 0);
        assert_eq!(a.savings_cents, 0);
        assert!(a.best.lines.is_empty() && a.best.stores.is_empty());
        assert!(a.single_store.is_none());
        assert!(a.proven_optimal);
        let none = plan_basket(&req(vec![], vec![], 1)).unwrap();
        assert_eq!(none.total_cents, 0);
    }

    #[test]
    #[allow(clippy::type_complexity)] // A table of cases.
    fn covers_each_need_at_least_cost() {
        let two_for_5 = || {
            vec![Offer::MultiBuy {
                qty: 2,
                price_cents: 500,
            }]
        };
        let three_for_5 = || {
            vec![Offer::MultiBuy {
                qty: 3,
                price_cents: 500,
            }]
        };
        #[rustfmt::skip]
        let table: Vec<(&str, BasketLine, (Vec<(&str, u32)>, i64))> = vec![
            ("mixes a gallon and a half gallon",
             line("milk", "1.5 gal", vec![cand("a", "gal", "1 gal", 389, vec![]), cand("a", "half", "0.5 gal", 229, vec![])]),
             (vec![("gal", 1), ("half", 1)], 618)),
            ("converts units: 2 lb from 32 oz",
             line("rice", "2 lb", vec![cand("a", "16oz", "16 oz", 300, vec![]), cand("a", "32oz", "32 oz", 550, vec![])]),
             (vec![("32oz", 1)], 550)),
            ("quarts for a gallon when cheaper",
             line("milk", "1 gal", vec![cand("a", "gal", "1 gal", 500, vec![]), cand("a", "qt", "1 qt", 110, vec![])]),
             (vec![("qt", 4)], 440)),
            ("a third pack when 3 for $5 beats two at $3",
             line("soup", "2 can", vec![cand("a", "soup", "1 can", 300, three_for_5())]),
             (vec![("soup", 3)], 500)),
            ("no extra pack when 2 for $5 does not pay: one at $3",
             line("soup", "1 can", vec![cand("a", "soup", "1 can", 300, two_for_5())]),
             (vec![("soup", 1)], 300)),
            ("bogo: one paid, no free pack forced",
             line("chips", "1 bag", vec![cand("a", "chips", "1 bag", 400, vec![Offer::Bogo])]),
             (vec![("chips", 1)], 400)),
            ("bogo covers two for the price of one",
             line("chips", "2 bag", vec![cand("a", "chips", "1 bag", 400, vec![Offer::Bogo]), cand("a", "cheap", "1 bag", 250, vec![])]),
             (vec![("chips", 2)], 400)),
            ("a count need buys one pack per item of another unit",
             line("oj", "2", vec![cand("a", "oj", "52 fl oz", 350, vec![])]),
             (vec![("oj", 2)], 700)),
        ];
        for (name, l, (want_buys, want_cost)) in table {
            let a = plan_basket(&req(vec![store("a", 0, &[])], vec![l], 1)).unwrap();
            let (s, buys, cost) = bought(&a, 0);
            assert_eq!(s, Some("a"), "{name}");
            assert_eq!((buys, cost), (want_buys, want_cost), "{name}");
            assert_eq!(a.total_cents, want_cost, "{name}");
        }
    }

    #[test]
    fn unusable_candidates_make_a_line_unavailable_not_an_error() {
        let mut organic = line(
            "kale",
            "1 bunch",
            vec![cand("a", "kale", "1 bunch", 200, vec![])],
        );
        organic.constraints.organic_only = true;
        let r = req(
            vec![store("a", 0, &[])],
            vec![
                line(
                    "milk",
                    "1 gal",
                    vec![cand("a", "flour", "5 lb", 300, vec![])],
                ),
                organic,
                line("eggs", "12", vec![cand("a", "eggs", "12 ct", 300, vec![])]),
                line("nothing", "1", vec![]),
            ],
            1,
        );
        let a = plan_basket(&r).unwrap();
        assert_eq!(a.unavailable, ["milk", "kale", "nothing"]);
        assert_eq!(a.best.unavailable, ["milk", "kale", "nothing"]);
        assert_eq!(a.total_cents, 300);
        assert_eq!(a.best.lines.len(), 4);
        assert_eq!(a.best.lines[0].store, None);
    }

    #[test]
    fn constraints_filter_candidates() {
        let mut branded = cand("a", "brand", "1 gal", 500, vec![]);
        branded.brand = Some("Horizon".into());
        let mut organic = cand("a", "organic", "1 gal", 600, vec![]);
        organic.organic = true;
        let cheap = cand("a", "cheap", "1 gal", 300, vec![]);
        let all = vec![cheap, branded, organic];
        let cases: Vec<(&str, LineConstraints, &str)> = vec![
            ("none", LineConstraints::default(), "cheap"),
            (
                "brand, any case",
                LineConstraints {
                    brand: Some("horizon".into()),
                    ..Default::default()
                },
                "brand",
            ),
            (
                "organic only",
                LineConstraints {
                    organic_only: true,
                    ..Default::default()
                },
                "organic",
            ),
            (
                "allowed ids",
                LineConstraints {
                    allowed_products: Some(vec!["organic".into(), "brand".into()]),
                    ..Default::default()
                },
                "brand",
            ),
        ];
        for (name, constraints, want) in cases {
            let mut l = line("milk", "1 gal", all.clone());
            l.constraints = constraints;
            let a = plan_basket(&req(vec![store("a", 0, &[])], vec![l], 1)).unwrap();
            assert_eq!(bought(&a, 0).1, [(want, 1)], "{name}");
        }
    }

    fn two_store_list() -> Vec<BasketLine> {
        vec![
            line(
                "milk",
                "1 gal",
                vec![
                    cand("a", "a-milk", "1 gal", 400, vec![]),
                    cand("b", "b-milk", "1 gal", 300, vec![]),
                ],
            ),
            line(
                "eggs",
                "12",
                vec![
                    cand("a", "a-eggs", "12 ct", 300, vec![]),
                    cand("b", "b-eggs", "12 ct", 450, vec![]),
                ],
            ),
        ]
    }

    #[test]
    fn splits_across_stores_only_when_it_beats_the_trip() {
        // Split saves 100 on items; of two trips only the cheaper is charged,
        // and a tie goes to fewer stores.
        let cases = [
            (0, 0, 2, 600, vec!["a", "b"]),
            (50, 200, 2, 650, vec!["a", "b"]),
            (100, 200, 2, 700, vec!["a"]),
            (300, 300, 2, 700, vec!["a"]),
            (0, 0, 1, 700, vec!["a"]),
        ];
        for (trip_a, trip_b, k, total, stores) in cases {
            let r = req(
                vec![store("a", trip_a, &[]), store("b", trip_b, &[])],
                two_store_list(),
                k,
            );
            let a = plan_basket(&r).unwrap();
            let used: Vec<&str> = a.best.stores.iter().map(|s| s.store.as_str()).collect();
            assert_eq!(
                (a.total_cents, used),
                (total, stores),
                "trips {trip_a}/{trip_b} k {k}"
            );
            let single = a.single_store.unwrap();
            assert_eq!(single.total_cents, 700);
            assert_eq!(single.stores[0].store, "a");
            assert_eq!(a.store_totals.len(), 2);
            assert_eq!(a.store_totals[1].total_cents, 750);
        }
    }

    #[test]
    fn the_main_store_pays_no_trip() {
        let r = req(
            vec![store("a", 50, &[]), store("b", 200, &[])],
            two_store_list(),
            2,
        );
        let a = plan_basket(&r).unwrap();
        let trips: Vec<(&str, i64)> = a
            .best
            .stores
            .iter()
            .map(|s| (s.store.as_str(), s.trip_cost_cents))
            .collect();
        assert_eq!(trips, [("a", 50), ("b", 0)]);
        assert_eq!(a.total_cents, 650);
    }

    #[test]
    fn reaches_a_spend_threshold_when_it_pays() {
        // Without the threshold milk goes to b; with "$2 off $7" at a, buying
        // both at a costs 700 - 200 = 500 < 600.
        let r = req(
            vec![store("a", 0, &[(700, 200)]), store("b", 0, &[])],
            two_store_list(),
            2,
        );
        let a = plan_basket(&r).unwrap();
        assert_eq!(a.total_cents, 500);
        assert_eq!(a.best.discount_cents, 200);
        assert_eq!(a.best.stores.len(), 1);
        // Per-line savings can be negative: milk costs more than at b.
        let milk = &a.line_savings[0];
        assert_eq!((milk.naive_cents, milk.best_cents), (Some(400), Some(400)));
    }

    #[test]
    fn pays_for_a_dearer_product_to_reach_a_threshold() {
        // 480 + 250 = 730 reaches "$1.50 off $7.20": 580 beats 450 + 250 = 700.
        let r = req(
            vec![store("a", 0, &[(720, 150)])],
            vec![
                line(
                    "milk",
                    "1 gal",
                    vec![
                        cand("a", "plain", "1 gal", 450, vec![]),
                        cand("a", "fancy", "1 gal", 480, vec![]),
                    ],
                ),
                line(
                    "bread",
                    "1 loaf",
                    vec![cand("a", "bread", "1 loaf", 250, vec![])],
                ),
            ],
            1,
        );
        let a = plan_basket(&r).unwrap();
        assert_eq!(bought(&a, 0).1, [("fancy", 1)]);
        assert_eq!(a.total_cents, 580);
        // The naive shopper takes the first candidate and misses it.
        assert_eq!(a.naive_total_cents, 700);
        assert_eq!(a.savings_cents, 120);
        assert_eq!(a.line_savings[0].savings_cents, Some(-30));
    }

    /// Found by the oracle property: rounding a line up to complete a
    /// multi-buy is cheaper for the line but misses the store's threshold,
    /// which buying the exact count reaches (the naive plan did).
    #[test]
    fn the_exact_pack_count_is_bought_when_it_reaches_a_threshold() {
        let r = req(
            vec![store("s0", 0, &[(1063, 31)]), store("s1", 0, &[])],
            vec![
                line(
                    "item0",
                    "1 gal",
                    vec![cand("s0", "p0-0", "0.5 gal", 415, vec![])],
                ),
                line("item1", "1 gal", vec![]),
                line(
                    "item2",
                    "5 ct",
                    vec![cand(
                        "s0",
                        "p2-0",
                        "1 gal",
                        66,
                        vec![Offer::MultiBuy {
                            qty: 3,
                            price_cents: 116,
                        }],
                    )],
                ),
            ],
            1,
        );
        let a = plan_basket(&r).unwrap();
        // Five packs (one multi-buy group and two singles) cost 248 and
        // reach the 1063 threshold; six (two groups) cost 232 and miss it.
        assert_eq!(a.total_cents, 830 + 248 - 31);
        check_against_oracle(&r).unwrap();
    }

    #[test]
    fn naive_plan_is_first_candidate_at_the_store_carrying_most_lines() {
        let r = req(
            vec![store("small", 0, &[]), store("big", 0, &[])],
            vec![
                line(
                    "milk",
                    "2 gal",
                    vec![
                        cand("small", "s-milk", "1 gal", 100, vec![]),
                        cand("big", "big-milk", "1 gal", 400, vec![]),
                        cand("big", "big-milk-half", "0.5 gal", 150, vec![]),
                    ],
                ),
                line(
                    "eggs",
                    "12",
                    vec![cand("big", "big-eggs", "12 ct", 300, vec![])],
                ),
            ],
            2,
        );
        let a = plan_basket(&r).unwrap();
        let naive: Vec<(Option<&str>, Vec<&str>, i64)> = a
            .naive
            .lines
            .iter()
            .map(|l| {
                (
                    l.store.as_deref(),
                    l.purchases.iter().map(|p| p.product_id.as_str()).collect(),
                    l.cost_cents,
                )
            })
            .collect();
        assert_eq!(
            naive,
            [
                (Some("big"), vec!["big-milk"], 800),
                (Some("big"), vec!["big-eggs"], 300)
            ]
        );
        assert_eq!(a.total_cents, 500);
        assert_eq!(a.savings_cents, 600);
    }

    #[test]
    fn too_few_stores_prefers_covering_more_lines() {
        // k = 1: "b" is dearer but carries both lines.
        let r = req(
            vec![store("a", 0, &[]), store("b", 0, &[])],
            vec![
                line(
                    "milk",
                    "1 gal",
                    vec![
                        cand("a", "a-milk", "1 gal", 100, vec![]),
                        cand("b", "b-milk", "1 gal", 400, vec![]),
                    ],
                ),
                line(
                    "eggs",
                    "12",
                    vec![cand("b", "b-eggs", "12 ct", 300, vec![])],
                ),
            ],
            1,
        );
        let a = plan_basket(&r).unwrap();
        assert!(a.best.unavailable.is_empty());
        assert_eq!(a.total_cents, 700);
        let totals: Vec<(&str, i64, usize)> = a
            .store_totals
            .iter()
            .map(|t| (t.store.as_str(), t.total_cents, t.unavailable))
            .collect();
        assert_eq!(totals, [("a", 100, 1), ("b", 700, 0)]);
    }

    #[test]
    fn allowed_stores_restrict_the_plan() {
        let mut r = req(
            vec![store("a", 0, &[]), store("b", 0, &[])],
            two_store_list(),
            2,
        );
        r.allowed_stores = Some(vec!["b".into()]);
        let a = plan_basket(&r).unwrap();
        assert_eq!(a.total_cents, 750);
        assert!(a.best.stores.iter().all(|s| s.store == "b"));
        assert_eq!(a.store_totals.len(), 1);
    }

    #[test]
    fn absurd_requests_are_typed_errors() {
        let ok = || req(vec![store("a", 0, &[])], two_store_list(), 1);
        let mut cases: Vec<(&str, BasketRequest)> = Vec::new();
        let mut r = ok();
        r.max_stores = 0;
        cases.push(("k = 0", r));
        let mut r = ok();
        r.stores.push(store("a", 0, &[]));
        cases.push(("duplicate store", r));
        let mut r = ok();
        r.lines[0].candidates[0].price_cents = -1;
        cases.push(("negative price", r));
        let mut r = ok();
        r.lines[0].candidates[0].price_cents = i64::MAX;
        cases.push(("absurd price", r));
        let mut r = ok();
        r.stores[0].trip_cost_cents = -5;
        cases.push(("negative trip", r));
        let mut r = ok();
        r.stores[0].thresholds = vec![SpendThreshold {
            min_cents: 100,
            off_cents: 500,
        }];
        cases.push(("threshold off > min", r));
        let mut r = ok();
        r.lines[0].candidates[0].offers = vec![Offer::MultiBuy {
            qty: 1,
            price_cents: 100,
        }];
        cases.push(("multi-buy of one", r));
        let mut r = ok();
        r.allowed_stores = Some(vec!["nowhere".into()]);
        cases.push(("unknown allowed store", r));
        // Candidates at "b" name a store that is not listed.
        cases.push((
            "unknown candidate store",
            req(vec![store("a", 0, &[])], two_store_list(), 1),
        ));
        let mut r = ok();
        r.stores = (0..13).map(|i| store(&format!("s{i}"), 0, &[])).collect();
        r.lines.clear();
        cases.push(("too many stores", r));
        for (name, r) in cases {
            let err = plan_basket(&r).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{name}: {err}");
        }
    }

    #[test]
    fn request_and_answer_are_plain_json() {
        let json = r#"{
            "stores": [{"name": "a", "trip_cost_cents": 0, "thresholds": [{"min_cents": 5000, "off_cents": 1000}]}],
            "lines": [{"item": "soda", "need": {"amount": 2, "unit": "bottle"},
                       "candidates": [{"store": "a", "product_id": "coke", "pack": {"amount": 1, "unit": "bottle"},
                                       "price_cents": 300, "offers": [{"kind": "multi_buy", "qty": 2, "price_cents": 500}]}]}],
            "max_stores": 1
        }"#;
        let r: BasketRequest = serde_json::from_str(json).unwrap();
        let a = plan_basket(&r).unwrap();
        assert_eq!(a.total_cents, 500);
        let back: BasketAnswer = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }

    /// A list like the benchmark's: 40 lines, 3 stores, thresholds at two.
    pub(crate) fn big_request(seed: u64) -> BasketRequest {
        let mut x = seed;
        let mut rnd = move |n: u64| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % n
        };
        let names = ["north", "south", "east"];
        let stores = vec![
            store("north", 0, &[(5000, 1000)]),
            store("south", 400, &[(3000, 500), (6000, 1200)]),
            store("east", 300, &[]),
        ];
        let sizes = [
            "1 gal", "0.5 gal", "1 qt", "2 lb", "16 oz", "12 ct", "6 ct", "1 can",
        ];
        let needs = [
            "1 gal", "1.5 gal", "2 qt", "3 lb", "1 lb", "18", "12", "3 can",
        ];
        let lines = (0..40)
            .map(|i| {
                let kind = usize::try_from(rnd(4)).unwrap() * 2;
                let mut candidates = Vec::new();
                for s in names {
                    for j in 0..3 + rnd(4) {
                        let size = sizes[kind + usize::try_from(rnd(2)).unwrap()];
                        let price = 150 + i64::try_from(rnd(450)).unwrap();
                        let offers = match rnd(6) {
                            0 => vec![Offer::Bogo],
                            1 => vec![Offer::MultiBuy {
                                qty: 2,
                                price_cents: price * 2 - 50 - i64::try_from(rnd(100)).unwrap(),
                            }],
                            _ => vec![],
                        };
                        candidates.push(cand(s, &format!("{s}-{i}-{j}"), size, price, offers));
                    }
                }
                line(
                    &format!("item {i}"),
                    needs[kind + usize::try_from(rnd(2)).unwrap()],
                    candidates,
                )
            })
            .collect();
        req(stores, lines, 3)
    }

    #[test]
    fn a_forty_line_list_is_solved_to_optimality() {
        for seed in 0..5 {
            let a = plan_basket(&big_request(seed)).unwrap();
            assert!(a.proven_optimal, "seed {seed}");
            assert!(a.best.unavailable.is_empty());
            assert!(a.total_cents <= a.naive_total_cents);
            assert!(a.total_cents <= a.single_store.as_ref().unwrap().total_cents);
        }
    }

    // ---- The brute-force oracle -------------------------------------------

    /// Every distinct cost of buying `l` at `store`, by brute force over pack
    /// counts: minimal covers of at most two products, each count rounded up
    /// within a window wider than any test offer group when that is cheaper.
    fn oracle_costs(l: &BasketLine, store: &str) -> Vec<i64> {
        let usable: Vec<(&Candidate, Ratio, u32)> = l
            .candidates
            .iter()
            .filter(|c| c.store == store && allowed_by(&l.constraints, c))
            .filter_map(|c| {
                let per = if l.need.unit.is_compatible(c.pack.unit) {
                    c.pack.in_base()
                } else if matches!(l.need.dimension(), Dimension::Count | Dimension::Package) {
                    Ratio::from_integer(1)
                } else {
                    return None;
                };
                Some((c, per, l.need.packs_needed(&c.pack).ok()?))
            })
            .collect();
        let need = l.need.in_base();
        let mut out = Vec::new();
        let mut n = vec![0u32; usable.len()];
        loop {
            let covered: Ratio = usable
                .iter()
                .zip(&n)
                .map(|((_, per, _), &k)| *per * Ratio::from_integer(i128::from(k)))
                .sum();
            let used = n.iter().filter(|&&k| k > 0).count();
            let minimal = usable
                .iter()
                .zip(&n)
                .all(|((_, per, _), &k)| k == 0 || covered - *per < need);
            if covered >= need && used <= 2 && minimal {
                // Each product bought at its exact count, or rounded up to
                // its cheapest count within a few more packs.
                let mut costs = vec![0i64];
                for ((c, _, _), &k) in usable.iter().zip(&n) {
                    if k == 0 {
                        continue;
                    }
                    let exact = cost_of(k, c.price_cents, &c.offers).unwrap();
                    let rounded = (k..k + 6)
                        .map(|m| cost_of(m, c.price_cents, &c.offers).unwrap())
                        .min()
                        .unwrap();
                    costs = costs
                        .iter()
                        .flat_map(|&sum| [sum + exact, sum + rounded])
                        .collect();
                }
                out.extend(costs);
            }
            // Next vector, odometer-style, each count up to what covers alone.
            let mut i = 0;
            while i < n.len() {
                n[i] += 1;
                if n[i] <= usable[i].2 {
                    break;
                }
                n[i] = 0;
                i += 1;
            }
            if i == n.len() {
                break;
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The best `(unavailable lines, total)` over every assignment of lines to
    /// (store, cost) or to nothing, using at most `k` stores.
    fn oracle(r: &BasketRequest, k: usize) -> (usize, i64) {
        let opts: Vec<Vec<(usize, i64)>> = r
            .lines
            .iter()
            .map(|l| {
                r.stores
                    .iter()
                    .enumerate()
                    .flat_map(|(s, st)| oracle_costs(l, &st.name).into_iter().map(move |c| (s, c)))
                    .collect()
            })
            .collect();
        let mut best = (usize::MAX, i64::MAX);
        let mut pick = vec![0usize; opts.len()]; // 0 = not bought, i + 1 = opts[i]
        loop {
            let mut spend: Vec<Option<i64>> = vec![None; r.stores.len()];
            let mut skipped = 0;
            for (l, &p) in pick.iter().enumerate() {
                if p == 0 {
                    skipped += 1;
                } else {
                    let (s, c) = opts[l][p - 1];
                    *spend[s].get_or_insert(0) += c;
                }
            }
            let used: Vec<usize> = (0..r.stores.len())
                .filter(|&s| spend[s].is_some())
                .collect();
            if used.len() <= k {
                let trips: Vec<i64> = used.iter().map(|&s| r.stores[s].trip_cost_cents).collect();
                let mut total =
                    trips.iter().sum::<i64>() - trips.iter().max().copied().unwrap_or(0);
                for &s in &used {
                    let sp = spend[s].unwrap();
                    let off = r.stores[s]
                        .thresholds
                        .iter()
                        .filter(|t| sp >= t.min_cents)
                        .map(|t| t.off_cents)
                        .max()
                        .unwrap_or(0);
                    total += sp - off;
                }
                best = best.min((skipped, total));
            }
            let mut i = 0;
            while i < pick.len() {
                pick[i] += 1;
                if pick[i] <= opts[i].len() {
                    break;
                }
                pick[i] = 0;
                i += 1;
            }
            if i == pick.len() {
                break;
            }
        }
        best
    }

    /// Checks the invariants every answer must satisfy.
    fn check_invariants(r: &BasketRequest, a: &BasketAnswer) {
        for plan in [&a.best, &a.naive]
            .into_iter()
            .chain(a.single_store.as_ref())
        {
            assert!(plan.stores.len() <= usize::try_from(r.max_stores).unwrap());
            let items: i64 = plan.lines.iter().map(|l| l.cost_cents).sum();
            assert_eq!(plan.items_cents, items);
            assert_eq!(
                plan.trip_cents,
                plan.stores.iter().map(|s| s.trip_cost_cents).sum::<i64>()
            );
            assert_eq!(
                plan.discount_cents,
                plan.stores.iter().map(|s| s.discount_cents).sum::<i64>()
            );
            assert_eq!(
                plan.total_cents,
                items + plan.trip_cents - plan.discount_cents
            );
            for (l, p) in r.lines.iter().zip(&plan.lines) {
                if p.store.is_none() {
                    assert!(plan.unavailable.contains(&l.item));
                    continue;
                }
                // The packs cover the need, and cost what the register charges.
                let mut covered = Ratio::from_integer(0);
                let mut cost = 0;
                for buy in &p.purchases {
                    let c = l
                        .candidates
                        .iter()
                        .find(|c| {
                            c.product_id == buy.product_id && Some(&c.store) == p.store.as_ref()
                        })
                        .unwrap();
                    assert_eq!(
                        buy.cost_cents,
                        cost_of(buy.packs, c.price_cents, &c.offers).unwrap()
                    );
                    cost += buy.cost_cents;
                    let per = coverage(&l.need, &c.pack).unwrap();
                    covered += per * Ratio::from_integer(i128::from(buy.packs));
                }
                assert_eq!(cost, p.cost_cents);
                assert!(covered >= l.need.in_base(), "{} not covered", l.item);
            }
        }
        let key = |p: &BasketPlan| (p.unavailable.len(), p.total_cents);
        assert!(key(&a.best) <= key(&a.naive), "best worse than naive");
        if let Some(single) = &a.single_store {
            assert!(key(&a.best) <= key(single), "split worse than single store");
            if r.max_stores == 1 {
                assert_eq!(key(&a.best), key(single));
            }
        }
        assert_eq!(a.savings_cents, a.naive_total_cents - a.total_cents);
    }

    /// Random small requests: `stores` stores, `lines` lines, thresholds with
    /// minimums in `mins` (near what the list costs, they bind).
    fn arb_request(
        stores: std::ops::RangeInclusive<usize>,
        lines: std::ops::RangeInclusive<usize>,
        mins: std::ops::Range<i64>,
    ) -> impl Strategy<Value = BasketRequest> {
        let store = (0i64..300, prop::collection::vec((mins, 25i64..400), 0..=2));
        let offer = prop_oneof![
            3 => Just(None),
            1 => Just(Some(Offer::Bogo)),
            1 => (2u32..=3, 0i64..150).prop_map(|(qty, less)| Some(Offer::MultiBuy { qty, price_cents: less })),
        ];
        let cand = (0usize..3, 0usize..6, 50i64..700, offer, any::<bool>());
        let line = (0usize..5, prop::collection::vec(cand, 0..=3), any::<bool>());
        (
            prop::collection::vec(store, stores),
            prop::collection::vec(line, lines),
            1u32..=3,
        )
            .prop_map(|(stores, lines, k)| {
                let n = stores.len();
                let stores: Vec<Store> = stores
                    .into_iter()
                    .enumerate()
                    .map(|(i, (trip, ts))| Store {
                        name: format!("s{i}"),
                        trip_cost_cents: trip,
                        thresholds: ts
                            .into_iter()
                            .map(|(min_cents, off)| SpendThreshold {
                                min_cents,
                                off_cents: off.min(min_cents),
                            })
                            .collect(),
                    })
                    .collect();
                let needs = ["1 gal", "1.5 gal", "3 qt", "2 ct", "5 ct"];
                let packs = ["1 gal", "0.5 gal", "1 qt", "1 ct", "2 ct", "1 lb"];
                let lines = lines
                    .into_iter()
                    .enumerate()
                    .map(|(i, (need, cands, organic_only))| BasketLine {
                        item: format!("item{i}"),
                        need: q(needs[need]),
                        candidates: cands
                            .into_iter()
                            .enumerate()
                            .map(|(j, (s, pack, price, offer, organic))| Candidate {
                                store: format!("s{}", s % n),
                                product_id: format!("p{i}-{j}"),
                                pack: q(packs[pack]),
                                price_cents: price,
                                // A multi-buy group costs a little under full price.
                                offers: offer
                                    .map(|o| match o {
                                        Offer::MultiBuy {
                                            qty,
                                            price_cents: less,
                                        } => Offer::MultiBuy {
                                            qty,
                                            price_cents: (price * i64::from(qty) - less).max(0),
                                        },
                                        o => o,
                                    })
                                    .into_iter()
                                    .collect(),
                                brand: None,
                                organic,
                            })
                            .collect(),
                        constraints: LineConstraints {
                            organic_only: organic_only && i % 3 == 0,
                            ..Default::default()
                        },
                    })
                    .collect();
                BasketRequest {
                    stores,
                    lines,
                    max_stores: k,
                    allowed_stores: None,
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn optimiser_matches_the_brute_force_oracle(r in arb_request(1..=3, 0..=4, 200..2500)) {
            check_against_oracle(&r)?;
        }

        #[test]
        fn optimiser_matches_the_oracle_when_thresholds_bind(r in arb_request(1..=2, 3..=6, 400..1800)) {
            check_against_oracle(&r)?;
        }
    }

    /// The optimiser's best and single-store answers equal the oracle's, and
    /// every invariant holds.
    fn check_against_oracle(r: &BasketRequest) -> Result<(), TestCaseError> {
        let a = plan_basket(r).unwrap();
        prop_assert!(a.proven_optimal);
        check_invariants(r, &a);
        let k = usize::try_from(r.max_stores).unwrap();
        let unavailable = a.best.unavailable.len();
        prop_assert_eq!((unavailable, a.total_cents), oracle(r, k));
        if let Some(single) = &a.single_store {
            prop_assert_eq!((single.unavailable.len(), single.total_cents), oracle(r, 1));
        }
        Ok(())
    }
}
