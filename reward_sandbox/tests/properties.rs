//! Property tests: arbitrary source never panics and always returns in time,
//! as a reward program and as a fitness program.

mod common;

use common::{quick, small_spec, state};
use proptest::prelude::*;
use rewardsmith_core::StateView;
use rewardsmith_sandbox::{FitnessProgram, Limits, ProgramSource, compile};

/// Fragments that make plausible (and implausible) reward code when glued.
const PIECES: &[&str] = &[
    "fn compute_reward(s, prev) {",
    "}",
    "{",
    "#{",
    "a:",
    "b:",
    ",",
    "s.height",
    "s.vel",
    "prev.quat",
    "s.nope",
    "[0]",
    "1.0",
    "0",
    "/",
    "*",
    "+",
    "-",
    "(",
    ")",
    "let x =",
    ";",
    "x",
    "loop {",
    "while true {",
    "if",
    "else",
    "norm(",
    "dot(",
    "quat_rotate(",
    "clamp(",
    "\"str\"",
    "[1, 2]",
    "fn f(x) { f(x) }",
    "f(1)",
    "eval(\"1\")",
    "print(1)",
    "import",
    "for i in 0..100 {",
    "i",
    "return",
    "break",
    "0.0 / 0.0",
    "1 / 0",
    "`t${x}`",
    "|y| y",
    "==",
    ".",
    "s",
    "prev",
];

/// Fragments of fitness programs, glued with [`PIECES`].
const FITNESS_PIECES: &[&str] = &[
    "fn fitness(episode) {",
    "fn success(e) {",
    "fn fitness(e, x) {",
    "episode.steps",
    "e.steps",
    "episode.length",
    "episode.max_steps",
    "episode.ended_early",
    "episode.nope",
    "for s in episode.steps {",
    "for (s, i) in e.steps {",
    "let st = episode.steps;",
    "let s = st[0];",
    ".map(|s| s.height)",
    ".reduce(|a, s| a + s.vel[0], 0.0)",
    "s.height",
    "s.nope",
    "true",
];

fn run_source(src: ProgramSource) {
    let spec = small_spec();
    let limits = Limits {
        call_timeout_ms: 50,
        ..Limits::default()
    };
    quick("arbitrary program", || {
        if let Ok(mut p) = compile(&src, &spec, &limits) {
            let (a, b) = (state(&spec, 0), state(&spec, 1));
            let mut out = vec![0.0; p.components().len()];
            let _ = p.evaluate(
                &StateView::new(&spec, &b),
                &StateView::new(&spec, &a),
                &mut out,
            );
        }
    });
}

fn run_fitness(src: &str) {
    let spec = small_spec();
    let limits = Limits {
        fitness_call_timeout_ms: 100,
        ..Limits::default()
    };
    let states: Vec<f64> = (0..20).flat_map(|t| state(&spec, t)).collect();
    quick("arbitrary fitness program", || {
        if let Ok(p) = FitnessProgram::compile(src, &spec, &limits) {
            let _ = p.evaluate(&states, 20, 30, true, 0.02);
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
        run_source(ProgramSource::Rhai(src));
    }

    #[test]
    fn glued_fragments_never_panic(idx in proptest::collection::vec(0..PIECES.len(), 0..40)) {
        let src: Vec<&str> = idx.iter().map(|&i| PIECES[i]).collect();
        run_source(ProgramSource::Rhai(src.join(" ")));
    }

    #[test]
    fn arbitrary_text_never_panics_as_fitness(src in "\\PC{0,200}") {
        run_fitness(&src);
    }

    #[test]
    fn glued_fitness_fragments_never_panic(
        idx in proptest::collection::vec(0..PIECES.len() + FITNESS_PIECES.len(), 0..40)
    ) {
        let src: Vec<&str> = idx
            .iter()
            .map(|&i| PIECES.get(i).copied().unwrap_or_else(|| FITNESS_PIECES[i - PIECES.len()]))
            .collect();
        run_fitness(&src.join(" "));
    }

    #[test]
    fn arbitrary_bytes_never_panic_as_wasm(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend(bytes);
        run_source(ProgramSource::Wasm(m));
    }
}
