//! `rewardsmith run --feedback human` end to end: answers from a JSON Lines
//! file, from piped standard input, and typed in a real pseudo-terminal
//! (tmux); what the next prompt carries; bad answers; `stop`; resume.

mod common;
use common::json_of;
use serde_json::Value;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rewardsmith");

fn small(out: &Path, generations: &str) -> Vec<String> {
    [
        "run",
        "--task",
        "cartpole-balance",
        "--samples",
        "3",
        "--generations",
        generations,
        "--budget",
        "8192",
        "--threads",
        "2",
        "--seed",
        "5",
        "--no-final-eval",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}

fn rewardsmith(args: &[String], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// The messages of a recorded request.
fn request(run: &Path, generation: usize) -> Vec<Value> {
    let path = run.join(format!("gen-{generation:03}/request.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn content(m: &Value) -> String {
    m["content"].as_str().unwrap().to_string()
}

fn reward(run: &Path, generation: usize, candidate: usize) -> String {
    std::fs::read_to_string(run.join(format!(
        "gen-{generation:03}/cand-{candidate:02}/reward.rhai"
    )))
    .unwrap()
}

#[test]
fn a_ranking_and_words_from_a_file_reach_the_next_prompt_and_replay_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let file = dir.path().join("answers.jsonl");
    std::fs::write(
        &file,
        "{\"rank\":[3,1,2],\"text\":\"the pole wobbles; keep the cart near the centre\"}\n",
    )
    .unwrap();
    let mut args = small(&run, "2");
    args.extend(
        [
            "--feedback",
            "human",
            "--feedback-file",
            file.to_str().unwrap(),
            "--hide-fitness",
            "--json",
        ]
        .map(String::from),
    );
    let v = json_of(&rewardsmith(&args, ""));
    assert_eq!(v["generations"].as_array().unwrap().len(), 2);
    // The time spent on the person's answer is reported apart and is not the
    // loop's overhead.
    let t = &v["timing"];
    let f = |k: &str| t[k].as_f64().unwrap_or_else(|| panic!("timing.{k}: {t}"));
    assert!(f("human_s") >= 0.0);
    let overhead = (f("total_s") - f("human_s") - f("training_s")) / f("training_s");
    assert!((f("loop_overhead") - overhead).abs() < 1e-9, "{t}");
    let events = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    assert!(events.contains("\"event\":\"human_feedback\""), "{events}");
    assert!(events.contains("\"waited_s\""), "{events}");

    let messages = request(&run, 1);
    let last = content(messages.last().unwrap());
    assert!(last.contains("A person watched"), "{last}");
    assert!(last.contains("best first: 3, 1, 2"), "{last}");
    assert!(
        last.contains("the pole wobbles; keep the cart near the centre"),
        "{last}"
    );
    assert!(
        last.contains(reward(&run, 0, 2).trim_end()),
        "the preferred program is shown"
    );
    assert!(
        last.contains(reward(&run, 0, 1).trim_end()),
        "the rejected program is shown"
    );
    assert!(
        !last.to_lowercase().contains("fitness"),
        "--hide-fitness keeps the fitness out: {last}"
    );
    let completion = std::fs::read_to_string(run.join("gen-000/cand-02/completion.txt")).unwrap();
    assert_eq!(
        content(&messages[messages.len() - 2]),
        completion,
        "the conversation continues from the preferred answer"
    );
    let saved: Value =
        serde_json::from_slice(&std::fs::read(run.join("gen-000/feedback.json")).unwrap()).unwrap();
    assert_eq!(saved["rank"], serde_json::json!([3, 1, 2]));
    assert!(
        run.join("gen-000/cand-02/rollout.gif").exists(),
        "every trained candidate is pictured"
    );
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("gen-000/cand-02/rollout.gif"),
        "the report links it"
    );
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(md.contains("## Rollouts"), "{md}");
    let toml = std::fs::read_to_string(run.join("run.toml")).unwrap();
    assert!(toml.contains("feedback = \"human\""), "{toml}");

    // A resumed run replays the saved answer and never asks again: the file
    // is gone and standard input is empty.
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(run.join("summary.json")).unwrap();
    std::fs::remove_dir_all(run.join("gen-001")).unwrap();
    let resumed = rewardsmith(
        &[
            "resume".to_string(),
            run.to_str().unwrap().to_string(),
            "--json".to_string(),
        ],
        "",
    );
    let r = json_of(&resumed);
    assert_eq!(r["generations"], v["generations"]);
    assert_eq!(
        content(request(&run, 1).last().unwrap()),
        last,
        "the same prompt"
    );
}

#[test]
fn answers_piped_on_stdin_work_and_skip_keeps_the_reflection() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut args = small(&run, "2");
    args.extend(["--feedback", "human", "--json"].map(String::from));
    json_of(&rewardsmith(&args, "{\"action\":\"skip\"}\n"));
    let last = content(request(&run, 1).last().unwrap());
    assert!(
        last.contains("task fitness"),
        "automatic reflection: {last}"
    );
}

#[test]
fn stop_ends_the_search_early() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let file = dir.path().join("answers.jsonl");
    std::fs::write(&file, "{\"action\":\"stop\"}\n").unwrap();
    let mut args = small(&run, "3");
    args.extend(["--feedback-file", file.to_str().unwrap(), "--json"].map(String::from));
    let v = json_of(&rewardsmith(&args, ""));
    assert_eq!(v["generations"].as_array().unwrap().len(), 1);
    assert_eq!(v["llm"]["calls"], 1);
    assert!(
        v["stopped"]
            .as_str()
            .unwrap()
            .contains("stopped by the person")
    );
    assert!(run.join("best/reward.rhai").exists());
    assert!(!run.join("gen-001").exists());
}

