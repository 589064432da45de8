//! A run directory, the one owner of a training run's files: its layout (config, model,
//! checkpoint, metrics, pictures), and the rules that keep it whole: a new run only in a new or
//! empty directory, one run at a time (a lock, held while a [`RunDir`] lives: [`Trainer::run`]
//! writes only into a locked one), temporary files of a killed run cleaned, and a resumed run
//! changing only what may change.
//!
//! [`Trainer::run`]: crate::Trainer::run

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::{Checkpoint, Metrics, TrainConfig, TrainError};

/// The training config, as TOML (reusable with `nca train --config`).
pub const CONFIG_FILE: &str = "config.toml";
/// The checkpoint (model, optimiser, pool, generator, target).
pub const CHECKPOINT_FILE: &str = "checkpoint.nckpt";
/// The model alone.
pub const MODEL_FILE: &str = "model.nca";
/// One JSON line of metrics per iteration.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// The model growing from the seed, refreshed at each checkpoint (by the CLI).
pub const GROWTH_PICTURE: &str = "growth.gif";
/// The loss curve, refreshed at each checkpoint (by the CLI).
pub const LOSS_PICTURE: &str = "loss.svg";
/// A sample of the pool, refreshed at each checkpoint (by the CLI; runs with a pool only).
pub const POOL_PICTURE: &str = "pool.png";
/// Held (locked) by the run using the directory.
const LOCK_FILE: &str = ".lock";

/// A run directory in use by this process: locked until dropped.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    _lock: File,
}

impl RunDir {
    /// Whether `path` can take a new run: it does not exist, is empty, or holds only what a run
    /// that failed to start left (its config and lock). Cheap; [`create`](Self::create) checks
    /// again.
    pub fn check_new(path: &Path) -> Result<(), TrainError> {
        if path.join(CHECKPOINT_FILE).exists() {
            return Err(TrainError::RunExists { path: path.into() });
        }
        let foreign = std::fs::read_dir(path).ok().and_then(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .find(|name| name != CONFIG_FILE && name != LOCK_FILE)
        });
        match foreign {
            Some(holds) => Err(TrainError::NotEmpty {
                path: path.into(),
                holds,
            }),
            None => Ok(()),
        }
    }

    /// A new run in `path` with `config`: checked as [`check_new`](Self::check_new) says,
    /// created, locked, its config written.
    pub fn create(path: &Path, config: &TrainConfig) -> Result<Self, TrainError> {
        Self::check_new(path)?;
        std::fs::create_dir_all(path).map_err(|source| TrainError::Io {
            path: path.into(),
            source,
        })?;
        let dir = Self::lock(path)?;
        nca_core::io::write_atomic(&dir.file(CONFIG_FILE), config.to_toml().as_bytes())?;
        Ok(dir)
    }

    /// The run in `path`, locked, with its checkpoint. A path that is not a run directory is
    /// refused before anything is written there (no lock file is left behind).
    pub fn open(path: &Path) -> Result<(Self, Checkpoint), TrainError> {
        if !path.exists() {
            return Err(refused(
                path,
                "does not exist: no run to resume there".into(),
            ));
        }
        if !path.is_dir() {
            return Err(refused(
                path,
                "is not a run directory (give the directory that holds the run)".into(),
            ));
        }
        if !path.join(CHECKPOINT_FILE).is_file() {
            return Err(refused(
                path,
                format!("holds no run to resume (it has no {CHECKPOINT_FILE})"),
            ));
        }
        let dir = Self::lock(path)?;
        let checkpoint = Checkpoint::load(&dir.file(CHECKPOINT_FILE))?;
        Ok((dir, checkpoint))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A file of the run, e.g. [`MODEL_FILE`].
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The losses of the iterations recorded in [`METRICS_FILE`], in order.
    pub fn losses(&self) -> Vec<f64> {
        self.metrics().iter().map(|metrics| metrics.loss).collect()
    }

    fn metrics(&self) -> Vec<Metrics> {
        std::fs::read_to_string(self.file(METRICS_FILE))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Appends one iteration's metrics to [`METRICS_FILE`].
    pub(crate) fn append_metrics(&self, metrics: &Metrics) -> Result<(), TrainError> {
        use std::io::Write;
        let path = self.file(METRICS_FILE);
        let io = |source| TrainError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        let line = serde_json::to_string(metrics).expect("metrics always serialise");
        writeln!(file, "{line}").map_err(io)
    }

    /// Drops the metrics of iterations from `iteration` on: a run resumed from an earlier
    /// checkpoint records them again.
    pub(crate) fn trim_metrics(&self, iteration: usize) -> Result<(), TrainError> {
        let path = self.file(METRICS_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        let kept: String = text
            .lines()
            .filter(|line| {
                serde_json::from_str::<Metrics>(line).is_ok_and(|m| m.iteration < iteration)
            })
            .map(|line| format!("{line}\n"))
            .collect();
        if kept.len() != text.len() {
            nca_core::io::write_atomic(&path, kept.as_bytes())?;
        }
        Ok(())
    }

    /// Takes the lock (refused while another process holds it), then removes temporary files
    /// that a run killed mid-write left behind (only the lock holder writes here).
    fn lock(path: &Path) -> Result<Self, TrainError> {
        let lock_path = path.join(LOCK_FILE);
        let io_error = |source| TrainError::Io {
            path: lock_path.clone(),
            source,
        };
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(refused(
                    path,
                    format!(
                        "is in use by another `nca train` (it holds {})",
                        lock_path.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(io_error(err)),
        }
        for entry in std::fs::read_dir(path).map_err(io_error)?.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self {
            path: path.into(),
            _lock: lock,
        })
    }
}

impl Checkpoint {
    /// The checkpoint continued under `wanted`: only the iterations and the checkpoint interval
    /// may differ from the run's config; anything else is refused, naming the first field that
    /// differs (a resumed run must be the same run).
    pub fn with_config(self, wanted: TrainConfig) -> Result<Self, TrainError> {
        let comparable = TrainConfig {
            iterations: self.config.iterations,
            checkpoint_every: self.config.checkpoint_every,
            ..wanted.clone()
        };
        if let Some(field) = first_difference(&self.config, &comparable) {
            return Err(TrainError::ResumeChange { field });
        }
        wanted.validate()?;
        Ok(Self {
            config: wanted,
            ..self
        })
    }
}

/// The first config field (dotted path) whose value differs, if any.
fn first_difference(a: &TrainConfig, b: &TrainConfig) -> Option<String> {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                a.iter().find_map(|(key, value)| {
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(value, b.get(key)?, &path)
                })
            }
            _ => (a != b).then(|| path.to_string()),
        }
    }
    let json = |config: &TrainConfig| serde_json::to_value(config).expect("configs serialise");
    walk(&json(a), &json(b), "")
}

fn refused(path: &Path, reason: String) -> TrainError {
    TrainError::RunDir {
        path: path.into(),
        reason,
    }
}
