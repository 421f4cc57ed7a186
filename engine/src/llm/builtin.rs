//! The offline designer: a seeded search baseline that writes Rhai reward
//! programs without any language model.
//!
//! It reads the [`DesignContext`] (the task's description and reward-state
//! spec, and the best program with its statistics) rather than the prompt:
//!
//! - **Composing**: description keywords and field names select terms from a
//!   small library — velocity along an axis (forward, backward, sideways, at a
//!   target speed when asked to go slowly), yaw rate (turning) or the rate of
//!   an object on a fixed axis, the error to a target angle or orientation
//!   (when asked to reach or match a target), uprightness,
//!   height (high or low), front feet off the ground, distance to a target and
//!   progress towards it, an alive bonus where a `fallen`-like field exists
//!   (or the episode ends early), lateral drift, cart centring, and action,
//!   action-change and joint-velocity penalties. Candidate 0 is the canonical
//!   composition; the others vary weights, temperatures, saturation and which
//!   optional terms appear.
//! - **Mutating**: given the best program (its design is stored in a
//!   `// design:` comment line) and its per-component statistics, it drops
//!   constant components, rescales dominant ones, damps penalties that outweigh
//!   the objective, rewrites from scratch when fitness is about zero, and
//!   applies seeded random edits (weights, temperatures, add or remove a term).
//!
//! Every completion says in plain words, in its prose and in a comment of the
//! program, that it comes from this search baseline, not from a language
//! model. Same seed and context, same programs.

use super::vocabulary::understand;
use super::{
    BUILTIN_MODEL, BestProgram, Completion, DesignContext, DesignRole, FinishReason, LlmClient,
    LlmError, LlmRequest, LlmResponse, Meter, Usage, UsageTotals,
};
use rewardsmith_core::{FieldKind, FieldSpec, SplitMix64, StateSpec, derive_seed};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The comment line every offline-designer program starts with.
pub const DISCLAIMER: &str = "// Written by rewardsmith's offline designer (a seeded search baseline), not by a language model.";

const DESIGN_PREFIX: &str = "// design: ";

/// The suffix of a described task's name (`quadruped-described`).
const DESCRIBED_SUFFIX: &str = "-described";

/// The offline designer; see the [module docs](self).
#[derive(Debug)]
pub struct BuiltinDesigner {
    seed: u64,
    meter: Meter,
}

impl BuiltinDesigner {
    /// A designer whose choices are fixed by `seed` (mixed with each request's
    /// [`DesignContext::seed`]).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            meter: Meter::default(),
        }
    }

    /// The `n` programs (as completion texts) for one context; `salt`
    /// distinguishes requests that share a context.
    ///
    /// # Errors
    /// [`LlmError::Designer`] when no reward term fits the task.
    pub fn design(
        &self,
        ctx: &DesignContext,
        n: usize,
        salt: u64,
    ) -> Result<Vec<String>, LlmError> {
        let seed = derive_seed(
            self.seed ^ ctx.seed.rotate_left(17),
            salt ^ fnv1a(ctx.task.as_bytes()),
        );
        let library = Library::new(ctx);
        if library.terms.iter().all(|t| t.role != TermRole::Objective) {
            return Err(LlmError::Designer(format!(
                "no reward term of the library fits task `{}` (reward state: {})",
                ctx.task,
                ctx.state.field_names()
            )));
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let mut rng = SplitMix64::new(derive_seed(seed, i as u64));
            let (design, notes) = match &ctx.best {
                None => library.variant(i, &mut rng),
                Some(best) => mutate(&library, best, i, &mut rng),
            };
            out.push(render(ctx, i, &design, &notes));
        }
        Ok(out)
    }
}

impl LlmClient for BuiltinDesigner {
    fn backend(&self) -> &'static str {
        "builtin"
    }

    fn model(&self) -> &str {
        BUILTIN_MODEL
    }

    fn default_temperature(&self) -> f64 {
        1.0
    }

    fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let Some(ctx) = &request.context else {
            return Err(LlmError::Designer(
                "the offline designer needs the request's DesignContext (task description and reward state); \
                 it does not read prompts"
                    .to_string(),
            ));
        };
        let salt = fnv1a(
            request
                .messages
                .last()
                .map_or("", |m| m.content.as_str())
                .as_bytes(),
        );
        let texts = match ctx.role {
            DesignRole::Reward => self.design(ctx, request.n, salt)?,
            DesignRole::Fitness => vec![design_fitness(ctx)?; request.n],
            DesignRole::Critic => vec![
                "VERDICT: ACCEPT\n- Offline designer (a search baseline, not a language model): \
                 no critique; the sandbox checks (compile, unknown fields, dry run) still apply."
                    .to_string();
                request.n
            ],
            DesignRole::Analysis => vec![
                "Offline designer (a search baseline, not a language model): no trajectory \
                 analysis beyond the statistics the engine computes."
                    .to_string();
                request.n
            ],
        };
        let response = LlmResponse {
            completions: texts
                .into_iter()
                .map(|text| Completion {
                    text,
                    finish_reason: FinishReason::Stop,
                    usage: Usage::default(),
                })
                .collect(),
            ..LlmResponse::default()
        };
        self.meter.add(&response);
        Ok(response)
    }

    fn totals(&self) -> UsageTotals {
        self.meter.get()
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What a term is for; decides how mutations treat it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TermRole {
    /// What the task asks for.
    Objective,
    /// Helps learning (uprightness, progress, alive bonus).
    Shaping,
    /// A cost (effort, drift, joint velocity).
    Penalty,
}

/// One reward component: `w * expr`, with `{t}` in `expr` replaced by the
/// temperature `t`, optionally saturated as `tanh(expr / sat)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Term {
    name: String,
    expr: String,
    w: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sat: Option<f64>,
    role: TermRole,
    /// Whether variants may leave it out.
    #[serde(default)]
    optional: bool,
}

