//! The PPO trainer, readable top to bottom as cleanrl's
//! `ppo_continuous_action.py`: collect a rollout over the vectorised envs
//! (rewards from the reward program, evaluated in parallel inside the step),
//! compute GAE, run `update_epochs` passes of minibatch updates, and take
//! evenly spaced checkpoints with a deterministic-policy evaluation.

use crate::agent::{ActorCritic, Minibatch};
use crate::config::PpoConfig;
use crate::error::{Error, Result, SLOW_REWARD_FLOOR_S, SLOW_REWARD_RATIO};
use crate::eval::{EvalReport, run_episodes, thread_pool};
use crate::gae::{GaeInput, StepEnd, compute_gae};
use crate::loss::gaussian_log_prob;
use crate::nn::MlpWorkspace;
use crate::normalize::{ObsNormalizer, RewardScaler};
use crate::policy::Policy;
use rewardsmith_core::{
    BestCheckpoint, Checkpoint, RewardError, RewardErrorKind, RewardProgram, SplitMix64, StateView,
    StepInfo, Task, TrainReport, VecEnv, derive_seed,
};
use serde::{Deserialize, Serialize};
use std::time::Instant;

mod saved;

/// Seed streams derived from the run's seed.
const STREAM_ENVS: u64 = 1;
const STREAM_NETS: u64 = 2;
const STREAM_ACTIONS: u64 = 4;
const STREAM_SHUFFLE: u64 = 5;
const STREAM_EVAL: u64 = 6;
const STREAM_HELD_OUT: u64 = 7;

/// Minibatch size × parameters above which actor and critic gradients are
/// computed on two threads.
const PARALLEL_UPDATE_WORK: usize = 1 << 20;

/// Mean losses and diagnostics of one PPO update (cleanrl's `losses/*` and
/// `charts/*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Losses {
    /// Clipped surrogate loss.
    pub policy: f64,
    /// Value loss (without `vf_coef`).
    pub value: f64,
    /// Policy entropy.
    pub entropy: f64,
    /// Approximate KL between the old and the new policy.
    pub approx_kl: f64,
    /// Fraction of clipped ratios.
    pub clipfrac: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Learning rate of the update.
    pub learning_rate: f64,
    /// Epochs run (fewer than `update_epochs` after a target-KL stop).
    pub epochs: usize,
}

/// Reported to the observer after every rollout-and-update iteration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Progress {
    /// Env steps taken so far.
    pub env_steps: u64,
    /// Env steps the whole run takes.
    pub total_steps: u64,
    /// 1-based iteration just finished.
    pub iteration: usize,
    /// Iterations in the run.
    pub num_iterations: usize,
    /// The update's losses.
    pub losses: Losses,
    /// The checkpoint taken right after this iteration, if one was.
    pub checkpoint: Option<Checkpoint>,
}

/// Where the wall time went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Stepping the envs and evaluating the reward program.
    pub simulate_s: f64,
    /// Choosing actions (normalisation, actor forward pass, sampling).
    pub act_s: f64,
    /// Values, GAE and the PPO update.
    pub learn_s: f64,
    /// Evaluation episodes at checkpoints.
    pub eval_s: f64,
}

impl Timing {
    /// The learner's share of training time (`(act + learn) / (simulate + act + learn)`),
    /// evaluation excluded.
    #[must_use]
    pub fn learner_fraction(&self) -> f64 {
        let learner = self.act_s + self.learn_s;
        learner / (learner + self.simulate_s).max(1e-12)
    }
}

/// A finished training run.
#[derive(Clone, Debug)]
pub struct Trained {
    /// What training reports.
    pub report: TrainReport,
    /// The best checkpoint's policy (the one the report's
    /// [`fitness`](TrainReport::fitness) scores).
    pub policy: Policy,
    /// The last checkpoint's policy.
    pub last_policy: Policy,
    /// Where the time went.
    pub timing: Timing,
}

/// One environment instance's reward evaluator and its running sums.
struct Instance {
    program: Box<dyn RewardProgram>,
    values: Vec<f64>,
    sums: Sums,
    finished: Option<(f64, usize)>,
    error: Option<RewardError>,
}

/// An instance's running sums: what a paused training saves of it.
#[derive(Clone, Serialize, Deserialize)]
struct Sums {
    /// Reward calls so far, how many were timed (every [`TIME_EVERY`]th:
    /// timing every call would cost more than a cheap reward), and the wall
    /// times of the last [`RECENT_TIMES`] timed ones, a ring.
    calls: u64,
    timed_calls: u64,
    recent_s: Vec<f64>,
    component_sums: Vec<f64>,
    reward: f64,
    episode_return: f64,
    episode_length: usize,
}

