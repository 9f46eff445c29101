//! Language understanding: text to commands (intent, list, items), and the item
//! grammar shared by requests and recipe ingredient lines. Pure functions: no
//! I/O, no state, safe to call from anywhere.

mod item;
mod plan;
mod request;

pub use item::{ItemPhrase, parse_item};
pub use plan::{PlanAsk, forgetting_ask, plan_ask};
pub(crate) use request::asks_for_lists;
pub use request::{Command, Intent, Understanding, parse_request};

/// Longest text understood, in bytes; longer input is cut at a character
/// boundary before parsing (a shopping request is a sentence, not a document).
pub const MAX_TEXT_BYTES: usize = 4_096;

/// `text` cut to at most [`MAX_TEXT_BYTES`], at a character boundary.
pub fn clamp_text(text: &str) -> &str {
    if text.len() <= MAX_TEXT_BYTES {
        return text;
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
