//! What the protocol reports: the figures of one model ([`Scorecard`]), the JSON of several
//! ([`Report`]), and the states seed 0 passed through ([`Frames`]).

use serde::{Deserialize, Serialize};

use super::{Course, Cut, PROTOCOL, Protocol, TextureReport, TextureScorecard};

/// Mean, spread and every value of one figure over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Mean over the seeds.
    pub mean: f64,
    /// Standard deviation over the seeds (0 for one seed).
    pub sd: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// One value per seed, in the protocol's seed order.
    pub values: Vec<f64>,
}

impl Stat {
    /// The statistics of `values` (at least one).
    pub fn of(values: Vec<f64>) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Self {
            mean,
            sd,
            min,
            max,
            values,
        }
    }
}

/// What the figures are measured against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reference {
    /// The model's target, `[visible + 1, H, W]` premultiplied (not serialised: too large).
    Target {
        /// Where the target came from, for people (e.g. "🦎 40 px, padding 16").
        description: String,
    },
    /// No target known: the model's own state (visible channels and alpha) after `step` steps
    /// from the seed with seed 0's fire decisions.
    OwnState {
        /// The step.
        step: usize,
    },
}

/// Growth or persistence after some steps from the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtStep {
    /// Steps from the seed.
    pub step: usize,
    /// RGBA mean squared error against the reference.
    pub mse: Stat,
    /// Live cells (alpha above [`Protocol::alive_alpha`]).
    pub live_cells: Stat,
}

/// One cut of the battery and the regrowth after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regrowth {
    /// The cut.
    pub cut: Cut,
    /// RGBA mean squared error of the cut state against the uncut pattern (at [`Protocol::cut_at`]).
    pub mse_cut: Stat,
    /// The same [`Protocol::regrow_steps`] steps later.
    pub mse_end: Stat,
    /// Shape overlap (intersection over union of live cells) of the end state and the uncut
    /// pattern.
    pub iou_end: Stat,
    /// `1 − mse_end / mse_cut` per seed: 1 is full recovery, 0 none, below 0 worse than the cut.
    pub recovered: Stat,
}

/// Whether the pattern keeps its size over the persistence steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// Nothing grew by the last growth step.
    NeverGrows,
    /// Under half of the live cells of the last growth step remain at the last persistence step.
    DiesOut,
    /// Between half and one and a half times as many live cells.
    Keeps,
    /// Over one and a half times as many: it grows past its shape.
    Overflows,
}

impl Persistence {
    /// The verdict from the mean live cells at the last growth step and at the last persistence
    /// step.
    pub fn judge(grown: f64, kept: f64) -> Self {
        if grown == 0.0 {
            Self::NeverGrows
        } else if kept < 0.5 * grown {
            Self::DiesOut
        } else if kept > 1.5 * grown {
            Self::Overflows
        } else {
            Self::Keeps
        }
    }

    /// In words: "never grows", "dies out", "keeps its size", "overflows".
    pub fn describe(self) -> &'static str {
        match self {
            Persistence::NeverGrows => "never grows",
            Persistence::DiesOut => "dies out",
            Persistence::Keeps => "keeps its size",
            Persistence::Overflows => "overflows",
        }
    }
}

/// The whole scorecard of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// What the figures are measured against.
    pub reference: Reference,
    /// `[height, width]` of the grid.
    pub grid: [usize; 2],
    /// The seeds of the fire decisions.
    pub seeds: Vec<u64>,
    /// After each of [`Protocol::growth_steps`].
    pub growth: Vec<AtStep>,
    /// After each of [`Protocol::persistence_steps`].
    pub persistence: Vec<AtStep>,
    /// The verdict on persistence, from the mean live-cell counts.
    pub persistence_verdict: Persistence,
    /// One entry per cut of [`Protocol::battery`].
    pub regeneration: Vec<Regrowth>,
    /// Mean over the cuts of the recovered share, per seed.
    pub recovered_mean: Stat,
    /// Growth for the last of [`Protocol::growth_steps`] with the perception turned by
    /// [`Protocol::quarter_turns`], against the reference turned the same way about the seed
    /// cell; `None` for learned perception, whose filters do not rotate.
    pub rotation_mse: Option<Stat>,
    /// A goal model's goal this scorecard is of (every step towards it, its target the
    /// reference); absent for a model without goals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<String>,
    /// A goal model's morphs from this goal: one per other goal, in the goals' order; empty (and
    /// absent from the JSON) for a model without goals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub morph: Vec<Morph>,
}

