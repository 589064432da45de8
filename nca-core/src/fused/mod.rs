//! nca's fused CPU kernel: a whole step of the automaton computed cell by cell, only for the
//! cells whose result can matter, with a hand-written backward for training.
//!
//! The maths is the paper's step (see [`Nca::step`]); the kernel only skips work whose result is
//! provably thrown away:
//! - a cell that does not fire keeps its state, so its update is never computed;
//! - a cell that was not alive before the step is zeroed after it, so its update matters only
//!   through its alpha, which decides whether a live neighbour stays alive: updates are computed
//!   for fired cells within one cell of a live one, and nowhere else.
//!
//! A training rollout keeps, for its backward pass, the state before every step and the
//! activations (perception and hidden layer) of the cells each step updated.
//!
//! A goal model's goal is a per-sample bias of the hidden layer: each sample's hidden bias is the
//! model's plus its goal's term `embedding[g] · weight`, computed once per rollout; the goal's
//! weights get their gradients from each sample's hidden-bias gradient.

mod backward;
mod band_order;
mod forward;
mod grid;
mod matmul;
mod peak;
mod perception;
mod simd;

use std::borrow::Cow;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;
use ndarray::{Array1, Array2};
use rand::Rng;
use rayon::prelude::*;

use crate::engine::fire_decisions;
use crate::goal::check_goals;
use crate::{Border, Nca, NcaConfig, Perception};
use backward::{Accumulated, GoalGradients};
pub use band_order::{perception_rows_to_bands, perception_rows_to_interleaved};
use grid::Grid;
pub use peak::multiply_add_peak;

/// A model's weights on the host, laid out for the fused kernel.
///
/// Perception values are kept in band order, `[bands, C]` (all identities, then all x
/// gradients, then all y gradients, then all Laplacians; see [`perception_rows_to_bands`]), where
/// the model interleaves them per channel, `[C, bands]`: each filter then runs over contiguous
/// channels.
#[derive(Debug, Clone)]
pub struct FusedNca {
    config: NcaConfig,
    /// `[9, bands·C]` (band order): the perception filters, one row per 3x3 tap.
    filters: Vec<f32>,
    /// `[bands·C (band order), hidden]`.
    hidden_weight: Array2<f32>,
    hidden_bias: Array1<f32>,
    /// `[hidden, C]`.
    output_weight: Array2<f32>,
    output_bias: Array1<f32>,
    /// A goal model's goal input.
    goal: Option<FusedGoal>,
}

/// A goal model's goal input on the host.
#[derive(Debug, Clone)]
struct FusedGoal {
    /// `[goals, goal_size]`.
    embedding: Array2<f32>,
    /// `[goal_size, hidden]`.
    weight: Array2<f32>,
}

/// A loss on the end state of each sample of a training rollout, which
/// [`FusedNca::train_rollout`] backpropagates; the batch's loss is the mean of its samples'.
pub trait HostLoss: Sync {
    /// The loss of one sample's end state (`[C, H, W]` values, of `shape`) and its gradient with
    /// respect to that state (the same layout).
    fn sample_loss(&self, end: &[f32], shape: [usize; 3]) -> (f64, Vec<f32>);

    /// [`sample_loss`](Self::sample_loss) of sample `sample` of the batch, which is what the
    /// kernel asks; by default every sample's loss is the same. A loss that differs by sample (a
    /// goal run's: each sample towards its own goal's target) overrides it.
    fn sample_loss_at(&self, sample: usize, end: &[f32], shape: [usize; 3]) -> (f64, Vec<f32>) {
        let _ = sample;
        self.sample_loss(end, shape)
    }
}

/// What one training rollout of the fused kernel gives.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedIteration {
    /// The states after the rollout, `[B, C, H, W]` values.
    pub end: Vec<f32>,
    /// The loss of `end`: the mean of its samples' losses.
    pub loss: f64,
    /// Gradients of `loss` with respect to the model's parameters.
    pub gradients: FusedGradients,
}

/// Gradients of a loss with respect to a model's parameters, each laid out like its parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedGradients {
    /// `[bands·C, 1, 3, 3]`; only for a learned perception.
    pub perception: Option<Vec<f32>>,
    /// `[bands·C, hidden]`.
    pub hidden_weight: Vec<f32>,
    /// `[hidden]`.
    pub hidden_bias: Vec<f32>,
    /// `[hidden, C]`.
    pub output_weight: Vec<f32>,
    /// `[C]`.
    pub output_bias: Vec<f32>,
    /// `[goals, goal_size]`; only for a goal model.
    pub goal_embedding: Option<Vec<f32>>,
    /// `[goal_size, hidden]`; only for a goal model.
    pub goal_weight: Option<Vec<f32>>,
}

