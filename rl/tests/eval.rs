//! Evaluation steps only the episodes still running, and scores every episode
//! exactly as stepping all instances to the end did, and as running each
//! episode on its own env does.

mod common;

use common::DistanceReward;
use rewardsmith_core::{
    Env, EnvSpec, Fitness, RewardSource, SplitMix64, StateSpec, StepInfo, Task, TrainDefaults,
    VecEnv, derive_seed,
};
use rewardsmith_rl::{EvalReport, Policy, PpoConfig, PpoOverrides, evaluate, train};
use std::sync::Arc;

/// Steps in one episode of the drift task.
const LIMIT: usize = 60;

/// A point in the plane that drifts with a velocity drawn at reset, moved by
/// velocity commands; leaving the 2 m box terminates, so episodes end
/// anywhere from a few steps to the time limit.
struct DriftingPoint {
    spec: Arc<EnvSpec>,
    p: [f64; 2],
    v: [f64; 2],
    a: [f64; 2],
}

impl Env for DriftingPoint {
    fn spec(&self) -> &Arc<EnvSpec> {
        &self.spec
    }
    fn reset(&mut self, seed: u64) {
        let mut rng = SplitMix64::new(seed);
        self.p = [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)];
        self.v = [rng.uniform(-0.06, 0.06), rng.uniform(-0.06, 0.06)];
        self.a = [0.0; 2];
    }
    fn step(&mut self, action: &[f32]) -> StepInfo {
        for (((a, p), v), &u) in self.a.iter_mut().zip(&mut self.p).zip(&self.v).zip(action) {
            *a = f64::from(u.clamp(-1.0, 1.0));
            *p += 0.1 * *a + v;
        }
        StepInfo {
            terminated: self.p.iter().any(|x| x.abs() > 2.0),
            truncated: false,
        }
    }
    fn observe(&self, obs: &mut [f32]) {
        for (o, x) in obs.iter_mut().zip(self.p.iter().chain(&self.v)) {
            *o = *x as f32;
        }
    }
    fn reward_state(&self, out: &mut [f64]) {
        out[..2].copy_from_slice(&self.p);
        out[2..].copy_from_slice(&self.a);
    }
}

fn drift_task() -> Task {
    let spec = Arc::new(EnvSpec {
        name: "drift".into(),
        description: "A drifting point in the plane moved by velocity commands.".into(),
        obs_dim: 4,
        action_dim: 2,
        action_doc: "x and y velocity commands".into(),
        dt: 0.1,
        state: StateSpec::builder()
            .vector("pos", 2, "m", "world", "position; the target is the origin")
            .vector("action", 2, "1", "actuator", "last velocity command")
            .build(),
    });
    Task::builder("drift-reach", move || {
        Box::new(DriftingPoint {
            spec: spec.clone(),
            p: [0.0; 2],
            v: [0.0; 2],
            a: [0.0; 2],
        })
    })
    .description("Stay near the origin against a drift.")
    .episode_steps(LIMIT)
    .fitness(Fitness::mean_score(
        "fraction of the episode within 0.5 m of the origin",
        |s| {
            let p = s.get("pos").unwrap_or(&[1.0, 1.0]);
            f64::from(u8::from(p[0].hypot(p[1]) < 0.5))
        },
    ))
    .human_reward(RewardSource::embedded("none", ""))
    .sparse_reward(RewardSource::embedded("none", ""))
    .defaults(TrainDefaults {
        budget: 4_000,
        search_budget: 4_000,
        num_envs: 8,
        num_steps: 50,
        hidden: vec![16, 16],
        gamma: 0.95,
        learning_rate: 3e-3,
        ..TrainDefaults::default()
    })
    .build()
    .expect("drift task is complete")
}

/// A policy after `steps` env steps of training (one iteration at the least:
/// as good as untrained).
fn policy(task: &Task, steps: u64) -> Policy {
    let overrides = PpoOverrides {
        total_timesteps: Some(steps),
        checkpoints: Some(1),
        ..PpoOverrides::default()
    };
    let config = PpoConfig::for_task(task).with_overrides(&overrides);
    train(task, &DistanceReward::new(), &config, 3, 1, &mut |_| {})
        .unwrap()
        .policy
}

/// The evaluation as it was: every instance stepped until the slowest episode
/// ends, the steps of finished instances ignored.
fn step_everything(
    task: &Task,
    policy: &Policy,
    episodes: usize,
    seed: u64,
) -> (Vec<f64>, Vec<usize>) {
    let mut policy = policy.clone();
    let spec = task.env_spec().clone();
    let mut venv = VecEnv::new(episodes, LIMIT, seed, || task.make_env());
    let mut slots: Vec<_> = (0..episodes)
        .map(|_| (task.fitness.meter(), 0usize, None::<f64>))
        .collect();
    let mut obs = vec![0.0f32; episodes * spec.obs_dim];
    let mut actions = vec![0.0f32; episodes * spec.action_dim];
    for _ in 0..LIMIT {
        venv.write_obs(&mut obs);
        policy.act_batch(&obs, &mut actions);
        venv.step_with(&actions, &mut slots, |(meter, len, fitness), s, _, info| {
            if fitness.is_none() {
                meter.step(s, info);
                *len += 1;
                if info.done() {
                    *fitness = Some(meter.finish(LIMIT));
                }
            }
        });
    }
    slots.iter().map(|(_, len, f)| (f.unwrap(), *len)).unzip()
}

