//! Helpers shared by the environment tests.

use rewardsmith_core::{Env, SplitMix64};

/// Bit patterns of every reward state and observation along a random-action trajectory.
pub fn trajectory(env: &mut dyn Env, seed: u64, steps: usize) -> Vec<u64> {
    let spec = env.spec().clone();
    env.reset(seed);
    let mut rng = SplitMix64::new(seed ^ 0xabc);
    let mut action = vec![0.0f32; spec.action_dim];
    let mut state = spec.state.zeroed();
    let mut obs = vec![0.0f32; spec.obs_dim];
    let mut bits = Vec::new();
    for _ in 0..steps {
        for a in &mut action {
            *a = rng.uniform(-1.0, 1.0) as f32;
        }
        let info = env.step(&action);
        env.reward_state(&mut state);
        env.observe(&mut obs);
        bits.extend(state.iter().map(|v| v.to_bits()));
        bits.extend(obs.iter().map(|v| u64::from(v.to_bits())));
        bits.push(u64::from(info.terminated));
    }
    bits
}
