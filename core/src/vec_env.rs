//! Vectorised stepping: many instances of one environment, stepped in parallel on
//! the current rayon pool, with automatic resets and per-instance seeds, and
//! each instance's place in its episode (for a training continued in another
//! process).

use crate::env::{Env, EnvSpec, StepInfo};
use crate::seed::derive_seed;
use crate::state::StateView;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One environment instance and its buffers.
struct Slot {
    env: Box<dyn Env>,
    obs: Vec<f32>,
    final_obs: Vec<f32>,
    state: Vec<f64>,
    prev: Vec<f64>,
    t: usize,
    episode: u64,
    seed: u64,
    info: StepInfo,
    /// The actions of this episode so far, as given (`t × action_dim`).
    actions: Vec<f32>,
}

impl Slot {
    fn start_episode(&mut self) {
        let seed = derive_seed(self.seed, self.episode);
        self.actions.clear();
        self.env.reset(seed);
        self.env.observe(&mut self.obs);
        self.env.reward_state(&mut self.state);
        self.prev.copy_from_slice(&self.state);
        self.t = 0;
    }

    /// One step of this instance with `action`: `f` sees the new reward state,
    /// the previous one and the step info; then a finished episode is reset.
    fn step<T>(
        &mut self,
        spec: &EnvSpec,
        limit: usize,
        action: &[f32],
        extra: &mut T,
        f: &impl Fn(&mut T, &StateView<'_>, &StateView<'_>, StepInfo),
    ) {
        std::mem::swap(&mut self.prev, &mut self.state);
        self.actions.extend_from_slice(action);
        let mut info = self.env.step(action);
        self.t += 1;
        if self.t >= limit && !info.terminated {
            info.truncated = true;
        }
        self.env.reward_state(&mut self.state);
        self.env.observe(&mut self.obs);
        self.info = info;
        let s = StateView::new(&spec.state, &self.state);
        let prev = StateView::new(&spec.state, &self.prev);
        f(extra, &s, &prev, info);
        if info.done() {
            self.final_obs.copy_from_slice(&self.obs);
            self.episode += 1;
            self.start_episode();
        }
    }
}

/// `n` instances of one environment with a time limit.
///
/// Instance `i`'s `k`-th episode is reset with a seed derived from `(seed, i, k)`,
/// so trajectories do not depend on how many threads step them.
pub struct VecEnv {
    spec: Arc<EnvSpec>,
    slots: Vec<Slot>,
    episode_steps: usize,
}

impl VecEnv {
    /// Creates `n` instances with `make` and resets them all.
    pub fn new(n: usize, episode_steps: usize, seed: u64, make: impl Fn() -> Box<dyn Env>) -> Self {
        let slots: Vec<Slot> = (0..n)
            .map(|i| {
                let env = make();
                let spec = env.spec().clone();
                let mut slot = Slot {
                    obs: vec![0.0; spec.obs_dim],
                    final_obs: vec![0.0; spec.obs_dim],
                    state: spec.state.zeroed(),
                    prev: spec.state.zeroed(),
                    env,
                    t: 0,
                    episode: 0,
                    seed: derive_seed(seed, i as u64),
                    info: StepInfo::default(),
                    actions: Vec::new(),
                };
                slot.start_episode();
                slot
            })
            .collect();
        let spec = slots
            .first()
            .map(|s| s.env.spec().clone())
            .unwrap_or_else(|| make().spec().clone());
        Self {
            spec,
            slots,
            episode_steps,
        }
    }

    /// The environment's fixed facts.
    #[must_use]
    pub fn spec(&self) -> &Arc<EnvSpec> {
        &self.spec
    }

    /// Number of instances.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no instances.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Copies every instance's current observation into `out` (`len × obs_dim`, row-major).
    pub fn write_obs(&self, out: &mut [f32]) {
        let d = self.spec.obs_dim;
        for (slot, row) in self.slots.iter().zip(out.chunks_exact_mut(d)) {
            row.copy_from_slice(&slot.obs);
        }
    }

