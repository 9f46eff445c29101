//! Requests: one sentence, possibly several commands, each with an intent, an
//! optional list name and items.
//!
//! Rule-based and allocation-light: the sentence is normalised (case, filler
//! words, punctuation), split into clauses where a new command verb starts, and
//! each clause is matched against the phrasings people use ("we're out of",
//! "scratch the", "what do I still need"). Items go through the item grammar.

use serde::{Deserialize, Serialize};

use super::item::{ItemPhrase, parse_item};

/// What a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Put items on a list.
    Add,
    /// Take items off a list.
    Remove,
    /// Change an item's quantity or variant ("make that 3").
    Update,
    /// Mark items bought.
    Check,
    /// Empty a list.
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
];

/// Phrases that start a command, most specific first, with their intent.
/// A phrase ends at a word boundary; `…` marks where the items follow.
const PATTERNS: &[(&str, Intent)] = &[
    // Undo and help.
    ("undo", Intent::Undo),
    ("take that back", Intent::Undo),
    ("scratch that", Intent::Undo),
    ("never mind that", Intent::Undo),
    ("revert", Intent::Undo),
    ("help", Intent::Help),
    ("what can you do", Intent::Help),
    ("how do i use", Intent::Help),
    ("how does this work", Intent::Help),
    // Whole lists.
    ("start over", Intent::Clear),
    ("start fresh", Intent::Clear),
    ("clear", Intent::Clear),
    ("empty", Intent::Clear),
    ("wipe", Intent::Clear),
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

/// Item names that contain "and" and stay whole.
const AND_NAMES: &[&str] = &[
    "mac and cheese",
    "macaroni and cheese",
    "half and half",
    "salt and vinegar",
    "cookies and cream",
    "pork and beans",
    "sweet and sour",
    "peanut butter and jelly",
    "franks and beans",
    "beans and franks",
    "rice and beans",
    "chips and salsa",
    "fish and chips",
    "surf and turf",
    "bread and butter pickles",
    "oil and vinegar",
    "black and white cookies",
    "ham and cheese",
    "spaghetti and meatballs",
    "chicken and rice",
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
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            '’' | '‘' | '`' => '\'',
            '&' => {
                out.push_str(" and ");
                continue;
            }
            c if c.is_alphanumeric() || "'%/.-½¼¾⅓⅔⅛,;$^".contains(c) => c,
            _ => ' ',
        };
        out.extend(c.to_lowercase());
    }
    let words: Vec<&str> = out
        .split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .collect();
    words.join(" ")
}

