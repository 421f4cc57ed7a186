//! `rewardsmith run`, `resume`, `report` and `eval-candidate`: the search and its
//! run folder.

use super::CliError;
use super::{print_json, thread_count};
use crate::cli::ProgressMode;
use crate::cli::{EvalCandidateArgs, RunArgs};
use crate::feedback::{FeedbackSource, JsonLinesFeedback, TerminalFeedback};
use crate::llm::Backend;
use crate::progress::{self, JsonProgress, PlainProgress, RunProgress};
use crate::search::files;
use crate::search::{
    CandidateSpec, DescribedTask, ExecutorKind, FeedbackMode, FileConfig, RunRecord, RunSummary,
    SearchConfig, create_run, evaluate_candidate, open_run, read_json, run_search_with, write_json,
};
use anyhow::anyhow;
use rewardsmith_core::Registry;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

/// What the person's answers do when the offline designer writes the rewards.
const OFFLINE_FEEDBACK_NOTE: &str = "note: --feedback human with the offline designer (no language model): \
your ranking picks the program it mutates next (the one you rank first, instead of the best-fitness one); \
it reads no text: a comment is stored and shown in the report and only reseeds its next proposals \
(use --llm openai for feedback that is read); on a described task, a correction of the fitness replaces the description";

/// With the offline designer, a described task is refused before any folder
/// is made when a word of it cannot be measured (unless the user accepted a
/// partial fitness) or when no goal can be; the words are named.
fn offline_understanding(
    template: &rewardsmith_core::Task,
    described: &DescribedTask,
    llm: &crate::llm::LlmConfig,
) -> Result<(), CliError> {
    if llm.resolved_backend() != Backend::Builtin {
        return Ok(());
    }
    let understood =
        crate::llm::vocabulary::understand(&described.description, &template.env_spec().state);
    if let Some(why) = understood.refusal(described.accept_partial) {
        return Err(CliError::usage(anyhow!("{why}")));
    }
    if !understood.unmapped.is_empty() {
        eprintln!(
            "note: --accept-partial-fitness: the fitness ignores {} (the stored reading says so in bold)",
            understood
                .unmapped
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// The best candidate's share of held-out episodes meeting the task's success
/// predicate (a described task's `fn success`), read from its result.
fn best_success(summary: &RunSummary) -> Option<f64> {
    let path = summary.run_dir.join(files::BEST_DIR).join(files::RESULT);
    let outcome = crate::search::read_json::<crate::search::Outcome>(&path).ok()??;
    match outcome {
        crate::search::Outcome::Trained { report, .. } => report.best?.success,
        _ => None,
    }
}

fn finish(summary: &RunSummary, record: &RunRecord, json: bool) -> Result<(), CliError> {
    let cost = record.llm.cost_text(summary.llm.cost_usd);
    if json {
        let mut v = summary.to_json();
        v["llm"]["cost"] = serde_json::Value::String(cost);
        print_json(&v);
    } else {
        println!(
            "LLM: {} calls, {} prompt + {} completion tokens, {cost}",
            summary.llm.calls, summary.llm.prompt_tokens, summary.llm.completion_tokens
        );
        match &summary.best {
            Some(b) => println!(
                "best reward: generation {}, candidate {}, fitness {:.4} → {}",
                b.generation,
                b.candidate,
                b.fitness,
                summary
                    .run_dir
                    .join(files::BEST_DIR)
                    .join(files::REWARD_RHAI)
                    .display()
            ),
            None => println!("no candidate trained successfully"),
        }
        if let Some(share) = best_success(summary) {
            println!(
                "  {:.0}% of its held-out episodes met the task's success condition",
                100.0 * share
            );
        }
        if let Some(f) = &summary.final_eval {
            println!("final: {}", f.line());
        }
        println!(
            "report: {}",
            summary.run_dir.join(files::REPORT_HTML).display()
        );
    }
    if summary.best.is_none() {
        return Err(CliError::failure(anyhow!(
            "the search found no usable reward; the errors are in {}",
            summary.run_dir.display()
        )));
    }
    Ok(())
}

pub(crate) fn run(registry: &Registry, args: &RunArgs) -> Result<(), CliError> {
    let (task, described) = chosen_task(registry, args)?;
    let config = configured(args)?;
    if let Some(d) = &described {
        offline_understanding(task, d, &config.llm)?;
    }
    let record = run_record(task, described, config, args)?;
    // A malformed feedback file is refused before any folder is made.
    let mut source = feedback_source(&record, args.json, true)?;
    let dir = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!("{}-seed{}", record.task, record.search.seed))
    });
    let store = create_run(&dir, &record, args.force)?;
    search_and_report(
        registry,
        &store,
        &record,
        source.as_mut().map(|s| &mut **s as &mut dyn FeedbackSource),
        args.json,
        args.progress,
    )
}

