//! `hand`: a fixed, palm-up three-fingered hand with a free object on its palm.
//!
//! The palm is a fixed square plate (14 cm across) whose top is the plane z = 0,
//! centred on the origin. Three fingers stand at its rim, 0.08 m from the centre,
//! at 90°, 210° and 330° about z. Each finger has three actuated revolute joints:
//! an **abduction** joint at the base that sweeps the finger sideways (positive:
//! counter-clockwise seen from above), a **proximal flexion** joint 2 cm up and a
//! **distal flexion** joint 5 cm further (positive: curl towards the palm centre);
//! the distal link carries a ball fingertip. The object is a cube (edge 6 cm,
//! 0.1 kg) or a pen-like capsule (13 cm long, 2 cm thick, 0.03 kg) lying on the
//! palm; it touches the palm and the fingers.
//!
//! **Actuation — PD position targets** on reduced-coordinate multibody joints (one
//! multibody per finger, each rooted at a fixed base body of its own placed like
//! the palm), as in the quadruped and the arm. An action sets the targets around
//! a grasp pose in which the fingertips rest on top of the object
//! ([`Object::grasp_pose`]): target = grasp pose + [`ACTION_SCALE`] × action,
//! clamped to the joint limits, as MuJoCo Playground's LEAP-hand cube rotation
//! does (0.6 rad around its home pose). A zero action holds the grasp. The valve
//! ([`crate::valve`]) keeps the linear map of the action onto the whole joint
//! range (`Fingers::drive`).
//!
//! **Starts.** Every episode starts from one of [`GRASPS`] settled grasps cached
//! per object ([`grasps`], after HORA): the grasp pose jittered, the object
//! dropped on the palm at a random yaw, held for 1 s, kept when the object lies
//! still, on the palm, under at least two fingertips. `reset(seed)` picks one by
//! the seed; the cache is built once per process, the same on every machine.
//!
//! **Drop.** The object is dropped when its centre leaves the cylinder of radius
//! 0.09 m above the palm or falls below the palm's top; a drop ends the episode.
//!
//! **Velocities.** The object's velocities in the observation and the reward
//! state are its motion over the last env step (change of pose / 0.05 s), not
//! rapier's end-of-step body velocities: under contact those are what the
//! velocity solver left, and the position correction that follows moves the
//! body without touching them. A `hand-spin` policy trained on them learned to
//! rock the cube ±0.1 rad between the fingertips, which read as 4–6 rad/s on
//! every other step (1.4 rad/s on average) while the cube did not turn.
//!
//! **Time step and cost.** Two substeps of 0.025 s with 2 solver iterations,
//! one 3-dof multibody per finger: every cheaper setting measured dropped the
//! object more often or let contacts sink deeper (791 k instructions per env
//! step with the cube, 625 k with the pen). The measurements and the design
//! history are in `docs/notes/hand.md`.

use crate::physics::{
    OBJECT, ROBOT, SCENERY, clamp_action, f32_quat, f64_quat, f64x3, flag, groups,
    joint_angle_rate, new_world, set_motor_target, widen,
};
use crate::scene::{color, scene_of};
use rapier3d::prelude::*;
use rewardsmith_core::{
    Env, EnvSpec, Primitive, ScalarHandle, Shape, SplitMix64, StateSpec, StateWriter, StepInfo,
    VectorHandle,
};
use std::sync::{Arc, OnceLock};

mod grasps;
pub use grasps::{GRASPS, Grasp, GraspCache, grasps};

