//! A scripted stand-in for a language model, for tests of the loop: it answers
//! every request with canned texts, in order, cycling.

use super::{
    Completion, FinishReason, LlmClient, LlmError, LlmRequest, LlmResponse, Meter, Usage,
    UsageTotals,
};
use std::sync::Mutex;

/// Answers with canned completions: the `i`-th completion handed out overall is
/// `texts[i % texts.len()]`.
#[derive(Debug)]
pub struct ScriptedLlm {
    texts: Vec<String>,
    next: Mutex<usize>,
    meter: Meter,
}

impl ScriptedLlm {
    /// A client that cycles through `texts` (an empty list answers empty texts).
    #[must_use]
    pub fn new(texts: Vec<String>) -> Self {
        Self {
            texts,
            next: Mutex::new(0),
            meter: Meter::default(),
        }
    }
}

impl LlmClient for ScriptedLlm {
    fn backend(&self) -> &'static str {
        "scripted"
    }

    fn model(&self) -> &str {
        "scripted"
    }

    fn default_temperature(&self) -> f64 {
        1.0
    }

    fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let completions = (0..request.n)
            .map(|_| {
                let text = if self.texts.is_empty() {
                    String::new()
                } else {
                    self.texts[*next % self.texts.len()].clone()
                };
                *next += 1;
                Completion {
                    text,
                    finish_reason: FinishReason::Stop,
                    usage: Usage::default(),
                }
            })
            .collect();
        let response = LlmResponse {
            completions,
            ..LlmResponse::default()
        };
        self.meter.add(&response);
        Ok(response)
    }

    fn totals(&self) -> UsageTotals {
        self.meter.get()
    }
}
