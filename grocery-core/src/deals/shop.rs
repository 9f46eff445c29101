//! The deals one user sees: the cheapest way to shop a list across stores, and
//! the deals on a list. Gathers prices (the catalog's own store through the
//! demo market, named stores as imported), then asks the pure solvers of this
//! module's siblings.
//!
//! What may replace what: a line linked to a product may be bought as any
//! product of the same kind and name (`Whole Milk` of any brand, in any pack
//! size of the same dimension), never as a different product (`2% Milk`);
//! an unlinked line takes its best catalog match the same way. A line that
//! says "organic", or is linked to an organic product, stays organic; a line
//! that names its product's brand ("kroger whole milk") stays with that brand.
//! Checked lines are bought already and left out.

use std::collections::{BTreeSet, HashMap, HashSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::basket::{
    BasketLine, BasketRequest, Candidate, LineConstraints, Purchase, Store, StoreTotal, plan_basket,
};
use super::detect::{Deal, detect_deal};
use super::offer::Offer;
use crate::catalog::{Product, keeps_diet};
use crate::error::{Error, Result};
use crate::grocery::Grocery;
use crate::lists::{GroceryList, UserId};
use crate::pricing::source::{DemoMarket, Offer as QuoteOffer};
use crate::quantity::{Amount, Dimension, Quantity, Ratio};
use crate::store::StoredPrice;

/// The name of the catalog's own store (the demo market).
pub const OWN_STORE: &str = "demo";

/// How to shop a list: see [`Deals::optimize`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct OptimizeOptions {
    /// The list (by name); `None` for the current list.
    pub list: Option<String>,
    /// The stores allowed (names, any case); `None` for every store with prices.
    pub stores: Option<Vec<String>>,
    /// The most stores to visit (K, at least 1).
    pub max_stores: u32,
    /// What each store beyond the main one costs (a trip), in cents.
    pub trip_cost_cents: i64,
    /// Keep the total at or under this, in cents.
    pub budget_cents: Option<i64>,
    /// Whether a line may be bought as another product: another brand or
    /// pack size of the same product, and, to fit a budget, another variant
    /// of its kind. `false`: every line as the list's own product.
    pub substitutes: bool,
}

impl Default for OptimizeOptions {
    fn default() -> Self {
        OptimizeOptions {
            list: None,
            stores: None,
            max_stores: 2,
            trip_cost_cents: 0,
            budget_cents: None,
            substitutes: true,
        }
    }
}

/// One line of an optimised list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OptimizedLine {
    /// The list item.
    pub item: String,
    /// The product bought (the first, when packs of two sizes are mixed).
    pub product_id: Option<String>,
    /// Its display name.
    pub product_name: Option<String>,
    /// Where to buy it; `None` when no allowed store has it.
    pub store: Option<String>,
    /// Packs of `product_id`.
    pub packs: u32,
    /// What the line costs with its offers, in cents.
    pub cost_cents: i64,
    /// Every product and pack count bought for the line.
    pub purchases: Vec<Purchase>,
    /// What the naive plan pays for it.
    pub naive_cost_cents: Option<i64>,
    /// `naive_cost_cents - cost_cents`.
    pub savings_cents: Option<i64>,
    /// Bought as a different product than the list names (brand or size).
    pub substituted: bool,
}

/// Whether a plan fits a budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BudgetCheck {
    /// The budget, in cents.
    pub budget_cents: i64,
    /// Whether the optimised total fits.
    pub fits: bool,
    /// How far over the budget the cheapest plan is (0 when it fits).
    pub over_cents: i64,
    /// The list's own variants were over budget, so the plan may swap a line
    /// for another product of the same kind (90% lean for 80% lean, store
    /// brand coffee for another), keeping organic and other dietary tags, never
    /// for a line that names its brand. Swapped lines are `substituted`.
    #[serde(default)]
    pub widened: bool,
}

/// The cheapest way to shop a list: see [`Deals::optimize`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Optimized {
    /// The list.
    pub list: String,
    /// The stores the best plan visits.
    pub stores: Vec<String>,
    /// Every unchecked line, in list order.
    pub lines: Vec<OptimizedLine>,
    /// The best plan's total: lines + trips - spend-threshold discounts.
    pub total_cents: i64,
    /// The naive plan's total (the store carrying most lines, the list's own
    /// products, no offer-aware choices).
    pub naive_total_cents: i64,
    /// `naive_total_cents - total_cents`.
    pub savings_cents: i64,
    /// Lines the naive plan leaves out (its store does not sell them), so
    /// its total is not for the same basket; the savings then compare
    /// unlike totals.
    pub naive_unavailable: Vec<String>,
    /// Trip costs in the total.
    pub trip_cents: i64,
    /// Spend-threshold discounts in the total.
    pub discount_cents: i64,
    /// The cheapest single store, when one carries anything.
    pub single_store: Option<StoreTotal>,
    /// Every allowed store alone.
    pub store_totals: Vec<StoreTotal>,
    /// Lines no allowed store sells.
    pub unavailable: Vec<String>,
    /// False only when the search stopped at its node budget.
    pub proven_optimal: bool,
    /// The budget verdict, when a budget was given.
    pub budget: Option<BudgetCheck>,
}

/// Why a deal matters to this user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Matched {
    /// On a product of the list.
    List,
    /// Another pack size of a list product (same brand and product), cheaper
    /// per unit with the deal than the list's own product at its best.
    CheaperSize,
    /// A close substitute for a list product: the same kind and variant from
    /// another brand, organic (gluten-free, lactose-free, vegan) when the
    /// list's product is, never when the line names its brand; cheaper per
    /// unit with the deal.
    Substitute,
    /// A product this user buys often that is not on the list.
    Usual,
    /// On sale, with no tie to this user's list or habits.
    Sale,
}

