//! Running whole episodes of a task: fitness, optional reward returns, throughput,
//! and reward-state samples for dry-running reward programs.
//!
//! Episodes run in parallel on the current rayon pool; episode `i` uses seeds
//! derived from `(seed, i)` only, so results do not depend on the thread count.

use rayon::prelude::*;
use rewardsmith_core::{RewardError, RewardProgram, SplitMix64, StateView, Task, derive_seed};
use serde::Serialize;
use std::time::Instant;

/// Something that maps observations to actions.
pub trait Controller: Send {
    /// Writes an action in `[-1, 1]^n` for `obs`.
    fn act(&mut self, obs: &[f32], action: &mut [f32]);
}

/// Uniformly random actions, seeded.
pub struct RandomController(SplitMix64);

impl RandomController {
    /// A controller whose actions are fixed by `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(SplitMix64::new(seed))
    }
}

impl Controller for RandomController {
    fn act(&mut self, _obs: &[f32], action: &mut [f32]) {
        for a in action {
            *a = self.0.uniform(-1.0, 1.0) as f32;
        }
    }
}

/// All-zero actions (joints held at rest, no force).
pub struct ZeroController;

impl Controller for ZeroController {
    fn act(&mut self, _obs: &[f32], action: &mut [f32]) {
        action.fill(0.0);
    }
}

/// The outcome of one episode.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpisodeResult {
    /// Task fitness of the episode.
    pub fitness: f64,
    /// Steps the episode lasted.
    pub steps: usize,
    /// Whether it ended inside the world (a fall) rather than at the time limit.
    pub terminated: bool,
    /// Undiscounted return under the reward program, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reward_return: Option<f64>,
}

/// The outcome of many episodes.
#[derive(Clone, Debug, Serialize)]
pub struct RolloutReport {
    /// Task name.
    pub task: String,
    /// Every episode, in order.
    pub episodes: Vec<EpisodeResult>,
    /// Env steps in total.
    pub env_steps: u64,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// Env steps per wall-clock second.
    pub env_steps_per_sec: f64,
}

impl RolloutReport {
    /// Mean fitness over the episodes.
    #[must_use]
    pub fn fitness_mean(&self) -> f64 {
        mean(self.episodes.iter().map(|e| e.fitness))
    }

    /// Standard deviation of the fitness over the episodes.
    #[must_use]
    pub fn fitness_std(&self) -> f64 {
        let m = self.fitness_mean();
        mean(self.episodes.iter().map(|e| (e.fitness - m).powi(2))).sqrt()
    }

    /// Mean episode length.
    #[must_use]
    pub fn length_mean(&self) -> f64 {
        mean(self.episodes.iter().map(|e| e.steps as f64))
    }

    /// Mean return under the reward program, if one was given.
    #[must_use]
    pub fn return_mean(&self) -> Option<f64> {
        let returns: Option<Vec<f64>> = self.episodes.iter().map(|e| e.reward_return).collect();
        returns.map(|r| mean(r.into_iter()))
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// Makes the controller for an episode from that episode's seed.
pub type ControllerFactory<'a> = dyn Fn(u64) -> Box<dyn Controller> + Sync + 'a;

/// Runs `episodes` full episodes of `task` in parallel.
///
/// When `reward` is given, each episode also sums its reward (forked per episode).
///
/// # Errors
/// The first reward-program error, if any episode hit one.
pub fn run_episodes(
    task: &Task,
    episodes: usize,
    seed: u64,
    controller: &ControllerFactory<'_>,
    reward: Option<&dyn RewardProgram>,
) -> Result<RolloutReport, RewardError> {
    let start = Instant::now();
    let rewards: Vec<Option<Box<dyn RewardProgram>>> =
        (0..episodes).map(|_| reward.map(|r| r.fork())).collect();
    let results: Result<Vec<EpisodeResult>, RewardError> = rewards
        .into_par_iter()
        .enumerate()
        .map(|(i, reward)| {
            let episode_seed = derive_seed(seed, i as u64);
            let mut ctrl = controller(derive_seed(episode_seed, 1));
            run_one(task, derive_seed(episode_seed, 0), ctrl.as_mut(), reward)
        })
        .collect();
    let episodes = results?;
    let env_steps: u64 = episodes.iter().map(|e| e.steps as u64).sum();
    let wall_s = start.elapsed().as_secs_f64();
    Ok(RolloutReport {
        task: task.name.clone(),
        episodes,
        env_steps,
        wall_s,
        env_steps_per_sec: env_steps as f64 / wall_s.max(1e-9),
    })
}

fn run_one(
    task: &Task,
    seed: u64,
    ctrl: &mut dyn Controller,
    mut reward: Option<Box<dyn RewardProgram>>,
) -> Result<EpisodeResult, RewardError> {
    let mut env = task.make_env();
    let spec = env.spec().clone();
    env.reset(seed);
    let mut obs = vec![0.0f32; spec.obs_dim];
    let mut action = vec![0.0f32; spec.action_dim];
    let mut state = spec.state.zeroed();
    let mut prev = spec.state.zeroed();
    let mut components = vec![0.0; reward.as_ref().map_or(0, |r| r.components().len())];
    let mut meter = task.fitness.meter();
    let mut total = 0.0;
    env.reward_state(&mut state);
    let mut steps = 0;
    let mut terminated = false;
    while steps < task.episode_steps {
        env.observe(&mut obs);
        ctrl.act(&obs, &mut action);
        std::mem::swap(&mut state, &mut prev);
        let info = env.step(&action);
        steps += 1;
        env.reward_state(&mut state);
        let s = StateView::new(&spec.state, &state);
        meter.step(&s, info);
        if let Some(r) = reward.as_mut() {
            let p = StateView::new(&spec.state, &prev);
            r.evaluate(&s, &p, &mut components)?;
            total += components.iter().sum::<f64>();
        }
        if info.terminated {
            terminated = true;
            break;
        }
    }
    Ok(EpisodeResult {
        fitness: meter.finish(task.episode_steps),
        steps,
        terminated,
        reward_return: reward.map(|_| total),
    })
}

/// Consecutive `(prev, s)` reward-state pairs from random-policy episodes, for
/// dry-running a reward program before any training.
#[must_use]
pub fn sample_states(task: &Task, pairs: usize, seed: u64) -> Vec<(Vec<f64>, Vec<f64>)> {
    let mut env = task.make_env();
    let spec = env.spec().clone();
    let mut ctrl = RandomController::new(derive_seed(seed, 1));
    let mut obs = vec![0.0f32; spec.obs_dim];
    let mut action = vec![0.0f32; spec.action_dim];
    let mut out = Vec::with_capacity(pairs);
    let mut episode = 0;
    while out.len() < pairs {
        env.reset(derive_seed(seed, 100 + episode));
        episode += 1;
        let mut prev = spec.state.zeroed();
        env.reward_state(&mut prev);
        for _ in 0..task.episode_steps {
            if out.len() >= pairs {
                break;
            }
            env.observe(&mut obs);
            ctrl.act(&obs, &mut action);
            let info = env.step(&action);
            let mut state = spec.state.zeroed();
            env.reward_state(&mut state);
            out.push((prev, state.clone()));
            prev = state;
            if info.terminated {
                break;
            }
        }
    }
    out
}
