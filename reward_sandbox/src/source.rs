//! Reward programs as they arrive (text or bytes, by language) and the one
//! entry point that compiles any of them.

use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::rhai_program::RhaiProgram;
use crate::wasm_program::WasmProgram;
use rewardsmith_core::{RewardError, RewardProgram, StateSpec};
use std::path::Path;

/// A reward program's source, by language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgramSource {
    /// Rhai source text (`.rhai`).
    Rhai(String),
    /// A binary WebAssembly module (`.wasm`).
    Wasm(Vec<u8>),
    /// A WebAssembly text module (`.wat`).
    Wat(String),
}

impl ProgramSource {
    /// Reads a program, choosing the language by extension: `.rhai`, `.wasm`
    /// or `.wat` (case-insensitive).
    ///
    /// # Errors
    /// [`Error::UnknownExtension`] for any other extension, [`Error::Io`] when
    /// the file cannot be read, [`Error::NotUtf8`] for a text file that is not
    /// UTF-8.
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let read = || {
            std::fs::read(path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        let text = |bytes: Vec<u8>| {
            String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
                path: path.to_path_buf(),
            })
        };
        match ext.as_deref() {
            Some("rhai") => Ok(Self::Rhai(text(read()?)?)),
            Some("wat") => Ok(Self::Wat(text(read()?)?)),
            Some("wasm") => Ok(Self::Wasm(read()?)),
            _ => Err(Error::UnknownExtension {
                path: path.to_path_buf(),
            }),
        }
    }

    /// The language's name: `rhai`, `wasm` or `wat`.
    #[must_use]
    pub fn language(&self) -> &'static str {
        match self {
            Self::Rhai(_) => "rhai",
            Self::Wasm(_) => "wasm",
            Self::Wat(_) => "wat",
        }
    }
}

/// Compiles a program of any language for the reward state `spec`.
///
/// # Errors
/// A [`RewardError`] describing what is wrong with the program.
pub fn compile(
    src: &ProgramSource,
    spec: &StateSpec,
    limits: &Limits,
) -> std::result::Result<Box<dyn RewardProgram>, RewardError> {
    compile_with_sample(src, spec, limits, None)
}

/// [`compile`], with a `(prev, s)` pair of reward states for the probe call
/// that learns a Rhai program's component names (instead of an all-zero state
/// with identity quaternions). Pass the first dry-run sample to get exactly the
/// program [`check_source`](crate::check_source) checked. WebAssembly modules
/// declare their names and ignore the sample.
///
/// # Errors
/// A [`RewardError`] describing what is wrong with the program.
pub fn compile_with_sample(
    src: &ProgramSource,
    spec: &StateSpec,
    limits: &Limits,
    sample: Option<(&[f64], &[f64])>,
) -> std::result::Result<Box<dyn RewardProgram>, RewardError> {
    // Neither backend should panic on any input; if one ever does, the panic
    // stops here as an error of the program.
    std::panic::catch_unwind(|| {
        Ok::<Box<dyn RewardProgram>, RewardError>(match src {
            ProgramSource::Rhai(text) => Box::new(RhaiProgram::compile_with_sample(
                text, spec, limits, sample,
            )?),
            ProgramSource::Wasm(bytes) => Box::new(WasmProgram::from_binary(bytes, spec, limits)?),
            ProgramSource::Wat(text) => Box::new(WasmProgram::from_wat(text, spec, limits)?),
        })
    })
    .unwrap_or_else(|_| {
        Err(RewardError::new(
            rewardsmith_core::RewardErrorKind::Runtime,
            "the sandbox caught an internal panic while compiling",
        ))
    })
}
