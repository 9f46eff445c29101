//! Text helpers shared by indexing and query analysis: tokens, stems, stopwords,
//! synonyms and the spelling-correction vocabulary.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::LazyLock;

/// Split into lower-case alphanumeric runs, the way FTS5's `unicode61` tokenizer does.
pub(crate) fn tokens(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

/// A light English plural folding, used to compare words in Rust: singular and
/// plural map to the same key ("tomatoes" = "tomato", "berries" = "berry",
/// "cookies" = "cookie"). The key is not always a word ("berri"), as with FTS5's
/// porter stemmer, which does the same job inside the index.
pub(crate) fn stem(w: &str) -> String {
    let n = w.len();
    let mut s = if n > 4 && w.ends_with("ies") {
        format!("{}i", &w[..n - 3])
    } else if n > 4
        && (w.ends_with("oes")
            || w.ends_with("ches")
            || w.ends_with("shes")
            || w.ends_with("sses")
            || w.ends_with("xes"))
    {
        w[..n - 2].to_string()
    } else if n > 2
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
    {
        w[..n - 1].to_string()
    } else {
        w.to_string()
    };
    // cookie/cooki(es), berry/berri(es): one key for both spellings.
    if s.len() > 3 && s.ends_with("ie") {
        s.pop();
    } else if s.len() > 3 && s.ends_with('y') {
        let before = s.as_bytes()[s.len() - 2];
        if !b"aeiou".contains(&before) {
            s.pop();
            s.push('i');
        }
    }
    s
}

/// Words that carry no meaning in a product query.
pub(crate) fn is_stopword(w: &str) -> bool {
    matches!(
        w,
        "a" | "an"
            | "the"
            | "of"
            | "some"
            | "for"
            | "with"
            | "and"
            | "or"
            | "n"
            | "please"
            | "my"
            | "in"
            | "on"
            | "to"
            | "any"
    )
}

/// Abbreviations and shorthand, rewritten before anything else.
/// Left: the words as typed; right: what they stand for.
pub(crate) const REWRITES: &[(&str, &str)] = &[
    ("oj", "orange juice"),
    ("tp", "toilet paper"),
    ("pb", "peanut butter"),
    ("pbj", "peanut butter jelly"),
    ("evoo", "extra virgin olive oil"),
    ("half n half", "half and half"),
    ("half nd half", "half and half"),
    ("half half", "half and half"),
    ("halfnhalf", "half and half"),
    ("mac n cheese", "mac and cheese"),
    ("mac cheese", "mac and cheese"),
    ("macaroni and cheese", "mac and cheese"),
    ("macaroni cheese", "mac and cheese"),
    ("pop tarts", "pop-tarts"),
    ("h2o", "water"),
    ("bbq", "barbecue"),
    ("choc", "chocolate"),
    ("veg", "vegetable"),
    ("veggie", "vegetable"),
    ("veggies", "vegetables"),
    ("hamburger meat", "ground beef"),
    ("hamburger", "ground beef"),
    ("mince", "ground beef"),
    ("minced beef", "ground beef"),
    ("kitchen roll", "paper towels"),
    ("loo roll", "toilet paper"),
    ("bathroom tissue", "toilet paper"),
    ("dish washing liquid", "dish soap"),
    ("washing up liquid", "dish soap"),
    ("icing sugar", "powdered sugar"),
    ("caster sugar", "granulated sugar"),
    ("double cream", "heavy cream"),
    ("single cream", "half and half"),
    ("crisps", "chips"),
    ("bicarbonate of soda", "baking soda"),
    ("bicarb", "baking soda"),
    ("soda water", "club soda"),
    ("biscuits", "cookies"),
    ("nappies", "diapers"),
    ("coke", "coca cola"),
    ("pepsi cola", "pepsi"),
    ("t paper", "toilet paper"),
    ("pnut butter", "peanut butter"),
    ("yoghurt", "yogurt"),
    ("yoghurts", "yogurt"),
    ("donut", "doughnut"),
    ("donuts", "doughnuts"),
];

/// Groups of words that name the same thing; a query word from a group matches any
/// member. Multi-word members match as phrases.
pub(crate) const SYNONYMS: &[&[&str]] = &[
    &["garbanzo", "chickpea"],
    &["scallion", "green onion"],
    &["cilantro", "coriander"],
    &["aubergine", "eggplant"],
    &["courgette", "zucchini"],
    &["soda", "cola", "soft drink", "pop"],
    &["catsup", "ketchup"],
    &["prawn", "shrimp"],
    &["rocket", "arugula"],
    &["capsicum", "bell pepper"],
    &["mayo", "mayonnaise"],
    &["spuds", "potato"],
    &["pasta", "spaghetti", "penne", "macaroni"],
    &["diaper", "nappy"],
    &["doughnut", "donut"],
    &["seltzer", "sparkling water"],
    &["kitty litter", "cat litter"],
    &["nonfat", "fat free", "skim"],
    &["hot dog", "frank", "frankfurter"],
    &["ramen", "noodle soup"],
    &["tissues", "facial tissue"],
];

/// One rewrite: the words to match and their replacement.
type Rewrite = (Vec<&'static str>, Vec<&'static str>);

/// [`REWRITES`] and [`SYNONYMS`] indexed for lookup by word, built once.
pub(crate) struct Lexicon {
    /// First word -> (words to match, replacement words), longest match first.
    rewrites: HashMap<&'static str, Vec<Rewrite>>,
    /// Two-word synonym members -> group.
    phrases: HashMap<&'static str, usize>,
    /// Stem of one-word synonym members -> group.
    stems: HashMap<String, usize>,
}

/// The shared [`Lexicon`].
pub(crate) static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let mut rewrites: HashMap<&'static str, Vec<Rewrite>> = HashMap::default();
    for (from, to) in REWRITES {
        let from: Vec<&'static str> = from.split(' ').collect();
        rewrites
            .entry(from[0])
            .or_default()
            .push((from, to.split(' ').collect()));
    }
    for v in rewrites.values_mut() {
        v.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    }
    let mut phrases = HashMap::default();
    let mut stems = HashMap::default();
    for (i, group) in SYNONYMS.iter().enumerate() {
        for m in group.iter() {
            if m.contains(' ') {
                phrases.entry(*m).or_insert(i);
            } else {
                stems.entry(stem(m)).or_insert(i);
            }
        }
    }
    Lexicon {
        rewrites,
        phrases,
        stems,
    }
});

