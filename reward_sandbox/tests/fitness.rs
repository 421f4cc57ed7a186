//! Fitness programs against good and bad programs: correct scores, the exact
//! error kind for every bad program (within a second), the meter agreeing with
//! a direct evaluation, and determinism.

mod common;

use common::{quadruped_spec, quick, small_spec, state};
use rewardsmith_core::{RewardError, RewardErrorKind as K, StateSpec, StateView, StepInfo};
use rewardsmith_sandbox::{FitnessProgram, Limits, SampleEpisode, check_fitness, program_fitness};

/// Mean forward speed over the task's full length.
const MEAN_SPEED: &str = r"
fn fitness(episode) {
    let total = 0.0;
    for s in episode.steps { total += s.vel[0]; }
    total / episode.max_steps
}
";

/// Success when the body stayed below 0.3 m for 5 steps in a row.
const HELD_LOW: &str = r"
fn fitness(episode) {
    let low = episode.steps.filter(|s| s.height < 0.3);
    low.len() / episode.max_steps.to_float()
}

fn success(episode) {
    let run = 0;
    let best = 0;
    for s in episode.steps {
        if s.height < 0.3 { run += 1; best = max(best, run); } else { run = 0; }
    }
    best >= 5
}
";

/// An episode of `length` varied states of `spec`.
fn episode(spec: &StateSpec, length: usize) -> Vec<f64> {
    (0..length).flat_map(|t| state(spec, t)).collect()
}

fn compile(src: &str) -> Result<FitnessProgram, RewardError> {
    FitnessProgram::compile(src, &small_spec(), &Limits::default())
}

/// Compiles and scores a 10-step episode of 20 (not ended early).
fn run(src: &str) -> Result<f64, RewardError> {
    let spec = small_spec();
    let p = compile(src)?;
    Ok(p.evaluate(&episode(&spec, 10), 10, 20, false, 0.02)?
        .fitness)
}

/// Asserts `src` fails with `kind` within a second; returns the error.
fn fails(src: &str, kind: K) -> RewardError {
    let err = quick(src, || run(src)).expect_err("program should fail");
    assert_eq!(err.kind, kind, "{src}\n→ {err}");
    assert!(err.message.len() < 400, "message too long: {}", err.message);
    err
}

#[test]
fn mean_forward_speed_over_the_full_length() {
    let spec = small_spec();
    let p = compile(MEAN_SPEED).unwrap();
    assert!(!p.has_success());
    assert_eq!(p.source(), MEAN_SPEED);
    let states = episode(&spec, 7);
    let score = p.evaluate(&states, 7, 10, true, 0.02).unwrap();
    let vel = spec.position("vel").unwrap();
    let want: f64 = (0..7).map(|t| state(&spec, t)[vel]).sum::<f64>() / 10.0;
    assert!((score.fitness - want).abs() < 1e-12, "{score:?} vs {want}");
    assert_eq!(score.success, None);
}

#[test]
fn success_when_a_threshold_is_held() {
    let spec = small_spec();
    let h = spec.position("height").unwrap();
    let p = compile(HELD_LOW).unwrap();
    assert!(p.has_success());
    // Heights: 4 low, 1 high, then `n` low.
    let make = |n: usize| -> Vec<f64> {
        let mut heights = vec![0.1; 4];
        heights.push(0.5);
        heights.extend(std::iter::repeat_n(0.2, n));
        heights
            .iter()
            .flat_map(|&y| {
                let mut s = spec.zeroed();
                s[h] = y;
                s
            })
            .collect()
    };
    let short = p.evaluate(&make(4), 9, 10, false, 0.02).unwrap();
    assert_eq!(short.success, Some(false));
    assert!((short.fitness - 0.8).abs() < 1e-12, "{short:?}");
    let held = p.evaluate(&make(5), 10, 10, false, 0.02).unwrap();
    assert_eq!(held.success, Some(true));
    assert!((held.fitness - 0.9).abs() < 1e-12, "{held:?}");
}

#[test]
fn episode_fields_read_as_documented() {
    let src = r"
        fn fitness(episode) {
            if episode.ended_early { -1.0 } else { episode.length * 1000 + episode.max_steps + episode.dt }
        }";
    let p = compile(src).unwrap();
    let spec = small_spec();
    let s = episode(&spec, 3);
    assert_eq!(p.evaluate(&s, 3, 8, false, 0.25).unwrap().fitness, 3008.25);
    assert_eq!(p.evaluate(&s, 3, 8, true, 0.25).unwrap().fitness, -1.0);
    // An integer result is a number too, and an empty episode is an episode.
    let p = compile("fn fitness(episode) { episode.steps.len() }").unwrap();
    assert_eq!(p.evaluate(&[], 0, 8, true, 0.25).unwrap().fitness, 0.0);
}

