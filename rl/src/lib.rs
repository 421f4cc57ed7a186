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
//!
//! # Example
//! A point on a line that should reach the origin, rewarded by minus its distance:
//! ```
//! use rewardsmith_core::{
//!     Env, EnvSpec, Fitness, RewardError, RewardProgram, RewardSource, SplitMix64, StateSpec,
//!     StateView, StepInfo, Task,
//! };
//! use rewardsmith_rl::{PpoConfig, PpoOverrides, train};
//! use std::sync::Arc;
//!
//! struct Point { spec: Arc<EnvSpec>, x: f64 }
//! impl Env for Point {
//!     fn spec(&self) -> &Arc<EnvSpec> { &self.spec }
//!     fn reset(&mut self, seed: u64) { self.x = SplitMix64::new(seed).uniform(-1.0, 1.0); }
//!     fn step(&mut self, action: &[f32]) -> StepInfo {
//!         self.x += 0.1 * f64::from(action[0].clamp(-1.0, 1.0));
//!         StepInfo::default()
//!     }
//!     fn observe(&self, obs: &mut [f32]) { obs[0] = self.x as f32; }
//!     fn reward_state(&self, out: &mut [f64]) { out[0] = self.x; }
//! }
//! let spec = Arc::new(EnvSpec {
//!     name: "point".into(),
//!     description: "A point on a line.".into(),
//!     obs_dim: 1,
//!     action_dim: 1,
//!     action_doc: "velocity command".into(),
//!     dt: 0.1,
//!     state: StateSpec::builder().scalar("x", "m", "world", "position").build(),
//! });
//! let task = Task::builder("point-reach", move || Box::new(Point { spec: spec.clone(), x: 0.0 }))
//!     .episode_steps(20)
//!     .fitness(Fitness::mean_score("steps near 0", |s| {
//!         f64::from(u8::from(s.scalar("x").unwrap_or(1.0).abs() < 0.1))
//!     }))
//!     .human_reward(RewardSource::embedded("-", ""))
//!     .sparse_reward(RewardSource::embedded("-", ""))
//!     .build()
//!     .unwrap();
//!
//! struct Distance(Vec<String>);
//! impl RewardProgram for Distance {
//!     fn components(&self) -> &[String] { &self.0 }
//!     fn evaluate(&mut self, s: &StateView<'_>, _prev: &StateView<'_>, out: &mut [f64])
//!         -> Result<(), RewardError> {
//!         out[0] = -s.field_at(0)[0].abs();
//!         Ok(())
//!     }
//!     fn fork(&self) -> Box<dyn RewardProgram> { Box::new(Distance(self.0.clone())) }
//! }
//!
//! let overrides = PpoOverrides {
//!     total_timesteps: Some(4 * 64 * 3),
//!     num_envs: Some(4),
//!     num_steps: Some(64),
//!     checkpoints: Some(3),
//!     ..PpoOverrides::default()
//! };
//! let config = PpoConfig::for_task(&task).with_overrides(&overrides);
//! let mut seen = 0;
//! let trained = train(&task, &Distance(vec!["distance".into()]), &config, 7, 2, &mut |p| {
//!     seen += usize::from(p.checkpoint.is_some());
//! })
//! .unwrap();
//! assert_eq!(seen, 3);
//! assert_eq!(trained.report.checkpoints.len(), 3);
//! assert_eq!(trained.report.components, ["distance"]);
//! ```

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
pub use error::{Error, LARGE_REWARD, Result, SLOW_REWARD_FLOOR_S, SLOW_REWARD_RATIO};
pub use eval::{EvalReport, evaluate};
pub use gae::{GaeInput, StepEnd, compute_gae};
pub use loss::{
    PolicyBatch, PolicyLossStats, gaussian_entropy, gaussian_log_prob, normalize_advantages,
    policy_loss, value_loss,
};
pub use metrics::{CSV_FILE, JSONL_FILE, MetricsWriter, csv_header, csv_row, json_row};
pub use normalize::{ObsNormalizer, RewardScaler, RunningMeanStd};
pub use policy::{META_FILE, Policy, WEIGHTS_FILE};
pub use ppo::{Losses, Progress, Timing, Trained, Trainer, checkpoint_iterations, train};
pub use rewardsmith_core::{BestCheckpoint, Checkpoint, TrainReport};
