//! Learner benchmarks: one PPO minibatch update, and the acting forward pass.
//!
//! Run with `cargo bench -p rewardsmith-rl --bench ppo`.
// `criterion_group!` generates undocumented functions.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rewardsmith_core::{SplitMix64, TrainDefaults};
use rewardsmith_rl::nn::{Mlp, MlpWorkspace};
use rewardsmith_rl::{ActorCritic, Minibatch, PpoConfig};
use std::hint::black_box;

/// Quadruped-like sizes: 40 observations, 8 actions.
const OBS: usize = 40;
const ACT: usize = 8;

fn minibatch(m: usize, obs: usize, act: usize, rng: &mut SplitMix64) -> Minibatch {
    let mut v = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.uniform(-1.0, 1.0) as f32).collect() };
    Minibatch {
        obs: v(m * obs),
        actions: v(m * act),
        log_probs: v(m).iter().map(|x| x - 8.0).collect(),
        advantages: v(m),
        returns: v(m),
        values: v(m),
    }
}

fn update(c: &mut Criterion) {
    let config = PpoConfig::from_defaults(&TrainDefaults::default());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("minibatch_update");
    // (observations, actions, hidden width, minibatch): cart-pole and quadruped sizes.
    let cases = [
        (5, 1, 64, 32),
        (40, 8, 64, 64),
        (40, 8, 64, 512),
        (40, 8, 256, 512),
    ];
    for (obs, act, hidden, m) in cases {
        for parallel in [false, true] {
            let mut rng = SplitMix64::new(1);
            let mut agent = ActorCritic::new(obs, act, &[hidden, hidden], 0.0, 1);
            let mb = minibatch(m, obs, act, &mut rng);
            let threads = if parallel { "2threads" } else { "1thread" };
            let id = format!("obs{obs}_act{act}_h{hidden}x{hidden}_mb{m}_{threads}");
            group.bench_function(BenchmarkId::from_parameter(id), |b| {
                // On a pool worker, as in training.
                pool.install(|| {
                    b.iter(|| {
                        let mut mb = mb.clone();
                        black_box(agent.update_minibatch(&mut mb, &config, 1e-4, parallel))
                    });
                });
            });
        }
    }
    group.finish();
}

fn forward(c: &mut Criterion) {
    let mut group = c.benchmark_group("actor_forward");
    let net = Mlp::orthogonal(&[OBS, 64, 64, ACT], 1.4, 0.01, 1);
    let mut ws = MlpWorkspace::default();
    for batch in [16, 64] {
        let mut rng = SplitMix64::new(2);
        let x: Vec<f32> = (0..batch * OBS)
            .map(|_| rng.uniform(-1.0, 1.0) as f32)
            .collect();
        group.bench_function(
            BenchmarkId::from_parameter(format!("h64x64_batch{batch}")),
            |b| {
                b.iter(|| black_box(net.forward(&x, batch, &mut ws)[0]));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, update, forward);
criterion_main!(benches);
