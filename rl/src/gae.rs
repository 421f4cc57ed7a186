//! Generalised advantage estimation (Schulman et al., 2016) over a time-major
//! rollout, bootstrapping through time-limit truncations but not terminations.

/// Flags of one rollout step of one environment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepEnd {
    /// The episode ended inside the world: nothing follows.
    pub terminated: bool,
    /// The episode was cut by the time limit: the value of the final observation
    /// (given separately) is bootstrapped.
    pub truncated: bool,
}

/// A rollout of `num_steps × num_envs` steps, time-major (`t * num_envs + e`).
#[derive(Clone, Copy, Debug)]
pub struct GaeInput<'a> {
    /// Parallel environments.
    pub num_envs: usize,
    /// Reward of each step.
    pub rewards: &'a [f32],
    /// Value estimate of each step's observation.
    pub values: &'a [f32],
    /// How each step ended.
    pub ends: &'a [StepEnd],
    /// Value of the final observation of each truncated step (ignored elsewhere).
    pub final_values: &'a [f32],
    /// Value of the observation after the last step, per environment.
    pub next_values: &'a [f32],
    /// Discount factor γ.
    pub gamma: f32,
    /// GAE λ.
    pub lambda: f32,
}

/// Writes advantages and returns (advantage + value) for every step.
///
/// For step `t`: `next = 0` if terminated, the final observation's value if
/// truncated, else the next step's value; `δ = r + γ·next − V`;
/// `A = δ + γλ·A(t+1)`, where the recursion is cut at any episode end.
///
/// # Panics
/// If the slices' lengths disagree.
pub fn compute_gae(input: &GaeInput<'_>, advantages: &mut [f32], returns: &mut [f32]) {
    let n = input.num_envs;
    let len = input.rewards.len();
    assert!(
        n > 0 && len.is_multiple_of(n),
        "GAE: rollout length is not a multiple of num_envs"
    );
    for (name, l) in [
        ("values", input.values.len()),
        ("ends", input.ends.len()),
        ("final_values", input.final_values.len()),
        ("advantages", advantages.len()),
        ("returns", returns.len()),
    ] {
        assert_eq!(l, len, "GAE: `{name}` has wrong length");
    }
    assert_eq!(
        input.next_values.len(),
        n,
        "GAE: `next_values` has wrong length"
    );
    let steps = len / n;
    let (gamma, lambda) = (input.gamma, input.lambda);
    for e in 0..n {
        let mut last_adv = 0.0f32;
        for t in (0..steps).rev() {
            let i = t * n + e;
            let end = input.ends[i];
            let (next_value, carry) = if end.terminated {
                (0.0, 0.0)
            } else if end.truncated {
                (input.final_values[i], 0.0)
            } else if t + 1 == steps {
                (input.next_values[e], 1.0)
            } else {
                (input.values[i + n], 1.0)
            };
            let delta = input.rewards[i] + gamma * next_value - input.values[i];
            last_adv = delta + gamma * lambda * carry * last_adv;
            advantages[i] = last_adv;
            returns[i] = last_adv + input.values[i];
        }
    }
}
