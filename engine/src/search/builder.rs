//! The search as a library call: [`Search::builder`] names a task of a registry
//! (built-in or your own), takes the settings the command line takes, an
//! optional reward designer and progress view, and runs the same loop as
//! `rewardsmith run`, leaving the same run folder.
//!
//! ```no_run
//! use rewardsmith::search::Search;
//!
//! let registry = rewardsmith_envs::registry();
//! let summary = Search::builder(&registry, "cartpole-balance")
//!     .generations(2)
//!     .samples(4)
//!     .budget(30_000)
//!     .final_budget(100_000)
//!     .out("runs/from-rust")
//!     .run()?;
//! println!("best {:?}, final {:?}", summary.best, summary.final_eval);
//! # Ok::<(), anyhow::Error>(())
//! ```

use super::config::SearchConfig;
use super::entry::{create_run, run_search_designed};
use super::executor::Executor;
use super::record::{RunRecord, RunSummary};
use crate::feedback::FeedbackSource;
use crate::llm::{LlmClient, LlmConfig};
use crate::progress::{QuietProgress, RunProgress};
use rewardsmith_core::Registry;
use std::path::PathBuf;

/// Entry point of the library search; see the [module docs](self).
#[derive(Debug)]
pub struct Search;

impl Search {
    /// A search for `task` (a name in `registry`) with the defaults of
    /// `rewardsmith run`: the offline designer, the task's budgets, 5
    /// generations of 8 candidates, seed 0, a final evaluation with 3 seeds.
    #[must_use]
    pub fn builder<'a>(registry: &'a Registry, task: &str) -> SearchBuilder<'a> {
        SearchBuilder {
            registry,
            task: task.to_string(),
            search: SearchConfig::default(),
            llm: LlmConfig::default(),
            designer: None,
            executor: None,
            feedback: None,
            progress: None,
            out: None,
            force: false,
        }
    }
}

/// Settings of one search; [`run`](Self::run) starts it.
pub struct SearchBuilder<'a> {
    registry: &'a Registry,
    task: String,
    search: SearchConfig,
    llm: LlmConfig,
    designer: Option<Box<dyn LlmClient>>,
    executor: Option<Box<dyn Executor>>,
    feedback: Option<Box<dyn FeedbackSource>>,
    progress: Option<Box<dyn RunProgress>>,
    out: Option<PathBuf>,
    force: bool,
}

impl SearchBuilder<'_> {
    /// Generations of the search.
    #[must_use]
    pub fn generations(mut self, n: usize) -> Self {
        self.search.generations = n;
        self
    }

    /// Candidates per generation.
    #[must_use]
    pub fn samples(mut self, k: usize) -> Self {
        self.search.samples = k;
        self
    }

    /// Env steps each candidate trains for (default: the task's search budget).
    #[must_use]
    pub fn budget(mut self, steps: u64) -> Self {
        self.search.budget = steps;
        self
    }

    /// Env steps of each final training (default: the task's budget).
    #[must_use]
    pub fn final_budget(mut self, steps: u64) -> Self {
        self.search.final_budget = steps;
        self
    }

    /// Seeds per reward in the final evaluation.
    #[must_use]
    pub fn final_seeds(mut self, n: usize) -> Self {
        self.search.final_seeds = n;
        self
    }

    /// Skips the final evaluation.
    #[must_use]
    pub fn no_final_eval(mut self) -> Self {
        self.search.final_eval = false;
        self
    }

    /// The run's seed (designer, training and evaluation seeds derive from it).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.search.seed = seed;
        self
    }

    /// Worker threads in all (default: every core).
    #[must_use]
    pub fn threads(mut self, n: usize) -> Self {
        self.search.threads = n;
        self
    }

    /// All search settings at once (as `[search]` in `rewardsmith.toml`).
    #[must_use]
    pub fn config(mut self, search: SearchConfig) -> Self {
        self.search = search;
        self
    }

    /// The LLM settings the designer is built from when none is given (as
    /// `[llm]` in `rewardsmith.toml`; the API key only ever comes from the
    /// environment).
    #[must_use]
    pub fn llm(mut self, llm: LlmConfig) -> Self {
        self.llm = llm;
        self
    }

    /// The reward designer: any [`LlmClient`] (an OpenAI-compatible client,
    /// the offline designer, a replayed transcript, or your own). Its calls
    /// are recorded in the run's `llm/`, so the run replays with `--llm
    /// replay`; `rewardsmith resume` rebuilds the designer from the run's
    /// `[llm]` settings, so resume a run with a designer of your own through
    /// this builder again.
    #[must_use]
    pub fn designer(mut self, designer: Box<dyn LlmClient>) -> Self {
        self.designer = Some(designer);
        self
    }

    /// Where the candidates and the final evaluation train: any
    /// [`Executor`] ([`LocalExecutor`](super::LocalExecutor),
    /// [`SlurmExecutor`](super::SlurmExecutor), or your own). Default: the
    /// run's `[executor]` settings, i.e. this process's threads.
    #[must_use]
    pub fn executor(mut self, executor: Box<dyn Executor>) -> Self {
        self.executor = Some(executor);
        self
    }

    /// Who answers between generations (human-feedback mode).
    #[must_use]
    pub fn feedback(mut self, source: Box<dyn FeedbackSource>) -> Self {
        self.feedback = Some(source);
        self
    }

    /// The progress view (default: none).
    #[must_use]
    pub fn progress(mut self, progress: Box<dyn RunProgress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The run folder (default: `runs/<task>-seed<seed>`).
    #[must_use]
    pub fn out(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out = Some(dir.into());
        self
    }

    /// Replaces a run already in the folder instead of refusing it.
    #[must_use]
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Runs the search to its end: the run folder, then its summary.
    ///
    /// # Errors
    /// An unknown task ([`Error::Task`](crate::Error::Task)), invalid
    /// settings ([`Error::Input`](crate::Error::Input)), a folder that holds a
    /// run (without [`force`](Self::force)) or cannot be written
    /// ([`Error::RunFolder`](crate::Error::RunFolder)), a failing designer
    /// ([`Error::Llm`](crate::Error::Llm)); failures of candidates are
    /// recorded and fed back, never raised.
    pub fn run(self) -> Result<RunSummary, crate::Error> {
        let task = self.registry.task(&self.task)?;
        self.search.validate().map_err(crate::Error::Input)?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let mut record = RunRecord::new(task, self.search, self.llm, cores);
        if self.feedback.is_some() {
            record.feedback = super::config::FeedbackMode::Human;
        }
        let dir = self.out.unwrap_or_else(|| {
            PathBuf::from("runs").join(format!("{}-seed{}", record.task, record.search.seed))
        });
        let store = create_run(&dir, &record, self.force)?;
        let progress = self.progress.unwrap_or_else(|| Box::new(QuietProgress));
        let mut feedback = self.feedback;
        let source = feedback
            .as_mut()
            .map(|s| &mut **s as &mut dyn FeedbackSource);
        let summary = run_search_designed(
            self.registry,
            &store,
            &record,
            self.designer,
            self.executor,
            source,
            progress.as_ref(),
        );
        progress.finished();
        summary
    }
}
