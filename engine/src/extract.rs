//! Finding the reward program in a completion.
//!
//! Models wrap code in Markdown fences (```` ```rhai ````, ```` ```rust ````,
//! ```` ```js ````, unlabelled), write several blocks (a draft, then the fix;
//! a helper, then the reward), put prose around them, think aloud in
//! `<think>` sections, or send bare code. [`extract_code`] picks the block
//! that defines `compute_reward` (the last one, when several do: later blocks
//! are revisions), adds helper functions it calls that other blocks define,
//! and says plainly when there is no program ([`Extracted::NoCode`]), a
//! typed outcome that the engine feeds back as text.
//!
//! [`extract_review`] reads a critic's answer (`VERDICT: ACCEPT` or
//! `VERDICT: REJECT`, then reasons as bullet points).

use serde::{Deserialize, Serialize};

/// The outcome of looking for a reward program in a completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Extracted {
    /// A program was found.
    Code {
        /// The program's source.
        source: String,
        /// The fence's language label (`rhai`, `rust`, …), if any.
        language: Option<String>,
        /// Code blocks in the completion (0 for bare code).
        blocks: usize,
        /// Whether the chosen block's closing fence is missing (the answer was
        /// probably cut off).
        truncated: bool,
    },
    /// No program: why, in words fit for the model's next prompt.
    NoCode {
        /// What was wrong.
        reason: String,
    },
}

impl Extracted {
    /// The source, when a program was found.
    #[must_use]
    pub fn source(&self) -> Option<&str> {
        match self {
            Self::Code { source, .. } => Some(source),
            Self::NoCode { .. } => None,
        }
    }
}

/// A fenced block.
#[derive(Debug)]
struct Block {
    lang: Option<String>,
    body: String,
    closed: bool,
}

/// Labels of blocks that are surely not a reward program.
const NOT_CODE: &[&str] = &[
    "text", "txt", "json", "toml", "yaml", "yml", "bash", "sh", "shell", "console", "markdown",
    "md", "output", "diff", "csv",
];

/// The entry point a program must define: its name and parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Function name.
    pub name: &'static str,
    /// Parameter list, for messages.
    pub params: &'static str,
}

/// A reward program's entry point: `fn compute_reward(s, prev)`.
pub const REWARD_ENTRY: Entry = Entry {
    name: "compute_reward",
    params: "s, prev",
};

/// A fitness program's entry point: `fn fitness(episode)`.
pub const FITNESS_ENTRY: Entry = Entry {
    name: "fitness",
    params: "episode",
};

/// Finds the reward program in `completion`.
///
/// ```
/// use rewardsmith::extract::{Extracted, extract_code};
///
/// let text = "Here it is:\n```rhai\nfn compute_reward(s, prev) { #{ up: s.up_z } }\n```\nGood luck.";
/// assert_eq!(
///     extract_code(text).source(),
///     Some("fn compute_reward(s, prev) { #{ up: s.up_z } }")
/// );
/// assert!(matches!(extract_code("I cannot help."), Extracted::NoCode { .. }));
/// ```
#[must_use]
pub fn extract_code(completion: &str) -> Extracted {
    extract_program(completion, REWARD_ENTRY)
}

