//! The limits every reward and fitness program runs under, with the reason for
//! each default.

use rewardsmith_core::{RewardError, RewardErrorKind};
use serde::Deserialize;
use std::time::{Duration, Instant};

/// Resource limits for one reward program (both backends) or fitness program.
///
/// Every field has a default sized for rewards of a few dozen lines called
/// millions of times: generous enough that a legitimate reward never meets them,
/// tight enough that a runaway one fails in milliseconds, not seconds. A
/// fitness program reads a whole episode in one call, so its operation budget
/// and array cap grow with the episode ([`Limits::for_episode`]) and it has
/// its own deadline.
///
/// Deserialises from TOML/JSON with unknown fields rejected; missing fields take
/// their defaults.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted source text or module, in bytes. Default 64 KiB: a reward
    /// is tens of lines, and parsing time grows with size, so this also bounds the
    /// compile time.
    pub max_source_bytes: usize,
    /// Rhai operations per call. Default 100 000: a human-written quadruped reward
    /// takes about 500; a runaway loop stops after ~5 ms.
    pub max_operations: u64,
    /// Rhai call-stack depth (script functions calling script functions).
    /// Default 32: rewards need 2–3 levels; deep recursion would also risk the
    /// native stack of a 2 MiB worker thread.
    pub max_call_levels: usize,
    /// Rhai expression nesting depth at global level. Default 64 (Rhai's own).
    pub max_expr_depth: usize,
    /// Rhai expression nesting depth inside functions. Default 48: the reward
    /// lives in a function, and Rhai's parser recurses on nesting.
    pub max_fn_expr_depth: usize,
    /// Longest Rhai string, in bytes. Default 4096: rewards only build strings
    /// for printing.
    pub max_string_size: usize,
    /// Longest Rhai array. Default 4096: reward-state vectors are short; a joint
    /// list of a hand has a few dozen entries.
    pub max_array_size: usize,
    /// Largest Rhai object map. Default 256: a reward has a handful of components.
    pub max_map_size: usize,
    /// Wall-clock deadline for one call, in milliseconds. Default 50: a reward
    /// call costs microseconds; this only bounds pathological programs that the
    /// operation budget does not (e.g. expensive native helpers on large arrays).
    pub call_timeout_ms: u64,
    /// Wall-clock deadline for compiling (parse, static checks, WebAssembly code
    /// generation and the probe call), in milliseconds. Default 2000: cranelift
    /// compiles a small module in a few milliseconds on one core; the slack covers
    /// a loaded machine.
    pub compile_timeout_ms: u64,
    /// Bytes of `print`/`debug` output kept per program (the rest is dropped).
    /// Default 4096.
    pub max_print_bytes: usize,
    /// WebAssembly fuel per call (roughly one unit per instruction). Default
    /// 1 000 000: a compiled reward needs a few hundred.
    pub wasm_fuel: u64,
    /// Largest WebAssembly linear memory, in bytes. Default 1 MiB (16 pages): the
    /// ABI needs a few hundred bytes of state.
    pub wasm_max_memory_bytes: usize,
    /// Largest WebAssembly table, in elements. Default 1024.
    pub wasm_max_table_elements: usize,
    /// Extra Rhai operations a fitness program may spend per step of the
    /// episode it measures, on top of [`max_operations`](Self::max_operations).
    /// Default 1000: one pass over the steps reading a few fields costs 20–50
    /// per step, and a look-back window of a few dozen steps a few hundred; a
    /// runaway loop over a 1000-step episode stops after ~1.1 M operations
    /// (tens of milliseconds).
    pub fitness_operations_per_step: u64,
    /// Wall-clock deadline for one call of a fitness program (`fitness` or
    /// `success`), in milliseconds. Default 1000: a 1000-step episode takes a
    /// few milliseconds; the operation budget stops runaway loops long before
    /// this, which only bounds expensive native helpers on large arrays.
    pub fitness_call_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_source_bytes: 64 * 1024,
            max_operations: 100_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_fn_expr_depth: 48,
            max_string_size: 4096,
            max_array_size: 4096,
            max_map_size: 256,
            call_timeout_ms: 50,
            compile_timeout_ms: 2000,
            max_print_bytes: 4096,
            wasm_fuel: 1_000_000,
            wasm_max_memory_bytes: 1 << 20,
            wasm_max_table_elements: 1024,
            fitness_operations_per_step: 1000,
            fitness_call_timeout_ms: 1000,
        }
    }
}

