//! Reading and writing files as a daemon must when anyone with local access may have put
//! something else at a path: a FIFO that blocks the open, `/dev/zero` that never ends, a sparse
//! giant, a symlink planted where a temporary file is about to be written, or a directory
//! another user can change. Every file the daemon reads, and every file it writes for itself
//! (state, keys, compiled plugins, saved rollbacks), goes through here.
//!
//! - A read resolves the path to a handle that opens nothing, checks that it is a regular file
//!   (so no FIFO or device is ever opened), opens that very file, and stops at a cap per kind
//!   of file while reading, since metadata says nothing useful about `/proc` files, sparse
//!   files or files still growing.
//! - A write goes to a temporary file created exclusively beside the target, never through a
//!   symlink, and is renamed over the target, so a reader sees the old file or the new one.
//! - [`writable_by_others`] says when a file or directory could be changed by a user other than
//!   this process's (or root), as OpenSSH refuses a writable `authorized_keys`.

use std::fs::{File, Metadata};
use std::io::{self, BufRead, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;

/// Flags every open of the daemon's adds: a FIFO must not block it.
fn nonblocking() -> i32 {
    OFlags::NONBLOCK.bits() as i32
}

/// A regular file, opened for reading.
pub struct RegularFile {
    /// The open file.
    file: File,
    /// Its metadata, taken from the open file (not the path, which may have changed since).
    metadata: Metadata,
}

impl RegularFile {
    /// Opens `path` (following symlinks, as operators place plugins by symlink) if it is a
    /// regular file; anything else (a FIFO, a device, a socket, a directory) is refused without
    /// ever being opened. The path is first resolved to a handle that opens nothing (`O_PATH`),
    /// that handle is checked, and the very file it holds is then opened for reading through
    /// `/proc/self/fd`: a path swapped meanwhile changes nothing. Without `/proc`, the path is
    /// opened again (non-blocking) and must still be the file that was checked.
    pub fn open(path: &Path) -> io::Result<Self> {
        use std::os::fd::AsRawFd;
        let handle: File = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, rustix::fs::Mode::empty())?.into();
        let checked = handle.metadata()?;
        refuse_unless_regular(&checked)?;
        let reopen = |at: &Path| File::options().read(true).custom_flags(nonblocking()).open(at);
        let file = match reopen(Path::new(&format!("/proc/self/fd/{}", handle.as_raw_fd()))) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => reopen(path)?,
            opened => opened?,
        };
        let metadata = file.metadata()?;
        refuse_unless_regular(&metadata)?;
        if (metadata.dev(), metadata.ino()) != (checked.dev(), checked.ino()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it was replaced while being opened",
            ));
        }
        Ok(Self { file, metadata })
    }

    /// The open file's metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Everything in the file, refused once it passes `max_bytes`: by its size up front, and by
    /// what is read, for files whose size says nothing (sparse, growing, `/proc`).
    pub fn read_all(self, max_bytes: u64) -> io::Result<Vec<u8>> {
        let len = self.metadata.len();
        if len > max_bytes {
            return Err(too_large(len, max_bytes));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        self.file.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > max_bytes {
            return Err(too_large(bytes.len() as u64, max_bytes));
        }
        Ok(bytes)
    }
}

impl RegularFile {
    /// The file as a reader that ends at `max_bytes`, refused up front when its size is larger,
    /// for parsing as it is read (a sparse giant of zeros fails at its first byte instead of
    /// filling memory).
    pub fn reader(self, max_bytes: u64) -> io::Result<io::Take<File>> {
        let len = self.metadata.len();
        if len > max_bytes {
            return Err(too_large(len, max_bytes));
        }
        Ok(self.file.take(max_bytes))
    }

    /// The file as a buffered reader of lines, for [`read_line_bounded`].
    pub fn lines(self) -> io::BufReader<File> {
        io::BufReader::new(self.file)
    }
}

/// What [`read_line_bounded`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line, now in the buffer without its newline.
    Read,
    /// A line longer than the cap: skipped to its end without being kept; its length.
    TooLong(u64),
    /// The end of the input.
    End,
}

