//! Tasks in the user's own words (`run --env E --describe TEXT`), the LLM
//! critic (`--llm-critic`), and the bad input around them.

mod common;
use common::{json_of, rewardsmith};
use serde_json::Value;
use std::process::Command;

const DESCRIBED: [&str; 14] = [
    "--env",
    "quadruped",
    "--describe",
    "walk backwards slowly while keeping the body low",
    "--samples",
    "2",
    "--generations",
    "1",
    "--budget",
    "4096",
    "--threads",
    "2",
    "--seed",
    "2",
];

fn described_run(out: &str, extra: &[&str]) -> Value {
    let mut args = vec!["run"];
    args.extend_from_slice(&DESCRIBED);
    args.extend_from_slice(&[
        "--out",
        out,
        "--final-budget",
        "4096",
        "--final-seeds",
        "1",
        "--no-render",
        "--json",
    ]);
    args.extend_from_slice(extra);
    json_of(&rewardsmith(&args))
}

#[test]
fn a_task_in_the_users_words_is_measured_by_a_machine_written_fitness() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let v = described_run(out.to_str().unwrap(), &[]);
    assert_eq!(v["task"], "quadruped-described");
    // The offline designer maps the words to fitness terms: backward speed
    // near a slow target and a low body.
    let fitness = std::fs::read_to_string(out.join("fitness.rhai")).unwrap();
    assert!(fitness.contains("fn fitness(episode)"), "{fitness}");
    assert!(fitness.contains("-s.torso_linvel[0]"), "{fitness}");
    assert!(fitness.contains("torso_height"), "{fitness}");
    // Candidates were trained and scored by it; there is no human-written or
    // sparse reward to compare with, and the report says the fitness is
    // machine-written.
    let best = v["best"]["fitness"].as_f64().unwrap();
    assert!(best.is_finite() && best > 0.0, "{v}");
    let final_ = &v["final"];
    assert!(final_["best"]["mean"].as_f64().unwrap().is_finite());
    assert!(final_["human"].is_null() && final_["sparse"].is_null());
    assert!(final_["normalized_score"].is_null());
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("fitness is machine-written"), "{report}");
    assert!(report.contains("fn fitness(episode)"));
    let record = std::fs::read_to_string(out.join("run.toml")).unwrap();
    assert!(record.contains("walk backwards slowly"), "{record}");

    // `report` regenerates it; the worker runs a candidate's spec on its own.
    let o = rewardsmith(&["report", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let spec = out.join("gen-000/cand-00/spec.json");
    let spec_text = std::fs::read_to_string(&spec).unwrap();
    assert!(spec_text.contains("fn fitness(episode)"), "{spec_text}");
    let worker = dir.path().join("worker");
    let w = json_of(&rewardsmith(&[
        "eval-candidate",
        spec.to_str().unwrap(),
        "--out",
        worker.to_str().unwrap(),
    ]));
    assert_eq!(
        w["fitness"].as_f64().unwrap(),
        v["generations"][0]["fitness"][0].as_f64().unwrap(),
        "the worker reproduces the loop's candidate"
    );

    // The transcript (the fitness request included) replays the run.
    let replayed = dir.path().join("replayed");
    let r = described_run(
        replayed.to_str().unwrap(),
        &[
            "--llm",
            "replay",
            "--replay",
            out.join("llm").to_str().unwrap(),
        ],
    );
    assert_eq!(r["best"], v["best"]);
    assert_eq!(r["generations"], v["generations"]);
    assert_eq!(
        std::fs::read_to_string(replayed.join("fitness.rhai")).unwrap(),
        fitness
    );
}

#[test]
fn bad_descriptions_and_output_folders_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "run",
                "--env",
                "quadruped",
                "--describe",
                "   ",
                "--out",
                out,
            ],
            "--describe is empty",
        ),
        (
            &["run", "--env", "tank", "--describe", "drive", "--out", out],
            "unknown environment `tank`; the environments are: cartpole, quadruped",
        ),
        (
            &[
                "run",
                "--task",
                "cartpole-balance",
                "--env",
                "cartpole",
                "--describe",
                "balance",
            ],
            "cannot be used with",
        ),
        (&["run", "--describe", "balance"], "--env"),
        (&["run", "--env", "cartpole"], "--describe"),
    ];
    for (args, message) in cases {
        let o = rewardsmith(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    assert!(!dir.path().join("run").exists(), "nothing was created");
    // A run folder that cannot be made (its parent is a file, which stops
    // root too) is named.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let target = file.join("run");
    let o = rewardsmith(&[
        "run",
        "--task",
        "cartpole-balance",
        "--out",
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(target.to_str().unwrap()), "{err}");
}

#[test]
fn the_llm_critic_turns_programs_down_before_training() {
    use rewardsmith::llm::fake_server::{FakeReply, FakeServer, chat_body, chat_reply};
    let answers = [
        "```rhai\nfn compute_reward(s, prev) {\n    #{ alive: 1.0, upright: s.pole_up }\n}\n```",
        "```rhai\nfn compute_reward(s, prev) {\n    #{ upright: 2.0 * s.pole_up, still: -0.01 * s.pole_angvel * s.pole_angvel }\n}\n```",
    ];
    let server = FakeServer::start(move |_, req| {
        let body = req.json().map(|j| j.to_string()).unwrap_or_default();
        if body.contains("Review a reward function") {
            // Reject the program with the alive bonus, accept the other.
            let verdict = if body.contains("alive: 1.0") {
                "VERDICT: REJECT\n- pays for being alive, not for balancing\n- no cart term"
            } else {
                "VERDICT: ACCEPT\n- fine"
            };
            FakeReply::json(200, &chat_body(&[verdict], "stop"))
        } else {
            chat_reply(req, &answers, "stop")
        }
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args([
            "run",
            "--task",
            "cartpole-balance",
            "--samples",
            "2",
            "--generations",
            "2",
            "--budget",
            "4096",
            "--threads",
            "2",
            "--no-final-eval",
            "--no-render",
            "--llm-critic",
            "--base-url",
            &server.base_url(),
            "--model",
            "fake-model",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .env("OPENAI_API_KEY", "sk-test")
        .output()
        .unwrap();
    let v = json_of(&o);
    let gen0 = &v["generations"][0];
    assert_eq!(gen0["errors"], 1, "{v}");
    assert!(gen0["fitness"][0].is_null() && gen0["fitness"][1].is_f64());
    let review = std::fs::read_to_string(out.join("gen-000/cand-00/critic.json")).unwrap();
    assert!(review.contains("reject") && review.contains("pays for being alive"));
    assert!(
        !out.join("gen-000/cand-00/policy.safetensors").exists(),
        "a rejected program is not trained"
    );
    // The critic's reasons reach the next generation's prompt.
    let next = std::fs::read_to_string(out.join("gen-001/request.json")).unwrap();
    assert!(next.contains("rejected by the LLM critic"), "{next}");
}

#[test]
fn a_fitness_program_that_fails_its_checks_is_asked_for_again_with_the_error() {
    use rewardsmith::llm::fake_server::{FakeReply, FakeServer, chat_body, chat_reply};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let attempts = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = attempts.clone();
    let server = FakeServer::start(move |_, req| {
        let body = req.json().map(|j| j.to_string()).unwrap_or_default();
        if body.contains("scores one finished episode") {
            let answer = match seen.fetch_add(1, Ordering::SeqCst) {
                0 => "I would measure the speed.".to_string(),
                1 => "```rhai\nfn fitness(episode) {\n    episode.steps[0].cart_speed\n}\n```".to_string(),
                _ => {
                    // The retry carries the previous error.
                    assert!(body.contains("cart_speed"), "{body}");
                    "```rhai\nfn fitness(episode) {\n    let n = 0.0;\n    for s in episode.steps { if abs(s.cart_pos) < 0.5 { n += 1.0; } }\n    n / episode.max_steps\n}\n```".to_string()
                }
            };
            FakeReply::json(200, &chat_body(&[answer.as_str()], "stop"))
        } else {
            chat_reply(
                req,
                &["```rhai\nfn compute_reward(s, prev) {\n    #{ centred: -abs(s.cart_pos), up: s.pole_up }\n}\n```"],
                "stop",
            )
        }
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args([
            "run",
            "--env",
            "cartpole",
            "--describe",
            "keep the cart within half a metre of the centre",
            "--samples",
            "1",
            "--generations",
            "1",
            "--budget",
            "4096",
            "--threads",
            "1",
            "--no-final-eval",
            "--no-render",
            "--base-url",
            &server.base_url(),
            "--model",
            "fake-model",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .env("OPENAI_API_KEY", "sk-test")
        .output()
        .unwrap();
    let v = json_of(&o);
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(v["task"], "cartpole-described");
    let fitness = std::fs::read_to_string(out.join("fitness.rhai")).unwrap();
    assert!(fitness.contains("abs(s.cart_pos) < 0.5"), "{fitness}");
    let f = v["best"]["fitness"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&f), "a fraction of steps: {f}");
}
