//! Fitness programs: machine-written task fitness. When a user describes a
//! task in their own words there is no fitness written in Rust, so an LLM
//! writes a Rhai program that scores one finished episode, and the engine
//! judges every candidate reward by it. The program runs in the same hardened
//! engine as reward programs ([`crate::rhai_engine`]), under the same
//! [`Limits`] scaled to the episode's length ([`Limits::for_episode`]). The
//! contract is documented on [`FitnessProgram`].

use crate::limits::Limits;
use crate::rhai_engine::{
    ErrorContext, Flavor, State, build_engine, defined_functions, helpers_type_name, number,
    unknown_field_error,
};
use crate::scan;
use rewardsmith_core::{
    Fitness, FitnessMeter, RewardError, RewardErrorKind as K, StateSpec, StateView, StepInfo,
};
use rhai::{AST, Array, Dynamic, INT, Map, Scope};
use serde::{Deserialize, Serialize};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

/// Fitness programs: `fn fitness(episode)`, optionally `fn success(episode)`
/// (the functions the host calls), reading the episode's fields and steps.
pub(crate) const FITNESS: Flavor = Flavor {
    entry_points: &["fitness", "success"],
    programs: "fitness programs",
    undefined_variable_hint,
    missing_property_hint,
};

/// The keys of the `episode` map, in the contract's order.
const EPISODE_FIELDS: [&str; 5] = ["steps", "length", "max_steps", "ended_early", "dt"];

/// What compiling learned, shared by every clone of a program.
struct Compiled {
    ast: AST,
    spec: StateSpec,
    limits: Limits,
    source: String,
    has_success: bool,
}

#[doc = include_str!("fitness_contract.md")]
#[derive(Clone)]
pub struct FitnessProgram {
    shared: Arc<Compiled>,
}

impl std::fmt::Debug for FitnessProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitnessProgram")
            .field("has_success", &self.shared.has_success)
            .finish_non_exhaustive()
    }
}

/// The score a [`FitnessProgram`] gives one episode.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeScore {
    /// The value of `fitness(episode)`: finite, higher is better.
    pub fitness: f64,
    /// The value of `success(episode)`, when the program defines it.
    pub success: Option<bool>,
}

/// One episode for a dry run of a fitness program ([`check_fitness`]), e.g.
/// from a random policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleEpisode {
    /// The reward state after each step, `length` states of `spec.len()`
    /// numbers each, one after the other ([`StateView`] layout).
    pub states: Vec<f64>,
    /// Steps the episode lived.
    pub length: usize,
    /// The task's full episode length.
    pub max_steps: usize,
    /// The environment ended the episode (e.g. a fall) before `max_steps`.
    pub ended_early: bool,
    /// Seconds of simulated time per step.
    pub dt: f64,
}

/// What a dry run of a fitness program found ([`check_fitness`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitnessCheck {
    /// The fitness of each sample episode, in order.
    pub values: Vec<f64>,
    /// How many sample episodes counted as a success, when the program defines
    /// `success`.
    pub successes: Option<usize>,
}

impl FitnessProgram {
    /// Compiles `source` for the reward state `spec`: parses it, checks that
    /// `fn fitness(episode)` exists (and that `success`, if defined, takes one
    /// parameter), and scans both bodies for reads of episode and reward-state
    /// fields that do not exist. It does not run the program; [`check_fitness`]
    /// does.
    ///
    /// # Errors
    /// A [`RewardError`] for anything wrong with the program: `syntax`,
    /// `forbidden`, `missing_function`, `unknown_field`, `data_too_large` (the
    /// source) or `timeout` (compiling).
    pub fn compile(source: &str, spec: &StateSpec, limits: &Limits) -> Result<Self, RewardError> {
        catch_unwind(AssertUnwindSafe(|| compile_inner(source, spec, limits))).unwrap_or_else(
            |_| {
                Err(RewardError::new(
                    K::Runtime,
                    "the sandbox caught an internal panic while compiling",
                ))
            },
        )
    }

    /// Whether the program defines `fn success(episode)`.
    #[must_use]
    pub fn has_success(&self) -> bool {
        self.shared.has_success
    }

