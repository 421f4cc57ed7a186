//! Progress views for `rewardsmith run`: bars on a terminal, plain lines when
//! piped, JSON lines (`--progress json`), nothing under `--json`.
//!
//! Text that came from a reward program or an LLM (candidate failure reasons,
//! notes quoting a program) is shown through [`terminal_safe`], so it cannot
//! move the cursor, retitle the terminal or reorder a line; the JSON views
//! keep it exact.
//!
//! Every view hears the run's one event stream through
//! [`RunProgress::event`] ([`RunEvent`]), from many threads (candidates train
//! in parallel), so every method takes `&self`. Everything goes to stderr;
//! stdout is left to the one JSON summary.
//!
//! ```
//! use rewardsmith::events::RunEvent;
//! use rewardsmith::progress::{RecordingProgress, RunProgress};
//!
//! let progress = RecordingProgress::default();
//! progress.event(&RunEvent::GenerationStarted { generation: 0, generations: 3, candidates: 4 });
//! progress.event(&RunEvent::CandidateFinished {
//!     generation: 0, candidate: 2, fitness: Some(0.75), failure: None,
//! });
//! assert_eq!(
//!     progress.events(),
//!     ["generation_started(0, 3, 4)", "candidate_finished(0, 2, Ok(0.75))"]
//! );
//! ```

use crate::events::{RunEvent, Stamped};
use indicatif::{
    HumanCount, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle,
};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// `text` made safe to show on a terminal: every control character (C0 such
/// as ESC, CR, NUL and backspace, DEL, and C1) and every bidirectional
/// formatting character (U+061C, U+200E, U+200F, U+202A–U+202E,
/// U+2066–U+2069) is written visibly as a Rust escape (`\u{1b}`). Line feeds
/// and tabs stay: they only move on, never back. Borrowed when there is
/// nothing to escape. For human output only; JSON output stays exact.
///
/// ```
/// use rewardsmith::progress::terminal_safe;
///
/// assert_eq!(terminal_safe("upright"), "upright");
/// assert_eq!(terminal_safe("a\u{1b}]0;pwned\u{7}b\rc"), "a\\u{1b}]0;pwned\\u{7}b\\u{d}c");
/// assert_eq!(terminal_safe("x\u{202e}y"), "x\\u{202e}y");
/// assert_eq!(terminal_safe("two\nlines"), "two\nlines");
/// ```
#[must_use]
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(
                c,
                '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            )
    }
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            // Writing to a String cannot fail.
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// What the search reports as it goes.
///
/// `Send + Sync`: candidates train in parallel threads, and the reporter may be
/// moved into one. Generations, candidates and final trainings are 0-based
/// indices, as in the run folder (`gen-000/cand-00`). Every method but
/// [`line`](Self::line) defaults to doing nothing, so a reporter only implements
/// what it shows.
// The default bodies ignore their arguments; the names are the documentation.
#[allow(unused_variables)]
pub trait RunProgress: Send + Sync {
    /// A line for people (notable steps, warnings); may hold several lines.
    fn line(&self, text: &str);

    /// Generation `generation` of `generations` begins training `candidates`
    /// candidates.
    fn generation_started(&self, generation: usize, generations: usize, candidates: usize) {}

    /// A candidate begins training for `budget` environment steps.
    fn candidate_started(&self, generation: usize, candidate: usize, budget: u64) {}

    /// A training candidate has taken `steps` environment steps so far
    /// (cumulative). Called every PPO iteration, so implementations keep it cheap.
    fn training_steps(&self, generation: usize, candidate: usize, steps: u64) {}

    /// A candidate is done: its task fitness, or the first line of why it failed
    /// (no code, rejected by the checks, crashed). Called for every candidate of
    /// the generation, also those that never started training.
    fn candidate_finished(&self, generation: usize, candidate: usize, result: Result<f64, &str>) {}

    /// The final evaluation begins: `trainings` trainings of `budget` steps each.
    fn final_started(&self, trainings: usize, budget: u64) {}

    /// Final training `training` has taken `steps` environment steps so far
    /// (cumulative).
    fn final_training_steps(&self, training: usize, steps: u64) {}

    /// Final training `training` is done; `label` names it for people
    /// (for example `best, seed 1`).
    fn final_training_finished(&self, training: usize, label: &str, fitness: f64) {}

    /// The run is over (or failed): clear every bar.
    fn finished(&self) {}