#[test]
fn unknown_fields_are_rejected_at_compile_time_naming_the_field() {
    let cases = [
        // A loop variable.
        (
            "fn fitness(episode) {\n  let t = 0.0;\n  for s in episode.steps { t += s.speed; }\n  t\n}",
            "`s.speed`",
            (3, 35),
        ),
        // A `let` bound to one step, through an alias of the steps array.
        (
            "fn fitness(ep) { let steps = ep.steps; let last = steps[ep.length - 1]; last.hieght }",
            "`last.hieght`",
            (1, 78),
        ),
        // Indexing the steps directly.
        (
            "fn fitness(episode) { episode.steps[0].vel[0] + episode.steps[1].spin }",
            "`episode.steps[…].spin`",
            (1, 66),
        ),
        // A closure over the steps; in `success` too.
        (
            "fn fitness(e) { 1.0 }\nfn success(e) { e.steps.all(|s| s.upright > 0.5) }",
            "`s.upright`",
            (2, 35),
        ),
        // `reduce` passes the element second.
        (
            "fn fitness(e) { e.steps.reduce(|acc, s| acc + s.velx, 0.0) }",
            "`s.velx`",
            (1, 49),
        ),
        // A `for (s, i)` loop.
        (
            "fn fitness(e) { let t = 0.0; for (s, i) in e.steps { t += s.vel_x * i; } t }",
            "`s.vel_x`",
            (1, 61),
        ),
    ];
    for (src, name, (line, column)) in cases {
        let err = compile(src).expect_err(src);
        assert_eq!(err.kind, K::UnknownField, "{src}\n→ {err}");
        assert!(err.message.starts_with(name), "{src}\n→ {err}");
        assert!(
            err.message.ends_with("the fields are: height, vel, quat"),
            "{err}"
        );
        assert_eq!((err.line, err.column), (Some(line), Some(column)), "{src}");
    }
    let typo = compile("fn fitness(e) { let t = 0.0; for s in e.steps { t += s.hieght; } t }")
        .unwrap_err();
    assert!(typo.message.contains("(did you mean `height`?)"), "{typo}");
}

#[test]
fn unknown_episode_fields_are_rejected_with_the_episode_keys() {
    let err = compile("fn fitness(episode) { episode.height }").unwrap_err();
    assert_eq!(err.kind, K::UnknownField);
    assert_eq!(
        err.to_string(),
        "unknown_field at line 1, column 31: `episode.height`: no such episode field; \
         the episode has: steps, length, max_steps, ended_early, dt; \
         `height` is a reward-state field: read it on a step, e.g. `episode.steps[i].height`"
    );
    let err = compile("fn fitness(ep) { ep.lenght }").unwrap_err();
    assert!(err.message.contains("(did you mean `length`?)"), "{err}");
    // A bare field name is an undefined variable, with a hint.
    let err = compile("fn fitness(episode) { max_steps }").unwrap_err();
    assert_eq!(err.kind, K::Syntax);
    assert!(err.message.contains("read as `episode.max_steps`"), "{err}");
}

#[test]
fn reads_the_scan_cannot_follow_fail_at_run_time_naming_the_field() {
    // The state goes through a helper function, and `s` is also bound to a number.
    for src in [
        "fn speed(s) { s.speed }\nfn fitness(e) { let t = 0.0; for s in e.steps { t += speed(s); } t }",
        "fn fitness(e) { let s = 0.0; for x in e.steps { let s = x; s += s.speed; } s }",
    ] {
        let p = compile(src).expect("the scan has no false alarms");
        let spec = small_spec();
        let err = p
            .evaluate(&episode(&spec, 3), 3, 3, false, 0.1)
            .unwrap_err();
        assert_eq!(err.kind, K::UnknownField, "{src}\n→ {err}");
        assert!(err.message.contains("`.speed`"), "{err}");
    }
    // The dry run reports it with the sample episode.
    let spec = small_spec();
    let samples = [SampleEpisode {
        states: episode(&spec, 3),
        length: 3,
        max_steps: 5,
        ended_early: true,
        dt: 0.1,
    }];
    let err = check_fitness(
        "fn speed(s) { s.speed }\nfn fitness(e) { speed(e.steps[0]) }",
        &spec,
        &samples,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, K::UnknownField);
    assert!(
        err.message
            .ends_with("(in function `speed`) (sample episode 1 of 1: 3 of 5 steps, ended early)"),
        "{err}"
    );
}

