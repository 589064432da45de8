//! The texture protocol (`nca eval` of a self-organising texture): the texture loss from the
//! zero seed after several steps, then a disc and a half of the grid erased and the loss right
//! after the cut and once regrown. Every figure is a [`TextureLoss`] with the protocol's options
//! and the directions it draws from seed 0, so a state always scores the same; each is given as
//! the mean and spread over several seeds of the fire decisions, run as the growing protocol
//! runs them.

use nca_core::{Half, Nca};
use serde::{Deserialize, Serialize};

use super::runs::{CUT_STREAM, Course, Plan};
use super::{Cut, ModelReport, Stat, recovered};
use crate::{Loss, TextureLoss, TextureOptions, TrainError};

/// The texture protocol's fixed numbers. A change to any of them is a new protocol with a new
/// name.
#[derive(Debug, Clone, PartialEq)]
pub struct TextureProtocol {
    /// Name and version, written into every report: `nca-eval-texture/1`.
    pub name: &'static str,
    /// Steps from the zero seed after which the loss is scored (a texture run trains on 32–96).
    pub steps: [usize; 5],
    /// The step at which the grid is cut.
    pub cut_at: usize,
    /// Steps of regrowth after the cut.
    pub regrow_steps: usize,
    /// The cuts, each of the same state: a disc in the middle and a half.
    pub cuts: [Cut; 2],
    /// The grid's side, unless the caller chooses another (a texture is the same at any size).
    pub grid: usize,
    /// The loss's settings (a texture run's defaults).
    pub loss: TextureOptions,
}

/// The texture protocol of this version of nca.
pub const TEXTURE_PROTOCOL: TextureProtocol = TextureProtocol {
    name: "nca-eval-texture/1",
    steps: [32, 64, 96, 200, 500],
    cut_at: 200,
    regrow_steps: 200,
    cuts: [
        Cut::Disc {
            centre: [0.0, 0.0],
            radius: 0.5,
        },
        Cut::Half(Half::Left),
    ],
    grid: 64,
    loss: TextureOptions {
        patch: 5,
        scales: 3,
        projections: 64,
        overflow: 1.0,
    },
};

impl TextureProtocol {
    /// Runs the protocol on `model` for each of `seeds` on a `grid` (`[height, width]`), against
    /// `texture`: a premultiplied picture of `shape` `[visible + 1, h, w]` as targets are loaded,
    /// seen over white as a texture run takes it, with its description. Returns the scorecard
    /// and the first seed's states.
    ///
    /// # Errors
    /// When the texture or the grid is too small for the loss's patches.
    ///
    /// # Panics
    /// If `seeds` is empty or `texture` does not have `shape`.
    pub fn evaluate(
        &self,
        model: &Nca,
        (texture, shape): (&[f32], [usize; 3]),
        description: String,
        grid: [usize; 2],
        seeds: &[u64],
    ) -> Result<(TextureScorecard, Course), TrainError> {
        assert!(!seeds.is_empty(), "evaluate needs at least one seed");
        assert_eq!(
            texture.len(),
            shape.iter().product::<usize>(),
            "texture has its shape"
        );
        let loss = TextureLoss::of_picture(texture, shape, self.loss.clone())?;
        loss.check_grid(grid)?;
        let plan = Plan {
            goal: None,
            scored: &self.steps,
            cut_at: self.cut_at,
            cuts: &self.cuts,
            regrow_steps: self.regrow_steps,
        };
        let courses: Vec<Course> = seeds
            .iter()
            .map(|&seed| plan.run(model, grid, seed))
            .collect();
        let state_shape = [model.config().channels, grid[0], grid[1]];
        let score = |state: &[f32]| loss.rank(state, state_shape);
        let over_seeds =
            |figure: &dyn Fn(&Course) -> f64| Stat::of(courses.iter().map(figure).collect());
        let steps = self
            .steps
            .iter()
            .enumerate()
            .map(|(index, &step)| LossAt {
                step,
                loss: over_seeds(&|course| score(&course.timeline[index].1)),
            })
            .collect();
        let cuts = self
            .cuts
            .iter()
            .enumerate()
            .map(|(index, &cut)| {
                let cut_loss = |course: &Course| score(&course.cuts[index].0);
                let end_loss = |course: &Course| score(&course.cuts[index].1);
                TextureCut {
                    cut,
                    loss_cut: over_seeds(&cut_loss),
                    loss_end: over_seeds(&end_loss),
                    recovered: over_seeds(&|course| {
                        // The damage is the loss above the uncut state's.
                        let uncut = score(&course.uncut);
                        recovered(true, cut_loss(course) - uncut, end_loss(course) - uncut)
                    }),
                }
            })
            .collect();
        let scorecard = TextureScorecard {
            texture: description,
            grid,
            seeds: seeds.to_vec(),
            steps,
            cuts,
        };
        Ok((
            scorecard,
            courses.into_iter().next().expect("one seed or more"),
        ))
    }

