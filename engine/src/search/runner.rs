//! The evolutionary loop: sample K reward programs, check and train each, keep
//! the best, reflect, ask again — resumable from the run folder at any point.

use super::allocation::Allocation;
use super::candidate::{CandidateSpec, Outcome, Staged, dry_check};
use super::config::ExecutorKind;
use super::config::FeedbackMode;
use super::described::{DescribedTask, FitnessReview, fitness_program};
use super::executor::{Candidates, Executor, LocalExecutor, RunContext};
use super::final_eval::final_evaluation;
use super::record::{
    BestRecord, CandidateLine, GenerationRecord, RunRecord, RunSummary, Timing, best_candidate,
};
use super::reflection::{all_failed, generation_reflection};
use super::slurm_executor::SlurmExecutor;
use super::store::{RunStore, files, read_json, write_atomic, write_json};
use crate::events::RunEvent;
use crate::extract::{Extracted, Review, Verdict, extract_code, extract_review};
use crate::feedback::{FeedbackAnswer, FeedbackSource, FeedbackTable, HumanTurn, human_turn};
use crate::llm::{
    BestProgram, ComponentSummary, DesignContext, DesignRole, LlmClient, LlmRequest, Message,
    Recorder, RecordingClient, build_recorded_client,
};
use crate::progress::RunProgress;
use crate::prompts::{FitnessShown, PromptRole, Prompts};
use anyhow::{Context, anyhow, bail};
use rewardsmith_core::{Registry, Task, derive_seed};
use std::path::PathBuf;
use std::time::Instant;

/// Creates a new run folder for `record` (refusing a folder that holds a run).
///
/// # Errors
/// The folder already holds a run, or cannot be written.
pub fn create_run(
    dir: &std::path::Path,
    record: &RunRecord,
    force: bool,
) -> anyhow::Result<RunStore> {
    if dir.join(files::RUN).exists() && !force {
        bail!(
            "{} already holds a run: continue it with `rewardsmith resume {}`, or pass --force to start over",
            dir.display(),
            dir.display()
        );
    }
    if force && dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let store = RunStore::open(dir)?;
    // `--prompts` is copied into the run, and the run refers to its copy
    // (relative to the run folder), so `resume` uses the same words from
    // anywhere, whatever happens to the original folder.
    let mut stored = record.clone();
    if let Some(src) = &record.prompts {
        Prompts::copy_folder(src, &store.root().join(files::PROMPTS_DIR))?;
        stored.prompts = Some(PathBuf::from(files::PROMPTS_DIR));
    }
    let text = toml::to_string_pretty(&stored).context("cannot serialise the configuration")?;
    write_atomic(&store.run_file(), text.as_bytes())?;
    store.event(&RunEvent::RunStarted {
        task: record.task.clone(),
        resumed: false,
    })?;
    Ok(store)
}

/// Opens an existing run folder for `resume`.
///
/// # Errors
/// No run there, or a corrupt `run.toml` (named).
pub fn open_run(dir: &std::path::Path) -> anyhow::Result<(RunStore, RunRecord)> {
    let path = dir.join(files::RUN);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{} holds no run (no readable run.toml)", dir.display()))?;
    let mut record: RunRecord = toml::from_str(&text)
        .with_context(|| format!("{} is corrupt; nothing was changed", path.display()))?;
    if let Some(p) = &record.prompts
        && p.is_relative()
        && dir.join(p).is_dir()
    {
        record.prompts = Some(dir.join(p));
    }
    Ok((RunStore::open(dir)?, record))
}