/// Reads the next line of `input` into `line` (cleared first), keeping at most `max_bytes` of
/// it: a longer line is read through to its newline and dropped, costing no more memory than
/// the cap, so the lines after it still come.
pub fn read_line_bounded(input: &mut impl io::BufRead, line: &mut Vec<u8>, max_bytes: usize) -> io::Result<Line> {
    line.clear();
    let read = input.by_ref().take(max_bytes as u64 + 1).read_until(b'\n', line)?;
    if read == 0 {
        return Ok(Line::End);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        return Ok(Line::Read);
    }
    if line.len() <= max_bytes {
        return Ok(Line::Read); // the last line, without a newline
    }
    let mut skipped = line.len() as u64;
    line.clear();
    line.shrink_to_fit();
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(Line::TooLong(skipped));
        }
        match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => {
                input.consume(end + 1);
                return Ok(Line::TooLong(skipped + end as u64));
            }
            None => {
                let len = buffer.len();
                input.consume(len);
                skipped += len as u64;
            }
        }
    }
}

/// The regular file at `path`, at most `max_bytes` of it (see [`RegularFile`]). A missing file
/// is [`io::ErrorKind::NotFound`], as from `std::fs::read`.
pub fn read_bounded(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    RegularFile::open(path)?.read_all(max_bytes)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text_bounded(path: &Path, max_bytes: u64) -> io::Result<String> {
    String::from_utf8(read_bounded(path, max_bytes)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// Refuses what is not a regular file, saying what it is.
fn refuse_unless_regular(metadata: &Metadata) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "not a file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("it is {what}, not a regular file"),
    ))
}

/// The error of a file over its cap.
fn too_large(len: u64, max_bytes: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("it is larger than the limit of {max_bytes} bytes ({len} bytes or more)"),
    )
}

/// Writes `bytes` at `path` with permissions `mode` (less the umask), as
/// [`write_atomically_with`] does.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_atomically_with(path, mode, |out| out.write_all(bytes))
}

/// Writes what `write` writes at `path` with permissions `mode` (less the umask), through a
/// temporary file beside it, created exclusively and without following a symlink (one planted
/// there is removed, never written through), flushed to disk, then renamed over `path`: a reader
/// sees the old file or the new one, never half of one, and a symlink at `path` is replaced, not
/// followed.
pub fn write_atomically_with(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut io::BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = temporary_name(path);
    let mut out = io::BufWriter::new(create_exclusively(&tmp, mode)?);
    let written = write(&mut out)
        .and_then(|()| out.into_inner().map_err(io::IntoInnerError::into_error))
        .and_then(|file| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A temporary name to write `path` through, beside it: `NAME.tmpPID_N`, with the process's id
/// and a count, so no two writers (of this process or another) share one.
pub fn temporary_name(path: &Path) -> PathBuf {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}_{n}", std::process::id()));
    path.with_file_name(name)
}

/// Whether a file name ending (after the last dot) is that of a [`temporary_name`]: `tmp`, a
/// process id and a count (or, from earlier versions, the process id alone).
pub fn is_temporary_extension(extension: &str) -> bool {
    extension.strip_prefix("tmp").is_some_and(|rest| {
        let numbers: Vec<&str> = rest.split('_').collect();
        numbers.len() <= 2
            && numbers
                .iter()
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Creates a new file at `path` for writing, never through a symlink. Something already there
/// (a dead writer's leftover, or a planted symlink or FIFO) is removed, not followed, and the
/// creation tried once more; if something is planted again, the write fails.
pub fn create_exclusively(path: &Path, mode: u32) -> io::Result<File> {
    let create = || {
        File::options()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32)
            .open(path)
    };
    match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(path)?;
            create()
        }
        other => other,
    }
}

/// Opens the existing regular file at `path` for writing its metadata (a modification time),
/// never through a symlink and never blocking on a FIFO.
pub fn open_to_touch(path: &Path) -> io::Result<File> {
    let file = File::options()
        .write(true)
        .custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32)
        .open(path)?;
    refuse_unless_regular(&file.metadata()?)?;
    Ok(file)
}

/// Creates `dir` and its missing parents, those it creates with permissions `mode` (less the
/// umask).
pub fn create_dir_all(dir: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(mode).create(dir)
}

/// Why a user other than this process's (and root) could change the file or directory that
/// `metadata` describes, if one could: another owner, or write permission for its group or
/// for everyone.
pub fn writable_by_others(metadata: &Metadata) -> Option<String> {
    let me = rustix::process::geteuid().as_raw();
    let owner = metadata.uid();
    let mode = metadata.mode() & 0o7777;
    if owner != me && owner != 0 {
        Some(format!(
            "it is owned by user {owner}, not by this process's user {me} or root"
        ))
    } else if mode & 0o002 != 0 {
        Some(format!("anyone may write it (mode {mode:04o})"))
    } else if mode & 0o020 != 0 {
        Some(format!("its group may write it (mode {mode:04o})"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
