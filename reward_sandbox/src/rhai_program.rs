//! The Rhai backend: [`RhaiProgram`], and what every Rhai program shares with
//! it (fitness programs too): the one function that builds a hardened engine,
//! the read-only state type, the guarded call, and the translation of Rhai's
//! errors into short [`RewardError`]s. The contract is documented on
//! [`RhaiProgram`].

use crate::clock;
use crate::helpers;
use crate::limits::{Limits, component_total};
use crate::scan;
use rewardsmith_core::{
    FieldKind, RewardError, RewardErrorKind as K, RewardProgram, StateSpec, StateView,
};
use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicIteratorPackage, BasicMapPackage, BasicMathPackage,
    BasicStringPackage, LogicPackage, Package,
};
use rhai::{
    AST, Array, CallFnOptions, Dynamic, Engine, EvalAltResult, FLOAT, FuncArgs, Map, Module,
    OptimizationLevel, ParseErrorType, Position, Scope, Shared,
};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Words a reward program may not use; using one is a
/// [`Forbidden`](RewardErrorKind::Forbidden) error.
const FORBIDDEN: &[&str] = &["eval", "import", "export", "sleep", "exit"];

/// How often (in operations) a running call reads its CPU time even when
/// the coarse clock shows no new tick: a backstop for a ticking thread that
/// cannot start or that a loaded machine starves. A read costs ~0.9 µs and
/// 4096 operations ~40 µs or more, so it stays around 2% in the worst case,
/// for calls that are long anyway.
const DEADLINE_EVERY: u64 = 4096;

/// No CPU reading yet in this call.
const NOT_YET: u64 = u64::MAX;

/// A reward state as a Rhai value: read-only, one getter per field.
#[derive(Clone)]
pub(crate) struct State(pub(crate) Arc<[f64]>);

/// Which kind of Rhai program is being compiled or run. Both kinds share the
/// engine, the limits and the errors; they differ in their entry points and in
/// how the errors word a field read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// A reward program: `fn compute_reward(s, prev)`.
    Reward,
    /// A fitness program: `fn fitness(episode)`, optionally `fn success(episode)`.
    Fitness,
}

impl Flavor {
    /// The functions the host calls.
    fn entry_points(self) -> &'static [&'static str] {
        match self {
            Self::Reward => &["compute_reward"],
            Self::Fitness => crate::fitness_program::ENTRY_POINTS,
        }
    }

    /// The programs' name, plural, for "… is not allowed in {}".
    fn programs(self) -> &'static str {
        match self {
            Self::Reward => "reward programs",
            Self::Fitness => "fitness programs",
        }
    }

    /// A hint for a bare `name` that is not a variable, if it names something
    /// the program can read another way.
    fn undefined_variable_hint(self, name: &str, spec: &StateSpec) -> Option<String> {
        match self {
            Self::Reward => spec
                .field(name)
                .map(|_| format!("reward-state fields are read as `s.{name}`")),
            Self::Fitness => crate::fitness_program::undefined_variable_hint(name, spec),
        }
    }
}

