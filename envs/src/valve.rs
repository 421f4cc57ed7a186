//! `valve`: the palm-up three-fingered hand of [`crate::hand`] over a valve that
//! turns on a fixed vertical hinge, after ROBEL's D'Claw turn tasks.
//!
//! A free cube on a palm needs ~10^8 PPO steps to be turned on purpose; an object
//! on a fixed axis cannot be dropped and answers every push, so it learns on a
//! small budget. The valve stands on a spindle at the palm's centre: three spokes
//! 120° apart at a height the fingertips and distal links reach when the fingers
//! curl in, short enough that straight fingers clear them. Its translation and
//! its tilt are locked (a hinge with no joint to solve); it turns about z with a
//! little damping, and touches the fingers only.
//!
//! The valve's angle is the direction of its first spoke (the red one) about z,
//! counter-clockwise from +x, wrapped to [-π, π]; its rate is its turn over the
//! last env step / 0.05 s (from its motion, as the hand measures its objects).
//! Each episode draws a start angle and a target angle π/3 to π away from it,
//! either way. Contract: deterministic for a seed; no episode ends early.

use crate::hand::{Fingers, Stepping, insert_palm};
use crate::physics::{OBJECT, ROBOT, clamp_action, f64x3, flag, groups, twist_angle, widen};
use crate::scene::{color, scene_of};
use rapier3d::prelude::*;
use rewardsmith_core::{
    Env, EnvSpec, Primitive, ScalarHandle, Shape, SplitMix64, StateSpec, StateWriter, StepInfo,
    VectorHandle,
};
use std::f32::consts::TAU;
use std::sync::{Arc, OnceLock};

/// One env step, seconds.
const STEP: f32 = 0.05;
/// Height of the spokes' axes above the palm's top, m.
pub const SPOKE_HEIGHT: f32 = 0.055;
/// Length of a spoke from the valve's axis to the centre of its rounded end, m.
pub const SPOKE_LENGTH: f32 = 0.055;
/// Spoke (capsule) radius, m.
pub const SPOKE_RADIUS: f32 = 0.01;
/// Radius of the spindle the spokes sit on, m.
const SPINDLE_RADIUS: f32 = 0.012;
/// Mass of the valve, kg.
const VALVE_MASS: f32 = 0.05;
/// Angular damping of the valve, 1/s: the hinge's friction, so that a flick
/// does not spin it for ever.
const VALVE_DAMPING: f32 = 2.0;
/// Error under which the valve is at its target, rad (D'Claw's success bound).
pub const TARGET_TOLERANCE: f64 = 0.1;
/// Smallest and largest turn from the start angle to the target, rad.
const TARGET_TURN: [f64; 2] = [std::f64::consts::FRAC_PI_3, std::f64::consts::PI];

/// The observation, part by part.
mod obs {
    use rewardsmith_core::ObsSpan;
    /// Joint angles, per finger `[abduction, proximal, distal]`.
    pub const JOINT_POS: ObsSpan = ObsSpan::first(9);
    /// Joint rates, same order.
    pub const JOINT_VEL: ObsSpan = JOINT_POS.then(9);
    /// Cosine and sine of the valve angle.
    pub const ANGLE: ObsSpan = JOINT_VEL.then(2);
    /// Valve rate.
    pub const RATE: ObsSpan = ANGLE.then(1);
    /// Angle error.
    pub const ERROR: ObsSpan = RATE.then(1);
    /// Cosine and sine of the angle error.
    pub const ERROR_TRIG: ObsSpan = ERROR.then(2);
    /// Fingertip positions, 3 × `[x, y, z]`.
    pub const TIPS: ObsSpan = ERROR_TRIG.then(9);
    /// Observation length.
    pub const DIM: usize = TIPS.end();
}

/// Wraps an angle to [-π, π].
fn wrap(angle: f64) -> f64 {
    let tau = std::f64::consts::TAU;
    let a = (angle + std::f64::consts::PI).rem_euclid(tau) - std::f64::consts::PI;
    if a <= -std::f64::consts::PI {
        a + tau
    } else {
        a
    }
}

