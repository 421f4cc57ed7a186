//! [`read_user_file`]: the one way the engine reads a file the user named (a
//! config, a feedback file, a prompt template, a candidate spec): regular
//! files only, read with a cap; its failures are input errors.

use std::io::{self, Read as _};
use std::path::Path;

/// `n` bytes for people: `512 bytes`, `64 KiB`, `1.5 MiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    #[allow(clippy::cast_precision_loss)] // a figure for people
    let scaled = |unit: u64| n as f64 / unit as f64;
    if n >= MIB {
        format!("{} MiB", trim(scaled(MIB)))
    } else if n >= KIB {
        format!("{} KiB", trim(scaled(KIB)))
    } else {
        format!("{n} bytes")
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0")
        .map_or_else(|| s.clone(), str::to_string)
}

/// What a file the user named is (links followed) when it is not a regular
/// file, in words: `a FIFO (named pipe)`, `a directory`, …; `None` for a
/// regular file.
pub(crate) fn special_kind(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        return None;
    }
    if file_type.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if file_type.is_char_device() {
            return Some("a character device");
        }
        if file_type.is_block_device() {
            return Some("a block device");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
    }
    Some("a special file")
}

/// An input error about a file's kind or size, as an I/O error whose message
/// says what is wrong (callers add the path and what the file is for).
fn refused(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}

/// Checks, from its metadata only (links followed), that `path` is a regular
/// file of at most `limit` bytes, without opening it (opening a FIFO for
/// reading blocks until a writer comes). `what` names the file's purpose in
/// the message, e.g. `config file`. Returns the size.
///
/// # Errors
/// The OS error of `stat`, or an [`io::ErrorKind::InvalidInput`] error saying
/// what the path is (`is a FIFO (named pipe), not a regular file`) or how
/// large it is against the limit.
pub(crate) fn check_user_file(path: &Path, limit: u64, what: &str) -> io::Result<u64> {
    let meta = std::fs::metadata(path)?;
    check_metadata(&meta, limit, what)
}

fn check_metadata(meta: &std::fs::Metadata, limit: u64, what: &str) -> io::Result<u64> {
    if let Some(kind) = special_kind(meta.file_type()) {
        return Err(refused(format!("is {kind}, not a regular file")));
    }
    if meta.len() > limit {
        return Err(too_large(Some(meta.len()), limit, what));
    }
    Ok(meta.len())
}

fn too_large(size: Option<u64>, limit: u64, what: &str) -> io::Error {
    let size = size.map_or_else(
        || "larger than that".to_string(),
        |s| format!("{} ({s} bytes)", human_bytes(s)),
    );
    refused(format!(
        "a {what} may hold at most {} ({limit} bytes); this one is {size}",
        human_bytes(limit)
    ))
}

/// Reads a file the user named (a config, a feedback file, a prompt
/// template, …): it must be a regular file (links are followed; a FIFO, a
/// device such as `/dev/zero`, a directory or a socket is refused from its
/// metadata, before it is opened), and at most `limit` bytes are accepted —
/// at most `limit + 1` are ever read, so a file that grows, or a special file
/// that passed as regular, cannot exhaust memory. `what` names the file's
/// purpose in messages (`config file`).
///
/// # Errors
/// As [`check_user_file`], or the OS error of reading.
pub(crate) fn read_user_file(path: &Path, limit: u64, what: &str) -> io::Result<Vec<u8>> {
    check_user_file(path, limit, what)?;
    let file = std::fs::File::open(path)?;
    // The file opened may not be the one looked at (the path changed in
    // between): look again, at the open file this time.
    let size = check_metadata(&file.metadata()?, limit, what)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(None, limit, what));
    }
    Ok(bytes)
}

/// [`read_user_file`] for text: UTF-8, a leading byte-order mark dropped.
///
/// # Errors
/// As [`read_user_file`], or [`io::ErrorKind::InvalidData`] for a file that is
/// not UTF-8.
pub(crate) fn read_user_text(path: &Path, limit: u64, what: &str) -> io::Result<String> {
    let bytes = read_user_file(path, limit, what)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_for_people() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(64 << 10), "64 KiB");
        assert_eq!(human_bytes(3 << 19), "1.5 MiB");
    }

    #[test]
    fn special_files_are_refused_and_large_ones_capped() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_user_file(dir.path(), 10, "config file").unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let path = dir.path().join("big");
        std::fs::write(&path, [b'x'; 11]).unwrap();
        let err = read_user_file(&path, 10, "config file").unwrap_err();
        assert!(err.to_string().contains("at most 10 bytes"), "{err}");
        assert_eq!(read_user_file(&path, 11, "config file").unwrap().len(), 11);
        std::fs::write(&path, "\u{feff}a = 1").unwrap();
        assert_eq!(read_user_text(&path, 100, "config file").unwrap(), "a = 1");
    }
}