#[test]
fn bad_answers_are_usage_errors_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.jsonl");

    // Malformed: refused before any training.
    std::fs::write(&file, "{\"action\":\"skip\"}\n\n{\"rank\": [1,}\n").unwrap();
    let run = dir.path().join("malformed");
    let mut args = small(&run, "3");
    args.extend(
        [
            "--feedback",
            "human",
            "--feedback-file",
            file.to_str().unwrap(),
        ]
        .map(String::from),
    );
    let o = rewardsmith(&args, "");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 3"), "{err}");
    assert!(!run.join("run.toml").exists(), "nothing was started");

    // Well-formed, but no such candidate.
    std::fs::write(&file, "{\"rank\":[7,1]}\n").unwrap();
    let run = dir.path().join("range");
    let mut args = small(&run, "2");
    args.extend(["--feedback-file", file.to_str().unwrap()].map(String::from));
    let o = rewardsmith(&args, "");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("line 1") && err.contains("candidate 7 is not in the table"),
        "{err}"
    );

    // A file with the automatic mode is a contradiction.
    let run = dir.path().join("auto");
    let mut args = small(&run, "2");
    args.extend(
        [
            "--feedback",
            "auto",
            "--feedback-file",
            file.to_str().unwrap(),
        ]
        .map(String::from),
    );
    assert_eq!(rewardsmith(&args, "").status.code(), Some(2));
}

