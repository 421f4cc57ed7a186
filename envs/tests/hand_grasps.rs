//! The free-object hand's actuation and starts: actions set joint targets
//! around the grasp pose within the joint limits, every cached grasp holds its
//! object, the cache and the resets are deterministic, and every free-object
//! task's human reward charges for a drop, which ends the episode.

mod common;
use common::trajectory;

use rewardsmith_core::{Env, StateView};
use rewardsmith_envs::hand::{
    ACTION_SCALE, GRASPS, GraspCache, Hand, Object, RANGES, grasps, spec,
};
use rewardsmith_envs::registry;

const OBJECTS: [Object; 2] = [Object::Cube, Object::Pen];

/// Reward-state field `name` of `env` now.
fn read(env: &dyn Env, name: &str) -> Vec<f64> {
    let spec = env.spec().clone();
    let mut s = spec.state.zeroed();
    env.reward_state(&mut s);
    StateView::new(&spec.state, &s).get(name).unwrap().to_vec()
}

#[test]
fn actions_set_targets_around_the_grasp_pose_within_the_limits() {
    for object in OBJECTS {
        let pose = object.grasp_pose();
        let zero = object.joint_targets(&[0.0; 9]);
        assert_eq!(zero, [pose, pose, pose].concat().as_slice(), "{object:?}");
        for a in [-1.0f32, -0.5, 0.3, 1.0] {
            let targets = object.joint_targets(&[a; 9]);
            for (j, &t) in targets.iter().enumerate() {
                let [lo, hi] = RANGES[j % 3];
                assert!((lo..=hi).contains(&t), "{object:?} joint {j}: {t}");
                let free = (pose[j % 3] + ACTION_SCALE * a).clamp(lo, hi);
                assert_eq!(t, free, "{object:?} joint {j}, action {a}");
            }
        }
        // Every joint's grasp angle lies inside its range with room to move both ways.
        for (k, &angle) in pose.iter().enumerate() {
            let [lo, hi] = RANGES[k];
            assert!(lo < angle && angle < hi, "{object:?} joint {k}: {angle}");
        }
    }
}

#[test]
fn the_joints_follow_the_targets_an_action_sets() {
    for object in OBJECTS {
        for action in [
            [0.0f32; 9],
            [0.6; 9],
            [-0.8, 0.4, -0.2].repeat(3).try_into().unwrap(),
        ] {
            let mut env = Hand::new(object);
            // The object far off the palm: nothing stops the fingers.
            env.reset_with_offset(1, [0.5, 0.0, 0.0]);
            for _ in 0..30 {
                env.step(&action);
            }
            let joints = read(&env, "joint_pos");
            let targets = object.joint_targets(&action);
            for (j, (&angle, &target)) in joints.iter().zip(&targets).enumerate() {
                assert!(
                    (angle - f64::from(target)).abs() < 0.05,
                    "{object:?} {action:?} joint {j}: {angle} for target {target}"
                );
            }
        }
    }
}

#[test]
fn the_action_doc_says_what_an_action_does() {
    let spec = spec();
    assert!(
        spec.action_doc.contains(&format!("{ACTION_SCALE} rad")),
        "{}",
        spec.action_doc
    );
    for object in OBJECTS {
        let [a, p, d] = object.grasp_pose();
        let pose = format!("[{a}, {p}, {d}]");
        assert!(spec.action_doc.contains(&pose), "{}", spec.action_doc);
        assert!(spec.description.contains(&pose), "{}", spec.description);
    }
    let action = spec.state.field("action").unwrap();
    assert!(
        action.doc.contains(&format!("{ACTION_SCALE} rad")),
        "{}",
        action.doc
    );
}

