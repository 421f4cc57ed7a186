//! `arm`: a 4-joint arm with a parallel gripper over a table, a free cube, a
//! reach target and a goal marker.
//!
//! The arm stands on a fixed column at the origin: a turret turns about the
//! vertical (yaw), then three pitch joints (shoulder, elbow, wrist) carry an upper
//! arm (0.3 m), a forearm (0.3 m) and a hand. Forward is +x, left +y, up +z.
//! The table is a finite slab whose top is z = 0, x −0.2 to 0.8 m and y ±0.6 m
//! ([`TABLE_CENTRE`], [`TABLE_HALF`]), with a floor 0.75 m below it; the cube
//! (5 cm, 0.1 kg) rests on it, and falls to the floor past an edge. Every
//! episode draws a new fingertip target (in the air), cube position and cube
//! goal (on the table) from its seed.
//!
//! **Gripper.** Two flat fingers hang from the hand's palm on prismatic joints
//! that slide along the hand's y axis, which stays horizontal and across the
//! arm's vertical plane; a PD motor capped at 5 N drives each finger to the
//! target opening (0 to 9 cm between the pads). The **fingertip** of the reward
//! state is the grasp centre: the point midway between the pads, 0.12 m below
//! the wrist, where the centre of a gripped cube sits. A finger **touches** the
//! cube when the solver pushed them apart during the last step.
//!
//! **Actuation — fingertip targets.** The arm drives its fingertip to a target
//! point, the *command*, in a box over the table (x 0.1–0.7 m, y ±0.55 m,
//! z 0–0.4 m); each episode it starts at the fingertip's home position. The
//! first three action values set it in one of two ways ([`Actuation`]): as its
//! place in the box ([`Actuation::Point`], arm-reach), or as a move of up to
//! [`TIP_STEP`] (3 cm) along each world axis from where it was
//! ([`Actuation::Steps`], arm-push and arm-lift; a zero action keeps it). The
//! fourth sets the gripper's target opening. The arm's [`inverse_kinematics`] turns the
//! command into joint angles (the hand pointing straight down wherever the joint ranges
//! allow); rapier's implicit joint motors drive each joint to its angle (PD,
//! capped torque). The joints are reduced-coordinate multibody joints rooted at
//! the fixed column, the fingers links of the same multibody. The arm's links and
//! fingers are gravity-compensated (gravity scale 0); the cube falls as usual.
//!
//! **Step.** One env step is 0.04 s: one physics step of 0.04 s with 2 solver
//! iterations and friction in the position-correction pass (without it a
//! squeezed cube slips out of the grip). Why these settings, the measurements
//! behind them and the design history are in `docs/notes/arm.md`.

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

/// Physics substep, seconds.
const SUBSTEP: f32 = 0.04;
/// Substeps per env step.
const FRAME_SKIP: usize = 1;
/// Velocity-solver iterations per substep.
const SOLVER_ITERATIONS: usize = 2;
/// Height of the shoulder above the table, m.
const SHOULDER_HEIGHT: f32 = 0.15;
/// Upper arm length, m.
const UPPER: f32 = 0.3;
/// Forearm length, m.
const FORE: f32 = 0.3;
/// Wrist to grasp centre (the fingertip point), m.
const PUSHER: f32 = 0.12;
/// Link capsule radius, m.
const LINK_RADIUS: f32 = 0.025;
/// Wrist to the underside of the palm, m.
const PALM_DEPTH: f32 = 0.065;
/// Finger length below the palm, m.
const FINGER_LENGTH: f32 = 0.07;
/// Half a finger's width (along the hand's x) and thickness (along its y), m.
const FINGER_HALF: [f32; 2] = [0.02, 0.005];
/// Largest distance of each finger's pad from the hand's centre plane, m: the
/// gripper opens to twice this.
const FINGER_TRAVEL: f32 = 0.045;
/// Finger PD stiffness, N/m.
const FINGER_KP: f32 = 400.0;
/// Finger PD damping, N·s/m: closing slowly (time constant kd / kp = 0.125 s)
/// keeps the pads from crushing the cube into the table at this time step.
const FINGER_KD: f32 = 50.0;
/// Force cap of each finger's motor, N: about 9 times what friction needs to
/// hold the cube (0.98 N / (2 · 0.85)).
const FINGER_FORCE: f32 = 5.0;
/// Friction coefficient of the finger pads.
const PAD_FRICTION: f32 = 1.2;
/// Contact impulse between a finger pad and the cube over the last step above
/// which the finger touches the cube, N·s (0.025 N over 0.04 s).
const TOUCH_IMPULSE: f32 = 1e-3;
/// Half the cube's edge, m.
pub const CUBE_HALF: f32 = 0.025;
/// Cube mass, kg.
const CUBE_MASS: f32 = 0.1;
/// Density of the arm's links, kg/m³.
const LINK_DENSITY: f32 = 1000.0;
/// Joint ranges about the home pose, rad: yaw, shoulder, elbow, wrist.
pub const RANGES: [f32; 4] = [1.5, 1.0, 1.3, 1.3];
/// PD stiffness, N·m/rad.
const KP: f32 = 150.0;
/// PD damping, N·m·s/rad.
const KD: f32 = 30.0;
/// Torque cap per joint, N·m.
const MAX_TORQUE: f32 = 15.0;
/// Fingertip-to-target distance that counts as reached, m.
pub const REACH_TOLERANCE: f64 = 0.03;
/// Cube-to-goal distance (in the table plane) that counts as delivered, m.
pub const PUSH_TOLERANCE: f64 = 0.05;
/// Height of the cube's centre above the table that counts as lifted, m (the
/// cube rests at 0.025).
pub const LIFT_HEIGHT: f64 = 0.1;
/// Centre of the table top in the table plane, m, world frame (the top is z = 0).
pub const TABLE_CENTRE: [f32; 2] = [0.3, 0.0];
/// Half the table top's extent along x and y, m: x −0.2 to 0.8, y −0.6 to 0.6.
/// Every cube, goal and fingertip-target draw lies at least 0.2 m inside it.
pub const TABLE_HALF: [f32; 2] = [0.5, 0.6];
/// Thickness of the table top, m: much more than the 2.5 cm a finger can sink
/// into it (`docs/notes/arm.md`), so that contacts always push up, as they did
/// from the endless plane the table was before it had edges.
const TABLE_THICKNESS: f32 = 0.1;
/// Depth of the floor below the table top, m.
const FLOOR_DEPTH: f32 = 0.75;

/// Signed distance from `p` to the nearest edge of the table top in the table
/// plane, m: positive over the table, negative beyond an edge.
#[must_use]
pub fn to_table_edge(p: Vector) -> f32 {
    let dx = TABLE_HALF[0] - (p.x - TABLE_CENTRE[0]).abs();
    let dy = TABLE_HALF[1] - (p.y - TABLE_CENTRE[1]).abs();
    dx.min(dy)
}

