//! Requests: one sentence, possibly several commands, each with an intent, an
//! optional list name and items.
//!
//! Rule-based and allocation-light: the sentence is normalised (case, filler
//! words, punctuation), split into clauses where a new command verb starts, and
//! each clause is matched against the phrasings people use ("we're out of",
//! "scratch the", "what do I still need"). Items go through the item grammar.

use serde::{Deserialize, Serialize};

use super::item::{ItemPhrase, parse_item};
use crate::quantity::{Amount, Ratio};

/// What a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Intent {
    /// Put items on a list.
    Add,
    /// Take items off a list.
    Remove,
    /// Change an item's quantity or variant ("make that 3").
    Update,
    /// Mark items bought.
    Check,
    /// Mark everything on a list bought ("check off everything").
    CheckAll,
    /// Mark items not bought after all ("uncheck the milk").
    Uncheck,
    /// Take the items marked bought off a list ("clear checked items").
    ClearChecked,
    /// Move items from one list to another ("move the bread to the costco
    /// list"): `list` is where to, `from` where from.
    Move,
    /// Give a list a new name ("rename the costco list to bulk"): `list` is
    /// the new name, `from` the list renamed (`None`: the one talked about).
    RenameList,
    /// Empty a list; with items, all but those ("everything except the
    /// milk").
    Clear,
    /// Read a list, or ask whether an item is on it.
    Show,
    /// Ask what an item costs.
    Price,
    /// Ask for the list's total.
    Total,
    /// Ask for deals.
    Deals,
    /// Ask for a cheaper option.
    Compare,
    /// Revert the last change.
    Undo,
    /// Ask what the agent can do.
    Help,
    /// Make a new list.
    CreateList,
    /// Delete a whole list.
    DeleteList,
    /// Not about shopping.
    Unknown,
}

/// One command of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// What to do.
    pub intent: Intent,
    /// The list named ("costco" for "my costco list"); `None` for the default list.
    pub list: Option<String>,
    /// For [`Intent::Move`], the list the items leave ("from the party
    /// list"); `None` for the list being talked about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The items, in order.
    pub items: Vec<ItemPhrase>,
}

/// A whole request, understood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Understanding {
    /// The commands, in the order they were said.
    pub commands: Vec<Command>,
    /// How sure the understanding is, 0..=1.
    pub confidence: f32,
}

/// Words said to be polite or to get attention; dropped from the start.
const FILLERS: &[&str] = &[
    "hey", "hi", "hello", "ok", "okay", "so", "um", "uh", "please", "pls", "plz", "oh", "and",
    "also", "alright", "yo", "google", "alexa", "siri", "agent", "grocery", "just", "now", "well",
    "yeah", "yes", "oops", "whoops", "no wait", "wait", "hmm", "ah", "then",
];

/// Multi-word openings that only ask politely ("can you", "i'd like you to").
const POLITE: &[&str] = &[
    "can you",
    "could you",
    "would you",
    "will you",
    "can u",
    "could u",
    "i want you to",
    "i'd like you to",
    "i would like you to",
    "i need you to",
    "go ahead and",
    "help me",
    "be sure to",
    "make sure to",
    "make sure you",
    "remember to",
    "let's",
    "lets",
    "i'd like to",
    "i would like to",
    "i want to",
    "i wanna",
    "i need to",
    "i wish to",
    "i need for you to",
    "can i",
    "could i",
    "may i",
    "can we",
    "i'd love to",
    "try to",
    "you should",
    "you can",
    "you need to",
    "would you let me",
    "let me",
    "need to",
    "go to the list and",
    "go to my list and",
    "i think",
    "i guess",
    "looks like",
    "it looks like",
    "seems like",
    "we just",
    "i just",
    "we really",
    "we definitely",
    "we still",
    "we'll need",
];

/// Phrases that start a command, most specific first, with their intent.
/// A phrase ends at a word boundary; `…` marks where the items follow.
const PATTERNS: &[(&str, Intent)] = &[
    // Specific phrasings first: they would otherwise match a shorter opening.
    // What is checked off goes, not the whole list ("clear checked items").
    ("clear checked", Intent::ClearChecked),
    ("clear the checked", Intent::ClearChecked),
    ("clear all checked", Intent::ClearChecked),
    ("clear all the checked", Intent::ClearChecked),
    ("clear completed", Intent::ClearChecked),
    ("clear the completed", Intent::ClearChecked),
    ("clear bought", Intent::ClearChecked),
    ("clear the bought", Intent::ClearChecked),
    ("clear purchased", Intent::ClearChecked),
    ("clear the purchased", Intent::ClearChecked),
    ("clear crossed off", Intent::ClearChecked),
    ("clear the crossed off", Intent::ClearChecked),
    ("clear off the checked", Intent::ClearChecked),
    ("remove checked", Intent::ClearChecked),
    ("remove the checked", Intent::ClearChecked),
    ("remove all checked", Intent::ClearChecked),
    ("remove all the checked", Intent::ClearChecked),
    ("remove completed", Intent::ClearChecked),
    ("remove the completed", Intent::ClearChecked),
    ("remove bought", Intent::ClearChecked),
    ("remove the bought", Intent::ClearChecked),
    ("remove purchased", Intent::ClearChecked),
    ("remove the purchased", Intent::ClearChecked),
    ("remove crossed off", Intent::ClearChecked),
    ("remove the crossed off", Intent::ClearChecked),
    ("remove what i bought", Intent::ClearChecked),
    ("remove what i got", Intent::ClearChecked),
    ("remove what we bought", Intent::ClearChecked),
    ("remove what we got", Intent::ClearChecked),
    ("delete checked", Intent::ClearChecked),
    ("delete the checked", Intent::ClearChecked),
    ("delete all checked", Intent::ClearChecked),
    ("delete all the checked", Intent::ClearChecked),
    ("delete completed", Intent::ClearChecked),
    ("delete the completed", Intent::ClearChecked),
    ("get rid of the checked", Intent::ClearChecked),
    ("get rid of checked", Intent::ClearChecked),
    ("take off the checked", Intent::ClearChecked),
    ("take the checked", Intent::ClearChecked),
    // Everything at once, before "check off" and "mark".
    ("check off everything", Intent::CheckAll),
    ("check everything off", Intent::CheckAll),
    ("check everything", Intent::CheckAll),
    ("check off all", Intent::CheckAll),
    ("check all", Intent::CheckAll),
    ("cross off everything", Intent::CheckAll),
    ("cross everything off", Intent::CheckAll),
    ("cross off all", Intent::CheckAll),
    ("tick off everything", Intent::CheckAll),
    ("tick everything off", Intent::CheckAll),
    ("mark everything", Intent::CheckAll),
    ("mark all", Intent::CheckAll),
    ("i got everything", Intent::CheckAll),
    ("we got everything", Intent::CheckAll),
    ("got everything", Intent::CheckAll),
    ("i bought everything", Intent::CheckAll),
    ("we bought everything", Intent::CheckAll),
    ("bought everything", Intent::CheckAll),
    ("i got it all", Intent::CheckAll),
    ("we got it all", Intent::CheckAll),
    // From one list to another.
    ("move", Intent::Move),
    ("transfer", Intent::Move),
    // Back to not bought.
    ("uncheck", Intent::Uncheck),
    ("un-check", Intent::Uncheck),
    ("unmark", Intent::Uncheck),
    ("untick", Intent::Uncheck),
    ("uncross", Intent::Uncheck),
    ("un-cross", Intent::Uncheck),
    ("reverse that", Intent::Undo),
    ("cancel the last", Intent::Undo),
    ("cancel that", Intent::Undo),
    ("put it back the way", Intent::Undo),
    ("that was a mistake", Intent::Undo),
    ("go back", Intent::Undo),
    ("add it all up", Intent::Total),
    ("add it up", Intent::Total),
    ("add everything up", Intent::Total),
    ("add up", Intent::Total),
    ("estimate", Intent::Total),
    ("what am i going to spend", Intent::Total),
    ("what will i spend", Intent::Total),
    ("how much am i", Intent::Total),
    ("how much have i", Intent::Total),
    ("how much will i", Intent::Total),
    ("how much is everything", Intent::Total),
    ("how much is all", Intent::Total),
    ("what's the damage", Intent::Total),
    ("what is the damage", Intent::Total),
    ("what does it all come to", Intent::Total),
    ("how expensive", Intent::Price),
    ("price check on", Intent::Price),
    ("price check", Intent::Price),
    ("how much would", Intent::Price),
    ("what's the price on", Intent::Price),
    ("what is the price on", Intent::Price),
    ("what's the cost of", Intent::Price),
    ("there's no more", Intent::Add),
    ("there is no more", Intent::Add),
    ("we have no", Intent::Add),
    ("we've got no", Intent::Add),
    ("we're all out of", Intent::Add),
    ("all out of", Intent::Add),
    ("we ran out of", Intent::Add),
    ("i ran out of", Intent::Add),
    ("ran out of", Intent::Add),
    ("we're almost out of", Intent::Add),
    ("almost out of", Intent::Add),
    ("we used up", Intent::Add),
    ("we've got enough", Intent::Remove),
    ("we have enough", Intent::Remove),
    ("i have enough", Intent::Remove),
    ("i've got enough", Intent::Remove),
    ("got enough", Intent::Remove),
    ("we have plenty of", Intent::Remove),
    ("i have plenty of", Intent::Remove),
    ("we've got plenty of", Intent::Remove),
    ("i've got plenty of", Intent::Remove),
    ("plenty of", Intent::Remove),
    ("i changed my mind about", Intent::Remove),
    ("changed my mind about", Intent::Remove),
    ("actually no", Intent::Remove),
    ("check it off", Intent::Check),
    ("check that off", Intent::Check),
    ("check them off", Intent::Check),
    ("check those off", Intent::Check),
    ("read it back", Intent::Show),
    ("read back", Intent::Show),
    ("did i already", Intent::Show),
    // Questions, not requests: "have i added coffee", "have we got milk on
    // the list".
    ("have i already added", Intent::Show),
    ("have we already added", Intent::Show),
    ("have i added", Intent::Show),
    ("have we added", Intent::Show),
    ("have i put", Intent::Show),
    ("have we put", Intent::Show),
    ("have we got", Intent::Show),
    ("have i got", Intent::Show),
    ("we gotta get", Intent::Add),
    ("we gotta buy", Intent::Add),
    ("gotta buy", Intent::Add),
    ("we have to get", Intent::Add),
    ("we have to buy", Intent::Add),
    ("we should get", Intent::Add),
    ("we should buy", Intent::Add),
    ("set", Intent::Update),
    ("bump", Intent::Update),
    ("pull up", Intent::Show),
    ("go to", Intent::Show),
    ("navigate to", Intent::Show),
    ("bring up", Intent::Show),
    ("pull", Intent::Remove),
    ("nix", Intent::Remove),
    ("we're outta", Intent::Add),
    ("outta", Intent::Add),
    ("we're low on", Intent::Add),
    ("we are low on", Intent::Add),
    ("we could really use", Intent::Add),
    ("we could use", Intent::Add),
    ("could really use", Intent::Add),
    ("don't let me forget", Intent::Add),
    ("do not let me forget", Intent::Add),
    ("make sure we get", Intent::Add),
    ("make sure we have", Intent::Add),
    ("make sure i get", Intent::Add),
    ("note that we need", Intent::Add),
    ("note that i need", Intent::Add),
    ("jot down", Intent::Add),
    ("throw away", Intent::Remove),
    ("throw out", Intent::Remove),
    ("throw", Intent::Add),
    ("toss", Intent::Add),
    ("i grabbed", Intent::Check),
    ("we grabbed", Intent::Check),
    ("grabbed", Intent::Check),
    ("we got", Intent::Check),
    ("we bought", Intent::Check),
    ("we picked up", Intent::Check),
    ("mark off", Intent::Check),
    ("take everything off", Intent::Clear),
    ("delete all the items", Intent::Clear),
    ("delete all items", Intent::Clear),
    ("remove all the items", Intent::Clear),
    ("delete everything", Intent::Clear),
    ("get rid of everything", Intent::Clear),
    // Undo and help.
    ("undo", Intent::Undo),
    ("take that back", Intent::Undo),
    ("scratch that", Intent::Undo),
    ("never mind that", Intent::Undo),
    ("revert", Intent::Undo),
    ("help", Intent::Help),
    ("what can you do", Intent::Help),
    ("what commands", Intent::Help),
    ("what can i say", Intent::Help),
    ("what can i ask", Intent::Help),
    ("what are you able to", Intent::Help),
    ("show me what you can do", Intent::Help),
    ("how do i add", Intent::Help),
    ("how do i remove", Intent::Help),
    ("how do i make a list", Intent::Help),
    ("how do i create", Intent::Help),
    ("how do i delete", Intent::Help),
    ("how do i check", Intent::Help),
    ("how do i use", Intent::Help),
    ("how does this work", Intent::Help),
    // Whole lists.
    ("start over", Intent::Clear),
    ("start fresh", Intent::Clear),
    ("clear", Intent::Clear),
    ("empty", Intent::Clear),
    ("wipe", Intent::Clear),
    ("clean out", Intent::Clear),
    ("clean", Intent::Clear),
    ("reset", Intent::Clear),
    ("remove everything", Intent::Clear),
    ("delete everything", Intent::Clear),
    ("remove all items", Intent::Clear),
    ("create", Intent::CreateList),
    ("generate", Intent::CreateList),
    ("show a new", Intent::CreateList),
    ("new", Intent::CreateList),
    ("make a new", Intent::CreateList),
    ("make new", Intent::CreateList),
    ("make a", Intent::CreateList),
    ("start a new", Intent::CreateList),
    ("start a", Intent::CreateList),
    ("new list", Intent::CreateList),
    ("set up", Intent::CreateList),
    ("open a new", Intent::CreateList),
    ("begin a", Intent::CreateList),
    // Totals, prices, deals, comparisons.
    ("what's my total", Intent::Total),
    ("what is my total", Intent::Total),
    ("what's the total", Intent::Total),
    ("what is the total", Intent::Total),
    ("total", Intent::Total),
    ("how much will", Intent::Total),
    ("how much is my", Intent::Total),
    ("how much is the list", Intent::Total),
    ("how much does my", Intent::Total),
    ("how much are", Intent::Price),
    ("how much is", Intent::Price),
    ("how much does", Intent::Price),
    ("how much do", Intent::Price),
    ("how much for", Intent::Price),
    ("what's the price of", Intent::Price),
    ("what is the price of", Intent::Price),
    ("price of", Intent::Price),
    ("price", Intent::Price),
    ("what does my", Intent::Show),
    ("what does the", Intent::Show),
    ("what does", Intent::Price),
    ("any deals", Intent::Deals),
    ("are there any deals", Intent::Deals),
    ("deals", Intent::Deals),
    ("what's on sale", Intent::Deals),
    ("what is on sale", Intent::Deals),
    ("coupons", Intent::Deals),
    ("is there a cheaper", Intent::Compare),
    ("is there anything cheaper", Intent::Compare),
    ("cheaper", Intent::Compare),
    ("compare", Intent::Compare),
    ("find a cheaper", Intent::Compare),
    // Checking off.
    ("i got", Intent::Check),
    ("got the", Intent::Check),
    ("i've got", Intent::Check),
    ("i bought", Intent::Check),
    ("bought", Intent::Check),
    ("i picked up", Intent::Check),
    ("picked up", Intent::Check),
    ("check off", Intent::Check),
    ("cross off", Intent::Check),
    ("tick off", Intent::Check),
    ("mark", Intent::Check),
    ("i already have", Intent::Remove),
    ("we already have", Intent::Remove),
    ("i already got", Intent::Check),
    ("already got", Intent::Check),
    ("already have", Intent::Remove),
    // Removing.
    ("update with", Intent::Add),
    ("update it with", Intent::Add),
    ("i don't want", Intent::Remove),
    ("don't want", Intent::Remove),
    ("throw away", Intent::Remove),
    ("throw out", Intent::Remove),
    ("kill", Intent::Remove),
    ("abolish", Intent::Remove),
    ("remove", Intent::Remove),
    ("delete", Intent::Remove),
    ("take off", Intent::Remove),
    ("take out", Intent::Remove),
    ("take away", Intent::Remove),
    ("take", Intent::Remove),
    ("scratch", Intent::Remove),
    ("drop", Intent::Remove),
    ("never mind the", Intent::Remove),
    ("nevermind the", Intent::Remove),
    ("forget the", Intent::Remove),
    ("forget about", Intent::Remove),
    ("cross out", Intent::Remove),
    ("get rid of", Intent::Remove),
    ("erase", Intent::Remove),
    ("cancel", Intent::Remove),
    ("trash", Intent::Remove),
    ("we don't need", Intent::Remove),
    ("i don't need", Intent::Remove),
    ("don't need", Intent::Remove),
    ("no more", Intent::Remove),
    ("no need for", Intent::Remove),
    ("skip the", Intent::Remove),
    ("lose the", Intent::Remove),
    ("ditch", Intent::Remove),
    // Updating.
    ("make that", Intent::Update),
    ("make it", Intent::Update),
    ("change", Intent::Update),
    ("actually", Intent::Update),
    ("switch", Intent::Update),
    ("swap", Intent::Update),
    ("replace", Intent::Update),
    ("update", Intent::Update),
    ("increase", Intent::Update),
    ("decrease", Intent::Update),
    ("make the", Intent::Update),
    // Adding.
    ("add", Intent::Add),
    ("put", Intent::Add),
    ("i need", Intent::Add),
    ("we need", Intent::Add),
    ("need", Intent::Add),
    ("we're out of", Intent::Add),
    ("we are out of", Intent::Add),
    ("i'm out of", Intent::Add),
    ("i am out of", Intent::Add),
    ("out of", Intent::Add),
    ("we're running low on", Intent::Add),
    ("we are running low on", Intent::Add),
    ("i'm running low on", Intent::Add),
    ("running low on", Intent::Add),
    ("running out of", Intent::Add),
    ("low on", Intent::Add),
    ("don't forget", Intent::Add),
    ("dont forget", Intent::Add),
    ("do not forget", Intent::Add),
    ("grab", Intent::Add),
    ("get", Intent::Add),
    ("buy", Intent::Add),
    ("pick up", Intent::Add),
    ("remind me to buy", Intent::Add),
    ("remind me to get", Intent::Add),
    ("remind me to pick up", Intent::Add),
    ("i want", Intent::Add),
    ("we want", Intent::Add),
    ("i'd like", Intent::Add),
    ("include", Intent::Add),
    ("throw in", Intent::Add),
    ("toss in", Intent::Add),
    ("stick", Intent::Add),
    ("insert", Intent::Add),
    ("append", Intent::Add),
    ("write down", Intent::Add),
    ("write", Intent::Add),
    ("make sure", Intent::Add),
    ("should have", Intent::Add),
    ("should include", Intent::Add),
    ("ensure", Intent::Add),
    ("suggest we put", Intent::Add),
    ("suggest we add", Intent::Add),
    ("suggest", Intent::Add),
    ("note", Intent::Add),
    ("could use", Intent::Add),
    ("should get", Intent::Add),
    ("gotta get", Intent::Add),
    ("have to get", Intent::Add),
    ("restock", Intent::Add),
    ("stock up on", Intent::Add),
    // Reading.
    ("know", Intent::Show),
    ("name", Intent::Show),
    ("speak", Intent::Show),
    ("remind me what", Intent::Show),
    ("hear", Intent::Show),
    ("look up", Intent::Show),
    ("look at", Intent::Show),
    ("find out", Intent::Show),
    ("does my", Intent::Show),
    ("do i need", Intent::Show),
    ("what's on", Intent::Show),
    ("whats on", Intent::Show),
    ("what is on", Intent::Show),
    ("what's in", Intent::Show),
    ("what is in", Intent::Show),
    ("what do i still need", Intent::Show),
    ("what do i need", Intent::Show),
    ("what do we need", Intent::Show),
    ("what else do i need", Intent::Show),
    ("what's left", Intent::Show),
    ("what is left", Intent::Show),
    ("what do i have", Intent::Show),
    ("what have i", Intent::Show),
    ("what are", Intent::Show),
    ("what items", Intent::Show),
    ("which items", Intent::Show),
    ("what lists", Intent::Show),
    ("what's", Intent::Show),
    ("show", Intent::Show),
    ("read", Intent::Show),
    ("list", Intent::Show),
    ("tell me", Intent::Show),
    ("let me see", Intent::Show),
    ("let me hear", Intent::Show),
    ("i need to hear", Intent::Show),
    ("i'd like to know", Intent::Show),
    ("i would like to know", Intent::Show),
    ("i want to know", Intent::Show),
    ("i want to see", Intent::Show),
    ("display", Intent::Show),
    ("open", Intent::Show),
    ("view", Intent::Show),
    ("see", Intent::Show),
    ("check", Intent::Show),
    ("give me", Intent::Show),
    ("is there", Intent::Show),
    ("are there", Intent::Show),
    ("is", Intent::Show),
    ("are", Intent::Show),
    ("do i have", Intent::Show),
    ("do we have", Intent::Show),
    ("did i", Intent::Show),
    ("how many", Intent::Show),
    ("go over", Intent::Show),
    ("recite", Intent::Show),
    ("pull up", Intent::Show),
    ("bring up", Intent::Show),
    ("my", Intent::Show),
];

