//! The one error type of `nca-core`.

use std::path::PathBuf;

/// Everything that can go wrong in `nca-core`: a bad configuration or a model file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NcaError {
    /// A configuration value is impossible.
    #[error("invalid model config: `{field}` {reason}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// Why its value is impossible.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not an nca model file.
    #[error("{} is not an nca model file (it does not start with the nca model header)", path.display())]
    NotAModel {
        /// The file.
        path: PathBuf,
    },
    /// The file's checksum does not match its contents.
    #[error("{} is damaged: its checksum does not match its contents", path.display())]
    Corrupted {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a format version this build cannot read.
    #[error("{} is an nca model file of format version {found}; this build reads versions up to {supported}", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The file ends before its contents do.
    #[error("{} is truncated: {what}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What is missing.
        what: String,
    },
    /// The model config inside the file cannot be read or is invalid.
    #[error("{}: bad model config inside the file: {reason}", path.display())]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The weights in the file are corrupt or do not fit the model shape.
    #[error("{}: the weights do not fit the model: {reason}", path.display())]
    Weights {
        /// The file.
        path: PathBuf,
        /// burn's description of the mismatch.
        reason: String,
    },
}