    /// The protocol's numbers as the JSON report writes them.
    pub fn settings(&self) -> TextureSettings {
        TextureSettings {
            steps: self.steps.to_vec(),
            cut_at: self.cut_at,
            regrow_steps: self.regrow_steps,
            cuts: self.cuts.to_vec(),
            grid: self.grid,
            loss: self.loss.clone(),
            seeding: format!(
                "seed S: the run from the zero seed draws from Xoshiro256PlusPlus::seed_from_u64(S) \
                 (as `nca grow --seed S`), the regrowth after the cuts from S + {CUT_STREAM}; the \
                 loss's directions from seed 0"
            ),
        }
    }
}

/// The loss after some steps from the zero seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossAt {
    /// Steps from the zero seed.
    pub step: usize,
    /// The texture loss.
    pub loss: Stat,
}

/// One cut and the regrowth after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextureCut {
    /// The cut, at [`TextureProtocol::cut_at`].
    pub cut: Cut,
    /// The texture loss right after the cut.
    pub loss_cut: Stat,
    /// The same [`TextureProtocol::regrow_steps`] steps later.
    pub loss_end: Stat,
    /// The share of the damage repaired per seed, the damage being the loss above the uncut
    /// state's: `1 − (loss_end − uncut) / (loss_cut − uncut)` ([`recovered`]); 1 is full
    /// recovery, 0 none, below 0 worse than the cut.
    pub recovered: Stat,
}

/// The texture scorecard of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextureScorecard {
    /// The texture, for people (where it came from).
    pub texture: String,
    /// `[height, width]` of the grid.
    pub grid: [usize; 2],
    /// The seeds of the fire decisions.
    pub seeds: Vec<u64>,
    /// After each of [`TextureProtocol::steps`].
    pub steps: Vec<LossAt>,
    /// One entry per cut of [`TextureProtocol::cuts`].
    pub cuts: Vec<TextureCut>,
}

/// The texture models' section of the JSON report: the protocol's numbers and each scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextureReport {
    /// The protocol's fixed numbers, written out.
    pub settings: TextureSettings,
    /// One entry per texture model, in the order given.
    pub models: Vec<ModelReport<TextureScorecard>>,
}

impl TextureReport {
    /// The section of `models` scored under [`TEXTURE_PROTOCOL`]; none without models.
    pub fn of(models: Vec<ModelReport<TextureScorecard>>) -> Option<Self> {
        (!models.is_empty()).then(|| Self {
            settings: TEXTURE_PROTOCOL.settings(),
            models,
        })
    }
}

