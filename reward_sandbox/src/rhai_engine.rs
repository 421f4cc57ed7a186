//! The hardened Rhai engine every Rhai program runs in (reward and fitness
//! programs alike): [`build_engine`], the only place an engine is made; the
//! [`Sandbox`] that compiles and calls under a per-call CPU deadline and
//! captures printed output; the read-only [`State`] value; and the
//! translation of Rhai's errors into short [`RewardError`]s, worded for the
//! program's [`Flavor`]. It knows no particular kind of program.

use crate::clock;
use crate::helpers;
use crate::limits::Limits;
use crate::scan;
use rewardsmith_core::{FieldKind, RewardError, RewardErrorKind as K, StateSpec};
use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicIteratorPackage, BasicMapPackage, BasicMathPackage,
    BasicStringPackage, LogicPackage, Package,
};
use rhai::{
    AST, Array, CallFnOptions, Dynamic, Engine, EvalAltResult, FLOAT, FuncArgs, Module,
    OptimizationLevel, ParseErrorType, Position, Scope, Shared,
};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

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

/// Which kind of Rhai program is being compiled or run. Every kind shares the
/// engine, the limits and the errors; a kind names its entry points and words
/// the errors about what its program reads. Each program module defines its
/// own (`rhai_program::REWARD`, `fitness_program::FITNESS`), so this module
/// knows none of them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flavor {
    /// The functions the host calls.
    pub(crate) entry_points: &'static [&'static str],
    /// The programs' name, plural, for "… is not allowed in {}".
    pub(crate) programs: &'static str,
    /// A hint for a bare `name` that is not a variable, if it names something
    /// the program can read another way.
    pub(crate) undefined_variable_hint: fn(&str, &StateSpec) -> Option<String>,
    /// Text appended to "property `name` not found on this map" (may be empty).
    pub(crate) missing_property_hint: fn(&str, &StateSpec) -> String,
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

impl Sandbox {
    /// Takes the output printed with `print`/`debug` since the last call of
    /// this method (capped at [`Limits::max_print_bytes`]; a final line says
    /// when some was dropped).
    pub(crate) fn take_printed(&self) -> String {
        let Ok(mut p) = self.printed.lock() else {
            return String::new();
        };
        let mut text = std::mem::take(&mut p.text);
        if std::mem::take(&mut p.dropped) {
            text.push_str("[further output dropped]\n");
        }
        text
    }

    /// Lines and bytes printed with `print`/`debug` since the engine was
    /// built, counting what the cap dropped: `(lines, bytes)`.
    pub(crate) fn printed_volume(&self) -> (u64, u64) {
        self.printed.lock().map_or((0, 0), |p| (p.lines, p.bytes))
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
/// A Rhai float or integer as an `f64`; `None` for any other type.
pub(crate) fn number(v: &Dynamic) -> Option<f64> {
    if let Ok(x) = v.as_float() {
        Some(x)
    } else {
        #[allow(clippy::cast_precision_loss)]
        v.as_int().ok().map(|i| i as f64)
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
    let forbidden = |w: &str| format!("`{w}` is not allowed in {}", flavor.programs);
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
            if let Some(hint) = (flavor.undefined_variable_hint)(name, spec) {
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
            if !self.flavor.entry_points.contains(&name.as_str()) {
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
                m.push_str(&(self.flavor.missing_property_hint)(name, self.spec));
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
                format!("`{name}` is not allowed in {}", self.flavor.programs),
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