    /// Hears one event of the run's stream: the entry point of every view.
    /// The default hands it to the handler above that fits; a view that wants
    /// the events whole (e.g. [`JsonProgress`]) overrides this.
    fn event(&self, event: &RunEvent) {
        match event {
            RunEvent::Note { text } => self.line(text),
            RunEvent::GenerationStarted {
                generation,
                generations,
                candidates,
            } => self.generation_started(*generation, *generations, *candidates),
            RunEvent::CandidateStarted {
                generation,
                candidate,
                budget,
            } => self.candidate_started(*generation, *candidate, *budget),
            RunEvent::TrainingSteps {
                generation,
                candidate,
                steps,
            } => self.training_steps(*generation, *candidate, *steps),
            RunEvent::CandidateFinished {
                generation,
                candidate,
                fitness,
                failure,
            } => self.candidate_finished(
                *generation,
                *candidate,
                fitness.ok_or_else(|| failure.as_deref().unwrap_or("failed")),
            ),
            RunEvent::FinalStarted { trainings, budget } => self.final_started(*trainings, *budget),
            RunEvent::FinalTrainingSteps { training, steps } => {
                self.final_training_steps(*training, *steps);
            }
            RunEvent::FinalTrainingFinished {
                training,
                label,
                fitness,
            } => self.final_training_finished(*training, label, *fitness),
            RunEvent::RunStarted { .. }
            | RunEvent::CandidateRendered { .. }
            | RunEvent::RenderFailed { .. }
            | RunEvent::GenerationFinished { .. }
            | RunEvent::HumanFeedback { .. }
            | RunEvent::FitnessFeedback { .. }
            | RunEvent::RunFinished { .. } => {}
        }
    }
}

/// Every event as one JSON line on stderr (`--progress json`), stamped like
/// `events.jsonl`, for other tools to follow a run; the per-iteration step
/// counts are thinned to one line per 10% of a budget.
pub struct JsonProgress {
    started: std::time::SystemTime,
    out: Mutex<Box<dyn Write + Send>>,
    /// Last tenth of its budget reported, per running training.
    tenths: Mutex<std::collections::HashMap<(usize, usize), u64>>,
    budgets: Mutex<std::collections::HashMap<(usize, usize), u64>>,
}

impl JsonProgress {
    /// Lines on stderr for a run that began at `started` (see
    /// [`RunStore::started`](crate::search::RunStore::started)).
    #[must_use]
    pub fn new(started: std::time::SystemTime) -> Self {
        Self::to_writer(Box::new(io::stderr()), started)
    }

