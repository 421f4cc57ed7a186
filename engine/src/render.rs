//! Rollout pictures: a small software ray caster of an environment's scene
//! ([`Env::scene`]: spheres, capsules, boxes and a ground grid, Lambert-shaded
//! with sun shadows), a camera that follows the robot, and the results as an
//! animated GIF (fixed 6×6×6 palette, ordered dithering: fast and
//! deterministic) and a PNG filmstrip. Pure Rust; no GPU, no system library.

use anyhow::{Context, anyhow, bail};
use rayon::prelude::*;
use rewardsmith_core::{Env, Primitive, Shape, Task, derive_seed};
use rewardsmith_envs::rollout::Controller;
use std::path::Path;
use std::time::Instant;

/// How pictures are made.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderConfig {
    /// Frame width, pixels. Default 320: small files, readable robots.
    pub width: usize,
    /// Frame height, pixels. Default 240.
    pub height: usize,
    /// At most this many frames per episode, one every 0.1 simulated
    /// seconds (the rest of a longer episode is not shown). Default 120:
    /// the first 12 s.
    pub max_frames: usize,
    /// Frames in the PNG filmstrip. Default 6.
    pub filmstrip_frames: usize,
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self {
            width: 320,
            height: 240,
            max_frames: 120,
            filmstrip_frames: 6,
        }
    }
}

impl RenderConfig {
    /// The smaller pictures made for every candidate of a run: 256×192, at
    /// most 60 frames, the first 6 s (a fraction of a candidate's training
    /// time).
    #[must_use]
    pub fn candidate() -> Self {
        Self {
            width: 256,
            height: 192,
            max_frames: 60,
            filmstrip_frames: 6,
        }
    }
}

/// A trained policy's deterministic actions, as a [`Controller`].
#[derive(Clone, Debug)]
pub struct PolicyController(pub rewardsmith_rl::Policy);

impl Controller for PolicyController {
    fn act(&mut self, obs: &[f32], action: &mut [f32]) {
        self.0.act(obs, action);
    }
}

/// Simulated seconds between frames.
const FRAME_INTERVAL_S: f64 = 0.1;

/// What a render did.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderReport {
    /// Frames in the GIF.
    pub frames: usize,
    /// Env steps simulated.
    pub env_steps: usize,
    /// Delay between GIF frames, hundredths of a second.
    pub delay_cs: u16,
    /// Seconds spent simulating (policy and physics).
    pub simulate_s: f64,
    /// Seconds spent ray casting the frames.
    pub raster_s: f64,
    /// Seconds spent encoding the GIF and PNG.
    pub encode_s: f64,
}

/// One rendered frame, RGB8 row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Width, pixels.
    pub width: usize,
    /// Height, pixels.
    pub height: usize,
    /// `width × height × 3` bytes.
    pub rgb: Vec<u8>,
}

/// Runs `episodes` episodes of `controller` on `task` (seeds derived from
/// `seed`) and writes an animated GIF to `gif` and a filmstrip PNG beside it
/// (same name, `.png`).
///
/// # Errors
/// The environment cannot be pictured (empty scene), or a file cannot be written.
pub fn render_rollout(
    task: &Task,
    controller: &mut dyn Controller,
    episodes: usize,
    seed: u64,
    config: &RenderConfig,
    gif: &Path,
) -> anyhow::Result<RenderReport> {
    let t0 = Instant::now();
    let spec = task.env_spec().clone();
    let mut env: Box<dyn Env> = task.make_env();
    // About ten frames per simulated second, shown in real time: fine enough
    // to judge a gait; an episode longer than `max_frames` frames is cut.
    let stride = ((FRAME_INTERVAL_S / spec.dt).round() as usize).max(1);
    let delay_cs = ((stride as f64 * spec.dt * 100.0).round() as u16).max(2);
    let mut obs = vec![0.0f32; spec.obs_dim];
    let mut action = vec![0.0f32; spec.action_dim];
    let mut scenes: Vec<Vec<Primitive>> = Vec::new();
    let mut env_steps = 0;
    let max_frames = config.max_frames.max(2);
    for e in 0..episodes.max(1) {
        let episode_start = scenes.len();
        env.reset(derive_seed(seed, e as u64));
        let scene = task_scene(task, env.as_ref());
        if scene.is_empty() {
            bail!(
                "environment `{}` describes no scene, so it cannot be pictured",
                spec.name
            );
        }
        scenes.push(scene);
        for step in 1..=task.episode_steps {
            env.observe(&mut obs);
            controller.act(&obs, &mut action);
            let info = env.step(&action);
            env_steps += 1;
            let last = info.terminated || step == task.episode_steps;
            if step % stride == 0 || last {
                scenes.push(task_scene(task, env.as_ref()));
            }
            if info.terminated || scenes.len() - episode_start >= max_frames {
                break;
            }
        }
    }
    let t1 = Instant::now();
    let frames = render_frames(&scenes, config);
    let t2 = Instant::now();
    write_gif(gif, &frames, delay_cs)?;
    write_filmstrip(&gif.with_extension("png"), &frames, config.filmstrip_frames)?;
    let t3 = Instant::now();
    Ok(RenderReport {
        frames: frames.len(),
        env_steps,
        delay_cs,
        simulate_s: (t1 - t0).as_secs_f64(),
        raster_s: (t2 - t1).as_secs_f64(),
        encode_s: (t3 - t2).as_secs_f64(),
    })
}

