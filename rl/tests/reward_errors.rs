//! A failing reward program stops training with a typed error naming the env
//! step and the component; it never panics or hangs.

mod common;

use common::{DistanceReward, point_task};
use rewardsmith_core::{RewardError, RewardErrorKind, RewardProgram, StateView};
use rewardsmith_rl::{Error, PpoConfig, train};

fn config() -> PpoConfig {
    let mut c = PpoConfig::for_task(&point_task());
    c.total_timesteps = 8 * 64 * 4;
    c
}

#[test]
fn a_runtime_error_names_the_step_and_component() {
    let mut reward = DistanceReward::new();
    reward.fail_at = Some((100, false));
    let err = train(&point_task(), &reward, &config(), 1, 2, &mut |_| {}).unwrap_err();
    match &err {
        Error::Reward {
            env_step,
            instance,
            component,
            source,
        } => {
            // Every instance fails on its 100th step; the first one is reported.
            assert_eq!(*env_step, 99 * 8);
            assert_eq!(*instance, 0);
            assert_eq!(component.as_deref(), Some("distance"));
            assert_eq!(source.kind, RewardErrorKind::Runtime);
        }
        other => panic!("unexpected error {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("env step 792") && text.contains("`distance`"),
        "{text}"
    );
}

#[test]
fn a_non_finite_component_is_an_error() {
    let mut reward = DistanceReward::new();
    reward.fail_at = Some((5, true));
    let err = train(&point_task(), &reward, &config(), 1, 1, &mut |_| {}).unwrap_err();
    match err {
        Error::Reward {
            component, source, ..
        } => {
            assert_eq!(component.as_deref(), Some("effort"));
            assert_eq!(source.kind, RewardErrorKind::NonFinite);
        }
        other => panic!("unexpected error {other}"),
    }
}

struct NoComponents;

impl RewardProgram for NoComponents {
    fn components(&self) -> &[String] {
        &[]
    }
    fn evaluate(
        &mut self,
        _: &StateView<'_>,
        _: &StateView<'_>,
        _: &mut [f64],
    ) -> Result<(), RewardError> {
        Ok(())
    }
    fn fork(&self) -> Box<dyn RewardProgram> {
        Box::new(NoComponents)
    }
}

#[test]
fn a_program_without_components_and_a_bad_config_are_refused() {
    let err = train(&point_task(), &NoComponents, &config(), 1, 1, &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::NoComponents));
    let mut c = config();
    c.total_timesteps = 10;
    let err = train(&point_task(), &DistanceReward::new(), &c, 1, 1, &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

/// The point mass, whose observation turns NaN on its 10th step.
struct Exploding(common::PointMass, usize);

impl rewardsmith_core::Env for Exploding {
    fn spec(&self) -> &std::sync::Arc<rewardsmith_core::EnvSpec> {
        self.0.spec()
    }
    fn reset(&mut self, seed: u64) {
        self.1 = 0;
        self.0.reset(seed);
    }
    fn step(&mut self, action: &[f32]) -> rewardsmith_core::StepInfo {
        self.1 += 1;
        self.0.step(action)
    }
    fn observe(&self, obs: &mut [f32]) {
        self.0.observe(obs);
        if self.1 >= 10 {
            obs[1] = f32::NAN;
        }
    }
    fn reward_state(&self, out: &mut [f64]) {
        self.0.reward_state(out);
    }
}

#[test]
fn a_non_finite_observation_stops_training() {
    use rewardsmith_core::{Fitness, RewardSource, Task};
    let task = Task::builder("exploding", || {
        Box::new(Exploding(common::PointMass::new(), 0))
    })
    .episode_steps(50)
    .fitness(Fitness::mean_score("nothing", |_| 0.0))
    .human_reward(RewardSource::embedded("none", ""))
    .sparse_reward(RewardSource::embedded("none", ""))
    .defaults(point_task().defaults)
    .build()
    .unwrap();
    let err = train(&task, &DistanceReward::new(), &config(), 1, 2, &mut |_| {}).unwrap_err();
    match err {
        Error::NonFiniteObservation { env_step, instance } => {
            assert_eq!((env_step, instance), (10 * 8, 0));
        }
        other => panic!("unexpected error {other}"),
    }
}

/// A legal reward that spins for a while on every call.
struct SlowReward {
    inner: DistanceReward,
    spin: std::time::Duration,
}

impl RewardProgram for SlowReward {
    fn components(&self) -> &[String] {
        self.inner.components()
    }
    fn evaluate(
        &mut self,
        s: &StateView<'_>,
        prev: &StateView<'_>,
        out: &mut [f64],
    ) -> Result<(), RewardError> {
        let started = std::time::Instant::now();
        while started.elapsed() < self.spin {
            std::hint::spin_loop();
        }
        self.inner.evaluate(s, prev, out)
    }
    fn fork(&self) -> Box<dyn RewardProgram> {
        Box::new(Self {
            inner: DistanceReward::new(),
            spin: self.spin,
        })
    }
}

#[test]
fn a_reward_far_dearer_than_the_env_stops_training_with_its_cost() {
    // 1 ms a call against a point mass's step of about a microsecond: the
    // first iteration (8 × 64 calls) shows it, and training stops there.
    let slow = SlowReward {
        inner: DistanceReward::new(),
        spin: std::time::Duration::from_millis(1),
    };
    let started = std::time::Instant::now();
    let err = train(&point_task(), &slow, &config(), 1, 2, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, Error::SlowReward { reward_us, .. } if reward_us >= 900.0),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("too slow") && text.contains("µs"), "{text}");
    // One iteration of 512 calls on 2 threads, not the whole budget.
    assert!(
        started.elapsed().as_secs_f64() < 5.0,
        "{:?}",
        started.elapsed()
    );
    // A call of 50 µs is dear against this env but under the floor: it trains.
    let dear = SlowReward {
        inner: DistanceReward::new(),
        spin: std::time::Duration::from_micros(50),
    };
    let mut short = config();
    short.total_timesteps = 8 * 64;
    assert!(train(&point_task(), &dear, &short, 1, 2, &mut |_| {}).is_ok());
}
