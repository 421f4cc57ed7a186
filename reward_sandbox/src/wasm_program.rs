#![doc = include_str!("wasm_abi.md")]

use crate::limits::Limits;
use rewardsmith_core::{RewardError, RewardErrorKind as K, RewardProgram, StateSpec, StateView};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use wasmtime::{Config, Engine, Instance, Memory, Module, ResourceLimiter, Store, Trap, TypedFunc};

/// How often the epoch advances; the per-call deadline is rounded up to it.
const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Most component names a module may declare.
const MAX_COMPONENTS: usize = 256;

/// The reward ABI as Markdown, for documentation and prompts.
#[must_use]
pub fn wasm_abi_doc() -> &'static str {
    include_str!("wasm_abi.md")
}

/// The process-wide wasmtime engine (fuel and epochs on) and its epoch ticker.
fn engine() -> Result<&'static Engine, RewardError> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config
                .consume_fuel(true)
                .epoch_interruption(true)
                .max_wasm_stack(256 * 1024);
            let engine = Engine::new(&config).map_err(|e| e.to_string())?;
            let ticker = engine.clone();
            // The ticker only sleeps and bumps a counter; if it cannot start,
            // fuel still bounds every call.
            let _ = std::thread::Builder::new()
                .name("rewardsmith-wasm-epoch".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(EPOCH_TICK);
                        ticker.increment_epoch();
                    }
                });
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| RewardError::new(K::Runtime, format!("cannot start WebAssembly: {e}")))
}

/// Store data: the resource limiter, which remembers why it refused growth.
struct Host {
    max_memory: usize,
    max_table: usize,
    refused: Option<String>,
}

impl ResourceLimiter for Host {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            let msg = format!(
                "linear memory would grow to {desired} bytes; the limit is {}",
                self.max_memory
            );
            self.refused = Some(msg.clone());
            return Err(wasmtime::Error::msg(msg));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table {
            let msg = format!(
                "a table would grow to {desired} elements; the limit is {}",
                self.max_table
            );
            self.refused = Some(msg.clone());
            return Err(wasmtime::Error::msg(msg));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }

    fn memories(&self) -> usize {
        1
    }
}

/// A compiled WebAssembly reward program, following the ABI below.
///
#[doc = include_str!("wasm_abi.md")]
pub struct WasmProgram {
    module: Module,
    spec: StateSpec,
    limits: Limits,
    names: Vec<String>,
    store: Store<Host>,
    memory: Memory,
    func: TypedFunc<(i32, i32, i32), ()>,
    base: usize,
}

impl std::fmt::Debug for WasmProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmProgram")
            .field("components", &self.names)
            .finish_non_exhaustive()
    }
}

fn malformed(msg: impl Into<String>) -> RewardError {
    RewardError::new(K::Malformed, msg)
}

