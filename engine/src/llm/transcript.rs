//! The on-disk transcript of LLM calls, shared by the recorder and the replay
//! backend: a [`CallRecord`] per call (the request, the response or error, and
//! the replay key), stored one JSON file per call in a run's `llm/` folder
//! (`0000.json`, `0001.json`, …) or one record a line in a JSONL file.
//!
//! A request is identified by [`request_key`]: a SHA-256 of the model, the
//! messages, `n` and the temperature. Changing its canonical form changes every
//! key, so recorded runs would no longer replay.

use super::{LlmError, LlmResponse, Message};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The replay key of a request: the SHA-256 (hex) of a canonical JSON form of
/// `{model, messages, n, temperature}`.
#[must_use]
pub fn request_key(model: &str, messages: &[Message], n: usize, temperature: f64) -> String {
    let canonical = serde_json::json!({
        "model": model,
        "messages": messages
            .iter()
            .map(|m| serde_json::json!([m.role.as_str(), m.content]))
            .collect::<Vec<_>>(),
        "n": n,
        "temperature": temperature,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// The part of a request that decides its answer (and its replay key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// The model asked.
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Completions asked for.
    pub n: usize,
    /// Sampling temperature in force.
    pub temperature: f64,
}

/// One recorded call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Position in the run, from 0.
    pub index: u64,
    /// The replay key ([`request_key`]).
    pub hash: String,
    /// The backend that answered.
    pub backend: String,
    /// The request.
    pub request: RecordedRequest,
    /// The response, when the call succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<LlmResponse>,
    /// The error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall-clock milliseconds the call took.
    pub elapsed_ms: u64,
}

/// Every record in `dir`, in index order.
///
/// # Errors
/// [`LlmError::Io`] when the folder cannot be read, [`LlmError::Transcript`]
/// naming the first file that is not a call record.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<CallRecord>, LlmError> {
    let mut out = Vec::new();
    for (_, path) in record_files(dir)? {
        let text = std::fs::read_to_string(&path).map_err(|e| LlmError::io(&path, e))?;
        let record: CallRecord = serde_json::from_str(&text).map_err(|e| LlmError::Transcript {
            path: path.clone(),
            message: format!("not a call record: {e}"),
        })?;
        out.push(record);
    }
    Ok(out)
}

/// Every record of the JSONL transcript at `path`, in file order.
///
/// # Errors
/// [`LlmError::Io`] when the file cannot be read, [`LlmError::Transcript`]
/// naming the first line that is not a call record.
pub(crate) fn read_jsonl(path: &Path) -> Result<Vec<CallRecord>, LlmError> {
    let text = std::fs::read_to_string(path).map_err(|e| LlmError::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: CallRecord = serde_json::from_str(line).map_err(|e| LlmError::Transcript {
            path: path.to_path_buf(),
            message: format!("line {}: not a call record: {e}", i + 1),
        })?;
        out.push(record);
    }
    Ok(out)
}

/// `(index, path)` of every `NNNN.json` in `dir`, sorted by index.
pub(crate) fn record_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, LlmError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| LlmError::io(dir, e))? {
        let entry = entry.map_err(|e| LlmError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(i) = stem.parse::<u64>() {
            files.push((i, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}