/// The fixed numbers of the texture protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextureSettings {
    /// Steps after which the loss is scored.
    pub steps: Vec<usize>,
    /// The step of the cuts.
    pub cut_at: usize,
    /// Steps of regrowth after the cuts.
    pub regrow_steps: usize,
    /// The cuts.
    pub cuts: Vec<Cut>,
    /// The grid's side unless another was chosen (each scorecard has its own).
    pub grid: usize,
    /// The loss's settings.
    pub loss: TextureOptions,
    /// How seeds become fire decisions.
    pub seeding: String,
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;
    use nca_core::Engine;
    use nca_core::rand::SeedableRng;
    use nca_core::rand::rngs::Xoshiro256PlusPlus;

    use super::*;
    use crate::{Experiment, TrainConfig};

    const SIDE: usize = 24;

    /// A tileable premultiplied RGBA texture of stripes and dots, `[4, SIDE, SIDE]`.
    fn texture() -> Vec<f32> {
        let plane = SIDE * SIDE;
        let mut rgba = vec![1.0; 4 * plane];
        for y in 0..SIDE {
            for x in 0..SIDE {
                let dot = (x % 6).abs_diff(3) + (y % 6).abs_diff(3) <= 1;
                let stripe = (x + y) % 8 < 2;
                rgba[y * SIDE + x] = if dot { 0.9 } else { 0.1 };
                rgba[plane + y * SIDE + x] = if stripe { 0.8 } else { 0.3 };
                rgba[2 * plane + y * SIDE + x] = if dot || stripe { 0.2 } else { 0.7 };
            }
        }
        rgba
    }

    /// A texture model's state (12 channels) whose colours show `rgba` (opaque): colour − 0.5.
    fn showing(rgba: &[f32]) -> Vec<f32> {
        let mut state = vec![0.0; 12 * SIDE * SIDE];
        for (value, colour) in state.iter_mut().zip(&rgba[..3 * SIDE * SIDE]) {
            *value = colour - 0.5;
        }
        state
    }

    /// The protocol's score of a `[12, SIDE, SIDE]` state against [`texture`].
    fn score(state: &[f32]) -> f64 {
        let loss =
            TextureLoss::of_picture(&texture(), [4, SIDE, SIDE], TEXTURE_PROTOCOL.loss.clone())
                .unwrap();
        loss.rank(state, [12, SIDE, SIDE])
    }

    #[test]
    fn the_texture_scores_near_zero_and_flat_grey_clearly_higher() {
        let itself = score(&showing(&texture()));
        let grey = score(&vec![0.0; 12 * SIDE * SIDE]);
        assert!(itself < 1e-6, "the texture itself scores {itself}");
        assert!(
            grey > 1e-3 && grey > 1000.0 * itself.max(1e-9),
            "grey {grey}"
        );
    }

    #[test]
    fn each_cut_raises_the_loss() {
        let uncut = showing(&texture());
        let before = score(&uncut);
        for cut in TEXTURE_PROTOCOL.cuts {
            let mut state = uncut.clone();
            cut.apply(&mut state, [12, SIDE, SIDE]);
            let after = score(&state);
            assert!(after > before + 1e-3, "{cut:?}: {before} → {after}");
        }
    }

    #[test]
    fn a_model_is_scored_at_every_step_and_cut_the_same_each_time() {
        let config = TrainConfig::preset(Experiment::Texture).model;
        assert!(config.is_texture());
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let model = config
            .init(&Device::flex(), &mut rng)
            .unwrap()
            .with_engine(Engine::Fused);
        let evaluate = || {
            TEXTURE_PROTOCOL
                .evaluate(
                    &model,
                    (&texture(), [4, SIDE, SIDE]),
                    "stripes".into(),
                    [SIDE, SIDE],
                    &[0, 1],
                )
                .unwrap()
        };
        let (card, course) = evaluate();
        assert_eq!(card, evaluate().0, "deterministic");
        let steps: Vec<usize> = card.steps.iter().map(|at| at.step).collect();
        assert_eq!(steps, TEXTURE_PROTOCOL.steps);
        assert_eq!(card.cuts.len(), 2);
        assert_eq!(course.timeline.len(), TEXTURE_PROTOCOL.steps.len());
        assert_eq!(course.cuts.len(), 2);
        // A fresh model changes nothing (its last layer is zero): the zero state everywhere,
        // which shows flat grey; a cut of zeros does no damage, and the state stays as it was
        // (recovered, as a cut that missed the pattern).
        for at in &card.steps {
            assert!(at.loss.mean > 1e-3 && at.loss.sd == 0.0, "{at:?}");
        }
        for cut in &card.cuts {
            assert_eq!(cut.loss_cut, cut.loss_end, "{cut:?}");
            assert_eq!(cut.recovered.mean, 1.0, "{cut:?}");
        }
        let too_small = TEXTURE_PROTOCOL.evaluate(
            &model,
            (&texture(), [4, SIDE, SIDE]),
            "stripes".into(),
            [16, 16],
            &[0],
        );
        assert!(too_small.unwrap_err().to_string().contains("grid"));
    }

    #[test]
    fn the_report_keeps_texture_models_under_the_protocols_name() {
        let stat = Stat::of(vec![0.5]);
        let scorecard = TextureScorecard {
            texture: "stripes".into(),
            grid: [SIDE, SIDE],
            seeds: vec![0],
            steps: vec![LossAt {
                step: 32,
                loss: stat.clone(),
            }],
            cuts: vec![TextureCut {
                cut: TEXTURE_PROTOCOL.cuts[0],
                loss_cut: stat.clone(),
                loss_end: stat.clone(),
                recovered: stat,
            }],
        };
        let model = ModelReport {
            model: "t".into(),
            parameters: 1,
            scorecard,
        };
        let report = super::super::Report::new(Vec::new(), vec![model]);
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(value[TEXTURE_PROTOCOL.name]["models"][0]["model"], "t");
        assert_eq!(value[TEXTURE_PROTOCOL.name]["settings"]["steps"][0], 32);
        assert_eq!(
            serde_json::from_value::<super::super::Report>(value).unwrap(),
            report
        );
        let growing_only = serde_json::to_value(super::super::Report::new(Vec::new(), Vec::new()));
        assert!(growing_only.unwrap().get(TEXTURE_PROTOCOL.name).is_none());
    }
}
