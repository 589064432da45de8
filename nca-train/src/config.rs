//! Training hyper-parameters, with the paper's defaults and presets for its three experiments.

use serde::{Deserialize, Serialize};

use nca_core::{Border, NcaConfig, Seed};
use nca_data::{TargetOptions, TargetSpec};

use crate::TextureOptions;

/// The largest training config (TOML) nca reads, in bytes: far above any real one.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Largest target box and padding, in cells.
pub const MAX_TARGET_SIDE: u32 = 1024;

use crate::TrainError;

/// The paper's three experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Experiment {
    /// Every batch grows from seeds: learns to grow, not to persist.
    Growing,
    /// A pool of 1,024 states keeps what the model grew: learns to persist.
    Persistent,
    /// The pool plus 3 damaged samples per batch: learns to regenerate.
    #[default]
    Regenerating,
    /// Not the paper's: a self-organising texture (Niklasson et al., 2021) from zeros, scored
    /// by [`TextureLoss`](crate::TextureLoss); needs the config's `texture`.
    Texture,
}

impl std::fmt::Display for Experiment {
    /// The experiment's name: `growing`, `persistent` or `regenerating`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Growing => "growing",
            Self::Persistent => "persistent",
            Self::Regenerating => "regenerating",
            Self::Texture => "texture",
        })
    }
}

impl std::str::FromStr for Experiment {
    type Err = TrainError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "growing" => Ok(Self::Growing),
            "persistent" => Ok(Self::Persistent),
            "regenerating" => Ok(Self::Regenerating),
            "texture" => Ok(Self::Texture),
            other => Err(TrainError::InvalidConfig {
                field: "experiment",
                reason: format!(
                    "{other:?} is not one of growing, persistent, regenerating, texture"
                ),
            }),
        }
    }
}

/// How gradients are conditioned before the optimiser sees them. As a table (`[gradient]`), a
/// field left out takes the paper's value: `mode` per_parameter_norm; `max_norm` (global_clip
/// only) 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode", try_from = "GradientTable")]
pub enum GradientMode {
    /// The paper: each parameter tensor's gradient divided by its own L2 norm (+1e-8).
    PerParameterNorm,
    /// jax-nca and CAX: all gradients scaled down together when their joint L2 norm exceeds
    /// `max_norm`.
    GlobalClip {
        /// Largest joint L2 norm let through unchanged.
        max_norm: f64,
    },
    /// Gradients as they are.
    Raw,
}

/// `[gradient]` as written, each field optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GradientTable {
    #[serde(default)]
    mode: GradientKind,
    max_norm: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "snake_case")]
enum GradientKind {
    #[default]
    PerParameterNorm,
    GlobalClip,
    Raw,
}

impl TryFrom<GradientTable> for GradientMode {
    type Error = &'static str;
    fn try_from(table: GradientTable) -> Result<Self, Self::Error> {
        match (table.mode, table.max_norm) {
            (GradientKind::GlobalClip, max_norm) => Ok(Self::GlobalClip {
                max_norm: max_norm.unwrap_or(1.0),
            }),
            (_, Some(_)) => Err("max_norm applies only with mode = \"global_clip\""),
            (GradientKind::PerParameterNorm, None) => Ok(Self::PerParameterNorm),
            (GradientKind::Raw, None) => Ok(Self::Raw),
        }
    }
}

/// A piecewise-constant learning rate: `initial` until the first boundary, then each drop's value.
/// A field left out takes the paper's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LrSchedule {
    /// The learning rate from iteration 0.
    pub initial: f64,
    /// `(iteration, learning rate)` pairs in increasing iteration order: from that iteration on,
    /// that rate.
    pub drops: Vec<(usize, f64)>,
}

impl Default for LrSchedule {
    /// The paper: 2e-3, then 2e-4 from iteration 2,000.
    fn default() -> Self {
        Self {
            initial: 2e-3,
            drops: vec![(2000, 2e-4)],
        }
    }
}

impl LrSchedule {
    /// The learning rate at `iteration` (counted from 0).
    pub fn at(&self, iteration: usize) -> f64 {
        self.drops
            .iter()
            .take_while(|(from, _)| *from <= iteration)
            .last()
            .map_or(self.initial, |(_, rate)| *rate)
    }
}