impl Lexicon {
    /// Replace shorthand ("oj", "half n half") with what it stands for.
    pub(crate) fn rewrite(&self, words: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(words.len());
        let mut i = 0;
        'outer: while i < words.len() {
            if let Some(cands) = self.rewrites.get(words[i].as_str()) {
                for (from, to) in cands {
                    if i + from.len() <= words.len()
                        && from.iter().zip(&words[i..]).all(|(p, w)| *p == w)
                    {
                        out.extend(to.iter().map(|w| (*w).to_string()));
                        i += from.len();
                        continue 'outer;
                    }
                }
            }
            out.push(words[i].clone());
            i += 1;
        }
        out
    }

    /// The synonym group starting at `words[i]` and how many words it used.
    pub(crate) fn synonyms_at(
        &self,
        words: &[String],
        i: usize,
    ) -> Option<(&'static [&'static str], usize)> {
        if let Some(next) = words.get(i + 1)
            && let Some(g) = self.phrases.get(format!("{} {next}", words[i]).as_str())
        {
            return Some((SYNONYMS[*g], 2));
        }
        self.stems.get(&stem(&words[i])).map(|g| (SYNONYMS[*g], 1))
    }
}

/// The words of the catalog with their document frequencies, and an index for
/// finding the closest word to a misspelling (symmetric delete, as in SymSpell).
#[derive(Debug, Default)]
pub(crate) struct Vocabulary {
    words: Vec<(String, u32)>,
    stems: HashSet<String>,
    exact: HashMap<String, u32>,
    deletes: HashMap<String, Vec<u32>>,
}

/// Longest word indexed for spelling correction.
const MAX_WORD: usize = 24;

fn max_distance(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=5 => 1,
        _ => 2,
    }
}

/// Every string made by deleting up to `d` characters of `w`.
fn deletes_of(w: &str, d: usize, out: &mut HashSet<String>) {
    if d == 0 {
        return;
    }
    let chars: Vec<char> = w.chars().collect();
    for i in 0..chars.len() {
        let s: String = chars
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, c)| c)
            .collect();
        if out.insert(s.clone()) {
            deletes_of(&s, d - 1, out);
        }
    }
}

