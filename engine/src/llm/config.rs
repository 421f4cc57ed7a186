//! The `[llm]` section of `rewardsmith.toml`: which backend, where, which model,
//! how patient, how expensive.
//!
//! ```toml
//! [llm]
//! backend = "openai"                 # builtin | openai | replay
//! base_url = "http://127.0.0.1:11434/v1"
//! model = "qwen2.5-coder:7b"
//! temperature = 1.0
//! api_key_env = "OPENAI_API_KEY"
//! max_cost_usd = 2.0
//! [llm.prices."gpt-4o-mini"]
//! prompt = 0.15                      # USD per 1M prompt tokens
//! completion = 0.60                  # USD per 1M completion tokens
//! ```

use super::error::LlmError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Which implementation answers LLM requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The offline designer: a seeded search baseline, no language model.
    Builtin,
    /// Any OpenAI-compatible chat-completions endpoint.
    Openai,
    /// Answers from a recorded transcript.
    Replay,
}

/// Everything the engine knows of a backend besides how it is built (that is
/// [`build_client`](super::build_client)'s match): its name, its default
/// model and how its cost reads. A new backend is a variant here and an arm
/// there.
impl Backend {
    /// Every backend, in the order messages and `--help` name them.
    pub const ALL: [Self; 3] = [Self::Builtin, Self::Openai, Self::Replay];

    /// The name used in config files, flags and records.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::Openai => "openai",
            Self::Replay => "replay",
        }
    }

    /// The backend called `name` (as in config files and `--llm`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == name)
    }

    /// Every backend's name for a message: `builtin, openai or replay`.
    #[must_use]
    pub fn names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|b| b.as_str()).collect();
        match names.split_last() {
            Some((last, [])) => (*last).to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// The model asked for when none is configured (`None`: the replayed
    /// transcript's).
    #[must_use]
    pub fn default_model(self) -> Option<&'static str> {
        match self {
            Self::Builtin => Some(BUILTIN_MODEL),
            Self::Openai => Some(DEFAULT_OPENAI_MODEL),
            Self::Replay => None,
        }
    }

    /// How the cost of a backend that calls no model reads (`None`: it calls
    /// one, and its price is counted).
    #[must_use]
    pub fn no_cost_text(self) -> Option<&'static str> {
        match self {
            Self::Builtin => Some("no cost (offline designer)"),
            Self::Replay => Some("no cost (replayed)"),
            Self::Openai => None,
        }
    }
}

/// Price of a model, in USD per million tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// USD per 1M prompt tokens.
    pub prompt: f64,
    /// USD per 1M completion tokens.
    pub completion: f64,
}

impl Price {
    /// The cost of `prompt` and `completion` tokens.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn cost(&self, prompt: u64, completion: u64) -> f64 {
        (prompt as f64 * self.prompt + completion as f64 * self.completion) / 1e6
    }
}

/// List prices of common hosted models, USD per 1M tokens (prompt,
/// completion), as published by OpenAI in mid-2025: a default that keeps
/// `--max-cost` meaningful. Prices change; `[llm.prices]` overrides any entry.
pub const BUILTIN_PRICES: [(&str, f64, f64); 7] = [
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
];

fn builtin_price(model: &str) -> Option<Price> {
    BUILTIN_PRICES
        .iter()
        .find(|(m, _, _)| *m == model)
        .map(|&(_, prompt, completion)| Price { prompt, completion })
}

/// The default OpenAI endpoint.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// The model asked for when none is configured for the `openai` backend.
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";
/// The model name the offline designer reports.
pub const BUILTIN_MODEL: &str = "offline-designer-v1";

