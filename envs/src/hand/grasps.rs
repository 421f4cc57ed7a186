//! The settled grasps the free-object hand's episodes start from, after HORA
//! (Qi et al., "In-Hand Object Rotation via Rapid Motor Adaptation"): per
//! object, candidates with the grasp pose jittered and the object dropped on
//! the palm at a random yaw are held for 1 s, and those in which the object
//! lies still, on the palm, under at least two fingertips are kept. Built once
//! per object and process ([`grasps`]), deterministically: the same grasps on
//! every machine and thread.

use super::{Object, RANGES, Stepping, assemble, is_dropped, motion, pose_of};
use crate::physics::f32_quat;
use rapier3d::prelude::*;
use rewardsmith_core::SplitMix64;
use std::sync::OnceLock;
use std::time::Instant;

/// Settled grasps cached per object (a few hundred, as HORA's grasp caches
/// hold per object scale on a far larger budget).
pub const GRASPS: usize = 256;
/// Candidate grasps simulated per object at most; the cache keeps what it has
/// found by then.
const GRASP_TRIES: usize = 2048;
/// Seed of the candidate grasps.
const GRASP_SEED: u64 = 1;
/// Env steps a candidate grasp is held before it is judged (1 s).
const SETTLE_STEPS: usize = 20;
/// Half-width of the uniform jitter of the grasp pose per joint, rad:
/// abduction, proximal flexion, distal flexion.
const GRASP_JITTER: [f32; 3] = [0.15, 0.1, 0.1];
/// Half-width of the uniform shift of a candidate's object on the palm, m.
const GRASP_SHIFT: f64 = 0.01;
/// Fastest motion over the last step, m/s and rad/s, of an object that
/// counts as settled.
const SETTLED: [f32; 2] = [0.02, 0.2];

/// A settled start of an episode: the object at rest on the palm under the
/// fingertips.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grasp {
    /// Joint angles, per finger `[abduction, proximal, distal]`, rad.
    pub joints: [f32; 9],
    /// The object's centre, m.
    pub position: [f32; 3],
    /// The object's orientation, a unit quaternion `[w, x, y, z]`.
    pub rotation: [f32; 4],
    /// Fingertips touching the object when the grasp was judged (2 or 3).
    pub tips: usize,
}

impl Grasp {
    /// The object's centre and orientation.
    pub(super) fn object_at(&self) -> (Vector, Rotation) {
        let [w, x, y, z] = self.rotation;
        (
            Vector::from_array(self.position),
            Rotation::from_xyzw(x, y, z, w),
        )
    }
}

/// The grasps one object's episodes start from.
#[derive(Clone, Debug)]
pub struct GraspCache {
    /// The grasps, in the order they were found ([`GRASPS`] of them unless
    /// the most candidates the build tries found fewer).
    pub grasps: Vec<Grasp>,
    /// Candidates simulated to find them.
    pub tried: usize,
    /// Wall time of the build, ms: a measurement, never part of a result.
    pub build_ms: f64,
}

impl GraspCache {
    /// Simulates candidate grasps of `kind` until [`GRASPS`] settled ones are
    /// found: the grasp pose jittered per joint, the object on the palm at a
    /// random yaw and shift, the targets held for 1 s; a candidate is kept
    /// when the object lies still, on the palm, under at least two
    /// fingertips. Deterministic: the same grasps on every call.
    ///
    /// # Panics
    /// If no candidate settles (the hand's geometry or physics is broken).
    #[must_use]
    pub fn build(kind: Object) -> Self {
        let started = Instant::now();
        let mut rng = SplitMix64::new(GRASP_SEED);
        let pose = kind.grasp_pose();
        let mut grasps = Vec::with_capacity(GRASPS);
        let mut tried = 0;
        while grasps.len() < GRASPS && tried < GRASP_TRIES {
            tried += 1;
            let targets: [f32; 9] = std::array::from_fn(|j| {
                let ([lo, hi], jitter) = (RANGES[j % 3], f64::from(GRASP_JITTER[j % 3]));
                (pose[j % 3] + rng.uniform(-jitter, jitter) as f32).clamp(lo, hi)
            });
            let yaw = rng.uniform(-std::f64::consts::PI, std::f64::consts::PI) as f32;
            let shift = Vector::new(
                rng.uniform(-GRASP_SHIFT, GRASP_SHIFT) as f32,
                rng.uniform(-GRASP_SHIFT, GRASP_SHIFT) as f32,
                0.0,
            );
            if let Some(grasp) = settle(kind, &targets, kind.resting(yaw, shift)) {
                grasps.push(grasp);
            }
        }
        assert!(
            !grasps.is_empty(),
            "no {kind:?} grasp settled in {tried} tries"
        );
        Self {
            grasps,
            tried,
            build_ms: started.elapsed().as_secs_f64() * 1e3,
        }
    }
}

/// Holds the fingers at `targets` over the object placed at `start` for 1 s;
/// the grasp they settle into, if the object lies still on the palm under at
/// least two fingertips.
fn settle(kind: Object, targets: &[f32; 9], start: (Vector, Rotation)) -> Option<Grasp> {
    let stepping = Stepping::default();
    let (mut world, fingers, object) = assemble(kind, stepping, targets, start.0, start.1);
    let mut last = start;
    for _ in 0..SETTLE_STEPS {
        fingers.set_targets(&mut world, targets);
        last = pose_of(&world.bodies[object]);
        for _ in 0..stepping.substeps {
            world.step();
        }
        if is_dropped(world.bodies[object].translation()) {
            return None;
        }
    }
    let (p, q) = pose_of(&world.bodies[object]);
    let (v, w) = motion(last, (p, q));
    let collider = *world.bodies[object].colliders().first()?;
    let tips = fingers.touching(&world, collider);
    if v.length() > SETTLED[0] || w.length() > SETTLED[1] || tips < 2 {
        return None;
    }
    Some(Grasp {
        joints: std::array::from_fn(|j| fingers.joint(&world, j / 3, j % 3).0),
        position: p.to_array(),
        rotation: f32_quat(&q),
        tips,
    })
}

/// The settled grasps `object`'s episodes start from, built on first use
/// (a few hundred ms per object) and the same in every process.
pub fn grasps(object: Object) -> &'static GraspCache {
    static CUBE: OnceLock<GraspCache> = OnceLock::new();
    static PEN: OnceLock<GraspCache> = OnceLock::new();
    let cell = match object {
        Object::Cube => &CUBE,
        Object::Pen => &PEN,
    };
    cell.get_or_init(|| GraspCache::build(object))
}