fn drop_fillers(mut s: &str) -> &str {
    loop {
        let before = s;
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
    for part in s.split([';', '.']) {
        let words: Vec<&str> = part.split_whitespace().collect();
        let mut cur: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let w = words[i].trim_end_matches(',');
            let comma = words[i].ends_with(',');
            let joiner = matches!(w, "and" | "then" | "but" | "also" | "plus");
            let next = words.get(i + 1).map(|n| n.trim_end_matches(','));
            let starts_command = |n: &str| CLAUSE_VERBS.contains(&n);
            if joiner && next.is_some_and(starts_command) && !cur.is_empty() {
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

/// Take a list phrase off a clause: "to my costco list", "off the party list",
/// "on my shopping list". Returns the clause without it and the list name
/// (`None` for the default list: "shopping", "grocery", "my list").
fn take_list(clause: &str) -> (String, Option<String>, bool) {
    let words: Vec<&str> = clause.split_whitespace().collect();
    let Some(pos) = words
        .iter()
        .rposition(|w| matches!(w.trim_end_matches([',', '?']), "list" | "lists" | "list's"))
    else {
        return (clause.to_string(), None, false);
    };
    // Walk back over the name to a preposition or determiner.
    let mut start = pos;
    while start > 0 && pos - start < 4 {
        let w = words[start - 1];
        if PATTERNS.iter().any(|(p, _)| p.split(' ').any(|pw| pw == w)) {
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
    let name = match name.as_str() {
        "" | "shopping" | "grocery" | "groceries" | "shopping grocery" | "grocery shopping"
        | "default" | "main" => None,
        n => Some(n.trim_end_matches("'s").to_string()),
    };
    (rest.join(" "), name, true)
}

/// Split an item list on commas, "and", "&", "plus", keeping names that contain
/// "and" whole.
fn split_items(s: &str) -> Vec<String> {
    let mut text = s.to_string();
    // Protect compound names.
    for name in AND_NAMES {
        if text.contains(name) {
            text = text.replace(name, &name.replace(" and ", " \u{1}and\u{1} "));
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
    out.into_iter()
        .map(|i| i.replace('\u{1}', ""))
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
    "when i go shopping",
    "for later",
    "again",
    "right now",
    "asap",
    "soon",
    "tonight",
];

fn strip_trailing(mut s: &str) -> &str {
    loop {
        let before = s;
        s = s.trim_end_matches([' ', ',', '?', '!']);
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
    let s = strip_trailing(s);
    let s = s
        .strip_prefix("some ")
        .or_else(|| s.strip_prefix("the "))
        .unwrap_or(s);
    if NOT_ITEMS.contains(&s.trim()) {
        return Vec::new();
    }
    split_items(s)
        .iter()
        .filter_map(|i| {
            let i = i.trim();
            let i = i.strip_prefix("the ").unwrap_or(i);
            let i = i.strip_prefix("some ").unwrap_or(i);
            if NOT_ITEMS.contains(&i) {
                return None;
            }
            parse_item(i).filter(|item| !NOT_ITEMS.contains(&item.name.as_str()))
        })
        .collect()
}

/// The target and new value of an update: "that 3" (the last item, 3), "the
/// milk to 2 gallons", "the milk organic". An item with an empty name means
/// "the item just mentioned".
fn update_items(tail: &str) -> Vec<ItemPhrase> {
    let tail = strip_trailing(tail);
    let tail = ["that ", "it ", "those ", "them ", "the "]
        .iter()
        .find_map(|p| tail.strip_prefix(p))
        .unwrap_or(tail);
    let tail = tail.trim_start_matches("one ").trim_start_matches("to ");
    let (target, value) = match tail
        .split_once(" to ")
        .or_else(|| tail.split_once(" into "))
    {
        Some((t, v)) => (t.trim(), v.trim()),
        None => ("", tail.trim()),
    };
    let value_item = parse_item(value);
    let measure_only = super::item::measure_of(value);
    match (target, value_item, measure_only) {
        // "make that 3", "make it two gallons"
        ("", None, Some((amount, unit))) => vec![ItemPhrase::bare(amount, unit)],
        // "make it organic", "actually the organic one": a variant of the last item.
        ("", Some(v), _) if v.amount.is_none() && NOT_ITEMS.contains(&v.name.as_str()) => {
            Vec::new()
        }
        ("", Some(v), _) => {
            let mut v = v;
            v.modifiers.push(std::mem::take(&mut v.name));
            vec![v]
        }
        // "change the milk to 3"
        (t, None, Some((amount, unit))) => {
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

/// Understand one clause.
fn command(clause: &str) -> (Command, f32) {
    let clause = drop_fillers(clause.trim());
    let (rest, list, named_list) = take_list(clause);
    let rest = drop_fillers(rest.trim());
    let found = PATTERNS
        .iter()
        .find_map(|(p, intent)| strip_prefix_word(rest, p).map(|r| (*intent, r)));
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
    // No verb at the start: a strong verb later in the clause ("this item should
    // be removed from the list", "on my to dos remove mop kitchen").
    let found = found.or_else(|| {
        let words: Vec<&str> = rest.split(' ').collect();
        words.iter().enumerate().skip(1).find_map(|(k, w)| {
            let intent = match *w {
                "remove" | "removed" | "delete" | "deleted" | "scratch" => Intent::Remove,
                "add" | "added" => Intent::Add,
                _ => return None,
            };
            let tail_start = rest.len() - words[k + 1..].join(" ").len();
            Some((intent, rest[tail_start..].trim_start()))
        })
    });
    let (mut intent, tail, mut confidence) = match found {
        Some((intent, tail)) => (intent, tail, 0.95),
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
            && (s.contains(" if ") || s.contains(" not"))
    };
    if intent == Intent::Show && wants_add(clause) {
        intent = Intent::Add;
    }
    let mut items = match intent {
        Intent::Show | Intent::Total | Intent::Deals | Intent::Price | Intent::Compare => {
            let t = tail
                .trim_start_matches("on ")
                .trim_start_matches("the ")
                .trim_start_matches("there ");
            items_of(t)
        }
        Intent::Undo | Intent::Help | Intent::Clear => Vec::new(),
        Intent::Update => update_items(tail),
        _ => items_of(tail),
    };
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
    if intent == Intent::Remove && named_list && items.is_empty() {
        intent = Intent::DeleteList;
    }
    if intent == Intent::CreateList && !named_list && !rest.contains("list") {
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
    let items = match intent {
        Intent::CreateList
        | Intent::DeleteList
        | Intent::Undo
        | Intent::Help
        | Intent::Clear
        | Intent::Unknown => Vec::new(),
        _ => items,
    };
    (
        Command {
            intent,
            list,
            items,
        },
        confidence,
    )
}

/// Understand a request. Never fails: text that is not about shopping gives one
/// `Unknown` command.
pub fn parse_request(text: &str) -> Understanding {
    let norm = normalise(super::clamp_text(text));
    let mut commands = Vec::new();
    let mut confidence: f32 = 1.0;
    for clause in clauses(&norm) {
        let (cmd, c) = command(&clause);
        confidence = confidence.min(c);
        // A later clause without its own list inherits the previous one's.
        let cmd = match (commands.last(), cmd) {
            (
                Some(Command { list: Some(l), .. }),
                Command {
                    intent,
                    list: None,
                    items,
                },
            ) => Command {
                intent,
                list: Some(l.clone()),
                items,
            },
            (_, cmd) => cmd,
        };
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
        commands.push(cmd);
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
    // Unknown clauses beside understood ones are noise ("thanks").
    if commands.iter().any(|c| c.intent != Intent::Unknown) {
        commands.retain(|c| c.intent != Intent::Unknown);
    }
    if commands.is_empty() {
        commands.push(Command {
            intent: Intent::Unknown,
            list: None,
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
}
