//! Hostile programs that aim at time, size and value rather than at the usual
//! limits: compile bombs, bulk memory, native-heavy Rhai, huge values,
//! overflowing sums, a program that times out on every call. Each must get its
//! exact error kind within a bound of wall time (its deadline plus a margin
//! for a loaded 2-core machine), never run to completion.

mod common;

use common::{eval, samples, small_spec, state};
use rewardsmith_core::{RewardError, RewardErrorKind as K, RewardProgram, StateView};
use rewardsmith_sandbox::{
    CheckReport, Limits, ProgramSource, RhaiProgram, WarningKind, WasmProgram, check, check_source,
};
use std::time::{Duration, Instant};

/// Margin on top of a deadline for a loaded 2-core machine (the trainings of
/// other sessions run beside the tests).
const MARGIN: Duration = Duration::from_millis(900);

/// Bound for what the static scan refuses before any code generation (the
/// first WebAssembly test of the process also starts the engine).
const BEFORE_COMPILING: Duration = Duration::from_millis(500);

/// Runs `f` and asserts it returns within `bound`.
fn within<T>(bound: Duration, what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(took < bound, "{what} took {took:?}; the bound is {bound:?}");
    out
}

/// The default per-call deadline plus the margin.
fn call_bound() -> Duration {
    Limits::default().call_timeout() + MARGIN
}

// ---------------------------------------------------------------- WebAssembly

/// The ABI exports for `small_spec`, one component `a`, a 16-page memory.
const ABI: &str = r#"(memory (export "memory") 16)
  (data (i32.const 0) "a")
  (func (export "components") (result i32 i32) (i32.const 0) (i32.const 1))
  (func (export "input") (result i32) (i32.const 64))"#;

fn module(body: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module {ABI}
  (func (export "compute_reward") (param $s i32) (param $prev i32) (param $out i32)
    {body}
    (f64.store (local.get $out) (f64.load (local.get $s)))))"#
    ))
    .expect("test module parses")
}

fn leb(mut n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = u8::try_from(n & 0x7f).unwrap();
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![id];
    out.extend(leb(u32::try_from(content.len()).unwrap()));
    out.extend_from_slice(content);
    out
}

/// The compile bomb of the issue, hand-encoded: `functions` functions of type
/// `() -> ()`, each declaring `locals` i32 locals in two bytes and doing nothing.
fn locals_bomb(functions: u32, locals: u32) -> Vec<u8> {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    bytes.extend(section(1, &[1, 0x60, 0, 0]));
    let mut funcs = leb(functions);
    funcs.extend(std::iter::repeat_n(0u8, functions as usize));
    bytes.extend(section(3, &funcs));
    let mut body = vec![1];
    body.extend(leb(locals));
    body.extend([0x7f, 0x0b]);
    let mut code = leb(functions);
    for _ in 0..functions {
        code.extend(leb(u32::try_from(body.len()).unwrap()));
        code.extend_from_slice(&body);
    }
    bytes.extend(section(10, &code));
    bytes
}

fn wasm_fails(bytes: &[u8], limits: &Limits, kind: K, bound: Duration) -> RewardError {
    let spec = small_spec();
    let err = within(bound, "the hostile module", || {
        let mut p = WasmProgram::from_binary(bytes, &spec, limits)?;
        eval(&mut p, &spec, 1)
    })
    .expect_err("the module should fail");
    assert_eq!(err.kind, kind, "{err}");
    assert!(err.message.len() < 400, "message too long: {err}");
    err
}

#[test]
fn compile_bomb_of_many_functions_with_many_locals_is_refused_before_compiling() {
    let limits = Limits::default();
    // 3000 functions × 40 000 locals: 21 KB, and 36 s of code generation
    // before the static scan.
    let bomb = locals_bomb(3000, 40_000);
    assert!(bomb.len() <= limits.max_source_bytes);
    let e = wasm_fails(&bomb, &limits, K::DataTooLarge, BEFORE_COMPILING);
    assert!(e.message.contains("3000 functions"), "{e}");
    // Within the function limit, the locals are counted.
    let e = wasm_fails(
        &locals_bomb(900, 40_000),
        &limits,
        K::DataTooLarge,
        BEFORE_COMPILING,
    );
    assert!(e.message.contains("locals"), "{e}");
}

