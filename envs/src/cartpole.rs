//! `cartpole`: a cart on a rail with a pole hinged on top.
//!
//! The cart slides on a prismatic joint along x (hard stops at ±2.4 m); the pole
//! turns on a revolute joint about y. The action is a horizontal force on the cart
//! (±10 N, as in the classic control benchmark). One env step is 0.02 s: two
//! 0.01 s substeps. Parts touch nothing; only joints and gravity act.

use crate::physics::{clamp_action, f64x3, ghost_groups, new_world, twist_angle};
use crate::scene::collider_primitive;
use rapier3d::prelude::*;
use rewardsmith_core::{
    Env, EnvSpec, Primitive, ScalarHandle, Shape, SplitMix64, StateSpec, StateWriter, StepInfo,
    VectorHandle,
};
use std::sync::{Arc, OnceLock};

const SUBSTEP: f32 = 0.01;
const FRAME_SKIP: usize = 2;
/// Half the rail length, m.
pub const RAIL: f32 = 2.4;
/// Pole length, m.
const POLE: f32 = 1.0;
/// Cart mass, kg.
const CART_MASS: f32 = 1.0;
/// Pole mass, kg.
const POLE_MASS: f32 = 0.1;
/// Force at action ±1, N.
const MAX_FORCE: f32 = 10.0;

/// Pole angle beyond which a balancing episode ends, rad (≈ 11.5°).
pub const FALL_ANGLE: f32 = 0.2;
/// Cart offset beyond which a balancing episode ends, m.
pub const OUT_OF_BOUNDS: f32 = 2.3;

/// How an episode starts, and whether a fall ends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Pole near upright (angle uniform in ±0.05 rad); the episode ends when the
    /// pole leans past [`FALL_ANGLE`] or the cart passes [`OUT_OF_BOUNDS`].
    Upright,
    /// Pole hanging down (angle π ± 0.05 rad); the episode runs to its time limit.
    Hanging,
}

/// The observation, part by part.
mod obs {
    use rewardsmith_core::ObsSpan;
    /// Cart position along the rail.
    pub const CART_POS: ObsSpan = ObsSpan::first(1);
    /// Cart velocity.
    pub const CART_VEL: ObsSpan = CART_POS.then(1);
    /// Sine of the pole angle.
    pub const SIN: ObsSpan = CART_VEL.then(1);
    /// Cosine of the pole angle.
    pub const COS: ObsSpan = SIN.then(1);
    /// Pole angular rate.
    pub const ANGVEL: ObsSpan = COS.then(1);
    /// Observation length.
    pub const DIM: usize = ANGVEL.end();
}

/// The handles of the reward-state fields, in declaration order.
#[derive(Clone, Copy, Debug)]
struct Fields {
    cart_pos: ScalarHandle,
    cart_vel: ScalarHandle,
    pole_angle: ScalarHandle,
    pole_angvel: ScalarHandle,
    pole_up: ScalarHandle,
    pole_tip: VectorHandle<3>,
    action: ScalarHandle,
}

/// The cart-pole system.
pub struct Cartpole {
    spec: Arc<EnvSpec>,
    fields: &'static Fields,
    world: PhysicsWorld,
    cart: RigidBodyHandle,
    pole: RigidBodyHandle,
    start: Start,
    action: f32,
}

/// The cart-pole's fixed facts, built once.
pub fn spec() -> Arc<EnvSpec> {
    declared().0.clone()
}