/// Everything that decides a training run. Loadable from TOML; missing fields take the paper's
/// values, unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// What the run learns to grow, when a front end loaded it from a description (nca-cli
    /// always does); the trainer itself takes the target's pixels. `None` in the presets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSpec>,
    /// The model being trained.
    pub model: NcaConfig,
    /// Which of the paper's experiments this run is (informational; the pool and damage
    /// settings below are what act).
    pub experiment: Experiment,
    /// States kept in the sample pool; 0 means every batch starts from seeds.
    pub pool_size: usize,
    /// Samples of each batch damaged by a random disc before the rollout.
    pub damaged_per_batch: usize,
    /// Samples per batch.
    pub batch_size: usize,
    /// Fewest rollout steps per iteration.
    pub min_steps: usize,
    /// Rollout steps per iteration are drawn from `min_steps..max_steps` (exclusive).
    pub max_steps: usize,
    /// Training iterations in all.
    pub iterations: usize,
    /// Learning rate over the iterations.
    pub learning_rate: LrSchedule,
    /// Adam's epsilon (Keras' default, as the paper's notebook used).
    pub adam_epsilon: f64,
    /// Gradient conditioning before the optimiser.
    pub gradient: GradientMode,
    /// Seed of every random choice: initial weights, steps, pool sampling, damage, fire masks.
    pub seed: u64,
    /// Write a checkpoint every this many iterations (and at the end).
    pub checkpoint_every: usize,
    /// A texture run's grid and loss (the [`Experiment::Texture`] run); `None` for the paper's
    /// runs towards a target picture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub texture: Option<TextureRun>,
    /// A goal run's settings (`[goals]`): one model trained towards one target per goal of
    /// `model.goals`; `None` for a model without goals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goals: Option<GoalRun>,
}

/// What a goal run adds: its targets (one per goal of the model, in the goals' order) and how
/// much of each batch learns to turn one goal's pattern into another's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoalRun {
    /// What each goal learns to grow, when a front end loaded the targets from descriptions;
    /// empty when the caller gives the trainer the targets' pixels (as with `target`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetSpec>,
    /// The share of each batch (0..=1, rounded to whole samples) that starts from a pool state
    /// of one goal and is trained towards another: the state keeps its cells, only its goal
    /// changes, so the model learns to turn one pattern into another. The default 0.25 (2 of
    /// the paper's batch of 8) leaves most of the batch to growing and keeping each goal's
    /// pattern, as the paper's runs do, while every batch still has morphs in it (one sample
    /// in 8 would be too few to see each pair of goals often). 0 trains no morphs.
    pub morph_share: f64,
}

impl Default for GoalRun {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            morph_share: 0.25,
        }
    }
}

impl GoalRun {
    /// The morphing samples of a batch of `batch_size`: `morph_share` of it, rounded.
    pub fn morphs(&self, batch_size: usize) -> usize {
        (self.morph_share * batch_size as f64).round() as usize
    }
}

/// What a texture run adds: its grid (the target picture gives the others theirs) and loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextureRun {
    /// Side of the square grid trained on, in cells.
    pub grid: usize,
    /// The patch loss's settings.
    pub loss: TextureOptions,
}

impl Default for TextureRun {
    /// A 64-cell grid (the textures paper trained on 128; half the side is a quarter of the
    /// work, and a texture is the same at any size) and the loss's defaults.
    fn default() -> Self {
        Self {
            grid: 64,
            loss: TextureOptions::default(),
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self::preset(Experiment::default())
    }
}

impl TrainConfig {
    /// The paper's settings for one of its experiments (and the textures paper's for
    /// [`Experiment::Texture`]).
    pub fn preset(experiment: Experiment) -> Self {
        let (pool_size, damaged_per_batch) = match experiment {
            Experiment::Growing => (0, 0),
            Experiment::Persistent | Experiment::Texture => (1024, 0),
            Experiment::Regenerating => (1024, 3),
        };
        if experiment == Experiment::Texture {
            return Self::texture();
        }
        Self {
            target: None,
            model: NcaConfig::default(),
            experiment,
            pool_size,
            damaged_per_batch,
            batch_size: 8,
            min_steps: 64,
            max_steps: 96,
            iterations: 8000,
            learning_rate: LrSchedule::default(),
            adam_epsilon: 1e-7,
            gradient: GradientMode::PerParameterNorm,
            seed: 0,
            checkpoint_every: 100,
            texture: None,
            goals: None,
        }
    }

