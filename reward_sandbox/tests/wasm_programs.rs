//! The WebAssembly backend against good and bad modules: every bad module gives
//! its exact error kind within a second, and the next module still runs.

mod common;

use common::{QUADRUPED_RUN_HUMAN, quadruped_spec, quick, small_spec, state};
use rewardsmith_core::{RewardError, RewardErrorKind as K, RewardProgram, StateView};
use rewardsmith_sandbox::{Limits, RhaiProgram, WasmProgram};

/// A module for `small_spec` (8 values) with components `a` and `b`; `body` is
/// the code of `compute_reward` (params `$s $prev $out`), `extra` more fields.
fn module(body: &str, extra: &str) -> String {
    format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 0) "a\nb")
  (func (export "components") (result i32 i32) (i32.const 0) (i32.const 3))
  (func (export "input") (result i32) (i32.const 64))
  (func (export "compute_reward") (param $s i32) (param $prev i32) (param $out i32)
    {body})
  {extra})"#
    )
}

const GOOD: &str = "(f64.store (local.get $out) (f64.load (local.get $s)))
    (f64.store offset=8 (local.get $out) (f64.sub (f64.load offset=8 (local.get $s)) (f64.load offset=8 (local.get $prev))))";

fn run_with(wat: &str, limits: &Limits) -> Result<Vec<f64>, RewardError> {
    let spec = small_spec();
    let mut p = WasmProgram::from_wat(wat, &spec, limits)?;
    let (a, b) = (state(&spec, 1), state(&spec, 2));
    let mut out = vec![0.0; p.components().len()];
    p.evaluate(
        &StateView::new(&spec, &b),
        &StateView::new(&spec, &a),
        &mut out,
    )?;
    Ok(out)
}

fn run(wat: &str) -> Result<Vec<f64>, RewardError> {
    run_with(wat, &Limits::default())
}

fn fails_with(wat: &str, limits: &Limits, kind: K) -> RewardError {
    let err = quick(wat, || run_with(wat, limits)).expect_err("module should fail");
    assert_eq!(err.kind, kind, "{wat}\n→ {err}");
    assert!(err.message.len() < 400, "message too long: {}", err.message);
    assert!(
        run(&module(GOOD, "")).is_ok(),
        "good module after a bad one"
    );
    err
}

fn fails(wat: &str, kind: K) -> RewardError {
    fails_with(wat, &Limits::default(), kind)
}

#[test]
fn good_module_reads_s_and_prev_in_spec_order() {
    let spec = small_spec();
    let (a, b) = (state(&spec, 1), state(&spec, 2));
    assert_eq!(run(&module(GOOD, "")).unwrap(), [b[0], b[1] - a[1]]);
}

#[test]
fn binary_modules_are_accepted() {
    let bytes = wat::parse_str(module(GOOD, "")).unwrap();
    let p = WasmProgram::from_binary(&bytes, &small_spec(), &Limits::default()).unwrap();
    assert_eq!(p.components(), ["a", "b"]);
}

#[test]
fn shipped_quadruped_example_matches_the_human_rhai_reward() {
    let spec = quadruped_spec();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/quadruped_run_reward.wat"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut wasm = WasmProgram::from_wat(&text, &spec, &Limits::default()).unwrap();
    let mut rhai = RhaiProgram::compile(QUADRUPED_RUN_HUMAN, &spec, &Limits::default()).unwrap();
    assert_eq!(wasm.components(), rhai.components());
    for t in 0..20 {
        let (mut a, mut b) = (state(&spec, t), state(&spec, t + 1));
        b[60] = if t % 3 == 0 { 1.0 } else { 0.0 };
        a[60] = 0.0;
        let (sv, pv) = (StateView::new(&spec, &b), StateView::new(&spec, &a));
        let (mut x, mut y) = ([0.0; 5], [0.0; 5]);
        wasm.evaluate(&sv, &pv, &mut x).unwrap();
        rhai.evaluate(&sv, &pv, &mut y).unwrap();
        for (p, q) in x.iter().zip(&y) {
            assert!((p - q).abs() < 1e-12, "{x:?} vs {y:?}");
        }
    }
    // A fork behaves the same.
    let mut f = wasm.fork();
    let s = state(&spec, 4);
    let (mut x, mut y) = ([0.0; 5], [0.0; 5]);
    let v = StateView::new(&spec, &s);
    f.evaluate(&v, &v, &mut x).unwrap();
    wasm.evaluate(&v, &v, &mut y).unwrap();
    assert_eq!(x, y);
}

