//! Command errors and the documented exit codes.

use std::fmt;

/// The process exit codes of every command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// The command did what was asked.
    Success = 0,
    /// The thing checked or run failed (e.g. a reward program is unusable).
    Failure = 1,
    /// Usage or input error: unknown task, bad flag, bad file, bad config.
    Usage = 2,
}

/// An error a command reports to the user, with the exit code it implies.
#[derive(Debug)]
pub struct CliError {
    /// What the process should exit with.
    pub code: ExitCode,
    /// The message, saying what went wrong and what to do.
    pub error: anyhow::Error,
}

impl CliError {
    /// A usage or input error (exit code 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: ExitCode::Usage,
            error: error.into(),
        }
    }

    /// A failure of the thing run or checked (exit code 1).
    pub fn failure(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: ExitCode::Failure,
            error: error.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl From<rewardsmith_core::Error> for CliError {
    fn from(e: rewardsmith_core::Error) -> Self {
        Self::usage(e)
    }
}