    /// Lines on any writer.
    #[must_use]
    pub fn to_writer(out: Box<dyn Write + Send>, started: std::time::SystemTime) -> Self {
        Self {
            started,
            out: Mutex::new(out),
            tenths: Mutex::new(std::collections::HashMap::new()),
            budgets: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Whether a step count crosses a new tenth of its training's budget.
    fn crosses_a_tenth(&self, key: (usize, usize), steps: u64) -> bool {
        let budget = lock(&self.budgets).get(&key).copied().unwrap_or(0);
        if budget == 0 {
            return false;
        }
        let tenth = (10 * steps / budget).min(10);
        let mut tenths = lock(&self.tenths);
        let last = tenths.entry(key).or_insert(0);
        if tenth > *last {
            *last = tenth;
            true
        } else {
            false
        }
    }
}

/// Key of a final training among candidates' keys.
const FINAL: usize = usize::MAX;

impl RunProgress for JsonProgress {
    fn line(&self, text: &str) {
        self.event(&RunEvent::Note {
            text: text.to_string(),
        });
    }

    fn event(&self, event: &RunEvent) {
        let keep = match event {
            RunEvent::CandidateStarted {
                generation,
                candidate,
                budget,
            } => {
                lock(&self.budgets).insert((*generation, *candidate), *budget);
                true
            }
            RunEvent::FinalStarted { budget, trainings } => {
                for t in 0..*trainings {
                    lock(&self.budgets).insert((FINAL, t), *budget);
                }
                true
            }
            RunEvent::TrainingSteps {
                generation,
                candidate,
                steps,
            } => self.crosses_a_tenth((*generation, *candidate), *steps),
            RunEvent::FinalTrainingSteps { training, steps } => {
                self.crosses_a_tenth((FINAL, *training), *steps)
            }
            _ => true,
        };
        if keep && let Ok(line) = serde_json::to_string(&Stamped::now(event.clone(), self.started))
        {
            let mut out = lock(&self.out);
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// The reporter for stderr: [`QuietProgress`] when `json` (stderr stays quiet
/// but for errors), else [`TerminalProgress`] when stderr is a terminal, else
/// [`PlainProgress`].
#[must_use]
pub fn for_stderr(json: bool) -> Box<dyn RunProgress> {
    if json {
        Box::new(QuietProgress)
    } else if std::io::stderr().is_terminal() {
        Box::new(TerminalProgress::new())
    } else {
        Box::new(PlainProgress::new())
    }
}

/// A training that may have a bar or a budget: a candidate of a generation, or
/// one training of the final evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Job {
    Candidate { generation: usize, candidate: usize },
    Final { training: usize },
}

/// Locks `m`, shrugging off poison: a panicking training thread must not take
/// the progress output down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// The lines both the terminal and the plain reporter print, so a log reads the
// same either way.

fn generation_line(generation: usize, generations: usize, candidates: usize) -> String {
    format!(
        "generation {generation} ({} of {generations}): {candidates} candidates",
        generation + 1
    )
}

fn candidate_line(candidate: usize, result: Result<f64, &str>) -> String {
    match result {
        Ok(fitness) => format!("  cand {candidate:02}: fitness {fitness:.4}"),
        Err(why) => format!("  cand {candidate:02}: failed: {why}"),
    }
}

fn final_started_line(trainings: usize, budget: u64) -> String {
    format!(
        "final evaluation: {trainings} trainings of {} steps",
        HumanCount(budget)
    )
}

fn final_line(training: usize, label: &str, fitness: f64) -> String {
    format!("  final {training:02} ({label}): fitness {fitness:.4}")
}

/// `n` in at most five characters: `950`, `2.5k`, `48k`, `1.5M`, `12M`.
fn compact(n: f64) -> String {
    if !n.is_finite() || n < 0.0 {
        "-".to_string()
    } else if n < 999.5 {
        format!("{n:.0}")
    } else if n < 9_950.0 {
        format!("{:.1}k", n / 1e3)
    } else if n < 999_500.0 {
        format!("{:.0}k", n / 1e3)
    } else if n < 9_950_000.0 {
        format!("{:.1}M", n / 1e6)
    } else {
        format!("{:.0}M", n / 1e6)
    }
}

/// Template key `{steps}`: `48k/100k`.
fn steps_key(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let len = state.len().unwrap_or(state.pos());
    let _ = write!(w, "{}/{}", compact(state.pos() as f64), compact(len as f64));
}

/// Template key `{rate}`: `12.3k/s`.
fn rate_key(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{}/s", compact(state.per_sec()));
}

/// Bar templates, each at most 73 columns wide so they fit 80 (a test checks).
const COUNT_TEMPLATE: &str = "{prefix:>11} [{bar:30}] {pos:>3}/{len:3} {elapsed_precise} {msg}";
const TRAINING_TEMPLATE: &str = "{prefix:>11} [{bar:30}] {steps:>11} {rate:>8} eta {eta:>3}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("steps", steps_key)
        .with_key("rate", rate_key)
        .progress_chars("=> ")
}

/// Bars on stderr (an [`indicatif::MultiProgress`]): generations done of all,
/// candidates done in this generation, and one bar per training candidate
/// (steps of its budget, steps/s, ETA); the final evaluation gets a bar of
/// trainings done and one per running training. [`line`](RunProgress::line)s
/// and results print above the bars, so nothing is garbled.
pub struct TerminalProgress {
    multi: MultiProgress,
    counts: ProgressStyle,
    training: ProgressStyle,
    bars: Mutex<Bars>,
}

/// The bars on screen.
#[derive(Default)]
struct Bars {
    generations: Option<ProgressBar>,
    /// The generation running now (its index).
    generation: Option<usize>,
    candidates: Option<ProgressBar>,
    /// Best fitness in this generation so far.
    best: Option<f64>,
    final_trainings: Option<ProgressBar>,
    final_budget: u64,
    running: BTreeMap<Job, ProgressBar>,
}

impl Default for TerminalProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl TerminalProgress {
    /// Bars on stderr, redrawn at most 10 times a second (plenty for people,
    /// and cheap beside the training it reports).
    #[must_use]
    pub fn new() -> Self {
        Self::with_draw_target(ProgressDrawTarget::stderr_with_hz(10))
    }

    /// Bars drawn to `target` (tests use [`ProgressDrawTarget::hidden`]).
    #[must_use]
    pub fn with_draw_target(target: ProgressDrawTarget) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(target),
            counts: style(COUNT_TEMPLATE),
            training: style(TRAINING_TEMPLATE),
            bars: Mutex::new(Bars::default()),
        }
    }

    fn add(&self, style: &ProgressStyle, len: u64, prefix: String) -> ProgressBar {
        // Hidden until the MultiProgress takes it, so it never draws on its own.
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden())
            .with_style(style.clone())
            .with_prefix(prefix);
        let bar = self.multi.add(bar);
        // Shown from the start, not from its first step.
        bar.tick();
        bar
    }

    fn remove(&self, bar: &ProgressBar) {
        bar.finish_and_clear();
        self.multi.remove(bar);
    }