/// Words that start a new command inside a sentence ("add eggs *and remove* the
/// cheese"); a clause boundary is `and`/`then`/`,` followed by one of these.
const CLAUSE_VERBS: &[&str] = &[
    "add", "put", "remove", "delete", "take", "scratch", "drop", "get", "grab", "buy", "check",
    "cross", "clear", "make", "change", "show", "read", "what's", "whats", "what", "undo", "i",
    "we", "also", "don't", "dont", "forget", "never", "then", "is", "are", "do", "how", "any",
    "swap", "replace", "tell", "we're", "were", "i'm", "im", "we've", "i've", "out", "running",
    "need", "remind", "pick",
];

/// Item names that contain "and" and stay whole: products, flavours and brands.
const AND_NAMES: &[&str] = &[
    "mac and cheese",
    "macaroni and cheese",
    "half and half",
    "salt and vinegar",
    "sour cream and onion",
    "cookies and cream",
    "cookies n cream",
    "pork and beans",
    "sweet and sour",
    "hot and sour",
    "sweet and spicy",
    "franks and beans",
    "beans and franks",
    "fish and chips",
    "surf and turf",
    "bread and butter pickles",
    "black and white cookies",
    "peas and carrots",
    "oats and honey",
    "strawberries and cream",
    "peaches and cream",
    "apples and cinnamon",
    "apple and cinnamon",
    "maple and brown sugar",
    "arm and hammer",
    "head and shoulders",
    "ben and jerry",
    "barnes and noble",
    "johnson and johnson",
    "m and m",
    "lock and lock",
];

/// Pairs that are two items, unless a noun follows that makes them one product:
/// "ham and cheese" (two), "ham and cheese croissants" (one).
const AND_PAIRS: &[&str] = &[
    "ham and cheese",
    "peanut butter and jelly",
    "chips and salsa",
    "rice and beans",
    "chicken and rice",
    "spaghetti and meatballs",
    "oil and vinegar",
    "chicken and dumplings",
    "biscuits and gravy",
    "corned beef and cabbage",
];

fn strip_prefix_word<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(prefix)?;
    if rest.is_empty() || rest.starts_with(' ') {
        Some(rest.trim_start())
    } else {
        None
    }
}

/// Lower-case, keep the characters items and sizes use, fold spaces.
/// Punctuation and fraction characters `normalise` keeps (the rest becomes a
/// space).
fn kept_in_text(c: char) -> bool {
    matches!(c, '\'' | '%' | '/' | '.' | '-' | ',' | ';' | '$' | '^')
        || matches!(c, '½' | '¼' | '¾' | '⅓' | '⅔' | '⅛')
}

fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            '’' | '‘' | '`' => '\'',
            '–' | '—' => '-',
            // "m&m's" keeps its ampersand; "bread & butter" is "and".
            '&' if out.ends_with(|p: char| p.is_alphanumeric()) => '&',
            '&' => {
                out.push_str(" and ");
                continue;
            }
            c if c.is_alphanumeric() || kept_in_text(c) => c,
            _ => ' ',
        };
        out.extend(c.to_lowercase());
    }
    let raw: Vec<&str> = out.split_whitespace().collect();
    let mut words: Vec<String> = Vec::with_capacity(raw.len());
    for (k, w) in raw.iter().enumerate() {
        // A sentence's full stop is a comma here (a clause ends where a command
        // starts); "lbs." and "oz." only abbreviate.
        let stem = w.trim_end_matches('.');
        let full_stop = stem.len() < w.len()
            && stem.len() > 1
            && !stem.contains(|c: char| c.is_ascii_digit())
            && k + 1 < raw.len()
            && crate::Unit::from_word(stem).is_none();
        // Hesitations said in the middle ("we need uh paper plates").
        if matches!(stem, "uh" | "um" | "uhm" | "er" | "erm" | "hmm") {
            continue;
        }
        let word = match stem {
            "dont" => "don't",
            "cant" => "can't",
            "im" => "i'm",
            "ive" => "i've",
            "whats" => "what's",
            "thats" => "that's",
            "theres" => "there's",
            "weve" => "we've",
            "isnt" => "isn't",
            "doesnt" => "doesn't",
            // "were out of milk": voice input drops the apostrophe.
            "were"
                if k == 0
                    && raw
                        .get(1)
                        .is_some_and(|n| matches!(*n, "out" | "running" | "low" | "almost")) =>
            {
                "we're"
            }
            other => other,
        };
        if word.is_empty() {
            continue;
        }
        words.push(if full_stop {
            format!("{word},")
        } else {
            word.to_string()
        });
    }
    words.join(" ")
}

fn drop_fillers(mut s: &str) -> &str {
    loop {
        let before = s;
        let first = s.split(' ').next().unwrap_or("");
        if !OPENING_FIRST.contains(first) {
            let trimmed = s.trim_start_matches([',', ' ']);
            if trimmed == s {
                return s;
            }
            s = trimmed;
            continue;
        }
        for f in FILLERS {
            if let Some(rest) = strip_prefix_word(s, f) {
                s = rest;
            }
        }
        for p in POLITE {
            if let Some(rest) = strip_prefix_word(s, p) {
                s = rest;
            }
        }
        s = s.trim_start_matches([',', ' ']);
        if s == before {
            return s;
        }
    }
}

