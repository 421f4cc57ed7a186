//! `rewardsmith envs`: the environments and their tasks.

use super::CliError;
use super::print_json;
use rewardsmith_core::Registry;
use serde_json::json;

pub(crate) fn run(registry: &Registry, as_json: bool) -> Result<(), CliError> {
    if as_json {
        let tasks: Vec<_> = registry
            .tasks()
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "env": t.env,
                    "description": t.description,
                    "episode_steps": t.episode_steps,
                    "fitness": t.fitness.doc,
                    "obs_dim": t.env_spec().obs_dim,
                    "action_dim": t.env_spec().action_dim,
                })
            })
            .collect();
        print_json(&json!({ "envs": registry.env_names(), "tasks": tasks }));
        return Ok(());
    }
    for env in registry.env_names() {
        let tasks: Vec<_> = registry.tasks().iter().filter(|t| t.env == env).collect();
        if let Some(first) = tasks.first() {
            let spec = first.env_spec();
            println!(
                "{env}  (obs {}, actions {}, {} s per step)",
                spec.obs_dim, spec.action_dim, spec.dt
            );
        }
        for t in tasks {
            println!("  {:<22} {}", t.name, t.description);
            println!("  {:<22} fitness: {}", "", t.fitness.doc);
        }
    }
    Ok(())
}
