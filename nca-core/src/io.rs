//! Writing files so that a crash or a full disk never destroys the previous version, and
//! reading them without ever reading more than a valid file holds.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::NcaError;

/// A file being written in place of `path`: a temporary file in the same directory with a short
/// random name (`.nca-XXXXXX.tmp`, whatever the length of `path`'s), renamed over `path` by
/// [`commit`](Self::commit), removed if dropped before. Readers see the old file or the new one,
/// never a partial one.
///
/// A writer holds an advisory lock on its temporary file while it lives; the operating system
/// releases it when the process ends, however it ends. A writer killed mid-write (`kill -9`, an
/// interrupt before the drop) leaves its temporary file behind: [`create`](Self::create) removes
/// those of nca's naming in its directory that no process holds locked and that have not
/// changed for [`STALE_AFTER`], so a live writer's file is never touched.
pub struct AtomicFile {
    temporary: tempfile::NamedTempFile,
    path: PathBuf,
}

impl AtomicFile {
    /// Starts writing `path`.
    pub fn create(path: &Path) -> Result<Self, NcaError> {
        if path.file_name().is_none() {
            return Err(io_error(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
            ));
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMPORARY_PREFIX).suffix(TEMPORARY_SUFFIX);
        // Like any new file (tempfile's default is owner-only): read-write for all, less the umask.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        builder.rand_bytes(TEMPORARY_RANDOM);
        let temporary = builder
            .tempfile_in(dir)
            .map_err(|err| io_error(path, err))?;
        // Best effort: where locks are not supported, no temporary file is ever found stale.
        let _ = temporary.as_file().try_lock();
        remove_stale_temporaries(dir, temporary.path());
        Ok(Self {
            temporary,
            path: path.into(),
        })
    }

    /// The file being written, e.g. for an encoder that writes it piece by piece.
    pub fn file(&self) -> &std::fs::File {
        self.temporary.as_file()
    }

    /// Writes `bytes` at the end of the file.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), NcaError> {
        self.temporary
            .write_all(bytes)
            .map_err(|err| io_error(&self.path, err))
    }

    /// Flushes the file to disk and renames it over the path.
    pub fn commit(self) -> Result<(), NcaError> {
        let path = self.path;
        self.temporary
            .as_file()
            .sync_all()
            .map_err(|err| io_error(&path, err))?;
        self.temporary
            .persist(&path)
            .map(drop)
            .map_err(|err| io_error(&path, err.error))
    }
}

/// Writes `bytes` to `path` through an [`AtomicFile`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NcaError> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// Reads the whole of `path`, refusing it with [`NcaError::TooLarge`] (naming it a `what`, e.g.
/// "training config") as soon as it proves longer than `limit` bytes: a huge file, or one that
/// never ends such as `/dev/zero`, is never read whole.
pub fn read_limited(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, NcaError> {
    let mut file = open_limited(path, limit, what)?;
    let mut bytes = Vec::new();
    read_up_to(&mut file, &mut bytes, limit.saturating_add(1), path)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, limit, what));
    }
    Ok(bytes)
}

/// [`read_limited`] as UTF-8 text (an error, as `read_to_string`'s, when it is not).
pub fn read_text_limited(path: &Path, limit: u64, what: &str) -> Result<String, NcaError> {
    String::from_utf8(read_limited(path, limit, what)?).map_err(|_| {
        io_error(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ),
        )
    })
}

/// Opens `path` for reading, refusing at once a regular file longer than `limit` bytes.
pub(crate) fn open_limited(path: &Path, limit: u64, what: &str) -> Result<std::fs::File, NcaError> {
    let file = std::fs::File::open(path).map_err(|err| io_error(path, err))?;
    let metadata = file.metadata().map_err(|err| io_error(path, err))?;
    if metadata.is_file() && metadata.len() > limit {
        return Err(too_large(path, limit, what));
    }
    Ok(file)
}

/// Appends to `bytes` what `file` holds next, until it has `up_to` bytes or the file ends.
pub(crate) fn read_up_to(
    file: &mut std::fs::File,
    bytes: &mut Vec<u8>,
    up_to: u64,
    path: &Path,
) -> Result<(), NcaError> {
    let more = up_to.saturating_sub(bytes.len() as u64);
    file.take(more)
        .read_to_end(bytes)
        .map(drop)
        .map_err(|err| io_error(path, err))
}

pub(crate) fn too_large(path: &Path, limit: u64, what: &str) -> NcaError {
    NcaError::TooLarge {
        path: path.into(),
        what: what.into(),
        limit,
    }
}

/// Removes the temporary files of writers that are gone from `dir` (all but `own`): named as
/// [`AtomicFile`] names them, unchanged for [`STALE_AFTER`] (a writer locks its file right after
/// creating it; the age covers that instant) and locked by no process. Best effort: whatever
/// cannot be read, locked or removed is left.
fn remove_stale_temporaries(dir: &Path, own: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let ours = name.to_str().is_some_and(|name| {
            name.strip_prefix(TEMPORARY_PREFIX)
                .and_then(|rest| rest.strip_suffix(TEMPORARY_SUFFIX))
                .is_some_and(|random| {
                    random.len() == TEMPORARY_RANDOM
                        && random.bytes().all(|b| b.is_ascii_alphanumeric())
                })
        });
        let path = entry.path();
        if !ours || path == own || !entry.file_type().is_ok_and(|kind| kind.is_file()) {
            continue;
        }
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        let stale = file
            .metadata()
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if stale && file.try_lock().is_ok() {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn io_error(path: &Path, source: std::io::Error) -> NcaError {
    NcaError::Io {
        path: path.into(),
        source,
    }
}

/// How the names of temporary files begin and end.
const TEMPORARY_PREFIX: &str = ".nca-";
const TEMPORARY_SUFFIX: &str = ".tmp";
/// Random letters and digits between them.
const TEMPORARY_RANDOM: usize = 6;

/// How long a temporary file nobody holds must have been left unchanged before a later write
/// removes it.
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(30);