    fn println(&self, text: &str) {
        // Stderr gone: nothing useful to do about it.
        let _ = self.multi.println(terminal_safe(text));
    }

    /// The bar of `job`, made with `len` when it has none yet and `len` is known.
    fn running_bar(&self, job: Job, len: Option<u64>) -> Option<ProgressBar> {
        let mut bars = lock(&self.bars);
        if let Some(bar) = bars.running.get(&job) {
            return Some(bar.clone());
        }
        let len = len.or(match job {
            Job::Final { .. } if bars.final_trainings.is_some() => Some(bars.final_budget),
            _ => None,
        })?;
        let prefix = match job {
            Job::Candidate { candidate, .. } => format!("cand {candidate:02}"),
            Job::Final { training } => format!("final {training:02}"),
        };
        let bar = self.add(&self.training, len, prefix);
        bars.running.insert(job, bar.clone());
        Some(bar)
    }

    fn finish_job(&self, job: Job) {
        let bar = lock(&self.bars).running.remove(&job);
        if let Some(bar) = bar {
            self.remove(&bar);
        }
    }

    fn clear_running(&self, bars: &mut Bars) {
        for bar in std::mem::take(&mut bars.running).into_values() {
            self.remove(&bar);
        }
    }

    fn clear_all(&self) {
        let mut bars = lock(&self.bars);
        self.clear_running(&mut bars);
        for bar in [
            bars.candidates.take(),
            bars.final_trainings.take(),
            bars.generations.take(),
        ]
        .into_iter()
        .flatten()
        {
            self.remove(&bar);
        }
        let _ = self.multi.clear();
    }

    /// How many bars are on screen (for tests).
    #[cfg(test)]
    fn bar_count(&self) -> usize {
        let bars = lock(&self.bars);
        bars.running.len()
            + [&bars.generations, &bars.candidates, &bars.final_trainings]
                .iter()
                .filter(|b| b.is_some())
                .count()
    }
}

impl RunProgress for TerminalProgress {
    fn line(&self, text: &str) {
        self.println(text);
    }

    fn generation_started(&self, generation: usize, generations: usize, candidates: usize) {
        let mut bars = lock(&self.bars);
        // Every candidate of the previous generation has finished by now.
        self.clear_running(&mut bars);
        let gens = bars.generations.get_or_insert_with(|| {
            self.add(&self.counts, generations as u64, "generations".into())
        });
        gens.set_length(generations as u64);
        gens.set_position(generation as u64);
        match &bars.candidates {
            Some(cands) => {
                cands.reset();
                cands.set_length(candidates as u64);
                cands.set_message("");
            }
            None => {
                bars.candidates =
                    Some(self.add(&self.counts, candidates as u64, "candidates".into()));
            }
        }
        bars.generation = Some(generation);
        bars.best = None;
        drop(bars);
        self.println(&generation_line(generation, generations, candidates));
    }

    fn candidate_started(&self, generation: usize, candidate: usize, budget: u64) {
        let job = Job::Candidate {
            generation,
            candidate,
        };
        // A restarted candidate starts a fresh bar.
        self.finish_job(job);
        self.running_bar(job, Some(budget));
    }

    fn training_steps(&self, generation: usize, candidate: usize, steps: u64) {
        let job = Job::Candidate {
            generation,
            candidate,
        };
        // Our lock is released before indicatif takes its own (and draws,
        // at most 10 times a second).
        if let Some(bar) = self.running_bar(job, None) {
            bar.set_position(steps);
        }
    }

    fn candidate_finished(&self, generation: usize, candidate: usize, result: Result<f64, &str>) {
        self.finish_job(Job::Candidate {
            generation,
            candidate,
        });
        let mut bars = lock(&self.bars);
        if let Ok(fitness) = result
            && bars.best.is_none_or(|best| fitness > best)
        {
            bars.best = Some(fitness);
        }
        if let Some(cands) = &bars.candidates {
            if let Some(best) = bars.best {
                cands.set_message(format!("best {best:.4}"));
            }
            cands.inc(1);
        }
        drop(bars);
        self.println(&candidate_line(candidate, result));
    }

    fn final_started(&self, trainings: usize, budget: u64) {
        let mut bars = lock(&self.bars);
        self.clear_running(&mut bars);
        if let Some(cands) = bars.candidates.take() {
            self.remove(&cands);
        }
        if let (Some(gens), Some(g)) = (&bars.generations, bars.generation) {
            gens.set_position(g as u64 + 1);
        }
        if let Some(old) = bars.final_trainings.take() {
            self.remove(&old);
        }
        bars.final_trainings = Some(self.add(&self.counts, trainings as u64, "final eval".into()));
        bars.final_budget = budget;
        drop(bars);
        self.println(&final_started_line(trainings, budget));
    }

