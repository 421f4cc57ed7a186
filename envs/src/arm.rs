//! `arm`: a 4-joint arm with a ball-tipped pusher over a table, a free cube, a
//! reach target and a goal marker.
//!
//! The arm stands on a fixed column at the origin: a turret turns about the
//! vertical (yaw), then three pitch joints (shoulder, elbow, wrist) carry an upper
//! arm (0.3 m), a forearm (0.3 m) and a pusher rod (0.12 m) whose tip is a ball of
//! radius 2 cm, the **fingertip**. The table top is the plane z = 0; the cube (5 cm,
//! 0.1 kg) slides on it. Forward is +x. Every episode draws a new fingertip target
//! (in the air), cube position and cube goal (on the table) from its seed.
//!
//! **Actuation — PD position targets**, as in the quadruped: each action sets a
//! joint's target angle within its range and rapier's implicit joint motor drives
//! it there with a capped torque. Joints are reduced-coordinate multibody joints
//! rooted at the fixed column (impulse joints let links drift past their limits;
//! see the quadruped's module docs for the measurements).
//!
//! **No gripper.** `arm-lift` is not offered: a friction grip between two
//! prismatic fingers needs contact tuning (substeps, friction, finger stiffness)
//! that was not measured in the time available; reach and push need only the
//! pusher.
//!
//! **Time step and cost — measured** with `examples/step_arm.rs` (random targets
//! held 5 steps; instructions per env step from callgrind):
//!
//! | links | solver iterations | instructions | fingertip below 1 cm (of 5000 steps) |
//! |---|---|---|---|
//! | light (300 kg/m³), kp 200, no CCD | 4 | — | 870, 8 cm deep; tip at 21 m/s |
//! | 1000 kg/m³, kp 150, kd 30, soft CCD | 4 | 614 k | 202 |
//! | **1000 kg/m³, kp 150, kd 30, soft CCD** | **2** | **374 k** | **126** |
//!
//! Light, stiff links flung the fingertip through the table; heavier links, a
//! torque cap of 15 N·m and soft CCD (prediction 0.1 m) on every link keep it
//! within about 2 cm of the surface under the hardest random pushing. For
//! comparison the quadruped costs 1.7 M instructions per step.
//!
//! One env step is 0.04 s: two substeps of 0.02 s with 2 solver iterations.

use rapier3d::prelude::*;
use rewardsmith_core::{Env, EnvSpec, Primitive, Shape, SplitMix64, StateSpec, StepInfo};
use std::sync::{Arc, OnceLock};

/// Physics substep, seconds.
const SUBSTEP: f32 = 0.02;
/// Substeps per env step.
const FRAME_SKIP: usize = 2;
/// Velocity-solver iterations per substep.
const SOLVER_ITERATIONS: usize = 2;
/// Height of the shoulder above the table, m.
const SHOULDER_HEIGHT: f32 = 0.15;
/// Upper arm length, m.
const UPPER: f32 = 0.3;
/// Forearm length, m.
const FORE: f32 = 0.3;
/// Pusher rod length (wrist to fingertip centre), m.
const PUSHER: f32 = 0.12;
/// Link capsule radius, m.
const LINK_RADIUS: f32 = 0.025;
/// Fingertip ball radius, m.
pub const TIP_RADIUS: f32 = 0.02;
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

/// Observation length: joint angles 4, joint rates 4, fingertip 3, target 3,
/// target − fingertip 3, cube position 3, cube quaternion 4, cube velocity 3,
/// goal 3, cube − fingertip 3, goal − cube 3.
const OBS_DIM: usize = 36;

/// Home-pose elevation of the upper arm above the horizontal, rad.
const UPPER_RISE: f32 = 50.0 * std::f32::consts::PI / 180.0;
/// Home-pose fall of the forearm below the horizontal, rad.
const FORE_FALL: f32 = 30.0 * std::f32::consts::PI / 180.0;

/// Where the fingertip centre would be, m, world frame, for joint angles `q`
/// (yaw, shoulder, elbow, wrist; relative to the home pose) on a rigid arm: the
/// kinematic model the physics follows up to joint compliance and gravity sag.
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

