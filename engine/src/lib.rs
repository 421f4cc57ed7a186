//! rewardsmith: LLM-written reward functions, proven by training policies on them.
//!
//! This crate joins the others: the task registry (`rewardsmith-envs`), the reward
//! sandbox (`rewardsmith-sandbox`) and the trainer (`rewardsmith-rl`), behind the
//! `rewardsmith` command line. The library's entry points return its own
//! [`Error`]; the binary only parses arguments, and every command lives in
//! [`commands`] and returns a [`CliError`] carrying its exit code, mapped from
//! the kind of [`Error`].

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
mod user_file;

pub use commands::{CliError, ExitCode};
pub use error::{Error, Result};
