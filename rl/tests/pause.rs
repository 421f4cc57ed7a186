//! A training paused and continued (as successive halving does between rungs),
//! in memory or saved to disk and resumed in a new trainer, ends bitwise where
//! an uninterrupted one ends; the best checkpoint is kept and scored again on
//! held-out episodes.

mod common;

use common::{DistanceReward, point_task};
use rewardsmith_rl::{Error, PpoConfig, Trained, Trainer, train};

fn config() -> PpoConfig {
    let task = point_task();
    let mut config = PpoConfig::for_task(&task);
    config.total_timesteps = 8 * 64 * 18;
    config.checkpoints = 4;
    config
}

#[test]
fn a_paused_training_continues_bitwise_as_if_it_had_not_stopped() {
    let task = point_task();
    let config = config();
    let whole = train(&task, &DistanceReward::new(), &config, 5, 2, &mut |_| {}).unwrap();

    let mut trainer = Trainer::new(&task, &DistanceReward::new(), &config, 5, 1).unwrap();
    let mut paused_checkpoints = Vec::new();
    for until in [config.total_timesteps / 9, config.total_timesteps / 3] {
        trainer.advance(until, &mut |_| {}).unwrap();
        assert!(trainer.env_steps() >= until && !trainer.done());
        // A pause takes a checkpoint where it stops.
        let last = trainer.checkpoints().last().unwrap();
        assert_eq!(last.env_steps, trainer.env_steps());
        paused_checkpoints.push(last.env_steps);
        assert!(trainer.held_out_evaluation().unwrap().mean.is_finite());
    }
    trainer.advance(u64::MAX, &mut |_| {}).unwrap();
    assert!(trainer.done());
    let pieces = trainer.finish().unwrap();

    assert_eq!(pieces.last_policy.actor(), whole.last_policy.actor());
    assert_eq!(pieces.last_policy.log_std(), whole.last_policy.log_std());
    assert_eq!(
        pieces.last_policy.obs_normalizer(),
        whole.last_policy.obs_normalizer()
    );
    assert_eq!(pieces.report.env_steps, whole.report.env_steps);
    // The pauses' checkpoints come on top of the schedule's, which agree.
    let scheduled: Vec<_> = pieces
        .report
        .checkpoints
        .iter()
        .filter(|c| !paused_checkpoints.contains(&c.env_steps))
        .map(|c| (c.env_steps, c.fitness))
        .collect();
    let expected: Vec<_> = whole
        .report
        .checkpoints
        .iter()
        .filter(|c| !paused_checkpoints.contains(&c.env_steps))
        .map(|c| (c.env_steps, c.fitness))
        .collect();
    assert_eq!(scheduled, expected);
    assert_eq!(
        pieces.report.checkpoints.len(),
        whole.report.checkpoints.len() + 2
    );
}

#[test]
fn the_best_checkpoint_is_kept_and_scored_on_held_out_episodes() {
    let task = point_task();
    let config = config();
    let t = train(&task, &DistanceReward::new(), &config, 2, 2, &mut |_| {}).unwrap();
    let best = t.report.best.clone().unwrap();
    let top = t
        .report
        .checkpoints
        .iter()
        .map(|c| c.fitness)
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(best.selection_fitness, top);
    // Ties go to the later checkpoint.
    let chosen = t
        .report
        .checkpoints
        .iter()
        .rev()
        .find(|c| c.fitness == top)
        .unwrap();
    assert_eq!(best.env_steps, chosen.env_steps);
    assert_eq!(best.episodes, config.held_out_episodes);
    assert_eq!(t.report.fitness(), best.fitness);
    // The kept policy is the last one only when the best checkpoint is the last.
    let last_is_best = best.env_steps == t.report.env_steps;
    assert_eq!(t.policy.actor() == t.last_policy.actor(), last_is_best);
    assert_eq!(t.report.fitness_env_steps(), best.env_steps);
}

/// `a` and `b` are bitwise the same result.
fn assert_same(a: &Trained, b: &Trained) {
    for (x, y) in [(&a.policy, &b.policy), (&a.last_policy, &b.last_policy)] {
        assert_eq!(x.actor(), y.actor());
        assert_eq!(x.log_std(), y.log_std());
        assert_eq!(x.obs_normalizer(), y.obs_normalizer());
    }
    let (ra, rb) = (&a.report, &b.report);
    assert_eq!(ra.checkpoints, rb.checkpoints);
    assert_eq!(ra.best, rb.best);
    assert_eq!(ra.env_steps, rb.env_steps);
}

#[test]
fn a_training_saved_at_a_pause_goes_on_in_a_new_trainer_bitwise() {
    let task = point_task();
    let config = config();
    let reward = DistanceReward::new();
    let rungs = [config.total_timesteps / 9, config.total_timesteps / 3];
    let mut in_memory = Trainer::new(&task, &reward, &config, 5, 2).unwrap();
    for until in rungs {
        in_memory.advance(until, &mut |_| {}).unwrap();
        in_memory.held_out_evaluation().unwrap();
    }
    in_memory.advance(u64::MAX, &mut |_| {}).unwrap();
    let in_memory = in_memory.finish().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("trainer");
    let mut trainer = Trainer::new(&task, &reward, &config, 5, 1).unwrap();
    for until in rungs {
        // Each rung in a new trainer, as a cluster job would run it.
        trainer.advance(until, &mut |_| {}).unwrap();
        let score = trainer.held_out_evaluation().unwrap();
        trainer.save(&saved).unwrap();
        drop(trainer);
        trainer = Trainer::resume(&task, &reward, &config, 5, 2, &saved).unwrap();
        assert_eq!(
            trainer.env_steps(),
            trainer.checkpoints().last().unwrap().env_steps
        );
        assert_eq!(trainer.held_out_evaluation().unwrap(), score);
    }
    trainer.advance(u64::MAX, &mut |_| {}).unwrap();
    assert_same(&trainer.finish().unwrap(), &in_memory);
}

#[test]
fn a_saved_training_is_refused_for_another_training_or_when_damaged() {
    let task = point_task();
    let config = config();
    let reward = DistanceReward::new();
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("trainer");
    let mut trainer = Trainer::new(&task, &reward, &config, 5, 1).unwrap();
    trainer
        .advance(config.total_timesteps / 3, &mut |_| {})
        .unwrap();
    trainer.save(&saved).unwrap();

    let refused = |seed: u64, config: &PpoConfig| match Trainer::resume(
        &task, &reward, config, seed, 1, &saved,
    ) {
        Err(e @ Error::BadState { .. }) => e.to_string(),
        Err(e) => panic!("expected BadState, got {e}"),
        Ok(_) => panic!("resumed another training"),
    };
    assert!(refused(6, &config).contains("with seed 5, not 6"));
    let mut other = config.clone();
    other.learning_rate *= 2.0;
    assert!(refused(5, &other).contains("other PPO settings"));

    let learner = saved.join("learner.safetensors");
    let bytes = std::fs::read(&learner).unwrap();
    std::fs::write(&learner, &bytes[..bytes.len() / 2]).unwrap();
    let message = refused(5, &config);
    assert!(message.contains("learner.safetensors"), "{message}");
    let err = Trainer::resume(&task, &reward, &config, 5, 1, &dir.path().join("none"))
        .err()
        .unwrap();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("trainer.json"), "{err}");
}
