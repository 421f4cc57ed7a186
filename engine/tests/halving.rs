//! Successive halving end to end: on the same candidates it trains fewer env
//! steps than uniform allocation, every candidate it stops says at which rung
//! and below which cut, and a run killed at a later rung resumes to the same
//! result.

mod common;
use common::{json_of, rewardsmith};
use serde_json::Value;
use std::path::Path;

fn args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "run",
        "--task",
        "cartpole-balance",
        "--samples",
        "6",
        "--generations",
        "1",
        "--budget",
        "36864",
        "--threads",
        "2",
        "--seed",
        "11",
        "--no-final-eval",
        "--out",
        out,
        "--json",
    ];
    a.extend_from_slice(extra);
    a
}

fn result(run: &Path, i: usize) -> Value {
    let path = run.join(format!("gen-000/cand-{i:02}/result.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn halving_trains_fewer_steps_on_the_same_candidates_and_says_who_stopped_where() {
    let dir = tempfile::tempdir().unwrap();
    let uniform = dir.path().join("uniform");
    let u = json_of(&rewardsmith(&args(
        uniform.to_str().unwrap(),
        &["--allocation", "uniform"],
    )));
    let halving = dir.path().join("halving");
    let replay = uniform.join("llm");
    let h = json_of(&rewardsmith(&args(
        halving.to_str().unwrap(),
        &[
            "--allocation",
            "halving",
            "--llm",
            "replay",
            "--replay",
            replay.to_str().unwrap(),
        ],
    )));
    let steps = |v: &Value| v["timing"]["search_env_steps"].as_u64().unwrap();
    // Six candidates of 36,864 steps: uniform trains them all to the end.
    assert_eq!(steps(&u), 6 * 36_864, "{u}");
    // Halving: 6 to budget/9, ⌈6/3⌉ = 2 (+1 within noise) to budget/3, and
    // 1 (+1) to the budget — at most half of uniform's steps here.
    assert!(steps(&h) * 2 <= steps(&u), "{} vs {}", steps(&h), steps(&u));

    let mut stopped = 0;
    let mut to_the_end = 0;
    for i in 0..6 {
        // Identical candidates: the same program in both runs.
        let reward = |run: &Path| {
            std::fs::read_to_string(run.join(format!("gen-000/cand-{i:02}/reward.rhai"))).unwrap()
        };
        assert_eq!(reward(&uniform), reward(&halving));
        let r = result(&halving, i);
        let rungs = &r["rungs"];
        assert_eq!(rungs["schedule"], serde_json::json!([4096, 12288, 36864]));
        let scores = rungs["scores"].as_array().unwrap();
        let steps = r["report"]["env_steps"].as_u64().unwrap();
        match rungs.get("stopped_below") {
            Some(cut) => {
                stopped += 1;
                // It stopped at the last rung it reached, below the cut.
                let last = scores.last().unwrap().as_f64().unwrap();
                assert!(last <= cut.as_f64().unwrap(), "{r}");
                assert!(scores.len() < 3 && steps < 36_864, "{r}");
                // Its figure is its score where it stopped.
                assert_eq!(r["report"]["best"]["fitness"].as_f64().unwrap(), last);
            }
            None => {
                to_the_end += 1;
                assert_eq!(scores.len(), 3, "{r}");
                assert_eq!(steps, 36_864);
            }
        }
    }
    assert!(
        stopped >= 3 && to_the_end >= 1,
        "{stopped} stopped, {to_the_end} to the end"
    );
    // The report and the reflection say it.
    let page = std::fs::read_to_string(halving.join("report.html")).unwrap();
    assert!(page.contains("stopped early at rung"), "report.html");
    let generation: Value = serde_json::from_str(
        &std::fs::read_to_string(halving.join("gen-000/generation.json")).unwrap(),
    )
    .unwrap();
    let feedback = generation["next_feedback"].as_str().unwrap();
    assert!(
        feedback.contains("successive halving: stopped early at rung"),
        "{feedback}"
    );
}

#[test]
fn a_run_killed_at_a_later_rung_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let reference = json_of(&rewardsmith(&args(whole.to_str().unwrap(), &[])));
    // The folder as a kill during the last rung leaves it: the candidates
    // stopped early are written, those still training are not, and the
    // generation is not concluded.
    let killed = dir.path().join("killed");
    let copy = std::process::Command::new("cp")
        .args(["-r", whole.to_str().unwrap(), killed.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copy.success());
    let mut removed = 0;
    for i in 0..6 {
        if result(&killed, i)["rungs"].get("stopped_below").is_none() {
            std::fs::remove_file(killed.join(format!("gen-000/cand-{i:02}/result.json"))).unwrap();
            removed += 1;
        }
    }
    assert!(removed >= 1);
    for f in ["gen-000/generation.json", "summary.json"] {
        std::fs::remove_file(killed.join(f)).unwrap();
    }
    let resumed = resumes_as(&killed, &whole, &reference);
    assert_eq!(resumed["generations"], reference["generations"]);
}

/// Resumes the run in `killed` and checks that it ends as the run in
/// `whole` (`reference`, its JSON) did: the same best and the same course
/// through the rungs for every candidate. Returns the resumed run's JSON.
fn resumes_as(killed: &Path, whole: &Path, reference: &Value) -> Value {
    let resumed = json_of(&rewardsmith(&[
        "resume",
        killed.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(resumed["best"], reference["best"]);
    for i in 0..6 {
        assert_eq!(
            result(killed, i)["rungs"],
            result(whole, i)["rungs"],
            "cand {i}"
        );
    }
    resumed
}

#[test]
fn a_run_killed_during_a_rung_goes_on_from_the_trainings_saved_at_the_rung_before() {
    let dir = tempfile::tempdir().unwrap();
    // Three times the other tests' budget, so the last rung takes seconds.
    let longer = |out: &Path| {
        let mut a: Vec<String> = args(out.to_str().unwrap(), &[])
            .into_iter()
            .map(String::from)
            .collect();
        let at = a.iter().position(|x| x == "--budget").unwrap();
        a[at + 1] = "110592".into();
        a
    };
    let whole = dir.path().join("whole");
    let whole_args = longer(&whole);
    let whole_args: Vec<&str> = whole_args.iter().map(String::as_str).collect();
    let reference = json_of(&rewardsmith(&whole_args));
    let killed = dir.path().join("killed");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args(longer(&killed))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The continuing candidates are saved before the rung's note is written:
    // kill the run as soon as the last rung begins.
    let events = killed.join("events.jsonl");
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&events).is_ok_and(|e| e.contains("rung 2 of 3")) {
        assert!(
            start.elapsed().as_secs() < 300,
            "the run never reached rung 3"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended first");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!killed.join("summary.json").exists(), "killed too late");
    // The candidates in the last rung have their trainings saved; those that
    // stopped are done, with nothing saved.
    let cand = |i: usize| killed.join(format!("gen-000/cand-{i:02}"));
    let saved: Vec<usize> = (0..6)
        .filter(|&i| !cand(i).join("result.json").exists())
        .collect();
    assert!(!saved.is_empty(), "no candidate was in the last rung");
    for i in 0..6 {
        assert_eq!(
            cand(i).join("trainer").is_dir(),
            saved.contains(&i),
            "cand {i}"
        );
    }

    resumes_as(&killed, &whole, &reference);
    for i in 0..6 {
        assert_eq!(
            result(&killed, i)["report"]["checkpoints"],
            result(&whole, i)["report"]["checkpoints"],
            "cand {i}"
        );
        // Nothing of the paused trainings is left behind.
        let cand = killed.join(format!("gen-000/cand-{i:02}"));
        assert!(!cand.join("trainer").exists() && !cand.join("course.json").exists());
    }
    let events = std::fs::read_to_string(&events).unwrap();
    for i in saved {
        let line = format!(
            "candidate {i} goes on from its training saved at rung 2 of 3 (36864 env steps)"
        );
        assert!(events.contains(&line), "{line}");
    }
}