/// The cart-pole's fixed facts and the handles of its reward-state fields, built once.
// One line per field reads as a table; rustfmt would split each into six lines.
#[rustfmt::skip]
fn declared() -> &'static (Arc<EnvSpec>, Fields) {
    static DECLARED: OnceLock<(Arc<EnvSpec>, Fields)> = OnceLock::new();
    DECLARED.get_or_init(|| {
        let mut s = StateSpec::builder();
        let fields = Fields {
            cart_pos: s.add_scalar("cart_pos", "m", "world", "cart position along the rail; 0 is the centre, the rail ends at ±2.4"),
            cart_vel: s.add_scalar("cart_vel", "m/s", "world", "cart velocity along the rail"),
            pole_angle: s.add_scalar("pole_angle", "rad", "world", "pole angle from upright, in (-pi, pi]; 0 is straight up, ±pi hanging down, positive leans towards +x"),
            pole_angvel: s.add_scalar("pole_angvel", "rad/s", "world", "rate of pole_angle"),
            pole_up: s.add_scalar("pole_up", "1", "world", "cosine of pole_angle: 1 upright, 0 horizontal, -1 hanging down"),
            pole_tip: s.add_vec3("pole_tip", "m", "world", "position of the pole's free end; z is its height relative to the hinge"),
            action: s.add_scalar("action", "1", "actuator", "the force command applied this step, in [-1, 1] (±10 N)"),
        };
        let state = s.build();
        let spec = Arc::new(EnvSpec {
            name: "cartpole".to_string(),
            description: "A cart (1 kg) slides along a straight rail on the x axis, between hard \
                stops at ±2.4 m. A pole (0.1 kg, 1 m long) is hinged on top of the cart and turns \
                freely in the x–z plane under gravity (-9.81 m/s² along z). Frame: x runs along \
                the rail (+x is to the right in pictures), z is up; x = 0 is the rail's middle, \
                where the cart starts (within ±0.05 m)."
                .to_string(),
            obs_dim: obs::DIM,
            action_dim: 1,
            action_doc: "horizontal force on the cart, ±1 ↔ ±10 N (positive pushes towards +x)"
                .to_string(),
            dt: (f64::from(SUBSTEP) * FRAME_SKIP as f64 * 1e6).round() / 1e6,
            state,
        });
        (spec, fields)
    })
}

impl Cartpole {
    /// A cart-pole whose episodes start as `start` says.
    #[must_use]
    pub fn new(start: Start) -> Self {
        let (spec, fields) = declared();
        let mut env = Self {
            spec: spec.clone(),
            fields,
            world: new_world(SUBSTEP, 4),
            cart: RigidBodyHandle::invalid(),
            pole: RigidBodyHandle::invalid(),
            start,
            action: 0.0,
        };
        env.build(0.0, 0.0, 0.0, 0.0);
        env
    }

    fn build(&mut self, x: f32, v: f32, angle: f32, rate: f32) {
        let mut world = new_world(SUBSTEP, 4);
        let rail = world.insert_body(RigidBodyBuilder::fixed());
        let cart = world.insert_body(
            RigidBodyBuilder::dynamic()
                .can_sleep(false)
                .translation(Vector::new(x, 0.0, 0.0))
                .linvel(Vector::new(v, 0.0, 0.0)),
        );
        world.insert_collider(
            ColliderBuilder::cuboid(0.2, 0.15, 0.1)
                .mass(CART_MASS)
                .collision_groups(ghost_groups()),
            Some(cart),
        );
        // The pole body's origin is the hinge; built upright, then rotated.
        let rot = Rotation::from_axis_angle(Vector::Y, angle);
        let com = Vector::new(0.0, 0.0, POLE * 0.5);
        let pole = world.insert_body(
            RigidBodyBuilder::dynamic()
                .can_sleep(false)
                .translation(Vector::new(x, 0.0, 0.0))
                .rotation(Vector::Y * angle)
                .linvel(Vector::new(v, 0.0, 0.0) + Vector::new(0.0, rate, 0.0).cross(rot * com))
                .angvel(Vector::new(0.0, rate, 0.0)),
        );
        world.insert_collider(
            ColliderBuilder::capsule_from_endpoints(
                Vector::ZERO,
                Vector::new(0.0, 0.0, POLE),
                0.02,
            )
            .mass(POLE_MASS)
            .collision_groups(ghost_groups()),
            Some(pole),
        );
        let slider = PrismaticJointBuilder::new(Vector::X)
            .limits([-RAIL, RAIL])
            .local_anchor1(Vector::ZERO)
            .local_anchor2(Vector::new(-x, 0.0, 0.0));
        world.insert_impulse_joint(rail, cart, slider);
        let hinge = RevoluteJointBuilder::new(Vector::Y)
            .local_anchor1(Vector::ZERO)
            .local_anchor2(Vector::ZERO);
        world.insert_impulse_joint(cart, pole, hinge);
        self.world = world;
        self.cart = cart;
        self.pole = pole;
        self.action = 0.0;
    }

