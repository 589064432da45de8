//! Training of growing neural cellular automata, as in Mordvintsev et al. (2020).
//!
//! The loss (RGBA mean squared error against the target), the sample pool with its rules
//! (sample, sort by loss, reseed the worst, damage the best, write back), damage by random
//! discs, per-parameter gradient normalisation, Adam with a piecewise-constant learning rate,
//! and atomic, resumable checkpoints. No UI: progress goes to an [`Observer`]. And the
//! scorecard any model can be measured by ([`eval`], the protocol of `nca eval`).
//!
//! ```no_run
//! use burn::tensor::{Device, Tensor};
//! use nca_train::{Experiment, RunDir, TrainConfig, Trainer};
//!
//! let device = Device::flex();
//! let target: Tensor<3> = Tensor::zeros([4, 72, 72], &device); // e.g. from nca-data
//! let config = TrainConfig { iterations: 500, ..TrainConfig::preset(Experiment::Regenerating) };
//! let dir = RunDir::create("runs/gecko".as_ref(), &config)?; // a new or empty directory, locked
//! let mut trainer = Trainer::new(config, target, &device)?;
//! trainer.run(Some(&dir), &mut ())?;
//! trainer.model().save("gecko.nca")?;
//! # Ok::<(), nca_train::TrainError>(())
//! ```

mod checkpoint;
mod config;
mod error;
pub mod eval;
mod gradients;
mod loss;
mod pool;
mod run_dir;
mod trainer;

pub use checkpoint::{CHECKPOINT_MAGIC, CHECKPOINT_VERSION, Checkpoint, MAX_CHECKPOINT_BYTES};
pub use config::{
    Experiment, GoalRun, GradientMode, LrSchedule, MAX_CONFIG_BYTES, MemoryNeed, MemoryUse,
    TextureRun, TrainConfig,
};
pub use error::TrainError;
pub use gradients::condition;
pub use loss::{Loss, RgbaLoss, TextureLoss, TextureOptions};
pub use pool::{SamplePool, damage, random_disc};
pub use run_dir::{
    CHECKPOINT_FILE, CONFIG_FILE, GROWTH_PICTURE, LOSS_PICTURE, METRICS_FILE, MODEL_FILE,
    POOL_PICTURE, RunDir,
};
pub use trainer::{Control, Metrics, Observer, Trainer};
