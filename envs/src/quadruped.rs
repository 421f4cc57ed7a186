//! `quadruped`: an ant-like robot on flat ground.
//!
//! A spherical torso with four legs, each of a thigh swinging about the vertical
//! (hip) and a shin pitching up and down (knee): 8 actuated revolute joints, as in
//! gymnasium's Ant. One env step is 0.05 s of simulated time, as Ant-v5's.
//!
//! **Actuation — PD position targets.** Each action sets a joint's target angle
//! within its range; rapier's implicit joint motor drives it there with a capped
//! torque. Implicit PD is stable at large time steps (explicit torques with the
//! same stiffness are not), and PD action spaces learn faster than raw torques
//! (Peng & van de Panne, 2017).
//!
//! **Joint model and time step.** Reduced-coordinate multibody joints (they hold
//! the joint limits exactly where impulse joints let shins fold past their
//! stops), two substeps of 0.025 s with 2 solver iterations per env step. Robot
//! parts collide with the ground only. The measured trade-off is in
//! `docs/notes/quadruped.md`.

use crate::physics::{
    clamp_action, f32_quat, f64_quat, f64x3, flag, ghost_groups, ground_groups, heading,
    joint_angle_rate, new_world, robot_groups, set_motor_target, widen,
};
use crate::scene::collider_primitive;
use rapier3d::prelude::*;
use rewardsmith_core::{
    Env, EnvSpec, Primitive, ScalarHandle, SplitMix64, StateSpec, StateWriter, StepInfo,
    VectorHandle,
};
use std::sync::{Arc, OnceLock};

/// Physics substep, seconds (see the module docs for the measured trade-off).
const SUBSTEP: f32 = 0.025;
/// Substeps per env step.
const FRAME_SKIP: usize = 2;
/// Velocity-solver iterations per substep.
const SOLVER_ITERATIONS: usize = 2;
/// Torso sphere radius, m.
const TORSO_RADIUS: f32 = 0.25;
/// Limb capsule radius, m.
const LIMB_RADIUS: f32 = 0.08;
/// Horizontal distance from the torso centre to a hip, m.
const HIP_OFFSET: f32 = 0.2;
/// Thigh length (horizontal, outward), m.
const THIGH: f32 = 0.28;
/// Shin length, m.
const SHIN: f32 = 0.56;
/// Shin angle below the horizontal in the rest pose, rad.
const SHIN_REST: f32 = 0.96;
/// Hip range about the rest pose, rad.
const HIP_RANGE: f32 = 0.5;
/// Knee range about the rest pose, rad.
const KNEE_RANGE: f32 = 0.6;
/// Density of every part, kg/m³ (torso ≈ 3.3 kg, robot ≈ 7 kg).
const DENSITY: f32 = 50.0;
/// PD stiffness, N·m/rad.
const KP: f32 = 100.0;
/// PD damping, N·m·s/rad.
const KD: f32 = 8.0;
/// Torque cap per joint, N·m.
const MAX_TORQUE: f32 = 30.0;
/// Torso height below which the robot has fallen, m.
const MIN_HEIGHT: f32 = 0.2;
/// Torso height above which the robot is airborne beyond reason, m.
const MAX_HEIGHT: f32 = 1.5;
/// Fingertip-to-ground clearance under which a foot counts as touching, m.
const CONTACT_EPS: f32 = 0.02;

/// Leg order: front-left, front-right, back-left, back-right (+x is forward, +y left).
const LEG_SIGNS: [(f32, f32); 4] = [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)];

/// The observation, part by part.
mod obs {
    use rewardsmith_core::ObsSpan;
    /// Torso height.
    pub const HEIGHT: ObsSpan = ObsSpan::first(1);
    /// Torso quaternion `[w, x, y, z]`.
    pub const QUAT: ObsSpan = HEIGHT.then(4);
    /// Joint angles, per leg `[hip, knee]`.
    pub const JOINT_POS: ObsSpan = QUAT.then(8);
    /// Torso linear velocity.
    pub const LINVEL: ObsSpan = JOINT_POS.then(3);
    /// Torso angular velocity.
    pub const ANGVEL: ObsSpan = LINVEL.then(3);
    /// Joint rates, same order as the angles.
    pub const JOINT_VEL: ObsSpan = ANGVEL.then(8);
    /// Foot contacts, in leg order.
    pub const CONTACT: ObsSpan = JOINT_VEL.then(4);
    /// Observation length.
    pub const DIM: usize = CONTACT.end();
}

