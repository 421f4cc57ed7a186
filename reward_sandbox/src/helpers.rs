//! The native maths library registered for reward programs, and its
//! documentation generated from the same table, so the two cannot drift.
//!
//! Helpers run as native Rust (that is where the speed of a Rhai reward comes
//! from). Every parameter accepts floats and integers alike (`clamp(x, 0, 1)`
//! works); vectors are arrays of numbers; quaternions are `[w, x, y, z]`
//! (scalar first), unit length expected.

use rhai::{Array, Dynamic, Engine, EvalAltResult, FLOAT};
use std::f64::consts::PI;
use std::fmt::Write as _;

type RResult<T> = Result<T, Box<EvalAltResult>>;

/// One registered helper: its signature and meaning as shown to reward authors,
/// an example that the tests evaluate, and the code that registers it.
pub(crate) struct Helper {
    /// `name(args) -> type`; the name is everything before `(`.
    pub(crate) signature: &'static str,
    /// One sentence.
    pub(crate) doc: &'static str,
    /// An expression using the helper, and an expression for its value (the
    /// tests evaluate both and compare them).
    pub(crate) example: (&'static str, &'static str),
    register: fn(&mut Engine),
}

impl Helper {
    /// The function name.
    pub(crate) fn name(&self) -> &'static str {
        self.signature.split('(').next().unwrap_or(self.signature)
    }
}

fn type_name(d: &Dynamic) -> &'static str {
    if d.is_float() {
        "float"
    } else if d.is_int() {
        "int"
    } else if d.is_array() {
        "array"
    } else if d.is_map() {
        "map"
    } else if d.is_string() {
        "string"
    } else if d.is_bool() {
        "bool"
    } else if d.is_unit() {
        "()"
    } else {
        "value"
    }
}

fn num(d: &Dynamic, f: &str) -> RResult<f64> {
    if let Ok(x) = d.as_float() {
        Ok(x)
    } else if let Ok(i) = d.as_int() {
        #[allow(clippy::cast_precision_loss)]
        Ok(i as f64)
    } else {
        Err(format!("{f}: expected a number, got {}", type_name(d)).into())
    }
}

/// The array behind a `Dynamic` argument, or a clear error.
fn arr<'a>(d: &'a Dynamic, f: &str) -> RResult<impl std::ops::Deref<Target = Array> + use<'a>> {
    d.read_lock::<Array>()
        .ok_or_else(|| format!("{f}: expected an array of numbers, got {}", type_name(d)).into())
}

fn fixed<const N: usize>(a: &Array, f: &str) -> RResult<[f64; N]> {
    if a.len() != N {
        return Err(format!("{f}: expected an array of {N} numbers, got {}", a.len()).into());
    }
    let mut out = [0.0; N];
    for (o, v) in out.iter_mut().zip(a) {
        *o = num(v, f)?;
    }
    Ok(out)
}

fn pairwise(x: &Array, y: &Array, f: &str, mut each: impl FnMut(f64, f64)) -> RResult<()> {
    if x.len() != y.len() {
        return Err(format!("{f}: arrays differ in length ({} and {})", x.len(), y.len()).into());
    }
    for (p, q) in x.iter().zip(y) {
        each(num(p, f)?, num(q, f)?);
    }
    Ok(())
}

fn array(v: impl IntoIterator<Item = f64>) -> Array {
    v.into_iter().map(Dynamic::from_float).collect()
}

fn map_vec(a: &Array, f: &str, g: impl Fn(f64) -> f64) -> RResult<Array> {
    let mut out = Array::with_capacity(a.len());
    for v in a {
        out.push(Dynamic::from_float(g(num(v, f)?)));
    }
    Ok(out)
}

fn sum_by(a: &Array, f: &str, g: impl Fn(f64) -> f64) -> RResult<f64> {
    let mut s = 0.0;
    for v in a {
        s += g(num(v, f)?);
    }
    Ok(s)
}

