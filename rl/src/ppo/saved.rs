//! A paused training on disk: everything a [`Trainer`] changes as it trains,
//! written to a folder so that another process can go on from it bitwise as
//! if it had not stopped (a successive-halving rung on a cluster node).
//!
//! The folder holds `learner.safetensors` (the networks, the log-std and
//! Adam's moments), `trainer.json` (the rest: normalisers, random streams,
//! counters, checkpoints, each env instance's episode and its actions so far)
//! and `best/` (the best checkpoint's policy). The envs are not serialised:
//! each instance is reset to its episode and replays that episode's actions
//! ([`VecEnv::restore`]), which gives back its exact physics state because an
//! episode is fixed by its reset seed and its actions. The reward program
//! keeps nothing between calls (a reward is a function of the state and the
//! one before), so nothing of it is saved.

use super::{Best, Sums, Timing, Trainer, Window};
use crate::config::PpoConfig;
use crate::error::{Error, Result};
use crate::eval::EvalReport;
use crate::normalize::{ObsNormalizer, RewardScaler};
use crate::policy::Policy;
use rewardsmith_core::{Checkpoint, EnvPosition, RewardProgram, SplitMix64, Task};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The learner's tensors.
const LEARNER_FILE: &str = "learner.safetensors";
/// Everything else but the best policy.
const STATE_FILE: &str = "trainer.json";
/// The best checkpoint's policy.
const BEST_DIR: &str = "best";
/// Bumped when the layout changes.
const VERSION: u32 = 1;

/// `trainer.json`.
#[derive(Serialize, Deserialize)]
struct Saved {
    version: u32,
    /// What the training is, checked on resume.
    task: String,
    seed: u64,
    config: PpoConfig,
    components: Vec<String>,
    /// Where it is.
    iteration: usize,
    env_steps: u64,
    adam_steps: u64,
    action_rng: u64,
    shuffle_rng: u64,
    obs_norm: ObsNormalizer,
    scaler: RewardScaler,
    indices: Vec<usize>,
    max_abs_reward: f64,
    instances: Vec<Sums>,
    envs: Vec<EnvPosition>,
    window: Window,
    timing: Timing,
    checkpoints: Vec<Checkpoint>,
    /// The best checkpoint's env steps and selection fitness (its policy is
    /// in `best/`).
    best: Option<(u64, f64)>,
    /// The best checkpoint's held-out evaluation, when it was run (a
    /// non-finite one is not kept: JSON has no NaN).
    held_out: Option<(u64, EvalReport)>,
    wall_s: f64,
}