impl Limits {
    /// The per-call deadline as a duration.
    #[must_use]
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }

    /// The compile deadline as a duration.
    #[must_use]
    pub fn compile_timeout(&self) -> Duration {
        Duration::from_millis(self.compile_timeout_ms)
    }

    /// The limits of one fitness-program call over an episode of `steps` steps
    /// whose reward state has `state_len` numbers: operations grow by
    /// [`fitness_operations_per_step`](Self::fitness_operations_per_step) per
    /// step; arrays may hold a copy of every step's state as arrays of numbers
    /// besides the usual allowance; the deadline is
    /// [`fitness_call_timeout_ms`](Self::fitness_call_timeout_ms).
    #[must_use]
    pub fn for_episode(&self, steps: usize, state_len: usize) -> Self {
        let steps_u64 = u64::try_from(steps).unwrap_or(u64::MAX);
        Self {
            max_operations: self
                .max_operations
                .saturating_add(self.fitness_operations_per_step.saturating_mul(steps_u64)),
            max_array_size: self
                .max_array_size
                .saturating_add(steps.saturating_mul(state_len.saturating_add(1))),
            call_timeout_ms: self.fitness_call_timeout_ms,
            ..self.clone()
        }
    }

    /// A `DataTooLarge` error when a source text of `bytes` bytes is longer
    /// than [`max_source_bytes`](Self::max_source_bytes) (Rhai programs).
    pub(crate) fn check_source_size(&self, bytes: usize) -> Result<(), RewardError> {
        if bytes > self.max_source_bytes {
            return Err(RewardError::new(
                RewardErrorKind::DataTooLarge,
                format!(
                    "the source is {bytes} bytes; the limit is {}",
                    self.max_source_bytes
                ),
            ));
        }
        Ok(())
    }

    /// A `Timeout` error when compiling, begun at `started`, has taken longer
    /// than the compile deadline (both backends).
    pub(crate) fn check_compile_time(&self, started: Instant) -> Result<(), RewardError> {
        let took = started.elapsed();
        if took > self.compile_timeout() {
            return Err(RewardError::new(
                RewardErrorKind::Timeout,
                format!(
                    "compiling took {} ms; the limit is {} ms",
                    took.as_millis(),
                    self.compile_timeout_ms
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_defaults_and_unknown_fields_are_rejected() {
        let l: Limits = serde_json::from_str(r#"{"max_operations": 10}"#).unwrap();
        assert_eq!(l.max_operations, 10);
        assert_eq!(l.max_call_levels, Limits::default().max_call_levels);
        assert!(serde_json::from_str::<Limits>(r#"{"max_opps": 10}"#).is_err());
    }

    #[test]
    fn episode_limits_grow_with_the_episode() {
        let l = Limits::default();
        let e = l.for_episode(1000, 61);
        assert_eq!(e.max_operations, 100_000 + 1000 * 1000);
        assert_eq!(e.max_array_size, 4096 + 1000 * 62);
        assert_eq!(e.call_timeout_ms, l.fitness_call_timeout_ms);
        assert_eq!(e.max_map_size, l.max_map_size);
        let huge = l.for_episode(usize::MAX, usize::MAX);
        assert_eq!(huge.max_operations, u64::MAX);
        assert_eq!(huge.max_array_size, usize::MAX);
    }
}