/// Collision group of static scenery (table, palm).
pub(crate) const SCENERY: Group = Group::GROUP_1;
/// Collision group of robot links.
pub(crate) const ROBOT: Group = Group::GROUP_2;
/// Collision group of manipulated objects.
pub(crate) const OBJECT: Group = Group::GROUP_3;

/// Interaction groups for a collider of group `me` touching `with`.
pub(crate) fn groups(me: Group, with: Group) -> InteractionGroups {
    InteractionGroups::new(me, with, InteractionTestMode::And)
}

/// Packs a colour into a collider's user data, for [`scene_of`].
pub(crate) fn color(rgb: [u8; 3]) -> u128 {
    (1 << 24) | (u128::from(rgb[0]) << 16) | (u128::from(rgb[1]) << 8) | u128::from(rgb[2])
}

/// Moves a joint's PD target.
pub(crate) fn set_target(world: &mut PhysicsWorld, joint: MultibodyJointHandle, target: f32) {
    set_target_gains(world, joint, target, KP, KD);
}

/// Moves a joint's PD target with explicit gains.
pub(crate) fn set_target_gains(
    world: &mut PhysicsWorld,
    joint: MultibodyJointHandle,
    target: f32,
    kp: f32,
    kd: f32,
) {
    if let Some((multibody, link)) = world.multibody_joints.get_mut_internal(joint)
        && let Some(link) = multibody.link_mut(link)
    {
        link.joint
            .data
            .set_motor_position(JointAxis::AngX, target, kp, kd);
    }
}

/// The primitives of every coloured collider (see [`color`]) of `world`.
pub(crate) fn scene_of(world: &PhysicsWorld, out: &mut Vec<Primitive>) {
    out.clear();
    for (_, collider) in world.colliders.iter() {
        if collider.user_data >> 24 == 0 {
            continue;
        }
        let rgb = [
            (collider.user_data >> 16) as u8,
            (collider.user_data >> 8) as u8,
            collider.user_data as u8,
        ];
        let pose = collider.position();
        let shape = collider.shape();
        let (shape, centre, rotation) = if let Some(ball) = shape.as_ball() {
            let shape = Shape::Sphere {
                radius: f64::from(ball.radius),
            };
            (shape, pose.translation, pose.rotation)
        } else if let Some(capsule) = shape.as_capsule() {
            let (a, b) = (capsule.segment.a, capsule.segment.b);
            let axis = b - a;
            let along = Rotation::from_rotation_arc(Vector::Z, axis.normalize_or(Vector::Z));
            let shape = Shape::Capsule {
                half_height: f64::from(axis.length() * 0.5),
                radius: f64::from(capsule.radius),
            };
            (shape, *pose * ((a + b) * 0.5), pose.rotation * along)
        } else if let Some(cuboid) = shape.as_cuboid() {
            let h = cuboid.half_extents;
            let shape = Shape::Cuboid {
                half_extents: [f64::from(h.x), f64::from(h.y), f64::from(h.z)],
            };
            (shape, pose.translation, pose.rotation)
        } else if shape.as_halfspace().is_some() {
            (Shape::Ground, Vector::ZERO, Rotation::IDENTITY)
        } else {
            continue;
        };
        out.push(Primitive {
            shape,
            position: [
                f64::from(centre.x),
                f64::from(centre.y),
                f64::from(centre.z),
            ],
            rotation: [
                f64::from(rotation.w),
                f64::from(rotation.x),
                f64::from(rotation.y),
                f64::from(rotation.z),
            ],
            color: rgb,
        });
    }
}

/// Writes a vector into three f64 slots.
pub(crate) fn put3(out: &mut [f64], v: Vector) {
    out[0] = f64::from(v.x);
    out[1] = f64::from(v.y);
    out[2] = f64::from(v.z);
}

/// Writes a quaternion as `[w, x, y, z]`.
pub(crate) fn put_quat(out: &mut [f64], q: Rotation) {
    out[0] = f64::from(q.w);
    out[1] = f64::from(q.x);
    out[2] = f64::from(q.y);
    out[3] = f64::from(q.z);
}