/// The task searched: a registered one (`--task`), or one described in words
/// (`--env` and `--describe`) with its template.
fn chosen_task<'r>(
    registry: &'r Registry,
    args: &RunArgs,
) -> Result<(&'r rewardsmith_core::Task, Option<DescribedTask>), CliError> {
    match (&args.task, &args.env, &args.describe) {
        (Some(name), None, None) => Ok((registry.task(name)?, None)),
        (None, Some(env), Some(text)) => {
            let mut d = DescribedTask::new(registry, env, text).map_err(CliError::usage)?;
            d.accept_partial = args.accept_partial_fitness;
            Ok((d.template(registry).map_err(CliError::usage)?, Some(d)))
        }
        _ => Err(CliError::usage(anyhow!(
            "name a task with --task T, or describe one with --env E --describe TEXT"
        ))),
    }
}

/// The configuration file (found or named), the flags over it, validated.
fn configured(args: &RunArgs) -> Result<FileConfig, CliError> {
    let mut config = FileConfig::discover(args.config.as_deref()).map_err(CliError::usage)?;
    if let Some(kind) = args.executor {
        config.executor.kind = kind.into();
    }
    search_flags(&mut config.search, args)?;
    llm_flags(&mut config.llm, args)?;
    if config.executor.kind == ExecutorKind::Slurm {
        config.executor.slurm.validate().map_err(CliError::usage)?;
    }
    config.search.validate().map_err(CliError::usage)?;
    config.llm.validate().map_err(CliError::usage)?;
    config.llm.check_cost_limit().map_err(CliError::usage)?;
    Ok(config)
}

/// The search flags over the file's `[search]`.
fn search_flags(search: &mut SearchConfig, args: &RunArgs) -> Result<(), CliError> {
    if let Some(v) = args.samples {
        search.samples = v;
    }
    if let Some(v) = args.generations {
        search.generations = v;
    }
    if let Some(v) = args.budget {
        search.budget = v;
    }
    if let Some(v) = args.seed {
        search.seed = v;
    }
    if let Some(v) = args.final_budget {
        search.final_budget = v;
    }
    if let Some(v) = args.final_seeds {
        search.final_seeds = v;
    }
    if let Some(v) = args.allocation {
        search.allocation = v.into();
    }
    if let Some(t) = args.threads {
        search.threads = thread_count(Some(t))?;
    }
    if args.llm_critic {
        search.llm_critic = true;
    }
    if args.no_final_eval {
        search.final_eval = false;
    }
    Ok(())
}

/// The designer flags over the file's `[llm]`.
fn llm_flags(llm: &mut crate::llm::LlmConfig, args: &RunArgs) -> Result<(), CliError> {
    if let Some(b) = &args.llm {
        let backend = Backend::from_name(b).ok_or_else(|| {
            CliError::usage(anyhow!("unknown --llm `{b}`: use {}", Backend::names()))
        })?;
        llm.backend = Some(backend);
    }
    if let Some(u) = &args.base_url {
        llm.base_url = Some(u.clone());
    }
    if let Some(m) = &args.model {
        llm.model = Some(m.clone());
    }
    if let Some(r) = &args.replay {
        llm.replay = Some(r.clone());
    }
    if let Some(c) = args.max_cost {
        llm.max_cost_usd = Some(c);
    }
    Ok(())
}

/// What `run.toml` records: the task, the settings and the run's options.
fn run_record(
    task: &rewardsmith_core::Task,
    described: Option<DescribedTask>,
    config: FileConfig,
    args: &RunArgs,
) -> Result<RunRecord, CliError> {
    let mut record = RunRecord::new(task, config.search, config.llm, thread_count(None)?);
    if let Some(d) = described {
        record.task = d.task_name();
        record.described = Some(d);
    }
    record.executor = config.executor;
    record.prompts = args.prompts.clone();
    record.hide_fitness = args.hide_fitness;
    record.render = !args.no_render;
    record.feedback = match (args.feedback.map(FeedbackMode::from), &args.feedback_file) {
        (Some(FeedbackMode::Auto), Some(_)) => {
            return Err(CliError::usage(anyhow!(
                "--feedback-file gives human answers: use it with --feedback human"
            )));
        }
        (Some(mode), _) => mode,
        (None, Some(_)) => FeedbackMode::Human,
        (None, None) => FeedbackMode::Auto,
    };
    if let Some(f) = &args.feedback_file {
        // Stored absolute, so `resume` finds it from any folder.
        let path = std::path::absolute(f).unwrap_or_else(|_| f.clone());
        record.feedback_file = Some(path);
    }
    if record.feedback == FeedbackMode::Human && record.llm.resolved_backend() == Backend::Builtin {
        eprintln!("{OFFLINE_FEEDBACK_NOTE}");
    }
    Ok(record)
}