/// Split a sentence into clauses where a new command starts.
fn clauses(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in s.split(';') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let mut cur: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let w = words[i].trim_end_matches(',');
            let comma = words[i].ends_with(',');
            let joiner = matches!(w, "and" | "then" | "but" | "also" | "plus" | "so");
            let next = words.get(i + 1).map(|n| n.trim_end_matches(','));
            let starts_command = |n: &str| CLAUSE_VERBS.contains(&n);
            // "add milk to the costco list and bread to my list": each list
            // has its own clause.
            let list_done = cur
                .last()
                .is_some_and(|l| matches!(l.trim_end_matches(','), "list" | "lists"));
            let list_later = words[i + 1..]
                .iter()
                .any(|l| matches!(l.trim_end_matches([',', '?', '.']), "list" | "lists"));
            if joiner
                && !cur.is_empty()
                && (next.is_some_and(starts_command) || list_done && list_later)
            {
                out.push(cur.join(" "));
                cur.clear();
                i += 1;
                continue;
            }
            cur.push(words[i]);
            if comma && next.is_some_and(|n| starts_command(n) && n != "i") && cur.len() > 1 {
                out.push(cur.join(" ").trim_end_matches(',').to_string());
                cur.clear();
            }
            i += 1;
        }
        if !cur.is_empty() {
            out.push(cur.join(" "));
        }
    }
    out.into_iter().filter(|c| !c.trim().is_empty()).collect()
}

/// Words that lead into a list's name: "*to my* costco list", "*off the* party list".
fn is_list_lead(w: &str) -> bool {
    matches!(
        w,
        "to" | "on"
            | "onto"
            | "from"
            | "off"
            | "in"
            | "into"
            | "of"
            | "my"
            | "the"
            | "our"
            | "a"
            | "this"
            | "that"
            | "your"
            | "new"
            | "for"
            | "at"
    )
}

/// Whether a request asks which lists there are: "what lists do i have",
/// "show me all my lists", "hey, how many lists do i have?".
pub(crate) fn asks_for_lists(text: &str) -> bool {
    // Every phrase below says "lists": most requests end here.
    if !text.contains("lists") && !text.contains("LISTS") && !text.contains("Lists") {
        return false;
    }
    let lower = text.to_lowercase();
    let c = lower.trim().trim_end_matches(['?', '.', '!']).trim();
    const ASKS: &[&str] = &[
        "what lists",
        "which lists",
        "what are my lists",
        "what are all my lists",
        "how many lists",
        "show me my lists",
        "show me all my lists",
        "show me all lists",
        "show me the lists",
        "show my lists",
        "show all my lists",
        "show all lists",
        "show all the lists",
        "list my lists",
        "list all my lists",
        "list all lists",
        "read my lists",
        "see my lists",
        "see all my lists",
        "open my lists",
        "my lists",
        "all my lists",
        "all lists",
    ];
    // "delete all lists" changes them.
    let changes = c.split(|ch: char| !ch.is_alphanumeric()).any(|w| {
        matches!(
            w,
            "delete" | "remove" | "clear" | "erase" | "empty" | "wipe" | "add" | "rename" | "put"
        )
    });
    // At a word's start and end: "what lists", not "somewhat lists".
    !changes
        && ASKS.iter().any(|a| {
            c.match_indices(a).any(|(at, _)| {
                let before = c[..at].chars().next_back();
                let after = c[at + a.len()..].chars().next();
                before.is_none_or(|b| !b.is_alphanumeric())
                    && after.is_none_or(|b| !b.is_alphanumeric())
            })
        })
}

/// The old name, if said, and the new one in "rename costco to bulk",
/// "rename the costco list to bulk" (with the list phrase already taken off:
/// "rename to bulk"), "change the name of it to bbq".
fn renamed_to(rest: &str) -> Option<(Option<String>, String)> {
    let rest = rest.trim().trim_end_matches(['?', '.', '!']);
    let after = [
        "rename ",
        "change the name of ",
        "change the name ",
        "change name of ",
    ]
    .iter()
    .find_map(|p| rest.strip_prefix(p))
    .or_else(|| rest.strip_prefix("rename"))?;
    let (what, new) = match after
        .strip_prefix("to ")
        .or_else(|| after.strip_prefix("as "))
    {
        Some(new) => ("", new),
        None => after
            .split_once(" to ")
            .or_else(|| after.split_once(" as "))?,
    };
    let old = match what.trim() {
        "" | "it" | "this" | "that" | "the" | "list" | "the list" | "this list" | "my list" => None,
        named => Some(list_called(named)?),
    };
    let new = new.trim().trim_matches(['"', '\'']);
    let new = new.strip_suffix(" list").unwrap_or(new).trim();
    (!new.is_empty() && new.len() <= 60).then(|| (old, new.to_string()))
}

/// The list a phrase names: "the party list" is "party", "my shopping list"
/// the default list; `None` for no name.
fn list_called(phrase: &str) -> Option<String> {
    let mut name = phrase.trim();
    for lead in ["the ", "my ", "our "] {
        name = name.strip_prefix(lead).unwrap_or(name);
    }
    let name = name
        .strip_suffix(" list")
        .unwrap_or(name)
        .trim_end_matches("'s")
        .trim();
    if name.is_empty() || name == "list" {
        return None;
    }
    Some(if DEFAULT_LIST_NAMES.contains(&name) {
        crate::lists::DEFAULT_LIST.to_string()
    } else {
        name.to_string()
    })
}

/// Take a list phrase off a clause: "to my costco list", "off the party list",
/// "on my shopping list". Returns the clause without it and the list name
/// (`None` for the default list: "shopping", "grocery", "my list").
fn take_list(clause: &str) -> (String, Option<String>, bool) {
    let words: Vec<&str> = clause.split_whitespace().collect();
    let Some(pos) = words
        .iter()
        .rposition(|w| matches!(w.trim_end_matches([',', '?']), "list" | "lists" | "list's"))
    else {
        return store_list(&words).unwrap_or_else(|| (clause.to_string(), None, false));
    };
    // Walk back over the name to a preposition or determiner.
    let mut start = pos;
    while start > 0 && pos - start < 4 {
        let w = words[start - 1];
        if PATTERN_WORDS.contains(w) {
            break;
        }
        if is_list_lead(w) {
            break;
        }
        start -= 1;
    }
    let name: Vec<&str> = words[start..pos].to_vec();
    let mut cut = start;
    while cut > 0 && is_list_lead(words[cut - 1]) {
        cut -= 1;
    }
    let mut rest: Vec<&str> = words[..cut].to_vec();
    rest.extend_from_slice(&words[pos + 1..]);
    let name = name.join(" ");
    let name = Some(name.trim_end_matches("'s").to_string())
        .filter(|n| !DEFAULT_LIST_NAMES.contains(&n.as_str()));
    (rest.join(" "), name, true)
}

/// One word's key for the kinds lexicon: lower-case, singular.
fn kind_key(w: &str) -> String {
    let w = w.trim_matches(|c: char| !c.is_alphanumeric());
    for (plural, one) in [("ies", "y"), ("oes", "o"), ("ches", "ch"), ("shes", "sh")] {
        if w.len() > plural.len() + 2
            && let Some(stem) = w.strip_suffix(plural)
        {
            return format!("{stem}{one}");
        }
    }
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
        return w[..w.len() - 1].to_string();
    }
    w.to_string()
}

/// The kinds of product the embedded catalog sells ("milk", "paper towels",
/// "vanilla extract"), keyed word by word with [`kind_key`].
static KINDS: std::sync::LazyLock<rustc_hash::FxHashSet<String>> = std::sync::LazyLock::new(|| {
    let mut kinds = rustc_hash::FxHashSet::default();
    let mut rows = csv::Reader::from_reader(crate::catalog::EMBEDDED_CATALOG.as_bytes());
    let column = rows
        .headers()
        .ok()
        .and_then(|h| h.iter().position(|c| c == "kind"));
    if let Some(column) = column {
        for row in rows.records().flatten() {
            if let Some(kind) = row.get(column) {
                let key: Vec<String> = kind.split_whitespace().map(kind_key).collect();
                kinds.insert(key.join(" "));
            }
        }
    }
    kinds
});

/// Every word of the catalog's kinds, keyed with [`kind_key`].
static KIND_WORDS: std::sync::LazyLock<rustc_hash::FxHashSet<String>> =
    std::sync::LazyLock::new(|| {
        KINDS
            .iter()
            .flat_map(|k| k.split(' ').map(str::to_string))
            .collect()
    });

/// "milk eggs bread", "paper towels toilet paper": a run of product kinds said
/// without commas, split into its kinds. Only when every word belongs to a kind
/// and the run is at least three kinds, or two kinds of two words or more, so
/// that "peanut butter cookies" or "strawberry greek yogurt" stay whole.
fn split_known_run(chunk: &str) -> Option<Vec<String>> {
    let words: Vec<&str> = chunk.split_whitespace().collect();
    if words.len() < 2
        || words.len() > 24
        || words
            .iter()
            .any(|w| !w.chars().all(|c| c.is_alphabetic() || c == '\''))
    {
        return None;
    }
    let keys: Vec<String> = words.iter().map(|w| kind_key(w)).collect();
    if KINDS.contains(&keys.join(" ")) {
        return None;
    }
    // Fewest kinds covering words[..k], by dynamic programming.
    let n = words.len();
    let mut best: Vec<Option<(usize, usize)>> = vec![None; n + 1]; // (count, start)
    best[0] = Some((0, 0));
    for end in 1..=n {
        for len in 1..=end.min(4) {
            let start = end - len;
            if let Some((count, _)) = best[start]
                && KINDS.contains(&keys[start..end].join(" "))
                && best[end].is_none_or(|(c, _)| count + 1 < c)
            {
                best[end] = Some((count + 1, start));
            }
        }
    }
    let mut spans = Vec::new();
    let mut end = n;
    while end > 0 {
        let (_, start) = best[end]?;
        spans.push((start, end));
        end = start;
    }
    spans.reverse();
    let multi_word = spans.iter().all(|(a, b)| b - a >= 2);
    if spans.len() >= 3 || spans.len() == 2 && multi_word {
        Some(spans.iter().map(|(a, b)| words[*a..*b].join(" ")).collect())
    } else {
        None
    }
}

/// Stores people name their lists after; "add water to costco" means the costco
/// list even without the word "list".
const STORES: &[&str] = &[
    "costco",
    "walmart",
    "target",
    "kroger",
    "aldi",
    "lidl",
    "safeway",
    "publix",
    "wegmans",
    "heb",
    "h-e-b",
    "meijer",
    "albertsons",
    "sprouts",
    "whole foods",
    "trader joe's",
    "trader joes",
    "sam's club",
    "sams club",
    "bj's",
    "home depot",
    "lowe's",
    "cvs",
    "walgreens",
    "the farmers market",
    "farmers market",
    "the hardware store",
];

/// "… to costco", "… from trader joe's": a store named at the end of a clause.
fn store_list(words: &[&str]) -> Option<(String, Option<String>, bool)> {
    for n in [3, 2, 1] {
        if words.len() < n + 2 {
            continue;
        }
        let lead = words[words.len() - n - 1];
        if !matches!(lead, "to" | "from" | "on" | "off" | "at" | "for") {
            continue;
        }
        let name = words[words.len() - n..]
            .join(" ")
            .trim_end_matches(['?', '!', ','])
            .to_string();
        if STORES.contains(&name.as_str()) {
            let name = name.trim_start_matches("the ").to_string();
            let rest = words[..words.len() - n - 1].join(" ");
            return Some((rest, Some(name), true));
        }
    }
    None
}

/// [`AND_NAMES`] and [`AND_PAIRS`], each split at its "and".
#[allow(clippy::type_complexity)]
static AND_NAME_SIDES: std::sync::LazyLock<(
    Vec<(&'static str, &'static str)>,
    Vec<(&'static str, &'static str)>,
)> = std::sync::LazyLock::new(|| {
    let sides = |names: &[&'static str]| {
        names
            .iter()
            .filter_map(|n| n.split_once(" and "))
            .collect::<Vec<_>>()
    };
    (sides(AND_NAMES), sides(AND_PAIRS))
});

/// Split an item list on commas, "and", "&", "plus", keeping names that contain
/// "and" whole.
fn split_items(s: &str) -> Vec<String> {
    let mut text = if s.contains(" as well as ") {
        s.replace(" as well as ", ", ")
    } else {
        s.to_string()
    };
    // Each "and" that joins one thing rather than two is protected.
    let ands: Vec<usize> = text.match_indices(" and ").map(|(p, _)| p).collect();
    if !ands.is_empty() {
        let mut keep = Vec::new();
        for &p in &ands {
            let (before, after) = (&text[..p], &text[p + 5..]);
            let word_ends = |b: &str, left: &str| {
                b.ends_with(left)
                    && b[..b.len() - left.len()]
                        .chars()
                        .next_back()
                        .is_none_or(|c| c == ' ' || c == ',')
            };
            // "two and a half pounds", "1 and 1/2 lbs": one amount.
            let amount = ["a half", "one half", "a quarter", "1/2", "½"]
                .iter()
                .any(|f| after.starts_with(f));
            let name = AND_NAME_SIDES
                .0
                .iter()
                .any(|(l, r)| word_ends(before, l) && after.starts_with(r));
            let pair = AND_NAME_SIDES.1.iter().any(|(l, r)| {
                if !word_ends(before, l) || !after.starts_with(r) {
                    return false;
                }
                let next = after[r.len()..].split_whitespace().next().unwrap_or("");
                !next.is_empty()
                    && !matches!(
                        next,
                        "and" | "or" | "to" | "on" | "from" | "off" | "please" | "too"
                    )
                    && !next.starts_with(',')
            });
            if amount || name || pair {
                keep.push(p);
            }
        }
        for p in keep.into_iter().rev() {
            text.replace_range(p..p + 5, " \u{1}and\u{1} ");
        }
    }
    let mut out = Vec::new();
    for part in text.split(',') {
        let mut cur: Vec<&str> = Vec::new();
        for w in part.split_whitespace() {
            if matches!(w, "and" | "plus" | "also" | "or") && !cur.is_empty() {
                out.push(cur.join(" "));
                cur.clear();
            } else if !matches!(w, "and" | "plus" | "also") {
                cur.push(w);
            }
        }
        if !cur.is_empty() {
            out.push(cur.join(" "));
        }
    }
    out.iter()
        .map(|i| {
            if i.contains('\u{1}') {
                i.replace('\u{1}', "")
            } else {
                i.clone()
            }
        })
        .flat_map(|i| super::item::split_at_measures(&i))
        .flat_map(|i| split_known_run(&i).unwrap_or_else(|| vec![i]))
        .filter(|i| !i.trim().is_empty())
        .collect()
}