fn norm_of(a: &Array, f: &str) -> RResult<f64> {
    Ok(sum_by(a, f, |v| v * v)?.sqrt())
}

fn quat_rotate(q: [f64; 4], v: [f64; 3]) -> [f64; 3] {
    let [w, x, y, z] = q;
    // v' = v + 2 w (u × v) + 2 u × (u × v), with u = (x, y, z).
    let u = [x, y, z];
    let t = cross3(u, v).map(|c| 2.0 * c);
    let ut = cross3(u, t);
    [
        v[0] + w * t[0] + ut[0],
        v[1] + w * t[1] + ut[1],
        v[2] + w * t[2] + ut[2],
    ]
}

fn cross3(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn wrap(a: f64) -> f64 {
    let w = (a + PI).rem_euclid(2.0 * PI) - PI;
    if w == -PI { PI } else { w }
}

/// dm_control's `tolerance` with a Gaussian sigmoid and value 0.1 at the margin.
fn tolerance(x: f64, lo: f64, hi: f64, margin: f64) -> f64 {
    if (lo..=hi).contains(&x) {
        return 1.0;
    }
    if margin <= 0.0 {
        return 0.0;
    }
    let d = if x < lo {
        (lo - x) / margin
    } else {
        (x - hi) / margin
    };
    let scale = (-2.0 * 0.1f64.ln()).sqrt();
    (-0.5 * (d * scale).powi(2)).exp()
}

/// Registers a helper over arrays twice: with `Array` parameters (an exact
/// match, resolved fastest) and with `Dynamic` ones (any other argument types,
/// which then get a clear error message).
macro_rules! vec_fn {
    ($e:expr, $name:literal, |$($a:ident),+| $body:expr) => {{
        $e.register_fn($name, |$($a: Array),+| { $(let $a = &$a;)+ $body });
        $e.register_fn($name, |$($a: Dynamic),+| {
            $(let $a = arr(&$a, $name)?; let $a: &Array = &$a;)+
            $body
        });
    }};
}

/// Registers a numeric helper twice: all-`FLOAT` parameters (exact match) and
/// `Dynamic` ones (integers and mixes).
macro_rules! num_fn {
    ($e:expr, $name:literal, |$($a:ident),+| $body:expr) => {{
        $e.register_fn($name, |$($a: FLOAT),+| -> FLOAT { $body });
        $e.register_fn($name, |$($a: Dynamic),+| -> RResult<FLOAT> {
            $(let $a = num(&$a, $name)?;)+
            Ok($body)
        });
    }};
}

/// Every helper, in the order the documentation lists them.
pub(crate) const HELPERS: &[Helper] = &[
    Helper {
        signature: "dot(a: vec, b: vec) -> float",
        doc: "dot product of two vectors of equal length",
        example: ("dot([1.0, 2.0, 3.0], [0.5, 0.0, 1.0])", "3.5"),
        register: |e| {
            vec_fn!(e, "dot", |a, b| {
                let mut s = 0.0;
                pairwise(a, b, "dot", |x, y| s += x * y)?;
                RResult::Ok(s)
            });
        },
    },
    Helper {
        signature: "cross(a: vec3, b: vec3) -> vec3",
        doc: "cross product",
        example: ("cross([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])", "[0.0, 0.0, 1.0]"),
        register: |e| {
            vec_fn!(e, "cross", |a, b| RResult::Ok(array(cross3(
                fixed(a, "cross")?,
                fixed(b, "cross")?
            ))));
        },
    },
    Helper {
        signature: "norm(v: vec) -> float",
        doc: "Euclidean length",
        example: ("norm([3.0, 4.0])", "5.0"),
        register: |e| {
            vec_fn!(e, "norm", |v| norm_of(v, "norm"));
        },
    },
    Helper {
        signature: "norm_sq(v: vec) -> float",
        doc: "squared Euclidean length (cheaper than `norm`, no square root)",
        example: ("norm_sq([3.0, 4.0])", "25.0"),
        register: |e| {
            vec_fn!(e, "norm_sq", |v| sum_by(v, "norm_sq", |x| x * x));
        },
    },
    Helper {
        signature: "normalize(v: vec) -> vec",
        doc: "unit vector in the direction of `v`; a zero vector stays zero",
        example: ("normalize([0.0, 3.0, 4.0])", "[0.0, 0.6, 0.8]"),
        register: |e| {
            vec_fn!(e, "normalize", |v| {
                let n = norm_of(v, "normalize")?;
                let k = if n > 0.0 { 1.0 / n } else { 0.0 };
                map_vec(v, "normalize", |x| x * k)
            });
        },
    },
    Helper {
        signature: "distance(a: vec, b: vec) -> float",
        doc: "Euclidean distance between two points",
        example: ("distance([1.0, 1.0], [4.0, 5.0])", "5.0"),
        register: |e| {
            vec_fn!(e, "distance", |a, b| {
                let mut s = 0.0;
                pairwise(a, b, "distance", |x, y| s += (x - y) * (x - y))?;
                RResult::Ok(s.sqrt())
            });
        },
    },
    Helper {
        signature: "add(a: vec, b: vec) -> vec",
        doc: "element-wise sum (note: `a + b` on arrays concatenates them)",
        example: ("add([1.0, 2.0], [0.5, 0.5])", "[1.5, 2.5]"),
        register: |e| {
            vec_fn!(e, "add", |a, b| {
                let mut out = Array::with_capacity(a.len());
                pairwise(a, b, "add", |x, y| out.push(Dynamic::from_float(x + y)))?;
                RResult::Ok(out)
            });
        },
    },
    Helper {
        signature: "sub(a: vec, b: vec) -> vec",
        doc: "element-wise difference `a - b`",
        example: ("sub([1.0, 2.0], [0.5, 0.5])", "[0.5, 1.5]"),
        register: |e| {
            vec_fn!(e, "sub", |a, b| {
                let mut out = Array::with_capacity(a.len());
                pairwise(a, b, "sub", |x, y| out.push(Dynamic::from_float(x - y)))?;
                RResult::Ok(out)
            });
        },
    },
    Helper {
        signature: "scale(v: vec, k: float) -> vec",
        doc: "every element of `v` times `k`",
        example: ("scale([1.0, -2.0], 0.5)", "[0.5, -1.0]"),
        register: |e| {
            e.register_fn("scale", |v: Array, k: FLOAT| {
                map_vec(&v, "scale", |x| x * k)
            });
            e.register_fn("scale", |v: Dynamic, k: Dynamic| -> RResult<Array> {
                let k = num(&k, "scale")?;
                map_vec(&*arr(&v, "scale")?, "scale", |x| x * k)
            });
        },
    },
    Helper {
        signature: "sum(v: vec) -> float",
        doc: "sum of the elements (0 for an empty array)",
        example: ("sum([1.0, 2.0, 3.5])", "6.5"),
        register: |e| {
            vec_fn!(e, "sum", |v| sum_by(v, "sum", |x| x));
        },
    },
    Helper {
        signature: "mean(v: vec) -> float",
        doc: "mean of the elements (0 for an empty array)",
        example: ("mean([1.0, 2.0, 3.0])", "2.0"),
        register: |e| {
            vec_fn!(e, "mean", |v| {
                let s = sum_by(v, "mean", |x| x)?;
                #[allow(clippy::cast_precision_loss)]
                RResult::Ok(if v.is_empty() {
                    0.0
                } else {
                    s / v.len() as f64
                })
            });
        },
    },
    Helper {
        signature: "clamp(x: float, lo: float, hi: float) -> float",
        doc: "`x` limited to `[lo, hi]`",
        example: ("clamp(1.7, 0, 1)", "1.0"),
        register: |e| {
            num_fn!(e, "clamp", |x, lo, hi| x.max(lo).min(hi));
        },
    },
    Helper {
        signature: "min(a: float, b: float) -> float",
        doc: "the smaller number",
        example: ("min(2, 0.5)", "0.5"),
        register: |e| {
            num_fn!(e, "min", |a, b| a.min(b));
        },
    },
    Helper {
        signature: "max(a: float, b: float) -> float",
        doc: "the larger number",
        example: ("max(2, 0.5)", "2.0"),
        register: |e| {
            num_fn!(e, "max", |a, b| a.max(b));
        },
    },
    Helper {
        signature: "abs(x: float) -> float",
        doc: "absolute value",
        example: ("abs(-1.5)", "1.5"),
        register: |e| {
            num_fn!(e, "abs", |x| x.abs());
        },
    },
    Helper {
        signature: "sqrt(x: float) -> float",
        doc: "square root (NaN for negative `x`, which fails the call)",
        example: ("sqrt(2.25)", "1.5"),
        register: |e| {
            num_fn!(e, "sqrt", |x| x.sqrt());
        },
    },
    Helper {
        signature: "sq(x: float) -> float",
        doc: "`x * x`",
        example: ("sq(-3)", "9.0"),
        register: |e| {
            num_fn!(e, "sq", |x| x * x);
        },
    },
    Helper {
        signature: "pow(x: float, y: float) -> float",
        doc: "`x` to the power `y` (also written `x ** y`)",
        example: ("pow(2, 3)", "8.0"),
        register: |e| {
            num_fn!(e, "pow", |x, y| x.powf(y));
        },
    },
    Helper {
        signature: "exp(x: float) -> float",
        doc: "e to the power `x`",
        example: ("exp(0)", "1.0"),
        register: |e| {
            num_fn!(e, "exp", |x| x.exp());
        },
    },
    Helper {
        signature: "tanh(x: float) -> float",
        doc: "hyperbolic tangent, squashes to (-1, 1)",
        example: ("tanh(0)", "0.0"),
        register: |e| {
            num_fn!(e, "tanh", |x| x.tanh());
        },
    },
    Helper {
        signature: "sign(x: float) -> float",
        doc: "-1, 0 or 1",
        example: ("sign(-0.2)", "-1.0"),
        register: |e| {
            num_fn!(e, "sign", |x| if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            });
        },
    },
    Helper {
        signature: "tolerance(x: float, lo: float, hi: float, margin: float) -> float",
        doc: "1 inside `[lo, hi]`, falling off as a Gaussian outside to 0.1 at distance `margin` (dm_control's `tolerance`); 0 outside when `margin` is 0",
        example: ("tolerance(1.2, 0, 1, 0.2)", "0.1"),
        register: |e| {
            num_fn!(e, "tolerance", |x, lo, hi, m| tolerance(x, lo, hi, m));
        },
    },
    Helper {
        signature: "wrap_angle(a: float) -> float",
        doc: "angle in radians wrapped to (-π, π]",
        example: ("wrap_angle(3 * PI())", "PI()"),
        register: |e| {
            num_fn!(e, "wrap_angle", |a| wrap(a));
        },
    },
    Helper {
        signature: "quat_rotate(q: quat, v: vec3) -> vec3",
        doc: "`v` rotated by the unit quaternion `q = [w, x, y, z]` (e.g. a body-frame axis expressed in the world frame)",
        example: (
            "quat_rotate([0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0])",
            "[-1.0, 0.0, 0.0]",
        ),
        register: |e| {
            vec_fn!(e, "quat_rotate", |q, v| RResult::Ok(array(quat_rotate(
                fixed(q, "quat_rotate")?,
                fixed(v, "quat_rotate")?
            ))));
        },
    },
    Helper {
        signature: "quat_to_euler(q: quat) -> vec3",
        doc: "`[roll, pitch, yaw]` in radians (rotations about x, y, z, applied in z-y-x order) of `q = [w, x, y, z]`",
        example: ("quat_to_euler([1.0, 0.0, 0.0, 0.0])", "[0.0, 0.0, 0.0]"),
        register: |e| {
            vec_fn!(e, "quat_to_euler", |q| {
                let [w, x, y, z] = fixed(q, "quat_to_euler")?;
                let roll = (2.0 * (w * x + y * z)).atan2(1.0 - 2.0 * (x * x + y * y));
                let pitch = (2.0 * (w * y - z * x)).clamp(-1.0, 1.0).asin();
                let yaw = (2.0 * (w * z + x * y)).atan2(1.0 - 2.0 * (y * y + z * z));
                RResult::Ok(array([roll, pitch, yaw]))
            });
        },
    },
    Helper {
        signature: "quat_axis_angle(q: quat) -> vec4",
        doc: "`[ax, ay, az, angle]`: unit rotation axis and angle in [0, π] of `q = [w, x, y, z]` (axis `[0, 0, 1]` for no rotation)",
        example: (
            "quat_axis_angle([1.0, 0.0, 0.0, 0.0])",
            "[0.0, 0.0, 1.0, 0.0]",
        ),
        register: |e| {
            vec_fn!(e, "quat_axis_angle", |q| {
                let [mut w, mut x, mut y, mut z] = fixed(q, "quat_axis_angle")?;
                if w < 0.0 {
                    (w, x, y, z) = (-w, -x, -y, -z);
                }
                let s = (x * x + y * y + z * z).sqrt();
                RResult::Ok(if s < 1e-12 {
                    array([0.0, 0.0, 1.0, 0.0])
                } else {
                    array([x / s, y / s, z / s, 2.0 * s.atan2(w)])
                })
            });
        },
    },
    Helper {
        signature: "quat_mul(a: quat, b: quat) -> quat",
        doc: "Hamilton product `a ⊗ b` (rotation `b`, then `a`)",
        example: (
            "quat_mul([1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0])",
            "[0.0, 1.0, 0.0, 0.0]",
        ),
        register: |e| {
            vec_fn!(e, "quat_mul", |a, b| {
                let [aw, ax, ay, az] = fixed(a, "quat_mul")?;
                let [bw, bx, by, bz] = fixed(b, "quat_mul")?;
                RResult::Ok(array([
                    aw * bw - ax * bx - ay * by - az * bz,
                    aw * bx + ax * bw + ay * bz - az * by,
                    aw * by - ax * bz + ay * bw + az * bx,
                    aw * bz + ax * by - ay * bx + az * bw,
                ]))
            });
        },
    },
    Helper {
        signature: "quat_conj(q: quat) -> quat",
        doc: "conjugate `[w, -x, -y, -z]` (the inverse rotation of a unit quaternion)",
        example: ("quat_conj([1.0, 2.0, 3.0, 4.0])", "[1.0, -2.0, -3.0, -4.0]"),
        register: |e| {
            vec_fn!(e, "quat_conj", |q| {
                let [w, x, y, z] = fixed(q, "quat_conj")?;
                RResult::Ok(array([w, -x, -y, -z]))
            });
        },
    },
];

/// Registers every helper on `engine`.
pub(crate) fn register_all(engine: &mut Engine) {
    for h in HELPERS {
        (h.register)(engine);
    }
}

/// The helper library as a Markdown list, for the prompt that asks an LLM for a
/// reward program. Generated from the table that registers the helpers.
#[must_use]
pub fn helpers_doc() -> String {
    let mut out = String::from(
        "Helpers (native, fast; numbers may be floats or integers; vectors are arrays of numbers; \
         quaternions are `[w, x, y, z]`, scalar first):\n",
    );
    for h in HELPERS {
        let _ = writeln!(
            out,
            "- `{}`: {}; e.g. `{}` → `{}`",
            h.signature, h.doc, h.example.0, h.example.1
        );
    }
    out.push_str(
        "- Rhai's own maths also works: `sin cos tan asin acos atan atan(y, x) sinh cosh ln log floor ceil round PI()`; \
         `x ** y` is a power; `a + b` on arrays concatenates (use `add`).\n",
    );
    out
}
