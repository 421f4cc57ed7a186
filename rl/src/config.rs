//! PPO hyperparameters, named as in cleanrl's `ppo_continuous_action.py`.

use crate::error::Error;
use rewardsmith_core::{Task, TrainDefaults};
use serde::{Deserialize, Serialize};

/// Everything that shapes one PPO run besides the task, the reward and the seed.
///
/// Build it with [`PpoConfig::for_task`] (the task's [`TrainDefaults`] plus the
/// general defaults below) and adjust with [`PpoOverrides`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpoConfig {
    /// Budget in env steps (all instances together); the run takes
    /// `total_timesteps / (num_envs · num_steps)` rollouts. Task default.
    pub total_timesteps: u64,
    /// Adam's initial learning rate. Task default (3e-4 as in cleanrl).
    pub learning_rate: f64,
    /// Parallel environment instances. Task default.
    pub num_envs: usize,
    /// Steps per instance per rollout. Task default.
    pub num_steps: usize,
    /// Anneal the learning rate linearly to zero over the run: default `true`,
    /// it steadies the end of training.
    pub anneal_lr: bool,
    /// Discount factor γ. Task default.
    pub gamma: f64,
    /// GAE λ: default 0.95, the usual bias/variance balance.
    pub gae_lambda: f64,
    /// Minibatches per epoch: default 32, cleanrl's. 64 learns a little faster
    /// at first but degrades late in training: with 64, `cartpole-balance`
    /// (100k steps, seeds 1–6) ended below 0.7 for 2 of 6 seeds after reaching
    /// 1.0, and `cartpole-swingup` fell from 0.84 to 0.41 by 1M steps; with 32
    /// the seeds that had degraded end at 1.0 and swing-up holds 0.84.
    pub num_minibatches: usize,
    /// Passes over each rollout: default 10 (cleanrl's MuJoCo setting).
    pub update_epochs: usize,
    /// Normalise advantages per minibatch: default `true`.
    pub norm_adv: bool,
    /// Surrogate clipping ε: default 0.2.
    pub clip_coef: f64,
    /// Clip the value loss around the old values: default `true` (cleanrl).
    pub clip_vloss: bool,
    /// Entropy bonus coefficient. Task default (0 for MuJoCo-like tasks).
    pub ent_coef: f64,
    /// Value loss coefficient: default 0.5.
    pub vf_coef: f64,
    /// Global gradient-norm clip: default 0.5.
    pub max_grad_norm: f64,
    /// Stop an update's epochs early when the approximate KL exceeds this:
    /// default none (cleanrl's).
    pub target_kl: Option<f64>,
    /// Hidden layer widths of both networks. Task default (64 × 64).
    pub hidden: Vec<usize>,
    /// Initial log standard deviation of the Gaussian policy. Task default (0: σ = 1).
    pub init_log_std: f64,
    /// Normalise observations by running statistics: default `true`.
    pub norm_obs: bool,
    /// Clip of normalised observations: default 10.
    pub clip_obs: f64,
    /// Scale rewards by the running std of the discounted return: default `true`.
    pub norm_reward: bool,
    /// Clip of scaled rewards: default 10.
    pub clip_reward: f64,
    /// Evenly spaced checkpoints over the run: default 10, as Eureka's reflection uses.
    pub checkpoints: usize,
    /// Evaluation episodes (deterministic policy) per checkpoint: default 8,
    /// run in parallel; enough to tell 0.9 from 0.95 on most tasks.
    pub eval_episodes: usize,
    /// Episodes on which the best checkpoint is scored again at the end, on
    /// seeds that did not choose it: default 16. That score is the
    /// training's fitness.
    #[serde(default = "default_held_out_episodes")]
    pub held_out_episodes: usize,
}

fn default_held_out_episodes() -> usize {
    16
}

impl PpoConfig {
    /// The general defaults with the task-specific ones from `defaults`
    /// (budget = `defaults.budget`; set `total_timesteps` to
    /// `defaults.search_budget` for a search candidate).
    #[must_use]
    pub fn from_defaults(defaults: &TrainDefaults) -> Self {
        Self {
            total_timesteps: defaults.budget,
            learning_rate: defaults.learning_rate,
            num_envs: defaults.num_envs,
            num_steps: defaults.num_steps,
            anneal_lr: true,
            gamma: defaults.gamma,
            gae_lambda: 0.95,
            num_minibatches: 32,
            update_epochs: 10,
            norm_adv: true,
            clip_coef: 0.2,
            clip_vloss: true,
            ent_coef: defaults.ent_coef,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            target_kl: None,
            hidden: defaults.hidden.clone(),
            init_log_std: defaults.init_log_std,
            norm_obs: true,
            clip_obs: 10.0,
            norm_reward: true,
            clip_reward: 10.0,
            checkpoints: 10,
            eval_episodes: 8,
            held_out_episodes: default_held_out_episodes(),
        }
    }

    /// The defaults for `task`.
    #[must_use]
    pub fn for_task(task: &Task) -> Self {
        Self::from_defaults(&task.defaults)
    }

