//! `rewardsmith train`: PPO on one reward program, with a progress bar, streamed
//! metrics, a saved policy and a JSON summary.

use super::CliError;
use super::{print_json, thread_count};
use crate::cli::TrainArgs;
use crate::search::{SearchConfig, files, write_atomic};
use crate::training::{TrainError, TrainRequest, TrainedReward, train_reward};
use anyhow::anyhow;
use indicatif::{ProgressBar, ProgressStyle};
use rewardsmith_core::{Registry, Task};
use rewardsmith_rl::{PpoConfig, PpoOverrides, Progress};
use rewardsmith_sandbox::ProgramSource;
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

/// Parses `--ppo NAME=VALUE` settings (values in TOML syntax) into overrides;
/// an unknown name (the message lists the known ones), a value of the wrong
/// type or outside its range, or a setting of more than one line is a usage
/// error naming it, and then none of the settings is applied.
fn ppo_overrides(settings: &[String]) -> Result<PpoOverrides, CliError> {
    let mut table = toml::Table::new();
    for setting in settings {
        if setting.chars().any(char::is_control) {
            return Err(CliError::usage(anyhow!(
                "--ppo {:?}: a setting is one NAME=VALUE on one line; none of the --ppo settings was applied",
                setting
            )));
        }
        let Some((name, value)) = setting.split_once('=') else {
            return Err(CliError::usage(anyhow!(
                "--ppo `{setting}`: expected NAME=VALUE, e.g. --ppo learning_rate=1e-4"
            )));
        };
        let name = name.trim();
        let value: toml::Value = format!("v = {}", value.trim())
            .parse::<toml::Table>()
            .ok()
            .filter(|t| t.len() == 1)
            .and_then(|mut t| t.remove("v"))
            .ok_or_else(|| {
                CliError::usage(anyhow!(
                    "--ppo `{setting}`: `{}` is not a TOML value (numbers, true/false, [64, 64])",
                    value.trim()
                ))
            })?;
        table.insert(name.to_string(), value);
    }
    let overrides = PpoOverrides::deserialize(table).map_err(|e| {
        CliError::usage(anyhow!(
            "--ppo: {}",
            e.to_string().trim().replace('\n', " ")
        ))
    })?;
    check_ppo_ranges(&overrides)?;
    Ok(overrides)
}

/// Upper bounds of the `--ppo` sizes, so a typo cannot ask for terabytes:
/// `(name, most)`. `total_timesteps` shares `--steps`' bound.
const PPO_COUNT_BOUNDS: [(&str, usize); 6] = [
    ("num_envs", 1024),
    ("num_steps", 100_000),
    ("num_minibatches", 65_536),
    ("update_epochs", 1000),
    ("checkpoints", 10_000),
    ("eval_episodes", 10_000),
];

/// Widest hidden layer and most hidden layers `--ppo hidden=[…]` may ask for.
const PPO_MAX_WIDTH: usize = 4096;
const PPO_MAX_LAYERS: usize = 16;

/// The ranges `PpoConfig::validate` does not know: sizes with an upper bound,
/// and `target_kl` (0 switches the early stop off; a negative one used to be
/// taken silently for 0).
fn check_ppo_ranges(o: &PpoOverrides) -> Result<(), CliError> {
    let bad = |name: &str, value: &dyn std::fmt::Display, range: String| {
        Err(CliError::usage(anyhow!(
            "--ppo {name}={value}: must be {range}"
        )))
    };
    let counts = [
        o.num_envs,
        o.num_steps,
        o.num_minibatches,
        o.update_epochs,
        o.checkpoints,
        o.eval_episodes,
    ];
    for ((name, most), value) in PPO_COUNT_BOUNDS.iter().zip(counts) {
        if let Some(v) = value
            && !(1..=*most).contains(&v)
        {
            return bad(name, &v, format!("a whole number from 1 to {most}"));
        }
    }
    if let Some(v) = o.total_timesteps
        && !(1..=SearchConfig::MAX_STEPS).contains(&v)
    {
        return bad(
            "total_timesteps",
            &v,
            format!("a whole number from 1 to {}", SearchConfig::MAX_STEPS),
        );
    }
    if let Some(v) = o.target_kl
        && !(v.is_finite() && v >= 0.0)
    {
        return bad(
            "target_kl",
            &v,
            "a finite number ≥ 0 (0 switches the early stop off)".to_string(),
        );
    }
    if let Some(h) = &o.hidden
        && (h.len() > PPO_MAX_LAYERS || h.iter().any(|w| !(1..=PPO_MAX_WIDTH).contains(w)))
    {
        return bad(
            "hidden",
            &format!("{h:?}"),
            format!("at most {PPO_MAX_LAYERS} layers, each 1 to {PPO_MAX_WIDTH} wide"),
        );
    }
    Ok(())
}

