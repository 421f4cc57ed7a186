//! `rewardsmith rollout`: episodes with a fixed policy, fitness and throughput.

use super::CliError;
use super::{print_json, thread_pool};
use crate::cli::RolloutArgs;
use anyhow::anyhow;
use rewardsmith_core::Registry;
use rewardsmith_envs::rollout::{
    Controller, ControllerFactory, RandomController, ZeroController, run_episodes,
};
use rewardsmith_rl::Policy;
use serde_json::json;
use std::path::Path;

/// A trained policy's deterministic actions.
struct PolicyController(Policy);

impl Controller for PolicyController {
    fn act(&mut self, obs: &[f32], action: &mut [f32]) {
        self.0.act(obs, action);
    }
}

pub(crate) fn run(registry: &Registry, args: &RolloutArgs) -> Result<(), CliError> {
    let task = registry.task(&args.task)?;
    if args.episodes == 0 {
        return Err(CliError::usage(anyhow!("--episodes must be at least 1")));
    }
    let factory: Box<ControllerFactory<'_>> = match args.policy.as_str() {
        "random" => Box::new(|seed| Box::new(RandomController::new(seed)) as Box<dyn Controller>),
        "zero" => Box::new(|_| Box::new(ZeroController) as Box<dyn Controller>),
        path if Path::new(path).exists() => {
            let policy = Policy::load(Path::new(path)).map_err(CliError::usage)?;
            policy.check_task(task).map_err(CliError::usage)?;
            Box::new(move |_| Box::new(PolicyController(policy.clone())) as Box<dyn Controller>)
        }
        other => {
            return Err(CliError::usage(anyhow!(
                "unknown policy `{other}`: use `random`, `zero`, or the path of a saved policy \
                 (a folder with policy.json and policy.safetensors)"
            )));
        }
    };
    let pool = thread_pool(args.threads)?;
    let threads = pool.current_num_threads();
    let report = pool
        .install(|| run_episodes(task, args.episodes, args.seed, factory.as_ref(), None))
        .map_err(|e| CliError::failure(anyhow!("reward program failed: {e}")))?;
    if args.json {
        print_json(&json!({
            "task": task.name,
            "policy": args.policy,
            "seed": args.seed,
            "episodes": args.episodes,
            "env_steps": report.env_steps,
            "fitness_mean": report.fitness_mean(),
            "fitness_std": report.fitness_std(),
            "episode_length_mean": report.length_mean(),
            "fitness": report.episodes.iter().map(|e| e.fitness).collect::<Vec<_>>(),
            "threads": threads,
            "wall_s": report.wall_s,
            "env_steps_per_sec": report.env_steps_per_sec,
        }));
    } else {
        println!(
            "{}: {} episodes, policy {}, fitness {:.4} ± {:.4} ({}), mean length {:.1} steps",
            task.name,
            args.episodes,
            args.policy,
            report.fitness_mean(),
            report.fitness_std(),
            task.fitness.doc,
            report.length_mean()
        );
        println!(
            "{} env steps in {:.2} s on {threads} threads: {:.0} env steps/s",
            report.env_steps, report.wall_s, report.env_steps_per_sec
        );
    }
    Ok(())
}
