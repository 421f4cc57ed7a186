//! `rewardsmith check --task T FILE`: compile and dry-run a reward program.

use super::print_json;
use crate::cli::CheckArgs;
use crate::error::CliError;
use anyhow::anyhow;
use rewardsmith_core::Registry;
use rewardsmith_envs::rollout::sample_states;
use rewardsmith_sandbox::{Limits, ProgramSource, check_source};

/// Reward-state pairs the dry run evaluates: a few random-policy episodes' worth.
pub(crate) const DRY_RUN_PAIRS: usize = 512;

pub(crate) fn run(registry: &Registry, args: &CheckArgs) -> Result<(), CliError> {
    let task = registry.task(&args.task)?;
    let source = ProgramSource::from_path(&args.file).map_err(CliError::usage)?;
    let samples = sample_states(task, DRY_RUN_PAIRS, args.seed);
    let report = check_source(
        &source,
        &task.env_spec().state,
        &samples,
        &Limits::default(),
    );
    if args.json {
        print_json(&serde_json::to_value(&report).map_err(CliError::failure)?);
    } else {
        for e in &report.errors {
            println!("error: {e}");
        }
        for w in &report.warnings {
            println!("warning: {}", w.message);
        }
        if !report.components.is_empty() {
            println!(
                "{:<20} {:>12} {:>12} {:>12} {:>12}",
                "component", "mean", "std", "min", "max"
            );
            for c in &report.components {
                println!(
                    "{:<20} {:>12.4} {:>12.4} {:>12.4} {:>12.4}",
                    c.name, c.mean, c.std, c.min, c.max
                );
            }
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