pub(crate) fn run(registry: &Registry, args: &TrainArgs) -> Result<(), CliError> {
    let task = registry.task(&args.task)?;
    let source = reward_source(task, &args.reward)?;
    let mut overrides = ppo_overrides(&args.ppo)?;
    if args.steps.is_some() {
        overrides.total_timesteps = args.steps;
    }
    let config = PpoConfig::for_task(task).with_overrides(&overrides);
    config.validate().map_err(CliError::usage)?;
    let threads = thread_count(args.threads)?;
    let out_dir = out_folder(task, args)?;
    let request = TrainRequest {
        task,
        source: &source,
        overrides: &overrides,
        seed: args.seed,
        threads,
        out: Some(&out_dir),
    };
    let TrainedReward {
        config, trained, ..
    } = train_showing_progress(&request, config.total_timesteps, args.json)
        .map_err(|e| train_failure(e, args, task))?;
    let summary = summary_json(task, args, threads, &config, &trained, &out_dir);
    let pretty = serde_json::to_vec_pretty(&summary).map_err(CliError::failure)?;
    write_atomic(&out_dir.join(files::TRAIN_REPORT), &pretty).map_err(CliError::failure)?;
    if args.json {
        print_json(&summary);
    } else {
        print_summary(task, &trained, &out_dir);
    }
    Ok(())
}

/// The output folder (`--out`, else `runs/train-TASK-seedN`), created.
fn out_folder(task: &Task, args: &TrainArgs) -> Result<PathBuf, CliError> {
    let out_dir = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!("train-{}-seed{}", task.name, args.seed))
    });
    std::fs::create_dir_all(&out_dir).map_err(|e| {
        CliError::usage(anyhow!(
            "cannot create output folder {}: {e}",
            out_dir.display()
        ))
    })?;
    Ok(out_dir)
}

/// A progress bar of `total_timesteps` on a terminal (none under `--json` or
/// when stderr is piped).
fn progress_bar(total_timesteps: u64, json: bool) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || json {
        return None;
    }
    let bar = ProgressBar::new(total_timesteps);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:30}] {human_pos}/{human_len} steps  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    Some(bar)
}

/// Trains `request`, showing every checkpoint on the bar, else as a line on
/// stderr (nothing under `--json`).
fn train_showing_progress(
    request: &TrainRequest<'_>,
    total_timesteps: u64,
    json: bool,
) -> Result<TrainedReward, TrainError> {
    let bar = progress_bar(total_timesteps, json);
    let mut observer = |p: &Progress| {
        if let Some(bar) = &bar {
            bar.set_position(p.env_steps);
        }
        if let Some(cp) = &p.checkpoint {
            let line = format!(
                "{} steps: fitness {:.4}, episode return {:.2}, length {:.0}",
                cp.env_steps, cp.fitness, cp.episode_return, cp.episode_length
            );
            match &bar {
                Some(bar) => bar.set_message(line),
                None if !json => eprintln!("{line}"),
                None => {}
            }
        }
    };
    let result = train_reward(request, &mut observer);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    result
}

