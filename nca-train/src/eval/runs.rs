//! What both protocols run of one seed: its random streams, rollouts from host states (towards
//! a goal, for a goal model), and the course from the model's start state (the states at the
//! scored steps, the pattern at the cut step cut each way and regrown).

use burn::tensor::{Tensor, TensorData};
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Nca, host_values};

use super::Cut;

/// The random streams of one seed S: the run from the start state draws from S itself (the same
/// fire decisions as `nca grow --seed S`), the regrowth after the cuts and the rotation from
/// their own streams.
pub(super) const CUT_STREAM: u64 = 1 << 32;
pub(super) const ROTATION_STREAM: u64 = 2 << 32;
/// A goal model's morphs: from the pattern at the cut step, towards each other goal.
pub(super) const MORPH_STREAM: u64 = 3 << 32;

/// What one seed's run from the model's start state passed through, host-side `[C, H, W]`
/// states.
#[derive(Debug, Clone)]
pub struct Course {
    /// After each scored step, with the step.
    pub timeline: Vec<(usize, Vec<f32>)>,
    /// The pattern at the cut step, before the cut.
    pub uncut: Vec<f32>,
    /// Each cut state and its regrowth.
    pub cuts: Vec<(Vec<f32>, Vec<f32>)>,
}

/// The steps of a course: scored after `scored` steps from the start state, cut at `cut_at` by
/// each of `cuts`, regrown `regrow_steps` steps; every step towards `goal` (a goal model's; `None`
/// for a model without goals).
pub(super) struct Plan<'a> {
    pub goal: Option<usize>,
    pub scored: &'a [usize],
    pub cut_at: usize,
    pub cuts: &'a [Cut],
    pub regrow_steps: usize,
}

impl Plan<'_> {
    /// The course of `model` on a `grid` with seed `seed`'s fire decisions: the run from the
    /// start state draws from `seed`, the regrowth of every cut (one batch) from its cut stream.
    pub(super) fn run(&self, model: &Nca, grid: [usize; 2], seed: u64) -> Course {
        let shape = [model.config().channels, grid[0], grid[1]];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut checkpoints = self.scored.to_vec();
        checkpoints.push(self.cut_at);
        checkpoints.sort_unstable();
        checkpoints.dedup();
        let (mut state, mut done) = (start(model, grid), 0);
        let (mut timeline, mut uncut) = (Vec::new(), Vec::new());
        for step in checkpoints {
            state = run(model, &state, grid, step - done, self.goal, &mut rng);
            done = step;
            if step == self.cut_at {
                uncut = state.clone();
            }
            if self.scored.contains(&step) {
                timeline.push((step, state.clone()));
            }
        }

        let cut_states: Vec<f32> = self
            .cuts
            .iter()
            .flat_map(|cut| {
                let mut cut_state = uncut.clone();
                cut.apply(&mut cut_state, shape);
                cut_state
            })
            .collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_add(CUT_STREAM));
        let regrown = run(
            model,
            &cut_states,
            grid,
            self.regrow_steps,
            self.goal,
            &mut rng,
        );
        let cuts = cut_states
            .chunks_exact(uncut.len())
            .zip(regrown.chunks_exact(uncut.len()))
            .map(|(cut, end)| (cut.to_vec(), end.to_vec()))
            .collect();
        Course {
            timeline,
            uncut,
            cuts,
        }
    }
}

/// The model's start state on a `[H, W]` grid, `[C, H, W]` on the host.
pub(super) fn start(model: &Nca, [height, width]: [usize; 2]) -> Vec<f32> {
    host_values(model.seed(1, height, width))
}

/// `steps` steps of `model` (its engine) from host states `[B, C, H, W]` on a `[H, W]` grid
/// (B read off the length), every sample towards `goal` (an index into the model's goals; `None`
/// for a model without goals).
pub(super) fn run(
    model: &Nca,
    states: &[f32],
    [height, width]: [usize; 2],
    steps: usize,
    goal: Option<usize>,
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<f32> {
    let channels = model.config().channels;
    let batch = states.len() / (channels * height * width);
    let tensor = Tensor::<4>::from_data(
        TensorData::new(states.to_vec(), [batch, channels, height, width]),
        &model.device(),
    );
    host_values(model.advance_toward_goal(tensor, goal.unwrap_or(0), steps, rng))
}