/// One env step, seconds.
const STEP: f32 = 0.05;
/// Half the palm's side, m.
const PALM_HALF: f32 = 0.07;
/// Distance of each finger base from the palm centre, m.
const FINGER_RADIUS: f32 = 0.08;
/// Finger base angles about z, rad (90°, 210°, 330°).
const FINGER_ANGLES: [f32; 3] = [
    std::f32::consts::FRAC_PI_2,
    std::f32::consts::FRAC_PI_2 + std::f32::consts::TAU / 3.0,
    std::f32::consts::FRAC_PI_2 + 2.0 * std::f32::consts::TAU / 3.0,
];
/// Lengths of the knuckle, proximal and distal links, m.
const LINKS: [f32; 3] = [0.02, 0.05, 0.04];
/// Finger link radius, m.
const LINK_RADIUS: f32 = 0.009;
/// Fingertip ball radius, m.
pub const TIP_RADIUS: f32 = 0.012;
/// Joint ranges `[lo, hi]`, rad: abduction, proximal flexion, distal flexion.
pub const RANGES: [[f32; 2]; 3] = [[-0.6, 0.6], [-0.3, 1.3], [-0.2, 1.4]];
/// Density of the finger links, kg/m³.
const LINK_DENSITY: f32 = 1000.0;
/// PD stiffness, N·m/rad.
const KP: f32 = 1.0;
/// PD damping, N·m·s/rad.
const KD: f32 = 0.05;
/// Torque cap per joint, N·m.
const MAX_TORQUE: f32 = 1.0;
/// Half the cube's edge, m.
pub const CUBE_HALF: f32 = 0.03;
/// Half the length of the pen's axis segment, m.
pub const PEN_HALF_LENGTH: f32 = 0.055;
/// The pen's radius, m.
pub const PEN_RADIUS: f32 = 0.01;
/// Angular damping of the object, 1/s: rolling resistance, which rapier's
/// contacts lack (without it a pen knocked once rolls on for ever).
const OBJECT_ANGULAR_DAMPING: f32 = 2.0;
/// The pen's principal moments of inertia, kg·m²: across and along its axis.
const PEN_INERTIA: [f32; 2] = [4.5e-5, 1.0e-5];
/// Horizontal distance from the palm centre beyond which the object is dropped, m.
pub const DROP_RADIUS: f32 = 0.09;
/// Orientation error under which the cube counts as aligned with its target, rad.
pub const ALIGN_TOLERANCE: f64 = 0.4;
/// How far a unit action moves a joint's target from the grasp pose, rad.
/// MuJoCo Playground's LEAP hand turns a cube with 0.6 rad around its home
/// pose; this hand's flexion ranges are 1.6 rad wide (the LEAP hand's about
/// 2 rad), and ±0.5 rad still sweeps nearly the whole abduction range.
pub const ACTION_SCALE: f32 = 0.5;

/// The observation, part by part.
mod obs {
    use rewardsmith_core::ObsSpan;
    /// Joint angles, per finger `[abduction, proximal, distal]`.
    pub const JOINT_POS: ObsSpan = ObsSpan::first(9);
    /// Joint rates, same order.
    pub const JOINT_VEL: ObsSpan = JOINT_POS.then(9);
    /// Object position.
    pub const POS: ObsSpan = JOINT_VEL.then(3);
    /// Object quaternion `[w, x, y, z]`.
    pub const QUAT: ObsSpan = POS.then(4);
    /// Object linear velocity.
    pub const LINVEL: ObsSpan = QUAT.then(3);
    /// Object angular velocity.
    pub const ANGVEL: ObsSpan = LINVEL.then(3);
    /// Target quaternion.
    pub const TARGET: ObsSpan = ANGVEL.then(4);
    /// Rotation from the object to the target, `w >= 0`.
    pub const TO_TARGET: ObsSpan = TARGET.then(4);
    /// Fingertips relative to the object, 3 × `[x, y, z]`.
    pub const TIPS: ObsSpan = TO_TARGET.then(9);
    /// Observation length.
    pub const DIM: usize = TIPS.end();
}

/// The object on the palm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// A cube of edge 6 cm, 0.1 kg.
    Cube,
    /// A capsule 13 cm long and 2 cm thick, 0.03 kg, lying on the palm.
    Pen,
}

impl Object {
    /// The grasp pose, per finger `[abduction, proximal, distal]`, rad: the
    /// joint targets of a zero action. The fingers reach the object from
    /// above (a tip cannot get below 7 cm at the cube's rim), so the
    /// fingertips rest on its top: over the cube 2.3 cm from the centre and
    /// 2 mm into its top face, over the pen 0.6 cm from the centre and 4 mm
    /// into it, so the PD targets press lightly (forward kinematics in
    /// `docs/notes/hand.md`).
    #[must_use]
    pub const fn grasp_pose(self) -> [f32; 3] {
        match self {
            Self::Cube => [0.0, 0.35, 1.15],
            Self::Pen => [0.0, 0.94, 1.2],
        }
    }

    /// The PD targets an action sets, per finger `[abduction, proximal,
    /// distal]`, rad: the grasp pose + [`ACTION_SCALE`] × action, clamped to
    /// the joint ranges.
    #[must_use]
    pub fn joint_targets(self, action: &[f32; 9]) -> [f32; 9] {
        let pose = self.grasp_pose();
        std::array::from_fn(|j| {
            let [lo, hi] = RANGES[j % 3];
            (pose[j % 3] + ACTION_SCALE * action[j]).clamp(lo, hi)
        })
    }

    /// The object lying on the palm turned `yaw` about z and shifted `shift`
    /// from the centre: its centre and orientation.
    fn resting(self, yaw: f32, shift: Vector) -> (Vector, Rotation) {
        let turn = Rotation::from_axis_angle(Vector::Z, yaw);
        match self {
            Self::Cube => (Vector::new(0.0, 0.0, CUBE_HALF + 0.002) + shift, turn),
            Self::Pen => (
                Vector::new(0.0, 0.0, PEN_RADIUS + 0.002) + shift,
                turn * Rotation::from_axis_angle(Vector::Y, std::f32::consts::FRAC_PI_2),
            ),
        }
    }
}