impl Instance {
    fn observe(
        &mut self,
        names: &[String],
        s: &StateView<'_>,
        prev: &StateView<'_>,
        info: StepInfo,
    ) {
        if self.error.is_some() {
            return;
        }
        let timed = self.sums.calls.is_multiple_of(TIME_EVERY);
        self.sums.calls += 1;
        let started = timed.then(Instant::now);
        let evaluated = self.program.evaluate(s, prev, &mut self.values);
        if let Some(t) = started {
            let took = t.elapsed().as_secs_f64();
            if self.sums.recent_s.len() < RECENT_TIMES {
                self.sums.recent_s.push(took);
            } else {
                self.sums.recent_s[(self.sums.timed_calls as usize) % RECENT_TIMES] = took;
            }
            self.sums.timed_calls += 1;
        }
        if let Err(e) = evaluated {
            self.error = Some(e);
            return;
        }
        let mut total = 0.0;
        for (i, &v) in self.values.iter().enumerate() {
            if !v.is_finite() {
                let name = names.get(i).cloned().unwrap_or_default();
                self.error = Some(
                    RewardError::new(
                        RewardErrorKind::NonFinite,
                        format!("component `{name}` is {v}"),
                    )
                    .in_component(name),
                );
                return;
            }
            total += v;
        }
        for (sum, v) in self.sums.component_sums.iter_mut().zip(&self.values) {
            *sum += v;
        }
        self.sums.reward = total;
        self.sums.episode_return += total;
        self.sums.episode_length += 1;
        if info.done() {
            self.finished = Some((self.sums.episode_return, self.sums.episode_length));
            self.sums.episode_return = 0.0;
            self.sums.episode_length = 0;
        }
    }
}

/// Every how many reward calls one is timed.
const TIME_EVERY: u64 = 16;

/// Timed calls each instance keeps for the cost check (the latest ones).
const RECENT_TIMES: usize = 64;

/// Stops a training whose reward costs more than [`SLOW_REWARD_RATIO`] env
/// steps per call: the median of the recent timed calls against the median
/// env step ([`env_step_seconds`]). Medians, not means or totals: on a loaded
/// machine some calls and steps are preempted for a time slice
/// (milliseconds) and the stepping threads share the cores with others, which
/// would make a cheap reward look dear, or a dear one cheap.
fn slow_reward_check(instances: &[Instance], env_step_s: f64) -> Result<()> {
    let timed: u64 = instances.iter().map(|i| i.sums.timed_calls).sum();
    if timed < 32 {
        return Ok(());
    }
    let mut recent: Vec<f64> = instances
        .iter()
        .flat_map(|i| i.sums.recent_s.iter().copied())
        .collect();
    recent.sort_by(f64::total_cmp);
    let per_call = recent[recent.len() / 2];
    if per_call > SLOW_REWARD_RATIO * env_step_s && per_call > SLOW_REWARD_FLOOR_S {
        return Err(Error::SlowReward {
            share_pct: 100.0 * per_call / (per_call + env_step_s),
            reward_us: per_call * 1e6,
        });
    }
    Ok(())
}

/// Env steps timed by [`env_step_seconds`].
const ENV_STEPS_TIMED: usize = 64;