/// A deal on a product of a list, or on sale anywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductDeal {
    /// The list item it is for (`None` for a deal found outside a list).
    pub item: Option<String>,
    /// Why it matters to this user.
    pub matched: Matched,
    /// For a cheaper size or a substitute: the comparison in words
    /// ("$1.800/gal against $3.480/gal for Great Value Whole Milk").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The product.
    pub product_id: String,
    /// Its display name.
    pub product_name: String,
    /// The store.
    pub store: String,
    /// What kind of deal, its score, reason and confidence.
    #[serde(flatten)]
    pub deal: Deal,
}

impl Matched {
    /// A short note for people: "another size", "instead", "you buy it
    /// often"; `None` for the list's own products and plain sales.
    pub fn note(self) -> Option<&'static str> {
        match self {
            Matched::CheaperSize => Some("another size"),
            Matched::Substitute => Some("instead"),
            Matched::Usual => Some("you buy it often"),
            Matched::List | Matched::Sale => None,
        }
    }
}

impl ProductDeal {
    /// The deal's reason, with the per-unit comparison when there is one:
    /// "2 for $3 saves $1.40 on two; $3.000/gal against $4.000/gal for ...".
    pub fn explanation(&self) -> String {
        match &self.why {
            Some(why) => format!("{}; {why}", self.deal.reason),
            None => self.deal.reason.clone(),
        }
    }
}

/// Deals and basket optimisation for one user; from [`Grocery::deals`].
#[derive(Debug, Clone, Copy)]
pub struct Deals<'a> {
    g: &'a Grocery,
    user: UserId,
}

/// Every price known for every store: the catalog's own (demo market, moved
/// day by day) and named stores' (as imported).
struct PriceBook {
    today: i64,
    own_store: bool,
    /// Named stores' prices by product id; `None` store rows are offers of the
    /// catalog's own store.
    by_product: HashMap<String, Vec<StoredPrice>>,
    store_only: HashSet<String>,
    stores: BTreeSet<String>,
}

impl PriceBook {
    /// The candidates for `p` at every store that sells it.
    fn candidates(&self, p: &Product, organic: bool, out: &mut Vec<Candidate>) {
        let rows = self.by_product.get(&p.id).map(Vec::as_slice).unwrap_or(&[]);
        let make = |store: &str, price_cents: i64, offers: Vec<Offer>| Candidate {
            store: store.to_string(),
            product_id: p.id.clone(),
            pack: p.size,
            price_cents,
            offers,
            brand: Some(p.brand.clone()),
            organic,
        };
        if self.own_store && !self.store_only.contains(&p.id) {
            let quote = DemoMarket::default().quote_on(p, self.today);
            let mut offers: Vec<Offer> = quote.offers.iter().map(offer_of).collect();
            offers.extend(
                rows.iter()
                    .filter(|r| r.store.is_none())
                    .filter_map(|r| r.offer.as_ref().map(offer_of)),
            );
            out.push(make(OWN_STORE, quote.price.cents, offers));
        }
        for r in rows {
            if let Some(store) = &r.store {
                out.push(make(
                    store,
                    r.price.cents,
                    r.offer.iter().map(offer_of).collect(),
                ));
            }
        }
    }

    /// The offers on `p` today, per store, with its price there.
    fn offers(&self, p: &Product) -> Vec<(String, i64, Vec<Offer>)> {
        let mut cands = Vec::new();
        self.candidates(p, false, &mut cands);
        cands
            .into_iter()
            .map(|c| (c.store, c.price_cents, c.offers))
            .collect()
    }
}

fn offer_of(o: &QuoteOffer) -> Offer {
    match o {
        QuoteOffer::MultiBuy { qty, price } => Offer::MultiBuy {
            qty: *qty,
            price_cents: price.cents,
        },
        QuoteOffer::Bogo => Offer::Bogo,
        QuoteOffer::Rollback { was } => Offer::Rollback {
            was_cents: was.cents,
        },
        QuoteOffer::Clearance { was } => Offer::Clearance {
            was_cents: Some(was.cents),
        },
        QuoteOffer::Promo { was } => Offer::Promo {
            was_cents: was.cents,
        },
    }
}

fn is_organic(p: &Product) -> bool {
    p.tags.iter().any(|t| t == "organic")
}

/// What a line needs: a bare count of a product sold by volume or weight
/// ("2 milk") means that many of the list's own product ("2 × 1 gal").
fn need_of(quantity: Quantity, base: &Product) -> Quantity {
    if quantity.dimension() == Dimension::Count && base.size.dimension() != Dimension::Count {
        use num_traits::CheckedMul;
        if let Some(n) = quantity
            .amount
            .ratio()
            .checked_mul(&base.size.amount.ratio())
            && let Ok(amount) = Amount::new(n)
        {
            return Quantity::new(amount, base.size.unit);
        }
    }
    quantity
}

impl<'a> Deals<'a> {
    pub(crate) fn new(g: &'a Grocery, user: UserId) -> Self {
        Deals { g, user }
    }

