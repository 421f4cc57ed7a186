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
//!   [`wasm`](crate::WasmProgram)), scanned for compile and bulk-memory bombs
//!   before code generation, with no imports, fuel, memory caps and a
//!   deadline.
//! - [`check_source`]: the checks before any training: syntax, signature,
//!   unknown fields, and a dry run over sample states (stopping at the first
//!   failing call) with per-component statistics, the cost of a call and the
//!   volume printed, as a [`CheckReport`].
//!
//! Every call of either backend has a deadline in CPU time that holds
//! whatever the program does, and every component must be finite and within
//! [`Limits::max_component_abs`], with a finite sum.
//! - [`FitnessProgram`]: Rhai source defining `fn fitness(episode)` (and
//!   optionally `fn success(episode)`) that scores a whole episode: the
//!   machine-written fitness of a task described in a user's own words, in the
//!   same sandbox; [`check_fitness`] dry-runs it on sample episodes and
//!   [`program_fitness`] turns it into the task's
//!   [`Fitness`](rewardsmith_core::Fitness).
//!
//! Both backends implement [`RewardProgram`](rewardsmith_core::RewardProgram);
//! [`compile`] picks one from a [`ProgramSource`].
//!
//! ```
//! use rewardsmith_core::{RewardProgram, StateSpec, StateView};
//! use rewardsmith_sandbox::{Limits, ProgramSource, compile};
//!
//! let spec = StateSpec::builder()
//!     .vector("vel", 3, "m/s", "world", "torso velocity")
//!     .scalar("up_z", "1", "world", "z of the torso's up axis")
//!     .build();
//! let src = ProgramSource::Rhai(
//!     "fn compute_reward(s, prev) { #{ forward: s.vel[0], upright: 0.5 * clamp(s.up_z, 0, 1) } }"
//!         .to_string(),
//! );
//! let mut program = compile(&src, &spec, &Limits::default()).unwrap();
//! assert_eq!(program.components(), ["forward", "upright"]);
//!
//! let (prev, s) = ([0.0, 0.0, 0.0, 1.0], [1.5, 0.0, 0.0, 0.8]);
//! let mut out = [0.0; 2];
//! program
//!     .evaluate(&StateView::new(&spec, &s), &StateView::new(&spec, &prev), &mut out)
//!     .unwrap();
//! assert_eq!(out, [1.5, 0.4]);
//!
//! // A bad program is data for its author, not a crash.
//! let bad = ProgramSource::Rhai("fn compute_reward(s, prev) { #{ v: s.speed } }".into());
//! let Err(err) = compile(&bad, &spec, &Limits::default()) else { unreachable!() };
//! assert_eq!(err.to_string(),
//!     "unknown_field at line 1, column 38: `s.speed`: no such reward-state field; the fields are: vel, up_z");
//! ```
//!
//! A fitness program scores a whole episode:
//!
//! ```
//! use rewardsmith_core::StateSpec;
//! use rewardsmith_sandbox::{FitnessProgram, Limits};
//!
//! let spec = StateSpec::builder()
//!     .vector("vel", 3, "m/s", "world", "torso velocity")
//!     .scalar("up_z", "1", "world", "z of the torso's up axis")
//!     .build();
//! let src = r"
//!     fn fitness(episode) {
//!         let total = 0.0;
//!         for s in episode.steps { total += s.vel[0]; }
//!         total / episode.max_steps
//!     }
//!     fn success(episode) { !episode.ended_early }
//! ";
//! let program = FitnessProgram::compile(src, &spec, &Limits::default()).unwrap();
//! // Two steps lived out of four, at 1 and 2 m/s: mean speed 0.75 m/s.
//! let states = [1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 1.0];
//! let score = program.evaluate(&states, 2, 4, true, 0.02).unwrap();
//! assert_eq!((score.fitness, score.success), (0.75, Some(false)));
//!
//! let bad = "fn fitness(episode) { episode.steps.map(|s| s.speed).len() }";
//! let err = FitnessProgram::compile(bad, &spec, &Limits::default()).unwrap_err();
//! assert_eq!(err.to_string(),
//!     "unknown_field at line 1, column 47: `s.speed`: no such reward-state field; the fields are: vel, up_z");
//! ```

mod check;
mod clock;
mod error;
mod fitness_program;
mod helpers;
mod limits;
mod rhai_engine;
mod rhai_program;
mod scan;
mod source;
mod wasm_program;

pub use check::{
    CheckReport, CheckWarning, ComponentStats, DOMINANCE_RATIO, SLOW_CALL_REFUSE_RATIO,
    SLOW_CALL_WARN_RATIO, WarningKind, check, check_source,
};
pub use error::{Error, Result};
pub use fitness_program::{
    EpisodeScore, FitnessCheck, FitnessProgram, SampleEpisode, check_fitness, program_fitness,
};
pub use helpers::helpers_doc;
pub use limits::Limits;
pub use rhai_program::RhaiProgram;
pub use source::{ProgramSource, compile, compile_with_sample};
pub use wasm_program::{WasmProgram, wasm_abi_doc};
