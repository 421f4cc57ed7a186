//! Human feedback between generations (Eureka's RLHF mode, ICPL's rankings):
//! the table of candidates a person reads, the answer they give, where answers
//! come from — a JSON Lines file, piped standard input, or an interactive
//! terminal — and the prompt text an answer becomes.
//!
//! The search loop only ever talks to a [`FeedbackSource`]; it never reads
//! standard input itself, so the whole mode is scriptable and testable.
//!
//! One answer per generation, in the form of a feedback file line:
//!
//! ```text
//! {"rank": [3, 1, 2], "text": "it shuffles on its knees"}   both keys optional
//! {"action": "skip"}                                         automatic reflection
//! {"action": "stop"}                                         final evaluation now
//! ```
//!
//! Candidate numbers are those of the table: 1-based, `#1` is `cand-00`.
//!
//! A described task (`--describe`) first asks about its fitness program,
//! before any reward is written; those answers are lines with a `fitness` key,
//! read in their own order (the `k`-th answers the `k`-th fitness question):
//!
//! ```text
//! {"fitness": "accept"}                                      go on with this fitness
//! {"fitness": "correct", "text": "walk backwards, body low"} write it again (see FitnessAnswer)
//! {"fitness": "stop"}                                        end the run before the search
//! ```

use crate::progress::terminal_safe;
use crate::prompts::{PromptRole, Prompts};
use crate::search::{Outcome, RunStore};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// The file of a candidate's rollout picture, in its folder.
pub const ROLLOUT_GIF: &str = "rollout.gif";

/// What the person asks the search to do next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum FeedbackAnswer {
    /// No human input for this generation: the automatic reflection goes on.
    Skip,
    /// End the search now and go to the final evaluation.
    Stop,
    /// Guide the next generation with a ranking, words, or both.
    Guide {
        /// Candidate numbers as shown in the table (1-based), best first;
        /// empty when the person did not rank.
        rank: Vec<usize>,
        /// What is wrong and what to change, if the person said anything.
        text: Option<String>,
    },
}

pub use crate::search::FitnessAnswer;

/// What the person is shown before answering about the fitness.
#[derive(Clone, Copy, Debug)]
pub struct FitnessQuestion<'a> {
    /// 0-based: the how-manieth fitness question of the run.
    pub number: usize,
    /// The program, its plain reading and its dry run.
    pub reading: &'a crate::search::FitnessReading,
    /// Whether the writer is the offline designer (a correction then
    /// replaces the description).
    pub offline: bool,
}

impl FitnessQuestion<'_> {
    /// The reading and dry run as terminal text (the writer's words escaped
    /// by [`terminal_safe`]).
    #[must_use]
    pub fn render(&self) -> String {
        let r = self.reading;
        let mut out = format!(
            "the fitness program for \"{}\" (written by {}):\n",
            terminal_safe(&r.description),
            r.written_by
        );
        for line in r.source.lines() {
            let _ = writeln!(out, "  | {}", terminal_safe(line));
        }
        out.push_str("what it measures (its plain reading):\n");
        for line in &r.reading {
            let _ = writeln!(out, "  {}", terminal_safe(line));
        }
        let _ = writeln!(out, "dry run: {}", r.dry_run_line());
        out
    }

    /// The question, saying what a correction does with this writer.
    #[must_use]
    pub fn prompt(&self) -> &'static str {
        if self.offline {
            "Does this fitness measure your task? Enter (or accept) to start the search, stop to end the run, \
             or type a new description: the offline designer reads only the description, so your words \
             replace it and are mapped to fitness terms again"
        } else {
            "Does this fitness measure your task? Enter (or accept) to start the search, stop to end the run, \
             or type what is wrong: the model gets your words and writes the fitness again"
        }
    }

    /// What the person typed: empty, `accept`, `yes` or `y` accept; `stop`
    /// stops; anything else is a correction.
    #[must_use]
    pub fn parse_typed(typed: &str) -> FitnessAnswer {
        let t = typed.trim();
        match t.to_ascii_lowercase().as_str() {
            "" | "accept" | "yes" | "y" => FitnessAnswer::Accept,
            "stop" => FitnessAnswer::Stop,
            _ => FitnessAnswer::Correct {
                text: t.to_string(),
            },
        }
    }
}

