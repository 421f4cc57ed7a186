//! `--executor slurm` against a real one-node Slurm (`scripts/slurm-local.sh
//! start`; `scripts/test.sh` starts it and runs these with `--ignored`): the
//! same search as a local one (successive halving and uniform, final
//! evaluation included), a cancelled task submitted again, a task that fails
//! (a broken binary, a reward that throws only during training) becoming a
//! failed candidate with its reason in the next prompt, and Ctrl-C cancelling
//! the run's jobs before `resume` finishes it.

mod common;
use common::{json_of, rewardsmith};
use rewardsmith::llm::fake_server::{FakeServer, chat_reply};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn args<'a>(out: &'a str, budget: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "run",
        "--task",
        "cartpole-balance",
        "--samples",
        "3",
        "--generations",
        "2",
        "--budget",
        budget,
        "--seed",
        "5",
        "--threads",
        "2",
        "--final-budget",
        "8192",
        "--final-seeds",
        "2",
        "--no-render",
        "--out",
        out,
        "--json",
    ];
    a.extend_from_slice(extra);
    a
}

/// What must not depend on where the trainings ran.
fn outcome(v: &Value) -> (Value, Value, Value) {
    (
        v["best"].clone(),
        v["generations"].clone(),
        v["final"].clone(),
    )
}

fn local(dir: &Path, budget: &str, allocation: &str) -> Value {
    let out = dir.join(format!("local-{budget}-{allocation}"));
    json_of(&rewardsmith(&args(
        out.to_str().unwrap(),
        budget,
        &["--allocation", allocation],
    )))
}