/// The picture of `env` as `task` shows it: markers of reward-state fields
/// the task does not use (another task's target or goal, see
/// [`Primitive::marks`]) are left out, so that a picture shows no goal but
/// the task's own.
#[must_use]
pub fn task_scene(task: &Task, env: &dyn Env) -> Vec<Primitive> {
    let mut scene = Vec::new();
    env.scene(&mut scene);
    scene.retain(|p| p.marks.is_none_or(|field| task.uses_field(field)));
    scene
}

/// Renders every scene, in parallel, with a camera that follows the robot
/// (the mean position of the non-ground primitives, smoothed).
#[must_use]
pub fn render_frames(scenes: &[Vec<Primitive>], config: &RenderConfig) -> Vec<Image> {
    let Some(first) = scenes.first() else {
        return Vec::new();
    };
    // Framing from the first scene: far enough to hold the whole robot; a
    // small one (a hand, radius ≈ 0.15 m) is framed closely, not from the
    // distance that suits a walking robot.
    let (c0, radius) = extent(first);
    let (distance, height) = if radius < 0.4 {
        ((3.0 * radius).max(0.25), c0[2])
    } else {
        ((1.2 * radius + 1.0).clamp(2.0, 12.0), c0[2].max(0.3))
    };
    let mut target = c0;
    let cameras: Vec<Camera> = scenes
        .iter()
        .map(|s| {
            let (c, _) = extent(s);
            target[0] += 0.25 * (c[0] - target[0]);
            target[1] += 0.25 * (c[1] - target[1]);
            Camera::looking_at([target[0], target[1], height], distance, config)
        })
        .collect();
    scenes
        .par_iter()
        .zip(cameras.par_iter())
        .map(|(scene, camera)| render_scene(scene, camera, config))
        .collect()
}

/// The mean centre of the non-ground primitives and the radius holding them.
fn extent(scene: &[Primitive]) -> ([f32; 3], f32) {
    let parts: Vec<&Primitive> = scene
        .iter()
        .filter(|p| !matches!(p.shape, Shape::Ground))
        .collect();
    if parts.is_empty() {
        return ([0.0, 0.0, 0.5], 1.0);
    }
    let n = parts.len() as f32;
    let mut c = [0.0f32; 3];
    for p in &parts {
        for (ck, pk) in c.iter_mut().zip(p.position) {
            *ck += pk as f32 / n;
        }
    }
    let r = parts
        .iter()
        .map(|p| norm(sub(v3(p.position), c)) + bound(&p.shape))
        .fold(0.0f32, f32::max);
    (c, r.max(0.05))
}

type V = [f32; 3];