impl Term {
    fn new(name: &str, expr: String, w: f64, role: TermRole) -> Self {
        Self {
            name: name.to_string(),
            expr,
            w,
            t: None,
            sat: None,
            role,
            optional: role != TermRole::Objective,
        }
    }

    fn temp(mut self, t: f64) -> Self {
        self.t = Some(t);
        self
    }

    fn required(mut self) -> Self {
        self.optional = false;
        self
    }

    fn value_expr(&self) -> String {
        let w = if self.w == 0.0 {
            0.0
        } else {
            self.w.signum() * self.w.abs().clamp(1e-6, 1e3)
        };
        let mut e = self.expr.clone();
        if let Some(t) = self.t {
            e = e.replace("{t}", &num(t));
        }
        if let Some(s) = self.sat {
            e = format!("tanh(({e}) / {})", num(s));
        }
        format!("{} * ({e})", num(w))
    }
}

/// A program's design: its terms in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Design {
    terms: Vec<Term>,
}

/// A float as a Rhai float literal with at most 4 decimals (`1.0`, `-0.02`).
fn num(x: f64) -> String {
    // Four significant decimals at least, more for small magnitudes, so that
    // a small weight never prints as 0.
    let x = if x.is_finite() { x } else { 0.0 };
    let decimals = if x.abs() >= 1e-3 || x == 0.0 {
        4
    } else {
        (3.0 - x.abs().log10().floor()).clamp(4.0, 12.0) as usize
    };
    let mut s = format!("{x:.decimals$}");
    while s.ends_with('0') && !s.ends_with(".0") {
        s.pop();
    }
    if s == "-0.0" {
        s = "0.0".to_string();
    }
    s
}

/// Every term that fits the task, plus the optional extras variants may add.
struct Library {
    /// The canonical composition.
    terms: Vec<Term>,
    /// Terms only variants use.
    extras: Vec<Term>,
}

fn has_word(text: &str, words: &[&str]) -> bool {
    let tokens: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-'))
        .filter(|t| !t.is_empty())
        .collect();
    words.iter().any(|w| {
        if w.contains(' ') {
            text.contains(w)
        } else {
            tokens.iter().any(|t| t == w)
        }
    })
}

fn find(spec: &StateSpec, pred: impl Fn(&FieldSpec) -> bool) -> Option<&FieldSpec> {
    spec.fields().iter().find(|f| pred(f))
}

/// The first number after `rest` in a field's doc (e.g. "rest ≈ 0.55").
fn rest_value(doc: &str) -> Option<f64> {
    let at = doc.find("rest")?;
    doc[at..]
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|t| !t.is_empty() && t.chars().any(|c| c.is_ascii_digit()))
        .and_then(|t| t.trim_matches('.').parse().ok())
}

/// A speed in m/s named in the description ("at 0.5 m/s").
fn target_speed(d: &str) -> Option<f64> {
    let at = d.find("m/s")?;
    d[..at]
        .split_whitespace()
        .last()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
}

