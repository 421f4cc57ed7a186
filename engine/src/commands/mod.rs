//! One module per subcommand; [`run`] dispatches.

mod check;
mod describe;
mod envs;
mod exit;
mod render;
mod rollout;
mod run;
mod train;

use crate::cli::{Cli, Command};
pub use exit::{CliError, ExitCode};
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
        Command::Run(args) => {
            // The prompt folder is read (and refused) before any run folder
            // is made: an input error, not a failed run.
            crate::prompts::Prompts::load(args.prompts.as_deref()).map_err(CliError::usage)?;
            run::run(registry, &args)
        }
        Command::Resume {
            dir,
            json,
            progress,
        } => run::resume(registry, &dir, json, progress),
        Command::Report { dir } => report(registry, &dir),
        Command::EvalCandidate(args) => {
            // Only a regular file of sane size is read as a spec (a FIFO would
            // hang, /dev/zero would fill memory).
            crate::user_file::check_user_file(&args.spec, MAX_SPEC_BYTES, "candidate spec")
                .map_err(|e| {
                    CliError::usage(anyhow::anyhow!(
                        "cannot read candidate spec {}: {e}",
                        args.spec.display()
                    ))
                })?;
            run::eval_candidate(registry, &args)
        }
        Command::Render(args) => render::run(registry, &args),
    }
}

/// Largest candidate spec `eval-candidate` reads, in bytes: 16 MiB (a spec
/// holds one reward program, a few kilobytes, and settings).
pub const MAX_SPEC_BYTES: u64 = 16 << 20;

/// `rewardsmith report DIR`: rewrites the reports from the run folder.
fn report(registry: &Registry, dir: &std::path::Path) -> Result<(), CliError> {
    use crate::search::{open_run, read_json, write_reports};
    let (store, record) = open_run(dir)?;
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
    write_reports(&store, task, &record, &summary)?;
    println!("{}", dir.join("report.html").display());
    Ok(())
}

/// The worker count `--threads` asks for (all cores when `None`), from 1 to
/// [`SearchConfig::max_threads`](crate::search::SearchConfig::max_threads).
pub(crate) fn thread_count(threads: Option<usize>) -> Result<usize, CliError> {
    let max = crate::search::SearchConfig::max_threads();
    match threads {
        Some(n) if n == 0 || n > max => Err(CliError::usage(anyhow::anyhow!(
            "--threads {n}: must be from 1 to {max} ({} × the {} cores here)",
            crate::search::SearchConfig::THREADS_PER_CORE,
            max / crate::search::SearchConfig::THREADS_PER_CORE
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
