//! One scorecard for any model (`nca eval`): a fixed, seeded protocol measuring growth,
//! persistence, regeneration after a battery of cuts, and growth with rotated perception.
//!
//! Every figure is an RGBA mean squared error as the paper's loss (the visible channels and alpha
//! of a state against a reference, clipped to `[0, 1]` as a picture shows them), a live-cell
//! count, a shape overlap or a recovered share, each given as the mean and spread over several
//! seeds of the fire decisions. Every fixed number lives in one [`Protocol`] value, versioned by
//! its name: numbers under one version compare across models, machines and backends.
//!
//! A texture model ([`NcaConfig::is_texture`]) has no shape to grow, keep or regrow: it is scored
//! by its own protocol, [`TEXTURE_PROTOCOL`] (the texture loss from the zero seed, after a cut and
//! once regrown), run over the seeds the same way ([`Course`]), in its own section of the
//! [`Report`].

mod measures;
mod report;
mod runs;
mod texture;

use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Half, HostGrid, Nca, NcaConfig};
use serde::{Deserialize, Serialize};

pub use measures::{recovered, rotate_about_seed, shown_mse};
pub use report::{
    AtStep, Frames, ModelReport, Persistence, Reference, Regrowth, Report, Scorecard, Settings,
    Stat,
};
pub use runs::Course;
pub use texture::{
    LossAt, TEXTURE_PROTOCOL, TextureCut, TextureProtocol, TextureReport, TextureScorecard,
    TextureSettings,
};

use crate::random_disc;
use measures::{iou, live_cells};
use runs::{CUT_STREAM, Plan, ROTATION_STREAM, run, start};

/// The protocol's fixed numbers. A change to any of them is a new protocol with a new name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Protocol {
    /// Name and version, written into every report: `nca-eval/1`.
    pub name: &'static str,
    /// Steps from the seed after which growth is scored (the paper trains on 64–96).
    pub growth_steps: [usize; 3],
    /// Steps from the seed after which persistence is scored.
    pub persistence_steps: [usize; 3],
    /// The step at which the grown pattern is cut.
    pub cut_at: usize,
    /// Steps of regrowth after the cut.
    pub regrow_steps: usize,
    /// A cell counts as live (and inside the shape) when its alpha is above this.
    pub alive_alpha: f32,
    /// The rotation test turns the perception and the reference by this many quarter turns: a
    /// reference on a grid turns exactly only by quarter turns, so the angle is derived from it
    /// ([`Protocol::rotation_deg`]) and cannot drift from the reference's turn.
    pub quarter_turns: u8,
    /// Discs in the damage battery, drawn from the training distribution (centre in
    /// `[-0.5, 0.5]²`, radius in `[0.1, 0.4]`) …
    pub discs: usize,
    /// … with this seed.
    pub disc_seed: u64,
}

/// The protocol of this version of nca.
pub const PROTOCOL: Protocol = Protocol {
    name: "nca-eval/1",
    growth_steps: [48, 64, 96],
    persistence_steps: [500, 1000, 2000],
    cut_at: 200,
    regrow_steps: 400,
    alive_alpha: 0.1,
    quarter_turns: 1,
    discs: 4,
    disc_seed: 2020,
};

impl Protocol {
    /// The rotation test's angle in degrees (90° a quarter turn).
    pub fn rotation_deg(&self) -> f64 {
        90.0 * f64::from(self.quarter_turns)
    }

    /// The last growth step, where growth is judged and the rotation test is scored.
    pub fn last_growth_step(&self) -> usize {
        self.growth_steps[self.growth_steps.len() - 1]
    }

    /// The last persistence step.
    pub fn last_persistence_step(&self) -> usize {
        self.persistence_steps[self.persistence_steps.len() - 1]
    }