/// The handles of the reward-state fields, in declaration order.
#[derive(Clone, Copy, Debug)]
struct Fields {
    torso_pos: VectorHandle<3>,
    torso_height: ScalarHandle,
    torso_quat: VectorHandle<4>,
    torso_linvel: VectorHandle<3>,
    torso_angvel: VectorHandle<3>,
    up_z: ScalarHandle,
    heading: ScalarHandle,
    joint_pos: VectorHandle<8>,
    joint_vel: VectorHandle<8>,
    foot_pos: VectorHandle<12>,
    foot_height: VectorHandle<4>,
    foot_contact: VectorHandle<4>,
    action: VectorHandle<8>,
    fallen: ScalarHandle,
}

struct Leg {
    thigh: RigidBodyHandle,
    shin: RigidBodyHandle,
    hip: MultibodyJointHandle,
    knee: MultibodyJointHandle,
    /// Knee axis in the thigh's frame.
    knee_axis: Vector,
    /// Foot point (shin tip centre) in the shin's frame.
    tip: Vector,
}

/// The ant-like quadruped.
pub struct Quadruped {
    spec: Arc<EnvSpec>,
    fields: &'static Fields,
    world: PhysicsWorld,
    torso: RigidBodyHandle,
    legs: Vec<Leg>,
    action: [f32; 8],
}

/// The quadruped's fixed facts, built once.
pub fn spec() -> Arc<EnvSpec> {
    declared().0.clone()
}

/// The quadruped's fixed facts and the handles of its reward-state fields, built once.
// One line per field reads as a table; rustfmt would split each into six lines.
#[rustfmt::skip]
fn declared() -> &'static (Arc<EnvSpec>, Fields) {
    static DECLARED: OnceLock<(Arc<EnvSpec>, Fields)> = OnceLock::new();
    DECLARED.get_or_init(|| {
        let mut s = StateSpec::builder();
        let fields = Fields {
            torso_pos: s.add_vec3("torso_pos", "m", "world", "position of the torso centre; z is height above the ground"),
            torso_height: s.add_scalar("torso_height", "m", "world", "height of the torso centre above the ground (rest ≈ 0.55)"),
            torso_quat: s.add_vector("torso_quat", "1", "world", "torso orientation as a unit quaternion [w, x, y, z]"),
            torso_linvel: s.add_vec3("torso_linvel", "m/s", "world", "linear velocity of the torso; [0] is forward speed along +x"),
            torso_angvel: s.add_vec3("torso_angvel", "rad/s", "world", "angular velocity of the torso; [2] is the yaw rate (counter-clockwise positive)"),
            up_z: s.add_scalar("up_z", "1", "world", "z component of the torso's up axis: 1 upright, 0 on its side, -1 upside down"),
            heading: s.add_scalar("heading", "rad", "world", "yaw of the torso's forward (+x) axis in the ground plane, in (-pi, pi]; 0 faces +x"),
            joint_pos: s.add_vector("joint_pos", "rad", "joint", "joint angles relative to the rest pose, per leg [hip, knee] in order front-left, front-right, back-left, back-right"),
            joint_vel: s.add_vector("joint_vel", "rad/s", "joint", "joint angular rates, same order as joint_pos"),
            foot_pos: s.add_vector("foot_pos", "m", "world", "foot positions, 4 × [x, y, z] in leg order"),
            foot_height: s.add_vector("foot_height", "m", "world", "clearance of each foot above the ground, in leg order"),
            foot_contact: s.add_vector("foot_contact", "1", "world", "1 when the foot touches the ground, else 0, in leg order"),
            action: s.add_vector("action", "1", "actuator", "the action applied this step, in [-1, 1], same order as joint_pos"),
            fallen: s.add_scalar("fallen", "1", "world", "1 when the torso height left [0.2, 1.5] m or the torso is upside down (the episode ends), else 0"),
        };
        let state = s.build();
        let spec = Arc::new(EnvSpec {
            name: "quadruped".to_string(),
            description: "An ant-like quadruped robot on flat ground, z up, gravity -9.81 m/s². \
                A spherical torso (radius 0.25 m) carries four legs placed diagonally; each leg \
                has a thigh that swings about the vertical axis at the hip (±0.5 rad) and a shin \
                that pitches up and down at the knee (±0.6 rad). World frame: forward is +x, \
                left is +y, up is +z; the robot starts at the origin facing +x, and the ground \
                (the plane z = 0) is flat and has no edges. \
                Joints are driven by PD controllers towards target angles. The episode ends when \
                the robot falls (torso below 0.2 m or upside down)."
                .to_string(),
            obs_dim: obs::DIM,
            action_dim: 8,
            action_doc: "target angle of each joint as a fraction of its range, per leg [hip, knee] \
                in order front-left, front-right, back-left, back-right; +1 on a knee pushes the foot down (raising the body), -1 lifts it"
                .to_string(),
            dt: (f64::from(SUBSTEP) * FRAME_SKIP as f64 * 1e6).round() / 1e6,
            state,
        });
        (spec, fields)
    })
}

