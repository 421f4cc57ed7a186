//! What a run records about itself: its resolved configuration (`run.toml`),
//! each generation's record, the best candidate, the final evaluation's table
//! and the summary with its timing. Plain data, shared by the loop, the final
//! evaluation and the reports.

use super::config::{FeedbackMode, SearchConfig};
use super::described::DescribedTask;
use crate::llm::{LlmConfig, UsageTotals};
use rewardsmith_core::Task;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;

/// The resolved configuration of a run, as stored in `run.toml` (no secrets:
/// an API key is only ever read from the environment).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// Task name.
    pub task: String,
    /// The search settings.
    pub search: SearchConfig,
    /// The LLM settings.
    pub llm: LlmConfig,
    /// Prompt templates folder overriding the embedded ones.
    pub prompts: Option<PathBuf>,
    /// Never show the task fitness to the LLM.
    pub hide_fitness: bool,
    /// Candidates trained at once.
    pub concurrent: usize,
    /// Worker threads per candidate.
    pub threads_per_candidate: usize,
    /// Env steps per candidate.
    pub budget: u64,
    /// Who writes the feedback between generations (absent in older runs: auto).
    #[serde(default)]
    pub feedback: FeedbackMode,
    /// The JSON Lines file of human answers, when they come from one.
    #[serde(default)]
    pub feedback_file: Option<PathBuf>,
    /// Render a rollout picture of every trained candidate (absent in older
    /// runs: on).
    #[serde(default = "render_default")]
    pub render: bool,
    /// The task in the user's own words, when it was described rather than
    /// named (`task` is then its generated name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub described: Option<DescribedTask>,
    /// Where candidate trainings run (absent in older runs: here).
    #[serde(default)]
    pub executor: super::config::ExecutorConfig,
}

fn render_default() -> bool {
    true
}

impl RunRecord {
    /// Resolves budgets and the split of `cores` between candidates.
    #[must_use]
    pub fn new(task: &Task, search: SearchConfig, llm: LlmConfig, cores: usize) -> Self {
        let cores = if search.threads > 0 {
            search.threads
        } else {
            cores.max(1)
        };
        let concurrent = search.samples.min(cores).max(1);
        let threads_per_candidate = (cores / concurrent).max(1);
        let budget = if search.budget > 0 {
            search.budget
        } else {
            task.defaults.search_budget
        };
        Self {
            task: task.name.clone(),
            search,
            llm,
            prompts: None,
            hide_fitness: false,
            concurrent,
            threads_per_candidate,
            budget,
            feedback: FeedbackMode::Auto,
            feedback_file: None,
            render: true,
            described: None,
            executor: super::config::ExecutorConfig::default(),
        }
    }
}

impl RunRecord {
    /// Worker threads of one candidate's training: the local split of the
    /// cores, or a Slurm task's CPUs.
    #[must_use]
    pub fn candidate_threads(&self) -> usize {
        match self.executor.kind {
            super::config::ExecutorKind::Local => self.threads_per_candidate,
            super::config::ExecutorKind::Slurm => self.executor.slurm.cpus_per_task,
        }
    }
}

/// One candidate's line in a generation's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateLine {
    /// Index within the generation.
    pub index: usize,
    /// Task fitness, when trained.
    pub fitness: Option<f64>,
    /// What went wrong, when it failed.
    pub failure: Option<String>,
}

/// The candidate with the highest fitness (the first of equals), if any
/// trained.
#[must_use]
pub fn best_candidate(candidates: &[CandidateLine]) -> Option<usize> {
    candidates
        .iter()
        .filter_map(|c| c.fitness.map(|f| (c.index, f)))
        .fold(None, |acc: Option<(usize, f64)>, (i, f)| match acc {
            Some((_, bf)) if bf >= f => acc,
            _ => Some((i, f)),
        })
        .map(|(i, _)| i)
}

/// A finished generation, as stored in `gen-NNN/generation.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationRecord {
    /// Generation index.
    pub generation: usize,
    /// Every candidate.
    pub candidates: Vec<CandidateLine>,
    /// The best trained candidate of this generation.
    pub best: Option<usize>,
    /// The conversation turn the next generation continues from: the best
    /// completion (or the previous one when all failed) …
    pub next_answer: Option<String>,
    /// … and the feedback the next request carries.
    pub next_feedback: String,
}

