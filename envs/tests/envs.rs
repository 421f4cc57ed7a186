//! Environment behaviour: determinism, termination, spec consistency, rollouts.

mod common;
use common::trajectory;

use rewardsmith_core::{Env, VecEnv};
use rewardsmith_envs::cartpole::{Cartpole, Start};
use rewardsmith_envs::quadruped::Quadruped;
use rewardsmith_envs::registry;
use rewardsmith_envs::rollout::{
    Controller, ControllerFactory, RandomController, ZeroController, run_episodes, sample_states,
};

#[test]
fn quadruped_is_bitwise_deterministic() {
    let a = trajectory(&mut Quadruped::new(), 11, 200);
    let b = trajectory(&mut Quadruped::new(), 11, 200);
    assert_eq!(a, b);
    let c = trajectory(&mut Quadruped::new(), 12, 200);
    assert_ne!(a, c, "different seeds should give different trajectories");
}

#[test]
fn cartpole_is_bitwise_deterministic() {
    for start in [Start::Upright, Start::Hanging] {
        let a = trajectory(&mut Cartpole::new(start), 5, 300);
        let b = trajectory(&mut Cartpole::new(start), 5, 300);
        assert_eq!(a, b);
    }
}

#[test]
fn reusing_an_env_does_not_change_its_trajectory() {
    let mut env = Quadruped::new();
    let first = trajectory(&mut env, 3, 50);
    let _ = trajectory(&mut env, 4, 50);
    assert_eq!(first, trajectory(&mut env, 3, 50));
}

#[test]
fn upside_down_quadruped_has_fallen() {
    let mut env = Quadruped::new();
    env.reset_rolled(1, std::f32::consts::PI);
    let info = env.step(&[0.0; 8]);
    assert!(info.terminated, "an upside-down robot must end the episode");
    let mut state = env.spec().state.zeroed();
    env.reward_state(&mut state);
    let spec = env.spec().state.clone();
    let fallen = spec.field("fallen").unwrap().offset;
    assert_eq!(state[fallen], 1.0);
}

#[test]
fn quadruped_at_rest_stays_up() {
    let mut env = Quadruped::new();
    env.reset(2);
    for _ in 0..200 {
        assert!(!env.step(&[0.0; 8]).terminated);
    }
    let mut state = env.spec().state.zeroed();
    env.reward_state(&mut state);
    let spec = env.spec().state.clone();
    let h = state[spec.field("torso_height").unwrap().offset];
    assert!((0.4..0.7).contains(&h), "torso height at rest {h}");
    let contact = spec.field("foot_contact").unwrap().offset;
    let down: f64 = state[contact..contact + 4].iter().sum();
    assert!(down >= 3.0, "at least three feet on the ground: {down}");
}

#[test]
fn unattended_cartpole_falls_and_ends_the_episode() {
    let reg = registry();
    let task = reg.task("cartpole-balance").unwrap();
    let zero: &ControllerFactory<'_> = &|_| Box::new(ZeroController) as Box<dyn Controller>;
    let report = run_episodes(task, 4, 0, zero, None).unwrap();
    for e in &report.episodes {
        assert!(e.terminated && e.steps < 200, "pole should fall: {e:?}");
        assert!(e.fitness < 0.4);
    }
}

#[test]
fn quadruped_spec_offsets_cover_the_buffer() {
    let env = Quadruped::new();
    let spec = &env.spec().state;
    let last = spec.fields().last().unwrap();
    assert_eq!(last.name, "fallen");
    assert_eq!(last.offset + 1, spec.len());
    assert_eq!(spec.len(), 61);
}

#[test]
fn registry_has_the_six_tasks() {
    let reg = registry();
    let names: Vec<&str> = reg.tasks().iter().map(|t| t.name.as_str()).collect();
    // The first six, in this order; later tasks (arm, hand) follow them.
    assert_eq!(
        names[..6],
        [
            "cartpole-balance",
            "cartpole-swingup",
            "quadruped-run",
            "quadruped-backward",
            "quadruped-turn",
            "quadruped-stand"
        ]
    );
    let err = reg.task("quadruped-fly").unwrap_err().to_string();
    assert!(err.contains("unknown task `quadruped-fly`") && err.contains("quadruped-run"));
    for task in reg.tasks() {
        let text = task.describe();
        for field in task.env_spec().state.fields() {
            assert!(text.contains(&format!("`{}`", field.name)));
        }
        assert!(
            task.human_reward
                .as_ref()
                .expect("built-in tasks ship a human reward")
                .source
                .contains("fn compute_reward(s, prev)")
        );
        assert!(
            task.sparse_reward
                .as_ref()
                .expect("built-in tasks ship a sparse reward")
                .source
                .contains("fn compute_reward(s, prev)")
        );
    }
}