/// Runs (or resumes) the search recorded in `store` (the work behind
/// [`super::entry`]'s public entry points, which classify its errors). The
/// reward designer is `designer`, or built from `record.llm` when `None`; the
/// executor is `executor`, or [`executor_for`] `record.executor` when `None`.
/// Every designer call is recorded in the run's `llm/` either way, so the run
/// replays with `--llm replay`. In human-feedback mode `feedback` is asked
/// after every generation but the last whose answer is not yet in the run
/// folder (`gen-NNN/feedback.json`, replayed on resume); without it such a
/// run fails when it needs an answer. `progress` hears of every notable step.
///
/// # Errors
/// Failures of the machine, the LLM backend or the person's answers; failures
/// of candidates are recorded and fed back, never raised.
pub fn run_search_designed(
    registry: &Registry,
    store: &RunStore,
    record: &RunRecord,
    designer: Option<Box<dyn LlmClient>>,
    executor: Option<Box<dyn Executor>>,
    mut feedback: Option<&mut dyn FeedbackSource>,
    progress: &dyn RunProgress,
) -> anyhow::Result<RunSummary> {
    let run_started = Instant::now();
    let prompts = Prompts::load(record.prompts.as_deref())?;
    let llm = match designer {
        Some(d) => RecordingClient::new(d, Recorder::open(&store.llm_dir())?),
        None => build_recorded_client(&record.llm, record.search.seed, &store.llm_dir())?,
    };
    let mut state = SearchState::default();
    // A described task first needs the program that measures it.
    let described = describe(
        registry,
        store,
        record,
        &prompts,
        &llm,
        &mut state,
        feedback
            .as_mut()
            .map(|s| &mut **s as &mut dyn FeedbackSource),
        progress,
    )?;
    let augmented;
    let registry = match &described {
        Some(d) => {
            augmented = d.register(registry)?;
            &augmented
        }
        None => registry,
    };
    let task = registry.task(&record.task)?;
    // A described task's fitness in plain words, as printed and stored.
    let reading = match &described {
        Some(_) => {
            super::described::load_fitness_reading(store.root())?.map(|r| r.reading.join("\n"))
        }
        None => None,
    };
    let search = Steps {
        registry,
        store,
        record,
        initial: prompts.initial_messages(
            &task.describe(),
            &FitnessShown {
                task,
                program: described.as_ref().and_then(|d| d.fitness.as_deref()),
                plain_reading: reading.as_deref(),
                hidden: record.hide_fitness,
            }
            .render(),
            &rewardsmith_sandbox::helpers_doc(),
        )?,
        prompts,
        llm,
        task,
        described,
        executor: match executor {
            Some(e) => e,
            None => executor_for(record)?,
        },
        progress,
    };
    for g in 0..record.search.generations {
        let (gen_record, outcomes) = match search.resumed(g)? {
            Some(done) => done,
            None => {
                let texts = search.propose(g, &mut state)?;
                let reviews = search.check(g, &texts, &mut state)?;
                let outcomes = search.evaluate(g, &texts, &reviews, &mut state)?;
                let gen_record = search.conclude(g, &texts, &outcomes, &state)?;
                (gen_record, outcomes)
            }
        };
        if !search.keep(g, gen_record, &outcomes, &mut state)? {
            break;
        }
        let source = feedback
            .as_mut()
            .map(|s| &mut **s as &mut dyn FeedbackSource);
        if !search.feedback(g, &outcomes, source, &mut state)? {
            break;
        }
    }
    search.finish(state, run_started)
}

/// The executor `record` asks for (`[executor] kind`): this process's threads
/// ([`LocalExecutor`], `record.concurrent` trainings side by side) or a Slurm
/// cluster ([`SlurmExecutor`], with `[executor.slurm]`).
///
/// # Errors
/// The local threads cannot be started.
pub fn executor_for(record: &RunRecord) -> anyhow::Result<Box<dyn Executor>> {
    Ok(match record.executor.kind {
        ExecutorKind::Local => Box::new(LocalExecutor::new(record.concurrent)?),
        ExecutorKind::Slurm => Box::new(SlurmExecutor::new(record.executor.slurm.clone())),
    })
}

/// What a search carries from one generation to the next: everything else is
/// on disk, so this is what a resumed run rebuilds by replaying its folder.
#[derive(Default)]
struct SearchState {
    /// Every concluded generation.
    generations: Vec<GenerationRecord>,
    /// The best candidate so far.
    best: Option<BestRecord>,
    /// The best program as the designer sees it.
    best_context: Option<BestProgram>,
    /// Generations in a row in which every candidate failed.
    failed_in_a_row: usize,
    /// Why the search stopped early.
    stopped: Option<String>,
    /// The person's last turn (`--feedback human`).
    human: Option<HumanTurn>,
    /// The candidate the person ranked first in their last turn, as the
    /// offline designer sees it: it mutates this one instead of the
    /// fitness-best (language models read the ranking in the prompt).
    preferred: Option<BestProgram>,
    /// Where the wall time went.
    timing: Timing,
}

/// A search's fixed parts: what every step reads.
struct Steps<'a> {
    registry: &'a Registry,
    store: &'a RunStore,
    record: &'a RunRecord,
    prompts: Prompts,
    llm: crate::llm::RecordingClient<Box<dyn LlmClient>>,
    task: &'a Task,
    described: Option<DescribedTask>,
    initial: Vec<Message>,
    executor: Box<dyn Executor>,
    progress: &'a dyn RunProgress,
}