/// The `fitness` key of a feedback line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FitnessLineAction {
    Accept,
    Correct,
    Stop,
}

/// A parsed feedback line: a generation's answer or a fitness answer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ParsedLine {
    Generation(FeedbackAnswer),
    Fitness(FitnessAnswer),
}

/// The action of a feedback line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum LineAction {
    Skip,
    Stop,
}

/// One line of a feedback file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackLine {
    #[serde(default)]
    rank: Option<Vec<usize>>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    action: Option<LineAction>,
    #[serde(default)]
    fitness: Option<FitnessLineAction>,
}

/// Parses one feedback line, of either kind.
fn parse_any_line(line: &str) -> Result<ParsedLine, String> {
    let raw: FeedbackLine = serde_json::from_str(line.trim()).map_err(|e| e.to_string())?;
    let rank = raw.rank.unwrap_or_default();
    let text = raw
        .text
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if let Some(fitness) = raw.fitness {
        if !rank.is_empty() || raw.action.is_some() {
            return Err(
                "a `fitness` answer stands alone: no `rank` or `action` beside it".to_string(),
            );
        }
        return match (fitness, text) {
            (FitnessLineAction::Correct, Some(text)) => {
                Ok(ParsedLine::Fitness(FitnessAnswer::Correct { text }))
            }
            (FitnessLineAction::Correct, None) => {
                Err("{\"fitness\": \"correct\"} needs the correction as \"text\"".to_string())
            }
            (_, Some(_)) => Err("\"text\" goes only with {\"fitness\": \"correct\"}".to_string()),
            (FitnessLineAction::Accept, None) => Ok(ParsedLine::Fitness(FitnessAnswer::Accept)),
            (FitnessLineAction::Stop, None) => Ok(ParsedLine::Fitness(FitnessAnswer::Stop)),
        };
    }
    match raw.action {
        Some(_) if !rank.is_empty() || text.is_some() => {
            Err("`action` stands alone: give either an action or a rank and/or text".to_string())
        }
        Some(LineAction::Skip) => Ok(ParsedLine::Generation(FeedbackAnswer::Skip)),
        Some(LineAction::Stop) => Ok(ParsedLine::Generation(FeedbackAnswer::Stop)),
        None if rank.is_empty() && text.is_none() => Err(
            "empty answer: give \"rank\", \"text\", or {\"action\": \"skip\"|\"stop\"}".to_string(),
        ),
        None => Ok(ParsedLine::Generation(FeedbackAnswer::Guide { rank, text })),
    }
}

impl FeedbackAnswer {
    /// Parses one feedback line (`{"rank":[3,1,2],"text":"…"}`,
    /// `{"action":"skip"}` or `{"action":"stop"}`).
    ///
    /// # Errors
    /// Not JSON, unknown keys, an action mixed with a ranking or text, or
    /// nothing to act on; the message says which.
    pub fn parse_line(line: &str) -> Result<Self, String> {
        match parse_any_line(line)? {
            ParsedLine::Generation(answer) => Ok(answer),
            ParsedLine::Fitness(_) => Err("a `fitness` answer, not a generation's".to_string()),
        }
    }

