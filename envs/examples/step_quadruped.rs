//! Steps one quadruped with random actions, for profilers and tuning:
//! `cargo run --release -p rewardsmith-envs --example step_quadruped -- 2000`
//! prints µs per env step, the worst joint-range overshoot and the lowest torso.

use rewardsmith_core::{Env, SplitMix64};
use rewardsmith_envs::quadruped::Quadruped;

fn main() {
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut env = Quadruped::new();
    let spec = env.spec().state.clone();
    let joints = spec.field("joint_pos").map_or(16, |f| f.offset);
    let height = spec.field("torso_height").map_or(3, |f| f.offset);
    let mut state = spec.zeroed();
    env.reset(0);
    let mut rng = SplitMix64::new(1);
    let mut action = [0.0f32; 8];
    let (mut overshoots, mut lowest, mut falls) = (Vec::new(), f64::MAX, 0);
    let start = std::time::Instant::now();
    for t in 0..steps {
        // Piecewise-constant random targets (held 5 steps) drive joints to their ends.
        if t % 5 == 0 {
            for a in &mut action {
                *a = if rng.next_f64() < 0.5 { -1.0 } else { 1.0 };
            }
        }
        let info = env.step(&action);
        env.reward_state(&mut state);
        for (k, q) in state[joints..joints + 8].iter().enumerate() {
            let range = if k % 2 == 0 { 0.5 } else { 0.6 };
            overshoots.push((q.abs() - range).max(0.0));
        }
        lowest = lowest.min(state[height]);
        if info.terminated || t % 1000 == 999 {
            falls += usize::from(info.terminated);
            env.reset(t as u64);
        }
    }
    let per = start.elapsed().as_secs_f64() / steps as f64;
    overshoots.sort_by(f64::total_cmp);
    let at = |p: f64| overshoots[((overshoots.len() - 1) as f64 * p) as usize];
    let (p99, overshoot) = (at(0.99), at(1.0));
    println!(
        "{:.1} µs per env step; joint-range overshoot p99 {p99:.3} / max {overshoot:.3} rad; lowest torso {lowest:.3} m; {falls} falls",
        per * 1e6
    );
}