/// Finds the program defining `entry` in `completion` (as [`extract_code`]
/// does for reward programs).
#[must_use]
pub fn extract_program(completion: &str, entry: Entry) -> Extracted {
    let text = strip_think(completion);
    if text.trim().is_empty() {
        return Extracted::NoCode {
            reason: "the answer is empty".to_string(),
        };
    }
    let blocks = fenced_blocks(&text);
    if blocks.is_empty() {
        return bare_code(&text, entry);
    }
    let candidates: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.lang.as_deref().is_none_or(|l| !NOT_CODE.contains(&l)))
        .collect();
    let Some(chosen) = candidates
        .iter()
        .rev()
        .find(|b| defines(&b.body, entry.name))
    else {
        // A fence may hold prose and code together; look inside every block.
        if let Some(b) = blocks.iter().rev().find(|b| defines(&b.body, entry.name)) {
            return Extracted::Code {
                source: b.body.trim().to_string(),
                language: b.lang.clone(),
                blocks: blocks.len(),
                truncated: !b.closed,
            };
        }
        if defines(&text, entry.name) {
            return bare_code(&text, entry);
        }
        return Extracted::NoCode {
            reason: format!(
                "the answer has {} code block{} but none defines `fn {}({})`",
                blocks.len(),
                if blocks.len() == 1 { "" } else { "s" },
                entry.name,
                entry.params
            ),
        };
    };
    let mut source = chosen.body.trim().to_string();
    // Helpers called by the chosen block and defined only in other blocks.
    let mut helpers = Vec::new();
    for b in &candidates {
        if std::ptr::eq(*b, *chosen) || defines(&b.body, entry.name) {
            continue;
        }
        for (name, def) in functions(&b.body) {
            if !defines(&source, &name)
                && calls(&source, &name)
                && !helpers.iter().any(|(n, _)| *n == name)
            {
                helpers.push((name, def));
            }
        }
    }
    if !helpers.is_empty() {
        let defs: Vec<String> = helpers.into_iter().map(|(_, d)| d).collect();
        source = format!("{}\n\n{source}", defs.join("\n\n"));
    }
    Extracted::Code {
        source,
        language: chosen.lang.clone(),
        blocks: blocks.len(),
        truncated: !chosen.closed,
    }
}

