//! `check_source`: the verdict before training, and its JSON shape; the loader.

mod common;

use common::{QUADRUPED_RUN_HUMAN, quadruped_spec, samples, small_spec};
use rewardsmith_core::RewardErrorKind as K;
use rewardsmith_sandbox::{
    CheckReport, Error, Limits, ProgramSource, WarningKind, check_source, compile,
};
use std::path::Path;

fn check_rhai(src: &str) -> CheckReport {
    let spec = small_spec();
    check_source(
        &ProgramSource::Rhai(src.to_string()),
        &spec,
        &samples(&spec, 50),
        &Limits::default(),
    )
}

#[test]
fn human_quadruped_reward_passes_with_stats_in_program_order() {
    let spec = quadruped_spec();
    let mut samples = samples(&spec, 100);
    for (prev, s) in &mut samples {
        prev[60] = 0.0; // never fallen
        s[60] = 0.0;
    }
    let r = check_source(
        &ProgramSource::Rhai(QUADRUPED_RUN_HUMAN.to_string()),
        &spec,
        &samples,
        &Limits::default(),
    );
    assert!(r.ok, "{r:?}");
    let names: Vec<&str> = r.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["forward", "alive", "upright", "drift", "effort"]);
    for c in &r.components {
        assert!(c.min <= c.mean && c.mean <= c.max && c.std >= 0.0, "{c:?}");
    }
    // The alive bonus is constant on these samples: a warning, not an error.
    assert!(
        r.warnings
            .iter()
            .any(|w| w.kind == WarningKind::ConstantComponent
                && w.component.as_deref() == Some("alive")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn report_serialises_to_the_documented_shape() {
    let r = check_rhai("fn compute_reward(s, prev) { #{ h: s.height, c: 1.0 } }");
    let v = serde_json::to_value(&r).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "call_us_max",
            "call_us_mean",
            "calls",
            "components",
            "errors",
            "ok",
            "printed_bytes",
            "printed_lines",
            "warnings"
        ]
    );
    assert_eq!(v["calls"], 50);
    assert!(v["call_us_mean"].as_f64().unwrap() > 0.0);
    assert!(v["call_us_max"].as_f64().unwrap() >= v["call_us_mean"].as_f64().unwrap());
    assert_eq!(v["printed_lines"], 0);
    assert_eq!(v["ok"], true);
    let c = v["components"][0].as_object().unwrap();
    let mut ck: Vec<&str> = c.keys().map(String::as_str).collect();
    ck.sort_unstable();
    assert_eq!(ck, ["max", "mean", "min", "name", "std"]);
    assert_eq!(v["warnings"][0]["kind"], "constant_component");

    let bad = check_rhai("fn compute_reward(s, prev) {\n #{ h: s.nope }\n}");
    let v = serde_json::to_value(&bad).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"][0]["kind"], "unknown_field");
    assert_eq!(v["errors"][0]["line"], 2);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("s.nope")
    );
    let ok = check_rhai("fn compute_reward(s, prev) { #{ h: s.height } }");
    let v = serde_json::to_value(&ok).unwrap();
    assert_eq!(v["errors"], serde_json::json!([]));
}

#[test]
fn dry_run_catches_errors_that_only_some_states_trigger() {
    let r = check_rhai(
        "fn compute_reward(s, prev) { #{ ok: 1.0, bad: if s.height > 0.5 { 0.0 / 0.0 } else { s.height } } }",
    );
    assert!(!r.ok);
    assert_eq!(r.errors[0].kind, K::NonFinite);
    assert_eq!(r.errors[0].component.as_deref(), Some("bad"));
    assert!(
        r.errors[0].message.contains("dry-run step"),
        "{}",
        r.errors[0].message
    );
}

#[test]
fn dominant_component_is_a_warning() {
    let r = check_rhai(
        "fn compute_reward(s, prev) { #{ huge: 1e6 * s.height, tiny: 0.001 * s.vel[0] } }",
    );
    assert!(r.ok, "{r:?}");
    let w = r
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::DominantComponent)
        .expect("dominance warning");
    assert_eq!(w.component.as_deref(), Some("huge"));
    assert!(w.message.contains("tiny"));
}

#[test]
fn printing_and_missing_samples_are_warnings() {
    let spec = small_spec();
    let src = ProgramSource::Rhai(
        r#"fn compute_reward(s, prev) { print("debug me"); #{ h: s.height } }"#.to_string(),
    );
    let r = check_source(&src, &spec, &[], &Limits::default());
    assert!(r.ok);
    let kinds: Vec<WarningKind> = r.warnings.iter().map(|w| w.kind).collect();
    assert!(kinds.contains(&WarningKind::NoSamples), "{kinds:?}");
    assert!(kinds.contains(&WarningKind::Printed), "{kinds:?}");
}

#[test]
fn compile_errors_make_a_failed_report() {
    let r = check_rhai("fn compute_reward(s, prev) { #{ h: ");
    assert!(!r.ok);
    assert_eq!(r.errors[0].kind, K::Syntax);
    assert!(r.components.is_empty());
}

#[test]
fn wasm_sources_are_checked_too() {
    let spec = quadruped_spec();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quadruped_run_reward.wat");
    let src = ProgramSource::from_path(&path).unwrap();
    assert_eq!(src.language(), "wat");
    let r = check_source(&src, &spec, &samples(&spec, 30), &Limits::default());
    assert!(r.ok, "{r:?}");
    assert_eq!(r.components.len(), 5);
    let bin = ProgramSource::Wasm(b"\0asm".to_vec());
    let r = check_source(&bin, &spec, &samples(&spec, 3), &Limits::default());
    assert_eq!(r.errors[0].kind, K::Malformed);
}

#[test]
fn loader_picks_the_language_by_extension() {
    let dir = std::env::temp_dir().join(format!("rewardsmith-sandbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rhai = dir.join("r.RHAI");
    std::fs::write(&rhai, "fn compute_reward(s, prev) { #{ h: s.height } }").unwrap();
    let src = ProgramSource::from_path(&rhai).unwrap();
    assert!(matches!(src, ProgramSource::Rhai(_)));
    let p = compile(&src, &small_spec(), &Limits::default()).unwrap();
    assert_eq!(p.components(), ["h"]);

    let wasm = dir.join("r.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    assert!(matches!(
        ProgramSource::from_path(&wasm).unwrap(),
        ProgramSource::Wasm(_)
    ));

    let py = dir.join("r.py");
    std::fs::write(&py, "x").unwrap();
    let e = ProgramSource::from_path(&py).unwrap_err();
    assert!(matches!(e, Error::UnknownExtension { .. }));
    assert!(e.to_string().contains(".rhai, .wasm or .wat"), "{e}");
    let e = ProgramSource::from_path(&dir.join("missing.rhai")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
