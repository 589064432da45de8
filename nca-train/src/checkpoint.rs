//! Checkpoints: everything a run needs to continue exactly where it stopped, in one file.
//!
//! A [`container`](nca_core::container) with the magic `NCACKPT\0`: a JSON header (config,
//! iteration, random generator, shapes, section lengths), then the sections as the payload: model
//! file, optimiser record (burnpack), target and pool (f32, little endian), then a goal run's
//! targets (f32) and pool goals (u32, little endian); and a checksum. Version 1 checkpoints
//! (before the checksum) and version 2 (before goals) still load, as runs of one target.

use std::path::Path;

use nca_core::container::{self, ContainerError};
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::{SamplePool, TrainConfig, TrainError};

/// The first bytes of every checkpoint.
pub const CHECKPOINT_MAGIC: &[u8; 8] = b"NCACKPT\0";
/// The checkpoint format this build writes (and the newest it reads).
pub const CHECKPOINT_VERSION: u32 = 3;
/// The largest checkpoint [`Checkpoint::load`] reads (64 GiB); it reads no more than the length
/// the file's header gives.
pub const MAX_CHECKPOINT_BYTES: u64 = 64 << 30;
/// The largest header [`Checkpoint::progress`] reads.
const MAX_HEADER_BYTES: u32 = 1 << 20;