impl Quadruped {
    /// A quadruped in its rest pose (call [`Env::reset`] before use).
    #[must_use]
    pub fn new() -> Self {
        let (spec, fields) = declared();
        let mut env = Self {
            spec: spec.clone(),
            fields,
            world: new_world(SUBSTEP, SOLVER_ITERATIONS),
            torso: RigidBodyHandle::invalid(),
            legs: Vec::with_capacity(4),
            action: [0.0; 8],
        };
        env.build(&mut SplitMix64::new(0), false, 0.0);
        env
    }

    /// Starts an episode with the whole robot rolled by `roll` radians about the
    /// x axis (π: upside down), for tests of fall detection and for curricula.
    pub fn reset_rolled(&mut self, seed: u64, roll: f32) {
        self.build(&mut SplitMix64::new(seed), true, roll);
    }

    fn build(&mut self, rng: &mut SplitMix64, noise: bool, roll: f32) {
        let tilt = Rotation::from_axis_angle(Vector::X, roll);
        let mut world = new_world(SUBSTEP, SOLVER_ITERATIONS);
        let ground = world.insert_body(RigidBodyBuilder::fixed());
        world.insert_collider(
            ColliderBuilder::halfspace(rapier3d::na::Unit::new_unchecked(Vector::Z))
                .friction(1.0)
                .collision_groups(ground_groups()),
            Some(ground),
        );
        let rest_height = SHIN * SHIN_REST.sin() + LIMB_RADIUS + 0.01;
        let origin = Vector::new(0.0, 0.0, rest_height);
        let mut jitter = |scale: f32| {
            if noise {
                Vector::new(
                    (rng.normal() as f32) * scale,
                    (rng.normal() as f32) * scale,
                    (rng.normal() as f32) * scale,
                )
            } else {
                Vector::ZERO
            }
        };
        let torso = world.insert_body(
            RigidBodyBuilder::dynamic()
                .can_sleep(false)
                .translation(origin)
                .rotation(tilt.to_scaled_axis())
                .linvel(jitter(0.1))
                .angvel(jitter(0.1)),
        );
        world.insert_collider(
            ColliderBuilder::ball(TORSO_RADIUS)
                .density(DENSITY)
                .collision_groups(robot_groups()),
            Some(torso),
        );
        let mut legs = Vec::with_capacity(4);
        for &(sx, sy) in &LEG_SIGNS {
            let out = Vector::new(sx, sy, 0.0) / std::f32::consts::SQRT_2;
            let hip_at = out * HIP_OFFSET;
            let knee_at = out * THIGH;
            world.insert_collider(
                ColliderBuilder::capsule_from_endpoints(Vector::ZERO, hip_at, LIMB_RADIUS)
                    .density(DENSITY)
                    .collision_groups(ghost_groups()),
                Some(torso),
            );
            let thigh = world.insert_body(
                RigidBodyBuilder::dynamic()
                    .can_sleep(false)
                    .translation(origin + tilt * hip_at)
                    .rotation(tilt.to_scaled_axis())
                    .linvel(jitter(0.1)),
            );
            world.insert_collider(
                ColliderBuilder::capsule_from_endpoints(Vector::ZERO, knee_at, LIMB_RADIUS)
                    .density(DENSITY)
                    .collision_groups(robot_groups()),
                Some(thigh),
            );
            let tip = out * (SHIN * SHIN_REST.cos()) - Vector::Z * (SHIN * SHIN_REST.sin());
            let shin = world.insert_body(
                RigidBodyBuilder::dynamic()
                    .can_sleep(false)
                    .translation(origin + tilt * (hip_at + knee_at))
                    .rotation(tilt.to_scaled_axis())
                    .linvel(jitter(0.1)),
            );
            world.insert_collider(
                ColliderBuilder::capsule_from_endpoints(Vector::ZERO, tip, LIMB_RADIUS)
                    .density(DENSITY)
                    .friction(1.0)
                    .collision_groups(robot_groups()),
                Some(shin),
            );
            let hip = RevoluteJointBuilder::new(Vector::Z)
                .local_anchor1(hip_at)
                .local_anchor2(Vector::ZERO)
                .motor_model(MotorModel::ForceBased)
                .motor_position(0.0, KP, KD)
                .motor_max_force(MAX_TORQUE)
                .limits([-HIP_RANGE - 0.1, HIP_RANGE + 0.1]);
            let hip = world
                .insert_multibody_joint(torso, thigh, hip)
                .expect("a tree of legs has no cycle");
            // Pitch axis: horizontal, perpendicular to the leg; a positive angle
            // swings the foot down.
            let knee_axis = Vector::new(-out.y, out.x, 0.0);
            let knee = RevoluteJointBuilder::new(knee_axis)
                .local_anchor1(knee_at)
                .local_anchor2(Vector::ZERO)
                .motor_model(MotorModel::ForceBased)
                .motor_position(0.0, KP, KD)
                .motor_max_force(MAX_TORQUE)
                .limits([-KNEE_RANGE - 0.1, KNEE_RANGE + 0.1]);
            let knee = world
                .insert_multibody_joint(thigh, shin, knee)
                .expect("a tree of legs has no cycle");
            legs.push(Leg {
                thigh,
                shin,
                hip,
                knee,
                knee_axis,
                tip,
            });
        }
        self.world = world;
        self.torso = torso;
        self.legs = legs;
        self.action = [0.0; 8];
    }

