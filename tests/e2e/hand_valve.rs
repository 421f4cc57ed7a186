//! The hand learns to turn a valve with its human reward through the public
//! API: PPO with a fixed seed and a small budget turns the valve to a random
//! target (within 0.1 rad at the episode's end) in a good share of 64 fresh
//! evaluation episodes, and spins it counter-clockwise well above what random
//! actions do. A broken env (a valve that fingers cannot reach or that turns by
//! itself), a broken reward or a broken trainer misses these thresholds.

mod common;

use common::train_human;

/// 1M steps, seed 0: the evaluation below measured 0.47 (random actions: 0.02
/// of 128 episodes; the task's 3M budget reaches 0.92–1.0). Training gives
/// the same policy on any thread count; the margin absorbs floating-point
/// differences between machines.
const TURN_BUDGET: u64 = 1_000_000;

#[test]
fn ppo_learns_hand_valve_turn_with_the_human_reward() {
    let common::Learned {
        components,
        curve,
        eval,
    } = train_human("hand-valve-turn", TURN_BUDGET);
    assert_eq!(components, ["distance", "near", "at_target", "effort"]);
    assert!(curve[0] < 0.2, "{curve:?}");
    assert!(
        eval >= 0.3,
        "success rate {eval} after {TURN_BUDGET} steps (measured 0.47)"
    );
}

/// 300k steps, seed 0: measured 0.77 rad/s (random actions: 0.01; the task's
/// 2M budget reaches 3.4–5.1).
const SPIN_BUDGET: u64 = 300_000;

#[test]
fn ppo_learns_hand_valve_spin_with_the_human_reward() {
    let common::Learned {
        components,
        curve,
        eval,
    } = train_human("hand-valve-spin", SPIN_BUDGET);
    assert_eq!(components, ["spin", "contact", "effort"]);
    assert!(curve[0] < 0.3, "{curve:?}");
    assert!(
        eval >= 0.5,
        "{eval} rad/s after {SPIN_BUDGET} steps (measured 0.77)"
    );
}