#[test]
fn every_cached_grasp_holds_its_object() {
    for object in OBJECTS {
        let cache = grasps(object);
        println!(
            "{object:?}: {} grasps from {} candidates in {:.0} ms",
            cache.grasps.len(),
            cache.tried,
            cache.build_ms
        );
        assert_eq!(cache.grasps.len(), GRASPS, "{object:?}");
        let mut env = Hand::new(object);
        let mut held = 0;
        for (i, grasp) in cache.grasps.iter().enumerate() {
            assert!(grasp.tips >= 2, "{object:?} grasp {i}: {grasp:?}");
            env.reset_to_grasp(i, 0);
            for t in 0..40 {
                assert!(
                    !env.step(&[0.0; 9]).terminated,
                    "{object:?} grasp {i} dropped at step {t}"
                );
            }
            let speed = read(&env, "object_linvel")
                .iter()
                .map(|v| v * v)
                .sum::<f64>()
                .sqrt();
            assert!(
                speed < 0.05,
                "{object:?} grasp {i} still moving: {speed} m/s"
            );
            held += usize::from(env.tips_touching() >= 2);
        }
        // Zero actions move the jittered targets back to the grasp pose; the
        // fingertips stay on the object in nearly every grasp.
        assert!(
            held * 10 >= GRASPS * 9,
            "{object:?}: {held} of {GRASPS} grasps still under two fingertips"
        );
    }
}

#[test]
fn the_grasp_cache_is_deterministic() {
    // Built again, on another thread: the same grasps, bit for bit.
    let again = std::thread::spawn(|| GraspCache::build(Object::Pen))
        .join()
        .unwrap();
    assert_eq!(again.grasps, grasps(Object::Pen).grasps);
    assert_eq!(again.tried, grasps(Object::Pen).tried);
}

#[test]
fn a_reset_starts_from_a_cached_grasp_chosen_by_the_seed() {
    for object in OBJECTS {
        let cache = grasps(object);
        let mut env = Hand::new(object);
        let mut starts = Vec::new();
        for seed in 0..16 {
            env.reset(seed);
            let pos = read(&env, "object_pos");
            let joints = read(&env, "joint_pos");
            let grasp = cache
                .grasps
                .iter()
                .find(|g| {
                    (0..3).all(|k| (f64::from(g.position[k]) - pos[k]).abs() < 1e-6)
                        && (0..9).all(|j| (f64::from(g.joints[j]) - joints[j]).abs() < 1e-3)
                })
                .unwrap_or_else(|| panic!("{object:?} seed {seed}: {pos:?} is no cached grasp"));
            starts.push(*grasp);
            env.reset(seed);
            assert_eq!(read(&env, "object_pos"), pos, "same seed, same start");
        }
        starts.dedup();
        assert!(
            starts.len() > 8,
            "{object:?}: {} starts in 16 seeds",
            starts.len()
        );
        // Same seed, same episode, however the env was used before.
        let a = trajectory(&mut Hand::new(object), 5, 60);
        let _ = trajectory(&mut env, 6, 60);
        assert_eq!(a, trajectory(&mut env, 5, 60), "{object:?}");
    }
}

#[test]
fn every_free_object_human_reward_charges_for_a_drop_that_ends_the_episode() {
    let reg = registry();
    for (name, object) in [
        ("hand-spin", Object::Cube),
        ("hand-reorient", Object::Cube),
        ("hand-pen-spin", Object::Pen),
    ] {
        let task = reg.task(name).unwrap();
        let human = &task.human_reward.as_ref().unwrap().source;
        let drop = human
            .lines()
            .find(|l| l.trim_start().starts_with("drop:"))
            .unwrap_or_else(|| panic!("{name}: no drop term in\n{human}"));
        assert!(
            drop.contains("-") && drop.contains("s.dropped"),
            "{name}: {drop}"
        );
        let mut env = Hand::new(object);
        env.reset_with_offset(2, [0.0, 0.0, -0.2]);
        assert!(
            env.step(&[0.0; 9]).terminated,
            "{name}: a drop ends the episode"
        );
        assert_eq!(read(&env, "dropped"), [1.0]);
    }
}