    /// Parses what a person typed at the ranking prompt: `3 1 2` (or
    /// `3,1,2`), `skip`, `stop`, or nothing (`Ok(None)`).
    ///
    /// # Errors
    /// A word that is neither a number nor `skip`/`stop`.
    pub fn parse_typed_rank(typed: &str) -> Result<Option<Self>, String> {
        let t = typed.trim();
        match t.to_ascii_lowercase().as_str() {
            "" => return Ok(None),
            "skip" => return Ok(Some(Self::Skip)),
            "stop" => return Ok(Some(Self::Stop)),
            _ => {}
        }
        let rank = t
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .map(|w| {
                w.parse::<usize>().map_err(|_| {
                    format!("`{w}` is not a candidate number (type e.g. `3 1 2`, skip or stop)")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Self::Guide { rank, text: None }))
    }

    /// Checks a ranking against the table: every number shown, each once, and
    /// only candidates that trained (a failed one has no behaviour to judge).
    ///
    /// # Errors
    /// The first problem, in words for the person.
    pub fn validate(&self, table: &FeedbackTable) -> Result<(), String> {
        let Self::Guide { rank, .. } = self else {
            return Ok(());
        };
        let mut seen = Vec::new();
        for &n in rank {
            let Some(row) = table.rows.iter().find(|r| r.number == n) else {
                return Err(format!(
                    "candidate {n} is not in the table (numbers 1 to {})",
                    table.rows.len()
                ));
            };
            if seen.contains(&n) {
                return Err(format!("candidate {n} is ranked twice"));
            }
            if row.fitness.is_none() {
                return Err(format!(
                    "candidate {n} failed and has no behaviour to rank; rank only trained candidates"
                ));
            }
            seen.push(n);
        }
        Ok(())
    }
}

/// A problem with the person's answers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedbackError {
    /// A line is not a valid answer.
    #[error("{source_name}, line {line}: {message}")]
    Malformed {
        /// The file (or `standard input`).
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A well-formed answer does not fit the generation's table.
    #[error("{source_name}, line {line} (answer for generation {generation}): {message}")]
    Invalid {
        /// The file (or `standard input`).
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// The generation answered.
        generation: usize,
        /// What is wrong.
        message: String,
    },
    /// The answers ran out before the search did.
    #[error(
        "{source_name} has no answer for generation {generation}: add a line (or {{\"action\":\"skip\"}})"
    )]
    Ended {
        /// The file (or `standard input`).
        source_name: String,
        /// The generation asked about.
        generation: usize,
    },
    /// The answers ran out before the fitness questions did.
    #[error(
        "{source_name} has no answer for fitness question {number} (about the described task's fitness program): \
         add a line {{\"fitness\":\"accept\"}} (or \"stop\", or \"correct\" with a \"text\")"
    )]
    FitnessEnded {
        /// The file (or `standard input`).
        source_name: String,
        /// 1-based number of the question.
        number: usize,
    },
    /// The answers could not be read.
    #[error("cannot read {source_name}: {message}")]
    Io {
        /// The file, standard input or terminal.
        source_name: String,
        /// The cause.
        message: String,
    },
}

/// One candidate as the person sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateRow {
    /// The number to rank it by (1-based).
    pub number: usize,
    /// Its folder.
    pub dir: PathBuf,
    /// Task fitness, when trained.
    pub fitness: Option<f64>,
    /// Each reward component's mean at the last training checkpoint.
    pub components: Vec<(String, f64)>,
    /// How the evaluation episodes ended, in words.
    pub endings: Option<String>,
    /// Why it failed, when it did.
    pub failure: Option<String>,
    /// Its rollout picture, when one was rendered.
    pub gif: Option<PathBuf>,
    /// Signs of reward hacking in its training (see
    /// [`hacking_flags`](crate::search::hacking_flags)).
    pub flags: Vec<String>,
}

/// A finished generation, as shown to the person.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedbackTable {
    /// Generation index.
    pub generation: usize,
    /// One row per candidate, in candidate order.
    pub rows: Vec<CandidateRow>,
}

