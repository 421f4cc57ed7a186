//! A toy task for the trainer's tests: a point in the plane, moved by velocity
//! commands, that should reach the origin and stay there.
#![allow(dead_code)]

use rewardsmith_core::{
    Env, EnvSpec, Fitness, RewardError, RewardErrorKind, RewardProgram, RewardSource, SplitMix64,
    StateSpec, StateView, StepInfo, Task, TrainDefaults,
};
use std::sync::Arc;

/// Steps in one episode of the toy task.
pub const EPISODE_STEPS: usize = 50;

/// The point: position `p`, last command `a`; leaving the 2 m box terminates.
pub struct PointMass {
    spec: Arc<EnvSpec>,
    p: [f64; 2],
    a: [f64; 2],
}

fn spec() -> Arc<EnvSpec> {
    Arc::new(EnvSpec {
        name: "point".into(),
        description: "A point in the plane moved by velocity commands.".into(),
        obs_dim: 2,
        action_dim: 2,
        action_doc: "x and y velocity commands".into(),
        dt: 0.1,
        state: StateSpec::builder()
            .vector("pos", 2, "m", "world", "position; the target is the origin")
            .vector("action", 2, "1", "actuator", "last velocity command")
            .build(),
    })
}

impl PointMass {
    /// A new, not yet reset point.
    pub fn new() -> Self {
        Self {
            spec: spec(),
            p: [0.0; 2],
            a: [0.0; 2],
        }
    }
}

impl Env for PointMass {
    fn spec(&self) -> &Arc<EnvSpec> {
        &self.spec
    }
    fn reset(&mut self, seed: u64) {
        let mut rng = SplitMix64::new(seed);
        self.p = [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)];
        self.a = [0.0; 2];
    }
    fn step(&mut self, action: &[f32]) -> StepInfo {
        for ((a, p), &u) in self.a.iter_mut().zip(&mut self.p).zip(action) {
            *a = f64::from(u.clamp(-1.0, 1.0));
            *p += 0.1 * *a;
        }
        StepInfo {
            terminated: self.p.iter().any(|x| x.abs() > 2.0),
            truncated: false,
        }
    }
    fn observe(&self, obs: &mut [f32]) {
        obs[0] = self.p[0] as f32;
        obs[1] = self.p[1] as f32;
    }
    fn reward_state(&self, out: &mut [f64]) {
        out[..2].copy_from_slice(&self.p);
        out[2..].copy_from_slice(&self.a);
    }
}

/// The toy task: fitness is the fraction of the episode spent within 0.1 m of
/// the origin (at most about 0.9 from a random start).
pub fn point_task() -> Task {
    point_task_with(TrainDefaults {
        budget: 60_000,
        search_budget: 30_000,
        num_envs: 8,
        num_steps: 64,
        hidden: vec![32, 32],
        gamma: 0.95,
        learning_rate: 3e-3,
        ..TrainDefaults::default()
    })
}

/// The toy task with other training defaults.
pub fn point_task_with(defaults: TrainDefaults) -> Task {
    Task::builder("point-reach", || Box::new(PointMass::new()))
        .description("Reach the origin and stay there.")
        .episode_steps(EPISODE_STEPS)
        .fitness(Fitness::mean_score(
            "fraction of steps within 0.1 m of the origin",
            |s| {
                let p = s.get("pos").unwrap_or(&[1.0, 1.0]);
                f64::from(u8::from(p[0].hypot(p[1]) < 0.1))
            },
        ))
        .human_reward(RewardSource::embedded("none", ""))
        .sparse_reward(RewardSource::embedded("none", ""))
        .defaults(defaults)
        .build()
        .expect("toy task is complete")
}

/// Dense reward: minus the distance, a small effort penalty. Optionally fails
/// (error or NaN) on its `fail_at`-th call.
pub struct DistanceReward {
    names: Vec<String>,
    calls: u64,
    pub fail_at: Option<(u64, bool)>,
}

impl DistanceReward {
    /// The reward that never fails.
    pub fn new() -> Self {
        Self {
            names: vec!["distance".into(), "effort".into()],
            calls: 0,
            fail_at: None,
        }
    }
}

impl RewardProgram for DistanceReward {
    fn components(&self) -> &[String] {
        &self.names
    }
    fn evaluate(
        &mut self,
        s: &StateView<'_>,
        _prev: &StateView<'_>,
        out: &mut [f64],
    ) -> Result<(), RewardError> {
        self.calls += 1;
        let p = s.field_at(0);
        let a = s.field_at(1);
        out[0] = -p[0].hypot(p[1]);
        out[1] = -0.01 * (a[0] * a[0] + a[1] * a[1]);
        match self.fail_at {
            Some((at, true)) if self.calls == at => out[1] = f64::NAN,
            Some((at, false)) if self.calls == at => {
                return Err(
                    RewardError::new(RewardErrorKind::Runtime, "division by zero")
                        .at(3, 7)
                        .in_component("distance"),
                );
            }
            _ => {}
        }
        Ok(())
    }
    fn fork(&self) -> Box<dyn RewardProgram> {
        Box::new(Self {
            names: self.names.clone(),
            calls: 0,
            fail_at: self.fail_at,
        })
    }
}
