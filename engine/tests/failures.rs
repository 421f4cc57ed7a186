//! Searches that cannot succeed stop with a clear message instead of looping:
//! an LLM that never answers with code, programs that all fail; and a run
//! folder that already holds a run is never overwritten by accident.

use rewardsmith::llm::fake_server::{FakeServer, chat_reply};
use std::path::Path;
use std::process::{Command, Output};

fn run_against(server: &FakeServer, out: &Path, extra: &[&str]) -> Output {
    let base = server.base_url();
    let mut args = vec![
        "run",
        "--task",
        "cartpole-balance",
        "--samples",
        "2",
        "--generations",
        "5",
        "--budget",
        "4096",
        "--threads",
        "2",
        "--no-final-eval",
        "--no-render",
        "--base-url",
        &base,
        "--model",
        "fake-model",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args(&args)
        .env("OPENAI_API_KEY", "sk-test")
        .output()
        .unwrap()
}

#[test]
fn an_llm_that_never_writes_code_stops_the_run_after_two_failed_generations() {
    let server =
        FakeServer::start(|_, req| chat_reply(req, &["I cannot help with that."], "stop")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = run_against(&server, &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("stopped after 2 generations in a row in which every candidate failed"),
        "{err}"
    );
    assert!(err.contains("the search found no usable reward"), "{err}");
    assert_eq!(
        server.request_count(),
        2,
        "no third generation was asked for"
    );
    // The second request told the model what went wrong with the first.
    let second = std::fs::read_to_string(out.join("gen-001/request.json")).unwrap();
    assert!(second.contains("no reward program found"), "{second}");
    assert!(!out.join("gen-002").exists());

    // The folder holds a run now: starting another there is refused, and the
    // old one is left as it was.
    let before = std::fs::read(out.join("gen-000/generation.json")).unwrap();
    let again = run_against(&server, &out, &[]);
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already holds a run") && err.contains("rewardsmith resume"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(out.join("gen-000/generation.json")).unwrap(),
        before
    );
}

#[test]
fn programs_that_all_fail_are_fed_back_and_stop_the_run() {
    // One program fails its dry run (an unknown field), the other throws
    // during training once the cart has moved.
    let answers = [
        "```rhai\nfn compute_reward(s, prev) {\n    #{ up: s.pole_upright }\n}\n```",
        "```rhai\nfn compute_reward(s, prev) {\n    if abs(s.cart_pos) > 0.05 { throw \"the cart moved\"; }\n    #{ up: s.pole_up }\n}\n```",
    ];
    let server = FakeServer::start(move |_, req| chat_reply(req, &answers, "stop")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = run_against(&server, &out, &["--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let gens = v["generations"].as_array().unwrap();
    assert_eq!(gens.len(), 2, "{v}");
    for g in gens {
        assert_eq!(g["errors"], 2);
    }
    assert!(
        v["stopped"]
            .as_str()
            .unwrap()
            .contains("every candidate failed")
    );
    let second = std::fs::read_to_string(out.join("gen-001/request.json")).unwrap();
    assert!(
        second.contains("pole_upright"),
        "the unknown field is named: {second}"
    );
    assert!(
        second.contains("the cart moved"),
        "the runtime error is named: {second}"
    );
}
