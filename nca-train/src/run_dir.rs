//! A run directory, the one owner of a training run's files: its layout (config, model,
//! checkpoint, metrics, pictures), and the rules that keep it whole: a new run only in a new or
//! empty directory, one run at a time (a lock, held while a [`RunDir`] lives and removed with it:
//! [`Trainer::run`] writes only into a locked one), temporary files of a killed run cleaned, a
//! resumed run changing only what may change, and a `config.toml` that says what the checkpoint
//! says.
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

/// A run directory in use by this process: locked until dropped, when its lock file is removed.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    lock: File,
}

impl RunDir {
    /// Whether `path` can take a new run: it does not exist, is empty, or holds only what a run
    /// that failed to start left (its config and lock); not while another process holds its lock.
    /// Cheap; [`create`](Self::create) checks again, holding the lock.
    pub fn check_new(path: &Path) -> Result<(), TrainError> {
        if path.exists() && !path.is_dir() {
            let what = if path.is_file() {
                "is a file, not a run directory"
            } else {
                "is not a directory"
            };
            return Err(refused(
                path,
                format!("{what}: a new run needs a new or empty directory"),
            ));
        }
        // What another run is writing there is no reason to refuse: that run is.
        Self::check_contents(path).map_err(|err| {
            if in_use(path) {
                in_use_refusal(path)
            } else {
                err
            }
        })
    }

    /// Whether what `path` holds leaves room for a new run (see [`check_new`](Self::check_new)).
    fn check_contents(path: &Path) -> Result<(), TrainError> {
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
    /// created, locked, checked again (another process may have started a run there meanwhile:
    /// whichever takes the lock first has it, the other is told the directory is in use), its
    /// config written.
    pub fn create(path: &Path, config: &TrainConfig) -> Result<Self, TrainError> {
        Self::check_new(path)?;
        std::fs::create_dir_all(path).map_err(|source| TrainError::Io {
            path: path.into(),
            source,
        })?;
        let dir = Self::lock(path)?;
        Self::check_contents(path)?;
        nca_core::io::write_atomic(&dir.file(CONFIG_FILE), config.to_toml().as_bytes())?;
        Ok(dir)
    }

    /// The run in `path`, locked, with its checkpoint. A path that is not a run directory is
    /// refused before anything is written there (no lock file is left behind); so is a run whose
    /// checkpoint and `config.toml` are not of the same run, naming the first difference. Where
    /// they differ only in what a resume may change (a run stopped after its config was
    /// rewritten, before its next checkpoint), `config.toml` is rewritten from the checkpoint.
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
        dir.agree(&checkpoint.config)?;
        Ok((dir, checkpoint))
    }

    /// The run's checkpoint continued under `wanted` ([`Checkpoint::with_config`]: only the
    /// iterations and the checkpoint interval may change); `config.toml` is rewritten to say so.
    pub fn resume(
        &self,
        checkpoint: Checkpoint,
        wanted: TrainConfig,
    ) -> Result<Checkpoint, TrainError> {
        let before = checkpoint.config.clone();
        let checkpoint = checkpoint.with_config(wanted)?;
        if checkpoint.config != before {
            self.write_config(&checkpoint.config)?;
        }
        Ok(checkpoint)
    }

    /// Checks that `config.toml` is the config of the checkpoint (`config`): refused, naming both
    /// files and the first difference, when it is another run's; rewritten when it is missing or
    /// differs only in what a resume may change.
    fn agree(&self, config: &TrainConfig) -> Result<(), TrainError> {
        let path = self.file(CONFIG_FILE);
        let text = match nca_core::io::read_text_limited(
            &path,
            crate::MAX_CONFIG_BYTES,
            "training config",
        ) {
            Err(nca_core::NcaError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return self.write_config(config);
            }
            other => other?,
        };
        let on_disk = TrainConfig::from_toml(&text).map_err(|err| {
            refused(
                &path,
                format!(
                    "cannot be read ({err}); it must be the config of {}",
                    self.file(CHECKPOINT_FILE).display()
                ),
            )
        })?;
        let comparable = TrainConfig {
            iterations: config.iterations,
            checkpoint_every: config.checkpoint_every,
            ..on_disk.clone()
        };
        if let Some(difference) = first_difference(config, &comparable) {
            return Err(TrainError::Checkpoint {
                path: self.file(CHECKPOINT_FILE),
                reason: format!(
                    "not this run's checkpoint: `{}` is {} in it and {} in {}; put back the \
                     run's own checkpoint (or its {CONFIG_FILE})",
                    difference.field,
                    difference.ours,
                    difference.theirs,
                    path.display(),
                ),
            });
        }
        if &on_disk != config {
            self.write_config(config)?;
        }
        Ok(())
    }