/// The deadline of the running call. Before every operation `on_progress`
/// compares the coarse clock ([`clock`]) with the tick the call last saw (two
/// atomic loads); on a new tick it reads the thread's CPU time: the first
/// reading starts the count, a later one fails the call once the CPU time
/// since then reaches the deadline ([`clock`] says why CPU time, not wall
/// time). When the call returns, the count is finished: a long last native
/// function cannot slip a value past the deadline. A call that never sees a
/// tick (nearly every call: they take microseconds) never reads the clock.
struct Deadline {
    timeout_ns: AtomicU64,
    seen_tick: AtomicU64,
    cpu_start_ns: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Deadline {
    fn new() -> Self {
        Self {
            timeout_ns: AtomicU64::new(u64::MAX),
            seen_tick: AtomicU64::new(0),
            cpu_start_ns: AtomicU64::new(NOT_YET),
        }
    }

    fn arm(&self, within: Duration) {
        self.timeout_ns.store(nanos(within), Ordering::Relaxed);
        self.seen_tick.store(clock::now(), Ordering::Relaxed);
        self.cpu_start_ns.store(NOT_YET, Ordering::Relaxed);
    }

    /// Whether the call must stop now (called before every operation).
    #[inline]
    fn passed(&self, ops: u64) -> bool {
        let tick = clock::now();
        if tick == self.seen_tick.load(Ordering::Relaxed) && !ops.is_multiple_of(DEADLINE_EVERY) {
            return false;
        }
        self.seen_tick.store(tick, Ordering::Relaxed);
        self.spent()
            .is_some_and(|ns| ns >= self.timeout_ns.load(Ordering::Relaxed))
    }

    /// CPU nanoseconds used since the first reading of this call; `None` for
    /// the first reading, which starts the count.
    fn spent(&self) -> Option<u64> {
        let cpu = nanos(clock::thread_cpu());
        let start = self.cpu_start_ns.load(Ordering::Relaxed);
        if start == NOT_YET {
            self.cpu_start_ns.store(cpu, Ordering::Relaxed);
            return None;
        }
        Some(cpu.saturating_sub(start))
    }

    /// After the call: the CPU time it was counted to use, when that reached
    /// the deadline.
    fn overran(&self) -> Option<Duration> {
        if self.cpu_start_ns.load(Ordering::Relaxed) == NOT_YET {
            return None;
        }
        let ns = self.spent()?;
        (ns >= self.timeout_ns.load(Ordering::Relaxed)).then(|| Duration::from_nanos(ns))
    }
}

/// Captured `print`/`debug` output, capped, and the volume printed (kept or
/// dropped).
#[derive(Default)]
struct Printed {
    text: String,
    dropped: bool,
    lines: u64,
    bytes: u64,
}

/// A hardened engine plus the state its callbacks share with the host.
pub(crate) struct Sandbox {
    engine: Engine,
    deadline: Arc<Deadline>,
    printed: Arc<Mutex<Printed>>,
}

impl Sandbox {
    /// Compiles `source` into an AST (parse errors worded for `flavor`).
    pub(crate) fn compile(
        &self,
        source: &str,
        spec: &StateSpec,
        flavor: Flavor,
    ) -> Result<AST, RewardError> {
        self.engine
            .compile(source)
            .map_err(|e| parse_error(&e.0, e.1, spec, flavor))
    }

    /// Calls the script function `name` under a fresh deadline ([`Deadline`]) of
    /// `timeout`, without running the top-level statements. A Rhai error is
    /// translated through `ctx`; a panic inside Rhai is caught and reported.
    pub(crate) fn call(
        &self,
        scope: &mut Scope<'static>,
        ast: &AST,
        name: &str,
        args: impl FuncArgs,
        timeout: Duration,
        ctx: &ErrorContext<'_>,
    ) -> Result<Dynamic, RewardError> {
        self.deadline.arm(timeout);
        let engine = &self.engine;
        let result = catch_unwind(AssertUnwindSafe(|| {
            let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
            engine.call_fn_with_options::<Dynamic>(options, scope, ast, name, args)
        }));
        match result {
            Ok(Ok(value)) => {
                // Counted to the end: the last native function before
                // returning may have run past the deadline with no operation
                // left to notice.
                if let Some(spent) = self.deadline.overran() {
                    scope.clear();
                    return Err(RewardError::new(
                        K::Timeout,
                        format!(
                            "the call worked for {} ms; the limit is {} ms (slow native work on large arrays or strings?)",
                            spent.as_millis(),
                            timeout.as_millis()
                        ),
                    ));
                }
                Ok(value.flatten())
            }
            Ok(Err(e)) => {
                scope.clear();
                Err(ctx.eval_error(&e))
            }
            Err(_) => {
                scope.clear();
                Err(RewardError::new(
                    K::Runtime,
                    format!("the sandbox caught an internal panic while running {name}"),
                ))
            }
        }
    }
}

/// What turning a Rhai error into a [`RewardError`] needs to know.
pub(crate) struct ErrorContext<'a> {
    /// The reward state the program reads.
    pub(crate) spec: &'a StateSpec,
    /// The limits the call ran under (named in the messages).
    pub(crate) limits: &'a Limits,
    /// The kind of program.
    pub(crate) flavor: Flavor,
    /// Map-literal keys with their value spans, to name the component an error
    /// happened in (empty when there are no components).
    pub(crate) sites: &'a [scan::KeySite],
}

