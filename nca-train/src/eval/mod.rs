//! One scorecard for any model (`nca eval`): a fixed, seeded protocol measuring growth,
//! persistence, regeneration after a battery of cuts, and growth with rotated perception.
//!
//! Every figure is an RGBA mean squared error as the paper's loss (the visible channels and alpha
//! of a state against a reference, clipped to `[0, 1]` as a picture shows them), a live-cell
//! count, a shape overlap or a recovered share, each given as the mean and spread over several
//! seeds of the fire decisions. Every fixed number lives in one [`Protocol`] value, versioned by
//! its name: numbers under one version compare across models, machines and backends.
//!
//! A goal model ([`NcaConfig::has_goals`]) is scored once per goal ([`Protocol::evaluate_goals`]):
//! the same protocol with every step towards that goal, against that goal's target, plus its
//! morphs: the pattern at the cut step switched to each other goal and run
//! [`Protocol::morph_steps`] steps, scored against the new goal's target ([`Morph`]).
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
    AtStep, Frames, ModelReport, Morph, Persistence, Reference, Regrowth, Report, Scorecard,
    Settings, Stat,
};
pub use runs::Course;
pub use texture::{
    LossAt, TEXTURE_PROTOCOL, TextureCut, TextureProtocol, TextureReport, TextureScorecard,
    TextureSettings,
};

