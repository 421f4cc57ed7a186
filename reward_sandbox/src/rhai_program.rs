//! The Rhai backend for reward programs: [`RhaiProgram`] compiles a program
//! in the hardened engine ([`crate::rhai_engine`]), probes its components once,
//! and then evaluates `compute_reward(s, prev)` into them, in the program's
//! order, every step. The contract is documented on [`RhaiProgram`].

use crate::limits::{Limits, component_total};
use crate::rhai_engine::{
    ErrorContext, Flavor, Sandbox, State, build_engine, defined_functions, helpers_type_name,
    number, unknown_field_error,
};
use crate::scan;
use rewardsmith_core::{
    FieldKind, RewardError, RewardErrorKind as K, RewardProgram, StateSpec, StateView,
};
use rhai::{AST, Dynamic, Map, Scope};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

/// Reward programs: `fn compute_reward(s, prev)`, reading fields as `s.name`.
pub(crate) const REWARD: Flavor = Flavor {
    entry_points: &["compute_reward"],
    programs: "reward programs",
    undefined_variable_hint: |name, spec| {
        spec.field(name)
            .map(|_| format!("reward-state fields are read as `s.{name}`"))
    },
    missing_property_hint: |_, _| String::new(),
};

/// What compiling learned, shared by every fork of a program.
struct Compiled {
    ast: AST,
    spec: StateSpec,
    limits: Limits,
    /// Component names in output order.
    names: Vec<String>,
    /// Component names in map (sorted) order, with their output index.
    sorted: Vec<(String, usize)>,
    /// Map-literal keys with their value spans, to name the component an error
    /// happened in.
    sites: Vec<scan::KeySite>,
}

#[doc = include_str!("rhai_contract.md")]
pub struct RhaiProgram {
    shared: Arc<Compiled>,
    sandbox: Sandbox,
    scope: Scope<'static>,
    s_buf: Arc<[f64]>,
    prev_buf: Arc<[f64]>,
}

impl std::fmt::Debug for RhaiProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RhaiProgram")
            .field("components", &self.shared.names)
            .finish_non_exhaustive()
    }
}

/// A state for the probe call: zeros, with `[1, 0, 0, 0]` in 4-vectors whose
/// name contains `quat`, so quaternion helpers see a valid rotation.
fn probe_state(spec: &StateSpec) -> Vec<f64> {
    let mut v = spec.zeroed();
    for f in spec.fields() {
        if f.kind == FieldKind::Vector(4) && f.name.contains("quat") {
            v[f.offset] = 1.0;
        }
    }
    v
}

impl RhaiProgram {
    /// Compiles `source` for the reward state `spec`, probing the component
    /// names on an all-zero state.
    ///
    /// # Errors
    /// A [`RewardError`] for anything wrong with the program.
    pub fn compile(source: &str, spec: &StateSpec, limits: &Limits) -> Result<Self, RewardError> {
        Self::compile_with_sample(source, spec, limits, None)
    }

    /// Like [`compile`](Self::compile), probing the component names on a given
    /// `(prev, s)` pair of states (e.g. from a rollout) instead of zeros.
    ///
    /// # Errors
    /// A [`RewardError`] for anything wrong with the program.
    pub fn compile_with_sample(
        source: &str,
        spec: &StateSpec,
        limits: &Limits,
        sample: Option<(&[f64], &[f64])>,
    ) -> Result<Self, RewardError> {
        catch_unwind(AssertUnwindSafe(|| {
            Self::compile_inner(source, spec, limits, sample)
        }))
        .unwrap_or_else(|_| {
            Err(RewardError::new(
                K::Runtime,
                "the sandbox caught an internal panic while compiling",
            ))
        })
    }