#[test]
fn rollouts_do_not_depend_on_thread_count() {
    let reg = registry();
    let task = reg.task("quadruped-run").unwrap();
    let random: &ControllerFactory<'_> =
        &|s| Box::new(RandomController::new(s)) as Box<dyn Controller>;
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| run_episodes(task, 3, 9, random, None).unwrap())
    };
    assert_eq!(run(1).episodes, run(2).episodes);
}

#[test]
fn vec_env_matches_single_envs() {
    let reg = registry();
    let task = reg.task("cartpole-swingup").unwrap();
    let mut venv = VecEnv::new(3, task.episode_steps, 4, || task.make_env());
    let actions = vec![0.3f32; 3];
    let mut seen = vec![Vec::new(); 3];
    for _ in 0..20 {
        venv.step_with(&actions, &mut seen, |log, s, _prev, _info| {
            log.push(s.scalar("pole_angle").unwrap());
        });
    }
    let again = {
        let mut v = VecEnv::new(3, task.episode_steps, 4, || task.make_env());
        let mut seen = vec![Vec::new(); 3];
        for _ in 0..20 {
            v.step_with(&actions, &mut seen, |log, s, _prev, _info| {
                log.push(s.scalar("pole_angle").unwrap());
            });
        }
        seen
    };
    assert_eq!(seen, again);
    assert_ne!(seen[0], seen[1], "instances get different seeds");
}

#[test]
fn state_samples_are_consecutive_pairs() {
    let reg = registry();
    let task = reg.task("quadruped-turn").unwrap();
    let pairs = sample_states(task, 50, 1);
    assert_eq!(pairs.len(), 50);
    for w in pairs.windows(2) {
        if w[1].0 == w[0].1 {
            continue;
        }
        // A new episode started: its first prev is a fresh reset state.
        assert_ne!(w[1].0, w[0].1);
    }
    assert_eq!(pairs[1].0, pairs[0].1);
}

#[test]
fn every_task_env_put_back_where_it_was_goes_on_bitwise() {
    // A training continued in another process puts fresh instances where the
    // old ones were (reset to their episode, replay its actions); that must
    // give the same physics state, or the continued training differs.
    let reg = registry();
    let (n, limit) = (3, 15);
    for task in reg.tasks() {
        let a = task.env_spec().action_dim;
        let mut rng = rewardsmith_core::SplitMix64::new(9);
        let mut actions =
            || -> Vec<f32> { (0..n * a).map(|_| rng.uniform(-1.0, 1.0) as f32).collect() };
        let mut first = VecEnv::new(n, limit, 4, || task.make_env());
        // Past one episode's time limit, so the episode counters move too.
        for _ in 0..limit + 8 {
            first.step(&actions());
        }
        let positions = first.positions();
        assert!(positions.iter().all(|p| p.episode >= 1), "{}", task.name);
        let mut second = VecEnv::new(n, limit, 4, || task.make_env());
        second.restore(&positions).unwrap();
        assert_eq!(second.positions(), positions, "{}", task.name);
        let obs = |v: &VecEnv| {
            let mut o = vec![0.0f32; n * task.env_spec().obs_dim];
            v.write_obs(&mut o);
            o.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(obs(&first), obs(&second), "{}: observations", task.name);
        for step in 0..limit {
            let act = actions();
            let mut seen = [vec![Vec::new(); n], vec![Vec::new(); n]];
            for (v, seen) in [&mut first, &mut second].into_iter().zip(&mut seen) {
                v.step_with(&act, seen, |log: &mut Vec<u64>, s, prev, info| {
                    log.extend(s.values().iter().chain(prev.values()).map(|x| x.to_bits()));
                    log.push(u64::from(info.terminated) * 2 + u64::from(info.truncated));
                });
            }
            assert_eq!(
                seen[0], seen[1],
                "{}: step {step} after the restore",
                task.name
            );
            assert_eq!(obs(&first), obs(&second), "{}: step {step}", task.name);
        }
    }
}

#[test]
fn a_position_that_does_not_fit_is_refused_with_the_reason() {
    let reg = registry();
    let task = reg.task("cartpole-swingup").unwrap();
    let mut venv = VecEnv::new(2, 10, 4, || task.make_env());
    venv.step(&[0.5, -0.5]);
    let mut positions = venv.positions();
    assert_eq!(positions[0].steps, 1);
    let err = venv.restore(&positions[..1]).unwrap_err();
    assert!(
        err.contains("1 instance positions for 2 instances"),
        "{err}"
    );
    positions[1].steps = 2;
    let err = venv.restore(&positions).unwrap_err();
    assert!(
        err.contains("instance 1: 1 action values for 2 steps"),
        "{err}"
    );
    positions[1].steps = 10;
    positions[1].actions = vec![0.0; 10];
    let err = venv.restore(&positions).unwrap_err();
    assert!(
        err.contains("10 steps into an episode of at most 10"),
        "{err}"
    );
}