#[test]
fn a_missing_or_misshapen_fitness_function_is_named() {
    let err = compile("fn score(episode) { 1.0 }").unwrap_err();
    assert_eq!(err.kind, K::MissingFunction);
    assert_eq!(
        err.message,
        "no `fn fitness(episode)` is defined; found: score(episode)"
    );
    let err = compile("fn compute_reward(s, prev) { #{ a: 1.0 } }").unwrap_err();
    assert_eq!(err.kind, K::MissingFunction);
    assert!(err.message.contains("this is a reward program"), "{err}");
    let err = compile("fn fitness(episode, extra) { 1.0 }").unwrap_err();
    assert_eq!(err.kind, K::MissingFunction);
    assert!(
        err.message.contains("exactly one: `fn fitness(episode)`"),
        "{err}"
    );
    let err = compile("fn fitness(e) { 1.0 }\nfn success() { true }").unwrap_err();
    assert_eq!(err.kind, K::MissingFunction);
    assert!(err.message.contains("`fn success(episode)`"), "{err}");
    fails("fn fitness(e) { 1.0 ", K::Syntax);
}

#[test]
fn non_finite_results_are_errors() {
    for src in [
        "fn fitness(e) { 0.0 / e.steps.len() * 0.0 / 0.0 }",
        "fn fitness(e) { let x = 1e300; x * x }",
        "fn fitness(e) { -1e300 * 1e300 }",
    ] {
        let err = fails(src, K::NonFinite);
        assert!(
            err.message.contains("finite number for every episode"),
            "{err}"
        );
    }
}

