//! One module per command.

pub mod ask;
pub mod catalog;
pub mod config;
pub mod parse;
pub mod prices;
pub mod search;
