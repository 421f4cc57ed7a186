//! Small helpers shared by the rapier environments: collision groups, quaternion
//! maths on glam types, driving joint motors and reading joint angles and rates.

use rapier3d::prelude::*;

/// Collision group of the ground.
pub(crate) const GROUND: Group = Group::GROUP_1;
/// Collision group of robot parts: legs that may touch the ground, arm links,
/// fingers.
pub(crate) const ROBOT: Group = Group::GROUP_2;
/// Collision group of static scenery under manipulated objects (table, palm).
pub(crate) const SCENERY: Group = Group::GROUP_1;
/// Collision group of manipulated objects (cube, pen, valve).
pub(crate) const OBJECT: Group = Group::GROUP_3;

/// Interaction groups for a collider of group `me` touching `with`.
pub(crate) fn groups(me: Group, with: Group) -> InteractionGroups {
    InteractionGroups::new(me, with, InteractionTestMode::And)
}

/// Robot parts collide with the ground only (no self-collision): the contacts the
/// tasks need, and nothing the solver must pay for in vain.
pub(crate) fn robot_groups() -> InteractionGroups {
    InteractionGroups::new(ROBOT, GROUND, InteractionTestMode::And)
}

/// The ground collides with robot parts.
pub(crate) fn ground_groups() -> InteractionGroups {
    InteractionGroups::new(GROUND, ROBOT, InteractionTestMode::And)
}

/// Parts that touch nothing (they still carry mass).
pub(crate) fn ghost_groups() -> InteractionGroups {
    InteractionGroups::none()
}

/// The signed rotation angle of `body2` relative to `body1` about `axis` (given in
/// `body1`'s frame), for bodies built with identity rotations: 0 in the initial pose.
pub(crate) fn twist_angle(rot1: &Rotation, rot2: &Rotation, axis: Vector) -> f32 {
    let rel = rot1.inverse() * *rot2;
    let along = rel.x * axis.x + rel.y * axis.y + rel.z * axis.z;
    let mut angle = 2.0 * along.atan2(rel.w);
    if angle > std::f32::consts::PI {
        angle -= std::f32::consts::TAU;
    } else if angle < -std::f32::consts::PI {
        angle += std::f32::consts::TAU;
    }
    angle
}

/// The rate of the joint angle measured by [`twist_angle`].
fn twist_rate(rb1: &RigidBody, rb2: &RigidBody, axis: Vector) -> f32 {
    let world_axis = *rb1.rotation() * axis;
    (rb2.angvel() - rb1.angvel()).dot(world_axis)
}

/// Moves the PD target of multibody `joint`'s motor on `axis` (`AngX` for a
/// revolute joint, rad; `LinX` for a prismatic one, m), with gains `kp`, `kd`.
pub(crate) fn set_motor_target(
    world: &mut PhysicsWorld,
    joint: MultibodyJointHandle,
    axis: JointAxis,
    target: f32,
    kp: f32,
    kd: f32,
) {
    if let Some((multibody, link)) = world.multibody_joints.get_mut_internal(joint)
        && let Some(link) = multibody.link_mut(link)
    {
        link.joint.data.set_motor_position(axis, target, kp, kd);
    }
}

/// Angle ([`twist_angle`]) and rate of the revolute joint about `axis` (in
/// `rb1`'s frame) from `rb1` to `rb2`.
pub(crate) fn joint_angle_rate(rb1: &RigidBody, rb2: &RigidBody, axis: Vector) -> (f32, f32) {
    (
        twist_angle(rb1.rotation(), rb2.rotation(), axis),
        twist_rate(rb1, rb2, axis),
    )
}

/// Writes `action` into `slots` (zip: slots past the action's end keep their
/// values), each value clamped to [-1, 1] and a non-finite one replaced by 0.
pub(crate) fn clamp_action(slots: &mut [f32], action: &[f32]) {
    for (slot, &a) in slots.iter_mut().zip(action) {
        *slot = if a.is_finite() {
            a.clamp(-1.0, 1.0)
        } else {
            0.0
        };
    }
}

/// A world configured for the given substep and solver effort, with gravity −z.
pub(crate) fn new_world(dt: f32, solver_iterations: usize) -> PhysicsWorld {
    let mut world = PhysicsWorld::new();
    world.gravity = Vector::new(0.0, 0.0, -9.81);
    world.integration_parameters.dt = dt;
    world.integration_parameters.num_solver_iterations = solver_iterations;
    world.integration_parameters.warmstart_joints = true;
    world
}

/// A vector as three f64 numbers, for a reward-state field.
pub(crate) fn f64x3(v: Vector) -> [f64; 3] {
    [f64::from(v.x), f64::from(v.y), f64::from(v.z)]
}

/// A quaternion as four f64 numbers `[w, x, y, z]`, for a reward-state field.
pub(crate) fn f64_quat(q: &Rotation) -> [f64; 4] {
    [
        f64::from(q.w),
        f64::from(q.x),
        f64::from(q.y),
        f64::from(q.z),
    ]
}

/// A quaternion as four f32 numbers `[w, x, y, z]`, for an observation.
pub(crate) fn f32_quat(q: &Rotation) -> [f32; 4] {
    [q.w, q.x, q.y, q.z]
}

/// An action (or any f32 list) widened to f64, for a reward-state field.
pub(crate) fn widen<const N: usize>(a: &[f32; N]) -> [f64; N] {
    a.map(f64::from)
}

/// A condition as a reward-state flag: 1 when it holds, else 0.
pub(crate) fn flag(b: bool) -> f64 {
    f64::from(u8::from(b))
}

/// Yaw (heading) of a z-up body: the angle of its +x axis in the ground plane.
pub(crate) fn heading(q: &Rotation) -> f32 {
    let fwd = *q * Vector::X;
    fwd.y.atan2(fwd.x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twist_angle_recovers_a_rotation_about_the_axis() {
        let axis = Vector::new(0.0, 1.0, 0.0);
        let q1 = Rotation::IDENTITY;
        let q2 = Rotation::from_axis_angle(axis, 0.7);
        assert!((twist_angle(&q1, &q2, axis) - 0.7).abs() < 1e-5);
        let q3 = Rotation::from_axis_angle(axis, -2.5);
        assert!((twist_angle(&q1, &q3, axis) + 2.5).abs() < 1e-5);
    }
}
