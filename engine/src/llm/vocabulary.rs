//! The offline designer's vocabulary: which words of a task described in a
//! user's own words it can measure with the reward state, and how.
//!
//! [`understand`] reads a description word by word. Every word is either
//! *mapped* (part of a phrase a rule turns into a fitness term over fields
//! that measure it), *filler* (articles, pronouns, "robot", "please",
//! "while", …), or *unmapped*. An unmapped word may state the goal, a limit,
//! a place, a body part, an event or a negation, so any unmapped word makes
//! [`Understanding::refusal`] refuse, unless the user accepted a partial
//! fitness; a description with no mapped goal is refused always. Rules only
//! fire where the reward state has the fields they read: a word is never
//! mapped to a field that does not measure it.

use rewardsmith_core::StateSpec;
use std::fmt::Write as _;

/// One term of the fitness: its mean over the episode's full length, times
/// its weight.
#[derive(Clone, Debug, PartialEq)]
pub struct FitnessTerm {
    /// A short name (a reward-component name too).
    pub name: String,
    /// The per-step value, a Rhai expression over `s`.
    pub expr: String,
    /// Its weight before normalisation (1 for a goal, 0.5 for a manner or limit).
    pub weight: f64,
    /// What it measures, in plain words.
    pub reading: String,
    /// The description's words it comes from.
    pub words: Vec<String>,
    /// Whether it states the goal (rather than a limit or manner).
    pub goal: bool,
}

/// What the offline designer understood of a description.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Understanding {
    /// The terms, in the order their rules fired.
    pub terms: Vec<FitnessTerm>,
    /// Words it did not map and that are not filler, in the description's order.
    pub unmapped: Vec<String>,
    /// Words it read as filler.
    pub filler: Vec<String>,
}

/// Words that never state a goal, a limit, a place, a body part, an event or
/// a negation.
const FILLER: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "but",
    "while",
    "whilst",
    "as",
    "so",
    "then",
    "also",
    "too",
    "please",
    "robot",
    "agent",
    "it",
    "its",
    "itself",
    "it's",
    "this",
    "that",
    "these",
    "those",
    "them",
    "they",
    "their",
    "he",
    "she",
    "his",
    "her",
    "you",
    "your",
    "i",
    "we",
    "me",
    "my",
    "our",
    "want",
    "wants",
    "would",
    "like",
    "should",
    "must",
    "can",
    "could",
    "will",
    "shall",
    "try",
    "tries",
    "trying",
    "to",
    "of",
    "on",
    "in",
    "at",
    "by",
    "for",
    "from",
    "into",
    "onto",
    "with",
    "be",
    "is",
    "are",
    "am",
    "was",
    "being",
    "keep",
    "keeps",
    "keeping",
    "make",
    "makes",
    "making",
    "stay",
    "stays",
    "staying",
    "remain",
    "remains",
    "remaining",
    "just",
    "very",
    "really",
    "quite",
    "bit",
    "little",
    "some",
    "any",
    "each",
    "every",
    "whole",
    "entire",
    "episode",
    "time",
    "during",
    "throughout",
    "all",
    "both",
    "get",
    "gets",
    "let",
    "do",
    "does",
    "have",
    "has",
    "need",
    "needs",
    "around",
    "there",
    "here",
    "possible",
    "nicely",
    "well",
    "now",
    "always",
    "way",
    "manage",
    "able",
    "good",
    "up",
    "go",
    "goes",
];

/// Words that negate what follows.
const NEGATIONS: &[&str] = &["without", "not", "no", "never", "nor", "avoid", "avoiding"];

/// Negated phrases rules measure, besides [`FALL`], [`STILL`] and the limits.
const NEGATED_PHRASES: &[&str] = &[
    "without dropping",
    "not drop",
    "never drop",
    "without leaving the rail",
    "without running off the rail",
    "without falling off the rail",
    "without hitting the ends",
    "without hitting the end",
    "not leave the rail",
];

/// Phrases made of filler words that still state an event or a goal; unless
/// a rule measures them, they are unmapped.
const EVENT_PHRASES: &[&str] = &[
    "let go",
    "let it go",
    "get up",
    "get down",
    "give up",
    "go around",
    "go round",
    "up and down",
    "back and forth",
];

/// Per environment, the nouns that only name the robot or its whole.
fn subject_nouns(spec: &StateSpec) -> &'static [&'static str] {
    let has = |n: &str| spec.fields().iter().any(|f| f.name == n);
    if has("cart_pos") {
        &["cart", "pole", "cartpole", "system"]
    } else if has("foot_contact") {
        &["quadruped", "dog", "animal", "creature"]
    } else if has("tip_to_target") {
        &["arm"]
    } else if has("valve_vel") {
        &["hand", "valve", "fingers"]
    } else if has("orient_error") {
        &["hand", "fingers"]
    } else {
        &[]
    }
}

/// The description as lower-case words, each marked once a rule uses it.
struct Text {
    toks: Vec<String>,
    used: Vec<bool>,
    /// Words of a negated clause no rule knows ("without turning"): no rule
    /// may use them, so a negation is never read as its opposite.
    blocked: Vec<bool>,
}

/// A bound or target with a number and unit ("at roughly 0.5 m/s").
#[derive(Clone, Copy, Debug, PartialEq)]
enum Bound {
    Target(f64),
    AtMost(f64),
    AtLeast(f64),
}

const TARGET_WORDS: &[&str] = &[
    "at roughly",
    "at about",
    "at around",
    "at approximately",
    "at a speed of",
    "at a rate of",
    "at a height of",
    "at",
    "roughly",
    "about",
    "around",
    "approximately",
    "near",
    "close to",
    "to",
    "of",
];
const AT_MOST_WORDS: &[&str] = &[
    "no more than",
    "not more than",
    "no faster than",
    "not faster than",
    "no quicker than",
    "not quicker than",
    "no higher than",
    "not higher than",
    "no further than",
    "no farther than",
    "at most",
    "up to",
    "under",
    "below",
    "less than",
    "slower than",
    "lower than",
    "within",
];
const AT_LEAST_WORDS: &[&str] = &[
    "no less than",
    "not less than",
    "no slower than",
    "not slower than",
    "no lower than",
    "at least",
    "more than",
    "faster than",
    "quicker than",
    "higher than",
    "above",
    "over",
];

impl Text {
    fn new(description: &str) -> Self {
        let lower = description
            .to_lowercase()
            .replace(['’', '‘'], "'")
            .replace("n't", " not")
            .replace('−', "-")
            .replace('°', " degrees ");
        let mut toks = Vec::new();
        for raw in lower.split(|c: char| {
            c.is_whitespace()
                || matches!(c, ',' | ';' | ':' | '!' | '?' | '(' | ')' | '"' | '[' | ']')
        }) {
            let t = raw.trim_matches(|c: char| c == '.' || c == '\'');
            if t.is_empty() {
                continue;
            }
            // "0.5m/s" → "0.5", "m/s".
            let digits = t
                .char_indices()
                .take_while(|(_, c)| c.is_ascii_digit() || *c == '.')
                .last()
                .map_or(0, |(i, c)| i + c.len_utf8());
            if digits > 0 && digits < t.len() && t[..digits].parse::<f64>().is_ok() {
                toks.push(t[..digits].to_string());
                toks.push(t[digits..].to_string());
            } else {
                toks.push(t.to_string());
            }
        }
        let used = vec![false; toks.len()];
        let blocked = vec![false; toks.len()];
        let mut text = Self {
            toks,
            used,
            blocked,
        };
        text.block_unknown_negations();
        text
    }