    fn compile_inner(
        source: &str,
        spec: &StateSpec,
        limits: &Limits,
        sample: Option<(&[f64], &[f64])>,
    ) -> Result<Self, RewardError> {
        let started = Instant::now();
        limits.check_source_size(source.len())?;
        let sandbox = build_engine(spec, limits);
        let ast = sandbox.compile(source, spec, REWARD)?;
        limits.check_compile_time(started)?;

        let named = || ast.iter_functions().filter(|f| f.name == "compute_reward");
        let chosen = named()
            .find(|f| f.params.len() == 2)
            .or_else(|| named().next())
            .map(|f| {
                f.params
                    .iter()
                    .map(|p| (*p).to_string())
                    .collect::<Vec<_>>()
            });
        let Some(params) = chosen else {
            let mut msg = "no `fn compute_reward(s, prev)` is defined".to_string();
            msg.push_str(&defined_functions(&ast));
            return Err(RewardError::new(K::MissingFunction, msg));
        };
        if params.len() != 2 {
            let arity = ast
                .iter_functions()
                .filter(|f| f.name == "compute_reward")
                .map(|f| f.params.len().to_string())
                .collect::<Vec<_>>()
                .join(" and ");
            return Err(RewardError::new(
                K::MissingFunction,
                format!(
                    "`compute_reward` takes {arity} parameter(s); it must take exactly two: `fn compute_reward(s, prev)`"
                ),
            ));
        }

        let tokens = scan::tokenize(source);
        let param_refs: Vec<&str> = params.iter().map(String::as_str).collect();
        let unknown: Vec<scan::FieldAccess> = scan::field_accesses(&tokens, &param_refs)
            .into_iter()
            .filter(|a| spec.field(&a.field).is_none())
            .collect();
        if let Some(first) = unknown.first() {
            let mut names: Vec<String> = Vec::new();
            for a in &unknown {
                let n = format!("`{}.{}`", a.param, a.field);
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            return Err(unknown_field_error(&first.field, spec, names.join(", "))
                .at(first.line, first.column));
        }
        let (order, sites) = scan::key_order(&tokens);

        let mut program = Self {
            shared: Arc::new(Compiled {
                ast,
                spec: spec.clone(),
                limits: limits.clone(),
                names: Vec::new(),
                sorted: Vec::new(),
                sites,
            }),
            sandbox,
            scope: Scope::new(),
            s_buf: Arc::from(spec.zeroed()),
            prev_buf: Arc::from(spec.zeroed()),
        };

        let zero = probe_state(spec);
        let (prev, s) = sample.unwrap_or((&zero, &zero));
        if prev.len() != spec.len() || s.len() != spec.len() {
            return Err(RewardError::new(
                K::Runtime,
                format!(
                    "sample state has {} and {} numbers; the reward state has {}",
                    prev.len(),
                    s.len(),
                    spec.len()
                ),
            ));
        }
        let map = program.call_raw(s, prev)?;
        if map.is_empty() {
            return Err(RewardError::new(
                K::NoComponents,
                "compute_reward returned an empty map; return at least one named component, e.g. `#{ forward: v }`",
            ));
        }
        for (k, v) in &map {
            if number(v).is_none() {
                return Err(program.shared.wrong_component_type(k, v));
            }
        }
        let mut names: Vec<String> = map.keys().map(ToString::to_string).collect();
        // Stable sort: names missing from the source keep the map's alphabetical order.
        names.sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(usize::MAX));
        let sorted = map
            .keys()
            .map(|k| {
                let idx = names.iter().position(|n| n == k.as_str()).unwrap_or(0);
                (k.to_string(), idx)
            })
            .collect();
        let Some(compiled) = Arc::get_mut(&mut program.shared) else {
            return Err(RewardError::new(
                K::Runtime,
                "internal: compiled program shared too early",
            ));
        };
        compiled.names = names;
        compiled.sorted = sorted;
        limits.check_compile_time(started)?;
        Ok(program)
    }

    /// Takes the output the program printed with `print`/`debug` since the last
    /// call of this method (capped at [`Limits::max_print_bytes`]; a final line
    /// says when some was dropped).
    pub fn take_printed(&mut self) -> String {
        self.sandbox.take_printed()
    }

    /// Lines and bytes the program has printed with `print`/`debug` since it
    /// was compiled (the probe call included), counting what the cap of
    /// [`Limits::max_print_bytes`] dropped: `(lines, bytes)`. Printing is
    /// pointless during training but not free, so the check reports it.
    #[must_use]
    pub fn printed_volume(&self) -> (u64, u64) {
        self.sandbox.printed_volume()
    }

