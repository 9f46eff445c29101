//! One module per command.

pub mod ask;
pub mod catalog;
pub mod chat;
pub mod completions;
pub mod config;
pub mod db;
pub mod deals;
pub mod list;
pub mod parse;
pub mod prices;
pub mod search;
pub mod user;