    /// Blocks every negation that no rule's phrase starts with, up to the
    /// end of its clause ("and", "but", "while", "then" or the end).
    fn block_unknown_negations(&mut self) {
        let known: Vec<&str> = FALL
            .iter()
            .chain(STILL)
            .chain(NEGATED_PHRASES)
            .chain(AT_MOST_WORDS)
            .chain(AT_LEAST_WORDS)
            .copied()
            .filter(|p| p.split(' ').next().is_some_and(|w| NEGATIONS.contains(&w)))
            .collect();
        let mut i = 0;
        while i < self.toks.len() {
            let starts_known = known.iter().any(|p| {
                let words: Vec<&str> = p.split(' ').collect();
                i + words.len() <= self.toks.len()
                    && words
                        .iter()
                        .enumerate()
                        .all(|(k, w)| self.toks[i + k] == *w)
            });
            if NEGATIONS.contains(&self.toks[i].as_str()) && !starts_known {
                while i < self.toks.len()
                    && !["and", "but", "while", "whilst", "then"].contains(&self.toks[i].as_str())
                {
                    self.blocked[i] = true;
                    i += 1;
                }
            }
            i += 1;
        }
    }

    /// Where `phrase` (space-separated words) starts at or after `from`,
    /// on words no rule used yet.
    fn find_from(&self, phrase: &str, from: usize) -> Option<usize> {
        let words: Vec<&str> = phrase.split(' ').collect();
        (from..self.toks.len()).find(|&i| {
            i + words.len() <= self.toks.len()
                && words.iter().enumerate().all(|(k, w)| {
                    self.toks[i + k] == *w && !self.used[i + k] && !self.blocked[i + k]
                })
        })
    }

    /// The earliest unused occurrence of any of `alts`: (start, words).
    fn find(&self, alts: &[&str]) -> Option<(usize, usize)> {
        alts.iter()
            .filter_map(|a| self.find_from(a, 0).map(|i| (i, a.split(' ').count())))
            .min_by_key(|&(i, n)| (i, usize::MAX - n))
    }

    fn has(&self, alts: &[&str]) -> bool {
        self.find(alts).is_some()
    }

    fn mark(&mut self, start: usize, len: usize) -> String {
        for u in &mut self.used[start..start + len] {
            *u = true;
        }
        self.toks[start..start + len].join(" ")
    }

    /// Marks the earliest unused occurrence of any of `alts`.
    fn take(&mut self, alts: &[&str]) -> Option<String> {
        let (i, n) = self.find(alts)?;
        Some(self.mark(i, n))
    }

    /// Marks every unused occurrence of any of `alts`.
    fn take_all(&mut self, alts: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(w) = self.take(alts) {
            out.push(w);
        }
        out
    }

    /// The number in word `i` ("0.5", "half", "ten").
    fn number_at(&self, i: usize) -> Option<f64> {
        let t = self.toks.get(i)?;
        t.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .or(match t.as_str() {
                "half" => Some(0.5),
                "one" | "a" => Some(1.0),
                "two" => Some(2.0),
                "three" => Some(3.0),
                "five" => Some(5.0),
                "ten" => Some(10.0),
                _ => None,
            })
    }

    /// The first unused "<qualifier> <number> <unit>" whose unit is one of
    /// `units` (unit words, factor to SI), converted; a plain number is a target.
    fn quantity(&mut self, units: &[(&str, f64)]) -> Option<(Bound, Vec<String>)> {
        for i in 0..self.toks.len() {
            if self.used[i] || self.blocked[i] {
                continue;
            }
            let Some(mut value) = self.number_at(i) else {
                continue;
            };
            // "half a metre".
            let mut at = i + 1;
            if self.toks[i] == "half" && self.toks.get(at).is_some_and(|t| t == "a") {
                at += 1;
            }
            let Some((unit, factor)) = units.iter().find(|(u, _)| {
                let words: Vec<&str> = u.split(' ').collect();
                words
                    .iter()
                    .enumerate()
                    .all(|(k, w)| self.toks.get(at + k).is_some_and(|t| t == w))
            }) else {
                continue;
            };
            value *= factor;
            let unit_len = unit.split(' ').count();
            let mut words = vec![self.mark(i, at + unit_len - i)];
            // The qualifier just before the number.
            let before = |alts: &[&str]| -> Option<(usize, usize)> {
                alts.iter()
                    .filter_map(|a| {
                        let n = a.split(' ').count();
                        let s = i.checked_sub(n)?;
                        (self.toks[s..i].join(" ") == *a && self.used[s..i].iter().all(|u| !u))
                            .then_some((s, n))
                    })
                    .max_by_key(|&(_, n)| n)
            };
            let (at_most, at_least, target) = (
                before(AT_MOST_WORDS),
                before(AT_LEAST_WORDS),
                before(TARGET_WORDS),
            );
            let (bound, qualifier) = if at_most.is_some() {
                (Bound::AtMost(value), at_most)
            } else if at_least.is_some() {
                (Bound::AtLeast(value), at_least)
            } else {
                (Bound::Target(value), target)
            };
            if let Some((s, n)) = qualifier {
                words.insert(0, self.mark(s, n));
            }
            return Some((bound, words));
        }
        None
    }
}

const SPEED_UNITS: &[(&str, f64)] = &[
    ("m/s", 1.0),
    ("metres per second", 1.0),
    ("meters per second", 1.0),
    ("metre per second", 1.0),
    ("meter per second", 1.0),
    ("cm/s", 0.01),
    ("centimetres per second", 0.01),
    ("centimeters per second", 0.01),
    ("km/h", 1.0 / 3.6),
];
const LENGTH_UNITS: &[(&str, f64)] = &[
    ("m", 1.0),
    ("metre", 1.0),
    ("metres", 1.0),
    ("meter", 1.0),
    ("meters", 1.0),
    ("cm", 0.01),
    ("centimetre", 0.01),
    ("centimetres", 0.01),
    ("centimeter", 0.01),
    ("centimeters", 0.01),
    ("mm", 0.001),
];
const RATE_UNITS: &[(&str, f64)] = &[
    ("rad/s", 1.0),
    ("radians per second", 1.0),
    ("deg/s", std::f64::consts::PI / 180.0),
    ("degrees per second", std::f64::consts::PI / 180.0),
    ("turns per second", 2.0 * std::f64::consts::PI),
    ("turn per second", 2.0 * std::f64::consts::PI),
];
const ANGLE_UNITS: &[(&str, f64)] = &[
    ("rad", 1.0),
    ("radians", 1.0),
    ("radian", 1.0),
    ("degrees", std::f64::consts::PI / 180.0),
    ("degree", std::f64::consts::PI / 180.0),
    ("deg", std::f64::consts::PI / 180.0),
    ("turns", 2.0 * std::f64::consts::PI),
    ("turn", 2.0 * std::f64::consts::PI),
];

/// A float as a Rhai float literal with at most 4 decimals.
fn lit(x: f64) -> String {
    let mut s = format!("{x:.4}");
    while s.ends_with('0') && !s.ends_with(".0") {
        s.pop();
    }
    if s == "-0.0" {
        s = "0.0".to_string();
    }
    s
}