impl Library {
    #[allow(clippy::too_many_lines)]
    fn new(ctx: &DesignContext) -> Self {
        let spec = &ctx.state;
        // "run off the rail" is about bounds, not about running.
        let d = ["runs off", "running off", "run off", "run away"]
            .iter()
            .fold(ctx.description.to_lowercase(), |d, p| d.replace(p, "leave"));
        let mut terms: Vec<Term> = Vec::new();
        let mut extras: Vec<Term> = Vec::new();
        let is_vec = |f: &FieldSpec| matches!(f.kind, FieldKind::Vector(n) if n >= 2);
        let name_has = |f: &FieldSpec, s: &str| f.name.to_lowercase().contains(s);

        let linvel = find(spec, |f| {
            is_vec(f)
                && f.unit == "m/s"
                && (name_has(f, "linvel") || name_has(f, "vel"))
                && !name_has(f, "joint")
                && !name_has(f, "ang")
        });
        let scalar_vel = find(spec, |f| {
            f.kind == FieldKind::Scalar
                && f.unit == "m/s"
                && name_has(f, "vel")
                && !name_has(f, "ang")
        });
        let axis_spin = find(spec, |f| {
            f.kind == FieldKind::Scalar && f.unit == "rad/s" && name_has(f, "spin")
        });
        let scalar_rate = find(spec, |f| {
            f.kind == FieldKind::Scalar
                && f.unit == "rad/s"
                && name_has(f, "vel")
                && !name_has(f, "joint")
        });
        let error = find(spec, |f| {
            f.kind == FieldKind::Scalar && name_has(f, "error")
        });
        let angvel = find(spec, |f| {
            matches!(f.kind, FieldKind::Vector(3))
                && f.unit == "rad/s"
                && name_has(f, "ang")
                && !name_has(f, "joint")
        });
        let up = find(spec, |f| {
            f.kind == FieldKind::Scalar
                && (f.name == "up_z" || f.name.ends_with("_up") || name_has(f, "upright"))
        });
        let height = find(spec, |f| {
            f.kind == FieldKind::Scalar && f.unit == "m" && name_has(f, "height")
        });
        let fallen = find(spec, |f| {
            f.kind == FieldKind::Scalar
                && ["fallen", "fell", "done", "terminated", "failed", "dead"]
                    .iter()
                    .any(|w| {
                        f.name.to_lowercase() == *w
                            || f.name.to_lowercase().ends_with(&format!("_{w}"))
                    })
        });
        let action = find(spec, |f| f.name == "action" || f.name == "actions");
        let joint_vel = find(spec, |f| {
            is_vec(f) && name_has(f, "joint") && name_has(f, "vel")
        });
        let feet = find(spec, |f| {
            matches!(f.kind, FieldKind::Vector(n) if n >= 2)
                && name_has(f, "foot")
                && name_has(f, "height")
        });
        let target = find(spec, |f| name_has(f, "target") || name_has(f, "goal"));
        let dist = find(spec, |f| {
            f.kind == FieldKind::Scalar && (name_has(f, "dist") || name_has(f, "distance"))
        });

        let backward = has_word(&d, &["backward", "backwards", "-x", "reverse", "back up"]);
        let forward = !backward
            && has_word(
                &d,
                &[
                    "forward", "forwards", "+x", "run", "walk", "ahead", "locomote",
                ],
            );
        let sideways = has_word(&d, &["sideways", "+y", "-y", "strafe"]);
        let turning = has_word(
            &d,
            &[
                "turn", "turning", "spin", "spinning", "yaw", "rotate", "rotating", "roll",
                "rolling",
            ],
        );
        // Spinning an object about its own axis, when the state measures exactly that.
        let about_own_axis = has_word(&d, &["own axis", "long axis", "own long axis", "roll"]);
        let clockwise = has_word(&d, &["clockwise"])
            && !has_word(
                &d,
                &[
                    "counter-clockwise",
                    "counterclockwise",
                    "anticlockwise",
                    "anti-clockwise",
                ],
            );
        let slow = has_word(&d, &["slowly", "slow", "gently", "carefully"]);
        let low = has_word(&d, &["low", "crouch", "crouching", "crawl", "lower"]);
        let high = has_word(
            &d,
            &["high", "rear", "jump", "tall", "lift", "raise", "hind"],
        );
        let swing = has_word(&d, &["swing", "swingup", "swing-up"]);
        let balance = has_word(&d, &["balance", "balanced", "upright", "vertical"]);
        let ends_early = d.contains("ends early")
            || d.contains("episode ends when")
            || d.contains("episode ends if")
            || has_word(&d, &["falling", "fall", "falls"]);

        // Locomotion along an axis.
        let mut moving = false;
        if let Some(v) = linvel {
            let axis = if sideways && !(forward || backward) {
                Some((1, if d.contains("-y") { -1.0 } else { 1.0 }, "sideways"))
            } else if backward {
                Some((0, -1.0, "backward"))
            } else if forward {
                Some((0, 1.0, "forward"))
            } else {
                None
            };
            if let Some((i, sign, name)) = axis {
                moving = true;
                let v_expr = if sign < 0.0 {
                    format!("-s.{}[{i}]", v.name)
                } else {
                    format!("s.{}[{i}]", v.name)
                };
                if slow {
                    let target = target_speed(&d).unwrap_or(0.3);
                    terms.push(
                        Term::new(
                            name,
                            format!("exp(-sq({v_expr} - {}) / {{t}})", num(target)),
                            1.0,
                            TermRole::Objective,
                        )
                        .temp(0.05),
                    );
                } else {
                    terms.push(Term::new(name, v_expr, 1.0, TermRole::Objective));
                }
                let lateral = if i == 0 { 1 } else { 0 };
                terms.push(Term::new(
                    "drift",
                    format!("abs(s.{}[{lateral}])", v.name),
                    -0.1,
                    TermRole::Penalty,
                ));
            }
        } else if let Some(v) = scalar_vel
            && has_word(
                &d,
                &["forward", "forwards", "+x", "backward", "backwards", "-x"],
            )
        {
            moving = true;
            let sign = if backward { "-" } else { "" };
            terms.push(Term::new(
                if backward { "backward" } else { "forward" },
                format!("{sign}s.{}", v.name),
                1.0,
                TermRole::Objective,
            ));
        }
        // An angle or pose to reach (e.g. "turn the valve until it matches the
        // target"): the error field measures it, and the turning words are
        // about the way there, not a rate to maximise.
        let goal_error = error.filter(|_| {
            has_word(
                &d,
                &["target", "goal", "match", "matches", "until", "reach"],
            )
        });
        let turning = turning && goal_error.is_none();
        // Turning.
        if turning
            && about_own_axis
            && let Some(a) = axis_spin
        {
            moving = true;
            terms.push(Term::new(
                "spin",
                format!("s.{}", a.name),
                1.0,
                TermRole::Objective,
            ));
        } else if turning && let Some(w) = angvel {
            moving = true;
            let e = if clockwise {
                format!("-s.{}[2]", w.name)
            } else {
                format!("s.{}[2]", w.name)
            };
            terms.push(Term::new("turn", e, 1.0, TermRole::Objective));
            if let Some(v) = linvel {
                terms.push(Term::new(
                    "drift",
                    format!("sq(s.{0}[0]) + sq(s.{0}[1])", v.name),
                    -0.2,
                    TermRole::Penalty,
                ));
            }
        } else if turning && let Some(w) = scalar_rate {
            // An object turning on a fixed axis (a valve): its one rate.
            moving = true;
            let sign = if clockwise { "-" } else { "" };
            terms.push(Term::new(
                "turn",
                format!("{sign}s.{}", w.name),
                1.0,
                TermRole::Objective,
            ));
        }
        // Distance to a target.
        if let Some(e) = goal_error {
            terms.push(
                Term::new(
                    "reach",
                    format!("exp(-abs(s.{}) / {{t}})", e.name),
                    1.0,
                    TermRole::Objective,
                )
                .temp(0.3),
            );
            terms.push(Term::new(
                "progress",
                format!("abs(prev.{0}) - abs(s.{0})", e.name),
                5.0,
                TermRole::Shaping,
            ));
        } else if let Some(t) = target {
            let pos = find(spec, |f| {
                f.kind == t.kind
                    && f.name != t.name
                    && ["tip", "hand", "ee", "effector", "pos", "position", "finger"]
                        .iter()
                        .any(|k| f.name.to_lowercase().contains(k))
            });
            if let Some(p) = pos {
                let dist_now = if matches!(t.kind, FieldKind::Scalar) {
                    format!("abs(s.{} - s.{})", p.name, t.name)
                } else {
                    format!("distance(s.{}, s.{})", p.name, t.name)
                };
                let dist_prev = dist_now.replace("s.", "prev.");
                terms.push(
                    Term::new(
                        "reach",
                        format!("exp(-({dist_now}) / {{t}})"),
                        1.0,
                        TermRole::Objective,
                    )
                    .temp(0.1),
                );
                terms.push(Term::new(
                    "progress",
                    format!("({dist_prev}) - ({dist_now})"),
                    5.0,
                    TermRole::Shaping,
                ));
            }
        } else if let Some(dd) = dist {
            terms.push(
                Term::new(
                    "reach",
                    format!("exp(-abs(s.{}) / {{t}})", dd.name),
                    1.0,
                    TermRole::Objective,
                )
                .temp(0.1),
            );
            terms.push(Term::new(
                "progress",
                format!("abs(prev.{0}) - abs(s.{0})", dd.name),
                5.0,
                TermRole::Shaping,
            ));
        }
        // Feet off the ground (rearing up).
        let front = d.contains("front feet") || d.contains("front legs") || has_word(&d, &["rear"]);
        if let (Some(f), true) = (feet, front) {
            terms.push(Term::new(
                "front_feet_up",
                format!("clamp(min(s.{0}[0], s.{0}[1]), 0.0, 0.3)", f.name),
                2.0,
                TermRole::Objective,
            ));
        }
        // Height.
        if let Some(h) = height {
            let rest = rest_value(&h.doc).unwrap_or(0.5);
            if low {
                terms.push(
                    Term::new(
                        "low",
                        format!("exp(-sq(s.{} - {}) / {{t}})", h.name, num(0.7 * rest)),
                        if moving { 0.5 } else { 1.0 },
                        if moving {
                            TermRole::Shaping
                        } else {
                            TermRole::Objective
                        },
                    )
                    .temp(0.01)
                    .required(),
                );
            } else if high {
                terms.push(
                    Term::new(
                        "height",
                        format!("clamp(s.{} - {}, 0.0, 0.5)", h.name, num(rest)),
                        1.0,
                        if moving {
                            TermRole::Shaping
                        } else {
                            TermRole::Objective
                        },
                    )
                    .required(),
                );
            }
        }
        // Uprightness.
        if let Some(u) = up {
            if swing {
                terms.push(Term::new(
                    "upright",
                    format!("(s.{} + 1.0) / 2.0", u.name),
                    1.0,
                    TermRole::Objective,
                ));
                if let Some(av) = find(spec, |f| {
                    f.kind == FieldKind::Scalar && f.unit == "rad/s" && name_has(f, "ang")
                }) {
                    terms.push(Term::new(
                        "still",
                        format!("sq(s.{}) * max(s.{} - 0.9, 0.0) * 10.0", av.name, u.name),
                        -0.02,
                        TermRole::Penalty,
                    ));
                }
            } else if balance && !moving {
                terms.push(Term::new(
                    "upright",
                    format!("s.{}", u.name),
                    1.0,
                    TermRole::Objective,
                ));
            } else if !front {
                // (Rearing up tilts the torso: no uprightness term then.)
                terms.push(Term::new(
                    "upright",
                    format!("s.{}", u.name),
                    0.2,
                    TermRole::Shaping,
                ));
            }
        }
        // Alive bonus.
        if let Some(f) = fallen {
            terms.push(Term::new(
                "alive",
                format!("1.0 - clamp(s.{}, 0.0, 1.0)", f.name),
                0.5,
                TermRole::Shaping,
            ));
        } else if ends_early && !swing {
            terms.push(Term::new(
                "alive",
                "1.0".to_string(),
                1.0,
                TermRole::Shaping,
            ));
        }
        // Stay near the centre of a rail.
        if let Some(p) = find(spec, |f| {
            f.kind == FieldKind::Scalar
                && f.unit == "m"
                && name_has(f, "pos")
                && (f.doc.contains("centre") || f.doc.contains("center"))
        }) {
            terms.push(Term::new(
                "centred",
                format!("sq(s.{})", p.name),
                -0.05,
                TermRole::Penalty,
            ));
        }
        // Effort, smoothness, joint velocity.
        if let Some(a) = action {
            let (e, w) = match a.kind {
                FieldKind::Scalar => (format!("sq(s.{})", a.name), -0.01),
                FieldKind::Vector(_) => (format!("dot(s.{0}, s.{0})", a.name), -0.02),
            };
            terms.push(Term::new("effort", e, w, TermRole::Penalty));
            let smooth = match a.kind {
                FieldKind::Scalar => format!("sq(s.{0} - prev.{0})", a.name),
                FieldKind::Vector(_) => format!("norm_sq(sub(s.{0}, prev.{0}))", a.name),
            };
            extras.push(Term::new("smooth", smooth, -0.01, TermRole::Penalty));
        }
        if let Some(j) = joint_vel {
            extras.push(Term::new(
                "joint_speed",
                format!("norm_sq(s.{})", j.name),
                -0.001,
                TermRole::Penalty,
            ));
        }
        // A described task: the objectives are what its fitness measures
        // (the vocabulary's terms), never a keyword guess at another task;
        // shaping towards other targets goes with the guesses.
        if ctx.task.ends_with(DESCRIBED_SUFFIX) {
            let understood = understand(&ctx.description, spec);
            if understood.has_goal() {
                terms.retain(|t| {
                    t.role != TermRole::Objective
                        && !matches!(t.name.as_str(), "progress" | "front_feet_up")
                });
                for f in understood.terms.iter().rev() {
                    terms.insert(
                        0,
                        Term::new(&f.name, f.expr.clone(), f.weight, TermRole::Objective)
                            .required(),
                    );
                }
            }
        }
        // Nothing asked for matched: fall back on staying up.
        if terms.iter().all(|t| t.role != TermRole::Objective)
            && let Some(t) = terms
                .iter_mut()
                .find(|t| t.name == "upright" || t.name == "height" || t.name == "alive")
        {
            t.role = TermRole::Objective;
            t.optional = false;
        }
        // Unique names, first one wins.
        let mut seen: Vec<String> = Vec::new();
        terms.retain(|t| {
            let fresh = !seen.contains(&t.name);
            seen.push(t.name.clone());
            fresh
        });
        extras.retain(|t| !seen.contains(&t.name));
        Self { terms, extras }
    }

