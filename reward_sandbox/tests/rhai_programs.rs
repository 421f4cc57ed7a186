//! The Rhai backend against good and bad programs: every bad input gives its
//! exact error kind within a second, and the next program still runs.

mod common;

use common::{QUADRUPED_RUN_HUMAN, eval, quadruped_spec, quick, small_spec, state};
use rewardsmith_core::{RewardError, RewardErrorKind as K, RewardProgram, StateView};
use rewardsmith_sandbox::{Limits, RhaiProgram};

fn compile(src: &str) -> Result<RhaiProgram, RewardError> {
    RhaiProgram::compile(src, &small_spec(), &Limits::default())
}

/// Compiles and evaluates; returns the first error.
fn run(src: &str) -> Result<Vec<f64>, RewardError> {
    let spec = small_spec();
    let mut p = compile(src)?;
    eval(&mut p, &spec, 1)
}

/// Asserts `src` fails with `kind` within a second, then that a good program
/// still compiles and runs.
fn fails(src: &str, kind: K) -> RewardError {
    let err = quick(src, || run(src)).expect_err("program should fail");
    assert_eq!(err.kind, kind, "{src}\n→ {err}");
    assert!(err.message.len() < 400, "message too long: {}", err.message);
    let ok = run("fn compute_reward(s, prev) { #{ h: s.height } }");
    assert!(ok.is_ok(), "good program after a bad one: {ok:?}");
    err
}

#[test]
fn human_quadruped_reward_runs_and_keeps_source_order() {
    let spec = quadruped_spec();
    let mut p = RhaiProgram::compile(QUADRUPED_RUN_HUMAN, &spec, &Limits::default()).unwrap();
    assert_eq!(
        p.components(),
        ["forward", "alive", "upright", "drift", "effort"]
    );
    let s = state(&spec, 3);
    let prev = state(&spec, 2);
    let mut out = vec![0.0; 5];
    p.evaluate(
        &StateView::new(&spec, &s),
        &StateView::new(&spec, &prev),
        &mut out,
    )
    .unwrap();
    let v = StateView::new(&spec, &s);
    let action = v.get("action").unwrap();
    let alive = if v.scalar("fallen").unwrap() > 0.5 {
        0.0
    } else {
        1.0
    };
    let expect = [
        v.get("torso_linvel").unwrap()[0],
        0.5 * alive,
        0.2 * v.scalar("up_z").unwrap(),
        -0.1 * v.get("torso_linvel").unwrap()[1].abs(),
        -0.02 * action.iter().map(|a| a * a).sum::<f64>(),
    ];
    for (o, e) in out.iter().zip(expect) {
        assert!((o - e).abs() < 1e-12, "{out:?} vs {expect:?}");
    }
    // A fork computes the same.
    let mut f = p.fork();
    let mut out2 = vec![0.0; 5];
    f.evaluate(
        &StateView::new(&spec, &s),
        &StateView::new(&spec, &prev),
        &mut out2,
    )
    .unwrap();
    assert_eq!(out, out2);
}

