//! One module per command.

pub mod catalog;
pub mod config;
pub mod search;