impl FeedbackTable {
    /// The table of generation `generation` from its outcomes and folders.
    #[must_use]
    pub fn new(store: &RunStore, generation: usize, outcomes: &[Outcome]) -> Self {
        let rows = outcomes
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let dir = store.candidate_dir(generation, i);
                let gif = dir.join(ROLLOUT_GIF);
                let (components, endings) = match o {
                    Outcome::Trained {
                        report, analysis, ..
                    } => (
                        report
                            .components
                            .iter()
                            .enumerate()
                            .map(|(k, name)| {
                                let last = report
                                    .checkpoints
                                    .last()
                                    .and_then(|c| c.components.get(k).copied())
                                    .unwrap_or(f64::NAN);
                                (name.clone(), last)
                            })
                            .collect(),
                        Some(endings(
                            &analysis.lengths,
                            &analysis.terminated,
                            analysis.episode_steps,
                        )),
                    ),
                    _ => (Vec::new(), None),
                };
                let flags = match o {
                    Outcome::Trained { report, .. } => crate::search::hacking_flags(report)
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                    _ => Vec::new(),
                };
                CandidateRow {
                    number: i + 1,
                    flags,
                    fitness: o.fitness(),
                    components,
                    endings,
                    failure: o.failure(),
                    gif: gif.exists().then_some(gif),
                    dir,
                }
            })
            .collect();
        Self { generation, rows }
    }

    /// The table as text for a terminal: component names and failure reasons
    /// (the reward program's and the LLM's words) escaped by
    /// [`terminal_safe`].
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = format!(
            "generation {}: the candidates (rank them by their number)\n",
            self.generation
        );
        for r in &self.rows {
            match r.fitness {
                Some(f) => {
                    let _ = writeln!(out, "  #{}  fitness {f:.4}  {}", r.number, r.dir.display());
                    let comps = r
                        .components
                        .iter()
                        .map(|(n, v)| format!("{} {v:.3}", terminal_safe(n)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let _ = writeln!(out, "      final means: {comps}");
                    if let Some(e) = &r.endings {
                        let _ = writeln!(out, "      episodes: {e}");
                    }
                    for flag in &r.flags {
                        let _ = writeln!(out, "      check: {}", terminal_safe(flag));
                    }
                    match &r.gif {
                        Some(g) => {
                            let _ = writeln!(out, "      rollout: {}", g.display());
                        }
                        None => {
                            let _ = writeln!(out, "      rollout: (not rendered)");
                        }
                    }
                }
                None => {
                    let why = r.failure.as_deref().unwrap_or("failed");
                    let _ = writeln!(
                        out,
                        "  #{}  failed: {}",
                        r.number,
                        terminal_safe(why.lines().next().unwrap_or(why))
                    );
                }
            }
        }
        out
    }
}

fn endings(lengths: &[usize], terminated: &[bool], limit: usize) -> String {
    let early: Vec<String> = lengths
        .iter()
        .zip(terminated)
        .filter(|(_, t)| **t)
        .map(|(l, _)| l.to_string())
        .collect();
    let n = lengths.len();
    if early.is_empty() {
        format!("all {n} ran to the {limit}-step limit")
    } else {
        format!(
            "{} of {n} ended early (at steps {}), {} ran to the {limit}-step limit",
            early.len(),
            early.join(", "),
            n - early.len()
        )
    }
}

/// Where the person's answers come from. The search asks once after every
/// generation but the last, unless the answer is already in the run folder.
///
/// ```
/// use rewardsmith::feedback::{FeedbackAnswer, FeedbackSource, FeedbackTable};
/// /// Always lets the automatic reflection run.
/// struct AlwaysSkip;
/// impl FeedbackSource for AlwaysSkip {
///     fn ask(&mut self, _table: &FeedbackTable) -> anyhow::Result<FeedbackAnswer> {
///         Ok(FeedbackAnswer::Skip)
///     }
/// }
/// ```
pub trait FeedbackSource {
    /// The answer for `table.generation`, checked against the table.
    ///
    /// # Errors
    /// The answer cannot be had or does not fit the table (a
    /// [`FeedbackError`] inside the error).
    fn ask(&mut self, table: &FeedbackTable) -> anyhow::Result<FeedbackAnswer>;

    /// The answer about a described task's fitness program (asked before the
    /// search, until the person accepts or stops).
    ///
    /// The default accepts, which is what every run did before this question
    /// existed; a source that stands for a person overrides it.
    ///
    /// # Errors
    /// The answer cannot be had.
    fn ask_fitness(&mut self, question: &FitnessQuestion<'_>) -> anyhow::Result<FitnessAnswer> {
        let _ = question;
        Ok(FitnessAnswer::Accept)
    }
}

