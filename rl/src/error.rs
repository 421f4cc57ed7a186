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
    #[error(
        "training diverged at iteration {iteration}: {what} is not finite; {}",
        divergence_cause(*max_abs_reward)
    )]
    Diverged {
        /// 1-based PPO iteration.
        iteration: usize,
        /// What became non-finite.
        what: String,
        /// The largest |reward| of one step seen before it (every reward was
        /// finite: a non-finite one stops training as [`Error::Reward`]).
        max_abs_reward: f64,
    },
    /// The reward program costs far more than the environment it rewards:
    /// training would take many times longer than the env alone.
    #[error(
        "the reward program is too slow to train with: a call takes {reward_us:.0} µs (median), \
         {share_pct:.0}% of the time of an env step and its reward call (the limit: a call above {} µs that costs \
         more than {}× an env step). Simplify it: no long loops, scans of large arrays or string \
         building in every call",
        SLOW_REWARD_FLOOR_S * 1e6,
        SLOW_REWARD_RATIO
    )]
    SlowReward {
        /// The reward's share of the stepping time, % (an estimate).
        share_pct: f64,
        /// Mean wall time of a reward call, µs.
        reward_us: f64,
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
    /// A saved training (a paused trainer's state) is malformed, or was
    /// saved by another training (task, seed, settings or reward).
    #[error("cannot go on from the saved training {}: {message}", path.display())]
    BadState {
        /// Its folder.
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

/// A reward that costs more than this many env steps per call stops training
/// ([`Error::SlowReward`]): a human-written reward costs about 2% of a step, so
/// only a pathological program comes near it, on any machine and load.
pub const SLOW_REWARD_RATIO: f64 = 4.0;

/// A reward call cheaper than this (200 µs) never stops training, however
/// cheap the env: on the cheapest env (cart-pole, a few µs a step) a rich but
/// reasonable reward may cost several steps.
pub const SLOW_REWARD_FLOOR_S: f64 = 2e-4;

/// Above this |reward| per step, a divergence is put down to the reward's
/// scale rather than to the PPO settings.
pub const LARGE_REWARD: f64 = 1e4;

/// Which of the reward and the trainer settings most likely made training
/// diverge, in words.
fn divergence_cause(max_abs_reward: f64) -> String {
    if max_abs_reward > LARGE_REWARD {
        format!(
            "the reward is the likely cause: a step's reward reached {max_abs_reward:.3e}; scale \
             it down (the trainer normalises returns, but rewards this large still overflow its \
             statistics)"
        )
    } else {
        format!(
            "the rewards stayed finite and within ±{max_abs_reward:.3e} per step, so the PPO \
             settings are the likely cause (a smaller learning_rate, max_grad_norm or \
             init_log_std)"
        )
    }
}
