//! One scorecard for any model (`nca eval`): a fixed, seeded protocol measuring growth,
//! persistence, regeneration after a battery of cuts, and growth with rotated perception.
//!
//! Every figure is an RGBA mean squared error as the paper's loss (the visible channels and alpha
//! of a state against a reference, clipped to `[0, 1]` as a picture shows them), a live-cell count (alpha above 0.1), a shape overlap or a
//! recovered share, each given as the mean and spread over several seeds of the fire decisions.
//! The protocol is versioned ([`PROTOCOL`]): numbers under one version compare across models,
//! machines and backends.

use burn::tensor::{Tensor, TensorData};
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Half, HostGrid, Nca, host_values};
use serde::{Deserialize, Serialize};

use crate::random_disc;

/// The name and version of the protocol; a change to any number below bumps it.
pub const PROTOCOL: &str = "nca-eval/1";
/// Steps from the seed after which growth is scored (the paper trains on 64–96).
pub const GROWTH_STEPS: [usize; 3] = [48, 64, 96];
/// Steps from the seed after which persistence is scored.
pub const PERSISTENCE_STEPS: [usize; 3] = [500, 1000, 2000];
/// The step at which the grown pattern is cut.
pub const CUT_AT: usize = 200;
/// Steps of regrowth after the cut.
pub const REGROW_STEPS: usize = 400;
/// A cell counts as live (and inside the shape) when its alpha is above this.
pub const ALIVE_ALPHA: f32 = 0.1;
/// Rotation of the perception in the rotation test, degrees.
pub const ROTATION_DEG: f64 = 90.0;
/// Discs in the damage battery, and the seed they are drawn with (from the training
/// distribution: centre in `[-0.5, 0.5]²`, radius in `[0.1, 0.4]`).
const DISCS: usize = 4;
const DISC_SEED: u64 = 2020;
/// The random streams of one seed: growth and persistence use the seed itself (the same fire
/// decisions as `nca grow --seed S`), the cuts and the rotation their own.
const CUT_STREAM: u64 = 1 << 32;
const ROTATION_STREAM: u64 = 2 << 32;

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
    /// The protocol's battery: four discs drawn as in training with a fixed seed, then the four
    /// half cuts.
    pub fn battery() -> Vec<Cut> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(DISC_SEED);
        let discs = (0..DISCS).map(|_| {
            let (centre, radius) = random_disc(&mut rng);
            Cut::Disc {
                centre: [centre.0, centre.1],
                radius,
            }
        });
        let halves = [Half::Left, Half::Right, Half::Top, Half::Bottom].map(Cut::Half);
        discs.chain(halves).collect()
    }

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
            Cut::Half(half) => format!("{half:?} half").to_lowercase(),
        }
    }
}

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
    /// Live cells (alpha above [`ALIVE_ALPHA`]).
    pub live_cells: Stat,
}

/// One cut of the battery and the regrowth after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regrowth {
    /// The cut.
    pub cut: Cut,
    /// RGBA mean squared error of the cut state against the uncut pattern (at [`CUT_AT`]).
    pub mse_cut: Stat,
    /// The same [`REGROW_STEPS`] steps later.
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
    /// After each of [`GROWTH_STEPS`].
    pub growth: Vec<AtStep>,
    /// After each of [`PERSISTENCE_STEPS`].
    pub persistence: Vec<AtStep>,
    /// The verdict on persistence, from the mean live-cell counts.
    pub persistence_verdict: Persistence,
    /// One entry per cut of [`Cut::battery`].
    pub regeneration: Vec<Regrowth>,
    /// Mean over the cuts of the recovered share, per seed.
    pub recovered_mean: Stat,
    /// Growth for the last of [`GROWTH_STEPS`] with the perception rotated by [`ROTATION_DEG`],
    /// against the reference rotated the same way about the seed cell; `None` for learned
    /// perception, whose filters do not rotate.
    pub rotation_mse: Option<Stat>,
}

/// The states the protocol passed through with the first seed, `[C, H, W]` each, for a picture.
#[derive(Debug, Clone)]
pub struct Frames {
    /// The reference (visible channels and alpha only; the rest zero).
    pub reference: Vec<f32>,
    /// After each growth and persistence step, with the step.
    pub timeline: Vec<(usize, Vec<f32>)>,
    /// Grown with rotated perception (none for learned perception).
    pub rotated: Option<Vec<f32>>,
    /// Each cut state and its regrowth.
    pub cuts: Vec<(Vec<f32>, Vec<f32>)>,
}