fn quoted(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `expr` in [0, 1]: 1 when `cond` holds (a Rhai condition), else 0.
fn indicator(cond: &str) -> String {
    format!("if {cond} {{ 1.0 }} else {{ 0.0 }}")
}

#[allow(clippy::too_many_arguments)]
/// The terms a bound on `value` (a Rhai expression, `what` in words, `unit`)
/// gives: a target is a closeness (`exp(−(x − t)²/width)`), a limit the
/// fraction of steps within it.
fn bound_term(
    name: &str,
    value: &str,
    what: &str,
    unit: &str,
    bound: Bound,
    width: f64,
    words: Vec<String>,
    goal: bool,
) -> FitnessTerm {
    let (expr, reading) = match bound {
        Bound::Target(t) => (
            format!("exp(-sq({value} - {}) / {})", lit(t), lit(width)),
            format!(
                "closeness of {what} to {} {unit} (exp(−(x − {})²/{}): 1 there)",
                lit(t),
                lit(t),
                lit(width)
            ),
        ),
        Bound::AtMost(t) => (
            indicator(&format!("{value} <= {}", lit(t))),
            format!("1 when {what} is at most {} {unit}, else 0", lit(t)),
        ),
        Bound::AtLeast(t) => (
            indicator(&format!("{value} >= {}", lit(t))),
            format!("1 when {what} is at least {} {unit}, else 0", lit(t)),
        ),
    };
    FitnessTerm {
        name: name.to_string(),
        expr,
        weight: if goal { 1.0 } else { 0.5 },
        reading,
        words,
        goal,
    }
}

/// What the offline designer can measure of `description` over the reward
/// state `spec`; see the [module docs](self).
#[must_use]
pub fn understand(description: &str, spec: &StateSpec) -> Understanding {
    let mut t = Text::new(description);
    let mut terms = Vec::new();
    let has = |n: &str| spec.fields().iter().any(|f| f.name == n);
    if has("foot_contact") {
        feet(&mut t, &mut terms);
    }
    if has("torso_linvel") {
        body(&mut t, &mut terms, spec);
    }
    if has("cart_pos") && has("pole_up") {
        cartpole(&mut t, &mut terms);
    }
    if has("tip_to_target") && has("cube_to_goal") {
        arm(&mut t, &mut terms);
    }
    if has("orient_error") && has("object_angvel") {
        hand(&mut t, &mut terms);
    }
    if has("valve_vel") && has("angle_error") {
        valve(&mut t, &mut terms);
    }
    // Unique names, first one wins (a word may be asked for twice).
    let mut seen: Vec<String> = Vec::new();
    terms.retain(|x: &FitnessTerm| {
        let fresh = !seen.contains(&x.name);
        seen.push(x.name.clone());
        fresh
    });
    let subjects = subject_nouns(spec);
    let mut unmapped = Vec::new();
    // Phrases of filler words that state an event ("let go of the cube").
    while let Some(w) = t.take(EVENT_PHRASES) {
        if !unmapped.contains(&w) {
            unmapped.push(w);
        }
    }
    let mut filler = Vec::new();
    for (i, w) in t.toks.iter().enumerate() {
        if t.used[i] {
            continue;
        }
        let list = if !NEGATIONS.contains(&w.as_str())
            && (FILLER.contains(&w.as_str()) || subjects.contains(&w.as_str()))
        {
            &mut filler
        } else {
            &mut unmapped
        };
        if !list.contains(w) {
            list.push(w.clone());
        }
    }
    Understanding {
        terms,
        unmapped,
        filler,
    }
}

const FORWARD: &[&str] = &["forward", "forwards", "ahead", "+x"];
const BACKWARD: &[&str] = &[
    "backwards",
    "backward",
    "in reverse",
    "reverse",
    "back",
    "-x",
];
const LEFT: &[&str] = &["to the left", "leftwards", "left", "+y"];
const RIGHT: &[&str] = &["to the right", "rightwards", "right", "-y"];
const CCW: &[&str] = &[
    "counter-clockwise",
    "counterclockwise",
    "counter clockwise",
    "anticlockwise",
    "anti-clockwise",
];
const CW: &[&str] = &["clockwise"];
const TURN: &[&str] = &[
    "turn", "turns", "turning", "spin", "spins", "spinning", "rotate", "rotates", "rotating",
    "yaw", "pivot", "twirl",
];
const FALL: &[&str] = &[
    "without falling over",
    "without falling down",
    "without falling",
    "without tipping over",
    "without tipping",
    "without toppling",
    "without toppling over",
    "without flipping over",
    "without flipping",
    "without rolling over",
    "not fall over",
    "not fall down",
    "not fall",
    "never fall",
    "not falling",
    "not tip over",
    "not tip",
    "not topple",
    "on its feet",
];
const BODY: &[&str] = &["body", "torso", "height", "belly", "chest"];
const STILL: &[&str] = &[
    "stand still",
    "still",
    "stationary",
    "motionless",
    "in place",
    "on the spot",
    "not move",
    "without moving",
    "stop",
];

#[allow(clippy::too_many_lines)]
/// The quadruped's feet: per-foot contact events ("lift the front left
/// leg", "on three legs", "rear up on its hind legs").
fn feet(t: &mut Text, terms: &mut Vec<FitnessTerm>) {
    const NAMES: [&str; 4] = ["front-left", "front-right", "back-left", "back-right"];
    // Rearing up: both front feet off the ground.
    let rear = t.take_all(&[
        "rear up",
        "rears up",
        "rearing up",
        "on its hind legs",
        "on the hind legs",
        "on hind legs",
        "on its back legs",
        "on the back legs",
        "on back legs",
    ]);
    if !rear.is_empty() {
        terms.push(FitnessTerm {
            name: "front_feet_up".into(),
            expr: indicator("s.foot_contact[0] < 0.5 && s.foot_contact[1] < 0.5"),
            weight: 1.0,
            reading:
                "1 when both front feet are off the ground (foot_contact[0] and [1] = 0), else 0"
                    .into(),
            words: rear,
            goal: true,
        });
    }
    if let Some(w) = t.take(&["on three legs", "on three feet", "on 3 legs"]) {
        terms.push(FitnessTerm {
            name: "three_legs".into(),
            expr: indicator("sum(s.foot_contact) > 2.5 && sum(s.foot_contact) < 3.5"),
            weight: 1.0,
            reading: "1 when exactly three feet touch the ground (sum of foot_contact = 3), else 0"
                .into(),
            words: vec![w],
            goal: true,
        });
    }
    let legs = ["legs", "leg", "feet", "foot", "paws", "paw"];
    let positions: Vec<usize> = (0..t.toks.len())
        .filter(|&j| !t.used[j] && !t.blocked[j] && legs.contains(&t.toks[j].as_str()))
        .collect();
    for j in positions {
        if t.used[j] {
            continue;
        }
        let leg = t.mark(j, 1);
        let mut words = Vec::new();
        let mut set = [true; 4];
        let mut count_one = false;
        // Qualifiers in the three words before the leg word.
        for k in j.saturating_sub(3)..j {
            if t.used[k] || t.blocked[k] {
                continue;
            }
            let w = t.toks[k].clone();
            let keep: Option<[bool; 4]> = match w.as_str() {
                "front" | "fore" | "forward" => Some([true, true, false, false]),
                "back" | "hind" | "rear" => Some([false, false, true, true]),
                "left" => Some([true, false, true, false]),
                "right" => Some([false, true, false, true]),
                "one" | "a" | "single" => {
                    count_one = true;
                    None
                }
                "all" | "four" | "both" | "two" | "its" | "the" => None,
                _ => continue,
            };
            if let Some(m) = keep {
                for (s, k2) in set.iter_mut().zip(m) {
                    *s &= k2;
                }
            }
            words.push(t.mark(k, 1));
        }
        words.push(leg);
        let off = t.take(&[
            "lift",
            "lifts",
            "lifting",
            "lifted",
            "raise",
            "raises",
            "raising",
            "raised",
            "off the ground",
            "in the air",
            "hold up",
            "holding up",
        ]);
        let on = if off.is_none() {
            t.take(&[
                "on the ground",
                "touching the ground",
                "touch the ground",
                "planted",
                "down",
            ])
        } else {
            None
        };
        let feet: Vec<usize> = (0..4).filter(|&i| set[i]).collect();
        let which = if feet.len() == 4 {
            "all four".to_string()
        } else {
            format!(
                "the {}",
                feet.iter()
                    .map(|&i| NAMES[i])
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        };
        let (expr, reading, name) = match (off, on) {
            (Some(w), _) => {
                words.push(w);
                if count_one || feet.len() == 1 {
                    let cond = if feet.len() == 4 {
                        "sum(s.foot_contact) > 2.5 && sum(s.foot_contact) < 3.5".to_string()
                    } else {
                        let offs = feet
                            .iter()
                            .map(|i| format!("(1.0 - s.foot_contact[{i}])"))
                            .collect::<Vec<_>>()
                            .join(" + ");
                        format!("{offs} > 0.5")
                    };
                    (
                        indicator(&cond),
                        if feet.len() == 4 {
                            "1 when exactly one foot is off the ground (three feet touch it), else 0".to_string()
                        } else {
                            format!(
                                "1 when {which} foot is off the ground (foot_contact = 0), else 0"
                            )
                        },
                        format!(
                            "foot_up_{}",
                            feet.iter().map(ToString::to_string).collect::<String>()
                        ),
                    )
                } else {
                    let cond = feet
                        .iter()
                        .map(|i| format!("s.foot_contact[{i}] < 0.5"))
                        .collect::<Vec<_>>()
                        .join(" && ");
                    (
                        indicator(&cond),
                        format!("1 when {which} feet are all off the ground, else 0"),
                        format!(
                            "feet_up_{}",
                            feet.iter().map(ToString::to_string).collect::<String>()
                        ),
                    )
                }
            }
            (None, Some(w)) => {
                words.push(w);
                let cond = feet
                    .iter()
                    .map(|i| format!("s.foot_contact[{i}] > 0.5"))
                    .collect::<Vec<_>>()
                    .join(" && ");
                (
                    indicator(&cond),
                    format!("1 when {which} feet all touch the ground, else 0"),
                    format!(
                        "feet_down_{}",
                        feet.iter().map(ToString::to_string).collect::<String>()
                    ),
                )
            }
            // A leg named with no event ("walk on four legs"): nothing to measure.
            (None, None) => {
                unmark_words(t, &words);
                continue;
            }
        };
        terms.push(FitnessTerm {
            name,
            expr,
            weight: 1.0,
            reading,
            words,
            goal: true,
        });
    }
}

/// Makes `words` (phrases a rule marked) unused again, so that they count as
/// unmapped. Only the last marked occurrence of each is unmarked.
fn unmark_words(t: &mut Text, words: &[String]) {
    for phrase in words {
        let n = phrase.split(' ').count();
        if let Some(i) = (0..t.toks.len().saturating_sub(n - 1))
            .rev()
            .find(|&i| t.toks[i..i + n].join(" ") == *phrase && t.used[i..i + n].iter().all(|u| *u))
        {
            for u in &mut t.used[i..i + n] {
                *u = false;
            }
        }
    }
}

/// A legged body with a torso: travel, turning, height, uprightness, falls.
#[allow(clippy::too_many_lines)]
fn body(t: &mut Text, terms: &mut Vec<FitnessTerm>, spec: &StateSpec) {
    let has = |n: &str| spec.fields().iter().any(|f| f.name == n);
    let mut moving = false;
    // Turning first: "turn left" is a yaw, not a sideways walk.
    if has("torso_angvel")
        && let Some((i, n)) = t.find(TURN)
    {
        let mut words = vec![t.mark(i, n)];
        words.extend(t.take(&["around", "round", "on the spot", "in place"]));
        let next = |t: &Text, alts: &[&str]| {
            t.find(alts)
                .filter(|&(k, _)| k > i && k <= i + 4)
                .or_else(|| t.find(alts).filter(|&(k, _)| k + 4 >= i && k < i))
        };
        let sign = if let Some((k, m)) = next(&*t, CCW).or_else(|| next(&*t, LEFT)) {
            words.push(t.mark(k, m));
            (1.0, "counter-clockwise (left)")
        } else if let Some((k, m)) = next(&*t, CW).or_else(|| next(&*t, RIGHT)) {
            words.push(t.mark(k, m));
            (-1.0, "clockwise (right)")
        } else {
            (
                1.0,
                "counter-clockwise (no direction named: counter-clockwise)",
            )
        };
        let rate = if sign.0 < 0.0 {
            "-s.torso_angvel[2]".to_string()
        } else {
            "s.torso_angvel[2]".to_string()
        };
        let what = format!("the yaw rate {}", sign.1);
        let term = match t.quantity(RATE_UNITS) {
            Some((b, w)) => {
                words.extend(w);
                bound_term("turn", &rate, &what, "rad/s", b, 0.25, words, true)
            }
            None => FitnessTerm {
                name: "turn".into(),
                expr: rate,
                weight: 1.0,
                reading: format!("{what}, rad/s"),
                words,
                goal: true,
            },
        };
        terms.push(term);
        moving = true;
    }
    // Travel.
    let verbs = &[
        "walk",
        "walks",
        "walking",
        "run",
        "runs",
        "running",
        "move",
        "moves",
        "moving",
        "go",
        "travel",
        "travels",
        "travelling",
        "traveling",
        "locomote",
        "head",
        "jog",
        "jogging",
        "crawl",
        "crawling",
        "back up",
    ];
    let verb = t.take(verbs);
    let crawl = verb.as_deref().is_some_and(|v| v.starts_with("crawl"));
    let back_before_leg = |t: &Text| {
        t.find(&["back"]).is_some_and(|(i, _)| {
            t.toks
                .get(i + 1)
                .is_some_and(|n| ["leg", "legs", "foot", "feet"].contains(&n.as_str()))
        })
    };
    let dir = if let Some(w) = t.take(FORWARD) {
        Some((0, 1.0, "+x (forward)", w))
    } else if !back_before_leg(&*t)
        && let Some(w) = t.take(BACKWARD)
    {
        Some((0, -1.0, "−x (backward)", w))
    } else if verb.as_deref() == Some("back up") {
        Some((0, -1.0, "−x (backward)", String::new()))
    } else if let Some(w) = t.take(LEFT).or_else(|| t.take(&["sideways", "sidewards"])) {
        Some((1, 1.0, "+y (left)", w))
    } else {
        t.take(RIGHT).map(|w| (1, -1.0, "−y (right)", w))
    };
    if verb.is_some() || dir.is_some() {
        let mut words: Vec<String> = verb.iter().filter(|v| !v.is_empty()).cloned().collect();
        let (axis, sign, axis_name) = match &dir {
            Some((a, s, n, w)) => {
                if !w.is_empty() {
                    words.push(w.clone());
                }
                (*a, *s, (*n).to_string())
            }
            None => (0, 1.0, "+x (no direction named: forward)".to_string()),
        };
        let v = if sign < 0.0 {
            format!("-s.torso_linvel[{axis}]")
        } else {
            format!("s.torso_linvel[{axis}]")
        };
        let what = format!("the speed along {axis_name}");
        let slow = t.take(&["slowly", "slow", "gently", "leisurely", "carefully"]);
        let fast = t.take(&[
            "as fast as possible",
            "as fast as it can",
            "at full speed",
            "fast",
            "quickly",
            "quick",
            "rapidly",
        ]);
        match t.quantity(SPEED_UNITS) {
            Some((Bound::Target(x), w)) => {
                words.extend(slow);
                words.extend(w);
                terms.push(bound_term(
                    "speed",
                    &v,
                    &what,
                    "m/s",
                    Bound::Target(x),
                    0.05,
                    words,
                    true,
                ));
            }
            Some((Bound::AtMost(x), w)) => {
                words.extend(fast);
                terms.push(FitnessTerm {
                    name: "speed".into(),
                    expr: format!("min({v}, {})", lit(x)),
                    weight: 1.0,
                    reading: format!("{what} in m/s, counted up to {} m/s", lit(x)),
                    words,
                    goal: true,
                });
                terms.push(bound_term(
                    "speed_limit",
                    &v,
                    &what,
                    "m/s",
                    Bound::AtMost(x),
                    0.0,
                    w,
                    false,
                ));
            }
            Some((Bound::AtLeast(x), w)) => {
                words.extend(fast);
                terms.push(FitnessTerm {
                    name: "speed".into(),
                    expr: v.clone(),
                    weight: 1.0,
                    reading: format!("{what}, m/s"),
                    words,
                    goal: true,
                });
                terms.push(bound_term(
                    "speed_floor",
                    &v,
                    &what,
                    "m/s",
                    Bound::AtLeast(x),
                    0.0,
                    w,
                    false,
                ));
            }
            None if slow.is_some() => {
                words.extend(slow);
                terms.push(bound_term(
                    "speed",
                    &v,
                    &what,
                    "m/s",
                    Bound::Target(0.3),
                    0.05,
                    words,
                    true,
                ));
            }
            None => {
                words.extend(fast);
                terms.push(FitnessTerm {
                    name: "speed".into(),
                    expr: v,
                    weight: 1.0,
                    reading: format!("{what}, m/s (higher is better)"),
                    words,
                    goal: true,
                });
            }
        }
        moving = true;
    }
    // Standing still.
    if !moving && let Some(w) = t.take(STILL) {
        terms.push(FitnessTerm {
            name: "still".into(),
            expr: "exp(-(sq(s.torso_linvel[0]) + sq(s.torso_linvel[1])) / 0.01)".into(),
            weight: 1.0,
            reading: "closeness of the horizontal speed to 0 (exp(−|v_xy|²/0.01))".into(),
            words: vec![w],
            goal: true,
        });
    }
    // Height.
    if has("torso_height") {
        let rest = 0.55;
        let low = t.take(&[
            "low",
            "lower",
            "crouch",
            "crouched",
            "crouching",
            "squat",
            "squatting",
        ]);
        let high = if low.is_none() {
            t.take(&["high", "tall", "raised"])
        } else {
            None
        };
        let quantity = if low.is_some() || high.is_some() || t.has(&["height", "body", "torso"]) {
            t.quantity(LENGTH_UNITS)
        } else {
            None
        };
        let goal = !moving;
        if let Some((b, w)) = quantity {
            let mut words: Vec<String> = low.into_iter().chain(high).collect();
            words.extend(t.take_all(BODY));
            words.extend(w);
            terms.push(bound_term(
                "height",
                "s.torso_height",
                "the torso height",
                "m",
                b,
                0.01,
                words,
                goal,
            ));
        } else if crawl || low.is_some() {
            let mut words: Vec<String> = low.into_iter().collect();
            words.extend(t.take_all(BODY));
            if words.is_empty() {
                words.push("crawl".to_string());
            }
            let target = 0.7 * rest;
            let term = bound_term(
                "low",
                "s.torso_height",
                "the torso height (\"low\": 0.7 × the 0.55 m rest height)",
                "m",
                Bound::Target(target),
                0.01,
                words,
                goal,
            );
            terms.push(term);
        } else if let Some(h) = high {
            let mut words = vec![h];
            words.extend(t.take_all(BODY));
            terms.push(FitnessTerm {
                name: "height".into(),
                expr: format!("clamp(s.torso_height - {}, 0.0, 0.5)", lit(rest)),
                weight: if goal { 1.0 } else { 0.5 },
                reading: "the torso height above its 0.55 m rest height, m (0 to 0.5)".into(),
                words,
                goal,
            });
        }
    }
    // Uprightness and falls.
    if has("up_z") {
        let up = t.take(&[
            "stand up",
            "standing up",
            "stand upright",
            "upright",
            "stand",
            "standing",
            "balance",
            "balanced",
            "level",
        ]);
        if let Some(w) = up {
            let mut words = vec![w];
            words.extend(t.take_all(&["body", "torso"]));
            terms.push(FitnessTerm {
                name: "upright".into(),
                expr: "s.up_z".into(),
                weight: if moving { 0.5 } else { 1.0 },
                reading: "the torso's uprightness up_z (1 upright, −1 upside down)".into(),
                words,
                goal: !moving,
            });
        }
    }
    if has("fallen") {
        let fall = t.take_all(FALL);
        if !fall.is_empty() {
            terms.push(FitnessTerm {
                name: "not_fallen".into(),
                expr: "1.0 - clamp(s.fallen, 0.0, 1.0)".into(),
                weight: 0.5,
                reading: "1 while the robot has not fallen (fallen = 0), else 0".into(),
                words: fall,
                goal: false,
            });
        }
    }
    // A body word beside a measured torso term is about it.
    if terms
        .iter()
        .any(|x| x.expr.contains("torso") || x.expr.contains("up_z"))
    {
        let _ = t.take_all(&["body", "torso"]);
    }
}

#[allow(clippy::too_many_lines)]
/// The cart and pole.
fn cartpole(t: &mut Text, terms: &mut Vec<FitnessTerm>) {
    if let Some(w) = t.take(&[
        "swing up",
        "swings up",
        "swing the pole up",
        "swing-up",
        "swingup",
        "swing",
    ]) {
        terms.push(FitnessTerm {
            name: "upright".into(),
            expr: "(s.pole_up + 1.0) / 2.0".into(),
            weight: 1.0,
            reading: "the pole's height as (pole_up + 1) / 2 (1 straight up, 0 hanging down)"
                .into(),
            words: vec![w],
            goal: true,
        });
    }
    let up = t.take_all(&[
        "balance",
        "balanced",
        "balancing",
        "upright",
        "vertical",
        "up",
        "straight up",
    ]);
    if !up.is_empty() {
        let q = match t.quantity(ANGLE_UNITS) {
            Some((Bound::AtLeast(_), w)) => {
                unmark_words(t, &w);
                None
            }
            Some((Bound::Target(x) | Bound::AtMost(x), w)) => Some((Bound::AtMost(x), w)),
            None => None,
        };
        terms.push(match q {
            Some((Bound::AtMost(x), w)) => {
                let mut words = up;
                words.extend(w);
                words.extend(t.take(&["of upright", "from upright", "of vertical"]));
                bound_term(
                    "upright",
                    "abs(s.pole_angle)",
                    "the pole's angle from upright",
                    "rad",
                    Bound::AtMost(x),
                    0.0,
                    words,
                    true,
                )
            }
            _ => FitnessTerm {
                name: "upright".into(),
                expr: "s.pole_up".into(),
                weight: 1.0,
                reading: "the pole's uprightness pole_up (cos of its angle: 1 upright, −1 hanging)"
                    .into(),
                words: up,
                goal: true,
            },
        });
    }
    let hang = t.take_all(&["hang", "hanging", "hangs", "down"]);
    if !hang.is_empty() {
        terms.push(FitnessTerm {
            name: "hanging".into(),
            expr: "(1.0 - s.pole_up) / 2.0".into(),
            weight: 1.0,
            reading: "how far the pole hangs down, (1 − pole_up) / 2 (1 straight down)".into(),
            words: hang,
            goal: true,
        });
    }
    // The rail.
    if let Some(w) = t.take(&[
        "without leaving the rail",
        "without running off the rail",
        "without falling off the rail",
        "without hitting the ends",
        "without hitting the end",
        "on the rail",
        "on the track",
        "not leave the rail",
    ]) {
        terms.push(FitnessTerm {
            name: "on_rail".into(),
            expr: indicator("abs(s.cart_pos) < 2.4"),
            weight: 0.5,
            reading: "1 while the cart is on the rail (|cart_pos| < 2.4 m), else 0".into(),
            words: vec![w],
            goal: false,
        });
    }
    if let Some(c) = t.take(&["centre", "center", "middle"]) {
        let mut words = vec![c];
        words.extend(t.take(&["near", "close to", "at", "in"]));
        let term = match t.quantity(LENGTH_UNITS) {
            Some((b, w)) => {
                words.extend(w);
                let b = match b {
                    Bound::Target(x) => Bound::AtMost(x),
                    other => other,
                };
                bound_term(
                    "centred",
                    "abs(s.cart_pos)",
                    "the cart's distance from the centre",
                    "m",
                    b,
                    0.0,
                    words,
                    false,
                )
            }
            None => bound_term(
                "centred",
                "s.cart_pos",
                "the cart's position",
                "m",
                Bound::Target(0.0),
                0.25,
                words,
                false,
            ),
        };
        let goal = terms.iter().all(|x| !x.goal);
        terms.push(FitnessTerm {
            goal,
            weight: if goal { 1.0 } else { 0.5 },
            ..term
        });
    }
    // Moving the cart.
    let verb = t.take(&["move", "moves", "drive", "push", "go", "travel", "roll"]);
    let dir = if let Some(w) = t.take(&["to the right", "right", "rightwards", "+x", "forward"]) {
        Some((1.0, "+x", w))
    } else {
        t.take(&[
            "to the left",
            "left",
            "leftwards",
            "-x",
            "backward",
            "backwards",
        ])
        .map(|w| (-1.0, "−x", w))
    };
    if let Some((sign, axis, w)) = dir {
        let mut words: Vec<String> = verb.into_iter().collect();
        words.push(w);
        terms.push(FitnessTerm {
            name: "cart_place".into(),
            expr: if sign > 0.0 {
                "s.cart_pos".into()
            } else {
                "-s.cart_pos".into()
            },
            weight: 1.0,
            reading: format!("the cart's position along {axis} (right is +x), m"),
            words,
            goal: true,
        });
    } else if let Some(v) = verb {
        unmark_words(t, &[v]);
    }
    if let Some(w) = t.take(&["still", "steady", "stationary", "not move"]) {
        terms.push(FitnessTerm {
            name: "cart_still".into(),
            expr: "exp(-sq(s.cart_vel) / 0.1)".into(),
            weight: 0.5,
            reading: "closeness of the cart's speed to 0 (exp(−v²/0.1))".into(),
            words: vec![w],
            goal: false,
        });
    }
}

const CUBE: &[&str] = &["cube", "block", "box", "object"];
const TIP: &[&str] = &[
    "fingertip",
    "finger tip",
    "tip",
    "hand",
    "gripper",
    "end effector",
    "end-effector",
    "effector",
    "claw",
    "fingers",
];

/// The arm: the fingertip target, the cube, the goal, the gripper.
#[allow(clippy::too_many_lines)]
fn arm(t: &mut Text, terms: &mut Vec<FitnessTerm>) {
    fn close(d: &str, what: &str, words: Vec<String>, t: &mut Text) -> FitnessTerm {
        match t.quantity(LENGTH_UNITS) {
            Some((b, w)) => {
                let mut words = words;
                words.extend(w);
                let b = match b {
                    Bound::Target(x) => Bound::AtMost(x),
                    other => other,
                };
                bound_term("reach", d, what, "m", b, 0.0, words, true)
            }
            None => FitnessTerm {
                name: "reach".into(),
                expr: format!("exp(-{d} / 0.05)"),
                weight: 1.0,
                reading: format!("closeness of {what} to 0 (exp(−d/0.05 m): 1 there)"),
                words,
                goal: true,
            },
        }
    }
    // Pushing the cube to the goal.
    if t.has(CUBE) && t.has(&["goal"]) {
        let mut words = Vec::new();
        words.extend(t.take(&[
            "push", "pushes", "slide", "move", "bring", "put", "place", "carry", "get", "shove",
        ]));
        words.extend(t.take(CUBE));
        words.extend(t.take(&["goal position", "goal spot", "goal"]));
        let term = close(
            "s.cube_to_goal",
            "the cube's distance to goal_pos (table plane)",
            words,
            t,
        );
        terms.push(FitnessTerm {
            name: "cube_at_goal".into(),
            ..term
        });
    }
    // Lifting, gripping the cube.
    if t.has(CUBE)
        && let Some(w) = t.take(&["pick up", "picks up", "lift", "lifts", "raise", "raises"])
    {
        let mut words = vec![w];
        words.extend(t.take(CUBE));
        words.extend(t.take(&["off the table", "up"]));
        let term = match t.quantity(LENGTH_UNITS) {
            Some((b, q)) => {
                words.extend(q);
                bound_term(
                    "lift",
                    "s.cube_height",
                    "the cube's centre height",
                    "m",
                    b,
                    0.005,
                    words,
                    true,
                )
            }
            None => FitnessTerm {
                name: "lift".into(),
                expr: "s.lifted".into(),
                weight: 1.0,
                reading: "1 when the cube is held with its centre above 0.1 m (lifted), else 0"
                    .into(),
                words,
                goal: true,
            },
        };
        terms.push(term);
    }
    if t.has(CUBE)
        && let Some(w) = t.take(&[
            "grasp", "grasps", "grip", "grips", "grab", "grabs", "hold", "holds", "pinch",
        ])
    {
        let mut words = vec![w];
        words.extend(t.take(CUBE));
        words.extend(t.take(&["between the fingers", "between its fingers"]));
        terms.push(FitnessTerm {
            name: "grasp".into(),
            expr: "s.grasped".into(),
            weight: 1.0,
            reading: "1 when both finger pads touch the cube (grasped), else 0".into(),
            words,
            goal: true,
        });
    }
    // Reaching the cube.
    if let Some(w) = t.take(&[
        "reach",
        "reaches",
        "touch",
        "touches",
        "go to",
        "move to",
        "point at",
        "reach for",
    ]) {
        if let Some(c) = t.take(CUBE) {
            let mut words = vec![w, c];
            words.extend(t.take(TIP));
            let term = close(
                "s.tip_to_cube",
                "the fingertip's distance to the cube's centre",
                words,
                t,
            );
            terms.push(FitnessTerm {
                name: "reach_cube".into(),
                ..term
            });
        } else if let Some(p) = t.take(&["target point", "target", "point", "marker"]) {
            let mut words = vec![w, p];
            words.extend(t.take(TIP));
            words.extend(t.take(&[
                "hold it there",
                "stay there",
                "keep it there",
                "until the episode ends",
            ]));
            let term = close(
                "s.tip_to_target",
                "the fingertip's distance to target_pos",
                words,
                t,
            );
            terms.push(term);
        } else {
            unmark_words(t, &[w]);
        }
    }
    // The gripper.
    if let Some(w) = t.take(&["open", "opens", "opened"]) {
        let mut words = vec![w];
        words.extend(t.take(&["gripper", "fingers", "hand"]));
        terms.push(FitnessTerm {
            name: "gripper_open".into(),
            expr: "s.gripper_opening / 0.09".into(),
            weight: 1.0,
            reading: "the gripper's opening as a fraction of fully open (0.09 m)".into(),
            words,
            goal: true,
        });
    } else if let Some(w) = t.take(&["close", "closes", "shut"]) {
        let mut words = vec![w];
        words.extend(t.take(&["gripper", "fingers", "hand"]));
        terms.push(FitnessTerm {
            name: "gripper_closed".into(),
            expr: "1.0 - s.gripper_opening / 0.09".into(),
            weight: 1.0,
            reading: "how closed the gripper is, 1 − opening / 0.09 m".into(),
            words,
            goal: true,
        });
    }
    // Moving the fingertip in a direction: its place along that axis.
    let dirs: [(&[&str], usize, f64, &str); 6] = [
        (
            &["to the left", "left", "leftwards", "+y"][..],
            1,
            1.0,
            "+y (left)",
        ),
        (
            &["to the right", "right", "rightwards", "-y"][..],
            1,
            -1.0,
            "−y (right)",
        ),
        (
            &["forward", "forwards", "away", "outwards", "+x"][..],
            0,
            1.0,
            "+x (away from the base)",
        ),
        (
            &["backward", "backwards", "towards the base", "inwards", "-x"][..],
            0,
            -1.0,
            "−x (towards the base)",
        ),
        (
            &["upwards", "up", "higher", "high", "+z"][..],
            2,
            1.0,
            "+z (up)",
        ),
        (
            &["downwards", "down", "lower", "low", "-z"][..],
            2,
            -1.0,
            "−z (down)",
        ),
    ];
    if t.has(TIP) || t.has(&["move", "raise", "lower"]) {
        for (alts, axis, sign, name) in dirs {
            if let Some(w) = t.take(alts) {
                let mut words = vec![w];
                words.extend(t.take(TIP));
                words.extend(t.take(&["move", "moves", "raise", "go"]));
                terms.push(FitnessTerm {
                    name: format!("tip_axis_{axis}"),
                    expr: if sign > 0.0 {
                        format!("s.tip_pos[{axis}]")
                    } else {
                        format!("-s.tip_pos[{axis}]")
                    },
                    weight: 1.0,
                    reading: format!("the fingertip's position along {name}, m"),
                    words,
                    goal: true,
                });
                break;
            }
        }
    }
    if terms.iter().any(|x| x.expr.contains("tip")) {
        let _ = t.take_all(TIP);
    }
    if terms.iter().any(|x| x.expr.contains("cube")) {
        let _ = t.take_all(CUBE);
    }
}

/// The hand with a cube or pen.
fn hand(t: &mut Text, terms: &mut Vec<FitnessTerm>) {
    // The hand's described tasks use its first task's cube: a "pen" is not there.
    let object = &["cube", "object", "block", "it"];
    if t.has(&["target", "orientation", "reorient", "re-orient", "match"]) {
        let mut words = t.take_all(&[
            "reorient",
            "re-orient",
            "turn",
            "rotate",
            "match",
            "matches",
            "reach",
            "target orientation",
            "target",
            "orientation",
            "pose",
        ]);
        words.extend(t.take(object));
        terms.push(FitnessTerm {
            name: "orientation".into(),
            expr: "exp(-s.orient_error / 0.4)".into(),
            weight: 1.0,
            reading:
                "closeness of the object's orientation to target_quat (exp(−orient_error/0.4 rad))"
                    .into(),
            words,
            goal: true,
        });
    } else if let Some((i, n)) = t.find(&[
        "spin", "spins", "spinning", "rotate", "rotates", "rotating", "turn", "turns", "turning",
        "twirl", "roll", "rolls", "rolling",
    ]) {
        let verb = t.mark(i, n);
        let mut words = vec![verb.clone()];
        words.extend(t.take(object));
        let own = t.take(&[
            "about its own axis",
            "about its long axis",
            "about its own long axis",
            "around its own axis",
            "around its long axis",
            "along its long axis",
            "about its axis",
        ]);
        let (rate, what) = if own.is_some() || verb.starts_with("roll") {
            words.extend(own);
            (
                "abs(s.axis_spin)".to_string(),
                "the spin rate about the object's own axis (either way)".to_string(),
            )
        } else if let Some(w) = t.take(CW) {
            words.push(w);
            (
                "-s.object_angvel[2]".to_string(),
                "the object's spin rate about the vertical, clockwise seen from above".to_string(),
            )
        } else {
            let ccw = t.take(CCW);
            let named = ccw.is_some();
            words.extend(ccw);
            (
                "s.object_angvel[2]".to_string(),
                format!(
                    "the object's spin rate about the vertical, counter-clockwise seen from above{}",
                    if named { "" } else { " (no direction named)" }
                ),
            )
        };
        let term = match t.quantity(RATE_UNITS) {
            Some((b, w)) => {
                words.extend(w);
                bound_term("spin", &rate, &what, "rad/s", b, 0.5, words, true)
            }
            None => FitnessTerm {
                name: "spin".into(),
                expr: rate,
                weight: 1.0,
                reading: format!("{what}, rad/s"),
                words,
                goal: true,
            },
        };
        terms.push(term);
    }
    if let Some(w) = t.take(&[
        "without dropping",
        "not drop",
        "never drop",
        "in the hand",
        "in hand",
        "on the palm",
    ]) {
        let mut words = vec![w];
        words.extend(t.take(object));
        terms.push(FitnessTerm {
            name: "not_dropped".into(),
            expr: "1.0 - clamp(s.dropped, 0.0, 1.0)".into(),
            weight: 0.5,
            reading: "1 while the object has not been dropped (dropped = 0), else 0".into(),
            words,
            goal: false,
        });
    }
    if terms
        .iter()
        .any(|x| x.expr.contains("object") || x.expr.contains("orient") || x.expr.contains("axis"))
    {
        let _ = t.take_all(object);
    }
}

/// The hand turning a valve.
fn valve(t: &mut Text, terms: &mut Vec<FitnessTerm>) {
    let verbs = &[
        "turn", "turns", "turning", "rotate", "rotates", "rotating", "spin", "spins", "spinning",
    ];
    if t.has(&["target", "until it matches", "match", "reach"]) {
        let mut words = t.take_all(verbs);
        words.extend(t.take_all(&[
            "target angle",
            "target",
            "until it matches",
            "matches",
            "match",
            "reach",
            "until",
        ]));
        terms.push(FitnessTerm {
            name: "at_target".into(),
            expr: "exp(-abs(s.angle_error) / 0.3)".into(),
            weight: 1.0,
            reading: "closeness of the valve's angle to target_angle (exp(−|angle_error|/0.3 rad))"
                .into(),
            words,
            goal: true,
        });
    } else if let Some(v) = t.take(verbs) {
        let mut words = vec![v];
        let (sign, dir) = if let Some(w) = t.take(CW) {
            words.push(w);
            (-1.0, "clockwise seen from above")
        } else {
            words.extend(t.take(CCW));
            (1.0, "counter-clockwise seen from above")
        };
        let signed = |f: &str| {
            if sign < 0.0 {
                format!("-s.{f}")
            } else {
                format!("s.{f}")
            }
        };
        let term = if let Some((b, w)) = t.quantity(ANGLE_UNITS) {
            words.extend(w);
            words.extend(t.take(&["by", "through"]));
            bound_term(
                "turned",
                &signed("valve_turned"),
                &format!("the valve's total turn {dir}"),
                "rad",
                b,
                0.5,
                words,
                true,
            )
        } else if let Some((b, w)) = t.quantity(RATE_UNITS) {
            words.extend(w);
            bound_term(
                "turn",
                &signed("valve_vel"),
                &format!("the valve's rate {dir}"),
                "rad/s",
                b,
                0.5,
                words,
                true,
            )
        } else {
            FitnessTerm {
                name: "turn".into(),
                expr: signed("valve_vel"),
                weight: 1.0,
                reading: format!("the valve's rate {dir}, rad/s"),
                words,
                goal: true,
            }
        };
        terms.push(term);
    }
}

impl Understanding {
    /// Whether a term states the goal.
    #[must_use]
    pub fn has_goal(&self) -> bool {
        self.terms.iter().any(|t| t.goal)
    }

    /// Why the offline designer will not measure this description, if it
    /// will not: no goal it can measure, or (unless `accept_partial`) words
    /// it cannot measure.
    #[must_use]
    pub fn refusal(&self, accept_partial: bool) -> Option<String> {
        let advice = "describe the task with words it knows (see README: \"A task in your own words\"), \
                      or use a language model (--llm openai --base-url URL --model M)";
        if !self.has_goal() {
            return Some(format!(
                "the offline designer (a keyword composer, not a language model) found no goal it can \
                 measure in the description{}; {advice}",
                if self.unmapped.is_empty() {
                    String::new()
                } else {
                    format!("; words it cannot measure: {}", quoted(&self.unmapped))
                }
            ));
        }
        if !self.unmapped.is_empty() && !accept_partial {
            return Some(format!(
                "the offline designer (a keyword composer, not a language model) cannot measure these \
                 words of the description: {}. It understood: {}. Rather than measure another task, \
                 it stops: {advice}, or pass --accept-partial-fitness to measure only what it understood",
                quoted(&self.unmapped),
                self.mapped_text()
            ));
        }
        None
    }

    /// "\"backwards\" \"slowly\" → …; …".
    #[must_use]
    pub fn mapped_text(&self) -> String {
        self.terms
            .iter()
            .map(|t| format!("{} → {}", quoted(&t.words), t.reading))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The plain reading of the fitness, one line each.
    #[must_use]
    pub fn reading(&self) -> Vec<String> {
        let total: f64 = self.terms.iter().map(|t| t.weight).sum::<f64>().max(1e-9);
        let mut out = vec!["fitness = mean over the episode's full length of:".to_string()];
        for t in &self.terms {
            out.push(format!(
                "  {} × {} (from {})",
                lit_short(t.weight / total),
                t.reading,
                quoted(&t.words)
            ));
        }
        out.push("an episode that ends early scores 0 for its remaining steps".to_string());
        if !self.unmapped.is_empty() {
            out.push(format!(
                "**Ignored — not measured (--accept-partial-fitness): {}**",
                quoted(&self.unmapped)
            ));
        }
        if !self.filler.is_empty() {
            out.push(format!("read as filler: {}", self.filler.join(", ")));
        }
        out
    }

    /// The fitness program: `// reading:` lines, then `fn fitness(episode)`.
    #[must_use]
    pub fn fitness_source(&self) -> String {
        let mut text = String::new();
        for line in self.reading() {
            let _ = writeln!(text, "{READING_PREFIX}{line}");
        }
        let total: f64 = self.terms.iter().map(|t| t.weight).sum::<f64>().max(1e-9);
        text.push_str(
            "fn fitness(episode) {\n    if episode.length == 0 {\n        return 0.0;\n    }\n    \
             let total = 0.0;\n    for s in episode.steps {\n",
        );
        for t in &self.terms {
            let _ = writeln!(
                text,
                "        total += {} * ({}); // {}",
                lit(t.weight / total),
                t.expr,
                t.name
            );
        }
        text.push_str("    }\n    total / episode.max_steps\n}\n");
        text
    }
}

/// The comment prefix of a fitness program's plain reading.
pub const READING_PREFIX: &str = "// reading: ";

/// A weight as two decimals ("0.67").
fn lit_short(x: f64) -> String {
    format!("{x:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quadruped() -> StateSpec {
        StateSpec::builder()
            .vector("torso_linvel", 3, "m/s", "world", "velocity")
            .vector("torso_angvel", 3, "rad/s", "world", "angular velocity")
            .scalar("torso_height", "m", "world", "height (rest ≈ 0.55)")
            .scalar("up_z", "1", "world", "up")
            .vector("foot_contact", 4, "1", "world", "contacts")
            .scalar("fallen", "1", "world", "fell")
            .build()
    }

    #[test]
    fn numbers_and_units_are_read_with_their_qualifier() {
        let mut t = Text::new("walk at roughly 0.5m/s");
        assert_eq!(
            t.quantity(SPEED_UNITS).map(|q| q.0),
            Some(Bound::Target(0.5))
        );
        let mut t = Text::new("no quicker than 30 cm/s");
        let (b, w) = t.quantity(SPEED_UNITS).unwrap();
        assert_eq!(b, Bound::AtMost(0.3));
        assert_eq!(
            w,
            vec!["no quicker than".to_string(), "30 cm/s".to_string()]
        );
        let mut t = Text::new("within half a metre of the centre");
        assert_eq!(
            t.quantity(LENGTH_UNITS).map(|q| q.0),
            Some(Bound::AtMost(0.5))
        );
        let mut t = Text::new("at least 1 m/s");
        assert_eq!(
            t.quantity(SPEED_UNITS).map(|q| q.0),
            Some(Bound::AtLeast(1.0))
        );
    }

    #[test]
    fn the_example_reads_as_two_weighted_closenesses() {
        let u = understand(
            "walk backwards slowly while keeping the body low",
            &quadruped(),
        );
        assert!(u.unmapped.is_empty(), "{u:?}");
        let r = u.reading().join("\n");
        assert!(r.contains("0.67 × closeness of the speed along −x"), "{r}");
        assert!(r.contains("0.33 × closeness of the torso height"), "{r}");
        assert!(r.contains("remaining steps"), "{r}");
        assert!(u.fitness_source().contains("-s.torso_linvel[0]"));
    }

    #[test]
    fn unknown_words_are_named_and_filler_is_not() {
        let u = understand(
            "please hop forward while keeping the robot upright",
            &quadruped(),
        );
        assert_eq!(u.unmapped, vec!["hop".to_string()]);
        assert!(u.refusal(false).unwrap().contains("\"hop\""));
        assert!(u.refusal(true).is_none());
        let u = understand("dance gracefully", &quadruped());
        assert!(!u.has_goal());
        assert!(u.refusal(true).unwrap().contains("no goal"));
    }

    #[test]
    fn a_negation_is_never_read_as_its_opposite() {
        let u = understand("walk forward without turning", &quadruped());
        assert!(u.terms.iter().all(|t| t.name != "turn"), "{:?}", u.terms);
        assert_eq!(
            u.unmapped,
            vec!["without".to_string(), "turning".to_string()]
        );
        let u = understand("do not walk backwards", &quadruped());
        assert!(!u.has_goal(), "{:?}", u.terms);
        // Known negations are measured.
        let u = understand("walk forward without falling", &quadruped());
        assert!(u.unmapped.is_empty(), "{:?}", u.unmapped);
        let u = understand("walk no faster than 0.5 m/s", &quadruped());
        assert!(u.unmapped.is_empty(), "{:?}", u.unmapped);
    }

    #[test]
    fn feet_events_read_the_foot_contacts() {
        let u = understand("lift the front left leg without falling", &quadruped());
        assert!(u.unmapped.is_empty(), "{u:?}");
        assert!(
            u.terms[0].expr.contains("s.foot_contact[0]"),
            "{:?}",
            u.terms
        );
        assert!(!u.terms[0].expr.contains("foot_contact[1]"));
        assert!(u.terms.iter().any(|t| t.name == "not_fallen"));
    }
}
