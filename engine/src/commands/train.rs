//! `rewardsmith train`: PPO on one reward program, with a progress bar, streamed
//! metrics, a saved policy and a JSON summary.

use super::{print_json, thread_count};
use crate::cli::TrainArgs;
use crate::error::CliError;
use anyhow::anyhow;
use indicatif::{ProgressBar, ProgressStyle};
use rewardsmith_core::{Registry, Task};
use rewardsmith_envs::rollout::sample_states;
use rewardsmith_rl::{MetricsWriter, PpoConfig, PpoOverrides, Progress, train};
use rewardsmith_sandbox::{Limits, ProgramSource, check_source, compile_with_sample};
use serde::Deserialize;
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Resolves `--reward`: `human` and `sparse` name the task's own baselines,
/// anything else is a file.
pub(crate) fn reward_source(task: &Task, reward: &str) -> Result<ProgramSource, CliError> {
    match reward {
        "human" | "sparse" => {
            let baseline = if reward == "human" {
                &task.human_reward
            } else {
                &task.sparse_reward
            };
            baseline
                .as_ref()
                .map(|r| ProgramSource::Rhai(r.source.to_string()))
                .ok_or_else(|| {
                    CliError::usage(anyhow!(
                        "task `{}` ships no {reward} reward: pass a reward program file",
                        task.name
                    ))
                })
        }
        path => ProgramSource::from_path(Path::new(path)).map_err(CliError::usage),
    }
}

/// Writes `bytes` to `path` atomically (temporary file, then rename).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| anyhow!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}

/// Parses `--ppo NAME=VALUE` settings (values in TOML syntax) into overrides;
/// an unknown name or a value of the wrong type is a usage error naming it.
fn ppo_overrides(settings: &[String]) -> Result<PpoOverrides, CliError> {
    let mut table = toml::Table::new();
    for setting in settings {
        let Some((name, value)) = setting.split_once('=') else {
            return Err(CliError::usage(anyhow!(
                "--ppo `{setting}`: expected NAME=VALUE, e.g. --ppo learning_rate=1e-4"
            )));
        };
        let name = name.trim();
        let value: toml::Value = format!("v = {}", value.trim())
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .ok_or_else(|| {
                CliError::usage(anyhow!(
                    "--ppo `{setting}`: `{}` is not a TOML value (numbers, true/false, [64, 64])",
                    value.trim()
                ))
            })?;
        table.insert(name.to_string(), value);
    }
    PpoOverrides::deserialize(table).map_err(|e| {
        CliError::usage(anyhow!(
            "--ppo: {}",
            e.to_string().trim().replace('\n', " ")
        ))
    })
}

pub(crate) fn run(registry: &Registry, args: &TrainArgs) -> Result<(), CliError> {
    let task = registry.task(&args.task)?;
    let source = reward_source(task, &args.reward)?;
    let spec = &task.env_spec().state;
    let limits = Limits::default();
    let samples = sample_states(task, 256, args.seed);
    let checked = check_source(&source, spec, &samples, &limits);
    if !checked.ok {
        let errors: Vec<String> = checked.errors.iter().map(ToString::to_string).collect();
        return Err(CliError::failure(anyhow!(
            "reward `{}` is not usable for `{}`:\n  {}",
            args.reward,
            task.name,
            errors.join("\n  ")
        )));
    }
    let probe = samples.first().map(|(p, s)| (p.as_slice(), s.as_slice()));
    let program = compile_with_sample(&source, spec, &limits, probe)
        .map_err(|e| CliError::failure(anyhow!("reward `{}`: {e}", args.reward)))?;
    let mut overrides = ppo_overrides(&args.ppo)?;
    if args.steps.is_some() {
        overrides.total_timesteps = args.steps;
    }
    let config = PpoConfig::for_task(task).with_overrides(&overrides);
    config.validate().map_err(CliError::usage)?;
    let threads = thread_count(args.threads)?;
    let out_dir = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!("train-{}-seed{}", task.name, args.seed))
    });
    std::fs::create_dir_all(&out_dir).map_err(|e| {
        CliError::usage(anyhow!(
            "cannot create output folder {}: {e}",
            out_dir.display()
        ))
    })?;
    let reward_file = match &source {
        ProgramSource::Rhai(text) => ("reward.rhai", text.as_bytes().to_vec()),
        ProgramSource::Wat(text) => ("reward.wat", text.as_bytes().to_vec()),
        ProgramSource::Wasm(bytes) => ("reward.wasm", bytes.clone()),
    };
    write_atomic(&out_dir.join(reward_file.0), &reward_file.1).map_err(CliError::usage)?;
    let mut metrics =
        MetricsWriter::create(&out_dir, program.components()).map_err(CliError::usage)?;

    let bar = if std::io::stderr().is_terminal() && !args.json {
        let bar = ProgressBar::new(config.total_timesteps);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {human_pos}/{human_len} steps  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Some(bar)
    } else {
        None
    };
    let mut write_error = None;
    let mut observer = |p: &Progress| {
        if let Some(bar) = &bar {
            bar.set_position(p.env_steps);
        }
        if let Some(cp) = &p.checkpoint {
            if let Err(e) = metrics.write(cp) {
                write_error.get_or_insert(e);
            }
            let line = format!(
                "{} steps: fitness {:.4}, episode return {:.2}, length {:.0}",
                cp.env_steps, cp.fitness, cp.episode_return, cp.episode_length
            );
            match &bar {
                Some(bar) => bar.set_message(line),
                None if !args.json => eprintln!("{line}"),
                None => {}
            }
        }
    };
    let trained = train(
        task,
        program.as_ref(),
        &config,
        args.seed,
        threads,
        &mut observer,
    )
    .map_err(|e| CliError::failure(anyhow!("training `{}` failed: {e}", task.name)))?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(e) = write_error {
        return Err(CliError::failure(anyhow!("cannot write metrics: {e}")));
    }
    trained
        .policy
        .save(&out_dir)
        .map_err(|e| CliError::failure(anyhow!("cannot save the policy: {e}")))?;
    let report = &trained.report;
    let summary = json!({
        "task": task.name,
        "reward": args.reward,
        "seed": args.seed,
        "threads": threads,
        "ppo": config,
        "env_steps": report.env_steps,
        "fitness": report.final_fitness,
        "fitness_max": report.max_fitness,
        "fitness_curve": report.fitness_curve(),
        "components": report.component_curves(),
        "episode_return_curve": report.episode_return_curve(),
        "episode_length_curve": report.episode_length_curve(),
        "wall_s": report.wall_s,
        "env_steps_per_sec": report.env_steps_per_sec,
        "timing": trained.timing,
        "learner_fraction": trained.timing.learner_fraction(),
        "out_dir": out_dir,
    });
    let pretty = serde_json::to_vec_pretty(&summary).map_err(CliError::failure)?;
    write_atomic(&out_dir.join("report.json"), &pretty).map_err(CliError::failure)?;
    if args.json {
        print_json(&summary);
    } else {
        println!(
            "{}: fitness {:.4} (max {:.4}) after {} env steps in {:.1} s ({:.0} steps/s, learner {:.0}%)",
            task.name,
            report.final_fitness,
            report.max_fitness,
            report.env_steps,
            report.wall_s,
            report.env_steps_per_sec,
            100.0 * trained.timing.learner_fraction()
        );
        println!("policy and metrics in {}", out_dir.display());
    }
    Ok(())
}
