//! The valve environment: determinism, the hinge (it cannot fall or move), the
//! wrapped target error, and that the valve turns only when a finger pushes it.

mod common;
use common::trajectory;

use rewardsmith_core::{Env, StateView};
use rewardsmith_envs::hand::RANGES;
use rewardsmith_envs::registry;
use rewardsmith_envs::rollout::{RandomController, run_episodes};
use rewardsmith_envs::valve::{SPOKE_HEIGHT, SPOKE_LENGTH, Valve};

/// The action that holds joint `k` at `angle` rad.
fn action_for(k: usize, angle: f32) -> f32 {
    let [lo, hi] = RANGES[k];
    2.0 * (angle - lo) / (hi - lo) - 1.0
}

/// One action for all three fingers: abduction `abd`, flexions `prox`, `dist` (rad).
fn pose(abd: f32, prox: f32, dist: f32) -> Vec<f32> {
    (0..3)
        .flat_map(|_| [action_for(0, abd), action_for(1, prox), action_for(2, dist)])
        .collect()
}

fn state(env: &Valve) -> Vec<f64> {
    let mut out = vec![0.0; env.spec().state.len()];
    env.reward_state(&mut out);
    out
}

fn read(env: &Valve, name: &str) -> Vec<f64> {
    let spec = env.spec().clone();
    let s = state(env);
    StateView::new(&spec.state, &s).get(name).unwrap().to_vec()
}

#[test]
fn valve_is_bitwise_deterministic() {
    let a = trajectory(&mut Valve::new(), 11, 120);
    assert_eq!(a, trajectory(&mut Valve::new(), 11, 120));
    assert_ne!(a, trajectory(&mut Valve::new(), 12, 120));
}

#[test]
fn target_error_wraps_across_pi() {
    let mut env = Valve::new();
    env.reset_at(3.0, -3.0);
    let error = read(&env, "angle_error")[0];
    let expected = std::f64::consts::TAU - 6.0;
    assert!(
        (error - expected).abs() < 1e-5,
        "error {error}, expected {expected}"
    );
    assert_eq!(read(&env, "at_target")[0], 0.0);
    env.reset_at(3.1, -3.1);
    let error = read(&env, "angle_error")[0];
    assert!(
        (error - (std::f64::consts::TAU - 6.2)).abs() < 1e-5,
        "{error}"
    );
    assert_eq!(read(&env, "at_target")[0], 1.0);
    env.reset_at(-0.5, 0.2);
    assert!((read(&env, "angle_error")[0] - 0.7).abs() < 1e-5);
    // Every drawn target is between π/3 and π from the start, either way.
    let mut signs = [0; 2];
    for seed in 0..200 {
        env.reset(seed);
        let e = read(&env, "angle_error")[0];
        assert!(
            (std::f64::consts::FRAC_PI_3 - 1e-6..=std::f64::consts::PI + 1e-6).contains(&e.abs()),
            "seed {seed}: {e}"
        );
        signs[usize::from(e > 0.0)] += 1;
    }
    assert!(signs[0] > 60 && signs[1] > 60, "{signs:?}");
}

#[test]
fn the_valve_stays_on_its_hinge_and_episodes_never_end_early() {
    let mut env = Valve::new();
    let mut rng = rewardsmith_core::SplitMix64::new(3);
    for seed in 0..4 {
        env.reset(seed);
        for _ in 0..200 {
            let action: Vec<f32> = (0..9).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
            assert!(!env.step(&action).done());
            let spokes = read(&env, "spoke_pos");
            for k in 0..3 {
                let (x, y, z) = (spokes[3 * k], spokes[3 * k + 1], spokes[3 * k + 2]);
                assert!((x.hypot(y) - f64::from(SPOKE_LENGTH)).abs() < 1e-5);
                assert!((z - f64::from(SPOKE_HEIGHT)).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn the_valve_turns_only_when_pushed() {
    let mut env = Valve::new();
    // Straight fingers sweeping sideways clear the spokes: no turn.
    env.reset_at(0.3, 2.0);
    for t in 0..120 {
        let abd = if (t / 20) % 2 == 0 { 0.6 } else { -0.6 };
        env.step(&pose(abd, 0.0, 0.0));
    }
    let turned = env.turned();
    assert!(
        turned.abs() < 1e-3,
        "straight fingers turned the valve {turned} rad"
    );
    // Left alone, it stays where it is.
    env.reset_at(1.0, 2.0);
    for _ in 0..60 {
        env.step(&pose(0.0, 0.0, 0.0));
    }
    assert!(env.turned().abs() < 1e-3, "{}", env.turned());
    // Curled fingers swept counter-clockwise push the spokes round, and the
    // rate in the reward state adds up to the turn.
    for start in [0.0, 0.7, -2.0] {
        env.reset_at(start, 2.0);
        for _ in 0..15 {
            env.step(&pose(-0.6, 0.0, 0.0));
        }
        for _ in 0..15 {
            env.step(&pose(-0.6, 0.3, 1.2));
        }
        let before = env.turned();
        let mut rate_sum = 0.0;
        for _ in 0..20 {
            env.step(&pose(0.6, 0.3, 1.2));
            rate_sum += read(&env, "valve_vel")[0] * 0.05;
        }
        let stroke = env.turned() - before;
        assert!(
            stroke > 0.3,
            "start {start}: a stroke turned the valve {stroke} rad"
        );
        assert!((rate_sum - stroke).abs() < 1e-6, "{rate_sum} vs {stroke}");
    }
}

#[test]
fn valve_tasks_roll_out_and_describe_their_state() {
    let reg = registry();
    for name in ["hand-valve-turn", "hand-valve-spin"] {
        let task = reg.task(name).unwrap();
        let report =
            run_episodes(task, 4, 1, &|s| Box::new(RandomController::new(s)), None).unwrap();
        for e in &report.episodes {
            assert_eq!(e.steps, task.episode_steps, "{name}: never ends early");
            assert!(e.fitness.is_finite());
        }
        if name == "hand-valve-turn" {
            // Random actions almost never end within 0.1 rad of the target.
            assert!(
                report
                    .episodes
                    .iter()
                    .all(|e| e.fitness == 0.0 || e.fitness == 1.0)
            );
        } else {
            assert!(
                report.fitness_mean().abs() < 0.3,
                "{}",
                report.fitness_mean()
            );
        }
        let text = task.describe();
        for field in task.env_spec().state.fields() {
            assert!(
                text.contains(&format!("`{}`", field.name)),
                "{name}: {}",
                field.name
            );
        }
    }
}
