//! The command line, as clap derive types: raw arguments only, validated by the
//! commands that use them. Every number is parsed by a parser of this module
//! that knows its documented range (the `MAX_*` constants of
//! [`SearchConfig`] and here), so `--budget -1` or `--generations 10000000`
//! is told the flag, the value and the range instead of being accepted or
//! taken for another argument.

use crate::search::{Allocation, ExecutorKind, FeedbackMode, SearchConfig};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Most episodes `render` draws: 100 (each becomes frames of a GIF).
pub const MAX_RENDER_EPISODES: usize = 100;

/// Most US dollars `--max-cost` may name: 10 000.
pub const MAX_COST_USD: f64 = 10_000.0;

/// A whole number from `LO` to `HI` (a seed, a budget): the message names the
/// range, also for a negative number or a word.
fn u64_in<const LO: u64, const HI: u64>(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|v| (LO..=HI).contains(v))
        .ok_or_else(|| format!("must be a whole number from {LO} to {HI}"))
}

/// A count from `LO` to `HI` (generations, samples, episodes).
fn usize_in<const LO: usize, const HI: usize>(text: &str) -> Result<usize, String> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|v| (LO..=HI).contains(v))
        .ok_or_else(|| format!("must be a whole number from {LO} to {HI}"))
}

/// A worker-thread count: from 1 to [`SearchConfig::max_threads`] (a few per
/// core of this machine).
fn threads(text: &str) -> Result<usize, String> {
    let max = SearchConfig::max_threads();
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|v| (1..=max).contains(v))
        .ok_or_else(|| {
            format!(
                "must be a whole number from 1 to {max} ({} × the {} cores here)",
                SearchConfig::THREADS_PER_CORE,
                max / SearchConfig::THREADS_PER_CORE
            )
        })
}

/// US dollars: a finite number from 0 to [`MAX_COST_USD`].
fn dollars(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=MAX_COST_USD).contains(v))
        .ok_or_else(|| format!("must be a number of US dollars from 0 to {MAX_COST_USD}"))
}

/// rewardsmith writes reward functions with an LLM and proves each one by
/// training a policy on it.
#[derive(Debug, Parser)]
#[command(name = "rewardsmith", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List environments and tasks.
    Envs {
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print the description of a task that a reward author (or an LLM) reads.
    Describe {
        /// Task name (see `rewardsmith envs`).
        task: String,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Run episodes with a fixed policy; print fitness and env steps per second.
    Rollout(RolloutArgs),
    /// Compile and dry-run a reward program (`.rhai`, `.wasm`, `.wat`).
    Check(CheckArgs),
    /// Train a PPO policy on one reward program.
    Train(TrainArgs),
    /// Search for the best reward program of a task.
    Run(Box<RunArgs>),
    /// Continue a stopped run from its folder.
    Resume {
        /// The run folder.
        dir: PathBuf,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// How progress shows on stderr (see `run --help`).
        #[arg(long, value_enum)]
        progress: Option<ProgressMode>,
    },
    /// Rewrite a run's report.html and report.md.
    Report {
        /// The run folder.
        dir: PathBuf,
    },
    /// Worker mode: evaluate one candidate from a self-contained spec.
    EvalCandidate(EvalCandidateArgs),
    /// Picture a policy: an animated GIF and a PNG filmstrip of its episodes.
    Render(RenderArgs),
}

/// How a search shows its progress on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Bars on a terminal, plain lines when piped, nothing under `--json`.
    Auto,
    /// Plain lines.
    Plain,
    /// The run's events, one JSON object a line.
    Json,
}

/// `--allocation`: the command line's names of [`Allocation`] (the domain
/// enum knows nothing of clap; the docs below are the `--help` lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AllocationArg {
    /// Every candidate trains to the full budget.
    Uniform,
    /// Successive halving: weak candidates stop at a rung.
    Halving,
}

impl From<AllocationArg> for Allocation {
    fn from(arg: AllocationArg) -> Self {
        match arg {
            AllocationArg::Uniform => Self::Uniform,
            AllocationArg::Halving => Self::Halving,
        }
    }
}