/// The best candidate of the whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestRecord {
    /// Generation.
    pub generation: usize,
    /// Candidate.
    pub candidate: usize,
    /// Its fitness.
    pub fitness: f64,
    /// Its share of held-out episodes that met the task's success predicate
    /// (a described task's `fn success`), when the task has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<f64>,
    /// Its source.
    pub reward: String,
}

/// What a run produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Task name.
    pub task: String,
    /// The best candidate, if any trained.
    pub best: Option<BestRecord>,
    /// Every generation.
    pub generations: Vec<GenerationRecord>,
    /// The final evaluation, unless skipped.
    pub final_eval: Option<FinalReport>,
    /// LLM usage.
    pub llm: UsageTotals,
    /// Why the search stopped early, if it did.
    pub stopped: Option<String>,
    /// Where this process's wall time went (a resumed run counts only what it
    /// did itself).
    #[serde(default)]
    pub timing: Timing,
}

/// Where a run's wall time went, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// The whole search, from start to the written reports.
    pub total_s: f64,
    /// Waiting for the LLM (rewards, a described task's fitness program, the
    /// critic), including the dry runs of what it wrote before training.
    pub llm_s: f64,
    /// Wall time of the phases that evaluate a generation's candidates in parallel.
    pub candidates_s: f64,
    /// Summed over candidates: each one's whole evaluation (checks, training,
    /// trajectory analysis, picture).
    pub candidate_thread_s: f64,
    /// Summed over candidates: the part spent in the trainer.
    pub train_thread_s: f64,
    /// The final evaluation (all training).
    pub final_s: f64,
    /// Waiting for a person's answers between generations (`--feedback
    /// human`): neither training nor the loop's overhead.
    #[serde(default)]
    pub human_s: f64,
    /// Env steps trained by the search's candidates (all of the run's
    /// generations, resumed ones included).
    #[serde(default)]
    pub search_env_steps: u64,
    /// Env steps trained by the final evaluation.
    #[serde(default)]
    pub final_env_steps: u64,
}

impl Timing {
    /// The wall time attributable to training: the final evaluation, plus the
    /// candidate phases scaled by the trainer's share of the candidates' time.
    #[must_use]
    pub fn training_s(&self) -> f64 {
        let share = if self.candidate_thread_s > 0.0 {
            self.train_thread_s / self.candidate_thread_s
        } else {
            0.0
        };
        self.final_s + self.candidates_s * share
    }

    /// What the loop adds over the trainings it runs, as a fraction of them:
    /// `(total − waiting for a person − training) / training` (`None` before
    /// any training).
    #[must_use]
    pub fn loop_overhead(&self) -> Option<f64> {
        let t = self.training_s();
        (t > 0.0).then(|| (self.total_s - self.human_s - t) / t)
    }

    /// One line for people.
    #[must_use]
    pub fn line(&self) -> String {
        let pct = |x: f64| {
            if self.total_s > 0.0 {
                100.0 * x / self.total_s
            } else {
                0.0
            }
        };
        let training = self.training_s();
        let waiting = if self.human_s > 0.0 {
            format!(", waiting for the person {:.1}%", pct(self.human_s))
        } else {
            String::new()
        };
        format!(
            "time: {:.1} s — training {:.1}%, LLM (and checking its programs) {:.1}%, checks, analysis and pictures {:.1}%{waiting}, the rest {:.1}%; the loop adds {} over its trainings",
            self.total_s,
            pct(training),
            pct(self.llm_s),
            pct(self.candidates_s + self.final_s - training),
            pct(self.total_s - self.candidates_s - self.final_s - self.llm_s - self.human_s),
            self.loop_overhead()
                .map_or("n/a".to_string(), |o| format!("{:.1}%", 100.0 * o))
        )
    }
}