/// Rhai's packages a reward may use, built once per process. Left out on
/// purpose: `LanguageCorePackage` (`sleep`, `exit`, `parse_json`, metadata),
/// time, blobs, bit fields and the extra string functions.
fn packages() -> &'static [Shared<Module>] {
    static PACKAGES: OnceLock<Vec<Shared<Module>>> = OnceLock::new();
    PACKAGES.get_or_init(|| {
        vec![
            ArithmeticPackage::new().as_shared_module(),
            LogicPackage::new().as_shared_module(),
            BasicMathPackage::new().as_shared_module(),
            BasicArrayPackage::new().as_shared_module(),
            BasicMapPackage::new().as_shared_module(),
            BasicStringPackage::new().as_shared_module(),
            BasicIteratorPackage::new().as_shared_module(),
        ]
    })
}

/// Builds the engine every reward program runs in. This is the **only** place
/// an engine is made: a raw engine plus the packages above, no module resolver
/// (the `no_module` feature), `eval` and friends disabled, output captured,
/// strict variables, every size and depth limit set, and a per-call deadline.
pub(crate) fn build_engine(spec: &StateSpec, limits: &Limits) -> Sandbox {
    let mut engine = Engine::new_raw();
    for m in packages() {
        engine.register_global_module(m.clone());
    }
    for word in FORBIDDEN {
        engine.disable_symbol(*word);
    }
    engine.set_strict_variables(true);
    engine.set_fail_on_invalid_map_property(true);
    engine.set_optimization_level(OptimizationLevel::Simple);
    engine.set_max_operations(limits.max_operations.max(1));
    engine.set_max_call_levels(limits.max_call_levels);
    // Rhai reads 0 as "unlimited"; a limit of 0 here means the strictest one.
    engine.set_max_expr_depths(
        limits.max_expr_depth.max(1),
        limits.max_fn_expr_depth.max(1),
    );
    engine.set_max_string_size(limits.max_string_size.max(1));
    engine.set_max_array_size(limits.max_array_size.max(1));
    engine.set_max_map_size(limits.max_map_size.max(1));
    engine.set_max_variables(1024);
    engine.set_max_functions(256);

    clock::start();
    let deadline = Arc::new(Deadline::new());
    let d = Arc::clone(&deadline);
    engine.on_progress(move |ops| d.passed(ops).then_some(Dynamic::UNIT));

    let printed = Arc::new(Mutex::new(Printed::default()));
    let cap = limits.max_print_bytes;
    let p = Arc::clone(&printed);
    engine.on_print(move |text| capture(&p, cap, text));
    let p = Arc::clone(&printed);
    engine.on_debug(move |text, _, _| capture(&p, cap, text));

    engine.register_type_with_name::<State>("State");
    for f in spec.fields() {
        let off = f.offset;
        match f.kind {
            FieldKind::Scalar => {
                engine.register_get(&f.name, move |st: &mut State| -> FLOAT {
                    st.0.get(off).copied().unwrap_or(f64::NAN)
                });
            }
            FieldKind::Vector(n) => {
                engine.register_get(&f.name, move |st: &mut State| -> Array {
                    st.0.get(off..off + n)
                        .map(|v| v.iter().map(|&x| Dynamic::from_float(x)).collect())
                        .unwrap_or_default()
                });
            }
        }
    }
    helpers::register_all(&mut engine);
    Sandbox {
        engine,
        deadline,
        printed,
    }
}

