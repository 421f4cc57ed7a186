//! The run folder on disk: atomic writes, the append-only event log, and the
//! paths of every artifact.
//!
//! ```text
//! runs/<name>/
//!   run.toml  events.jsonl  llm/
//!   gen-000/  request.json  completions.json  generation.json
//!   gen-000/cand-03/  completion.txt  reward.rhai  check.json  metrics.csv  result.json  policy.*
//!   best/  summary.json  report.md  report.html
//!   fitness.rhai  fitness-reading.json  fitness-reading.md   (described tasks)
//!   fitness-feedback.json                                     (described, --feedback human)
//! ```

use crate::events::{RunEvent, Stamped, time_of};
use crate::progress::RunProgress;
use anyhow::{Context, anyhow};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

/// The names of the run folder's files: the one place they are spelled.
pub mod files {
    /// The best candidate's copy and the final evaluation.
    pub const BEST_DIR: &str = "best";
    /// Every LLM request and answer.
    pub const LLM_DIR: &str = "llm";
    /// The prompt templates a run was started with (`--prompts`), copied.
    pub const PROMPTS_DIR: &str = "prompts";
    /// The resolved configuration.
    pub const RUN: &str = "run.toml";
    /// The event log.
    pub const EVENTS: &str = "events.jsonl";
    /// The summary of a finished run.
    pub const SUMMARY: &str = "summary.json";
    /// The report for people, as Markdown.
    pub const REPORT_MD: &str = "report.md";
    /// The report for people, as a page.
    pub const REPORT_HTML: &str = "report.html";
    /// A generation's record.
    pub const GENERATION: &str = "generation.json";
    /// A generation's completions (the LLM's answers).
    pub const COMPLETIONS: &str = "completions.json";
    /// A generation's request messages.
    pub const REQUEST: &str = "request.json";
    /// The person's answer after a generation.
    pub const FEEDBACK: &str = "feedback.json";
    /// A candidate's completion text.
    pub const COMPLETION: &str = "completion.txt";
    /// A candidate's self-contained spec (`eval-candidate`).
    pub const SPEC: &str = "spec.json";
    /// A candidate's outcome.
    pub const RESULT: &str = "result.json";
    /// A candidate's check report.
    pub const CHECK: &str = "check.json";
    /// The LLM critic's review, parsed.
    pub const CRITIC: &str = "critic.json";
    /// The LLM critic's answer, as written.
    pub const CRITIC_TEXT: &str = "critic.txt";
    /// A Rhai reward program.
    pub const REWARD_RHAI: &str = "reward.rhai";
    /// The final evaluation's table (in `best/`).
    pub const FINAL: &str = "final.json";
    /// A rollout picture, animated.
    pub const ROLLOUT_GIF: &str = "rollout.gif";
    /// A rollout picture, as a filmstrip.
    pub const ROLLOUT_PNG: &str = "rollout.png";
    /// A described task's fitness program.
    pub const FITNESS: &str = "fitness.rhai";
    /// What a described task was understood as: the fitness program's plain
    /// reading and its dry run (`FitnessReading`, JSON).
    pub const FITNESS_READING: &str = "fitness-reading.json";
    /// The same, as Markdown for people.
    pub const FITNESS_READING_MD: &str = "fitness-reading.md";
    /// The person's answers about a described task's fitness program
    /// (`--feedback human`; `FitnessRound`s, JSON).
    pub const FITNESS_FEEDBACK: &str = "fitness-feedback.json";
    /// The report `rewardsmith train` leaves.
    pub const TRAIN_REPORT: &str = "report.json";
    /// A generation's Slurm job arrays (`--executor slurm`).
    pub const SLURM_JOBS: &str = "slurm-jobs.json";
    /// The final evaluation's trainings on a cluster (in `best/`), one
    /// folder each.
    pub const FINAL_DIR: &str = "final";
    /// A training's score at a successive-halving rung, on a cluster.
    pub const RUNG: &str = "rung.json";
    /// A training paused at a successive-halving rung, saved to go on from
    /// (in another process): removed when the candidate is done.
    pub const TRAINER_DIR: &str = "trainer";
    /// A candidate's rung scores so far, beside its paused training
    /// ([`TRAINER_DIR`]) in a local run.
    pub const COURSE: &str = "course.json";
    /// A training's last checkpoint's policy, beside the best one (`policy.*`).
    pub const LAST_POLICY_DIR: &str = "last";
    /// What `best/` copies of the best candidate's folder.
    pub const BEST: [&str; 7] = [
        REWARD_RHAI,
        rewardsmith_rl::WEIGHTS_FILE,
        rewardsmith_rl::META_FILE,
        rewardsmith_rl::CSV_FILE,
        RESULT,
        ROLLOUT_GIF,
        ROLLOUT_PNG,
    ];
}

use files::EVENTS as EVENTS_FILE;

/// A run's folder.
#[derive(Clone, Debug)]
pub struct RunStore {
    root: PathBuf,
    /// When the run began: its first event's time, or when this store was
    /// opened on a folder with no events yet.
    started: SystemTime,
}