/// The median wall time of one step of a fresh env of `task` (reset with a
/// seed of its own, zero actions): the yardstick of the reward's cost. The
/// env is a copy, so the training's envs and random streams are untouched.
fn env_step_seconds(task: &Task, seed: u64) -> f64 {
    let mut env = task.make_env();
    env.reset(rewardsmith_core::derive_seed(seed, 0x0057_17e9));
    let action = vec![0.0f32; task.env_spec().action_dim];
    let mut times = Vec::with_capacity(ENV_STEPS_TIMED);
    for _ in 0..ENV_STEPS_TIMED {
        let started = Instant::now();
        let info = env.step(&action);
        times.push(started.elapsed().as_secs_f64());
        if info.terminated || info.truncated {
            env.reset(rewardsmith_core::derive_seed(seed, times.len() as u64));
        }
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// A rollout, time-major (`t · num_envs + e`).
struct Rollout {
    obs: Vec<f32>,
    actions: Vec<f32>,
    log_probs: Vec<f32>,
    rewards: Vec<f32>,
    ends: Vec<StepEnd>,
    values: Vec<f32>,
    final_values: Vec<f32>,
    advantages: Vec<f32>,
    returns: Vec<f32>,
    /// Normalised final observations of truncated steps, and their indices.
    trunc_obs: Vec<f32>,
    trunc_index: Vec<usize>,
    next_obs: Vec<f32>,
    next_values: Vec<f32>,
}

impl Rollout {
    fn new(batch: usize, num_envs: usize, d: usize, a: usize) -> Self {
        Self {
            obs: vec![0.0; batch * d],
            actions: vec![0.0; batch * a],
            log_probs: vec![0.0; batch],
            rewards: vec![0.0; batch],
            ends: vec![StepEnd::default(); batch],
            values: vec![0.0; batch],
            final_values: vec![0.0; batch],
            advantages: vec![0.0; batch],
            returns: vec![0.0; batch],
            trunc_obs: Vec::with_capacity(num_envs * d),
            trunc_index: Vec::with_capacity(num_envs),
            next_obs: vec![0.0; num_envs * d],
            next_values: vec![0.0; num_envs],
        }
    }
}

/// Training statistics accumulated between checkpoints.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Window {
    steps: u64,
    episodes: usize,
    return_sum: f64,
    length_sum: f64,
}

/// Trains a PPO policy on `task` with `reward`, on `threads` worker threads.
///
/// `observer` is called after every iteration (rollout + update) with the
/// progress, and with the checkpoint when one was just taken. The same seed,
/// reward, config and thread count give the same report, timings aside (in
/// fact the result does not depend on the thread count either). The same as
/// [`Trainer::new`], [`Trainer::advance`] to the budget and
/// [`Trainer::finish`].
///
/// # Errors
/// [`Error::Config`] for unusable hyperparameters; [`Error::NoComponents`];
/// [`Error::Reward`] when the reward program fails (training stops at that
/// step); [`Error::Diverged`] when the losses stop being finite;
/// [`Error::ThreadPool`].
pub fn train(
    task: &Task,
    reward: &dyn RewardProgram,
    config: &PpoConfig,
    seed: u64,
    threads: usize,
    observer: &mut dyn FnMut(&Progress),
) -> Result<Trained> {
    let mut trainer = Trainer::new(task, reward, config, seed, threads)?;
    trainer.advance(u64::MAX, observer)?;
    trainer.finish()
}

/// The checkpoint with the best evaluation so far, kept beside the last.
#[derive(Clone, Debug)]
struct Best {
    env_steps: u64,
    fitness: f64,
    policy: Policy,
}

/// A PPO training that can stop after any iteration and go on later, bitwise
/// as if it had not stopped: the learning-rate schedule and the checkpoints
/// are those of the whole budget, and every random stream carries on. A
/// successive-halving search pauses its candidates here between rungs.
///
/// Every pause ([`advance`](Self::advance) returning before the budget) takes
/// a checkpoint; checkpoints only evaluate, so they change nothing in the
/// training. Each checkpoint's policy is evaluated on evaluation seeds and
/// the best one is kept; [`finish`](Self::finish) scores it again on seeds
/// that were not used to choose it.
pub struct Trainer<'t> {
    fixed: Fixed<'t>,
    state: Box<State>,
    pool: rayon::ThreadPool,
    wall_s: f64,
    failed: bool,
    /// The held-out evaluation of the best checkpoint, by its env steps (a
    /// rung's score, reused by [`finish`](Self::finish) when the best has
    /// not changed since).
    held_out: Option<(u64, EvalReport)>,
}

/// What every iteration reads.
struct Fixed<'t> {
    task: &'t Task,
    config: PpoConfig,
    names: Vec<String>,
    seed: u64,
    num_iterations: usize,
    checkpoint_at: Vec<usize>,
    /// Wall seconds of one env step, a median ([`env_step_seconds`]): what
    /// the reward's cost is weighed against.
    env_step_s: f64,
}

/// What the iterations change.
struct State {
    venv: VecEnv,
    instances: Vec<Instance>,
    agent: ActorCritic,
    obs_norm: ObsNormalizer,
    scaler: RewardScaler,
    action_rng: SplitMix64,
    shuffle_rng: SplitMix64,
    rollout: Rollout,
    raw_obs: Vec<f32>,
    clipped_actions: Vec<f32>,
    step_rewards: Vec<f64>,
    /// The largest |reward| of a step so far, to say why training diverged.
    max_abs_reward: f64,
    step_done: Vec<bool>,
    stats_scratch: Vec<f64>,
    act_ws: MlpWorkspace,
    mb: Minibatch,
    indices: Vec<usize>,
    timing: Timing,
    window: Window,
    checkpoints: Vec<Checkpoint>,
    env_steps: u64,
    /// Iterations done.
    iteration: usize,
    best: Option<Best>,
}

