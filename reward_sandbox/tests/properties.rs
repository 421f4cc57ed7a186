//! Property tests: arbitrary source never panics and always returns in time.

mod common;

use common::{quick, small_spec, state};
use proptest::prelude::*;
use rewardsmith_core::StateView;
use rewardsmith_sandbox::{Limits, ProgramSource, compile};

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
    fn arbitrary_bytes_never_panic_as_wasm(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend(bytes);
        run_source(ProgramSource::Wasm(m));
    }
}
