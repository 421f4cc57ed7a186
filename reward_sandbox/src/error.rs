//! Errors of the sandbox that are not the reward program's fault (reading files).
//!
//! A bad *program* is a [`RewardError`](rewardsmith_core::RewardError): data fed
//! back to its author. An [`Error`] is a problem of the caller's: a file that
//! cannot be read, an extension the sandbox does not know.

use std::path::PathBuf;

/// What can go wrong around a reward program, outside the program itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read reward program `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file's extension names no supported language.
    #[error(
        "cannot tell the language of reward program `{path}`: expected extension .rhai, .wasm or .wat"
    )]
    UnknownExtension {
        /// The file.
        path: PathBuf,
    },
    /// A `.rhai` or `.wat` file is not UTF-8 text.
    #[error("reward program `{path}` is not UTF-8 text")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
}

/// Result with the sandbox [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
