//! The run's one event stream: every notable step of a search as a [`RunEvent`],
//! which is the only thing written to `events.jsonl` (stamped with the UTC time
//! and the seconds since the run began) and the only input of the progress views
//! (bars, plain lines, JSON lines). The schema is documented in `docs/events.md`.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// Something that happened in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    /// The run began (or was resumed: `resumed`).
    RunStarted {
        /// Task name.
        task: String,
        /// Whether this process continues an earlier one.
        #[serde(default)]
        resumed: bool,
    },
    /// A line for people: a notable step, a warning, a table.
    Note {
        /// The text (may hold several lines).
        text: String,
    },
    /// A generation's candidates are about to be evaluated.
    GenerationStarted {
        /// Generation index (from 0).
        generation: usize,
        /// Generations in the run.
        generations: usize,
        /// Candidates in this generation.
        candidates: usize,
    },
    /// A candidate begins training.
    CandidateStarted {
        /// Generation index.
        generation: usize,
        /// Candidate index within the generation.
        candidate: usize,
        /// Env steps it will train for.
        budget: u64,
    },
    /// A training candidate's env steps so far (cumulative). Progress views
    /// only: never written to `events.jsonl`.
    TrainingSteps {
        /// Generation index.
        generation: usize,
        /// Candidate index.
        candidate: usize,
        /// Env steps so far.
        steps: u64,
    },
    /// A candidate is done: its fitness, or why it failed.
    CandidateFinished {
        /// Generation index.
        generation: usize,
        /// Candidate index.
        candidate: usize,
        /// Task fitness, when trained.
        fitness: Option<f64>,
        /// What went wrong, when it failed (first line).
        failure: Option<String>,
    },
    /// A trained candidate's rollout picture was made.
    CandidateRendered {
        /// Generation index.
        generation: usize,
        /// Candidate index.
        candidate: usize,
        /// Frames in the GIF.
        frames: usize,
        /// Seconds it took.
        seconds: f64,
    },
    /// A rollout picture could not be made (never a failure of the run).
    RenderFailed {
        /// Generation index.
        generation: usize,
        /// Candidate index.
        candidate: usize,
        /// Why.
        error: String,
    },
    /// A generation is concluded.
    GenerationFinished {
        /// Generation index.
        generation: usize,
        /// Every candidate's fitness (`null` for failed ones).
        fitness: Vec<Option<f64>>,
        /// The best candidate of the generation, if any trained.
        best: Option<usize>,
    },
    /// The person answered after a generation (`--feedback human`).
    HumanFeedback {
        /// Generation index.
        generation: usize,
        /// The answer, as stored in `gen-NNN/feedback.json`.
        answer: serde_json::Value,
        /// Seconds the person took to answer (0 when replayed).
        #[serde(default)]
        waited_s: f64,
    },
    /// The person answered about a described task's fitness program, before
    /// the search (`--feedback human`).
    FitnessFeedback {
        /// 0-based: the how-manieth fitness question.
        question: usize,
        /// The answer, as stored in `fitness-feedback.json`.
        answer: serde_json::Value,
        /// Seconds the person took to answer.
        #[serde(default)]
        waited_s: f64,
    },
    /// The final evaluation begins.
    FinalStarted {
        /// Trainings in it.
        trainings: usize,
        /// Env steps per training.
        budget: u64,
    },
    /// A final training's env steps so far (progress views only).
    FinalTrainingSteps {
        /// Training index.
        training: usize,
        /// Env steps so far.
        steps: u64,
    },
    /// A final training is done.
    FinalTrainingFinished {
        /// Training index.
        training: usize,
        /// Which reward and seed, for people (e.g. `best reward, seed 1`).
        label: String,
        /// Its fitness.
        fitness: f64,
    },
    /// The run is over.
    RunFinished {
        /// Why it stopped early, if it did.
        stopped: Option<String>,
    },
}

impl RunEvent {
    /// Whether the event belongs in `events.jsonl` (the per-iteration step
    /// counts are for progress bars only).
    #[must_use]
    pub fn persisted(&self) -> bool {
        !matches!(
            self,
            Self::TrainingSteps { .. } | Self::FinalTrainingSteps { .. }
        )
    }
}

/// An event with its time: one line of `events.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stamped {
    /// UTC time, RFC 3339 with milliseconds (`2026-12-06T18:04:56.123Z`).
    pub ts: String,
    /// Seconds since the run began (its first event, also across resumes).
    pub elapsed_s: f64,
    /// The event.
    #[serde(flatten)]
    pub event: RunEvent,
}

impl Stamped {
    /// `event` stamped now, for a run that began at `started`.
    #[must_use]
    pub fn now(event: RunEvent, started: SystemTime) -> Self {
        let now = SystemTime::now();
        let elapsed = now.duration_since(started).unwrap_or(Duration::ZERO);
        Self {
            ts: humantime::format_rfc3339_millis(now).to_string(),
            elapsed_s: (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            event,
        }
    }
}

/// The time of a stamped line (`None` when the line is not a stamped event).
#[must_use]
pub fn time_of(line: &str) -> Option<SystemTime> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    humantime::parse_rfc3339(value.get("ts")?.as_str()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_events_round_trip_flat_with_their_time() {
        let started = SystemTime::now() - Duration::from_millis(1500);
        let stamped = Stamped::now(
            RunEvent::CandidateFinished {
                generation: 1,
                candidate: 2,
                fitness: Some(0.5),
                failure: None,
            },
            started,
        );
        let line = serde_json::to_string(&stamped).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["event"], "candidate_finished");
        assert_eq!(value["generation"], 1);
        assert!(value["ts"].as_str().unwrap().ends_with('Z'));
        let elapsed = value["elapsed_s"].as_f64().unwrap();
        assert!((1.5..60.0).contains(&elapsed), "{elapsed}");
        let back: Stamped = serde_json::from_str(&line).unwrap();
        assert_eq!(back, stamped);
        let t = time_of(&line).unwrap();
        let gap = t.duration_since(started).unwrap().as_secs_f64();
        assert!((gap - elapsed).abs() < 0.01, "{gap} vs {elapsed}");
        assert!(
            !RunEvent::TrainingSteps {
                generation: 0,
                candidate: 0,
                steps: 1
            }
            .persisted()
        );
    }
}