/// `--executor`: the command line's names of [`ExecutorKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorArg {
    /// In this process, on its threads.
    Local,
    /// As Slurm job arrays (`sbatch`), on a shared filesystem.
    Slurm,
}

impl From<ExecutorArg> for ExecutorKind {
    fn from(arg: ExecutorArg) -> Self {
        match arg {
            ExecutorArg::Local => Self::Local,
            ExecutorArg::Slurm => Self::Slurm,
        }
    }
}

/// `--feedback`: the command line's names of [`FeedbackMode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FeedbackArg {
    /// The automatic reflection (training statistics and trajectory analysis).
    /// The default: a search must run unattended.
    Auto,
    /// A person ranks candidates and/or comments after each generation.
    Human,
}

impl From<FeedbackArg> for FeedbackMode {
    fn from(arg: FeedbackArg) -> Self {
        match arg {
            FeedbackArg::Auto => Self::Auto,
            FeedbackArg::Human => Self::Human,
        }
    }
}

impl Command {
    /// Whether the command was asked for JSON on stdout (`--json`): its errors
    /// are then JSON too.
    #[must_use]
    pub fn json(&self) -> bool {
        match self {
            Self::Envs { json } | Self::Describe { json, .. } | Self::Resume { json, .. } => *json,
            Self::Rollout(a) => a.json,
            Self::Check(a) => a.json,
            Self::Train(a) => a.json,
            Self::Run(a) => a.json,
            Self::Render(a) => a.json,
            Self::Report { .. } | Self::EvalCandidate(_) => false,
        }
    }
}