    /// The damage battery: the discs drawn with [`Protocol::disc_seed`], then the four halves.
    pub fn battery(&self) -> Vec<Cut> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.disc_seed);
        let discs = (0..self.discs).map(|_| {
            let (centre, radius) = random_disc(&mut rng);
            Cut::Disc {
                centre: [centre.0, centre.1],
                radius,
            }
        });
        let halves = [Half::Left, Half::Right, Half::Top, Half::Bottom].map(Cut::Half);
        discs.chain(halves).collect()
    }

    /// The protocol's numbers as the JSON report writes them.
    pub fn settings(&self) -> Settings {
        Settings::of(self)
    }

    /// How seeds become fire decisions, in words.
    fn seeding(&self) -> String {
        format!(
            "seed S: growth and persistence draw from Xoshiro256PlusPlus::seed_from_u64(S) (as \
             `nca grow --seed S`), the cuts from S + {CUT_STREAM}, the rotation from S + \
             {ROTATION_STREAM}"
        )
    }

    /// Runs the protocol on `model` for each of `seeds`, on a `grid` (`[height, width]`) and
    /// against `target` (`[visible + 1, H, W]`, with its description) or, without one, the
    /// model's own state at the last growth step.
    ///
    /// # Panics
    /// If `seeds` is empty, the grid is smaller than 3x3 or `target` does not fit the grid.
    pub fn evaluate(
        &self,
        model: &Nca,
        target: Option<(&[f32], String)>,
        grid: [usize; 2],
        seeds: &[u64],
    ) -> (Scorecard, Frames) {
        assert!(!seeds.is_empty(), "evaluate needs at least one seed");
        assert!(
            grid.iter().all(|&side| side >= 3),
            "evaluate needs a grid of 3x3 or more"
        );
        let (reference_values, reference) = self.reference(model, target, grid);
        let battery = self.battery();
        let runs: Vec<SeedRun> = seeds
            .iter()
            .map(|&seed| self.run_seed(model, grid, seed, &battery))
            .collect();
        let frames = Frames {
            reference: {
                let mut frame = vec![0.0; runs[0].course.uncut.len()];
                frame[..reference_values.len()].copy_from_slice(&reference_values);
                frame
            },
            course: runs[0].course.clone(),
            rotated: runs[0].rotated.clone(),
        };
        let scores = Scoring {
            protocol: self,
            config: model.config(),
            grid,
            reference: &reference_values,
            runs: &runs,
        };
        let growth = scores.at_steps(0..self.growth_steps.len());
        let persistence = scores.at_steps(self.growth_steps.len()..runs[0].course.timeline.len());
        let persistence_verdict = Persistence::judge(
            growth[growth.len() - 1].live_cells.mean,
            persistence[persistence.len() - 1].live_cells.mean,
        );
        let regeneration = scores.regeneration(&battery);
        let scorecard = Scorecard {
            reference,
            grid,
            seeds: seeds.to_vec(),
            growth,
            persistence,
            persistence_verdict,
            recovered_mean: Scoring::recovered_mean(&regeneration, seeds.len()),
            regeneration,
            rotation_mse: scores.rotation(),
        };
        (scorecard, frames)
    }

    /// The reference values (`[visible + 1, H, W]`) and what they are.
    fn reference(
        &self,
        model: &Nca,
        target: Option<(&[f32], String)>,
        [height, width]: [usize; 2],
    ) -> (Vec<f32>, Reference) {
        let visible = model.config().alpha_channel() + 1;
        match target {
            Some((values, description)) => {
                assert_eq!(
                    values.len(),
                    visible * height * width,
                    "target fits the grid"
                );
                (values.to_vec(), Reference::Target { description })
            }
            None => {
                let step = self.last_growth_step();
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
                let seed = start(model, [height, width]);
                let grown = run(model, &seed, [height, width], step, &mut rng);
                (
                    grown[..visible * height * width].to_vec(),
                    Reference::OwnState { step },
                )
            }
        }
    }

    /// Everything one seed's fire decisions produce: growth and persistence from the seed, the
    /// battery of cuts at [`Protocol::cut_at`] and their regrowth, the rotated growth.
    fn run_seed(&self, model: &Nca, grid: [usize; 2], seed: u64, battery: &[Cut]) -> SeedRun {
        let config = model.config();
        let mut scored = self.growth_steps.to_vec();
        scored.extend(self.persistence_steps);
        let plan = Plan {
            scored: &scored,
            cut_at: self.cut_at,
            cuts: battery,
            regrow_steps: self.regrow_steps,
        };
        let course = plan.run(model, grid, seed);
        let rotated = (!config.trainable_perception).then(|| {
            let turned = model
                .clone()
                .with_run_config(NcaConfig {
                    perception_angle_deg: config.perception_angle_deg + self.rotation_deg(),
                    ..config.clone()
                })
                .expect("only the angle of fixed filters changes");
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_add(ROTATION_STREAM));
            let start = start(model, grid);
            run(&turned, &start, grid, self.last_growth_step(), &mut rng)
        });
        SeedRun { course, rotated }
    }
}

/// A part of the grown pattern erased by the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cut {
    /// Every channel zeroed inside a disc; the grid spans `[-1, 1]` in both directions.
    Disc {
        /// `(x, y)` of the centre.
        centre: [f64; 2],
        /// Radius.
        radius: f64,
    },
    /// Every channel zeroed in one half of the grid.
    Half(Half),
}

