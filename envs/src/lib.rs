//! rewardsmith's physics environments, on rapier3d, and the built-in tasks.
//!
//! - [`cartpole`]: a cart on a rail with a hinged pole (`cartpole-balance`,
//!   `cartpole-swingup`).
//! - [`quadruped`]: an ant-like robot (`quadruped-run`, `quadruped-backward`,
//!   `quadruped-turn`, `quadruped-stand`).
//! - [`arm`]: a 4-joint arm with a parallel gripper over a table (`arm-reach`,
//!   `arm-push`, `arm-lift`).
//! - [`hand`]: a palm-up three-fingered hand with a cube or a pen (`hand-spin`,
//!   `hand-reorient`, `hand-pen-spin`).
//! - [`valve`]: the same hand turning a valve on a fixed hinge (`hand-valve-turn`,
//!   `hand-valve-spin`).
//!
//! Every task ships a human-written and a sparse reward (Rhai, in `envs/rewards/`).
//! [`registry`] lists them all; [`rollout`] runs episodes.

pub mod arm;
pub mod cartpole;
pub mod hand;
mod physics;
pub mod quadruped;
pub mod rollout;
mod scene;
mod tasks;
pub mod valve;

pub use tasks::{builtin_tasks, registry};