    /// The program's source text.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.shared.source
    }

    /// Scores one episode. `states` holds the reward state after each of the
    /// `length` steps the episode lived, `spec.len()` numbers each, one after
    /// the other; `max_steps` is the task's full episode length; `ended_early`
    /// says the environment ended the episode (e.g. a fall) before `max_steps`;
    /// `dt` is the seconds of simulated time per step.
    ///
    /// Each call runs in a fresh engine (a few tens of microseconds, nothing
    /// next to the episode), so clones may evaluate on many threads at once.
    ///
    /// # Errors
    /// A [`RewardError`]: `runtime` (including `states` not matching `length`),
    /// `unknown_field`, `wrong_return_type`, `non_finite`,
    /// `too_many_operations`, `call_depth`, `data_too_large` or `timeout`.
    pub fn evaluate(
        &self,
        states: &[f64],
        length: usize,
        max_steps: usize,
        ended_early: bool,
        dt: f64,
    ) -> Result<EpisodeScore, RewardError> {
        catch_unwind(AssertUnwindSafe(|| {
            self.evaluate_inner(states, length, max_steps, ended_early, dt)
        }))
        .unwrap_or_else(|_| {
            Err(RewardError::new(
                K::Runtime,
                "the sandbox caught an internal panic while scoring an episode",
            ))
        })
    }

    fn evaluate_inner(
        &self,
        states: &[f64],
        length: usize,
        max_steps: usize,
        ended_early: bool,
        dt: f64,
    ) -> Result<EpisodeScore, RewardError> {
        let c = &*self.shared;
        let n = c.spec.len();
        if length.checked_mul(n) != Some(states.len()) {
            return Err(RewardError::new(
                K::Runtime,
                format!(
                    "internal: the episode has {} state numbers for {length} steps; the reward state has {n} per step",
                    states.len()
                ),
            ));
        }
        let limits = c.limits.for_episode(length, n);
        let sandbox = build_engine(&c.spec, &limits);
        let ctx = ErrorContext {
            spec: &c.spec,
            limits: &limits,
            flavor: FITNESS,
            sites: &[],
        };
        let episode = episode_map(states, n, length, max_steps, ended_early, dt);
        let mut scope = Scope::new();
        let mut call = |name: &str, episode: Dynamic| {
            sandbox
                .call(
                    &mut scope,
                    &c.ast,
                    name,
                    (episode,),
                    limits.call_timeout(),
                    &ctx,
                )
                .map_err(|e| explain_budget(e, &c.limits, length))
        };

        let value = call("fitness", episode.clone())?;
        let Some(fitness) = number(&value) else {
            return Err(RewardError::new(
                K::WrongReturnType,
                format!(
                    "fitness must return one number (higher is better), e.g. `total / episode.max_steps`; it returned {}",
                    helpers_type_name(&value)
                ),
            ));
        };
        if !fitness.is_finite() {
            return Err(RewardError::new(
                K::NonFinite,
                format!(
                    "fitness returned {fitness} for an episode of {length} of {max_steps} steps; it must return a finite number for every episode, however short (check divisions, `sqrt` and `ln`)"
                ),
            ));
        }
        let success = if c.has_success {
            let value = call("success", episode)?;
            match value.as_bool() {
                Ok(b) => Some(b),
                Err(_) => {
                    return Err(RewardError::new(
                        K::WrongReturnType,
                        format!(
                            "success must return a bool (true when the episode achieved the task), e.g. `held >= 50`; it returned {}",
                            helpers_type_name(&value)
                        ),
                    ));
                }
            }
        } else {
            None
        };
        Ok(EpisodeScore { fitness, success })
    }
}

fn compile_inner(
    source: &str,
    spec: &StateSpec,
    limits: &Limits,
) -> Result<FitnessProgram, RewardError> {
    let started = Instant::now();
    limits.check_source_size(source.len())?;
    let sandbox = build_engine(spec, limits);
    let ast = sandbox.compile(source, spec, FITNESS)?;
    limits.check_compile_time(started)?;

    let Some(fitness_param) = entry_param(&ast, "fitness")? else {
        let mut msg = "no `fn fitness(episode)` is defined".to_string();
        msg.push_str(&defined_functions(&ast));
        if ast.iter_functions().any(|f| f.name == "compute_reward") {
            msg.push_str(
                "; this is a reward program, but a fitness program is wanted: `fn fitness(episode)` returning one number for a whole episode",
            );
        }
        return Err(RewardError::new(K::MissingFunction, msg));
    };
    let success_param = entry_param(&ast, "success")?;

    let tokens = scan::tokenize(source);
    check_reads(&tokens, "fitness", &fitness_param, spec)?;
    if let Some(p) = &success_param {
        check_reads(&tokens, "success", p, spec)?;
    }
    limits.check_compile_time(started)?;
    Ok(FitnessProgram {
        shared: Arc::new(Compiled {
            ast,
            spec: spec.clone(),
            limits: limits.clone(),
            source: source.to_string(),
            has_success: success_param.is_some(),
        }),
    })
}