    fn final_training_steps(&self, training: usize, steps: u64) {
        if let Some(bar) = self.running_bar(Job::Final { training }, None) {
            bar.set_position(steps);
        }
    }

    fn final_training_finished(&self, training: usize, label: &str, fitness: f64) {
        self.finish_job(Job::Final { training });
        if let Some(done) = &lock(&self.bars).final_trainings {
            done.inc(1);
        }
        self.println(&final_line(training, label, fitness));
    }

    fn finished(&self) {
        self.clear_all();
    }
}

impl Drop for TerminalProgress {
    /// A run that fails leaves no stale bars above its error message.
    fn drop(&mut self) {
        self.clear_all();
    }
}

/// Plain lines on stderr (or any writer), for logs: every
/// [`line`](RunProgress::line), a line per generation, per finished candidate
/// and per final training, and a line when a training passes 25%, 50% and 75%
/// of its budget — never one per PPO iteration, so piped logs stay short.
pub struct PlainProgress {
    state: Mutex<PlainState>,
}

struct PlainState {
    out: Box<dyn Write + Send>,
    /// Budget and quarters reported, per training that has a budget.
    running: BTreeMap<Job, Quarters>,
    final_budget: u64,
}

#[derive(Clone, Copy)]
struct Quarters {
    budget: u64,
    reported: u64,
}

impl Default for PlainProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl PlainProgress {
    /// Lines on stderr.
    #[must_use]
    pub fn new() -> Self {
        Self::to_writer(Box::new(std::io::stderr()))
    }

    /// Lines on `out` (flushed after each line, so a log file keeps up).
    #[must_use]
    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        Self {
            state: Mutex::new(PlainState {
                out,
                running: BTreeMap::new(),
                final_budget: 0,
            }),
        }
    }

    fn steps(&self, job: Job, steps: u64) {
        let mut state = lock(&self.state);
        let Some(q) = state.running.get_mut(&job) else {
            return;
        };
        // 0..=3 quarters; 100% is the finish line's job.
        let reached = (u128::from(steps) * 4 / u128::from(q.budget)).min(3) as u64;
        if reached <= q.reported {
            return;
        }
        q.reported = reached;
        let budget = q.budget;
        let name = match job {
            Job::Candidate { candidate, .. } => format!("cand {candidate:02}"),
            Job::Final { training } => format!("final {training:02}"),
        };
        state.write(&format!(
            "  {name}: {}% of {} steps",
            reached * 25,
            HumanCount(budget)
        ));
    }

    fn start(&self, job: Job, budget: u64) {
        if budget > 0 {
            let q = Quarters {
                budget,
                reported: 0,
            };
            lock(&self.state).running.insert(job, q);
        }
    }
}

impl PlainState {
    fn write(&mut self, text: &str) {
        // Stderr gone: nothing useful to do about it.
        let _ = writeln!(self.out, "{}", terminal_safe(text));
        let _ = self.out.flush();
    }
}

impl RunProgress for PlainProgress {
    fn line(&self, text: &str) {
        lock(&self.state).write(text);
    }

    fn generation_started(&self, generation: usize, generations: usize, candidates: usize) {
        lock(&self.state).write(&generation_line(generation, generations, candidates));
    }

    fn candidate_started(&self, generation: usize, candidate: usize, budget: u64) {
        let job = Job::Candidate {
            generation,
            candidate,
        };
        self.start(job, budget);
    }

    fn training_steps(&self, generation: usize, candidate: usize, steps: u64) {
        let job = Job::Candidate {
            generation,
            candidate,
        };
        self.steps(job, steps);
    }

    fn candidate_finished(&self, generation: usize, candidate: usize, result: Result<f64, &str>) {
        let mut state = lock(&self.state);
        state.running.remove(&Job::Candidate {
            generation,
            candidate,
        });
        state.write(&candidate_line(candidate, result));
    }

    fn final_started(&self, trainings: usize, budget: u64) {
        let mut state = lock(&self.state);
        state.final_budget = budget;
        state.write(&final_started_line(trainings, budget));
    }

    fn final_training_steps(&self, training: usize, steps: u64) {
        let job = Job::Final { training };
        let budget = {
            let state = lock(&self.state);
            (!state.running.contains_key(&job)).then_some(state.final_budget)
        };
        if let Some(budget) = budget {
            self.start(job, budget);
        }
        self.steps(job, steps);
    }

    fn final_training_finished(&self, training: usize, label: &str, fitness: f64) {
        let mut state = lock(&self.state);
        state.running.remove(&Job::Final { training });
        state.write(&final_line(training, label, fitness));
    }
}

