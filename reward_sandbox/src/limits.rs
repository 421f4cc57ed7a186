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
    /// Deadline for one call, in milliseconds of the calling thread's CPU
    /// time (so a call that waits for a core on a loaded machine is not
    /// failed for it; on an idle machine it is wall time). Default 50: a
    /// reward call costs microseconds; this only bounds pathological programs
    /// that the operation budget does not (e.g. expensive native functions on
    /// large arrays: one `contains` over 4000 items costs ~0.75 ms, so 200 of
    /// them take 150 ms in 1000 operations). Looked at on every 2 ms clock
    /// tick: by Rhai before every operation, by WebAssembly at function
    /// entries and loop back-edges; and again when a call returns.
    pub call_timeout_ms: u64,
    /// Wall-clock deadline for compiling (parse, static checks, WebAssembly code
    /// generation and the probe call), in milliseconds. Default 2000: cranelift
    /// compiles a small module in a few milliseconds on one core; the slack covers
    /// a loaded machine. WebAssembly code generation runs on its own thread and
    /// is abandoned at the deadline (it finishes in the background).
    pub compile_timeout_ms: u64,
    /// Bytes of `print`/`debug` output kept per program (the rest is dropped,
    /// but counted: the check report gives the volume). Default 4096.
    pub max_print_bytes: usize,
    /// WebAssembly fuel per call (roughly one unit per instruction). Default
    /// 1 000 000: a compiled reward needs a few hundred.
    pub wasm_fuel: u64,
    /// Largest WebAssembly linear memory, in bytes. Default 1 MiB (16 pages): the
    /// ABI needs a few hundred bytes of state.
    pub wasm_max_memory_bytes: usize,
    /// Largest WebAssembly table, in elements. Default 1024.
    pub wasm_max_table_elements: usize,
    /// Most functions a WebAssembly module may define. Default 1000: code
    /// generation costs ~80 µs per (even empty) function on this 2-core
    /// machine under load, so 1000 compile in ~0.1 s, while a 64 KiB module
    /// of empty functions (~8000) would take ~0.6 s; a reward compiled from
    /// Rust or C has a few dozen to a few hundred.
    pub wasm_max_functions: usize,
    /// Most locals all functions of a WebAssembly module may declare together.
    /// Default 50 000: a local is declared in two bytes whatever the count, so
    /// 64 KiB can ask for billions, and code generation is linear in them
    /// (50 000 compile in ~4 ms; 500 000 in ~35 ms; the module of thousands of
    /// functions × tens of thousands of locals took 36 s before this limit).
    pub wasm_max_locals: usize,
    /// Deepest nesting of blocks, loops and `if`s in a WebAssembly function.
    /// Default 1024: code generation is superlinear in it (2000 nested `if`s
    /// ~64 ms, 8000 ~0.8 s); compilers nest one level per `match`/`switch`
    /// case at most.
    pub wasm_max_nesting: usize,
    /// Bytes that the WebAssembly bulk-memory instructions (`memory.fill`,
    /// `memory.copy`, `memory.init`) of a module could touch between two
    /// deadline checks: their count times the largest the memory can get
    /// ([`wasm_max_memory_bytes`](Self::wasm_max_memory_bytes), or the
    /// module's own smaller maximum). Default 64 MiB, so 64 of them with a
    /// 1 MiB memory: one instruction costs one unit of fuel and may fill the
    /// whole memory (~12 µs per MiB here), and the deadline is only checked at
    /// function entries and loop back-edges, so 5000 fills in straight-line
    /// code ran ~60 ms past a 50 ms deadline; 64 MiB is ~1–5 ms.
    pub wasm_max_bulk_memory_bytes: u64,
    /// Largest magnitude of one reward component in one step. Default 1e6: a
    /// shaped per-step term is O(1)–O(1e3); past 1e6 one term dwarfs every
    /// other (the policy learns only it), and over a 1000-step episode and a
    /// batch of returns it reaches the range where the f32 value targets and
    /// losses of PPO lose all precision or overflow to infinity, failing a
    /// training late with "the loss is not finite". A larger value fails the
    /// call (kind `data_too_large`, naming the component) at check and at
    /// training time. Use `inf` to allow any finite value.
    pub max_component_abs: f64,
    /// Extra Rhai operations a fitness program may spend per step of the
    /// episode it measures, on top of [`max_operations`](Self::max_operations).
    /// Default 1000: one pass over the steps reading a few fields costs 20–50
    /// per step, and a look-back window of a few dozen steps a few hundred; a
    /// runaway loop over a 1000-step episode stops after ~1.1 M operations
    /// (tens of milliseconds).
    pub fitness_operations_per_step: u64,
    /// Deadline for one call of a fitness program (`fitness` or `success`), in
    /// milliseconds of CPU time like [`call_timeout_ms`](Self::call_timeout_ms).
    /// Default 1000: a 1000-step episode takes a few milliseconds; the
    /// operation budget stops runaway loops long before this, which only
    /// bounds expensive native helpers on large arrays.
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
            wasm_max_functions: 1000,
            wasm_max_locals: 50_000,
            wasm_max_nesting: 1024,
            wasm_max_bulk_memory_bytes: 64 << 20,
            max_component_abs: 1e6,
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

    /// Checks one component value: a `NonFinite` error for NaN or an infinity,
    /// a `DataTooLarge` one past [`max_component_abs`](Self::max_component_abs);
    /// both name the component.
    pub(crate) fn check_component(&self, name: &str, x: f64) -> Result<(), RewardError> {
        if !x.is_finite() {
            return Err(RewardError::new(
                RewardErrorKind::NonFinite,
                format!("component `{name}` is {x}; every component must be a finite number"),
            )
            .in_component(name));
        }
        if x.abs() > self.max_component_abs {
            return Err(RewardError::new(
                RewardErrorKind::DataTooLarge,
                format!(
                    "component `{name}` is {x:e}; a component's magnitude must stay within {:e} per step (one huge term drowns the others and overflows the trainer's returns); scale it down or clamp it",
                    self.max_component_abs
                ),
            )
            .in_component(name));
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

/// The reward of one step, the sum of its components; a `NonFinite` error
/// naming the two largest components when finite components overflow it.
pub(crate) fn component_total(names: &[String], values: &[f64]) -> Result<f64, RewardError> {
    let total: f64 = values.iter().sum();
    if total.is_finite() {
        return Ok(total);
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].abs().total_cmp(&values[a].abs()));
    let named: Vec<String> = order
        .iter()
        .take(2)
        .map(|&i| {
            format!(
                "`{}` ({:e})",
                names.get(i).map_or("?", String::as_str),
                values[i]
            )
        })
        .collect();
    let mut e = RewardError::new(
        RewardErrorKind::NonFinite,
        format!(
            "the components sum to {total}: {} overflow the reward; keep every component within a few orders of magnitude of 1",
            named.join(" + ")
        ),
    );
    if let Some(&i) = order.first()
        && let Some(n) = names.get(i)
    {
        e = e.in_component(n.as_str());
    }
    Err(e)
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
    fn component_values_are_bounded_and_sums_checked() {
        let l = Limits::default();
        assert!(l.check_component("a", 1e6).is_ok());
        let e = l.check_component("a", -2e6).unwrap_err();
        assert_eq!(e.kind, RewardErrorKind::DataTooLarge);
        assert_eq!(e.component.as_deref(), Some("a"));
        assert_eq!(
            l.check_component("a", f64::NAN).unwrap_err().kind,
            RewardErrorKind::NonFinite
        );
        let names = ["x".to_string(), "big".to_string(), "huge".to_string()];
        assert_eq!(component_total(&names, &[1.0, 2.0, 3.0]), Ok(6.0));
        let e = component_total(&names, &[1.0, 1e308, 1.7e308]).unwrap_err();
        assert_eq!(e.kind, RewardErrorKind::NonFinite);
        assert_eq!(e.component.as_deref(), Some("huge"));
        assert!(
            e.message.contains("`huge` (1.7e308) + `big` (1e308)"),
            "{e}"
        );
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
