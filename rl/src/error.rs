//! Errors of the trainer: bad configuration, reward-program failures during
//! training, numerical divergence, and policy files that cannot be used.

use rewardsmith_core::RewardError;
use std::path::PathBuf;

/// What can stop training, evaluation, or loading a policy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The hyperparameters do not make a run.
    #[error("invalid training config: {0}")]
    Config(String),
    /// The reward program failed; training stopped at that step.
    #[error(
        "reward program failed at env step {env_step} (instance {instance}){}: {source}",
        component.as_deref().map(|c| format!(" in component `{c}`")).unwrap_or_default()
    )]
    Reward {
        /// Env steps taken before the failing one (all instances together).
        env_step: u64,
        /// The environment instance whose step failed.
        instance: usize,
        /// The component involved, when known.
        component: Option<String>,
        /// The program's error.
        #[source]
        source: RewardError,
    },
    /// The program declares no reward component.
    #[error("reward program declares no components")]
    NoComponents,
    /// The environment produced a NaN or infinite observation (a physics
    /// blow-up); training cannot go on from it.
    #[error(
        "environment instance {instance} produced a non-finite observation at env step {env_step}"
    )]
    NonFiniteObservation {
        /// Env steps taken before the observation (all instances together).
        env_step: u64,
        /// The environment instance.
        instance: usize,
    },
    /// A loss or parameter became NaN or infinite.
    #[error("training diverged at iteration {iteration}: {what} is not finite")]
    Diverged {
        /// 1-based PPO iteration.
        iteration: usize,
        /// What became non-finite.
        what: String,
    },
    /// The worker threads could not be started.
    #[error("could not start {threads} worker threads: {message}")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// The reason.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A policy file is malformed or inconsistent.
    #[error("bad policy file {}: {message}", path.display())]
    BadPolicy {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A policy was trained for another environment or with other dimensions.
    #[error("policy does not fit task `{task}`: {message}")]
    PolicyMismatch {
        /// The task it was used with.
        task: String,
        /// What differs.
        message: String,
    },
}

/// Result with the trainer's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