/// Where human answers come from: the feedback file, else piped standard
/// input, else the terminal. On `resume` (`strict == false`) a feedback file
/// that has gone falls back to the others (answers already given are
/// replayed from the run folder).
fn feedback_source(
    record: &RunRecord,
    json: bool,
    strict: bool,
) -> Result<Option<Box<dyn FeedbackSource>>, CliError> {
    if record.feedback != FeedbackMode::Human {
        return Ok(None);
    }
    if let Some(f) = &record.feedback_file
        && (strict || f.exists())
    {
        let source = JsonLinesFeedback::open(f).map_err(CliError::usage)?;
        return Ok(Some(Box::new(source)));
    }
    if std::io::stdin().is_terminal() {
        Ok(Some(Box::new(TerminalFeedback { show_table: json })))
    } else {
        Ok(Some(Box::new(JsonLinesFeedback::stdin())))
    }
}

/// On Ctrl-C (or SIGTERM): let the file being written finish, say how to
/// continue, and exit with 130 — the run folder stays resumable.
fn stop_cleanly_on_interrupt(dir: &Path) {
    let dir = dir.to_path_buf();
    // Only fails when a handler is already set (a second run in one process).
    let _ = ctrlc::set_handler(move || {
        let _no_more_writes = crate::search::quiesce();
        crate::search::cancel_active_jobs();
        eprintln!(
            "\ninterrupted: every finished step is saved in {0}; continue with `rewardsmith resume {0}`",
            dir.display()
        );
        std::process::exit(130);
    });
}

fn search_and_report(
    registry: &Registry,
    store: &crate::search::RunStore,
    record: &RunRecord,
    feedback: Option<&mut dyn FeedbackSource>,
    json: bool,
    mode: Option<ProgressMode>,
) -> Result<(), CliError> {
    stop_cleanly_on_interrupt(store.root());
    if !json {
        eprintln!(
            "report: {} (rewritten after every finished candidate; open it while the search runs)",
            store.root().join(files::REPORT_HTML).display()
        );
    }
    let progress: Box<dyn RunProgress> = match mode {
        Some(ProgressMode::Json) => Box::new(JsonProgress::new(store.started())),
        Some(ProgressMode::Plain) => Box::new(PlainProgress::new()),
        // Bars would garble the questions of the human-feedback mode: plain
        // lines then.
        _ if record.feedback == FeedbackMode::Human && !json => Box::new(PlainProgress::new()),
        _ => progress::for_stderr(json),
    };
    let result = run_search_with(registry, store, record, feedback, progress.as_ref());
    progress.finished();
    // The person's answers are input: a bad one is a usage error (exit 2);
    // the mapping is `CliError`'s `From<Error>`.
    let summary = result?;
    finish(&summary, record, json)
}

pub(crate) fn resume(
    registry: &Registry,
    dir: &Path,
    json: bool,
    mode: Option<ProgressMode>,
) -> Result<(), CliError> {
    let (store, record) = open_run(dir)?;
    let mut source = feedback_source(&record, json, false)?;
    store
        .event(&crate::events::RunEvent::RunStarted {
            task: record.task.clone(),
            resumed: true,
        })
        .map_err(CliError::failure)?;
    search_and_report(
        registry,
        &store,
        &record,
        source.as_mut().map(|s| &mut **s as &mut dyn FeedbackSource),
        json,
        mode,
    )
}

pub(crate) fn eval_candidate(
    registry: &Registry,
    args: &EvalCandidateArgs,
) -> Result<(), CliError> {
    let spec: CandidateSpec = read_json(&args.spec)
        .map_err(CliError::usage)?
        .ok_or_else(|| CliError::usage(anyhow!("{} does not exist", args.spec.display())))?;
    let augmented;
    let registry = match &spec.described {
        Some(d) if d.task_name() == spec.task => {
            augmented = d.register(registry).map_err(CliError::usage)?;
            &augmented
        }
        Some(d) => {
            return Err(CliError::usage(anyhow!(
                "{}: `task` is `{}` but the described task is named `{}`",
                args.spec.display(),
                spec.task,
                d.task_name()
            )));
        }
        None => registry,
    };
    registry.task(&spec.task)?;
    let outcome = evaluate_candidate(registry, &spec, &args.out)?;
    write_json(&args.out.join(files::RESULT), &outcome).map_err(CliError::failure)?;
    let value = serde_json::json!({
        "out_dir": args.out,
        "fitness": outcome.fitness(),
        "failure": outcome.failure(),
    });
    print_json(&value);
    if outcome.fitness().is_none() {
        return Err(CliError::failure(anyhow!(
            "the candidate failed: {}",
            outcome.failure().unwrap_or_default()
        )));
    }
    Ok(())
}
