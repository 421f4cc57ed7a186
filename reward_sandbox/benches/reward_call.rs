//! Per-call cost of a reward program: the `quadruped-run` human-written reward
//! in Rhai and the same reward in WebAssembly (`examples/quadruped_run_reward.wat`),
//! plus an empty Rhai call for the fixed overhead; and the cost of scoring one
//! 1000-step quadruped episode with a fitness program.
//!
//! Run with `cargo bench -p rewardsmith-sandbox --bench reward_call`.

use criterion::{Criterion, criterion_main};
use rewardsmith_core::{RewardProgram, StateSpec, StateView};
use rewardsmith_sandbox::{FitnessProgram, Limits, RhaiProgram, WasmProgram};
use std::hint::black_box;

/// The tests' mirror of the `quadruped` reward state (the sandbox does not
/// depend on `rewardsmith-envs`).
#[path = "../tests/common/mod.rs"]
mod common;
use common::quadruped_spec;

const HUMAN: &str = r"
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

/// A longer reward in the style an LLM writes (≈ 20 lines, quaternion maths).
const RICH: &str = r"
fn compute_reward(s, prev) {
    let v = s.torso_linvel;
    let fwd = quat_rotate(s.torso_quat, [1.0, 0.0, 0.0]);
    let speed = dot(v, fwd);
    let target = 3.0;
    let run = tolerance(speed, target, 100.0, target);
    let up = clamp(s.up_z, 0.0, 1.0);
    let accel = norm(sub(s.torso_linvel, prev.torso_linvel));
    let contacts = sum(s.foot_contact);
    #{
        run: run * (0.5 + 0.5 * up),
        upright: 0.2 * up,
        smooth: -0.01 * accel,
        effort: -0.02 * norm_sq(s.action),
        yaw: -0.05 * abs(s.torso_angvel[2]),
        feet: 0.05 * (1.0 - abs(contacts - 2.0) / 2.0),
        height: 0.1 * tolerance(s.torso_height, 0.45, 0.7, 0.2)
    }
}
";

fn bench_program(c: &mut Criterion, name: &str, mut p: Box<dyn RewardProgram>, spec: &StateSpec) {
    let s: Vec<f64> = (0..spec.len()).map(|i| (i as f64 * 0.37).sin()).collect();
    let prev: Vec<f64> = (0..spec.len()).map(|i| (i as f64 * 0.41).cos()).collect();
    let mut out = vec![0.0; p.components().len()];
    let (sv, pv) = (StateView::new(spec, &s), StateView::new(spec, &prev));
    c.bench_function(name, |b| {
        b.iter(|| {
            p.evaluate(black_box(&sv), black_box(&pv), &mut out)
                .expect("reward evaluates");
            black_box(&out);
        });
    });
}

fn reward_call(c: &mut Criterion) {
    let spec = quadruped_spec();
    let limits = Limits::default();
    let rhai = RhaiProgram::compile(HUMAN, &spec, &limits).expect("human reward compiles");
    bench_program(c, "rhai/quadruped_run_human", Box::new(rhai), &spec);
    let rich = RhaiProgram::compile(RICH, &spec, &limits).expect("rich reward compiles");
    bench_program(c, "rhai/quadruped_run_rich", Box::new(rich), &spec);
    let empty = RhaiProgram::compile("fn compute_reward(s, prev) { #{ a: 0.0 } }", &spec, &limits)
        .expect("empty reward compiles");
    bench_program(c, "rhai/empty", Box::new(empty), &spec);
    let wat = include_str!("../../examples/quadruped_run_reward.wat");
    let wasm = WasmProgram::from_wat(wat, &spec, &limits).expect("wasm reward compiles");
    bench_program(c, "wasm/quadruped_run_human", Box::new(wasm), &spec);
}

/// Mean forward speed with an upright factor: a typical machine-written fitness.
const FITNESS: &str = r"
fn fitness(episode) {
    let total = 0.0;
    for s in episode.steps { total += s.torso_linvel[0] * clamp(s.up_z, 0.0, 1.0); }
    total / episode.max_steps
}
";

fn fitness_episode(c: &mut Criterion) {
    let spec = quadruped_spec();
    let limits = Limits::default();
    let steps = 1000;
    let states: Vec<f64> = (0..steps * spec.len())
        .map(|i| (i as f64 * 0.37).sin())
        .collect();
    let p = FitnessProgram::compile(FITNESS, &spec, &limits).expect("fitness compiles");
    c.bench_function("fitness/quadruped_1000_steps", |b| {
        b.iter(|| black_box(p.evaluate(black_box(&states), steps, steps, false, 0.02)));
    });
    let empty = FitnessProgram::compile("fn fitness(episode) { 0.0 }", &spec, &limits)
        .expect("empty fitness compiles");
    c.bench_function("fitness/empty_episode", |b| {
        b.iter(|| black_box(empty.evaluate(&[], 0, steps, false, 0.02)));
    });
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(reward_call, super::reward_call, super::fitness_episode);
}
criterion_main!(group::reward_call);
