//! The learner: actor (Gaussian mean) and critic networks, the state-independent
//! log-std, one Adam over all of them, and the PPO minibatch update.

use crate::config::PpoConfig;
use crate::loss::{PolicyBatch, normalize_advantages, policy_loss, value_loss};
use crate::nn::{Adam, Mlp, MlpWorkspace, clip_grad_norm};
use rewardsmith_core::derive_seed;

/// A minibatch gathered into contiguous rows (`m` samples).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Minibatch {
    /// Normalised observations (`m × obs_dim`).
    pub obs: Vec<f32>,
    /// Actions as sampled, before clipping (`m × action_dim`).
    pub actions: Vec<f32>,
    /// Their log-probabilities when sampled.
    pub log_probs: Vec<f32>,
    /// GAE advantages (normalised in the update when `norm_adv`).
    pub advantages: Vec<f32>,
    /// Value targets (advantage + old value).
    pub returns: Vec<f32>,
    /// Values when sampled.
    pub values: Vec<f32>,
}

impl Minibatch {
    /// Number of samples.
    #[must_use]
    pub fn len(&self) -> usize {
        self.log_probs.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.log_probs.is_empty()
    }

    /// Empties every buffer, keeping their capacity.
    pub fn clear(&mut self) {
        self.obs.clear();
        self.actions.clear();
        self.log_probs.clear();
        self.advantages.clear();
        self.returns.clear();
        self.values.clear();
    }
}

/// Losses and diagnostics of one minibatch update.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MinibatchStats {
    /// Clipped surrogate loss.
    pub pg_loss: f32,
    /// Value loss (without `vf_coef`).
    pub v_loss: f32,
    /// Policy entropy.
    pub entropy: f32,
    /// Approximate KL of new to old policy.
    pub approx_kl: f32,
    /// Fraction of clipped ratios.
    pub clipfrac: f32,
    /// Joint gradient norm before clipping.
    pub grad_norm: f64,
}

struct ActorPart {
    net: Mlp,
    log_std: Vec<f32>,
    grad: Vec<f32>,
    grad_log_std: Vec<f32>,
    ws: MlpWorkspace,
    d_mean: Vec<f32>,
}

struct CriticPart {
    net: Mlp,
    grad: Vec<f32>,
    ws: MlpWorkspace,
    d_value: Vec<f32>,
}

/// Actor, critic, log-std and their optimiser.
pub struct ActorCritic {
    actor: ActorPart,
    critic: CriticPart,
    adam: Adam,
}

impl ActorCritic {
    /// Networks `obs_dim → hidden… → action_dim` (actor) and `→ 1` (critic) with
    /// orthogonal weights (gain √2 in hidden layers, 0.01 for the policy head,
    /// 1 for the value head), zero biases, log-std `init_log_std`, and Adam with
    /// eps 1e-5.
    #[must_use]
    pub fn new(
        obs_dim: usize,
        action_dim: usize,
        hidden: &[usize],
        init_log_std: f32,
        seed: u64,
    ) -> Self {
        let mut sizes = vec![obs_dim];
        sizes.extend_from_slice(hidden);
        let mut actor_sizes = sizes.clone();
        actor_sizes.push(action_dim);
        sizes.push(1);
        let sqrt2 = std::f32::consts::SQRT_2;
        let actor_net = Mlp::orthogonal(&actor_sizes, sqrt2, 0.01, derive_seed(seed, 1));
        let critic_net = Mlp::orthogonal(&sizes, sqrt2, 1.0, derive_seed(seed, 2));
        let adam = Adam::new(
            &[
                actor_net.params().len(),
                action_dim,
                critic_net.params().len(),
            ],
            1e-5,
        );
        Self {
            actor: ActorPart {
                grad: vec![0.0; actor_net.params().len()],
                net: actor_net,
                log_std: vec![init_log_std; action_dim],
                grad_log_std: vec![0.0; action_dim],
                ws: MlpWorkspace::default(),
                d_mean: Vec::new(),
            },
            critic: CriticPart {
                grad: vec![0.0; critic_net.params().len()],
                net: critic_net,
                ws: MlpWorkspace::default(),
                d_value: Vec::new(),
            },
            adam,
        }
    }

    /// The actor network (normalised observation → action mean).
    #[must_use]
    pub fn actor(&self) -> &Mlp {
        &self.actor.net
    }

    /// The critic network (normalised observation → value).
    #[must_use]
    pub fn critic(&self) -> &Mlp {
        &self.critic.net
    }