/// One generation's candidates as the executor sees them: the search's
/// steps around each candidate's training.
struct GenerationCandidates<'s, 'a> {
    steps: &'s Steps<'a>,
    g: usize,
    texts: &'s [String],
    reviews: &'s [Option<Review>],
}

impl Candidates for GenerationCandidates<'_, '_> {
    fn generation(&self) -> usize {
        self.g
    }

    fn count(&self) -> usize {
        self.texts.len()
    }

    fn started(&self, i: usize) -> anyhow::Result<bool> {
        self.steps.candidate_started(self.g, i)
    }

    fn stage(&self, i: usize) -> anyhow::Result<Staged> {
        let steps = self.steps;
        let job = Job {
            described: steps.described.as_ref(),
            review: self.reviews[i].as_ref(),
            g: self.g,
            i,
            text: &self.texts[i],
        };
        stage(steps.registry, steps.store, steps.record, &job)
    }

    fn picture(&self, i: usize, spec: &CandidateSpec, outcome: &Outcome) -> anyhow::Result<()> {
        let (steps, g) = (self.steps, self.g);
        if !steps.record.render || outcome.fitness().is_none() {
            return Ok(());
        }
        let dir = steps.store.candidate_dir(g, i);
        picture_candidate(steps.registry, steps.store, spec, &dir, g, i)
    }

    fn finished(&self, i: usize, outcome: &Outcome) -> anyhow::Result<()> {
        self.steps.candidate_finished(self.g, i, outcome)
    }

    fn live_report(&self) -> anyhow::Result<()> {
        let steps = self.steps;
        super::report::write_live_report(steps.store, steps.task, steps.record)
    }
}

/// A described task's fitness program, asked of the designer (or read back
/// from the run folder); in human-feedback mode the person accepts or
/// corrects it first.
#[allow(clippy::too_many_arguments)]
fn describe(
    registry: &Registry,
    store: &RunStore,
    record: &RunRecord,
    prompts: &Prompts,
    llm: &dyn LlmClient,
    state: &mut SearchState,
    feedback: Option<&mut dyn FeedbackSource>,
    progress: &dyn RunProgress,
) -> anyhow::Result<Option<DescribedTask>> {
    let Some(d) = &record.described else {
        return Ok(None);
    };
    let asked = Instant::now();
    let mut feedback = feedback;
    let mut ask_person = |number: usize,
                          reading: &super::described::FitnessReading,
                          offline: bool|
     -> anyhow::Result<super::described::FitnessAnswer> {
        match feedback.as_deref_mut() {
            Some(source) => source.ask_fitness(&crate::feedback::FitnessQuestion {
                number,
                reading,
                offline,
            }),
            None => Err(anyhow!(
                "the fitness program needs the person's answer (--feedback human), but no \
                 feedback source was given"
            )),
        }
    };
    let mut review = FitnessReview {
        ask: record.feedback == FeedbackMode::Human,
        source: Some(&mut ask_person),
        waited_s: 0.0,
    };
    let described = fitness_program(
        registry,
        store,
        d,
        prompts,
        llm,
        record.search.seed,
        record.llm.temperature,
        &mut review,
        progress,
    )?;
    // The person's time is theirs, not the designer's.
    state.timing.human_s += review.waited_s;
    state.timing.llm_s += asked.elapsed().as_secs_f64() - review.waited_s;
    Ok(Some(described))
}

