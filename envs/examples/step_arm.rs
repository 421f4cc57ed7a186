//! Steps one arm with random actions, for profilers and tuning:
//! `cargo run --release -p rewardsmith-envs --example step_arm -- 2000` prints µs
//! per env step and a few sanity figures (how deep the fingers go into the table,
//! how fast the fingertip moves).

use rewardsmith_core::{Env, Primitive, Shape, SplitMix64};
use rewardsmith_envs::arm::{self, Arm};

/// The lowest point of any cuboid of the scene below the cube's top that is not
/// the cube itself (the fingers and the palm), m.
fn lowest_finger_point(scene: &[Primitive]) -> f64 {
    let mut lowest = f64::MAX;
    for p in scene {
        let Shape::Cuboid { half_extents: h } = p.shape else {
            continue;
        };
        if p.color == [220, 60, 60] || h[2] < 0.005 {
            continue; // the cube, or the goal marker
        }
        let [w, x, y, z] = p.rotation;
        // The z row of the rotation matrix gives each local axis's height.
        let row = [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            1.0 - 2.0 * (x * x + y * y),
        ];
        let reach: f64 = (0..3).map(|k| (row[k] * h[k]).abs()).sum();
        lowest = lowest.min(p.position[2] - reach);
    }
    lowest
}

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
        "zero action: tip {:?}, joints {:?}, gripper opening {:.4}, cube {:?}",
        &state[tip..tip + 3],
        &state[joints..joints + 4],
        state[at("gripper_opening")],
        &state[cube..cube + 3]
    );
    let held = [0.5f32, 0.2, -0.3, -1.0];
    for _ in 0..50 {
        env.step(&held);
    }
    env.reward_state(&mut state);
    println!(
        "held {held:?}: joints {:?} (targets {:?}), opening {:.4} (target 0.09), tip {:?} (target {:?}), cube {:?}",
        &state[joints..joints + 4],
        arm::inverse_kinematics(arm::tip_target(&held)),
        state[at("gripper_opening")],
        &state[tip..tip + 3],
        arm::tip_target(&held),
        &state[cube..cube + 3],
    );
    let mut rng = SplitMix64::new(1);
    let mut action = [0.0f32; 4];
    let mut scene = Vec::new();
    let (mut deepest, mut below, mut fastest) = (f64::MAX, 0usize, 0.0f64);
    let vel = at("tip_vel");
    let start = std::time::Instant::now();
    let mut physics = std::time::Duration::ZERO;
    for t in 0..steps {
        if t % 5 == 0 {
            for a in &mut action {
                *a = rng.uniform(-1.0, 1.0) as f32;
            }
        }
        let step = std::time::Instant::now();
        env.step(&action);
        physics += step.elapsed();
        env.reward_state(&mut state);
        env.scene(&mut scene);
        let low = lowest_finger_point(&scene);
        deepest = deepest.min(low);
        below += usize::from(low < -0.01);
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
    let per = physics.as_secs_f64() / steps as f64;
    println!(
        "{:.1} µs per env step ({:.0} steps/s; {:.1} s in all); deepest finger or palm point {deepest:.3} m ({below} steps more than 1 cm into the table); fastest fingertip {fastest:.2} m/s",
        per * 1e6,
        1.0 / per,
        start.elapsed().as_secs_f64(),
    );
}