/// Shows nothing (for `--json`, which keeps stderr quiet but for errors).
#[derive(Clone, Copy, Debug, Default)]
pub struct QuietProgress;

impl RunProgress for QuietProgress {
    fn line(&self, _text: &str) {}
}

/// Remembers every call, in order, as text such as
/// `candidate_finished(0, 2, Ok(0.75))` (for tests of the loop; with the
/// `test-support` feature).
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug, Default)]
pub struct RecordingProgress {
    events: Mutex<Vec<String>>,
}

#[cfg(any(test, feature = "test-support"))]
impl RecordingProgress {
    /// Every call so far, in order.
    #[must_use]
    pub fn events(&self) -> Vec<String> {
        lock(&self.events).clone()
    }

    fn push(&self, event: String) {
        lock(&self.events).push(event);
    }
}

#[cfg(any(test, feature = "test-support"))]
impl RunProgress for RecordingProgress {
    fn line(&self, text: &str) {
        self.push(format!("line({text:?})"));
    }

    fn generation_started(&self, generation: usize, generations: usize, candidates: usize) {
        self.push(format!(
            "generation_started({generation}, {generations}, {candidates})"
        ));
    }

    fn candidate_started(&self, generation: usize, candidate: usize, budget: u64) {
        self.push(format!(
            "candidate_started({generation}, {candidate}, {budget})"
        ));
    }

    fn training_steps(&self, generation: usize, candidate: usize, steps: u64) {
        self.push(format!(
            "training_steps({generation}, {candidate}, {steps})"
        ));
    }

    fn candidate_finished(&self, generation: usize, candidate: usize, result: Result<f64, &str>) {
        self.push(format!(
            "candidate_finished({generation}, {candidate}, {result:?})"
        ));
    }

    fn final_started(&self, trainings: usize, budget: u64) {
        self.push(format!("final_started({trainings}, {budget})"));
    }

    fn final_training_steps(&self, training: usize, steps: u64) {
        self.push(format!("final_training_steps({training}, {steps})"));
    }

    fn final_training_finished(&self, training: usize, label: &str, fitness: f64) {
        self.push(format!(
            "final_training_finished({training}, {label:?}, {fitness:?})"
        ));
    }

    fn finished(&self) {
        self.push("finished".to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::TermLike;
    use std::io;
    use std::sync::Arc;

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            String::from_utf8_lossy(&lock(&self.0))
                .lines()
                .map(str::to_string)
                .collect()
        }
    }

    #[test]
    fn plain_prints_lines_generations_and_results() {
        let out = Captured::default();
        let p = PlainProgress::to_writer(Box::new(out.clone()));
        p.line("run folder: runs/x");
        p.generation_started(0, 3, 2);
        p.candidate_started(0, 0, 100_000);
        p.candidate_started(0, 1, 100_000);
        for steps in (2_048..=100_000).step_by(2_048) {
            p.training_steps(0, 0, steps);
        }
        p.candidate_finished(0, 0, Ok(0.81234));
        p.candidate_finished(0, 1, Err("rejected: unknown field `vel`"));
        p.final_started(2, 50_000);
        p.final_training_steps(1, 40_000);
        p.final_training_finished(1, "best, seed 1", 0.9);
        p.finished();
        assert_eq!(
            out.lines(),
            [
                "run folder: runs/x",
                "generation 0 (1 of 3): 2 candidates",
                "  cand 00: 25% of 100,000 steps",
                "  cand 00: 50% of 100,000 steps",
                "  cand 00: 75% of 100,000 steps",
                "  cand 00: fitness 0.8123",
                "  cand 01: failed: rejected: unknown field `vel`",
                "final evaluation: 2 trainings of 50,000 steps",
                "  final 01: 75% of 50,000 steps",
                "  final 01 (best, seed 1): fitness 0.9000",
            ]
        );
    }

    #[test]
    fn plain_reports_each_quarter_at_most_once() {
        let out = Captured::default();
        let p = PlainProgress::to_writer(Box::new(out.clone()));
        p.candidate_started(1, 3, 1_000);
        for steps in [100, 250, 300, 800, 900, 1_000, 5_000] {
            p.training_steps(1, 3, steps);
        }
        // Steps of a candidate that never started (or of a zero budget) are ignored.
        p.training_steps(1, 4, 500);
        p.candidate_started(1, 5, 0);
        p.training_steps(1, 5, 500);
        assert_eq!(
            out.lines(),
            [
                "  cand 03: 25% of 1,000 steps",
                "  cand 03: 75% of 1,000 steps"
            ]
        );
    }

