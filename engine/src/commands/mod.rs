//! One module per subcommand; [`run`] dispatches.

mod check;
mod describe;
mod envs;
mod render;
mod rollout;
mod run;
mod train;

use crate::cli::{Cli, Command};
use crate::error::CliError;
use rewardsmith_core::Registry;

/// Runs the parsed command line against `registry`.
///
/// # Errors
/// A [`CliError`] with the exit code the failure implies.
pub fn run(cli: Cli, registry: &Registry) -> Result<(), CliError> {
    match cli.command {
        Command::Envs { json } => envs::run(registry, json),
        Command::Describe { task, json } => describe::run(registry, &task, json),
        Command::Rollout(args) => rollout::run(registry, &args),
        Command::Check(args) => check::run(registry, &args),
        Command::Train(args) => train::run(registry, &args),
        Command::Run(args) => run::run(registry, &args),
        Command::Resume {
            dir,
            json,
            progress,
        } => run::resume(registry, &dir, json, progress),
        Command::Report { dir } => report(registry, &dir),
        Command::EvalCandidate(args) => run::eval_candidate(registry, &args),
        Command::Render(args) => render::run(registry, &args),
    }
}

/// `rewardsmith report DIR`: rewrites the reports from the run folder.
fn report(registry: &Registry, dir: &std::path::Path) -> Result<(), CliError> {
    use crate::search::{open_run, read_json, write_reports};
    let (store, record) = open_run(dir).map_err(CliError::usage)?;
    let augmented;
    let registry = match &record.described {
        Some(d) => {
            augmented = d
                .with_stored_fitness(dir)
                .and_then(|d| d.register(registry))
                .map_err(CliError::usage)?;
            &augmented
        }
        None => registry,
    };
    let task = registry.task(&record.task)?;
    let summary: crate::search::RunSummary = read_json(&dir.join("summary.json"))
        .map_err(CliError::usage)?
        .ok_or_else(|| {
            CliError::usage(anyhow::anyhow!(
                "{} has no summary.json yet: finish it with `rewardsmith resume {}`",
                dir.display(),
                dir.display()
            ))
        })?;
    write_reports(&store, task, &record, &summary).map_err(CliError::failure)?;
    println!("{}", dir.join("report.html").display());
    Ok(())
}

/// The worker count `--threads` asks for (all cores when `None`).
pub(crate) fn thread_count(threads: Option<usize>) -> Result<usize, CliError> {
    match threads {
        Some(0) => Err(CliError::usage(anyhow::anyhow!(
            "--threads must be at least 1"
        ))),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, usize::from)),
    }
}

/// A rayon pool with `threads` workers (all cores when `None`).
pub(crate) fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool, CliError> {
    let n = thread_count(threads)?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| CliError::failure(anyhow::anyhow!("cannot start {n} worker threads: {e}")))
}

/// Whether a command has printed its JSON object (a failing `check --json`
/// prints its report, then fails): the error then adds no second object.
static JSON_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prints one JSON object on stdout.
pub(crate) fn print_json(value: &serde_json::Value) {
    println!("{value}");
    JSON_PRINTED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether this process has printed a command's JSON object on stdout.
#[must_use]
pub fn json_printed() -> bool {
    JSON_PRINTED.load(std::sync::atomic::Ordering::Relaxed)
}
