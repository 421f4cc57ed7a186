//! The shared vocabulary of rewardsmith.
//!
//! Plain data and traits only: the [`Env`] trait a physics environment implements,
//! the named **reward state** ([`StateSpec`], [`StateView`]) that reward programs
//! read and environments write through the handles their declaration returns
//! ([`StateWriter`]), observation layouts as named runs ([`ObsSpan`]), [`Task`]s
//! with their ground-truth [`Fitness`], the [`RewardProgram`] trait the sandbox
//! implements, and the [`TrainReport`] the trainer produces.
//!
//! Every other crate of the workspace depends on this one; it depends on none of
//! them and on no heavy library (no physics, no scripting engine, no tensors).

mod env;
mod error;
mod obs;
mod report;
mod reward;
mod scene;
mod seed;
mod state;
mod task;
mod vec_env;

pub use env::{Env, EnvSpec, StepInfo};
pub use error::{Error, Result};
pub use obs::ObsSpan;
pub use report::{BestCheckpoint, Checkpoint, ComponentCurve, TrainReport};
pub use reward::{RewardError, RewardErrorKind, RewardOutput, RewardProgram};
pub use scene::{Primitive, Shape};
pub use seed::{SplitMix64, derive_seed};
pub use state::{
    FieldHandle, FieldKind, FieldSpec, ScalarHandle, StateSpec, StateSpecBuilder, StateView,
    StateWriter, VectorHandle,
};
pub use task::{
    Fitness, FitnessMeter, MeanScore, Registry, RewardSource, Task, TaskBuilder, TrainDefaults,
};
pub use vec_env::{EnvPosition, VecEnv};