/// The signed angle of `rot2` relative to `rot1` about `axis` (in `rot1`'s frame),
/// for bodies built with identity rotations, in (−π, π].
pub(crate) fn twist_angle(rot1: Rotation, rot2: Rotation, axis: Vector) -> f32 {
    let rel = rot1.inverse() * rot2;
    let along = rel.x * axis.x + rel.y * axis.y + rel.z * axis.z;
    let mut angle = 2.0 * along.atan2(rel.w);
    if angle > std::f32::consts::PI {
        angle -= std::f32::consts::TAU;
    } else if angle < -std::f32::consts::PI {
        angle += std::f32::consts::TAU;
    }
    angle
}

/// A world with gravity −z and the given substep and solver effort.
pub(crate) fn new_world(dt: f32, solver_iterations: usize) -> PhysicsWorld {
    let mut world = PhysicsWorld::new();
    world.gravity = Vector::new(0.0, 0.0, -9.81);
    world.integration_parameters.dt = dt;
    world.integration_parameters.num_solver_iterations = solver_iterations;
    world.integration_parameters.warmstart_joints = true;
    world
}

/// One actuated link: its body, its joint and the joint's axis in the parent frame.
struct Link {
    parent: RigidBodyHandle,
    body: RigidBodyHandle,
    joint: MultibodyJointHandle,
    axis: Vector,
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
    world: PhysicsWorld,
    links: Vec<Link>,
    /// Fingertip centre in the pusher's frame.
    tip: Vector,
    cube: RigidBodyHandle,
    layout: Layout,
    action: [f32; 4],
}

/// The arm's fixed facts, built once.
pub fn spec() -> Arc<EnvSpec> {
    static SPEC: OnceLock<Arc<EnvSpec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let state = StateSpec::builder()
            .vector("joint_pos", 4, "rad", "joint", "joint angles relative to the home pose, in order [yaw, shoulder, elbow, wrist]; positive pitch angles lower the parts beyond the joint")
            .vector("joint_vel", 4, "rad/s", "joint", "joint angular rates, same order as joint_pos")
            .vector("tip_pos", 3, "m", "world", "position of the fingertip centre (a ball of radius 0.02 m); z is height above the table")
            .vector("tip_vel", 3, "m/s", "world", "linear velocity of the fingertip centre")
            .vector("target_pos", 3, "m", "world", "the point the fingertip should reach (arm-reach), fixed for the episode")
            .scalar("tip_to_target", "m", "world", "distance from the fingertip centre to target_pos")
            .vector("cube_pos", 3, "m", "world", "position of the cube's centre (cube edge 0.05 m); z is 0.025 when it rests on the table")
            .vector("cube_quat", 4, "1", "world", "cube orientation as a unit quaternion [w, x, y, z]")
            .vector("cube_linvel", 3, "m/s", "world", "linear velocity of the cube")
            .vector("goal_pos", 3, "m", "world", "where the cube's centre should go (arm-push), on the table (z = 0.025), fixed for the episode")
            .scalar("cube_to_goal", "m", "world", "distance from the cube's centre to goal_pos in the table plane (x and y only)")
            .scalar("tip_to_cube", "m", "world", "distance from the fingertip centre to the cube's centre (about 0.045 when touching a face)")
            .vector("action", 4, "1", "actuator", "the action applied this step, in [-1, 1], same order as joint_pos")
            .scalar("reached", "1", "world", "1 when tip_to_target < 0.03 m, else 0")
            .scalar("cube_at_goal", "1", "world", "1 when cube_to_goal < 0.05 m, else 0")
            .build();
        Arc::new(EnvSpec {
            name: "arm".to_string(),
            description: "A 4-joint robot arm on a fixed column at the origin of a table, z up, \
                the table top is the plane z = 0, gravity -9.81 m/s². A turret turns about the \
                vertical (yaw, ±1.5 rad); a shoulder (±1.0 rad), an elbow (±1.3 rad) and a \
                wrist (±1.3 rad) pitch the upper arm (0.3 m), forearm (0.3 m) and a pusher rod \
                (0.12 m) ending in a ball fingertip of radius 0.02 m. In the home pose (all \
                angles 0) the shoulder is 0.15 m above the table and the fingertip hangs about \
                0.11 m above the table, 0.45 m in front of the column (+x). A free cube (edge \
                0.05 m, 0.1 kg) lies on the table; the arm can push it with any link. Each \
                episode draws a new fingertip target in the air (0.3–0.6 m from the column, \
                0.05–0.35 m high), a cube position and a goal for the cube on the table. Joints \
                are driven by PD controllers towards target angles. Episodes end only at the \
                time limit."
                .to_string(),
            obs_dim: OBS_DIM,
            action_dim: 4,
            action_doc: "target angle of each joint as a fraction of its range, in order \
                [yaw, shoulder, elbow, wrist]; 0 is the home pose, +1 on a pitch joint lowers \
                the parts beyond it, +1 on yaw turns the arm counter-clockwise seen from above"
                .to_string(),
            dt: (f64::from(SUBSTEP) * FRAME_SKIP as f64 * 1e6).round() / 1e6,
            state,
        })
    })
    .clone()
}