impl FusedGradients {
    /// Each gradient with the id of its parameter in `nca` (the model they were computed for),
    /// in the order burn visits the parameters.
    ///
    /// # Panics
    /// If a parameter of `nca` has no gradient here: a kernel that misses one fails loudly
    /// instead of leaving that parameter untrained.
    pub fn into_params(self, nca: &Nca) -> Vec<(ParamId, Vec<f32>)> {
        let update = &nca.update;
        let mut known = vec![
            (update.hidden.weight.id, self.hidden_weight),
            (update.output.weight.id, self.output_weight),
        ];
        for (bias, values) in [
            (&update.hidden.bias, self.hidden_bias),
            (&update.output.bias, self.output_bias),
        ] {
            if let Some(bias) = bias {
                known.push((bias.id, values));
            }
        }
        if let (Perception::Learned(kernel), Some(values)) = (&nca.perception, self.perception) {
            known.push((kernel.id, values));
        }
        if let Some(goal) = &nca.goal {
            for (param, values) in [
                (goal.embedding.id, self.goal_embedding),
                (goal.weight.id, self.goal_weight),
            ] {
                if let Some(values) = values {
                    known.push((param, values));
                }
            }
        }
        let mut ids = ParamIds(Vec::new());
        nca.visit(&mut ids);
        ids.0
            .into_iter()
            .map(|id| {
                let index = known
                    .iter()
                    .position(|(known, _)| *known == id)
                    .unwrap_or_else(|| {
                        panic!("the fused kernel has no gradient for parameter {id}")
                    });
                known.swap_remove(index)
            })
            .collect()
    }
}

/// Collects the ids of a module's parameters, in visiting order.
struct ParamIds(Vec<ParamId>);

impl ModuleVisitor for ParamIds {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.id);
    }
}

impl FusedNca {
    /// The weights of `nca`, copied to the host.
    pub fn new(nca: &Nca) -> Self {
        let config = nca.config().clone();
        let (channels, count) = (config.channels, config.perception_bands());
        let bands = |values: Vec<f32>| {
            let rows = count * channels;
            Array2::from_shape_vec(
                (rows, values.len() / rows),
                perception_rows_to_bands(&values, channels, count),
            )
            .expect("weights have the model's shape")
        };
        let filters: Vec<f32> = bands(nca.perception.filters(channels))
            .reversed_axes()
            .iter()
            .copied()
            .collect();
        let weights = nca.update.host_weights();
        Self {
            hidden_weight: bands(weights.hidden_weight),
            hidden_bias: Array1::from(weights.hidden_bias),
            output_weight: Array2::from_shape_vec(
                (config.hidden_units, channels),
                weights.output_weight,
            )
            .expect("weights have the model's shape"),
            output_bias: Array1::from(weights.output_bias),
            goal: nca.goal.as_ref().map(|goal| {
                let host = goal.host();
                let [goals, size] = goal.embedding.dims();
                FusedGoal {
                    embedding: Array2::from_shape_vec((goals, size), host.embedding)
                        .expect("weights have the model's shape"),
                    weight: Array2::from_shape_vec((size, config.hidden_units), host.weight)
                        .expect("weights have the model's shape"),
                }
            }),
            filters,
            config,
        }
    }

    /// `steps` steps from `state` (`[batch, C, height, width]` values), drawing fire decisions from
    /// `rng` exactly as [`Nca::step`] does, one step at a time. A goal model grows goal 0 in every
    /// sample.
    ///
    /// # Panics
    /// If `state` does not hold `batch · C · height · width` values.
    pub fn advance(
        &self,
        state: &[f32],
        shape: [usize; 3],
        steps: usize,
        rng: &mut impl Rng,
    ) -> Vec<f32> {
        self.advance_goals(state, shape, None, steps, rng)
    }

    /// [`advance`](Self::advance) with one goal per sample (indices into the model's goals), as
    /// [`Nca::step_toward`].
    ///
    /// # Panics
    /// As [`advance`](Self::advance), and if `goals` does not hold one goal per sample or a goal
    /// is out of range.
    pub fn advance_toward(
        &self,
        state: &[f32],
        shape: [usize; 3],
        goals: &[usize],
        steps: usize,
        rng: &mut impl Rng,
    ) -> Vec<f32> {
        self.advance_goals(state, shape, Some(goals), steps, rng)
    }

    pub(crate) fn advance_goals(
        &self,
        state: &[f32],
        [batch, height, width]: [usize; 3],
        goals: Option<&[usize]>,
        steps: usize,
        rng: &mut impl Rng,
    ) -> Vec<f32> {
        let grid = self.grid(state, batch, height, width);
        let biases = self.sample_biases(goals, batch);
        let mut samples = grid.samples(&grid.to_cell_major(state));
        for _ in 0..steps {
            let fired = fire_decisions(grid.cells(), self.config.fire_rate, rng);
            samples
                .par_iter_mut()
                .enumerate()
                .for_each(|(sample, state)| {
                    let fired = sample_of(&fired, grid, sample);
                    self.step(grid.sample(), state, &biases[sample], fired, false);
                });
        }
        grid.to_channel_major(&samples.concat())
    }

