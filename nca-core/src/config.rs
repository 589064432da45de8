//! The model's hyper-parameters, with the paper's defaults.

use serde::{Deserialize, Serialize};

use crate::NcaError;

/// Hyper-parameters of a neural cellular automaton.
///
/// The defaults are those of Mordvintsev et al. (2020): 16 channels (RGB, alpha, 12 hidden),
/// 128 hidden units, fire rate 0.5 and a living threshold of 0.1. The layout of a cell's state is
/// `visible_channels` colour channels (premultiplied by alpha), then alpha, then hidden channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NcaConfig {
    /// Channels per cell: visible + alpha + hidden.
    pub channels: usize,
    /// Colour channels before alpha (3 for RGB; jax-nca's `num_target_channels`).
    pub visible_channels: usize,
    /// Units of the update network's hidden layer.
    pub hidden_units: usize,
    /// Probability that a cell applies its update in a step, in (0, 1].
    pub fire_rate: f64,
    /// A cell is alive when the largest alpha in its 3x3 neighbourhood exceeds this.
    pub living_threshold: f64,
    /// Factor on every update (jax-nca's `alpha`); 1.0 in the paper.
    pub update_scale: f64,
    /// Learn the 3x3 perception filters instead of the fixed identity and Sobel filters.
    pub trainable_perception: bool,
    /// Rotation of the fixed Sobel filters in degrees; rotates the grown pattern.
    pub perception_angle_deg: f64,
    /// A fourth perception filter, the Laplacian, after identity and Sobel x and y (the
    /// self-organising textures' perception).
    pub laplacian: bool,
    /// What the perception and the alive mask see beyond the grid's edge.
    pub border: Border,
    /// The state a rollout starts from.
    pub seed: Seed,
    /// Zero cells with no live neighbourhood before and after each step (the paper's growing
    /// NCA); off, every cell updates (textures).
    pub alive_masking: bool,
    /// The names of the goals a goal-conditioned model can grow (`["🦎", "🦋", "😀"]`), in the
    /// order of their indices; empty (the default) for the plain model of one target. A goal
    /// model learns an embedding per goal, and each sample of a rollout grows towards its own
    /// goal ([`Nca::step_toward`](crate::Nca::step_toward)).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<String>,
    /// Width of each goal's learned embedding (used only with [`goals`](Self::goals)).
    ///
    /// The goal enters the update network as a per-sample term `embedding[g] · W_goal` added to
    /// the hidden layer's pre-activation, so the goals' terms are the images of their embeddings
    /// under one `[goal_size, hidden]` map: with `goal_size` at least the number of goals, the
    /// embeddings can be linearly independent and each goal's term chosen independently of the
    /// others'. The default 8 leaves room for up to 8 goals (the paper has ten targets; a model
    /// of three needs 3) at `8 · hidden` extra weights (1,024 for the paper's 128 hidden units,
    /// an eighth of the model); wider embeddings add weights, not independence.
    #[serde(skip_serializing_if = "is_default_goal_size")]
    pub goal_size: usize,
}

/// The default [`NcaConfig::goal_size`].
const DEFAULT_GOAL_SIZE: usize = 8;

fn is_default_goal_size(size: &usize) -> bool {
    *size == DEFAULT_GOAL_SIZE
}

/// The most goals a model may have ([`NcaConfig::goals`]), and the widest goal embedding.
pub const MAX_GOALS: usize = 64;

/// What lies beyond the grid's edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Border {
    /// Zeros (the paper's growing NCA).
    #[default]
    Zero,
    /// The opposite edge: the grid is a torus, so a pattern tiles seamlessly (textures).
    Wrap,
}

/// The state a rollout starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seed {
    /// Empty but the centre cell, whose alpha and hidden channels are 1 (the paper).
    #[default]
    Cell,
    /// Every channel of every cell zero (textures).
    Zeros,
}

impl Default for NcaConfig {
    fn default() -> Self {
        Self {
            channels: 16,
            visible_channels: 3,
            hidden_units: 128,
            fire_rate: 0.5,
            living_threshold: 0.1,
            update_scale: 1.0,
            trainable_perception: false,
            perception_angle_deg: 0.0,
            laplacian: false,
            border: Border::Zero,
            seed: Seed::Cell,
            alive_masking: true,
            goals: Vec::new(),
            goal_size: DEFAULT_GOAL_SIZE,
        }
    }
}

