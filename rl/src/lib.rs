//! PPO for continuous control over vectorised environments.
//!
//! [`train`] turns a [`Task`](rewardsmith_core::Task) and a
//! [`RewardProgram`](rewardsmith_core::RewardProgram) into a [`Trained`] policy
//! and a [`TrainReport`](rewardsmith_core::TrainReport) with evenly spaced
//! checkpoints (mean of every reward component, episode return and length, and
//! the task's fitness of the deterministic policy). [`evaluate`] scores a
//! [`Policy`]; [`Policy::save`] / [`Policy::load`] store it as
//! `policy.safetensors` + `policy.json`; [`MetricsWriter`] streams checkpoints
//! as `metrics.csv` and `metrics.jsonl`.
//!
//! The algorithm follows cleanrl's `ppo_continuous_action.py` (and its
//! hyperparameter names, see [`PpoConfig`]). The networks are the small
//! hand-written MLPs of [`nn`], over `matrixmultiply`'s sgemm. Everything is
//! seeded: the same seed, reward and config give the same report.

mod agent;
mod config;
mod error;
mod eval;
mod gae;
mod loss;
mod metrics;
pub mod nn;
mod normalize;
mod policy;
mod ppo;

pub use agent::{ActorCritic, Minibatch, MinibatchStats};
pub use config::{PpoConfig, PpoOverrides};
pub use error::{Error, Result};
pub use eval::{EvalReport, evaluate};
pub use gae::{GaeInput, StepEnd, compute_gae};
pub use loss::{
    PolicyBatch, PolicyLossStats, gaussian_entropy, gaussian_log_prob, normalize_advantages,
    policy_loss, value_loss,
};
pub use metrics::{CSV_FILE, JSONL_FILE, MetricsWriter, csv_header, csv_row, json_row};
pub use normalize::{ObsNormalizer, RewardScaler, RunningMeanStd};
pub use policy::{META_FILE, Policy, WEIGHTS_FILE};
pub use ppo::{Losses, Progress, Timing, Trained, checkpoint_iterations, train};
pub use rewardsmith_core::{Checkpoint, TrainReport};