/// Configuration of the LLM layer (the `[llm]` table of `rewardsmith.toml`).
///
/// Every field has a default, so an empty table (or none) is valid and selects
/// the offline designer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// Backend; when unset, `openai` if a `base_url` is configured, else
    /// `builtin` (so that a run works with no endpoint and no key).
    pub backend: Option<Backend>,
    /// Base URL of the OpenAI-compatible API, up to and including `/v1`.
    /// Default: `https://api.openai.com/v1` for the `openai` backend.
    pub base_url: Option<String>,
    /// Model name. Default: `gpt-4o-mini` for `openai`; the transcript's
    /// model for `replay`.
    pub model: Option<String>,
    /// Sampling temperature. Default 1.0, as in Eureka: diversity among the
    /// K samples matters more than the quality of any single one.
    pub temperature: f64,
    /// Name of the environment variable holding the API key (never the key
    /// itself). Default `OPENAI_API_KEY`. Unset variable: no `Authorization`
    /// header, which local servers (Ollama, vLLM, llama.cpp) accept.
    pub api_key_env: String,
    /// Seconds one HTTP request may take, reading the whole answer included.
    /// Default 300: a long reward program from a slow local model can take minutes.
    pub timeout_s: f64,
    /// Seconds to establish a connection. Default 10.
    pub connect_timeout_s: f64,
    /// Retries after the first attempt on 429, 5xx, time-outs, connection
    /// errors and malformed bodies. Default 5 (with the default back-off, about
    /// a minute of waiting in total).
    pub max_retries: u32,
    /// First back-off delay in milliseconds; doubles each retry, with jitter.
    /// Default 1000.
    pub backoff_initial_ms: u64,
    /// Longest back-off delay in milliseconds; a `Retry-After` longer than
    /// this ends the call with an error instead of stalling the run. Default 60000.
    pub backoff_max_ms: u64,
    /// Most HTTP requests in flight at once. Default 4: enough to sample K = 8
    /// quickly from servers that ignore `n`, without tripping rate limits.
    pub concurrency: usize,
    /// Maximum tokens per completion; unset lets the server decide.
    pub max_tokens: Option<u32>,
    /// Prices per model (USD per 1M tokens); the key `*` applies to models not
    /// listed. Default empty: costs count as 0, since prices change faster than
    /// releases.
    pub prices: BTreeMap<String, Price>,
    /// Stop sampling once this many USD were spent. Default: no limit.
    pub max_cost_usd: Option<f64>,
    /// Transcript for the `replay` backend: a run's `llm/` folder or a JSONL file.
    pub replay: Option<PathBuf>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            backend: None,
            base_url: None,
            model: None,
            temperature: 1.0,
            api_key_env: "OPENAI_API_KEY".to_string(),
            timeout_s: 300.0,
            connect_timeout_s: 10.0,
            max_retries: 5,
            backoff_initial_ms: 1000,
            backoff_max_ms: 60_000,
            concurrency: 4,
            max_tokens: None,
            prices: BTreeMap::new(),
            max_cost_usd: None,
            replay: None,
        }
    }
}

impl LlmConfig {
    /// The backend in force (see [`backend`](Self::backend)).
    #[must_use]
    pub fn resolved_backend(&self) -> Backend {
        self.backend.unwrap_or(if self.base_url.is_some() {
            Backend::Openai
        } else {
            Backend::Builtin
        })
    }

    /// The base URL in force, without a trailing slash.
    #[must_use]
    pub fn resolved_base_url(&self) -> String {
        self.base_url
            .as_deref()
            .unwrap_or(OPENAI_BASE_URL)
            .trim_end_matches('/')
            .to_string()
    }

    /// The model in force, when the config decides it (`replay` without a
    /// model takes the transcript's).
    #[must_use]
    pub fn resolved_model(&self) -> Option<String> {
        self.model
            .clone()
            .or_else(|| self.resolved_backend().default_model().map(str::to_string))
    }

    /// The price of `model`: its own `[llm.prices]` entry, else the built-in
    /// list price ([`BUILTIN_PRICES`]), else the `*` entry, else free.
    #[must_use]
    pub fn price(&self, model: &str) -> Price {
        self.known_price(model).unwrap_or_default()
    }

    /// The price of `model` when one is known (configured, built in, or `*`).
    #[must_use]
    pub fn known_price(&self, model: &str) -> Option<Price> {
        self.prices
            .get(model)
            .copied()
            .or_else(|| builtin_price(model))
            .or_else(|| self.prices.get("*").copied())
    }