/// How the physics advances one env step of 0.05 s. [`Default`] is the setting
/// chosen from the measurements in the module docs; the others are there to
/// repeat them (`examples/step_hand.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stepping {
    /// Physics steps per env step (at least 1), each of 0.05 s / `substeps`.
    pub substeps: usize,
    /// Solver iterations per physics step (rapier integrates positions and
    /// rebuilds the multibody mass matrices after each one).
    pub solver_iterations: usize,
    /// Projected Gauss–Seidel sweeps per solver iteration.
    pub pgs_iterations: usize,
    /// Whether friction is also solved in rapier's position-correction pass.
    pub friction_in_bias_pass: bool,
}

impl Default for Stepping {
    /// 2 × 0.025 s with 2 solver iterations: every cheaper setting measured
    /// (module docs) drops the object more often or lets contacts sink deeper.
    fn default() -> Self {
        Self {
            substeps: 2,
            solver_iterations: 2,
            pgs_iterations: 1,
            friction_in_bias_pass: false,
        }
    }
}

impl Stepping {
    /// A world stepped this way.
    pub(crate) fn world(self) -> PhysicsWorld {
        let mut world = new_world(STEP / self.substeps as f32, self.solver_iterations);
        world.integration_parameters.num_internal_pgs_iterations = self.pgs_iterations;
        world.integration_parameters.friction_in_bias_pass = self.friction_in_bias_pass;
        world
    }
}

/// One finger: the fixed body it is rooted at, its three bodies and joints, and
/// the joint axes in parent frames.
struct Finger {
    base: RigidBodyHandle,
    bodies: [RigidBodyHandle; 3],
    joints: [MultibodyJointHandle; 3],
    axes: [Vector; 3],
    tip: ColliderHandle,
}

/// The three fingers standing at the palm's rim, shared by the hand and the
/// valve: building them into a world, driving them and reading them back.
pub(crate) struct Fingers([Finger; 3]);

impl Fingers {
    /// Builds the three fingers into `world`, straight up, with their PD
    /// targets at the middle of each joint range.
    pub(crate) fn build(world: &mut PhysicsWorld) -> Self {
        Self(FINGER_ANGLES.map(|angle| build_finger(world, angle)))
    }

    /// Sets each joint's PD target from an action in [-1, 1] (mapped linearly
    /// onto the joint's range).
    pub(crate) fn drive(&self, world: &mut PhysicsWorld, action: &[f32; 9]) {
        for (f, finger) in self.0.iter().enumerate() {
            for (k, [lo, hi]) in RANGES.iter().copied().enumerate() {
                let target = lo + 0.5 * (action[3 * f + k] + 1.0) * (hi - lo);
                set_motor_target(world, finger.joints[k], JointAxis::AngX, target, KP, KD);
            }
        }
    }

    /// Sets each joint's PD target, rad, per finger `[abduction, proximal, distal]`.
    pub(crate) fn set_targets(&self, world: &mut PhysicsWorld, targets: &[f32; 9]) {
        for (f, finger) in self.0.iter().enumerate() {
            for (k, &joint) in finger.joints.iter().enumerate() {
                set_motor_target(world, joint, JointAxis::AngX, targets[3 * f + k], KP, KD);
            }
        }
    }

    /// Bends freshly built fingers (straight and still) to `angles`, rad, per
    /// finger `[abduction, proximal, distal]`: sets the joint coordinates and
    /// moves the links' bodies, and with them their colliders, there.
    pub(crate) fn bend(&self, world: &mut PhysicsWorld, angles: &[f32; 9]) {
        for (f, finger) in self.0.iter().enumerate() {
            for (k, &joint) in finger.joints.iter().enumerate() {
                if let Some((multibody, link)) = world.multibody_joints.get_mut(joint)
                    && let Some(link) = multibody.link_mut(link)
                {
                    link.joint.apply_displacement(&[angles[3 * f + k]]);
                }
            }
            let Some((multibody, _)) = world.multibody_joints.get_mut(finger.joints[0]) else {
                continue;
            };
            multibody.forward_kinematics(&world.bodies, false);
            let poses: Vec<_> = multibody
                .links()
                .filter(|link| !link.is_root())
                .map(|link| (link.rigid_body_handle(), *link.local_to_world()))
                .collect();
            for (body, pose) in poses {
                world.bodies[body].set_position(pose, false);
            }
        }
    }

    /// How many fingertip balls touch `object` (an active contact).
    pub(crate) fn touching(&self, world: &PhysicsWorld, object: ColliderHandle) -> usize {
        self.0
            .iter()
            .filter(|finger| {
                world
                    .narrow_phase
                    .contact_pair(finger.tip, object)
                    .is_some_and(|pair| pair.has_any_active_contact())
            })
            .count()
    }