fn capture(printed: &Mutex<Printed>, cap: usize, text: &str) {
    let Ok(mut p) = printed.lock() else { return };
    p.lines = p.lines.saturating_add(1);
    p.bytes = p.bytes.saturating_add(
        u64::try_from(text.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1),
    );
    if p.text.len() + text.len() + 1 > cap {
        p.dropped = true;
        return;
    }
    p.text.push_str(text);
    p.text.push('\n');
}

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
        let ast = sandbox.compile(source, spec, Flavor::Reward)?;
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
        let Ok(mut p) = self.sandbox.printed.lock() else {
            return String::new();
        };
        let mut text = std::mem::take(&mut p.text);
        if std::mem::take(&mut p.dropped) {
            text.push_str("[further output dropped]\n");
        }
        text
    }

    /// Lines and bytes the program has printed with `print`/`debug` since it
    /// was compiled (the probe call included), counting what the cap of
    /// [`Limits::max_print_bytes`] dropped: `(lines, bytes)`. Printing is
    /// pointless during training but not free, so the check reports it.
    #[must_use]
    pub fn printed_volume(&self) -> (u64, u64) {
        self.sandbox
            .printed
            .lock()
            .map_or((0, 0), |p| (p.lines, p.bytes))
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

/// `; found: f(a), g(b, c)`: the functions a program defines, for an error
/// about a missing entry point (empty when it defines none).
pub(crate) fn defined_functions(ast: &AST) -> String {
    let defined: Vec<String> = ast
        .iter_functions()
        .map(|f| format!("{}({})", f.name, f.params.join(", ")))
        .collect();
    if defined.is_empty() {
        String::new()
    } else {
        format!("; found: {}", defined.join(", "))
    }
}

/// The type of a Rhai value in words, for wrong-type errors: "a float", "a map", ….
pub(crate) fn helpers_type_name(d: &Dynamic) -> &'static str {
    if d.is_float() {
        "a float"
    } else if d.is_int() {
        "an integer"
    } else if d.is_array() {
        "an array"
    } else if d.is_string() {
        "a string"
    } else if d.is_bool() {
        "a bool"
    } else if d.is_map() {
        "a map"
    } else if d.is_unit() {
        "nothing (`()`)"
    } else {
        "a value of another type"
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

/// A Rhai float or integer as an `f64`; `None` for any other type.
pub(crate) fn number(v: &Dynamic) -> Option<f64> {
    if let Ok(x) = v.as_float() {
        Some(x)
    } else {
        #[allow(clippy::cast_precision_loss)]
        v.as_int().ok().map(|i| i as f64)
    }
}

fn load(buf: &mut Arc<[f64]>, values: &[f64]) {
    match Arc::get_mut(buf) {
        Some(b) if b.len() == values.len() => b.copy_from_slice(values),
        _ => *buf = Arc::from(values),
    }
}

/// An [`UnknownField`](K::UnknownField) error: `reads` (e.g. "`s.speed`") name
/// no reward-state field; with a "did you mean" hint and the list of fields.
pub(crate) fn unknown_field_error(field: &str, spec: &StateSpec, reads: String) -> RewardError {
    let mut msg = format!("{reads}: no such reward-state field");
    if let Some(near) = scan::closest(field, spec.fields().iter().map(|f| f.name.as_str())) {
        msg.push_str(&format!(" (did you mean `{near}`?)"));
    }
    msg.push_str(&format!("; the fields are: {}", spec.field_names()));
    RewardError::new(K::UnknownField, msg)
}

fn with_pos(e: RewardError, pos: Position) -> RewardError {
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => e.at(
            u32::try_from(l).unwrap_or(u32::MAX),
            u32::try_from(c).unwrap_or(u32::MAX),
        ),
        (Some(l), None) => {
            let mut e = e;
            e.line = Some(u32::try_from(l).unwrap_or(u32::MAX));
            e
        }
        _ => e,
    }
}

fn parse_error(t: &ParseErrorType, pos: Position, spec: &StateSpec, flavor: Flavor) -> RewardError {
    let forbidden = |w: &str| format!("`{w}` is not allowed in {}", flavor.programs());
    let (kind, msg) = match t {
        ParseErrorType::ExprTooDeep => (
            K::ExprDepth,
            "expressions or blocks nested too deeply; flatten them with `let` bindings".to_string(),
        ),
        ParseErrorType::Reserved(w) if FORBIDDEN.contains(&w.as_str()) => {
            (K::Forbidden, forbidden(w))
        }
        ParseErrorType::LiteralTooLarge(what, max) => {
            (K::DataTooLarge, format!("{what} exceeds the limit ({max})"))
        }
        ParseErrorType::VariableUndefined(name) => {
            let mut m = format!("variable `{name}` is not defined");
            if let Some(hint) = flavor.undefined_variable_hint(name, spec) {
                m.push_str(&format!(" ({hint})"));
            }
            (K::Syntax, m)
        }
        other => {
            let text = other.to_string();
            match FORBIDDEN.iter().find(|w| text.contains(&format!("'{w}'"))) {
                Some(w) => (K::Forbidden, forbidden(w)),
                None => (K::Syntax, text),
            }
        }
    };
    with_pos(RewardError::new(kind, msg), pos)
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
            flavor: Flavor::Reward,
            sites: &self.sites,
        }
    }
}