/// The observation, part by part.
mod obs {
    use rewardsmith_core::ObsSpan;
    /// Joint angles `[yaw, shoulder, elbow, wrist]`.
    pub const JOINT_POS: ObsSpan = ObsSpan::first(4);
    /// Joint rates, same order.
    pub const JOINT_VEL: ObsSpan = JOINT_POS.then(4);
    /// Fingertip position.
    pub const TIP: ObsSpan = JOINT_VEL.then(3);
    /// Reach target.
    pub const TARGET: ObsSpan = TIP.then(3);
    /// Target − fingertip.
    pub const TIP_TO_TARGET: ObsSpan = TARGET.then(3);
    /// Cube position.
    pub const CUBE: ObsSpan = TIP_TO_TARGET.then(3);
    /// Cube quaternion `[w, x, y, z]`.
    pub const CUBE_QUAT: ObsSpan = CUBE.then(4);
    /// Cube linear velocity.
    pub const CUBE_VEL: ObsSpan = CUBE_QUAT.then(3);
    /// Push goal.
    pub const GOAL: ObsSpan = CUBE_VEL.then(3);
    /// Cube − fingertip.
    pub const TIP_TO_CUBE: ObsSpan = GOAL.then(3);
    /// Goal − cube.
    pub const CUBE_TO_GOAL: ObsSpan = TIP_TO_CUBE.then(3);
    /// Gripper opening.
    pub const OPENING: ObsSpan = CUBE_TO_GOAL.then(1);
    /// Gripper opening rate.
    pub const OPENING_RATE: ObsSpan = OPENING.then(1);
    /// Finger contacts `[+y, -y]`.
    pub const CONTACT: ObsSpan = OPENING_RATE.then(2);
    /// Pushing spot − fingertip (see [`push_spot`](super::push_spot)).
    pub const TIP_TO_PUSH_SPOT: ObsSpan = CONTACT.then(3);
    /// Observation length under [`Actuation::Point`](super::Actuation::Point).
    pub const POINT_DIM: usize = TIP_TO_PUSH_SPOT.end();
    /// Fingertip target (the command) − fingertip, under
    /// [`Actuation::Steps`](super::Actuation::Steps) only.
    pub const TIP_TO_COMMAND: ObsSpan = TIP_TO_PUSH_SPOT.then(3);
    /// Observation length under [`Actuation::Steps`](super::Actuation::Steps).
    pub const DIM: usize = TIP_TO_COMMAND.end();
}
/// Action length: the fingertip target's place or step (x, y, z), and the gripper.
const ACTION_DIM: usize = 4;
/// Centre of the box the fingertip-target actions span, m, world frame.
pub const TIP_BOX_CENTRE: [f32; 3] = [0.4, 0.0, 0.2];
/// Half-extent of that box per axis, m: x 0.1–0.7, y ±0.55, z 0–0.4.
pub const TIP_BOX_HALF: [f32; 3] = [0.3, 0.55, 0.2];
/// Closest the wrist comes to the shoulder, m (the elbow folds no tighter).
const MIN_WRIST_REACH: f64 = 0.1;

/// Home-pose elevation of the upper arm above the horizontal, rad.
const UPPER_RISE: f32 = 50.0 * std::f32::consts::PI / 180.0;
/// Home-pose fall of the forearm below the horizontal, rad.
const FORE_FALL: f32 = 30.0 * std::f32::consts::PI / 180.0;

/// Where the fingertip (grasp centre) would be, m, world frame, for joint angles
/// `q` (yaw, shoulder, elbow, wrist; relative to the home pose) on a rigid arm:
/// the kinematic model the physics follows up to joint compliance.
/// The hand points straight down when `q[1] + q[2] + q[3] = 0`.
#[must_use]
pub fn forward_kinematics(q: [f64; 4]) -> [f64; 3] {
    let (up, down) = (f64::from(UPPER_RISE), f64::from(FORE_FALL));
    let (l1, l2, l3) = (f64::from(UPPER), f64::from(FORE), f64::from(PUSHER));
    let segments = [
        (l1 * up.cos(), l1 * up.sin(), q[1]),
        (l2 * down.cos(), -l2 * down.sin(), q[1] + q[2]),
        (0.0, -l3, q[1] + q[2] + q[3]),
    ];
    let (mut x, mut z) = (0.0, f64::from(SHOULDER_HEIGHT));
    for (sx, sz, pitch) in segments {
        // A rotation by `pitch` about +y maps (x, z) to (x cos + z sin, −x sin + z cos).
        x += sx * pitch.cos() + sz * pitch.sin();
        z += -sx * pitch.sin() + sz * pitch.cos();
    }
    [x * q[0].cos(), x * q[0].sin(), z]
}

