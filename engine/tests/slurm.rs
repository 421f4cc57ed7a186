//! `--executor slurm` against a real one-node Slurm (`scripts/slurm-local.sh
//! start`; `scripts/test.sh` starts it and runs these with `--ignored`): the
//! same search as a local one, a cancelled task submitted again, a task that
//! fails becoming a failed candidate with its log in the next prompt, and
//! Ctrl-C cancelling the run's jobs before `resume` finishes it.

mod common;
use common::{json_of, rewardsmith};
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

fn local(dir: &Path, budget: &str) -> Value {
    let out = dir.join(format!("local-{budget}"));
    json_of(&rewardsmith(&args(
        out.to_str().unwrap(),
        budget,
        &["--allocation", "uniform"],
    )))
}

/// Waits for the first job array of generation 0 and returns its id.
fn first_job(run: &Path) -> u64 {
    let file = run.join("gen-000/slurm-jobs.json");
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
    let reference = local(dir.path(), "8192");
    let out = dir.path().join("slurm");
    let o = rewardsmith(&args(
        out.to_str().unwrap(),
        "8192",
        &["--executor", "slurm"],
    ));
    let v = json_of(&o);
    assert_eq!(outcome(&v), outcome(&reference));
    // Every candidate ran as an array task, with its log in its folder.
    let jobs: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("gen-001/slurm-jobs.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(jobs["arrays"][0][1], serde_json::json!([0, 1, 2]));
    assert!(out.join("gen-001/cand-02/slurm.log").is_file());
    let run_toml = std::fs::read_to_string(out.join("run.toml")).unwrap();
    assert!(run_toml.contains("kind = \"slurm\""), "{run_toml}");
}

#[test]
#[ignore = "needs a running Slurm: scripts/slurm-local.sh start (scripts/test.sh runs these)"]
fn a_cancelled_task_is_submitted_again_and_the_run_ends_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let reference = local(dir.path(), "102400");
    let out = dir.path().join("slurm");
    let child = Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args(args(
            out.to_str().unwrap(),
            "102400",
            &["--executor", "slurm"],
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let job = first_job(&out);
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
    let reference = local(dir.path(), "102400");
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
    let job = first_job(&out);
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