#[test]
fn deeply_nested_blocks_are_refused_before_compiling() {
    let d = 8000;
    let body = format!(
        "{}{}",
        "(if (local.get $s) (then ".repeat(d),
        "))".repeat(d)
    );
    let bytes = module(&body);
    let e = wasm_fails(&bytes, &Limits::default(), K::ExprDepth, BEFORE_COMPILING);
    assert!(e.message.contains("1024"), "{e}");
    // The same nesting as text parses without overflowing the stack.
    let wat = format!(
        "(module (func {}{}))",
        "(block ".repeat(7000),
        ")".repeat(7000)
    );
    let e = within(Duration::from_secs(1), "nested text", || {
        WasmProgram::from_wat(&wat, &small_spec(), &Limits::default())
    })
    .unwrap_err();
    assert_eq!(e.kind, K::ExprDepth, "{e}");
}

#[test]
fn code_generation_that_misses_the_compile_deadline_is_abandoned() {
    // With the static limits lifted, 8000 nested `if`s take ~0.8 s to
    // compile on this machine; the deadline stops the wait at 100 ms.
    let limits = Limits {
        wasm_max_nesting: usize::MAX,
        compile_timeout_ms: 100,
        ..Limits::default()
    };
    let d = 8000;
    let body = format!(
        "{}{}",
        "(if (local.get $s) (then ".repeat(d),
        "))".repeat(d)
    );
    let e = wasm_fails(
        &module(&body),
        &limits,
        K::Timeout,
        limits.compile_timeout() + MARGIN,
    );
    assert!(e.message.contains("100 ms"), "{e}");
}

/// `n` straight-line fills of the whole 1 MiB memory: one unit of fuel each.
fn fills(n: usize) -> String {
    "(memory.fill (i32.const 0) (i32.const 7) (i32.const 1048576))".repeat(n)
}

#[test]
fn bulk_memory_fills_are_bounded() {
    // 5000 fills of 1 MiB fit in 64 KiB and ran ~60 ms with no deadline check.
    let bytes = module(&fills(5000));
    assert!(bytes.len() <= Limits::default().max_source_bytes);
    let e = wasm_fails(
        &bytes,
        &Limits::default(),
        K::DataTooLarge,
        BEFORE_COMPILING,
    );
    assert!(e.message.contains("5000 bulk-memory instructions"), "{e}");
    assert!(e.message.contains("at most 64"), "{e}");

    // A module that declares a small memory maximum may use more of them.
    let wat = format!(
        r#"(module
  (memory (export "memory") 1 1)
  (data (i32.const 0) "a")
  (func (export "components") (result i32 i32) (i32.const 0) (i32.const 1))
  (func (export "input") (result i32) (i32.const 64))
  (func (export "compute_reward") (param $s i32) (param $prev i32) (param $out i32)
    {}
    (f64.store (local.get $out) (f64.const 1))))"#,
        "(memory.fill (i32.const 0) (i32.const 7) (i32.const 60000))".repeat(500)
    );
    let spec = small_spec();
    let mut p = WasmProgram::from_wat(&wat, &spec, &Limits::default()).unwrap();
    assert_eq!(eval(&mut p, &spec, 1).unwrap(), [1.0]);

    // And a few fills of the whole memory are fine: compilers emit them for
    // memcpy and memset.
    let spec = small_spec();
    let mut p = WasmProgram::from_binary(&module(&fills(8)), &spec, &Limits::default()).unwrap();
    assert!(eval(&mut p, &spec, 1).is_ok());
}

#[test]
fn bulk_memory_in_a_loop_meets_the_deadline() {
    // One bulk instruction (within the budget) filling the whole memory on
    // every iteration: the fuel allows ~200 000 of them (~2.4 s); the deadline
    // is looked at on every back-edge.
    let body = "(loop $l (memory.fill (i32.const 0) (i32.const 7) (i32.const 1048576)) (br $l))";
    wasm_fails(&module(body), &Limits::default(), K::Timeout, call_bound());
}

