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
    // The reading comes first, before the generations and the final table.
    let understood = report.find("What the task was understood as").unwrap();
    assert!(
        understood < report.find("## Generations").unwrap(),
        "{report}"
    );
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("<section id=\"reading\">"), "{page}");
    assert!(page.find("id=\"reading\"").unwrap() < page.find("id=\"verdict\"").unwrap());
    assert!(
        report.contains("cost no cost (offline designer)"),
        "{report}"
    );
    let record = std::fs::read_to_string(out.join("run.toml")).unwrap();
    assert!(record.contains("walk backwards slowly"), "{record}");
    // What was understood is stored before training: the plain reading of
    // the fitness and its dry run on random and zero actions.
    let reading = rewardsmith::search::load_fitness_reading(&out)
        .unwrap()
        .expect("a stored reading");
    let text = reading.reading.join("\n");
    assert!(
        text.contains("0.67 × closeness of the speed along −x (backward) to 0.3 m/s"),
        "{text}"
    );
    assert!(
        text.contains("0.33 × closeness of the torso height"),
        "{text}"
    );
    assert!(text.contains("ends early scores 0"), "{text}");
    assert!(!text.contains("Ignored"), "{text}");
    let behaviours: Vec<&str> = reading
        .dry_run
        .iter()
        .map(|d| d.behaviour.as_str())
        .collect();
    // The quadruped has no scripted controller: two behaviours.
    assert_eq!(behaviours, ["random actions", "zero actions"]);
    assert!(
        reading
            .dry_run
            .iter()
            .all(|d| d.values.len() == 4 && d.mean().is_finite())
    );
    assert!(out.join("fitness-reading.md").exists());

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
                    "```rhai\n// reading: fraction of steps with the cart within 0.5 m of the centre\nfn fitness(episode) {\n    let n = 0.0;\n    for s in episode.steps { if abs(s.cart_pos) < 0.5 { n += 1.0; } }\n    n / episode.max_steps\n}\nfn success(episode) {\n    episode.length == episode.max_steps\n}\n```".to_string()
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
            "--final-seeds",
            "2",
            "--final-budget",
            "4096",
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
    // Its `fn success` is reported: the best candidate's share of held-out
    // episodes, and the final evaluation's per seed, in the summary and the
    // report.
    let share = v["best"]["success"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&share), "{v}");
    let per_seed = v["final"]["best_success"]["values"].as_array().unwrap();
    assert_eq!(per_seed.len(), 2, "{v}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("met the task's success condition in"),
        "{report}"
    );
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("id=\"success\""), "{page}");
    // The model's plain reading is stored with a dry run beside it, and a
    // local endpoint's cost is not shown as $0.
    let reading = rewardsmith::search::load_fitness_reading(&out)
        .unwrap()
        .unwrap();
    assert_eq!(
        reading.reading,
        ["fraction of steps with the cart within 0.5 m of the centre"]
    );
    // The cartpole has a scripted controller: a third behaviour.
    let behaviours: Vec<&str> = reading
        .dry_run
        .iter()
        .map(|d| d.behaviour.as_str())
        .collect();
    assert_eq!(
        behaviours,
        [
            "random actions",
            "zero actions",
            "scripted controller (pushes the cart towards the side the pole leans)"
        ]
    );
    assert!(reading.written_by.contains("fake-model"), "{reading:?}");
    assert_eq!(v["llm"]["cost"], "no price (local)", "{v}");
}

/// The reward state of `env`'s first task (the template of a described task).
fn state_of(env: &str) -> rewardsmith_core::StateSpec {
    let registry = rewardsmith_envs::registry();
    let task = registry
        .tasks()
        .iter()
        .find(|t| t.env == env)
        .expect("a known environment");
    task.env_spec().state.clone()
}