    /// Angle and rate of finger `f`'s joint `k`.
    pub(crate) fn joint(&self, world: &PhysicsWorld, f: usize, k: usize) -> (f32, f32) {
        let finger = &self.0[f];
        let parent = if k == 0 {
            finger.base
        } else {
            finger.bodies[k - 1]
        };
        joint_angle_rate(
            &world.bodies[parent],
            &world.bodies[finger.bodies[k]],
            finger.axes[k],
        )
    }

    /// The centre of finger `f`'s fingertip ball.
    pub(crate) fn tip(&self, world: &PhysicsWorld, f: usize) -> Vector {
        world.bodies[self.0[f].bodies[2]].position() * Vector::new(0.0, 0.0, LINKS[2])
    }
}

/// Inserts the fixed palm plate (top at z = 0) touching what `touches` says.
pub(crate) fn insert_palm(world: &mut PhysicsWorld, touches: InteractionGroups) {
    let palm = world.insert_body(RigidBodyBuilder::fixed());
    world.insert_collider(
        ColliderBuilder::cuboid(PALM_HALF, PALM_HALF, 0.01)
            .translation(Vector::new(0.0, 0.0, -0.01))
            .friction(1.0)
            .collision_groups(touches)
            .user_data(color([200, 170, 150])),
        Some(palm),
    );
}

/// Builds one finger at `angle` about z on the palm's rim.
fn build_finger(world: &mut PhysicsWorld, angle: f32) -> Finger {
    let radial = Vector::new(angle.cos(), angle.sin(), 0.0);
    let tangent = Vector::new(-angle.sin(), angle.cos(), 0.0);
    // Rotations about −radial sweep the finger counter-clockwise; about
    // −tangent they tilt it towards the centre.
    let axes = [-radial, -tangent, -tangent];
    // Each finger hangs from a fixed body of its own, placed like the palm:
    // fingers rooted at the palm itself would form one multibody of 9 degrees
    // of freedom, dearer to step than three of 3, with the palm as a link whose
    // contacts take rapier's softer multibody path (docs/notes/hand.md).
    let base = world.insert_body(RigidBodyBuilder::fixed());
    let mut parent = base;
    let mut anchor = radial * FINGER_RADIUS;
    let mut at = anchor;
    let mut bodies = [RigidBodyHandle::invalid(); 3];
    let mut joints = [MultibodyJointHandle::invalid(); 3];
    let mut tip = ColliderHandle::invalid();
    for k in 0..3 {
        let body = world.insert_body(RigidBodyBuilder::dynamic().can_sleep(false).translation(at));
        let top = Vector::new(0.0, 0.0, LINKS[k]);
        let link_groups = if k == 0 {
            InteractionGroups::none()
        } else {
            groups(ROBOT, OBJECT)
        };
        world.insert_collider(
            ColliderBuilder::capsule_from_endpoints(Vector::ZERO, top, LINK_RADIUS)
                .density(LINK_DENSITY)
                .friction(1.0)
                .collision_groups(link_groups)
                .user_data(color([230, 120, 40])),
            Some(body),
        );
        if k == 2 {
            tip = world.insert_collider(
                ColliderBuilder::ball(TIP_RADIUS)
                    .translation(top)
                    .density(LINK_DENSITY)
                    .friction(1.0)
                    .collision_groups(groups(ROBOT, OBJECT))
                    .user_data(color([40, 160, 230])),
                Some(body),
            );
        }
        let [lo, hi] = RANGES[k];
        let joint = RevoluteJointBuilder::new(axes[k])
            .local_anchor1(anchor)
            .local_anchor2(Vector::ZERO)
            .motor_model(MotorModel::ForceBased)
            .motor_position(0.5 * (lo + hi), KP, KD)
            .motor_max_force(MAX_TORQUE)
            .limits([lo, hi]);
        joints[k] = world
            .insert_multibody_joint(parent, body, joint)
            .expect("a finger is a chain without cycles");
        bodies[k] = body;
        parent = body;
        anchor = top;
        at += top;
    }
    Finger {
        base,
        bodies,
        joints,
        axes,
        tip,
    }
}

