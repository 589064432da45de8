//! The one error type of `nca-train`.

use std::path::PathBuf;

/// Everything that can stop a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A config value is impossible.
    #[error("invalid training config: `{field}` {reason}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The model config is impossible, or a model file is unusable.
    #[error(transparent)]
    Model(#[from] nca_core::NcaError),
    /// The model inside a checkpoint cannot be used.
    #[error("the checkpoint's model {0}")]
    CheckpointModel(nca_core::ModelFileError),
    /// The target does not suit the model.
    #[error(
        "the target must be a [{expected}, H, W] tensor (colour + alpha of the model), got {got:?}"
    )]
    TargetShape {
        /// Channels the model shows.
        expected: usize,
        /// The shape given.
        got: [usize; 3],
    },
    /// The loss or the gradient stopped being a finite number.
    #[error(
        "training diverged at iteration {iteration}: the {what} is {value}; the last checkpoint is untouched"
    )]
    NonFinite {
        /// The iteration (counted from 0).
        iteration: usize,
        /// `"loss"` or `"gradient norm"`.
        what: &'static str,
        /// The value seen.
        value: f64,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A resumed run would not be the same run.
    #[error(
        "`{field}` cannot change when resuming a run (only the iterations and the checkpoint interval can)"
    )]
    ResumeChange {
        /// The first config field (dotted path) that differs.
        field: String,
    },
    /// A new run was asked for in a directory that holds one.
    #[error("{} already holds a run", path.display())]
    RunExists {
        /// The directory.
        path: PathBuf,
    },
    /// A new run was asked for in a directory that holds something else.
    #[error("{} is not empty (it holds {holds}, and no run)", path.display())]
    NotEmpty {
        /// The directory.
        path: PathBuf,
        /// The name of one thing in it.
        holds: String,
    },
    /// A run directory cannot be used as asked.
    #[error("{} {reason}", path.display())]
    RunDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A checkpoint is unreadable or does not fit.
    #[error("{}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}
