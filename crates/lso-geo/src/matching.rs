//! How addresses are compared: case, punctuation and abbreviations (`St`, `Ave`) are ignored,
//! and names within a small edit distance (typos) still match.

/// How good a match is (MEF 121 `validationResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchQuality {
    /// The address exists as submitted.
    Success,
    /// A close address exists: a typo, another number, a missing field.
    Partial,
    /// Nothing close.
    Fail,
}

impl MatchQuality {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchQuality::Success => "success",
            MatchQuality::Partial => "partial",
            MatchQuality::Fail => "fail",
        }
    }
}

/// Words written short, and their long form.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("st", "street"),
    ("str", "street"),
    ("ave", "avenue"),
    ("av", "avenue"),
    ("rd", "road"),
    ("blvd", "boulevard"),
    ("dr", "drive"),
    ("ln", "lane"),
    ("ct", "court"),
    ("pl", "place"),
    ("plz", "plaza"),
    ("sq", "square"),
    ("hwy", "highway"),
    ("pkwy", "parkway"),
    ("ter", "terrace"),
    ("n", "north"),
    ("s", "south"),
    ("e", "east"),
    ("w", "west"),
    ("fifth", "5th"),
];

/// Lower case, letters and digits only, words separated by one space.
pub(crate) fn normalise(text: &str) -> String {
    let cleaned: String =
        text.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { ' ' }).collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A street's name and type as one comparable key (`Main St.` and `main street` agree).
pub fn normalise_street(name: &str, kind: &str) -> String {
    let words = normalise(&format!("{name} {kind}"));
    let expanded: Vec<&str> = words
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| ABBREVIATIONS.iter().find(|(short, _)| *short == w).map_or(w, |(_, long)| long))
        .collect();
    expanded.join(" ")
}

/// A country's key: its ISO code for the names that are common.
pub(crate) fn normalise_country(text: &str) -> String {
    match normalise(text).as_str() {
        "usa" | "united states" | "united states of america" => "us".into(),
        "uk" | "united kingdom" | "great britain" => "gb".into(),
        other => other.to_owned(),
    }
}

/// The edit distance between `a` and `b` (Levenshtein), or `None` once it exceeds `limit`.
fn distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            current[j + 1] = (previous[j] + usize::from(ca != cb)).min(previous[j + 1] + 1).min(current[j] + 1);
        }
        if current.iter().min().is_some_and(|m| *m > limit) {
            return None;
        }
        previous = current;
    }
    previous.last().copied().filter(|d| *d <= limit)
}

/// The typos tolerated in a name of `length` characters.
fn tolerance(length: usize) -> usize {
    match length {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// The items whose name is closest to `wanted`, within the typos tolerated, with the distance.
pub(crate) fn closest<'a, T: Copy>(items: impl Iterator<Item = (T, &'a str)>, wanted: &str) -> (usize, Vec<T>) {
    let limit = tolerance(wanted.chars().count());
    let mut best = (usize::MAX, Vec::new());
    for (item, name) in items {
        let Some(d) = distance(name, wanted, limit) else { continue };
        if d < best.0 {
            best = (d, vec![item]);
        } else if d == best.0 {
            best.1.push(item);
        }
    }
    best
}