    async fn price_book(&self) -> Result<PriceBook> {
        let (rows, store_only) = self.g.store().store_prices().await?;
        let own_store = self.g.config().pricing.demo;
        let mut stores = BTreeSet::new();
        if own_store {
            stores.insert(OWN_STORE.to_string());
        }
        let mut by_product: HashMap<String, Vec<StoredPrice>> = HashMap::new();
        for r in rows {
            if let Some(s) = &r.store {
                stores.insert(s.clone());
            }
            by_product.entry(r.product_id.clone()).or_default().push(r);
        }
        Ok(PriceBook {
            today: Timestamp::now().as_second().div_euclid(86_400),
            own_store,
            by_product,
            store_only: store_only.into_iter().collect(),
            stores,
        })
    }

    /// The list by name, else the current one; never created here (a read
    /// must not write): `None` when there is no current list yet.
    async fn list(&self, name: Option<&str>) -> Result<Option<GroceryList>> {
        let lists = self.g.lists_for(self.user);
        match name {
            Some(n) => lists.find(n).await.map(Some),
            None => lists.current_if_any().await,
        }
    }

    /// The stores with prices: the catalog's own (`demo`, when the demo market
    /// is on) and every store named by an import.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn stores(&self) -> Result<Vec<String>> {
        Ok(self.price_book().await?.stores.into_iter().collect())
    }

    /// The cheapest way to buy a list: for each unchecked line the product and
    /// packs that cover it at least cost, honouring offers (multi-buy, BOGO)
    /// and stores' spend thresholds, over at most `max_stores` of the allowed
    /// stores, each store beyond the main one costing `trip_cost_cents`.
    /// Reports the cheapest single store, the naive plan and the savings per
    /// line and in total, and whether a budget fits. The answer is exact (see
    /// [`super::basket`]).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown list; [`Error::InvalidInput`] for a
    /// store with no prices, `max_stores` 0 or a negative trip cost or budget.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn optimize(&self, opts: &OptimizeOptions) -> Result<Optimized> {
        if opts.max_stores == 0 {
            return Err(Error::invalid("max stores must be at least 1"));
        }
        if opts.trip_cost_cents < 0 || opts.budget_cents.is_some_and(|b| b < 0) {
            return Err(Error::invalid("a trip cost or budget cannot be negative"));
        }
        let book = self.price_book().await?;
        let allowed = match &opts.stores {
            None => None,
            Some(names) => {
                let mut out = Vec::new();
                for n in names {
                    let n = n.trim().to_ascii_lowercase();
                    if n.is_empty() {
                        continue;
                    }
                    if !book.stores.contains(&n) {
                        return Err(Error::invalid(format!(
                            "no prices for a store called `{}`; known stores: {}",
                            n.chars().take(40).collect::<String>(),
                            book.stores.iter().cloned().collect::<Vec<_>>().join(", ")
                        )));
                    }
                    out.push(n);
                }
                // An empty list of stores is no restriction.
                (!out.is_empty()).then_some(out)
            }
        };
        let list = self
            .list(opts.list.as_deref())
            .await?
            .ok_or_else(|| Error::not_found("list", crate::lists::DEFAULT_LIST))?;
        let index = self.g.index();
        let mut lines = Vec::new();
        // For a budget the list's own variants miss: more of each kind.
        let mut wide_lines = Vec::new();
        let mut linked: Vec<Option<String>> = Vec::new();
        for item in list.items.iter().filter(|i| !i.checked) {
            let base: Option<Product> = match &item.product_id {
                Some(id) => index.by_id(id).cloned(),
                None => self
                    .g
                    .catalog()
                    .search_shared(&item.name, 1)
                    .await?
                    .first()
                    .map(|h| h.product.clone()),
            };
            let mut candidates = Vec::new();
            let mut constraints = LineConstraints::default();
            let mut need = item.quantity;
            if let Some(base) = &base {
                let organic = is_organic(base)
                    || item
                        .name
                        .to_lowercase()
                        .split_whitespace()
                        .any(|w| w == "organic");
                constraints.organic_only = organic;
                // "kroger whole milk": that brand only.
                if names_brand(&item.name, base) {
                    constraints.brand = Some(base.brand.clone());
                }
                need = need_of(item.quantity, base);
                // The list's own product first: the naive plan takes it.
                book.candidates(base, is_organic(base), &mut candidates);
                if opts.substitutes {
                    // The same product of any brand and size, most popular first.
                    let name = base.name.to_lowercase();
                    let mut same: Vec<&Product> = index
                        .of_kind(&base.kind)
                        .filter(|p| p.id != base.id && p.name.to_lowercase() == name)
                        .filter(|p| p.size.unit.is_compatible(base.size.unit))
                        .collect();
                    same.sort_by(|a, b| b.popularity.cmp(&a.popularity).then(a.id.cmp(&b.id)));
                    for p in same {
                        book.candidates(p, is_organic(p), &mut candidates);
                    }
                }
            }
            linked.push(item.product_id.clone());
            let line = BasketLine {
                item: item.name.clone(),
                need,
                candidates,
                constraints,
            };
            if let (Some(base), true) = (&base, opts.budget_cents.is_some()) {
                let mut wide = line.clone();
                if line.constraints.brand.is_none() && opts.substitutes {
                    let name = base.name.to_lowercase();
                    let mut others: Vec<(Ratio, &Product)> = index
                        .of_kind(&base.kind)
                        .filter(|p| p.name.to_lowercase() != name)
                        .filter(|p| p.size.unit.is_compatible(base.size.unit))
                        .filter(|p| keeps_diet(base, p))
                        .filter_map(|p| {
                            let cents = Ratio::from_integer(i128::from(p.price.cents));
                            Some((per_base(cents, &p.size)?, p))
                        })
                        .collect();
                    // The cheapest few per unit: enough to fit a budget,
                    // few enough to keep the search exact and quick.
                    others.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
                    for (_, p) in others.into_iter().take(WIDE_PER_LINE) {
                        book.candidates(p, is_organic(p), &mut wide.candidates);
                    }
                }
                wide_lines.push(wide);
            } else {
                wide_lines.push(line.clone());
            }
            lines.push(line);
        }
        let deals_config = &self.g.config().deals;
        let stores: Vec<Store> = book
            .stores
            .iter()
            .map(|name| {
                let cfg = deals_config.store(name);
                Store {
                    name: name.clone(),
                    trip_cost_cents: cfg
                        .and_then(|c| c.trip_cost_cents)
                        .unwrap_or(opts.trip_cost_cents),
                    thresholds: cfg.map(|c| c.thresholds.clone()).unwrap_or_default(),
                }
            })
            .collect();
        let request = |lines| BasketRequest {
            stores: stores.clone(),
            lines,
            max_stores: opts.max_stores,
            allowed_stores: allowed.clone(),
        };
        // Exact search: milliseconds, up to tens on big lists; off the executor.
        let req = request(lines);
        let mut answer = tokio::task::spawn_blocking(move || plan_basket(&req)).await??;
        let mut widened = false;
        if opts.budget_cents.is_some_and(|b| answer.total_cents > b) {
            let req = request(wide_lines);
            let wide = tokio::task::spawn_blocking(move || plan_basket(&req)).await??;
            if wide.total_cents < answer.total_cents {
                answer = wide;
                widened = true;
            }
        }
        let best = &answer.best;
        let mut out_lines = Vec::with_capacity(best.lines.len());
        for (i, l) in best.lines.iter().enumerate() {
            let first = l.purchases.first();
            let saving = answer.line_savings.get(i).filter(|s| s.item == l.item);
            let product_id = first.map(|p| p.product_id.clone());
            let substituted = match (&product_id, linked.get(i).and_then(Option::as_ref)) {
                (Some(bought), Some(listed)) => bought != listed,
                _ => false,
            };
            out_lines.push(OptimizedLine {
                item: l.item.clone(),
                product_name: product_id
                    .as_deref()
                    .and_then(|id| index.by_id(id))
                    .map(Product::display_name),
                product_id,
                store: l.store.clone(),
                packs: first.map_or(0, |p| p.packs),
                cost_cents: l.cost_cents,
                purchases: l.purchases.clone(),
                naive_cost_cents: saving.and_then(|s| s.naive_cents),
                savings_cents: saving.and_then(|s| s.savings_cents),
                substituted,
            });
        }
        let budget = opts.budget_cents.map(|b| BudgetCheck {
            budget_cents: b,
            fits: answer.total_cents <= b,
            over_cents: (answer.total_cents - b).max(0),
            widened,
        });
        Ok(Optimized {
            list: list.name,
            stores: best.stores.iter().map(|s| s.store.clone()).collect(),
            lines: out_lines,
            total_cents: answer.total_cents,
            naive_total_cents: answer.naive_total_cents,
            savings_cents: answer.savings_cents,
            naive_unavailable: answer.naive.unavailable.clone(),
            trip_cents: best.trip_cents,
            discount_cents: best.discount_cents,
            single_store: answer.single_store.as_ref().and_then(|p| {
                answer
                    .store_totals
                    .iter()
                    .find(|t| p.stores.first().is_some_and(|s| s.store == t.store))
                    .cloned()
            }),
            store_totals: answer.store_totals.clone(),
            unavailable: answer.unavailable.clone(),
            proven_optimal: answer.proven_optimal,
            budget,
        })
    }

    /// The deals that matter to this user for a list (by name; `None` for the
    /// current list), best first: on the list's own products (offers flagged
    /// by a store, or a price meaningfully under the product's own history);
    /// on a cheaper size of the same product, or a close substitute, that the
    /// deal makes cheaper per unit than the list's product at its best (store
    /// offers only: other products' histories are not read); and on what this
    /// user buys often but has not put on the list. Each says why in
    /// [`ProductDeal::matched`].
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown list; storage errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn on_list(&self, list: Option<&str>) -> Result<Vec<ProductDeal>> {
        // No current list yet: nothing on it, but the usuals still count.
        let items = match self.list(list).await? {
            Some(l) => l.items,
            None => Vec::new(),
        };
        let book = self.price_book().await?;
        let index = self.g.index();
        let now = Timestamp::now();
        let mut out = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let on_list: HashSet<&str> = items
            .iter()
            .filter_map(|i| i.product_id.as_deref())
            .collect();
        for item in items.iter().filter(|i| !i.checked) {
            let Some(p) = item.product_id.as_deref().and_then(|id| index.by_id(id)) else {
                continue;
            };
            if seen.insert(p.id.clone()) {
                out.extend(
                    self.deals_of(&book, p, Some(&item.name), Matched::List)
                        .await?,
                );
            }
            let Some(best) = best_per_base(&book, p) else {
                continue;
            };
            let brand_locked = names_brand(&item.name, p);
            for q in index.of_kind(&p.kind) {
                if q.id == p.id || on_list.contains(q.id.as_str()) || seen.contains(&q.id) {
                    continue;
                }
                let matched = if same_product(p, q) {
                    Matched::CheaperSize
                } else if !brand_locked && substitutes(p, q) {
                    Matched::Substitute
                } else {
                    continue;
                };
                for (store, price, offers) in book.offers(q) {
                    if offers.is_empty() {
                        continue;
                    }
                    let Some(per) = per_base(effective_pack_cents(price, &offers), &q.size) else {
                        continue;
                    };
                    // Meaningfully cheaper: at least 3% under per unit.
                    if per * Ratio::from_integer(100) > best * Ratio::from_integer(97) {
                        continue;
                    }
                    let Some(deal) = detect_deal(price, &offers, &[], now) else {
                        continue;
                    };
                    seen.insert(q.id.clone());
                    let unit = p.size.unit;
                    let in_unit = |r: Ratio| cents_per(r * unit.to_base(), &unit.to_string());
                    out.push(ProductDeal {
                        item: Some(item.name.clone()),
                        matched,
                        why: Some(format!(
                            "{} against {} for {}",
                            in_unit(per),
                            in_unit(best),
                            p.display_name()
                        )),
                        product_id: q.id.clone(),
                        product_name: q.display_name(),
                        store,
                        deal,
                    });
                }
            }
        }
        for usual in self.g.habits_for(self.user).usuals().await? {
            let Some(p) = usual.product_id.as_deref().and_then(|id| index.by_id(id)) else {
                continue;
            };
            if usual.on_list || on_list.contains(p.id.as_str()) || !seen.insert(p.id.clone()) {
                continue;
            }
            out.extend(
                self.deals_of(&book, p, Some(&usual.item), Matched::Usual)
                    .await?,
            );
        }
        rank(&mut out);
        Ok(out)
    }

    /// The deals on these products (item name, product id), as
    /// [`Deals::on_list`] finds them on a list's own products, best first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn on_products(&self, products: &[(String, String)]) -> Result<Vec<ProductDeal>> {
        let book = self.price_book().await?;
        let index = self.g.index();
        let mut out = Vec::new();
        for (item, id) in products {
            if let Some(p) = index.by_id(id) {
                out.extend(self.deals_of(&book, p, Some(item), Matched::List).await?);
            }
        }
        rank(&mut out);
        Ok(out)
    }

    /// What is on sale now across the catalog (store-flagged offers), best
    /// first, at most `limit`.
    ///
    /// # Errors
    /// Storage errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn on_sale(&self, limit: usize) -> Result<Vec<ProductDeal>> {
        let book = self.price_book().await?;
        let index = self.g.index();
        let now = Timestamp::now();
        let mut out = Vec::new();
        for p in index.products() {
            for (store, price, offers) in book.offers(p) {
                if offers.is_empty() {
                    continue;
                }
                if let Some(deal) = detect_deal(price, &offers, &[], now) {
                    out.push(ProductDeal {
                        item: None,
                        matched: Matched::Sale,
                        why: None,
                        product_id: p.id.clone(),
                        product_name: p.display_name(),
                        store,
                        deal,
                    });
                }
            }
        }
        rank(&mut out);
        out.truncate(limit.max(1));
        Ok(out)
    }

    async fn deals_of(
        &self,
        book: &PriceBook,
        p: &Product,
        item: Option<&str>,
        matched: Matched,
    ) -> Result<Vec<ProductDeal>> {
        let now = Timestamp::now();
        let since = now - jiff::SignedDuration::from_hours(24 * 90);
        let history: Vec<(Timestamp, i64)> = self
            .g
            .prices()
            .history(&p.id, Some(since))
            .await?
            .into_iter()
            .map(|h| (h.observed_at, h.price.cents))
            .collect();
        // A price observed in the last day is the own store's price now.
        let observed = history
            .iter()
            .max_by_key(|(at, _)| *at)
            .filter(|(at, _)| now.duration_since(*at) <= jiff::SignedDuration::from_hours(24))
            .map(|(_, cents)| *cents);
        let mut out = Vec::new();
        for (store, price, offers) in book.offers(p) {
            // History is the catalog's own store's; named stores' prices have none.
            let (hist, price): (&[(Timestamp, i64)], i64) = if store == OWN_STORE {
                (&history, observed.unwrap_or(price))
            } else {
                (&[], price)
            };
            if let Some(deal) = detect_deal(price, &offers, hist, now) {
                out.push(ProductDeal {
                    item: item.map(str::to_string),
                    matched,
                    why: None,
                    product_id: p.id.clone(),
                    product_name: p.display_name(),
                    store,
                    deal,
                });
            }
        }
        Ok(out)
    }
}

