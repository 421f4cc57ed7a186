//! The data that crosses the [`LlmClient`](super::LlmClient) boundary: chat
//! messages in, completions with token usage out, and the structured side
//! channel ([`DesignContext`]) that only the offline designer reads.

use rewardsmith_core::StateSpec;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Who wrote a chat message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions that frame the whole conversation.
    System,
    /// The reward designer's request (our prompts).
    User,
    /// The model's earlier answers.
    Assistant,
}

impl Role {
    /// The wire name: `system`, `user` or `assistant`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// Its author.
    pub role: Role,
    /// Its text.
    pub content: String,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// What a request is for, so that the offline designer knows what to write.
///
/// Language models read the messages instead; this is never sent over the wire
/// and never part of a replay key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DesignRole {
    /// Write (or improve) a reward program.
    #[default]
    Reward,
    /// Review a reward program before training (the critic).
    Critic,
    /// Write the program that measures a task described in a user's own
    /// words (`fn fitness(episode)`).
    Fitness,
    /// Explain what trajectories show (the analyzer).
    Analysis,
}

/// Statistics of one reward component from training (or a dry run), as the
/// offline designer reads them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentSummary {
    /// The component's name, as the program returns it.
    pub name: String,
    /// Mean per-step value over training (or the dry run).
    pub mean: f64,
    /// Smallest per-checkpoint mean (or smallest value).
    pub min: f64,
    /// Largest per-checkpoint mean (or largest value).
    pub max: f64,
}

/// The current best program and what is known about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestProgram {
    /// Its Rhai source.
    pub source: String,
    /// Its task fitness, when it was trained.
    pub fitness: Option<f64>,
    /// Its components' statistics, in program order.
    pub components: Vec<ComponentSummary>,
}

