//! One versioned file holds a model: its config and its weights (burn's burnpack record).
//!
//! A [`container`](crate::container) with the magic `NCAMODEL`: the config as the JSON header,
//! the burnpack bytes of the weights as the payload, and a checksum. Version 1 files (before the
//! checksum) and version 2 files (before the config's variant options: border, seed, alive
//! masking, Laplacian) still load, with the paper's growing NCA for the options they lack.

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

use crate::container::{self, ContainerError};
use crate::io::write_atomic;
use crate::{ModelFileError, Nca, NcaConfig, NcaError, host_values};

/// The first bytes of every nca model file.
pub const MAGIC: &[u8; 8] = b"NCAMODEL";
/// The model file format this build writes (and the newest it reads).
pub const FORMAT_VERSION: u32 = 3;
/// The largest model file [`Nca::load`] reads (256 MiB: 64 million weights, thousands of times
/// the paper's model); a longer file is refused before it is read.
pub const MAX_MODEL_FILE_BYTES: u64 = 256 << 20;

impl Nca {
    /// The model as the bytes of an nca model file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, NcaError> {
        let config = serde_json::to_vec(self.config()).expect("a config always serialises");
        let weights = self
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|err| NcaError::Encode {
                reason: err.to_string(),
            })?;
        Ok(container::write(MAGIC, FORMAT_VERSION, &config, |bytes| {
            bytes.extend_from_slice(&weights)
        }))
    }

    /// Saves the model and its config to `path`, atomically: a crash leaves the old file intact.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NcaError> {
        write_atomic(path.as_ref(), &self.to_bytes()?)
    }

    /// Loads a model saved with [`Nca::save`] onto `device`, reading no more of the file than
    /// its header says it holds (at most [`MAX_MODEL_FILE_BYTES`]).
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self, NcaError> {
        let path = path.as_ref();
        let bytes = container::read_file(path, MAGIC, MAX_MODEL_FILE_BYTES, "nca model file")?;
        Self::from_bytes(&bytes, device).map_err(|problem| NcaError::File {
            path: path.into(),
            problem,
        })
    }

    /// Reads a model from the bytes of a model file (the caller names their source in errors).
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self, ModelFileError> {
        let truncated = |what: &str| ModelFileError::Truncated { what: what.into() };
        let parts = container::read(bytes, MAGIC, FORMAT_VERSION).map_err(|err| match err {
            ContainerError::NotOurs => ModelFileError::NotAModel,
            ContainerError::Unsupported(found) => ModelFileError::UnsupportedVersion {
                found,
                supported: FORMAT_VERSION,
            },
            ContainerError::Truncated(what) => truncated(what),
            ContainerError::TrailingBytes | ContainerError::Corrupted => ModelFileError::Corrupted,
        })?;
        let bad_config = |reason: String| ModelFileError::BadConfig { reason };
        let config: NcaConfig =
            serde_json::from_slice(parts.header).map_err(|err| bad_config(err.to_string()))?;
        config
            .validate()
            .map_err(|err| bad_config(err.to_string()))?;
        let weights = parts.payload;
        if weights.is_empty() {
            return Err(truncated("the weights are missing"));
        }
        // Refuse a header that asks for more weights than the file holds before allocating
        // them (a crafted file could otherwise ask for gigabytes).
        let needed = update_weight_bytes(&config);
        if needed.is_none_or(|needed| needed > weights.len()) {
            return Err(bad_config(format!(
                "it describes a network of {} hidden units, whose weights the file's {} bytes cannot hold",
                config.hidden_units,
                weights.len()
            )));
        }
        let bad_weights = |reason: String| ModelFileError::Weights { reason };
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights.to_vec()))
            .map_err(|err| bad_weights(err.to_string()))?;
        // The initial weights are overwritten by the record; any generator will do.
        let blank = config
            .init(device, &mut Xoshiro256PlusPlus::seed_from_u64(0))
            .map_err(|err| bad_config(err.to_string()))?;
        let model = blank
            .try_load_record(record)
            .map_err(|err| bad_weights(err.to_string()))?;
        if !model.weights_are_finite() {
            return Err(bad_weights("some weights are NaN or infinite".into()));
        }
        Ok(model)
    }

    /// Whether every weight is a finite number.
    pub fn weights_are_finite(&self) -> bool {
        struct Finite(bool);
        impl ModuleVisitor for Finite {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0 &= host_values(param.val()).iter().all(|v| v.is_finite());
            }
        }
        let mut finite = Finite(true);
        self.visit(&mut finite);
        finite.0
    }
}

/// Bytes of the update network's weights and biases (and a goal model's goal input) as `f32`,
/// or `None` past `usize`.
fn update_weight_bytes(config: &NcaConfig) -> Option<usize> {
    let (inputs, hidden, outputs) = (
        config.channels.checked_mul(3)?,
        config.hidden_units,
        config.channels,
    );
    let first = inputs.checked_add(1)?.checked_mul(hidden)?;
    let second = hidden.checked_add(1)?.checked_mul(outputs)?;
    let goal = if config.has_goals() {
        let size = config.goal_size;
        config
            .goals
            .len()
            .checked_mul(size)?
            .checked_add(size.checked_mul(hidden)?)?
    } else {
        0
    };
    first.checked_add(second)?.checked_add(goal)?.checked_mul(4)
}