fn v3(a: [f64; 3]) -> V {
    [a[0] as f32, a[1] as f32, a[2] as f32]
}
fn add(a: V, b: V) -> V {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
fn sub(a: V, b: V) -> V {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn mul(a: V, s: f32) -> V {
    [a[0] * s, a[1] * s, a[2] * s]
}
fn dot(a: V, b: V) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross(a: V, b: V) -> V {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn norm(a: V) -> f32 {
    dot(a, a).sqrt()
}
fn normalize(a: V) -> V {
    let n = norm(a);
    if n > 0.0 { mul(a, 1.0 / n) } else { a }
}

/// Rotates `v` by the unit quaternion `q = [w, x, y, z]`.
fn rotate(q: [f32; 4], v: V) -> V {
    let u = [q[1], q[2], q[3]];
    let t = mul(cross(u, v), 2.0);
    add(add(v, mul(t, q[0])), cross(u, t))
}

fn conj(q: [f32; 4]) -> [f32; 4] {
    [q[0], -q[1], -q[2], -q[3]]
}

/// Radius of a sphere around a shape's centre that holds it.
fn bound(shape: &Shape) -> f32 {
    match *shape {
        Shape::Sphere { radius } => radius as f32,
        Shape::Capsule {
            half_height,
            radius,
        } => (half_height + radius) as f32,
        Shape::Cuboid { half_extents: h } => norm(v3(h)),
        Shape::Ground => f32::INFINITY,
    }
}

struct Camera {
    eye: V,
    forward: V,
    right: V,
    up: V,
    /// tan(fov / 2).
    half: f32,
}

impl Camera {
    fn looking_at(target: V, distance: f32, config: &RenderConfig) -> Self {
        // Behind and to the side, slightly above: forward motion (+x) crosses the picture.
        let offset = mul(normalize([-0.45, -1.0, 0.45]), distance);
        let eye = add(target, offset);
        let forward = normalize(sub(target, eye));
        let right = normalize(cross(forward, [0.0, 0.0, 1.0]));
        let up = cross(right, forward);
        let _ = config;
        Self {
            eye,
            forward,
            right,
            up,
            half: (25.0f32).to_radians().tan(),
        }
    }
}

/// A primitive prepared for ray casting.
struct Prepared {
    shape: Shape,
    centre: V,
    rot: [f32; 4],
    inv: [f32; 4],
    /// Capsule segment ends (world).
    a: V,
    b: V,
    bound: f32,
    color: V,
}

/// The prepared primitives and a sphere holding all of them: a ray that
/// misses the sphere (most ground pixels, most shadow rays) skips them all.
struct Parts {
    list: Vec<Prepared>,
    centre: V,
    radius: f32,
}

impl Parts {
    fn new(list: Vec<Prepared>) -> Self {
        let n = list.len().max(1) as f32;
        let centre = list
            .iter()
            .fold([0.0; 3], |c, p| add(c, mul(p.centre, 1.0 / n)));
        let radius = list
            .iter()
            .map(|p| norm(sub(p.centre, centre)) + p.bound)
            .fold(0.0f32, f32::max);
        Self {
            list,
            centre,
            radius,
        }
    }

    /// Whether the ray from `ro` along `rd` can hit anything.
    fn may_hit(&self, ro: V, rd: V) -> bool {
        if self.list.is_empty() {
            return false;
        }
        let oc = sub(ro, self.centre);
        let b = dot(oc, rd);
        let c = dot(oc, oc) - self.radius * self.radius;
        !(c > 0.0 && b > 0.0 || b * b - c < 0.0)
    }
}

fn prepare(scene: &[Primitive]) -> (Vec<Prepared>, Option<V>) {
    let mut parts = Vec::new();
    let mut ground = None;
    for p in scene {
        let color = [
            f32::from(p.color[0]) / 255.0,
            f32::from(p.color[1]) / 255.0,
            f32::from(p.color[2]) / 255.0,
        ];
        if matches!(p.shape, Shape::Ground) {
            ground = Some(color);
            continue;
        }
        let rot = [
            p.rotation[0] as f32,
            p.rotation[1] as f32,
            p.rotation[2] as f32,
            p.rotation[3] as f32,
        ];
        let centre = v3(p.position);
        let (a, b) = match p.shape {
            Shape::Capsule { half_height, .. } => {
                let axis = rotate(rot, [0.0, 0.0, half_height as f32]);
                (sub(centre, axis), add(centre, axis))
            }
            _ => (centre, centre),
        };
        parts.push(Prepared {
            shape: p.shape,
            centre,
            rot,
            inv: conj(rot),
            a,
            b,
            bound: bound(&p.shape),
            color,
        });
    }
    (parts, ground)
}

/// Nearest hit of the ray with `p`: distance and world normal.
fn intersect(p: &Prepared, ro: V, rd: V) -> Option<(f32, V)> {
    // Bounding sphere first.
    let oc = sub(ro, p.centre);
    let b = dot(oc, rd);
    let c = dot(oc, oc) - p.bound * p.bound;
    if c > 0.0 && b > 0.0 || b * b - c < 0.0 {
        return None;
    }
    match p.shape {
        Shape::Sphere { radius } => {
            let r = radius as f32;
            let c = dot(oc, oc) - r * r;
            let h = b * b - c;
            if h < 0.0 {
                return None;
            }
            let t = -b - h.sqrt();
            (t > 1e-4).then(|| (t, normalize(sub(add(ro, mul(rd, t)), p.centre))))
        }
        Shape::Capsule { radius, .. } => capsule(ro, rd, p.a, p.b, radius as f32),
        Shape::Cuboid { half_extents } => {
            let h = v3(half_extents);
            let o = rotate(p.inv, oc);
            let d = rotate(p.inv, rd);
            let mut t_near = f32::NEG_INFINITY;
            let mut t_far = f32::INFINITY;
            let mut axis = 0;
            for k in 0..3 {
                if d[k].abs() < 1e-9 {
                    if o[k].abs() > h[k] {
                        return None;
                    }
                    continue;
                }
                let t1 = (-h[k] - o[k]) / d[k];
                let t2 = (h[k] - o[k]) / d[k];
                let (lo, hi) = if t1 < t2 { (t1, t2) } else { (t2, t1) };
                if lo > t_near {
                    t_near = lo;
                    axis = k;
                }
                t_far = t_far.min(hi);
            }
            if t_near > t_far || t_near < 1e-4 {
                return None;
            }
            let mut n = [0.0; 3];
            n[axis] = -d[axis].signum();
            Some((t_near, rotate(p.rot, n)))
        }
        Shape::Ground => None,
    }
}

/// Ray against the capsule from `pa` to `pb` of radius `r` (after Quilez).
fn capsule(ro: V, rd: V, pa: V, pb: V, r: f32) -> Option<(f32, V)> {
    let ba = sub(pb, pa);
    let oa = sub(ro, pa);
    let baba = dot(ba, ba);
    let bard = dot(ba, rd);
    let baoa = dot(ba, oa);
    let rdoa = dot(rd, oa);
    let oaoa = dot(oa, oa);
    let a = baba - bard * bard;
    let mut t = None;
    if a.abs() > 1e-9 {
        let b = baba * rdoa - baoa * bard;
        let c = baba * oaoa - baoa * baoa - r * r * baba;
        let h = b * b - a * c;
        if h >= 0.0 {
            let tt = (-b - h.sqrt()) / a;
            let y = baoa + tt * bard;
            if y > 0.0 && y < baba {
                t = Some(tt);
            }
        }
    }
    if t.is_none() {
        // The caps: the nearer sphere hit of the two ends.
        for end in [pa, pb] {
            let oc = sub(ro, end);
            let b = dot(rd, oc);
            let c = dot(oc, oc) - r * r;
            let h = b * b - c;
            if h > 0.0 {
                let tt = -b - h.sqrt();
                if tt > 1e-4 && t.is_none_or(|cur| tt < cur) {
                    t = Some(tt);
                }
            }
        }
    }
    let t = t.filter(|&t| t > 1e-4)?;
    let p = add(ro, mul(rd, t));
    let pa_p = sub(p, pa);
    let k = if baba > 0.0 {
        (dot(pa_p, ba) / baba).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Some((t, normalize(sub(pa_p, mul(ba, k)))))
}

/// Direction towards the sun.
const SUN: V = [-0.35, -0.45, 0.82];

fn render_scene(scene: &[Primitive], camera: &Camera, config: &RenderConfig) -> Image {
    let (parts, ground) = prepare(scene);
    let parts = Parts::new(parts);
    let sun = normalize(SUN);
    let (w, h) = (config.width, config.height);
    let aspect = w as f32 / h as f32;
    let mut rgb = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            let sx = (2.0 * (x as f32 + 0.5) / w as f32 - 1.0) * camera.half * aspect;
            let sy = (1.0 - 2.0 * (y as f32 + 0.5) / h as f32) * camera.half;
            let rd = normalize(add(
                camera.forward,
                add(mul(camera.right, sx), mul(camera.up, sy)),
            ));
            let color = shade(&parts, ground, camera.eye, rd, sun);
            let i = (y * w + x) * 3;
            for k in 0..3 {
                rgb[i + k] = (color[k].clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
            }
        }
    }
    Image {
        width: w,
        height: h,
        rgb,
    }
}

fn sky(rd: V) -> V {
    let t = rd[2].clamp(0.0, 1.0);
    add(mul([0.88, 0.92, 0.96], 1.0 - t), mul([0.55, 0.70, 0.90], t))
}

fn in_shadow(parts: &Parts, p: V, sun: V) -> bool {
    parts.may_hit(p, sun) && parts.list.iter().any(|q| intersect(q, p, sun).is_some())
}

fn shade(parts: &Parts, ground: Option<V>, ro: V, rd: V, sun: V) -> V {
    let mut best: Option<(f32, V, V)> = None;
    let candidates: &[Prepared] = if parts.may_hit(ro, rd) {
        &parts.list
    } else {
        &[]
    };
    for p in candidates {
        if let Some((t, n)) = intersect(p, ro, rd)
            && best.is_none_or(|(bt, _, _)| t < bt)
        {
            best = Some((t, n, p.color));
        }
    }
    if ground.is_some() && rd[2] < -1e-6 && ro[2] > 0.0 {
        let t = -ro[2] / rd[2];
        if best.is_none_or(|(bt, _, _)| t < bt) {
            let p = add(ro, mul(rd, t));
            // A 1 m checker with darker lines every metre.
            let (fx, fy) = (p[0].rem_euclid(1.0), p[1].rem_euclid(1.0));
            let checker = ((p[0].floor() + p[1].floor()) as i64).rem_euclid(2) == 0;
            let mut base = if checker {
                [0.80, 0.80, 0.76]
            } else {
                [0.70, 0.70, 0.66]
            };
            let line = 0.02;
            if fx < line || fx > 1.0 - line || fy < line || fy > 1.0 - line {
                base = [0.45, 0.45, 0.45];
            }
            let lit = if in_shadow(parts, add(p, [0.0, 0.0, 1e-3]), sun) {
                0.55
            } else {
                1.0
            };
            let c = mul(base, 0.35 + 0.65 * lit * sun[2]);
            let fog = (-t / 30.0).exp();
            return add(mul(c, fog), mul(sky(rd), 1.0 - fog));
        }
    }
    match best {
        Some((t, n, color)) => {
            let p = add(add(ro, mul(rd, t)), mul(n, 1e-3));
            let diffuse = dot(n, sun).max(0.0);
            let lit = if diffuse > 0.0 && in_shadow(parts, p, sun) {
                0.0
            } else {
                diffuse
            };
            // A little light from the sky side keeps shadowed parts readable.
            let fill = 0.30 + 0.15 * n[2].max(0.0);
            mul(color, fill + 0.70 * lit)
        }
        None => sky(rd),
    }
}

/// The 6×6×6 colour cube.
fn palette() -> Vec<u8> {
    let mut p = Vec::with_capacity(256 * 3);
    for r in 0..6u8 {
        for g in 0..6u8 {
            for b in 0..6u8 {
                p.extend_from_slice(&[r * 51, g * 51, b * 51]);
            }
        }
    }
    p.resize(256 * 3, 0);
    p
}

const BAYER: [[f32; 4]; 4] = [
    [0.0, 8.0, 2.0, 10.0],
    [12.0, 4.0, 14.0, 6.0],
    [3.0, 11.0, 1.0, 9.0],
    [15.0, 7.0, 13.0, 5.0],
];

fn quantize(img: &Image) -> Vec<u8> {
    let mut out = Vec::with_capacity(img.width * img.height);
    for y in 0..img.height {
        for x in 0..img.width {
            let d = (BAYER[y % 4][x % 4] + 0.5) / 16.0 - 0.5;
            let i = (y * img.width + x) * 3;
            let level = |v: u8| -> u8 {
                let l = f32::from(v) / 51.0 + d;
                l.round().clamp(0.0, 5.0) as u8
            };
            out.push(level(img.rgb[i]) * 36 + level(img.rgb[i + 1]) * 6 + level(img.rgb[i + 2]));
        }
    }
    out
}

/// Writes `frames` as a looping animated GIF, atomically.
///
/// # Errors
/// No frames, or the file cannot be written.
pub fn write_gif(path: &Path, frames: &[Image], delay_cs: u16) -> anyhow::Result<()> {
    let first = frames
        .first()
        .ok_or_else(|| anyhow!("no frames to write"))?;
    let (w, h) = (
        u16::try_from(first.width).context("frame too wide for a GIF")?,
        u16::try_from(first.height).context("frame too tall for a GIF")?,
    );
    let indexed: Vec<Vec<u8>> = frames.par_iter().map(quantize).collect();
    let mut bytes = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut bytes, w, h, &palette())
            .map_err(|e| anyhow!("cannot encode a GIF: {e}"))?;
        encoder
            .set_repeat(gif::Repeat::Infinite)
            .map_err(|e| anyhow!("cannot encode a GIF: {e}"))?;
        for data in &indexed {
            let frame = gif::Frame {
                width: w,
                height: h,
                delay: delay_cs,
                buffer: std::borrow::Cow::Borrowed(data),
                ..gif::Frame::default()
            };
            encoder
                .write_frame(&frame)
                .map_err(|e| anyhow!("cannot encode a GIF: {e}"))?;
        }
    }
    crate::search::write_atomic(path, &bytes)
}

/// Writes `n` evenly spaced frames side by side (each at half size) as a PNG,
/// atomically.
///
/// # Errors
/// No frames, or the file cannot be written.
pub fn write_filmstrip(path: &Path, frames: &[Image], n: usize) -> anyhow::Result<()> {
    let first = frames
        .first()
        .ok_or_else(|| anyhow!("no frames to write"))?;
    let n = n.clamp(1, frames.len());
    let (tw, th) = (first.width / 2, first.height / 2);
    let width = tw * n;
    let mut rgb = vec![0u8; width * th * 3];
    for k in 0..n {
        let f = &frames[if n == 1 {
            0
        } else {
            k * (frames.len() - 1) / (n - 1)
        }];
        for y in 0..th {
            for x in 0..tw {
                for c in 0..3 {
                    let at = |dx: usize, dy: usize| {
                        u16::from(f.rgb[((2 * y + dy) * f.width + 2 * x + dx) * 3 + c])
                    };
                    let v = (at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4;
                    rgb[(y * width + k * tw + x) * 3 + c] = v as u8;
                }
            }
        }
    }
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width as u32, th as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| anyhow!("cannot encode a PNG: {e}"))?;
        writer
            .write_image_data(&rgb)
            .map_err(|e| anyhow!("cannot encode a PNG: {e}"))?;
    }
    crate::search::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_follows_the_quaternion() {
        let s = std::f32::consts::FRAC_1_SQRT_2;
        // 90° about z takes x to y.
        let r = rotate([s, 0.0, 0.0, s], [1.0, 0.0, 0.0]);
        assert!((r[0]).abs() < 1e-6 && (r[1] - 1.0).abs() < 1e-6, "{r:?}");
    }

    #[test]
    fn rays_hit_each_shape_from_the_front() {
        let scene = [
            Shape::Sphere { radius: 0.5 },
            Shape::Capsule {
                half_height: 0.5,
                radius: 0.5,
            },
            Shape::Cuboid {
                half_extents: [0.5, 0.5, 0.5],
            },
        ]
        .map(|shape| Primitive {
            shape,
            position: [0.0, 0.0, 0.0],
            rotation: [1.0, 0.0, 0.0, 0.0],
            color: [255, 0, 0],
            marks: None,
        });
        let (parts, _) = prepare(&scene);
        for p in &parts {
            let (t, n) = intersect(p, [-5.0, 0.0, 0.0], [1.0, 0.0, 0.0]).unwrap();
            assert!((t - 4.5).abs() < 1e-4, "{t}");
            assert!((n[0] + 1.0).abs() < 1e-4, "{n:?}");
            assert!(intersect(p, [-5.0, 3.0, 0.0], [1.0, 0.0, 0.0]).is_none());
        }
    }
}
