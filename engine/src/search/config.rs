//! Search configuration: `rewardsmith.toml` (tables `[search]` and `[llm]`),
//! command-line flags over the file over the defaults, validated before use
//! against documented bounds (the `MAX_*` constants of [`SearchConfig`]).

use super::allocation::Allocation;
use crate::llm::LlmConfig;
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Who writes the feedback between generations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackMode {
    /// The automatic reflection (training statistics and trajectory analysis).
    /// The default: a search must run unattended.
    #[default]
    Auto,
    /// A person ranks candidates and/or comments after each generation.
    Human,
}

/// The `[search]` table: how the evolutionary search runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Generations of the search. Default 5: Eureka's setting, enough for the
    /// reflection to matter, short enough for a laptop.
    pub generations: usize,
    /// Reward candidates sampled per generation. Default 8: half Eureka's 16,
    /// so a generation trains in minutes on a laptop.
    pub samples: usize,
    /// Env steps per candidate's training, at most
    /// [`MAX_STEPS`](Self::MAX_STEPS); 0 (the key left out) = the task's
    /// search budget. Written out as `budget = 0` it is an error.
    pub budget: u64,
    /// Seed of the whole run (LLM sampling, training, evaluation).
    pub seed: u64,
    /// Worker threads in all, at most [`max_threads`](Self::max_threads);
    /// 0 = every core.
    pub threads: usize,
    /// Stop after this many consecutive generations in which every candidate failed.
    pub max_failed_generations: usize,
    /// Retrain the best reward with several seeds at the full budget, next to the
    /// task's human-written and sparse rewards.
    pub final_eval: bool,
    /// Seeds of the final evaluation. Default 3.
    pub final_seeds: usize,
    /// Env steps per final training, at most [`MAX_STEPS`](Self::MAX_STEPS);
    /// 0 (the key left out) = the task's full budget. Written out as
    /// `final_budget = 0` it is an error.
    pub final_budget: u64,
    /// Evaluation episodes of the trajectory analyzer.
    pub analysis_episodes: usize,
    /// Ask the LLM to review every program that passed the sandbox's checks,
    /// and train only those it accepts (one extra request per candidate).
    pub llm_critic: bool,
    /// How a generation's budget is spent across its candidates: `halving`
    /// (the default: successive halving, weak candidates stop early) or
    /// `uniform` (every candidate trains to the full budget). A run recorded
    /// before this key existed was uniform.
    #[serde(default = "Allocation::recorded_before")]
    pub allocation: Allocation,
    /// Successive halving's reduction factor η (2 to 8): candidates are
    /// ranked at budget/η² and budget/η, and the best 1/η continue. Default 3.
    #[serde(default = "default_eta")]
    pub eta: usize,
}

fn default_eta() -> usize {
    super::allocation::DEFAULT_ETA
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            generations: 5,
            samples: 8,
            budget: 0,
            seed: 0,
            threads: 0,
            max_failed_generations: 2,
            final_eval: true,
            final_seeds: 3,
            final_budget: 0,
            analysis_episodes: 4,
            llm_critic: false,
            allocation: Allocation::default(),
            eta: default_eta(),
        }
    }
}

impl SearchConfig {
    /// Most generations of a search: 1000. At minutes per generation that is
    /// days; beyond it a number is a typo, not a plan.
    pub const MAX_GENERATIONS: usize = 1000;
    /// Most candidates per generation: 64 (each is trained; a prompt asks for
    /// them all at once).
    pub const MAX_SAMPLES: usize = 64;
    /// Most env steps of one training (a candidate's, a final one's, or
    /// `train --steps`): 10⁹. At the tens of thousands of steps per second
    /// of a laptop that is most of a day per training.
    pub const MAX_STEPS: u64 = 1_000_000_000;
    /// Most seeds of the final evaluation: 100.
    pub const MAX_FINAL_SEEDS: usize = 100;
    /// Most evaluation episodes of the trajectory analyzer (and of
    /// `rollout --episodes`): 10 000.
    pub const MAX_EPISODES: usize = 10_000;
    /// Most threads per core: 4. More threads than that only add switching
    /// (training is CPU-bound), and a typo such as `--threads 100000` would
    /// start thousands of them.
    pub const THREADS_PER_CORE: usize = 4;