impl RunSummary {
    /// The one JSON object `run --json` prints.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "run_dir": self.run_dir,
            "task": self.task,
            "best": self.best.as_ref().map(|b| {
                let mut v = json!({
                    "generation": b.generation, "candidate": b.candidate, "fitness": b.fitness
                });
                if let Some(share) = b.success {
                    v["success"] = json!(share);
                }
                v
            }),
            "generations": self.generations.iter().map(|g| json!({
                "fitness": g.candidates.iter().map(|c| c.fitness).collect::<Vec<_>>(),
                "errors": g.candidates.iter().filter(|c| c.failure.is_some()).count(),
            })).collect::<Vec<_>>(),
            "final": self.final_eval.as_ref().map(FinalReport::to_json),
            "llm": {
                "requests": self.llm.requests,
                "calls": self.llm.calls,
                "prompt_tokens": self.llm.prompt_tokens,
                "completion_tokens": self.llm.completion_tokens,
                "cost_usd": self.llm.cost_usd,
            },
            "stopped": self.stopped,
            "timing": {
                "total_s": self.timing.total_s,
                "llm_s": self.timing.llm_s,
                "candidates_s": self.timing.candidates_s,
                "candidate_thread_s": self.timing.candidate_thread_s,
                "train_thread_s": self.timing.train_thread_s,
                "final_s": self.timing.final_s,
                "human_s": self.timing.human_s,
                "search_env_steps": self.timing.search_env_steps,
                "final_env_steps": self.timing.final_env_steps,
                "training_s": self.timing.training_s(),
                "loop_overhead": self.timing.loop_overhead(),
            },
        })
    }
}

/// Fitness over the seeds of one reward.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedStats {
    /// Final fitness per seed.
    pub values: Vec<f64>,
    /// Mean over seeds.
    pub mean: f64,
    /// Sample standard deviation over seeds (n − 1; 0 for one seed).
    pub std: f64,
    /// 95% confidence interval of the mean (Student's t with n − 1 degrees
    /// of freedom); `None` for fewer than two seeds (absent in older runs).
    #[serde(default)]
    pub ci95: Option<[f64; 2]>,
}

/// Two-sided 95% critical values of Student's t for 1–30 degrees of freedom.
const T95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

impl SeedStats {
    /// The statistics of `values` (one final fitness per seed).
    #[must_use]
    pub fn new(values: Vec<f64>) -> Self {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n.max(1) as f64;
        let (std, ci95) = if n >= 2 {
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let std = var.sqrt();
            let t = T95.get(n - 2).copied().unwrap_or(1.96);
            let half = t * std / (n as f64).sqrt();
            (std, Some([mean - half, mean + half]))
        } else {
            (0.0, None)
        };
        Self {
            values,
            mean,
            std,
            ci95,
        }
    }

    /// The standard error of the mean (`std / √n`; 0 for fewer than two
    /// values).
    #[must_use]
    pub fn standard_error(&self) -> f64 {
        self.std / (self.values.len().max(1) as f64).sqrt()
    }

    /// `mean ± std [lo, hi]` for people.
    #[must_use]
    pub fn text(&self) -> String {
        match self.ci95 {
            Some([lo, hi]) => format!(
                "{:.4} ± {:.4} (95% CI {lo:.4} to {hi:.4})",
                self.mean, self.std
            ),
            None => format!("{:.4} (one seed: no spread)", self.mean),
        }
    }
}

/// The three rewards side by side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalReport {
    /// Env steps per training.
    pub budget: u64,
    /// The best reward of the search.
    pub best: SeedStats,
    /// The task's human-written reward (`None` when the task has none).
    pub human: Option<SeedStats>,
    /// The task's sparse reward (`None` when the task has none).
    pub sparse: Option<SeedStats>,
    /// `(F − F_sparse) / |F_human − F_sparse|`; `None` when human and sparse tie
    /// or a baseline is missing.
    pub normalized_score: Option<f64>,
    /// Env steps trained in all (every reward, every seed; absent in older runs).
    #[serde(default)]
    pub env_steps: u64,
    /// The best reward's share of held-out episodes meeting the task's
    /// success predicate, per seed, when the task has one (a described
    /// task's `fn success`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<SeedStats>,
}