/// Waits for the first job array of generation 0 (in `jobs`, the
/// generation's jobs file) and returns its id.
fn first_job(run: &Path, jobs: &str) -> u64 {
    let file = run.join("gen-000").join(jobs);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(v) = serde_json::from_str::<Value>(&text)
        {
            return v["arrays"][0][0].as_u64().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no job array was submitted");
}

fn squeue(job: u64) -> String {
    let o = Command::new("squeue")
        .args(["-h", "-r", "-j", &job.to_string(), "-o", "%i %T"])
        .output()
        .expect("squeue runs");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
#[ignore = "needs a running Slurm: scripts/slurm-local.sh start (scripts/test.sh runs these)"]
fn a_search_on_slurm_matches_the_same_search_run_locally() {
    let dir = tempfile::tempdir().unwrap();
    // Successive halving (the default): one array per rung; candidates that
    // continue go on from the training their last rung's job saved, to the
    // same figures.
    let reference = local(dir.path(), "24576", "halving");
    let out = dir.path().join("slurm");
    let o = rewardsmith(&args(
        out.to_str().unwrap(),
        "24576",
        &["--executor", "slurm"],
    ));
    let v = json_of(&o);
    assert_eq!(outcome(&v), outcome(&reference));
    let stopped = (0..2)
        .flat_map(|g| (0..3).map(move |c| (g, c)))
        .filter(|(g, c)| {
            std::fs::read_to_string(out.join(format!("gen-{g:03}/cand-{c:02}/result.json")))
                .unwrap()
                .contains("stopped_below")
        })
        .count();
    assert!(stopped > 0, "some candidate stopped at a rung");
    let mut went_on = 0;
    for (g, c) in (0..2).flat_map(|g| (0..3).map(move |c| (g, c))) {
        let cand = out.join(format!("gen-{g:03}/cand-{c:02}"));
        for r in 1..3 {
            let Ok(text) = std::fs::read_to_string(cand.join(format!("rung-{r}/spec.json"))) else {
                continue;
            };
            let spec: Value = serde_json::from_str(&text).unwrap();
            let from = spec["resume_from"].as_str().unwrap();
            assert!(from.ends_with(&format!("rung-{}/trainer", r - 1)), "{spec}");
            assert!(spec.get("pause_at").is_none(), "{spec}");
            went_on += 1;
        }
        // The saved trainings are gone once the candidate is done.
        for r in 0..3 {
            assert!(!cand.join(format!("rung-{r}/trainer")).exists());
        }
    }
    assert!(went_on > 0, "some candidate went on to a later rung");
    // Every candidate ran rung 0 as an array task, with its log there; the
    // kept training's files are in the candidate's own folder.
    let jobs: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("gen-001/slurm-jobs-rung0.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(jobs["arrays"][0][1], serde_json::json!([0, 1, 2]));
    assert!(out.join("gen-001/cand-02/rung-0/slurm.log").is_file());
    assert!(out.join("gen-001/cand-02/policy.json").is_file());
    // The final evaluation's trainings ran on the cluster too.
    let finals: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("best/final/slurm-jobs.json")).unwrap(),
    )
    .unwrap();
    let tasks = finals["arrays"][0][1].as_array().unwrap().len();
    assert_eq!(tasks, 6, "3 rewards x 2 seeds: {finals}");
    assert!(out.join("best/final/00-best-seed0/slurm.log").is_file());
    // The time limit was estimated and given to sbatch.
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    assert!(events.contains("Slurm time limit: "), "{events}");
    assert!(events.contains("min per task"), "{events}");
    let run_toml = std::fs::read_to_string(out.join("run.toml")).unwrap();
    assert!(run_toml.contains("kind = \"slurm\""), "{run_toml}");
}

#[test]
#[ignore = "needs a running Slurm: scripts/slurm-local.sh start (scripts/test.sh runs these)"]
fn a_reward_that_throws_during_training_is_a_failed_candidate_named_in_the_next_prompt() {
    // The second program passes its dry run (random actions inside the
    // bounds) and throws in training, where a sampled action is clipped to
    // its bound.
    let answers = [
        "```rhai\nfn compute_reward(s, prev) {\n    #{ up: s.pole_up }\n}\n```",
        "```rhai\nfn compute_reward(s, prev) {\n    if abs(s.action) >= 1.0 { throw \"the action hit its bound\"; }\n    #{ up: s.pole_up }\n}\n```",
    ];
    let server = FakeServer::start(move |_, req| chat_reply(req, &answers, "stop")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let base = server.base_url();
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
            "8192",
            "--threads",
            "2",
            "--no-final-eval",
            "--no-render",
            "--base-url",
            &base,
            "--model",
            "fake-model",
            "--executor",
            "slurm",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .env("OPENAI_API_KEY", "sk-test")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let result: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("gen-000/cand-01/result.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(result["outcome"], "crashed", "{result}");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("the action hit its bound"),
        "{result}"
    );
    let second = std::fs::read_to_string(out.join("gen-001/request.json")).unwrap();
    assert!(second.contains("the action hit its bound"), "{second}");
}

#[test]
#[ignore = "needs a running Slurm: scripts/slurm-local.sh start (scripts/test.sh runs these)"]
fn a_cancelled_task_is_submitted_again_and_the_run_ends_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let reference = local(dir.path(), "102400", "uniform");
    let out = dir.path().join("slurm");
    let child = Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args(args(
            out.to_str().unwrap(),
            "102400",
            &["--executor", "slurm", "--allocation", "uniform"],
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let job = first_job(&out, "slurm-jobs.json");
    // Cancel task 0 once it runs (or is still queued): the cluster lost it.
    let start = Instant::now();
    while !squeue(job).contains(&format!("{job}_0 RUNNING"))
        && start.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("scancel")
        .arg(format!("{job}_0"))
        .status()
        .unwrap();
    assert!(status.success());
    let o = child.wait_with_output().unwrap();
    let v = json_of(&o);
    assert_eq!(outcome(&v), outcome(&reference));
    let jobs: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("gen-000/slurm-jobs.json")).unwrap(),
    )
    .unwrap();
    let arrays = jobs["arrays"].as_array().unwrap();
    assert_eq!(arrays.len(), 2, "task 0 was submitted again: {jobs}");
    assert_eq!(arrays[1][1], serde_json::json!([0]));
}

#[test]
#[ignore = "needs a running Slurm: scripts/slurm-local.sh start (scripts/test.sh runs these)"]
fn a_task_that_fails_is_a_failed_candidate_with_its_log_in_the_next_prompt() {
    let dir = tempfile::tempdir().unwrap();
    // A "binary" on the nodes that fails the way a broken install does.
    let broken = dir.path().join("broken-rewardsmith");
    std::fs::write(
        &broken,
        "#!/bin/sh\necho 'error while loading shared libraries: libmissing.so' >&2\nexit 3\n",
    )
    .unwrap();
    Command::new("chmod")
        .args(["+x", broken.to_str().unwrap()])
        .status()
        .unwrap();
    let config = dir.path().join("rewardsmith.toml");
    std::fs::write(
        &config,
        format!(
            "[executor]\nkind = \"slurm\"\n[executor.slurm]\nbinary = \"{}\"\npoll_s = 0.5\n",
            broken.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    let o = rewardsmith(&args(
        out.to_str().unwrap(),
        "8192",
        &["--config", config.to_str().unwrap(), "--no-final-eval"],
    ));
    // Every candidate failed: the search found nothing and says so.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let result: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("gen-000/cand-00/result.json")).unwrap(),
    )
    .unwrap();
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("Failed"), "{error}");
    assert!(error.contains("libmissing.so"), "{error}");
    let generation: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("gen-000/generation.json")).unwrap(),
    )
    .unwrap();
    let feedback = generation["next_feedback"].as_str().unwrap();
    assert!(feedback.contains("libmissing.so"), "{feedback}");
}

#[test]
#[ignore = "needs a running Slurm: scripts/slurm-local.sh start (scripts/test.sh runs these)"]
fn ctrl_c_cancels_the_jobs_and_resume_finishes_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let reference = local(dir.path(), "102400", "halving");
    let out = dir.path().join("slurm");
    let child = Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args(args(
            out.to_str().unwrap(),
            "102400",
            &["--executor", "slurm"],
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let job = first_job(&out, "slurm-jobs-rung0.json");
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(sent.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&o.stderr).contains("rewardsmith resume"));
    // No task of the run is left queued or running.
    let start = Instant::now();
    while !squeue(job).trim().is_empty() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(squeue(job).trim(), "", "job {job} is still in the queue");
    let resumed = json_of(&rewardsmith(&["resume", out.to_str().unwrap(), "--json"]));
    assert_eq!(outcome(&resumed), outcome(&reference));
}