/// Cents per base unit (gram, millilitre, item) of a pack of `size`.
fn per_base(cents: Ratio, size: &Quantity) -> Option<Ratio> {
    let base = size.in_base();
    (base > Ratio::from_integer(0)).then(|| cents / base)
}

/// What one pack costs at `price_cents` with `offers`, at the best number of
/// packs to buy (1 to 6, or an offer's own count): "2 for $5" makes a pack
/// $2.50, buy-one-get-one half price.
fn effective_pack_cents(price_cents: i64, offers: &[Offer]) -> Ratio {
    let mut counts: Vec<u32> = (1..=6).collect();
    for o in offers {
        if let Offer::MultiBuy { qty, .. } = o {
            counts.push(*qty);
        }
    }
    counts
        .into_iter()
        .filter_map(|n| {
            let cost = super::offer::cost_of(n, price_cents, offers).ok()?;
            Some(Ratio::new(i128::from(cost), i128::from(n)))
        })
        .min()
        .unwrap_or_else(|| Ratio::from_integer(i128::from(price_cents)))
}

/// The lowest price per base unit of `p` at any store, offers included.
fn best_per_base(book: &PriceBook, p: &Product) -> Option<Ratio> {
    book.offers(p)
        .into_iter()
        .filter_map(|(_, price, offers)| per_base(effective_pack_cents(price, &offers), &p.size))
        .min()
}