    /// Log standard deviation of the policy, per action.
    #[must_use]
    pub fn log_std(&self) -> &[f32] {
        &self.actor.log_std
    }

    /// Every learned number, by name: the actor's and the critic's
    /// parameters, the log-std and Adam's moments (its step count is
    /// [`adam_steps`](Self::adam_steps)). What a paused training saves.
    pub(crate) fn learned_mut(&mut self) -> Vec<(String, &mut [f32])> {
        let mut out: Vec<(String, &mut [f32])> = vec![
            ("actor".into(), self.actor.net.params_mut()),
            ("log_std".into(), &mut self.actor.log_std),
            ("critic".into(), self.critic.net.params_mut()),
        ];
        let (m, v) = self.adam.moments_mut();
        for (i, g) in m.iter_mut().enumerate() {
            out.push((format!("adam.m.{i}"), g));
        }
        for (i, g) in v.iter_mut().enumerate() {
            out.push((format!("adam.v.{i}"), g));
        }
        out
    }

    /// Adam's steps so far, and setting them (with [`learned_mut`](Self::learned_mut)).
    pub(crate) fn adam_steps(&mut self) -> &mut u64 {
        self.adam.steps_mut()
    }

    /// Critic values of `n` observations (uses the critic's own buffers).
    pub fn values(&mut self, obs: &[f32], n: usize) -> &[f32] {
        self.critic.net.forward(obs, n, &mut self.critic.ws)
    }

    /// One PPO step on a minibatch: clipped surrogate + entropy bonus + (clipped)
    /// value loss, joint gradient-norm clipping, one Adam step with rate `lr`.
    /// With `parallel`, the actor's and the critic's gradients are computed at
    /// the same time on the current rayon pool (same result either way).
    pub fn update_minibatch(
        &mut self,
        mb: &mut Minibatch,
        config: &PpoConfig,
        lr: f64,
        parallel: bool,
    ) -> MinibatchStats {
        if config.norm_adv {
            normalize_advantages(&mut mb.advantages);
        }
        let clip = config.clip_coef as f32;
        let v_clip = config.clip_vloss.then_some(clip);
        let (ent_coef, vf_coef) = (config.ent_coef as f32, config.vf_coef as f32);
        let m = mb.len();
        let mb = &*mb;
        let actor = &mut self.actor;
        let critic = &mut self.critic;
        let mut actor_step = || {
            let a = actor.log_std.len();
            actor.grad.fill(0.0);
            actor.grad_log_std.fill(0.0);
            actor.d_mean.resize(m * a, 0.0);
            let mean = actor.net.forward(&mb.obs, m, &mut actor.ws);
            let batch = PolicyBatch {
                actions: &mb.actions,
                old_log_probs: &mb.log_probs,
                advantages: &mb.advantages,
            };
            let stats = policy_loss(
                &batch,
                mean,
                &actor.log_std,
                clip,
                ent_coef,
                &mut actor.d_mean,
                &mut actor.grad_log_std,
            );
            actor
                .net
                .backward(&mb.obs, &actor.d_mean, &mut actor.ws, &mut actor.grad);
            stats
        };
        let mut critic_step = || {
            critic.grad.fill(0.0);
            critic.d_value.resize(m, 0.0);
            let values = critic.net.forward(&mb.obs, m, &mut critic.ws);
            let loss = value_loss(
                values,
                &mb.returns,
                &mb.values,
                v_clip,
                vf_coef,
                &mut critic.d_value,
            );
            critic
                .net
                .backward(&mb.obs, &critic.d_value, &mut critic.ws, &mut critic.grad);
            loss
        };
        let (pstats, v_loss) = if parallel {
            rayon::join(actor_step, critic_step)
        } else {
            (actor_step(), critic_step())
        };
        let grad_norm = clip_grad_norm(
            &mut [
                &mut self.actor.grad,
                &mut self.actor.grad_log_std,
                &mut self.critic.grad,
            ],
            config.max_grad_norm,
        );
        self.adam.step(
            lr,
            &mut [
                self.actor.net.params_mut(),
                &mut self.actor.log_std,
                self.critic.net.params_mut(),
            ],
            &[
                &self.actor.grad,
                &self.actor.grad_log_std,
                &self.critic.grad,
            ],
        );
        MinibatchStats {
            pg_loss: pstats.pg_loss,
            v_loss,
            entropy: pstats.entropy,
            approx_kl: pstats.approx_kl,
            clipfrac: pstats.clipfrac,
            grad_norm,
        }
    }
}