/// Ten plain descriptions over the robots: the offline designer maps the
/// ones it can measure term for term, and refuses the others (exit 2, before
/// any folder is made) naming every word it cannot measure. None silently
/// becomes "stay upright", "run forward" or "reach target_pos".
#[test]
fn the_offline_designer_maps_faithfully_or_refuses_naming_the_words() {
    use rewardsmith::llm::vocabulary::understand;
    // (env, description, fields the fitness must read, fields it must not)
    let mapped: [(&str, &str, &[&str], &[&str]); 5] = [
        (
            "quadruped",
            "walk backwards slowly while keeping the body low",
            &["-s.torso_linvel[0]", "s.torso_height"],
            &["up_z"],
        ),
        (
            "quadruped",
            "run forward at roughly 0.5 m/s without falling",
            &["s.torso_linvel[0] - 0.5", "s.fallen"],
            &["torso_height"],
        ),
        (
            "quadruped",
            "lift the front left leg without tipping over",
            &["s.foot_contact[0]", "s.fallen"],
            &["foot_contact[1]", "torso_linvel"],
        ),
        (
            "cartpole",
            "balance the pole while keeping the cart within half a metre of the centre",
            &["s.pole_up", "abs(s.cart_pos) <= 0.5"],
            &["cart_vel"],
        ),
        (
            "hand",
            "spin the cube counter-clockwise without dropping it",
            &["s.object_angvel[2]", "s.dropped"],
            &["orient_error", "-s.object_angvel"],
        ),
    ];
    for (env, description, reads, not) in mapped {
        let u = understand(description, &state_of(env));
        assert!(u.unmapped.is_empty(), "{description}: {:?}", u.unmapped);
        assert!(u.refusal(false).is_none(), "{description}");
        let source = u.fitness_source();
        for r in reads {
            assert!(source.contains(r), "{description}: {r} in\n{source}");
        }
        for r in not {
            assert!(!source.contains(r), "{description}: no {r} in\n{source}");
        }
        rewardsmith_sandbox::FitnessProgram::compile(
            &source,
            &state_of(env),
            &rewardsmith_sandbox::Limits::default(),
        )
        .unwrap_or_else(|e| panic!("{description}: {e}\n{source}"));
    }
    // (env, description, the words the refusal names)
    let refused: [(&str, &str, &[&str]); 5] = [
        (
            "quadruped",
            "trot into the corner",
            &["\"trot\"", "\"corner\""],
        ),
        (
            "quadruped",
            "moonwalk gracefully",
            &["no goal", "\"moonwalk\""],
        ),
        (
            "cartpole",
            "swing the pole up no quicker than 2 rad/s",
            &["\"quicker\"", "\"rad/s\""],
        ),
        (
            "arm",
            "push the cube next to the wall",
            &["\"next\"", "\"wall\""],
        ),
        ("arm", "pick up the cube and let go of it", &["\"let go\""]),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (env, description, words) in refused {
        let out = dir.path().join("refused");
        let o = rewardsmith(&[
            "run",
            "--env",
            env,
            "--describe",
            description,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{description}");
        let err = String::from_utf8_lossy(&o.stderr);
        for w in words {
            assert!(err.contains(w), "{description}: {w} in {err}");
        }
        assert!(err.contains("language model"), "{err}");
        assert!(!out.exists(), "{description}: nothing was created");
    }
    // A description with no goal is refused even when partial is accepted.
    let o = rewardsmith(&[
        "run",
        "--env",
        "quadruped",
        "--describe",
        "moonwalk gracefully",
        "--accept-partial-fitness",
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    // On the arm, a goal naming the target maps to the fingertip's distance
    // to it, and one naming the cube to the cube's.
    let u = understand("reach the target with the fingertip", &state_of("arm"));
    assert!(u.unmapped.is_empty() && u.fitness_source().contains("s.tip_to_target"));
    let u = understand("push the cube to the goal", &state_of("arm"));
    assert!(u.unmapped.is_empty(), "{:?}", u.unmapped);
    let source = u.fitness_source();
    assert!(source.contains("s.cube_to_goal") && !source.contains("tip_to_target"));
}

/// `--accept-partial-fitness` lets a refused description run; the stored
/// reading says in bold what the fitness ignores.
#[test]
fn a_partial_fitness_runs_when_accepted_and_says_what_it_ignores() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = [
        "run",
        "--env",
        "cartpole",
        "--describe",
        "balance the pole smoothly",
        "--samples",
        "1",
        "--generations",
        "1",
        "--budget",
        "2048",
        "--threads",
        "1",
        "--no-final-eval",
        "--no-render",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    let o = rewardsmith(&args);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"smoothly\""));
    let mut accepted = args.to_vec();
    accepted.push("--accept-partial-fitness");
    let v = json_of(&rewardsmith(&accepted));
    assert!(v["best"]["fitness"].is_f64(), "{v}");
    let md = std::fs::read_to_string(out.join("fitness-reading.md")).unwrap();
    assert!(
        md.contains("**Ignored") && md.contains("\"smoothly\""),
        "{md}"
    );
    let fitness = std::fs::read_to_string(out.join("fitness.rhai")).unwrap();
    assert!(fitness.contains("// reading: **Ignored"), "{fitness}");
    // The page shows the ignored words in bold.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("<strong>Ignored"), "{page}");
}

/// `--feedback human` with the offline designer says in one line what the
/// person's input does (before anything else can fail).
#[test]
fn human_feedback_with_the_offline_designer_says_what_it_does() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("answers.jsonl");
    std::fs::write(&bad, "not json\n").unwrap();
    let o = rewardsmith(&[
        "run",
        "--task",
        "cartpole-balance",
        "--feedback-file",
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("run").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let notes: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("--feedback human with the offline designer"))
        .collect();
    assert_eq!(notes.len(), 1, "{err}");
    assert!(notes[0].contains("reads no text") && notes[0].contains("only reseeds"));
    assert!(notes[0].contains("ranking picks the program it mutates next"));
}

/// With the offline designer, the candidate the person ranks first is the
/// program it mutates next, not the fitness-best one.
#[test]
fn the_offline_designer_mutates_the_candidate_the_person_ranked_first() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let answers = dir.path().join("answers.jsonl");
    std::fs::write(&answers, "{\"rank\":[3,1,2]}\n").unwrap();
    let v = json_of(&rewardsmith(&[
        "run",
        "--task",
        "cartpole-balance",
        "--samples",
        "3",
        "--generations",
        "2",
        "--budget",
        "4096",
        "--threads",
        "2",
        "--no-final-eval",
        "--no-render",
        "--feedback-file",
        answers.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--json",
    ]));
    let gen0: Vec<f64> = v["generations"][0]["fitness"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_f64().unwrap())
        .collect();
    assert!(
        gen0[1] > gen0[2],
        "the fitness-best is another candidate: {gen0:?}"
    );
    let design = |g: usize, c: usize| -> Vec<Value> {
        let text = std::fs::read_to_string(run.join(format!("gen-{g:03}/cand-{c:02}/reward.rhai")))
            .unwrap();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("// design: "))
            .unwrap();
        serde_json::from_str::<Value>(line).unwrap()["terms"]
            .as_array()
            .unwrap()
            .clone()
    };
    let preferred = design(0, 2);
    let child = design(1, 0);
    for term in &child {
        assert!(
            preferred.contains(term),
            "{term} comes from the preferred candidate 3: {preferred:?}"
        );
    }
}

/// `--feedback human` on a described task: the person reads the fitness
/// program, its reading and dry run before any reward is written, and
/// accepts, corrects (with the offline designer a correction is a new
/// description, mapped again; one it cannot measure is refused and asked
/// again) or stops. The answers are stored, and `resume` does not ask again.
#[test]
fn the_person_accepts_or_corrects_the_fitness_before_the_search() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let answers = dir.path().join("answers.jsonl");
    std::fs::write(
        &answers,
        concat!(
            "{\"fitness\":\"correct\",\"text\":\"trot into the corner\"}\n",
            "{\"fitness\":\"correct\",\"text\":\"walk forward fast\"}\n",
            "{\"fitness\":\"accept\"}\n",
        ),
    )
    .unwrap();
    let v = described_run(
        out.to_str().unwrap(),
        &["--feedback-file", answers.to_str().unwrap()],
    );
    assert!(v["best"]["fitness"].is_f64(), "{v}");
    // The accepted program measures the corrected description: forward speed,
    // no backward speed and no body height.
    let fitness = std::fs::read_to_string(out.join("fitness.rhai")).unwrap();
    assert!(fitness.contains("s.torso_linvel[0]"), "{fitness}");
    assert!(!fitness.contains("-s.torso_linvel[0]"), "{fitness}");
    assert!(!fitness.contains("torso_height"), "{fitness}");
    let rounds: Value =
        serde_json::from_slice(&std::fs::read(out.join("fitness-feedback.json")).unwrap()).unwrap();
    let rounds = rounds.as_array().unwrap();
    assert_eq!(rounds.len(), 3, "{rounds:?}");
    // The unmeasurable correction was refused by name; the program stayed.
    assert_eq!(
        rounds[0]["description"],
        "walk backwards slowly while keeping the body low"
    );
    assert!(
        rounds[0]["refused"]
            .as_str()
            .unwrap()
            .contains("\"corner\""),
        "{rounds:?}"
    );
    assert_eq!(rounds[1]["answer"]["answer"], "correct");
    assert_eq!(rounds[2]["description"], "walk forward fast");
    assert_eq!(rounds[2]["answer"]["answer"], "accept");
    let reading = rewardsmith::search::load_fitness_reading(&out)
        .unwrap()
        .unwrap();
    assert_eq!(reading.description, "walk forward fast");
    assert_eq!(reading.answers.len(), 3);
    let md = std::fs::read_to_string(out.join("fitness-reading.md")).unwrap();
    assert!(
        md.contains("corrected it: \"walk forward fast\"") && md.contains("accepted the fitness"),
        "{md}"
    );
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        page.contains("The person's answers before the search"),
        "{page}"
    );
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    assert_eq!(events.matches("\"event\":\"fitness_feedback\"").count(), 3);
    // The candidates were written for the corrected words.
    let request = std::fs::read_to_string(out.join("gen-000/request.json")).unwrap();
    assert!(request.contains("walk forward fast"), "{request}");

    // A resumed run reads the accepted program back and asks nothing: the
    // answers file is gone and standard input is empty.
    std::fs::remove_file(&answers).unwrap();
    std::fs::remove_file(out.join("summary.json")).unwrap();
    let o = rewardsmith(&["resume", out.to_str().unwrap(), "--json"]);
    let r = json_of(&o);
    assert_eq!(r["best"], v["best"]);
    let after: Value =
        serde_json::from_slice(&std::fs::read(out.join("fitness-feedback.json")).unwrap()).unwrap();
    assert_eq!(after.as_array().unwrap().len(), 3, "nothing more was asked");

    // Stop ends the run before any reward is written; no answer at all is a
    // usage error naming the missing line.
    for (line, code, message) in [
        (
            "{\"fitness\":\"stop\"}\n",
            1,
            "stopped by the person before the search",
        ),
        (
            "{\"action\":\"skip\"}\n",
            2,
            "no answer for fitness question 1",
        ),
    ] {
        let run = dir.path().join(format!("run-{code}"));
        std::fs::write(&answers, line).unwrap();
        let mut args = vec!["run"];
        args.extend_from_slice(&DESCRIBED);
        args.extend_from_slice(&[
            "--feedback-file",
            answers.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
        ]);
        let o = rewardsmith(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{err}");
        assert!(err.contains(message), "{err}");
        assert!(!run.join("gen-000").exists(), "no reward was written");
        assert!(!run.join("fitness.rhai").exists());
        assert!(
            run.join("fitness-reading.md").exists(),
            "the reading is kept"
        );
    }
}