    /// Candidate `i` of a first generation.
    fn variant(&self, i: usize, rng: &mut SplitMix64) -> (Design, Vec<String>) {
        let mut design = Design {
            terms: self.terms.clone(),
        };
        if i == 0 {
            return (
                design,
                vec!["the canonical composition of the matched terms".into()],
            );
        }
        let mut notes = Vec::new();
        randomise(&mut design, self, rng, &mut notes, 0.35);
        (design, notes)
    }
}

/// Seeded random edits: weights, temperatures, saturation, optional terms.
fn randomise(
    design: &mut Design,
    library: &Library,
    rng: &mut SplitMix64,
    notes: &mut Vec<String>,
    spread: f64,
) {
    for t in &mut design.terms {
        if t.role != TermRole::Objective {
            let f = (spread * rng.normal()).exp();
            t.w *= f;
        }
        if let Some(temp) = t.t.as_mut() {
            *temp *= (0.5 * rng.normal()).exp();
        }
    }
    notes.push(format!(
        "weights of the non-objective terms jittered (×e^N(0, {spread}))"
    ));
    if let Some(obj) = design
        .terms
        .iter_mut()
        .find(|t| t.role == TermRole::Objective && t.t.is_none())
        && rng.next_f64() < 0.3
    {
        if obj.sat.is_some() {
            obj.sat = None;
            notes.push(format!("`{}` made linear again", obj.name));
        } else {
            let s = rng.uniform(0.5, 2.0);
            obj.sat = Some(s);
            notes.push(format!("`{}` saturated as tanh(x / {})", obj.name, num(s)));
        }
    }
    let before: Vec<String> = design.terms.iter().map(|t| t.name.clone()).collect();
    design.terms.retain(|t| {
        let keep = !t.optional || rng.next_f64() >= 0.25;
        if !keep {
            notes.push(format!("left out `{}`", t.name));
        }
        keep
    });
    for extra in library
        .extras
        .iter()
        .chain(library.terms.iter().filter(|t| !before.contains(&t.name)))
    {
        if !design.terms.iter().any(|t| t.name == extra.name) && rng.next_f64() < 0.35 {
            notes.push(format!("added `{}`", extra.name));
            design.terms.push(extra.clone());
        }
    }
}

