//! Checks before any training: compile, then a dry run over sample states, with
//! per-component statistics, the cost of a call and warnings, as one
//! [`CheckReport`]. The dry run stops at the first failing call, so a program
//! that fails every call (e.g. by timing out) costs one call, not one per
//! sample.

use crate::limits::{Limits, component_total};
use crate::rhai_program::RhaiProgram;
use crate::source::{ProgramSource, compile_with_sample};
use rewardsmith_core::{RewardError, RewardErrorKind, RewardProgram, StateSpec, StateView};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A component whose mean magnitude is this many times that of every other
/// component gets a [`WarningKind::DominantComponent`] warning: the others then
/// barely move the return.
pub const DOMINANCE_RATIO: f64 = 100.0;

/// A mean reward call costing more than this fraction of one env step gets a
/// [`WarningKind::SlowCall`] warning from [`CheckReport::judge_cost`]: the
/// reward then slows training down noticeably (a human reward costs ~2% of a
/// step in Rhai, ~0.1% in WebAssembly).
pub const SLOW_CALL_WARN_RATIO: f64 = 0.1;

/// A mean reward call costing more than this many env steps makes
/// [`CheckReport::judge_cost`] refuse the program: training would spend most
/// of its time in the reward, not in the simulation.
pub const SLOW_CALL_REFUSE_RATIO: f64 = 1.0;

/// The verdict on one reward program, before training.
///
/// Serialises to `{"ok":bool,"errors":[…],"warnings":[…],"components":[…],
/// "calls":n,"call_us_mean":x,"call_us_max":x,"printed_lines":n,"printed_bytes":n}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Whether the program is usable: it compiled and the dry run had no error.
    pub ok: bool,
    /// What makes it unusable: the first failure (compiling, or the first
    /// failing dry-run call), plus any added by [`judge_cost`](Self::judge_cost).
    pub errors: Vec<RewardError>,
    /// What may be wrong but does not stop training.
    pub warnings: Vec<CheckWarning>,
    /// Statistics of each component over the dry run, in program order.
    pub components: Vec<ComponentStats>,
    /// Reward calls made by the dry run (the failing one included).
    #[serde(default)]
    pub calls: usize,
    /// Mean wall time of one dry-run call, in microseconds (0 without calls).
    #[serde(default)]
    pub call_us_mean: f64,
    /// Longest dry-run call, in microseconds.
    #[serde(default)]
    pub call_us_max: f64,
    /// Lines printed with `print`/`debug` during the dry run (Rhai), whether
    /// kept or dropped by [`Limits::max_print_bytes`].
    #[serde(default)]
    pub printed_lines: u64,
    /// Bytes printed during the dry run (newlines included), kept or dropped.
    #[serde(default)]
    pub printed_bytes: u64,
}

/// Something worth telling the author that does not make the program unusable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckWarning {
    /// The kind of warning.
    pub kind: WarningKind,
    /// What was seen, in words.
    pub message: String,
    /// The component involved, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
}

/// Kinds of [`CheckWarning`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WarningKind {
    /// A component took one value over the whole dry run (legitimate for an
    /// alive bonus when episodes can terminate).
    ConstantComponent,
    /// A component's magnitude dwarfs all the others ([`DOMINANCE_RATIO`]).
    DominantComponent,
    /// No sample states were given, so only the static checks ran.
    NoSamples,
    /// The program printed; the output is discarded during training.
    Printed,
    /// A reward call costs a noticeable share of an env step
    /// ([`SLOW_CALL_WARN_RATIO`]).
    SlowCall,
}

