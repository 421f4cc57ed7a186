//! The `rewardsmith` binary end to end: output formats, exit codes, determinism.

use serde_json::Value;
use std::process::{Command, Output};

fn rewardsmith(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

#[test]
fn envs_json_lists_the_six_tasks() {
    let v = json_of(&rewardsmith(&["envs", "--json"]));
    let tasks = v["tasks"].as_array().unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "cartpole-balance",
            "cartpole-swingup",
            "quadruped-run",
            "quadruped-backward",
            "quadruped-turn",
            "quadruped-stand"
        ]
    );
    for t in tasks {
        assert!(t["env"].is_string() && t["description"].is_string());
        assert!(t["episode_steps"].as_u64().unwrap() > 0);
    }
}

#[test]
fn rollout_json_is_identical_for_the_same_seed_apart_from_timing() {
    let run = |threads: &str| {
        let mut v = json_of(&rewardsmith(&[
            "rollout",
            "--task",
            "quadruped-turn",
            "--episodes",
            "3",
            "--seed",
            "7",
            "--threads",
            threads,
            "--json",
        ]));
        let obj = v.as_object_mut().unwrap();
        assert!(obj.remove("wall_s").unwrap().as_f64().unwrap() > 0.0);
        assert!(obj.remove("env_steps_per_sec").unwrap().as_f64().unwrap() > 0.0);
        obj.remove("threads");
        v.to_string()
    };
    let first = run("2");
    assert_eq!(first, run("2"));
    assert_eq!(first, run("1"), "thread count must not change results");
    let v: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["episodes"], 3);
    assert_eq!(v["task"], "quadruped-turn");
    assert!(v["env_steps"].as_u64().unwrap() > 0);
}

#[test]
fn unknown_task_exits_2_and_lists_known_tasks() {
    let out = rewardsmith(&["rollout", "--task", "quadruped-fly"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown task `quadruped-fly`"), "{err}");
    assert!(
        err.contains("cartpole-balance") && err.contains("quadruped-stand"),
        "{err}"
    );
}

#[test]
fn bad_flags_exit_2() {
    assert_eq!(rewardsmith(&["rollout"]).status.code(), Some(2));
    assert_eq!(rewardsmith(&["frobnicate"]).status.code(), Some(2));
    let out = rewardsmith(&[
        "rollout",
        "--task",
        "cartpole-balance",
        "--policy",
        "wobbly",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown policy `wobbly`"));
}

#[test]
fn describe_prints_every_field() {
    let out = rewardsmith(&["describe", "cartpole-swingup"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for field in [
        "cart_pos",
        "cart_vel",
        "pole_angle",
        "pole_angvel",
        "pole_up",
        "pole_tip",
    ] {
        assert!(text.contains(&format!("`{field}`")), "{field} missing");
    }
}