/// Joint angles (yaw, shoulder, elbow, wrist) that put the fingertip at `tip`
/// on the kinematic model of [`forward_kinematics`], elbow up, with the hand
/// pointing straight down wherever the joint ranges allow it (see the module
/// docs) and otherwise tilted outwards as little as they allow. A point out of
/// reach is replaced by the nearest reachable one on the line from the shoulder
/// to its wrist point, and every angle is clamped to its joint's range.
#[must_use]
pub fn inverse_kinematics(tip: [f64; 3]) -> [f64; 4] {
    let yaw = tip[1].atan2(tip[0]);
    let (reach, height) = (tip[0].hypot(tip[1]), tip[2]);
    let solve = |tilt: f64| planar_ik(reach, height, tilt);
    let mut q = solve(0.0);
    if !within_ranges(&q) {
        // The smallest outward tilt that fits the ranges: a coarse scan, then
        // bisection, so that the angles move continuously with the target.
        const MAX_TILT: f64 = 1.3;
        const SCAN: u32 = 26;
        let tilt = |k: u32| MAX_TILT * f64::from(k) / f64::from(SCAN);
        if let Some(k) = (1..=SCAN).find(|&k| within_ranges(&solve(tilt(k)))) {
            let (mut lo, mut hi) = (tilt(k - 1), tilt(k));
            for _ in 0..20 {
                let mid = 0.5 * (lo + hi);
                if within_ranges(&solve(mid)) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            q = solve(hi);
        }
    }
    q[0] = yaw;
    std::array::from_fn(|j| {
        let r = f64::from(RANGES[j]);
        q[j].clamp(-r, r)
    })
}

/// Whether every pitch angle of `q` lies within its joint's range.
fn within_ranges(q: &[f64; 4]) -> bool {
    (1..4).all(|j| q[j].abs() <= f64::from(RANGES[j]))
}

/// Pitch angles (shoulder, elbow, wrist; `q[0]` is 0) that put the fingertip
/// `reach` m from the column and `height` m above the table with the hand
/// tilted `tilt` rad outwards from straight down, elbow up.
fn planar_ik(reach: f64, height: f64, tilt: f64) -> [f64; 4] {
    let (l1, l2, l3) = (f64::from(UPPER), f64::from(FORE), f64::from(PUSHER));
    // The wrist relative to the shoulder, in the arm's vertical plane.
    let (out, rise) = (
        reach - l3 * tilt.sin(),
        height + l3 * tilt.cos() - f64::from(SHOULDER_HEIGHT),
    );
    let d = out
        .hypot(rise)
        .clamp(MIN_WRIST_REACH, (l1 + l2) * (1.0 - 1e-6));
    let aim = rise.atan2(out);
    let at_shoulder = ((l1 * l1 + d * d - l2 * l2) / (2.0 * l1 * d))
        .clamp(-1.0, 1.0)
        .acos();
    let at_wrist = ((l2 * l2 + d * d - l1 * l1) / (2.0 * l2 * d))
        .clamp(-1.0, 1.0)
        .acos();
    // Elevations of the upper arm and forearm above the horizontal.
    let (upper, fore) = (aim + at_shoulder, aim - at_wrist);
    let q1 = f64::from(UPPER_RISE) - upper;
    let q12 = -f64::from(FORE_FALL) - fore;
    [0.0, q1, q12 - q1, -tilt - q12]
}

/// The fingertip target of an action's first three values under
/// [`Actuation::Point`], m, world frame.
#[must_use]
pub fn tip_target(action: &[f32]) -> [f64; 3] {
    std::array::from_fn(|k| f64::from(TIP_BOX_CENTRE[k] + TIP_BOX_HALF[k] * action[k]))
}

/// The first three action values that aim the fingertip at `target` (m, world
/// frame) under [`Actuation::Point`], clamped to the box: the inverse of
/// [`tip_target`].
#[must_use]
pub fn tip_action(target: [f64; 3]) -> [f32; 3] {
    std::array::from_fn(|k| {
        let (centre, half) = (f64::from(TIP_BOX_CENTRE[k]), f64::from(TIP_BOX_HALF[k]));
        ((target[k] - centre) / half).clamp(-1.0, 1.0) as f32
    })
}

/// How the first three action values set the fingertip target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actuation {
    /// Each action names the target's place in the box ([`tip_target`]): the
    /// whole box is one action away, and a Gaussian policy's exploration noise
    /// moves the target by 10–30 cm.
    Point,
    /// Each action moves the target by up to [`TIP_STEP`] per axis from where
    /// it was ([`step_command`]), as delta end-effector control does: the
    /// exploration noise moves it by a few centimetres, and a zero action holds
    /// still. The observation gains the target relative to the fingertip.
    Steps,
}

/// Largest move of the fingertip target (the command) per step and axis under
/// [`Actuation::Steps`], m:
/// an action value of ±1 moves it this far along that world axis.
pub const TIP_STEP: f32 = 0.03;

/// The fingertip target after one action: `command` (m, world frame) moved by
/// [`TIP_STEP`] times each of the action's first three values, clamped to the
/// box the fingertip targets span.
#[must_use]
pub fn step_command(command: [f64; 3], action: &[f32]) -> [f64; 3] {
    std::array::from_fn(|k| {
        let (centre, half) = (f64::from(TIP_BOX_CENTRE[k]), f64::from(TIP_BOX_HALF[k]));
        (command[k] + f64::from(TIP_STEP * action[k])).clamp(centre - half, centre + half)
    })
}

/// The first three action values that move the fingertip target from
/// `command` towards `goal` (both m, world frame): all the way when it is
/// within one step per axis, else one full step along each axis that is
/// further. The inverse of [`step_command`] inside the box.
#[must_use]
pub fn step_towards(command: [f64; 3], goal: [f64; 3]) -> [f32; 3] {
    std::array::from_fn(|k| ((goal[k] - command[k]) / f64::from(TIP_STEP)).clamp(-1.0, 1.0) as f32)
}

/// Distance of the pushing spot behind the cube's centre, m: where the centre
/// of the closed fingers rests against the cube's back face (cube half-edge
/// 0.025 plus half the closed fingers' extent, with a little room).
pub const PUSH_SPOT_BACK: f32 = 0.05;

/// The spot to push the cube from towards `goal`: [`PUSH_SPOT_BACK`] behind
/// the cube's centre on the line from the goal through the cube, at the cube
/// centre's height (the cube's centre itself when it sits on the goal).
#[must_use]
pub fn push_spot(cube: Vector, goal: Vector) -> Vector {
    let to_goal = Vector::new(goal.x - cube.x, goal.y - cube.y, 0.0);
    cube - to_goal.normalize_or_zero() * PUSH_SPOT_BACK
}

/// One actuated link: its body, its joint and the joint's axis in the parent frame.
struct Link {
    parent: RigidBodyHandle,
    body: RigidBodyHandle,
    joint: MultibodyJointHandle,
    axis: Vector,
}

/// One gripper finger: its body, prismatic joint and pad collider, and the side
/// of the hand's centre plane it moves on (+1: the hand's +y, −1: −y).
struct Finger {
    body: RigidBodyHandle,
    joint: MultibodyJointHandle,
    collider: ColliderHandle,
    side: f32,
}

/// What an episode starts from, drawn from the seed.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Layout {
    target: Vector,
    cube: Vector,
    cube_yaw: f32,
    goal: Vector,
}

impl Layout {
    /// Draws a fingertip target in the air in front of the arm, a cube on the
    /// table, and a goal on the table 10–25 cm from the cube.
    fn draw(rng: &mut SplitMix64) -> Self {
        let mut u = |lo: f64, hi: f64| rng.uniform(lo, hi) as f32;
        let polar = |yaw: f32, r: f32, z: f32| Vector::new(r * yaw.cos(), r * yaw.sin(), z);
        let target = polar(u(-1.0, 1.0), u(0.3, 0.6), u(0.05, 0.35));
        let cube = polar(u(-0.6, 0.6), u(0.35, 0.5), CUBE_HALF);
        let cube_yaw = u(-0.8, 0.8);
        let mut goal = cube;
        for _ in 0..32 {
            goal = polar(u(-0.7, 0.7), u(0.3, 0.6), CUBE_HALF);
            let d = (goal - cube).length();
            if (0.1..=0.25).contains(&d) {
                break;
            }
        }
        Self {
            target,
            cube,
            cube_yaw,
            goal,
        }
    }
}