    fn cart_body(&self) -> &RigidBody {
        &self.world.bodies[self.cart]
    }

    fn pole_body(&self) -> &RigidBody {
        &self.world.bodies[self.pole]
    }

    /// Pole angle from upright, positive towards +x, in (-π, π].
    fn angle(&self) -> f32 {
        twist_angle(&Rotation::IDENTITY, self.pole_body().rotation(), Vector::Y)
    }
}

impl Env for Cartpole {
    fn spec(&self) -> &Arc<EnvSpec> {
        &self.spec
    }

    /// The cart and pole raised above a ground plane and a rail (the physics
    /// has neither: the rail is a joint).
    fn scene(&self, out: &mut Vec<Primitive>) {
        const LIFT: f32 = 0.3;
        out.clear();
        out.push(Primitive {
            shape: Shape::Ground,
            position: [0.0; 3],
            rotation: [1.0, 0.0, 0.0, 0.0],
            color: [0, 0, 0],
            marks: None,
        });
        out.push(Primitive {
            shape: Shape::Cuboid {
                half_extents: [f64::from(RAIL) + 0.2, 0.03, 0.02],
            },
            position: [0.0, 0.0, f64::from(LIFT) - 0.12],
            rotation: [1.0, 0.0, 0.0, 0.0],
            color: [120, 120, 120],
            marks: None,
        });
        for (_, collider) in self.world.colliders.iter() {
            let color = if collider.parent() == Some(self.cart) {
                [70, 110, 200]
            } else {
                [230, 140, 50]
            };
            out.extend(collider_primitive(collider, color, LIFT));
        }
    }

    fn reset(&mut self, seed: u64) {
        let mut rng = SplitMix64::new(seed);
        let mut u = |r: f64| rng.uniform(-r, r) as f32;
        let (x, v, a, w) = (u(0.05), u(0.05), u(0.05), u(0.05));
        let base = match self.start {
            Start::Upright => 0.0,
            Start::Hanging => std::f32::consts::PI,
        };
        self.build(x, v, base + a, w);
    }

    fn step(&mut self, action: &[f32]) -> StepInfo {
        // An empty action means 0, not the last step's force.
        let mut slot = [0.0];
        clamp_action(&mut slot, action);
        self.action = slot[0];
        let force = Vector::new(self.action * MAX_FORCE, 0.0, 0.0);
        let cart = &mut self.world.bodies[self.cart];
        cart.reset_forces(false);
        cart.add_force(force, true);
        for _ in 0..FRAME_SKIP {
            self.world.step();
        }
        let fell = self.angle().abs() > FALL_ANGLE
            || self.cart_body().translation().x.abs() > OUT_OF_BOUNDS;
        StepInfo {
            terminated: self.start == Start::Upright && fell,
            truncated: false,
        }
    }

    fn observe(&self, obs: &mut [f32]) {
        let angle = self.angle();
        obs[obs::CART_POS.start()] = self.cart_body().translation().x;
        obs[obs::CART_VEL.start()] = self.cart_body().linvel().x;
        obs[obs::SIN.start()] = angle.sin();
        obs[obs::COS.start()] = angle.cos();
        obs[obs::ANGVEL.start()] = self.pole_body().angvel().y;
    }

    fn reward_state(&self, out: &mut [f64]) {
        let f = self.fields;
        let mut w = StateWriter::new(&self.spec.state, out);
        let angle = self.angle();
        w.set(f.cart_pos, f64::from(self.cart_body().translation().x));
        w.set(f.cart_vel, f64::from(self.cart_body().linvel().x));
        w.set(f.pole_angle, f64::from(angle));
        w.set(f.pole_angvel, f64::from(self.pole_body().angvel().y));
        w.set(f.pole_up, f64::from(angle.cos()));
        let tip = self.pole_body().position() * Vector::new(0.0, 0.0, POLE);
        w.set(f.pole_tip, f64x3(tip));
        w.set(f.action, f64::from(self.action));
    }
}