/// The parameter name of `fn name(episode)`, `None` when no function `name`
/// is defined, an error when every definition has another number of parameters.
fn entry_param(ast: &AST, name: &str) -> Result<Option<String>, RewardError> {
    let named = || ast.iter_functions().filter(|f| f.name == name);
    if let Some(f) = named().find(|f| f.params.len() == 1) {
        return Ok(f.params.first().map(|p| (*p).to_string()));
    }
    let arity: Vec<String> = named().map(|f| f.params.len().to_string()).collect();
    if arity.is_empty() {
        return Ok(None);
    }
    Err(RewardError::new(
        K::MissingFunction,
        format!(
            "`{name}` takes {} parameter(s); it must take exactly one: `fn {name}(episode)`",
            arity.join(" and ")
        ),
    ))
}

/// The static check of one entry point: reads of episode fields and of
/// reward-state fields that do not exist, reported at the first one in the
/// source, naming every unknown read of that kind.
fn check_reads(
    tokens: &[scan::Token],
    fn_name: &str,
    param: &str,
    spec: &StateSpec,
) -> Result<(), RewardError> {
    let reads = scan::episode_reads(tokens, fn_name, param);
    let listed = |bad: &[&scan::FieldAccess]| {
        let mut names: Vec<String> = Vec::new();
        for a in bad {
            let n = format!("`{}.{}`", a.param, a.field);
            if !names.contains(&n) {
                names.push(n);
            }
        }
        names.join(", ")
    };
    let bad_episode: Vec<&scan::FieldAccess> = reads
        .episode
        .iter()
        .filter(|a| !EPISODE_FIELDS.contains(&a.field.as_str()))
        .collect();
    let bad_state: Vec<&scan::FieldAccess> = reads
        .state
        .iter()
        .filter(|a| spec.field(&a.field).is_none())
        .collect();
    let episode_err = bad_episode.first().map(|first| {
        let mut msg = format!("{}: no such episode field", listed(&bad_episode));
        if let Some(near) = scan::closest(&first.field, EPISODE_FIELDS) {
            msg.push_str(&format!(" (did you mean `{near}`?)"));
        }
        msg.push_str(&format!("; the episode has: {}", EPISODE_FIELDS.join(", ")));
        if spec.field(&first.field).is_some() {
            msg.push_str(&format!(
                "; `{0}` is a reward-state field: read it on a step, e.g. `{param}.steps[i].{0}`",
                first.field
            ));
        }
        (
            (first.line, first.column),
            RewardError::new(K::UnknownField, msg).at(first.line, first.column),
        )
    });
    let state_err = bad_state.first().map(|first| {
        (
            (first.line, first.column),
            unknown_field_error(&first.field, spec, listed(&bad_state))
                .at(first.line, first.column),
        )
    });
    match (episode_err, state_err) {
        (Some((a, e)), Some((b, _))) if a <= b => Err(e),
        (_, Some((_, e))) | (Some((_, e)), None) => Err(e),
        (None, None) => Ok(()),
    }
}

/// The `episode` map a fitness program receives.
fn episode_map(
    states: &[f64],
    n: usize,
    length: usize,
    max_steps: usize,
    ended_early: bool,
    dt: f64,
) -> Dynamic {
    let steps: Array = (0..length)
        .map(|t| {
            let s = states.get(t * n..(t + 1) * n).unwrap_or(&[]);
            Dynamic::from(State(Arc::from(s)))
        })
        .collect();
    let int = |x: usize| INT::try_from(x).unwrap_or(INT::MAX);
    let mut m = Map::new();
    m.insert("steps".into(), Dynamic::from_array(steps));
    m.insert("length".into(), Dynamic::from_int(int(length)));
    m.insert("max_steps".into(), Dynamic::from_int(int(max_steps)));
    m.insert("ended_early".into(), Dynamic::from_bool(ended_early));
    m.insert("dt".into(), Dynamic::from_float(dt));
    Dynamic::from_map(m)
}

/// Says how the operation budget of a fitness call is made up.
fn explain_budget(mut e: RewardError, limits: &Limits, length: usize) -> RewardError {
    if e.kind == K::TooManyOperations {
        let total = limits.for_episode(length, 0).max_operations;
        e.message = format!(
            "more than {total} operations in one call ({} + {} per step of this {length}-step episode): an endless loop, or work that grows faster than the episode (a loop inside a loop over the steps)?",
            limits.max_operations, limits.fitness_operations_per_step
        );
    }
    e
}