impl ComponentSummary {
    /// Mean, smallest and largest of a component's per-checkpoint curve
    /// (non-finite points ignored; all zero for an empty curve).
    #[must_use]
    pub fn from_curve(name: &str, curve: &[f64]) -> Self {
        let finite: Vec<f64> = curve.iter().copied().filter(|x| x.is_finite()).collect();
        if finite.is_empty() {
            return Self {
                name: name.to_string(),
                mean: 0.0,
                min: 0.0,
                max: 0.0,
            };
        }
        #[allow(clippy::cast_precision_loss)]
        let mean = finite.iter().sum::<f64>() / finite.len() as f64;
        Self {
            name: name.to_string(),
            mean,
            min: finite.iter().copied().fold(f64::INFINITY, f64::min),
            max: finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

impl BestProgram {
    /// The best program as training reported it: its component curves
    /// summarised, and its fitness taken as the report's figure (the best
    /// checkpoint's held-out fitness).
    #[must_use]
    pub fn from_report(source: &str, report: &rewardsmith_core::TrainReport) -> Self {
        Self {
            source: source.to_string(),
            fitness: Some(report.fitness()),
            components: report
                .component_curves()
                .iter()
                .map(|c| ComponentSummary::from_curve(&c.name, &c.curve))
                .collect(),
        }
    }
}

/// The structured side channel for the offline designer: everything the
/// prompt says, as data, so that it need not parse prose.
///
/// The OpenAI and replay backends ignore it, and replay keys never include it.
#[derive(Clone, Debug)]
pub struct DesignContext {
    /// Task name (e.g. `quadruped-run`, or `custom` for a described task).
    pub task: String,
    /// The goal in plain language.
    pub description: String,
    /// The environment's reward state.
    pub state: StateSpec,
    /// Number of action dimensions (0 when unknown).
    pub action_dim: usize,
    /// What the request is for.
    pub role: DesignRole,
    /// The best program so far, if any.
    pub best: Option<BestProgram>,
    /// Errors of failed candidates of the last generation, as text.
    pub failures: Vec<String>,
    /// Seed of this request (the engine derives one per generation).
    pub seed: u64,
    /// For a fitness request (a described task): whether the user accepted
    /// a fitness that measures only part of the description
    /// (`--accept-partial-fitness`); the offline designer refuses otherwise.
    pub accept_partial: bool,
}

impl DesignContext {
    /// A context for a first generation: no best program, no failures.
    #[must_use]
    pub fn new(task: &str, description: &str, state: StateSpec, seed: u64) -> Self {
        Self {
            task: task.to_string(),
            description: description.to_string(),
            state,
            action_dim: 0,
            role: DesignRole::Reward,
            best: None,
            failures: Vec::new(),
            seed,
            accept_partial: false,
        }
    }

    /// The context of a task from the registry.
    #[must_use]
    pub fn for_task(task: &rewardsmith_core::Task, seed: u64) -> Self {
        let spec = task.env_spec();
        let mut ctx = Self::new(&task.name, &task.description, spec.state.clone(), seed);
        ctx.action_dim = spec.action_dim;
        ctx
    }
}

/// One request to a language model: K samples of a chat.
#[derive(Clone, Debug)]
pub struct LlmRequest {
    /// The conversation so far, system message first.
    pub messages: Vec<Message>,
    /// How many independent completions to return (K).
    pub n: usize,
    /// Sampling temperature; `None` uses the client's configured one.
    pub temperature: Option<f64>,
    /// The offline designer's side channel (ignored by other backends).
    pub context: Option<DesignContext>,
}

impl LlmRequest {
    /// A request for `n` completions of `messages` at the configured temperature.
    #[must_use]
    pub fn new(messages: Vec<Message>, n: usize) -> Self {
        Self {
            messages,
            n,
            temperature: None,
            context: None,
        }
    }

    /// Sets the temperature.
    #[must_use]
    pub fn temperature(mut self, t: f64) -> Self {
        self.temperature = Some(t);
        self
    }

    /// Attaches the offline designer's context.
    #[must_use]
    pub fn context(mut self, ctx: DesignContext) -> Self {
        self.context = Some(ctx);
        self
    }

    /// The first line of the last message, shortened, to name the request in
    /// error messages.
    #[must_use]
    pub fn summary(&self) -> String {
        let line = self
            .messages
            .last()
            .and_then(|m| m.content.lines().find(|l| !l.trim().is_empty()))
            .unwrap_or("")
            .trim();
        let mut s: String = line.chars().take(100).collect();
        if line.chars().count() > 100 {
            s.push('…');
        }
        s
    }
}

/// Why a completion ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished its answer.
    Stop,
    /// The answer hit the token limit: it is probably truncated.
    Length,
    /// The server filtered the answer.
    ContentFilter,
    /// The server gave no reason.
    Unknown,
    /// Any other reason, verbatim.
    Other(String),
}

impl FinishReason {
    /// Parses the wire value (`stop`, `length`, `content_filter`, …).
    #[must_use]
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("stop" | "eos" | "end_turn") => Self::Stop,
            Some("length" | "max_tokens") => Self::Length,
            Some("content_filter") => Self::ContentFilter,
            None | Some("") => Self::Unknown,
            Some(other) => Self::Other(other.to_string()),
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stop => f.write_str("stop"),
            Self::Length => f.write_str("length"),
            Self::ContentFilter => f.write_str("content_filter"),
            Self::Unknown => f.write_str("unknown"),
            Self::Other(s) => f.write_str(s),
        }
    }
}

/// Token counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
}

impl Usage {
    /// Both counts added.
    #[must_use]
    pub fn total(self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Self) {
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
    }
}

/// One sampled answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The answer's text.
    pub text: String,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// This completion's share of its request's tokens: the request's prompt
    /// tokens are charged to its first choice, and its completion tokens split
    /// evenly between its choices, so the completions of a call add up to the
    /// call's usage.
    pub usage: Usage,
}

/// Why a call returned fewer completions than asked for, without failing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The configured `max_cost_usd` was reached.
    CostLimit,
}

/// The answer to one [`LlmRequest`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmResponse {
    /// The completions, at most `n`.
    pub completions: Vec<Completion>,
    /// Tokens of every HTTP request of this call (failed attempts that
    /// reported usage included).
    pub usage: Usage,
    /// Cost of this call in USD, from the configured price table.
    pub cost_usd: f64,
    /// HTTP requests made (0 for offline backends).
    pub requests: u32,
    /// Set when fewer than `n` completions came back on purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<StopReason>,
}

/// Usage summed over a client's lifetime (a run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Calls to [`LlmClient::complete`](super::LlmClient::complete).
    pub calls: u64,
    /// HTTP requests (0 for offline backends).
    pub requests: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
}

impl UsageTotals {
    /// Adds one call's response.
    pub fn add(&mut self, r: &LlmResponse) {
        self.calls += 1;
        self.requests += u64::from(r.requests);
        self.prompt_tokens += r.usage.prompt_tokens;
        self.completion_tokens += r.usage.completion_tokens;
        self.cost_usd += r.cost_usd;
    }
}