/// Inserts `kind` into `world` with its centre at `position`, turned by `rotation`.
fn insert_object(
    world: &mut PhysicsWorld,
    kind: Object,
    position: Vector,
    rotation: Rotation,
) -> RigidBodyHandle {
    let object = world.insert_body(
        RigidBodyBuilder::dynamic()
            .can_sleep(false)
            .angular_damping(OBJECT_ANGULAR_DAMPING)
            .translation(position)
            .rotation(rotation.to_scaled_axis()),
    );
    let shape = match kind {
        Object::Cube => ColliderBuilder::cuboid(CUBE_HALF, CUBE_HALF, CUBE_HALF).mass(0.1),
        // A solid 2 cm rod has so little inertia about its axis (1.5e-6
        // kg·m²) that palm contacts spin it up by themselves; the pen is
        // modelled as a heavier-walled tube, as real pens are.
        Object::Pen => ColliderBuilder::capsule_z(PEN_HALF_LENGTH, PEN_RADIUS).mass_properties(
            MassProperties::new(
                Vector::ZERO,
                0.03,
                Vector::new(PEN_INERTIA[0], PEN_INERTIA[0], PEN_INERTIA[1]),
            ),
        ),
    };
    world.insert_collider(
        shape
            .friction(1.0)
            .collision_groups(groups(OBJECT, SCENERY | ROBOT))
            .user_data(color([220, 60, 60])),
        Some(object),
    );
    object
}

/// A world with the palm, the fingers bent to `joints` (rad, per finger
/// `[abduction, proximal, distal]`) and `kind` at `position`, turned by
/// `rotation`, all at rest.
fn assemble(
    kind: Object,
    stepping: Stepping,
    joints: &[f32; 9],
    position: Vector,
    rotation: Rotation,
) -> (PhysicsWorld, Fingers, RigidBodyHandle) {
    let mut world = stepping.world();
    insert_palm(&mut world, groups(SCENERY, OBJECT));
    let fingers = Fingers::build(&mut world);
    let object = insert_object(&mut world, kind, position, rotation);
    fingers.bend(&mut world, joints);
    (world, fingers, object)
}

/// Whether an object centred at `p` is dropped: off the cylinder of radius
/// [`DROP_RADIUS`] over the palm, or below the palm's top.
fn is_dropped(p: Vector) -> bool {
    p.x.hypot(p.y) > DROP_RADIUS || p.z < 0.0
}

/// The linear and angular velocity of a body that moved from pose `from` to
/// pose `to` in one env step.
fn motion(from: (Vector, Rotation), to: (Vector, Rotation)) -> (Vector, Vector) {
    let (p0, q0) = from;
    let (p, q) = to;
    let mut turn = q * q0.inverse();
    if turn.w < 0.0 {
        turn = -turn;
    }
    let (axis, angle) = turn.to_axis_angle();
    ((p - p0) / STEP, axis * (angle / STEP))
}

/// A body's position and orientation.
fn pose_of(body: &RigidBody) -> (Vector, Rotation) {
    (body.translation(), *body.rotation())
}

/// The hand, its palm and the object.
pub struct Hand {
    spec: Arc<EnvSpec>,
    fields: &'static Fields,
    world: PhysicsWorld,
    fingers: Fingers,
    object: RigidBodyHandle,
    kind: Object,
    stepping: Stepping,
    target: Rotation,
    action: [f32; 9],
    /// The object's pose at the start of the last env step, for its velocities.
    last_pose: (Vector, Rotation),
}

/// The handles of the reward-state fields, in declaration order.
#[derive(Clone, Copy, Debug)]
struct Fields {
    object_pos: VectorHandle<3>,
    object_quat: VectorHandle<4>,
    object_linvel: VectorHandle<3>,
    object_angvel: VectorHandle<3>,
    object_axis: VectorHandle<3>,
    axis_spin: ScalarHandle,
    target_quat: VectorHandle<4>,
    orient_error: ScalarHandle,
    fingertip_pos: VectorHandle<9>,
    tip_to_object: VectorHandle<3>,
    joint_pos: VectorHandle<9>,
    joint_vel: VectorHandle<9>,
    action: VectorHandle<9>,
    dropped: ScalarHandle,
    aligned: ScalarHandle,
}

/// The hand's fixed facts, built once.
pub fn spec() -> Arc<EnvSpec> {
    declared().0.clone()
}

