//! The deals one user sees: the cheapest way to shop a list across stores, and
//! the deals on a list. Gathers prices (the catalog's own store through the
//! demo market, named stores as imported), then asks the pure solvers of this
//! module's siblings.
//!
//! What may replace what: a line linked to a product may be bought as any
//! product of the same kind and name (`Whole Milk` of any brand, in any pack
//! size of the same dimension), never as a different product (`2% Milk`);
//! an unlinked line takes its best catalog match the same way. A line that
//! says "organic", or is linked to an organic product, stays organic. Checked
//! lines are bought already and left out.

use std::collections::{BTreeSet, HashMap, HashSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::basket::{
    BasketLine, BasketRequest, Candidate, LineConstraints, Purchase, Store, StoreTotal, plan_basket,
};
use super::detect::{Deal, detect_deal};
use super::offer::Offer;
use crate::catalog::Product;
use crate::error::{Error, Result};
use crate::grocery::Grocery;
use crate::lists::{GroceryList, UserId};
use crate::pricing::source::{DemoMarket, Offer as QuoteOffer};
use crate::quantity::{Amount, Dimension, Quantity};
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
}

impl Default for OptimizeOptions {
    fn default() -> Self {
        OptimizeOptions {
            list: None,
            stores: None,
            max_stores: 2,
            trip_cost_cents: 0,
            budget_cents: None,
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

/// A deal on a product of a list, or on sale anywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductDeal {
    /// The list item it is for (`None` for a deal found outside a list).
    pub item: Option<String>,
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

    async fn list(&self, name: Option<&str>) -> Result<GroceryList> {
        let lists = self.g.lists_for(self.user);
        match name {
            Some(n) => lists.find(n).await,
            None => lists.current().await,
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
        let list = self.list(opts.list.as_deref()).await?;
        let index = self.g.index();
        let mut by_kind: HashMap<(&str, String), Vec<&Product>> = HashMap::new();
        for p in index.products() {
            by_kind
                .entry((p.kind.as_str(), p.name.to_lowercase()))
                .or_default()
                .push(p);
        }
        for ps in by_kind.values_mut() {
            ps.sort_by(|a, b| b.popularity.cmp(&a.popularity).then(a.id.cmp(&b.id)));
        }
        let mut lines = Vec::new();
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
                need = need_of(item.quantity, base);
                // The list's own product first: the naive plan takes it.
                book.candidates(base, is_organic(base), &mut candidates);
                let key = (base.kind.as_str(), base.name.to_lowercase());
                for p in by_kind.get(&key).into_iter().flatten() {
                    if p.id != base.id && p.size.unit.is_compatible(base.size.unit) {
                        book.candidates(p, is_organic(p), &mut candidates);
                    }
                }
            }
            linked.push(item.product_id.clone());
            lines.push(BasketLine {
                item: item.name.clone(),
                need,
                candidates,
                constraints,
            });
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
        let req = BasketRequest {
            stores,
            lines,
            max_stores: opts.max_stores,
            allowed_stores: allowed,
        };
        // Exact search: milliseconds, up to tens on big lists; off the executor.
        let answer = tokio::task::spawn_blocking(move || plan_basket(&req)).await??;
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

    /// The deals on a list's products (by name; `None` for the current list):
    /// offers flagged by a store, and prices meaningfully under the product's
    /// own history, best first.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown list; storage errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn on_list(&self, list: Option<&str>) -> Result<Vec<ProductDeal>> {
        let list = self.list(list).await?;
        let book = self.price_book().await?;
        let index = self.g.index();
        let mut out = Vec::new();
        for item in list.items.iter().filter(|i| !i.checked) {
            let Some(p) = item.product_id.as_deref().and_then(|id| index.by_id(id)) else {
                continue;
            };
            out.extend(self.deals_of(&book, p, Some(&item.name)).await?);
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
        let mut out = Vec::new();
        for (store, price, offers) in book.offers(p) {
            // History is the catalog's own store's; named stores' prices have none.
            let hist: &[(Timestamp, i64)] = if store == OWN_STORE { &history } else { &[] };
            if let Some(deal) = detect_deal(price, &offers, hist, now) {
                out.push(ProductDeal {
                    item: item.map(str::to_string),
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
}
