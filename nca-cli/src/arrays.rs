//! Arrays for Python users: a rollout's states as a `.npy` file (numpy), streamed frame by frame
//! (`nca grow --out states.npy`), and a model's weights as a `.safetensors` file (numpy, PyTorch)
//! with its config in the metadata (`nca export --format safetensors`). Both are written through
//! an [`AtomicFile`]: a killed run leaves no partial file under the final name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::tensor::Tensor;
use nca_core::io::AtomicFile;
use nca_core::{Nca, host_values};
use npyz::WriterBuilder;
use safetensors::Dtype;
use safetensors::tensor::TensorView;

/// The name of nca's safetensors layout, in the file's metadata (`format`).
pub const SAFETENSORS_FORMAT: &str = "nca-safetensors";
/// The version of that layout, in the file's metadata (`format_version`).
pub const SAFETENSORS_VERSION: u32 = 1;

/// How the tensors of a safetensors file are laid out, in the file's metadata (`layout`).
const SAFETENSORS_LAYOUT: &str = "perception.filters [3C, 1, 3, 3]: depthwise 3x3 filters \
(groups = C; for channel c the identity, x and y filters at rows 3c, 3c+1, 3c+2; applied by \
cross-correlation with zero padding); update.hidden.weight [3C, hidden] and update.output.weight \
[hidden, C]: dense layers as x @ weight + bias (transpose for torch.nn.Linear), ReLU between them; \
a step adds the update times update_scale to the cells that fire (fire_rate), then zeroes the cells \
not alive both before and after (alive: the largest alpha of the 3x3 neighbourhood above \
living_threshold); a goal model (config.goals, also in goals) adds, to the hidden layer of every cell \
growing goal g, goal.embedding[g] @ goal.weight (goal.embedding [G, E]: one vector per goal, in \
the order of goals; goal.weight [E, hidden]); the numbers are in config";

/// A `.npy` file of `[frames, channels, height, width]` float32 states being written one frame
/// at a time, so that memory holds no more than one state however long the rollout: npyz writes
/// the header (dtype `<f4`, C order, the shape), each frame follows as little-endian bytes.
pub struct NpyFrames {
    file: AtomicFile,
    shape: [usize; 3],
    frames: usize,
    written: usize,
    path: PathBuf,
}

impl NpyFrames {
    /// Starts writing `frames` states of `[channels, height, width]` to `path`; refuses, before
    /// any work, a file whose size would not fit in 64 bits.
    pub fn create(path: &Path, frames: usize, shape: [usize; 3]) -> anyhow::Result<Self> {
        npy_bytes(frames, shape).with_context(|| {
            format!(
                "cannot write {}: {frames} frames of {}x{}x{} values are too many for one file; lower --steps or raise --every",
                path.display(),
                shape[0],
                shape[1],
                shape[2]
            )
        })?;
        let dims: Vec<u64> = std::iter::once(frames)
            .chain(shape)
            .map(|n| n as u64)
            .collect();
        let mut header = Vec::new();
        npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&dims)
            .writer(&mut header)
            .write_header_only()
            .expect("writing to memory cannot fail");
        let mut file = AtomicFile::create(path)?;
        file.write_all(&header)?;
        Ok(Self {
            file,
            shape,
            frames,
            written: 0,
            path: path.into(),
        })
    }

    /// Appends one state, `[1, channels, height, width]`.
    pub fn push(&mut self, state: &Tensor<4>) -> anyhow::Result<()> {
        let [batch, channels, height, width] = state.dims();
        assert!(
            batch == 1 && [channels, height, width] == self.shape,
            "a frame of shape {:?} for a file of {:?}",
            state.dims(),
            self.shape
        );
        assert!(self.written < self.frames, "more frames than announced");
        let bytes: Vec<u8> = host_values(state.clone())
            .iter()
            .flat_map(|value| value.to_le_bytes())
            .collect();
        self.file.write_all(&bytes)?;
        self.written += 1;
        Ok(())
    }

    /// Finishes the file and puts it in place; fails if fewer frames came than announced.
    pub fn finish(self) -> anyhow::Result<()> {
        if self.written != self.frames {
            bail!(
                "cannot write {}: {} of {} frames came",
                self.path.display(),
                self.written,
                self.frames
            );
        }
        self.file.commit()?;
        Ok(())
    }
}

