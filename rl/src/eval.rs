//! Evaluation: episodes of the deterministic policy, scored by the task's fitness.

use crate::error::{Error, Result};
use crate::policy::Policy;
use rewardsmith_core::{FitnessMeter, Task, VecEnv};
use serde::{Deserialize, Serialize};

/// Fitness of a policy over evaluation episodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Task name.
    pub task: String,
    /// Fitness of each episode, in instance order.
    pub fitness: Vec<f64>,
    /// Length of each episode, in steps.
    pub lengths: Vec<usize>,
    /// Mean fitness.
    pub mean: f64,
    /// Population standard deviation of the fitness.
    pub std: f64,
    /// Mean episode length.
    pub mean_length: f64,
    /// Env steps taken: the sum of the episode lengths (a finished episode's
    /// instance is no longer stepped while the others run on).
    pub env_steps: u64,
    /// Share of the episodes that met the task's success predicate, for a
    /// fitness that has one (see [`FitnessMeter::finish_scored`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<f64>,
}

struct Slot {
    meter: Box<dyn FitnessMeter>,
    len: usize,
    fitness: Option<f64>,
    success: Option<bool>,
}

/// Runs `episodes` episodes in parallel (one env instance each, seeded from
/// `seed`) on the current rayon pool.
pub(crate) fn run_episodes(
    task: &Task,
    policy: &mut Policy,
    episodes: usize,
    seed: u64,
) -> EvalReport {
    let limit = task.episode_steps;
    let spec = task.env_spec().clone();
    let mut venv = VecEnv::new(episodes, limit, seed, || task.make_env());
    let mut slots: Vec<Slot> = (0..episodes)
        .map(|_| Slot {
            meter: task.fitness.meter(),
            len: 0,
            fitness: None,
            success: None,
        })
        .collect();
    let mut obs = vec![0.0f32; episodes * spec.obs_dim];
    let mut actions = vec![0.0f32; episodes * spec.action_dim];
    // Instances whose episode is still running; only those are stepped.
    let mut active = vec![true; episodes];
    let mut env_steps = 0u64;
    let mut open = episodes;
    // Every episode ends by the time limit at the latest.
    for _ in 0..limit {
        if open == 0 {
            break;
        }
        // Acting on every row, finished ones included, is as cheap as acting on
        // the running ones only (a forward pass of 8 quadruped rows takes about
        // as long as one, ≈ 35 µs, against ≈ 450 µs per env step), and each
        // row's action depends on that row alone.
        venv.write_obs(&mut obs);
        policy.act_batch(&obs, &mut actions);
        venv.step_active_with(&actions, &active, &mut slots, |slot, s, _prev, info| {
            slot.meter.step(s, info);
            slot.len += 1;
            if info.done() {
                let (fitness, success) = slot.meter.finish_scored(limit);
                slot.fitness = Some(fitness);
                slot.success = success;
            }
        });
        env_steps += open as u64;
        for (on, slot) in active.iter_mut().zip(&slots) {
            *on = slot.fitness.is_none();
        }
        open = active.iter().filter(|&&on| on).count();
    }
    for slot in slots.iter_mut().filter(|s| s.fitness.is_none()) {
        let (fitness, success) = slot.meter.finish_scored(limit);
        slot.fitness = Some(fitness);
        slot.success = success;
    }
    let fitness: Vec<f64> = slots
        .iter()
        .map(|s| s.fitness.unwrap_or(f64::NAN))
        .collect();
    let judged: Vec<bool> = slots.iter().filter_map(|s| s.success).collect();
    let success = (!judged.is_empty())
        .then(|| judged.iter().filter(|&&b| b).count() as f64 / judged.len() as f64);
    let lengths: Vec<usize> = slots.iter().map(|s| s.len).collect();
    let n = episodes.max(1) as f64;
    let mean = fitness.iter().sum::<f64>() / n;
    let std = (fitness.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / n).sqrt();
    EvalReport {
        task: task.name.clone(),
        mean_length: lengths.iter().sum::<usize>() as f64 / n,
        fitness,
        lengths,
        mean,
        std,
        env_steps,
        success,
    }
}

/// Builds the trainer's thread pool.
pub(crate) fn thread_pool(threads: usize) -> Result<rayon::ThreadPool> {
    let threads = threads.max(1);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("rewardsmith-rl-{i}"))
        .build()
        .map_err(|e| Error::ThreadPool {
            threads,
            message: e.to_string(),
        })
}

/// Runs `episodes` evaluation episodes of `policy`'s deterministic actions on
/// `threads` worker threads; episode `i` starts from a state seeded by
/// `(seed, i)`, so the report depends only on the policy, the task and `seed`.
///
/// # Errors
/// [`Error::PolicyMismatch`] when the policy was trained for another
/// environment; [`Error::Config`] for zero episodes; [`Error::ThreadPool`].
pub fn evaluate(
    task: &Task,
    policy: &Policy,
    episodes: usize,
    seed: u64,
    threads: usize,
) -> Result<EvalReport> {
    policy.check_task(task)?;
    if episodes == 0 {
        return Err(Error::Config(
            "evaluation needs at least one episode".into(),
        ));
    }
    let pool = thread_pool(threads)?;
    let mut policy = policy.clone();
    Ok(pool.install(|| run_episodes(task, &mut policy, episodes, seed)))
}
