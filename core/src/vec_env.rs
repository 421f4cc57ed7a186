//! Vectorised stepping: many instances of one environment, stepped in parallel on
//! the current rayon pool, with automatic resets and per-instance seeds.

use crate::env::{Env, EnvSpec, StepInfo};
use crate::seed::derive_seed;
use crate::state::StateView;
use rayon::prelude::*;
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
}

impl Slot {
    fn start_episode(&mut self) {
        let seed = derive_seed(self.seed, self.episode);
        self.env.reset(seed);
        self.env.observe(&mut self.obs);
        self.env.reward_state(&mut self.state);
        self.prev.copy_from_slice(&self.state);
        self.t = 0;
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
        let a = self.spec.action_dim;
        let spec = &self.spec;
        let limit = self.episode_steps;
        assert_eq!(
            actions.len(),
            self.slots.len() * a,
            "actions have wrong length"
        );
        assert_eq!(extras.len(), self.slots.len(), "extras have wrong length");
        self.slots
            .par_iter_mut()
            .zip(actions.par_chunks_exact(a))
            .zip(extras.par_iter_mut())
            .for_each(|((slot, action), extra)| {
                std::mem::swap(&mut slot.prev, &mut slot.state);
                let mut info = slot.env.step(action);
                slot.t += 1;
                if slot.t >= limit && !info.terminated {
                    info.truncated = true;
                }
                slot.env.reward_state(&mut slot.state);
                slot.env.observe(&mut slot.obs);
                slot.info = info;
                let s = StateView::new(&spec.state, &slot.state);
                let prev = StateView::new(&spec.state, &slot.prev);
                f(extra, &s, &prev, info);
                if info.done() {
                    slot.final_obs.copy_from_slice(&slot.obs);
                    slot.episode += 1;
                    slot.start_episode();
                }
            });
    }

    /// Steps every instance, with no per-step callback.
    pub fn step(&mut self, actions: &[f32]) {
        let mut unit = vec![(); self.slots.len()];
        self.step_with(actions, &mut unit, |_, _, _, _| {});
    }
}