impl Steps<'_> {
    /// Generation `g` as a previous process finished it, if it did.
    fn resumed(&self, g: usize) -> anyhow::Result<Option<(GenerationRecord, Vec<Outcome>)>> {
        let (store, progress) = (self.store, self.progress);
        let Some(done) =
            read_json::<GenerationRecord>(&store.generation_file(g, files::GENERATION))?
        else {
            return Ok(None);
        };
        let outcomes = load_outcomes(store, g, done.candidates.len())?;
        store.note(
            progress,
            format!("generation {g}: already finished, resumed from disk"),
        )?;
        for c in &done.candidates {
            match (c.fitness, &c.failure) {
                (Some(f), _) => {
                    store.note(progress, format!("  cand {:02}: fitness {f:.4}", c.index))?;
                }
                (None, Some(e)) => {
                    store.note(
                        progress,
                        format!("  cand {:02}: failed: {}", c.index, first_line(e)),
                    )?;
                }
                (None, None) => {}
            }
        }
        Ok(Some((done, outcomes)))
    }

    /// Propose: the designer's candidates for generation `g`, from the
    /// conversation so far (the feedback of the previous generation, or the
    /// person's turn).
    fn propose(&self, g: usize, state: &mut SearchState) -> anyhow::Result<Vec<String>> {
        let previous = state.generations.last();
        let messages = match previous {
            Some(p) => {
                let (answer, text) = match &state.human {
                    Some(h) => (
                        h.answer.as_ref().or(p.next_answer.as_ref()),
                        h.feedback.as_str(),
                    ),
                    None => (p.next_answer.as_ref(), p.next_feedback.as_str()),
                };
                Prompts::follow_up(
                    &self.initial,
                    answer.map_or("(no usable answer yet)", String::as_str),
                    text,
                )
            }
            None => self.initial.clone(),
        };
        let asked = Instant::now();
        let texts = completions(
            self.store,
            g,
            &self.llm,
            self.task,
            self.record,
            &messages,
            if state.preferred.is_some() {
                &state.preferred
            } else {
                &state.best_context
            },
            previous,
        )?;
        state.timing.llm_s += asked.elapsed().as_secs_f64();
        self.store.emit(
            self.progress,
            RunEvent::GenerationStarted {
                generation: g,
                generations: self.record.search.generations,
                candidates: texts.len(),
            },
        )?;
        Ok(texts)
    }

    /// Check: the LLM critic's reviews (`--llm-critic`); the sandbox's checks
    /// run with each candidate's evaluation.
    fn check(
        &self,
        g: usize,
        texts: &[String],
        state: &mut SearchState,
    ) -> anyhow::Result<Vec<Option<Review>>> {
        if !self.record.search.llm_critic {
            return Ok(vec![None; texts.len()]);
        }
        let asked = Instant::now();
        let reviews = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                critic(
                    self.store,
                    &self.llm,
                    &self.prompts,
                    self.task,
                    self.record,
                    g,
                    i,
                    text,
                    self.progress,
                )
            })
            .collect::<anyhow::Result<_>>()?;
        state.timing.llm_s += asked.elapsed().as_secs_f64();
        Ok(reviews)
    }

    /// Evaluate: every candidate checked, trained and scored on the
    /// executor (under successive halving, weak ones stop at a rung).
    fn evaluate(
        &self,
        g: usize,
        texts: &[String],
        reviews: &[Option<Review>],
        state: &mut SearchState,
    ) -> anyhow::Result<Vec<Outcome>> {
        let phase = Instant::now();
        let run = self.context();
        let candidates = GenerationCandidates {
            steps: self,
            g,
            texts,
            reviews,
        };
        let evaluated = match self.record.search.allocation {
            Allocation::Uniform => self.executor.train_uniform(&run, &candidates),
            Allocation::Halving => self.executor.train_halving(&run, &candidates),
        };
        state.timing.candidates_s += phase.elapsed().as_secs_f64();
        let evaluated = evaluated?;
        state.timing.candidate_thread_s += evaluated.candidate_thread_s;
        state.timing.train_thread_s += evaluated.train_thread_s;
        Ok(evaluated.outcomes)
    }

    /// What the executor reads of this run.
    fn context(&self) -> RunContext<'_> {
        RunContext {
            registry: self.registry,
            task: self.task,
            store: self.store,
            record: self.record,
            progress: self.progress,
        }
    }

    /// Whether candidate `i` of generation `g` is yet to be evaluated (no
    /// result on disk); if so, says that it starts.
    fn candidate_started(&self, g: usize, i: usize) -> anyhow::Result<bool> {
        let fresh = !self.store.candidate_file(g, i, files::RESULT).exists();
        if fresh {
            self.store.emit(
                self.progress,
                RunEvent::CandidateStarted {
                    generation: g,
                    candidate: i,
                    budget: self.record.budget,
                },
            )?;
        }
        Ok(fresh)
    }

    /// Says that candidate `i` of generation `g` ended as `outcome`.
    fn candidate_finished(&self, g: usize, i: usize, outcome: &Outcome) -> anyhow::Result<()> {
        self.store.emit(
            self.progress,
            RunEvent::CandidateFinished {
                generation: g,
                candidate: i,
                fitness: outcome.fitness(),
                failure: outcome.failure().map(|f| first_line(&f).to_string()),
            },
        )
    }

    /// Conclude: the generation's record (its best, the reflection for the
    /// next request), saved.
    fn conclude(
        &self,
        g: usize,
        texts: &[String],
        outcomes: &[Outcome],
        state: &SearchState,
    ) -> anyhow::Result<GenerationRecord> {
        let gen_record = conclude(
            &self.prompts,
            g,
            texts,
            outcomes,
            self.record,
            self.task.episode_steps,
            state.generations.last(),
        )?;
        write_json(
            &self.store.generation_file(g, files::GENERATION),
            &gen_record,
        )?;
        self.store.event(&RunEvent::GenerationFinished {
            generation: g,
            fitness: gen_record.candidates.iter().map(|c| c.fitness).collect(),
            best: gen_record.best,
        })?;
        super::report::write_live_report(self.store, self.task, self.record)?;
        Ok(gen_record)
    }

    /// Keeps generation `g` in the state (a new best, the failure count);
    /// `false` when too many generations in a row failed and the search stops.
    fn keep(
        &self,
        g: usize,
        gen_record: GenerationRecord,
        outcomes: &[Outcome],
        state: &mut SearchState,
    ) -> anyhow::Result<bool> {
        if let Some(b) = gen_record.best
            && let Outcome::Trained { report, .. } = &outcomes[b]
        {
            let fitness = report.fitness();
            if state.best.as_ref().is_none_or(|cur| fitness > cur.fitness) {
                let reward =
                    std::fs::read_to_string(self.store.candidate_file(g, b, files::REWARD_RHAI))
                        .context("cannot read the best reward")?;
                state.best_context = Some(best_program(
                    &reward,
                    report,
                    (!self.record.hide_fitness).then_some(fitness),
                ));
                state.best = Some(BestRecord {
                    generation: g,
                    candidate: b,
                    fitness,
                    success: report.best.as_ref().and_then(|c| c.success),
                    reward,
                });
            }
        }
        state.timing.search_env_steps += outcomes
            .iter()
            .map(|o| match o {
                Outcome::Trained { report, .. } => report.env_steps,
                _ => 0,
            })
            .sum::<u64>();
        state.failed_in_a_row = if gen_record.best.is_some() {
            0
        } else {
            state.failed_in_a_row + 1
        };
        state.generations.push(gen_record);
        if state.failed_in_a_row >= self.record.search.max_failed_generations {
            let msg = format!(
                "stopped after {} generations in a row in which every candidate failed; see the errors in {}",
                state.failed_in_a_row,
                self.store.root().display()
            );
            self.store.note(self.progress, &msg)?;
            state.stopped = Some(msg);
            return Ok(false);
        }
        Ok(true)
    }

    /// Feedback: in human-feedback mode, the person's answer after generation
    /// `g` (not after the last); `false` when the person stops the search.
    fn feedback(
        &self,
        g: usize,
        outcomes: &[Outcome],
        source: Option<&mut dyn FeedbackSource>,
        state: &mut SearchState,
    ) -> anyhow::Result<bool> {
        state.human = None;
        state.preferred = None;
        if self.record.feedback != FeedbackMode::Human || g + 1 >= self.record.search.generations {
            return Ok(true);
        }
        let asked = Instant::now();
        let answer = human_answer(self.store, g, outcomes, source, self.progress)?;
        state.timing.human_s += asked.elapsed().as_secs_f64();
        if answer == FeedbackAnswer::Stop {
            let msg = format!("stopped by the person after generation {g}");
            self.store.note(self.progress, &msg)?;
            state.stopped = Some(msg);
            return Ok(false);
        }
        let gen_best = state.generations.last().and_then(|r| r.best);
        state.human = human_turn(&self.prompts, self.store, g, &answer, gen_best)?;
        if let FeedbackAnswer::Guide { rank, .. } = &answer
            && let Some(i) = rank.first().map(|r| r.saturating_sub(1))
            && let Some(Outcome::Trained { report, .. }) = outcomes.get(i)
        {
            let reward =
                std::fs::read_to_string(self.store.candidate_file(g, i, files::REWARD_RHAI))
                    .context("cannot read the preferred reward")?;
            let fitness = report.fitness();
            state.preferred = Some(best_program(
                &reward,
                report,
                (!self.record.hide_fitness).then_some(fitness),
            ));
        }
        Ok(true)
    }

    /// The final evaluation of the best reward, the summary and the reports.
    fn finish(self, mut state: SearchState, run_started: Instant) -> anyhow::Result<RunSummary> {
        let store = self.store;
        let final_eval = match &state.best {
            Some(b) => {
                copy_best(store, b)?;
                if self.record.search.final_eval {
                    let started = Instant::now();
                    let report =
                        final_evaluation(&self.context(), self.executor.as_ref(), &b.reward)?;
                    state.timing.final_s = started.elapsed().as_secs_f64();
                    state.timing.final_env_steps = report.env_steps;
                    Some(report)
                } else {
                    None
                }
            }
            None => None,
        };
        state.timing.total_s = run_started.elapsed().as_secs_f64();
        store.note(self.progress, state.timing.line())?;
        let summary = RunSummary {
            run_dir: store.root().to_path_buf(),
            task: self.task.name.clone(),
            best: state.best,
            generations: state.generations,
            final_eval,
            llm: self.llm.totals(),
            stopped: state.stopped,
            timing: state.timing,
        };
        write_json(&store.summary_file(), &summary)?;
        super::report::write_reports(store, self.task, self.record, &summary)?;
        store.event(&RunEvent::RunFinished {
            stopped: summary.stopped.clone(),
        })?;
        Ok(summary)
    }
}

