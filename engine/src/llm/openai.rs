//! The OpenAI-compatible backend: `POST {base_url}/chat/completions`.
//!
//! Written on reqwest directly rather than async-openai: the fault handling this
//! backend promises needs the raw response (status, the `Retry-After` header, a
//! body that may be truncated or not JSON at all) and full control of retries,
//! whereas async-openai decodes inside its own retry middleware and would
//! retry, decode or give up on its own terms; it also brings a much larger
//! dependency tree. The wire format is small and stable, so it is spelled out
//! here with serde.
//!
//! Behaviour:
//! - K samples are asked for with `n`; a server that returns fewer choices
//!   (many ignore `n`) is topped up with parallel `n = 1` requests, and is
//!   remembered as ignoring `n` for later calls.
//! - At most `concurrency` requests are in flight at once (across calls).
//! - 429, 5xx, 408, time-outs, connection errors, truncated or non-JSON bodies
//!   and empty `choices` are retried with exponential back-off and seeded
//!   jitter, honouring `Retry-After`; 401/403 end the call at once, as do other
//!   4xx answers.
//! - Token usage and cost are summed per call and over the client's life;
//!   `max_cost_usd` stops sampling once reached.

use super::config::{LlmConfig, Price};
use super::{
    Completion, FinishReason, LlmClient, LlmError, LlmRequest, LlmResponse, Meter, StopReason,
    Usage, UsageTotals,
};
use rewardsmith_core::SplitMix64;
use serde::Deserialize;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Semaphore;

/// An API key. Its `Debug` form is redacted and it cannot be serialised, so it
/// does not end up in logs, records or configuration files by accident.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    #[must_use]
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key in the environment variable `var`, if set and not empty.
    #[must_use]
    pub fn from_env(var: &str) -> Option<Self> {
        std::env::var(var)
            .ok()
            .filter(|k| !k.trim().is_empty())
            .map(|k| Self(k.trim().to_string()))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// A client for any OpenAI-compatible chat-completions endpoint.
pub struct OpenAiClient {
    inner: Arc<Inner>,
    runtime: tokio::runtime::Runtime,
}

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("url", &self.inner.url)
            .field("model", &self.inner.model)
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    url: String,
    model: String,
    temperature: f64,
    max_tokens: Option<u32>,
    key: Option<ApiKey>,
    key_env: String,
    timeout: Duration,
    max_retries: u32,
    backoff_initial: Duration,
    backoff_max: Duration,
    permits: Semaphore,
    price: Price,
    max_cost: Option<f64>,
    spent: Mutex<f64>,
    supports_n: AtomicBool,
    rng: Mutex<SplitMix64>,
    meter: Meter,
}

/// One successful HTTP exchange.
struct Answer {
    choices: Vec<(String, FinishReason)>,
    usage: Usage,
}