impl<'t> Trainer<'t> {
    /// A training of `reward` on `task` at step 0, on `threads` worker threads.
    ///
    /// # Errors
    /// [`Error::Config`], [`Error::NoComponents`], [`Error::ThreadPool`].
    pub fn new(
        task: &'t Task,
        reward: &dyn RewardProgram,
        config: &PpoConfig,
        seed: u64,
        threads: usize,
    ) -> Result<Self> {
        config.validate()?;
        let names: Vec<String> = reward.components().to_vec();
        if names.is_empty() {
            return Err(Error::NoComponents);
        }
        let start = Instant::now();
        let pool = thread_pool(threads)?;
        let programs: Vec<Box<dyn RewardProgram>> =
            (0..config.num_envs).map(|_| reward.fork()).collect();
        let num_iterations = config.num_iterations();
        let fixed = Fixed {
            task,
            config: config.clone(),
            names,
            seed,
            num_iterations,
            checkpoint_at: checkpoint_iterations(num_iterations, config.checkpoints),
            env_step_s: env_step_seconds(task, seed),
        };
        let state = pool.install(|| Box::new(State::new(&fixed, programs)));
        Ok(Self {
            fixed,
            state,
            pool,
            wall_s: start.elapsed().as_secs_f64(),
            failed: false,
            held_out: None,
        })
    }