/// Words that are not items when they are all that is left of a clause.
const NOT_ITEMS: &[&str] = &[
    "it",
    "that",
    "them",
    "this",
    "those",
    "these",
    "item",
    "items",
    "thing",
    "things",
    "stuff",
    "something",
    "everything",
    "all",
    "list",
    "to",
    "on",
    "off",
    "from",
    "the",
    "my",
    "me",
    "please",
    "for me",
    "it please",
    "another",
    "another one",
    "more",
    "that one",
    "this one",
    "those ones",
    "these ones",
    "what",
    "what was",
    "what's",
    "what is",
    "it all",
    "total",
    "at",
    "the total",
    "total cost",
    "all this",
    "all of it",
    "all of this",
    "consist of",
    "entail",
    "involve",
    "contain",
    "include",
    "say",
    "cost",
    "come to",
    "if it's not",
    "if not",
    "there",
    "here",
    "up",
    "out",
];

/// Trailing words that are not part of items ("for me", "please", "too").
const TRAILING: &[&str] = &[
    "please",
    "for me",
    "too",
    "as well",
    "thanks",
    "thank you",
    "now",
    "today",
    "tomorrow",
    "on the way home",
    "on my way home",
    "on the way back",
    "when you're out",
    "next time i go shopping",
    "next time i'm at the store",
    "at the store",
    "from the store",
    "is",
    "are",
    "is listed",
    "are listed",
    "listed",
    "on it",
    "on there",
    "when i go shopping",
    "for later",
    "again",
    "right now",
    "asap",
    "soon",
    "tonight",
    "off",
    "on",
    "instead",
    "back",
    "anymore",
    "any more",
    "left",
    "this week",
    "these days",
    "cost",
    "costs",
    "cost me",
    "already",
    "be",
    "cost right now",
    "go for",
    "going for",
    "so far",
    "again",
    "on your way home",
    "on your way back",
    "on the way",
    "on your way",
    "while you're out",
    "while you're there",
    "when you're there",
    "after work",
    "after all",
    "done",
    "as done",
    "as bought",
    "as purchased",
    "as complete",
    "as completed",
];

/// Last words of the [`TRAILING`] phrases: a text ending otherwise has none.
static TRAILING_LAST: std::sync::LazyLock<rustc_hash::FxHashSet<&'static str>> =
    std::sync::LazyLock::new(|| {
        TRAILING
            .iter()
            .filter_map(|t| t.rsplit(' ').next())
            .collect()
    });

/// First words of [`FILLERS`] and [`POLITE`].
static OPENING_FIRST: std::sync::LazyLock<rustc_hash::FxHashSet<&'static str>> =
    std::sync::LazyLock::new(|| {
        FILLERS
            .iter()
            .chain(POLITE)
            .filter_map(|t| t.split(' ').next())
            .collect()
    });

/// [`NOT_ITEMS`] as a set.
static NOT_ITEM_SET: std::sync::LazyLock<rustc_hash::FxHashSet<&'static str>> =
    std::sync::LazyLock::new(|| NOT_ITEMS.iter().copied().collect());

fn is_not_item(s: &str) -> bool {
    NOT_ITEM_SET.contains(s)
}

fn strip_trailing(mut s: &str) -> &str {
    loop {
        let before = s;
        s = s.trim_end_matches([' ', ',', '?', '!']);
        let last = s.rsplit(' ').next().unwrap_or("");
        if !TRAILING_LAST.contains(last) {
            return s;
        }
        for t in TRAILING {
            if let Some(rest) = s.strip_suffix(t)
                && (rest.is_empty() || rest.ends_with(' '))
            {
                s = rest;
            }
        }
        if s == before {
            return s;
        }
    }
}

fn items_of(s: &str) -> Vec<ItemPhrase> {
    let mut s = strip_trailing(s);
    // "grab me a coke", "throw in some more rice", "like 4 or 5 limes"
    loop {
        let before = s;
        for lead in [
            "me ", "us ", "in ", "some ", "the ", "more ", "like ", "maybe ", "around ", "off ",
            "of ",
        ] {
            s = s.strip_prefix(lead).unwrap_or(s);
        }
        if s == before {
            break;
        }
    }
    if is_not_item(s.trim()) {
        return Vec::new();
    }
    // "another 2 pounds of chicken": before the split, which would take
    // "another" for an item of its own.
    let more = one_more(s);
    let s = more.as_deref().unwrap_or(s);
    // "milk but not eggs": two items, the second one not wanted.
    let not = s
        .contains(" but not ")
        .then(|| s.replace(" but not ", ", not "));
    let s = not.as_deref().unwrap_or(s);
    let mut items: Vec<ItemPhrase> = Vec::new();
    for i in split_items(s) {
        let i = i.trim();
        let i = i.strip_prefix("the ").unwrap_or(i);
        let i = i.strip_prefix("some ").unwrap_or(i);
        let more = one_more(i).or_else(|| times_after(i));
        let i = more.as_deref().unwrap_or(i);
        // "the ingredients for tacos": the dish, which the agent cannot
        // expand into items (it has no recipes) and says so.
        if let Some(dish) = super::item::dish_asked(i) {
            items.push(ItemPhrase::for_dish(&dish));
            continue;
        }
        if is_not_item(i) {
            continue;
        }
        match parse_item(i).filter(|item| !is_not_item(&item.name)) {
            Some(item) => items.push(item),
            // "ground beef, 2 lbs": an amount for the item before it.
            None => {
                if let Some((amount, unit)) = super::item::measure_of(i)
                    && let Some(last) = items.last_mut()
                    && last.amount.is_none()
                {
                    last.amount = Some(amount);
                    last.unit = unit;
                }
            }
        }
    }
    items
}

/// The items a clear keeps: "except the milk", "but milk and eggs", "other
/// than the bread"; none for a plain clear.
fn kept_items(tail: &str) -> Vec<ItemPhrase> {
    let tail = tail.trim();
    let after = [
        "except for ",
        "except ",
        "but ",
        "other than ",
        "apart from ",
        "besides ",
        "save for ",
    ]
    .iter()
    .find_map(|p| {
        tail.strip_prefix(p)
            .or_else(|| tail.split_once(&format!(" {p}")).map(|(_, a)| a))
    });
    after.map(items_of).unwrap_or_default()
}

/// A count said after the item, put before it: "eggs x2" and "eggs x 2" are
/// "2 eggs". `None` when there is none, or an amount comes first already.
fn times_after(item: &str) -> Option<String> {
    // Most items have no "x": no need to split them.
    if !item.contains(['x', '×']) {
        return None;
    }
    let words: Vec<&str> = item.split_whitespace().collect();
    let (name, n) = match words.as_slice() {
        [name @ .., "x" | "×", n] => (name, *n),
        [name @ .., last] => (name, last.strip_prefix(['x', '×'])?),
        [] => return None,
    };
    let counted = !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit());
    let named = !name.is_empty()
        && !name[0].starts_with(|c: char| c.is_ascii_digit())
        && !super::item::is_number_word(name[0]);
    (counted && named).then(|| format!("{n} {}", name.join(" ")))
}

/// An item asked for on top of what is there, as the plain item: "another
/// gallon of milk" is "a gallon of milk", "another 2 pounds of chicken" is "2
/// pounds of chicken", "2 more cans of soup" is "2 cans of soup" (adding to a
/// line already adds to its quantity). `None` when there is nothing to drop.
fn one_more(item: &str) -> Option<String> {
    // Most items have none of the words: no need to split them.
    if !(item.contains("another") || item.contains("more") || item.contains("additional")) {
        return None;
    }
    let words: Vec<&str> = item.split_whitespace().collect();
    match words.as_slice() {
        ["another", rest @ ..] if !rest.is_empty() => {
            let counted = rest[0].starts_with(|c: char| c.is_ascii_digit())
                || super::item::is_number_word(rest[0]);
            Some(if counted {
                rest.join(" ")
            } else {
                format!("a {}", rest.join(" "))
            })
        }
        [n, "more" | "additional", rest @ ..]
            if !rest.is_empty()
                && (n.starts_with(|c: char| c.is_ascii_digit())
                    || super::item::is_number_word(n)) =>
        {
            Some(format!("{n} {}", rest.join(" ")))
        }
        _ => None,
    }
}

/// The target and new value of an update: "that 3" (the last item, 3), "the
/// milk to 2 gallons", "the milk organic". An item with an empty name means
/// "the item just mentioned". `named`: the verb ended in "the" ("make the
/// milk 3"), so the tail starts with a line's name.
fn update_items(tail: &str, named: bool) -> Vec<ItemPhrase> {
    let tail = strip_trailing(tail);
    // "actually make that a dozen": the verb after "actually".
    let tail = [
        "make that ",
        "make it ",
        "make the ",
        "change that to ",
        "change it to ",
    ]
    .iter()
    .find_map(|p| tail.strip_prefix(p))
    .unwrap_or(tail);
    let pronoun = ["that ", "it ", "those ", "them "]
        .iter()
        .find_map(|p| tail.strip_prefix(p));
    let named_tail = after_determiner(tail);
    let named = pronoun.is_none() && (named || named_tail.is_some());
    let tail = pronoun.or(named_tail).unwrap_or(tail);
    // "the organic one", "the large ones"
    let tail = tail
        .strip_suffix(" ones")
        .or_else(|| tail.strip_suffix(" one"))
        .unwrap_or(tail);
    // "the large ones", "organic": only the new variant of the last item.
    if VARIANT_WORDS.contains(&tail) {
        let mut item = ItemPhrase::named("");
        item.modifiers.push(tail.to_string());
        return vec![item];
    }
    // "the milk organic", "the coffee decaf": an item and its new variant.
    if !tail.contains(" to ")
        && let Some((target, variant)) = tail.rsplit_once(' ')
        && VARIANT_WORDS.contains(&variant)
        && let Some(mut item) = parse_item(target)
    {
        item.modifiers.insert(0, variant.to_string());
        return vec![item];
    }
    let tail = tail.trim_start_matches("one ").trim_start_matches("to ");
    let (target, value) = match tail
        .split_once(" to ")
        .or_else(|| tail.split_once(" into "))
    {
        Some((t, v)) => (t.trim(), v.trim()),
        None => ("", tail.trim()),
    };
    // "make the milk 3", "change the ground beef 2 pounds": a line named, then
    // its new amount, with no "to" between (not a variant of the last item).
    if target.is_empty()
        && named
        && let Some(item) = named_with_amount(value)
    {
        return vec![item];
    }
    // "increase it by 2": by how much is not a new amount, nor a variant
    // ("by 2"); the line named ones are an add or a remove (`by_amount`).
    if target.is_empty()
        && let Some(by) = value
            .strip_prefix("by ")
            .or_else(|| value.rsplit_once(" by ").map(|(_, by)| by))
        && super::item::measure_of(by).is_some()
    {
        return Vec::new();
    }
    let value_item = parse_item(value);
    let measure_only = super::item::measure_of(value);
    match (target, value_item, measure_only) {
        // "make that 3", "make it two gallons"
        ("", None, Some((amount, unit))) => vec![ItemPhrase::bare(amount, unit)],
        // "make it organic", "actually the organic one": a variant of the last item.
        ("", Some(v), _) if v.amount.is_none() && is_not_item(&v.name) => Vec::new(),
        ("", Some(v), _) => {
            let mut v = v;
            v.modifiers.push(std::mem::take(&mut v.name));
            vec![v]
        }
        // "change the milk to 3", "bump the water up to 3 packs"
        (t, None, Some((amount, unit))) => {
            let t = t.strip_suffix(" up").unwrap_or(t);
            let mut item = parse_item(t).unwrap_or_else(|| ItemPhrase::bare(amount, unit));
            item.amount = Some(amount);
            item.unit = unit;
            vec![item]
        }
        // "change the milk to oat milk"
        (t, Some(v), _) => {
            let mut item = parse_item(t).unwrap_or(v.clone());
            item.modifiers = vec![v.name];
            item.amount = v.amount.or(item.amount);
            item.unit = v.unit.or(item.unit);
            vec![item]
        }
        _ => Vec::new(),
    }
}

/// The words after "the", "my" or "our" ("the milk": "milk"), which name a
/// line the person has; `None` without one.
fn after_determiner(s: &str) -> Option<&str> {
    ["the ", "my ", "our "]
        .iter()
        .find_map(|p| s.strip_prefix(p))
}

/// "it", "that", ...: the item just mentioned.
fn is_pronoun(s: &str) -> bool {
    matches!(s, "it" | "that" | "them" | "those" | "this" | "these")
}

