//! Tasks: an environment plus what success means in it, and the registry of tasks.

use crate::env::{Env, EnvSpec, StepInfo};
use crate::error::{Error, Result};
use crate::state::StateView;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Measures the ground-truth success of one episode, step by step.
pub trait FitnessMeter: Send {
    /// Observes the state after one step.
    fn step(&mut self, s: &StateView<'_>, info: StepInfo);

    /// The episode's fitness; `episode_steps` is the task's full episode length.
    fn finish(&self, episode_steps: usize) -> f64;

    /// The episode's fitness and, for a fitness with a success predicate
    /// (a described task's `fn success(episode)`), whether the episode
    /// achieved the task. The default has no predicate.
    fn finish_scored(&self, episode_steps: usize) -> (f64, Option<bool>) {
        (self.finish(episode_steps), None)
    }
}

/// A task's fitness: how to measure it, and what it means in words.
///
/// The fitness is computed in Rust and never shown to a reward author as code;
/// its [`doc`](Self::doc) is what reports print.
#[derive(Clone)]
pub struct Fitness {
    /// What the number means, e.g. "mean forward speed along +x (m/s)".
    pub doc: String,
    /// Its range and what the best value means, in words, e.g. "0 to 1; 1 =
    /// the pole up for all 500 steps" (see [`with_scale`](Self::with_scale)).
    pub scale: Option<String>,
    /// What the human-written reward reached on it, when measured, e.g. "1.0
    /// within 100k env steps" (see [`with_reference`](Self::with_reference)).
    pub reference: Option<String>,
    make: Arc<dyn Fn() -> Box<dyn FitnessMeter> + Send + Sync>,
}

impl fmt::Debug for Fitness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fitness")
            .field("doc", &self.doc)
            .field("scale", &self.scale)
            .field("reference", &self.reference)
            .finish()
    }
}

