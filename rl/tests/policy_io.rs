//! Saving and loading policies: same actions after a round trip, clear errors
//! for missing files, bad shapes and the wrong environment.

mod common;

use common::{DistanceReward, point_task};
use rewardsmith_core::{Fitness, RewardSource, Task};
use rewardsmith_rl::{Error, META_FILE, Policy, PpoConfig, Trained, WEIGHTS_FILE, evaluate, train};

fn trained() -> Trained {
    let task = point_task();
    let mut config = PpoConfig::for_task(&task);
    config.total_timesteps = 8 * 64 * 4;
    config.checkpoints = 2;
    train(&task, &DistanceReward::new(), &config, 3, 2, &mut |_| {}).unwrap()
}

#[test]
fn save_then_load_gives_the_same_actions_and_fitness() {
    let task = point_task();
    let Trained { mut policy, .. } = trained();
    let dir = tempfile::tempdir().unwrap();
    policy.save(dir.path()).unwrap();
    assert!(dir.path().join(WEIGHTS_FILE).is_file());
    assert!(dir.path().join(META_FILE).is_file());
    for path in [
        dir.path().to_path_buf(),
        dir.path().join(WEIGHTS_FILE),
        dir.path().join(META_FILE),
    ] {
        let mut loaded = Policy::load(&path).unwrap();
        assert_eq!(loaded.env(), "point");
        assert_eq!(loaded.task(), "point-reach");
        assert_eq!(loaded.actor(), policy.actor());
        assert_eq!(loaded.obs_normalizer(), policy.obs_normalizer());
        for obs in [[0.3f32, -0.7], [0.0, 0.0], [5.0, -9.0]] {
            let (mut a, mut b) = ([0.0; 2], [0.0; 2]);
            policy.act(&obs, &mut a);
            loaded.act(&obs, &mut b);
            assert_eq!(a, b);
            assert!(a.iter().all(|x| (-1.0..=1.0).contains(x)));
        }
        let e1 = evaluate(&task, &policy, 4, 9, 2).unwrap();
        let e2 = evaluate(&task, &loaded, 4, 9, 1).unwrap();
        assert_eq!(e1, e2);
        assert_eq!(e1.fitness.len(), 4);
    }
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = Policy::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains(META_FILE), "{err}");
    trained().policy.save(dir.path()).unwrap();
    std::fs::remove_file(dir.path().join(WEIGHTS_FILE)).unwrap();
    let err = Policy::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains(WEIGHTS_FILE), "{err}");
}

#[test]
fn inconsistent_shapes_and_garbage_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    trained().policy.save(dir.path()).unwrap();
    let meta_path = dir.path().join(META_FILE);
    let meta = std::fs::read_to_string(&meta_path).unwrap();
    // Claim a wider hidden layer than the weights have.
    let wider = meta.replacen("32", "33", 1);
    std::fs::write(&meta_path, &wider).unwrap();
    let err = Policy::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::BadPolicy { .. }), "{err}");
    assert!(err.to_string().contains("shape"), "{err}");
    // Absurd sizes are refused before anything is allocated.
    let huge = meta.replacen("32", "4000000000", 1);
    std::fs::write(&meta_path, &huge).unwrap();
    let err = Policy::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("more weights"), "{err}");
    std::fs::write(&meta_path, &meta).unwrap();
    std::fs::write(dir.path().join(WEIGHTS_FILE), b"not a safetensors file").unwrap();
    let err = Policy::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::BadPolicy { .. }), "{err}");
    std::fs::write(&meta_path, "{").unwrap();
    assert!(matches!(
        Policy::load(dir.path()).unwrap_err(),
        Error::BadPolicy { .. }
    ));
}

#[test]
fn a_policy_for_another_env_is_refused() {
    let other = Task::builder("other", || Box::new(OtherEnv::new()))
        .episode_steps(10)
        .fitness(Fitness::mean_score("nothing", |_| 0.0))
        .human_reward(RewardSource::embedded("none", ""))
        .sparse_reward(RewardSource::embedded("none", ""))
        .build()
        .unwrap();
    let policy = trained().policy;
    let err = evaluate(&other, &policy, 2, 1, 1).unwrap_err();
    assert!(matches!(err, Error::PolicyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("`point`"), "{err}");
}

/// Same spaces as the point mass, another name.
struct OtherEnv(common::PointMass, std::sync::Arc<rewardsmith_core::EnvSpec>);

impl OtherEnv {
    fn new() -> Self {
        let inner = common::PointMass::new();
        let mut spec = (**rewardsmith_core::Env::spec(&inner)).clone();
        spec.name = "other".into();
        Self(inner, std::sync::Arc::new(spec))
    }
}

impl rewardsmith_core::Env for OtherEnv {
    fn spec(&self) -> &std::sync::Arc<rewardsmith_core::EnvSpec> {
        &self.1
    }
    fn reset(&mut self, seed: u64) {
        self.0.reset(seed);
    }
    fn step(&mut self, action: &[f32]) -> rewardsmith_core::StepInfo {
        self.0.step(action)
    }
    fn observe(&self, obs: &mut [f32]) {
        self.0.observe(obs);
    }
    fn reward_state(&self, out: &mut [f64]) {
        self.0.reward_state(out);
    }
}