/// Candidate `i` of a later generation: the best design, repaired from its
/// statistics, then (for `i > 0`) randomly edited.
fn mutate(
    library: &Library,
    best: &BestProgram,
    i: usize,
    rng: &mut SplitMix64,
) -> (Design, Vec<String>) {
    let mut notes = Vec::new();
    let mut design = match parse_design(&best.source) {
        Some(d) => d,
        None => {
            notes.push(
                "the best program was not written by the offline designer; starting from the designer's own composition"
                    .to_string(),
            );
            Design {
                terms: library.terms.clone(),
            }
        }
    };
    let fitness_zero = best
        .fitness
        .is_none_or(|f| !f.is_finite() || f.abs() < 1e-3);
    if fitness_zero && i % 2 == 1 {
        notes.push("the best fitness is about zero: rewriting from the library".to_string());
        let mut fresh = Design {
            terms: library.terms.clone(),
        };
        randomise(&mut fresh, library, rng, &mut notes, 0.7);
        return (fresh, notes);
    }
    repair(&mut design, best, &mut notes);
    if i > 0 {
        let ops = 1 + (rng.next_u64() % 3) as usize;
        for _ in 0..ops {
            edit(&mut design, library, rng, &mut notes);
        }
    }
    if design.terms.iter().all(|t| t.role != TermRole::Objective) {
        for t in library
            .terms
            .iter()
            .filter(|t| t.role == TermRole::Objective)
        {
            notes.push(format!("restored objective `{}`", t.name));
            design.terms.insert(0, t.clone());
        }
    }
    (design, notes)
}

