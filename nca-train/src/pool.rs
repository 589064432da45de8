//! The sample pool (persistent and regenerating experiments) and damage by random discs.

use nca_core::HostGrid;
use rand::{Rng, RngExt};

/// States kept between iterations on the host, each `channels x height x width` values.
///
/// Batches are drawn from it and written back after training on them, so the model learns to
/// keep what it grew instead of only growing it.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplePool {
    states: Vec<Vec<f32>>,
    shape: [usize; 3],
    /// Each state's goal (an index into the model's goals); all 0 for a model without goals.
    goals: Vec<usize>,
}

impl SamplePool {
    /// `size` copies of `seed` (a `[C, H, W]` state).
    pub fn new(size: usize, seed: Vec<f32>, shape: [usize; 3]) -> Self {
        Self::from_states(vec![seed; size], shape)
    }

    /// A pool from stored states, e.g. a checkpoint.
    pub fn from_states(states: Vec<Vec<f32>>, shape: [usize; 3]) -> Self {
        let goals = vec![0; states.len()];
        Self {
            states,
            shape,
            goals,
        }
    }

    /// The same pool with each state's goal (a goal run's).
    ///
    /// # Panics
    /// If `goals` does not hold one goal per state.
    pub fn with_goals(self, goals: Vec<usize>) -> Self {
        assert_eq!(goals.len(), self.states.len(), "one goal per pool state");
        Self { goals, ..self }
    }

    /// Each state's goal, in the states' order (all 0 for a model without goals).
    pub fn goals(&self) -> &[usize] {
        &self.goals
    }

    /// The goal of the state at `index`.
    pub fn goal(&self, index: usize) -> usize {
        self.goals[index]
    }

    /// The states in the pool.
    pub fn states(&self) -> &[Vec<f32>] {
        &self.states
    }

    /// `[C, H, W]` of every state.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Number of states.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether the pool holds no state.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// `count` distinct indices drawn uniformly (without replacement).
    pub fn sample_indices(&self, count: usize, rng: &mut impl Rng) -> Vec<usize> {
        rand::seq::index::sample(rng, self.states.len(), count).into_vec()
    }

    /// The state at `index`.
    pub fn get(&self, index: usize) -> &[f32] {
        &self.states[index]
    }

    /// A training batch as the paper draws it: `batch_size` states sampled without replacement,
    /// sorted by `rank` (a state's loss; highest first); the highest-loss one replaced
    /// by `seed`, the `damaged` lowest-loss ones damaged by a random disc. Returns each state
    /// with the pool index it is written back to.
    pub fn draw(
        &self,
        batch_size: usize,
        damaged: usize,
        seed: &[f32],
        rank: impl Fn(&[f32]) -> f64,
        rng: &mut impl Rng,
    ) -> Vec<(usize, Vec<f32>)> {
        self.draw_ranked(batch_size, damaged, seed, |_, state| rank(state), rng)
    }

    /// [`draw`](Self::draw) with a ranking that also knows each state's pool index (a goal run
    /// ranks a state against its own goal's target).
    pub fn draw_ranked(
        &self,
        batch_size: usize,
        damaged: usize,
        seed: &[f32],
        rank: impl Fn(usize, &[f32]) -> f64,
        rng: &mut impl Rng,
    ) -> Vec<(usize, Vec<f32>)> {
        let mut drawn: Vec<(usize, Vec<f32>, f64)> = self
            .sample_indices(batch_size, rng)
            .into_iter()
            .map(|index| {
                let state = &self.states[index];
                (index, state.clone(), rank(index, state))
            })
            .collect();
        drawn.sort_by(|a, b| b.2.total_cmp(&a.2));
        drawn[0].1 = seed.to_vec();
        for (_, state, _) in drawn.iter_mut().skip(batch_size - damaged) {
            damage(state, self.shape, rng);
        }
        drawn
            .into_iter()
            .map(|(index, state, _)| (index, state))
            .collect()
    }

    /// Replaces the state at `index`.
    pub fn put(&mut self, index: usize, state: Vec<f32>) {
        self.states[index] = state;
    }

    /// Sets the goal of the state at `index` (a morphed state keeps its new goal).
    pub fn set_goal(&mut self, index: usize, goal: usize) {
        self.goals[index] = goal;
    }
}

/// Zeroes every channel of a `[C, H, W]` state inside a random disc ([`HostGrid::erase_disc`]): centre uniform in
/// `[-0.5, 0.5]²`, radius uniform in `[0.1, 0.4]`, in coordinates where the grid spans `[-1, 1]`
/// (as the paper's `make_circle_masks`).
pub fn damage(state: &mut [f32], shape: [usize; 3], rng: &mut impl Rng) {
    let (centre, radius) = random_disc(rng);
    HostGrid::new(state, shape).erase_disc(centre, radius);
}

/// The disc [`damage`] erases: `((cx, cy), radius)`, centre uniform in `[-0.5, 0.5]²`, radius
/// uniform in `[0.1, 0.4]`.
pub fn random_disc(rng: &mut impl Rng) -> ((f64, f64), f64) {
    let centre = (rng.random_range(-0.5..0.5), rng.random_range(-0.5..0.5));
    (centre, rng.random_range(0.1..0.4))
}
