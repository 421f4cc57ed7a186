//! A custom environment through the public Rust API.
//!
//! `PointReach` is a point mass on a plane that must reach a target. It implements
//! [`Env`], is wrapped in a [`Task`] with a fitness and two baseline rewards,
//! registered next to the built-in tasks, and served by the very same command line.
//! Its reward-state fields are written through the handles their declaration
//! returned, and its observation length is the sum of its named parts:
//!
//! ```text
//! cargo run --release --example custom_env -- envs
//! cargo run --release --example custom_env -- describe point-reach
//! cargo run --release --example custom_env -- rollout --task point-reach --episodes 16
//! cargo run --release --example custom_env -- search runs/point-reach
//! ```
//!
//! The last one runs a short reward search on `point-reach` through the
//! library ([`search_point_reach`]), with no command line in between.

use rewardsmith::cli::Cli;
use rewardsmith::commands;
use rewardsmith::search::{RunSummary, Search};
use rewardsmith_core::{
    Env, EnvSpec, Fitness, ObsSpan, Registry, RewardSource, ScalarHandle, SplitMix64, StateSpec,
    StateWriter, StepInfo, Task, TrainDefaults, VectorHandle,
};
use std::sync::{Arc, OnceLock};

/// Seconds per step.
const DT: f64 = 0.05;
/// Largest speed the action commands, m/s.
const MAX_SPEED: f64 = 1.0;

/// Observation: the point's position …
pub const OBS_POS: ObsSpan = ObsSpan::first(2);
/// … and the target relative to it.
pub const OBS_TO_TARGET: ObsSpan = OBS_POS.then(2);

/// The handles of the reward-state fields.
#[derive(Clone, Copy, Debug)]
struct Fields {
    pos: VectorHandle<2>,
    target: VectorHandle<2>,
    distance: ScalarHandle,
    action: VectorHandle<2>,
}

/// A point on a plane, commanded by velocity, with a target somewhere within 1 m.
pub struct PointReach {
    spec: Arc<EnvSpec>,
    fields: Fields,
    pos: [f64; 2],
    target: [f64; 2],
    action: [f64; 2],
}

/// The env's fixed facts and the handles of its reward-state fields, built once.
fn declared() -> &'static (Arc<EnvSpec>, Fields) {
    static DECLARED: OnceLock<(Arc<EnvSpec>, Fields)> = OnceLock::new();
    DECLARED.get_or_init(|| {
        let mut s = StateSpec::builder();
        let fields = Fields {
            pos: s.add_vector("pos", "m", "world", "position of the point"),
            target: s.add_vector("target", "m", "world", "position of the target"),
            distance: s.add_scalar(
                "distance",
                "m",
                "world",
                "distance from the point to the target",
            ),
            action: s.add_vector(
                "action",
                "1",
                "actuator",
                "the velocity command applied this step",
            ),
        };
        let spec = Arc::new(EnvSpec {
            name: "point".to_string(),
            description: "A point mass on a flat plane, moved by velocity commands.".to_string(),
            obs_dim: OBS_TO_TARGET.end(),
            action_dim: 2,
            action_doc: "velocity command along x and y, ±1 ↔ ±1 m/s".to_string(),
            dt: DT,
            state: s.build(),
        });
        (spec, fields)
    })
}

impl PointReach {
    /// A new, not yet reset, environment.
    #[must_use]
    pub fn new() -> Self {
        let (spec, fields) = declared();
        Self {
            spec: spec.clone(),
            fields: *fields,
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
        for i in 0..2 {
            obs[OBS_POS.at(i)] = self.pos[i] as f32;
            obs[OBS_TO_TARGET.at(i)] = (self.target[i] - self.pos[i]) as f32;
        }
    }

    fn reward_state(&self, out: &mut [f64]) {
        let f = self.fields;
        let mut w = StateWriter::new(&self.spec.state, out);
        w.set(f.pos, self.pos);
        w.set(f.target, self.target);
        w.set(f.distance, self.distance());
        w.set(f.action, self.action);
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

/// A short reward search on `point-reach` through the library: the offline
/// designer, 2 generations of 3 candidates, then the final evaluation.
///
/// # Errors
/// The run folder cannot be written, as [`rewardsmith::Error::RunFolder`]
/// (candidates that fail are part of the summary, not errors).
pub fn search_point_reach(out: &std::path::Path) -> Result<RunSummary, rewardsmith::Error> {
    let registry = registry();
    Search::builder(&registry, "point-reach")
        .generations(2)
        .samples(3)
        .budget(20_000)
        .final_budget(20_000)
        .final_seeds(3)
        .threads(2)
        .out(out)
        .force(true)
        .run()
}

#[allow(dead_code)]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("search") {
        let out = args.get(2).map_or("runs/point-reach", String::as_str);
        return match search_point_reach(std::path::Path::new(out)) {
            Ok(summary) => {
                if let Some(f) = &summary.final_eval {
                    println!("{}", f.line());
                }
                println!("run folder: {}", summary.run_dir.display());
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    match commands::run(cli, &registry()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(e.code as u8)
        }
    }
}