/// A goal model's morph into another goal: the pattern of the scorecard's goal at
/// [`Protocol::cut_at`], every cell switched to goal `to`, run [`Protocol::morph_steps`] steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Morph {
    /// The new goal.
    pub to: String,
    /// RGBA mean squared error against the new goal's reference after the morph steps.
    pub mse: Stat,
}

/// The states the protocol passed through with the first seed, `[C, H, W]` each, for a picture.
#[derive(Debug, Clone)]
pub struct Frames {
    /// The reference (visible channels and alpha only; the rest zero).
    pub reference: Vec<f32>,
    /// Growth and persistence (the timeline), the uncut pattern, each cut and its regrowth.
    pub course: Course,
    /// Grown with rotated perception (none for learned perception).
    pub rotated: Option<Vec<f32>>,
    /// A goal model's morphs: the new goal and the pattern [`Protocol::morph_steps`] after the
    /// switch (none for other models).
    ///
    /// [`Protocol::morph_steps`]: super::Protocol::morph_steps
    pub morphed: Vec<(String, Vec<f32>)>,
}

/// The JSON report: the protocol and every growing model's scorecard, and the texture models'
/// section under the texture protocol's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The protocol's name ([`Protocol::name`]).
    pub protocol: String,
    /// The protocol's fixed numbers, written out.
    pub settings: Settings,
    /// One entry per growing model, in the order given.
    pub models: Vec<ModelReport>,
    /// The texture models, scored by [`TEXTURE_PROTOCOL`](super::TEXTURE_PROTOCOL), under its
    /// name (a test holds the key to it); absent when there are none.
    #[serde(
        rename = "nca-eval-texture/1",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub texture: Option<TextureReport>,
}

/// The fixed numbers of the protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Steps after which growth is scored.
    pub growth_steps: Vec<usize>,
    /// Steps after which persistence is scored.
    pub persistence_steps: Vec<usize>,
    /// The step of the cuts.
    pub cut_at: usize,
    /// Steps of regrowth after the cuts.
    pub regrow_steps: usize,
    /// Alpha above which a cell is live.
    pub alive_alpha: f64,
    /// Rotation of the perception in the rotation test.
    pub rotation_deg: f64,
    /// The damage battery.
    pub cuts: Vec<Cut>,
    /// How seeds become fire decisions.
    pub seeding: String,
    /// Steps after the switch of a goal model's morphs ([`Protocol::morph_steps`]); written
    /// only by a report with a goal model, so that of growing models alone reads as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub morph_steps: Option<usize>,
}

/// One model's scorecard (a growing model's, or a texture's) with what identifies the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport<S = Scorecard> {
    /// As given to `--model`.
    pub model: String,
    /// Trainable parameters.
    pub parameters: usize,
    /// The figures.
    pub scorecard: S,
}

impl Report {
    /// The report of growing `models` scored under [`PROTOCOL`] and of texture models `textures`
    /// under [`TEXTURE_PROTOCOL`](super::TEXTURE_PROTOCOL); the settings name the morph steps
    /// where a model has goals.
    pub fn new(models: Vec<ModelReport>, textures: Vec<ModelReport<TextureScorecard>>) -> Self {
        let mut settings = PROTOCOL.settings();
        if models.iter().any(|model| model.scorecard.goal.is_some()) {
            settings.morph_steps = Some(PROTOCOL.morph_steps);
        }
        Self {
            protocol: PROTOCOL.name.into(),
            settings,
            models,
            texture: TextureReport::of(textures),
        }
    }
}

impl Settings {
    /// The settings of `protocol`, written out.
    pub(super) fn of(protocol: &Protocol) -> Self {
        Self {
            growth_steps: protocol.growth_steps.to_vec(),
            persistence_steps: protocol.persistence_steps.to_vec(),
            cut_at: protocol.cut_at,
            regrow_steps: protocol.regrow_steps,
            alive_alpha: f64::from(protocol.alive_alpha),
            rotation_deg: protocol.rotation_deg(),
            cuts: protocol.battery(),
            seeding: protocol.seeding(),
            morph_steps: None,
        }
    }
}