/// Why one attempt failed.
enum Failure {
    /// Worth another attempt; `retry_after` is the server's `Retry-After`.
    Retry {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Not worth another attempt.
    Fatal(LlmError),
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl OpenAiClient {
    /// A client configured by `config`, with the API key read from the
    /// environment variable it names; `seed` fixes the retry jitter.
    ///
    /// # Errors
    /// [`LlmError::Config`] for an invalid configuration, or when the endpoint
    /// is OpenAI's own and no key is set.
    pub fn from_env(config: &LlmConfig, seed: u64) -> Result<Self, LlmError> {
        let key = ApiKey::from_env(&config.api_key_env);
        if key.is_none() && config.resolved_base_url().contains("api.openai.com") {
            return Err(LlmError::Config(format!(
                "no API key: set the environment variable `{}` (or llm.api_key_env to the variable holding it)",
                config.api_key_env
            )));
        }
        Self::new(config, key, seed)
    }

    /// A client configured by `config` with an explicit key (`None`: no
    /// `Authorization` header).
    ///
    /// # Errors
    /// [`LlmError::Config`] for an invalid configuration or when the HTTP
    /// client or its runtime cannot be built.
    pub fn new(config: &LlmConfig, key: Option<ApiKey>, seed: u64) -> Result<Self, LlmError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout())
            .connect_timeout(Duration::from_secs_f64(config.connect_timeout_s))
            .build()
            .map_err(|e| LlmError::Config(format!("cannot build the HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LlmError::Config(format!("cannot start the async runtime: {e}")))?;
        let model = config
            .resolved_model()
            .unwrap_or_else(|| super::DEFAULT_OPENAI_MODEL.to_string());
        let inner = Inner {
            http,
            url: format!("{}/chat/completions", config.resolved_base_url()),
            price: config.price(&model),
            model,
            temperature: config.temperature,
            max_tokens: config.max_tokens,
            key,
            key_env: config.api_key_env.clone(),
            timeout: config.timeout(),
            max_retries: config.max_retries,
            backoff_initial: Duration::from_millis(config.backoff_initial_ms),
            backoff_max: Duration::from_millis(config.backoff_max_ms),
            permits: Semaphore::new(config.concurrency),
            max_cost: config.max_cost_usd,
            spent: Mutex::new(0.0),
            supports_n: AtomicBool::new(true),
            rng: Mutex::new(SplitMix64::new(seed ^ 0x6A69_7474_6572)),
            meter: Meter::default(),
        };
        Ok(Self {
            inner: Arc::new(inner),
            runtime,
        })
    }

    /// The endpoint requests go to.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Counts `usd` as already spent (e.g. by the earlier part of a resumed
    /// run), so that `max_cost_usd` covers the whole run.
    pub fn add_spent(&self, usd: f64) {
        *self
            .inner
            .spent
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += usd;
    }

    /// Whether the server is believed to honour `n` (until it returns fewer
    /// choices than asked for).
    #[must_use]
    pub fn supports_n(&self) -> bool {
        self.inner.supports_n.load(Ordering::Relaxed)
    }

    /// The asynchronous form of [`LlmClient::complete`], for callers that run
    /// their own tokio runtime.
    ///
    /// # Errors
    /// As [`LlmClient::complete`].
    pub async fn complete_async(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        Inner::complete(&self.inner, request).await
    }
}

impl Inner {
    fn spent(&self) -> f64 {
        *self.spent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn over_budget(&self) -> Option<(f64, f64)> {
        let limit = self.max_cost?;
        let spent = self.spent();
        (spent >= limit).then_some((spent, limit))
    }

    async fn complete(this: &Arc<Self>, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        if let Some((spent_usd, limit_usd)) = this.over_budget() {
            return Err(LlmError::CostLimit {
                spent_usd,
                limit_usd,
            });
        }
        let want = request.n;
        let temperature = request.temperature.unwrap_or(this.temperature);
        let body = Arc::new(this.body_prefix(request, temperature));
        let mut response = LlmResponse::default();
        let mut first = true;
        while response.completions.len() < want {
            let need = want - response.completions.len();
            if this.over_budget().is_some() {
                response.stopped = Some(StopReason::CostLimit);
                break;
            }
            let batch: Vec<usize> = if first && this.supports_n.load(Ordering::Relaxed) {
                vec![need]
            } else {
                vec![1; need]
            };
            let results = match Self::round(this, &body, &batch).await {
                Ok(results) => results,
                Err(e) => {
                    // What earlier rounds bought still counts in the totals.
                    this.meter.add(&response);
                    return Err(e);
                }
            };
            let got = this.take_answers(&mut response, results, want);
            if first && batch.len() == 1 && need > 1 && got < need && got > 0 {
                tracing::info!(
                    url = %this.url,
                    asked = need,
                    got,
                    "the server ignores `n`; topping up with parallel requests"
                );
                this.supports_n.store(false, Ordering::Relaxed);
            }
            if got == 0 {
                // Every request of the round was skipped by the cost limit.
                if response.completions.is_empty()
                    && let Some((spent_usd, limit_usd)) = this.over_budget()
                {
                    return Err(LlmError::CostLimit {
                        spent_usd,
                        limit_usd,
                    });
                }
                response.stopped = Some(StopReason::CostLimit);
                break;
            }
            first = false;
        }
        if response.completions.is_empty()
            && want > 0
            && let Some((spent_usd, limit_usd)) = this.over_budget()
        {
            return Err(LlmError::CostLimit {
                spent_usd,
                limit_usd,
            });
        }
        this.meter.add(&response);
        Ok(response)
    }

    /// Sends one round of requests at once, `batch[i]` completions asked of
    /// the `i`-th; the first error stops the others.
    async fn round(
        this: &Arc<Self>,
        body: &Arc<serde_json::Map<String, serde_json::Value>>,
        batch: &[usize],
    ) -> Result<Vec<Option<Answer>>, LlmError> {
        let mut set = tokio::task::JoinSet::new();
        for (i, n) in batch.iter().copied().enumerate() {
            let this = Arc::clone(this);
            let body = Arc::clone(body);
            set.spawn(async move { (i, this.request_with_retries(&body, n).await) });
        }
        let mut results: Vec<Option<Answer>> = (0..batch.len()).map(|_| None).collect();
        let mut error = None;
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, Ok(answer))) => results[i] = answer,
                Ok((_, Err(e))) => {
                    if error.is_none() {
                        error = Some(e);
                        set.abort_all();
                    }
                }
                Err(e) if e.is_cancelled() => {}
                Err(e) => {
                    error.get_or_insert(LlmError::Config(format!("request task failed: {e}")));
                }
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(results),
        }
    }

    /// Adds a round's answers to `response` (usage, cost, completions up to
    /// `want`); returns how many completions the round brought.
    fn take_answers(
        &self,
        response: &mut LlmResponse,
        results: Vec<Option<Answer>>,
        want: usize,
    ) -> usize {
        let mut got = 0;
        for answer in results.into_iter().flatten() {
            response.requests += 1;
            response.usage += answer.usage;
            response.cost_usd += self
                .price
                .cost(answer.usage.prompt_tokens, answer.usage.completion_tokens);
            got += answer.choices.len();
            let share = split(answer.usage, answer.choices.len());
            for ((text, finish_reason), usage) in answer.choices.into_iter().zip(share) {
                if response.completions.len() < want {
                    response.completions.push(Completion {
                        text,
                        finish_reason,
                        usage,
                    });
                }
            }
        }
        got
    }

    /// The request body without `n` (added per request).
    fn body_prefix(
        &self,
        request: &LlmRequest,
        temperature: f64,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut body = serde_json::Map::new();
        body.insert("model".into(), self.model.clone().into());
        let messages: Vec<serde_json::Value> = request
            .messages
            .iter()
            .map(|m| serde_json::json!({ "role": m.role.as_str(), "content": m.content }))
            .collect();
        body.insert("messages".into(), messages.into());
        body.insert("temperature".into(), temperature.into());
        if let Some(t) = self.max_tokens {
            body.insert("max_tokens".into(), t.into());
        }
        body.insert("stream".into(), false.into());
        body
    }

    /// One logical request (`n` choices), retried on transient failures.
    /// `Ok(None)`: skipped because the cost limit was reached.
    async fn request_with_retries(
        &self,
        prefix: &serde_json::Map<String, serde_json::Value>,
        n: usize,
    ) -> Result<Option<Answer>, LlmError> {
        let mut body = prefix.clone();
        if n > 1 {
            body.insert("n".into(), n.into());
        }
        let body = serde_json::Value::Object(body).to_string();
        let mut last = String::new();
        for attempt in 0..=self.max_retries {
            let outcome = {
                let Ok(_permit) = self.permits.acquire().await else {
                    return Err(LlmError::Config("the request limiter was closed".into()));
                };
                if self.over_budget().is_some() {
                    return Ok(None);
                }
                self.send_once(&body).await
            };
            match outcome {
                Ok(answer) => {
                    let cost = self
                        .price
                        .cost(answer.usage.prompt_tokens, answer.usage.completion_tokens);
                    *self.spent.lock().unwrap_or_else(PoisonError::into_inner) += cost;
                    return Ok(Some(answer));
                }
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry {
                    message,
                    retry_after,
                }) => {
                    last = message;
                    if attempt == self.max_retries {
                        break;
                    }
                    let delay = match retry_after {
                        Some(d) if d > self.backoff_max => {
                            return Err(LlmError::RetryAfterTooLong {
                                url: self.url.clone(),
                                retry_after_s: d.as_secs_f64(),
                                max_s: self.backoff_max.as_secs_f64(),
                            });
                        }
                        Some(d) => d,
                        None => self.backoff(attempt),
                    };
                    tracing::warn!(
                        url = %self.url,
                        attempt = attempt + 1,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        error = %last,
                        "LLM request failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
        Err(LlmError::RetriesExhausted {
            url: self.url.clone(),
            attempts: self.max_retries + 1,
            last,
        })
    }

    /// Exponential back-off with "equal jitter": half the delay fixed, half random.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .backoff_initial
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.backoff_max);
        let u = self
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_f64();
        base / 2 + base.mul_f64(0.5 * u)
    }

    async fn send_once(&self, body: &str) -> Result<Answer, Failure> {
        let mut req = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(key) = &self.key {
            req = req.bearer_auth(&key.0);
        }
        let resp = req.send().await.map_err(|e| Failure::Retry {
            message: self.describe_transport(e),
            retry_after: None,
        })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, std::time::SystemTime::now()));
        let bytes = resp.bytes().await.map_err(|e| Failure::Retry {
            message: format!(
                "reading the response body (HTTP {status}) failed: {}",
                self.describe_transport(e)
            ),
            retry_after: None,
        })?;
        if !(200..300).contains(&status) {
            let message = self.redact(&server_message(&bytes));
            return Err(match status {
                401 | 403 => Failure::Fatal(LlmError::Auth {
                    status,
                    url: self.url.clone(),
                    message,
                    env_var: self.key_env.clone(),
                }),
                408 | 409 | 429 | 500..=599 => Failure::Retry {
                    message: format!("HTTP {status}: {message}"),
                    retry_after,
                },
                _ => Failure::Fatal(LlmError::Rejected {
                    status,
                    url: self.url.clone(),
                    message,
                }),
            });
        }
        let wire: WireResponse = serde_json::from_slice(&bytes).map_err(|e| Failure::Retry {
            message: format!(
                "the response body is not the expected JSON ({e}); it starts with: {}",
                self.redact(&snippet(&bytes))
            ),
            retry_after: None,
        })?;
        if wire.choices.is_empty() {
            let why = wire
                .error
                .map(|e| format!(" (error: {})", self.redact(&short(&e.to_string()))))
                .unwrap_or_default();
            return Err(Failure::Retry {
                message: format!("the server returned no choices{why}"),
                retry_after: None,
            });
        }
        let usage = wire
            .usage
            .map(|u| Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
            })
            .unwrap_or_default();
        let choices = wire
            .choices
            .into_iter()
            .map(|c| {
                let text = c
                    .message
                    .and_then(|m| m.content)
                    .or(c.text)
                    .unwrap_or_default();
                (text, FinishReason::parse(c.finish_reason.as_deref()))
            })
            .collect();
        Ok(Answer { choices, usage })
    }

    /// Removes the API key, and anything that looks like one, from server text
    /// before it reaches an error, a log or a record (some servers echo the
    /// key they were given).
    fn redact(&self, text: &str) -> String {
        let mut t = text.to_string();
        if let Some(key) = &self.key
            && key.0.len() >= 4
        {
            t = t.replace(&key.0, "<redacted>");
        }
        redact_key_like(&t)
    }

    fn describe_transport(&self, e: reqwest::Error) -> String {
        let e = e.without_url();
        if e.is_timeout() {
            format!("timed out after {:.1} s", self.timeout.as_secs_f64())
        } else if e.is_connect() {
            format!("cannot connect: {}", chain(&e))
        } else {
            chain(&e)
        }
    }
}