/// "$1.800/gal": a price per unit in dollars, to a tenth of a cent.
fn cents_per(cents: Ratio, unit: &str) -> String {
    let tenths = (cents * Ratio::from_integer(10)).round().to_integer();
    format!("${}.{:03}/{unit}", tenths / 1000, tenths % 1000)
}

/// Whether `q` is `p` in another pack size: the same brand and product name.
fn same_product(p: &Product, q: &Product) -> bool {
    p.brand.eq_ignore_ascii_case(&q.brand)
        && p.name.eq_ignore_ascii_case(&q.name)
        && p.size.dimension() == q.size.dimension()
}

/// How many other products of a kind a line may take to fit a budget.
const WIDE_PER_LINE: usize = 6;

/// Whether `q` may stand in for `p`: the same kind and dimension, every word
/// of `p`'s name in `q`'s (the same variant: whole milk for whole milk, not
/// 2%), and the dietary tags `p` has.
fn substitutes(p: &Product, q: &Product) -> bool {
    let q_words: Vec<String> = q.name.split_whitespace().map(str::to_lowercase).collect();
    p.kind == q.kind
        && p.size.dimension() == q.size.dimension()
        && p.name
            .split_whitespace()
            .all(|w| q_words.contains(&w.to_lowercase()))
        && keeps_diet(p, q)
}