impl NcaConfig {
    /// Index of the alpha channel, which decides which cells are alive.
    pub fn alpha_channel(&self) -> usize {
        self.visible_channels
    }

    /// Filters perception applies to every channel: identity, Sobel x, Sobel y and, with
    /// [`laplacian`](Self::laplacian), the Laplacian.
    pub fn perception_bands(&self) -> usize {
        3 + usize::from(self.laplacian)
    }

    /// Channels the perception step produces: each band of every channel.
    pub fn perception_channels(&self) -> usize {
        self.perception_bands() * self.channels
    }

    /// The paper's growing NCA: a live seed cell on a zero border, alive masking on. A goal model
    /// of that structure is one too: its goals are an input, not another step.
    pub fn is_growing(&self) -> bool {
        !self.laplacian
            && self.border == Border::Zero
            && self.seed == Seed::Cell
            && self.alive_masking
    }

    /// A self-organising texture (Niklasson et al., 2021) rather than a pattern that grows: no
    /// alive masking, so alpha says nothing of where a pattern is; its state shows as colour +
    /// 0.5 ([`over_white`](Self::over_white)) and `nca eval` scores it against a texture.
    pub fn is_texture(&self) -> bool {
        !self.alive_masking
    }

    /// Whether the model is goal-conditioned: it has [`goals`](Self::goals).
    pub fn has_goals(&self) -> bool {
        !self.goals.is_empty()
    }

    /// The index of the goal named `name`, if the model has it.
    pub fn goal_index(&self, name: &str) -> Option<usize> {
        self.goals.iter().position(|goal| goal == name)
    }

    /// Checks that every value is possible, naming the first that is not.
    pub fn validate(&self) -> Result<(), NcaError> {
        let invalid =
            |field: &'static str, reason: String| Err(NcaError::InvalidConfig { field, reason });
        if self.visible_channels == 0 {
            return invalid("visible_channels", "must be at least 1".into());
        }
        if self.channels < self.visible_channels + 1 || self.channels < 4 {
            return invalid(
                "channels",
                format!(
                    "is {}, but a cell needs at least 4 channels and room for {} visible channels plus alpha",
                    self.channels, self.visible_channels
                ),
            );
        }
        if self.hidden_units == 0 {
            return invalid("hidden_units", "must be at least 1".into());
        }
        if !(self.fire_rate > 0.0 && self.fire_rate <= 1.0) {
            return invalid(
                "fire_rate",
                format!("is {}, but must lie in (0, 1]", self.fire_rate),
            );
        }
        if !(self.living_threshold.is_finite() && self.living_threshold >= 0.0) {
            return invalid(
                "living_threshold",
                format!(
                    "is {}, but must be a finite number >= 0",
                    self.living_threshold
                ),
            );
        }
        if !(self.update_scale.is_finite() && self.update_scale > 0.0) {
            return invalid(
                "update_scale",
                format!("is {}, but must be a finite number > 0", self.update_scale),
            );
        }
        if !self.perception_angle_deg.is_finite() {
            return invalid(
                "perception_angle_deg",
                format!(
                    "is {}, but must be a finite number",
                    self.perception_angle_deg
                ),
            );
        }
        if self.goals.len() > MAX_GOALS {
            return invalid(
                "goals",
                format!(
                    "has {} names, but a model may have at most {MAX_GOALS}",
                    self.goals.len()
                ),
            );
        }
        if let Some(index) = self.goals.iter().position(|goal| goal.is_empty()) {
            return invalid("goals", format!("has an empty name at index {index}"));
        }
        for (index, goal) in self.goals.iter().enumerate() {
            if self.goals[..index].contains(goal) {
                return invalid("goals", format!("names {goal:?} twice"));
            }
        }
        if self.has_goals() && !(1..=MAX_GOALS).contains(&self.goal_size) {
            return invalid(
                "goal_size",
                format!(
                    "is {}, but must lie in 1..={MAX_GOALS} for a model with goals",
                    self.goal_size
                ),
            );
        }
        Ok(())
    }
}
