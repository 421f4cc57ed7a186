//! `rewardsmith run` / `resume` / `report` / `eval-candidate` end to end, on the
//! offline designer and on a replayed transcript.

mod common;
use common::{json_of, rewardsmith};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SMALL: [&str; 12] = [
    "--task",
    "cartpole-balance",
    "--samples",
    "3",
    "--generations",
    "2",
    "--budget",
    "8192",
    "--threads",
    "2",
    "--seed",
    "5",
];

fn run_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run"];
    args.extend_from_slice(&SMALL);
    args.extend_from_slice(&["--out", out, "--json"]);
    args.extend_from_slice(extra);
    args
}

/// The parts of a summary that must not depend on timing or the run folder.
fn outcome(v: &Value) -> (Value, Value, Value) {
    (
        v["best"].clone(),
        v["generations"].clone(),
        v["final"].clone(),
    )
}

#[test]
fn a_small_run_leaves_a_complete_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let v = json_of(&rewardsmith(&run_args(
        out.to_str().unwrap(),
        &["--final-budget", "8192", "--final-seeds", "2"],
    )));
    assert_eq!(v["task"], "cartpole-balance");
    let gens = v["generations"].as_array().unwrap();
    assert_eq!(gens.len(), 2);
    assert_eq!(gens[0]["fitness"].as_array().unwrap().len(), 3);
    let best = v["best"]["fitness"].as_f64().unwrap();
    assert!(best > 0.0);
    let final_ = &v["final"];
    for k in ["best", "human", "sparse"] {
        // The table's figures are those of its two seeds: mean, sample std,
        // and a 95% interval around the mean.
        let values: Vec<f64> = final_[k]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(values.len(), 2, "{k}");
        let mean = (values[0] + values[1]) / 2.0;
        let std = (values[0] - values[1]).abs() / 2f64.sqrt();
        assert!(
            (final_[k]["mean"].as_f64().unwrap() - mean).abs() < 1e-12,
            "{k}"
        );
        assert!(
            (final_[k]["std"].as_f64().unwrap() - std).abs() < 1e-12,
            "{k}"
        );
        let ci = final_[k]["ci95"].as_array().unwrap();
        let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        assert!(lo <= mean && mean <= hi, "{k}: {lo} {mean} {hi}");
    }
    assert!(final_.get("normalized_score").is_some());
    assert_eq!(v["llm"]["calls"], 2, "one LLM call per generation");
    for rel in [
        "run.toml",
        "events.jsonl",
        "summary.json",
        "report.md",
        "report.html",
        "gen-000/completions.json",
        "gen-000/generation.json",
        "gen-000/cand-00/completion.txt",
        "gen-001/request.json",
        "best/reward.rhai",
        "best/policy.safetensors",
        "best/final.json",
    ] {
        assert!(out.join(rel).exists(), "{rel} missing");
    }
    assert!(
        std::fs::read_dir(out.join("llm")).unwrap().count() >= 2,
        "LLM calls recorded"
    );
    // Every event is stamped (UTC time, seconds since the start, in order)
    // and typed (docs/events.md).
    let events: Vec<Value> = std::fs::read_to_string(out.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "run_started");
    assert_eq!(events.last().unwrap()["event"], "run_finished");
    let mut last = 0.0;
    for e in &events {
        let ts = e["ts"].as_str().unwrap();
        assert!(ts.len() == 24 && ts.ends_with('Z'), "{e}");
        let elapsed = e["elapsed_s"].as_f64().unwrap();
        assert!(elapsed >= last, "{e}");
        last = elapsed;
    }
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    assert_eq!(count("candidate_finished"), 6);
    assert_eq!(count("generation_finished"), 2);
    assert_eq!(count("final_training_finished"), 6);
    assert_eq!(
        count("training_steps"),
        0,
        "step counts are for the bars only"
    );
    let request = std::fs::read_to_string(out.join("gen-001/request.json")).unwrap();
    assert!(
        request.contains("task fitness"),
        "the second prompt carries the reflection"
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Final evaluation") && report.contains("```rhai"));

    // The same folder is refused without --force.
    let again = rewardsmith(&run_args(out.to_str().unwrap(), &["--no-final-eval"]));
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("rewardsmith resume"));

    // The report can be rewritten from the folder.
    std::fs::remove_file(out.join("report.html")).unwrap();
    assert!(
        rewardsmith(&["report", out.to_str().unwrap()])
            .status
            .success()
    );
    assert!(out.join("report.html").exists());
}

#[test]
fn a_killed_run_resumes_to_the_same_result_and_a_transcript_replays_it() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let reference = json_of(&rewardsmith(&run_args(
        whole.to_str().unwrap(),
        &["--no-final-eval"],
    )));

    // Kill a second run as soon as its first candidate is finished.
    let killed = dir.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args(run_args(killed.to_str().unwrap(), &["--no-final-eval"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let marker = killed.join("gen-000/cand-00/result.json");
    let start = Instant::now();
    while !marker.exists() && start.elapsed() < Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        !killed.join("summary.json").exists(),
        "the run was killed before it finished"
    );
    let resumed = json_of(&rewardsmith(&[
        "resume",
        killed.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(outcome(&resumed), outcome(&reference));

    // Ctrl-C (SIGINT) mid-run: the run says how to continue, exits with 130,
    // and resumes to the same result.
    let interrupted = dir.path().join("interrupted");
    let child = Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args(run_args(
            interrupted.to_str().unwrap(),
            &["--no-final-eval"],
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let marker = interrupted.join("gen-000/cand-00/result.json");
    let start = Instant::now();
    while !marker.exists() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(sent.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("interrupted") && err.contains("rewardsmith resume"),
        "{err}"
    );
    assert!(!interrupted.join("summary.json").exists());
    let resumed = json_of(&rewardsmith(&[
        "resume",
        interrupted.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(outcome(&resumed), outcome(&reference));

    // Replaying the first run's transcript gives the same search.
    let replayed = dir.path().join("replayed");
    let llm_dir = whole.join("llm");
    let v = json_of(&rewardsmith(&run_args(
        replayed.to_str().unwrap(),
        &[
            "--no-final-eval",
            "--llm",
            "replay",
            "--replay",
            llm_dir.to_str().unwrap(),
        ],
    )));
    assert_eq!(outcome(&v), outcome(&reference));
}

#[test]
fn bad_input_to_run_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let o = rewardsmith(&[
        "run",
        "--task",
        "quadruped-fly",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown task"));
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[search]\nsamplez = 3\n").unwrap();
    let o = rewardsmith(&[
        "run",
        "--task",
        "cartpole-balance",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("samplez"));
    let o = rewardsmith(&[
        "run",
        "--task",
        "cartpole-balance",
        "--samples",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = rewardsmith(&["resume", dir.path().join("nothing").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds no run"));
}

#[test]
fn a_corrupt_run_file_is_named_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    json_of(&rewardsmith(&run_args(
        out.to_str().unwrap(),
        &["--no-final-eval"],
    )));
    std::fs::remove_file(out.join("summary.json")).unwrap();
    std::fs::write(out.join("gen-000/generation.json"), "{ truncated").unwrap();
    let before = std::fs::read(out.join("gen-000/cand-00/result.json")).unwrap();
    let o = rewardsmith(&["resume", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("generation.json"));
    assert_eq!(
        std::fs::read(out.join("gen-000/cand-00/result.json")).unwrap(),
        before
    );
}

#[test]
fn eval_candidate_runs_a_self_contained_spec() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    let reward = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../envs/rewards/cartpole-balance.human.rhai"),
    )
    .unwrap();
    std::fs::write(
        &spec,
        serde_json::json!({"task": "cartpole-balance", "reward": reward, "budget": 8192,
            "seed": 1, "threads": 1, "analysis_episodes": 2})
        .to_string(),
    )
    .unwrap();
    let out = dir.path().join("out");
    let v = json_of(&rewardsmith(&[
        "eval-candidate",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(v["fitness"].as_f64().unwrap() >= 0.0);
    let result: Value =
        serde_json::from_slice(&std::fs::read(out.join("result.json")).unwrap()).unwrap();
    assert_eq!(result["outcome"], "trained");
    assert!(result["analysis"]["fields"].as_array().unwrap().len() > 3);
}

/// A whole run against a local OpenAI-compatible server: the key reaches the
/// server and nothing on disk; the recorded transcript then replays the run.
#[test]
fn a_run_against_an_openai_compatible_server_and_its_replay() {
    use rewardsmith::llm::fake_server::{FakeServer, chat_reply};
    const KEY: &str = "sk-test-0123456789abcdef";
    let answers = [
        "Here is a reward.\n\n```rhai\nfn compute_reward(s, prev) {\n    #{ alive: 1.0, upright: s.pole_up, centred: -0.1 * s.cart_pos * s.cart_pos }\n}\n```\n",
        "```rhai\nfn compute_reward(s, prev) {\n    #{ upright: 2.0 * s.pole_up, still: -0.01 * s.pole_angvel * s.pole_angvel }\n}\n```",
        "I cannot help with that.",
    ];
    let server = FakeServer::start(move |_, req| chat_reply(req, &answers, "stop")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let base = server.base_url();
    let mut args = run_args(
        out.to_str().unwrap(),
        &[
            "--no-final-eval",
            "--base-url",
            &base,
            "--model",
            "fake-model",
        ],
    );
    args.retain(|a| *a != "--json");
    args.push("--json");
    let o = Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args(&args)
        .env("OPENAI_API_KEY", KEY)
        .output()
        .unwrap();
    let v = json_of(&o);
    assert!(
        server.request_count() >= 2,
        "one request per generation at least"
    );
    let gens = v["generations"].as_array().unwrap();
    assert_eq!(gens.len(), 2);
    assert_eq!(
        gens[0]["errors"], 1,
        "the answer without code is a failed candidate"
    );
    assert!(v["best"]["fitness"].as_f64().unwrap() > 0.0);
    assert!(v["llm"]["prompt_tokens"].as_u64().unwrap() > 0);
    // The key is nowhere in the run folder.
    for entry in walk(&out) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "{} contains the API key",
            entry.display()
        );
    }
    // The transcript replays the run with no server at all.
    drop(server);
    let replayed = dir.path().join("replayed");
    let llm_dir = out.join("llm");
    let r = json_of(&rewardsmith(&run_args(
        replayed.to_str().unwrap(),
        &[
            "--no-final-eval",
            "--llm",
            "replay",
            "--replay",
            llm_dir.to_str().unwrap(),
            "--model",
            "fake-model",
        ],
    )));
    assert_eq!(outcome(&r), outcome(&v));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The transcript shipped in `examples/replay/` still replays to the run it recorded.
