//! Builds the hand's grasp caches and describes them:
//! `cargo run --release -p rewardsmith-envs --example grasp_cache` prints, per
//! object, the build's wall time and candidates, how many grasps touch two or
//! three fingertips, where the object and the fingertips lie, and how the grasps
//! fare under zero actions (the grasp pose) for 2 s.

use rewardsmith_core::{Env, StateView};
use rewardsmith_envs::hand::{Hand, Object, grasps};

fn main() {
    for object in [Object::Cube, Object::Pen] {
        let cache = grasps(object);
        let n = cache.grasps.len();
        let three = cache.grasps.iter().filter(|g| g.tips == 3).count();
        println!(
            "{object:?}: {n} grasps from {} candidates in {:.0} ms; {three} under three fingertips, {} under two",
            cache.tried,
            cache.build_ms,
            n - three
        );
        let mut env = Hand::new(object);
        let spec = env.spec().clone();
        let mut s = spec.state.zeroed();
        let (mut z, mut r, mut tip_r, mut tip_z) =
            (Stats::new(), Stats::new(), Stats::new(), Stats::new());
        let (mut held, mut drift, mut turned) = (0usize, Stats::new(), Stats::new());
        for i in 0..n {
            env.reset_to_grasp(i, 0);
            env.reward_state(&mut s);
            let view = StateView::new(&spec.state, &s);
            let p = view.get("object_pos").unwrap().to_vec();
            z.add(p[2]);
            r.add(p[0].hypot(p[1]));
            let tips = view.get("fingertip_pos").unwrap().to_vec();
            for f in 0..3 {
                tip_r.add(tips[3 * f].hypot(tips[3 * f + 1]));
                tip_z.add(tips[3 * f + 2]);
            }
            let mut yaw = 0.0;
            for _ in 0..40 {
                env.step(&[0.0; 9]);
                env.reward_state(&mut s);
                yaw += StateView::new(&spec.state, &s)
                    .get("object_angvel")
                    .unwrap()[2]
                    * 0.05;
            }
            let q = StateView::new(&spec.state, &s)
                .get("object_pos")
                .unwrap()
                .to_vec();
            drift.add(((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2)).sqrt());
            turned.add(yaw.abs());
            held += usize::from(env.tips_touching() >= 2);
        }
        println!("  object centre: height {z}, off centre {r}");
        println!("  fingertip centres: off centre {tip_r}, height {tip_z}");
        println!(
            "  after 2 s of zero actions: {held} of {n} under at least two fingertips; moved {drift} m, turned {turned} rad"
        );
    }
}

/// Mean, least and greatest of some numbers.
struct Stats(Vec<f64>);

impl Stats {
    fn new() -> Self {
        Self(Vec::new())
    }

    fn add(&mut self, v: f64) {
        self.0.push(v);
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mean = self.0.iter().sum::<f64>() / self.0.len().max(1) as f64;
        let lo = self.0.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self.0.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        write!(f, "{mean:.4} ({lo:.4} to {hi:.4})")
    }
}