/// Answers from JSON Lines (a file or piped standard input): the `k`-th
/// non-blank line answers generation `k`, so a resumed run reading the same
/// lines gets the same answers.
pub struct JsonLinesFeedback {
    name: String,
    reader: Option<Box<dyn BufRead + Send>>,
    /// `(line number, answer)` of every generation line read so far.
    answers: Vec<(usize, FeedbackAnswer)>,
    /// Every fitness answer read so far, in order.
    fitness: Vec<FitnessAnswer>,
    lines_read: usize,
}

impl std::fmt::Debug for JsonLinesFeedback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesFeedback")
            .field("name", &self.name)
            .field("answers", &self.answers)
            .finish_non_exhaustive()
    }
}

impl JsonLinesFeedback {
    /// Largest feedback file read, in bytes: 16 MiB (a line per generation).
    pub const MAX_FILE_BYTES: u64 = 16 << 20;

    /// Reads and checks a whole feedback file at once, so a malformed line is
    /// reported before any training. The file must be a regular file of at
    /// most [`MAX_FILE_BYTES`](Self::MAX_FILE_BYTES) (a FIFO or a device is
    /// refused before it is opened); a leading byte-order mark is dropped.
    ///
    /// # Errors
    /// [`FeedbackError::Io`] or [`FeedbackError::Malformed`] naming the line.
    pub fn open(path: &Path) -> Result<Self, FeedbackError> {
        let name = format!("feedback file {}", path.display());
        let mut bytes =
            crate::user_file::read_user_file(path, Self::MAX_FILE_BYTES, "feedback file").map_err(
                |e| FeedbackError::Io {
                    source_name: name.clone(),
                    message: e.to_string(),
                },
            )?;
        if bytes.starts_with("\u{feff}".as_bytes()) {
            bytes.drain(..3);
        }
        let mut source = Self::from_reader(name, Box::new(std::io::Cursor::new(bytes)));
        source.read_all()?;
        Ok(source)
    }

    /// Answers read lazily from standard input (piped, not a terminal).
    #[must_use]
    pub fn stdin() -> Self {
        Self::from_reader(
            "standard input".to_string(),
            Box::new(std::io::BufReader::new(std::io::stdin())),
        )
    }

    /// Answers read lazily from `reader`; `name` names it in errors.
    #[must_use]
    pub fn from_reader(name: String, reader: Box<dyn BufRead + Send>) -> Self {
        Self {
            name,
            reader: Some(reader),
            answers: Vec::new(),
            fitness: Vec::new(),
            lines_read: 0,
        }
    }

    fn read_all(&mut self) -> Result<(), FeedbackError> {
        while self.read_next()? {}
        Ok(())
    }

    /// Reads the next answer; `false` at the end.
    fn read_next(&mut self) -> Result<bool, FeedbackError> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(false);
        };
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).map_err(|e| FeedbackError::Io {
                source_name: self.name.clone(),
                message: e.to_string(),
            })?;
            if n == 0 {
                self.reader = None;
                return Ok(false);
            }
            self.lines_read += 1;
            if line.trim().is_empty() {
                continue;
            }
            match parse_any_line(&line).map_err(|message| FeedbackError::Malformed {
                source_name: self.name.clone(),
                line: self.lines_read,
                message,
            })? {
                ParsedLine::Generation(answer) => self.answers.push((self.lines_read, answer)),
                ParsedLine::Fitness(answer) => self.fitness.push(answer),
            }
            return Ok(true);
        }
    }
}