    #[test]
    fn recording_keeps_every_call_in_order() {
        let r = RecordingProgress::default();
        r.line("hello");
        r.generation_started(0, 2, 1);
        r.candidate_started(0, 0, 10);
        r.training_steps(0, 0, 5);
        r.candidate_finished(0, 0, Err("crashed"));
        r.final_started(1, 10);
        r.final_training_steps(0, 10);
        r.final_training_finished(0, "best, seed 0", 1.0);
        r.finished();
        assert_eq!(
            r.events(),
            [
                "line(\"hello\")",
                "generation_started(0, 2, 1)",
                "candidate_started(0, 0, 10)",
                "training_steps(0, 0, 5)",
                "candidate_finished(0, 0, Err(\"crashed\"))",
                "final_started(1, 10)",
                "final_training_steps(0, 10)",
                "final_training_finished(0, \"best, seed 0\", 1.0)",
                "finished",
            ]
        );
    }

    #[test]
    fn reporters_are_trait_objects() {
        let all: Vec<Box<dyn RunProgress>> = vec![
            for_stderr(true),
            Box::new(QuietProgress),
            Box::new(RecordingProgress::default()),
            Box::new(TerminalProgress::with_draw_target(
                ProgressDrawTarget::hidden(),
            )),
        ];
        for p in &all {
            p.generation_started(0, 1, 1);
            p.candidate_finished(0, 0, Ok(1.0));
            p.finished();
        }
    }

    /// One run's worth of events for `p`, candidates trained by `threads`
    /// threads at once.
    fn drive(p: &dyn RunProgress, threads: usize) {
        let budget = 50_000;
        for g in 0..2 {
            p.generation_started(g, 2, threads);
            std::thread::scope(|s| {
                for c in 0..threads {
                    s.spawn(move || {
                        p.candidate_started(g, c, budget);
                        for steps in (0..=budget).step_by(512) {
                            p.training_steps(g, c, steps);
                        }
                        p.line(&format!("cand {c} says hi"));
                        p.candidate_finished(g, c, Ok(c as f64 / 10.0));
                    });
                }
            });
        }
        p.final_started(threads, budget);
        std::thread::scope(|s| {
            for t in 0..threads {
                s.spawn(move || {
                    for steps in (0..=budget).step_by(512) {
                        p.final_training_steps(t, steps);
                    }
                    p.final_training_finished(t, "best", 0.5);
                });
            }
        });
    }

    #[test]
    fn terminal_survives_many_threads_and_clears_every_bar() {
        let p = TerminalProgress::with_draw_target(ProgressDrawTarget::hidden());
        drive(&p, 4);
        // Stray calls are harmless.
        p.training_steps(7, 7, 10);
        p.candidate_finished(7, 7, Err("never started"));
        p.final_training_finished(9, "nobody", 0.0);
        assert!(p.bar_count() > 0);
        p.finished();
        assert_eq!(p.bar_count(), 0);
        p.finished();
    }

    /// A terminal screen just capable enough for indicatif: rows of text, a
    /// cursor, and the wrap that happens when a full-width row is followed by
    /// more text.
    #[derive(Clone, Debug)]
    struct Screen(Arc<Mutex<ScreenState>>);

    #[derive(Debug, Default)]
    struct ScreenState {
        rows: Vec<String>,
        row: usize,
        col: usize,
        /// The widest row text ever shown (trailing blanks aside).
        widest: usize,
    }

    const SCREEN_WIDTH: usize = 200;

    impl Screen {
        fn new() -> Self {
            Self(Arc::new(Mutex::new(ScreenState::default())))
        }
        fn visible(&self) -> Vec<String> {
            lock(&self.0)
                .rows
                .iter()
                .map(|r| r.trim_end().to_string())
                .filter(|r| !r.is_empty())
                .collect()
        }
        fn widest(&self) -> usize {
            lock(&self.0).widest
        }
    }