impl Trainer<'_> {
    /// Writes this training, paused where it is, into the folder `dir`
    /// (replacing what is there; written beside it, then renamed into
    /// place). [`Trainer::resume`] goes on from it.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder cannot be written; a training that
    /// failed cannot be saved ([`Error::Config`]).
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        if self.failed {
            return Err(Error::Config(
                "this training failed; there is nothing to go on from".into(),
            ));
        }
        let partial = sibling(dir, "partial");
        remove_dir(&partial)?;
        create_dir(&partial)?;
        let state = &mut *self.state;
        if let Some(best) = &state.best {
            best.policy.save(&partial.join(BEST_DIR))?;
        }
        let mut positions = state.venv.positions();
        let actions: Vec<f32> = positions
            .iter_mut()
            .flat_map(|p| std::mem::take(&mut p.actions))
            .collect();
        let mut owned: Vec<(String, Vec<u8>, usize)> = state
            .agent
            .learned_mut()
            .iter()
            .map(|(name, v)| (name.clone(), f32_bytes(v), v.len()))
            .collect();
        owned.push(("env.actions".into(), f32_bytes(&actions), actions.len()));
        let learner_path = partial.join(LEARNER_FILE);
        let bad = |e: safetensors::SafeTensorError| bad_state(&learner_path, e.to_string());
        let views = owned
            .iter()
            .map(|(name, data, len)| {
                TensorView::new(Dtype::F32, vec![*len], data).map(|v| (name.clone(), v))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(bad)?;
        let blob = safetensors::serialize(views, None).map_err(bad)?;
        write(&learner_path, &blob)?;
        let saved = self.saved(positions);
        let text = serde_json::to_vec(&saved)
            .map_err(|e| bad_state(&partial.join(STATE_FILE), e.to_string()))?;
        write(&partial.join(STATE_FILE), &text)?;
        remove_dir(dir)?;
        std::fs::rename(&partial, dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })
    }

    /// `trainer.json`'s content, with the envs at `envs` (their actions go
    /// to the tensors).
    fn saved(&mut self, envs: Vec<EnvPosition>) -> Saved {
        let (fixed, state) = (&self.fixed, &mut *self.state);
        let finite = |e: &EvalReport| {
            e.fitness.iter().all(|f| f.is_finite()) && e.mean.is_finite() && e.std.is_finite()
        };
        Saved {
            version: VERSION,
            task: fixed.task.name.clone(),
            seed: fixed.seed,
            config: fixed.config.clone(),
            components: fixed.names.clone(),
            iteration: state.iteration,
            env_steps: state.env_steps,
            adam_steps: *state.agent.adam_steps(),
            action_rng: state.action_rng.state(),
            shuffle_rng: state.shuffle_rng.state(),
            obs_norm: state.obs_norm.clone(),
            scaler: state.scaler.clone(),
            indices: state.indices.clone(),
            max_abs_reward: state.max_abs_reward,
            instances: state.instances.iter().map(|i| i.sums.clone()).collect(),
            envs,
            window: state.window.clone(),
            timing: state.timing,
            checkpoints: state.checkpoints.clone(),
            best: state.best.as_ref().map(|b| (b.env_steps, b.fitness)),
            held_out: self.held_out.clone().filter(|(_, e)| finite(e)),
            wall_s: self.wall_s,
        }
    }
}

impl<'t> Trainer<'t> {
    /// The training saved in `dir` by [`Trainer::save`], ready to go on: the
    /// same as the training that saved it would be had it not stopped.
    /// `task`, `reward`, `config` and `seed` must be those it was started
    /// with.
    ///
    /// # Errors
    /// [`Error::Io`] for an unreadable folder; [`Error::BadState`] when its
    /// content is malformed or belongs to another training (it names what
    /// differs); as [`Trainer::new`].
    pub fn resume(
        task: &'t Task,
        reward: &dyn RewardProgram,
        config: &PpoConfig,
        seed: u64,
        threads: usize,
        dir: &Path,
    ) -> Result<Self> {
        let state_path = dir.join(STATE_FILE);
        let text = std::fs::read(&state_path).map_err(|source| Error::Io {
            path: state_path.clone(),
            source,
        })?;
        let saved: Saved =
            serde_json::from_slice(&text).map_err(|e| bad_state(&state_path, e.to_string()))?;
        let mut trainer = Self::new(task, reward, config, seed, threads)?;
        trainer.check_saved(&saved).map_err(|m| bad_state(dir, m))?;
        let learner_path = dir.join(LEARNER_FILE);
        let blob = std::fs::read(&learner_path).map_err(|source| Error::Io {
            path: learner_path.clone(),
            source,
        })?;
        let tensors =
            SafeTensors::deserialize(&blob).map_err(|e| bad_state(&learner_path, e.to_string()))?;
        let state = &mut *trainer.state;
        for (name, values) in state.agent.learned_mut() {
            read_f32(&tensors, &name, values).map_err(|m| bad_state(&learner_path, m))?;
        }
        let mut envs = saved.envs;
        let action_dim = task.env_spec().action_dim;
        let total: usize = envs.iter().map(|p| p.steps * action_dim).sum();
        let mut actions = vec![0.0f32; total];
        read_f32(&tensors, "env.actions", &mut actions).map_err(|m| bad_state(&learner_path, m))?;
        let mut at = 0;
        for p in &mut envs {
            let len = p.steps * action_dim;
            p.actions = actions[at..at + len].to_vec();
            at += len;
        }
        let pool = &trainer.pool;
        pool.install(|| state.venv.restore(&envs))
            .map_err(|m| bad_state(dir, format!("its env instances cannot be replayed: {m}")))?;
        state.venv.write_obs(&mut state.raw_obs);
        state.best = match saved.best {
            Some((env_steps, fitness)) => Some(Best {
                env_steps,
                fitness,
                policy: Policy::load_for(&dir.join(BEST_DIR), task)?,
            }),
            None => None,
        };
        *state.agent.adam_steps() = saved.adam_steps;
        state.action_rng = SplitMix64::new(saved.action_rng);
        state.shuffle_rng = SplitMix64::new(saved.shuffle_rng);
        state.obs_norm = saved.obs_norm;
        state.scaler = saved.scaler;
        state.indices = saved.indices;
        state.max_abs_reward = saved.max_abs_reward;
        for (inst, sums) in state.instances.iter_mut().zip(saved.instances) {
            inst.sums = sums;
        }
        state.window = saved.window;
        state.timing = saved.timing;
        state.checkpoints = saved.checkpoints;
        state.iteration = saved.iteration;
        state.env_steps = saved.env_steps;
        trainer.held_out = saved.held_out;
        trainer.wall_s += saved.wall_s;
        Ok(trainer)
    }

