//! The evolutionary loop: sample K reward programs, check and train each, keep
//! the best, reflect, ask again — resumable from the run folder at any point.

use super::candidate::{CandidateSpec, Outcome, dry_check, evaluate_candidate_with};
use super::config::FeedbackMode;
use super::described::{DescribedTask, fitness_program};
use super::final_eval::final_evaluation;
use super::record::{BestRecord, CandidateLine, GenerationRecord, RunRecord, RunSummary, Timing};
use super::reflection::{all_failed, reflect};
use super::store::{RunStore, files, read_json, write_atomic, write_json};
use crate::events::RunEvent;
use crate::extract::{Extracted, Review, Verdict, extract_code, extract_review};
use crate::feedback::{FeedbackAnswer, FeedbackSource, FeedbackTable, HumanTurn, human_turn};
use crate::llm::{
    BestProgram, ComponentSummary, DesignContext, DesignRole, LlmClient, LlmRequest, Message,
    build_recorded_client,
};
use crate::progress::RunProgress;
use crate::prompts::{PromptRole, Prompts};
use anyhow::{Context, anyhow, bail};
use rayon::prelude::*;
use rewardsmith_core::{Registry, Task, derive_seed};
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
    let text = toml::to_string_pretty(record).context("cannot serialise the configuration")?;
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
    let record: RunRecord = toml::from_str(&text)
        .with_context(|| format!("{} is corrupt; nothing was changed", path.display()))?;
    Ok((RunStore::open(dir)?, record))
}

/// Runs (or resumes) the search recorded in `store`, without human feedback
/// (a run in human-feedback mode fails when it needs an answer; use
/// [`run_search_with`]).
///
/// `progress` hears of every notable step (bars on a terminal, lines in a log).
///
/// # Errors
/// Failures of the machine or the LLM backend; failures of candidates are
/// recorded and fed back, never raised.
pub fn run_search(
    registry: &Registry,
    store: &RunStore,
    record: &RunRecord,
    progress: &dyn RunProgress,
) -> anyhow::Result<RunSummary> {
    run_search_with(registry, store, record, None, progress)
}