    /// The self-organising textures' settings (their PyTorch notebook): 12 channels, 96 hidden
    /// units, identity, Sobel and Laplacian perception on a wrapped grid, no alive masking, a
    /// zero seed; a pool of 1,024 states, batches of 4, 32–95 steps, learning rate 1e-3 dropped
    /// by 0.3 at iterations 1,000 and 2,000, per-parameter gradient normalisation.
    fn texture() -> Self {
        Self {
            model: NcaConfig {
                channels: 12,
                hidden_units: 96,
                laplacian: true,
                border: Border::Wrap,
                seed: Seed::Zeros,
                alive_masking: false,
                ..NcaConfig::default()
            },
            experiment: Experiment::Texture,
            pool_size: 1024,
            damaged_per_batch: 0,
            batch_size: 4,
            min_steps: 32,
            max_steps: 96,
            iterations: 2000,
            learning_rate: LrSchedule {
                initial: 1e-3,
                drops: vec![(1000, 3e-4), (2000, 9e-5)],
            },
            texture: Some(TextureRun::default()),
            ..Self::preset(Experiment::Persistent)
        }
    }

    /// Reads a config from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, TrainError> {
        let config: Self = toml::from_str(text).map_err(|err| {
            // One line: where (line and column, counted from 1) and what.
            let place = err.span().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
                format!("line {line}, column {column}: ")
            });
            TrainError::InvalidConfig {
                field: "toml",
                reason: format!("{}{}", place.unwrap_or_default(), err.message().trim()),
            }
        })?;
        // Fields left out take the values of the experiment the file names (so far they took
        // the default experiment's): the file over that preset.
        let preset = Self::preset(config.experiment);
        let config = if preset == Self::default() {
            config
        } else {
            let mut merged = toml::Table::try_from(&preset).expect("a config always serialises");
            let given: toml::Table = toml::from_str(text).expect("parsed above");
            overlay(&mut merged, given);
            merged
                .try_into()
                .map_err(|err: toml::de::Error| TrainError::InvalidConfig {
                    field: "toml",
                    reason: err.message().trim().to_string(),
                })?
        };
        config.validate()?;
        Ok(config)
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a config always serialises")
    }

    /// Checks that every value is possible, naming the first that is not.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.model.validate()?;
        let invalid =
            |field: &'static str, reason: String| Err(TrainError::InvalidConfig { field, reason });
        if let Some(target) = &self.target {
            let TargetOptions { size, padding } = target.options;
            if !(1..=MAX_TARGET_SIDE).contains(&size) {
                return invalid(
                    "target.size",
                    format!("is {size}, outside 1..={MAX_TARGET_SIDE}"),
                );
            }
            if padding > MAX_TARGET_SIDE {
                return invalid(
                    "target.padding",
                    format!("is {padding}, over {MAX_TARGET_SIDE}"),
                );
            }
        }
        match (self.experiment, self.texture.is_some()) {
            (Experiment::Texture, false) => {
                return invalid(
                    "texture",
                    "is missing: a texture run needs its grid and loss ([texture])".into(),
                );
            }
            (experiment, true) if experiment != Experiment::Texture => {
                return invalid(
                    "texture",
                    format!(
                        "is given, but the run is the paper's {experiment} experiment, which grows a target picture"
                    ),
                );
            }
            _ => {}
        }
        if let Some(texture) = &self.texture {
            texture.loss.validate()?;
            if self.model.visible_channels != 3 {
                return invalid(
                    "visible_channels",
                    format!(
                        "is {}, but a texture is compared in RGB (3)",
                        self.model.visible_channels
                    ),
                );
            }
            let smallest = texture.loss.smallest_side();
            if !(smallest..=MAX_TARGET_SIDE as usize).contains(&texture.grid) {
                return invalid(
                    "grid",
                    format!(
                        "is {}, outside {smallest}..={MAX_TARGET_SIDE} (the texture loss's {patch}x{patch} patches at {} scales need {smallest} cells a side)",
                        texture.grid,
                        texture.loss.scales,
                        patch = texture.loss.patch
                    ),
                );
            }
        }
        if self.batch_size == 0 {
            return invalid("batch_size", "must be at least 1".into());
        }
        self.validate_goals()?;
        if self.pool_size != 0 && self.pool_size < self.batch_size {
            return invalid(
                "pool_size",
                format!(
                    "is {}, smaller than batch_size {} (use 0 for no pool)",
                    self.pool_size, self.batch_size
                ),
            );
        }
        if self.damaged_per_batch > 0 && self.damaged_per_batch >= self.batch_size {
            return invalid(
                "damaged_per_batch",
                format!(
                    "is {}, but must be below batch_size {} (one sample is reseeded)",
                    self.damaged_per_batch, self.batch_size
                ),
            );
        }
        if self.damaged_per_batch > 0 && self.pool_size == 0 {
            return invalid(
                "damaged_per_batch",
                "needs a sample pool (pool_size > 0)".into(),
            );
        }
        if self.min_steps == 0 || self.max_steps <= self.min_steps {
            return invalid(
                "max_steps",
                format!(
                    "steps are drawn from min_steps..max_steps = {}..{}, which must be a non-empty range of steps >= 1",
                    self.min_steps, self.max_steps
                ),
            );
        }
        if self.iterations == 0 {
            return invalid("iterations", "must be at least 1".into());
        }
        if self.checkpoint_every == 0 {
            return invalid("checkpoint_every", "must be at least 1".into());
        }
        let mut rates = std::iter::once(self.learning_rate.initial)
            .chain(self.learning_rate.drops.iter().map(|d| d.1));
        if let Some(rate) = rates.find(|r| !(r.is_finite() && *r > 0.0)) {
            return invalid(
                "learning_rate",
                format!("{rate} is not a positive finite rate"),
            );
        }
        if self
            .learning_rate
            .drops
            .windows(2)
            .any(|w| w[0].0 >= w[1].0)
        {
            return invalid(
                "learning_rate",
                "drops must be in increasing iteration order".into(),
            );
        }
        if !(self.adam_epsilon.is_finite() && self.adam_epsilon > 0.0) {
            return invalid(
                "adam_epsilon",
                format!(
                    "is {}, but must be a positive finite number",
                    self.adam_epsilon
                ),
            );
        }
        if let GradientMode::GlobalClip { max_norm } = self.gradient
            && !(max_norm.is_finite() && max_norm > 0.0)
        {
            return invalid(
                "gradient",
                format!("max_norm {max_norm} must be a positive finite number"),
            );
        }
        Ok(())
    }

    /// The goal run's checks: `[goals]` given exactly for a model with goals, a target per goal,
    /// and morphs that fit the batch.
    fn validate_goals(&self) -> Result<(), TrainError> {
        let invalid =
            |field: &'static str, reason: String| Err(TrainError::InvalidConfig { field, reason });
        let count = self.model.goals.len();
        let Some(goals) = &self.goals else {
            if count > 0 {
                return invalid(
                    "goals",
                    format!(
                        "is missing: the model has {count} goals (model.goals), and a goal run needs its [goals] table"
                    ),
                );
            }
            return Ok(());
        };
        if count == 0 {
            return invalid(
                "goals",
                "is given, but the model has no goals (model.goals is empty)".into(),
            );
        }
        if self.texture.is_some() {
            return invalid(
                "goals",
                "is given, but a texture run has no goals (it grows one texture)".into(),
            );
        }
        if self.target.is_some() {
            return invalid(
                "target",
                "is given, but a goal run has one target per goal ([goals] targets)".into(),
            );
        }
        if !goals.targets.is_empty() && goals.targets.len() != count {
            return invalid(
                "goals.targets",
                format!(
                    "has {} targets, but the model has {count} goals (one target per goal)",
                    goals.targets.len()
                ),
            );
        }
        for (index, target) in goals.targets.iter().enumerate() {
            let TargetOptions { size, padding } = target.options;
            if !(1..=MAX_TARGET_SIDE).contains(&size) || padding > MAX_TARGET_SIDE {
                return invalid(
                    "goals.targets",
                    format!(
                        "target {index} has size {size} and padding {padding}: the size must lie in 1..={MAX_TARGET_SIDE}, the padding at most {MAX_TARGET_SIDE}"
                    ),
                );
            }
        }
        let share = goals.morph_share;
        if !(0.0..=1.0).contains(&share) {
            return invalid("goals.morph_share", format!("is {share}, outside 0..=1"));
        }
        let morphs = goals.morphs(self.batch_size);
        if morphs > 0 && count < 2 {
            return invalid(
                "goals.morph_share",
                format!("is {share}, but morphing needs at least 2 goals (the model has 1)"),
            );
        }
        if morphs > 0 && self.pool_size == 0 {
            return invalid(
                "goals.morph_share",
                format!(
                    "is {share}, but morphs start from pool states: it needs a sample pool (pool_size > 0), or 0"
                ),
            );
        }
        let free = self.batch_size.saturating_sub(1 + self.damaged_per_batch);
        if morphs > free {
            return invalid(
                "goals.morph_share",
                format!(
                    "is {share}: {morphs} morphing samples of batch_size {}, but only {free} are left beside the reseeded one and the {} damaged",
                    self.batch_size, self.damaged_per_batch
                ),
            );
        }
        Ok(())
    }
}

