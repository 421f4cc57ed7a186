//! The replay backend: answers from a recorded transcript, so that a run can be
//! repeated exactly and at no cost.
//!
//! A request is found by its key ([`request_key`]: a SHA-256 of the model, the
//! messages, `n` and the temperature; never the designer's side channel). The
//! same request recorded several times is answered in recorded order. A
//! request that was not recorded is an error naming it; there is no fallback.

use super::transcript::{self, CallRecord, request_key};
use super::{LlmClient, LlmError, LlmRequest, LlmResponse, Meter, UsageTotals};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Answers from a transcript: a run's `llm/` folder or a JSONL file of
/// [`CallRecord`]s.
#[derive(Debug)]
pub struct ReplayClient {
    source: PathBuf,
    model: String,
    temperature: f64,
    backend_recorded: String,
    answers: Mutex<HashMap<String, VecDeque<CallRecord>>>,
    recorded: HashMap<String, usize>,
    meter: Meter,
}

impl ReplayClient {
    /// Loads the transcript at `path`. `model` names the model to replay; when
    /// `None`, the transcript's only model. `temperature` applies to requests
    /// that set none (use the recorded run's).
    ///
    /// # Errors
    /// [`LlmError::Io`] or [`LlmError::Transcript`] for an unreadable or
    /// malformed transcript, [`LlmError::Config`] when the model is ambiguous.
    pub fn open(path: &Path, model: Option<&str>, temperature: f64) -> Result<Self, LlmError> {
        let records = if path.is_dir() {
            transcript::read_dir(path)?
        } else {
            transcript::read_jsonl(path)?
        };
        Self::from_records(path, records, model, temperature)
    }

    /// A client answering from `records` (`source` names them in errors).
    ///
    /// # Errors
    /// [`LlmError::Transcript`] for an empty transcript, [`LlmError::Config`]
    /// when the model is ambiguous.
    pub fn from_records(
        source: &Path,
        records: Vec<CallRecord>,
        model: Option<&str>,
        temperature: f64,
    ) -> Result<Self, LlmError> {
        if records.is_empty() {
            return Err(LlmError::Transcript {
                path: source.to_path_buf(),
                message: "the transcript holds no call".to_string(),
            });
        }
        let model = match model {
            Some(m) => m.to_string(),
            None => {
                let mut models: Vec<&str> =
                    records.iter().map(|r| r.request.model.as_str()).collect();
                models.sort_unstable();
                models.dedup();
                if models.len() > 1 {
                    return Err(LlmError::Config(format!(
                        "the transcript {} holds answers of several models ({}); choose one with --model",
                        source.display(),
                        models.join(", ")
                    )));
                }
                models[0].to_string()
            }
        };
        let backend_recorded = records[0].backend.clone();
        let mut answers: HashMap<String, VecDeque<CallRecord>> = HashMap::new();
        for r in records {
            answers.entry(r.hash.clone()).or_default().push_back(r);
        }
        let recorded = answers.iter().map(|(k, v)| (k.clone(), v.len())).collect();
        Ok(Self {
            source: source.to_path_buf(),
            model,
            temperature,
            backend_recorded,
            answers: Mutex::new(answers),
            recorded,
            meter: Meter::default(),
        })
    }

    /// The backend that made the recording.
    #[must_use]
    pub fn recorded_backend(&self) -> &str {
        &self.backend_recorded
    }

    /// Recorded answers not yet replayed.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(VecDeque::len)
            .sum()
    }
}

impl LlmClient for ReplayClient {
    fn backend(&self) -> &'static str {
        "replay"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn default_temperature(&self) -> f64 {
        self.temperature
    }

    fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let temperature = request.temperature.unwrap_or(self.temperature);
        let hash = request_key(&self.model, &request.messages, request.n, temperature);
        let record = self
            .answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&hash)
            .and_then(VecDeque::pop_front);
        let Some(record) = record else {
            return Err(match self.recorded.get(&hash) {
                Some(&recorded) => LlmError::ReplayExhausted {
                    hash,
                    summary: request.summary(),
                    recorded,
                },
                None => LlmError::ReplayMiss {
                    hash,
                    model: self.model.clone(),
                    summary: request.summary(),
                    source_path: self.source.clone(),
                },
            });
        };
        match (record.response, record.error) {
            (Some(response), _) => {
                self.meter.add(&response);
                Ok(response)
            }
            (None, Some(error)) => Err(LlmError::Replayed(error)),
            (None, None) => Err(LlmError::Replayed(format!(
                "call {} was recorded with neither a response nor an error",
                record.index
            ))),
        }
    }

    fn totals(&self) -> UsageTotals {
        self.meter.get()
    }
}
