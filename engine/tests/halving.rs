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
    let resumed = json_of(&rewardsmith(&[
        "resume",
        killed.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(resumed["best"], reference["best"]);
    assert_eq!(resumed["generations"], reference["generations"]);
    for i in 0..6 {
        assert_eq!(
            result(&killed, i)["rungs"],
            result(&whole, i)["rungs"],
            "cand {i}"
        );
    }
}