/// The arm, its table, cube, fingertip target and cube goal.
pub struct Arm {
    spec: Arc<EnvSpec>,
    actuation: Actuation,
    fields: &'static Fields,
    world: PhysicsWorld,
    links: Vec<Link>,
    fingers: Vec<Finger>,
    cube: RigidBodyHandle,
    cube_collider: ColliderHandle,
    layout: Layout,
    action: [f32; ACTION_DIM],
    /// The fingertip target the joints are driven to, m, world frame.
    command: [f64; 3],
}

/// The handles of the reward-state fields, in declaration order.
#[derive(Clone, Copy, Debug)]
struct Fields {
    joint_pos: VectorHandle<4>,
    joint_vel: VectorHandle<4>,
    tip_pos: VectorHandle<3>,
    tip_vel: VectorHandle<3>,
    tip_command: VectorHandle<3>,
    target_pos: VectorHandle<3>,
    tip_to_target: ScalarHandle,
    cube_pos: VectorHandle<3>,
    cube_quat: VectorHandle<4>,
    cube_linvel: VectorHandle<3>,
    goal_pos: VectorHandle<3>,
    cube_to_goal: ScalarHandle,
    tip_to_cube: ScalarHandle,
    cube_height: ScalarHandle,
    gripper_opening: ScalarHandle,
    gripper_vel: ScalarHandle,
    finger_contact: VectorHandle<2>,
    grasped: ScalarHandle,
    action: VectorHandle<ACTION_DIM>,
    reached: ScalarHandle,
    cube_at_goal: ScalarHandle,
    lifted: ScalarHandle,
    push_spot: VectorHandle<3>,
    cube_to_edge: ScalarHandle,
    tip_to_edge: ScalarHandle,
}

/// The fixed facts of the arm with `actuation`, built once.
pub fn spec(actuation: Actuation) -> Arc<EnvSpec> {
    declared(actuation).0.clone()
}

/// The fixed facts of the arm with `actuation` and the handles of its
/// reward-state fields, built once per actuation.
fn declared(actuation: Actuation) -> &'static (Arc<EnvSpec>, Fields) {
    static POINT: OnceLock<(Arc<EnvSpec>, Fields)> = OnceLock::new();
    static STEPS: OnceLock<(Arc<EnvSpec>, Fields)> = OnceLock::new();
    match actuation {
        Actuation::Point => POINT.get_or_init(|| declare(actuation)),
        Actuation::Steps => STEPS.get_or_init(|| declare(actuation)),
    }
}