    /// Whether the endpoint runs on this machine (a local server costs nothing).
    #[must_use]
    pub fn is_local_endpoint(&self) -> bool {
        let url = self.resolved_base_url();
        let host = url
            .split("://")
            .nth(1)
            .unwrap_or(&url)
            .split(['/', ':'])
            .next()
            .unwrap_or("");
        matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "0.0.0.0")
    }

    /// How a cost of `cost_usd` is shown: `$0.0123` for a model with a price,
    /// `no price (local)` for an endpoint on this machine, `no cost (offline
    /// designer)` / `no cost (replayed)` for the backends that call no model,
    /// and `no price known for MODEL` for a hosted model without one (a
    /// displayed `$0.00` would claim it was free).
    #[must_use]
    pub fn cost_text(&self, cost_usd: f64) -> String {
        if let Some(text) = self.resolved_backend().no_cost_text() {
            return text.to_string();
        }
        let model = self.resolved_model().unwrap_or_default();
        if self.known_price(&model).is_some() {
            format!("${cost_usd:.4}")
        } else if self.is_local_endpoint() {
            "no price (local)".to_string()
        } else {
            format!("no price known for `{model}` (set [llm.prices.\"{model}\"] to count it)")
        }
    }

    /// The cost limit can only be kept when the model's price is known: with
    /// `max_cost_usd` set for a hosted model without a price, every call would
    /// count as free and the limit would never be reached.
    ///
    /// # Errors
    /// [`LlmError::Config`] naming the key to set.
    pub fn check_cost_limit(&self) -> Result<(), LlmError> {
        if self.max_cost_usd.is_none()
            || self.resolved_backend() != Backend::Openai
            || self.is_local_endpoint()
        {
            return Ok(());
        }
        let model = self.resolved_model().unwrap_or_default();
        if self.known_price(&model).is_some() {
            return Ok(());
        }
        Err(LlmError::Config(format!(
            "--max-cost needs the price of model `{model}`, which rewardsmith does not know: set \
             [llm.prices.\"{model}\"] prompt = ..., completion = ... (USD per 1M tokens) in \
             rewardsmith.toml, or a [llm.prices.\"*\"] entry for every model"
        )))
    }

    /// The per-request time-out.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_s)
    }

    /// Checks every value.
    ///
    /// # Errors
    /// [`LlmError::Config`] naming the first bad field.
    pub fn validate(&self) -> Result<(), LlmError> {
        let bad = |m: String| Err(LlmError::Config(m));
        if !(0.0..=2.0).contains(&self.temperature) {
            return bad(format!(
                "llm.temperature must be in [0, 2], got {}",
                self.temperature
            ));
        }
        for (name, v) in [
            ("timeout_s", self.timeout_s),
            ("connect_timeout_s", self.connect_timeout_s),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
                return bad(format!("llm.{name} must be in (0, 86400] seconds, got {v}"));
            }
        }
        if self.concurrency == 0 || self.concurrency > 256 {
            return bad(format!(
                "llm.concurrency must be in 1..=256, got {}",
                self.concurrency
            ));
        }
        if self.backoff_initial_ms > self.backoff_max_ms {
            return bad(format!(
                "llm.backoff_initial_ms ({}) exceeds llm.backoff_max_ms ({})",
                self.backoff_initial_ms, self.backoff_max_ms
            ));
        }
        if self.max_retries > 100 {
            return bad(format!(
                "llm.max_retries must be at most 100, got {}",
                self.max_retries
            ));
        }
        if let Some(c) = self.max_cost_usd
            && !(c.is_finite() && c >= 0.0)
        {
            return bad(format!("llm.max_cost_usd must be >= 0, got {c}"));
        }
        for (model, p) in &self.prices {
            if !(p.prompt.is_finite()
                && p.prompt >= 0.0
                && p.completion.is_finite()
                && p.completion >= 0.0)
            {
                return bad(format!(
                    "llm.prices.\"{model}\" must be non-negative numbers"
                ));
            }
        }
        if self.api_key_env.is_empty()
            || !self
                .api_key_env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            // The value is not echoed: it may be a key pasted in the wrong place.
            return bad(
                "llm.api_key_env must be the name of an environment variable (letters, digits, _), not the key itself"
                    .to_string(),
            );
        }
        if let Some(url) = &self.base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return bad(format!(
                "llm.base_url must start with http:// or https://, got `{url}`"
            ));
        }
        if self.resolved_backend() == Backend::Replay && self.replay.is_none() {
            return bad(
                "the replay backend needs a transcript: set llm.replay (or --replay PATH)"
                    .to_string(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_named_in_one_place() {
        assert_eq!(Backend::names(), "builtin, openai or replay");
        for b in Backend::ALL {
            assert_eq!(Backend::from_name(b.as_str()), Some(b));
            assert_eq!(serde_json::to_value(b).unwrap(), b.as_str());
        }
        assert_eq!(Backend::from_name("gpt"), None);
    }

    #[test]
    fn defaults_select_the_offline_designer() {
        let c = LlmConfig::default();
        assert_eq!(c.resolved_backend(), Backend::Builtin);
        assert!(c.validate().is_ok());
        let c = LlmConfig {
            base_url: Some("http://127.0.0.1:8000/v1/".into()),
            ..LlmConfig::default()
        };
        assert_eq!(c.resolved_backend(), Backend::Openai);
        assert_eq!(c.resolved_base_url(), "http://127.0.0.1:8000/v1");
        assert_eq!(c.resolved_model().as_deref(), Some(DEFAULT_OPENAI_MODEL));
    }

    #[test]
    fn price_falls_back_to_star_then_zero() {
        let mut c = LlmConfig::default();
        assert_eq!(c.price("m").cost(1_000_000, 1_000_000), 0.0);
        c.prices.insert(
            "*".into(),
            Price {
                prompt: 1.0,
                completion: 2.0,
            },
        );
        c.prices.insert(
            "m".into(),
            Price {
                prompt: 0.5,
                completion: 1.5,
            },
        );
        assert!((c.price("m").cost(2_000_000, 1_000_000) - 2.5).abs() < 1e-12);
        assert!((c.price("x").cost(1_000_000, 0) - 1.0).abs() < 1e-12);
        // A built-in list price comes before `*`, a configured one before both.
        assert!((c.price("gpt-4o-mini").cost(1_000_000, 1_000_000) - 0.75).abs() < 1e-12);
        c.prices.insert(
            "gpt-4o-mini".into(),
            Price {
                prompt: 9.0,
                completion: 0.0,
            },
        );
        assert!((c.price("gpt-4o-mini").cost(1_000_000, 0) - 9.0).abs() < 1e-12);
    }

    #[test]
    fn costs_without_a_price_are_not_shown_as_zero_dollars() {
        let mut c = LlmConfig {
            backend: Some(Backend::Openai),
            base_url: Some("http://localhost:8080/v1".into()),
            model: Some("my-local-model".into()),
            ..LlmConfig::default()
        };
        assert_eq!(c.cost_text(0.0), "no price (local)");
        c.base_url = Some("https://api.example.com/v1".into());
        assert!(
            c.cost_text(0.0)
                .starts_with("no price known for `my-local-model`")
        );
        c.model = Some("gpt-4o-mini".into());
        assert_eq!(c.cost_text(0.01234), "$0.0123");
        c.backend = Some(Backend::Builtin);
        assert_eq!(c.cost_text(0.0), "no cost (offline designer)");
    }

    #[test]
    fn a_cost_limit_needs_a_known_price_for_hosted_models() {
        let mut c = LlmConfig {
            backend: Some(Backend::Openai),
            model: Some("some-new-model".into()),
            max_cost_usd: Some(1.0),
            ..LlmConfig::default()
        };
        let err = c.check_cost_limit().unwrap_err().to_string();
        assert!(err.contains("[llm.prices.\"some-new-model\"]"), "{err}");
        // Known prices, local servers and no limit are fine.
        c.model = Some("gpt-4o".into());
        assert!(c.check_cost_limit().is_ok());
        c.model = Some("some-new-model".into());
        c.base_url = Some("http://127.0.0.1:11434/v1".into());
        assert!(c.is_local_endpoint() && c.check_cost_limit().is_ok());
        c.base_url = None;
        c.max_cost_usd = None;
        assert!(c.check_cost_limit().is_ok());
    }

    #[test]
    fn bad_values_are_named() {
        let c = LlmConfig {
            temperature: 3.0,
            ..LlmConfig::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("llm.temperature")
        );
        let c = LlmConfig {
            backend: Some(Backend::Replay),
            ..LlmConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("llm.replay"));
    }
}