/// The best program as the designer sees it: its source, fitness (unless
/// hidden) and each component's mean, min and max over training.
fn best_program(
    reward: &str,
    report: &rewardsmith_core::TrainReport,
    fitness: Option<f64>,
) -> BestProgram {
    BestProgram {
        source: reward.to_string(),
        fitness,
        components: report
            .component_curves()
            .into_iter()
            .map(|c| {
                let n = c.curve.len().max(1) as f64;
                ComponentSummary {
                    name: c.name,
                    mean: c.curve.iter().sum::<f64>() / n,
                    min: c.curve.iter().copied().fold(f64::INFINITY, f64::min),
                    max: c.curve.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                }
            })
            .collect(),
    }
}

/// The person's answer for generation `g`: replayed from `gen-NNN/feedback.json`
/// when it is there, else asked (after showing the table) and saved.
fn human_answer(
    store: &RunStore,
    g: usize,
    outcomes: &[Outcome],
    source: Option<&mut dyn FeedbackSource>,
    progress: &dyn RunProgress,
) -> anyhow::Result<FeedbackAnswer> {
    let path = store.generation_file(g, files::FEEDBACK);
    if let Some(answer) = read_json::<FeedbackAnswer>(&path)? {
        store.note(
            progress,
            format!(
                "generation {g}: the person's answer replayed from {}",
                path.display()
            ),
        )?;
        return Ok(answer);
    }
    let Some(source) = source else {
        bail!("generation {g} needs human feedback, but no feedback source was given");
    };
    let table = FeedbackTable::new(store, g, outcomes);
    store.note(progress, table.render().trim_end())?;
    let asked = Instant::now();
    let answer = source.ask(&table)?;
    let waited_s = asked.elapsed().as_secs_f64();
    write_json(&path, &answer)?;
    store.event(&RunEvent::HumanFeedback {
        generation: g,
        answer: serde_json::to_value(&answer)?,
        waited_s,
    })?;
    Ok(answer)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[allow(clippy::too_many_arguments)]
fn completions(
    store: &RunStore,
    g: usize,
    llm: &dyn LlmClient,
    task: &Task,
    record: &RunRecord,
    messages: &[Message],
    best: &Option<BestProgram>,
    previous: Option<&GenerationRecord>,
) -> anyhow::Result<Vec<String>> {
    let path = store.generation_file(g, files::COMPLETIONS);
    if let Some(texts) = read_json::<Vec<String>>(&path)? {
        return Ok(texts);
    }
    let mut ctx = DesignContext::for_task(task, derive_seed(record.search.seed, g as u64));
    ctx.best = best.clone();
    if let Some(p) = previous {
        ctx.failures = p
            .candidates
            .iter()
            .filter_map(|c| c.failure.clone())
            .collect();
    }
    let request = LlmRequest::new(messages.to_vec(), record.search.samples)
        .temperature(record.llm.temperature)
        .context(ctx);
    write_json(&store.generation_file(g, files::REQUEST), &request.messages)?;
    let response = llm.complete(&request).context("the LLM request failed")?;
    let texts: Vec<String> = response.completions.into_iter().map(|c| c.text).collect();
    if texts.is_empty() {
        bail!("the LLM returned no completion for generation {g}");
    }
    write_json(&path, &texts)?;
    Ok(texts)
}

/// The LLM critic's review of candidate `i` (`--llm-critic`): read from
/// `critic.json` when a previous run wrote it, else asked of the LLM for a
/// program that passed the sandbox's checks (the others are refused by the
/// checks anyway and need no review), and saved.
#[allow(clippy::too_many_arguments)]
fn critic(
    store: &RunStore,
    llm: &dyn LlmClient,
    prompts: &Prompts,
    task: &Task,
    record: &RunRecord,
    g: usize,
    i: usize,
    text: &str,
    progress: &dyn RunProgress,
) -> anyhow::Result<Option<Review>> {
    let dir = store.candidate_dir(g, i);
    let path = dir.join(files::CRITIC);
    if let Some(review) = read_json::<Review>(&path)? {
        return Ok(Some(review));
    }
    if dir.join(files::RESULT).exists() {
        return Ok(None);
    }
    let Some(source) = extract_code(text).source().map(str::to_string) else {
        return Ok(None);
    };
    let (check, _) = dry_check(task, &source, candidate_seed(record, g, i));
    if !check.ok {
        return Ok(None);
    }
    let question = prompts.render(
        PromptRole::Critic,
        &[
            ("task_description", task.describe().trim_end()),
            ("code", source.trim_end()),
            ("check_report", check_text(&check).trim_end()),
        ],
    )?;
    let mut ctx =
        DesignContext::for_task(task, derive_seed(record.search.seed, (g * 100 + i) as u64));
    ctx.role = DesignRole::Critic;
    let request = LlmRequest::new(
        vec![
            Message::system(prompts.render(PromptRole::System, &[])?),
            Message::user(question),
        ],
        1,
    )
    .temperature(0.0)
    .context(ctx);
    let answer = llm
        .complete(&request)
        .context("the LLM critic's request failed")?
        .completions
        .into_iter()
        .next()
        .map(|c| c.text)
        .unwrap_or_default();
    let review = extract_review(&answer);
    let verdict = match review.verdict {
        Verdict::Accept => "accepted",
        Verdict::Reject => "rejected",
        Verdict::Unclear => "gave no readable verdict (trained anyway)",
    };
    store.note(progress, format!("  cand {i:02}: the LLM critic {verdict}"))?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_atomic(&dir.join(files::CRITIC_TEXT), answer.as_bytes())?;
    write_json(&path, &review)?;
    Ok(Some(review))
}

/// The sandbox's verdict in words, for the critic.
fn check_text(check: &rewardsmith_sandbox::CheckReport) -> String {
    let mut out =
        String::from("Compiled and dry-ran without error. Components over the dry run:\n");
    for c in &check.components {
        out.push_str(&format!(
            "- {}: mean {:.4}, std {:.4}, min {:.4}, max {:.4}\n",
            c.name, c.mean, c.std, c.min, c.max
        ));
    }
    for w in &check.warnings {
        out.push_str(&format!("- warning: {}\n", w.message));
    }
    out
}

/// The training seed of candidate `i` of generation `g`.
fn candidate_seed(record: &RunRecord, g: usize, i: usize) -> u64 {
    derive_seed(record.search.seed, (1000 * (g + 1) + i) as u64)
}

/// One candidate to evaluate.
struct Job<'a> {
    described: Option<&'a DescribedTask>,
    review: Option<&'a Review>,
    g: usize,
    i: usize,
    text: &'a str,
}

