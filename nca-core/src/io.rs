//! Writing files so that a crash or a full disk never destroys the previous version.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::NcaError;

/// A file being written in place of `path`: a temporary file in the same directory with a short
/// random name (`.nca-XXXXXX.tmp`, whatever the length of `path`'s), renamed over `path` by
/// [`commit`](Self::commit), removed if dropped before. Readers see the old file or the new one,
/// never a partial one.
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
        let temporary = builder
            .tempfile_in(dir)
            .map_err(|err| io_error(path, err))?;
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

fn io_error(path: &Path, source: std::io::Error) -> NcaError {
    NcaError::Io {
        path: path.into(),
        source,
    }
}

/// How the names of temporary files begin and end.
const TEMPORARY_PREFIX: &str = ".nca-";
const TEMPORARY_SUFFIX: &str = ".tmp";
