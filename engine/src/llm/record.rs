//! The record of every LLM call: one JSON file per call in a run's `llm/`
//! folder (`0000.json`, `0001.json`, …), written atomically (temporary file,
//! then rename), holding the request, the response or error, the usage and the
//! replay key. API keys never reach these files: requests carry none, and
//! errors never quote one.

use super::transcript::{self, CallRecord, RecordedRequest, request_key};
use super::{LlmClient, LlmError, LlmRequest, LlmResponse, UsageTotals};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Writes [`CallRecord`]s into a folder, numbering them after any already there
/// (so a resumed run appends).
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    next: Mutex<u64>,
}

impl Recorder {
    /// Opens (creating it if needed) the folder `dir`.
    ///
    /// # Errors
    /// [`LlmError::Io`] when the folder cannot be created or listed.
    pub fn open(dir: &Path) -> Result<Self, LlmError> {
        std::fs::create_dir_all(dir).map_err(|e| LlmError::io(dir, e))?;
        let next = transcript::record_files(dir)?
            .iter()
            .filter_map(|(i, _)| i.checked_add(1))
            .max()
            .unwrap_or(0);
        Ok(Self {
            dir: dir.to_path_buf(),
            next: Mutex::new(next),
        })
    }

    /// The folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one call, giving it the next index; returns its path.
    ///
    /// # Errors
    /// [`LlmError::Io`] when the file cannot be written.
    pub fn record(&self, mut record: CallRecord) -> Result<PathBuf, LlmError> {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        record.index = *next;
        let name = format!("{:04}.json", record.index);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let text = serde_json::to_string_pretty(&record)
            .map_err(|e| LlmError::io(&path, std::io::Error::other(e)))?;
        std::fs::write(&tmp, text + "\n").map_err(|e| LlmError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| LlmError::io(&path, e))?;
        *next += 1;
        Ok(path)
    }

    /// Every record in `dir`, in index order.
    ///
    /// # Errors
    /// [`LlmError::Io`] when the folder cannot be read, [`LlmError::Transcript`]
    /// naming the first file that is not a call record.
    pub fn read_dir(dir: &Path) -> Result<Vec<CallRecord>, LlmError> {
        transcript::read_dir(dir)
    }

    /// Usage summed over the records in `dir` (e.g. to restore a resumed run's
    /// totals).
    ///
    /// # Errors
    /// As [`read_dir`](Self::read_dir).
    pub fn totals(dir: &Path) -> Result<UsageTotals, LlmError> {
        let mut t = UsageTotals::default();
        for r in Self::read_dir(dir)? {
            match &r.response {
                Some(resp) => t.add(resp),
                None => t.calls += 1,
            }
        }
        Ok(t)
    }

    /// Writes the records of `dir` as one JSONL transcript (one record a line),
    /// the portable form the replay backend also reads.
    ///
    /// # Errors
    /// As [`read_dir`](Self::read_dir), or [`LlmError::Io`] on writing.
    pub fn export_jsonl(dir: &Path, out: &Path) -> Result<usize, LlmError> {
        let records = Self::read_dir(dir)?;
        let mut text = String::new();
        for r in &records {
            let line = serde_json::to_string(r)
                .map_err(|e| LlmError::io(out, std::io::Error::other(e)))?;
            text.push_str(&line);
            text.push('\n');
        }
        let tmp = out.with_extension("jsonl.tmp");
        std::fs::write(&tmp, text).map_err(|e| LlmError::io(&tmp, e))?;
        std::fs::rename(&tmp, out).map_err(|e| LlmError::io(out, e))?;
        Ok(records.len())
    }
}

/// Wraps a client and records each of its calls.
#[derive(Debug)]
pub struct RecordingClient<C> {
    inner: C,
    recorder: Recorder,
}

impl<C: LlmClient> RecordingClient<C> {
    /// Records the calls of `inner` with `recorder`.
    pub fn new(inner: C, recorder: Recorder) -> Self {
        Self { inner, recorder }
    }

    /// The wrapped client.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// The recorder.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }
}

impl<C: LlmClient> LlmClient for RecordingClient<C> {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    fn default_temperature(&self) -> f64 {
        self.inner.default_temperature()
    }

    fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let temperature = request
            .temperature
            .unwrap_or_else(|| self.inner.default_temperature());
        let model = self.inner.model().to_string();
        let hash = request_key(&model, &request.messages, request.n, temperature);
        let start = Instant::now();
        let result = self.inner.complete(request);
        let record = CallRecord {
            index: 0,
            hash,
            backend: self.inner.backend().to_string(),
            request: RecordedRequest {
                model,
                messages: request.messages.clone(),
                n: request.n,
                temperature,
            },
            response: result.as_ref().ok().cloned(),
            error: result.as_ref().err().map(ToString::to_string),
            elapsed_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        self.recorder.record(record)?;
        result
    }

    fn totals(&self) -> UsageTotals {
        self.inner.totals()
    }
}