impl Arm {
    /// An arm in its home pose with the layout of seed 0 (call [`Env::reset`]).
    #[must_use]
    pub fn new() -> Self {
        let mut env = Self {
            spec: spec(),
            world: new_world(SUBSTEP, SOLVER_ITERATIONS),
            links: Vec::with_capacity(4),
            tip: Vector::ZERO,
            cube: RigidBodyHandle::invalid(),
            layout: Layout::draw(&mut SplitMix64::new(0)),
            action: [0.0; 4],
        };
        env.build();
        env
    }

    fn build(&mut self) {
        let mut world = new_world(SUBSTEP, SOLVER_ITERATIONS);
        let table = world.insert_body(RigidBodyBuilder::fixed());
        world.insert_collider(
            ColliderBuilder::halfspace(rapier3d::na::Unit::new_unchecked(Vector::Z))
                .friction(0.5)
                .collision_groups(groups(SCENERY, ROBOT | OBJECT))
                .user_data(color([200, 190, 170])),
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
        // the pusher points straight down. Bodies keep identity rotations in the
        // home pose, so joint angles read as twists relative to the parent.
        let (up, down) = (UPPER_RISE, FORE_FALL);
        let upper = Vector::new(UPPER * up.cos(), 0.0, UPPER * up.sin());
        let fore = Vector::new(FORE * down.cos(), 0.0, -FORE * down.sin());
        let pusher = Vector::new(0.0, 0.0, -PUSHER);
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
        let hand = add(
            &mut world,
            forearm,
            shoulder + upper + fore,
            fore,
            Vector::Y,
            ColliderBuilder::capsule_from_endpoints(Vector::ZERO, pusher, 0.012)
                .density(LINK_DENSITY)
                .collision_groups(groups(ROBOT, SCENERY | OBJECT))
                .user_data(color([60, 60, 70])),
        );
        world.insert_collider(
            ColliderBuilder::ball(TIP_RADIUS)
                .translation(pusher)
                .density(LINK_DENSITY)
                .friction(0.8)
                .collision_groups(groups(ROBOT, SCENERY | OBJECT))
                .user_data(color([40, 160, 230])),
            Some(hand),
        );
        let layout = self.layout;
        let cube = world.insert_body(
            RigidBodyBuilder::dynamic()
                .can_sleep(false)
                .translation(layout.cube)
                .rotation(Vector::Z * layout.cube_yaw),
        );
        world.insert_collider(
            ColliderBuilder::cuboid(CUBE_HALF, CUBE_HALF, CUBE_HALF)
                .mass(CUBE_MASS)
                .friction(0.5)
                .collision_groups(groups(OBJECT, SCENERY | ROBOT))
                .user_data(color([220, 60, 60])),
            Some(cube),
        );
        self.world = world;
        self.links = links;
        self.tip = pusher;
        self.cube = cube;
        self.action = [0.0; 4];
    }

    /// The current fingertip target, m, world frame.
    #[must_use]
    pub fn target(&self) -> [f64; 3] {
        let t = self.layout.target;
        [f64::from(t.x), f64::from(t.y), f64::from(t.z)]
    }

    /// Angle and rate of joint `i` (yaw, shoulder, elbow, wrist).
    fn joint(&self, i: usize) -> (f32, f32) {
        let link = &self.links[i];
        let (rb1, rb2) = (
            &self.world.bodies[link.parent],
            &self.world.bodies[link.body],
        );
        let world_axis = *rb1.rotation() * link.axis;
        (
            twist_angle(*rb1.rotation(), *rb2.rotation(), link.axis),
            (rb2.angvel() - rb1.angvel()).dot(world_axis),
        )
    }

    fn tip_pos(&self) -> Vector {
        self.world.bodies[self.links[3].body].position() * self.tip
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
        for (slot, &a) in self.action.iter_mut().zip(action) {
            *slot = if a.is_finite() {
                a.clamp(-1.0, 1.0)
            } else {
                0.0
            };
        }
        for (i, range) in RANGES.iter().enumerate() {
            let joint = self.links[i].joint;
            set_target(&mut self.world, joint, self.action[i] * range);
        }
        for _ in 0..FRAME_SKIP {
            self.world.step();
        }
        StepInfo::default()
    }

    fn observe(&self, obs: &mut [f32]) {
        for i in 0..4 {
            let (angle, rate) = self.joint(i);
            obs[i] = angle;
            obs[4 + i] = rate;
        }
        let tip = self.tip_pos();
        let cube = self.cube_body();
        let c = cube.translation();
        let q = cube.rotation();
        let v = cube.linvel();
        let (target, goal) = (self.layout.target, self.layout.goal);
        let vectors = [tip, target, target - tip, c];
        for (k, v) in vectors.iter().enumerate() {
            obs[8 + 3 * k..11 + 3 * k].copy_from_slice(&v.to_array());
        }
        obs[20..24].copy_from_slice(&[q.w, q.x, q.y, q.z]);
        let rest = [v, goal, c - tip, goal - c];
        for (k, v) in rest.iter().enumerate() {
            obs[24 + 3 * k..27 + 3 * k].copy_from_slice(&v.to_array());
        }
    }

    fn reward_state(&self, out: &mut [f64]) {
        for i in 0..4 {
            let (angle, rate) = self.joint(i);
            out[i] = f64::from(angle);
            out[4 + i] = f64::from(rate);
        }
        let hand = &self.world.bodies[self.links[3].body];
        let tip = self.tip_pos();
        put3(&mut out[8..11], tip);
        put3(&mut out[11..14], hand.velocity_at_point(tip));
        put3(&mut out[14..17], self.layout.target);
        let to_target = f64::from((tip - self.layout.target).length());
        out[17] = to_target;
        let cube = self.cube_body();
        put3(&mut out[18..21], cube.translation());
        put_quat(&mut out[21..25], *cube.rotation());
        put3(&mut out[25..28], cube.linvel());
        put3(&mut out[28..31], self.layout.goal);
        let to_goal = f64::from(self.cube_to_goal());
        out[31] = to_goal;
        out[32] = f64::from((cube.translation() - tip).length());
        for (slot, &a) in out[33..37].iter_mut().zip(&self.action) {
            *slot = f64::from(a);
        }
        out[37] = f64::from(u8::from(to_target < REACH_TOLERANCE));
        out[38] = f64::from(u8::from(to_goal < PUSH_TOLERANCE));
    }

    fn scene(&self, out: &mut Vec<Primitive>) {
        scene_of(&self.world, out);
        let marker = |p: Vector, color: [u8; 3]| Primitive {
            shape: Shape::Sphere { radius: 0.015 },
            position: [f64::from(p.x), f64::from(p.y), f64::from(p.z)],
            rotation: [1.0, 0.0, 0.0, 0.0],
            color,
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
        });
    }
}