/// Removes `<think>…</think>` sections (and an unclosed one to the end).
fn strip_think(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<think>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</think>") {
            Some(end) => rest = &rest[start + end + "</think>".len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every fenced block (``` or ~~~, up to 3 spaces of indent), in order; an
/// unclosed last fence runs to the end.
fn fenced_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, Option<String>, Vec<&str>)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let fence = if indent <= 3 {
            ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f))
        } else {
            None
        };
        match (&mut open, fence) {
            (None, Some(f)) => {
                let run: String = trimmed
                    .chars()
                    .take_while(|&c| c == f.as_bytes()[0] as char)
                    .collect();
                let info = trimmed[run.len()..].trim();
                let lang = info
                    .split(|c: char| c.is_whitespace() || c == '{' || c == ',')
                    .next()
                    .filter(|l| !l.is_empty())
                    .map(str::to_ascii_lowercase);
                open = Some((run, lang, Vec::new()));
            }
            (Some((run, _, _)), Some(_))
                if trimmed.starts_with(run.as_str())
                    && trimmed
                        .trim_end()
                        .chars()
                        .all(|c| c == run.as_bytes()[0] as char) =>
            {
                if let Some((_, lang, lines)) = open.take() {
                    blocks.push(Block {
                        lang,
                        body: lines.join("\n"),
                        closed: true,
                    });
                }
            }
            (Some((_, _, lines)), _) => lines.push(line),
            (None, None) => {}
        }
    }
    if let Some((_, lang, lines)) = open {
        blocks.push(Block {
            lang,
            body: lines.join("\n"),
            closed: false,
        });
    }
    blocks
}

/// Whether `code` defines `fn name(`.
fn defines(code: &str, name: &str) -> bool {
    fn_positions(code).any(|(n, _)| n == name)
}

/// Whether `code` calls `name(` other than in its definition.
fn calls(code: &str, name: &str) -> bool {
    let pat = format!("{name}(");
    code.match_indices(&pat).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let is_start = before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        is_start && !code[..i].trim_end().ends_with("fn")
    })
}

/// `(name, byte offset of "fn")` of every function definition.
fn fn_positions(code: &str) -> impl Iterator<Item = (String, usize)> + '_ {
    code.match_indices("fn ").filter_map(move |(i, _)| {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        let rest = code[i + 3..].trim_start();
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = rest[name.len()..].trim_start();
        (!name.is_empty() && after.starts_with('(')).then_some((name, i))
    })
}

/// Every function definition of `code` with its full text.
fn functions(code: &str) -> Vec<(String, String)> {
    fn_positions(code)
        .filter_map(|(name, start)| {
            let end = body_end(code, start)?;
            Some((name, code[start..end].to_string()))
        })
        .collect()
}

/// The byte offset just past the `}` closing the first `{` after `start`,
/// skipping strings and comments.
fn body_end(code: &str, start: usize) -> Option<usize> {
    let bytes = code.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    let mut opened = false;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
                continue;
            }
            b'"' | b'`' => {
                let q = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' => {
                depth += 1;
                opened = true;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                if opened && depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Code with no fence: from the first line that starts a definition (or a
/// comment right above it) to the end of the entry point's body.
fn bare_code(text: &str, entry: Entry) -> Extracted {
    let Some((_, at)) = fn_positions(text).find(|(n, _)| n == entry.name) else {
        return Extracted::NoCode {
            reason: format!(
                "the answer has no code block and does not define `fn {}({})`; \
                 answer with one ```rhai block",
                entry.name, entry.params
            ),
        };
    };
    let Some(end) = body_end(text, at) else {
        return Extracted::NoCode {
            reason: format!(
                "`fn {}` is never closed (unbalanced braces): the answer looks cut off",
                entry.name
            ),
        };
    };
    // Walk back over code-looking lines before the entry point (helpers,
    // comments), stopping at the first prose line.
    let line_start = text[..at].rfind('\n').map_or(0, |p| p + 1);
    let mut start = line_start;
    let mut depth: i64 = 0;
    let head = &text[..line_start];
    for line in head.split_inclusive('\n').rev() {
        let t = line.trim();
        depth += line.matches('}').count() as i64 - line.matches('{').count() as i64;
        let code_like = t.is_empty()
            || depth > 0
            || t.starts_with("fn ")
            || t.starts_with("//")
            || t.starts_with("let ")
            || t.starts_with("const ")
            || t.starts_with('}')
            || line.starts_with("    ")
            || line.starts_with('\t');
        if !code_like {
            break;
        }
        start -= line.len();
    }
    let source = text[start..end].trim().to_string();
    Extracted::Code {
        source,
        language: None,
        blocks: 0,
        truncated: false,
    }
}

/// A critic's decision about a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Train it.
    Accept,
    /// Do not train it.
    Reject,
    /// The answer has no readable verdict (treat as accept, and log it).
    Unclear,
}

/// A critic's answer, read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The decision.
    pub verdict: Verdict,
    /// The bullet points given as reasons (at most 5), without their markers.
    pub reasons: Vec<String>,
}

/// Reads a critic's answer: the first `VERDICT:` line (any case, Markdown
/// emphasis allowed) decides; bullet points after it are the reasons.
///
/// ```
/// use rewardsmith::extract::{Verdict, extract_review};
///
/// let r = extract_review("**VERDICT: REJECT**\n- pays for height, not speed\n- wrong sign on effort");
/// assert_eq!(r.verdict, Verdict::Reject);
/// assert_eq!(r.reasons, ["pays for height, not speed", "wrong sign on effort"]);
/// ```
#[must_use]
pub fn extract_review(answer: &str) -> Review {
    let text = strip_think(answer);
    let mut verdict = Verdict::Unclear;
    let mut reasons = Vec::new();
    let mut seen = false;
    for line in text.lines() {
        let raw = line.trim();
        if !seen {
            let t = raw
                .trim_matches(|c| c == '*' || c == '_' || c == '#' || c == '`')
                .trim();
            let upper = t.to_ascii_uppercase();
            if let Some(at) = upper.find("VERDICT") {
                let rest = upper[at + "VERDICT".len()..]
                    .trim_start_matches(|c: char| c == ':' || c == '*' || c.is_whitespace());
                verdict = if rest.starts_with("ACCEPT") {
                    Verdict::Accept
                } else if rest.starts_with("REJECT") {
                    Verdict::Reject
                } else {
                    Verdict::Unclear
                };
                seen = true;
            }
            continue;
        }
        let t = raw;
        let item = t
            .strip_prefix("- ")
            .or_else(|| t.strip_prefix("• "))
            .or_else(|| t.strip_prefix("* "))
            .or_else(|| {
                let digits = t.chars().take_while(char::is_ascii_digit).count();
                (digits > 0)
                    .then(|| {
                        t[digits..]
                            .strip_prefix(". ")
                            .or_else(|| t[digits..].strip_prefix(") "))
                    })
                    .flatten()
            });
        if let Some(item) = item
            && reasons.len() < 5
            && !item.trim().is_empty()
        {
            reasons.push(item.trim().to_string());
        }
    }
    Review { verdict, reasons }
}