    /// This config with every field that `overrides` sets replaced.
    #[must_use]
    pub fn with_overrides(mut self, o: &PpoOverrides) -> Self {
        macro_rules! take {
            ($($f:ident),*) => { $( if let Some(v) = &o.$f { self.$f = v.clone(); } )* };
        }
        take!(
            total_timesteps,
            learning_rate,
            num_envs,
            num_steps,
            anneal_lr,
            gamma,
            gae_lambda,
            num_minibatches,
            update_epochs,
            norm_adv,
            clip_coef,
            clip_vloss,
            ent_coef,
            vf_coef,
            max_grad_norm,
            hidden,
            init_log_std,
            norm_obs,
            clip_obs,
            norm_reward,
            clip_reward,
            checkpoints,
            eval_episodes,
            held_out_episodes
        );
        if let Some(kl) = o.target_kl {
            self.target_kl = (kl > 0.0).then_some(kl);
        }
        self
    }

    /// Env steps per rollout (`num_envs · num_steps`).
    #[must_use]
    pub fn batch_size(&self) -> usize {
        self.num_envs * self.num_steps
    }

    /// Samples per minibatch.
    #[must_use]
    pub fn minibatch_size(&self) -> usize {
        self.batch_size() / self.num_minibatches.max(1)
    }

    /// Rollouts the budget allows.
    #[must_use]
    pub fn num_iterations(&self) -> usize {
        let batch = self.batch_size().max(1) as u64;
        usize::try_from(self.total_timesteps / batch).unwrap_or(usize::MAX)
    }

    /// Checks that the numbers make a run.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first bad field.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &str, why: &str| Err(Error::Config(format!("`{field}` {why}")));
        let positive = [
            ("num_envs", self.num_envs),
            ("num_steps", self.num_steps),
            ("num_minibatches", self.num_minibatches),
            ("update_epochs", self.update_epochs),
            ("checkpoints", self.checkpoints),
            ("eval_episodes", self.eval_episodes),
            ("held_out_episodes", self.held_out_episodes),
        ];
        for (field, v) in positive {
            if v == 0 {
                return bad(field, "must be at least 1");
            }
        }
        if self.minibatch_size() < 2 {
            return bad(
                "num_minibatches",
                "leaves fewer than 2 samples per minibatch",
            );
        }
        if self.num_iterations() == 0 {
            return Err(Error::Config(format!(
                "`total_timesteps` ({}) is less than one rollout (num_envs {} × num_steps {})",
                self.total_timesteps, self.num_envs, self.num_steps
            )));
        }
        let finite_pos = [
            ("learning_rate", self.learning_rate),
            ("clip_coef", self.clip_coef),
            ("max_grad_norm", self.max_grad_norm),
            ("clip_obs", self.clip_obs),
            ("clip_reward", self.clip_reward),
        ];
        for (field, v) in finite_pos {
            if !(v.is_finite() && v > 0.0) {
                return bad(field, "must be a positive number");
            }
        }
        for (field, v) in [("gamma", self.gamma), ("gae_lambda", self.gae_lambda)] {
            if !(0.0..=1.0).contains(&v) {
                return bad(field, "must be in [0, 1]");
            }
        }
        for (field, v) in [("ent_coef", self.ent_coef), ("vf_coef", self.vf_coef)] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(field, "must be a non-negative number");
            }
        }
        if !self.init_log_std.is_finite() {
            return bad("init_log_std", "must be finite");
        }
        if self.hidden.contains(&0) {
            return bad("hidden", "has a layer of width 0");
        }
        Ok(())
    }
}

/// Optional replacements for [`PpoConfig`] fields, e.g. from a TOML table or
/// command-line flags. Same names; unknown names are rejected.
/// `target_kl = 0` switches the early stop off.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)]
pub struct PpoOverrides {
    pub total_timesteps: Option<u64>,
    pub learning_rate: Option<f64>,
    pub num_envs: Option<usize>,
    pub num_steps: Option<usize>,
    pub anneal_lr: Option<bool>,
    pub gamma: Option<f64>,
    pub gae_lambda: Option<f64>,
    pub num_minibatches: Option<usize>,
    pub update_epochs: Option<usize>,
    pub norm_adv: Option<bool>,
    pub clip_coef: Option<f64>,
    pub clip_vloss: Option<bool>,
    pub ent_coef: Option<f64>,
    pub vf_coef: Option<f64>,
    pub max_grad_norm: Option<f64>,
    pub target_kl: Option<f64>,
    pub hidden: Option<Vec<usize>>,
    pub init_log_std: Option<f64>,
    pub norm_obs: Option<bool>,
    pub clip_obs: Option<f64>,
    pub norm_reward: Option<bool>,
    pub clip_reward: Option<f64>,
    pub checkpoints: Option<usize>,
    pub eval_episodes: Option<usize>,
    pub held_out_episodes: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_set() {
        let base = PpoConfig::from_defaults(&TrainDefaults::default());
        let o: PpoOverrides =
            serde_json::from_str(r#"{"num_envs": 4, "target_kl": 0.02}"#).unwrap();
        let c = base.clone().with_overrides(&o);
        assert_eq!(c.num_envs, 4);
        assert_eq!(c.target_kl, Some(0.02));
        assert_eq!(c.gamma, base.gamma);
        let off: PpoOverrides = serde_json::from_str(r#"{"target_kl": 0}"#).unwrap();
        assert_eq!(c.with_overrides(&off).target_kl, None);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<PpoOverrides>(r#"{"lr": 1}"#).is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = PpoConfig::from_defaults(&TrainDefaults::default());
        assert!(c.validate().is_ok());
        c.total_timesteps = 100;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("total_timesteps")
        );
        c.total_timesteps = 1_000_000;
        c.gamma = 1.5;
        assert!(c.validate().unwrap_err().to_string().contains("gamma"));
    }
}
