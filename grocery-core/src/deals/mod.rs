//! Deals: product offers, the cheapest way to shop a list across stores, and
//! whether a price is a deal.
//!
//! [`Deals`] (from [`crate::Grocery::deals`]) gathers one user's lists, prices,
//! offers and history and asks the solvers below, which are pure, synchronous
//! and deterministic: no store, network or clock.
//! - [`cost_of`]: what `n` packs cost with a product's best [`Offer`];
//! - [`plan_basket`]: where and what to buy so the list costs least over at
//!   most `K` stores, against the cheapest single store and a naive plan;
//! - [`detect_deal`]: whether a price is a deal, why, and how sure we are.

pub mod basket;
pub mod detect;
pub mod offer;
pub mod shop;

pub use basket::{
    BasketAnswer, BasketLine, BasketPlan, BasketRequest, Candidate, LineConstraints, LineSaving,
    PlannedLine, Purchase, Store, StoreTotal, StoreTrip, plan_basket,
};
pub use detect::{Deal, DealKind, PricePoint, detect_deal};
pub use offer::{MAX_PRICE_CENTS, Offer, SpendThreshold, cost_of};
pub use shop::{
    BudgetCheck, Deals, Matched, OWN_STORE, OptimizeOptions, Optimized, OptimizedLine, ProductDeal,
};