    /// The most worker threads a command may use here:
    /// [`THREADS_PER_CORE`](Self::THREADS_PER_CORE) × the cores available.
    #[must_use]
    pub fn max_threads() -> usize {
        Self::THREADS_PER_CORE * cores()
    }

    /// Rejects values that cannot run or are beyond the documented bounds.
    ///
    /// # Errors
    /// A message naming the key, the value and the allowed range.
    pub fn validate(&self) -> anyhow::Result<()> {
        fn range<T: PartialOrd + std::fmt::Display>(
            key: &str,
            v: T,
            lo: T,
            hi: T,
        ) -> anyhow::Result<()> {
            if v < lo || v > hi {
                bail!("search.{key} must be from {lo} to {hi} (got {v})");
            }
            Ok(())
        }
        range("generations", self.generations, 1, Self::MAX_GENERATIONS)?;
        range("samples", self.samples, 1, Self::MAX_SAMPLES)?;
        // 0 stands for the task's own budget (the key left out).
        range("budget", self.budget, 0, Self::MAX_STEPS)?;
        range("final_budget", self.final_budget, 0, Self::MAX_STEPS)?;
        if self.threads > Self::max_threads() {
            bail!(
                "search.threads must be from 1 to {} ({} × the {} cores here), or 0 for every core (got {})",
                Self::max_threads(),
                Self::THREADS_PER_CORE,
                cores(),
                self.threads
            );
        }
        if self.final_eval {
            range("final_seeds", self.final_seeds, 1, Self::MAX_FINAL_SEEDS)?;
        }
        range(
            "max_failed_generations",
            self.max_failed_generations,
            1,
            Self::MAX_GENERATIONS,
        )?;
        range("eta", self.eta, 2, 8)?;
        range(
            "analysis_episodes",
            self.analysis_episodes,
            1,
            Self::MAX_EPISODES,
        )?;
        Ok(())
    }
}

/// The cores this process may use (1 when unknown).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Where candidate trainings run (`--executor`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// In this process, on its threads.
    #[default]
    Local,
    /// As Slurm job arrays (`sbatch`), on a shared filesystem.
    Slurm,
}

/// The `[executor]` table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorConfig {
    /// Where candidate trainings run.
    pub kind: ExecutorKind,
    /// How they are submitted with `kind = "slurm"` (`[executor.slurm]`).
    pub slurm: super::slurm::SlurmOptions,
}

/// The whole configuration file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    /// How the search runs.
    pub search: SearchConfig,
    /// Which model writes rewards.
    pub llm: LlmConfig,
    /// Where candidate trainings run.
    pub executor: ExecutorConfig,
}

impl FileConfig {
    /// Largest configuration file read, in bytes: 1 MiB (a real one is a few
    /// hundred bytes).
    pub const MAX_FILE_BYTES: u64 = 1 << 20;

