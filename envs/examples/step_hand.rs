//! Steps one hand with random actions, for profilers and tuning:
//! `cargo run --release -p rewardsmith-envs --example step_hand -- 2000 [pen]
//! [--substeps N] [--iterations N] [--pgs N] [--friction-in-bias]` prints µs per
//! env step and how the object fares at rest, under random actions (drops, joint
//! limit overshoot, penetration) and under a scripted stroke that turns it.

use rewardsmith_core::{Env, SplitMix64};
use rewardsmith_envs::hand::{
    CUBE_HALF, Hand, Object, PEN_HALF_LENGTH, PEN_RADIUS, RANGES, Stepping, TIP_RADIUS,
};

fn main() {
    let mut steps = 2000usize;
    let mut object = Object::Cube;
    let mut stepping = Stepping::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = || args.next().and_then(|s| s.parse().ok()).expect("a number");
        match arg.as_str() {
            "pen" => object = Object::Pen,
            "--substeps" => stepping.substeps = number(),
            "--iterations" => stepping.solver_iterations = number(),
            "--pgs" => stepping.pgs_iterations = number(),
            "--friction-in-bias" => stepping.friction_in_bias_pass = true,
            n => steps = n.parse().expect("steps, pen or a --flag"),
        }
    }
    println!("{object:?}, {stepping:?}");
    let mut env = Hand::with_stepping(object, stepping);
    let spec = env.spec().state.clone();
    let at = |name: &str| spec.field(name).map_or(0, |f| f.offset);
    let (pos, quat, joints, tips) = (
        at("object_pos"),
        at("object_quat"),
        at("joint_pos"),
        at("fingertip_pos"),
    );
    let (linvel, w) = (at("object_linvel"), at("object_angvel"));
    let mut state = spec.zeroed();

    // At rest: the object must settle and stay still.
    env.reset(0);
    let mut rest_drop = false;
    let mut rest_speed = 0.0f64;
    for t in 0..100 {
        rest_drop |= env.step(&[0.0; 9]).terminated;
        env.reward_state(&mut state);
        if t >= 50 {
            rest_speed = rest_speed.max(norm(&state[linvel..linvel + 3]));
        }
    }
    println!(
        "at rest: object {:?} (dropped: {rest_drop}, fastest after 2.5 s {rest_speed:.4} m/s), joints {:?}, tips {:?}",
        &state[pos..pos + 3],
        &state[joints..joints + 3],
        &state[tips..tips + 3]
    );

    // Random targets held 5 steps.
    let mut rng = SplitMix64::new(1);
    let mut action = [0.0f32; 9];
    let (mut drops, mut episodes, mut t_ep) = (0usize, 1usize, 0usize);
    let (mut spin, mut fastest, mut roll) = (0.0f64, 0.0f64, 0.0f64);
    let axis_spin = at("axis_spin");
    let (mut overshoot, mut overshooting) = (0.0f64, 0usize);
    let (mut deepest, mut deep) = (0.0f64, 0usize);
    let mut below_palm = 0.0f64;
    let start = std::time::Instant::now();
    for t in 0..steps {
        if t % 5 == 0 {
            for a in &mut action {
                *a = rng.uniform(-1.0, 1.0) as f32;
            }
        }
        let info = env.step(&action);
        env.reward_state(&mut state);
        spin += state[w + 2].abs();
        roll += state[axis_spin].abs();
        fastest = fastest.max(state[w + 2].abs());
        let mut worst = 0.0f64;
        for (j, &angle) in state[joints..joints + 9].iter().enumerate() {
            let [lo, hi] = RANGES[j % 3].map(f64::from);
            worst = worst.max(lo - angle).max(angle - hi);
        }
        overshoot = overshoot.max(worst);
        overshooting += usize::from(worst > 0.05);
        let (p, q) = (&state[pos..pos + 3], &state[quat..quat + 4]);
        let mut step_depth = 0.0f64;
        for f in 0..3 {
            let tip = &state[tips + 3 * f..tips + 3 * f + 3];
            step_depth =
                step_depth.max(f64::from(TIP_RADIUS) - surface_distance(object, p, q, tip));
        }
        deepest = deepest.max(step_depth);
        deep += usize::from(step_depth > 0.005);
        below_palm = below_palm.max(-lowest_point(object, p, q));
        t_ep += 1;
        if info.terminated || t_ep >= 200 {
            drops += usize::from(info.terminated);
            episodes += 1;
            t_ep = 0;
            env.reset(t as u64);
        }
    }
    let per = start.elapsed().as_secs_f64() / steps as f64;
    println!(
        "{:.1} µs per env step ({:.0} steps/s); {drops} drops in {episodes} episodes; mean |yaw rate| {:.2}, max {fastest:.2} rad/s; mean |axis_spin| {:.2} rad/s",
        per * 1e6,
        1.0 / per,
        spin / steps as f64,
        roll / steps as f64
    );
    println!(
        "joint limits: worst overshoot {overshoot:.3} rad, {overshooting} steps beyond 0.05 rad; \
         fingertips into the object: deepest {:.1} mm, {deep} steps beyond 5 mm; object below the palm: {:.1} mm",
        deepest * 1e3,
        below_palm * 1e3
    );

    // A scripted stroke: the fingers close on the object with their abduction
    // action at -1 (flexion actions 0.5), then all sweep counter-clockwise to +1;
    // the object's turn about z during the sweep, mean over 8 seeds. (The notes'
    // figures were measured when these actions spanned the whole joint ranges:
    // abduction ±0.6 rad.)
    let (mut turned, mut stroke_drops) = (0.0f64, 0usize);
    for seed in 0..8 {
        env.reset(seed);
        let mut yaw = Vec::new();
        for t in 0..50 {
            let sweep = (-1.0 + 0.1 * (t as f32 - 20.0)).clamp(-1.0, 1.0);
            if env.step(&[sweep, 0.5, 0.5].repeat(3)).terminated {
                stroke_drops += 1;
                break;
            }
            env.reward_state(&mut state);
            let q = &state[quat..quat + 4];
            yaw.push(
                (2.0 * (q[0] * q[3] + q[1] * q[2])).atan2(1.0 - 2.0 * (q[2] * q[2] + q[3] * q[3])),
            );
        }
        if yaw.len() == 50 {
            let mut d = yaw[49] - yaw[19];
            if d > std::f64::consts::PI {
                d -= std::f64::consts::TAU;
            } else if d < -std::f64::consts::PI {
                d += std::f64::consts::TAU;
            }
            turned += d;
        }
    }
    println!(
        "scripted stroke: mean turn {:.2} rad, {stroke_drops} drops in 8",
        turned / 8.0
    );
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `v` rotated into the frame of the unit quaternion `q` = [w, x, y, z].
fn to_body(q: &[f64], v: [f64; 3]) -> [f64; 3] {
    let (w, x, y, z) = (q[0], -q[1], -q[2], -q[3]);
    let t = [
        2.0 * (y * v[2] - z * v[1]),
        2.0 * (z * v[0] - x * v[2]),
        2.0 * (x * v[1] - y * v[0]),
    ];
    [
        v[0] + w * t[0] + (y * t[2] - z * t[1]),
        v[1] + w * t[1] + (z * t[0] - x * t[2]),
        v[2] + w * t[2] + (x * t[1] - y * t[0]),
    ]
}