#[test]
fn bulk_memory_past_the_deadline_fails_the_call_when_it_returns() {
    // With the static budget lifted, two iterations of 4000 straight-line
    // fills (~50 ms each): the back-edge after the first starts the count,
    // the second ends the call with no check point left; counting when the
    // call returns fails it all the same.
    let limits = Limits {
        wasm_max_bulk_memory_bytes: u64::MAX,
        call_timeout_ms: 5,
        ..Limits::default()
    };
    let body = format!(
        "(local $i i32)
         (loop $l
           {}
           (local.set $i (i32.add (local.get $i) (i32.const 1)))
           (br_if $l (i32.lt_u (local.get $i) (i32.const 2))))",
        fills(4000)
    );
    let e = wasm_fails(
        &module(&body),
        &limits,
        K::Timeout,
        Duration::from_millis(200) + MARGIN,
    );
    assert!(e.message.contains("counted when it returned"), "{e}");
}

#[test]
fn wasm_huge_values_and_overflowing_sums_are_errors_of_the_program() {
    let wat = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 0) "a\nbonus")
  (func (export "components") (result i32 i32) (i32.const 0) (i32.const 7))
  (func (export "input") (result i32) (i32.const 64))
  (func (export "compute_reward") (param $s i32) (param $prev i32) (param $out i32)
    (f64.store (local.get $out) (f64.const 1e308))
    (f64.store offset=8 (local.get $out)
      (select (f64.const 1e308) (f64.const 0)
        (f64.gt (f64.load (local.get $s)) (f64.const 0.5))))))"#;
    let spec = small_spec();
    let src = ProgramSource::Wat(wat.to_string());
    let r = within(call_bound(), "check", || {
        check_source(&src, &spec, &samples(&spec, 100), &Limits::default())
    });
    assert!(!r.ok);
    assert_eq!(r.errors[0].kind, K::DataTooLarge, "{:?}", r.errors);
    assert_eq!(r.errors[0].component.as_deref(), Some("a"));
    // Without the bound, the sum overflows on the states where `bonus` fires.
    let unbounded = Limits {
        max_component_abs: f64::INFINITY,
        ..Limits::default()
    };
    let r = check_source(&src, &spec, &samples(&spec, 100), &unbounded);
    assert!(!r.ok);
    assert_eq!(r.errors[0].kind, K::NonFinite, "{:?}", r.errors);
    assert!(r.errors[0].message.contains("sum to inf"), "{:?}", r.errors);
    assert!(
        r.errors[0].message.contains("dry-run step"),
        "{:?}",
        r.errors
    );
}

#[test]
fn wasm_program_that_times_out_on_every_call_costs_one_deadline_in_check() {
    let limits = Limits {
        wasm_fuel: u64::MAX / 2,
        ..Limits::default()
    };
    let spec = small_spec();
    let src = ProgramSource::Wasm(module("(loop $l (br $l))"));
    let r = within(call_bound(), "check", || {
        check_source(&src, &spec, &samples(&spec, 512), &limits)
    });
    assert!(!r.ok);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].kind, K::Timeout, "{:?}", r.errors);
    assert_eq!(r.calls, 1);
}

// ----------------------------------------------------------------------- Rhai

/// About 150 ms of native work in ~1000 operations: 200 scans of a
/// 4000-item array (within every size limit), which the deadline read every
/// 1024 operations never saw.
const NATIVE_SCANS: &str = "fn compute_reward(s, prev) {
    let a = [];
    a.pad(4000, 1.5);
    let n = 0;
    for i in 0..200 { if a.contains(2.5) { n += 1; } }
    #{ x: n }
}";

/// Building and sorting large arrays: ~10 000 operations of which each
/// `sort`/`dedup`/`==` is a native pass over 4000 items.
const NATIVE_SORTS: &str = "fn compute_reward(s, prev) {
    let a = [];
    a.pad(4000, s.height);
    let b = a;
    let n = 0;
    for i in 0..2000 { a.reverse(); a.sort(); let c = a; c.dedup(); if a == b { n += 1; } }
    #{ x: n }
}";