impl FeedbackSource for JsonLinesFeedback {
    fn ask(&mut self, table: &FeedbackTable) -> anyhow::Result<FeedbackAnswer> {
        let g = table.generation;
        while self.answers.len() <= g {
            if !self.read_next()? {
                return Err(FeedbackError::Ended {
                    source_name: self.name.clone(),
                    generation: g,
                }
                .into());
            }
        }
        let (line, answer) = self.answers[g].clone();
        answer
            .validate(table)
            .map_err(|message| FeedbackError::Invalid {
                source_name: self.name.clone(),
                line,
                generation: g,
                message,
            })?;
        Ok(answer)
    }

    fn ask_fitness(&mut self, question: &FitnessQuestion<'_>) -> anyhow::Result<FitnessAnswer> {
        while self.fitness.len() <= question.number {
            if !self.read_next()? {
                return Err(FeedbackError::FitnessEnded {
                    source_name: self.name.clone(),
                    number: question.number + 1,
                }
                .into());
            }
        }
        Ok(self.fitness[question.number].clone())
    }
}

/// Answers typed at an interactive terminal (dialoguer on standard error);
/// bad input is explained and asked again, never a crash.
#[derive(Debug, Default)]
pub struct TerminalFeedback {
    /// Print the table before asking (when nothing else shows it).
    pub show_table: bool,
}

impl TerminalFeedback {
    fn io(e: dialoguer::Error) -> anyhow::Error {
        FeedbackError::Io {
            source_name: "the terminal".to_string(),
            message: e.to_string(),
        }
        .into()
    }
}

impl FeedbackSource for TerminalFeedback {
    fn ask(&mut self, table: &FeedbackTable) -> anyhow::Result<FeedbackAnswer> {
        let term = dialoguer::console::Term::stderr();
        if self.show_table {
            let _ = term.write_str(&table.render());
        }
        loop {
            let typed: String = dialoguer::Input::new()
                .with_prompt("Rank the candidates, best first (e.g. `3 1 2`), or skip / stop; Enter for none")
                .allow_empty(true)
                .validate_with(|s: &String| -> Result<(), String> {
                    match FeedbackAnswer::parse_typed_rank(s)? {
                        Some(a) => a.validate(table),
                        None => Ok(()),
                    }
                })
                .interact_on(&term)
                .map_err(Self::io)?;
            let rank = match FeedbackAnswer::parse_typed_rank(&typed) {
                Ok(Some(FeedbackAnswer::Guide { rank, .. })) => rank,
                Ok(Some(other)) => return Ok(other),
                Ok(None) => Vec::new(),
                Err(e) => {
                    let _ = term.write_line(&e);
                    continue;
                }
            };
            let text: String = dialoguer::Input::new()
                .with_prompt("What is wrong, and what should change? Enter for nothing")
                .allow_empty(true)
                .interact_on(&term)
                .map_err(Self::io)?;
            let text = Some(text.trim().to_string()).filter(|t| !t.is_empty());
            if rank.is_empty() && text.is_none() {
                let _ = term.write_line(
                    "Nothing given: rank the candidates, say something, or type skip or stop.",
                );
                continue;
            }
            return Ok(FeedbackAnswer::Guide { rank, text });
        }
    }

    fn ask_fitness(&mut self, question: &FitnessQuestion<'_>) -> anyhow::Result<FitnessAnswer> {
        let term = dialoguer::console::Term::stderr();
        if self.show_table {
            let _ = term.write_str(&question.render());
        }
        let typed: String = dialoguer::Input::new()
            .with_prompt(question.prompt())
            .allow_empty(true)
            .interact_on(&term)
            .map_err(Self::io)?;
        Ok(FitnessQuestion::parse_typed(&typed))
    }
}

/// The next request after a guiding answer.
#[derive(Clone, Debug, PartialEq)]
pub struct HumanTurn {
    /// The completion the conversation continues from (the preferred
    /// candidate's), when the person ranked.
    pub answer: Option<String>,
    /// The rendered human-feedback prompt.
    pub feedback: String,
}

