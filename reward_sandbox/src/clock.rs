//! Clocks for the per-call deadlines, cheap enough for the hot loop.
//!
//! - A coarse process-wide clock: one thread bumps a counter every [`TICK`]
//!   (and the WebAssembly engine's epoch with it), so a running Rhai call can
//!   look for a new tick on every operation for the price of an atomic load.
//! - [`thread_cpu`]: the CPU time of the calling thread (~0.9 µs a read on
//!   this machine), read only when a call sees a new tick, i.e. in calls that
//!   run for more than a tick.
//!
//! A deadline counts the CPU time the call itself used from the first tick
//! it sees, not wall time: on a loaded machine a call of a few microseconds
//! can wait 50 ms and more for a core (seen with the benchmarks at load 4 on
//! 2 cores), and failing a reward program for that would fail a good
//! candidate at random. A call that really works past its deadline is still
//! stopped within a tick of it (plus one native function), and wall time
//! and CPU time are the same on an idle machine.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the clock ticks. 2 ms: deadlines are tens of milliseconds, and
/// 500 wake-ups a second cost a few hundredths of a percent of one core.
pub(crate) const TICK: Duration = Duration::from_millis(2);

static TICKS: AtomicU64 = AtomicU64::new(0);
static STARTED: OnceLock<bool> = OnceLock::new();
static WASM_ENGINE: OnceLock<wasmtime::Engine> = OnceLock::new();

/// Starts the ticking thread once per process; `false` when it could not be
/// started (then only the real-clock checks bound calls).
pub(crate) fn start() -> bool {
    *STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("rewardsmith-clock".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(TICK);
                    TICKS.fetch_add(1, Ordering::Relaxed);
                    if let Some(engine) = WASM_ENGINE.get() {
                        engine.increment_epoch();
                    }
                }
            })
            .is_ok()
    })
}

/// Ticks since the clock started. An atomic load, cheap enough for every
/// Rhai operation; whoever relies on it calls [`start`] first (once, when
/// building an engine).
#[inline]
pub(crate) fn now() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// The CPU time the calling thread has used (its own work, not time spent
/// waiting for a core), from the `cpu-time` crate (`CLOCK_THREAD_CPUTIME_ID`
/// on unix). Falls back to the wall time since the first call where the system
/// cannot tell.
#[cfg(unix)]
pub(crate) fn thread_cpu() -> Duration {
    cpu_time::ThreadTime::try_now().map_or_else(|_| wall_since_start(), |t| t.as_duration())
}

/// The CPU time the calling thread has used: not available without unix, so
/// the wall time since the first call.
#[cfg(not(unix))]
pub(crate) fn thread_cpu() -> Duration {
    wall_since_start()
}

fn wall_since_start() -> Duration {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
}

/// Makes the clock advance `engine`'s epoch on every tick (the WebAssembly
/// deadline). Only the first engine is kept: the sandbox has one per process.
pub(crate) fn drive_epochs(engine: &wasmtime::Engine) -> bool {
    let _ = WASM_ENGINE.set(engine.clone());
    start()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_advance_and_never_early() {
        assert!(start());
        let t0 = now();
        let started = std::time::Instant::now();
        while now() < t0 + 3 {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Three ticks after t0 means at least two full periods have passed.
        assert!(started.elapsed() >= 2 * TICK);
    }

    #[test]
    fn thread_cpu_counts_work_not_waiting() {
        let c0 = thread_cpu();
        std::thread::sleep(Duration::from_millis(30));
        let slept = thread_cpu() - c0;
        assert!(slept < Duration::from_millis(10), "{slept:?}");
        let c0 = thread_cpu();
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let worked = thread_cpu() - c0;
        // The two clocks tick apart (a VM accounts CPU time coarsely): only
        // roughly no more CPU time than wall time.
        let wall = started.elapsed();
        assert!(
            worked > Duration::ZERO && worked <= wall + Duration::from_millis(5),
            "{worked:?} of CPU in {wall:?}"
        );
    }
}
