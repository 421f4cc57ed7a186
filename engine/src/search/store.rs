//! The run folder on disk: atomic writes, the append-only event log, and the
//! paths of every artifact.
//!
//! ```text
//! runs/<name>/
//!   run.toml  events.jsonl  llm/
//!   gen-000/  request.json  completions.json  generation.json
//!   gen-000/cand-03/  completion.txt  reward.rhai  check.json  metrics.csv  result.json  policy.*
//!   best/  summary.json  report.md  report.html
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

/// The event log's file name.
const EVENTS_FILE: &str = "events.jsonl";

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
        self.root.join("best")
    }

    /// `llm/`.
    #[must_use]
    pub fn llm_dir(&self) -> PathBuf {
        self.root.join("llm")
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