#[test]
fn native_heavy_rhai_calls_meet_the_deadline() {
    let spec = small_spec();
    for src in [NATIVE_SCANS, NATIVE_SORTS] {
        // The probe call of compiling is the first to time out.
        let e = within(call_bound(), "compile", || {
            RhaiProgram::compile(src, &spec, &Limits::default())
        })
        .unwrap_err();
        assert_eq!(e.kind, K::Timeout, "{e}");
        assert!(e.message.contains("50 ms"), "{e}");
        let r = within(call_bound(), "check", || {
            check_source(
                &ProgramSource::Rhai(src.to_string()),
                &spec,
                &samples(&spec, 512),
                &Limits::default(),
            )
        });
        assert_eq!(r.errors[0].kind, K::Timeout, "{:?}", r.errors);
    }
}

#[test]
fn rhai_program_that_times_out_on_every_call_costs_one_deadline_in_check() {
    // Fine on the probe state (all zeros), endless on every sample.
    let src = "fn compute_reward(s, prev) { if s.vel[0] != 0.0 { loop { } } #{ a: s.height } }";
    let limits = Limits {
        max_operations: u64::MAX / 2,
        ..Limits::default()
    };
    let spec = small_spec();
    let mut p = RhaiProgram::compile(src, &spec, &limits).unwrap();
    let samples = samples(&spec, 512);
    let r: CheckReport = within(call_bound(), "check", || check(&mut p, &spec, &samples));
    assert!(!r.ok);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].kind, K::Timeout);
    assert!(
        r.errors[0].message.contains("dry-run step 0"),
        "{:?}",
        r.errors
    );
    assert_eq!(r.calls, 1);
    assert!(r.call_us_max >= 50_000.0, "{}", r.call_us_max);
}

#[test]
fn rare_huge_values_are_errors_at_check_and_at_evaluation() {
    let src = "fn compute_reward(s, prev) { #{ speed: s.vel[0], bonus: if s.height > 0.6 { 1e30 } else { 0.0 } } }";
    let spec = small_spec();
    let samples = samples(&spec, 100);
    let r = within(call_bound(), "check", || {
        check_source(
            &ProgramSource::Rhai(src.to_string()),
            &spec,
            &samples,
            &Limits::default(),
        )
    });
    assert!(!r.ok);
    let e = &r.errors[0];
    assert_eq!(e.kind, K::DataTooLarge, "{e}");
    assert_eq!(e.component.as_deref(), Some("bonus"));
    assert!(e.message.contains("1e30"), "{e}");
    assert!(e.message.contains("1e6"), "{e}");
    assert!(e.line.is_some(), "{e}");

    // At evaluation time (training), on a state where the bonus fires.
    let mut p = RhaiProgram::compile(src, &spec, &Limits::default()).unwrap();
    let mut s = state(&spec, 0);
    s[0] = 0.9;
    let mut out = [0.0; 2];
    let e = p
        .evaluate(
            &StateView::new(&spec, &s),
            &StateView::new(&spec, &s),
            &mut out,
        )
        .unwrap_err();
    assert_eq!(e.kind, K::DataTooLarge);
    assert_eq!(e.component.as_deref(), Some("bonus"));
    // The next call runs normally.
    s[0] = 0.1;
    p.evaluate(
        &StateView::new(&spec, &s),
        &StateView::new(&spec, &s),
        &mut out,
    )
    .unwrap();
}