    impl ScreenState {
        fn put(&mut self, ch: char) {
            if self.col == SCREEN_WIDTH {
                self.row += 1;
                self.col = 0;
            }
            while self.rows.len() <= self.row {
                self.rows.push(String::new());
            }
            let row = &mut self.rows[self.row];
            let mut chars: Vec<char> = row.chars().collect();
            if chars.len() <= self.col {
                chars.resize(self.col + 1, ' ');
            }
            chars[self.col] = ch;
            *row = chars.into_iter().collect();
            self.widest = self.widest.max(row.trim_end().chars().count());
            self.col += 1;
        }
        fn write(&mut self, s: &str) {
            for ch in s.chars() {
                match ch {
                    '\r' => self.col = 0,
                    '\n' => {
                        self.row += 1;
                        self.col = 0;
                    }
                    ch => self.put(ch),
                }
            }
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            SCREEN_WIDTH as u16
        }
        fn height(&self) -> u16 {
            50
        }
        fn move_cursor_up(&self, n: usize) -> io::Result<()> {
            let mut s = lock(&self.0);
            s.row = s.row.saturating_sub(n);
            Ok(())
        }
        fn move_cursor_down(&self, n: usize) -> io::Result<()> {
            lock(&self.0).row += n;
            Ok(())
        }
        fn move_cursor_right(&self, n: usize) -> io::Result<()> {
            let mut s = lock(&self.0);
            s.col = (s.col + n).min(SCREEN_WIDTH);
            Ok(())
        }
        fn move_cursor_left(&self, n: usize) -> io::Result<()> {
            let mut s = lock(&self.0);
            s.col = s.col.saturating_sub(n);
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            let mut st = lock(&self.0);
            st.write(s);
            st.write("\n");
            Ok(())
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            lock(&self.0).write(s);
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            let mut s = lock(&self.0);
            let row = s.row;
            if let Some(r) = s.rows.get_mut(row) {
                r.clear();
            }
            s.col = 0;
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn terminal_bars_fit_80_columns_and_lines_stay_above_them() {
        let screen = Screen::new();
        let p = TerminalProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(
            screen.clone(),
        )));
        p.generation_started(2, 12, 16);
        p.candidate_started(2, 3, 10_000_000);
        p.training_steps(2, 3, 9_876_543);
        p.candidate_started(2, 4, 100_000);
        p.candidate_finished(2, 5, Ok(123.456));
        // A line forces a full redraw, bars below it.
        p.line("a line for people");
        let shown = screen.visible();
        assert_eq!(shown[0], "generation 2 (3 of 12): 16 candidates");
        assert_eq!(shown[1], "  cand 05: fitness 123.4560");
        assert_eq!(shown[2], "a line for people");
        assert!(shown[3].starts_with("generations ["), "{shown:#?}");
        assert!(shown[3].contains("  2/12 "), "{shown:#?}");
        assert!(shown[4].starts_with(" candidates ["), "{shown:#?}");
        assert!(shown[4].contains("  1/16 "), "{shown:#?}");
        assert!(shown[4].ends_with("best 123.4560"), "{shown:#?}");
        assert!(shown[5].starts_with("    cand 03 ["), "{shown:#?}");
        assert!(shown[5].contains("9.9M/10M"), "{shown:#?}");
        assert!(shown[6].starts_with("    cand 04 ["), "{shown:#?}");
        assert_eq!(shown.len(), 7, "{shown:#?}");
        p.final_started(3, 1_000_000);
        p.final_training_steps(0, 500_000);
        p.line("final");
        let shown = screen.visible();
        assert!(
            shown.iter().any(|r| r.starts_with(" final eval [")),
            "{shown:#?}"
        );
        assert!(
            shown.iter().any(|r| r.starts_with("   final 00 [")),
            "{shown:#?}"
        );
        assert!(
            !shown.iter().any(|r| r.starts_with(" candidates [")),
            "{shown:#?}"
        );
        assert!(
            screen.widest() <= 80,
            "a row of {} columns",
            screen.widest()
        );
        p.finished();
        assert_eq!(
            screen.visible(),
            [
                "generation 2 (3 of 12): 16 candidates",
                "  cand 05: fitness 123.4560",
                "a line for people",
                "final evaluation: 3 trainings of 1,000,000 steps",
                "final",
            ]
        );
    }

    #[test]
    fn plain_lines_escape_control_characters() {
        let out = Captured::default();
        let p = PlainProgress::to_writer(Box::new(out.clone()));
        p.candidate_finished(0, 1, Err("bad \u{1b}[2J\r\u{2067}name"));
        p.line("note \u{0}\u{9b}31m");
        assert_eq!(
            out.lines(),
            [
                "  cand 01: failed: bad \\u{1b}[2J\\u{d}\\u{2067}name",
                "note \\u{0}\\u{9b}31m"
            ]
        );
    }

    #[test]
    fn templates_parse() {
        for t in [COUNT_TEMPLATE, TRAINING_TEMPLATE] {
            assert!(ProgressStyle::with_template(t).is_ok(), "{t}");
        }
    }

    #[test]
    fn compact_counts() {
        let cases = [
            (0.0, "0"),
            (950.0, "950"),
            (999.6, "1.0k"),
            (2_048.0, "2.0k"),
            (9_949.0, "9.9k"),
            (48_000.0, "48k"),
            (999_000.0, "999k"),
            (1_500_000.0, "1.5M"),
            (12_000_000.0, "12M"),
            (f64::NAN, "-"),
            (f64::INFINITY, "-"),
        ];
        for (n, want) in cases {
            assert_eq!(compact(n), want, "{n}");
        }
    }
}