#[test]
fn traps() {
    fails(&module("unreachable", ""), K::Trap);
    let e = fails(
        &module("(drop (i32.div_s (i32.const 1) (i32.const 0)))", ""),
        K::Trap,
    );
    assert!(e.message.contains("divide by zero"), "{e}");
    fails(
        &module("(f64.store (i32.const 70000) (f64.const 1))", ""),
        K::Trap,
    );
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    fails(&module("(loop $l (br $l))", ""), K::OutOfFuel);
}

#[test]
fn infinite_loop_meets_the_deadline_when_fuel_is_plentiful() {
    let limits = Limits {
        wasm_fuel: u64::MAX / 2,
        call_timeout_ms: 20,
        ..Limits::default()
    };
    fails_with(&module("(loop $l (br $l))", ""), &limits, K::Timeout);
}

#[test]
fn start_function_is_bounded_too() {
    fails(
        &module(GOOD, "(func $forever (loop $l (br $l))) (start $forever)"),
        K::OutOfFuel,
    );
}

#[test]
fn unbounded_recursion_overflows_the_stack() {
    fails(&module("(call $f)", "(func $f (call $f))"), K::CallDepth);
}

#[test]
fn memory_growth_beyond_the_cap() {
    fails(
        &module("(drop (memory.grow (i32.const 100)))", ""),
        K::MemoryLimit,
    );
    let big = module(GOOD, "").replace(
        "(memory (export \"memory\") 1)",
        "(memory (export \"memory\") 64)",
    );
    fails(&big, K::MemoryLimit);
    let table = module(GOOD, "(table 100000 funcref)");
    fails(&table, K::MemoryLimit);
}

#[test]
fn imports_are_rejected() {
    let wat = module(GOOD, "").replace(
        "(module",
        "(module (import \"env\" \"print\" (func (param i32)))",
    );
    let e = fails(&wat, K::Imports);
    assert!(e.message.contains("env::print"), "{e}");
}

#[test]
fn malformed_modules() {
    let spec = small_spec();
    let e = quick("bytes", || {
        WasmProgram::from_binary(b"\0asm\x01\0\0\0garbage", &spec, &Limits::default())
    })
    .unwrap_err();
    assert_eq!(e.kind, K::Malformed, "{e}");
    let e = WasmProgram::from_binary(b"not wasm at all", &spec, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, K::Malformed, "{e}");
    let e = fails("(module (func $x (i32.add)))", K::Malformed);
    assert!(
        e.message.contains("memory") || e.message.contains("type"),
        "{e}"
    );
    let e = fails("(module\n  (func (export \"x\") oops))", K::Malformed);
    assert_eq!(e.line, Some(2), "{e}");
    // Missing ABI exports.
    let e = fails(
        "(module (memory (export \"memory\") 1) (func (export \"input\") (result i32) (i32.const 0)))",
        K::Malformed,
    );
    assert!(e.message.contains("components"), "{e}");
    let no_fn = module(GOOD, "").replace("\"compute_reward\"", "\"compute\"");
    fails(&no_fn, K::MissingFunction);
    // Names out of bounds, input area too small, wrong state length.
    fails(
        &module(GOOD, "").replace(
            "(i32.const 0) (i32.const 3))",
            "(i32.const 0) (i32.const 999999))",
        ),
        K::Malformed,
    );
    fails(
        &module(GOOD, "").replace(
            "(result i32) (i32.const 64))",
            "(result i32) (i32.const 65530))",
        ),
        K::Malformed,
    );
    let e = fails(
        &module(
            GOOD,
            "(func (export \"state_len\") (result i32) (i32.const 61))",
        ),
        K::Malformed,
    );
    assert!(e.message.contains("61"), "{e}");
}

#[test]
fn non_finite_components_name_the_component() {
    let body = "(f64.store (local.get $out) (f64.const 1))
        (f64.store offset=8 (local.get $out) (f64.div (f64.const 0) (f64.const 0)))";
    let e = fails(&module(body, ""), K::NonFinite);
    assert_eq!(e.component.as_deref(), Some("b"));
}

#[test]
fn fuel_is_refilled_for_every_call() {
    // Each call burns a good share of the budget; twenty calls in a row still run.
    let limits = Limits {
        wasm_fuel: 20_000,
        ..Limits::default()
    };
    let body = format!(
        "(local $i i32) (local.set $i (i32.const 2000))
         (loop $l (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br_if $l (local.get $i)))
         {GOOD}"
    );
    let spec = small_spec();
    let mut p = WasmProgram::from_wat(&module(&body, ""), &spec, &limits).unwrap();
    let s = state(&spec, 0);
    let mut out = [0.0; 2];
    for _ in 0..20 {
        p.evaluate(
            &StateView::new(&spec, &s),
            &StateView::new(&spec, &s),
            &mut out,
        )
        .unwrap();
    }
}
