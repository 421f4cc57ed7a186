#![doc = include_str!("wasm_abi.md")]

use crate::clock;
use crate::limits::{Limits, component_total};
use rewardsmith_core::{RewardError, RewardErrorKind as K, RewardProgram, StateSpec, StateView};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant};
use wasmtime::wasmparser::{BinaryReaderError, Operator, Parser, Payload};
use wasmtime::{
    Config, Engine, Instance, Memory, Module, ResourceLimiter, Store, StoreContextMut, Trap,
    TypedFunc, UpdateDeadline,
};

/// Most component names a module may declare.
const MAX_COMPONENTS: usize = 256;

/// Stack of the thread that generates code: cranelift's recursion is bounded
/// by the nesting limit, this leaves room to spare.
const COMPILE_STACK: usize = 8 << 20;

/// Code generations running on their own threads (abandoned ones included),
/// for the log line when one misses its deadline.
static RUNNING_COMPILES: AtomicUsize = AtomicUsize::new(0);

/// The reward ABI as Markdown, for documentation and prompts.
#[must_use]
pub fn wasm_abi_doc() -> &'static str {
    include_str!("wasm_abi.md")
}

/// The process-wide wasmtime engine (fuel and epochs on), its epoch advanced
/// by the sandbox's clock ([`clock::TICK`]).
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
            // If the clock cannot start, fuel still bounds every call.
            clock::drive_epochs(&engine);
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| RewardError::new(K::Runtime, format!("cannot start WebAssembly: {e}")))
}

/// Store data: the resource limiter, which remembers why it refused growth,
/// and the deadline of the running call.
struct Host {
    max_memory: usize,
    max_table: usize,
    refused: Option<String>,
    /// The per-call deadline, in CPU time of the calling thread.
    timeout: Duration,
    /// The thread's CPU time at the first clock tick the running call saw.
    cpu_start: Option<Duration>,
}

/// Called at a check point (function entry, loop back-edge) of a running
/// call when the clock has ticked: the first time starts counting the
/// thread's CPU time, later ones stop the call once that count reaches the
/// deadline (see [`clock`] for why CPU time).
fn on_tick(mut ctx: StoreContextMut<'_, Host>) -> wasmtime::Result<UpdateDeadline> {
    let host = ctx.data_mut();
    let cpu = clock::thread_cpu();
    match host.cpu_start {
        None => host.cpu_start = Some(cpu),
        Some(start) if cpu.saturating_sub(start) >= host.timeout => {
            return Ok(UpdateDeadline::Interrupt);
        }
        Some(_) => {}
    }
    Ok(UpdateDeadline::Continue(1))
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
    /// Before any code generation, a scan of the module refuses what would
    /// make compiling or running it slow: more functions, locals or nesting
    /// than [`Limits`] allow, or more bulk-memory instructions than
    /// [`Limits::wasm_max_bulk_memory_bytes`] covers. Code generation then runs
    /// on its own thread under the compile deadline.
    ///
    /// # Errors
    /// [`Malformed`](K::Malformed) for an invalid module or one that breaks the
    /// ABI, [`DataTooLarge`](K::DataTooLarge) for too many functions, locals
    /// or bulk-memory instructions, [`ExprDepth`](K::ExprDepth) for too deep a
    /// nesting, [`Timeout`](K::Timeout) when code generation misses the compile
    /// deadline, [`Imports`](K::Imports) for any import,
    /// [`MemoryLimit`](K::MemoryLimit), [`OutOfFuel`](K::OutOfFuel),
    /// [`Timeout`](K::Timeout) or [`Trap`](K::Trap) while instantiating.
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
        scan_module(bytes, limits)?;
        let module = compile_module(engine, bytes, limits, started)?;
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
                timeout: limits.call_timeout(),
                cpu_start: None,
            },
        );
        store.limiter(|h| h as &mut dyn ResourceLimiter);
        store.epoch_deadline_callback(on_tick);
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

fn invalid(e: &BinaryReaderError) -> RewardError {
    malformed(format!(
        "invalid WebAssembly module: {} (at byte {})",
        e.message(),
        e.offset()
    ))
}