impl WasmProgram {
    /// Compiles a module given as WebAssembly text (`.wat`).
    ///
    /// # Errors
    /// [`Malformed`](K::Malformed) for text that does not parse, and everything
    /// [`from_binary`](Self::from_binary) reports.
    pub fn from_wat(text: &str, spec: &StateSpec, limits: &Limits) -> Result<Self, RewardError> {
        if text.len() > limits.max_source_bytes {
            return Err(too_large(text.len(), limits));
        }
        let bytes = wat::parse_str(text).map_err(|e| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("").to_string();
            // `wat` reports ` --> <anon>:LINE:COL`; keep the position if present.
            let pos = text.lines().find_map(|l| {
                let rest = l.trim().strip_prefix("--> ")?;
                let mut it = rest.rsplitn(3, ':');
                let col = it.next()?.parse::<u32>().ok()?;
                let line = it.next()?.parse::<u32>().ok()?;
                Some((line, col))
            });
            let err = malformed(format!("WebAssembly text does not parse: {first}"));
            match pos {
                Some((l, c)) => err.at(l, c),
                None => err,
            }
        })?;
        Self::from_binary(&bytes, spec, limits)
    }

    /// Compiles a binary module (`.wasm`) and instantiates it.
    ///
    /// # Errors
    /// [`Malformed`](K::Malformed) for an invalid module or one that breaks the
    /// ABI, [`Imports`](K::Imports) for any import, [`MemoryLimit`](K::MemoryLimit),
    /// [`OutOfFuel`](K::OutOfFuel), [`Timeout`](K::Timeout) or [`Trap`](K::Trap)
    /// while instantiating.
    pub fn from_binary(
        bytes: &[u8],
        spec: &StateSpec,
        limits: &Limits,
    ) -> Result<Self, RewardError> {
        if bytes.len() > limits.max_source_bytes {
            return Err(too_large(bytes.len(), limits));
        }
        let started = Instant::now();
        let engine = engine()?;
        let module = Module::new(engine, bytes)
            .map_err(|e| malformed(format!("invalid WebAssembly module: {}", root_message(&e))))?;
        let imports: Vec<String> = module
            .imports()
            .map(|i| format!("{}::{}", i.module(), i.name()))
            .collect();
        if !imports.is_empty() {
            return Err(RewardError::new(
                K::Imports,
                format!(
                    "the module imports {}; reward modules may import nothing",
                    imports.join(", ")
                ),
            ));
        }
        limits.check_compile_time(started)?;
        Self::instantiate(module, spec, limits)
    }

    fn instantiate(module: Module, spec: &StateSpec, limits: &Limits) -> Result<Self, RewardError> {
        let engine = module.engine().clone();
        let mut store = Store::new(
            &engine,
            Host {
                max_memory: limits.wasm_max_memory_bytes,
                max_table: limits.wasm_max_table_elements,
                refused: None,
            },
        );
        store.limiter(|h| h as &mut dyn ResourceLimiter);
        arm(&mut store, limits)?;
        let instance = Instance::new(&mut store, &module, &[])
            .map_err(|e| call_error(&e, &mut store, limits, "instantiating"))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| malformed("the module must export its linear memory as `memory`"))?;
        let components = instance
            .get_typed_func::<(), (i32, i32)>(&mut store, "components")
            .map_err(|_| malformed("the module must export `components: () -> (i32, i32)`"))?;
        let input = instance
            .get_typed_func::<(), i32>(&mut store, "input")
            .map_err(|_| malformed("the module must export `input: () -> i32`"))?;
        let func = instance
            .get_typed_func::<(i32, i32, i32), ()>(&mut store, "compute_reward")
            .map_err(|_| {
                RewardError::new(
                    K::MissingFunction,
                    "the module must export `compute_reward: (s: i32, prev: i32, out: i32) -> ()`",
                )
            })?;
        if let Some(export) = instance.get_export(&mut store, "state_len") {
            let f = export
                .into_func()
                .and_then(|f| f.typed::<(), i32>(&store).ok())
                .ok_or_else(|| malformed("`state_len` must be a function () -> i32"))?;
            arm(&mut store, limits)?;
            let n = f
                .call(&mut store, ())
                .map_err(|e| call_error(&e, &mut store, limits, "calling `state_len`"))?;
            if usize::try_from(n).ok() != Some(spec.len()) {
                return Err(malformed(format!(
                    "the module was written for {n} reward-state values; this task's reward state has {} ({})",
                    spec.len(),
                    spec.field_names()
                )));
            }
        }

        arm(&mut store, limits)?;
        let (ptr, len) = components
            .call(&mut store, ())
            .map_err(|e| call_error(&e, &mut store, limits, "calling `components`"))?;
        let data = memory.data(&store);
        let text = usize::try_from(ptr)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(p, l)| data.get(p..p.checked_add(l)?))
            .ok_or_else(|| {
                malformed(format!(
                    "`components` returned ({ptr}, {len}), outside linear memory"
                ))
            })?;
        let text = std::str::from_utf8(text)
            .map_err(|_| malformed("the component names are not UTF-8"))?;
        let text = text.trim_end_matches(['\n', '\0']);
        let names: Vec<String> = text.split(['\n', '\0']).map(str::to_string).collect();
        if text.is_empty() {
            return Err(RewardError::new(
                K::NoComponents,
                "`components` lists no component",
            ));
        }
        if names.len() > MAX_COMPONENTS {
            return Err(malformed(format!(
                "{} components; at most {MAX_COMPONENTS}",
                names.len()
            )));
        }
        for (i, n) in names.iter().enumerate() {
            if n.trim().is_empty() {
                return Err(malformed(format!("component name {} is empty", i + 1)));
            }
            if names[..i].contains(n) {
                return Err(malformed(format!("component `{n}` is listed twice")));
            }
        }

        arm(&mut store, limits)?;
        let base = input
            .call(&mut store, ())
            .map_err(|e| call_error(&e, &mut store, limits, "calling `input`"))?;
        let base = usize::try_from(base)
            .map_err(|_| malformed(format!("`input` returned a negative offset ({base})")))?;
        let need = (2 * spec.len() + names.len()) * 8;
        if base
            .checked_add(need)
            .is_none_or(|end| end > memory.data_size(&store))
        {
            return Err(malformed(format!(
                "`input` returned offset {base}, but {need} bytes from there do not fit in the {}-byte memory",
                memory.data_size(&store)
            )));
        }
        Ok(Self {
            module,
            spec: spec.clone(),
            limits: limits.clone(),
            names,
            store,
            memory,
            func,
            base,
        })
    }
}

fn too_large(n: usize, limits: &Limits) -> RewardError {
    RewardError::new(
        K::DataTooLarge,
        format!(
            "the module is {n} bytes; the limit is {}",
            limits.max_source_bytes
        ),
    )
}

