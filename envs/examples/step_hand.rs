//! Steps one hand with random actions, for profilers and tuning:
//! `cargo run --release -p rewardsmith-envs --example step_hand -- 2000 [pen]`
//! prints µs per env step, how the object fares at rest and under random actions.

use rewardsmith_core::{Env, SplitMix64};
use rewardsmith_envs::hand::{Hand, Object};

fn main() {
    let mut args = std::env::args().skip(1);
    let steps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let object = if args.next().as_deref() == Some("pen") {
        Object::Pen
    } else {
        Object::Cube
    };
    let mut env = Hand::new(object);
    let spec = env.spec().state.clone();
    let at = |name: &str| spec.field(name).map_or(0, |f| f.offset);
    let (pos, joints, tips) = (at("object_pos"), at("joint_pos"), at("fingertip_pos"));
    let mut state = spec.zeroed();
    env.reset(0);
    let mut rest_drop = false;
    for _ in 0..100 {
        rest_drop |= env.step(&[0.0; 9]).terminated;
    }
    env.reward_state(&mut state);
    println!(
        "at rest: object {:?} (dropped: {rest_drop}), joints {:?}, tips {:?}",
        &state[pos..pos + 3],
        &state[joints..joints + 3],
        &state[tips..tips + 3]
    );
    let mut rng = SplitMix64::new(1);
    let mut action = [0.0f32; 9];
    let (mut drops, mut episodes, mut t_ep) = (0usize, 1usize, 0usize);
    let (mut spin, mut fastest) = (0.0f64, 0.0f64);
    let w = at("object_angvel");
    let start = std::time::Instant::now();
    for t in 0..steps {
        if t % 5 == 0 {
            for a in &mut action {
                *a = rng.uniform(-1.0, 1.0) as f32;
            }
        }
        let info = env.step(&action);
        env.reward_state(&mut state);
        spin += state[w + 2].abs();
        fastest = fastest.max(state[w + 2].abs());
        t_ep += 1;
        if info.terminated || t_ep >= 200 {
            drops += usize::from(info.terminated);
            episodes += 1;
            t_ep = 0;
            env.reset(t as u64);
        }
    }
    let per = start.elapsed().as_secs_f64() / steps as f64;
    println!(
        "{:.1} µs per env step ({:.0} steps/s); {drops} drops in {episodes} episodes; mean |yaw rate| {:.2}, max {fastest:.2} rad/s",
        per * 1e6,
        1.0 / per,
        spin / steps as f64
    );
}
