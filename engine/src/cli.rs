//! The command line, as clap derive types: raw arguments only, validated by the
//! commands that use them.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

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
    /// Env steps to train for (default: the task's budget).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Seed of everything random in training.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output folder (default: `runs/train-TASK-seedS`).
    #[arg(long)]
    pub out: Option<PathBuf>,
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
    #[arg(long, default_value_t = 0)]
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
    /// Number of episodes.
    #[arg(long, default_value_t = 8)]
    pub episodes: usize,
    /// Seed of the episodes and of the random policy.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}