/// The hand's fixed facts and the handles of its reward-state fields, built once.
// One line per field reads as a table; rustfmt would split each into six lines.
#[rustfmt::skip]
fn declared() -> &'static (Arc<EnvSpec>, Fields) {
    static DECLARED: OnceLock<(Arc<EnvSpec>, Fields)> = OnceLock::new();
    DECLARED.get_or_init(|| {
        let mut s = StateSpec::builder();
        let fields = Fields {
            object_pos: s.add_vec3("object_pos", "m", "world", "position of the object's centre; the palm's top is z = 0 and its centre the origin"),
            object_quat: s.add_vector("object_quat", "1", "world", "object orientation as a unit quaternion [w, x, y, z]"),
            object_linvel: s.add_vec3("object_linvel", "m/s", "world", "linear velocity of the object's centre, averaged over the last step (its displacement / 0.05 s)"),
            object_angvel: s.add_vec3("object_angvel", "rad/s", "world", "angular velocity of the object averaged over the last step (its change of orientation / 0.05 s); [2] is the spin about the vertical (counter-clockwise seen from above positive)"),
            object_axis: s.add_vec3("object_axis", "1", "world", "the object's own z axis as a unit vector: the pen's long axis, a face normal of the cube"),
            axis_spin: s.add_scalar("axis_spin", "rad/s", "object", "angular velocity of the object about object_axis, averaged over the last step like object_angvel (rolling of the pen about its long axis)"),
            target_quat: s.add_vector("target_quat", "1", "world", "the orientation the object should reach (hand-reorient), a unit quaternion [w, x, y, z], fixed for the episode"),
            orient_error: s.add_scalar("orient_error", "rad", "world", "angle of the rotation between object_quat and target_quat, in [0, pi]"),
            fingertip_pos: s.add_vector("fingertip_pos", "m", "world", "fingertip ball centres (radius 0.012 m), 3 × [x, y, z] in finger order (bases at 90°, 210°, 330° about z)"),
            tip_to_object: s.add_vec3("tip_to_object", "m", "world", "distance from each fingertip centre to the object's centre, in finger order"),
            joint_pos: s.add_vector("joint_pos", "rad", "joint", "joint angles from the straight finger, per finger [abduction, proximal flexion, distal flexion]; positive abduction sweeps counter-clockwise, positive flexion curls towards the palm centre"),
            joint_vel: s.add_vector("joint_vel", "rad/s", "joint", "joint angular rates, same order as joint_pos"),
            action: s.add_vector("action", "1", "actuator", "the action applied this step, in [-1, 1], same order as joint_pos; each joint's target angle is the grasp pose + 0.5 rad × action, clamped to its range, so 0 holds the grasp"),
            dropped: s.add_scalar("dropped", "1", "world", "1 when the object's centre left the cylinder of radius 0.09 m above the palm or fell below the palm's top (the episode ends), else 0"),
            aligned: s.add_scalar("aligned", "1", "world", "1 when orient_error < 0.4 rad, else 0"),
        };
        s.goal_of(&["hand-reorient"], &["target_quat", "orient_error", "aligned"]);
        let state = s.build();
        let [cube, pen] = [Object::Cube, Object::Pen].map(|object| {
            let [abduction, proximal, distal] = object.grasp_pose();
            format!("[{abduction}, {proximal}, {distal}]")
        });
        let spec = Arc::new(EnvSpec {
            name: "hand".to_string(),
            description: format!("A fixed robot hand, palm up, z up, gravity -9.81 m/s². The palm is a \
                square plate 0.14 m across whose top is the plane z = 0, centred on the origin. \
                Three fingers stand at its rim, 0.08 m from the centre, at 90°, 210° and 330° \
                about z. World frame: the origin is the palm's centre, +z is up (away from the \
                palm), and angles about z are counter-clockwise seen from above from +x, so the \
                first finger stands on +y; the hand has no front or left beyond these axes. Each finger has three joints: abduction at the base (sweeps the finger \
                sideways, ±0.6 rad), proximal flexion 0.02 m up (-0.3 to 1.3 rad) and distal \
                flexion 0.05 m further (-0.2 to 1.4 rad); flexion curls the finger over the \
                palm. The distal link is 0.04 m long and ends in a ball fingertip. A free object \
                lies on the palm: a cube (edge 0.06 m, 0.1 kg) or, for pen tasks, a capsule \
                0.13 m long and 0.02 m thick (0.03 kg). Joints are driven by PD controllers \
                towards target angles set around a grasp pose in which the fingertips rest on \
                top of the object (per finger [abduction, proximal, distal]: {cube} rad over \
                the cube, {pen} rad over the pen). Each episode starts from a settled grasp: \
                the object at rest on the palm under at least two fingertips. The episode ends \
                when the object is dropped (its centre leaves the cylinder of radius 0.09 m \
                above the palm or falls below the palm)."),
            obs_dim: obs::DIM,
            action_dim: 9,
            action_doc: format!("per finger [abduction, proximal flexion, distal flexion]: \
                each joint's PD target angle is the grasp pose + {ACTION_SCALE} rad × \
                action, clamped to the joint's range; 0 holds the grasp pose (fingertips resting \
                on top of the object: {cube} rad per finger over the cube, {pen} rad over the \
                pen)"),
            dt: (f64::from(STEP) * 1e6).round() / 1e6,
            state,
        });
        (spec, fields)
    })
}

/// The angle of the rotation taking `a` to `b`, rad, in [0, π].
fn rotation_angle(a: Rotation, b: Rotation) -> f32 {
    let rel = a.inverse() * b;
    2.0 * rel.w.abs().min(1.0).acos()
}