/// Statistics of one component over the dry run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentStats {
    /// The component.
    pub name: String,
    /// Mean value.
    pub mean: f64,
    /// Standard deviation (population).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl CheckReport {
    fn failed(e: RewardError) -> Self {
        Self {
            ok: false,
            errors: vec![e],
            warnings: Vec::new(),
            components: Vec::new(),
            calls: 0,
            call_us_mean: 0.0,
            call_us_max: 0.0,
            printed_lines: 0,
            printed_bytes: 0,
        }
    }

    /// Judges the dry run's cost per call against one env step of
    /// `env_step_us` microseconds (measured by the caller on the same
    /// machine): a mean call above [`SLOW_CALL_REFUSE_RATIO`] steps is an
    /// error (kind `timeout`) and makes the report not ok; above
    /// [`SLOW_CALL_WARN_RATIO`] a step, a [`WarningKind::SlowCall`] warning.
    /// Both name the figures. Does nothing without dry-run calls or with a
    /// step time that is not a positive number.
    pub fn judge_cost(&mut self, env_step_us: f64) {
        if self.calls == 0 || !(env_step_us.is_finite() && env_step_us > 0.0) {
            return;
        }
        let ratio = self.call_us_mean / env_step_us;
        let figures = format!(
            "compute_reward takes {:.1} µs per call on average (worst {:.1} µs over {} dry-run calls), {:.0}% of one env step ({:.1} µs)",
            self.call_us_mean,
            self.call_us_max,
            self.calls,
            ratio * 100.0,
            env_step_us
        );
        if ratio > SLOW_CALL_REFUSE_RATIO {
            self.errors.push(RewardError::new(
                RewardErrorKind::Timeout,
                format!(
                    "{figures}: training would spend most of its time in the reward; do less work per call (no loops over large arrays, no printing)"
                ),
            ));
            self.ok = false;
        } else if ratio > SLOW_CALL_WARN_RATIO {
            self.warnings.push(CheckWarning {
                kind: WarningKind::SlowCall,
                message: format!("{figures}: training will be noticeably slower"),
                component: None,
            });
        }
    }
}

/// Compiles `src` and dry-runs it over `samples`.
///
/// Each sample is a `(prev, s)` pair of consecutive reward states (the state
/// before a step and the state after it), each laid out as `spec` declares,
/// e.g. from random-policy rollouts of the task. The first pair also serves as
/// the Rhai probe state.
#[must_use]
pub fn check_source(
    src: &ProgramSource,
    spec: &StateSpec,
    samples: &[(Vec<f64>, Vec<f64>)],
    limits: &Limits,
) -> CheckReport {
    if let Some(i) = samples
        .iter()
        .position(|(p, s)| p.len() != spec.len() || s.len() != spec.len())
    {
        return CheckReport::failed(RewardError::new(
            RewardErrorKind::Runtime,
            format!(
                "dry-run sample {i} does not match the reward state ({} numbers)",
                spec.len()
            ),
        ));
    }
    let probe = samples.first().map(|(p, s)| (p.as_slice(), s.as_slice()));
    if let ProgramSource::Rhai(text) = src {
        // Compiled concretely, to read what it printed during the dry run.
        return match RhaiProgram::compile_with_sample(text, spec, limits, probe) {
            Ok(mut program) => {
                let (lines0, bytes0) = program.printed_volume();
                let mut report = check(&mut program, spec, samples);
                let (lines, bytes) = program.printed_volume();
                report.printed_lines = lines.saturating_sub(lines0);
                report.printed_bytes = bytes.saturating_sub(bytes0);
                if let Some(w) = printed_warning(&program.take_printed(), &report) {
                    report.warnings.push(w);
                }
                report
            }
            Err(e) => CheckReport::failed(e),
        };
    }
    match compile_with_sample(src, spec, limits, probe) {
        Ok(mut program) => check(program.as_mut(), spec, samples),
        Err(e) => CheckReport::failed(e),
    }
}

/// A warning that the program prints (allowed, but pointless and not free),
/// with the volume of the dry run.
fn printed_warning(output: &str, report: &CheckReport) -> Option<CheckWarning> {
    let first = output.lines().next()?;
    let volume = if report.calls > 0 && report.printed_lines > 0 {
        format!(
            " {} lines ({} bytes) in {} dry-run calls",
            report.printed_lines, report.printed_bytes, report.calls
        )
    } else {
        String::new()
    };
    Some(CheckWarning {
        kind: WarningKind::Printed,
        message: format!(
            "the program prints{volume} (e.g. `{}`); output is discarded during training, and printing costs time on every call",
            first.chars().take(80).collect::<String>()
        ),
        component: None,
    })
}

