//! Env steps per second: one quadruped, cart-pole, arm and hand (cube and pen)
//! stepped on one thread, and 32 quadrupeds stepped by a `VecEnv` on 1 and 2
//! threads.
//!
//! `cargo bench -p rewardsmith-envs --bench env_step`

use criterion::{Criterion, Throughput, criterion_main};
use rewardsmith_core::{Env, SplitMix64, VecEnv};
use rewardsmith_envs::arm::Arm;
use rewardsmith_envs::cartpole::{Cartpole, Start};
use rewardsmith_envs::hand::{Hand, Object};
use rewardsmith_envs::quadruped::Quadruped;
use std::hint::black_box;

fn single(c: &mut Criterion, name: &str, mut env: Box<dyn Env>) {
    let n = env.spec().action_dim;
    let mut rng = SplitMix64::new(1);
    let actions: Vec<f32> = (0..n * 1024)
        .map(|_| rng.uniform(-1.0, 1.0) as f32)
        .collect();
    env.reset(0);
    let mut i = 0usize;
    let mut t = 0usize;
    let mut group = c.benchmark_group("env_step");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter(|| {
            let a = &actions[(i % 1024) * n..(i % 1024 + 1) * n];
            let info = env.step(black_box(a));
            i += 1;
            t += 1;
            if info.terminated || t >= 1000 {
                env.reset(i as u64);
                t = 0;
            }
        });
    });
    group.finish();
}

fn vectorised(c: &mut Criterion) {
    const N: usize = 32;
    let mut group = c.benchmark_group("vec_env_step");
    group.throughput(Throughput::Elements(N as u64));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut venv = VecEnv::new(N, 1000, 3, || Box::new(Quadruped::new()));
        let mut rng = SplitMix64::new(2);
        let actions: Vec<f32> = (0..N * 8).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
        group.bench_function(format!("quadruped_x{N}/threads_{threads}"), |b| {
            b.iter(|| pool.install(|| venv.step(black_box(&actions))));
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    single(c, "quadruped", Box::new(Quadruped::new()));
    single(c, "cartpole", Box::new(Cartpole::new(Start::Hanging)));
    single(c, "arm", Box::new(Arm::new()));
    single(c, "hand_cube", Box::new(Hand::new(Object::Cube)));
    single(c, "hand_pen", Box::new(Hand::new(Object::Pen)));
    vectorised(c);
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(env_step, super::benches);
}
use group::env_step;
criterion_main!(env_step);