impl Cut {
    /// Applies the cut to a `[C, H, W]` state.
    pub fn apply(&self, state: &mut [f32], shape: [usize; 3]) {
        let mut grid = HostGrid::new(state, shape);
        match *self {
            Cut::Disc { centre, radius } => grid.erase_disc((centre[0], centre[1]), radius),
            Cut::Half(half) => grid.erase_half(half),
        }
    }

    /// A short name: `disc (0.12, -0.30) r 0.25`, `left half`.
    pub fn name(&self) -> String {
        match self {
            Cut::Disc { centre, radius } => {
                format!("disc ({:.2}, {:.2}) r {radius:.2}", centre[0], centre[1])
            }
            Cut::Half(half) => format!("{half} half"),
        }
    }
}

/// What one seed's runs produced, host-side `[C, H, W]` states.
struct SeedRun {
    /// Growth and persistence (the timeline), the cuts and their regrowth.
    course: Course,
    /// Grown with turned perception (none for learned perception).
    rotated: Option<Vec<f32>>,
}

/// The figures of every seed's runs, against the reference.
struct Scoring<'a> {
    protocol: &'a Protocol,
    config: &'a NcaConfig,
    grid: [usize; 2],
    reference: &'a [f32],
    runs: &'a [SeedRun],
}

impl Scoring<'_> {
    fn shape(&self) -> [usize; 3] {
        [self.config.channels, self.grid[0], self.grid[1]]
    }

    fn live(&self, state: &[f32]) -> Vec<usize> {
        let alpha = self.config.alpha_channel();
        live_cells(state, self.shape(), alpha, self.protocol.alive_alpha)
    }

    /// One statistic over the seeds.
    fn over_seeds(&self, figure: impl Fn(&SeedRun) -> f64) -> Stat {
        Stat::of(self.runs.iter().map(figure).collect())
    }

    /// MSE and live cells at the timeline's entries `indices`.
    fn at_steps(&self, indices: std::ops::Range<usize>) -> Vec<AtStep> {
        indices
            .map(|index| AtStep {
                step: self.runs[0].course.timeline[index].0,
                mse: self
                    .over_seeds(|run| shown_mse(&run.course.timeline[index].1, self.reference)),
                live_cells: self
                    .over_seeds(|run| self.live(&run.course.timeline[index].1).len() as f64),
            })
            .collect()
    }

    /// Per cut: MSE against the uncut pattern after the cut and after regrowth, the shape
    /// overlap, and the share recovered.
    fn regeneration(&self, battery: &[Cut]) -> Vec<Regrowth> {
        let rgba = self.reference.len();
        battery
            .iter()
            .enumerate()
            .map(|(index, &cut)| {
                let mse =
                    |run: &SeedRun, state: &[f32]| shown_mse(state, &run.course.uncut[..rgba]);
                let mse_cut = |run: &SeedRun| mse(run, &run.course.cuts[index].0);
                let mse_end = |run: &SeedRun| mse(run, &run.course.cuts[index].1);
                Regrowth {
                    cut,
                    mse_cut: self.over_seeds(mse_cut),
                    mse_end: self.over_seeds(mse_end),
                    iou_end: self.over_seeds(|run| {
                        iou(
                            &self.live(&run.course.cuts[index].1),
                            &self.live(&run.course.uncut),
                        )
                    }),
                    recovered: self.over_seeds(|run| {
                        let grown = !self.live(&run.course.uncut).is_empty();
                        recovered(grown, mse_cut(run), mse_end(run))
                    }),
                }
            })
            .collect()
    }

    /// The mean over the cuts of the recovered share, per seed.
    fn recovered_mean(regeneration: &[Regrowth], seeds: usize) -> Stat {
        Stat::of(
            (0..seeds)
                .map(|seed| {
                    let total: f64 = regeneration
                        .iter()
                        .map(|cut| cut.recovered.values[seed])
                        .sum();
                    total / regeneration.len() as f64
                })
                .collect(),
        )
    }

    /// Growth with turned perception against the reference turned as much.
    fn rotation(&self) -> Option<Stat> {
        let visible = self.config.alpha_channel() + 1;
        let turned = rotate_about_seed(
            self.reference,
            [visible, self.grid[0], self.grid[1]],
            self.protocol.quarter_turns,
        );
        (!self.config.trainable_perception).then(|| {
            Stat::of(
                self.runs
                    .iter()
                    .filter_map(|run| run.rotated.as_ref())
                    .map(|rotated| shown_mse(rotated, &turned))
                    .collect(),
            )
        })
    }
}