/// An error and its causes, joined.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Replaces `sk-…` tokens (OpenAI-style keys, masked or not) with `sk-<redacted>`.
fn redact_key_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("sk-") {
        let boundary = rest[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        out.push_str(&rest[..i]);
        let tail = &rest[i + 3..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*')))
            .unwrap_or(tail.len());
        if boundary && len >= 6 {
            out.push_str("sk-<redacted>");
        } else {
            out.push_str(&rest[i..i + 3 + len]);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// Splits a request's usage between its `k` choices (prompt tokens to the
/// first, completion tokens evenly, remainder to the first).
fn split(u: Usage, k: usize) -> Vec<Usage> {
    let k64 = k.max(1) as u64;
    (0..k)
        .map(|i| Usage {
            prompt_tokens: if i == 0 { u.prompt_tokens } else { 0 },
            completion_tokens: u.completion_tokens / k64
                + if i == 0 { u.completion_tokens % k64 } else { 0 },
        })
        .collect()
}

/// A `Retry-After` header's delay: seconds, or an HTTP date (RFC 9110); a
/// date in the past means no wait.
fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(s) = value.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s));
    }
    httpdate::parse_http_date(value)
        .ok()
        .map(|at| at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The server's error message from an OpenAI-style error body, else a snippet.
fn server_message(bytes: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
    let msg = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error"))
            .or_else(|| v.get("message"))
            .and_then(|m| m.as_str().map(str::to_string))
    });
    match msg {
        Some(m) => short(&m),
        None if bytes.is_empty() => "(empty body)".to_string(),
        None => snippet(bytes),
    }
}

