//! Deals: product offers and the cheapest way to shop a list across stores.
//!
//! Pure, synchronous and deterministic: no store, network or clock. Callers
//! gather prices, offers and history, then ask:
//! - [`cost_of`]: what `n` packs cost with a product's best [`Offer`];
//! - [`plan_basket`]: where and what to buy so the list costs least over at
//!   most `K` stores, against the cheapest single store and a naive plan.

pub mod basket;
pub mod offer;

pub use basket::{
    BasketAnswer, BasketLine, BasketPlan, BasketRequest, Candidate, LineConstraints, LineSaving,
    PlannedLine, Purchase, Store, StoreTotal, StoreTrip, plan_basket,
};
pub use offer::{MAX_PRICE_CENTS, Offer, SpendThreshold, cost_of};