/// The command's error for a training that did not happen or did not finish.
fn train_failure(e: TrainError, args: &TrainArgs, task: &Task) -> CliError {
    match e {
        TrainError::Unusable(check) => CliError::failure(anyhow!(
            "reward `{}` is not usable for `{}`:\n  {}",
            args.reward,
            task.name,
            check
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n  ")
        )),
        TrainError::Settings(m) => CliError::usage(anyhow!("{m}")),
        TrainError::Failed(m) => CliError::failure(anyhow!("training `{}` failed: {m}", task.name)),
        TrainError::Io(e) => CliError::failure(e),
    }
}

/// The JSON summary (`train-report.json`, and stdout under `--json`).
fn summary_json(
    task: &Task,
    args: &TrainArgs,
    threads: usize,
    config: &PpoConfig,
    trained: &rewardsmith_rl::Trained,
    out_dir: &Path,
) -> serde_json::Value {
    let report = &trained.report;
    json!({
        "task": task.name,
        "reward": args.reward,
        "seed": args.seed,
        "threads": threads,
        "ppo": config,
        "env_steps": report.env_steps,
        "fitness": report.fitness(),
        "fitness_env_steps": report.fitness_env_steps(),
        "fitness_last": report.final_fitness,
        "fitness_max": report.max_fitness,
        "best_checkpoint": report.best,
        "fitness_curve": report.fitness_curve(),
        "components": report.component_curves(),
        "episode_return_curve": report.episode_return_curve(),
        "episode_length_curve": report.episode_length_curve(),
        "wall_s": report.wall_s,
        "env_steps_per_sec": report.env_steps_per_sec,
        "timing": trained.timing,
        "learner_fraction": trained.timing.learner_fraction(),
        "out_dir": out_dir,
    })
}

/// The summary for people.
fn print_summary(task: &Task, trained: &rewardsmith_rl::Trained, out_dir: &Path) {
    let report = &trained.report;
    println!(
        "{}: fitness {:.4} (best checkpoint, at step {}, on {} held-out episodes; last \
         checkpoint {:.4}) after {} env steps in {:.1} s ({:.0} steps/s, learner {:.0}%)",
        task.name,
        report.fitness(),
        report.fitness_env_steps(),
        report.best.as_ref().map_or(0, |b| b.episodes),
        report.final_fitness,
        report.env_steps,
        report.wall_s,
        report.env_steps_per_sec,
        100.0 * trained.timing.learner_fraction()
    );
    println!("policy and metrics in {}", out_dir.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(settings: &[&str]) -> String {
        let settings: Vec<String> = settings.iter().map(ToString::to_string).collect();
        ppo_overrides(&settings).unwrap_err().to_string()
    }

    #[test]
    fn a_multi_line_setting_is_refused_whole() {
        let m = message(&["target_kl=1\nlearning_rate=7"]);
        assert!(
            m.contains("one line") && m.contains("none of the --ppo"),
            "{m}"
        );
    }

    #[test]
    fn out_of_range_settings_name_their_range() {
        let m = message(&["target_kl=-1"]);
        assert!(
            m.contains("--ppo target_kl=-1: must be a finite number ≥ 0"),
            "{m}"
        );
        let m = message(&["num_envs=1000000"]);
        assert!(m.contains("from 1 to 1024"), "{m}");
        let m = message(&["hidden=[100000]"]);
        assert!(m.contains("hidden"), "{m}");
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let m = message(&["lr=1"]);
        assert!(
            m.contains("`lr`") && m.contains("learning_rate") && m.contains("target_kl"),
            "{m}"
        );
    }

    #[test]
    fn good_settings_apply() {
        let o = ppo_overrides(&["target_kl=0".to_string(), "hidden=[64, 64]".to_string()]).unwrap();
        assert_eq!(o.target_kl, Some(0.0));
        assert_eq!(o.hidden, Some(vec![64, 64]));
    }
}