/// Dry-runs an already compiled program over `(prev, s)` samples (see
/// [`check_source`]) and reports errors, statistics, the wall time of the
/// calls and warnings. Stops at the first failing call: a value out of
/// bounds, components whose sum overflows, or any error of the program.
#[must_use]
pub fn check(
    program: &mut dyn RewardProgram,
    spec: &StateSpec,
    samples: &[(Vec<f64>, Vec<f64>)],
) -> CheckReport {
    let names: Vec<String> = program.components().to_vec();
    let mut errors: Vec<RewardError> = Vec::new();
    let mut warnings = Vec::new();
    let mut acc = vec![Acc::default(); names.len()];
    let mut out = vec![0.0; names.len()];
    let (mut calls, mut call_us_sum, mut call_us_max) = (0usize, 0.0f64, 0.0f64);
    for (i, (prev, s)) in samples.iter().enumerate() {
        if prev.len() != spec.len() || s.len() != spec.len() {
            errors.push(RewardError::new(
                RewardErrorKind::Runtime,
                format!("dry-run sample {i} does not match the reward state"),
            ));
            break;
        }
        let (pv, sv) = (StateView::new(spec, prev), StateView::new(spec, s));
        let started = Instant::now();
        let result = program.evaluate(&sv, &pv, &mut out);
        let us = started.elapsed().as_secs_f64() * 1e6;
        calls += 1;
        call_us_sum += us;
        call_us_max = call_us_max.max(us);
        // Checked here too, for programs that do not check their own sum.
        match result.and_then(|()| component_total(&names, &out)) {
            Ok(_) => {
                for (a, &x) in acc.iter_mut().zip(&out) {
                    a.push(x);
                }
            }
            Err(mut e) => {
                e.message.push_str(&format!(" (dry-run step {i})"));
                errors.push(e);
                break;
            }
        }
    }
    let components: Vec<ComponentStats> = names.iter().zip(&acc).map(|(n, a)| a.stats(n)).collect();
    if samples.is_empty() {
        warnings.push(CheckWarning {
            kind: WarningKind::NoSamples,
            message: "no sample states were given; only the static checks ran".to_string(),
            component: None,
        });
    }
    if errors.is_empty() && samples.len() >= 2 {
        warn_about(&components, &acc, &mut warnings);
    }
    #[allow(clippy::cast_precision_loss)]
    let call_us_mean = if calls == 0 {
        0.0
    } else {
        call_us_sum / calls as f64
    };
    CheckReport {
        ok: errors.is_empty(),
        errors,
        warnings,
        components,
        calls,
        call_us_mean,
        call_us_max,
        printed_lines: 0,
        printed_bytes: 0,
    }
}

fn warn_about(components: &[ComponentStats], acc: &[Acc], warnings: &mut Vec<CheckWarning>) {
    for (c, a) in components.iter().zip(acc) {
        if a.n > 0 && c.max - c.min <= 1e-12 * c.mean.abs().max(1.0) {
            let message = if c.mean == 0.0 {
                format!(
                    "component `{}` is always 0 over {} dry-run steps of random actions: a sparse term gives no learning signal until the policy happens to trigger it",
                    c.name, a.n
                )
            } else {
                format!(
                    "component `{}` is constant ({}) over {} dry-run steps: fine as an alive bonus when episodes can terminate, otherwise it does not shape behaviour",
                    c.name, c.mean, a.n
                )
            };
            warnings.push(CheckWarning {
                kind: WarningKind::ConstantComponent,
                message,
                component: Some(c.name.clone()),
            });
        }
    }
    if components.len() < 2 {
        return;
    }
    let mags: Vec<f64> = acc.iter().map(Acc::mean_abs).collect();
    let Some((top, &big)) = mags.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) else {
        return;
    };
    let (next, &second) = mags
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != top)
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap_or((top, &big));
    if second > 0.0 && big > DOMINANCE_RATIO * second {
        warnings.push(CheckWarning {
            kind: WarningKind::DominantComponent,
            message: format!(
                "component `{}` (mean |value| {:.3e}) dwarfs the others (next largest: `{}`, {:.3e}); they will barely affect learning",
                components[top].name, big, components[next].name, second
            ),
            component: Some(components[top].name.clone()),
        });
    }
}

/// Running statistics (Welford).
#[derive(Clone, Debug)]
struct Acc {
    n: usize,
    mean: f64,
    m2: f64,
    abs_sum: f64,
    min: f64,
    max: f64,
}

impl Default for Acc {
    fn default() -> Self {
        Self {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            abs_sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Acc {
    #[allow(clippy::cast_precision_loss)]
    fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
        self.abs_sum += x.abs();
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    #[allow(clippy::cast_precision_loss)]
    fn mean_abs(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.abs_sum / self.n as f64
        }
    }

    #[allow(clippy::cast_precision_loss)]
    fn stats(&self, name: &str) -> ComponentStats {
        if self.n == 0 {
            return ComponentStats {
                name: name.to_string(),
                mean: 0.0,
                std: 0.0,
                min: 0.0,
                max: 0.0,
            };
        }
        ComponentStats {
            name: name.to_string(),
            mean: self.mean,
            std: (self.m2 / self.n as f64).sqrt(),
            min: self.min,
            max: self.max,
        }
    }
}
