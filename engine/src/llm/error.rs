//! The one error type of the LLM layer.

use std::path::PathBuf;

/// What can go wrong when asking a language model (or its stand-ins).
///
/// Messages never contain an API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The LLM configuration is invalid.
    #[error("invalid LLM configuration: {0}")]
    Config(String),
    /// The server rejected the credentials (HTTP 401/403); never retried.
    #[error(
        "the server at {url} refused the request (HTTP {status}): {message}. \
         Check the API key in the environment variable `{env_var}` and the model name"
    )]
    Auth {
        /// The HTTP status.
        status: u16,
        /// The endpoint.
        url: String,
        /// The server's message.
        message: String,
        /// The environment variable the key was read from.
        env_var: String,
    },
    /// The server rejected the request for a reason retrying cannot fix
    /// (HTTP 400, 404, 422, …).
    #[error("the server at {url} rejected the request (HTTP {status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The endpoint.
        url: String,
        /// The server's message.
        message: String,
    },
    /// Every attempt failed with a retryable error (429, 5xx, time-out,
    /// connection error, malformed body).
    #[error("the LLM request to {url} failed {attempts} times; last error: {last}")]
    RetriesExhausted {
        /// The endpoint.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        last: String,
    },
    /// The server asked to wait longer than the configured maximum back-off.
    #[error(
        "the server at {url} asks to retry after {retry_after_s} s, more than the {max_s} s allowed"
    )]
    RetryAfterTooLong {
        /// The endpoint.
        url: String,
        /// What the server asked for.
        retry_after_s: f64,
        /// The configured maximum.
        max_s: f64,
    },
    /// The configured `max_cost_usd` was reached before any completion came back.
    #[error("LLM cost limit reached: spent ${spent_usd:.4} of ${limit_usd:.4}")]
    CostLimit {
        /// USD spent so far.
        spent_usd: f64,
        /// The limit.
        limit_usd: f64,
    },
    /// The replay transcript has no answer for this request.
    #[error(
        "replay: no recorded answer for request {hash} (model `{model}`, last message: \"{summary}\") in {source_path}"
    )]
    ReplayMiss {
        /// The request's key.
        hash: String,
        /// The model the key was computed for.
        model: String,
        /// The first line of the request's last message.
        summary: String,
        /// The transcript.
        source_path: PathBuf,
    },
    /// The request was recorded, but asked for more often than it was recorded.
    #[error(
        "replay: request {hash} (last message: \"{summary}\") was recorded {recorded} time(s) and is asked for again"
    )]
    ReplayExhausted {
        /// The request's key.
        hash: String,
        /// The first line of the request's last message.
        summary: String,
        /// Times recorded.
        recorded: usize,
    },
    /// A recorded call that failed, failing again on replay.
    #[error("replay: the recorded call failed: {0}")]
    Replayed(String),
    /// A transcript file could not be understood.
    #[error("replay transcript {path}: {message}")]
    Transcript {
        /// The file.
        path: PathBuf,
        /// What is wrong, with a line number for JSONL.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A blocking call was made from inside a tokio runtime.
    #[error(
        "LlmClient::complete blocks and cannot run inside a tokio runtime; call it from a plain thread"
    )]
    InsideRuntime,
    /// The offline designer could not write a program for this task.
    #[error("offline designer: {0}")]
    Designer(String),
}

impl LlmError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