impl Fitness {
    /// The fitness `Σ score(s_t) / episode_steps` over the steps the episode
    /// lasted: an episode that ends early scores 0 for the steps it did not live.
    pub fn mean_score(
        doc: &str,
        score: impl Fn(&StateView<'_>) -> f64 + Send + Sync + 'static,
    ) -> Self {
        let score: Arc<dyn Fn(&StateView<'_>) -> f64 + Send + Sync> = Arc::new(score);
        Self {
            doc: doc.to_string(),
            scale: None,
            reference: None,
            make: Arc::new(move || Box::new(MeanScore::new(score.clone()))),
        }
    }

    /// A fitness with its own per-episode meter.
    pub fn custom(
        doc: &str,
        make: impl Fn() -> Box<dyn FitnessMeter> + Send + Sync + 'static,
    ) -> Self {
        Self {
            doc: doc.to_string(),
            scale: None,
            reference: None,
            make: Arc::new(make),
        }
    }

    /// The fitness with its scale in words: its range and what its best value
    /// means (shown to reward writers, so they know what a good score is).
    #[must_use]
    pub fn with_scale(mut self, scale: &str) -> Self {
        self.scale = Some(scale.to_string());
        self
    }

    /// The fitness with the human-written reward's measured figure on it.
    #[must_use]
    pub fn with_reference(mut self, reference: &str) -> Self {
        self.reference = Some(reference.to_string());
        self
    }

    /// A fresh meter for one episode.
    #[must_use]
    pub fn meter(&self) -> Box<dyn FitnessMeter> {
        (self.make)()
    }
}

/// The meter behind [`Fitness::mean_score`].
pub struct MeanScore {
    score: Arc<dyn Fn(&StateView<'_>) -> f64 + Send + Sync>,
    sum: f64,
}

impl MeanScore {
    /// A meter summing `score` over the steps.
    #[must_use]
    pub fn new(score: Arc<dyn Fn(&StateView<'_>) -> f64 + Send + Sync>) -> Self {
        Self { score, sum: 0.0 }
    }
}

impl FitnessMeter for MeanScore {
    fn step(&mut self, s: &StateView<'_>, _info: StepInfo) {
        self.sum += (self.score)(s);
    }

    fn finish(&self, episode_steps: usize) -> f64 {
        self.sum / episode_steps.max(1) as f64
    }
}

/// A baseline reward program shipped with a task.
#[derive(Clone, Debug, Serialize)]
pub struct RewardSource {
    /// Where the file lives in the source tree (for people; the text is embedded).
    pub path: String,
    /// The Rhai source.
    #[serde(skip)]
    pub source: Cow<'static, str>,
}

impl RewardSource {
    /// A baseline embedded at build time.
    #[must_use]
    pub fn embedded(path: &str, source: &'static str) -> Self {
        Self {
            path: path.to_string(),
            source: Cow::Borrowed(source),
        }
    }
}

/// Training defaults that suit a task, used when the user gives none.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainDefaults {
    /// Env steps for a full training run (final evaluation).
    pub budget: u64,
    /// Env steps for one candidate during the search.
    pub search_budget: u64,
    /// Parallel environment instances.
    pub num_envs: usize,
    /// Steps per environment per rollout.
    pub num_steps: usize,
    /// Hidden layer widths of the policy and value networks.
    pub hidden: Vec<usize>,
    /// Discount factor.
    pub gamma: f64,
    /// Initial learning rate.
    pub learning_rate: f64,
    /// Entropy coefficient.
    pub ent_coef: f64,
    /// Initial log standard deviation of the Gaussian policy (0: σ = 1, the
    /// whole action range; smaller explores closer to the policy's mean).
    pub init_log_std: f64,
}

impl Default for TrainDefaults {
    /// cleanrl's MuJoCo settings, scaled to a CPU: 64×64 tanh networks, γ = 0.99,
    /// lr 3e-4, 16 envs × 128 steps per rollout.
    fn default() -> Self {
        Self {
            budget: 1_000_000,
            search_budget: 200_000,
            num_envs: 16,
            num_steps: 128,
            hidden: vec![64, 64],
            gamma: 0.99,
            learning_rate: 3e-4,
            ent_coef: 0.0,
            init_log_std: 0.0,
        }
    }
}

/// An environment plus a goal: a description, an episode length, a ground-truth
/// fitness, and human-written and sparse baseline rewards.
#[derive(Clone)]
pub struct Task {
    /// Identifier, e.g. `quadruped-run`.
    pub name: String,
    /// The environment's name.
    pub env: String,
    /// The goal in plain language (shown to reward authors).
    pub description: String,
    /// Steps in a full episode (the time limit).
    pub episode_steps: usize,
    /// The ground-truth success measure.
    pub fitness: Fitness,
    /// A reward written by a careful engineer, if the task has one (a task
    /// described in a user's own words has none).
    pub human_reward: Option<RewardSource>,
    /// A sparse reward: the success signal and little else, if the task has one.
    pub sparse_reward: Option<RewardSource>,
    /// Training defaults.
    pub defaults: TrainDefaults,
    make_env: Arc<dyn Fn() -> Box<dyn Env> + Send + Sync>,
    spec: Arc<EnvSpec>,
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("name", &self.name)
            .field("env", &self.env)
            .field("episode_steps", &self.episode_steps)
            .finish_non_exhaustive()
    }
}

impl Task {
    /// Starts describing a task over environments made by `make_env`.
    pub fn builder(
        name: &str,
        make_env: impl Fn() -> Box<dyn Env> + Send + Sync + 'static,
    ) -> TaskBuilder {
        TaskBuilder {
            name: name.to_string(),
            make_env: Arc::new(make_env),
            description: String::new(),
            episode_steps: 1000,
            fitness: None,
            human: None,
            sparse: None,
            defaults: TrainDefaults::default(),
        }
    }

    /// A new environment instance (not yet reset).
    #[must_use]
    pub fn make_env(&self) -> Box<dyn Env> {
        (self.make_env)()
    }

    /// The environment's fixed facts.
    #[must_use]
    pub fn env_spec(&self) -> &Arc<EnvSpec> {
        &self.spec
    }

    /// Everything a reward author needs to know, as Markdown: the environment,
    /// the goal, the actions and every reward-state field.
    #[must_use]
    pub fn describe(&self) -> String {
        let spec = &self.spec;
        format!(
            "# Task `{}` (environment `{}`)\n\n## Goal\n{}\n\n## Environment\n{}\n\n\
             One step is {} s of simulated time; an episode lasts at most {} steps.\n\n\
             ## Actions\n{} numbers in [-1, 1]: {}\n\n\
             ## Reward state\nFields of `s` (this step) and `prev` (the previous step):\n{}",
            self.name,
            self.env,
            self.description,
            spec.description,
            spec.dt,
            self.episode_steps,
            spec.action_dim,
            spec.action_doc,
            spec.state.describe_for(&self.name)
        )
    }

    /// Whether this task uses reward-state field `name`: the field exists and
    /// states no other task's goal (see
    /// [`FieldSpec::goal_of`](crate::FieldSpec::goal_of)).
    #[must_use]
    pub fn uses_field(&self, name: &str) -> bool {
        self.spec
            .state
            .field(name)
            .is_some_and(|f| f.used_by(&self.name))
    }
}

/// Builds a [`Task`].
#[must_use]
pub struct TaskBuilder {
    name: String,
    make_env: Arc<dyn Fn() -> Box<dyn Env> + Send + Sync>,
    description: String,
    episode_steps: usize,
    fitness: Option<Fitness>,
    human: Option<RewardSource>,
    sparse: Option<RewardSource>,
    defaults: TrainDefaults,
}

impl TaskBuilder {
    /// The goal in plain language.
    pub fn description(mut self, text: &str) -> Self {
        self.description = text.to_string();
        self
    }

    /// Steps in a full episode.
    pub fn episode_steps(mut self, steps: usize) -> Self {
        self.episode_steps = steps;
        self
    }

    /// The ground-truth fitness.
    pub fn fitness(mut self, fitness: Fitness) -> Self {
        self.fitness = Some(fitness);
        self
    }

    /// The human-written baseline reward.
    pub fn human_reward(mut self, reward: RewardSource) -> Self {
        self.human = Some(reward);
        self
    }

    /// The sparse baseline reward.
    pub fn sparse_reward(mut self, reward: RewardSource) -> Self {
        self.sparse = Some(reward);
        self
    }

    /// Training defaults.
    pub fn defaults(mut self, defaults: TrainDefaults) -> Self {
        self.defaults = defaults;
        self
    }

    /// Finishes the task.
    ///
    /// # Errors
    /// [`Error::IncompleteTask`] when the fitness is missing or the episode
    /// length is zero. Baseline rewards are optional; without them a final
    /// evaluation has nothing to compare with.
    pub fn build(self) -> Result<Task> {
        let missing = |what: &str| Error::IncompleteTask {
            task: self.name.clone(),
            missing: what.to_string(),
        };
        let fitness = self.fitness.clone().ok_or_else(|| missing("fitness"))?;
        if self.episode_steps == 0 {
            return Err(missing("episode_steps > 0"));
        }
        let spec = (self.make_env)().spec().clone();
        Ok(Task {
            env: spec.name.clone(),
            name: self.name,
            description: self.description,
            episode_steps: self.episode_steps,
            fitness,
            human_reward: self.human,
            sparse_reward: self.sparse,
            defaults: self.defaults,
            make_env: self.make_env,
            spec,
        })
    }
}

/// The tasks a run can name, in registration order.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    tasks: Vec<Task>,
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a task.
    ///
    /// # Errors
    /// [`Error::DuplicateTask`] if a task of that name is already registered.
    pub fn register(&mut self, task: Task) -> Result<()> {
        if self.get(&task.name).is_some() {
            return Err(Error::DuplicateTask(task.name));
        }
        self.tasks.push(task);
        Ok(())
    }

    /// All tasks, in registration order.
    #[must_use]
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// The task called `name`, if any.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// The task called `name`.
    ///
    /// # Errors
    /// [`Error::UnknownTask`] naming every known task.
    pub fn task(&self, name: &str) -> Result<&Task> {
        self.get(name).ok_or_else(|| Error::UnknownTask {
            name: name.to_string(),
            known: self.tasks.iter().map(|t| t.name.clone()).collect(),
        })
    }

    /// The environment names, each once, in registration order.
    #[must_use]
    pub fn env_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for t in &self.tasks {
            if !names.contains(&t.env) {
                names.push(t.env.clone());
            }
        }
        names
    }
}