use crate::random_disc;
use measures::{iou, live_cells};
use runs::{CUT_STREAM, MORPH_STREAM, Plan, ROTATION_STREAM, run, start};

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
    /// A goal model's morphs: steps towards the new goal after the switch, from the pattern at
    /// [`Protocol::cut_at`] (200: as long as the regrowth after a half cut takes to be scored
    /// half way, and long past the 64–96 steps a goal is trained to grow in, so a model that
    /// learned its morphs has had time to finish one). Scored for goal models only: the
    /// growing models' figures are those of the protocol without it.
    pub morph_steps: usize,
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
    morph_steps: 200,
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
    /// model's own state at the last growth step. A goal model is scored per goal by
    /// [`Protocol::evaluate_goals`].
    ///
    /// # Panics
    /// If `seeds` is empty, the grid is smaller than 3x3, `target` does not fit the grid or the
    /// model has goals.
    pub fn evaluate(
        &self,
        model: &Nca,
        target: Option<(&[f32], String)>,
        grid: [usize; 2],
        seeds: &[u64],
    ) -> (Scorecard, Frames) {
        assert!(
            !model.config().has_goals(),
            "a goal model is scored per goal (evaluate_goals)"
        );
        check(grid, seeds);
        let reference = self.reference(model, None, target, grid);
        self.score(model, None, &[reference], grid, seeds)
    }

    /// Runs the protocol on a goal model once per goal, as [`Protocol::evaluate`] does, every
    /// step towards that goal and against that goal's target (`targets`, one per goal in the
    /// model's order, or, without them, each goal's own state at the last growth step); each
    /// goal's scorecard also holds its morphs into every other goal ([`Scorecard::morph`]).
    /// One scorecard and the first seed's frames per goal, in the goals' order.
    ///
    /// # Panics
    /// If `seeds` is empty, the grid is smaller than 3x3, the model has no goals, or `targets`
    /// are not one per goal, each fitting the grid.
    pub fn evaluate_goals(
        &self,
        model: &Nca,
        targets: Option<&[(&[f32], String)]>,
        grid: [usize; 2],
        seeds: &[u64],
    ) -> Vec<(Scorecard, Frames)> {
        let goals = model.config().goals.len();
        assert!(goals > 0, "evaluate_goals scores a goal model");
        if let Some(targets) = targets {
            assert_eq!(targets.len(), goals, "one target per goal");
        }
        check(grid, seeds);
        let references: Vec<(Vec<f32>, Reference)> = (0..goals)
            .map(|goal| {
                let target = targets.map(|targets| (targets[goal].0, targets[goal].1.clone()));
                self.reference(model, Some(goal), target, grid)
            })
            .collect();
        (0..goals)
            .map(|goal| self.score(model, Some(goal), &references, grid, seeds))
            .collect()
    }

    /// The scorecard of `goal` (`None` for a model without goals), against its entry of
    /// `references` (the only one without goals), with its morphs into the others.
    fn score(
        &self,
        model: &Nca,
        goal: Option<usize>,
        references: &[(Vec<f32>, Reference)],
        grid: [usize; 2],
        seeds: &[u64],
    ) -> (Scorecard, Frames) {
        let (reference_values, reference) = &references[goal.unwrap_or(0)];
        let morph_to: Vec<usize> = match goal {
            Some(goal) => (0..references.len()).filter(|&to| to != goal).collect(),
            None => Vec::new(),
        };
        let battery = self.battery();
        let names = &model.config().goals;
        let runs: Vec<SeedRun> = seeds
            .iter()
            .map(|&seed| self.run_seed(model, grid, seed, &battery, goal, &morph_to))
            .collect();
        let frames = Frames {
            reference: {
                let mut frame = vec![0.0; runs[0].course.uncut.len()];
                frame[..reference_values.len()].copy_from_slice(reference_values);
                frame
            },
            course: runs[0].course.clone(),
            rotated: runs[0].rotated.clone(),
            morphed: morph_to
                .iter()
                .zip(&runs[0].morphed)
                .map(|(&to, state)| (names[to].clone(), state.clone()))
                .collect(),
        };
        let scores = Scoring {
            protocol: self,
            config: model.config(),
            grid,
            reference: reference_values,
            runs: &runs,
        };
        let growth = scores.at_steps(0..self.growth_steps.len());
        let persistence = scores.at_steps(self.growth_steps.len()..runs[0].course.timeline.len());
        let persistence_verdict = Persistence::judge(
            growth[growth.len() - 1].live_cells.mean,
            persistence[persistence.len() - 1].live_cells.mean,
        );
        let regeneration = scores.regeneration(&battery);
        let morph = morph_to
            .iter()
            .enumerate()
            .map(|(index, &to)| Morph {
                to: names[to].clone(),
                mse: scores.over_seeds(|run| shown_mse(&run.morphed[index], &references[to].0)),
            })
            .collect();
        let scorecard = Scorecard {
            reference: reference.clone(),
            grid,
            seeds: seeds.to_vec(),
            growth,
            persistence,
            persistence_verdict,
            recovered_mean: Scoring::recovered_mean(&regeneration, seeds.len()),
            regeneration,
            rotation_mse: scores.rotation(),
            goal: goal.map(|goal| names[goal].clone()),
            morph,
        };
        (scorecard, frames)
    }

    /// The reference values (`[visible + 1, H, W]`) and what they are, for `goal` of a goal
    /// model.
    fn reference(
        &self,
        model: &Nca,
        goal: Option<usize>,
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
                let grown = run(model, &seed, [height, width], step, goal, &mut rng);
                (
                    grown[..visible * height * width].to_vec(),
                    Reference::OwnState { step },
                )
            }
        }
    }

    /// Everything one seed's fire decisions produce: growth and persistence from the seed, the
    /// battery of cuts at [`Protocol::cut_at`] and their regrowth, the rotated growth, every step
    /// towards `goal`; then the pattern at the cut step run towards each of `morph_to`.
    fn run_seed(
        &self,
        model: &Nca,
        grid: [usize; 2],
        seed: u64,
        battery: &[Cut],
        goal: Option<usize>,
        morph_to: &[usize],
    ) -> SeedRun {
        let config = model.config();
        let mut scored = self.growth_steps.to_vec();
        scored.extend(self.persistence_steps);
        let plan = Plan {
            goal,
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
            run(
                &turned,
                &start,
                grid,
                self.last_growth_step(),
                goal,
                &mut rng,
            )
        });
        // Each morph from its own stream, the same whichever other goals the model has.
        let morphed = morph_to
            .iter()
            .map(|&to| {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_add(MORPH_STREAM));
                run(
                    model,
                    &course.uncut,
                    grid,
                    self.morph_steps,
                    Some(to),
                    &mut rng,
                )
            })
            .collect();
        SeedRun {
            course,
            rotated,
            morphed,
        }
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
    /// A goal model's pattern at the cut step after [`Protocol::morph_steps`] towards each other
    /// goal, in the goals' order.
    morphed: Vec<Vec<f32>>,
}