    /// One training rollout: `steps` steps from `start` (`[batch, C, height, width]` values), the
    /// `loss` of the end states and its gradients with respect to the weights, by backpropagation
    /// through all steps. A goal model grows goal 0 in every sample.
    ///
    /// # Panics
    /// If `start` does not hold as many values as its shape says, or the loss's gradient not as
    /// many as a sample's state.
    pub fn train_rollout(
        &self,
        start: &[f32],
        shape: [usize; 3],
        steps: usize,
        loss: &(impl HostLoss + ?Sized),
        rng: &mut impl Rng,
    ) -> FusedIteration {
        self.train_rollout_goals(start, shape, None, steps, loss, rng)
    }

    /// [`train_rollout`](Self::train_rollout) with one goal per sample (indices into the model's
    /// goals), as [`Nca::step_toward`].
    ///
    /// # Panics
    /// As [`train_rollout`](Self::train_rollout), and if `goals` does not hold one goal per
    /// sample or a goal is out of range.
    pub fn train_rollout_toward(
        &self,
        start: &[f32],
        shape: [usize; 3],
        goals: &[usize],
        steps: usize,
        loss: &(impl HostLoss + ?Sized),
        rng: &mut impl Rng,
    ) -> FusedIteration {
        self.train_rollout_goals(start, shape, Some(goals), steps, loss, rng)
    }

    fn train_rollout_goals(
        &self,
        start: &[f32],
        [batch, height, width]: [usize; 3],
        goals: Option<&[usize]>,
        steps: usize,
        loss: &(impl HostLoss + ?Sized),
        rng: &mut impl Rng,
    ) -> FusedIteration {
        let grid = self.grid(start, batch, height, width);
        let biases = self.sample_biases(goals, batch);
        let fires = self.fire_decisions(grid, steps, rng);
        // Samples are independent until their gradients are summed, in order.
        let samples: Vec<(f64, Vec<f32>, Accumulated)> = grid
            .samples(&grid.to_cell_major(start))
            .into_par_iter()
            .enumerate()
            .map(|(sample, start)| {
                let fired = fires.iter().map(|fired| sample_of(fired, grid, sample));
                self.train_sample(
                    grid.sample(),
                    sample,
                    start,
                    &biases[sample],
                    fired,
                    loss,
                    batch,
                )
            })
            .collect();
        let mut total = self.zero_gradients();
        let mut goal_total = self.goal.as_ref().map(GoalGradients::zeros);
        let mut loss_sum = 0.0;
        let mut end = Vec::with_capacity(start.len());
        for (sample, (sample_loss, sample_end, gradients)) in samples.into_iter().enumerate() {
            loss_sum += sample_loss;
            end.extend(sample_end);
            if let (Some(goal), Some(goal_total)) = (&self.goal, &mut goal_total) {
                let index = goals.map_or(0, |goals| goals[sample]);
                goal_total.add_sample(goal, index, &gradients);
            }
            total.add(&gradients);
        }
        FusedIteration {
            end,
            loss: loss_sum / batch as f64,
            gradients: self.gradients(total, goal_total),
        }
    }

    /// Each sample's hidden-layer bias: the model's, plus for a goal model its goal's term
    /// `embedding[g] · weight` (`goals`, or goal 0 for every sample when `None`).
    ///
    /// # Panics
    /// If `goals` does not hold `batch` goals, or a goal is out of range.
    fn sample_biases(&self, goals: Option<&[usize]>, batch: usize) -> Vec<Cow<'_, Array1<f32>>> {
        if let Some(goals) = goals {
            assert_eq!(goals.len(), batch, "one goal per sample");
        }
        let Some(goal) = &self.goal else {
            check_goals(goals.unwrap_or_default(), 0);
            return vec![Cow::Borrowed(&self.hidden_bias); batch];
        };
        check_goals(goals.unwrap_or_default(), goal.embedding.nrows());
        (0..batch)
            .map(|sample| {
                let index = goals.map_or(0, |goals| goals[sample]);
                Cow::Owned(&self.hidden_bias + &goal.embedding.row(index).dot(&goal.weight))
            })
            .collect()
    }

    fn grid(&self, state: &[f32], batch: usize, height: usize, width: usize) -> Grid {
        let grid = Grid {
            batch,
            height,
            width,
            channels: self.config.channels,
            wrap: self.config.border == Border::Wrap,
        };
        assert_eq!(
            state.len(),
            grid.cells() * grid.channels,
            "state must be [batch, channels, height, width]"
        );
        grid
    }

    /// Every step's fire decisions for the whole batch, drawn up front in the order
    /// [`Nca::step`] draws them.
    fn fire_decisions(
        &self,
        grid: Grid,
        steps: usize,
        rng: &mut impl Rng,
    ) -> Vec<Option<Vec<bool>>> {
        (0..steps)
            .map(|_| fire_decisions(grid.cells(), self.config.fire_rate, rng))
            .collect()
    }
}

/// One sample's share of a step's fire decisions.
fn sample_of(fired: &Option<Vec<bool>>, grid: Grid, sample: usize) -> Option<&[bool]> {
    let plane = grid.plane();
    fired
        .as_deref()
        .map(|fired| &fired[sample * plane..(sample + 1) * plane])
}