/// The hand and the valve.
pub struct Valve {
    spec: Arc<EnvSpec>,
    fields: &'static Fields,
    world: PhysicsWorld,
    fingers: Fingers,
    valve: RigidBodyHandle,
    stepping: Stepping,
    action: [f32; 9],
    /// Valve angle at the episode's start, rad (unwrapped reference).
    start: f64,
    /// Total signed turn since the episode's start, rad (not wrapped).
    turned: f64,
    /// Turn over the last env step, rad.
    last_turn: f64,
    /// Target angle, rad, wrapped.
    target: f64,
}

/// The handles of the reward-state fields, in declaration order.
#[derive(Clone, Copy, Debug)]
struct Fields {
    valve_angle: ScalarHandle,
    valve_vel: ScalarHandle,
    valve_turned: ScalarHandle,
    target_angle: ScalarHandle,
    angle_error: ScalarHandle,
    at_target: ScalarHandle,
    spoke_pos: VectorHandle<9>,
    fingertip_pos: VectorHandle<9>,
    tip_to_spoke: VectorHandle<3>,
    joint_pos: VectorHandle<9>,
    joint_vel: VectorHandle<9>,
    action: VectorHandle<9>,
}

/// The valve env's fixed facts, built once.
pub fn spec() -> Arc<EnvSpec> {
    declared().0.clone()
}

/// The valve env's fixed facts and the handles of its reward-state fields, built once.
// One line per field reads as a table; rustfmt would split each into six lines.
#[rustfmt::skip]
fn declared() -> &'static (Arc<EnvSpec>, Fields) {
    static DECLARED: OnceLock<(Arc<EnvSpec>, Fields)> = OnceLock::new();
    DECLARED.get_or_init(|| {
        let mut s = StateSpec::builder();
        let fields = Fields {
            valve_angle: s.add_scalar("valve_angle", "rad", "world", "direction of the valve's first (red) spoke about the vertical axis, counter-clockwise from +x, wrapped to [-pi, pi]"),
            valve_vel: s.add_scalar("valve_vel", "rad/s", "world", "the valve's turn over the last step / 0.05 s; positive is counter-clockwise seen from above"),
            valve_turned: s.add_scalar("valve_turned", "rad", "world", "total signed turn of the valve since the episode began (not wrapped; counter-clockwise positive)"),
            target_angle: s.add_scalar("target_angle", "rad", "world", "the angle valve_angle should reach (hand-valve-turn), wrapped to [-pi, pi], fixed for the episode; between pi/3 and pi away from the start, either way"),
            angle_error: s.add_scalar("angle_error", "rad", "world", "target_angle - valve_angle wrapped to [-pi, pi]: positive means the valve must turn counter-clockwise to reach the target; |angle_error| is the distance to it"),
            at_target: s.add_scalar("at_target", "1", "world", "1 when |angle_error| < 0.1 rad, else 0"),
            spoke_pos: s.add_vector("spoke_pos", "m", "world", "the rounded end of each spoke, 3 × [x, y, z], first spoke first, then counter-clockwise"),
            fingertip_pos: s.add_vector("fingertip_pos", "m", "world", "fingertip ball centres (radius 0.012 m), 3 × [x, y, z] in finger order (bases at 90°, 210°, 330° about z)"),
            tip_to_spoke: s.add_vec3("tip_to_spoke", "m", "world", "distance from each fingertip centre to the axis of the nearest spoke; about 0.022 when the tip touches it"),
            joint_pos: s.add_vector("joint_pos", "rad", "joint", "joint angles from the straight finger, per finger [abduction, proximal flexion, distal flexion]; positive abduction sweeps counter-clockwise, positive flexion curls towards the palm centre"),
            joint_vel: s.add_vector("joint_vel", "rad/s", "joint", "joint angular rates, same order as joint_pos"),
            action: s.add_vector("action", "1", "actuator", "the action applied this step, in [-1, 1], same order as joint_pos"),
        };
        s.goal_of(&["hand-valve-turn"], &["target_angle", "angle_error", "at_target"]);
        let state = s.build();
        let spec = Arc::new(EnvSpec {
            name: "valve".to_string(),
            description: "A fixed robot hand, palm up, z up, gravity -9.81 m/s², with a valve \
                at the palm's centre. The palm is a square plate 0.14 m across whose top is the \
                plane z = 0, centred on the origin. Three fingers stand at its rim, 0.08 m from \
                the centre, at 90°, 210° and 330° about z. World frame: the origin is the palm's \
                centre, +z is up (away from the palm), and angles about z are counter-clockwise \
                seen from above from +x, so the first finger stands on +y. Each finger has three joints: \
                abduction at the base (sweeps the finger sideways, counter-clockwise positive, \
                ±0.6 rad), proximal flexion 0.02 m up (-0.3 to 1.3 rad) and distal flexion \
                0.05 m further (-0.2 to 1.4 rad); flexion curls the finger over the palm. The \
                distal link is 0.04 m long and ends in a ball fingertip (radius 0.012 m). The \
                valve turns freely, with some friction, about the vertical axis through the \
                palm's centre (it cannot move or tilt otherwise): a spindle with three spokes \
                120° apart, 0.055 m above the palm, each 0.055 m long and 0.02 m thick. Straight \
                fingers clear the spokes; curled fingers touch them, and sweeping a curled \
                finger sideways pushes a spoke round. The valve touches the fingers only. \
                Joints are driven by PD controllers towards target angles. Episodes never end \
                early."
                .to_string(),
            obs_dim: obs::DIM,
            action_dim: 9,
            action_doc: "target angle of each joint, mapped linearly from [-1, 1] onto its range, \
                per finger [abduction, proximal flexion, distal flexion]; 0 is the middle of each \
                range (fingers half curled over the valve)"
                .to_string(),
            dt: (f64::from(STEP) * 1e6).round() / 1e6,
            state,
        });
        (spec, fields)
    })
}