#[test]
fn finite_components_whose_sum_overflows_are_caught_by_check() {
    let src = ProgramSource::Rhai("fn compute_reward(s, prev) { #{ a: 1e308, b: 1e308 } }".into());
    let spec = small_spec();
    // Under the default bound each component is already too large.
    let r = check_source(&src, &spec, &samples(&spec, 10), &Limits::default());
    assert_eq!(r.errors[0].kind, K::DataTooLarge, "{:?}", r.errors);
    // With the bound lifted, the overflow of the sum is what check reports.
    let unbounded = Limits {
        max_component_abs: f64::INFINITY,
        ..Limits::default()
    };
    let r = within(call_bound(), "check", || {
        check_source(&src, &spec, &samples(&spec, 10), &unbounded)
    });
    assert!(!r.ok);
    assert_eq!(r.errors[0].kind, K::NonFinite, "{:?}", r.errors);
    assert!(
        r.errors[0].message.contains("`a` (1e308) + `b` (1e308)"),
        "{:?}",
        r.errors
    );
    // And the program itself refuses the step at evaluation time.
    let mut p = rewardsmith_sandbox::compile(&src, &spec, &unbounded).unwrap();
    assert_eq!(eval(p.as_mut(), &spec, 0).unwrap_err().kind, K::NonFinite);
}

// ------------------------------------------------------------ cost and output

#[test]
fn check_measures_the_cost_of_a_call_and_judges_it_against_a_step() {
    let spec = small_spec();
    let cheap = check_source(
        &ProgramSource::Rhai("fn compute_reward(s, prev) { #{ h: s.height } }".into()),
        &spec,
        &samples(&spec, 50),
        &Limits::default(),
    );
    assert!(cheap.ok, "{cheap:?}");
    assert_eq!(cheap.calls, 50);
    assert!(
        cheap.call_us_mean > 0.0 && cheap.call_us_mean < 1000.0,
        "{cheap:?}"
    );
    assert!(cheap.call_us_max >= cheap.call_us_mean);

    // Slow but legal: 8 scans of 4000 items, a few ms per call.
    let slow_src = "fn compute_reward(s, prev) {
        let a = []; a.pad(4000, 1.5); let n = 0;
        for i in 0..8 { if a.contains(s.height) { n += 1; } }
        #{ n: n }
    }";
    let slow = check_source(
        &ProgramSource::Rhai(slow_src.into()),
        &spec,
        &samples(&spec, 20),
        &Limits::default(),
    );
    assert!(slow.ok, "{slow:?}");
    assert!(slow.call_us_mean > 1000.0, "{slow:?}");

    // Against the ~277 µs of a quadruped step: refused, naming the figures.
    let mut judged = slow.clone();
    judged.judge_cost(277.0);
    assert!(!judged.ok);
    let e = judged.errors.last().unwrap();
    assert_eq!(e.kind, K::Timeout);
    assert!(e.message.contains("277.0 µs"), "{e}");
    // Against a step 20× its cost: a warning only.
    let mut judged = slow.clone();
    judged.judge_cost(slow.call_us_mean * 5.0);
    assert!(judged.ok);
    assert!(
        judged
            .warnings
            .iter()
            .any(|w| w.kind == WarningKind::SlowCall)
    );
    // A cheap program passes either way.
    let mut judged = cheap.clone();
    judged.judge_cost(277.0 * 1000.0);
    assert!(
        judged.ok
            && judged
                .warnings
                .iter()
                .all(|w| w.kind != WarningKind::SlowCall)
    );
}

#[test]
fn printed_volume_is_capped_and_counted() {
    let spec = small_spec();
    let src = r#"fn compute_reward(s, prev) { for i in 0..100 { print("xxxxxxxxx"); } #{ h: s.height } }"#;
    let r = check_source(
        &ProgramSource::Rhai(src.into()),
        &spec,
        &samples(&spec, 50),
        &Limits::default(),
    );
    assert!(r.ok, "{r:?}");
    assert_eq!(r.printed_lines, 100 * 50);
    assert_eq!(r.printed_bytes, 10 * 100 * 50);
    let w = r
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::Printed)
        .expect("printed warning");
    assert!(w.message.contains("5000 lines"), "{}", w.message);
    // What is kept stays within the cap.
    let mut p = RhaiProgram::compile(src, &spec, &Limits::default()).unwrap();
    for t in 0..10 {
        eval(&mut p, &spec, t).unwrap();
    }
    let kept = p.take_printed();
    assert!(
        kept.len() <= Limits::default().max_print_bytes + 64,
        "{}",
        kept.len()
    );
    assert!(kept.ends_with("[further output dropped]\n"));
    assert_eq!(p.printed_volume().0, 100 * 11);
}
