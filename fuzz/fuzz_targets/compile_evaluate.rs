//! Fuzzes compile + evaluate of reward programs: the first byte picks the
//! language (Rhai, WebAssembly binary, WebAssembly text), the rest is the
//! program. Whatever the input, the sandbox must return (an error or values),
//! never panic, hang or crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rewardsmith_core::{StateSpec, StateView};
use rewardsmith_sandbox::{Limits, ProgramSource, compile};
use std::sync::OnceLock;

fn spec() -> &'static StateSpec {
    static SPEC: OnceLock<StateSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        StateSpec::builder()
            .scalar("height", "m", "world", "torso height")
            .vector("vel", 3, "m/s", "world", "velocity")
            .vector("quat", 4, "1", "world", "orientation [w, x, y, z]")
            .build()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = || String::from_utf8_lossy(rest).into_owned();
    let src = match mode % 3 {
        0 => ProgramSource::Rhai(text()),
        1 => ProgramSource::Wasm(rest.to_vec()),
        _ => ProgramSource::Wat(text()),
    };
    let limits = Limits {
        max_operations: 10_000,
        wasm_fuel: 100_000,
        call_timeout_ms: 20,
        ..Limits::default()
    };
    let spec = spec();
    if let Ok(mut program) = compile(&src, spec, &limits) {
        let s: Vec<f64> = (0..spec.len()).map(|i| i as f64 * 0.25 - 0.5).collect();
        let prev = vec![0.0; spec.len()];
        let mut out = vec![0.0; program.components().len()];
        for _ in 0..2 {
            let _ = program.evaluate(
                &StateView::new(spec, &s),
                &StateView::new(spec, &prev),
                &mut out,
            );
        }
        let mut fork = program.fork();
        let _ = fork.evaluate(
            &StateView::new(spec, &s),
            &StateView::new(spec, &prev),
            &mut out,
        );
    }
});