    /// Writes `config` as the run's `config.toml`, atomically.
    fn write_config(&self, config: &TrainConfig) -> Result<(), TrainError> {
        nca_core::io::write_atomic(&self.file(CONFIG_FILE), config.to_toml().as_bytes())?;
        Ok(())
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
        let lock = loop {
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(io_error)?;
            match lock.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Err(in_use_refusal(path)),
                Err(std::fs::TryLockError::Error(err)) => return Err(io_error(err)),
            }
            // The holder before us removes the lock file as it ends: a lock taken on the file it
            // removed would be no lock; take it again on the file now there.
            if same_file(&lock, &lock_path) {
                break lock;
            }
        };
        for entry in std::fs::read_dir(path).map_err(io_error)?.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self {
            path: path.into(),
            lock,
        })
    }
}

/// The lock file goes with the run: removed while still held, so that no other process can take
/// a lock on it that the next one would not see.
impl Drop for RunDir {
    fn drop(&mut self) {
        let lock_path = self.path.join(LOCK_FILE);
        if same_file(&self.lock, &lock_path) {
            let _ = std::fs::remove_file(lock_path);
        }
    }
}

/// Whether another process holds the lock of the run directory `path`.
fn in_use(path: &Path) -> bool {
    let Ok(lock) = std::fs::OpenOptions::new()
        .write(true)
        .open(path.join(LOCK_FILE))
    else {
        return false;
    };
    matches!(lock.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

fn in_use_refusal(path: &Path) -> TrainError {
    refused(
        path,
        format!(
            "is in use by another `nca train` (it holds {})",
            path.join(LOCK_FILE).display()
        ),
    )
}

/// Whether `file` is the file at `path` (on Unix, the same inode; elsewhere assumed).
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

impl Checkpoint {
    /// The checkpoint continued under `wanted`: only the iterations and the checkpoint interval
    /// may differ from the run's config; anything else is refused, naming the first field that
    /// differs (a resumed run must be the same run).
    pub fn with_config(self, wanted: TrainConfig) -> Result<Self, TrainError> {
        self.check_config(&wanted)?;
        Ok(Self {
            config: wanted,
            ..self
        })
    }

    /// Whether the run can continue under `wanted`, as [`with_config`](Self::with_config)
    /// checks it, without changing anything.
    pub fn check_config(&self, wanted: &TrainConfig) -> Result<(), TrainError> {
        let comparable = TrainConfig {
            iterations: self.config.iterations,
            checkpoint_every: self.config.checkpoint_every,
            ..wanted.clone()
        };
        if let Some(difference) = first_difference(&self.config, &comparable) {
            return Err(TrainError::ResumeChange {
                field: difference.field,
            });
        }
        wanted.validate()
    }
}

/// A config field whose value differs between two configs.
struct Difference {
    /// Its dotted path, such as `model.channels`.
    field: String,
    /// Its value in the first config (JSON, shortened), `absent` where it has none.
    ours: String,
    /// Its value in the second.
    theirs: String,
}

/// The first config field (dotted path) whose value differs, if any: a field that one config has
/// and the other lacks differs too.
fn first_difference(a: &TrainConfig, b: &TrainConfig) -> Option<Difference> {
    use serde_json::Value;
    fn walk(a: Option<&Value>, b: Option<&Value>, path: &str) -> Option<Difference> {
        if let (Some(Value::Object(a)), Some(Value::Object(b))) = (a, b) {
            return a.keys().chain(b.keys()).find_map(|key| {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(a.get(key), b.get(key), &path)
            });
        }
        (a != b).then(|| Difference {
            field: path.to_string(),
            ours: shown(a),
            theirs: shown(b),
        })
    }
    /// A value as a message shows it: its JSON (control characters escaped), at most 40
    /// characters of it.
    fn shown(value: Option<&Value>) -> String {
        let Some(value) = value else {
            return "absent".into();
        };
        let text = value.to_string();
        match text.char_indices().nth(40) {
            Some((end, _)) => format!("{}…", &text[..end]),
            None => text,
        }
    }
    let json = |config: &TrainConfig| serde_json::to_value(config).expect("configs serialise");
    walk(Some(&json(a)), Some(&json(b)), "")
}

fn refused(path: &Path, reason: String) -> TrainError {
    TrainError::RunDir {
        path: path.into(),
        reason,
    }
}
