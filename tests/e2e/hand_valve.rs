//! The hand learns to turn a valve with its human reward through the public
//! API: PPO with a fixed seed and a small budget turns the valve to a random
//! target (within 0.1 rad at the episode's end) in a good share of 64 fresh
//! evaluation episodes, and spins it counter-clockwise well above what random
//! actions do. A broken env (a valve that fingers cannot reach or that turns by
//! itself), a broken reward or a broken trainer misses these thresholds.

use rewardsmith_envs::registry;
use rewardsmith_rl::{PpoConfig, Progress, evaluate, train};
use rewardsmith_sandbox::{Limits, ProgramSource, compile};
use std::time::Instant;

/// Trains `task_name` on its human reward for `budget` steps with seed 0 and
/// returns the checkpoints' fitness and the 64-episode evaluation.
fn train_human(task_name: &str, budget: u64) -> (Vec<f64>, f64) {
    let registry = registry();
    let task = registry.task(task_name).unwrap();
    let human = task.human_reward.as_ref().unwrap();
    let source = ProgramSource::Rhai(human.source.to_string());
    let reward = compile(&source, &task.env_spec().state, &Limits::default()).unwrap();
    let config = PpoConfig {
        total_timesteps: budget,
        ..PpoConfig::for_task(task)
    };
    let start = Instant::now();
    let trained = train(task, reward.as_ref(), &config, 0, 2, &mut |_: &Progress| {}).unwrap();
    let eval = evaluate(task, &trained.policy, 64, 1, 2).unwrap();
    let curve: Vec<f64> = trained.report.fitness_curve();
    eprintln!(
        "{task_name}: checkpoints {curve:?}, evaluation {:.3} over 64 episodes, {:.0} s",
        eval.mean,
        start.elapsed().as_secs_f64()
    );
    (curve, eval.mean)
}

/// 1M steps, seed 0: the evaluation below measured 0.47 (random actions: 0.02
/// of 128 episodes; the task's 3M budget reaches 0.92–1.0). Training gives
/// the same policy on any thread count; the margin absorbs floating-point
/// differences between machines.
const TURN_BUDGET: u64 = 1_000_000;

#[test]
fn ppo_learns_hand_valve_turn_with_the_human_reward() {
    let (curve, eval) = train_human("hand-valve-turn", TURN_BUDGET);
    assert!(curve[0] < 0.2, "{curve:?}");
    assert!(
        eval >= 0.3,
        "success rate {eval} after {TURN_BUDGET} steps (measured 0.47)"
    );
}

/// 300k steps, seed 0: measured 0.91 rad/s (random actions: 0.01; the task's
/// 2M budget reaches 3.4–5.1).
const SPIN_BUDGET: u64 = 300_000;

#[test]
fn ppo_learns_hand_valve_spin_with_the_human_reward() {
    let (curve, eval) = train_human("hand-valve-spin", SPIN_BUDGET);
    assert!(curve[0] < 0.3, "{curve:?}");
    assert!(
        eval >= 0.5,
        "{eval} rad/s after {SPIN_BUDGET} steps (measured 0.91)"
    );
}