    /// The observation that ended instance `i`'s last episode (valid right after
    /// a step whose info is done; used to bootstrap values on truncation).
    #[must_use]
    pub fn final_obs(&self, i: usize) -> &[f32] {
        &self.slots[i].final_obs
    }

    /// What the last step did to instance `i`.
    #[must_use]
    pub fn info(&self, i: usize) -> StepInfo {
        self.slots[i].info
    }

    /// Panics unless `actions` and the extras have one row per instance.
    fn check_rows(&self, actions: &[f32], extras: usize) {
        let n = self.slots.len();
        assert_eq!(
            actions.len(),
            n * self.spec.action_dim,
            "actions have wrong length"
        );
        assert_eq!(extras, n, "extras have wrong length");
    }

    /// Steps every instance with its row of `actions` (`len × action_dim`), in
    /// parallel. After each instance's step, `f` sees that instance's extra data,
    /// the new reward state `s`, the previous one, and the step info; then a
    /// finished episode is reset (its last observation kept in [`final_obs`](Self::final_obs)).
    pub fn step_with<T: Send>(
        &mut self,
        actions: &[f32],
        extras: &mut [T],
        f: impl Fn(&mut T, &StateView<'_>, &StateView<'_>, StepInfo) + Sync,
    ) {
        self.check_rows(actions, extras.len());
        let a = self.spec.action_dim;
        let spec = &self.spec;
        let limit = self.episode_steps;
        self.slots
            .par_iter_mut()
            .zip(actions.par_chunks_exact(a))
            .zip(extras.par_iter_mut())
            .for_each(|((slot, action), extra)| slot.step(spec, limit, action, extra, &f));
    }

    /// Like [`step_with`](Self::step_with), but steps only the instances whose
    /// entry in `active` (one per instance) is true; `actions` and `extras`
    /// still have one row per instance, and the rows of inactive instances are
    /// ignored. An inactive instance is not touched: not stepped, observed or
    /// reset, `f` is not called for it, and its observation, [`info`](Self::info),
    /// [`final_obs`](Self::final_obs), step count and episode number stay as they
    /// were. An active instance's step is exactly that of `step_with`, so an
    /// instance's trajectory does not depend on the steps it sat out.
    ///
    /// For runs where instances finish at different times, such as evaluation
    /// episodes, where a finished instance would otherwise be stepped for nothing.
    ///
    /// # Panics
    /// If `actions`, `extras` or `active` has the wrong length.
    pub fn step_active_with<T: Send>(
        &mut self,
        actions: &[f32],
        active: &[bool],
        extras: &mut [T],
        f: impl Fn(&mut T, &StateView<'_>, &StateView<'_>, StepInfo) + Sync,
    ) {
        self.check_rows(actions, extras.len());
        let a = self.spec.action_dim;
        let spec = &self.spec;
        let limit = self.episode_steps;
        assert_eq!(active.len(), self.slots.len(), "active has wrong length");
        self.slots
            .par_iter_mut()
            .zip(actions.par_chunks_exact(a))
            .zip(extras.par_iter_mut())
            .zip(active.par_iter())
            // One job per instance: rayon's default splitting would hand out
            // contiguous runs of instances, and with the active ones bunched in
            // one run a single thread would step them all while the others idle.
            .with_max_len(1)
            .for_each(|(((slot, action), extra), &on)| {
                if on {
                    slot.step(spec, limit, action, extra, &f);
                }
            });
    }

    /// Steps every instance, with no per-step callback.
    pub fn step(&mut self, actions: &[f32]) {
        let mut unit = vec![(); self.slots.len()];
        self.step_with(actions, &mut unit, |_, _, _, _| {});
    }

    /// Where every instance is: its episode number and the actions of that
    /// episode so far. [`restore`](Self::restore) puts the instances of a new
    /// `VecEnv` (same environment, size, time limit and seed) in the same
    /// places, bitwise, because an episode is fixed by its reset seed and its
    /// actions ([`Env::reset`]).
    #[must_use]
    pub fn positions(&self) -> Vec<EnvPosition> {
        self.slots
            .iter()
            .map(|s| EnvPosition {
                episode: s.episode,
                steps: s.t,
                actions: s.actions.clone(),
            })
            .collect()
    }