#[test]
fn the_shipped_transcript_replays() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("replayed");
    let transcript =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/replay/cartpole-balance/llm");
    let v = json_of(&rewardsmith(&run_args(
        out.to_str().unwrap(),
        &[
            "--no-final-eval",
            "--llm",
            "replay",
            "--replay",
            transcript.to_str().unwrap(),
        ],
    )));
    assert_eq!(v["best"]["generation"], 1);
    assert_eq!(v["best"]["candidate"], 2);
    let fitness = v["best"]["fitness"].as_f64().unwrap();
    assert!(
        (fitness - 0.539125).abs() < 1e-9,
        "the recorded run's best fitness: {fitness}"
    );
    assert_eq!(v["generations"].as_array().unwrap().len(), 2);
    assert_eq!(v["llm"]["calls"], 2);
}

#[test]
fn the_search_reports_its_progress_in_order() {
    use rewardsmith::progress::RecordingProgress;
    use rewardsmith::search::{FileConfig, RunRecord, create_run, run_search};
    let registry = rewardsmith_envs::registry();
    let task = registry.task("cartpole-balance").unwrap();
    let mut config = FileConfig::default();
    config.search.samples = 2;
    config.search.generations = 2;
    config.search.budget = 4096;
    config.search.final_budget = 4096;
    config.search.final_seeds = 1;
    // Every candidate trains to the end, so each one's events run to 4096.
    config.search.allocation = rewardsmith::search::Allocation::Uniform;
    let mut record = RunRecord::new(task, config.search, config.llm, 2);
    record.render = false;
    let dir = tempfile::tempdir().unwrap();
    let store = create_run(&dir.path().join("run"), &record, false).unwrap();
    let progress = RecordingProgress::default();
    let summary = run_search(&registry, &store, &record, &progress).unwrap();
    let events = progress.events();
    let at = |prefix: &str| {
        events
            .iter()
            .position(|e| e.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {events:#?}"))
    };
    // Generation 0 starts, each candidate starts, trains and finishes, then
    // generation 1, then the final evaluation's three trainings.
    assert!(at("generation_started(0, 2, 2)") < at("candidate_started(0, 0, 4096)"));
    assert!(at("candidate_started(0, 1, 4096)") < at("training_steps(0, 1,"));
    assert!(at("training_steps(0, 0, 4096)") < at("candidate_finished(0, 0, Ok("));
    assert!(at("candidate_finished(0, 1,") < at("generation_started(1, 2, 2)"));
    assert!(at("candidate_finished(1, 1,") < at("final_started(3, 4096)"));
    for k in 0..3 {
        assert!(at("final_started") < at(&format!("final_training_steps({k}, 4096)")));
        assert!(
            at(&format!("final_training_steps({k}, 4096)"))
                < at(&format!("final_training_finished({k},"))
        );
    }
    let t = &summary.timing;
    assert!(t.total_s >= t.candidates_s + t.final_s && t.train_thread_s <= t.candidate_thread_s);
    assert!(t.loop_overhead().is_some());
}
