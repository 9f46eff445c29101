//! Item lines ("2 tbsp olive oil, divided", a recipe's ingredients) onto a list.

use serde::Serialize;

use super::{ListId, ListItem, Lists, NewItem};
use crate::error::{Error, Result};
use crate::nlp::{self, Command, Intent};

/// Most lines one call takes (a long recipe has 30).
pub const MAX_LINES: usize = 2_000;

/// A line that was not added, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedLine {
    /// 1-based line number in the input.
    pub line: usize,
    /// The line (its first 200 characters).
    pub text: String,
    /// Why it was not added.
    pub reason: String,
}

/// What [`Lists::add_lines`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinesAdded {
    /// The list's lines the items went to, as they are now (an item merged into
    /// an existing line shows the merged quantity), in input order.
    pub items: Vec<ListItem>,
    /// Lines that are not items.
    pub rejected: Vec<RejectedLine>,
    /// Lines passed over: blank, headings ("For the sauce:") and `#` comments.
    pub skipped: usize,
}

/// A line without list markup ("- ", "* ", "• ", "[ ] "); `None` for a line
/// that is not meant as an item.
fn strip_markup(line: &str) -> Option<&str> {
    let mut t = line.trim();
    for bullet in ["- ", "* ", "+ ", "• ", "– ", "[ ] ", "[x] ", "[X] "] {
        if let Some(rest) = t.strip_prefix(bullet) {
            t = rest.trim_start();
        }
    }
    (!t.is_empty() && !t.starts_with('#') && !t.ends_with(':')).then_some(t)
}

impl Lists<'_> {
    /// Add item lines to a list, each parsed by the item grammar
    /// ([`nlp::parse_item`]) and resolved to a catalog product as the agent
    /// resolves items (unresolved items are added by name, unpriced). Items merge
    /// with what is on the list as [`Lists::add_item`] does. Lines that are not
    /// items are reported in [`LinesAdded::rejected`], not fatal; the items are
    /// added in one transaction.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for more than [`MAX_LINES`] lines or a merged
    /// quantity out of range; [`Error::NotFound`]; [`Error::Forbidden`] for a
    /// list shared with this user to view only.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn demo(g: grocery_core::Grocery) -> grocery_core::Result<()> {
    /// let list = g.lists().current().await?;
    /// let added = g.lists().add_lines(list.id, &["2 cups flour", "3 large eggs"]).await?;
    /// assert!(added.rejected.is_empty());
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn add_lines<S: AsRef<str>>(&self, list: ListId, lines: &[S]) -> Result<LinesAdded> {
        if lines.len() > MAX_LINES {
            return Err(Error::invalid(format!(
                "{} lines; at most {MAX_LINES} are added at once",
                lines.len()
            )));
        }
        let mut rejected = Vec::new();
        let mut skipped = 0;
        let mut phrases = Vec::new();
        for (n, raw) in lines.iter().enumerate() {
            let raw = raw.as_ref();
            let reject = |reason: &str| RejectedLine {
                line: n + 1,
                text: raw.trim().chars().take(200).collect(),
                reason: reason.to_string(),
            };
            let Some(text) = strip_markup(raw) else {
                skipped += 1;
                continue;
            };
            if text.len() > nlp::MAX_TEXT_BYTES {
                rejected.push(reject("longer than an item line can be"));
                continue;
            }
            match nlp::parse_item(text) {
                // "10000000000000 eggs": a number too large to be a quantity
                // stays in the name.
                Some(item)
                    if item.amount.is_none()
                        && item.name.split(' ').next().is_some_and(|w| {
                            w.len() > 3 && w.chars().all(|c| c.is_ascii_digit())
                        }) =>
                {
                    rejected.push(reject("the quantity is too large"));
                }
                // The grammar names anything; a name needs a letter ("%%%" is none).
                Some(item) if item.name.chars().any(char::is_alphabetic) => {
                    phrases.push((n, raw, item));
                }
                _ => rejected.push(reject("not an item")),
            }
        }
        let command = Command {
            intent: Intent::Add,
            list: None,
            from: None,
            items: phrases.iter().map(|(_, _, i)| i.clone()).collect(),
        };
        let resolved = crate::agent::Agent::new(self.g, self.owner)
            .resolve(std::slice::from_ref(&command))
            .await?
            .pop()
            .map(|c| c.items)
            .unwrap_or_default();
        let mut items = Vec::with_capacity(resolved.len());
        for ((n, raw, _), r) in phrases.iter().zip(resolved) {
            let item = NewItem {
                name: r.item.name.clone(),
                quantity: r.item.quantity(),
                product_id: r.product_id,
                note: None,
            };
            match self.clean(item) {
                Ok(item) => items.push(item),
                Err(e) => rejected.push(RejectedLine {
                    line: n + 1,
                    text: raw.trim().chars().take(200).collect(),
                    reason: e.to_string(),
                }),
            }
        }
        rejected.sort_by_key(|r| r.line);
        let items = if items.is_empty() {
            Vec::new()
        } else {
            self.add_items(list, items).await?
        };
        Ok(LinesAdded {
            items,
            rejected,
            skipped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_headings_are_not_items() {
        assert_eq!(strip_markup("- 2 cups flour"), Some("2 cups flour"));
        assert_eq!(strip_markup("  * [ ] eggs "), Some("eggs"));
        assert_eq!(strip_markup("For the sauce:"), None);
        assert_eq!(strip_markup("# Pancakes"), None);
        assert_eq!(strip_markup("   "), None);
    }

    #[tokio::test]
    async fn lines_become_items_and_bad_lines_are_reported() {
        let (g, _dir) = crate::Grocery::open_empty_for_test().await;
        let list = g.lists().create("Recipe").await.unwrap();
        let lines = [
            "Ingredients:",
            "2 eggs",
            "",
            "3 eggs",
            "10000000000000 eggs",
            "1 cup sugar",
            "%%% ???",
        ];
        let added = g.lists().add_lines(list.id, &lines).await.unwrap();
        assert_eq!(added.skipped, 2);
        let bad: Vec<usize> = added.rejected.iter().map(|r| r.line).collect();
        assert_eq!(bad, [5, 7], "{:?}", added.rejected);
        let list = g.lists().get(list.id).await.unwrap();
        let names: Vec<_> = list.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["eggs", "sugar"], "eggs merged: {:?}", list.items);
        assert_eq!(list.items[0].quantity.to_string(), "5 ct");
    }
}