    /// Trains until at least `env_steps` env steps are done (whole
    /// iterations) or the budget is spent, telling `observer` of every
    /// iteration on the caller's thread. Stopping before the budget takes a
    /// checkpoint.
    ///
    /// # Errors
    /// As [`train`]; a trainer that failed once fails again.
    pub fn advance(&mut self, env_steps: u64, observer: &mut dyn FnMut(&Progress)) -> Result<()> {
        if self.failed {
            return Err(Error::Config(
                "this training already failed and cannot go on".into(),
            ));
        }
        let start = Instant::now();
        // The loop runs on one of the pool's workers, so stepping the envs in
        // parallel needs no hand-over from an outside thread at every step;
        // progress comes back over a channel to the caller's thread (the
        // observer need not be `Send`).
        let (tx, rx) = std::sync::mpsc::channel::<Progress>();
        let Self {
            fixed, state, pool, ..
        } = self;
        let (fixed, state, pool) = (&*fixed, &mut **state, &*pool);
        let result = std::thread::scope(|scope| {
            let worker =
                scope.spawn(move || pool.install(|| state.run_until(fixed, env_steps, &tx)));
            for progress in rx {
                observer(&progress);
            }
            match worker.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        self.wall_s += start.elapsed().as_secs_f64();
        self.failed = result.is_err();
        result
    }

    /// Trains on `threads` worker threads from now on (the result does not
    /// depend on the thread count).
    ///
    /// # Errors
    /// [`Error::ThreadPool`].
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        if threads != self.pool.current_num_threads() {
            self.pool = thread_pool(threads)?;
        }
        Ok(())
    }

    /// Env steps trained so far.
    #[must_use]
    pub fn env_steps(&self) -> u64 {
        self.state.env_steps
    }

    /// Env steps of the whole budget.
    #[must_use]
    pub fn total_steps(&self) -> u64 {
        (self.fixed.num_iterations * self.fixed.config.batch_size()) as u64
    }

    /// Whether the whole budget is trained.
    #[must_use]
    pub fn done(&self) -> bool {
        self.state.iteration >= self.fixed.num_iterations
    }

    /// The checkpoints so far.
    #[must_use]
    pub fn checkpoints(&self) -> &[Checkpoint] {
        &self.state.checkpoints
    }

    /// The best checkpoint so far: its env steps and its evaluation fitness.
    #[must_use]
    pub fn best_so_far(&self) -> Option<(u64, f64)> {
        self.state.best.as_ref().map(|b| (b.env_steps, b.fitness))
    }

    /// The best checkpoint's evaluation on the held-out seeds: the figure
    /// [`finish`](Self::finish) reports, at this point of the training.
    pub fn held_out_evaluation(&mut self) -> Option<EvalReport> {
        let best = self.state.best.as_ref()?;
        if let Some((at, eval)) = &self.held_out
            && *at == best.env_steps
        {
            return Some(eval.clone());
        }
        let (at, started) = (best.env_steps, Instant::now());
        let eval = self.held_out(&best.policy);
        // The training's own time, wherever it is asked for: a rung's score
        // is the same evaluation `finish` would otherwise run.
        let took = started.elapsed().as_secs_f64();
        self.wall_s += took;
        self.state.timing.eval_s += took;
        self.held_out = Some((at, eval.clone()));
        Some(eval)
    }

    fn held_out(&self, policy: &Policy) -> EvalReport {
        let mut policy = policy.clone();
        let (task, config) = (self.fixed.task, &self.fixed.config);
        let seed = derive_seed(self.fixed.seed, STREAM_HELD_OUT);
        self.pool
            .install(|| run_episodes(task, &mut policy, config.held_out_episodes, seed))
    }

    /// The report, the best checkpoint's policy and the last one, at the
    /// steps trained so far (the budget, or fewer for a training stopped
    /// early). The best checkpoint is scored again on held-out seeds.
    ///
    /// # Errors
    /// A trainer that failed.
    pub fn finish(mut self) -> Result<Trained> {
        if self.failed {
            return Err(Error::Config(
                "this training failed; it has no result".into(),
            ));
        }
        let last = self.state.policy(self.fixed.task);
        let best = self.state.best.clone().unwrap_or_else(|| Best {
            env_steps: self.state.env_steps,
            fitness: f64::NAN,
            policy: last.clone(),
        });
        let t_eval = Instant::now();
        let held_out = match self.held_out.take() {
            Some((at, eval)) if self.state.best.is_some() && at == best.env_steps => eval,
            _ => self.held_out(&best.policy),
        };
        let State {
            checkpoints,
            env_steps,
            mut timing,
            ..
        } = *self.state;
        timing.eval_s += t_eval.elapsed().as_secs_f64();
        let wall_s = self.wall_s + t_eval.elapsed().as_secs_f64();
        let final_fitness = checkpoints.last().map_or(f64::NAN, |c| c.fitness);
        let max_fitness = checkpoints
            .iter()
            .map(|c| c.fitness)
            .fold(f64::NEG_INFINITY, f64::max);
        let report = TrainReport {
            task: self.fixed.task.name.clone(),
            components: self.fixed.names,
            checkpoints,
            env_steps,
            final_fitness,
            max_fitness,
            wall_s,
            env_steps_per_sec: env_steps as f64 / wall_s.max(1e-9),
            best: Some(BestCheckpoint {
                env_steps: best.env_steps,
                selection_fitness: best.fitness,
                fitness: held_out.mean,
                episodes: held_out.fitness.len(),
                success: held_out.success,
            }),
        };
        Ok(Trained {
            report,
            policy: best.policy,
            last_policy: last,
            timing,
        })
    }
}

impl State {
    fn new(fixed: &Fixed<'_>, programs: Vec<Box<dyn RewardProgram>>) -> Self {
        let (task, config, seed) = (fixed.task, &fixed.config, fixed.seed);
        let spec = task.env_spec().clone();
        let (d, a) = (spec.obs_dim, spec.action_dim);
        let n = config.num_envs;
        let batch = config.batch_size();
        let venv = VecEnv::new(
            n,
            task.episode_steps,
            derive_seed(seed, STREAM_ENVS),
            || task.make_env(),
        );
        let names = fixed.names.len();
        let instances: Vec<Instance> = programs
            .into_iter()
            .map(|program| Instance {
                program,
                values: vec![0.0; names],
                sums: Sums {
                    calls: 0,
                    timed_calls: 0,
                    recent_s: Vec::with_capacity(RECENT_TIMES),
                    component_sums: vec![0.0; names],
                    reward: 0.0,
                    episode_return: 0.0,
                    episode_length: 0,
                },
                finished: None,
                error: None,
            })
            .collect();
        let agent = ActorCritic::new(
            d,
            a,
            &config.hidden,
            config.init_log_std as f32,
            derive_seed(seed, STREAM_NETS),
        );
        let mut state = Self {
            venv,
            instances,
            agent,
            obs_norm: ObsNormalizer::new(d, config.clip_obs, config.norm_obs),
            scaler: RewardScaler::new(n, config.gamma, config.clip_reward, config.norm_reward),
            action_rng: SplitMix64::new(derive_seed(seed, STREAM_ACTIONS)),
            shuffle_rng: SplitMix64::new(derive_seed(seed, STREAM_SHUFFLE)),
            rollout: Rollout::new(batch, n, d, a),
            raw_obs: vec![0.0f32; n * d],
            clipped_actions: vec![0.0f32; n * a],
            step_rewards: vec![0.0f64; n],
            max_abs_reward: 0.0,
            step_done: vec![false; n],
            stats_scratch: Vec::new(),
            act_ws: MlpWorkspace::default(),
            mb: Minibatch::default(),
            indices: (0..batch).collect(),
            timing: Timing::default(),
            window: Window::default(),
            checkpoints: Vec::with_capacity(fixed.checkpoint_at.len()),
            env_steps: 0,
            iteration: 0,
            best: None,
        };
        state.venv.write_obs(&mut state.raw_obs);
        state
    }