/// Refuses no seeds and grids too small for the protocol.
fn check(grid: [usize; 2], seeds: &[u64]) {
    assert!(!seeds.is_empty(), "evaluate needs at least one seed");
    assert!(
        grid.iter().all(|&side| side >= 3),
        "evaluate needs a grid of 3x3 or more"
    );
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

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;

    const SIDE: usize = 8;

    /// A premultiplied RGBA target `[4, SIDE, SIDE]`: an opaque square of `colour` in the
    /// rows `rows`, nothing elsewhere.
    fn square(colour: [f32; 3], rows: std::ops::Range<usize>) -> Vec<f32> {
        let plane = SIDE * SIDE;
        let mut rgba = vec![0.0; 4 * plane];
        for y in rows {
            for x in 2..6 {
                for (channel, value) in colour.iter().chain(&[1.0]).enumerate() {
                    rgba[channel * plane + y * SIDE + x] = *value;
                }
            }
        }
        rgba
    }

    #[test]
    fn each_goal_is_scored_against_its_own_target_and_morphs_against_the_others() {
        let config = NcaConfig {
            channels: 8,
            hidden_units: 12,
            goals: vec!["a".into(), "b".into()],
            goal_size: 2,
            ..NcaConfig::default()
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let model = config.init(&Device::flex(), &mut rng).unwrap();
        let protocol = Protocol {
            growth_steps: [1, 2, 3],
            persistence_steps: [4, 5, 6],
            cut_at: 3,
            regrow_steps: 2,
            morph_steps: 2,
            ..PROTOCOL
        };
        let (a, b) = (square([1.0, 0.0, 0.0], 1..4), square([0.0, 0.0, 1.0], 3..7));
        let score = |targets: [(&[f32], String); 2]| {
            protocol.evaluate_goals(&model, Some(&targets), [SIDE, SIDE], &[0])
        };
        let cards = score([(&a, "A".into()), (&b, "B".into())]);
        let swapped = score([(&b, "B".into()), (&a, "A".into())]);
        assert_eq!(cards.len(), 2);
        for (goal, (own, other)) in [(&a, &b), (&b, &a)].into_iter().enumerate() {
            let (card, frames) = &cards[goal];
            let (card_swapped, frames_swapped) = &swapped[goal];
            let name = config.goals[goal].clone();
            assert_eq!(card.goal.as_ref(), Some(&name));
            let last = |frames: &Frames| frames.course.timeline[2].1.clone();
            let growth = |card: &Scorecard| card.growth[2].mse.mean;
            // Growth against this goal's own target, and against the other after the swap.
            assert_eq!(growth(card), shown_mse(&last(frames), own));
            assert_eq!(
                growth(card_swapped),
                shown_mse(&last(frames_swapped), other)
            );
            assert_ne!(growth(card), growth(card_swapped), "goal {name}");
            // One morph, into the other goal, against the other goal's target.
            assert_eq!(card.morph.len(), 1);
            let to = config.goals[1 - goal].clone();
            assert_eq!(card.morph[0].to, to);
            // A fresh model (its last layer zero) changes nothing: the morph ends as it began.
            assert_eq!(
                card.morph[0].mse.mean,
                shown_mse(&frames.course.uncut, other)
            );
            assert_ne!(card.morph[0].mse, card_swapped.morph[0].mse, "morph → {to}");
        }
        assert_eq!(
            cards[0].0.reference,
            Reference::Target {
                description: "A".into()
            }
        );
    }
}