/// The item `name` names, with `amount` of `unit`; `None` when nothing
/// nameable is there.
fn with_amount(
    name: &str,
    amount: Amount,
    unit: Option<crate::quantity::Unit>,
) -> Option<ItemPhrase> {
    let mut item = parse_item(name).filter(|i| !i.name.is_empty() && !is_not_item(&i.name))?;
    item.amount = Some(amount);
    item.unit = unit;
    Some(item)
}

/// "double the ground beef", "triple my order of eggs", "halve it": the line
/// to change (no name for "it", "that": the item just mentioned) and the
/// factor, in `times`. Only with a determiner or a pronoun after the verb, so
/// that "double cream" and "triple sec" stay items.
fn scaled(rest: &str) -> Option<ItemPhrase> {
    let (verb, tail) = strip_trailing(rest).split_once(' ')?;
    let times = match verb {
        "double" => Ratio::from_integer(2),
        "triple" => Ratio::from_integer(3),
        "quadruple" => Ratio::from_integer(4),
        "halve" => Ratio::new(1, 2),
        _ => return None,
    };
    let tail = tail.trim();
    let target = if is_pronoun(tail) {
        ""
    } else {
        after_determiner(tail)?.trim()
    };
    let mut item = parse_item(target)
        .filter(|i| !i.name.is_empty())
        .unwrap_or_else(|| ItemPhrase::named(""));
    item.amount = None;
    item.amount_min = None;
    item.unit = None;
    // The words name the line; they are no variant of it.
    item.modifiers.clear();
    item.times = Some(Amount::new(times).ok()?);
    Some(item)
}

/// A line named with its new amount after it: "milk 3", "ground beef 2
/// pounds", "eggs to a dozen" is not this (it has "to"). `None` when the
/// words end in no amount or nothing is named before it.
fn named_with_amount(text: &str) -> Option<ItemPhrase> {
    if let Some(item) = parse_item(text)
        && item.amount.is_some()
        && !item.name.is_empty()
        && !is_not_item(&item.name)
    {
        return Some(item);
    }
    // "milk 3": the amount after the name, which the item parser keeps in it.
    let words: Vec<&str> = text.split_whitespace().collect();
    (1..words.len()).find_map(|k| {
        let (amount, unit) = super::item::measure_of(&words[k..].join(" "))?;
        with_amount(&words[..k].join(" "), amount, unit)
    })
}

/// "increase the ground beef by a pound", "decrease the eggs by 2": an add
/// of that amount of the item (onto its line) or a remove of it (off its
/// line). `None` without "by" and an amount, or with no line named
/// ("increase it by 2" is left to the update).
fn by_amount(rest: &str, tail: &str) -> Option<(Intent, ItemPhrase)> {
    let intent = if ["increase ", "bump "].iter().any(|v| rest.starts_with(v)) {
        Intent::Add
    } else if rest.starts_with("decrease ") {
        Intent::Remove
    } else {
        return None;
    };
    let (target, by) = strip_trailing(tail).rsplit_once(" by ")?;
    let (amount, unit) = super::item::measure_of(by)?;
    let target = target.trim();
    let target = target
        .strip_suffix(" up")
        .or_else(|| target.strip_suffix(" down"))
        .unwrap_or(target);
    let target = after_determiner(target).unwrap_or(target).trim();
    if is_pronoun(target) {
        return None;
    }
    Some((intent, with_amount(target, amount, unit)?))
}

/// Verbs that make a new list when "list" follows them: "*make a new* list",
/// "*start* a party list", "*set up* a list for the bbq".
const CREATE_VERBS: &[&str] = &[
    "make",
    "create",
    "start",
    "begin",
    "set up",
    "setup",
    "open a new",
    "open new",
    "generate",
    "new",
    "build",
    "put together",
    "i need a new",
    "i want a new",
    "need a new",
    "want a new",
    "add a new",
    "add a",
    "add new",
    "another",
];

/// Words between the verb and "list" that do not name it ("a *new* list").
const LIST_DETERMINERS: &[&str] = &[
    "a", "an", "the", "my", "our", "new", "another", "fresh", "separate", "blank", "empty",
    "brand", "second", "creating", "making", "me", "us", "up",
];

/// "make a new list", "start a party list", "create a list called camping",
/// "begin new list of lottery numbers": a new list and its name, if one is given.
fn create_list_command(clause: &str) -> Option<Command> {
    let (verb_rest, _) = CREATE_VERBS
        .iter()
        .find_map(|v| strip_prefix_word(clause, v).map(|r| (r, *v)))?;
    if verb_rest.starts_with("sure") {
        return None;
    }
    let words: Vec<&str> = verb_rest.split_whitespace().collect();
    let pos = words
        .iter()
        .position(|w| matches!(w.trim_end_matches([',', '?', '!']), "list" | "lists"))?;
    // Only determiners and a short name may stand between the verb and "list".
    let before: Vec<&str> = words[..pos]
        .iter()
        .copied()
        .filter(|w| !LIST_DETERMINERS.contains(w))
        .collect();
    if before.len() > 3 || before.iter().any(|w| is_one_word_pattern(w) && *w != "new") {
        return None;
    }
    let after = strip_trailing(words[pos + 1..].join(" ").trim()).to_string();
    let after_name = ["called ", "named ", "titled ", "for ", "of ", "about "]
        .iter()
        .find_map(|p| after.strip_prefix(p))
        .map(|n| n.trim_start_matches("the ").trim().to_string())
        // "create list christmas", "new list: birthday": the name right after.
        .or_else(|| Some(after.trim_start_matches(':').trim().to_string()))
        .filter(|n| !n.is_empty() && n.split(' ').count() <= 3);
    let before = before.join(" ");
    let name = if before.is_empty() || DEFAULT_LIST_NAMES.contains(&before.as_str()) {
        after_name.or(Some(before))
    } else {
        Some(before)
    };
    let list = name
        .map(|n| n.trim_end_matches("'s").to_string())
        .filter(|n| !DEFAULT_LIST_NAMES.contains(&n.as_str()));
    Some(Command {
        intent: Intent::CreateList,
        list,
        from: None,
        items: Vec::new(),
    })
}

/// Names that mean the default list.
const DEFAULT_LIST_NAMES: &[&str] = &[
    "",
    "shopping",
    "grocery",
    "groceries",
    "shopping grocery",
    "grocery shopping",
    "default",
    "main",
];

/// Openings that edit a list; a clause that starts with one is never read as a
/// question about deals, prices or cheaper options.
const EDIT_OPENINGS: &[&str] = &[
    "add", "put", "remove", "delete", "take", "scratch", "drop", "i need", "we need", "get",
    "grab", "buy", "pick up",
];

/// Words that make a clause about deals.
const DEAL_WORDS: &[&str] = &[
    "deal",
    "deals",
    "sale",
    "sales",
    "coupon",
    "coupons",
    "discount",
    "discounts",
    "discounted",
    "specials",
    "bogo",
    "promo",
    "promos",
    "promotion",
    "promotions",
    "markdown",
    "markdowns",
    "clearance",
    "rollback",
    "rollbacks",
];

/// Words that make a clause about a cheaper option.
const CHEAPER_WORDS: &[&str] = &["cheaper", "cheapest", "inexpensive", "compare"];

/// Question and helper words that are never part of an item in a question
/// ("*which brand of* paper towels *is* cheapest").
const QUESTION_NOISE: &[&str] = &[
    "any",
    "are",
    "is",
    "there",
    "what's",
    "what",
    "which",
    "whats",
    "got",
    "show",
    "me",
    "the",
    "find",
    "a",
    "an",
    "option",
    "options",
    "alternative",
    "alternatives",
    "brand",
    "of",
    "for",
    "to",
    "than",
    "on",
    "in",
    "at",
    "this",
    "week",
    "today",
    "right",
    "now",
    "do",
    "you",
    "have",
    "prices",
    "price",
    "less",
    "expensive",
    "lower",
    "cost",
    "costs",
    "there's",
    "else",
    "one",
    "version",
    "kind",
    "type",
    "can",
    "i",
    "we",
    "get",
    "with",
    "something",
    "anything",
    "see",
    "know",
    "tell",
    "let",
    "good",
    "best",
    "buy",
    "worth",
    "it",
    "store",
];

/// "any deals on coffee", "is chicken on sale", "which is cheaper, almond milk or
/// oat milk": intents recognised by a word anywhere, with the items that remain
/// once the question's own words are gone.
fn cue_command(rest: &str) -> Option<(Intent, Vec<ItemPhrase>)> {
    if EDIT_OPENINGS
        .iter()
        .any(|o| strip_prefix_word(rest, o).is_some())
    {
        return None;
    }
    let words: Vec<&str> = rest
        .split_whitespace()
        .map(|w| w.trim_matches([',', '?', '!']))
        .collect();
    let has = |set: &[&str]| words.iter().any(|w| set.contains(w));
    if !has(DEAL_WORDS)
        && !has(CHEAPER_WORDS)
        && !words
            .iter()
            .any(|w| matches!(*w, "offer" | "expensive" | "price"))
    {
        return None;
    }
    let intent = if has(DEAL_WORDS) || rest.contains("on offer") {
        Intent::Deals
    } else if has(CHEAPER_WORDS)
        || rest.contains("less expensive")
        || rest.contains("lower price")
        || rest.contains("better price")
    {
        Intent::Compare
    } else {
        return None;
    };
    let kept: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| {
            !w.is_empty()
                && !DEAL_WORDS.contains(w)
                && !CHEAPER_WORDS.contains(w)
                && !QUESTION_NOISE.contains(w)
        })
        .collect();
    let text = kept.join(" ").replace(" or ", ", ");
    let items = if kept.is_empty() {
        Vec::new()
    } else {
        items_of(&text)
    };
    Some((intent, items))
}

/// "the milk is in the cart", "in the cart: eggs and cheese": bought.
fn in_cart(rest: &str) -> Option<Vec<ItemPhrase>> {
    if !rest
        .split(' ')
        .any(|w| matches!(w, "cart" | "basket" | "trolley"))
    {
        return None;
    }
    let at = [
        "in the cart",
        "in my cart",
        "in the basket",
        "in my basket",
        "in the trolley",
    ]
    .iter()
    .find_map(|p| rest.find(p).map(|at| (at, p.len())))?;
    let (before, after) = (&rest[..at.0], &rest[at.0 + at.1..]);
    let text = if before.trim().is_empty() {
        after
    } else {
        before
    };
    let text = text
        .trim()
        .trim_start_matches(':')
        .trim_end_matches(" is")
        .trim_end_matches(" are")
        .trim_end_matches("'s")
        .trim_end_matches("s'");
    Some(items_of(text))
}

/// What a clause said besides its command.
#[derive(Debug, Clone, Copy, Default)]
struct Said {
    /// It had its own verb ("remove the cheese"), not only items ("and bread").
    verb: bool,
    /// It named a list, the default one included ("to my list").
    list: bool,
}

const SAID_VERB: Said = Said {
    verb: true,
    list: false,
};

/// [`PATTERNS`] grouped by first word, in their order, so a clause is compared
/// only with the phrasings that can match it.
static PATTERNS_BY_WORD: std::sync::LazyLock<
    rustc_hash::FxHashMap<&'static str, Vec<(&'static str, Intent)>>,
> = std::sync::LazyLock::new(|| {
    let mut by_word: rustc_hash::FxHashMap<&str, Vec<(&str, Intent)>> =
        rustc_hash::FxHashMap::default();
    for (p, intent) in PATTERNS {
        let first = p.split(' ').next().unwrap_or(p);
        by_word.entry(first).or_default().push((p, *intent));
    }
    by_word
});

/// Every word of every phrasing in [`PATTERNS`].
static PATTERN_WORDS: std::sync::LazyLock<rustc_hash::FxHashSet<&'static str>> =
    std::sync::LazyLock::new(|| PATTERNS.iter().flat_map(|(p, _)| p.split(' ')).collect());

/// Whether `w` alone is a phrasing ("add", "remove").
fn is_one_word_pattern(w: &str) -> bool {
    PATTERNS_BY_WORD
        .get(w)
        .is_some_and(|ps| ps.iter().any(|(p, _)| *p == w))
}

/// The first phrasing `rest` starts with, and what follows it.
fn match_pattern(rest: &str) -> Option<(Intent, &str)> {
    let first = rest.split(' ').next()?;
    PATTERNS_BY_WORD
        .get(first)?
        .iter()
        .find_map(|(p, intent)| strip_prefix_word(rest, p).map(|r| (*intent, r)))
}

/// Command words whose misspellings are corrected ("remvoe", "chekc", "mkae").
const VERBS: &[&str] = &[
    "add", "remove", "delete", "check", "make", "clear", "show", "what's", "undo", "forget",
    "scratch", "change", "total", "price", "help", "need", "grab", "empty", "cancel", "update",
    "replace", "cross", "put", "take", "much",
];

/// The clause with a misspelt command word in its first two words corrected,
/// when that makes it start with a known phrasing.
fn correct_verb(rest: &str) -> Option<String> {
    let words: Vec<&str> = rest.split(' ').collect();
    for k in 0..words.len().min(2) {
        let w = words[k];
        if w == "ad" && k == 0 {
            let text = format!("add{}", &rest[2..]);
            return Some(text);
        }
        if w.len() < 3 || VERBS.contains(&w) || is_one_word_pattern(w) {
            continue;
        }
        let fix = VERBS.iter().find(|v| {
            v.len() >= 3 && v.as_bytes()[0] == w.as_bytes()[0] && strsim::osa_distance(v, w) == 1
        });
        if let Some(fix) = fix {
            let mut fixed = words.clone();
            fixed[k] = fix;
            let text = fixed.join(" ");
            if match_pattern(&text).is_some() {
                return Some(text);
            }
        }
    }
    None
}