/// The JSON report: the protocol and every model's scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`PROTOCOL`].
    pub protocol: String,
    /// The protocol's fixed numbers, written out.
    pub settings: Settings,
    /// One entry per model, in the order given.
    pub models: Vec<ModelReport>,
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
}

/// One model's scorecard with what identifies the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    /// As given to `--model`.
    pub model: String,
    /// Trainable parameters.
    pub parameters: usize,
    /// The figures.
    pub scorecard: Scorecard,
}

impl Report {
    /// The report of `models` under this protocol.
    pub fn new(models: Vec<ModelReport>) -> Self {
        Self {
            protocol: PROTOCOL.into(),
            settings: Settings {
                growth_steps: GROWTH_STEPS.to_vec(),
                persistence_steps: PERSISTENCE_STEPS.to_vec(),
                cut_at: CUT_AT,
                regrow_steps: REGROW_STEPS,
                alive_alpha: f64::from(ALIVE_ALPHA),
                rotation_deg: ROTATION_DEG,
                cuts: Cut::battery(),
                seeding: "seed S: growth and persistence draw from Xoshiro256PlusPlus::seed_from_u64(S) \
                          (as `nca grow --seed S`), the cuts from S + 2^32, the rotation from S + 2^33"
                    .into(),
            },
            models,
        }
    }
}

