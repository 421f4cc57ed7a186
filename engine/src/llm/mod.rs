//! Talking to language models: the [`LlmClient`] trait and its backends.
//!
//! [`LlmClient`] is the reward designer seam: the search asks it for
//! completions and never knows who answers. Adding a backend is one file
//! here that implements the trait, its variant in [`Backend`] (name,
//! default model, how its cost reads) and one arm in [`build_client`]; the
//! command line and config files take the names from [`Backend`]. A Rust
//! caller can skip all three and hand its own client to
//! [`Search`](crate::search::Search)'s `designer`.
//!
//! - [`OpenAiClient`]: any OpenAI-compatible chat-completions endpoint (OpenAI,
//!   vLLM, Ollama, llama.cpp, LM Studio), with retries, time-outs, a concurrency
//!   limit and cost accounting.
//! - [`ReplayClient`]: answers from a recorded transcript, keyed by a hash of
//!   the request ([`request_key`]); a miss is an error.
//! - [`BuiltinDesigner`]: the offline designer, a seeded search baseline that
//!   writes and mutates Rhai reward programs without any language model.
//! - `ScriptedLlm`: canned answers, for tests of the loop.
//!
//! `ScriptedLlm` and `fake_server` (a fake OpenAI-compatible server) are test
//! support, built only with the `test-support` feature (and for this crate's
//! unit tests).
//!
//! [`RecordingClient`] wraps any of them and writes every call to a run's
//! `llm/` folder through a [`Recorder`], in the transcript format the replay
//! backend reads ([`CallRecord`]); [`build_client`] makes the configured one.
//!
//! The trait is blocking, because the engine loop is synchronous (rayon);
//! the OpenAI backend owns a small tokio runtime and also offers
//! [`OpenAiClient::complete_async`].
//!
//! # Example
//! ```
//! use rewardsmith::llm::{LlmClient, LlmRequest, Message, ScriptedLlm};
//!
//! let llm = ScriptedLlm::new(vec!["```rhai\nfn compute_reward(s, prev) { #{ a: 1.0 } }\n```".into()]);
//! let answer = llm.complete(&LlmRequest::new(vec![Message::user("write a reward")], 2)).unwrap();
//! assert_eq!(answer.completions.len(), 2);
//! assert_eq!(llm.totals().calls, 1);
//! ```

mod builtin;
mod config;
mod error;
#[cfg(any(test, feature = "test-support"))]
pub mod fake_server;
mod openai;
mod record;
mod replay;
#[cfg(any(test, feature = "test-support"))]
mod scripted;
mod transcript;
mod types;
pub mod vocabulary;

pub use builtin::BuiltinDesigner;
pub use config::{
    BUILTIN_MODEL, BUILTIN_PRICES, Backend, DEFAULT_OPENAI_MODEL, LlmConfig, OPENAI_BASE_URL, Price,
};
pub use error::LlmError;
pub use openai::{ApiKey, OpenAiClient};
pub use record::{Recorder, RecordingClient};
pub use replay::ReplayClient;
#[cfg(any(test, feature = "test-support"))]
pub use scripted::ScriptedLlm;
pub use transcript::{CallRecord, RecordedRequest, request_key};
pub use types::{
    BestProgram, Completion, ComponentSummary, DesignContext, DesignRole, FinishReason, LlmRequest,
    LlmResponse, Message, Role, StopReason, Usage, UsageTotals,
};

use std::path::Path;
use std::sync::Mutex;

/// A source of completions: chat messages in, K completions out.
///
/// Implementations are shared between threads and count their own usage.
pub trait LlmClient: Send + Sync {
    /// The backend's name: `openai`, `replay`, `builtin`, `scripted`.
    fn backend(&self) -> &'static str;

    /// The model answering (for records and replay keys).
    fn model(&self) -> &str;

    /// The temperature used when a request sets none.
    fn default_temperature(&self) -> f64;

    /// Answers one request with up to `request.n` completions.
    ///
    /// Blocks until done. Fewer than `n` completions come back only with
    /// [`LlmResponse::stopped`] set.
    ///
    /// # Errors
    /// An [`LlmError`] when no completion could be had.
    fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError>;

    /// Usage summed over every call so far.
    fn totals(&self) -> UsageTotals;
}

impl<T: LlmClient + ?Sized> LlmClient for Box<T> {
    fn backend(&self) -> &'static str {
        (**self).backend()
    }
    fn model(&self) -> &str {
        (**self).model()
    }
    fn default_temperature(&self) -> f64 {
        (**self).default_temperature()
    }
    fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        (**self).complete(request)
    }
    fn totals(&self) -> UsageTotals {
        (**self).totals()
    }
}

impl<T: LlmClient + ?Sized> LlmClient for std::sync::Arc<T> {
    fn backend(&self) -> &'static str {
        (**self).backend()
    }
    fn model(&self) -> &str {
        (**self).model()
    }
    fn default_temperature(&self) -> f64 {
        (**self).default_temperature()
    }
    fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        (**self).complete(request)
    }
    fn totals(&self) -> UsageTotals {
        (**self).totals()
    }
}

/// Makes the configured backend; `seed` fixes the offline designer's choices
/// and the retry jitter.
///
/// # Errors
/// [`LlmError::Config`] for an invalid configuration, the replay backend's
/// errors for an unreadable transcript.
pub fn build_client(config: &LlmConfig, seed: u64) -> Result<Box<dyn LlmClient>, LlmError> {
    config.validate()?;
    Ok(match config.resolved_backend() {
        Backend::Builtin => Box::new(BuiltinDesigner::new(seed)),
        Backend::Openai => Box::new(OpenAiClient::from_env(config, seed)?),
        Backend::Replay => {
            let path = config
                .replay
                .as_deref()
                .ok_or_else(|| LlmError::Config("the replay backend needs llm.replay".into()))?;
            Box::new(ReplayClient::open(
                path,
                config.model.as_deref(),
                config.temperature,
            )?)
        }
    })
}

/// [`build_client`], recording every call into `llm_dir` (a run's `llm/`).
///
/// # Errors
/// As [`build_client`], or when the folder cannot be created.
pub fn build_recorded_client(
    config: &LlmConfig,
    seed: u64,
    llm_dir: &Path,
) -> Result<RecordingClient<Box<dyn LlmClient>>, LlmError> {
    let inner = build_client(config, seed)?;
    Ok(RecordingClient::new(inner, Recorder::open(llm_dir)?))
}

/// A thread-safe [`UsageTotals`] accumulator shared by the backends.
#[derive(Debug, Default)]
pub(crate) struct Meter(Mutex<UsageTotals>);

impl Meter {
    pub(crate) fn add(&self, r: &LlmResponse) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .add(r);
    }

    pub(crate) fn get(&self) -> UsageTotals {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