/// Bytes of a `.npy` file of `frames` states of `shape` (its data; the header adds 128 at most),
/// or `None` past 64 bits.
pub fn npy_bytes(frames: usize, shape: [usize; 3]) -> Option<u64> {
    shape
        .iter()
        .try_fold(frames as u64, |n, &d| n.checked_mul(d as u64))?
        .checked_mul(4)
}

/// Frames of a rollout of `steps` steps kept every `every` steps: the start, one per `every`
/// steps, and the last (as `run_frames` hands them out).
pub fn frame_count(steps: usize, every: usize) -> usize {
    1 + steps.div_ceil(every)
}

/// The model's weights as a safetensors file: float32 tensors by name (`perception.filters`,
/// `update.hidden.weight`, `update.hidden.bias`, `update.output.weight`, `update.output.bias`;
/// a goal model's `goal.embedding` `[goals, goal_size]` and `goal.weight` `[goal_size, hidden]`
/// too) and, in the metadata, the format's name and version, the model's name, the nca version,
/// the layout of the tensors, the model's config as JSON (`config`) and a goal model's goal names
/// as a JSON array (`goals`).
pub fn safetensors_bytes(model: &Nca, name: &str) -> anyhow::Result<Vec<u8>> {
    let config = model.config();
    let (channels, hidden) = (config.channels, config.hidden_units);
    let inputs = config.perception_channels();
    let weights = model.update.host_weights();
    let mut tensors: Vec<(&str, Vec<usize>, Vec<f32>)> = vec![
        (
            "perception.filters",
            vec![inputs, 1, 3, 3],
            model.perception.filters(channels),
        ),
        (
            "update.hidden.weight",
            vec![inputs, hidden],
            weights.hidden_weight,
        ),
        ("update.hidden.bias", vec![hidden], weights.hidden_bias),
        (
            "update.output.weight",
            vec![hidden, channels],
            weights.output_weight,
        ),
        ("update.output.bias", vec![channels], weights.output_bias),
    ];
    if let Some(goal) = &model.goal {
        let (goals, size) = (config.goals.len(), config.goal_size);
        let host = goal.host();
        tensors.push(("goal.embedding", vec![goals, size], host.embedding));
        tensors.push(("goal.weight", vec![size, hidden], host.weight));
    }
    let bytes: Vec<(&str, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, shape, values)| {
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name, shape, bytes)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|view| (*name, view))
                .with_context(|| format!("the model's {name} does not have the shape {shape:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut metadata = HashMap::from([
        ("format".to_string(), SAFETENSORS_FORMAT.to_string()),
        (
            "format_version".to_string(),
            SAFETENSORS_VERSION.to_string(),
        ),
        ("name".to_string(), name.to_string()),
        (
            "nca_version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        ("layout".to_string(), SAFETENSORS_LAYOUT.to_string()),
        (
            "config".to_string(),
            serde_json::to_string(config).expect("a config always serialises"),
        ),
    ]);
    if config.has_goals() {
        metadata.insert(
            "goals".to_string(),
            serde_json::to_string(&config.goals).expect("names always serialise"),
        );
    }
    safetensors::serialize(views, Some(metadata))
        .map_err(|err| anyhow::anyhow!("cannot encode the model as safetensors: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_the_start_every_chunk_and_the_last() {
        assert_eq!(frame_count(0, 2), 1);
        assert_eq!(frame_count(4, 2), 3);
        assert_eq!(frame_count(5, 2), 4);
        assert_eq!(frame_count(5, 1), 6);
        assert_eq!(frame_count(3, 10), 2);
    }

    #[test]
    fn sizes_past_64_bits_are_none() {
        assert_eq!(npy_bytes(2, [16, 8, 8]), Some(2 * 16 * 8 * 8 * 4));
        assert_eq!(npy_bytes(usize::MAX, [16, 1024, 1024]), None);
    }
}