/// Distance from `p` to the segment `a`–`b`.
fn segment_distance(p: Vector, a: Vector, b: Vector) -> f32 {
    let ab = b - a;
    let t = ((p - a).dot(ab) / ab.length_squared()).clamp(0.0, 1.0);
    (p - (a + ab * t)).length()
}

impl Default for Valve {
    fn default() -> Self {
        Self::new()
    }
}

impl Valve {
    /// A hand over a valve (call [`Env::reset`] before use).
    #[must_use]
    pub fn new() -> Self {
        let stepping = Stepping::default();
        let mut world = stepping.world();
        let fingers = Fingers::build(&mut world);
        let (spec, fields) = declared();
        let mut env = Self {
            spec: spec.clone(),
            fields,
            world,
            fingers,
            valve: RigidBodyHandle::invalid(),
            stepping,
            action: [0.0; 9],
            start: 0.0,
            turned: 0.0,
            last_turn: 0.0,
            target: 0.0,
        };
        env.reset(0);
        env
    }

    /// Starts an episode with the valve at `angle` and the target at `target`
    /// (both rad), for tests and scripted controllers.
    pub fn reset_at(&mut self, angle: f64, target: f64) {
        let mut world = self.stepping.world();
        // The valve stands clear of the palm: nothing touches it.
        insert_palm(&mut world, InteractionGroups::none());
        self.fingers = Fingers::build(&mut world);
        let valve = world.insert_body(
            RigidBodyBuilder::dynamic()
                .can_sleep(false)
                .locked_axes(
                    LockedAxes::TRANSLATION_LOCKED
                        | LockedAxes::ROTATION_LOCKED_X
                        | LockedAxes::ROTATION_LOCKED_Y,
                )
                .angular_damping(VALVE_DAMPING)
                .rotation(Vector::Z * angle as f32),
        );
        let touch = groups(OBJECT, ROBOT);
        // The spindle carries the valve's mass; the spokes add only a little.
        world.insert_collider(
            ColliderBuilder::capsule_from_endpoints(
                Vector::new(0.0, 0.0, SPINDLE_RADIUS),
                Vector::new(0.0, 0.0, SPOKE_HEIGHT),
                SPINDLE_RADIUS,
            )
            .mass(VALVE_MASS * 0.4)
            .friction(1.0)
            .collision_groups(touch)
            .user_data(color([120, 120, 120])),
            Some(valve),
        );
        for k in 0..3 {
            let dir = Rotation::from_axis_angle(Vector::Z, k as f32 * TAU / 3.0) * Vector::X;
            let rgb = if k == 0 {
                [220, 60, 60]
            } else {
                [150, 150, 160]
            };
            world.insert_collider(
                ColliderBuilder::capsule_from_endpoints(
                    Vector::new(0.0, 0.0, SPOKE_HEIGHT),
                    Vector::new(0.0, 0.0, SPOKE_HEIGHT) + dir * SPOKE_LENGTH,
                    SPOKE_RADIUS,
                )
                .mass(VALVE_MASS * 0.2)
                .friction(1.0)
                .collision_groups(touch)
                .user_data(color(rgb)),
                Some(valve),
            );
        }
        self.world = world;
        self.valve = valve;
        self.action = [0.0; 9];
        self.start = wrap(angle);
        self.turned = 0.0;
        self.last_turn = 0.0;
        self.target = wrap(target);
    }