/// A training run frozen between two iterations.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The run's config.
    pub config: TrainConfig,
    /// Iterations completed.
    pub iteration: usize,
    /// The random generator, ready for the next iteration.
    pub rng: Xoshiro256PlusPlus,
    /// The model, as an nca model file.
    pub model: Vec<u8>,
    /// The optimiser's state (burnpack bytes).
    pub optimizer: Vec<u8>,
    /// The target: the visible channels and alpha (RGBA for the paper's model), premultiplied.
    pub target: Vec<f32>,
    /// `[visible + 1, H, W]` of the target.
    pub target_shape: [usize; 3],
    /// The sample pool, if the run has one (on a goal run, with each state's goal).
    pub pool: Option<SamplePool>,
    /// A goal run's targets, one per goal, each of `target_shape` (`target` is goal 0's); empty
    /// for a run of one target.
    pub goal_targets: Vec<Vec<f32>>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    config: TrainConfig,
    iteration: usize,
    rng: Xoshiro256PlusPlus,
    target_shape: [usize; 3],
    pool_shape: Option<[usize; 3]>,
    pool_len: usize,
    model_bytes: usize,
    optimizer_bytes: usize,
    /// A goal run's targets, after the pool (none before version 3).
    #[serde(default, skip_serializing_if = "is_zero")]
    goal_targets: usize,
    /// Whether the pool's goals follow the goal targets (a goal run with a pool).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pool_goals: bool,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl Checkpoint {
    /// Writes the checkpoint atomically: an interruption leaves the previous one intact.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let header = Header {
            config: self.config.clone(),
            iteration: self.iteration,
            rng: self.rng.clone(),
            target_shape: self.target_shape,
            pool_shape: self.pool.as_ref().map(SamplePool::shape),
            pool_len: self.pool.as_ref().map_or(0, SamplePool::len),
            model_bytes: self.model.len(),
            optimizer_bytes: self.optimizer.len(),
            goal_targets: self.goal_targets.len(),
            pool_goals: !self.goal_targets.is_empty() && self.pool.is_some(),
        };
        let pool_goals = header.pool_goals;
        let header = serde_json::to_vec(&header).expect("a header always serialises");
        let bytes = container::write(CHECKPOINT_MAGIC, CHECKPOINT_VERSION, &header, |bytes| {
            bytes.extend_from_slice(&self.model);
            bytes.extend_from_slice(&self.optimizer);
            extend_f32(bytes, &self.target);
            for state in self.pool.iter().flat_map(|pool| pool.states()) {
                extend_f32(bytes, state);
            }
            for target in &self.goal_targets {
                extend_f32(bytes, target);
            }
            if pool_goals {
                for &goal in self.pool.iter().flat_map(|pool| pool.goals()) {
                    let goal = u32::try_from(goal).expect("a goal index is below 64");
                    bytes.extend_from_slice(&goal.to_le_bytes());
                }
            }
        });
        nca_core::io::write_atomic(path, &bytes)?;
        Ok(())
    }

    /// How far the run saved at `path` went, `(iterations done, iterations in all)`, from the
    /// checkpoint's header alone (the weights and the pool are not read, nor checked); `None`
    /// when the file does not start as a checkpoint.
    pub fn progress(path: &Path) -> Option<(usize, usize)> {
        use std::io::Read;
        #[derive(Deserialize)]
        struct Length {
            iterations: usize,
        }
        #[derive(Deserialize)]
        struct Progress {
            config: Length,
            iteration: usize,
        }
        let mut file = std::fs::File::open(path).ok()?;
        let mut prefix = [0u8; 24];
        file.read_exact(&mut prefix[..16]).ok()?;
        let u32_at =
            |at: usize| u32::from_le_bytes(prefix[at..at + 4].try_into().expect("4 bytes"));
        let (version, header_len) = (u32_at(8), u32_at(12));
        if &prefix[..8] != CHECKPOINT_MAGIC || version == 0 || version > CHECKPOINT_VERSION {
            return None;
        }
        if version >= 2 {
            // The payload's length, before the header.
            file.read_exact(&mut prefix[16..24]).ok()?;
        }
        // A header holds a config and a few numbers: a few KiB.
        if header_len > MAX_HEADER_BYTES {
            return None;
        }
        let mut header = Vec::new();
        file.take(u64::from(header_len))
            .read_to_end(&mut header)
            .ok()?;
        let progress: Progress = serde_json::from_slice(&header).ok()?;
        Some((progress.iteration, progress.config.iterations))
    }

    /// Reads a checkpoint written by [`Checkpoint::save`], reading no more of the file than its
    /// header says it holds.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let bytes = container::read_file(
            path,
            CHECKPOINT_MAGIC,
            MAX_CHECKPOINT_BYTES,
            "nca checkpoint",
        )
        .map_err(|err| match err {
            nca_core::NcaError::Io { path, source } => TrainError::Io { path, source },
            other => other.into(),
        })?;
        let bad = |reason: &str| TrainError::Checkpoint {
            path: path.into(),
            reason: reason.into(),
        };
        let parts = container::read(&bytes, CHECKPOINT_MAGIC, CHECKPOINT_VERSION).map_err(|err| {
            bad(&match err {
                ContainerError::NotOurs => {
                    "not an nca checkpoint (it does not start with the checkpoint header)".into()
                }
                ContainerError::Unsupported(found) => format!(
                    "checkpoint format version {found} (this build reads versions up to {CHECKPOINT_VERSION})"
                ),
                ContainerError::Truncated(what) => format!("truncated: {what}"),
                ContainerError::TrailingBytes => {
                    "unexpected bytes after the end of the checkpoint".into()
                }
                ContainerError::Corrupted => {
                    "damaged: its checksum does not match its contents".into()
                }
            })
        })?;
        let mut reader = Sections {
            bytes: parts.payload,
            at: 0,
        };
        let header_bytes = parts.header;
        let header: Header = serde_json::from_slice(header_bytes)
            .map_err(|err| bad(&format!("unreadable header: {err}")))?;
        header.config.validate()?;
        let truncated = || bad("truncated: the file ends before its contents");
        let model = reader
            .take(header.model_bytes)
            .ok_or_else(truncated)?
            .to_vec();
        let optimizer = reader
            .take(header.optimizer_bytes)
            .ok_or_else(truncated)?
            .to_vec();
        // Sizes from the header are checked against the file before anything is allocated.
        let impossible = || bad("the header gives impossible sizes");
        let size = |[c, h, w]: [usize; 3]| c.checked_mul(h)?.checked_mul(w);
        let target_len = size(header.target_shape).ok_or_else(impossible)?;
        let target = reader.take_f32(target_len).ok_or_else(truncated)?;
        let pool = match header.pool_shape {
            Some(shape) => {
                let state_len = size(shape).filter(|&len| len > 0).ok_or_else(impossible)?;
                let pool_bytes = header
                    .pool_len
                    .checked_mul(state_len)
                    .and_then(|n| n.checked_mul(4))
                    .ok_or_else(impossible)?;
                if pool_bytes > reader.bytes.len() - reader.at {
                    return Err(truncated());
                }
                let states = (0..header.pool_len)
                    .map(|_| reader.take_f32(state_len))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(truncated)?;
                Some(SamplePool::from_states(states, shape))
            }
            None => None,
        };
        let goals = header.config.model.goals.len();
        if header.goal_targets != goals && header.goal_targets != 0 {
            return Err(bad(&format!(
                "it holds {} goal targets, but its model has {goals} goals",
                header.goal_targets
            )));
        }
        if header
            .goal_targets
            .checked_mul(target_len)
            .and_then(|n| n.checked_mul(4))
            .is_none_or(|bytes| bytes > reader.bytes.len() - reader.at)
        {
            return Err(truncated());
        }
        let goal_targets = (0..header.goal_targets)
            .map(|_| reader.take_f32(target_len))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(truncated)?;
        let pool = match (pool, header.pool_goals) {
            (Some(pool), true) => {
                let goals = reader
                    .take(pool.len().checked_mul(4).ok_or_else(impossible)?)
                    .ok_or_else(truncated)?
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
                    .collect();
                Some(pool.with_goals(goals))
            }
            (None, true) => return Err(bad("it gives pool goals but no pool")),
            (pool, false) => pool,
        };
        if reader.at != parts.payload.len() {
            return Err(bad("unexpected bytes after the end of the checkpoint"));
        }
        Ok(Self {
            config: header.config,
            iteration: header.iteration,
            rng: header.rng,
            model,
            optimizer,
            target,
            target_shape: header.target_shape,
            pool,
            goal_targets,
        })
    }
}

fn extend_f32(bytes: &mut Vec<u8>, values: &[f32]) {
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
}

/// Reads consecutive sections out of a byte buffer.
struct Sections<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Sections<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let section = self.bytes.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some(section)
    }

    fn take_f32(&mut self, count: usize) -> Option<Vec<f32>> {
        let section = self.take(count.checked_mul(4)?)?;
        Some(
            section
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect(),
        )
    }
}
