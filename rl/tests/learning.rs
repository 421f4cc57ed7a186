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
    // Episodes end early only when the point leaves the box; the trained
    // policy keeps it on the target for the whole 50 steps.
    let last = report.checkpoints.last().unwrap();
    assert_eq!(last.episode_length, 50.0, "{report:?}");
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

#[test]
fn progress_reports_every_iteration_and_target_kl_stops_epochs_early() {
    let task = point_task();
    let mut config = PpoConfig::for_task(&task);
    config.total_timesteps = 8 * 64 * 5;
    config.checkpoints = 2;
    config.target_kl = Some(1e-9);
    let mut progress = Vec::new();
    let trained = train(
        &task,
        &DistanceReward::new(),
        &config,
        5,
        1,
        &mut |p: &Progress| {
            progress.push(p.clone());
        },
    )
    .unwrap();
    assert_eq!(progress.len(), 5);
    assert!(progress.iter().all(|p| p.total_steps == 8 * 64 * 5));
    assert_eq!(
        progress.iter().map(|p| p.iteration).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    // A tiny target stops every update after its first epoch.
    assert!(
        progress.iter().all(|p| p.losses.epochs == 1),
        "{progress:?}"
    );
    let cps: Vec<_> = progress
        .iter()
        .filter_map(|p| p.checkpoint.clone())
        .collect();
    assert_eq!(cps, trained.report.checkpoints);
    assert_eq!(
        cps.iter().map(|c| c.env_steps).collect::<Vec<_>>(),
        vec![3 * 512, 5 * 512]
    );
    // The learning rate anneals towards zero.
    assert!(progress[4].losses.learning_rate < progress[0].losses.learning_rate);
    // Observation statistics travel with the policy.
    assert!(trained.policy.obs_normalizer().stats.count > 2000.0);
}

#[test]
fn metrics_stream_while_training() {
    let task = point_task();
    let mut config = PpoConfig::for_task(&task);
    config.total_timesteps = 8 * 64 * 4;
    config.checkpoints = 4;
    let dir = tempfile::tempdir().unwrap();
    let reward = DistanceReward::new();
    let mut writer = rewardsmith_rl::MetricsWriter::create(
        dir.path(),
        rewardsmith_core::RewardProgram::components(&reward),
    )
    .unwrap();
    train(&task, &reward, &config, 1, 2, &mut |p: &Progress| {
        if let Some(cp) = &p.checkpoint {
            writer.write(cp).unwrap();
        }
    })
    .unwrap();
    let csv = std::fs::read_to_string(dir.path().join(rewardsmith_rl::CSV_FILE)).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "env_steps,fitness,episode_return,episode_length,reward/distance,reward/effort"
    );
    assert_eq!(lines.len(), 5);
    let jsonl = std::fs::read_to_string(dir.path().join(rewardsmith_rl::JSONL_FILE)).unwrap();
    assert_eq!(jsonl.lines().count(), 4);
}