    fn torso_body(&self) -> &RigidBody {
        &self.world.bodies[self.torso]
    }

    /// Joint angle and rate of leg `i`'s hip (`knee == false`) or knee.
    fn joint(&self, i: usize, knee: bool) -> (f32, f32) {
        let leg = &self.legs[i];
        let (a, b, axis) = if knee {
            (leg.thigh, leg.shin, leg.knee_axis)
        } else {
            (self.torso, leg.thigh, Vector::Z)
        };
        joint_angle_rate(&self.world.bodies[a], &self.world.bodies[b], axis)
    }

    fn foot(&self, i: usize) -> Vector {
        let leg = &self.legs[i];
        self.world.bodies[leg.shin].position() * leg.tip
    }

    fn up_z(&self) -> f32 {
        (*self.torso_body().rotation() * Vector::Z).z
    }

    /// Whether the robot has fallen, given its [`Self::up_z`].
    fn fallen(&self, up_z: f32) -> bool {
        let z = self.torso_body().translation().z;
        !(MIN_HEIGHT..=MAX_HEIGHT).contains(&z) || up_z < 0.0
    }
}

impl Default for Quadruped {
    fn default() -> Self {
        Self::new()
    }
}

/// Torso colour in pictures (sRGB).
const TORSO_COLOR: [u8; 3] = [230, 140, 50];
/// Leg colour in pictures (sRGB).
const LEG_COLOR: [u8; 3] = [80, 140, 220];

impl Env for Quadruped {
    fn spec(&self) -> &Arc<EnvSpec> {
        &self.spec
    }