impl ErrorContext<'_> {
    /// Turns a Rhai runtime error into a short [`RewardError`].
    pub(crate) fn eval_error(&self, err: &EvalAltResult) -> RewardError {
        let mut inner = err;
        let mut pos = err.position();
        let mut in_fn: Option<&str> = None;
        while let EvalAltResult::ErrorInFunctionCall(name, _, next, p) = inner {
            if !p.is_none() {
                pos = *p;
            }
            if !self.flavor.entry_points().contains(&name.as_str()) {
                in_fn = Some(name.as_str());
            }
            inner = next;
        }
        if !inner.position().is_none() {
            pos = inner.position();
        }
        let limits = self.limits;
        let (kind, mut msg) = match inner {
            EvalAltResult::ErrorParsing(t, p) => {
                return parse_error(t, *p, self.spec, self.flavor);
            }
            EvalAltResult::ErrorTooManyOperations(_) => (
                K::TooManyOperations,
                format!(
                    "more than {} operations in one call (an endless loop?)",
                    limits.max_operations
                ),
            ),
            EvalAltResult::ErrorStackOverflow(_) => (
                K::CallDepth,
                format!(
                    "function calls nested deeper than {} (unbounded recursion?)",
                    limits.max_call_levels
                ),
            ),
            EvalAltResult::ErrorDataTooLarge(what, _) => (
                K::DataTooLarge,
                format!(
                    "{what} exceeds its limit (strings {} bytes, arrays {} items, maps {} entries)",
                    limits.max_string_size, limits.max_array_size, limits.max_map_size
                ),
            ),
            EvalAltResult::ErrorTooManyVariables(_) => {
                (K::DataTooLarge, "too many variables".to_string())
            }
            EvalAltResult::ErrorTerminated(..) => (
                K::Timeout,
                format!("the call ran past its {} ms deadline", limits.call_timeout_ms),
            ),
            EvalAltResult::ErrorMismatchOutputType(..) => (K::WrongReturnType, strip_pos(inner)),
            EvalAltResult::ErrorFunctionNotFound(sig, _) => self.function_not_found(sig),
            EvalAltResult::ErrorDotExpr(text, _)
                if text.contains("type 'State'") && text.contains("setter") =>
            {
                (
                    K::Runtime,
                    "the reward state is read-only; copy values into local variables to change them"
                        .to_string(),
                )
            }
            EvalAltResult::ErrorDotExpr(text, _) if text.contains("type 'State'") => {
                let prop = text
                    .split('\'')
                    .nth(1)
                    .unwrap_or("?")
                    .to_string();
                let e = unknown_field_error(&prop, self.spec, format!("`.{prop}`"));
                (e.kind, e.message)
            }
            EvalAltResult::ErrorPropertyNotFound(name, _) => {
                let mut m = format!("property `{name}` not found on this map");
                if self.flavor == Flavor::Fitness {
                    m.push_str(&crate::fitness_program::missing_property_hint(name, self.spec));
                }
                (K::Runtime, m)
            }
            _ => (K::Runtime, strip_pos(inner)),
        };
        if let Some(f) = in_fn {
            msg.push_str(&format!(" (in function `{f}`)"));
        }
        let mut e = with_pos(RewardError::new(kind, msg), pos);
        if let (Some(l), Some(c)) = (e.line, e.column)
            && let Some(name) = scan::component_at(self.sites, l, c)
        {
            e = e.in_component(name);
        }
        e
    }

    fn function_not_found(&self, sig: &str) -> (K, String) {
        // A property getter that does not exist: `get$name (State)`.
        if let Some(rest) = sig.strip_prefix("get$") {
            let prop = rest.split([' ', '(']).next().unwrap_or(rest);
            if rest.contains("State") {
                let e = unknown_field_error(prop, self.spec, format!("`.{prop}`"));
                return (e.kind, e.message);
            }
            return (
                K::Runtime,
                format!("property `{prop}` does not exist on {}", rest.trim()),
            );
        }
        let name = sig.split([' ', '(']).next().unwrap_or(sig);
        if FORBIDDEN.contains(&name) {
            return (
                K::Forbidden,
                format!("`{name}` is not allowed in {}", self.flavor.programs()),
            );
        }
        let mut msg = format!("no function `{}`", sig.trim());
        if let Some(near) = scan::closest(name, helpers::HELPERS.iter().map(helpers::Helper::name))
            && near != name
        {
            msg.push_str(&format!(" (did you mean `{near}`?)"));
        }
        (K::Runtime, msg)
    }
}