impl Vocabulary {
    /// Build from (word, document frequency) pairs.
    pub(crate) fn new(freqs: HashMap<String, u32>) -> Self {
        let mut v = Vocabulary::default();
        let mut words: Vec<(String, u32)> = freqs.into_iter().collect();
        words.sort();
        for (i, (w, _)) in words.iter().enumerate() {
            let idx = i as u32;
            v.exact.insert(w.clone(), idx);
            v.stems.insert(stem(w));
            let len = w.chars().count();
            if !(4..=MAX_WORD).contains(&len) || w.chars().any(|c| c.is_ascii_digit()) {
                continue;
            }
            let mut ds = HashSet::default();
            ds.insert(w.clone());
            deletes_of(w, max_distance(len), &mut ds);
            for d in ds {
                v.deletes.entry(d).or_default().push(idx);
            }
        }
        v.words = words;
        v
    }

    /// Whether the word (or its singular/plural) occurs in the catalog.
    pub(crate) fn knows(&self, w: &str) -> bool {
        self.exact.contains_key(w) || self.stems.contains(&stem(w))
    }

    /// Whether some catalog word starts with `prefix`.
    pub(crate) fn has_prefix(&self, prefix: &str) -> bool {
        let i = self.words.partition_point(|(w, _)| w.as_str() < prefix);
        self.words
            .get(i)
            .is_some_and(|(w, _)| w.starts_with(prefix))
    }

    /// The closest catalog words to a misspelling: those at the smallest edit
    /// distance (optimal string alignment, so a swap counts once), most frequent
    /// first, at most two, and a second only if it is at least half as frequent.
    pub(crate) fn correct(&self, w: &str) -> Vec<String> {
        let len = w.chars().count();
        let d = max_distance(len);
        if d == 0 || len > MAX_WORD {
            return Vec::new();
        }
        let mut variants = HashSet::default();
        variants.insert(w.to_string());
        deletes_of(w, d, &mut variants);
        let mut best: Vec<(usize, u32, u32)> = Vec::new(); // (distance, -freq as rank, idx)
        let mut seen = HashSet::default();
        for v in &variants {
            let Some(ids) = self.deletes.get(v) else {
                continue;
            };
            for &idx in ids {
                if !seen.insert(idx) {
                    continue;
                }
                let (cand, freq) = &self.words[idx as usize];
                let dist = strsim::osa_distance(w, cand);
                if dist <= d {
                    best.push((dist, u32::MAX - freq, idx));
                }
            }
        }
        best.sort_unstable();
        let Some(&(min, _, _)) = best.first() else {
            return Vec::new();
        };
        // A rarer word at the same distance only joins when it is nearly as common.
        let top_freq = u32::MAX - best[0].1;
        best.iter()
            .take_while(|(dist, rank, _)| *dist == min && (u32::MAX - rank) * 2 >= top_freq)
            .take(2)
            .map(|(_, _, idx)| self.words[*idx as usize].0.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_fold_singular_and_plural_together() {
        for (one, many) in [
            ("egg", "eggs"),
            ("tomato", "tomatoes"),
            ("berry", "berries"),
            ("cookie", "cookies"),
            ("peach", "peaches"),
            ("box", "boxes"),
            ("pie", "pies"),
            ("turkey", "turkeys"),
            ("olive", "olives"),
            ("chive", "chives"),
        ] {
            assert_eq!(stem(one), stem(many), "{one} / {many}");
        }
        for (a, b) in [("hummus", "hummu"), ("glass", "glas"), ("milk", "mil")] {
            assert_ne!(stem(a), stem(b));
        }
        assert_eq!(stem("hummus"), "hummus");
    }

    #[test]
    fn corrects_typos_to_frequent_words() {
        let v = Vocabulary::new(
            [
                ("banana", 5),
                ("broccoli", 3),
                ("yogurt", 9),
                ("cereal", 7),
                ("bandana", 1),
            ]
            .into_iter()
            .map(|(w, f)| (w.to_string(), f))
            .collect(),
        );
        assert_eq!(v.correct("bannana"), vec!["banana"]);
        assert_eq!(v.correct("brocoli"), vec!["broccoli"]);
        assert_eq!(v.correct("yoghurt"), vec!["yogurt"]);
        assert_eq!(v.correct("cerael"), vec!["cereal"]);
        assert!(v.correct("xyzzyplugh").is_empty());
        assert!(
            v.correct("oj").is_empty(),
            "short words are never corrected"
        );
        assert!(v.knows("bananas"));
        assert!(v.has_prefix("bro"));
        assert!(!v.has_prefix("zz"));
    }

    #[test]
    fn tokens_split_like_unicode61() {
        let t: Vec<String> = tokens("Ben & Jerry's 2% Half-and-Half").collect();
        assert_eq!(t, ["ben", "jerry", "s", "2", "half", "and", "half"]);
    }
}
