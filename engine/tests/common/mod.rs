//! Helpers shared by the end-to-end tests of the `rewardsmith` binary (each test
//! crate uses a subset).
#![allow(dead_code)]

use serde_json::Value;
use std::process::{Command, Output};

/// Runs the binary with `args`, without any API key from the environment.
pub fn rewardsmith(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .output()
        .expect("the binary runs")
}

/// The one JSON object a successful `--json` command printed.
pub fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "command failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}