/// Builds the fixed facts of the arm with `actuation`.
// One line per field reads as a table; rustfmt would split each into six lines.
#[rustfmt::skip]
fn declare(actuation: Actuation) -> (Arc<EnvSpec>, Fields) {
    let steps = actuation == Actuation::Steps;
    let action_field = if steps {
        "the action applied this step, in [-1, 1], in order [x, y, z, gripper]: the move of tip_command along world x, y and z (±1: ±0.03 m this step; 0 keeps it), then the gripper's target opening (−1 fully open, 0.09 m; +1 closed)"
    } else {
        "the action applied this step, in [-1, 1], in order [x, y, z, gripper]: the fingertip target's place in the box x 0.1–0.7 m, y ±0.55 m, z 0–0.4 m (−1 and +1 are the box's faces), then the gripper"
    };
    let command_field = if steps {
        "the point the fingertip is being driven to (its target): it starts each episode at the fingertip's home position, and each action moves it by up to 0.03 m along each world axis, within the box x 0.1–0.7 m, y ±0.55 m, z 0–0.4 m; the fingertip follows it within a few steps"
    } else {
        "the point the fingertip is being driven to (its target): the place in the box x 0.1–0.7 m, y ±0.55 m, z 0–0.4 m that the last action named (the fingertip's home position before the first); the fingertip follows it within a few steps"
    };
    let actuation_text = if steps {
        "The arm keeps a target point for the fingertip (tip_command), which starts each \
         episode at the fingertip's home position; each action moves it by up to 0.03 m \
         along each world axis (a zero action keeps it), within the box x 0.1–0.7 m, \
         y ±0.55 m, z 0–0.4 m: inverse kinematics turns it into"
    } else {
        "Each action names a target point for the fingertip: inverse kinematics turns it into"
    };
    let action_doc = if steps {
        "the move of the fingertip target (tip_command) along world x, y and z, ±1 moving it \
         ±0.03 m this step (0 keeps it; it stays within the box x 0.1–0.7 m, y −0.55 to \
         0.55 m, z 0–0.4 m), then the gripper: the arm's joints are driven towards the angles \
         that put the fingertip on the target"
    } else {
        "the fingertip target, as its place in the box x 0.1–0.7 m, y −0.55 to 0.55 m, \
         z 0–0.4 m (world frame; −1 and +1 are the box's faces, 0 its centre (0.4, 0, 0.2)), \
         then the gripper: the arm's joints are driven towards the angles that put the \
         fingertip there"
    };
    {
        let mut s = StateSpec::builder();
        let fields = Fields {
            joint_pos: s.add_vector("joint_pos", "rad", "joint", "joint angles relative to the home pose, in order [yaw, shoulder, elbow, wrist]; positive pitch angles lower the parts beyond the joint; the hand points straight down when shoulder + elbow + wrist = 0"),
            joint_vel: s.add_vector("joint_vel", "rad/s", "joint", "joint angular rates, same order as joint_pos"),
            tip_pos: s.add_vec3("tip_pos", "m", "world", "position of the fingertip: the gripper's grasp centre, midway between the finger pads, 0.12 m below the wrist and 0.015 m above the fingers' ends; z is height above the table"),
            tip_vel: s.add_vec3("tip_vel", "m/s", "world", "linear velocity of the fingertip point"),
            tip_command: s.add_vec3("tip_command", "m", "world", command_field),
            target_pos: s.add_vec3("target_pos", "m", "world", "the point the fingertip should reach (arm-reach), fixed for the episode"),
            tip_to_target: s.add_scalar("tip_to_target", "m", "world", "distance from the fingertip to target_pos"),
            cube_pos: s.add_vec3("cube_pos", "m", "world", "position of the cube's centre (cube edge 0.05 m); z is 0.025 when it rests on the table"),
            cube_quat: s.add_vector("cube_quat", "1", "world", "cube orientation as a unit quaternion [w, x, y, z]"),
            cube_linvel: s.add_vec3("cube_linvel", "m/s", "world", "linear velocity of the cube"),
            goal_pos: s.add_vec3("goal_pos", "m", "world", "where the cube's centre should go (arm-push), on the table (z = 0.025), fixed for the episode"),
            cube_to_goal: s.add_scalar("cube_to_goal", "m", "world", "distance from the cube's centre to goal_pos in the table plane (x and y only)"),
            tip_to_cube: s.add_scalar("tip_to_cube", "m", "world", "distance from the fingertip (grasp centre) to the cube's centre; about 0 when the cube sits between the fingers"),
            cube_height: s.add_scalar("cube_height", "m", "world", "height of the cube's centre above the table (cube_pos z): 0.025 at rest, above 0.1 counts as lifted"),
            gripper_opening: s.add_scalar("gripper_opening", "m", "gripper", "distance between the two finger pads: 0 closed, 0.09 fully open, 0.05 when they hold the cube"),
            gripper_vel: s.add_scalar("gripper_vel", "m/s", "gripper", "rate of change of gripper_opening (negative while closing)"),
            finger_contact: s.add_vector("finger_contact", "1", "gripper", "1 where a finger pad touches the cube, else 0, in order [+y finger, -y finger] of the hand"),
            grasped: s.add_scalar("grasped", "1", "gripper", "1 when both fingers touch the cube, else 0"),
            action: s.add_vector("action", "1", "actuator", action_field),
            reached: s.add_scalar("reached", "1", "world", "1 when tip_to_target < 0.03 m, else 0"),
            cube_at_goal: s.add_scalar("cube_at_goal", "1", "world", "1 when cube_to_goal < 0.05 m, else 0"),
            lifted: s.add_scalar("lifted", "1", "world", "1 when cube_height > 0.1 m and both fingers touch the cube (grasped), else 0"),
            push_spot: s.add_vec3("push_spot", "m", "world", "where the fingertip should be to push the cube towards goal_pos (arm-push): 0.05 m behind the cube's centre on the line from the goal through the cube, at the height of the cube's centre; the closed fingers there rest against the cube's back face"),
            cube_to_edge: s.add_scalar("cube_to_edge", "m", "world", "distance from the cube's centre to the nearest edge of the table top in the table plane (edges at x = -0.2 and 0.8 m, y = -0.6 and 0.6 m); negative once the centre is beyond an edge, where the cube falls to the floor"),
            tip_to_edge: s.add_scalar("tip_to_edge", "m", "world", "distance from the fingertip to the nearest edge of the table top in the table plane, as cube_to_edge"),
        };
        s.goal_of(&["arm-reach"], &["target_pos", "tip_to_target", "reached"]);
        s.goal_of(&["arm-push"], &["goal_pos", "cube_to_goal", "cube_at_goal", "push_spot"]);
        let state = s.build();
        let spec = Arc::new(EnvSpec {
            name: "arm".to_string(),
            description: format!("A 4-joint robot arm with a parallel gripper, on a fixed column that \
                stands on a table, gravity -9.81 m/s². World frame: the origin is the foot of the \
                column on the table top; +x is forward (the way the arm reaches in its home pose, \
                away from the column), +y is the arm's left, +z is up; yaw angles are \
                counter-clockwise seen from above, 0 along +x. The table top is a rectangle at \
                z = 0 from x = -0.2 m (behind the column) to x = 0.8 m (its front edge) and from \
                y = -0.6 m (its right edge) to y = 0.6 m (its left edge): 1.0 m deep, 1.2 m wide, \
                centred at (0.3, 0); the floor is 0.75 m below it, and a cube pushed past an edge \
                falls there. A turret turns about the vertical (yaw, ±1.5 rad); a shoulder (±1.0 rad), an elbow \
                (±1.3 rad) and a wrist (±1.3 rad) pitch the upper arm (0.3 m), forearm (0.3 m) \
                and the hand. The hand carries two flat fingers (7 cm long, 4 cm wide) that slide \
                towards each other across the arm's vertical plane, opening from 0 to 0.09 m; the \
                fingertip point is the grasp centre between them, 0.12 m below the wrist. The \
                hand points straight down when shoulder + elbow + wrist = 0. In the home pose \
                (all angles 0) the shoulder is 0.15 m above the table and the fingertip point \
                hangs about 0.08 m above the table, 0.45 m in front of the column (+x). A free \
                cube (edge 0.05 m, 0.1 kg) lies on the table 0.35–0.5 m from the column; the arm \
                can push it with any part or grip it between the fingers and lift it. Each \
                episode draws a new cube position (0.35–0.5 m from the column, within 0.6 rad of \
                +x) and turn; for the tasks that use them it also draws a fingertip target in \
                the air (target_pos, arm-reach) and a spot on the table for the cube (goal_pos, \
                arm-push). {actuation_text} \
                joint angles with the hand pointing straight down (tilted outwards only where \
                the joint ranges require it, high above the table), and PD controllers drive \
                the joints and fingers there. The arm carries its own weight \
                (gravity-compensated), so the fingertip settles on its target. Episodes end \
                only at the time limit."),
            obs_dim: if steps { obs::DIM } else { obs::POINT_DIM },
            action_dim: ACTION_DIM,
            action_doc: format!("{action_doc} with the hand pointing straight down (tilted \
                outwards only where the joint ranges require it; the nearest reachable point \
                when it is out of reach); gripper −1 opens fully (0.09 m), +1 \
                closes (squeezes whatever is between the fingers), 0 is half open (0.045 m)"),
            dt: (f64::from(SUBSTEP) * FRAME_SKIP as f64 * 1e6).round() / 1e6,
            state,
        });
        (spec, fields)
    }
}

/// The target pad offset of each finger for a gripper action in [-1, 1].
fn finger_target(action: f32) -> f32 {
    0.5 * FINGER_TRAVEL * (1.0 - action)
}

impl Arm {
    /// An arm in its home pose with the layout of seed 0 (call [`Env::reset`]),
    /// whose actions name the fingertip target's place ([`Actuation::Point`]).
    #[must_use]
    pub fn new() -> Self {
        Self::with_actuation(Actuation::Point)
    }

    /// An arm as [`new`](Self::new) whose actions set the fingertip target as
    /// `actuation` says.
    #[must_use]
    pub fn with_actuation(actuation: Actuation) -> Self {
        let (spec, fields) = declared(actuation);
        let mut env = Self {
            spec: spec.clone(),
            actuation,
            fields,
            world: new_world(SUBSTEP, SOLVER_ITERATIONS),
            links: Vec::with_capacity(4),
            fingers: Vec::with_capacity(2),
            cube: RigidBodyHandle::invalid(),
            cube_collider: ColliderHandle::invalid(),
            layout: Layout::draw(&mut SplitMix64::new(0)),
            action: [0.0; ACTION_DIM],
            command: [0.0; 3],
        };
        env.build();
        env
    }

