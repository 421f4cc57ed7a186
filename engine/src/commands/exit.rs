//! The CLI's errors: [`CliError`] carries the [`ExitCode`] a failure implies;
//! the library's [`Error`](crate::Error) maps to one by its kind.

use crate::Error;
use crate::training::TrainError;
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
    /// The error and its causes joined by `: `, like anyhow's `{:#}`, but a
    /// cause that its parent's message already ends with is not repeated
    /// (errors such as `cannot read … : {source}` that also return the
    /// source would otherwise print the OS error twice).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        for cause in self.error.chain() {
            let message = cause.to_string();
            if text.is_empty() {
                text = message;
            } else if !message.is_empty() && !text.ends_with(&message) {
                text.push_str(": ");
                text.push_str(&message);
            }
        }
        f.write_str(&text)
    }
}

impl From<rewardsmith_core::Error> for CliError {
    fn from(e: rewardsmith_core::Error) -> Self {
        Self::usage(e)
    }
}

impl From<Error> for CliError {
    /// The exit code each kind of library error implies: what the user gave
    /// (settings, files, the task's name, the person's answers, the run
    /// folder) is a usage error; what failed while running is a failure.
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Input(_) | Error::Task(_) | Error::Feedback(_) | Error::RunFolder(_) => {
                ExitCode::Usage
            }
            Error::Train(TrainError::Settings(_)) => ExitCode::Usage,
            Error::Train(_) | Error::Llm(_) | Error::Other(_) => ExitCode::Failure,
        };
        Self {
            code,
            error: e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn a_repeated_cause_prints_once() {
        let io = io::Error::new(io::ErrorKind::NotFound, "gone");
        let e = anyhow::Error::new(io).context("cannot read x: gone");
        assert_eq!(CliError::usage(e).to_string(), "cannot read x: gone");
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(CliError::usage(e).to_string(), "outer: inner");
    }

    #[test]
    fn library_errors_keep_their_chain_and_map_by_kind() {
        let chain = anyhow::anyhow!("inner").context("outer");
        let e = CliError::from(Error::RunFolder(chain));
        assert_eq!(e.code, ExitCode::Usage);
        assert_eq!(e.to_string(), "outer: inner");
        let e = CliError::from(Error::Other(anyhow::anyhow!("disk full")));
        assert_eq!(
            (e.code, e.to_string().as_str()),
            (ExitCode::Failure, "disk full")
        );
    }
}