    /// Runs `compute_reward` and returns its map.
    fn call_raw(&mut self, s: &[f64], prev: &[f64]) -> Result<Map, RewardError> {
        load(&mut self.s_buf, s);
        load(&mut self.prev_buf, prev);
        let args = (
            Dynamic::from(State(Arc::clone(&self.s_buf))),
            Dynamic::from(State(Arc::clone(&self.prev_buf))),
        );
        let shared = &self.shared;
        let value = self.sandbox.call(
            &mut self.scope,
            &shared.ast,
            "compute_reward",
            args,
            shared.limits.call_timeout(),
            &shared.error_context(),
        )?;
        if value.is_map() {
            value.try_cast::<Map>().ok_or_else(|| wrong_return("a map"))
        } else {
            Err(wrong_return(helpers_type_name(&value)))
        }
    }
}

fn wrong_return(got: &str) -> RewardError {
    RewardError::new(
        K::WrongReturnType,
        format!(
            "compute_reward must return a map of named numbers, e.g. `#{{ forward: v, upright: u }}`; it returned {got}"
        ),
    )
}

fn load(buf: &mut Arc<[f64]>, values: &[f64]) {
    match Arc::get_mut(buf) {
        Some(b) if b.len() == values.len() => b.copy_from_slice(values),
        _ => *buf = Arc::from(values),
    }
}

impl Compiled {
    fn wrong_component_type(&self, name: &str, v: &Dynamic) -> RewardError {
        let e = RewardError::new(
            K::WrongReturnType,
            format!(
                "component `{name}` is {}; every component must be a number",
                helpers_type_name(v)
            ),
        )
        .in_component(name);
        self.at_component(e, name)
    }

    /// Adds the position of the component's first map-literal key.
    fn at_component(&self, e: RewardError, name: &str) -> RewardError {
        match self.sites.iter().find(|s| s.name == name) {
            Some(site) => e.at(site.start.0, site.start.1),
            None => e,
        }
    }

    /// How the errors of this program's calls are translated.
    fn error_context(&self) -> ErrorContext<'_> {
        ErrorContext {
            spec: &self.spec,
            limits: &self.limits,
            flavor: REWARD,
            sites: &self.sites,
        }
    }
}

impl RewardProgram for RhaiProgram {
    fn components(&self) -> &[String] {
        &self.shared.names
    }

    fn evaluate(
        &mut self,
        s: &StateView<'_>,
        prev: &StateView<'_>,
        out: &mut [f64],
    ) -> Result<(), RewardError> {
        let shared = Arc::clone(&self.shared);
        if out.len() != shared.names.len()
            || s.values().len() != shared.spec.len()
            || prev.values().len() != shared.spec.len()
        {
            return Err(RewardError::new(
                K::Runtime,
                format!(
                    "internal: called with {} output slots and states of {}/{} numbers; expected {} and {}",
                    out.len(),
                    s.values().len(),
                    prev.values().len(),
                    shared.names.len(),
                    shared.spec.len()
                ),
            ));
        }
        let map = self.call_raw(s.values(), prev.values())?;
        if map.len() != shared.sorted.len()
            || map
                .keys()
                .zip(&shared.sorted)
                .any(|(k, (n, _))| k.as_str() != n)
        {
            let got: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
            return Err(RewardError::new(
                K::ComponentsChanged,
                format!(
                    "compute_reward returned components [{}] after returning [{}]; return the same components on every call (use 0.0 for an inactive term)",
                    got.join(", "),
                    shared.names.join(", ")
                ),
            ));
        }
        let bound = shared.limits.max_component_abs;
        let mut total = 0.0;
        for ((name, v), (_, idx)) in map.iter().zip(&shared.sorted) {
            let Some(x) = number(v) else {
                return Err(shared.wrong_component_type(name, v));
            };
            // The common case inline; the checks word the error.
            if !(x.is_finite() && x.abs() <= bound) {
                shared
                    .limits
                    .check_component(name, x)
                    .map_err(|e| shared.at_component(e, name))?;
            }
            total += x;
            out[*idx] = x;
        }
        if !total.is_finite() {
            component_total(&shared.names, out)?;
        }
        Ok(())
    }

    fn fork(&self) -> Box<dyn RewardProgram> {
        let spec = &self.shared.spec;
        Box::new(Self {
            shared: Arc::clone(&self.shared),
            sandbox: build_engine(spec, &self.shared.limits),
            scope: Scope::new(),
            s_buf: Arc::from(spec.zeroed()),
            prev_buf: Arc::from(spec.zeroed()),
        })
    }
}