/// Signed distance from `point` to the object's surface, m.
fn surface_distance(object: Object, p: &[f64], q: &[f64], point: &[f64]) -> f64 {
    let local = to_body(q, [point[0] - p[0], point[1] - p[1], point[2] - p[2]]);
    match object {
        Object::Cube => {
            let h = f64::from(CUBE_HALF);
            let d = local.map(|c| c.abs() - h);
            let outside = norm(&d.map(|c| c.max(0.0)));
            outside + d[0].max(d[1]).max(d[2]).min(0.0)
        }
        Object::Pen => {
            let h = f64::from(PEN_HALF_LENGTH);
            let along = local[2].clamp(-h, h);
            norm(&[local[0], local[1], local[2] - along]) - f64::from(PEN_RADIUS)
        }
    }
}

/// `v` rotated from the frame of the unit quaternion `q` into the world.
fn to_world(q: &[f64], v: [f64; 3]) -> [f64; 3] {
    to_body(&[q[0], -q[1], -q[2], -q[3]], v)
}

/// Height of the object's lowest point above the palm (the palm's top is z = 0,
/// its half side 0.07 m), m; 0 when no corner or pen end is over the palm.
fn lowest_point(object: Object, p: &[f64], q: &[f64]) -> f64 {
    let (points, radius): (Vec<[f64; 3]>, f64) = match object {
        Object::Cube => {
            let h = f64::from(CUBE_HALF);
            let corners = (0..8)
                .map(|i| {
                    let s = |bit: usize| if i >> bit & 1 == 1 { h } else { -h };
                    [s(0), s(1), s(2)]
                })
                .collect();
            (corners, 0.0)
        }
        Object::Pen => {
            let h = f64::from(PEN_HALF_LENGTH);
            (vec![[0.0, 0.0, h], [0.0, 0.0, -h]], f64::from(PEN_RADIUS))
        }
    };
    points
        .into_iter()
        .map(|local| {
            let v = to_world(q, local);
            [p[0] + v[0], p[1] + v[1], p[2] + v[2] - radius]
        })
        .filter(|c| c[0].abs() < 0.07 && c[1].abs() < 0.07)
        .map(|c| c[2])
        .fold(0.0, f64::min)
}
