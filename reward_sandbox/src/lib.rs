//! Sandboxed reward programs (Rhai and WebAssembly).