    /// Puts every instance where `positions` says (from
    /// [`positions`](Self::positions)): resets it to that episode and replays
    /// that episode's actions, in parallel. The observations, reward states
    /// and step counts are then those the instances had; the last step's
    /// [`info`](Self::info) and [`final_obs`](Self::final_obs) are not kept.
    ///
    /// # Errors
    /// A message naming the problem when `positions` does not fit: another
    /// number of instances, actions that are not whole rows, an episode at or
    /// past the time limit, or a replay that ended its episode early (the
    /// environment is not deterministic, or not the one that saved them).
    pub fn restore(&mut self, positions: &[EnvPosition]) -> Result<(), String> {
        if positions.len() != self.slots.len() {
            return Err(format!(
                "{} instance positions for {} instances",
                positions.len(),
                self.slots.len()
            ));
        }
        let (spec, limit) = (&self.spec, self.episode_steps);
        let failures: Vec<String> = self
            .slots
            .par_iter_mut()
            .zip(positions.par_iter())
            .enumerate()
            .filter_map(|(i, (slot, position))| {
                slot.replay(spec, limit, position)
                    .err()
                    .map(|e| format!("instance {i}: {e}"))
            })
            .collect();
        failures.into_iter().next().map_or(Ok(()), Err)
    }
}

/// One instance's place in its episodes ([`VecEnv::positions`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvPosition {
    /// How many episodes the instance finished before this one.
    pub episode: u64,
    /// Steps taken in this episode.
    pub steps: usize,
    /// This episode's actions so far (`steps × action_dim`, as given).
    pub actions: Vec<f32>,
}