    /// Whether `saved` belongs to this training (task, seed, settings,
    /// reward components) and fits its sizes; else what differs.
    fn check_saved(&self, saved: &Saved) -> std::result::Result<(), String> {
        let (fixed, state) = (&self.fixed, &self.state);
        if saved.version != VERSION {
            return Err(format!(
                "it is of version {}, this program reads version {VERSION}",
                saved.version
            ));
        }
        let differs = |what: &str, theirs: String, ours: String| {
            Err(format!(
                "it was saved by a training with {what} {theirs}, not {ours}"
            ))
        };
        if saved.task != fixed.task.name {
            return differs("task", saved.task.clone(), fixed.task.name.clone());
        }
        if saved.seed != fixed.seed {
            return differs("seed", saved.seed.to_string(), fixed.seed.to_string());
        }
        if saved.components != fixed.names {
            return differs(
                "reward components",
                format!("{:?}", saved.components),
                format!("{:?}", fixed.names),
            );
        }
        if saved.config != fixed.config {
            return Err("it was saved by a training with other PPO settings".into());
        }
        let n = fixed.config.num_envs;
        if saved.instances.len() != n || saved.envs.len() != n {
            return Err(format!(
                "it has {} reward instances and {} env instances for {n}",
                saved.instances.len(),
                saved.envs.len()
            ));
        }
        if saved.indices.len() != state.indices.len()
            || saved.iteration > fixed.num_iterations
            || saved
                .instances
                .iter()
                .any(|i| i.component_sums.len() != fixed.names.len())
        {
            return Err("its sizes do not fit the training's settings".into());
        }
        Ok(())
    }
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Copies tensor `name` into `out`, which it must fill exactly.
fn read_f32(
    tensors: &SafeTensors<'_>,
    name: &str,
    out: &mut [f32],
) -> std::result::Result<(), String> {
    let view = tensors
        .tensor(name)
        .map_err(|e| format!("tensor `{name}`: {e}"))?;
    if view.dtype() != Dtype::F32 || view.data().len() != out.len() * 4 {
        return Err(format!(
            "tensor `{name}` has {} bytes of {:?}, expected {} f32 values",
            view.data().len(),
            view.dtype(),
            out.len()
        ));
    }
    for (x, b) in out.iter_mut().zip(view.data().chunks_exact(4)) {
        *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    Ok(())
}

fn bad_state(path: &Path, message: String) -> Error {
    Error::BadState {
        path: path.to_path_buf(),
        message,
    }
}

/// `dir` with `.suffix` appended to its name.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(format!(".{suffix}"));
    PathBuf::from(name)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(dir)(e)),
        _ => Ok(()),
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(io(path))
}
