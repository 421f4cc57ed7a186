//! A picture of the world: simple shaded primitives with poses, which an
//! environment can describe so that rollouts can be rendered without knowing
//! anything about its physics engine.

use serde::{Deserialize, Serialize};

/// The shape of one primitive, in its own frame (capsules and cylinders along z).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// A ball.
    Sphere {
        /// Radius, m.
        radius: f64,
    },
    /// A capsule along the local z axis.
    Capsule {
        /// Half the length of the segment between the cap centres, m.
        half_height: f64,
        /// Radius, m.
        radius: f64,
    },
    /// A box.
    Cuboid {
        /// Half extents along x, y, z, m.
        half_extents: [f64; 3],
    },
    /// The ground plane z = 0 (pose ignored).
    Ground,
}

/// One primitive placed in the world.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Primitive {
    /// The shape.
    pub shape: Shape,
    /// Position of the shape's centre, world frame, m.
    pub position: [f64; 3],
    /// Orientation as a unit quaternion `[w, x, y, z]`.
    pub rotation: [f64; 4],
    /// Colour, sRGB.
    pub color: [u8; 3],
    /// The reward-state field this primitive pictures when it is a marker
    /// rather than a body (a target, a goal spot): pictures of a task that
    /// does not use the field leave it out. `None` for bodies.
    #[serde(skip)]
    pub marks: Option<&'static str>,
}