    /// The current deterministic policy.
    fn policy(&self, task: &Task) -> Policy {
        Policy::new(
            task,
            self.obs_norm.clone(),
            self.agent.actor().clone(),
            self.agent.log_std().to_vec(),
        )
    }

    /// Iterations until `until` env steps or the budget; runs on a worker of
    /// the trainer's pool, so every parallel step uses that pool.
    fn run_until(
        &mut self,
        fixed: &Fixed<'_>,
        until: u64,
        tx: &std::sync::mpsc::Sender<Progress>,
    ) -> Result<()> {
        let total_steps = (fixed.num_iterations * fixed.config.batch_size()) as u64;
        while self.iteration < fixed.num_iterations && self.env_steps < until {
            self.iteration += 1;
            let iteration = self.iteration;
            self.rollout(fixed)?;
            let losses = self.learn(fixed)?;
            let pause = self.env_steps >= until && iteration < fixed.num_iterations;
            let checkpoint =
                (fixed.checkpoint_at.contains(&iteration) || pause).then(|| self.checkpoint(fixed));
            // The receiver lives until the caller's loop ends; a send cannot fail.
            let _ = tx.send(Progress {
                env_steps: self.env_steps,
                total_steps,
                iteration,
                num_iterations: fixed.num_iterations,
                losses,
                checkpoint,
            });
        }
        Ok(())
    }

    /// One rollout of `num_steps` steps of every instance.
    fn rollout(&mut self, fixed: &Fixed<'_>) -> Result<()> {
        let spec = fixed.task.env_spec();
        let (d, a) = (spec.obs_dim, spec.action_dim);
        let n = fixed.config.num_envs;
        self.rollout.trunc_obs.clear();
        self.rollout.trunc_index.clear();
        for t in 0..fixed.config.num_steps {
            let t0 = Instant::now();
            let rows = t * n..(t + 1) * n;
            if let Some(i) = self.raw_obs.iter().position(|x| !x.is_finite()) {
                return Err(Error::NonFiniteObservation {
                    env_step: self.env_steps,
                    instance: i / d.max(1),
                });
            }
            self.act(rows.clone(), d, a)?;
            let t1 = Instant::now();
            self.timing.act_s += (t1 - t0).as_secs_f64();

            let names_ref = &fixed.names;
            self.venv.step_with(
                &self.clipped_actions,
                &mut self.instances,
                |inst, s, prev, info| {
                    inst.observe(names_ref, s, prev, info);
                },
            );
            self.timing.simulate_s += t1.elapsed().as_secs_f64();
            self.record_step(rows)?;
            self.venv.write_obs(&mut self.raw_obs);
            self.env_steps += n as u64;
            self.window.steps += n as u64;
        }
        slow_reward_check(&self.instances, fixed.env_step_s)
    }

    /// Normalises the step's observations and samples the actions of rows
    /// `rows` of the rollout.
    fn act(&mut self, rows: std::ops::Range<usize>, d: usize, a: usize) -> Result<()> {
        let n = rows.len();
        self.obs_norm.update(&self.raw_obs, &mut self.stats_scratch);
        let obs_t = &mut self.rollout.obs[rows.start * d..rows.end * d];
        obs_t.copy_from_slice(&self.raw_obs);
        self.obs_norm.apply(obs_t);
        let mean = self.agent.actor().forward(obs_t, n, &mut self.act_ws);
        if mean.iter().any(|m| !m.is_finite()) {
            return Err(Error::Diverged {
                iteration: self.iteration,
                what: "the policy's action mean".into(),
                max_abs_reward: self.max_abs_reward,
            });
        }
        let acts_t = &mut self.rollout.actions[rows.start * a..rows.end * a];
        let log_std = self.agent.log_std();
        for (e, (act, mu)) in acts_t
            .chunks_exact_mut(a)
            .zip(mean.chunks_exact(a))
            .enumerate()
        {
            for j in 0..a {
                let noise = self.action_rng.normal() as f32;
                act[j] = mu[j] + log_std[j].exp() * noise;
            }
            self.rollout.log_probs[rows.start + e] = gaussian_log_prob(act, mu, log_std);
        }
        for (c, &x) in self.clipped_actions.iter_mut().zip(acts_t.iter()) {
            *c = x.clamp(-1.0, 1.0);
        }
        Ok(())
    }