/// Arguments of `rewardsmith render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Task name (see `rewardsmith envs`).
    #[arg(long)]
    pub task: String,
    /// `random`, `zero`, or the path of a saved policy (a `train --out` or
    /// candidate folder).
    #[arg(long)]
    pub policy: String,
    /// The GIF to write; the filmstrip goes beside it as `.png`.
    #[arg(long)]
    pub out: PathBuf,
    /// Episodes, one after the other, 1 to 100.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = usize_in::<1, MAX_RENDER_EPISODES>)]
    pub episodes: usize,
    /// Seed of the episodes (and of the random policy).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = u64_in::<0, { u64::MAX }>)]
    pub seed: u64,
    /// Frame width, pixels, 16 to 4096.
    #[arg(long, default_value_t = 320, allow_negative_numbers = true, value_parser = usize_in::<16, 4096>)]
    pub width: usize,
    /// Frame height, pixels, 16 to 4096.
    #[arg(long, default_value_t = 240, allow_negative_numbers = true, value_parser = usize_in::<16, 4096>)]
    pub height: usize,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `rewardsmith run`. Flags override `rewardsmith.toml` (or
/// `--config FILE`), which overrides the defaults.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Task name (see `rewardsmith envs`).
    #[arg(long, required_unless_present = "describe", conflicts_with_all = ["env", "describe"])]
    pub task: Option<String>,
    /// Environment of a task described in your own words (with `--describe`).
    #[arg(long, requires = "describe")]
    pub env: Option<String>,
    /// The task in your own words, e.g. "walk backwards slowly while keeping
    /// the body low" (with `--env`). The LLM (or the offline designer) first
    /// writes the program that measures it — the task fitness — which is shown
    /// with its plain reading and a dry run on random and zero actions (and
    /// a scripted controller on the cartpole and the arm), checked in the
    /// sandbox and stored in the run folder (`fitness.rhai`,
    /// `fitness-reading.md`); with `--feedback human` you accept, correct or
    /// stop it before the search. The offline designer refuses (exit 2)
    /// words it cannot measure, naming them.
    #[arg(long, requires = "env", value_name = "TEXT")]
    pub describe: Option<String>,
    /// With `--describe` and the offline designer: run even when some words
    /// of the description cannot be measured (it refuses otherwise, exit 2);
    /// the stored reading names the ignored words in bold.
    #[arg(long, requires = "describe")]
    pub accept_partial_fitness: bool,
    /// Who writes rewards: `builtin` (offline designer, the default without an
    /// endpoint), `openai` (any OpenAI-compatible endpoint) or `replay`.
    #[arg(long)]
    pub llm: Option<String>,
    /// Base URL of an OpenAI-compatible endpoint (implies `--llm openai`).
    #[arg(long)]
    pub base_url: Option<String>,
    /// Model name.
    #[arg(long)]
    pub model: Option<String>,
    /// Transcript to replay (a run's `llm/` folder or a JSONL file).
    #[arg(long)]
    pub replay: Option<PathBuf>,
    /// Reward candidates per generation, 1 to 64 (default 8).
    #[arg(long, allow_negative_numbers = true, value_parser = usize_in::<1, { SearchConfig::MAX_SAMPLES }>)]
    pub samples: Option<usize>,
    /// Generations, 1 to 1000 (default 5).
    #[arg(long, allow_negative_numbers = true, value_parser = usize_in::<1, { SearchConfig::MAX_GENERATIONS }>)]
    pub generations: Option<usize>,
    /// Env steps per candidate, 1 to 10⁹ (default: the task's search budget).
    #[arg(long, allow_negative_numbers = true, value_parser = u64_in::<1, { SearchConfig::MAX_STEPS }>)]
    pub budget: Option<u64>,
    /// Seed of the run.
    #[arg(long, allow_negative_numbers = true, value_parser = u64_in::<0, { u64::MAX }>)]
    pub seed: Option<u64>,
    /// Worker threads in all, 1 to 4 × the cores (default: every core).
    #[arg(long, allow_negative_numbers = true, value_parser = threads)]
    pub threads: Option<usize>,
    /// Run folder (default: `runs/TASK-seedS`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing run folder.
    #[arg(long)]
    pub force: bool,
    /// Have the LLM review every program that passed the sandbox's checks
    /// before training it; rejected ones are not trained and their reasons
    /// go into the next prompt.
    #[arg(long)]
    pub llm_critic: bool,
    /// Skip the final multi-seed evaluation.
    #[arg(long)]
    pub no_final_eval: bool,
    /// Env steps per final training, 1 to 10⁹ (default: the task's full budget).
    #[arg(long, allow_negative_numbers = true, value_parser = u64_in::<1, { SearchConfig::MAX_STEPS }>)]
    pub final_budget: Option<u64>,
    /// Seeds of the final evaluation, 1 to 100 (default 3).
    #[arg(long, allow_negative_numbers = true, value_parser = usize_in::<1, { SearchConfig::MAX_FINAL_SEEDS }>)]
    pub final_seeds: Option<usize>,
    /// How each generation spends its budget: `halving` (default; weak
    /// candidates stop at budget/9 or budget/3) or `uniform` (all train to the end).
    #[arg(long, value_enum)]
    pub allocation: Option<AllocationArg>,
    /// Where candidate trainings run: `local` (default) or `slurm` (job
    /// arrays on a shared filesystem; options in `[executor.slurm]`).
    #[arg(long, value_enum)]
    pub executor: Option<ExecutorArg>,
    /// Never show the task fitness to the LLM.
    #[arg(long)]
    pub hide_fitness: bool,
    /// How progress shows on stderr: `auto` (bars on a terminal, plain lines
    /// when piped, nothing under `--json`), `plain` (lines), or `json` (the
    /// run's events as JSON lines, the schema of `events.jsonl`, for other
    /// tools to follow a run; also with `--json`).
    #[arg(long, value_enum)]
    pub progress: Option<ProgressMode>,
    /// Who writes the feedback between generations: `auto` (the reflection)
    /// or `human` (rank candidates and/or comment after each generation: from
    /// `--feedback-file`, else piped standard input, else the terminal).
    #[arg(long, value_enum)]
    pub feedback: Option<FeedbackArg>,
    /// JSON Lines of human answers, one per generation:
    /// `{"rank":[3,1,2],"text":"…"}`, `{"action":"skip"}` or `{"action":"stop"}`
    /// (implies `--feedback human`).
    #[arg(long)]
    pub feedback_file: Option<PathBuf>,
    /// Do not render a rollout picture of every trained candidate.
    #[arg(long)]
    pub no_render: bool,
    /// Stop sampling once the LLM cost reaches this many US dollars (0 to 10 000).
    #[arg(long, allow_negative_numbers = true, value_parser = dollars)]
    pub max_cost: Option<f64>,
    /// Folder of prompt templates overriding the embedded ones.
    #[arg(long)]
    pub prompts: Option<PathBuf>,
    /// Configuration file (default: `rewardsmith.toml` if present).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `rewardsmith eval-candidate`.
#[derive(Debug, clap::Args)]
pub struct EvalCandidateArgs {
    /// The candidate spec (JSON: task, reward, budget, seed, threads, analysis_episodes).
    pub spec: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `rewardsmith train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Task to train on (see `rewardsmith envs`).
    #[arg(long)]
    pub task: String,
    /// `human` or `sparse` (the task's own baselines), or a reward program file.
    #[arg(long)]
    pub reward: String,
    /// Env steps to train for, 1 to 10⁹ (default: the task's budget).
    #[arg(long, allow_negative_numbers = true, value_parser = u64_in::<1, { SearchConfig::MAX_STEPS }>)]
    pub steps: Option<u64>,
    /// Seed of everything random in training.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = u64_in::<0, { u64::MAX }>)]
    pub seed: u64,
    /// Worker threads, 1 to 4 × the cores (default: all cores).
    #[arg(long, allow_negative_numbers = true, value_parser = threads)]
    pub threads: Option<usize>,
    /// Output folder (default: `runs/train-TASK-seedS`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace a PPO setting, `NAME=VALUE` in TOML syntax (repeatable), e.g.
    /// `--ppo init_log_std=-1 --ppo hidden=[128,128]`; names as in `PpoConfig`.
    #[arg(long, value_name = "NAME=VALUE")]
    pub ppo: Vec<String>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `rewardsmith check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Task whose reward state the program reads.
    #[arg(long)]
    pub task: String,
    /// The reward program.
    pub file: PathBuf,
    /// Seed of the random-policy episodes the dry run uses.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = u64_in::<0, { u64::MAX }>)]
    pub seed: u64,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `rewardsmith rollout`.
#[derive(Debug, clap::Args)]
pub struct RolloutArgs {
    /// Task name (see `rewardsmith envs`).
    #[arg(long)]
    pub task: String,
    /// `random`, `zero`, or the path of a saved policy (the folder `train --out` wrote).
    #[arg(long, default_value = "random")]
    pub policy: String,
    /// Number of episodes, 1 to 10 000.
    #[arg(long, default_value_t = 8, allow_negative_numbers = true, value_parser = usize_in::<1, { SearchConfig::MAX_EPISODES }>)]
    pub episodes: usize,
    /// Seed of the episodes and of the random policy.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = u64_in::<0, { u64::MAX }>)]
    pub seed: u64,
    /// Worker threads, 1 to 4 × the cores (default: all cores).
    #[arg(long, allow_negative_numbers = true, value_parser = threads)]
    pub threads: Option<usize>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum as _;

    /// The name the config file (serde) gives a domain value.
    fn config_name(value: impl serde::Serialize) -> String {
        serde_json::to_value(value)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    fn flag_name(value: &impl clap::ValueEnum) -> String {
        value.to_possible_value().unwrap().get_name().to_string()
    }

    #[test]
    fn flag_values_are_the_config_names() {
        for v in AllocationArg::value_variants() {
            assert_eq!(flag_name(v), config_name(Allocation::from(*v)));
        }
        for v in ExecutorArg::value_variants() {
            assert_eq!(flag_name(v), config_name(ExecutorKind::from(*v)));
        }
        for v in FeedbackArg::value_variants() {
            assert_eq!(flag_name(v), config_name(FeedbackMode::from(*v)));
        }
    }
}