impl Hand {
    /// A hand holding `object` (call [`Env::reset`] before use).
    #[must_use]
    pub fn new(object: Object) -> Self {
        Self::with_stepping(object, Stepping::default())
    }

    /// A hand holding `object` whose physics is stepped as `stepping` says (call
    /// [`Env::reset`] before use); its episodes start from the same grasps,
    /// settled with the default stepping.
    #[must_use]
    pub fn with_stepping(object: Object, stepping: Stepping) -> Self {
        let (spec, fields) = declared();
        let mut env = Self {
            spec: spec.clone(),
            fields,
            world: stepping.world(),
            fingers: Fingers::build(&mut stepping.world()),
            object: RigidBodyHandle::invalid(),
            kind: object,
            stepping,
            target: Rotation::IDENTITY,
            action: [0.0; 9],
            last_pose: (Vector::ZERO, Rotation::IDENTITY),
        };
        env.build(&mut SplitMix64::new(0), Vector::ZERO);
        env
    }

    /// Starts an episode with the object pushed `offset` metres from its usual
    /// start, e.g. off the palm to test drop detection.
    pub fn reset_with_offset(&mut self, seed: u64, offset: [f32; 3]) {
        self.build(&mut SplitMix64::new(seed), Vector::from_array(offset));
    }

    /// Starts an episode from grasp `index` of the object's cache ([`grasps`];
    /// taken modulo its length), with the rest of the episode (the
    /// `hand-reorient` target) drawn from `seed`.
    pub fn reset_to_grasp(&mut self, index: usize, seed: u64) {
        let cache = grasps(self.kind);
        let grasp = cache.grasps[index % cache.grasps.len()];
        self.start(&grasp, &mut SplitMix64::new(seed), Vector::ZERO);
    }

    /// How many fingertips touch the object now (an active contact).
    #[must_use]
    pub fn tips_touching(&self) -> usize {
        self.object_body()
            .colliders()
            .first()
            .map_or(0, |&collider| self.fingers.touching(&self.world, collider))
    }

    /// Starts an episode from a grasp drawn from `rng`, the object pushed `offset`.
    fn build(&mut self, rng: &mut SplitMix64, offset: Vector) {
        let cache = grasps(self.kind);
        let n = cache.grasps.len() as u64;
        let grasp = cache.grasps[(rng.next_u64() % n) as usize];
        self.start(&grasp, rng, offset);
    }

    /// Starts an episode from `grasp`, the object pushed `offset`, the target
    /// drawn from `rng`.
    fn start(&mut self, grasp: &Grasp, rng: &mut SplitMix64, offset: Vector) {
        let (position, rotation) = grasp.object_at();
        let (world, fingers, object) = assemble(
            self.kind,
            self.stepping,
            &grasp.joints,
            position + offset,
            rotation,
        );
        // Target: a random yaw, then a tilt of up to 0.5 rad about a random
        // horizontal axis, at least 0.8 rad from the start (so that doing
        // nothing does not succeed); the last draw stands after 16 tries.
        for _ in 0..16 {
            let target_yaw = rng.uniform(-std::f64::consts::PI, std::f64::consts::PI) as f32;
            let tilt_dir = rng.uniform(-std::f64::consts::PI, std::f64::consts::PI) as f32;
            let tilt = rng.uniform(0.0, 0.5) as f32;
            let horizontal = Vector::new(tilt_dir.cos(), tilt_dir.sin(), 0.0);
            self.target = Rotation::from_axis_angle(horizontal, tilt)
                * Rotation::from_axis_angle(Vector::Z, target_yaw);
            if rotation_angle(rotation, self.target) > 0.8 {
                break;
            }
        }
        self.world = world;
        self.fingers = fingers;
        self.object = object;
        self.action = [0.0; 9];
        self.last_pose = self.object_pose();
    }

    fn object_pose(&self) -> (Vector, Rotation) {
        pose_of(self.object_body())
    }

    /// The object's linear and angular velocity averaged over the last env
    /// step, from how its pose changed: rapier's end-of-step velocities are
    /// what the velocity solver left, and penetration correction moves a body
    /// without changing them. A cube jostled between fingertips reported
    /// 4–6 rad/s about z on alternate steps while it only rocked ±0.1 rad, and
    /// a policy trained on that learned to rock it (measured: 1.4 rad/s
    /// "spin", no net turn).
    fn object_motion(&self) -> (Vector, Vector) {
        motion(self.last_pose, self.object_pose())
    }

    /// Which object this hand holds.
    #[must_use]
    pub fn object(&self) -> Object {
        self.kind
    }

    fn object_body(&self) -> &RigidBody {
        &self.world.bodies[self.object]
    }

    /// Angle and rate of finger `f`'s joint `k`.
    fn joint(&self, f: usize, k: usize) -> (f32, f32) {
        self.fingers.joint(&self.world, f, k)
    }