fn usize_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The static checks before code generation (linear in the module's size,
/// well under a millisecond for 64 KiB): function count, locals, nesting and
/// the bulk-memory budget, each against its [`Limits`] field. Bytes that do
/// not parse are a malformed module; everything else about validity is left
/// to wasmtime's validator, which runs on the whole module when compiling.
fn scan_module(bytes: &[u8], limits: &Limits) -> Result<(), RewardError> {
    let mut functions: u64 = 0;
    let mut locals: u64 = 0;
    let mut bulk: u64 = 0;
    // The most bytes a linear memory of the module can reach (its declared
    // maximum; unknown means the cap).
    let mut memory_max: Option<u64> = None;
    let cap = usize_u64(limits.wasm_max_memory_bytes);
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| invalid(&e))? {
            Payload::FunctionSection(r) => {
                functions = functions.saturating_add(u64::from(r.count()));
                if functions > usize_u64(limits.wasm_max_functions) {
                    return Err(RewardError::new(
                        K::DataTooLarge,
                        format!(
                            "the module defines {functions} functions; the limit is {} (code generation costs ~80 µs each)",
                            limits.wasm_max_functions
                        ),
                    ));
                }
            }
            Payload::MemorySection(r) => {
                for m in r {
                    let m = m.map_err(|e| invalid(&e))?;
                    let page = 1u64 << m.page_size_log2.unwrap_or(16).min(16);
                    let most = m.maximum.map_or(cap, |pages| pages.saturating_mul(page));
                    memory_max = Some(memory_max.map_or(most, |b| b.max(most)));
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut reader = body.get_locals_reader().map_err(|e| invalid(&e))?;
                for _ in 0..reader.get_count() {
                    let (n, _) = reader.read().map_err(|e| invalid(&e))?;
                    locals = locals.saturating_add(u64::from(n));
                }
                if locals > usize_u64(limits.wasm_max_locals) {
                    return Err(RewardError::new(
                        K::DataTooLarge,
                        format!(
                            "the module's functions declare more than {} locals together; code generation is linear in them",
                            limits.wasm_max_locals
                        ),
                    ));
                }
                let mut ops = body.get_operators_reader().map_err(|e| invalid(&e))?;
                let mut depth: usize = 0;
                while !ops.eof() {
                    match ops.read().map_err(|e| invalid(&e))? {
                        Operator::Block { .. }
                        | Operator::Loop { .. }
                        | Operator::If { .. }
                        | Operator::Try { .. }
                        | Operator::TryTable { .. } => {
                            depth += 1;
                            if depth > limits.wasm_max_nesting {
                                return Err(RewardError::new(
                                    K::ExprDepth,
                                    format!(
                                        "blocks, loops and `if`s nested deeper than {} in one function (code generation slows down sharply with nesting)",
                                        limits.wasm_max_nesting
                                    ),
                                ));
                            }
                        }
                        Operator::End | Operator::Delegate { .. } => {
                            depth = depth.saturating_sub(1);
                        }
                        Operator::MemoryFill { .. }
                        | Operator::MemoryCopy { .. }
                        | Operator::MemoryInit { .. } => bulk += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let memory = memory_max.unwrap_or(cap).min(cap).max(1);
    if bulk.saturating_mul(memory) > limits.wasm_max_bulk_memory_bytes {
        let most = limits.wasm_max_bulk_memory_bytes / memory;
        return Err(RewardError::new(
            K::DataTooLarge,
            format!(
                "the module has {bulk} bulk-memory instructions (memory.fill, memory.copy, memory.init); each may touch the whole {memory}-byte memory with no deadline check in between, so at most {most} are allowed (one inside a loop counts once; a smaller memory maximum allows more)"
            ),
        ));
    }
    Ok(())
}

/// Generates code for a module on its own thread, waiting at most until the
/// compile deadline (counted from `started`). Code generation cannot be
/// interrupted: past the deadline it is abandoned and finishes in the
/// background, which the static scan makes rare.
fn compile_module(
    engine: &Engine,
    bytes: &[u8],
    limits: &Limits,
    started: Instant,
) -> Result<Module, RewardError> {
    let invalid_module =
        |e: &wasmtime::Error| malformed(format!("invalid WebAssembly module: {}", root_message(e)));
    let (tx, rx) = sync_channel(1);
    let (engine_copy, bytes_copy) = (engine.clone(), bytes.to_vec());
    let spawned = std::thread::Builder::new()
        .name("rewardsmith-wasm-compile".into())
        .stack_size(COMPILE_STACK)
        .spawn(move || {
            RUNNING_COMPILES.fetch_add(1, Ordering::Relaxed);
            let compiled =
                catch_unwind(AssertUnwindSafe(|| Module::new(&engine_copy, &bytes_copy)));
            RUNNING_COMPILES.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(compiled);
        });
    if spawned.is_err() {
        // No thread to be had: compile here (the static scan bounds it).
        return Module::new(engine, bytes).map_err(|e| invalid_module(&e));
    }
    let remaining = limits.compile_timeout().saturating_sub(started.elapsed());
    match rx.recv_timeout(remaining) {
        Ok(Ok(Ok(module))) => Ok(module),
        Ok(Ok(Err(e))) => Err(invalid_module(&e)),
        Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => Err(RewardError::new(
            K::Runtime,
            "the sandbox caught an internal panic while compiling",
        )),
        Err(RecvTimeoutError::Timeout) => {
            tracing::warn!(
                running = RUNNING_COMPILES.load(Ordering::Relaxed),
                "WebAssembly code generation missed its deadline; it finishes in the background"
            );
            Err(RewardError::new(
                K::Timeout,
                format!(
                    "compiling did not finish within {} ms (the module is too costly to compile: split huge functions)",
                    limits.compile_timeout_ms
                ),
            ))
        }
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

/// Refills the fuel and resets the deadline before a call: [`on_tick`] runs
/// at the first check point after the next tick.
fn arm(store: &mut Store<Host>, limits: &Limits) -> Result<(), RewardError> {
    store
        .set_fuel(limits.wasm_fuel)
        .map_err(|e| RewardError::new(K::Runtime, format!("cannot set fuel: {e}")))?;
    store.data_mut().cpu_start = None;
    store.set_epoch_deadline(1);
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
        let called = catch_unwind(AssertUnwindSafe(|| func.call(store, args)));
        match called {
            Ok(Ok(())) => {
                // Counted to the end: straight-line code after the last check
                // point (bulk memory) may have run past the deadline.
                if let Some(start) = self.store.data().cpu_start
                    && clock::thread_cpu().saturating_sub(start) >= self.limits.call_timeout()
                {
                    return Err(RewardError::new(
                        K::Timeout,
                        format!(
                            "compute_reward worked past its {} ms deadline (counted when it returned)",
                            self.limits.call_timeout_ms
                        ),
                    ));
                }
            }
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
        let bound = self.limits.max_component_abs;
        let mut total = 0.0;
        for ((o, chunk), name) in out.iter_mut().zip(values.chunks_exact(8)).zip(&self.names) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            let x = f64::from_le_bytes(b);
            // The common case inline; the checks word the error.
            if !(x.is_finite() && x.abs() <= bound) {
                self.limits.check_component(name, x)?;
            }
            total += x;
            *o = x;
        }
        if !total.is_finite() {
            component_total(&self.names, out)?;
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
