//! rewardsmith: LLM-written reward functions, proven by training policies on them.
//!
//! This crate joins the others: the task registry (`rewardsmith-envs`), the reward
//! sandbox (`rewardsmith-sandbox`) and the trainer (`rewardsmith-rl`), behind the
//! `rewardsmith` command line. The binary only parses arguments; every command
//! lives in [`commands`] and returns a typed [`CliError`] carrying its exit code.

pub mod cli;
pub mod commands;
mod error;
pub mod events;
pub mod extract;
pub mod feedback;
pub mod llm;
pub mod progress;
pub mod prompts;
pub mod render;
pub mod search;
pub mod training;

pub use error::{CliError, ExitCode};