    #[allow(clippy::too_many_lines)]
    fn build(&mut self) {
        let mut world = new_world(SUBSTEP, SOLVER_ITERATIONS);
        // Without friction in the position-correction pass, a squeezed cube
        // creeps along the pads while they push out of it, and slips out of
        // the grip within 1–3 s (see the module docs).
        world.integration_parameters.friction_in_bias_pass = true;
        let table = world.insert_body(RigidBodyBuilder::fixed());
        // A finite table top (its edges are words a task can use), and an
        // undrawn floor below it that catches a cube pushed off.
        world.insert_collider(
            ColliderBuilder::cuboid(TABLE_HALF[0], TABLE_HALF[1], 0.5 * TABLE_THICKNESS)
                .translation(Vector::new(
                    TABLE_CENTRE[0],
                    TABLE_CENTRE[1],
                    -0.5 * TABLE_THICKNESS,
                ))
                .friction(0.5)
                .collision_groups(groups(SCENERY, ROBOT | OBJECT))
                .user_data(color([200, 190, 170])),
            Some(table),
        );
        world.insert_collider(
            ColliderBuilder::halfspace(rapier3d::na::Unit::new_unchecked(Vector::Z))
                .translation(Vector::new(0.0, 0.0, -FLOOR_DEPTH))
                .friction(0.5)
                .collision_groups(groups(SCENERY, ROBOT | OBJECT)),
            Some(table),
        );
        world.insert_collider(
            ColliderBuilder::capsule_from_endpoints(
                Vector::ZERO,
                Vector::new(0.0, 0.0, SHOULDER_HEIGHT),
                0.04,
            )
            .collision_groups(InteractionGroups::none())
            .user_data(color([90, 90, 100])),
            Some(table),
        );
        let shoulder = Vector::new(0.0, 0.0, SHOULDER_HEIGHT);
        // Home-pose link vectors: the upper arm rises 50°, the forearm falls 30°,
        // the hand points straight down. Bodies keep identity rotations in the
        // home pose, so joint angles read as twists relative to the parent.
        let (up, down) = (UPPER_RISE, FORE_FALL);
        let upper = Vector::new(UPPER * up.cos(), 0.0, UPPER * up.sin());
        let fore = Vector::new(FORE * down.cos(), 0.0, -FORE * down.sin());
        let link_color = color([230, 120, 40]);
        let mut links = Vec::with_capacity(4);
        let mut add = |world: &mut PhysicsWorld,
                       parent: RigidBodyHandle,
                       at: Vector,
                       anchor: Vector,
                       axis: Vector,
                       collider: ColliderBuilder| {
            let body = world.insert_body(
                RigidBodyBuilder::dynamic()
                    .can_sleep(false)
                    .soft_ccd_prediction(0.1)
                    .gravity_scale(0.0)
                    .translation(at),
            );
            world.insert_collider(collider, Some(body));
            let joint = RevoluteJointBuilder::new(axis)
                .local_anchor1(anchor)
                .local_anchor2(Vector::ZERO)
                .motor_model(MotorModel::ForceBased)
                .motor_position(0.0, KP, KD)
                .motor_max_force(MAX_TORQUE);
            let range = RANGES[links.len()];
            let joint = world
                .insert_multibody_joint(parent, body, joint.limits([-range, range]))
                .expect("a chain has no cycle");
            links.push(Link {
                parent,
                body,
                joint,
                axis,
            });
            body
        };
        let turret = add(
            &mut world,
            table,
            shoulder,
            shoulder,
            Vector::Z,
            ColliderBuilder::ball(0.045)
                .density(LINK_DENSITY)
                .collision_groups(InteractionGroups::none())
                .user_data(color([90, 90, 100])),
        );
        let upper_arm = add(
            &mut world,
            turret,
            shoulder,
            Vector::ZERO,
            Vector::Y,
            ColliderBuilder::capsule_from_endpoints(Vector::ZERO, upper, LINK_RADIUS)
                .density(LINK_DENSITY)
                .collision_groups(groups(ROBOT, OBJECT))
                .user_data(link_color),
        );
        let forearm = add(
            &mut world,
            upper_arm,
            shoulder + upper,
            upper,
            Vector::Y,
            ColliderBuilder::capsule_from_endpoints(Vector::ZERO, fore, LINK_RADIUS)
                .density(LINK_DENSITY)
                .collision_groups(groups(ROBOT, SCENERY | OBJECT))
                .user_data(link_color),
        );
        let wrist = shoulder + upper + fore;
        let palm_half = Vector::new(
            FINGER_HALF[0],
            FINGER_TRAVEL + 2.0 * FINGER_HALF[1] + 0.005,
            0.008,
        );
        let hand = add(
            &mut world,
            forearm,
            wrist,
            fore,
            Vector::Y,
            ColliderBuilder::capsule_from_endpoints(
                Vector::ZERO,
                Vector::new(0.0, 0.0, -(PALM_DEPTH - 2.0 * palm_half.z)),
                0.012,
            )
            .density(LINK_DENSITY)
            .collision_groups(groups(ROBOT, SCENERY | OBJECT))
            .user_data(color([60, 60, 70])),
        );
        world.insert_collider(
            ColliderBuilder::cuboid(palm_half.x, palm_half.y, palm_half.z)
                .translation(Vector::new(0.0, 0.0, palm_half.z - PALM_DEPTH))
                .density(LINK_DENSITY)
                .collision_groups(groups(ROBOT, SCENERY | OBJECT))
                .user_data(color([60, 60, 70])),
            Some(hand),
        );
        // Each finger's body origin is the centre of its pad (the face towards
        // the other finger); its joint coordinate is the pad's distance from the
        // hand's centre plane.
        let finger_centre = Vector::new(0.0, 0.0, -PALM_DEPTH - 0.5 * FINGER_LENGTH);
        let mut fingers = Vec::with_capacity(2);
        for side in [1.0f32, -1.0] {
            let body = world.insert_body(
                RigidBodyBuilder::dynamic()
                    .can_sleep(false)
                    .soft_ccd_prediction(0.1)
                    .gravity_scale(0.0)
                    .translation(wrist + finger_centre),
            );
            let finger =
                ColliderBuilder::cuboid(FINGER_HALF[0], FINGER_HALF[1], 0.5 * FINGER_LENGTH)
                    .translation(Vector::new(0.0, side * FINGER_HALF[1], 0.0));
            let collider = world.insert_collider(
                finger
                    .clone()
                    .density(LINK_DENSITY)
                    .friction(PAD_FRICTION)
                    .collision_groups(groups(ROBOT, OBJECT))
                    .user_data(color([40, 160, 230])),
                Some(body),
            );
            // The same finger again, massless, for the table: without friction
            // there, so that a finger dragged along the table is not pulled
            // past its joint limits (it was, by up to 10 cm, under random
            // actions).
            world.insert_collider(
                finger
                    .density(0.0)
                    .friction(0.0)
                    .friction_combine_rule(CoefficientCombineRule::Min)
                    .collision_groups(groups(ROBOT, SCENERY)),
                Some(body),
            );
            let joint = PrismaticJointBuilder::new(Vector::Y * side)
                .local_anchor1(finger_centre)
                .local_anchor2(Vector::ZERO)
                .limits([0.0, FINGER_TRAVEL])
                .motor_model(MotorModel::ForceBased)
                .motor_position(finger_target(0.0), FINGER_KP, FINGER_KD)
                .motor_max_force(FINGER_FORCE);
            let joint = world
                .insert_multibody_joint(hand, body, joint)
                .expect("a chain has no cycle");
            fingers.push(Finger {
                body,
                joint,
                collider,
                side,
            });
        }
        let layout = self.layout;
        let cube = world.insert_body(
            RigidBodyBuilder::dynamic()
                .can_sleep(false)
                .translation(layout.cube)
                .rotation(Vector::Z * layout.cube_yaw),
        );
        let cube_collider = world.insert_collider(
            ColliderBuilder::cuboid(CUBE_HALF, CUBE_HALF, CUBE_HALF)
                .mass(CUBE_MASS)
                .friction(0.5)
                .collision_groups(groups(OBJECT, SCENERY | ROBOT))
                .user_data(color([220, 60, 60])),
            Some(cube),
        );
        self.world = world;
        self.links = links;
        self.fingers = fingers;
        self.cube = cube;
        self.cube_collider = cube_collider;
        self.action = [0.0; ACTION_DIM];
        self.command = f64x3(self.tip_pos());
    }