/// Fixes what the statistics show: constant components dropped, dominant
/// ones rescaled, penalties that outweigh the objective damped.
fn repair(design: &mut Design, best: &BestProgram, notes: &mut Vec<String>) {
    let stat = |name: &str| best.components.iter().find(|c| c.name == name);
    design.terms.retain(|t| {
        let Some(c) = stat(&t.name) else { return true };
        let constant = (c.max - c.min).abs() <= 1e-9 * c.mean.abs().max(1.0);
        if constant && t.role != TermRole::Objective && t.name != "alive" {
            notes.push(format!(
                "dropped `{}`: it stayed at {} during training",
                t.name,
                num(c.mean)
            ));
            false
        } else {
            true
        }
    });
    let mags: Vec<(usize, f64)> = design
        .terms
        .iter()
        .enumerate()
        .filter_map(|(i, t)| stat(&t.name).map(|c| (i, c.mean.abs())))
        .filter(|(_, m)| m.is_finite())
        .collect();
    if mags.len() >= 2 {
        let mut sorted = mags.clone();
        sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (top, big) = sorted[0];
        let second = sorted[1].1;
        if second > 0.0 && big > 10.0 * second {
            let factor = (3.0 * second / big).clamp(0.05, 0.5);
            let t = &mut design.terms[top];
            t.w *= factor;
            notes.push(format!(
                "rescaled dominant `{}` by {} (mean |value| {} vs next {})",
                t.name,
                num(factor),
                num(big),
                num(second)
            ));
        }
    }
    let objective: f64 = design
        .terms
        .iter()
        .filter(|t| t.role == TermRole::Objective)
        .filter_map(|t| stat(&t.name))
        .map(|c| c.mean.abs())
        .sum();
    let penalty: f64 = design
        .terms
        .iter()
        .filter(|t| t.role == TermRole::Penalty)
        .filter_map(|t| stat(&t.name))
        .map(|c| c.mean.abs())
        .sum();
    if objective > 0.0 && penalty > objective {
        for t in design
            .terms
            .iter_mut()
            .filter(|t| t.role == TermRole::Penalty)
        {
            t.w *= 0.5;
        }
        notes.push(format!(
            "halved the penalties: together ({}) they outweighed the objective ({})",
            num(penalty),
            num(objective)
        ));
    }
}

