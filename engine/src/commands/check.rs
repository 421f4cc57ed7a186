//! `rewardsmith check --task T FILE`: compile and dry-run a reward program.
//! The human output shows the program's words (component names, errors,
//! printed text) through [`terminal_safe`]; `--json` keeps them exact.

use super::CliError;
use super::print_json;
use crate::cli::CheckArgs;
use crate::progress::terminal_safe;
use anyhow::anyhow;
use rewardsmith_core::Registry;
use rewardsmith_envs::rollout::sample_states;
use rewardsmith_sandbox::{Limits, ProgramSource, check_source};

/// Reward-state pairs the dry run evaluates: a few random-policy episodes' worth.
pub(crate) const DRY_RUN_PAIRS: usize = 512;

pub(crate) fn run(registry: &Registry, args: &CheckArgs) -> Result<(), CliError> {
    let task = registry.task(&args.task)?;
    let source = ProgramSource::from_path(&args.file).map_err(CliError::usage)?;
    // The env's own cost per step on this machine, for judging the program's
    // (sampling steps the env DRY_RUN_PAIRS times, resets included).
    let started = std::time::Instant::now();
    let samples = sample_states(task, DRY_RUN_PAIRS, args.seed);
    let env_step_us = started.elapsed().as_secs_f64() * 1e6 / samples.len().max(1) as f64;
    let mut report = check_source(
        &source,
        &task.env_spec().state,
        &samples,
        &Limits::default(),
    );
    report.judge_cost(env_step_us);
    if args.json {
        print_json(&serde_json::to_value(&report).map_err(CliError::failure)?);
    } else {
        for e in &report.errors {
            println!("error: {}", terminal_safe(&e.to_string()));
        }
        for w in &report.warnings {
            println!("warning: {}", terminal_safe(&w.message));
        }
        if !report.components.is_empty() {
            println!(
                "{:<20} {:>12} {:>12} {:>12} {:>12}",
                "component", "mean", "std", "min", "max"
            );
            for c in &report.components {
                println!(
                    "{:<20} {:>12.4} {:>12.4} {:>12.4} {:>12.4}",
                    terminal_safe(&c.name),
                    c.mean,
                    c.std,
                    c.min,
                    c.max
                );
            }
        }
        if report.calls > 0 {
            println!(
                "cost: {:.1} µs per call on average, {:.1} µs at worst, over {} calls; one env \
                 step costs {env_step_us:.1} µs here",
                report.call_us_mean, report.call_us_max, report.calls
            );
        }
        println!(
            "{}: {} for `{}` ({} dry-run steps)",
            args.file.display(),
            if report.ok { "usable" } else { "NOT usable" },
            task.name,
            samples.len()
        );
    }
    if report.ok {
        Ok(())
    } else {
        Err(CliError::failure(anyhow!(
            "{} is not usable for `{}`",
            args.file.display(),
            task.name
        )))
    }
}