    /// The episode's reach target (arm-reach), m, world frame.
    #[must_use]
    pub fn target(&self) -> [f64; 3] {
        f64x3(self.layout.target)
    }

    /// The fingertip target the joints are being driven to (the command), m,
    /// world frame.
    #[must_use]
    pub fn command(&self) -> [f64; 3] {
        self.command
    }

    /// Angle and rate of joint `i` (yaw, shoulder, elbow, wrist).
    fn joint(&self, i: usize) -> (f32, f32) {
        let link = &self.links[i];
        joint_angle_rate(
            &self.world.bodies[link.parent],
            &self.world.bodies[link.body],
            link.axis,
        )
    }

    fn hand(&self) -> &RigidBody {
        &self.world.bodies[self.links[3].body]
    }

    fn tip_pos(&self) -> Vector {
        self.hand().position() * Vector::new(0.0, 0.0, -PUSHER)
    }

    /// Gripper opening (distance between the pads), m, and its rate, m/s.
    fn gripper(&self) -> (f32, f32) {
        let hand = self.hand();
        let across = *hand.rotation() * Vector::Y;
        let (mut opening, mut rate) = (0.0, 0.0);
        for finger in &self.fingers {
            let body = &self.world.bodies[finger.body];
            let p = body.translation();
            opening += finger.side * (p - hand.translation()).dot(across);
            rate += finger.side * (body.linvel() - hand.velocity_at_point(p)).dot(across);
        }
        (opening, rate)
    }

    /// Whether finger `i`'s pad pushes on the cube. Rapier's contact pairs also
    /// hold speculative contacts up to the soft-CCD prediction distance away,
    /// and recycled pairs keep stale distances, so a touch is read from the
    /// solver's impulses of the last step instead.
    fn touches(&self, i: usize) -> bool {
        self.world
            .contact_pair(self.fingers[i].collider, self.cube_collider)
            .is_some_and(|pair| pair.total_impulse_magnitude() > TOUCH_IMPULSE)
    }

    fn cube_body(&self) -> &RigidBody {
        &self.world.bodies[self.cube]
    }

    fn cube_to_goal(&self) -> f32 {
        let d = self.cube_body().translation() - self.layout.goal;
        d.x.hypot(d.y)
    }
}

impl Default for Arm {
    fn default() -> Self {
        Self::new()
    }
}

impl Env for Arm {
    fn spec(&self) -> &Arc<EnvSpec> {
        &self.spec
    }

    fn reset(&mut self, seed: u64) {
        self.layout = Layout::draw(&mut SplitMix64::new(seed));
        self.build();
    }

    fn step(&mut self, action: &[f32]) -> StepInfo {
        clamp_action(&mut self.action, action);
        self.command = match self.actuation {
            Actuation::Point => tip_target(&self.action),
            Actuation::Steps => step_command(self.command, &self.action),
        };
        let q = inverse_kinematics(self.command);
        for (link, &angle) in self.links.iter().zip(&q) {
            set_motor_target(
                &mut self.world,
                link.joint,
                JointAxis::AngX,
                angle as f32,
                KP,
                KD,
            );
        }
        let grip = finger_target(self.action[3]);
        for finger in &self.fingers {
            set_motor_target(
                &mut self.world,
                finger.joint,
                JointAxis::LinX,
                grip,
                FINGER_KP,
                FINGER_KD,
            );
        }
        for _ in 0..FRAME_SKIP {
            self.world.step();
        }
        StepInfo::default()
    }

    fn observe(&self, obs: &mut [f32]) {
        for i in 0..4 {
            let (angle, rate) = self.joint(i);
            obs[obs::JOINT_POS.at(i)] = angle;
            obs[obs::JOINT_VEL.at(i)] = rate;
        }
        let tip = self.tip_pos();
        let cube = self.cube_body();
        let c = cube.translation();
        let (target, goal) = (self.layout.target, self.layout.goal);
        let vectors = [
            (obs::TIP, tip),
            (obs::TARGET, target),
            (obs::TIP_TO_TARGET, target - tip),
            (obs::CUBE, c),
            (obs::CUBE_VEL, cube.linvel()),
            (obs::GOAL, goal),
            (obs::TIP_TO_CUBE, c - tip),
            (obs::CUBE_TO_GOAL, goal - c),
            (obs::TIP_TO_PUSH_SPOT, push_spot(c, goal) - tip),
        ];
        for (span, v) in vectors {
            obs[span.range()].copy_from_slice(&v.to_array());
        }
        if self.actuation == Actuation::Steps {
            let command = Vector::from(self.command.map(|v| v as f32));
            obs[obs::TIP_TO_COMMAND.range()].copy_from_slice(&(command - tip).to_array());
        }
        obs[obs::CUBE_QUAT.range()].copy_from_slice(&f32_quat(cube.rotation()));
        let (opening, rate) = self.gripper();
        obs[obs::OPENING.start()] = opening;
        obs[obs::OPENING_RATE.start()] = rate;
        obs[obs::CONTACT.at(0)] = f32::from(u8::from(self.touches(0)));
        obs[obs::CONTACT.at(1)] = f32::from(u8::from(self.touches(1)));
    }