/// Runs (or resumes) the search recorded in `store`; in human-feedback mode,
/// `feedback` is asked after every generation but the last whose answer is
/// not yet in the run folder (`gen-NNN/feedback.json`, replayed on resume).
///
/// # Errors
/// As [`run_search`], and the person's answers cannot be had or do not fit
/// (a [`FeedbackError`](crate::feedback::FeedbackError) inside the error).
pub fn run_search_with(
    registry: &Registry,
    store: &RunStore,
    record: &RunRecord,
    mut feedback: Option<&mut dyn FeedbackSource>,
    progress: &dyn RunProgress,
) -> anyhow::Result<RunSummary> {
    let prompts = Prompts::load(record.prompts.as_deref())?;
    let run_started = Instant::now();
    let mut timing = Timing::default();
    let llm = build_recorded_client(&record.llm, record.search.seed, &store.llm_dir())?;
    // A described task first needs the program that measures it.
    let described = match &record.described {
        Some(d) => {
            let asked = Instant::now();
            let source = fitness_program(
                registry,
                store,
                d,
                &prompts,
                &llm,
                record.search.seed,
                record.llm.temperature,
                progress,
            )?;
            timing.llm_s += asked.elapsed().as_secs_f64();
            Some(DescribedTask {
                fitness: Some(source),
                ..d.clone()
            })
        }
        None => None,
    };
    let augmented;
    let registry = match &described {
        Some(d) => {
            augmented = d.register(registry)?;
            &augmented
        }
        None => registry,
    };
    let task = registry.task(&record.task)?;
    let initial =
        prompts.initial_messages(&task.describe(), &rewardsmith_sandbox::helpers_doc())?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(record.concurrent)
        .build()
        .map_err(|e| anyhow!("cannot start {} worker threads: {e}", record.concurrent))?;
    let mut generations: Vec<GenerationRecord> = Vec::new();
    let mut best: Option<BestRecord> = None;
    let mut best_context: Option<BestProgram> = None;
    let mut failed_in_a_row = 0;
    let mut stopped = None;
    let mut human: Option<HumanTurn> = None;
    for g in 0..record.search.generations {
        let gen_dir = store.generation_dir(g);
        let previous = generations.last();
        let done: Option<GenerationRecord> = read_json(&gen_dir.join(files::GENERATION))?;
        let (gen_record, outcomes) = if let Some(done) = done {
            let outcomes = load_outcomes(store, g, done.candidates.len())?;
            store.emit(
                progress,
                RunEvent::Note {
                    text: format!("generation {g}: already finished, resumed from disk"),
                },
            )?;
            for c in &done.candidates {
                match (c.fitness, &c.failure) {
                    (Some(f), _) => {
                        store.note(progress, format!("  cand {:02}: fitness {f:.4}", c.index))?
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
            (done, outcomes)
        } else {
            let messages = match previous {
                Some(p) => {
                    let (answer, text) = match &human {
                        Some(h) => (
                            h.answer.as_ref().or(p.next_answer.as_ref()),
                            h.feedback.as_str(),
                        ),
                        None => (p.next_answer.as_ref(), p.next_feedback.as_str()),
                    };
                    Prompts::follow_up(
                        &initial,
                        answer.map_or("(no usable answer yet)", String::as_str),
                        text,
                    )
                }
                None => initial.clone(),
            };
            let asked = Instant::now();
            let texts = completions(
                store,
                g,
                &llm,
                task,
                record,
                &messages,
                &best_context,
                previous,
            )?;
            store.emit(
                progress,
                RunEvent::GenerationStarted {
                    generation: g,
                    generations: record.search.generations,
                    candidates: texts.len(),
                },
            )?;
            let reviews: Vec<Option<Review>> = if record.search.llm_critic {
                texts
                    .iter()
                    .enumerate()
                    .map(|(i, text)| {
                        critic(store, &llm, &prompts, task, record, g, i, text, progress)
                    })
                    .collect::<anyhow::Result<_>>()?
            } else {
                vec![None; texts.len()]
            };
            timing.llm_s += asked.elapsed().as_secs_f64();
            let phase = Instant::now();
            let outcomes: Vec<anyhow::Result<Evaluated>> = pool.install(|| {
                texts
                    .par_iter()
                    .zip(&reviews)
                    .enumerate()
                    .map(|(i, (text, review))| {
                        let job = Job {
                            described: described.as_ref(),
                            review: review.as_ref(),
                            g,
                            i,
                            text,
                        };
                        let fresh = !store.candidate_file(g, i, files::RESULT).exists();
                        let started = Instant::now();
                        if fresh {
                            store.emit(
                                progress,
                                RunEvent::CandidateStarted {
                                    generation: g,
                                    candidate: i,
                                    budget: record.budget,
                                },
                            )?;
                        }
                        let outcome = run_candidate(registry, store, record, &job, &|steps| {
                            progress.event(&RunEvent::TrainingSteps {
                                generation: g,
                                candidate: i,
                                steps,
                            });
                        })?;
                        store.emit(
                            progress,
                            RunEvent::CandidateFinished {
                                generation: g,
                                candidate: i,
                                fitness: outcome.fitness(),
                                failure: outcome.failure().map(|f| first_line(&f).to_string()),
                            },
                        )?;
                        let spent = match &outcome {
                            Outcome::Trained { report, .. } if fresh => {
                                Some((started.elapsed().as_secs_f64(), report.wall_s))
                            }
                            _ if fresh => Some((started.elapsed().as_secs_f64(), 0.0)),
                            _ => None,
                        };
                        Ok((outcome, spent))
                    })
                    .collect()
            });
            timing.candidates_s += phase.elapsed().as_secs_f64();
            let outcomes = outcomes
                .into_iter()
                .map(|r| {
                    r.map(|(o, spent)| {
                        if let Some((all, train)) = spent {
                            timing.candidate_thread_s += all;
                            timing.train_thread_s += train;
                        }
                        o
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let gen_record = conclude(&prompts, g, &texts, &outcomes, record, previous)?;
            write_json(&gen_dir.join(files::GENERATION), &gen_record)?;
            store.event(&RunEvent::GenerationFinished {
                generation: g,
                fitness: gen_record.candidates.iter().map(|c| c.fitness).collect(),
                best: gen_record.best,
            })?;
            (gen_record, outcomes)
        };
        if let Some(b) = gen_record.best
            && let Outcome::Trained { report, .. } = &outcomes[b]
        {
            let fitness = report.final_fitness;
            if best.as_ref().is_none_or(|cur| fitness > cur.fitness) {
                let reward =
                    std::fs::read_to_string(store.candidate_file(g, b, files::REWARD_RHAI))
                        .context("cannot read the best reward")?;
                best_context = Some(BestProgram {
                    source: reward.clone(),
                    fitness: (!record.hide_fitness).then_some(fitness),
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
                });
                best = Some(BestRecord {
                    generation: g,
                    candidate: b,
                    fitness,
                    reward,
                });
            }
        }
        failed_in_a_row = if gen_record.best.is_some() {
            0
        } else {
            failed_in_a_row + 1
        };
        let gen_best = gen_record.best;
        generations.push(gen_record);
        if failed_in_a_row >= record.search.max_failed_generations {
            let msg = format!(
                "stopped after {failed_in_a_row} generations in a row in which every candidate failed; see the errors in {}",
                store.root().display()
            );
            store.note(progress, &msg)?;
            stopped = Some(msg);
            break;
        }
        human = None;
        if record.feedback == FeedbackMode::Human && g + 1 < record.search.generations {
            let asked = Instant::now();
            let answer = human_answer(
                store,
                g,
                &outcomes,
                feedback
                    .as_mut()
                    .map(|s| &mut **s as &mut dyn FeedbackSource),
                progress,
            )?;
            timing.human_s += asked.elapsed().as_secs_f64();
            if answer == FeedbackAnswer::Stop {
                let msg = format!("stopped by the person after generation {g}");
                store.note(progress, &msg)?;
                stopped = Some(msg);
                break;
            }
            human = human_turn(&prompts, store, g, &answer, gen_best)?;
        }
    }
    let final_eval = match &best {
        Some(b) => {
            copy_best(store, b)?;
            if record.search.final_eval {
                let started = Instant::now();
                let report = final_evaluation(registry, store, record, &b.reward, progress)?;
                timing.final_s = started.elapsed().as_secs_f64();
                Some(report)
            } else {
                None
            }
        }
        None => None,
    };
    timing.total_s = run_started.elapsed().as_secs_f64();
    store.note(progress, timing.line())?;
    let summary = RunSummary {
        run_dir: store.root().to_path_buf(),
        task: task.name.clone(),
        best,
        generations,
        final_eval,
        llm: llm.totals(),
        stopped,
        timing,
    };
    write_json(&store.summary_file(), &summary)?;
    super::report::write_reports(store, task, record, &summary)?;
    store.event(&RunEvent::RunFinished {
        stopped: summary.stopped.clone(),
    })?;
    Ok(summary)
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

/// A candidate's outcome, and for one evaluated by this process its wall
/// seconds in all and in the trainer.
type Evaluated = (Outcome, Option<(f64, f64)>);

/// One candidate to evaluate.
struct Job<'a> {
    described: Option<&'a DescribedTask>,
    review: Option<&'a Review>,
    g: usize,
    i: usize,
    text: &'a str,
}

fn run_candidate(
    registry: &Registry,
    store: &RunStore,
    record: &RunRecord,
    job: &Job<'_>,
    on_steps: &dyn Fn(u64),
) -> anyhow::Result<Outcome> {
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
        return Ok(done);
    }
    write_atomic(&dir.join(files::COMPLETION), text.as_bytes())?;
    let outcome = match extract_code(text) {
        Extracted::NoCode { reason } => {
            let o = Outcome::NoCode { reason };
            write_json(&dir.join(files::RESULT), &o)?;
            o
        }
        Extracted::Code { source, .. } => {
            let spec = CandidateSpec {
                task: record.task.clone(),
                reward: source,
                budget: record.budget,
                seed: candidate_seed(record, g, i),
                threads: record.threads_per_candidate,
                analysis_episodes: record.search.analysis_episodes,
                described: described.cloned(),
            };
            write_json(&dir.join(files::SPEC), &spec)?;
            let outcome = match review {
                Some(r) if r.verdict == Verdict::Reject => {
                    let task = registry.task(&spec.task)?;
                    write_atomic(&dir.join(files::REWARD_RHAI), spec.reward.as_bytes())?;
                    let (check, _) = dry_check(task, &spec.reward, spec.seed);
                    let o = Outcome::Criticised {
                        check,
                        reasons: r.reasons.clone(),
                    };
                    write_json(&dir.join(files::RESULT), &o)?;
                    o
                }
                _ => evaluate_candidate_with(registry, &spec, &dir, on_steps)?,
            };
            if record.render && outcome.fitness().is_some() {
                picture_candidate(registry, store, &spec, &dir, g, i)?;
            }
            outcome
        }
    };
    Ok(outcome)
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
    let best = candidates
        .iter()
        .filter_map(|c| c.fitness.map(|f| (c.index, f)))
        .fold(None, |acc: Option<(usize, f64)>, (i, f)| match acc {
            Some((_, bf)) if bf >= f => acc,
            _ => Some((i, f)),
        })
        .map(|(i, _)| i);
    let failures: Vec<String> = candidates
        .iter()
        .filter_map(|c| {
            c.failure
                .as_ref()
                .map(|f| format!("candidate {}: {}", c.index, f))
        })
        .collect();
    let tips = prompts.code_tips();
    let (next_answer, next_feedback) = match best {
        Some(b) => {
            let Outcome::Trained {
                report, analysis, ..
            } = &outcomes[b]
            else {
                bail!("the best candidate has no training report");
            };
            let code = extract_code(&texts[b])
                .source()
                .unwrap_or_default()
                .to_string();
            let reflection = reflect(
                report,
                Some(&analysis.describe()),
                record.hide_fitness,
                &failures,
            );
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
