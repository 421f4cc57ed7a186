//! GAE against values computed by hand, with terminations and truncations.

use rewardsmith_rl::{GaeInput, StepEnd, compute_gae};

const NONE: StepEnd = StepEnd {
    terminated: false,
    truncated: false,
};
const TERM: StepEnd = StepEnd {
    terminated: true,
    truncated: false,
};
const TRUNC: StepEnd = StepEnd {
    terminated: false,
    truncated: true,
};

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
    }
}

#[test]
fn one_env_without_episode_ends_bootstraps_the_next_value() {
    // γ = 0.5, λ = 0.5: δ2 = 1 + 0.5·4 − 3 = 0; δ1 = 1 + 0.5·3 − 2 = 0.5;
    // δ0 = 1 + 0.5·2 − 1 = 1. A2 = 0, A1 = 0.5, A0 = 1 + 0.25·0.5 = 1.125.
    let input = GaeInput {
        num_envs: 1,
        rewards: &[1.0, 1.0, 1.0],
        values: &[1.0, 2.0, 3.0],
        ends: &[NONE, NONE, NONE],
        final_values: &[0.0; 3],
        next_values: &[4.0],
        gamma: 0.5,
        lambda: 0.5,
    };
    let (mut adv, mut ret) = ([0.0; 3], [0.0; 3]);
    compute_gae(&input, &mut adv, &mut ret);
    close(&adv, &[1.125, 0.5, 0.0]);
    close(&ret, &[2.125, 2.5, 3.0]);
}

#[test]
fn termination_cuts_the_value_and_truncation_bootstraps_the_final_observation() {
    // Two envs, time-major. Env 0 terminates at t = 1; env 1 is truncated at
    // t = 0 with a final-observation value of 10.
    // γ = 0.9, λ = 0.8 (γλ = 0.72).
    // Env 0: t2: δ = 2 + 0.9·5 − 1 = 5.5, A = 5.5.
    //        t1 (terminated): δ = 1 − 2 = −1, A = −1 (no carry).
    //        t0: δ = 0 + 0.9·2 − 1 = 0.8, A = 0.8 + 0.72·(−1) = 0.08.
    // Env 1: t2: δ = 1 + 0.9·0 − 3 = −2, A = −2.
    //        t1: δ = 0 + 0.9·3 − 1 = 1.7, A = 1.7 + 0.72·(−2) = 0.26.
    //        t0 (truncated): δ = 1 + 0.9·10 − 4 = 6, A = 6 (no carry).
    let input = GaeInput {
        num_envs: 2,
        rewards: &[0.0, 1.0, 1.0, 0.0, 2.0, 1.0],
        values: &[1.0, 4.0, 2.0, 1.0, 1.0, 3.0],
        ends: &[NONE, TRUNC, TERM, NONE, NONE, NONE],
        final_values: &[0.0, 10.0, 0.0, 0.0, 0.0, 0.0],
        next_values: &[5.0, 0.0],
        gamma: 0.9,
        lambda: 0.8,
    };
    let (mut adv, mut ret) = ([0.0; 6], [0.0; 6]);
    compute_gae(&input, &mut adv, &mut ret);
    close(&adv, &[0.08, 6.0, -1.0, 0.26, 5.5, -2.0]);
    close(&ret, &[1.08, 10.0, 1.0, 1.26, 6.5, 1.0]);
}

#[test]
fn lambda_one_gives_discounted_returns_minus_values() {
    let input = GaeInput {
        num_envs: 1,
        rewards: &[1.0, 2.0, 3.0],
        values: &[0.5, 0.5, 0.5],
        ends: &[NONE, NONE, TERM],
        final_values: &[0.0; 3],
        next_values: &[100.0],
        gamma: 0.9,
        lambda: 1.0,
    };
    let (mut adv, mut ret) = ([0.0; 3], [0.0; 3]);
    compute_gae(&input, &mut adv, &mut ret);
    // Returns: 3, 2 + 0.9·3 = 4.7, 1 + 0.9·4.7 = 5.23.
    close(&ret, &[5.23, 4.7, 3.0]);
}
