//! Pictures of a physics world for `Env::scene`: each collider becomes a render
//! [`Primitive`]. The arm, hand and valve mark the colliders to draw with a colour
//! in their user data ([`color`]); the others colour each collider themselves.

use crate::physics::f64_quat;
use rapier3d::prelude::*;
use rewardsmith_core::{Primitive, Shape};

/// Packs a colour into a collider's user data, for [`scene_of`].
pub(crate) fn color(rgb: [u8; 3]) -> u128 {
    (1 << 24) | (u128::from(rgb[0]) << 16) | (u128::from(rgb[1]) << 8) | u128::from(rgb[2])
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
        // A lift of −0.0 leaves every height as it is, −0.0 included.
        out.extend(collider_primitive(collider, rgb, -0.0));
    }
}

/// The picture of one collider, raised by `lift` metres: its shape, centre and
/// orientation (a capsule's segment becomes its local z axis); `None` for
/// shapes a picture does not show.
pub(crate) fn collider_primitive(
    collider: &Collider,
    color: [u8; 3],
    lift: f32,
) -> Option<Primitive> {
    let pose = collider.position();
    let shape = collider.shape();
    let (shape, centre, rotation) = if let Some(ball) = shape.as_ball() {
        (
            Shape::Sphere {
                radius: f64::from(ball.radius),
            },
            pose.translation,
            pose.rotation,
        )
    } else if let Some(capsule) = shape.as_capsule() {
        let (a, b) = (capsule.segment.a, capsule.segment.b);
        let axis = b - a;
        let along = Rotation::from_rotation_arc(Vector::Z, axis.normalize_or(Vector::Z));
        (
            Shape::Capsule {
                half_height: f64::from(axis.length() * 0.5),
                radius: f64::from(capsule.radius),
            },
            *pose * ((a + b) * 0.5),
            pose.rotation * along,
        )
    } else if let Some(cuboid) = shape.as_cuboid() {
        let h = cuboid.half_extents;
        (
            Shape::Cuboid {
                half_extents: [f64::from(h.x), f64::from(h.y), f64::from(h.z)],
            },
            pose.translation,
            pose.rotation,
        )
    } else if shape.as_halfspace().is_some() {
        (Shape::Ground, Vector::ZERO, Rotation::IDENTITY)
    } else {
        return None;
    };
    Some(Primitive {
        shape,
        position: [
            f64::from(centre.x),
            f64::from(centre.y),
            f64::from(centre.z + lift),
        ],
        rotation: f64_quat(&rotation),
        color,
        marks: None,
    })
}