/// The hint after "variable `name` is not defined" in a fitness program.
fn undefined_variable_hint(name: &str, spec: &StateSpec) -> Option<String> {
    if EPISODE_FIELDS.contains(&name) {
        Some(format!("episode fields are read as `episode.{name}`"))
    } else if spec.field(name).is_some() {
        Some(format!(
            "reward-state fields are read on a step, e.g. `episode.steps[i].{name}`"
        ))
    } else {
        None
    }
}

/// The hint after "property `name` not found on this map" in a fitness
/// program (the map is most likely the episode).
fn missing_property_hint(name: &str, spec: &StateSpec) -> String {
    let mut hint = format!(" (the episode has: {}", EPISODE_FIELDS.join(", "));
    if spec.field(name).is_some() {
        hint.push_str(&format!(
            "; `{name}` is a reward-state field: read it on a step, e.g. `episode.steps[i].{name}`"
        ));
    }
    hint.push(')');
    hint
}

/// Compiles, then scores each sample episode: the dry run of a fitness program
/// before any training uses it.
///
/// # Errors
/// The first [`RewardError`]: from compiling, or from scoring a sample episode
/// (the message then names the episode, e.g. "sample episode 2 of 4: 37 of
/// 1000 steps, ended early"). A non-finite fitness is an error. No samples give
/// an empty [`FitnessCheck`] after the static checks.
pub fn check_fitness(
    source: &str,
    spec: &StateSpec,
    episodes: &[SampleEpisode],
    limits: &Limits,
) -> Result<FitnessCheck, RewardError> {
    let program = FitnessProgram::compile(source, spec, limits)?;
    let mut values = Vec::with_capacity(episodes.len());
    let mut successes = 0;
    for (i, ep) in episodes.iter().enumerate() {
        let score = program
            .evaluate(&ep.states, ep.length, ep.max_steps, ep.ended_early, ep.dt)
            .map_err(|mut e| {
                e.message.push_str(&format!(
                    " (sample episode {} of {}: {} of {} steps{})",
                    i + 1,
                    episodes.len(),
                    ep.length,
                    ep.max_steps,
                    if ep.ended_early { ", ended early" } else { "" }
                ));
                e
            })?;
        values.push(score.fitness);
        successes += usize::from(score.success == Some(true));
    }
    Ok(FitnessCheck {
        values,
        successes: program.has_success().then_some(successes),
    })
}

/// The task fitness of a [`FitnessProgram`], as the core [`Fitness`] type:
/// each episode gets a meter that records the reward state after every step
/// and runs the program when the episode finishes
/// ([`FitnessMeter::finish`]). The episode ended early when a step said
/// `terminated` before the task's full length. An evaluation error gives
/// `f64::NAN` (logged as a warning), which the engine treats as a failure of
/// the candidate. `doc` says what the number means (reports print it); `dt`
/// is the environment's seconds per step.
#[must_use]
pub fn program_fitness(program: FitnessProgram, doc: &str, dt: f64) -> Fitness {
    Fitness::custom(doc, move || {
        Box::new(ProgramMeter {
            program: program.clone(),
            dt,
            states: Vec::new(),
            length: 0,
            terminated: false,
        })
    })
}

/// The per-episode meter behind [`program_fitness`].
struct ProgramMeter {
    program: FitnessProgram,
    dt: f64,
    states: Vec<f64>,
    length: usize,
    terminated: bool,
}

impl FitnessMeter for ProgramMeter {
    fn step(&mut self, s: &StateView<'_>, info: StepInfo) {
        self.states.extend_from_slice(s.values());
        self.length += 1;
        self.terminated |= info.terminated;
    }

    fn finish(&self, episode_steps: usize) -> f64 {
        self.finish_scored(episode_steps).0
    }

    fn finish_scored(&self, episode_steps: usize) -> (f64, Option<bool>) {
        let ended_early = self.terminated && self.length < episode_steps;
        match self.program.evaluate(
            &self.states,
            self.length,
            episode_steps,
            ended_early,
            self.dt,
        ) {
            Ok(score) => (score.fitness, score.success),
            Err(e) => {
                tracing::warn!(error = %e, steps = self.length, "the fitness program failed on an episode");
                // A program with `success` counts a failed episode as no success.
                (f64::NAN, self.program.has_success().then_some(false))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_right_way_to_read_a_field() {
        let spec = StateSpec::builder().scalar("x", "m", "world", "").build();
        assert_eq!(
            undefined_variable_hint("length", &spec).as_deref(),
            Some("episode fields are read as `episode.length`")
        );
        assert!(
            undefined_variable_hint("x", &spec).is_some_and(|h| h.contains("episode.steps[i].x"))
        );
        assert_eq!(undefined_variable_hint("y", &spec), None);
        assert!(missing_property_hint("x", &spec).contains("episode.steps[i].x"));
    }
}
