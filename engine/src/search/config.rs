//! Search configuration: `rewardsmith.toml` (tables `[search]` and `[llm]`),
//! command-line flags over the file over the defaults, validated before use.

use crate::llm::LlmConfig;
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Who writes the feedback between generations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
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
    /// Env steps per candidate's training; 0 = the task's search budget.
    pub budget: u64,
    /// Seed of the whole run (LLM sampling, training, evaluation).
    pub seed: u64,
    /// Worker threads in all; 0 = every core.
    pub threads: usize,
    /// Stop after this many consecutive generations in which every candidate failed.
    pub max_failed_generations: usize,
    /// Retrain the best reward with several seeds at the full budget, next to the
    /// task's human-written and sparse rewards.
    pub final_eval: bool,
    /// Seeds of the final evaluation. Default 3.
    pub final_seeds: usize,
    /// Env steps per final training; 0 = the task's full budget.
    pub final_budget: u64,
    /// Evaluation episodes of the trajectory analyzer.
    pub analysis_episodes: usize,
    /// Ask the LLM to review every program that passed the sandbox's checks,
    /// and train only those it accepts (one extra request per candidate).
    pub llm_critic: bool,
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
        }
    }
}

impl SearchConfig {
    /// Rejects values that cannot run.
    ///
    /// # Errors
    /// A message naming the key and the allowed values.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.generations == 0 {
            bail!("search.generations must be at least 1");
        }
        if self.samples == 0 || self.samples > 64 {
            bail!(
                "search.samples must be between 1 and 64 (got {})",
                self.samples
            );
        }
        if self.final_eval && self.final_seeds == 0 {
            bail!("search.final_seeds must be at least 1 when the final evaluation is on");
        }
        if self.max_failed_generations == 0 {
            bail!("search.max_failed_generations must be at least 1");
        }
        if self.analysis_episodes == 0 {
            bail!("search.analysis_episodes must be at least 1");
        }
        Ok(())
    }
}

/// The whole configuration file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    /// How the search runs.
    pub search: SearchConfig,
    /// Which model writes rewards.
    pub llm: LlmConfig,
}

impl FileConfig {
    /// Reads `path`; unknown keys are rejected with their name.
    ///
    /// # Errors
    /// The file cannot be read or parsed.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("bad config {}", path.display()))
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