impl RunStore {
    /// Opens (creating if needed) the folder `root`.
    ///
    /// # Errors
    /// The folder cannot be created.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create run folder {}", root.display()))?;
        let started = std::fs::read_to_string(root.join(EVENTS_FILE))
            .ok()
            .and_then(|text| text.lines().next().and_then(time_of))
            .unwrap_or_else(SystemTime::now);
        Ok(Self {
            root: root.to_path_buf(),
            started,
        })
    }

    /// The run folder.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// When the run began (its first event), for stamping events.
    #[must_use]
    pub fn started(&self) -> SystemTime {
        self.started
    }

    /// `run.toml`.
    #[must_use]
    pub fn run_file(&self) -> PathBuf {
        self.root.join(files::RUN)
    }

    /// `summary.json`.
    #[must_use]
    pub fn summary_file(&self) -> PathBuf {
        self.root.join(files::SUMMARY)
    }

    /// A file of generation `generation`'s folder, e.g. [`files::GENERATION`].
    #[must_use]
    pub fn generation_file(&self, generation: usize, name: &str) -> PathBuf {
        self.generation_dir(generation).join(name)
    }

    /// A file of a candidate's folder, e.g. [`files::RESULT`].
    #[must_use]
    pub fn candidate_file(&self, generation: usize, candidate: usize, name: &str) -> PathBuf {
        self.candidate_dir(generation, candidate).join(name)
    }

    /// `gen-NNN/`.
    #[must_use]
    pub fn generation_dir(&self, generation: usize) -> PathBuf {
        self.root.join(format!("gen-{generation:03}"))
    }

    /// `gen-NNN/cand-MM/`.
    #[must_use]
    pub fn candidate_dir(&self, generation: usize, candidate: usize) -> PathBuf {
        self.generation_dir(generation)
            .join(format!("cand-{candidate:02}"))
    }

    /// `best/`.
    #[must_use]
    pub fn best_dir(&self) -> PathBuf {
        self.root.join(files::BEST_DIR)
    }

    /// `llm/`.
    #[must_use]
    pub fn llm_dir(&self) -> PathBuf {
        self.root.join(files::LLM_DIR)
    }

    /// Writes `event` to the log (when it belongs there) and tells `progress`:
    /// the one way the search reports what happens.
    ///
    /// # Errors
    /// The log cannot be written.
    pub fn emit(&self, progress: &dyn RunProgress, event: RunEvent) -> anyhow::Result<()> {
        self.event(&event)?;
        progress.event(&event);
        Ok(())
    }

    /// [`emit`](Self::emit)s a [`RunEvent::Note`]: a line for people.
    ///
    /// # Errors
    /// The log cannot be written.
    pub fn note(&self, progress: &dyn RunProgress, text: impl AsRef<str>) -> anyhow::Result<()> {
        self.emit(
            progress,
            RunEvent::Note {
                text: text.as_ref().to_string(),
            },
        )
    }

    /// Appends one event to `events.jsonl`, stamped with the time and the
    /// seconds since the run began (events that are not
    /// [`persisted`](RunEvent::persisted) are skipped).
    ///
    /// # Errors
    /// The log cannot be written.
    pub fn event(&self, event: &RunEvent) -> anyhow::Result<()> {
        if !event.persisted() {
            return Ok(());
        }
        let value = serde_json::to_string(&Stamped::now(event.clone(), self.started))?;
        let _writing = writing();
        let path = self.root.join(EVENTS_FILE);
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        writeln!(f, "{value}").with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Held (shared) while a run-folder file is written; [`quiesce`] takes it
/// whole.
static WRITING: RwLock<()> = RwLock::new(());

/// A share of the write lock, held for the duration of one file write.
fn writing() -> RwLockReadGuard<'static, ()> {
    WRITING.read().unwrap_or_else(PoisonError::into_inner)
}

/// Waits for every file write in progress to finish and keeps new ones from
/// starting while the guard lives: an interrupted run stops between writes,
/// so its folder can be resumed.
pub fn quiesce() -> RwLockWriteGuard<'static, ()> {
    WRITING.write().unwrap_or_else(PoisonError::into_inner)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename,
/// so a killed process leaves either the old file or the new one.
///
/// # Errors
/// The folder or file cannot be written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let _writing = writing();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file path", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Removes the folder `dir` and what it holds, if it is there.
///
/// # Errors
/// It is there but cannot be removed.
pub fn remove_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Writes `value` as pretty JSON, atomically.
///
/// # Errors
/// As [`write_atomic`].
pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(value)?;
    write_atomic(path, &bytes)
}

/// Reads a JSON file written by [`write_json`]; `None` when it does not exist.
///
/// # Errors
/// The file exists but is unreadable or corrupt: the message names it.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> anyhow::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).with_context(|| {
            format!(
                "{} is corrupt; delete it to redo that step, or start a new run",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}