/// The error's text without Rhai's trailing ` (line L, position C)`.
fn strip_pos(e: &EvalAltResult) -> String {
    let text = e.to_string();
    let pos = e.position();
    if pos.is_none() {
        return text;
    }
    let suffix = format!(" ({pos})");
    text.strip_suffix(&suffix)
        .map_or(text.clone(), ToString::to_string)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(d: &Dynamic) -> Vec<f64> {
        if let Some(a) = d.read_lock::<Array>() {
            a.iter().flat_map(flat).collect()
        } else if let Ok(b) = d.as_bool() {
            vec![f64::from(u8::from(b))]
        } else {
            vec![number(d).unwrap_or(f64::NAN)]
        }
    }

    #[test]
    fn every_documented_helper_is_registered_and_its_example_holds() {
        let spec = StateSpec::builder().scalar("x", "1", "world", "").build();
        let sb = build_engine(&spec, &Limits::default());
        let doc = helpers::helpers_doc();
        for h in helpers::HELPERS {
            let got = sb.engine.eval::<Dynamic>(h.example.0);
            let want = sb.engine.eval::<Dynamic>(h.example.1);
            let (got, want) = match (got, want) {
                (Ok(g), Ok(w)) => (flat(&g), flat(&w)),
                (g, w) => panic!("{}: {g:?} / {w:?}", h.signature),
            };
            assert_eq!(got.len(), want.len(), "{}", h.signature);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-9, "{}: {got:?} != {want:?}", h.signature);
            }
            assert!(h.example.0.contains(h.name()), "{} example", h.name());
            assert!(doc.contains(&format!("`{}", h.signature)), "{}", h.name());
        }
    }

    #[test]
    fn quaternion_helpers_agree() {
        let spec = StateSpec::builder().scalar("x", "1", "world", "").build();
        let sb = build_engine(&spec, &Limits::default());
        // 90° about z: rotating +x gives +y; yaw is π/2; axis z, angle π/2.
        let q = "[0.7071067811865476, 0.0, 0.0, 0.7071067811865476]";
        let cases = [
            (
                format!("quat_rotate({q}, [1.0, 0.0, 0.0])"),
                vec![0.0, 1.0, 0.0],
            ),
            (
                format!("quat_to_euler({q})"),
                vec![0.0, 0.0, std::f64::consts::FRAC_PI_2],
            ),
            (
                format!("quat_axis_angle({q})"),
                vec![0.0, 0.0, 1.0, std::f64::consts::FRAC_PI_2],
            ),
            (
                format!("quat_mul({q}, quat_conj({q}))"),
                vec![1.0, 0.0, 0.0, 0.0],
            ),
        ];
        for (expr, want) in cases {
            let got = flat(&sb.engine.eval::<Dynamic>(&expr).unwrap());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-9, "{expr}: {got:?}");
            }
        }
        let e = sb
            .engine
            .eval::<Dynamic>("cross([1.0], [2.0])")
            .unwrap_err();
        assert!(
            e.to_string().contains("expected an array of 3 numbers"),
            "{e}"
        );
    }
}
