//! `arm-lift` is learnable with its human reward through the public API: the
//! sandbox compiles the shipped Rhai reward, PPO trains on it with a fixed seed
//! and the task's budget, and the trained policy grips the cube and holds it up
//! in most of 64 fresh evaluation episodes. A broken stepped actuation, grip or
//! reward leaves it at 0 (as naming the target's place did through 10M).

use rewardsmith_envs::registry;
use rewardsmith_rl::{PpoConfig, Progress, evaluate, train};
use rewardsmith_sandbox::{Limits, ProgramSource, compile};
use std::time::Instant;

/// Env steps of training, the task's default: seed 0 holds the cube up in
/// 0.89 of 64 evaluation episodes. Training gives the same policy on any
/// thread count, so the threshold below only has to absorb floating-point
/// differences between machines.
const BUDGET: u64 = 1_000_000;

#[test]
fn ppo_learns_arm_lift_with_the_human_reward() {
    let registry = registry();
    let task = registry.task("arm-lift").unwrap();
    let human = task
        .human_reward
        .as_ref()
        .expect("arm-lift ships a human reward");
    let source = ProgramSource::Rhai(human.source.to_string());
    let reward = compile(&source, &task.env_spec().state, &Limits::default()).unwrap();
    let config = PpoConfig {
        total_timesteps: BUDGET,
        ..PpoConfig::for_task(task)
    };
    let start = Instant::now();
    let trained = train(task, reward.as_ref(), &config, 0, 2, &mut |_: &Progress| {}).unwrap();
    let report = &trained.report;
    let eval = evaluate(task, &trained.policy, 64, 1, 2).unwrap();
    eprintln!(
        "arm-lift: checkpoints {:?}, evaluation {:.3} over 64 episodes, {:.0} s",
        report.fitness_curve(),
        eval.mean,
        start.elapsed().as_secs_f64()
    );
    assert_eq!(
        report.components,
        [
            "reach",
            "open_on_approach",
            "grasp",
            "lift",
            "lifted",
            "still"
        ]
    );
    // Nothing is lifted early on: the first checkpoint (100k) has not learned
    // to grip yet.
    assert!(report.checkpoints[0].fitness < 0.2, "{report:?}");
    assert!(
        eval.mean >= 0.6,
        "success rate {} after {BUDGET} steps (measured 0.89)",
        eval.mean
    );
}