/// Runs the protocol on `model` for each of `seeds`, on a `grid` (`[height, width]`) and against
/// `target` (`[visible + 1, H, W]`, with its description) or, without one, the model's own state
/// at the last growth step.
///
/// # Panics
/// If `seeds` is empty, the grid is smaller than 3x3 or `target` does not fit the grid.
pub fn evaluate(
    model: &Nca,
    target: Option<(&[f32], String)>,
    grid: [usize; 2],
    seeds: &[u64],
) -> (Scorecard, Frames) {
    assert!(!seeds.is_empty(), "evaluate needs at least one seed");
    let [height, width] = grid;
    assert!(
        height >= 3 && width >= 3,
        "evaluate needs a grid of 3x3 or more"
    );
    let config = model.config();
    let channels = config.channels;
    let visible = config.alpha_channel() + 1;
    let shape = [channels, height, width];
    let last_growth = GROWTH_STEPS[GROWTH_STEPS.len() - 1];

    let (reference_values, reference) = match target {
        Some((values, description)) => {
            assert_eq!(
                values.len(),
                visible * height * width,
                "target fits the grid"
            );
            (values.to_vec(), Reference::Target { description })
        }
        None => {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
            let grown = run(
                model,
                &host_values(model.seed(1, height, width)),
                grid,
                last_growth,
                &mut rng,
            );
            (
                grown[..visible * height * width].to_vec(),
                Reference::OwnState { step: last_growth },
            )
        }
    };
    let rotated_reference = rotate_about_seed(&reference_values, [visible, height, width]);
    let battery = Cut::battery();

    let mut per_seed = Vec::new();
    for &seed in seeds {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut state = host_values(model.seed(1, height, width));
        let mut done = 0;
        let mut timeline = Vec::new();
        let mut uncut = Vec::new();
        let mut checkpoints: Vec<usize> = GROWTH_STEPS.to_vec();
        checkpoints.push(CUT_AT);
        checkpoints.extend(PERSISTENCE_STEPS);
        checkpoints.sort_unstable();
        for step in checkpoints {
            state = run(model, &state, grid, step - done, &mut rng);
            done = step;
            if step == CUT_AT {
                uncut = state.clone();
            }
            if GROWTH_STEPS.contains(&step) || PERSISTENCE_STEPS.contains(&step) {
                timeline.push((step, state.clone()));
            }
        }

        let mut cut_states: Vec<f32> = Vec::with_capacity(battery.len() * uncut.len());
        for cut in &battery {
            let mut cut_state = uncut.clone();
            cut.apply(&mut cut_state, shape);
            cut_states.extend(cut_state);
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_add(CUT_STREAM));
        let regrown = run(model, &cut_states, grid, REGROW_STEPS, &mut rng);

        let rotated = (!config.trainable_perception).then(|| {
            let rotated_model = model
                .clone()
                .with_run_config(nca_core::NcaConfig {
                    perception_angle_deg: config.perception_angle_deg + ROTATION_DEG,
                    ..config.clone()
                })
                .expect("only the angle of fixed filters changes");
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_add(ROTATION_STREAM));
            let seed_state = host_values(model.seed(1, height, width));
            run(&rotated_model, &seed_state, grid, last_growth, &mut rng)
        });
        let size = uncut.len();
        let cuts: Vec<(Vec<f32>, Vec<f32>)> = cut_states
            .chunks_exact(size)
            .zip(regrown.chunks_exact(size))
            .map(|(cut, end)| (cut.to_vec(), end.to_vec()))
            .collect();
        per_seed.push(SeedRun {
            timeline,
            uncut,
            cuts,
            rotated,
        });
    }
    // The pictures are seed 0's (the first seed's) states.
    let first = &per_seed[0];
    let mut reference_frame = vec![0.0; first.uncut.len()];
    reference_frame[..reference_values.len()].copy_from_slice(&reference_values);
    let frames = Frames {
        reference: reference_frame,
        timeline: first.timeline.clone(),
        rotated: first.rotated.clone(),
        cuts: first.cuts.clone(),
    };

    // The visible channels and alpha of a state (a prefix of its values), without copying.
    let rgba_len = visible * height * width;
    let mse = |state: &[f32], reference: &[f32]| shown_mse(state, reference);
    let live = |state: &[f32]| live_cells(state, shape, config.alpha_channel()).len() as f64;
    let at_step = |index: usize| AtStep {
        step: per_seed[0].timeline[index].0,
        mse: Stat::of(
            per_seed
                .iter()
                .map(|run| mse(&run.timeline[index].1, &reference_values))
                .collect(),
        ),
        live_cells: Stat::of(
            per_seed
                .iter()
                .map(|run| live(&run.timeline[index].1))
                .collect(),
        ),
    };
    let growth: Vec<AtStep> = (0..GROWTH_STEPS.len()).map(at_step).collect();
    let persistence: Vec<AtStep> = (GROWTH_STEPS.len()
        ..GROWTH_STEPS.len() + PERSISTENCE_STEPS.len())
        .map(at_step)
        .collect();
    let grown_live = growth[growth.len() - 1].live_cells.mean;
    let kept_live = persistence[persistence.len() - 1].live_cells.mean;
    let persistence_verdict = if grown_live == 0.0 {
        Persistence::NeverGrows
    } else if kept_live < 0.5 * grown_live {
        Persistence::DiesOut
    } else if kept_live > 1.5 * grown_live {
        Persistence::Overflows
    } else {
        Persistence::Keeps
    };

    let regeneration: Vec<Regrowth> = battery
        .iter()
        .enumerate()
        .map(|(index, &cut)| {
            let figure = |f: &dyn Fn(&SeedRun) -> f64| Stat::of(per_seed.iter().map(f).collect());
            Regrowth {
                cut,
                mse_cut: figure(&|run| mse(&run.cuts[index].0, &run.uncut[..rgba_len])),
                mse_end: figure(&|run| mse(&run.cuts[index].1, &run.uncut[..rgba_len])),
                iou_end: figure(&|run| {
                    iou(
                        &live_cells(&run.cuts[index].1, shape, config.alpha_channel()),
                        &live_cells(&run.uncut, shape, config.alpha_channel()),
                    )
                }),
                recovered: figure(&|run| {
                    let grown = !live_cells(&run.uncut, shape, config.alpha_channel()).is_empty();
                    recovered(
                        grown,
                        mse(&run.cuts[index].0, &run.uncut[..rgba_len]),
                        mse(&run.cuts[index].1, &run.uncut[..rgba_len]),
                    )
                }),
            }
        })
        .collect();
    let recovered_mean = Stat::of(
        (0..seeds.len())
            .map(|seed| {
                regeneration
                    .iter()
                    .map(|cut| cut.recovered.values[seed])
                    .sum::<f64>()
                    / regeneration.len() as f64
            })
            .collect(),
    );
    let rotation_mse = (!config.trainable_perception).then(|| {
        Stat::of(
            per_seed
                .iter()
                .filter_map(|run| run.rotated.as_ref())
                .map(|rotated| mse(rotated, &rotated_reference))
                .collect(),
        )
    });

    let scorecard = Scorecard {
        reference,
        grid,
        seeds: seeds.to_vec(),
        growth,
        persistence,
        persistence_verdict,
        regeneration,
        recovered_mean,
        rotation_mse,
    };
    (scorecard, frames)
}