#[test]
fn wrong_return_types_are_named() {
    let err = fails("fn fitness(e) { #{ speed: 1.0 } }", K::WrongReturnType);
    assert!(err.message.ends_with("it returned a map"), "{err}");
    let err = fails(r#"fn fitness(e) { "fast" }"#, K::WrongReturnType);
    assert!(err.message.ends_with("it returned a string"), "{err}");
    fails("fn fitness(e) { true }", K::WrongReturnType);
    fails("fn fitness(e) { }", K::WrongReturnType);
    let p = compile("fn fitness(e) { 1.0 }\nfn success(e) { 1.0 }").unwrap();
    let err = p
        .evaluate(&episode(&small_spec(), 2), 2, 2, false, 0.1)
        .unwrap_err();
    assert_eq!(err.kind, K::WrongReturnType);
    assert!(
        err.message.starts_with("success must return a bool"),
        "{err}"
    );
}

#[test]
fn runaway_programs_stop_on_the_limits_quickly() {
    let err = fails("fn fitness(e) { loop { } }", K::TooManyOperations);
    assert!(
        err.message
            .starts_with("more than 110000 operations in one call (100000 + 1000 per step of this 10-step episode)"),
        "{err}"
    );
    // Quadratic work over a long episode runs out of budget too.
    let spec = small_spec();
    let p =
        compile("fn fitness(e) { let n = 0; for a in e.steps { for b in e.steps { n += 1; } } n }")
            .unwrap();
    let long = episode(&spec, 2000);
    let err = quick("quadratic", || p.evaluate(&long, 2000, 2000, false, 0.01)).unwrap_err();
    assert_eq!(err.kind, K::TooManyOperations, "{err}");

    fails("fn f(x) { f(x + 1) }\nfn fitness(e) { f(0) }", K::CallDepth);
    fails(
        r#"fn fitness(e) { let t = "x"; loop { t += t; } }"#,
        K::DataTooLarge,
    );
    fails("fn fitness(e) { eval(\"1\") }", K::Forbidden);

    let limits = Limits {
        max_operations: u64::MAX / 2,
        fitness_call_timeout_ms: 20,
        ..Limits::default()
    };
    let p = FitnessProgram::compile("fn fitness(e) { loop { } }", &spec, &limits).unwrap();
    let err = quick("deadline", || {
        p.evaluate(&episode(&spec, 3), 3, 3, false, 0.1)
    })
    .unwrap_err();
    assert_eq!(err.kind, K::Timeout, "{err}");
}

#[test]
fn a_thousand_step_episode_fits_the_default_budget() {
    // Per step: several fields, a quaternion helper, and a 20-step look-back.
    let spec = quadruped_spec();
    let src = r"
        fn fitness(episode) {
            let steps = episode.steps;
            let total = 0.0;
            let kept = [];
            for i in 0..episode.length {
                let s = steps[i];
                let v = s.torso_linvel;
                let up = quat_rotate(s.torso_quat, [0.0, 0.0, 1.0]);
                let back = if i >= 20 { steps[i - 20].torso_pos[0] } else { 0.0 };
                total += -v[0] * clamp(up[2], 0.0, 1.0) + 0.01 * (s.torso_pos[0] - back)
                    - 0.001 * dot(s.action, s.action);
                kept.push(s.torso_pos);
            }
            total / episode.max_steps + kept.len() * 0.0
        }";
    let p = FitnessProgram::compile(src, &spec, &Limits::default()).unwrap();
    let states = episode(&spec, 1000);
    let score = quick("1000 steps", || {
        p.evaluate(&states, 1000, 1000, false, 0.02)
    })
    .unwrap();
    assert!(score.fitness.is_finite());
}

#[test]
fn check_fitness_scores_every_sample_and_counts_successes() {
    let spec = small_spec();
    let samples: Vec<SampleEpisode> = [(6, false), (3, true), (10, false)]
        .into_iter()
        .map(|(length, ended_early)| SampleEpisode {
            states: episode(&spec, length),
            length,
            max_steps: 10,
            ended_early,
            dt: 0.02,
        })
        .collect();
    let src = "fn fitness(e) { e.length / 10.0 }\nfn success(e) { !e.ended_early }";
    let check = check_fitness(src, &spec, &samples, &Limits::default()).unwrap();
    assert_eq!(check.values, [0.6, 0.3, 1.0]);
    assert_eq!(check.successes, Some(2));
    let check = check_fitness(MEAN_SPEED, &spec, &samples, &Limits::default()).unwrap();
    assert_eq!(check.successes, None);
    // A failure names the sample episode.
    let err = check_fitness(
        "fn fitness(e) { if e.ended_early { 0.0 / 0.0 } else { 1.0 } }",
        &spec,
        &samples,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, K::NonFinite);
    assert!(
        err.message
            .ends_with("(sample episode 2 of 3: 3 of 10 steps, ended early)"),
        "{err}"
    );
    // States that do not match the length are the caller's mistake, named as such.
    let mut wrong = samples[0].clone();
    wrong.states.pop();
    let err = check_fitness(MEAN_SPEED, &spec, &[wrong], &Limits::default()).unwrap_err();
    assert!(err.message.starts_with("internal:"), "{err}");
}

#[test]
fn the_meter_gives_what_evaluate_gives() {
    let spec = small_spec();
    let p = compile(HELD_LOW).unwrap();
    let fitness = program_fitness(p.clone(), "fraction of steps held low", 0.02);
    assert_eq!(fitness.doc, "fraction of steps held low");
    for (length, terminated_at) in [(10, None), (6, Some(6)), (10, Some(10))] {
        let states = episode(&spec, length);
        let mut meter = fitness.meter();
        for t in 0..length {
            let s = &states[t * spec.len()..(t + 1) * spec.len()];
            let info = StepInfo {
                terminated: terminated_at == Some(t + 1),
                truncated: t + 1 == 10,
            };
            meter.step(&StateView::new(&spec, s), info);
        }
        // Terminated on the last step of the full length is not "early".
        let ended_early = terminated_at.is_some_and(|t| t < 10);
        let want = p.evaluate(&states, length, 10, ended_early, 0.02).unwrap();
        assert_eq!(meter.finish(10).to_bits(), want.fitness.to_bits());
        // The success predicate comes with it, for evaluations to report.
        let (fitness, success) = meter.finish_scored(10);
        assert_eq!(fitness.to_bits(), want.fitness.to_bits());
        assert_eq!(success, want.success);
        assert!(success.is_some());
    }
    // A failing program gives NaN.
    let bad = program_fitness(
        compile("fn fitness(e) { e.steps[99].height }").unwrap(),
        "",
        0.02,
    );
    let mut meter = bad.meter();
    meter.step(
        &StateView::new(&spec, &state(&spec, 0)),
        StepInfo::default(),
    );
    assert!(meter.finish(10).is_nan());
    // Without `success` there is no verdict.
    assert_eq!(meter.finish_scored(10).1, None);
}

#[test]
fn evaluation_is_deterministic_across_clones_and_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<FitnessProgram>();
    let spec = quadruped_spec();
    let src = r"
        fn fitness(episode) {
            let t = 0.0;
            for s in episode.steps { t += s.torso_linvel[0] * s.up_z + sin(s.heading); }
            t / episode.max_steps
        }";
    let p = FitnessProgram::compile(src, &spec, &Limits::default()).unwrap();
    let states = episode(&spec, 300);
    let first = p.evaluate(&states, 300, 500, true, 0.02).unwrap().fitness;
    let again = p
        .clone()
        .evaluate(&states, 300, 500, true, 0.02)
        .unwrap()
        .fitness;
    assert_eq!(first.to_bits(), again.to_bits());
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (p, states) = (p.clone(), states.clone());
            std::thread::spawn(move || p.evaluate(&states, 300, 500, true, 0.02).map(|s| s.fitness))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap().to_bits(), first.to_bits());
    }
}