    /// Takes the step's rewards, ends and finished episodes into rows `rows`
    /// of the rollout.
    fn record_step(&mut self, rows: std::ops::Range<usize>) -> Result<()> {
        for (i, inst) in self.instances.iter_mut().enumerate() {
            if let Some(source) = inst.error.take() {
                return Err(Error::Reward {
                    env_step: self.env_steps,
                    instance: i,
                    component: source.component.clone(),
                    source,
                });
            }
            let info = self.venv.info(i);
            self.step_rewards[i] = inst.sums.reward;
            self.step_done[i] = info.done();
            self.rollout.ends[rows.start + i] = StepEnd {
                terminated: info.terminated,
                truncated: info.truncated && !info.terminated,
            };
            if let Some((ret, len)) = inst.finished.take() {
                self.window.episodes += 1;
                self.window.return_sum += ret;
                self.window.length_sum += len as f64;
            }
            if info.truncated && !info.terminated {
                let start = self.rollout.trunc_obs.len();
                self.rollout
                    .trunc_obs
                    .extend_from_slice(self.venv.final_obs(i));
                self.obs_norm.apply(&mut self.rollout.trunc_obs[start..]);
                self.rollout.trunc_index.push(rows.start + i);
            }
        }
        for r in &self.step_rewards {
            self.max_abs_reward = self.max_abs_reward.max(r.abs());
        }
        self.scaler.scale(&mut self.step_rewards, &self.step_done);
        for (r, &s) in self.rollout.rewards[rows]
            .iter_mut()
            .zip(&self.step_rewards)
        {
            *r = s as f32;
        }
        Ok(())
    }

    /// Values, GAE and the PPO update of the rollout just collected.
    fn learn(&mut self, fixed: &Fixed<'_>) -> Result<Losses> {
        let config = &fixed.config;
        let spec = fixed.task.env_spec();
        let lr = if config.anneal_lr {
            let frac = 1.0 - (self.iteration - 1) as f64 / fixed.num_iterations as f64;
            frac * config.learning_rate
        } else {
            config.learning_rate
        };
        let t_learn = Instant::now();
        self.rollout.next_obs.copy_from_slice(&self.raw_obs);
        self.obs_norm.apply(&mut self.rollout.next_obs);
        compute_values_and_gae(
            &mut self.agent,
            &mut self.rollout,
            config,
            config.batch_size(),
        );
        let losses = update(
            config,
            lr,
            &mut self.agent,
            &self.rollout,
            &mut self.mb,
            &mut self.indices,
            &mut self.shuffle_rng,
            (spec.obs_dim, spec.action_dim),
        );
        self.timing.learn_s += t_learn.elapsed().as_secs_f64();
        let finite = [
            losses.policy,
            losses.value,
            losses.entropy,
            losses.grad_norm,
        ];
        if finite.iter().any(|x| !x.is_finite()) {
            return Err(Error::Diverged {
                iteration: self.iteration,
                what: "the loss".into(),
                max_abs_reward: self.max_abs_reward,
            });
        }
        Ok(losses)
    }