#[test]
fn component_order_follows_first_appearance_in_source() {
    let p = compile(
        r#"
        fn compute_reward(s, prev) {
            let r = #{ zeta: 1.0, alpha: 2.0 };
            r.mid = 3.0;
            r["beta"] = 4;
            r
        }"#,
    )
    .unwrap();
    assert_eq!(p.components(), ["zeta", "alpha", "mid", "beta"]);
    let out = run(r#"fn compute_reward(s, prev) { let r = #{ zeta: 1.0, alpha: 2.0 }; r.mid = 3.0; r["beta"] = 4; r }"#).unwrap();
    assert_eq!(out, [1.0, 2.0, 3.0, 4.0]);
    // Names built at run time go last, alphabetically.
    let p = compile(r#"fn compute_reward(s, prev) { let r = #{ z: 1.0 }; r["b" + "x"] = 1; r["a" + "x"] = 2; r }"#)
        .unwrap();
    assert_eq!(p.components(), ["z", "ax", "bx"]);
}

#[test]
fn fields_read_as_floats_and_arrays_and_state_is_read_only() {
    let out = run("fn compute_reward(s, prev) { #{ h: s.height, v: s.vel[1] - prev.vel[1], n: s.quat.len() } }")
        .unwrap();
    let spec = small_spec();
    let (a, b) = (state(&spec, 1), state(&spec, 2));
    assert_eq!(out, [b[0], b[2] - a[2], 4.0]);
    fails(
        "fn compute_reward(s, prev) { s.height = 1.0; #{ h: s.height } }",
        K::Runtime,
    );
}

#[test]
fn helpers_are_callable_with_ints_and_floats() {
    let out = run(
        "fn compute_reward(s, prev) { #{ a: clamp(s.height, 0, 1), b: norm(normalize(s.vel)), c: dot(quat_rotate(s.quat, [1, 0, 0]), [0.0, 0.0, 0.0]) } }",
    )
    .unwrap();
    assert!((out[1] - 1.0).abs() < 1e-12);
}

#[test]
fn syntax_error_names_line_and_column() {
    let e = fails(
        "fn compute_reward(s, prev) {\n  let x = ;\n  #{ a: x }\n}",
        K::Syntax,
    );
    assert_eq!(e.line, Some(2));
    assert!(e.column.is_some());
}

#[test]
fn undefined_variable_is_a_syntax_error_with_a_hint() {
    let e = fails("fn compute_reward(s, prev) { #{ a: height } }", K::Syntax);
    assert!(e.message.contains("s.height"), "{e}");
}

#[test]
fn missing_or_misnamed_compute_reward() {
    let e = fails("fn compute(s, prev) { #{ a: 1.0 } }", K::MissingFunction);
    assert!(e.message.contains("compute(s, prev)"), "{e}");
    fails("let x = 1;", K::MissingFunction);
    let e = fails("fn compute_reward(s) { #{ a: 1.0 } }", K::MissingFunction);
    assert!(e.message.contains("exactly two"), "{e}");
}

#[test]
fn wrong_return_types() {
    fails("fn compute_reward(s, prev) { 1.0 }", K::WrongReturnType);
    fails(
        "fn compute_reward(s, prev) { [1.0, 2.0] }",
        K::WrongReturnType,
    );
    let e = fails(
        r#"fn compute_reward(s, prev) { #{ a: 1.0, b: "x" } }"#,
        K::WrongReturnType,
    );
    assert_eq!(e.component.as_deref(), Some("b"));
    fails("fn compute_reward(s, prev) { #{} }", K::NoComponents);
}

#[test]
fn unknown_field_is_a_compile_error_listing_the_fields() {
    let e = fails(
        "fn compute_reward(s, prev) {\n  #{ a: s.heigth }\n}",
        K::UnknownField,
    );
    assert!(e.message.contains("s.heigth"), "{e}");
    assert!(e.message.contains("did you mean `height`"), "{e}");
    assert!(e.message.contains("height, vel, quat"), "{e}");
    assert_eq!((e.line, e.column), (Some(2), Some(11)));
    // Read through a helper function: caught by the probe call.
    let e = fails(
        "fn get(x) { x.speed }\nfn compute_reward(s, prev) { #{ a: get(s) } }",
        K::UnknownField,
    );
    assert!(e.message.contains("speed"), "{e}");
    assert!(e.message.contains("height, vel, quat"), "{e}");
}

#[test]
fn infinite_loop_stops_on_the_operation_budget() {
    fails(
        "fn compute_reward(s, prev) { loop { } }",
        K::TooManyOperations,
    );
    fails(
        "fn compute_reward(s, prev) { let x = 0; while true { x += 1; } #{ a: x } }",
        K::TooManyOperations,
    );
}

#[test]
fn slow_program_stops_on_the_wall_clock_deadline() {
    let limits = Limits {
        max_operations: u64::MAX / 2,
        call_timeout_ms: 20,
        ..Limits::default()
    };
    let src = "fn compute_reward(s, prev) { loop { } }";
    let err = quick("deadline", || {
        RhaiProgram::compile(src, &small_spec(), &limits)
    })
    .unwrap_err();
    assert_eq!(err.kind, K::Timeout, "{err}");
}

#[test]
fn unbounded_recursion_hits_the_call_depth() {
    fails(
        "fn f(x) { f(x + 1) }\nfn compute_reward(s, prev) { #{ a: f(0) } }",
        K::CallDepth,
    );
}

#[test]
fn huge_data_hits_the_size_limits() {
    fails(
        r#"fn compute_reward(s, prev) { let t = "x"; loop { t += t; } }"#,
        K::DataTooLarge,
    );
    fails(
        "fn compute_reward(s, prev) { let a = [0.0]; loop { a += a; } }",
        K::DataTooLarge,
    );
    fails(
        "fn compute_reward(s, prev) { let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; if i > 1000 { break; } } #{ a: m.len() } }",
        K::DataTooLarge,
    );
    fails(
        "fn compute_reward(s, prev) { let a = []; a.pad(100000000, 0.0); #{ a: 1.0 } }",
        K::DataTooLarge,
    );
    let big = format!(
        "fn compute_reward(s, prev) {{ #{{ a: 1.0 }} }} // {}",
        "x".repeat(70_000)
    );
    fails(&big, K::DataTooLarge);
}

#[test]
fn deep_nesting_hits_the_expression_depth() {
    let deep = format!(
        "fn compute_reward(s, prev) {{ #{{ a: {}1.0{} }} }}",
        "(".repeat(500),
        ")".repeat(500)
    );
    fails(&deep, K::ExprDepth);
    let blocks = format!(
        "fn compute_reward(s, prev) {{ {} #{{ a: 1.0 }} {} }}",
        "{".repeat(500),
        "}".repeat(500)
    );
    fails(&blocks, K::ExprDepth);
    // Far deeper than any stack could take if the parser recursed unchecked.
    let very = format!(
        "fn compute_reward(s, prev) {{ #{{ a: {}1.0 }} }}",
        "-".repeat(20_000)
    );
    let e = quick("very deep", || run(&very)).unwrap_err();
    assert!(matches!(e.kind, K::ExprDepth | K::Syntax), "{e}");
}

#[test]
fn division_by_zero_and_non_finite_components() {
    let e = fails(
        "fn compute_reward(s, prev) { #{ a: 1.0, b: 1 / 0 } }",
        K::Runtime,
    );
    assert_eq!(e.component.as_deref(), Some("b"), "{e}");
    let e = fails(
        "fn compute_reward(s, prev) { #{ a: 1.0, b: 1.0 / 0.0 } }",
        K::NonFinite,
    );
    assert_eq!(e.component.as_deref(), Some("b"));
    assert_eq!(e.line, Some(1));
    let e = fails(
        "fn compute_reward(s, prev) { #{ a: sqrt(-1.0) } }",
        K::NonFinite,
    );
    assert!(e.message.contains("NaN"), "{e}");
}

#[test]
fn eval_import_and_friends_are_forbidden() {
    fails(
        r#"fn compute_reward(s, prev) { eval("1"); #{ a: 1.0 } }"#,
        K::Forbidden,
    );
    fails(
        r#"import "x" as y; fn compute_reward(s, prev) { #{ a: 1.0 } }"#,
        K::Forbidden,
    );
    fails(
        "fn compute_reward(s, prev) { sleep(10); #{ a: 1.0 } }",
        K::Forbidden,
    );
    fails(
        "fn compute_reward(s, prev) { exit(); #{ a: 1.0 } }",
        K::Forbidden,
    );
    let e = run(r#"fn compute_reward(s, prev) { let f = Fn("eval"); #{ a: f.call("1") } }"#)
        .unwrap_err();
    assert!(matches!(e.kind, K::Runtime | K::Forbidden), "{e}");
}

#[test]
fn printing_is_captured_not_shown() {
    let spec = small_spec();
    let mut p =
        compile(r#"fn compute_reward(s, prev) { print("hello"); debug(s.height); #{ a: 1.0 } }"#)
            .unwrap();
    assert!(p.take_printed().contains("hello"));
    eval(&mut p, &spec, 0).unwrap();
    let text = p.take_printed();
    assert!(text.starts_with("hello\n"), "{text:?}");
    // Capped.
    let mut p = compile(
        r#"fn compute_reward(s, prev) { for i in 0..2000 { print("xxxxxxxxxx"); } #{ a: 1.0 } }"#,
    )
    .unwrap();
    let text = p.take_printed();
    assert!(
        text.len() < 5000 && text.ends_with("[further output dropped]\n"),
        "{}",
        text.len()
    );
}

#[test]
fn components_must_not_change_between_calls() {
    let spec = small_spec();
    let mut p = compile("fn compute_reward(s, prev) { if s.height > 100.0 { #{ a: 1.0 } } else { #{ a: 1.0, b: 2.0 } } }")
        .unwrap();
    let mut out = vec![0.0; 2];
    let mut st = state(&spec, 0);
    st[0] = 200.0;
    let e = p
        .evaluate(
            &StateView::new(&spec, &st),
            &StateView::new(&spec, &st),
            &mut out,
        )
        .unwrap_err();
    assert_eq!(e.kind, K::ComponentsChanged);
    assert!(eval(&mut p, &spec, 0).is_ok());
}

#[test]
fn top_level_statements_never_run() {
    assert!(run("loop { }\nfn compute_reward(s, prev) { #{ a: 1.0 } }").is_ok());
}

#[test]
fn misspelled_helper_gets_a_hint() {
    let e = fails(
        "fn compute_reward(s, prev) { #{ a: nrom(s.vel) } }",
        K::Runtime,
    );
    assert!(e.message.contains("did you mean `norm`"), "{e}");
}

#[test]
fn error_then_success_on_the_same_program() {
    let spec = small_spec();
    let mut p =
        compile("fn compute_reward(s, prev) { if s.height > 100.0 { loop {} } #{ a: s.height } }")
            .unwrap();
    let mut st = state(&spec, 0);
    st[0] = 200.0;
    let mut out = [0.0];
    let e = p
        .evaluate(
            &StateView::new(&spec, &st),
            &StateView::new(&spec, &st),
            &mut out,
        )
        .unwrap_err();
    assert_eq!(e.kind, K::TooManyOperations);
    st[0] = 0.25;
    p.evaluate(
        &StateView::new(&spec, &st),
        &StateView::new(&spec, &st),
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [0.25]);
}

#[test]
fn deepest_allowed_program_fits_a_small_worker_stack() {
    // Recursion to the call-depth limit, each level as deeply nested as the
    // parser allows, on a 2 MiB thread (the default for rayon workers).
    let nest = 40;
    let src = format!(
        "fn f(x) {{ if x <= 0 {{ 0.0 }} else {{ {}f(x - 1){} }} }}\nfn compute_reward(s, prev) {{ #{{ a: f(1000) }} }}",
        "(1.0 + ".repeat(nest),
        ")".repeat(nest)
    );
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || run(&src).map_err(|e| e.kind))
        .unwrap();
    let result = handle.join().expect("no stack overflow");
    assert!(
        matches!(result, Err(K::CallDepth | K::ExprDepth)),
        "{result:?}"
    );
}

#[test]
fn forks_run_on_other_threads() {
    let spec = quadruped_spec();
    let p = RhaiProgram::compile(QUADRUPED_RUN_HUMAN, &spec, &Limits::default()).unwrap();
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let mut f = p.fork();
            let spec = spec.clone();
            std::thread::spawn(move || {
                (0..100)
                    .map(|i| eval(f.as_mut(), &spec, t * 100 + i).unwrap()[0])
                    .sum::<f64>()
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap().is_finite());
    }
}

#[test]
fn overloaded_compute_reward_picks_the_two_parameter_one() {
    let src =
        "fn compute_reward(s) { 1.0 }\nfn compute_reward(s, prev) { #{ a: compute_reward(s) } }";
    assert_eq!(run(src).unwrap(), [1.0]);
}

#[test]
fn no_state_survives_between_calls() {
    // Top-level variables are invisible to functions (and never run).
    fails(
        "let total = 0;\nfn compute_reward(s, prev) { total += 1; #{ a: total } }",
        K::Syntax,
    );
    // Writing into the state a program receives does not leak into the next call.
    let spec = small_spec();
    let mut p =
        compile("fn compute_reward(s, prev) { let v = s.vel; v[0] = 99.0; #{ a: s.vel[0] } }")
            .unwrap();
    let first = eval(&mut p, &spec, 0).unwrap();
    let second = eval(&mut p, &spec, 0).unwrap();
    assert_eq!(first, second);
    assert_ne!(first[0], 99.0);
}