/// Reads back or starts candidate `job`: the completion, its program, its
/// spec and the critic's verdict.
fn stage(
    registry: &Registry,
    store: &RunStore,
    record: &RunRecord,
    job: &Job<'_>,
) -> anyhow::Result<Staged> {
    let Job {
        described,
        review,
        g,
        i,
        text,
    } = *job;
    let dir = store.candidate_dir(g, i);
    if let Some(done) = read_json::<Outcome>(&dir.join(files::RESULT))? {
        // A run killed while picturing this candidate pictures it now.
        if record.render
            && done.fitness().is_some()
            && !dir.join(crate::feedback::ROLLOUT_GIF).exists()
            && let Some(spec) = read_json::<CandidateSpec>(&dir.join(files::SPEC))?
        {
            picture_candidate(registry, store, &spec, &dir, g, i)?;
        }
        return Ok(Staged::Done(done));
    }
    write_atomic(&dir.join(files::COMPLETION), text.as_bytes())?;
    let source = match extract_code(text) {
        Extracted::NoCode { reason } => {
            let o = Outcome::NoCode { reason };
            write_json(&dir.join(files::RESULT), &o)?;
            return Ok(Staged::Done(o));
        }
        Extracted::Code { source, .. } => source,
    };
    let spec = CandidateSpec {
        task: record.task.clone(),
        reward: source,
        budget: record.budget,
        seed: candidate_seed(record, g, i),
        threads: record.candidate_threads(),
        analysis_episodes: record.search.analysis_episodes,
        described: described.cloned(),
        stop_at: None,
        pause_at: Vec::new(),
        resume_from: None,
    };
    write_json(&dir.join(files::SPEC), &spec)?;
    if let Some(r) = review
        && r.verdict == Verdict::Reject
    {
        let task = registry.task(&spec.task)?;
        write_atomic(&dir.join(files::REWARD_RHAI), spec.reward.as_bytes())?;
        let (check, _) = dry_check(task, &spec.reward, spec.seed);
        let o = Outcome::Criticised {
            check,
            reasons: r.reasons.clone(),
        };
        write_json(&dir.join(files::RESULT), &o)?;
        return Ok(Staged::Done(o));
    }
    Ok(Staged::Train(spec))
}

