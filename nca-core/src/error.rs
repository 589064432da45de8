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
    /// A model file that cannot be used.
    #[error("{} {problem}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: ModelFileError,
    },
    /// A file longer than any valid file of its kind: refused before it is read whole.
    #[error("{} is larger than any {what} ({limit} bytes at most)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What it should be, e.g. "nca model file".
        what: String,
        /// The most bytes a valid one holds.
        limit: u64,
    },
    /// The weights could not be encoded as a burnpack record.
    #[error("cannot encode the weights: {reason}")]
    Encode {
        /// burn's description.
        reason: String,
    },
}

/// What makes the bytes of a model file unusable; each reads after the file's name ("model.nca
/// is truncated: …").
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// Not an nca model file.
    #[error("is not an nca model file (it does not start with the nca model header)")]
    NotAModel,
    /// The checksum does not match the contents.
    #[error("is damaged: its checksum does not match its contents")]
    Corrupted,
    /// Written by a format version this build cannot read.
    #[error(
        "is an nca model file of format version {found}; this build reads versions up to {supported}"
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The bytes end before the contents do.
    #[error("is truncated: {what}")]
    Truncated {
        /// What is missing.
        what: String,
    },
    /// The model config inside cannot be read or is invalid.
    #[error("holds a bad model config: {reason}")]
    BadConfig {
        /// What is wrong with it.
        reason: String,
    },
    /// The weights are corrupt or do not fit the model's shape.
    #[error("holds weights that do not fit the model: {reason}")]
    Weights {
        /// burn's description of the mismatch.
        reason: String,
    },
}