/// tmux on a private socket, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn pane(&self) -> String {
        String::from_utf8_lossy(
            &self
                .cmd(&["capture-pane", "-p", "-S", "-200", "-t", "t"])
                .stdout,
        )
        .into_owned()
    }

    fn wait_for(&self, what: &str, after: usize) -> String {
        let start = Instant::now();
        loop {
            let pane = self.pane();
            if pane.matches(what).count() > after {
                return pane;
            }
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "timed out waiting for {what:?}; the pane:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, text: &str) {
        assert!(
            self.cmd(&["send-keys", "-t", "t", "-l", text])
                .status
                .success()
        );
        assert!(
            self.cmd(&["send-keys", "-t", "t", "Enter"])
                .status
                .success()
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn a_person_answers_in_a_real_terminal() {
    assert!(
        Command::new("tmux").arg("-V").output().is_ok(),
        "this test needs tmux (`apt-get install tmux`; .ci/run installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let status = dir.path().join("status");
    let mut args = small(&run, "2");
    args.extend(["--feedback", "human"].map(String::from));
    let line = format!(
        "env -u OPENAI_API_KEY {BIN} {} ; echo $? > {}",
        args.join(" "),
        status.display()
    );
    let tmux = Tmux {
        socket: format!("rewardsmith-test-{}", std::process::id()),
    };
    let started = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "200",
        "-y",
        "60",
        "sh",
        "-c",
        &line,
    ]);
    assert!(started.status.success(), "{started:?}");
    // Keep the pane after the command ends, for the last capture.
    let _ = tmux.cmd(&["set-option", "-t", "t", "remain-on-exit", "on"]);

    let pane = tmux.wait_for("Rank the candidates", 0);
    assert!(pane.contains("#1  fitness"), "the table is shown:\n{pane}");
    // An out-of-range number is explained and asked again.
    tmux.keys("9 1");
    tmux.wait_for("candidate 9 is not in the table", 0);
    tmux.keys("2 3");
    tmux.wait_for("What is wrong", 0);
    tmux.keys("it sways too much; hold the pole still");
    let start = Instant::now();
    while !status.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the run did not end; the pane:\n{}",
            tmux.pane()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = std::fs::read_to_string(&status).unwrap();
    assert_eq!(code.trim(), "0", "the pane:\n{}", tmux.pane());
    let last = content(request(&run, 1).last().unwrap());
    assert!(last.contains("best first: 2, 3"), "{last}");
    assert!(
        last.contains("it sways too much; hold the pole still"),
        "{last}"
    );
    assert!(last.contains(reward(&run, 0, 1).trim_end()), "{last}");
    let saved = PathBuf::from(&run).join("gen-000/feedback.json");
    assert!(saved.exists());
}

/// A described task in a real terminal: the person reads the fitness
/// program's reading and dry run, types a new description (the offline
/// designer's only input), then accepts the program written for it.
#[test]
fn a_person_accepts_or_corrects_the_fitness_in_a_real_terminal() {
    assert!(
        Command::new("tmux").arg("-V").output().is_ok(),
        "this test needs tmux (`apt-get install tmux`; .ci/run installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let status = dir.path().join("status");
    let line = format!(
        "env -u OPENAI_API_KEY {BIN} run --env cartpole --describe 'balance the pole' --samples 1 \
         --generations 1 --budget 2048 --threads 1 --no-final-eval --no-render --feedback human \
         --out {} ; echo $? > {}",
        run.display(),
        status.display()
    );
    let tmux = Tmux {
        socket: format!("rewardsmith-fitness-test-{}", std::process::id()),
    };
    let started = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "200",
        "-y",
        "60",
        "sh",
        "-c",
        &line,
    ]);
    assert!(started.status.success(), "{started:?}");
    let _ = tmux.cmd(&["set-option", "-t", "t", "remain-on-exit", "on"]);

    // Long lines wrap at the pane's 200 columns: read them joined.
    let pane = tmux
        .wait_for("Does this fitness measure your task?", 0)
        .replace('\n', "");
    assert!(
        pane.contains("what it measures"),
        "the reading is shown:\n{pane}"
    );
    assert!(
        pane.contains("scripted controller (pushes the cart"),
        "the dry run is shown:\n{pane}"
    );
    assert!(
        pane.contains("replace it"),
        "the prompt says what a correction does:\n{pane}"
    );
    tmux.keys("balance the pole while keeping the cart within half a metre of the centre");
    tmux.wait_for("Does this fitness measure your task?", 1);
    assert!(
        tmux.cmd(&["send-keys", "-t", "t", "Enter"])
            .status
            .success()
    );
    let start = Instant::now();
    while !status.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the run did not end; the pane:\n{}",
            tmux.pane()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = std::fs::read_to_string(&status).unwrap();
    assert_eq!(code.trim(), "0", "the pane:\n{}", tmux.pane());
    let fitness = std::fs::read_to_string(run.join("fitness.rhai")).unwrap();
    assert!(fitness.contains("abs(s.cart_pos) <= 0.5"), "{fitness}");
    let rounds: Value =
        serde_json::from_slice(&std::fs::read(run.join("fitness-feedback.json")).unwrap()).unwrap();
    assert_eq!(rounds[0]["answer"]["answer"], "correct", "{rounds}");
    assert_eq!(rounds[1]["answer"]["answer"], "accept", "{rounds}");
}