/// Renders a trained candidate's first analysis episode to `rollout.gif` (and
/// `rollout.png`) in its folder. A picture that cannot be made is logged,
/// never a failure of the run.
fn picture_candidate(
    registry: &Registry,
    store: &RunStore,
    spec: &CandidateSpec,
    dir: &std::path::Path,
    g: usize,
    i: usize,
) -> anyhow::Result<()> {
    let made = (|| -> anyhow::Result<crate::render::RenderReport> {
        let task = registry.task(&spec.task)?;
        let policy = rewardsmith_rl::Policy::load(dir)?;
        let mut controller = crate::render::PolicyController(policy);
        crate::render::render_rollout(
            task,
            &mut controller,
            1,
            spec.seed,
            &crate::render::RenderConfig::candidate(),
            &dir.join(crate::feedback::ROLLOUT_GIF),
        )
    })();
    match made {
        Ok(r) => store.event(&RunEvent::CandidateRendered {
            generation: g,
            candidate: i,
            frames: r.frames,
            seconds: r.simulate_s + r.raster_s + r.encode_s,
        }),
        Err(e) => store.event(&RunEvent::RenderFailed {
            generation: g,
            candidate: i,
            error: format!("{e:#}"),
        }),
    }
}

fn load_outcomes(store: &RunStore, g: usize, n: usize) -> anyhow::Result<Vec<Outcome>> {
    (0..n)
        .map(|i| {
            let path = store.candidate_file(g, i, files::RESULT);
            read_json::<Outcome>(&path)?
                .ok_or_else(|| anyhow!("{} is missing; the run folder is damaged", path.display()))
        })
        .collect()
}

