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
    /// Largest reward-program file [`from_path`](Self::from_path) reads, in
    /// bytes: 1 MiB. Far above [`Limits::max_source_bytes`] (64 KiB by
    /// default), so a program a little too long still reaches the sandbox and
    /// gets its precise error; a file beyond this is refused unread.
    pub const MAX_FILE_BYTES: u64 = 1 << 20;

    /// Reads a program, choosing the language by extension: `.rhai`, `.wasm`
    /// or `.wat` (case-insensitive). The file must be a regular file (links
    /// are followed; a FIFO, a device such as `/dev/zero` or a directory is
    /// refused from its metadata, before it is opened) of at most
    /// [`MAX_FILE_BYTES`](Self::MAX_FILE_BYTES), and no more than that plus
    /// one byte is ever read. A leading byte-order mark of a text file is
    /// dropped.
    ///
    /// # Errors
    /// [`Error::UnknownExtension`] for any other extension, [`Error::Io`] when
    /// the file cannot be read, is not a regular file or is too large,
    /// [`Error::NotUtf8`] for a text file that is not UTF-8.
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let read = || {
            read_program_file(path, Self::MAX_FILE_BYTES).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        let text = |bytes: Vec<u8>| {
            String::from_utf8(bytes)
                .map(|t| match t.strip_prefix('\u{feff}') {
                    Some(rest) => rest.to_string(),
                    None => t,
                })
                .map_err(|_| Error::NotUtf8 {
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

/// Reads a regular file of at most `limit` bytes: its kind is judged from
/// its metadata (links followed) before it is opened, since opening a FIFO
/// for reading blocks, and again on the open file; then at most `limit + 1`
/// bytes are read. (The engine reads the user's other files the same way.)
fn read_program_file(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let refuse = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
    let judge = |meta: &std::fs::Metadata| {
        if !meta.is_file() {
            return Err(refuse(format!("is {}, not a regular file", kind_of(meta))));
        }
        if meta.len() > limit {
            return Err(refuse(format!(
                "is {} bytes; a reward program file may hold at most {limit} bytes",
                meta.len()
            )));
        }
        Ok(meta.len())
    };
    judge(&std::fs::metadata(path)?)?;
    let file = std::fs::File::open(path)?;
    let size = judge(&file.metadata()?)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(refuse(format!(
            "is larger than {limit} bytes, the most a reward program file may hold"
        )));
    }
    Ok(bytes)
}

/// What a file that is not a regular file is, in words.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let file_type = meta.file_type();
    if file_type.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    "a special file"
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system's temporary one, for this test only.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rs-source-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn io_message(path: &Path) -> String {
        match ProgramSource::from_path(path) {
            Err(e @ Error::Io { .. }) => e.to_string(),
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let dir = scratch("kinds");
        let folder = dir.join("folder.rhai");
        std::fs::create_dir(&folder).unwrap();
        assert!(io_message(&folder).ends_with("is a directory, not a regular file"));
        #[cfg(unix)]
        {
            let zero = dir.join("zero.wasm");
            std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
            assert!(io_message(&zero).ends_with("is a character device, not a regular file"));
        }
        let big = dir.join("big.wat");
        let size = usize::try_from(ProgramSource::MAX_FILE_BYTES).unwrap() + 1;
        std::fs::write(&big, vec![b' '; size]).unwrap();
        assert!(io_message(&big).contains("may hold at most 1048576 bytes"));
        let bom = dir.join("bom.rhai");
        std::fs::write(&bom, "\u{feff}fn compute_reward(s, prev) { #{} }").unwrap();
        assert_eq!(
            ProgramSource::from_path(&bom).unwrap(),
            ProgramSource::Rhai("fn compute_reward(s, prev) { #{} }".into())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