/// Verbs of an assistant's other jobs: a clause opening with one is not a list
/// of items.
const NOT_SHOPPING_VERBS: &[&str] = &[
    "play",
    "call",
    "text",
    "message",
    "email",
    "send",
    "turn",
    "dim",
    "translate",
    "book",
    "schedule",
    "remind",
    "wake",
    "navigate",
    "define",
    "spell",
    "calculate",
    "convert",
    "tweet",
    "post",
    "stream",
    "watch",
    "listen",
    "dial",
    "ring",
    "unlock",
    "lock",
];

/// Greetings and small talk.
const GREETINGS: &[&str] = &[
    "good morning",
    "good afternoon",
    "good evening",
    "good night",
    "i love you",
    "thank you",
    "thanks",
    "how are you",
    "hello there",
    "bye",
    "goodbye",
    "see you",
];

/// Words that make an "item" read like part of a sentence.
const SENTENCE_WORDS: &[&str] = &[
    "is", "are", "was", "were", "it", "that", "this", "for", "to", "about", "what", "why", "how",
    "when", "who", "you", "your", "i", "we", "they", "he", "she", "be", "been", "do", "does",
    "did", "should", "would", "could", "will", "can", "if", "so", "out", "me", "my",
];

/// Words that name a variant of an item ("make the milk *organic*").
const VARIANT_WORDS: &[&str] = &[
    "organic",
    "decaf",
    "regular",
    "large",
    "small",
    "medium",
    "whole",
    "skim",
    "diet",
    "unsalted",
    "salted",
    "unsweetened",
    "sweetened",
    "plain",
    "frozen",
    "fresh",
    "bigger",
    "smaller",
    "lowfat",
    "nonfat",
    "gluten-free",
    "vegan",
    "sugar-free",
    "caffeine-free",
    "spicy",
    "mild",
];

/// Understand one clause, and say what else it said.
fn command_with_verb(clause: &str) -> (Command, f32, Said) {
    let said_help = matches!(
        clause.trim().trim_end_matches(['?', '!', '.']),
        "help me" | "help me please" | "please help me" | "can you help me" | "help me out"
    );
    let clause = drop_fillers(clause.trim());
    // "what lists do i have", "show me all my lists": a read of the lists
    // (the agent names them all).
    if asks_for_lists(clause) {
        return (
            Command {
                intent: Intent::Show,
                list: None,
                from: None,
                items: Vec::new(),
            },
            0.9,
            SAID_VERB,
        );
    }
    if let Some(cmd) = create_list_command(clause) {
        return (cmd, 0.9, SAID_VERB);
    }
    // "help me": the polite opening is the whole request.
    if said_help {
        return (
            Command {
                intent: Intent::Help,
                list: None,
                from: None,
                items: Vec::new(),
            },
            0.9,
            SAID_VERB,
        );
    }
    let (rest, mut list, named_list) = take_list(clause);
    let rest = drop_fillers(rest.trim());
    // "rename the costco list to bulk": the list phrase was the old name
    // ("the shopping list" the default one, named; "the list" the one talked
    // about); "rename costco to bulk".
    if let Some((old, new)) = renamed_to(rest) {
        let default_named = ["shopping list", "grocery list", "groceries list"]
            .iter()
            .any(|n| clause.contains(n));
        let from = old
            .or(list)
            .or_else(|| default_named.then(|| crate::lists::DEFAULT_LIST.to_string()));
        return (
            Command {
                intent: Intent::RenameList,
                list: Some(new),
                from,
                items: Vec::new(),
            },
            0.9,
            Said {
                verb: true,
                list: named_list,
            },
        );
    }
    // "the milk is in the cart"; "any deals on coffee", "is there a cheaper milk".
    let cued = in_cart(rest)
        .map(|items| (Intent::Check, items))
        .or_else(|| cue_command(rest));
    if let Some((intent, items)) = cued {
        return (
            Command {
                intent,
                list,
                from: None,
                items,
            },
            0.85,
            Said {
                verb: true,
                list: named_list,
            },
        );
    }
    // "go to the list", "switch to the costco list": only the way in.
    if named_list && matches!(rest, "go" | "go back" | "switch" | "switch to" | "open") {
        return (
            Command {
                intent: Intent::Show,
                list,
                from: None,
                items: Vec::new(),
            },
            0.8,
            Said {
                verb: true,
                list: true,
            },
        );
    }
    let corrected;
    let mut rest = rest;
    let mut found = match_pattern(rest);
    // "remvoe the milk", "chekc off bread", "dont forgt": a typo in the verb.
    if found.is_none()
        && let Some(fixed) = correct_verb(rest)
    {
        corrected = fixed;
        rest = corrected.as_str();
        found = match_pattern(rest);
    }
    let question = rest.split(' ').next().is_some_and(|w| {
        matches!(
            w,
            "what"
                | "what's"
                | "whats"
                | "how"
                | "where"
                | "when"
                | "who"
                | "why"
                | "which"
                | "does"
                | "do"
                | "did"
                | "is"
                | "are"
                | "can"
                | "could"
                | "would"
                | "will"
                | "should"
                | "was"
                | "were"
                | "has"
                | "have"
                | "tell"
                | "any"
                | "whose"
                | "whom"
        )
    });
    // "tell me how much the juice is": the question after the opening.
    if let Some((Intent::Show, tail)) = found
        && [
            "tell me ",
            "can you tell me ",
            "let me know ",
            "i want to know ",
        ]
        .iter()
        .any(|p| rest.starts_with(p))
        && let Some((other, t)) = match_pattern(tail)
    {
        found = Some((other, t));
    }
    // "actually we already have rice": "actually" only softens another verb.
    if let Some((Intent::Update, tail)) = found
        && rest.starts_with("actually ")
        && let Some((other, t)) = match_pattern(tail)
        && other != Intent::Update
    {
        found = Some((other, t));
    }
    // No verb at the start: a strong verb later in the clause ("this item should
    // be removed from the list", "on my to dos remove mop kitchen").
    let found = found.or_else(|| {
        let words: Vec<&str> = rest.split(' ').collect();
        words.iter().enumerate().skip(1).find_map(|(k, w)| {
            let intent = match *w {
                "remove" | "removed" | "delete" | "deleted" | "scratch" => Intent::Remove,
                "add" | "added" => Intent::Add,
                "create" | "created" => Intent::CreateList,
                _ => return None,
            };
            let tail_start = rest.len() - words[k + 1..].join(" ").len();
            Some((intent, rest[tail_start..].trim_start()))
        })
    });
    // "double the ground beef", "halve it": the line's quantity times a
    // factor (only with "the", "my" or a pronoun: "double cream" is cream).
    let scaling = if found.is_none() { scaled(rest) } else { None };
    let (mut intent, tail, mut confidence) = match found {
        Some((intent, tail)) => (intent, tail, 0.95),
        // Items said onto a list with no verb: "eggs on the shopping list please".
        None if named_list
            && !question
            && !strip_trailing(rest).is_empty()
            && strip_trailing(clause).ends_with("list")
            && [" on the ", " on my ", " to the ", " to my ", " onto "]
                .iter()
                .any(|p| clause.contains(p))
            && !rest.split(' ').any(|w| {
                matches!(
                    w,
                    "anything" | "everything" | "left" | "else" | "item" | "items"
                )
            }) =>
        {
            (Intent::Add, rest, 0.7)
        }
        // "costco list: paper towels and toilet paper": items after a list
        // named first.
        None if list
            .as_deref()
            .is_some_and(|l| clause.starts_with(&format!("{l} list")))
            && !question
            && !rest.split(' ').any(|w| {
                matches!(
                    w,
                    "what"
                        | "contains"
                        | "has"
                        | "have"
                        | "it"
                        | "everything"
                        | "left"
                        | "today"
                        | "tell"
                        | "show"
                )
            })
            && !items_of(rest).is_empty() =>
        {
            (Intent::Add, rest, 0.7)
        }
        // A named list and no verb: "my costco list", "to do list for today".
        None if named_list => (Intent::Show, rest, 0.7),
        // A question with no shopping verb: about a list if one is named.
        None if question => (Intent::Show, rest, 0.5),
        // No verb: a bare item list is an add ("milk and eggs").
        None => (Intent::Add, rest, 0.7),
    };
    // "is bacon on my list, add it if not": the request is to add.
    let wants_add = |s: &str| {
        s.split([' ', ',']).any(|w| matches!(w, "add" | "put"))
            && (s.contains(" if ")
                || s.contains(" not")
                || s.contains("add it")
                || s.contains("put it"))
    };
    let mut tail = tail;
    if intent == Intent::Show && wants_add(clause) {
        intent = Intent::Add;
        // "is paprika listed, please add it": the item is before the request to add.
        tail = [",", " if ", " please add", " add it", " put it"]
            .iter()
            .filter_map(|p| tail.find(p))
            .min()
            .map_or(tail, |at| &tail[..at]);
    }
    // "what does my list come to", "what does the party list have on it".
    // "how much is my list", "what's the costco list going to cost", "give me
    // the total": the list's total.
    let about_total = rest.split(' ').any(|w| w == "total")
        || ["cost", "come to", "gonna be", "going to be", "spend"]
            .iter()
            .any(|p| rest.contains(p));
    if matches!(intent, Intent::Price | Intent::Show) && named_list && about_total
        || intent == Intent::Show && rest.split(' ').any(|w| w == "total")
    {
        intent = Intent::Total;
    } else if intent == Intent::Price && named_list {
        intent = if rest.starts_with("how much") {
            Intent::Total
        } else {
            Intent::Show
        };
    }
    // "what's a box of cheerios cost": a question ending in "cost" is a price.
    if intent == Intent::Show
        && !named_list
        && ["cost", "costs", "go for", "run", "sell for"]
            .iter()
            .any(|e| strip_trailing(rest).ends_with(e) || rest.ends_with(e))
    {
        intent = Intent::Price;
    }
    // "check it off", "get that off my list": crossing or taking off.
    let says_off = clause.ends_with(" off")
        || [" off the ", " off my ", " off our ", " off of "]
            .iter()
            .any(|p| clause.contains(p));
    if intent == Intent::Show && says_off && rest.starts_with("check") {
        intent = Intent::Check;
    } else if intent == Intent::Add && says_off && !rest.starts_with("add") {
        intent = Intent::Remove;
    }
    // "put the bread on the costco list instead": it moves there.
    if intent == Intent::Add
        && list.is_some()
        && clause
            .trim_end_matches(['.', '!', ' '])
            .ends_with(" instead")
    {
        intent = Intent::Move;
    }
    // "move the bread from the party list to costco": where from.
    let mut from = None;
    if intent == Intent::Move {
        // The default list, named ("to my shopping list"), came back unnamed.
        if list.is_none() && named_list {
            list = Some(crate::lists::DEFAULT_LIST.to_string());
        }
        if let Some((items, source)) = tail.split_once(" from ") {
            tail = items;
            from = list_called(source);
        }
        // "move the eggs from the party list to costco": the list phrase
        // taken off was where from; where to follows "to".
        if let Some((items, to)) = tail.rsplit_once(" to ")
            && let Some(to) = list_called(to)
        {
            tail = items;
            from = from.or_else(|| list.take());
            list = Some(to);
        }
        tail = tail.trim_end_matches(" over").trim_end_matches(" to");
    }
    // The line and its change known already: by a factor, or "increase the
    // ground beef by a pound" (an add of a pound of it) and "decrease the
    // eggs by 2" (a remove of 2).
    let known = if let Some(item) = scaling {
        intent = Intent::Update;
        confidence = 0.95;
        Some(item)
    } else if intent == Intent::Update
        && let Some((by, item)) = by_amount(rest, tail)
    {
        intent = by;
        Some(item)
    } else {
        None
    };
    let mut kept = Vec::new();
    let mut items = if let Some(item) = known {
        vec![item]
    } else {
        match intent {
            Intent::Show | Intent::Total | Intent::Deals | Intent::Price | Intent::Compare => {
                let mut t = tail;
                for lead in [
                    "on ", "the ", "there ", "to get ", "to buy ", "any ", "already ", "put ",
                    "added ", "add ", "is ", "are ",
                ] {
                    t = t.strip_prefix(lead).unwrap_or(t);
                }
                items_of(t)
            }
            // "remove everything except the milk": what stays.
            Intent::Clear => {
                kept = kept_items(tail);
                Vec::new()
            }
            Intent::Undo | Intent::Help | Intent::CheckAll | Intent::ClearChecked => Vec::new(),
            Intent::Update => update_items(tail, rest.starts_with("make the ")),
            _ => items_of(tail),
        }
    };
    // "how much is everything": a price with nothing named is the total.
    if intent == Intent::Price && items.is_empty() {
        intent = Intent::Total;
    }
    // "i need 4 of those instead": a new amount for the last item.
    if intent == Intent::Add
        && items.is_empty()
        && let Some(at) = [
            " of those",
            " of them",
            " of that",
            " of these",
            " more of those",
        ]
        .iter()
        .find_map(|p| strip_trailing(tail).strip_suffix(p))
        && let Some((amount, unit)) = super::item::measure_of(at)
    {
        intent = Intent::Update;
        items = vec![ItemPhrase::bare(amount, unit)];
    }
    // "is milk on my list" keeps "milk"; "add if it's not" leaves nothing extra.
    if intent == Intent::Add && items.is_empty() {
        if let Some(q) = clause
            .strip_prefix("is ")
            .or_else(|| clause.strip_prefix("are "))
        {
            let q = q.split(" on ").next().unwrap_or(q);
            items = items_of(q);
        } else if let Some(q) = clause.strip_prefix("do i have ") {
            let q = q.split(" on ").next().unwrap_or(q);
            items = items_of(q);
        }
    }
    // Deleting or clearing a named list with nothing else is about the list.
    let nothing_said = strip_trailing(tail).is_empty();
    if intent == Intent::Remove && named_list && items.is_empty() && nothing_said {
        intent = Intent::DeleteList;
    }
    // "take everything off the list", "remove all the items": the whole list.
    if intent == Intent::Remove
        && !clause.contains("lists")
        && matches!(
            strip_trailing(tail),
            "everything" | "all" | "all items" | "all the items" | "every item" | "it all"
        )
    {
        intent = Intent::Clear;
    }
    // "scratch that one from the list": the last item, not the last change.
    if intent == Intent::Undo && named_list {
        intent = Intent::Remove;
    }
    if intent == Intent::CreateList && !named_list && !clause.contains("list") {
        // "make a cake" is not about lists; "make a new shopping list" is.
        intent = if items.is_empty() {
            Intent::Unknown
        } else {
            Intent::Add
        };
        confidence = 0.5;
    }
    if intent == Intent::Show
        && items.is_empty()
        && !named_list
        && found.is_some_and(|(_, t)| !t.is_empty())
    {
        confidence = 0.6;
    }
    // Generic question openings ("what's", "is", "show") are about a list only
    // when a list is mentioned: "what's the weather" is not.
    let strong_show = found.is_some_and(|(_, _)| {
        [
            "what do",
            "what have i",
            "what have we",
            "what did i",
            "what did we",
            "did i add",
            "did i put",
            "did i already",
            "have i added",
            "have we added",
            "have i already added",
            "have we already added",
            "have i put",
            "have we put",
            "remind me what",
            "read it back",
            "read back",
            "do i need",
            "do we need",
            "what else",
            "what's left",
            "what is left",
            "what's on",
            "whats on",
            "what is on",
        ]
        .iter()
        .any(|p| rest.starts_with(p))
    });
    if intent == Intent::Show && !named_list && !strong_show && !rest.contains(" list") {
        intent = Intent::Unknown;
        confidence = 0.4;
    }
    if found.is_none() && items.is_empty() {
        intent = if named_list {
            Intent::Show
        } else {
            Intent::Unknown
        };
        confidence = if named_list { 0.8 } else { 0.3 };
    }
    // "play some music", "call mom", "set a timer": an assistant's other jobs.
    let first = rest.split(' ').next().unwrap_or("");
    let about_lists = named_list || clause.split(' ').any(|w| w.starts_with("list"));
    let other_job = (found.is_none() && !about_lists && NOT_SHOPPING_VERBS.contains(&first))
        || (intent == Intent::Update
            && first == "set"
            && rest
                .split(' ')
                .any(|w| matches!(w, "alarm" | "timer" | "reminder" | "alarms" | "timers")))
        || GREETINGS.contains(&strip_trailing(rest));
    if other_job {
        intent = Intent::Unknown;
        confidence = 0.4;
    }
    let items = match intent {
        Intent::Clear => kept,
        Intent::CreateList
        | Intent::DeleteList
        | Intent::Undo
        | Intent::Help
        | Intent::Total
        | Intent::Unknown => Vec::new(),
        _ => items,
    };
    // Items with no verb are a guess; a guess whose "items" read like a sentence
    // ("the guac situation is dire") is a poor one, worth a second opinion.
    if found.is_none()
        && intent == Intent::Add
        && items.iter().any(|i| {
            i.name.split(' ').count() > 4
                || i.name.split(' ').any(|w| SENTENCE_WORDS.contains(&w))
                // "asdfghjkl": no word of it names anything the catalog sells.
                || !i.name.split(' ').any(|w| KIND_WORDS.contains(&kind_key(w)))
        })
    {
        confidence = f32::min(confidence, 0.4);
    }
    (
        Command {
            intent,
            list,
            from,
            items,
        },
        confidence,
        Said {
            verb: found.is_some(),
            list: named_list,
        },
    )
}