impl FinalReport {
    /// The `final` object of the run summary.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let s = |x: &SeedStats| json!({"mean": x.mean, "std": x.std, "ci95": x.ci95, "values": x.values});
        let mut v = json!({
            "budget": self.budget,
            "best": s(&self.best),
            "human": self.human.as_ref().map(s),
            "sparse": self.sparse.as_ref().map(s),
            "normalized_score": self.normalized_score,
        });
        if let Some(x) = &self.success {
            v["best_success"] = s(x);
        }
        v
    }

    /// The normalised score in words: the number, or why there is none.
    #[must_use]
    pub fn score_text(&self) -> String {
        match (self.normalized_score, &self.human, &self.sparse) {
            (Some(s), _, _) => format!("{s:.3}"),
            (None, Some(_), Some(_)) => "n/a (human and sparse tie)".to_string(),
            (None, _, _) => "n/a (the task has no human-written or sparse reward)".to_string(),
        }
    }

    /// One line: every reward's mean ± std and the normalised score.
    #[must_use]
    pub fn line(&self) -> String {
        let s = |x: &Option<SeedStats>| x.as_ref().map_or("n/a".to_string(), SeedStats::text);
        let success = self.success.as_ref().map_or(String::new(), |x| {
            format!(" (success in {:.0}% of episodes)", 100.0 * x.mean)
        });
        format!(
            "best {}{success}, human {}, sparse {}, normalised score {}",
            self.best.text(),
            s(&self.human),
            s(&self.sparse),
            self.score_text()
        )
    }

    /// The comparison as a Markdown table.
    #[must_use]
    pub fn markdown_table(&self) -> String {
        let mut out = String::from(
            "| reward | fitness mean | std (n − 1) | 95% interval of the mean |\n|---|---|---|---|\n",
        );
        for (name, stats) in [
            ("best found", Some(&self.best)),
            ("human-written", self.human.as_ref()),
            ("sparse", self.sparse.as_ref()),
        ] {
            match stats {
                Some(x) => {
                    let ci = x.ci95.map_or("n/a (one seed)".to_string(), |[lo, hi]| {
                        format!("{lo:.4} to {hi:.4}")
                    });
                    out.push_str(&format!(
                        "| {name} | {:.4} | {:.4} | {ci} |\n",
                        x.mean, x.std
                    ));
                }
                None => out.push_str(&format!("| {name} | n/a | n/a | n/a |\n")),
            }
        }
        if let Some(x) = &self.success {
            out.push_str(&format!(
                "\nThe best reward's policies met the task's success condition in {:.0}% of \
                 held-out episodes (mean over seeds; per seed: {}).\n",
                100.0 * x.mean,
                x.values
                    .iter()
                    .map(|v| format!("{:.0}%", 100.0 * v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_statistics_match_hand_computed_figures() {
        // 0.5, 0.7, 0.9: mean 0.7, sample variance (0.04 + 0 + 0.04) / 2 =
        // 0.04, std 0.2; t(2 df) = 4.303, half-width 4.303 × 0.2 / √3 = 0.49687.
        let s = SeedStats::new(vec![0.5, 0.7, 0.9]);
        assert!((s.mean - 0.7).abs() < 1e-12);
        assert!((s.std - 0.2).abs() < 1e-12);
        let [lo, hi] = s.ci95.unwrap();
        assert!((lo - (0.7 - 0.496_868)).abs() < 1e-5, "{lo}");
        assert!((hi - (0.7 + 0.496_868)).abs() < 1e-5, "{hi}");
        // Two seeds: 1 and 0, mean 0.5, std √0.5, t(1 df) = 12.706.
        let s = SeedStats::new(vec![1.0, 0.0]);
        assert!((s.std - 0.5f64.sqrt()).abs() < 1e-12);
        let [lo, _] = s.ci95.unwrap();
        assert!((lo - (0.5 - 12.706 * 0.5)).abs() < 1e-9, "{lo}");
        // One seed: no spread, no interval.
        let s = SeedStats::new(vec![0.3]);
        assert_eq!((s.mean, s.std, s.ci95), (0.3, 0.0, None));
        assert!(s.text().contains("one seed"));
        // Many seeds fall back on the normal quantile.
        let many = SeedStats::new((0..40).map(|i| f64::from(i % 2)).collect());
        let [lo, hi] = many.ci95.unwrap();
        assert!((hi - lo - 2.0 * 1.96 * many.std / 40f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn the_standard_error_uses_n_minus_one() {
        // Values 0 and 1: variance 0.5, se = sqrt(0.5 / 2) = 0.5.
        assert!((SeedStats::new(vec![0.0, 1.0]).standard_error() - 0.5).abs() < 1e-12);
        assert_eq!(SeedStats::new(vec![3.0]).standard_error(), 0.0);
    }
}
