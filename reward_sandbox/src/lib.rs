//! Sandboxed reward programs for rewardsmith: Rhai and WebAssembly.
//!
//! Every reward program is untrusted code (written by an LLM or a stranger)
//! called millions of times in the hot loop of training, so this crate makes it
//! safe and cheap:
//!
//! - [`RhaiProgram`]: Rhai source defining `fn compute_reward(s, prev)` that
//!   returns a map of named components; a hardened engine, limits on operations,
//!   depth, sizes and wall time, and a native maths library ([`helpers_doc`]).
//! - [`WasmProgram`]: a WebAssembly module following a small ABI (see
//!   [`wasm`](crate::WasmProgram)), with no imports, fuel, memory caps and an
//!   epoch deadline.
//! - [`check_source`]: the checks before any training: syntax, signature,
//!   unknown fields, and a dry run over sample states with per-component
//!   statistics, as a [`CheckReport`].
//!
//! Both backends implement [`RewardProgram`](rewardsmith_core::RewardProgram);
//! [`compile`] picks one from a [`ProgramSource`].

mod check;
mod error;
mod helpers;
mod limits;
mod rhai_program;
mod scan;
mod source;
mod wasm_program;

pub use check::{CheckReport, CheckWarning, ComponentStats, WarningKind, check, check_source};
pub use error::{Error, Result};
pub use helpers::helpers_doc;
pub use limits::Limits;
pub use rhai_program::RhaiProgram;
pub use source::{ProgramSource, compile};
pub use wasm_program::{WasmProgram, wasm_abi_doc};