fn snippet(bytes: &[u8]) -> String {
    short(&String::from_utf8_lossy(bytes))
}

fn short(s: &str) -> String {
    let s = s.trim();
    let mut out: String = s.chars().take(200).collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}

impl LlmClient for OpenAiClient {
    fn backend(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.inner.model
    }

    fn default_temperature(&self) -> f64 {
        self.inner.temperature
    }

    fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(LlmError::InsideRuntime);
        }
        self.runtime.block_on(self.complete_async(request))
    }

    fn totals(&self) -> UsageTotals {
        self.inner.meter.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Fri, 27 Nov 2026 18:00:00 GMT").unwrap();
        assert_eq!(retry_after(" 2.5 ", now), Some(Duration::from_millis(2500)));
        assert_eq!(
            retry_after("Fri, 27 Nov 2026 18:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Fri, 27 Nov 2026 17:59:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-1", now), None);
    }

    #[test]
    fn usage_split_adds_up() {
        let u = Usage {
            prompt_tokens: 10,
            completion_tokens: 7,
        };
        let parts = split(u, 3);
        let mut sum = Usage::default();
        for p in &parts {
            sum += *p;
        }
        assert_eq!(sum, u);
        assert_eq!(parts[1].prompt_tokens, 0);
    }

    #[test]
    fn server_messages_are_extracted_and_shortened() {
        assert_eq!(
            server_message(br#"{"error":{"message":"bad key"}}"#),
            "bad key"
        );
        assert_eq!(server_message(b""), "(empty body)");
        assert!(server_message(&[b'x'; 500]).ends_with('…'));
    }

    #[test]
    fn key_like_tokens_are_redacted() {
        assert_eq!(
            redact_key_like("Incorrect API key provided: sk-abc1****wxyz. See docs."),
            "Incorrect API key provided: sk-<redacted>. See docs."
        );
        assert_eq!(
            redact_key_like("task-sk-1 risk-free"),
            "task-sk-1 risk-free"
        );
        assert_eq!(redact_key_like("sk-"), "sk-");
    }

    #[test]
    fn api_keys_do_not_debug_print() {
        let k = ApiKey::new("sk-secret");
        assert!(!format!("{k:?}").contains("secret"));
    }
}
