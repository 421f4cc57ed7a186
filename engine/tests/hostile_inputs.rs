//! Hostile inputs on the command line and the input side: special files
//! (FIFOs, /dev/zero behind a link, folders), files too large, absurd or
//! negative numbers, multi-line `--ppo` settings, and reward programs whose
//! names and printed text carry terminal escapes. Each must end in a clear
//! input error (exit 2) naming the problem, quickly — never a hang, never a
//! flood of memory — and the human output must hold no raw control bytes
//! while `--json` keeps the program's words exact.

mod common;

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest any of these commands may take: they are refused before any work.
const QUICK: Duration = Duration::from_secs(5);

/// Runs the binary with `args` in `dir`, killing it (and failing the test)
/// if it has not finished within [`QUICK`]: a hang is a failure, not a stuck
/// test run. Polls `Child::try_wait`; the pipes are drained by threads so a
/// chatty child cannot block.
fn run_quickly(dir: &Path, args: &[&str]) -> Output {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args(args)
        .current_dir(dir)
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be polled") {
            break status;
        }
        if started.elapsed() > QUICK {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`rewardsmith {}` did not finish within {QUICK:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout drained"),
        stderr: stderr.join().expect("stderr drained"),
    }
}

/// Asserts an input error (exit 2) whose stderr contains every one of `needles`.
fn assert_input_error(out: &Output, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "`{needle}` missing from: {stderr}");
    }
    stderr
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

const TASK: &str = "cartpole-balance";

#[test]
fn a_fifo_as_reward_or_config_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("reward.rhai");
    mkfifo(&fifo);
    let out = run_quickly(dir.path(), &["check", "--task", TASK, "reward.rhai"]);
    assert_input_error(
        &out,
        &["reward.rhai", "is a FIFO (named pipe), not a regular file"],
    );
    let out = run_quickly(
        dir.path(),
        &[
            "train",
            "--task",
            TASK,
            "--reward",
            "reward.rhai",
            "--out",
            "t",
        ],
    );
    assert_input_error(&out, &["reward.rhai", "FIFO"]);

    let config = dir.path().join("rewardsmith.toml");
    mkfifo(&config);
    let out = run_quickly(
        dir.path(),
        &["run", "--task", TASK, "--config", "rewardsmith.toml"],
    );
    assert_input_error(&out, &["rewardsmith.toml", "is a FIFO (named pipe)"]);
    // Found by itself in the working folder, too.
    let out = run_quickly(dir.path(), &["run", "--task", TASK]);
    assert_input_error(&out, &["rewardsmith.toml", "FIFO"]);
    assert!(!dir.path().join("runs").exists(), "no run folder is made");

    // A feedback file, in a folder without a config.
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("answers.jsonl"));
    let out = run_quickly(
        dir.path(),
        &[
            "run",
            "--task",
            TASK,
            "--feedback-file",
            "answers.jsonl",
            "--out",
            "r",
        ],
    );
    assert_input_error(&out, &["answers.jsonl", "FIFO"]);
    assert!(!dir.path().join("r").exists(), "no run folder is made");
}

#[test]
fn dev_zero_behind_a_link_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.rhai")).unwrap();
    std::os::unix::fs::symlink("/dev/urandom", dir.path().join("random.toml")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("answers.jsonl")).unwrap();
    let out = run_quickly(dir.path(), &["check", "--task", TASK, "zero.rhai"]);
    assert_input_error(
        &out,
        &["zero.rhai", "is a character device, not a regular file"],
    );
    let out = run_quickly(
        dir.path(),
        &["run", "--task", TASK, "--config", "random.toml"],
    );
    assert_input_error(&out, &["random.toml", "character device"]);
    let out = run_quickly(
        dir.path(),
        &[
            "run",
            "--task",
            TASK,
            "--feedback-file",
            "answers.jsonl",
            "--out",
            "r",
        ],
    );
    assert_input_error(&out, &["answers.jsonl", "character device"]);
    let out = run_quickly(dir.path(), &["eval-candidate", "zero.rhai", "--out", "c"]);
    assert_input_error(&out, &["zero.rhai", "character device"]);
}

#[test]
fn a_directory_is_named_as_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("folder.rhai")).unwrap();
    std::fs::create_dir(dir.path().join("folder.toml")).unwrap();
    let out = run_quickly(dir.path(), &["check", "--task", TASK, "folder.rhai"]);
    assert_input_error(&out, &["folder.rhai", "is a directory"]);
    let out = run_quickly(
        dir.path(),
        &["run", "--task", TASK, "--config", "folder.toml"],
    );
    assert_input_error(&out, &["folder.toml", "is a directory"]);
    // --prompts wants a folder: a file is named as one.
    std::fs::write(dir.path().join("prompts.txt"), "x").unwrap();
    let out = run_quickly(
        dir.path(),
        &["run", "--task", TASK, "--prompts", "prompts.txt"],
    );
    assert_input_error(&out, &["prompts.txt", "not a folder"]);
}

#[test]
fn files_beyond_their_cap_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = "// padding\n".repeat(200_000); // 2.4 MB
    std::fs::write(dir.path().join("big.rhai"), &big).unwrap();
    std::fs::write(dir.path().join("big.toml"), format!("# {big}")).unwrap();
    let out = run_quickly(dir.path(), &["check", "--task", TASK, "big.rhai"]);
    assert_input_error(&out, &["big.rhai", "at most 1048576 bytes"]);
    let out = run_quickly(dir.path(), &["run", "--task", TASK, "--config", "big.toml"]);
    assert_input_error(&out, &["big.toml", "at most 1 MiB"]);
}