    /// The valve's rotation about z relative to its start pose, rad, in [-π, π].
    fn rotation_since_start(&self) -> f64 {
        let q = *self.world.bodies[self.valve].rotation();
        let start = Rotation::from_axis_angle(Vector::Z, self.start as f32);
        f64::from(twist_angle(&start, &q, Vector::Z))
    }

    /// The valve angle, wrapped to [-π, π].
    #[must_use]
    pub fn angle(&self) -> f64 {
        wrap(self.start + self.turned)
    }

    /// The signed error `target − angle`, wrapped to [-π, π].
    #[must_use]
    pub fn error(&self) -> f64 {
        self.error_at(self.angle())
    }

    /// [`Self::error`] with the valve at `angle`.
    fn error_at(&self, angle: f64) -> f64 {
        wrap(self.target - angle)
    }

    /// Total signed turn since the episode began, rad.
    #[must_use]
    pub fn turned(&self) -> f64 {
        self.turned
    }

    /// The rounded end of spoke `k` with the valve at `angle`.
    fn spoke_end(angle: f64, k: usize) -> Vector {
        let a = (angle as f32) + k as f32 * TAU / 3.0;
        Vector::new(a.cos() * SPOKE_LENGTH, a.sin() * SPOKE_LENGTH, SPOKE_HEIGHT)
    }

    /// Distance from a fingertip centre at `tip` to the nearest of the spokes
    /// ending at `ends`.
    fn tip_to_spoke(tip: Vector, ends: &[Vector; 3]) -> f32 {
        let hub = Vector::new(0.0, 0.0, SPOKE_HEIGHT);
        ends.iter()
            .map(|&end| segment_distance(tip, hub, end))
            .fold(f32::INFINITY, f32::min)
    }
}

impl Env for Valve {
    fn spec(&self) -> &Arc<EnvSpec> {
        &self.spec
    }

    fn reset(&mut self, seed: u64) {
        let mut rng = SplitMix64::new(seed);
        let angle = rng.uniform(-std::f64::consts::PI, std::f64::consts::PI);
        let turn = rng.uniform(TARGET_TURN[0], TARGET_TURN[1]);
        let sign = if rng.uniform(0.0, 1.0) < 0.5 {
            -1.0
        } else {
            1.0
        };
        self.reset_at(angle, angle + sign * turn);
    }

    fn step(&mut self, action: &[f32]) -> StepInfo {
        clamp_action(&mut self.action, action);
        self.fingers.drive(&mut self.world, &self.action);
        let before = self.rotation_since_start();
        for _ in 0..self.stepping.substeps {
            self.world.step();
        }
        // The valve turns far less than π per step, so the wrapped difference
        // is the turn.
        self.last_turn = wrap(self.rotation_since_start() - before);
        self.turned += self.last_turn;
        StepInfo {
            terminated: false,
            truncated: false,
        }
    }