/// With a language model, the person's correction of the fitness goes back
/// to the model as feedback, which writes the program again; the reward
/// designer then sees the description with the correction.
#[test]
fn a_correction_of_the_fitness_goes_back_to_the_language_model() {
    use rewardsmith::llm::fake_server::{FakeReply, FakeServer, chat_body, chat_reply};
    let server = FakeServer::start(move |_, req| {
        let body = req.json().map(|j| j.to_string()).unwrap_or_default();
        if body.contains("scores one finished episode") {
            let answer = if body.contains("within a fifth of a metre") {
                assert!(body.contains("A person read this fitness program"), "{body}");
                "```rhai\n// reading: fraction of steps with the cart within 0.2 m of the centre\nfn fitness(episode) {\n    let n = 0.0;\n    for s in episode.steps { if abs(s.cart_pos) < 0.2 { n += 1.0; } }\n    n / episode.max_steps\n}\n```"
            } else {
                "```rhai\n// reading: fraction of steps with the cart within 0.5 m of the centre\nfn fitness(episode) {\n    let n = 0.0;\n    for s in episode.steps { if abs(s.cart_pos) < 0.5 { n += 1.0; } }\n    n / episode.max_steps\n}\n```"
            };
            FakeReply::json(200, &chat_body(&[answer], "stop"))
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
    let answers = dir.path().join("answers.jsonl");
    std::fs::write(
        &answers,
        "{\"fitness\":\"correct\",\"text\":\"no: keep it within a fifth of a metre\"}\n{\"fitness\":\"accept\"}\n",
    )
    .unwrap();
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
            "2048",
            "--threads",
            "1",
            "--no-final-eval",
            "--no-render",
            "--feedback-file",
            answers.to_str().unwrap(),
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
    assert!(v["best"]["fitness"].is_f64(), "{v}");
    let fitness = std::fs::read_to_string(out.join("fitness.rhai")).unwrap();
    assert!(fitness.contains("abs(s.cart_pos) < 0.2"), "{fitness}");
    let reading = rewardsmith::search::load_fitness_reading(&out)
        .unwrap()
        .unwrap();
    assert_eq!(
        reading.description,
        "keep the cart within half a metre of the centre (the person's correction of the fitness: no: keep it within a fifth of a metre)"
    );
    assert_eq!(reading.answers.len(), 2);
    let request = std::fs::read_to_string(out.join("gen-000/request.json")).unwrap();
    assert!(request.contains("within a fifth of a metre"), "{request}");
}
