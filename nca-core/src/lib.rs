//! Growing Neural Cellular Automata (Mordvintsev et al., Distill 2020) on any burn device.
//!
//! A grid of cells, each holding a vector of channels (colour, alpha, hidden state), updates
//! itself by a small network that every cell runs on what it perceives of its 3x3
//! neighbourhood. Trained, it grows a target image from a single seed cell, keeps it and
//! regrows it after damage.
//!
//! This crate holds the model, its rollout and its model files: no training loop (that is
//! `nca-train`, which takes its gradients from burn's autodiff or from this crate's fused kernel),
//! no image I/O, no backend of its own. It works on whichever burn
//! [`Device`](burn::tensor::Device) the caller brings, and has a fused CPU kernel ([`FusedNca`],
//! [`Engine::Fused`]) that computes the same steps, and their gradients, much faster on a CPU.
//!
//! ```
//! use burn::tensor::Device;
//! use nca_core::{Engine, Nca, NcaConfig};
//! use rand::SeedableRng;
//! use rand::rngs::Xoshiro256PlusPlus;
//!
//! let device = Device::flex();
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(42);
//! let nca = NcaConfig::default().init(&device, &mut rng)?;
//!
//! let seed = nca.seed(1, 32, 32);
//! let grown = nca.rollout(seed, 10, &mut rng);
//! assert_eq!(grown.dims(), [1, 16, 32, 32]);
//!
//! // The same model on nca's fused CPU kernel (no autodiff).
//! let fast = nca.clone().with_engine(Engine::Fused);
//! assert_eq!(fast.advance(nca.seed(2, 32, 32), 10, &mut rng).dims(), [2, 16, 32, 32]);
//!
//! // Pictures: RGBA (premultiplied) and RGB over a white background.
//! let rgb = nca.config().over_white(grown);
//! assert_eq!(rgb.dims(), [1, 3, 32, 32]);
//! # Ok::<(), nca_core::NcaError>(())
//! ```

mod config;
pub mod container;
mod engine;
mod error;
mod file;
mod fused;
mod goal;
mod host;
mod host_grid;
pub mod io;
mod model;
mod perception;
mod state;
mod update;

pub use config::{Border, MAX_GOALS, NcaConfig, Seed};
pub use engine::Engine;
pub use error::{ModelFileError, NcaError};
pub use file::{FORMAT_VERSION, MAGIC, MAX_MODEL_FILE_BYTES};
pub use fused::{
    FusedGradients, FusedIteration, FusedNca, HostLoss, perception_rows_to_bands,
    perception_rows_to_interleaved,
};
pub use goal::{GoalEmbedding, HostGoal};
pub use host::host_values;
pub use host_grid::{Half, HostGrid};
pub use model::Nca;
pub use perception::{LAPLACIAN, Perception, SOBEL_X, Sobel};
pub use update::{HostWeights, UpdateNet};

/// Measurements of the machine for benchmarks (`nca bench --task peak`), not the model's API.
pub mod bench {
    pub use crate::fused::multiply_add_peak;
}

/// The random number generator crate whose `Rng` drives the stochastic updates.
pub use rand;