/// Refills the fuel and resets the deadline before a call.
fn arm(store: &mut Store<Host>, limits: &Limits) -> Result<(), RewardError> {
    store
        .set_fuel(limits.wasm_fuel)
        .map_err(|e| RewardError::new(K::Runtime, format!("cannot set fuel: {e}")))?;
    let ticks = limits.call_timeout().as_micros() / EPOCH_TICK.as_micros() + 1;
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    Ok(())
}

fn root_message(e: &wasmtime::Error) -> String {
    let text = e.root_cause().to_string();
    text.lines().next().unwrap_or("").to_string()
}

fn call_error(
    e: &wasmtime::Error,
    store: &mut Store<Host>,
    limits: &Limits,
    what: &str,
) -> RewardError {
    if let Some(msg) = store.data_mut().refused.take() {
        return RewardError::new(K::MemoryLimit, msg);
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => RewardError::new(
            K::OutOfFuel,
            format!(
                "{what} used up its fuel ({} units; an endless loop?)",
                limits.wasm_fuel
            ),
        ),
        Some(Trap::Interrupt) => RewardError::new(
            K::Timeout,
            format!("{what} ran past its {} ms deadline", limits.call_timeout_ms),
        ),
        Some(Trap::StackOverflow) => RewardError::new(
            K::CallDepth,
            format!("{what}: call stack overflow (unbounded recursion?)"),
        ),
        Some(trap) => RewardError::new(K::Trap, format!("{what} trapped: {trap}")),
        None => RewardError::new(K::Trap, format!("{what} failed: {}", root_message(e))),
    }
}

impl RewardProgram for WasmProgram {
    fn components(&self) -> &[String] {
        &self.names
    }

    fn evaluate(
        &mut self,
        s: &StateView<'_>,
        prev: &StateView<'_>,
        out: &mut [f64],
    ) -> Result<(), RewardError> {
        let n = self.spec.len();
        let c = self.names.len();
        if out.len() != c || s.values().len() != n || prev.values().len() != n {
            return Err(RewardError::new(
                K::Runtime,
                format!(
                    "internal: called with {} output slots and states of {}/{} numbers; expected {c} and {n}",
                    out.len(),
                    s.values().len(),
                    prev.values().len()
                ),
            ));
        }
        let base = self.base;
        let data = self.memory.data_mut(&mut self.store);
        let Some(area) = data.get_mut(base..base + (2 * n + c) * 8) else {
            return Err(malformed("the input area is outside linear memory"));
        };
        for (chunk, v) in area
            .chunks_exact_mut(8)
            .zip(s.values().iter().chain(prev.values()))
        {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        arm(&mut self.store, &self.limits)?;
        let to_i32 = |x: usize| i32::try_from(x).unwrap_or(i32::MAX);
        let args = (to_i32(base), to_i32(base + 8 * n), to_i32(base + 16 * n));
        let (func, store) = (&self.func, &mut self.store);
        let called =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| func.call(store, args)));
        match called {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(call_error(
                    &e,
                    &mut self.store,
                    &self.limits,
                    "compute_reward",
                ));
            }
            Err(_) => {
                return Err(RewardError::new(
                    K::Runtime,
                    "the sandbox caught an internal panic while running compute_reward",
                ));
            }
        }
        let data = self.memory.data(&self.store);
        let start = base + 16 * n;
        let Some(values) = data.get(start..start + 8 * c) else {
            return Err(malformed("the output area is outside linear memory"));
        };
        for ((o, chunk), name) in out.iter_mut().zip(values.chunks_exact(8)).zip(&self.names) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            let x = f64::from_le_bytes(b);
            if !x.is_finite() {
                return Err(RewardError::new(
                    K::NonFinite,
                    format!("component `{name}` is {x}; every component must be a finite number"),
                )
                .in_component(name.as_str()));
            }
            *o = x;
        }
        Ok(())
    }

    fn fork(&self) -> Box<dyn RewardProgram> {
        match Self::instantiate(self.module.clone(), &self.spec, &self.limits) {
            Ok(p) => Box::new(p),
            Err(e) => Box::new(Failed {
                names: self.names.clone(),
                error: e,
            }),
        }
    }
}

/// A fork whose instantiation failed (it succeeded once, so this is rare: e.g.
/// the system is out of memory). Every call reports the error.
struct Failed {
    names: Vec<String>,
    error: RewardError,
}

impl RewardProgram for Failed {
    fn components(&self) -> &[String] {
        &self.names
    }

    fn evaluate(
        &mut self,
        _s: &StateView<'_>,
        _prev: &StateView<'_>,
        _out: &mut [f64],
    ) -> Result<(), RewardError> {
        Err(self.error.clone())
    }

    fn fork(&self) -> Box<dyn RewardProgram> {
        Box::new(Self {
            names: self.names.clone(),
            error: self.error.clone(),
        })
    }
}