#[test]
fn an_os_error_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_quickly(dir.path(), &["check", "--task", TASK, "nope.rhai"]);
    let stderr = assert_input_error(&out, &["nope.rhai", "No such file or directory"]);
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
}

#[test]
fn absurd_numbers_name_the_flag_and_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["run", "--task", TASK, "--out", "r"];
        all.extend_from_slice(args);
        run_quickly(dir.path(), &all)
    };
    let stderr = assert_input_error(
        &run(&["--threads", "100000"]),
        &["--threads", "100000", "cores"],
    );
    assert!(stderr.contains("from 1 to"), "{stderr}");
    assert_input_error(
        &run(&["--budget", "0"]),
        &["--budget", "from 1 to 1000000000"],
    );
    let stderr = assert_input_error(
        &run(&["--budget", "-1"]),
        &["--budget", "'-1'", "from 1 to"],
    );
    assert!(!stderr.contains("unexpected argument"), "{stderr}");
    assert_input_error(
        &run(&["--generations", "18446744073709551615"]),
        &["--generations", "18446744073709551615", "from 1 to 1000"],
    );
    assert_input_error(&run(&["--samples", "65"]), &["--samples", "from 1 to 64"]);
    assert_input_error(
        &run(&["--final-seeds", "-3"]),
        &["--final-seeds", "from 1 to 100"],
    );
    assert_input_error(&run(&["--max-cost", "-1"]), &["--max-cost", "from 0"]);
    // `check` takes the number for the seed, not for the file.
    let out = run_quickly(
        dir.path(),
        &["check", "--task", TASK, "--seed", "-1", "x.rhai"],
    );
    let stderr = assert_input_error(&out, &["--seed", "'-1'", "from 0 to"]);
    assert!(!stderr.contains("tip"), "{stderr}");
    let out = run_quickly(
        dir.path(),
        &[
            "train", "--task", TASK, "--reward", "human", "--steps", "-5",
        ],
    );
    assert_input_error(&out, &["--steps", "from 1 to"]);
    let out = run_quickly(
        dir.path(),
        &["rollout", "--task", TASK, "--episodes", "100000000"],
    );
    assert_input_error(&out, &["--episodes", "from 1 to 10000"]);
    assert!(!dir.path().join("r").exists(), "no run folder is made");
}

#[test]
fn a_zero_budget_in_the_config_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "[search]\nbudget = 0\n").unwrap();
    let out = run_quickly(
        dir.path(),
        &["run", "--task", TASK, "--config", "c.toml", "--out", "r"],
    );
    assert_input_error(&out, &["c.toml", "search.budget = 0"]);
    // A TOML error is one line, and a byte-order mark is no error.
    std::fs::write(
        dir.path().join("typo.toml"),
        "\u{feff}[search]\ngenerationz = 3\n",
    )
    .unwrap();
    let out = run_quickly(
        dir.path(),
        &["run", "--task", TASK, "--config", "typo.toml", "--out", "r"],
    );
    let stderr = assert_input_error(&out, &["typo.toml", "line 2, column 1", "generationz"]);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn ppo_settings_are_refused_whole_and_with_their_range() {
    let dir = tempfile::tempdir().unwrap();
    let train = |ppo: &str| {
        run_quickly(
            dir.path(),
            &[
                "train", "--task", TASK, "--reward", "human", "--out", "t", "--ppo", ppo,
            ],
        )
    };
    assert_input_error(
        &train("target_kl=1\nlearning_rate=7"),
        &["--ppo", "one line"],
    );
    assert_input_error(&train("target_kl=-1"), &["target_kl=-1", "≥ 0"]);
    assert_input_error(&train("lr=1"), &["`lr`", "learning_rate", "target_kl"]);
    assert!(!dir.path().join("t").exists(), "nothing was trained");
}

/// A reward program whose component name and printed text carry ESC
/// sequences, a carriage return, NUL, a C1 control and bidi overrides.
const ESCAPES_RHAI: &str = r#"
fn compute_reward(s, prev) {
    print("set title \x1b]0;pwned\x07 over\rwrite \u202Eevil\u2066");
    #{ "up\x1b[2Jright\r\u202E\x00x\u0085": s.pole_up }
}
"#;

/// The raw bytes that must never reach a terminal from a program.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[test]
fn a_programs_words_are_escaped_for_people_and_exact_in_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("escapes.rhai"), ESCAPES_RHAI).unwrap();
    let out = run_quickly(dir.path(), &["check", "--task", TASK, "escapes.rhai"]);
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(raw_controls(&stdout), [], "{stdout:?}");
    assert_eq!(raw_controls(&stderr), [], "{stderr:?}");
    assert!(
        stdout.contains(r"up\u{1b}[2Jright\u{d}\u{202e}\u{0}x\u{85}"),
        "{stdout}"
    );
    assert!(stdout.contains(r"\u{1b}]0;pwned\u{7}"), "{stdout}");

    let out = run_quickly(
        dir.path(),
        &["check", "--task", TASK, "escapes.rhai", "--json"],
    );
    let report = common::json_of(&out);
    assert_eq!(
        report["components"][0]["name"], "up\u{1b}[2Jright\r\u{202e}\u{0}x\u{85}",
        "{report}"
    );
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains(r"\u001b]0;pwned\u0007"), "{warnings}");
}