/// Renders the human-feedback prompt for generation `generation`'s `answer`:
/// the person's ranking and words and, when they ranked, the preferred program
/// (as the current best) and the one they liked least (ICPL-style). `best` is
/// the generation's fitness-best candidate (0-based), used when the person did
/// not rank. No fitness appears in the prompt. `None` for skip and stop.
///
/// # Errors
/// A candidate file cannot be read, or the template cannot be rendered.
pub fn human_turn(
    prompts: &Prompts,
    store: &RunStore,
    generation: usize,
    answer: &FeedbackAnswer,
    best: Option<usize>,
) -> anyhow::Result<Option<HumanTurn>> {
    let FeedbackAnswer::Guide { rank, text } = answer else {
        return Ok(None);
    };
    let read = |i: usize, name: &str| -> anyhow::Result<String> {
        let path = store.candidate_dir(generation, i).join(name);
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let mut words = String::new();
    let (code, next_answer) = if let Some(&first) = rank.first() {
        let preferred = first.saturating_sub(1);
        let _ = writeln!(
            words,
            "They ranked the trained candidates of generation {generation}, best first: {}.",
            rank.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            words,
            "The reward function above is candidate {first}, the one they preferred."
        );
        if rank.len() > 1
            && let Some(&last) = rank.last()
        {
            let rejected = read(last.saturating_sub(1), "reward.rhai")?;
            let _ = writeln!(
                words,
                "\nThey liked the behaviour of candidate {last} least; its reward function was:\n\n```rhai\n{}\n```",
                rejected.trim_end()
            );
        }
        (
            read(preferred, "reward.rhai")?,
            Some(read(preferred, "completion.txt")?),
        )
    } else {
        let code = match best {
            Some(b) => read(b, "reward.rhai")?,
            None => "(no reward function of this generation could be trained)".to_string(),
        };
        (code, None)
    };
    match text {
        Some(t) => {
            if !words.is_empty() {
                words.push('\n');
            }
            let _ = writeln!(words, "In their words:\n\n{}", t.trim());
        }
        None => {
            let _ = writeln!(words, "\nThey gave no comment beyond the ranking.");
        }
    }
    let feedback = prompts.render(
        PromptRole::HumanFeedback,
        &[
            ("best_code", code.trim_end()),
            ("feedback", words.trim()),
            ("code_tips", prompts.code_tips()),
        ],
    )?;
    Ok(Some(HumanTurn {
        answer: next_answer,
        feedback,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> FeedbackTable {
        let row = |number, fitness| CandidateRow {
            number,
            dir: PathBuf::from(format!("gen-000/cand-{:02}", number - 1)),
            fitness,
            components: vec![("upright".into(), 0.5)],
            endings: Some("all 2 ran to the 200-step limit".into()),
            failure: fitness
                .is_none()
                .then(|| "no reward program found".to_string()),
            gif: None,
            flags: Vec::new(),
        };
        FeedbackTable {
            generation: 0,
            rows: vec![row(1, Some(0.5)), row(2, Some(0.2)), row(3, None)],
        }
    }

    #[test]
    fn lines_parse_to_answers() {
        assert_eq!(
            FeedbackAnswer::parse_line(r#"{"rank":[2,1],"text":" hop "}"#).unwrap(),
            FeedbackAnswer::Guide {
                rank: vec![2, 1],
                text: Some("hop".into())
            }
        );
        assert_eq!(
            FeedbackAnswer::parse_line(r#"{"action":"stop"}"#).unwrap(),
            FeedbackAnswer::Stop
        );
        for bad in [
            "{}",
            r#"{"text":"  "}"#,
            r#"{"action":"skip","text":"x"}"#,
            r#"{"rank":[1],"colour":1}"#,
            "[1,2]",
            "rank 1 2",
        ] {
            assert!(FeedbackAnswer::parse_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rankings_are_checked_against_the_table() {
        let t = table();
        let guide = |rank: Vec<usize>| FeedbackAnswer::Guide { rank, text: None };
        assert!(guide(vec![2, 1]).validate(&t).is_ok());
        assert!(
            guide(vec![4])
                .validate(&t)
                .unwrap_err()
                .contains("not in the table")
        );
        assert!(guide(vec![0]).validate(&t).is_err());
        assert!(
            guide(vec![1, 1])
                .validate(&t)
                .unwrap_err()
                .contains("twice")
        );
        assert!(guide(vec![3]).validate(&t).unwrap_err().contains("failed"));
        assert_eq!(
            FeedbackAnswer::parse_typed_rank(" 2, 1 ").unwrap(),
            Some(guide(vec![2, 1]))
        );
        assert_eq!(FeedbackAnswer::parse_typed_rank("").unwrap(), None);
        assert_eq!(
            FeedbackAnswer::parse_typed_rank("STOP").unwrap(),
            Some(FeedbackAnswer::Stop)
        );
        assert!(FeedbackAnswer::parse_typed_rank("2 x").is_err());
    }

    #[test]
    fn json_lines_answer_generation_k_with_line_k_and_name_bad_lines() {
        let text = "\n{\"action\":\"skip\"}\n{\"rank\":[1,2]}\n{\"rank\":[9]}\n{oops\n";
        let mut src = JsonLinesFeedback::from_reader(
            "test".into(),
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
        );
        let mut t = table();
        assert_eq!(src.ask(&t).unwrap(), FeedbackAnswer::Skip);
        t.generation = 1;
        assert!(matches!(src.ask(&t).unwrap(), FeedbackAnswer::Guide { .. }));
        t.generation = 2;
        let e = src.ask(&t).unwrap_err().to_string();
        assert!(e.contains("line 4") && e.contains("generation 2"), "{e}");
        t.generation = 3;
        let e = src.ask(&t).unwrap_err().to_string();
        assert!(e.contains("line 5"), "{e}");
    }

    #[test]
    fn fitness_lines_are_read_in_their_own_order() {
        let text = "{\"rank\":[1,2]}\n{\"fitness\":\"correct\",\"text\":\" go left \"}\n{\"fitness\":\"accept\"}\n";
        let mut src = JsonLinesFeedback::from_reader(
            "test".into(),
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
        );
        let reading = crate::search::FitnessReading {
            description: "go".into(),
            written_by: "w".into(),
            reading: vec!["speed".into()],
            dry_run: Vec::new(),
            source: "fn fitness(episode) { 0.0 }".into(),
            answers: Vec::new(),
        };
        let mut q = FitnessQuestion {
            number: 0,
            reading: &reading,
            offline: true,
        };
        assert_eq!(
            src.ask_fitness(&q).unwrap(),
            FitnessAnswer::Correct {
                text: "go left".into()
            }
        );
        q.number = 1;
        assert_eq!(src.ask_fitness(&q).unwrap(), FitnessAnswer::Accept);
        q.number = 2;
        let e = src.ask_fitness(&q).unwrap_err().to_string();
        assert!(e.contains("fitness question 3"), "{e}");
        // The generation line before them still answers generation 0.
        assert!(matches!(
            src.ask(&table()).unwrap(),
            FeedbackAnswer::Guide { .. }
        ));
        for bad in [
            r#"{"fitness":"correct"}"#,
            r#"{"fitness":"accept","text":"x"}"#,
            r#"{"fitness":"stop","rank":[1]}"#,
            r#"{"fitness":"maybe"}"#,
        ] {
            assert!(parse_any_line(bad).is_err(), "{bad}");
        }
        assert!(FeedbackAnswer::parse_line(r#"{"fitness":"stop"}"#).is_err());
        assert_eq!(FitnessQuestion::parse_typed(" "), FitnessAnswer::Accept);
        assert_eq!(FitnessQuestion::parse_typed("STOP"), FitnessAnswer::Stop);
        assert!(q.render().contains("dry run:") && q.prompt().contains("replace it"));
    }

    #[test]
    fn table_text_names_numbers_and_failures() {
        let text = table().render();
        assert!(text.contains("#1  fitness 0.5000"), "{text}");
        assert!(
            text.contains("#3  failed: no reward program found"),
            "{text}"
        );
        assert!(text.contains("upright 0.500"), "{text}");
    }
}