/// Understand a request. Never fails: text that is not about shopping gives one
/// `Unknown` command.
pub fn parse_request(text: &str) -> Understanding {
    let norm = normalise(super::clamp_text(text));
    let mut commands: Vec<Command> = Vec::new();
    let mut confidence: f32 = 1.0;
    for clause in clauses(&norm) {
        let (mut cmd, c, said) = command_with_verb(&clause);
        confidence = confidence.min(c);
        // "remove the ham from the party list and the chips from my list": a
        // clause with only items does what the one before it did.
        if !said.verb
            && cmd.intent == Intent::Add
            && let Some(prev) = commands.last()
            && matches!(prev.intent, Intent::Remove | Intent::Check | Intent::Add)
        {
            cmd.intent = prev.intent;
        }
        // A later clause without its own list inherits the previous one's.
        let cmd = match (commands.last().filter(|_| !said.list), cmd) {
            (
                Some(Command { list: Some(l), .. }),
                Command {
                    intent,
                    list: None,
                    from,
                    items,
                },
            ) => Command {
                intent,
                list: Some(l.clone()),
                from,
                items,
            },
            (_, cmd) => cmd,
        };
        // "we need milk, not eggs", "add milk but not eggs": the eggs are
        // not wanted; off the list if there.
        let mut cmd = cmd;
        let mut not_wanted = Vec::new();
        if cmd.intent == Intent::Add {
            cmd.items.retain_mut(|i| match i.name.strip_prefix("not ") {
                Some(name) if !name.trim().is_empty() => {
                    i.name = name.trim().to_string();
                    not_wanted.push(i.clone());
                    false
                }
                _ => true,
            });
        }
        let remove = (!not_wanted.is_empty()).then(|| Command {
            intent: Intent::Remove,
            list: cmd.list.clone(),
            from: None,
            items: not_wanted,
        });
        // "is bacon on my list? add it if not": the add refers back to the question.
        if cmd.intent == Intent::Add
            && cmd.items.is_empty()
            && let Some(prev) = commands.last_mut()
            && prev.intent == Intent::Show
            && !prev.items.is_empty()
        {
            prev.intent = Intent::Add;
            continue;
        }
        if !(cmd.intent == Intent::Add && cmd.items.is_empty() && remove.is_some()) {
            commands.push(cmd);
        }
        commands.extend(remove);
    }
    // "open the grocery list and add milk": opening is only the way in.
    if commands.len() > 1 {
        let n = commands.len();
        let mut k = 0;
        commands.retain(|c| {
            k += 1;
            !(k < n && c.intent == Intent::Show && c.items.is_empty())
        });
    }
    // "that was a mistake, undo it": one undo, not two.
    commands.dedup_by(|b, a| {
        a.intent == b.intent
            && a.list == b.list
            && a.items.is_empty()
            && b.items.is_empty()
            && matches!(
                a.intent,
                Intent::Undo | Intent::Help | Intent::Total | Intent::Show | Intent::Clear
            )
    });
    // Unknown clauses beside understood ones are noise ("thanks").
    if commands.iter().any(|c| c.intent != Intent::Unknown) {
        commands.retain(|c| c.intent != Intent::Unknown);
    }
    if commands.is_empty() {
        commands.push(Command {
            intent: Intent::Unknown,
            list: None,
            from: None,
            items: Vec::new(),
        });
        confidence = 0.2;
    }
    Understanding {
        commands,
        confidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(c: &Command) -> Vec<&str> {
        c.items.iter().map(|i| i.name.as_str()).collect()
    }

    /// (text, [(intent, list, item names)])
    #[allow(clippy::type_complexity)]
    const CASES: &[(&str, &[(Intent, Option<&str>, &[&str])])] = &[
        ("make a new list", &[(Intent::CreateList, None, &[])]),
        ("clear checked items", &[(Intent::ClearChecked, None, &[])]),
        (
            "remove everything except the milk",
            &[(Intent::Clear, None, &["milk"])],
        ),
        (
            "clear the costco list but milk and eggs",
            &[(Intent::Clear, Some("costco"), &["milk", "eggs"])],
        ),
        (
            "we need milk, not eggs",
            &[
                (Intent::Add, None, &["milk"]),
                (Intent::Remove, None, &["eggs"]),
            ],
        ),
        (
            "add coffee but not tea",
            &[
                (Intent::Add, None, &["coffee"]),
                (Intent::Remove, None, &["tea"]),
            ],
        ),
        (
            "remove the checked off items from the costco list",
            &[(Intent::ClearChecked, Some("costco"), &[])],
        ),
        (
            "delete completed items",
            &[(Intent::ClearChecked, None, &[])],
        ),
        (
            "remove what we bought",
            &[(Intent::ClearChecked, None, &[])],
        ),
        ("clear the list", &[(Intent::Clear, None, &[])]),
        ("check off everything", &[(Intent::CheckAll, None, &[])]),
        ("we got everything", &[(Intent::CheckAll, None, &[])]),
        (
            "mark all the items on my costco list",
            &[(Intent::CheckAll, Some("costco"), &[])],
        ),
        ("uncheck the milk", &[(Intent::Uncheck, None, &["milk"])]),
        (
            "unmark eggs and bread",
            &[(Intent::Uncheck, None, &["eggs", "bread"])],
        ),
        ("check off the milk", &[(Intent::Check, None, &["milk"])]),
        ("have i added coffee", &[(Intent::Show, None, &["coffee"])]),
        (
            "have we got milk on the list",
            &[(Intent::Show, None, &["milk"])],
        ),
        (
            "have i already added bread",
            &[(Intent::Show, None, &["bread"])],
        ),
        (
            "put eggs back on the list",
            &[(Intent::Add, None, &["eggs"])],
        ),
        ("add the milk back", &[(Intent::Add, None, &["milk"])]),
        (
            "start a new shopping list",
            &[(Intent::CreateList, None, &[])],
        ),
        (
            "create a list called camping",
            &[(Intent::CreateList, Some("camping"), &[])],
        ),
        (
            "start a list of dog names",
            &[(Intent::CreateList, Some("dog names"), &[])],
        ),
        (
            "begin a new bbq list please",
            &[(Intent::CreateList, Some("bbq"), &[])],
        ),
        ("make sure to add milk", &[(Intent::Add, None, &["milk"])]),
        (
            "make sure walnuts are on my shopping list",
            &[(Intent::Add, None, &["walnuts"])],
        ),
        (
            "write apples on the list",
            &[(Intent::Add, None, &["apples"])],
        ),
        (
            "eggs on the costco list please",
            &[(Intent::Add, Some("costco"), &["eggs"])],
        ),
        (
            "is paprika on my list, please add it",
            &[(Intent::Add, None, &["paprika"])],
        ),
        ("do i need to get milk", &[(Intent::Show, None, &["milk"])]),
        (
            "what does my shopping list consist of",
            &[(Intent::Show, None, &[])],
        ),
        (
            "we're out of soap so take candles off the list",
            &[
                (Intent::Add, None, &["soap"]),
                (Intent::Remove, None, &["candles"]),
            ],
        ),
        (
            "scratch that one from the list",
            &[(Intent::Remove, None, &[])],
        ),
        ("clean out the list", &[(Intent::Clear, None, &[])]),
        (
            "add 2 gallons of milk and a dozen eggs",
            &[(Intent::Add, None, &["milk", "eggs"])],
        ),
        ("we're out of coffee", &[(Intent::Add, None, &["coffee"])]),
        (
            "I need bread, butter & jam",
            &[(Intent::Add, None, &["bread", "butter", "jam"])],
        ),
        (
            "hey can you add mac and cheese please",
            &[(Intent::Add, None, &["mac and cheese"])],
        ),
        (
            "add salt and pepper",
            &[(Intent::Add, None, &["salt", "pepper"])],
        ),
        (
            "put half and half on the costco list",
            &[(Intent::Add, Some("costco"), &["half and half"])],
        ),
        (
            "add eggs and remove the cheese",
            &[
                (Intent::Add, None, &["eggs"]),
                (Intent::Remove, None, &["cheese"]),
            ],
        ),
        (
            "scratch the bananas",
            &[(Intent::Remove, None, &["bananas"])],
        ),
        (
            "take milk off my grocery list",
            &[(Intent::Remove, None, &["milk"])],
        ),
        ("I got the milk", &[(Intent::Check, None, &["milk"])]),
        ("what do I still need", &[(Intent::Show, None, &[])]),
        ("what's on my shopping list", &[(Intent::Show, None, &[])]),
        (
            "how much is a gallon of milk",
            &[(Intent::Price, None, &["milk"])],
        ),
        ("what's my total", &[(Intent::Total, None, &[])]),
        ("any deals on coffee", &[(Intent::Deals, None, &["coffee"])]),
        ("start over", &[(Intent::Clear, None, &[])]),
        ("undo", &[(Intent::Undo, None, &[])]),
        ("make that 3", &[(Intent::Update, None, &[""])]),
        (
            "change the milk to 2 gallons",
            &[(Intent::Update, None, &["milk"])],
        ),
        (
            "create a party list",
            &[(Intent::CreateList, Some("party"), &[])],
        ),
        (
            "delete my costco list",
            &[(Intent::DeleteList, Some("costco"), &[])],
        ),
        (
            "what's the weather tomorrow",
            &[(Intent::Unknown, None, &[])],
        ),
        (
            "grab some eggs on the way home",
            &[(Intent::Add, None, &["eggs"])],
        ),
        (
            "remind me to buy bread next time i go shopping",
            &[(Intent::Add, None, &["bread"])],
        ),
        (
            "don't forget the avocados",
            &[(Intent::Add, None, &["avocados"])],
        ),
        (
            "is bacon on my shopping list, add it if it's not",
            &[(Intent::Add, None, &["bacon"])],
        ),
    ];

    #[test]
    fn understands_the_table() {
        for (text, expected) in CASES {
            let u = parse_request(text);
            let got: Vec<(Intent, Option<&str>, Vec<&str>)> = u
                .commands
                .iter()
                .map(|c| (c.intent, c.list.as_deref(), names(c)))
                .collect();
            let want: Vec<(Intent, Option<&str>, Vec<&str>)> = expected
                .iter()
                .map(|(i, l, n)| (*i, *l, n.to_vec()))
                .collect();
            assert_eq!(got, want, "{text}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]
        /// Any text at all: at least one command, confidence in range, no panic.
        #[test]
        fn any_text_is_understood_or_unknown(text in "\\PC{0,200}") {
            let u = parse_request(&text);
            proptest::prop_assert!(!u.commands.is_empty());
            proptest::prop_assert!((0.0..=1.0).contains(&u.confidence));
            for c in &u.commands {
                for i in &c.items {
                    proptest::prop_assert!(!i.name.is_empty() || c.intent == Intent::Update);
                }
            }
        }

        /// Grocery-shaped text built from the grammar's own pieces.
        #[test]
        fn grammar_shaped_text_never_panics(
            verb in proptest::sample::select(vec!["add", "remove", "i need", "we're out of", "scratch", "make that", "i got", ""]),
            qty in proptest::sample::select(vec!["", "2", "1/2", "½", "a dozen", "two", "2-3", "a 12 pack of", "one 5 lb bag of", "10^12", "99999999999"]),
            unit in proptest::sample::select(vec!["", "gallons of", "lb", "cans", "fl oz", "x"]),
            item in "[a-z ]{0,20}",
            list in proptest::sample::select(vec!["", " to my costco list", " from the list", " on my list"]),
        ) {
            let text = format!("{verb} {qty} {unit} {item}{list}");
            let u = parse_request(&text);
            proptest::prop_assert!(!u.commands.is_empty());
        }
    }

    #[test]
    fn never_panics_and_always_answers() {
        for text in [
            "",
            "   ",
            "\u{0}\u{7}",
            "🥛🥚",
            "牛奶を買う",
            &"milk ".repeat(20_000),
            "add 10^12 eggs",
            "add 99999999999999999999 eggs",
        ] {
            let u = parse_request(text);
            assert!(!u.commands.is_empty());
            assert!((0.0..=1.0).contains(&u.confidence));
        }
    }

    /// "The ingredients for tacos" asks for a dish, not for an item called
    /// "ingredients"; other items with a purpose keep it as their note.
    #[test]
    fn a_dish_is_asked_for_by_its_ingredients() {
        // (text, [(item name, dish)])
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, &[(&str, Option<&str>)])] = &[
            (
                "add the ingredients for tacos",
                &[("ingredients", Some("tacos"))],
            ),
            ("add taco ingredients", &[("ingredients", Some("taco"))]),
            (
                "get everything for a caesar salad",
                &[("ingredients", Some("caesar salad"))],
            ),
            (
                "add stuff for pancakes",
                &[("ingredients", Some("pancakes"))],
            ),
            (
                "we need stuff to make pancakes and a dozen eggs",
                &[("ingredients", Some("pancakes")), ("eggs", None)],
            ),
            (
                "add milk and the ingredients for mac and cheese",
                &[("milk", None), ("ingredients", Some("mac and cheese"))],
            ),
            (
                "add what we need for chili",
                &[("ingredients", Some("chili"))],
            ),
            ("add milk for the kids", &[("milk", None)]),
            (
                "add 2 cans of tomatoes for the sauce",
                &[("tomatoes", None)],
            ),
            ("add party supplies", &[("party supplies", None)]),
            (
                "add fresh ginger ingredients",
                &[("fresh ginger ingredients", None)],
            ),
        ];
        for (text, want) in cases {
            let u = parse_request(text);
            assert_eq!(u.commands.len(), 1, "{text}: {:?}", u.commands);
            let c = &u.commands[0];
            assert_eq!(c.intent, Intent::Add, "{text}");
            let got: Vec<(&str, Option<&str>)> = c
                .items
                .iter()
                .map(|i| (i.name.as_str(), i.dish()))
                .collect();
            assert_eq!(&got, want, "{text}");
        }
    }

    /// A command's items as (name, amount, unit code), for the tables.
    fn amounts(c: &Command) -> Vec<(&str, Option<f64>, Option<&str>)> {
        c.items
            .iter()
            .map(|i| {
                (
                    i.name.as_str(),
                    i.amount.map(|a| a.to_f64()),
                    i.unit.map(|u| u.code()),
                )
            })
            .collect()
    }

    /// "Another gallon of milk", "2 more cans of soup": the item with its
    /// amount (adding onto a line adds to it); "another" alone is no item.
    #[test]
    fn more_of_an_item_is_the_item_and_its_amount() {
        // (text, [(name, amount, unit)])
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, &[(&str, Option<f64>, Option<&str>)])] = &[
            (
                "add another gallon of milk",
                &[("milk", Some(1.0), Some("gal"))],
            ),
            (
                "add one more gallon of milk",
                &[("milk", Some(1.0), Some("gal"))],
            ),
            (
                "add 2 more cans of soup",
                &[("soup", Some(2.0), Some("can"))],
            ),
            ("add another milk", &[("milk", Some(1.0), None)]),
            (
                "add another 2 pounds of chicken",
                &[("chicken", Some(2.0), Some("lb"))],
            ),
            (
                "i need another bag of rice and 2 more boxes of cereal",
                &[
                    ("rice", Some(1.0), Some("bag")),
                    ("cereal", Some(2.0), Some("box")),
                ],
            ),
            (
                "add three additional lemons",
                &[("lemons", Some(3.0), None)],
            ),
            ("add eggs x2", &[("eggs", Some(2.0), None)]),
            (
                "add limes x 6 and milk",
                &[("limes", Some(6.0), None), ("milk", None, None)],
            ),
            ("add more milk", &[("milk", None, None)]),
            ("add another", &[]),
            ("add another one", &[]),
            ("add more", &[]),
        ];
        for (text, want) in cases {
            let u = parse_request(text);
            assert_eq!(u.commands.len(), 1, "{text}: {:?}", u.commands);
            assert_eq!(&amounts(&u.commands[0]), want, "{text}");
        }
    }

    /// An update naming a line then its amount ("make the eggs 6") changes
    /// that line; "increase the X by N" adds N of X and "decrease the X by N"
    /// removes N of it; "increase it by 2" is understood as nothing to change.
    #[test]
    fn an_update_names_its_line_or_says_by_how_much() {
        // (text, intent, [(name, amount, unit)])
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, Intent, &[(&str, Option<f64>, Option<&str>)])] = &[
            (
                "make the eggs 6",
                Intent::Update,
                &[("eggs", Some(6.0), None)],
            ),
            (
                "make the milk 3",
                Intent::Update,
                &[("milk", Some(3.0), None)],
            ),
            (
                "change the ground beef 4 pounds",
                Intent::Update,
                &[("ground beef", Some(4.0), Some("lb"))],
            ),
            (
                "change my milk to 2 gallons",
                Intent::Update,
                &[("milk", Some(2.0), Some("gal"))],
            ),
            ("make that 3", Intent::Update, &[("", Some(3.0), None)]),
            (
                "increase the ground beef by 1 pound",
                Intent::Add,
                &[("ground beef", Some(1.0), Some("lb"))],
            ),
            (
                "bump the rice up by 2 bags",
                Intent::Add,
                &[("rice", Some(2.0), Some("bag"))],
            ),
            (
                "decrease the eggs by 2",
                Intent::Remove,
                &[("eggs", Some(2.0), None)],
            ),
            ("increase it by 2", Intent::Update, &[]),
            ("increase that by a pound", Intent::Update, &[]),
        ];
        for (text, intent, want) in cases {
            let u = parse_request(text);
            assert_eq!(u.commands.len(), 1, "{text}: {:?}", u.commands);
            assert_eq!(u.commands[0].intent, *intent, "{text}");
            assert_eq!(&amounts(&u.commands[0]), want, "{text}");
        }
    }

    /// "Double the ground beef", "halve it": an update of that line (or the
    /// last item) by a factor; "double cream" and "triple sec" stay items.
    #[test]
    fn doubling_a_line_is_an_update_by_a_factor() {
        // (text, intent, the item's name and factor)
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, Intent, (&str, Option<f64>))] = &[
            (
                "double the ground beef",
                Intent::Update,
                ("ground beef", Some(2.0)),
            ),
            ("triple my eggs", Intent::Update, ("eggs", Some(3.0))),
            (
                "quadruple the oat milk",
                Intent::Update,
                ("oat milk", Some(4.0)),
            ),
            ("halve it", Intent::Update, ("", Some(0.5))),
            ("double that please", Intent::Update, ("", Some(2.0))),
            ("add double cream", Intent::Add, ("double cream", None)),
            ("double cream", Intent::Add, ("double cream", None)),
            ("triple sec", Intent::Add, ("triple sec", None)),
        ];
        for (text, intent, (name, times)) in cases {
            let u = parse_request(text);
            assert_eq!(u.commands.len(), 1, "{text}: {:?}", u.commands);
            let c = &u.commands[0];
            assert_eq!(c.intent, *intent, "{text}");
            assert_eq!(c.items.len(), 1, "{text}: {:?}", c.items);
            assert_eq!(c.items[0].name, *name, "{text}");
            assert_eq!(c.items[0].times.map(|t| t.to_f64()), *times, "{text}");
            assert!(c.items[0].modifiers.is_empty() || times.is_none(), "{text}");
        }
    }

    /// A move names where to (`list`) and maybe where from (`from`).
    #[test]
    fn a_move_names_where_to_and_where_from() {
        // (text, to, from, items)
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, Option<&str>, Option<&str>, &[&str])] = &[
            (
                "move the bread to the costco list",
                Some("costco"),
                None,
                &["bread"],
            ),
            ("move the milk to costco", Some("costco"), None, &["milk"]),
            (
                "move the bread from the party list to the costco list",
                Some("costco"),
                Some("party"),
                &["bread"],
            ),
            (
                "move eggs and butter from my shopping list to the costco list",
                Some("costco"),
                Some("Shopping"),
                &["eggs", "butter"],
            ),
            (
                "put the bread on the party list instead",
                Some("party"),
                None,
                &["bread"],
            ),
            (
                "transfer the rice over to the costco list",
                Some("costco"),
                None,
                &["rice"],
            ),
            (
                "move the eggs from the party list to costco",
                Some("costco"),
                Some("party"),
                &["eggs"],
            ),
            (
                "move the bread to my shopping list",
                Some("Shopping"),
                None,
                &["bread"],
            ),
            (
                "move the eggs from the shopping list to costco",
                Some("costco"),
                Some("Shopping"),
                &["eggs"],
            ),
            (
                "move the bread from the party list to my grocery list",
                Some("Shopping"),
                Some("party"),
                &["bread"],
            ),
        ];
        for (text, to, from, items) in cases {
            let u = parse_request(text);
            assert_eq!(u.commands.len(), 1, "{text}: {:?}", u.commands);
            let c = &u.commands[0];
            assert_eq!(c.intent, Intent::Move, "{text}");
            assert_eq!(c.list.as_deref(), *to, "{text}");
            assert_eq!(c.from.as_deref(), *from, "{text}");
            assert_eq!(names(c), *items, "{text}");
        }
        // Not a move: an add to a list, without "instead".
        let u = parse_request("put the bread on the party list");
        assert_eq!(u.commands[0].intent, Intent::Add);
    }

    /// Renaming a list names the new name (`list`) and the old one (`from`,
    /// `None` for the list talked about); asking for the lists is its own
    /// intent.
    #[test]
    fn lists_are_renamed_and_named() {
        // (text, new name, old name)
        let renames: &[(&str, &str, Option<&str>)] = &[
            ("rename the costco list to bulk", "bulk", Some("costco")),
            ("rename costco to bulk", "bulk", Some("costco")),
            (
                "rename the shopping list to weekly",
                "weekly",
                Some("Shopping"),
            ),
            ("rename the list to big shop", "big shop", None),
            ("rename it to bbq", "bbq", None),
            (
                "change the name of my party list to bbq",
                "bbq",
                Some("party"),
            ),
        ];
        for (text, new, old) in renames {
            let u = parse_request(text);
            let c = &u.commands[0];
            assert_eq!(c.intent, Intent::RenameList, "{text}");
            assert_eq!(c.list.as_deref(), Some(*new), "{text}");
            assert_eq!(c.from.as_deref(), *old, "{text}");
        }
        for text in [
            "what lists do i have",
            "show me all my lists",
            "How many lists do I have?",
            "hey, which lists do i have",
        ] {
            assert!(asks_for_lists(text), "{text}");
            let c = &parse_request(text).commands[0];
            assert_eq!(
                (c.intent, c.list.as_deref()),
                (Intent::Show, None),
                "{text}"
            );
        }
        for text in [
            "what's on my list",
            "show me the costco list",
            "add milk to my list",
            "delete all lists",
        ] {
            assert!(!asks_for_lists(text), "{text}");
        }
    }
}
