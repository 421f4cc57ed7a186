//! The trajectory analyzer (Auto MC-Reward's idea, from data): evaluation
//! episodes of a trained policy, summarised as how episodes ended and what the
//! robot did, in numbers and in words for the next prompt.

use rewardsmith_core::{Env, StateView, Task, derive_seed};
use rewardsmith_rl::Policy;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Fields longer than this are left out of the summary (joint lists are noise
/// to a reader; positions, velocities and orientations are not).
const MAX_FIELD_LEN: usize = 4;

/// One reward-state field over the evaluation episodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldSummary {
    /// Field name.
    pub name: String,
    /// Mean over every step of every episode.
    pub mean: Vec<f64>,
    /// Mean over episodes of (last value − first value).
    pub change: Vec<f64>,
}

/// What the trained policy did in its evaluation episodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrajectorySummary {
    /// Episodes run.
    pub episodes: usize,
    /// The task's time limit, in steps.
    pub episode_steps: usize,
    /// Steps each episode lasted.
    pub lengths: Vec<usize>,
    /// Whether each ended inside the world (a fall, a drop).
    pub terminated: Vec<bool>,
    /// Fitness of each episode.
    pub fitness: Vec<f64>,
    /// Per-field means and changes.
    pub fields: Vec<FieldSummary>,
}

/// Runs `episodes` deterministic episodes of `policy` and summarises them.
///
/// # Errors
/// The policy does not fit the task.
pub fn analyse(
    task: &Task,
    policy: &Policy,
    episodes: usize,
    seed: u64,
) -> anyhow::Result<TrajectorySummary> {
    policy.check_task(task)?;
    let spec = task.env_spec().clone();
    let state_spec = &spec.state;
    let fields: Vec<usize> = (0..state_spec.fields().len())
        .filter(|&i| {
            let field = &state_spec.fields()[i];
            // Another task's goal is noise here (and reads as a goal).
            field.kind.len() <= MAX_FIELD_LEN && field.used_by(&task.name)
        })
        .collect();
    let mut sums: Vec<Vec<f64>> = fields
        .iter()
        .map(|&i| vec![0.0; state_spec.fields()[i].kind.len()])
        .collect();
    let mut changes = sums.clone();
    let mut total_steps = 0usize;
    let mut summary = TrajectorySummary {
        episodes,
        episode_steps: task.episode_steps,
        lengths: Vec::new(),
        terminated: Vec::new(),
        fitness: Vec::new(),
        fields: Vec::new(),
    };
    let mut policy = policy.clone();
    let mut env: Box<dyn Env> = task.make_env();
    let mut obs = vec![0.0f32; spec.obs_dim];
    let mut action = vec![0.0f32; spec.action_dim];
    let mut state = state_spec.zeroed();
    let mut first = state_spec.zeroed();
    for e in 0..episodes {
        env.reset(derive_seed(seed ^ 0x0a11_ce5e, e as u64));
        env.reward_state(&mut first);
        let mut meter = task.fitness.meter();
        let mut steps = 0;
        let mut terminated = false;
        while steps < task.episode_steps {
            env.observe(&mut obs);
            policy.act(&obs, &mut action);
            let info = env.step(&action);
            steps += 1;
            env.reward_state(&mut state);
            let view = StateView::new(state_spec, &state);
            meter.step(&view, info);
            for (sum, &i) in sums.iter_mut().zip(&fields) {
                for (s, v) in sum.iter_mut().zip(view.field_at(i)) {
                    *s += v;
                }
            }
            if info.terminated {
                terminated = true;
                break;
            }
        }
        let first_view = StateView::new(state_spec, &first);
        let last_view = StateView::new(state_spec, &state);
        for (change, &i) in changes.iter_mut().zip(&fields) {
            for ((c, a), b) in change
                .iter_mut()
                .zip(first_view.field_at(i))
                .zip(last_view.field_at(i))
            {
                *c += (b - a) / episodes as f64;
            }
        }
        total_steps += steps;
        summary.lengths.push(steps);
        summary.terminated.push(terminated);
        summary.fitness.push(meter.finish(task.episode_steps));
    }
    summary.fields = fields
        .iter()
        .zip(sums.into_iter().zip(changes))
        .map(|(&i, (sum, change))| FieldSummary {
            name: state_spec.fields()[i].name.clone(),
            mean: sum.iter().map(|s| s / total_steps.max(1) as f64).collect(),
            change,
        })
        .collect();
    Ok(summary)
}

fn fmt_values(v: &[f64]) -> String {
    if v.len() == 1 {
        format!("{:.3}", v[0])
    } else {
        let parts: Vec<String> = v.iter().map(|x| format!("{x:.3}")).collect();
        format!("[{}]", parts.join(", "))
    }
}

impl TrajectorySummary {
    /// The summary in words, for the reflection prompt and the report.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let ended: Vec<String> = self
            .lengths
            .iter()
            .zip(&self.terminated)
            .filter(|(_, t)| **t)
            .map(|(l, _)| l.to_string())
            .collect();
        let _ = writeln!(
            out,
            "Over {} evaluation episodes (deterministic policy), {} ended early (the robot fell or failed) {}and {} ran to the {}-step time limit.",
            self.episodes,
            ended.len(),
            if ended.is_empty() {
                String::new()
            } else {
                format!("at steps {}, ", ended.join(", "))
            },
            self.episodes - ended.len(),
            self.episode_steps
        );
        // No fitness figure here: the candidate's one figure (its best
        // checkpoint on held-out episodes) is stated beside the curves, and
        // a reflection that hides the fitness reads this text too.
        let _ = writeln!(
            out,
            "Reward-state fields during the episodes (mean over steps; change from the first to the last step):"
        );
        for f in &self.fields {
            let _ = writeln!(
                out,
                "- {}: mean {}, change {}",
                f.name,
                fmt_values(&f.mean),
                fmt_values(&f.change)
            );
        }
        out
    }
}