    fn scene(&self, out: &mut Vec<Primitive>) {
        out.clear();
        for (_, collider) in self.world.colliders.iter() {
            let color = if collider.parent() == Some(self.torso) {
                TORSO_COLOR
            } else {
                LEG_COLOR
            };
            out.extend(collider_primitive(collider, color, 0.0));
        }
    }

    fn reset(&mut self, seed: u64) {
        self.build(&mut SplitMix64::new(seed), true, 0.0);
    }

    fn step(&mut self, action: &[f32]) -> StepInfo {
        clamp_action(&mut self.action, action);
        for i in 0..4 {
            let (hip, knee) = (self.legs[i].hip, self.legs[i].knee);
            let (hip_target, knee_target) = (
                self.action[2 * i] * HIP_RANGE,
                self.action[2 * i + 1] * KNEE_RANGE,
            );
            set_motor_target(&mut self.world, hip, JointAxis::AngX, hip_target, KP, KD);
            set_motor_target(&mut self.world, knee, JointAxis::AngX, knee_target, KP, KD);
        }
        for _ in 0..FRAME_SKIP {
            self.world.step();
        }
        StepInfo {
            terminated: self.fallen(self.up_z()),
            truncated: false,
        }
    }

    fn observe(&self, obs: &mut [f32]) {
        let torso = self.torso_body();
        let q = torso.rotation();
        obs[obs::HEIGHT.start()] = torso.translation().z;
        obs[obs::QUAT.range()].copy_from_slice(&f32_quat(q));
        obs[obs::LINVEL.range()].copy_from_slice(&torso.linvel().to_array());
        obs[obs::ANGVEL.range()].copy_from_slice(&torso.angvel().to_array());
        for i in 0..4 {
            for (k, knee) in [false, true].into_iter().enumerate() {
                let (angle, rate) = self.joint(i, knee);
                obs[obs::JOINT_POS.at(2 * i + k)] = angle;
                obs[obs::JOINT_VEL.at(2 * i + k)] = rate;
            }
            let clearance = self.foot(i).z - LIMB_RADIUS;
            obs[obs::CONTACT.at(i)] = if clearance < CONTACT_EPS { 1.0 } else { 0.0 };
        }
    }

    fn reward_state(&self, out: &mut [f64]) {
        let f = self.fields;
        let mut w = StateWriter::new(&self.spec.state, out);
        let torso = self.torso_body();
        let q = torso.rotation();
        let p = torso.translation();
        w.set(f.torso_pos, f64x3(p));
        w.set(f.torso_height, f64::from(p.z));
        w.set(f.torso_quat, f64_quat(q));
        w.set(f.torso_linvel, f64x3(torso.linvel()));
        w.set(f.torso_angvel, f64x3(torso.angvel()));
        let up_z = self.up_z();
        w.set(f.up_z, f64::from(up_z));
        w.set(f.heading, f64::from(heading(q)));
        let (mut joint_pos, mut joint_vel) = ([0.0; 8], [0.0; 8]);
        let (mut foot_pos, mut foot_height, mut foot_contact) = ([0.0; 12], [0.0; 4], [0.0; 4]);
        for i in 0..4 {
            for (k, knee) in [false, true].into_iter().enumerate() {
                let (angle, rate) = self.joint(i, knee);
                joint_pos[2 * i + k] = f64::from(angle);
                joint_vel[2 * i + k] = f64::from(rate);
            }
            let foot = self.foot(i);
            foot_pos[3 * i..3 * i + 3].copy_from_slice(&f64x3(foot));
            let clearance = foot.z - LIMB_RADIUS;
            foot_height[i] = f64::from(clearance);
            foot_contact[i] = flag(clearance < CONTACT_EPS);
        }
        w.set(f.joint_pos, joint_pos);
        w.set(f.joint_vel, joint_vel);
        w.set(f.foot_pos, foot_pos);
        w.set(f.foot_height, foot_height);
        w.set(f.foot_contact, foot_contact);
        w.set(f.action, widen(&self.action));
        w.set(f.fallen, flag(self.fallen(up_z)));
    }
}