    /// Reads `path` (a regular file of at most
    /// [`MAX_FILE_BYTES`](Self::MAX_FILE_BYTES); a leading byte-order mark is
    /// dropped); unknown keys are rejected with their name, and a budget
    /// written out as 0 is refused (leave the key out for the task's own).
    ///
    /// # Errors
    /// The file cannot be read or parsed: one line naming the file, the line
    /// and column, and what is wrong.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = crate::user_file::read_user_text(path, Self::MAX_FILE_BYTES, "config file")
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("bad config {}", path.display()))
    }

    /// Parses the text of a configuration file (see [`load`](Self::load)).
    ///
    /// # Errors
    /// What is wrong, with its line and column, on one line.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut config: Self = toml::from_str(text).map_err(|e| one_line(text, &e))?;
        // `budget = 0` used to mean "the task's budget" silently; a 0 written
        // out is now taken for the mistake it most likely is.
        let raw: toml::Table = toml::from_str(text).map_err(|e| one_line(text, &e))?;
        if let Some(search) = raw.get("search").and_then(toml::Value::as_table) {
            // A file that does not choose gets today's default, not what runs
            // recorded before the key existed did.
            if !search.contains_key("allocation") {
                config.search.allocation = Allocation::default();
            }
            for key in ["budget", "final_budget"] {
                if search.get(key).and_then(toml::Value::as_integer) == Some(0) {
                    bail!(
                        "search.{key} = 0 trains for no steps: give 1 to {} env steps, or leave the key out for the task's own budget",
                        SearchConfig::MAX_STEPS
                    );
                }
            }
        }
        Ok(config)
    }

    /// `rewardsmith.toml` in the working folder if it exists, else the defaults.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn discover(explicit: Option<&Path>) -> anyhow::Result<Self> {
        match explicit {
            Some(p) => Self::load(p),
            None if Path::new("rewardsmith.toml").exists() => {
                Self::load(Path::new("rewardsmith.toml"))
            }
            None => Ok(Self::default()),
        }
    }
}

/// A TOML error on one line: `line L, column C: message` (the toml crate's
/// own rendering spans five lines with a drawing of the source).
fn one_line(text: &str, e: &toml::de::Error) -> anyhow::Error {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            anyhow::anyhow!("line {line}, column {column}: {message}")
        }
        None => anyhow::anyhow!("{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let err = toml::from_str::<FileConfig>("[search]\ngenerationz = 3\n").unwrap_err();
        assert!(err.to_string().contains("generationz"), "{err}");
    }

    #[test]
    fn partial_tables_keep_defaults() {
        let c: FileConfig = toml::from_str("[search]\nsamples = 4\n").unwrap();
        assert_eq!(c.search.samples, 4);
        assert_eq!(c.search.generations, 5);
    }

    #[test]
    fn errors_are_one_line_and_a_bom_is_dropped() {
        let err = FileConfig::parse("[search]\ngenerationz = 3\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("line 2, column 1: unknown field `generationz`"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
        let c = FileConfig::parse("\u{feff}[search]\nsamples = 4\n").unwrap();
        assert_eq!(c.search.samples, 4);
    }

    #[test]
    fn a_zero_budget_written_out_is_refused() {
        let err = FileConfig::parse("[search]\nbudget = 0\n").unwrap_err();
        assert!(err.to_string().contains("search.budget = 0"), "{err}");
        assert!(FileConfig::parse("[search]\nbudget = 5000\n").is_ok());
    }

    #[test]
    fn absurd_numbers_are_refused_with_their_range() {
        let c = SearchConfig {
            generations: usize::MAX,
            ..SearchConfig::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("search.generations must be from 1 to 1000"),
            "{err}"
        );
        let c = SearchConfig {
            threads: 1_000_000,
            ..SearchConfig::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("search.threads")
        );
    }

    #[test]
    fn allocation_defaults_to_halving_but_old_runs_read_as_uniform() {
        assert_eq!(SearchConfig::default().allocation, Allocation::Halving);
        let file = FileConfig::parse("[search]\nsamples = 4\n").unwrap();
        assert_eq!(file.search.allocation, Allocation::Halving);
        let chosen = FileConfig::parse("[search]\nallocation = \"uniform\"\n").unwrap();
        assert_eq!(chosen.search.allocation, Allocation::Uniform);
        // A run.toml written before the key existed.
        let old: SearchConfig = toml::from_str("samples = 4\n").unwrap();
        assert_eq!(old.allocation, Allocation::Uniform);
    }

    #[test]
    fn zero_samples_are_refused() {
        let c = SearchConfig {
            samples: 0,
            ..SearchConfig::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("search.samples")
        );
    }
}
