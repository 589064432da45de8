//! Writing files so that a crash or a full disk never destroys the previous version.

use std::io::Write;
use std::path::Path;

use crate::NcaError;

/// Writes `bytes` to `path` through a temporary file in the same directory, then renames it
/// over `path`: readers see the old file or the new one, never a partial one. The temporary file
/// has a short random name (`.nca-XXXXXX.tmp`), whatever the length of `path`'s, and is removed
/// if anything fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NcaError> {
    let io_error = |source| NcaError::Io {
        path: path.into(),
        source,
    };
    if path.file_name().is_none() {
        return Err(io_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file path",
        )));
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
    let mut temporary = builder.tempfile_in(dir).map_err(io_error)?;
    temporary
        .write_all(bytes)
        .and_then(|()| temporary.as_file().sync_all())
        .map_err(io_error)?;
    temporary
        .persist(path)
        .map(drop)
        .map_err(|err| io_error(err.error))
}

/// How the names of [`write_atomic`]'s temporary files begin and end.
const TEMPORARY_PREFIX: &str = ".nca-";
const TEMPORARY_SUFFIX: &str = ".tmp";