/// Each episode on its own env, seeded as `VecEnv` seeds instance `i`'s first
/// episode.
fn one_by_one(task: &Task, policy: &Policy, episodes: usize, seed: u64) -> (Vec<f64>, Vec<usize>) {
    let mut policy = policy.clone();
    let spec = task.env_spec().clone();
    let mut obs = vec![0.0f32; spec.obs_dim];
    let mut action = vec![0.0f32; spec.action_dim];
    let mut state = spec.state.zeroed();
    (0..episodes)
        .map(|i| {
            let mut env = task.make_env();
            let mut meter = task.fitness.meter();
            env.reset(derive_seed(derive_seed(seed, i as u64), 0));
            for t in 1..=LIMIT {
                env.observe(&mut obs);
                policy.act(&obs, &mut action);
                let mut info = env.step(&action);
                info.truncated |= t == LIMIT && !info.terminated;
                env.reward_state(&mut state);
                meter.step(&rewardsmith_core::StateView::new(&spec.state, &state), info);
                if info.done() {
                    return (meter.finish(LIMIT), t);
                }
            }
            unreachable!("the time limit ends every episode")
        })
        .unzip()
}

fn bits(x: &[f64]) -> Vec<u64> {
    x.iter().map(|f| f.to_bits()).collect()
}

fn assert_same(report: &EvalReport, (fitness, lengths): &(Vec<f64>, Vec<usize>), what: &str) {
    assert_eq!(bits(&report.fitness), bits(fitness), "fitness vs {what}");
    assert_eq!(&report.lengths, lengths, "lengths vs {what}");
}

#[test]
fn evaluation_scores_every_episode_as_stepping_everything_did() {
    let task = drift_task();
    let episodes = 16;
    for steps in [400, 4_000] {
        let policy = policy(&task, steps);
        for seed in [1, 2] {
            let old = step_everything(&task, &policy, episodes, seed);
            let alone = one_by_one(&task, &policy, episodes, seed);
            let (min, max) = (old.1.iter().min().unwrap(), old.1.iter().max().unwrap());
            eprintln!("{steps} training steps, seed {seed}: lengths {:?}", old.1);
            assert!(*min < LIMIT / 2 && *max == LIMIT, "lengths {:?}", old.1);
            assert!(old.0.iter().any(|&f| f > 0.0), "fitness {:?}", old.0);
            for threads in [1, 2, 3] {
                let report = evaluate(&task, &policy, episodes, seed, threads).unwrap();
                assert_same(&report, &old, "stepping everything");
                assert_same(&report, &alone, "one episode at a time");
                // Only the steps of running episodes are taken.
                assert_eq!(report.env_steps, old.1.iter().sum::<usize>() as u64);
                let n = episodes as f64;
                let mean = old.0.iter().sum::<f64>() / n;
                assert_eq!(report.mean.to_bits(), mean.to_bits());
            }
        }
    }
}

/// A fitness with a success predicate: evaluations report the share of
/// episodes that met it; one without reports none.
#[test]
fn evaluation_reports_the_share_of_successful_episodes() {
    struct EndsNear {
        last: f64,
        steps: usize,
    }
    impl rewardsmith_core::FitnessMeter for EndsNear {
        fn step(&mut self, s: &rewardsmith_core::StateView<'_>, _info: StepInfo) {
            let p = s.get("pos").unwrap_or(&[1.0, 1.0]);
            self.last = p[0].hypot(p[1]);
            self.steps += 1;
        }
        fn finish(&self, _episode_steps: usize) -> f64 {
            -self.last
        }
        fn finish_scored(&self, episode_steps: usize) -> (f64, Option<bool>) {
            (
                self.finish(episode_steps),
                Some(self.steps == episode_steps),
            )
        }
    }
    let plain = drift_task();
    let policy = policy(&plain, 400);
    let report = evaluate(&plain, &policy, 8, 1, 1).unwrap();
    assert_eq!(report.success, None);
    let mut judged = plain.clone();
    judged.fitness = Fitness::custom("minus the final distance", || {
        Box::new(EndsNear {
            last: 0.0,
            steps: 0,
        })
    });
    let report = evaluate(&judged, &policy, 8, 1, 1).unwrap();
    let lived = report.lengths.iter().filter(|&&l| l == LIMIT).count();
    assert_eq!(
        report.success,
        Some(lived as f64 / 8.0),
        "{:?}",
        report.lengths
    );
}
