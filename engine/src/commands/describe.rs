//! `rewardsmith describe TASK`: the text a reward author reads.

use super::CliError;
use super::print_json;
use rewardsmith_core::Registry;
use serde_json::json;

pub(crate) fn run(registry: &Registry, name: &str, as_json: bool) -> Result<(), CliError> {
    let task = registry.task(name)?;
    if as_json {
        let spec = task.env_spec();
        print_json(&json!({
            "task": task.name,
            "env": task.env,
            "description": task.describe(),
            "fields": spec.state.fields(),
            "fitness": task.fitness.doc,
            "human_reward": task.human_reward.as_ref().map(|r| &r.path),
            "sparse_reward": task.sparse_reward.as_ref().map(|r| &r.path),
        }));
    } else {
        print!("{}", task.describe());
    }
    Ok(())
}