fn conclude(
    prompts: &Prompts,
    g: usize,
    texts: &[String],
    outcomes: &[Outcome],
    record: &RunRecord,
    episode_steps: usize,
    previous: Option<&GenerationRecord>,
) -> anyhow::Result<GenerationRecord> {
    let candidates: Vec<CandidateLine> = outcomes
        .iter()
        .enumerate()
        .map(|(index, o)| CandidateLine {
            index,
            fitness: o.fitness(),
            failure: o.failure(),
        })
        .collect();
    let best = best_candidate(&candidates);
    let tips = prompts.code_tips();
    let (next_answer, next_feedback) = match best {
        Some(b) => {
            let Some(reflection) =
                generation_reflection(outcomes, b, record.hide_fitness, episode_steps)
            else {
                bail!("the best candidate has no training report");
            };
            let code = extract_code(&texts[b])
                .source()
                .unwrap_or_default()
                .to_string();
            let feedback = prompts.render(
                PromptRole::PolicyFeedback,
                &[
                    ("generation", &g.to_string()),
                    ("best_code", code.trim_end()),
                    ("reflection", reflection.trim_end()),
                    ("code_tips", tips),
                ],
            )?;
            (Some(texts[b].clone()), feedback)
        }
        None => {
            let errors = all_failed(outcomes);
            let code = texts
                .first()
                .map(|t| extract_code(t).source().unwrap_or("(no code)").to_string());
            let feedback = prompts.render(
                PromptRole::ExecutionError,
                &[
                    ("code", code.as_deref().unwrap_or("(no code)").trim_end()),
                    ("errors", errors.trim_end()),
                    ("code_tips", tips),
                ],
            )?;
            (previous.and_then(|p| p.next_answer.clone()), feedback)
        }
    };
    Ok(GenerationRecord {
        generation: g,
        candidates,
        best,
        next_answer,
        next_feedback,
    })
}

fn copy_best(store: &RunStore, best: &BestRecord) -> anyhow::Result<()> {
    let from = store.candidate_dir(best.generation, best.candidate);
    let to = store.best_dir();
    std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    for name in files::BEST {
        let src = from.join(name);
        if src.exists() {
            let bytes =
                std::fs::read(&src).with_context(|| format!("cannot read {}", src.display()))?;
            write_atomic(&to.join(name), &bytes)?;
        }
    }
    Ok(())
}
