//! Deals: product offers and what they make a purchase cost.
//!
//! Pure, synchronous and deterministic: no store, network or clock. Callers
//! gather prices and offers, then ask [`cost_of`]: what `n` packs cost with a
//! product's best [`Offer`].

pub mod offer;

pub use offer::{MAX_PRICE_CENTS, Offer, SpendThreshold, cost_of};
