//! The environment contract: what a simulation must offer to be searched over.

use crate::scene::Primitive;
use crate::state::StateSpec;
use std::sync::Arc;

/// The fixed facts about an environment: its name, its spaces and its reward state.
#[derive(Clone, Debug)]
pub struct EnvSpec {
    /// Short identifier, e.g. `quadruped`.
    pub name: String,
    /// What the robot and the world are, in plain language (shown to reward authors).
    pub description: String,
    /// Length of the policy observation.
    pub obs_dim: usize,
    /// Number of actuators; actions are in `[-1, 1]^action_dim`.
    pub action_dim: usize,
    /// What each action dimension drives, in order.
    pub action_doc: String,
    /// Simulated seconds per [`Env::step`].
    pub dt: f64,
    /// The named reward state.
    pub state: StateSpec,
}

/// What one step did besides changing the state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepInfo {
    /// The episode ended for a reason inside the world (a fall, a drop, leaving
    /// bounds): no value is bootstrapped past this step.
    pub terminated: bool,
    /// The episode was cut for a reason outside the world (a time limit): the
    /// value of the next state is still meaningful.
    pub truncated: bool,
}

impl StepInfo {
    /// Whether the episode is over for either reason.
    #[must_use]
    pub fn done(self) -> bool {
        self.terminated || self.truncated
    }
}

/// A simulated environment.
///
/// Deterministic: after `reset(seed)`, the same actions give bitwise-identical
/// observations and reward states. Environments are created many times (one per
/// vectorised instance), so construction should be cheap.
///
/// # Example
/// A one-dimensional point that should reach the origin. The reward-state fields
/// are declared once; the handles the declaration returns are kept and written
/// through, so no offset is counted by hand:
/// ```
/// use rewardsmith_core::{
///     Env, EnvSpec, ScalarHandle, SplitMix64, StateSpec, StateWriter, StepInfo,
/// };
/// use std::sync::Arc;
///
/// /// The point's reward-state fields.
/// #[derive(Clone, Copy)]
/// struct Fields { x: ScalarHandle, action: ScalarHandle }
///
/// struct Point { spec: Arc<EnvSpec>, fields: Fields, x: f64, a: f64 }
///
/// impl Env for Point {
///     fn spec(&self) -> &Arc<EnvSpec> { &self.spec }
///     fn reset(&mut self, seed: u64) {
///         self.x = SplitMix64::new(seed).uniform(-1.0, 1.0);
///         self.a = 0.0;
///     }
///     fn step(&mut self, action: &[f32]) -> StepInfo {
///         self.a = f64::from(action[0].clamp(-1.0, 1.0));
///         self.x += 0.1 * self.a;
///         StepInfo { terminated: self.x.abs() > 2.0, truncated: false }
///     }
///     fn observe(&self, obs: &mut [f32]) { obs[0] = self.x as f32; }
///     fn reward_state(&self, out: &mut [f64]) {
///         let mut w = StateWriter::new(&self.spec.state, out);
///         w.set(self.fields.x, self.x);
///         w.set(self.fields.action, self.a);
///     }
/// }
///
/// let mut state = StateSpec::builder();
/// let fields = Fields {
///     x: state.add_scalar("x", "m", "world", "position of the point"),
///     action: state.add_scalar("action", "1", "actuator", "last velocity command"),
/// };
/// let spec = Arc::new(EnvSpec {
///     name: "point".into(),
///     description: "A point on a line.".into(),
///     obs_dim: 1,
///     action_dim: 1,
///     action_doc: "velocity command".into(),
///     dt: 0.1,
///     state: state.build(),
/// });
/// let mut env = Point { spec, fields, x: 0.0, a: 0.0 };
/// env.reset(3);
/// let info = env.step(&[0.5]);
/// assert!(!info.done());
/// let mut values = env.spec().state.zeroed();
/// env.reward_state(&mut values);
/// assert_eq!(values[1], 0.5);
/// ```
pub trait Env: Send {
    /// The environment's fixed facts.
    fn spec(&self) -> &Arc<EnvSpec>;

    /// Starts a new episode; randomisation of the initial state uses only
    /// `seed`, and nothing of the episodes before carries over: an episode is
    /// fixed by its seed and its actions (a paused training is put back by
    /// replaying them, [`VecEnv::restore`](crate::VecEnv::restore)).
    fn reset(&mut self, seed: u64);

    /// Applies `action` (each component clamped to `[-1, 1]`) and advances
    /// [`EnvSpec::dt`] seconds, deterministically.
    fn step(&mut self, action: &[f32]) -> StepInfo;

    /// Writes the policy observation (`obs_dim` numbers).
    fn observe(&self, obs: &mut [f32]);

    /// Writes the reward state in [`EnvSpec::state`] layout, through the field
    /// handles its declaration returned (see [`StateWriter`](crate::StateWriter)).
    fn reward_state(&self, out: &mut [f64]);

    /// Describes the current scene as primitives, for rendering rollouts.
    /// The default describes nothing (the environment cannot be pictured).
    fn scene(&self, out: &mut Vec<Primitive>) {
        out.clear();
    }
}