/// One random edit.
fn edit(design: &mut Design, library: &Library, rng: &mut SplitMix64, notes: &mut Vec<String>) {
    let n = design.terms.len();
    if n == 0 {
        return;
    }
    match rng.next_u64() % 5 {
        0 => {
            let t = &mut design.terms[(rng.next_u64() % n as u64) as usize];
            let f = (0.5 * rng.normal()).exp();
            t.w *= f;
            notes.push(format!("scaled `{}` by {}", t.name, num(f)));
        }
        1 => {
            if let Some(t) = design.terms.iter_mut().find(|t| t.t.is_some()) {
                let f = if rng.next_f64() < 0.5 { 0.5 } else { 2.0 };
                if let Some(temp) = t.t.as_mut() {
                    *temp *= f;
                }
                notes.push(format!("temperature of `{}` ×{}", t.name, num(f)));
            } else if let Some(t) = design
                .terms
                .iter_mut()
                .find(|t| t.role == TermRole::Objective)
            {
                if t.sat.is_some() {
                    t.sat = None;
                    notes.push(format!("`{}` made linear", t.name));
                } else {
                    let s = rng.uniform(0.5, 2.0);
                    t.sat = Some(s);
                    notes.push(format!("`{}` saturated as tanh(x / {})", t.name, num(s)));
                }
            }
        }
        2 => {
            let missing: Vec<&Term> = library
                .terms
                .iter()
                .chain(&library.extras)
                .filter(|t| !design.terms.iter().any(|d| d.name == t.name))
                .collect();
            if !missing.is_empty() {
                let t = missing[(rng.next_u64() % missing.len() as u64) as usize].clone();
                notes.push(format!("added `{}`", t.name));
                design.terms.push(t);
            }
        }
        3 => {
            let optional: Vec<usize> = (0..n).filter(|&i| design.terms[i].optional).collect();
            if optional.len() > 1 {
                let i = optional[(rng.next_u64() % optional.len() as u64) as usize];
                notes.push(format!("removed `{}`", design.terms[i].name));
                design.terms.remove(i);
            }
        }
        _ => {
            let f = if rng.next_f64() < 0.5 { 0.5 } else { 2.0 };
            for t in design
                .terms
                .iter_mut()
                .filter(|t| t.role != TermRole::Objective)
            {
                t.w *= f;
            }
            notes.push(format!("scaled every non-objective term by {}", num(f)));
        }
    }
}