/// Whether a list line names its product's brand ("kroger whole milk"): the
/// shopper chose that brand, so no other brand is offered for it.
fn names_brand(line: &str, p: &Product) -> bool {
    let line = line.to_lowercase();
    let brand = p.brand.to_lowercase();
    !brand.trim().is_empty() && line.contains(brand.trim())
}

fn rank(deals: &mut [ProductDeal]) {
    deals.sort_by(|a, b| {
        b.deal
            .score
            .cmp(&a.deal.score)
            .then(a.product_id.cmp(&b.product_id))
            .then(a.store.cmp(&b.store))
    });
}

#[cfg(test)]
mod tests {
    use crate::catalog::ImportFormat;
    use crate::grocery::Grocery;

    use crate::grocery::temp_grocery as open;

    async fn import(g: &Grocery, rows: &[&str]) -> crate::Result<crate::store::ImportSummary> {
        g.catalog()
            .import_bytes(rows.join("\n").into_bytes(), ImportFormat::JsonLines)
            .await
    }

    /// One store's price file adds that store's prices: it neither rewrites
    /// the catalog's product nor removes another store's prices, and a price
    /// for another pack size is refused whole.
    #[tokio::test]
    async fn store_price_files_add_to_each_other_and_keep_the_catalog() {
        let (g, _d) = open().await;
        let before = g.catalog().get("gv-whole-milk-1gal").unwrap();
        let walmart = r#"{"id":"gv-whole-milk-1gal","name":"Other","department":"dairy-eggs","size":1,"unit":"gal","price_cents":301,"store":"walmart"}"#;
        let kroger = r#"{"id":"gv-whole-milk-1gal","name":"Other","department":"dairy-eggs","size":1,"unit":"gal","price_cents":302,"store":"kroger","offer":{"kind":"bogo"}}"#;
        let summary = import(&g, &[walmart]).await.unwrap();
        assert_eq!((summary.rows, summary.inserted), (1, 0));
        import(&g, &[kroger]).await.unwrap();
        let after = g.catalog().get("gv-whole-milk-1gal").unwrap();
        assert_eq!(after, before, "the catalog's description and price stay");
        let (prices, store_only) = g.store().store_prices().await.unwrap();
        let got: Vec<(Option<&str>, i64)> = prices
            .iter()
            .filter(|p| p.product_id == "gv-whole-milk-1gal")
            .map(|p| (p.store.as_deref(), p.price.cents))
            .collect();
        assert_eq!(got, [(Some("kroger"), 302), (Some("walmart"), 301)]);
        assert!(store_only.is_empty(), "the demo store still sells it");
        assert_eq!(
            g.deals().stores().await.unwrap(),
            ["demo", "kroger", "walmart"]
        );
        // A half gallon under the gallon's id: refused, nothing written.
        let half = r#"{"id":"gv-whole-milk-1gal","name":"Milk","department":"dairy-eggs","size":0.5,"unit":"gal","price_cents":150,"store":"aldi"}"#;
        let e = import(&g, &[half]).await.unwrap_err();
        assert!(matches!(e, crate::Error::InvalidRow { line: 1, .. }), "{e}");
        assert_eq!(
            g.deals().stores().await.unwrap(),
            ["demo", "kroger", "walmart"]
        );
    }

