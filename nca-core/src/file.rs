//! One versioned file holds a model: its config and its weights (burn's burnpack record).
//!
//! Layout: the 8-byte magic `NCAMODEL`, the format version (u32, little endian), the length of
//! the config (u32), the config as JSON, then the burnpack bytes of the weights.

use std::path::Path;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

use crate::{Nca, NcaConfig, NcaError, write_atomic};

/// The first bytes of every nca model file.
pub const MAGIC: &[u8; 8] = b"NCAMODEL";
/// The model file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const HEADER_LEN: usize = MAGIC.len() + 8;

impl Nca {
    /// The model as the bytes of an nca model file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, NcaError> {
        let config = serde_json::to_vec(self.config()).expect("a config always serialises");
        let weights = self
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|err| NcaError::Weights {
                path: "<memory>".into(),
                reason: err.to_string(),
            })?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + config.len() + weights.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(config.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&config);
        bytes.extend_from_slice(&weights);
        Ok(bytes)
    }

    /// Saves the model and its config to `path`, atomically: a crash leaves the old file intact.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NcaError> {
        write_atomic(path.as_ref(), &self.to_bytes()?)
    }

    /// Loads a model saved with [`Nca::save`] onto `device`.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self, NcaError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| NcaError::Io {
            path: path.into(),
            source,
        })?;
        Self::from_bytes(&bytes, path, device)
    }

    /// Reads a model from the bytes of a model file; `path` only names the source in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path, device: &Device) -> Result<Self, NcaError> {
        let truncated = |what: &str| NcaError::Truncated {
            path: path.into(),
            what: what.into(),
        };
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(NcaError::NotAModel { path: path.into() });
        }
        if bytes.len() < HEADER_LEN {
            return Err(truncated("the header is incomplete"));
        }
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let version = word(MAGIC.len());
        if version != FORMAT_VERSION {
            return Err(NcaError::UnsupportedVersion {
                path: path.into(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let config_end = HEADER_LEN + word(MAGIC.len() + 4) as usize;
        let config_bytes = bytes
            .get(HEADER_LEN..config_end)
            .ok_or_else(|| truncated("the config is incomplete"))?;
        let config: NcaConfig =
            serde_json::from_slice(config_bytes).map_err(|err| NcaError::BadConfig {
                path: path.into(),
                reason: err.to_string(),
            })?;
        config.validate().map_err(|err| NcaError::BadConfig {
            path: path.into(),
            reason: err.to_string(),
        })?;
        let weights = &bytes[config_end..];
        if weights.is_empty() {
            return Err(truncated("the weights are missing"));
        }
        // Refuse a header that asks for more weights than the file holds before allocating
        // them (a crafted file could otherwise ask for gigabytes).
        let needed = update_weight_bytes(&config);
        if needed.is_none_or(|needed| needed > weights.len()) {
            return Err(NcaError::BadConfig {
                path: path.into(),
                reason: format!(
                    "it describes a network of {} hidden units, whose weights the file's {} bytes cannot hold",
                    config.hidden_units,
                    weights.len()
                ),
            });
        }
        let record =
            ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights.to_vec())).map_err(|err| {
                NcaError::Weights {
                    path: path.into(),
                    reason: err.to_string(),
                }
            })?;
        // The initial weights are overwritten by the record; any generator will do.
        let blank = Nca::new(config, device, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
        blank
            .try_load_record(record)
            .map_err(|err| NcaError::Weights {
                path: path.into(),
                reason: err.to_string(),
            })
    }
}

/// Bytes of the update network's weights and biases as `f32`, or `None` past `usize`.
fn update_weight_bytes(config: &NcaConfig) -> Option<usize> {
    let (inputs, hidden, outputs) = (
        config.channels.checked_mul(3)?,
        config.hidden_units,
        config.channels,
    );
    let first = inputs.checked_add(1)?.checked_mul(hidden)?;
    let second = hidden.checked_add(1)?.checked_mul(outputs)?;
    first.checked_add(second)?.checked_mul(4)
}
