//! Shared fixtures: reward-state specs and states for the sandbox tests.
#![allow(dead_code)]

use rewardsmith_core::{RewardError, RewardProgram, StateSpec, StateView};
use std::time::{Duration, Instant};

/// A mirror of the `quadruped` reward state declared in `envs/src/quadruped.rs`
/// (the sandbox does not depend on `rewardsmith-envs`).
pub fn quadruped_spec() -> StateSpec {
    StateSpec::builder()
        .vector("torso_pos", 3, "m", "world", "torso position")
        .scalar("torso_height", "m", "world", "torso height")
        .vector("torso_quat", 4, "1", "world", "orientation [w, x, y, z]")
        .vector("torso_linvel", 3, "m/s", "world", "linear velocity")
        .vector("torso_angvel", 3, "rad/s", "world", "angular velocity")
        .scalar("up_z", "1", "world", "up-axis z")
        .scalar("heading", "rad", "world", "yaw")
        .vector("joint_pos", 8, "rad", "joint", "joint angles")
        .vector("joint_vel", 8, "rad/s", "joint", "joint rates")
        .vector("foot_pos", 12, "m", "world", "foot positions")
        .vector("foot_height", 4, "m", "world", "foot clearance")
        .vector("foot_contact", 4, "1", "world", "foot contact")
        .vector("action", 8, "1", "actuator", "action")
        .scalar("fallen", "1", "world", "fallen flag")
        .build()
}

/// A small spec: `height` (float), `vel` (vec3), `quat` (vec4).
pub fn small_spec() -> StateSpec {
    StateSpec::builder()
        .scalar("height", "m", "world", "torso height")
        .vector("vel", 3, "m/s", "world", "velocity")
        .vector("quat", 4, "1", "world", "orientation [w, x, y, z]")
        .build()
}

/// A deterministic, varied state for `spec`: value `i` is a function of `i` and `t`.
pub fn state(spec: &StateSpec, t: usize) -> Vec<f64> {
    (0..spec.len())
        .map(|i| ((i * 7 + t * 13) % 17) as f64 / 17.0 - 0.3)
        .collect()
}

/// `n` consecutive `(prev, s)` pairs.
pub fn samples(spec: &StateSpec, n: usize) -> Vec<(Vec<f64>, Vec<f64>)> {
    (0..n)
        .map(|t| (state(spec, t), state(spec, t + 1)))
        .collect()
}

/// Runs `f`, asserting it takes less than a second.
pub fn quick<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "{what} took {took:?}");
    out
}

/// The human-written `quadruped-run` reward (as in `envs/rewards/quadruped-run.human.rhai`).
pub const QUADRUPED_RUN_HUMAN: &str = r"
fn compute_reward(s, prev) {
    let alive = if s.fallen > 0.5 { 0.0 } else { 1.0 };
    #{
        forward: s.torso_linvel[0],
        alive: 0.5 * alive,
        upright: 0.2 * s.up_z,
        drift: -0.1 * abs(s.torso_linvel[1]),
        effort: -0.02 * dot(s.action, s.action)
    }
}
";

/// Evaluates `p` on step `t` of the synthetic states (`prev` = step `t`,
/// `s` = step `t + 1`): the components, or the program's error.
pub fn eval(
    p: &mut dyn RewardProgram,
    spec: &StateSpec,
    t: usize,
) -> Result<Vec<f64>, RewardError> {
    let (a, b) = (state(spec, t), state(spec, t + 1));
    let mut out = vec![0.0; p.components().len()];
    p.evaluate(
        &StateView::new(spec, &b),
        &StateView::new(spec, &a),
        &mut out,
    )?;
    Ok(out)
}