    fn fingertip(&self, f: usize) -> Vector {
        self.fingers.tip(&self.world, f)
    }

    fn dropped(&self) -> bool {
        is_dropped(self.object_body().translation())
    }
}

impl Env for Hand {
    fn spec(&self) -> &Arc<EnvSpec> {
        &self.spec
    }

    fn reset(&mut self, seed: u64) {
        self.build(&mut SplitMix64::new(seed), Vector::ZERO);
    }

    fn step(&mut self, action: &[f32]) -> StepInfo {
        clamp_action(&mut self.action, action);
        let targets = self.kind.joint_targets(&self.action);
        self.fingers.set_targets(&mut self.world, &targets);
        self.last_pose = self.object_pose();
        for _ in 0..self.stepping.substeps {
            self.world.step();
        }
        StepInfo {
            terminated: self.dropped(),
            truncated: false,
        }
    }

    fn observe(&self, obs: &mut [f32]) {
        for f in 0..3 {
            for k in 0..3 {
                let (angle, rate) = self.joint(f, k);
                obs[obs::JOINT_POS.at(3 * f + k)] = angle;
                obs[obs::JOINT_VEL.at(3 * f + k)] = rate;
            }
        }
        let body = self.object_body();
        let p = body.translation();
        let q = *body.rotation();
        obs[obs::POS.range()].copy_from_slice(&p.to_array());
        obs[obs::QUAT.range()].copy_from_slice(&f32_quat(&q));
        let (v, w) = self.object_motion();
        obs[obs::LINVEL.range()].copy_from_slice(&v.to_array());
        obs[obs::ANGVEL.range()].copy_from_slice(&w.to_array());
        let t = self.target;
        obs[obs::TARGET.range()].copy_from_slice(&f32_quat(&t));
        let mut rel = t * q.inverse();
        if rel.w < 0.0 {
            rel = -rel;
        }
        obs[obs::TO_TARGET.range()].copy_from_slice(&f32_quat(&rel));
        for f in 0..3 {
            let tip = obs::TIPS.at(3 * f);
            obs[tip..tip + 3].copy_from_slice(&(self.fingertip(f) - p).to_array());
        }
    }

    fn reward_state(&self, out: &mut [f64]) {
        let fields = self.fields;
        let mut w = StateWriter::new(&self.spec.state, out);
        let body = self.object_body();
        let p = body.translation();
        let q = *body.rotation();
        w.set(fields.object_pos, f64x3(p));
        w.set(fields.object_quat, f64_quat(&q));
        let (linvel, angvel) = self.object_motion();
        w.set(fields.object_linvel, f64x3(linvel));
        w.set(fields.object_angvel, f64x3(angvel));
        let axis = q * Vector::Z;
        w.set(fields.object_axis, f64x3(axis));
        w.set(fields.axis_spin, f64::from(angvel.dot(axis)));
        w.set(fields.target_quat, f64_quat(&self.target));
        let error = f64::from(rotation_angle(q, self.target));
        w.set(fields.orient_error, error);
        let (mut tips, mut tip_to_object) = ([0.0; 9], [0.0; 3]);
        for f in 0..3 {
            let tip = self.fingertip(f);
            tips[3 * f..3 * f + 3].copy_from_slice(&f64x3(tip));
            tip_to_object[f] = f64::from((tip - p).length());
        }
        w.set(fields.fingertip_pos, tips);
        w.set(fields.tip_to_object, tip_to_object);
        let (mut joint_pos, mut joint_vel) = ([0.0; 9], [0.0; 9]);
        for f in 0..3 {
            for k in 0..3 {
                let (angle, rate) = self.joint(f, k);
                joint_pos[3 * f + k] = f64::from(angle);
                joint_vel[3 * f + k] = f64::from(rate);
            }
        }
        w.set(fields.joint_pos, joint_pos);
        w.set(fields.joint_vel, joint_vel);
        w.set(fields.action, widen(&self.action));
        w.set(fields.dropped, flag(self.dropped()));
        w.set(fields.aligned, flag(error < ALIGN_TOLERANCE));
    }

    fn scene(&self, out: &mut Vec<Primitive>) {
        scene_of(&self.world, out);
        // The target orientation as a small ghost of the object beside the palm.
        let t = self.target;
        let shape = match self.kind {
            Object::Cube => Shape::Cuboid {
                half_extents: [0.015; 3],
            },
            Object::Pen => Shape::Capsule {
                half_height: 0.0275,
                radius: 0.005,
            },
        };
        out.push(Primitive {
            shape,
            position: [0.15, 0.0, 0.05],
            rotation: f64_quat(&t),
            color: [40, 200, 80],
            marks: Some("target_quat"),
        });
    }
}