    /// Evaluates the current policy and records a checkpoint (and the best
    /// one so far).
    fn checkpoint(&mut self, fixed: &Fixed<'_>) -> Checkpoint {
        let t_eval = Instant::now();
        let mut policy = self.policy(fixed.task);
        let eval_seed = derive_seed(fixed.seed, STREAM_EVAL);
        let eval = run_episodes(
            fixed.task,
            &mut policy,
            fixed.config.eval_episodes,
            eval_seed,
        );
        self.timing.eval_s += t_eval.elapsed().as_secs_f64();
        let steps_f = self.window.steps.max(1) as f64;
        let mut components = vec![0.0; fixed.names.len()];
        for inst in &mut self.instances {
            for (c, s) in components.iter_mut().zip(&mut inst.sums.component_sums) {
                *c += *s;
                *s = 0.0;
            }
        }
        components.iter_mut().for_each(|c| *c /= steps_f);
        let w = &self.window;
        let (episode_return, episode_length) = if w.episodes == 0 {
            (f64::NAN, f64::NAN)
        } else {
            let k = w.episodes as f64;
            (w.return_sum / k, w.length_sum / k)
        };
        let cp = Checkpoint {
            env_steps: self.env_steps,
            components,
            episode_return,
            episode_length,
            fitness: eval.mean,
        };
        tracing::debug!(
            env_steps = self.env_steps,
            fitness = eval.mean,
            episode_return,
            "checkpoint"
        );
        // Ties go to the later checkpoint: it has trained longer.
        if eval.mean.is_finite() && self.best.as_ref().is_none_or(|b| eval.mean >= b.fitness) {
            self.best = Some(Best {
                env_steps: self.env_steps,
                fitness: eval.mean,
                policy,
            });
        }
        self.checkpoints.push(cp.clone());
        self.window = Window::default();
        cp
    }
}

/// The 1-based iterations after which checkpoints are taken: `k` evenly spaced
/// ones ending with the last iteration (fewer when there are fewer iterations).
#[must_use]
pub fn checkpoint_iterations(num_iterations: usize, k: usize) -> Vec<usize> {
    let mut out: Vec<usize> = (1..=k)
        .map(|j| (j * num_iterations).div_ceil(k))
        .filter(|&i| i >= 1)
        .collect();
    out.dedup();
    out
}

/// Critic values of every rollout observation, the truncations' final
/// observations and the next observations; then GAE.
fn compute_values_and_gae(
    agent: &mut ActorCritic,
    r: &mut Rollout,
    config: &PpoConfig,
    batch: usize,
) {
    let v = agent.values(&r.obs, batch);
    r.values.copy_from_slice(v);
    let num_envs = r.next_values.len();
    let v = agent.values(&r.next_obs, num_envs);
    r.next_values.copy_from_slice(v);
    r.final_values.fill(0.0);
    if !r.trunc_index.is_empty() {
        let v = agent.values(&r.trunc_obs, r.trunc_index.len());
        for (&i, &x) in r.trunc_index.iter().zip(v) {
            r.final_values[i] = x;
        }
    }
    let input = GaeInput {
        num_envs,
        rewards: &r.rewards,
        values: &r.values,
        ends: &r.ends,
        final_values: &r.final_values,
        next_values: &r.next_values,
        gamma: config.gamma as f32,
        lambda: config.gae_lambda as f32,
    };
    compute_gae(&input, &mut r.advantages, &mut r.returns);
}

/// `update_epochs` passes of shuffled minibatch updates, stopping early when
/// the approximate KL of an epoch's last minibatch passes `target_kl`.
#[allow(clippy::too_many_arguments)]
fn update(
    config: &PpoConfig,
    lr: f64,
    agent: &mut ActorCritic,
    r: &Rollout,
    mb: &mut Minibatch,
    indices: &mut [usize],
    rng: &mut SplitMix64,
    (d, a): (usize, usize),
) -> Losses {
    let mb_size = config.minibatch_size();
    // Computing actor and critic gradients on two threads pays off only when
    // a minibatch carries enough work to hide the hand-over.
    let work = mb_size * (agent.actor().params().len() + agent.critic().params().len());
    let parallel = rayon::current_num_threads() > 1 && work >= PARALLEL_UPDATE_WORK;
    let mut sums = Losses {
        learning_rate: lr,
        ..Losses::default()
    };
    let mut count = 0usize;
    for epoch in 0..config.update_epochs {
        // Fisher–Yates shuffle.
        for i in (1..indices.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            indices.swap(i, j);
        }
        let mut last_kl = 0.0f32;
        for chunk in indices.chunks(mb_size) {
            gather(mb, r, chunk, d, a);
            let s = agent.update_minibatch(mb, config, lr, parallel);
            sums.policy += f64::from(s.pg_loss);
            sums.value += f64::from(s.v_loss);
            sums.entropy += f64::from(s.entropy);
            sums.approx_kl += f64::from(s.approx_kl);
            sums.clipfrac += f64::from(s.clipfrac);
            sums.grad_norm += s.grad_norm;
            count += 1;
            last_kl = s.approx_kl;
        }
        sums.epochs = epoch + 1;
        if config
            .target_kl
            .is_some_and(|target| f64::from(last_kl) > target)
        {
            break;
        }
    }
    let k = count.max(1) as f64;
    Losses {
        policy: sums.policy / k,
        value: sums.value / k,
        entropy: sums.entropy / k,
        approx_kl: sums.approx_kl / k,
        clipfrac: sums.clipfrac / k,
        grad_norm: sums.grad_norm / k,
        ..sums
    }
}

/// Copies the rollout rows named by `idx` into the minibatch buffers.
fn gather(mb: &mut Minibatch, r: &Rollout, idx: &[usize], d: usize, a: usize) {
    mb.clear();
    for &i in idx {
        mb.obs.extend_from_slice(&r.obs[i * d..(i + 1) * d]);
        mb.actions.extend_from_slice(&r.actions[i * a..(i + 1) * a]);
        mb.log_probs.push(r.log_probs[i]);
        mb.advantages.push(r.advantages[i]);
        mb.returns.push(r.returns[i]);
        mb.values.push(r.values[i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_are_evenly_spaced_and_end_at_the_last_iteration() {
        assert_eq!(
            checkpoint_iterations(48, 10),
            vec![5, 10, 15, 20, 24, 29, 34, 39, 44, 48]
        );
        assert_eq!(checkpoint_iterations(3, 10), vec![1, 2, 3]);
        assert_eq!(checkpoint_iterations(10, 10), (1..=10).collect::<Vec<_>>());
        assert_eq!(checkpoint_iterations(1, 1), vec![1]);
    }
}
