//! The trainer learns the toy task within a small budget, reports every
//! checkpoint, and gives the same report for the same seed.

mod common;

use common::{DistanceReward, point_task};
use rewardsmith_rl::{PpoConfig, Progress, TrainReport, train};
use std::time::Instant;

fn timeless(mut r: TrainReport) -> TrainReport {
    r.wall_s = 0.0;
    r.env_steps_per_sec = 0.0;
    r
}

#[test]
fn point_mass_learns_to_reach_the_target() {
    let task = point_task();
    let config = PpoConfig::for_task(&task);
    let mut seen = Vec::new();
    let start = Instant::now();
    let trained = train(
        &task,
        &DistanceReward::new(),
        &config,
        7,
        2,
        &mut |p: &Progress| {
            seen.push((p.env_steps, p.checkpoint.is_some()));
        },
    )
    .unwrap();
    let report = &trained.report;
    eprintln!(
        "fitness curve {:?} in {:.2}s ({:.0} steps/s), timing {:?}",
        report.fitness_curve(),
        start.elapsed().as_secs_f64(),
        report.env_steps_per_sec,
        trained.timing
    );
    assert_eq!(report.checkpoints.len(), 10);
    assert_eq!(seen.iter().filter(|(_, cp)| *cp).count(), 10);
    assert_eq!(report.env_steps, seen.last().unwrap().0);
    assert!(report.env_steps <= config.total_timesteps);
    assert_eq!(report.components, vec!["distance", "effort"]);
    assert!(report.max_fitness >= report.final_fitness);
    assert!(
        report.final_fitness >= 0.7,
        "final fitness {}",
        report.final_fitness
    );
    // The dense component improves as the policy learns.
    let distance = &report.component_curves()[0].curve;
    assert!(distance[9] > distance[0], "{distance:?}");
    assert!(
        report.checkpoints.iter().all(|c| c.episode_length == 50.0
            || c.episode_length.is_nan()
            || c.episode_length < 50.0)
    );
}

#[test]
fn same_seed_gives_the_same_report() {
    let task = point_task();
    let mut config = PpoConfig::for_task(&task);
    config.total_timesteps = 8 * 64 * 6;
    config.checkpoints = 3;
    let run = |seed, threads| {
        timeless(
            train(
                &task,
                &DistanceReward::new(),
                &config,
                seed,
                threads,
                &mut |_| {},
            )
            .unwrap()
            .report,
        )
    };
    let a = run(11, 2);
    assert_eq!(a, run(11, 2));
    // Each instance is stepped on its own and every reduction runs in instance
    // order, so the thread count does not matter either.
    assert_eq!(a, run(11, 1));
    assert_ne!(a, run(12, 2));
}