/// `given` over `base`: its values replace `base`'s, its tables go into `base`'s key by key,
/// except `[gradient]`, whose fields belong together (a mode and its settings).
fn overlay(base: &mut toml::Table, given: toml::Table) {
    for (key, value) in given {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(value)) if key != "gradient" => {
                overlay(inner, value)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// A lower bound of the memory a training run needs, and what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryNeed {
    /// Bytes, at least.
    pub bytes: u128,
    /// What takes the most of them.
    pub largest: MemoryUse,
}

/// What a training run keeps in memory; shown as words (e.g. "the sample pool of 1024 states").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryUse {
    /// The update network's weights, with their gradients and Adam's two moments.
    UpdateNetwork,
    /// The sample pool's states.
    SamplePool {
        /// States in the pool.
        states: usize,
    },
    /// The states a batch's rollouts keep for the backward pass.
    Rollouts {
        /// Samples per batch.
        samples: usize,
        /// The most steps a rollout takes.
        steps: usize,
    },
}

impl std::fmt::Display for MemoryUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UpdateNetwork => write!(f, "the update network"),
            Self::SamplePool { states } => write!(f, "the sample pool of {states} states"),
            Self::Rollouts { samples, steps } => write!(
                f,
                "the rollouts of {samples} samples and up to {steps} steps"
            ),
        }
    }
}