    /// A store's configured spend threshold and trip cost change the plan.
    #[tokio::test]
    async fn configured_thresholds_and_trip_costs_count() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::config::Config::default();
        config.store.path = Some(dir.path().join("g.db"));
        config.deals.stores = vec![crate::config::StoreDeals {
            name: "Kroger".into(),
            trip_cost_cents: Some(100),
            thresholds: vec![crate::deals::SpendThreshold {
                min_cents: 1000,
                off_cents: 300,
            }],
        }];
        let g = Grocery::open(config.clone()).await.unwrap();
        let rows = [
            r#"{"id":"t-a","name":"Thing A","department":"pantry","size":1,"unit":"ea","price_cents":500,"store":"walmart"}"#,
            r#"{"id":"t-a","name":"Thing A","department":"pantry","size":1,"unit":"ea","price_cents":520,"store":"kroger"}"#,
            r#"{"id":"t-b","name":"Thing B","department":"pantry","size":1,"unit":"ea","price_cents":450,"store":"walmart"}"#,
            r#"{"id":"t-b","name":"Thing B","department":"pantry","size":1,"unit":"ea","price_cents":480,"store":"kroger"}"#,
        ];
        import(&g, &rows).await.unwrap();
        g.agent()
            .handle("add thing a and thing b", None)
            .await
            .unwrap();
        let opts = super::OptimizeOptions {
            stores: Some(vec!["walmart".into(), "kroger".into()]),
            ..Default::default()
        };
        let plan = g.deals().optimize(&opts).await.unwrap();
        // Kroger alone: 520 + 480 = 1000, reaches $3 off $10: 700 (< walmart's 950).
        assert_eq!(plan.total_cents, 700, "{plan:?}");
        assert_eq!(plan.stores, ["kroger"]);
        assert_eq!(plan.discount_cents, 300);
        // A bad threshold is refused at open.
        config.deals.stores[0].thresholds[0].off_cents = 2000;
        assert!(matches!(
            Grocery::open(config).await,
            Err(crate::Error::Config(_))
        ));
    }

    /// Deals that matter to the user: on the list's product; on a smaller
    /// pack of it that "2 for" makes cheaper per gallon; on another brand's
    /// whole milk at buy-one-get-one (not on 2% milk, not on a deal that is
    /// still dearer per unit, and not when the line names its brand); and on
    /// the coffee they buy every week.
    #[tokio::test]
    async fn deals_that_matter_are_on_the_list_its_sizes_substitutes_and_usuals() {
        let (g, _d) = open().await;
        let rows = [
            r#"{"id":"t-milk","name":"Test Whole Milk","brand":"Acme","department":"dairy-eggs","size":1,"unit":"gal","price_cents":400,"store":"walmart","offer":{"kind":"rollback","was_cents":450}}"#,
            r#"{"id":"t-milk-half","name":"Test Whole Milk","brand":"Acme","department":"dairy-eggs","size":0.5,"unit":"gal","price_cents":220,"store":"walmart","offer":{"kind":"multi_buy","qty":2,"price_cents":300}}"#,
            r#"{"id":"t-milk-bolt","name":"Test Whole Milk","brand":"Bolt","department":"dairy-eggs","size":1,"unit":"gal","price_cents":380,"store":"kroger","offer":{"kind":"bogo"}}"#,
            r#"{"id":"t-milk-2pct","name":"Test 2% Milk","brand":"Bolt","department":"dairy-eggs","size":1,"unit":"gal","price_cents":100,"store":"kroger","offer":{"kind":"bogo"}}"#,
            r#"{"id":"t-milk-dear","name":"Test Whole Milk","brand":"Cobalt","department":"dairy-eggs","size":1,"unit":"gal","price_cents":500,"store":"kroger","offer":{"kind":"rollback","was_cents":600}}"#,
            r#"{"id":"t-coffee","name":"Test Coffee","brand":"Acme","department":"beverages","size":12,"unit":"oz","price_cents":500,"store":"walmart","offer":{"kind":"rollback","was_cents":700}}"#,
        ];
        import(&g, &rows).await.unwrap();
        let day = 86_400_000_i64;
        let now = crate::store::now_ms();
        g.store()
            .write(move |tx| {
                for ago in [21, 14, 7] {
                    tx.execute(
                        "INSERT INTO purchases (user_id, name, product_pk, amount, unit, at) \
                         VALUES (1, 'coffee', (SELECT pk FROM products WHERE id = 't-coffee'), \
                         '1/1', 'ea', ?1)",
                        rusqlite::params![now - ago * day],
                    )?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let lists = g.lists();
        let list = lists.create("week").await.unwrap();
        lists
            .add_item(list.id, crate::NewItem::new("milk").product("t-milk"))
            .await
            .unwrap();
        let deals = g.deals().on_list(Some("week")).await.unwrap();
        let mut got: Vec<(&str, super::Matched, &str)> = deals
            .iter()
            .map(|d| (d.product_id.as_str(), d.matched, d.store.as_str()))
            .collect();
        got.sort_by_key(|g| g.0);
        use super::Matched::*;
        assert_eq!(
            got,
            [
                ("t-coffee", Usual, "walmart"),
                ("t-milk", List, "walmart"),
                ("t-milk-bolt", Substitute, "kroger"),
                ("t-milk-half", CheaperSize, "walmart"),
            ],
            "{deals:#?}"
        );
        let half = deals
            .iter()
            .find(|d| d.product_id == "t-milk-half")
            .unwrap();
        assert_eq!(
            half.why.as_deref(),
            Some("$3.000/gal against $4.000/gal for Acme Test Whole Milk, 1 gal"),
            "{half:?}"
        );
        assert_eq!(half.item.as_deref(), Some("milk"));

        // A line that names its brand gets no other brand.
        let acme = lists.create("acme").await.unwrap();
        lists
            .add_item(
                acme.id,
                crate::NewItem::new("acme whole milk").product("t-milk"),
            )
            .await
            .unwrap();
        let deals = g.deals().on_list(Some("acme")).await.unwrap();
        assert!(deals.iter().all(|d| d.matched != Substitute), "{deals:#?}");
        assert!(deals.iter().any(|d| d.matched == CheaperSize), "{deals:#?}");
    }

    /// "Keep it under $X": when the list's own variants are over, other
    /// products of the same kind may stand in (keeping organic, never for a
    /// line that names its brand); when even they are over, the plan says how
    /// far.
    #[tokio::test]
    async fn a_budget_widens_to_other_products_of_the_kind() {
        let (g, _d) = open().await;
        let rows = [
            r#"{"id":"tb-beef-80","name":"Test Beef 80/20","brand":"Acme","kind":"test beef","department":"meat-seafood","size":1,"unit":"lb","price_cents":600,"store":"walmart"}"#,
            r#"{"id":"tb-beef-73","name":"Test Beef 73/27","brand":"Bolt","kind":"test beef","department":"meat-seafood","size":1,"unit":"lb","price_cents":450,"store":"walmart"}"#,
            r#"{"id":"tb-beef-org","name":"Test Beef Organic","brand":"Bolt","kind":"test beef","department":"meat-seafood","size":1,"unit":"lb","price_cents":800,"tags":["organic"],"store":"walmart"}"#,
            r#"{"id":"tb-beef-bulk","name":"Test Beef 85/15","brand":"Cobalt","kind":"test beef","department":"meat-seafood","size":3,"unit":"lb","price_cents":1200,"store":"walmart"}"#,
            r#"{"id":"tb-org-milk","name":"Test Organic Milk","brand":"Acme","kind":"test milk","department":"dairy-eggs","size":1,"unit":"gal","price_cents":700,"tags":["organic"],"store":"walmart"}"#,
            r#"{"id":"tb-milk","name":"Test Milk","brand":"Bolt","kind":"test milk","department":"dairy-eggs","size":1,"unit":"gal","price_cents":300,"store":"walmart"}"#,
        ];
        import(&g, &rows).await.unwrap();
        let lists = g.lists();
        let list = lists.create("b").await.unwrap();
        let lb =
            |n: i64| crate::Quantity::new(crate::Amount::from_int(n).unwrap(), crate::Unit::Pound);
        lists
            .add_items(
                list.id,
                vec![
                    crate::NewItem::new("beef")
                        .product("tb-beef-80")
                        .quantity(lb(3)),
                    crate::NewItem::new("organic milk").product("tb-org-milk"),
                ],
            )
            .await
            .unwrap();
        let plan = |budget: Option<i64>| super::OptimizeOptions {
            list: Some("b".into()),
            budget_cents: budget,
            ..super::OptimizeOptions::default()
        };
        let deals = g.deals();
        // Without a budget, or within it: the list's own products.
        let own = deals.optimize(&plan(None)).await.unwrap();
        assert_eq!(own.total_cents, 3 * 600 + 700);
        let fits = deals.optimize(&plan(Some(2_500))).await.unwrap();
        assert_eq!(fits.total_cents, 2_500);
        assert!(fits.budget.as_ref().is_some_and(|b| b.fits && !b.widened));
        // Under it: the 3 lb pack of 85/15 at $12.00 beats three of 73/27 at
        // $13.50; the organic milk stays organic (no $3 milk).
        let swapped = deals.optimize(&plan(Some(2_000))).await.unwrap();
        let b = swapped.budget.clone().unwrap();
        assert!(b.fits && b.widened, "{swapped:#?}");
        assert_eq!(swapped.total_cents, 1_200 + 700);
        let got: Vec<(&str, bool)> = swapped
            .lines
            .iter()
            .map(|l| (l.product_id.as_deref().unwrap(), l.substituted))
            .collect();
        assert_eq!(got, [("tb-beef-bulk", true), ("tb-org-milk", false)]);
        // Too tight even so: the cheapest plan, and how far over.
        let over = deals.optimize(&plan(Some(1_000))).await.unwrap();
        let b = over.budget.unwrap();
        assert!(!b.fits && b.widened);
        assert_eq!((over.total_cents, b.over_cents), (1_900, 900));
        // No substitutes: the list's own products, whatever the budget.
        let own_only = deals
            .optimize(&super::OptimizeOptions {
                substitutes: false,
                ..plan(Some(2_000))
            })
            .await
            .unwrap();
        assert_eq!(own_only.total_cents, 3 * 600 + 700);
        assert!(own_only.lines.iter().all(|l| !l.substituted));
        assert!(own_only.budget.is_some_and(|b| !b.fits));
        // A line that names its brand keeps it.
        lists
            .update_item(
                list.id,
                own_item(&lists, list.id, "beef").await,
                crate::lists::ItemPatch {
                    name: Some("acme beef".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let locked = deals.optimize(&plan(Some(2_000))).await.unwrap();
        assert_eq!(locked.total_cents, 3 * 600 + 700, "{locked:#?}");
        assert!(!locked.budget.unwrap().fits);
    }

    async fn own_item(lists: &crate::Lists<'_>, list: crate::ListId, name: &str) -> crate::ItemId {
        lists
            .get(list)
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|i| i.name == name)
            .unwrap()
            .id
    }

    /// Reading deals, usuals and what is forgotten never creates a list; with
    /// no list yet, optimising says so.
    #[tokio::test]
    async fn reading_deals_creates_no_list() {
        let (g, _d) = open().await;
        assert!(g.lists().all().await.unwrap().is_empty());
        g.deals().on_list(None).await.unwrap();
        g.habits().forgotten(None).await.unwrap();
        let err = g
            .deals()
            .optimize(&super::OptimizeOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, crate::Error::NotFound { .. }), "{err}");
        assert!(g.lists().all().await.unwrap().is_empty());
    }
}
