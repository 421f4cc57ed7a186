//! Searches recorded before the engine was reshaped (`tests/fixtures/`) replay
//! to the same candidates, fitnesses and final table: the offline designer's,
//! and a recorded transcript's through `--llm replay`.

mod common;
use common::{json_of, rewardsmith};
use serde_json::Value;
use std::path::Path;

const ARGS: [&str; 17] = [
    "run",
    "--task",
    "cartpole-balance",
    "--samples",
    "3",
    "--generations",
    "2",
    "--budget",
    "8192",
    "--threads",
    "2",
    "--seed",
    "5",
    "--final-budget",
    "8192",
    "--final-seeds",
    "2",
];

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn replays(fixture: &str, extra: &[&str]) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let recorded = fixtures.join(fixture);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut args: Vec<&str> = ARGS.to_vec();
    let out_str = out.to_str().unwrap();
    args.extend_from_slice(&["--out", out_str, "--json"]);
    args.extend_from_slice(extra);
    let v = json_of(&rewardsmith(&args));
    let expected = read(&recorded.join("outcome.json"));
    for key in ["best", "generations"] {
        assert_eq!(
            v[key], expected[key],
            "{fixture}: `{key}` differs from the recording"
        );
    }
    // The final table's raw figures: every seed's fitness, the means and the
    // normalised score (how spread is summarised may change; they may not).
    let (got, want) = (&v["final"], &expected["final"]);
    for key in ["budget", "normalized_score"] {
        assert_eq!(got[key], want[key], "{fixture}: final `{key}`");
    }
    for reward in ["best", "human", "sparse"] {
        for key in ["values", "mean"] {
            assert_eq!(
                got[reward][key], want[reward][key],
                "{fixture}: final {reward} `{key}` differs from the recording"
            );
        }
    }
    for g in 0..2 {
        let name = format!("completions-{g:03}.json");
        assert_eq!(
            read(&out.join(format!("gen-{g:03}/completions.json"))),
            read(&recorded.join(&name)),
            "{fixture}: generation {g}'s candidates differ from the recording"
        );
    }
}

#[test]
fn a_recorded_offline_search_replays_identically() {
    replays("search-offline", &[]);
}

#[test]
fn a_recorded_transcript_replays_identically() {
    let transcript =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/replay/cartpole-balance/llm");
    replays(
        "search-replay",
        &["--llm", "replay", "--replay", transcript.to_str().unwrap()],
    );
}