    fn observe(&self, obs: &mut [f32]) {
        for f in 0..3 {
            for k in 0..3 {
                let (angle, rate) = self.fingers.joint(&self.world, f, k);
                obs[obs::JOINT_POS.at(3 * f + k)] = angle;
                obs[obs::JOINT_VEL.at(3 * f + k)] = rate;
            }
        }
        let angle = self.angle();
        let error = self.error_at(angle);
        obs[obs::ANGLE.range()].copy_from_slice(&[angle.cos() as f32, angle.sin() as f32]);
        obs[obs::RATE.start()] = (self.last_turn / f64::from(STEP)) as f32;
        obs[obs::ERROR.start()] = error as f32;
        obs[obs::ERROR_TRIG.range()].copy_from_slice(&[error.cos() as f32, error.sin() as f32]);
        for f in 0..3 {
            let tip = obs::TIPS.at(3 * f);
            obs[tip..tip + 3].copy_from_slice(&self.fingers.tip(&self.world, f).to_array());
        }
    }

    fn reward_state(&self, out: &mut [f64]) {
        let f = self.fields;
        let mut w = StateWriter::new(&self.spec.state, out);
        let angle = self.angle();
        let error = self.error_at(angle);
        w.set(f.valve_angle, angle);
        w.set(f.valve_vel, self.last_turn / f64::from(STEP));
        w.set(f.valve_turned, self.turned);
        w.set(f.target_angle, self.target);
        w.set(f.angle_error, error);
        w.set(f.at_target, flag(error.abs() < TARGET_TOLERANCE));
        let ends = [0, 1, 2].map(|k| Self::spoke_end(angle, k));
        let (mut spokes, mut tips, mut tip_to_spoke) = ([0.0; 9], [0.0; 9], [0.0; 3]);
        for (k, &end) in ends.iter().enumerate() {
            spokes[3 * k..3 * k + 3].copy_from_slice(&f64x3(end));
        }
        for finger in 0..3 {
            let tip = self.fingers.tip(&self.world, finger);
            tips[3 * finger..3 * finger + 3].copy_from_slice(&f64x3(tip));
            tip_to_spoke[finger] = f64::from(Self::tip_to_spoke(tip, &ends));
        }
        w.set(f.spoke_pos, spokes);
        w.set(f.fingertip_pos, tips);
        w.set(f.tip_to_spoke, tip_to_spoke);
        let (mut joint_pos, mut joint_vel) = ([0.0; 9], [0.0; 9]);
        for finger in 0..3 {
            for k in 0..3 {
                let (angle, rate) = self.fingers.joint(&self.world, finger, k);
                joint_pos[3 * finger + k] = f64::from(angle);
                joint_vel[3 * finger + k] = f64::from(rate);
            }
        }
        w.set(f.joint_pos, joint_pos);
        w.set(f.joint_vel, joint_vel);
        w.set(f.action, widen(&self.action));
    }

    fn scene(&self, out: &mut Vec<Primitive>) {
        scene_of(&self.world, out);
        // The target: a green marker beyond the palm's rim in the target direction.
        let t = self.target as f32;
        out.push(Primitive {
            shape: Shape::Sphere { radius: 0.008 },
            position: [
                f64::from(t.cos() * 0.1),
                f64::from(t.sin() * 0.1),
                f64::from(SPOKE_HEIGHT),
            ],
            rotation: [1.0, 0.0, 0.0, 0.0],
            color: [40, 200, 80],
            marks: Some("target_angle"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn wrap_maps_into_the_half_open_circle() {
        for (a, w) in [
            (0.0, 0.0),
            (PI + 0.5, -PI + 0.5),
            (-PI - 0.5, PI - 0.5),
            (7.0 * std::f64::consts::TAU + 0.25, 0.25),
            (-PI, PI),
        ] {
            assert!(
                (wrap(a) - w).abs() < 1e-9,
                "wrap({a}) = {} not {w}",
                wrap(a)
            );
        }
    }
}
