//! A custom environment through the public Rust API.
//!
//! `PointReach` is a point mass on a plane that must reach a target. It implements
//! [`Env`], is wrapped in a [`Task`] with a fitness and two baseline rewards,
//! registered next to the built-in tasks, and served by the very same command line:
//!
//! ```text
//! cargo run --release --example custom_env -- envs
//! cargo run --release --example custom_env -- describe point-reach
//! cargo run --release --example custom_env -- rollout --task point-reach --episodes 16
//! ```

use rewardsmith::cli::Cli;
use rewardsmith::commands;
use rewardsmith_core::{
    Env, EnvSpec, Fitness, Registry, RewardSource, SplitMix64, StateSpec, StepInfo, Task,
    TrainDefaults,
};
use std::sync::{Arc, OnceLock};

/// Seconds per step.
const DT: f64 = 0.05;
/// Largest speed the action commands, m/s.
const MAX_SPEED: f64 = 1.0;

/// A point on a plane, commanded by velocity, with a target somewhere within 1 m.
pub struct PointReach {
    spec: Arc<EnvSpec>,
    pos: [f64; 2],
    target: [f64; 2],
    action: [f64; 2],
}

fn spec() -> Arc<EnvSpec> {
    static SPEC: OnceLock<Arc<EnvSpec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        Arc::new(EnvSpec {
            name: "point".to_string(),
            description: "A point mass on a flat plane, moved by velocity commands.".to_string(),
            obs_dim: 4,
            action_dim: 2,
            action_doc: "velocity command along x and y, ±1 ↔ ±1 m/s".to_string(),
            dt: DT,
            state: StateSpec::builder()
                .vector("pos", 2, "m", "world", "position of the point")
                .vector("target", 2, "m", "world", "position of the target")
                .scalar(
                    "distance",
                    "m",
                    "world",
                    "distance from the point to the target",
                )
                .vector(
                    "action",
                    2,
                    "1",
                    "actuator",
                    "the velocity command applied this step",
                )
                .build(),
        })
    })
    .clone()
}

impl PointReach {
    /// A new, not yet reset, environment.
    #[must_use]
    pub fn new() -> Self {
        Self {
            spec: spec(),
            pos: [0.0; 2],
            target: [0.0; 2],
            action: [0.0; 2],
        }
    }

    fn distance(&self) -> f64 {
        (self.pos[0] - self.target[0]).hypot(self.pos[1] - self.target[1])
    }
}

impl Default for PointReach {
    fn default() -> Self {
        Self::new()
    }
}

impl Env for PointReach {
    fn spec(&self) -> &Arc<EnvSpec> {
        &self.spec
    }

    fn reset(&mut self, seed: u64) {
        let mut rng = SplitMix64::new(seed);
        self.pos = [0.0; 2];
        self.target = [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)];
        self.action = [0.0; 2];
    }

    fn step(&mut self, action: &[f32]) -> StepInfo {
        for ((slot, pos), &a) in self.action.iter_mut().zip(&mut self.pos).zip(action) {
            let a = f64::from(a);
            *slot = if a.is_finite() {
                a.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            *pos += *slot * MAX_SPEED * DT;
        }
        StepInfo::default()
    }

    fn observe(&self, obs: &mut [f32]) {
        obs[0] = self.pos[0] as f32;
        obs[1] = self.pos[1] as f32;
        obs[2] = (self.target[0] - self.pos[0]) as f32;
        obs[3] = (self.target[1] - self.pos[1]) as f32;
    }

    fn reward_state(&self, out: &mut [f64]) {
        out[0..2].copy_from_slice(&self.pos);
        out[2..4].copy_from_slice(&self.target);
        out[4] = self.distance();
        out[5..7].copy_from_slice(&self.action);
    }
}

/// The `point-reach` task: be within 5 cm of the target.
///
/// # Panics
/// Never: the task is complete.
#[must_use]
pub fn point_reach_task() -> Task {
    Task::builder("point-reach", || Box::new(PointReach::new()))
        .description("Move the point onto the target and stay there.")
        .episode_steps(100)
        .fitness(Fitness::mean_score(
            "fraction of the 100-step episode spent within 5 cm of the target",
            |s| f64::from(u8::from(s.scalar("distance").unwrap_or(f64::INFINITY) < 0.05)),
        ))
        .human_reward(RewardSource::embedded(
            "examples/custom_env.rs",
            "fn compute_reward(s, prev) {\n    #{ closer: 10.0 * (prev.distance - s.distance), near: if s.distance < 0.05 { 1.0 } else { 0.0 } }\n}\n",
        ))
        .sparse_reward(RewardSource::embedded(
            "examples/custom_env.rs",
            "fn compute_reward(s, prev) {\n    #{ success: if s.distance < 0.05 { 1.0 } else { 0.0 } }\n}\n",
        ))
        .defaults(TrainDefaults {
            budget: 100_000,
            search_budget: 50_000,
            num_envs: 8,
            num_steps: 128,
            ..TrainDefaults::default()
        })
        .build()
        .expect("the task is complete")
}

/// The built-in tasks plus `point-reach`.
#[must_use]
pub fn registry() -> Registry {
    let mut registry = rewardsmith_envs::registry();
    registry
        .register(point_reach_task())
        .expect("no built-in task is called point-reach");
    registry
}

#[allow(dead_code)]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    let cli = Cli::parse();
    match commands::run(cli, &registry()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(e.code as u8)
        }
    }
}