impl TrainConfig {
    /// A lower bound of the memory a run of this config needs on a `[height, width]` grid: the
    /// weights with their gradients and Adam moments, the sample pool, and the states a batch's
    /// rollout keeps for the backward pass (the fused engine keeps one state per step; burn's
    /// autodiff keeps more). Only a lower bound: a run refused by it could never fit.
    pub fn memory_need(&self, [height, width]: [usize; 2]) -> MemoryNeed {
        let f32s = |values: u128| values * 4;
        let (channels, hidden) = (self.model.channels as u128, self.model.hidden_units as u128);
        let cells = height as u128 * width as u128;
        let parameters = (3 * channels + 1) * hidden + (hidden + 1) * channels;
        let parts = [
            (f32s(4 * parameters), MemoryUse::UpdateNetwork),
            (
                f32s(self.pool_size as u128 * channels * cells),
                MemoryUse::SamplePool {
                    states: self.pool_size,
                },
            ),
            (
                f32s(self.batch_size as u128 * self.max_steps as u128 * channels * cells),
                MemoryUse::Rollouts {
                    samples: self.batch_size,
                    steps: self.max_steps,
                },
            ),
        ];
        let bytes = parts.iter().map(|(bytes, _)| bytes).sum();
        let largest = parts
            .into_iter()
            .max_by_key(|(bytes, _)| *bytes)
            .map(|(_, what)| what)
            .expect("three parts");
        MemoryNeed { bytes, largest }
    }
}