/// What one seed's runs produced, host-side `[C, H, W]` states.
struct SeedRun {
    timeline: Vec<(usize, Vec<f32>)>,
    uncut: Vec<f32>,
    cuts: Vec<(Vec<f32>, Vec<f32>)>,
    rotated: Option<Vec<f32>>,
}

/// `steps` steps of `model` (its engine) from host states `[B, C, H, W]` on a `[H, W]` grid
/// (B read off the length).
fn run(
    model: &Nca,
    states: &[f32],
    [height, width]: [usize; 2],
    steps: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<f32> {
    let channels = model.config().channels;
    let batch = states.len() / (channels * height * width);
    let tensor = Tensor::<4>::from_data(
        TensorData::new(states.to_vec(), [batch, channels, height, width]),
        &model.device(),
    );
    host_values(model.advance(tensor, steps, rng))
}

/// Mean squared error of the first `reference.len()` values of `state` (its visible channels and
/// alpha) against `reference`, both as a picture shows them: clipped to `[0, 1]`, NaN as 0. For
/// states within `[0, 1]` (a trained model near its target) this is the paper's loss; a model
/// whose values blow up gets a bounded score instead of infinity.
pub fn shown_mse(state: &[f32], reference: &[f32]) -> f64 {
    let shown = |v: f32| {
        if v.is_nan() {
            0.0
        } else {
            f64::from(v.clamp(0.0, 1.0))
        }
    };
    let sum: f64 = state
        .iter()
        .zip(reference)
        .map(|(&a, &b)| (shown(a) - shown(b)).powi(2))
        .sum();
    sum / reference.len() as f64
}

/// Indices of the live cells (alpha above [`ALIVE_ALPHA`]) of a `[C, H, W]` state.
fn live_cells(state: &[f32], [_, height, width]: [usize; 3], alpha: usize) -> Vec<usize> {
    let plane = height * width;
    state[alpha * plane..(alpha + 1) * plane]
        .iter()
        .enumerate()
        .filter(|&(_, &a)| a > ALIVE_ALPHA)
        .map(|(index, _)| index)
        .collect()
}

/// Intersection over union of two sets of cell indices, `regrown` against `uncut`: 0 when the
/// uncut pattern has no live cell (nothing grew, so nothing regrew).
fn iou(regrown: &[usize], uncut: &[usize]) -> f64 {
    let uncut_set: std::collections::HashSet<&usize> = uncut.iter().collect();
    let both = regrown.iter().filter(|i| uncut_set.contains(i)).count();
    let either = regrown.len() + uncut.len() - both;
    if uncut.is_empty() {
        0.0
    } else {
        both as f64 / either as f64
    }
}

/// The share of a cut's damage repaired, `1 − mse_end / mse_cut` (the errors of the regrown and
/// of the cut pattern against the uncut one): 0 when nothing had grown to be cut; when the cut
/// missed the pattern (`mse_cut` 0), 1 if it stayed as it was, else 0.
pub fn recovered(grown: bool, mse_cut: f64, mse_end: f64) -> f64 {
    if !grown {
        0.0
    } else if mse_cut > 0.0 {
        1.0 - mse_end / mse_cut
    } else if mse_end == 0.0 {
        1.0
    } else {
        0.0
    }
}

/// A `[C, H, W]` state rotated by 90° about the seed cell `[H/2, W/2]`; cells rotated out of the
/// grid are dropped, cells rotated in from outside are empty.
pub fn rotate_about_seed(state: &[f32], [channels, height, width]: [usize; 3]) -> Vec<f32> {
    let (cy, cx) = ((height / 2) as isize, (width / 2) as isize);
    let mut rotated = vec![0.0; state.len()];
    for y in 0..height as isize {
        for x in 0..width as isize {
            // (dy, dx) → (−dx, dy): a quarter turn, matching a perception rotated by +90°.
            let (ry, rx) = (cy - (x - cx), cx + (y - cy));
            if (0..height as isize).contains(&ry) && (0..width as isize).contains(&rx) {
                for c in 0..channels {
                    rotated[(c * height + ry as usize) * width + rx as usize] =
                        state[(c * height + y as usize) * width + x as usize];
                }
            }
        }
    }
    rotated
}