    fn reward_state(&self, out: &mut [f64]) {
        let f = self.fields;
        let mut w = StateWriter::new(&self.spec.state, out);
        let (mut joint_pos, mut joint_vel) = ([0.0; 4], [0.0; 4]);
        for i in 0..4 {
            let (angle, rate) = self.joint(i);
            joint_pos[i] = f64::from(angle);
            joint_vel[i] = f64::from(rate);
        }
        w.set(f.joint_pos, joint_pos);
        w.set(f.joint_vel, joint_vel);
        let tip = self.tip_pos();
        w.set(f.tip_pos, f64x3(tip));
        w.set(f.tip_vel, f64x3(self.hand().velocity_at_point(tip)));
        w.set(f.tip_command, self.command);
        w.set(f.target_pos, f64x3(self.layout.target));
        let to_target = f64::from((tip - self.layout.target).length());
        w.set(f.tip_to_target, to_target);
        let cube = self.cube_body();
        w.set(f.cube_pos, f64x3(cube.translation()));
        w.set(f.cube_quat, f64_quat(cube.rotation()));
        w.set(f.cube_linvel, f64x3(cube.linvel()));
        w.set(f.goal_pos, f64x3(self.layout.goal));
        let to_goal = f64::from(self.cube_to_goal());
        w.set(f.cube_to_goal, to_goal);
        w.set(
            f.tip_to_cube,
            f64::from((cube.translation() - tip).length()),
        );
        let height = f64::from(cube.translation().z);
        w.set(f.cube_height, height);
        let (opening, rate) = self.gripper();
        w.set(f.gripper_opening, f64::from(opening));
        w.set(f.gripper_vel, f64::from(rate));
        let touch = [self.touches(0), self.touches(1)];
        w.set(f.finger_contact, touch.map(flag));
        let grasped = touch[0] && touch[1];
        w.set(f.grasped, flag(grasped));
        w.set(f.action, widen(&self.action));
        w.set(f.reached, flag(to_target < REACH_TOLERANCE));
        w.set(f.cube_at_goal, flag(to_goal < PUSH_TOLERANCE));
        w.set(f.lifted, flag(grasped && height > LIFT_HEIGHT));
        w.set(
            f.push_spot,
            f64x3(push_spot(cube.translation(), self.layout.goal)),
        );
        w.set(f.cube_to_edge, f64::from(to_table_edge(cube.translation())));
        w.set(f.tip_to_edge, f64::from(to_table_edge(tip)));
    }

    fn scene(&self, out: &mut Vec<Primitive>) {
        scene_of(&self.world, out);
        let marker = |p: Vector, color: [u8; 3]| Primitive {
            shape: Shape::Sphere { radius: 0.015 },
            position: f64x3(p),
            rotation: [1.0, 0.0, 0.0, 0.0],
            color,
            marks: Some("target_pos"),
        };
        out.push(marker(self.layout.target, [40, 200, 80]));
        out.push(Primitive {
            shape: Shape::Cuboid {
                half_extents: [PUSH_TOLERANCE, PUSH_TOLERANCE, 0.001],
            },
            position: [
                f64::from(self.layout.goal.x),
                f64::from(self.layout.goal.y),
                0.001,
            ],
            rotation: [1.0, 0.0, 0.0, 0.0],
            color: [40, 200, 80],
            marks: Some("goal_pos"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_spot_is_behind_the_cube_on_the_far_side_from_the_goal() {
        let cube = Vector::new(0.4, 0.1, CUBE_HALF);
        let goal = Vector::new(0.4, 0.3, CUBE_HALF);
        let spot = push_spot(cube, goal);
        assert!((spot - Vector::new(0.4, 0.05, CUBE_HALF)).length() < 1e-6);
        // Height differences between cube and goal do not tilt the line.
        let spot = push_spot(cube, goal + Vector::Z);
        assert!((spot.z - CUBE_HALF).abs() < 1e-6);
        // On the goal there is no line: the spot is the cube's centre.
        assert_eq!(push_spot(cube, cube), cube);
    }

    #[test]
    fn the_table_has_edges_and_a_cube_past_one_falls_to_the_floor() {
        assert!((to_table_edge(Vector::new(0.3, 0.0, 0.0)) - 0.5).abs() < 1e-6);
        assert!((to_table_edge(Vector::new(0.3, 0.7, 0.0)) + 0.1).abs() < 1e-6);
        assert!((to_table_edge(Vector::new(0.75, -0.2, 0.0)) - 0.05).abs() < 1e-6);
        let mut env = Arm::new();
        let spec = env.spec().clone();
        let mut state = vec![0.0; spec.state.len()];
        let read = |state: &[f64], name: &str| state[spec.state.field(name).unwrap().offset];
        for seed in 0..32 {
            env.reset(seed);
            env.reward_state(&mut state);
            // Every draw lies well inside the table.
            assert!(read(&state, "cube_to_edge") > 0.15, "seed {seed}");
            let goal = env.layout.goal;
            assert!(to_table_edge(goal) > 0.15, "seed {seed}");
        }
        // A cube put past the left edge falls to the floor, 0.75 m down.
        env.reset(1);
        env.world.bodies[env.cube].set_translation(Vector::new(0.3, 0.65, 0.05), true);
        for _ in 0..40 {
            env.step(&[0.0; ACTION_DIM]);
        }
        env.reward_state(&mut state);
        assert!(read(&state, "cube_to_edge") < 0.0);
        let z = state[spec.state.field("cube_pos").unwrap().offset + 2];
        assert!((z - f64::from(CUBE_HALF - FLOOR_DEPTH)).abs() < 0.02, "{z}");
        // One on the table stays on its top.
        env.reset(1);
        for _ in 0..40 {
            env.step(&[0.0; ACTION_DIM]);
        }
        env.reward_state(&mut state);
        assert!((read(&state, "cube_height") - f64::from(CUBE_HALF)).abs() < 0.005);
    }

    #[test]
    fn observation_and_reward_state_carry_the_push_spot() {
        let mut env = Arm::new();
        env.reset(7);
        let mut obs = vec![0.0; obs::POINT_DIM];
        env.observe(&mut obs);
        let mut state = vec![0.0; env.spec().state.len()];
        env.reward_state(&mut state);
        let spot = push_spot(env.cube_body().translation(), env.layout.goal);
        let tip = env.tip_pos();
        let at = env.spec().state.field("push_spot").unwrap().offset;
        for k in 0..3 {
            assert!((obs[obs::TIP_TO_PUSH_SPOT.at(k)] - (spot - tip)[k]).abs() < 1e-6);
            assert!((state[at + k] - f64::from(spot[k])).abs() < 1e-6);
        }
    }
}
