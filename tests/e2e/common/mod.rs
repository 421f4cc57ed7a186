//! What the learning tests share: training a task's human-written reward
//! through the public API and evaluating the policy on fresh episodes.

use rewardsmith_envs::registry;
use rewardsmith_rl::{PpoConfig, Progress, evaluate, train};
use rewardsmith_sandbox::{Limits, ProgramSource, compile};
use std::time::Instant;

/// What one training of a human-written reward gave.
pub struct Learned {
    /// The reward's component names, in order.
    pub components: Vec<String>,
    /// The checkpoints' fitness, in order.
    pub curve: Vec<f64>,
    /// The best checkpoint's mean fitness over 64 fresh evaluation episodes.
    pub eval: f64,
}

/// Trains `task_name` on its human-written reward (the shipped Rhai program,
/// compiled by the sandbox) for `budget` env steps with seed 0 on two threads,
/// then evaluates the best checkpoint over 64 episodes. Training gives the
/// same policy on any thread count.
pub fn train_human(task_name: &str, budget: u64) -> Learned {
    let registry = registry();
    let task = registry.task(task_name).unwrap();
    let human = task
        .human_reward
        .as_ref()
        .unwrap_or_else(|| panic!("{task_name} ships a human reward"));
    let source = ProgramSource::Rhai(human.source.to_string());
    let reward = compile(&source, &task.env_spec().state, &Limits::default()).unwrap();
    let config = PpoConfig {
        total_timesteps: budget,
        ..PpoConfig::for_task(task)
    };
    let start = Instant::now();
    let trained = train(task, reward.as_ref(), &config, 0, 2, &mut |_: &Progress| {}).unwrap();
    let eval = evaluate(task, &trained.policy, 64, 1, 2).unwrap();
    let curve = trained.report.fitness_curve();
    eprintln!(
        "{task_name}: checkpoints {curve:?}, evaluation {:.3} over 64 episodes, {:.0} s",
        eval.mean,
        start.elapsed().as_secs_f64()
    );
    Learned {
        components: trained.report.components.clone(),
        curve,
        eval: eval.mean,
    }
}
