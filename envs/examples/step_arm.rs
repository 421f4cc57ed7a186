//! Steps one arm (and, with `hand`, one hand) with random actions, for profilers
//! and tuning: `cargo run --release -p rewardsmith-envs --example step_arm -- 2000`
//! prints µs per env step and a few sanity figures.

use rewardsmith_core::{Env, SplitMix64};
use rewardsmith_envs::arm::Arm;

fn main() {
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut env = Arm::new();
    let spec = env.spec().state.clone();
    let at = |name: &str| spec.field(name).map_or(0, |f| f.offset);
    let (tip, joints, cube) = (at("tip_pos"), at("joint_pos"), at("cube_pos"));
    let mut state = spec.zeroed();
    env.reset(0);
    for _ in 0..50 {
        env.step(&[0.0; 4]);
    }
    env.reward_state(&mut state);
    println!(
        "home: tip {:?}, joints {:?}, cube {:?}",
        &state[tip..tip + 3],
        &state[joints..joints + 4],
        &state[cube..cube + 3]
    );
    let held = [0.5f32, 0.5, -0.5, 0.5];
    for _ in 0..50 {
        env.step(&held);
    }
    env.reward_state(&mut state);
    println!(
        "held {held:?}: joints {:?} (targets {:?})",
        &state[joints..joints + 4],
        [0.75, 0.5, -0.65, 0.65]
    );
    let mut rng = SplitMix64::new(1);
    let mut action = [0.0f32; 4];
    let mut lowest = f64::MAX;
    let (mut below, mut fastest) = (0usize, 0.0f64);
    let vel = at("tip_vel");
    let start = std::time::Instant::now();
    for t in 0..steps {
        if t % 5 == 0 {
            for a in &mut action {
                *a = rng.uniform(-1.0, 1.0) as f32;
            }
        }
        env.step(&action);
        env.reward_state(&mut state);
        lowest = lowest.min(state[tip + 2]);
        below += usize::from(state[tip + 2] < 0.01);
        fastest = fastest.max(
            state[vel..vel + 3]
                .iter()
                .map(|v| v * v)
                .sum::<f64>()
                .sqrt(),
        );
        if t % 100 == 99 {
            env.reset(t as u64);
        }
    }
    let per = start.elapsed().as_secs_f64() / steps as f64;
    println!(
        "{:.1} µs per env step ({:.0} steps/s); lowest fingertip {lowest:.3} m ({below} steps below 1 cm); fastest fingertip {fastest:.2} m/s",
        per * 1e6,
        1.0 / per
    );
}