/// The design stored in a program's `// design:` line, if any.
fn parse_design(source: &str) -> Option<Design> {
    let line = source
        .lines()
        .find_map(|l| l.trim().strip_prefix(DESIGN_PREFIX))?;
    let d: Design = serde_json::from_str(line).ok()?;
    let ok = !d.terms.is_empty()
        && d.terms.iter().all(|t| {
            t.w.is_finite()
                && t.t.is_none_or(|x| x.is_finite() && x > 0.0)
                && t.sat.is_none_or(|x| x.is_finite() && x > 0.0)
                && !t.name.is_empty()
                && t.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    ok.then_some(d)
}

/// The fitness program of a described task: the terms the description's
/// words map to ([`understand`]), each averaged over the episode's full
/// length, weights normalised to sum 1, with its plain reading as
/// `// reading:` comment lines. Words it cannot measure make it refuse
/// (unless [`DesignContext::accept_partial`]), and a description with no
/// measurable goal is refused always: it never falls back on another task.
fn design_fitness(ctx: &DesignContext) -> Result<String, LlmError> {
    let understood = understand(&ctx.description, &ctx.state);
    if let Some(why) = understood.refusal(ctx.accept_partial) {
        return Err(LlmError::Designer(why));
    }
    let mut text = format!(
        "Offline designer — rewardsmith's seeded search baseline, not a language model — \
         fitness for the described task. Mapped: {}.\n",
        understood.mapped_text()
    );
    if !understood.unmapped.is_empty() {
        let _ = writeln!(
            text,
            "Not measured (accepted with --accept-partial-fitness): {}.",
            understood.unmapped.join(", ")
        );
    }
    let _ = write!(
        text,
        "\n```rhai\n{DISCLAIMER}\n{}```\n",
        understood.fitness_source()
    );
    Ok(text)
}

fn render(ctx: &DesignContext, i: usize, design: &Design, notes: &[String]) -> String {
    let mut text = format!(
        "Offline designer — rewardsmith's seeded search baseline, not a language model — \
         candidate {i} for task `{}`.\n",
        ctx.task
    );
    if !ctx.failures.is_empty() {
        let _ = writeln!(
            text,
            "({} candidate(s) of the last generation failed their checks.)",
            ctx.failures.len()
        );
    }
    if ctx.best.is_some() {
        text.push_str("Derived from the best program so far:\n");
    }
    for n in notes {
        let _ = writeln!(text, "- {n}");
    }
    let design_json = serde_json::to_string(design).unwrap_or_default();
    let _ = write!(
        text,
        "\n```rhai\n{DISCLAIMER}\n{DESIGN_PREFIX}{design_json}\nfn compute_reward(s, prev) {{\n    #{{\n"
    );
    let last = design.terms.len().saturating_sub(1);
    for (k, t) in design.terms.iter().enumerate() {
        let comma = if k == last { "" } else { "," };
        let _ = writeln!(text, "        {}: {}{comma}", t.name, t.value_expr());
    }
    text.push_str("    }\n}\n```\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> StateSpec {
        StateSpec::builder()
            .vector("torso_linvel", 3, "m/s", "world", "velocity")
            .scalar("up_z", "1", "world", "up")
            .scalar("fallen", "1", "world", "fell")
            .vector("action", 2, "1", "actuator", "action")
            .build()
    }

    #[test]
    fn numbers_render_as_float_literals() {
        assert_eq!(num(1.0), "1.0");
        assert_eq!(num(-0.02), "-0.02");
        assert_eq!(num(0.123_456), "0.1235");
        assert_eq!(num(-0.00001), "-0.00001");
        assert_eq!(num(0.000_012_346), "0.00001235");
        assert_eq!(num(1e-30), "0.0");
        assert_eq!(num(f64::NAN), "0.0");
    }

    #[test]
    fn keywords_pick_the_axis_and_sign() {
        let ctx = DesignContext::new("t", "Walk backwards without falling.", spec(), 1);
        let lib = Library::new(&ctx);
        let obj = &lib.terms[0];
        assert_eq!(obj.name, "backward");
        assert_eq!(obj.expr, "-s.torso_linvel[0]");
        assert!(lib.terms.iter().any(|t| t.name == "alive"));
        assert!(lib.terms.iter().any(|t| t.name == "effort"));
    }

    #[test]
    fn designs_round_trip_through_the_source() {
        let ctx = DesignContext::new("t", "Run forward.", spec(), 3);
        let d = BuiltinDesigner::new(5);
        let texts = d.design(&ctx, 3, 0).unwrap();
        assert_eq!(texts, d.design(&ctx, 3, 0).unwrap());
        for t in &texts {
            assert!(t.contains(DISCLAIMER));
            assert!(parse_design(t).is_some());
        }
    }

    #[test]
    fn statistics_drive_repairs() {
        let ctx = DesignContext::new("t", "Run forward.", spec(), 3);
        let d = BuiltinDesigner::new(5);
        let first = d.design(&ctx, 1, 0).unwrap().remove(0);
        let stats = |name: &str, mean: f64, spread: f64| super::super::ComponentSummary {
            name: name.into(),
            mean,
            min: mean - spread,
            max: mean + spread,
        };
        let best = BestProgram {
            source: first,
            fitness: Some(0.5),
            components: vec![
                stats("forward", 0.5, 0.1),
                stats("drift", -0.05, 0.01),
                stats("upright", 0.2, 0.0),
                stats("alive", 0.5, 0.0),
                stats("effort", -200.0, 10.0),
            ],
        };
        let mut ctx2 = ctx.clone();
        ctx2.best = Some(best);
        let out = d.design(&ctx2, 1, 0).unwrap().remove(0);
        assert!(out.contains("dropped `upright`"), "{out}");
        assert!(out.contains("rescaled dominant `effort`"), "{out}");
        assert!(out.contains("alive:"), "alive bonus is kept: {out}");
    }
}