impl Slot {
    /// Resets to `position`'s episode and replays its actions.
    fn replay(
        &mut self,
        spec: &EnvSpec,
        limit: usize,
        position: &EnvPosition,
    ) -> Result<(), String> {
        let (a, steps) = (spec.action_dim, position.steps);
        if position.actions.len() != steps * a {
            return Err(format!(
                "{} action values for {steps} steps of {a}",
                position.actions.len()
            ));
        }
        if steps >= limit {
            return Err(format!("{steps} steps into an episode of at most {limit}"));
        }
        self.episode = position.episode;
        self.start_episode();
        for k in 0..steps {
            let action = &position.actions[k * a..(k + 1) * a];
            self.step(spec, limit, action, &mut (), &|_, _, _, _| {});
            if self.episode != position.episode {
                return Err(format!(
                    "the episode ended at step {} of the {steps} replayed: the environment \
                     does not repeat itself",
                    k + 1
                ));
            }
        }
        self.info = StepInfo::default();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::SplitMix64;
    use crate::state::{ScalarHandle, StateSpec, StateWriter};

    /// A point on a line with a seeded drift; leaving `[-1, 1]` terminates, so
    /// episodes end at different times.
    struct Drift {
        spec: Arc<EnvSpec>,
        /// The handle of the one reward-state field, `x`.
        x_field: ScalarHandle,
        x: f64,
        v: f64,
    }

    fn drift() -> Box<dyn Env> {
        let mut state = StateSpec::builder();
        let x_field = state.add_scalar("x", "m", "world", "position");
        let spec = Arc::new(EnvSpec {
            name: "drift".into(),
            description: "A drifting point.".into(),
            obs_dim: 2,
            action_dim: 1,
            action_doc: "push".into(),
            dt: 0.1,
            state: state.build(),
        });
        Box::new(Drift {
            spec,
            x_field,
            x: 0.0,
            v: 0.0,
        })
    }

    impl Env for Drift {
        fn spec(&self) -> &Arc<EnvSpec> {
            &self.spec
        }
        fn reset(&mut self, seed: u64) {
            let mut rng = SplitMix64::new(seed);
            self.x = rng.uniform(-0.5, 0.5);
            self.v = rng.uniform(-0.2, 0.2);
        }
        fn step(&mut self, action: &[f32]) -> StepInfo {
            self.x += self.v + 0.05 * f64::from(action[0]);
            StepInfo {
                terminated: self.x.abs() > 1.0,
                truncated: false,
            }
        }
        fn observe(&self, obs: &mut [f32]) {
            obs[0] = self.x as f32;
            obs[1] = self.v as f32;
        }
        fn reward_state(&self, out: &mut [f64]) {
            StateWriter::new(&self.spec.state, out).set(self.x_field, self.x);
        }
    }

    const N: usize = 7;
    const LIMIT: usize = 9;

    /// What one instance's step showed the callback.
    type Seen = Vec<(f64, f64, StepInfo)>;

    fn record(seen: &mut Seen, s: &StateView<'_>, prev: &StateView<'_>, info: StepInfo) {
        seen.push((s.field_at(0)[0], prev.field_at(0)[0], info));
    }

    /// Instance `i`'s action at its own `k`-th step.
    fn action(i: usize, k: usize) -> f32 {
        ((i * 7 + k * 3) % 11) as f32 / 5.0 - 1.0
    }

    fn snapshot(v: &VecEnv) -> Vec<(Vec<f32>, Vec<f32>, StepInfo)> {
        let mut obs = vec![0.0; N * 2];
        v.write_obs(&mut obs);
        (0..N)
            .map(|i| {
                (
                    obs[2 * i..2 * i + 2].to_vec(),
                    v.final_obs(i).to_vec(),
                    v.info(i),
                )
            })
            .collect()
    }

    #[test]
    fn all_active_steps_like_step_with() {
        let mut a = VecEnv::new(N, LIMIT, 5, drift);
        let mut b = VecEnv::new(N, LIMIT, 5, drift);
        let mut seen_a = vec![Seen::new(); N];
        let mut seen_b = vec![Seen::new(); N];
        let active = [true; N];
        for k in 0..40 {
            let actions: Vec<f32> = (0..N).map(|i| action(i, k)).collect();
            a.step_with(&actions, &mut seen_a, record);
            b.step_active_with(&actions, &active, &mut seen_b, record);
            assert_eq!(snapshot(&a), snapshot(&b));
        }
        assert_eq!(seen_a, seen_b);
    }

    #[test]
    fn inactive_instances_are_untouched_and_resume_where_they_stopped() {
        let mut all = VecEnv::new(N, LIMIT, 5, drift);
        let mut some = VecEnv::new(N, LIMIT, 5, drift);
        let mut seen_all = vec![Seen::new(); N];
        let mut seen_some = vec![Seen::new(); N];
        for k in 0..60 {
            let actions: Vec<f32> = (0..N).map(|i| action(i, k)).collect();
            all.step_with(&actions, &mut seen_all, record);
        }
        // Each instance sits out some steps; it is given the action of its own
        // next step, so its trajectory should be a prefix of the one above.
        let mut taken = [0usize; N];
        for k in 0..60 {
            let active: Vec<bool> = (0..N).map(|i| (k + i) % 3 != 0 && i != 4).collect();
            let actions: Vec<f32> = (0..N).map(|i| action(i, taken[i])).collect();
            let before = snapshot(&some);
            some.step_active_with(&actions, &active, &mut seen_some, record);
            let after = snapshot(&some);
            for i in 0..N {
                if active[i] {
                    taken[i] += 1;
                } else {
                    assert_eq!(before[i], after[i], "instance {i} changed at step {k}");
                }
            }
        }
        assert!(seen_some[4].is_empty());
        for i in 0..N {
            assert_eq!(seen_some[i].len(), taken[i]);
            assert_eq!(seen_some[i][..], seen_all[i][..taken[i]], "instance {i}");
        }
        // Episodes did end and restart along the way.
        assert!(seen_all.iter().flatten().any(|s| s.2.terminated));
        assert!(seen_all.iter().flatten().any(|s| s.2.truncated));
    }
}
