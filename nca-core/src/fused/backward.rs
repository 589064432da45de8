//! The fused kernel's backward pass: a sample's rollout, recorded step by step, then
//! backpropagated one step at a time, from the last to the first.

use ndarray::{Array1, Array2};
use rayon::prelude::*;

use super::band_order::perception_rows_to_interleaved;
use super::forward::{Activations, StepRecord, block_size};
use super::grid::Grid;
use super::matmul::product;
use super::simd::vectorized;
use super::{FusedGoal, FusedGradients, FusedNca, HostLoss};

/// Parameter gradients summed over cells, in the kernel's layouts (band order).
pub(super) struct Accumulated {
    filters: Option<Array2<f32>>,
    hidden_weight: Array2<f32>,
    hidden_bias: Array1<f32>,
    output_weight: Array2<f32>,
    output_bias: Array1<f32>,
}

/// A goal model's goal-input gradients, summed over samples.
pub(super) struct GoalGradients {
    /// `[goals, goal_size]`.
    embedding: Array2<f32>,
    /// `[goal_size, hidden]`.
    weight: Array2<f32>,
}

impl GoalGradients {
    pub(super) fn zeros(goal: &FusedGoal) -> Self {
        Self {
            embedding: Array2::zeros(goal.embedding.raw_dim()),
            weight: Array2::zeros(goal.weight.raw_dim()),
        }
    }

    /// Adds the share of a sample of goal `index` whose gradients are `sample`: its goal term
    /// `e · W` is a bias of its hidden layer, whose gradient `b` the sample has summed, so
    /// `W` gets `eᵀ ⊗ b` and `e` gets `W · b`.
    pub(super) fn add_sample(&mut self, goal: &FusedGoal, index: usize, sample: &Accumulated) {
        let embedding = goal.embedding.row(index);
        let bias = sample.hidden_bias.view().insert_axis(ndarray::Axis(0));
        self.weight += &embedding.insert_axis(ndarray::Axis(1)).dot(&bias);
        let mut row = self.embedding.row_mut(index);
        row += &goal.weight.dot(&sample.hidden_bias);
    }
}

impl FusedNca {
    /// Forward and backward through one sample's rollout (sample `sample` of the batch, with
    /// `bias` as its hidden layer's bias): its loss, end state (`[C, H, W]`) and weight gradients
    /// (of the batch's loss, the mean over `batch` samples).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn train_sample<'a>(
        &self,
        grid: Grid,
        sample: usize,
        start: Vec<f32>,
        bias: &Array1<f32>,
        fires: impl ExactSizeIterator<Item = Option<&'a [bool]>>,
        loss: &(impl HostLoss + ?Sized),
        batch: usize,
    ) -> (f64, Vec<f32>, Accumulated) {
        let mut states = Vec::with_capacity(fires.len() + 1);
        states.push(start);
        let mut records = Vec::with_capacity(fires.len());
        for fired in fires {
            let mut next = states.last().expect("never empty").clone();
            let record = self.step(grid, &mut next, bias, fired, true);
            states.push(next);
            records.push(record);
        }
        let end = grid.to_channel_major(&states.pop().expect("the end state"));
        let (sample_loss, grad) =
            loss.sample_loss_at(sample, &end, [grid.channels, grid.height, grid.width]);
        assert_eq!(
            grad.len(),
            end.len(),
            "a loss's gradient is shaped like the state"
        );
        let share = 1.0 / batch as f32;
        let mut grad: Vec<f32> = grid
            .to_cell_major(&grad)
            .into_iter()
            .map(|value| value * share)
            .collect();
        let mut total = self.zero_gradients();
        while let (Some(state), Some(record)) = (states.pop(), records.pop()) {
            self.backward_step(grid, &state, &record, &mut grad, &mut total);
        }
        (sample_loss, end, total)
    }

    /// Turns `grad` (of the loss with respect to one grid's state after a step, cell-major) into the
    /// gradient with respect to the state before it, `state`, adding the weights' share to
    /// `total`.
    fn backward_step(
        &self,
        grid: Grid,
        state: &[f32],
        record: &StepRecord,
        grad: &mut [f32],
        total: &mut Accumulated,
    ) {
        let channels = grid.channels;
        // Zeroed cells pass no gradient; the masks themselves have none.
        if let Some(kept) = &record.kept {
            for (grad, &keep) in grad.chunks_exact_mut(channels).zip(kept) {
                if !keep {
                    grad.fill(0.0);
                }
            }
        }
        // Every updated cell, with the activations its step kept; those not kept now have a zero
        // gradient, so they add nothing.
        let cells = &record.updated;
        let block = block_size(cells.len());
        debug_assert_eq!(record.activations.len(), cells.len().div_ceil(block));
        let blocks: Vec<(Accumulated, Array2<f32>)> = cells
            .par_chunks(block)
            .zip(&record.activations)
            .map(|(cells, activations)| {
                vectorized(
                    #[inline(always)]
                    || self.backward_block(grid, state, cells, activations, grad),
                )
            })
            .collect();
        for (block, _) in &blocks {
            total.add(block);
        }
        // Perception's transpose: each cell's perception gradient flows back to its neighbours.
        vectorized(
            #[inline(always)]
            || {
                for (index, &cell) in cells.iter().enumerate() {
                    let perceived = blocks[index / block].1.row(index % block);
                    let perceived = perceived.to_slice().expect("contiguous rows");
                    self.perceive_transpose(grid, cell, perceived, grad);
                }
            },
        );
    }

    /// The weights' gradients from a block of `cells` (with their `activations`) and the gradient
    /// of what each perceived.
    #[inline(always)]
    fn backward_block(
        &self,
        grid: Grid,
        state: &[f32],
        cells: &[usize],
        Activations { perceived, hidden }: &Activations,
        grad: &[f32],
    ) -> (Accumulated, Array2<f32>) {
        let channels = grid.channels;
        let scale = self.config.update_scale as f32;
        let grad_update: Vec<f32> = cells
            .iter()
            .flat_map(|&cell| &grad[cell * channels..(cell + 1) * channels])
            .map(|value| value * scale)
            .collect();
        let grad_update =
            Array2::from_shape_vec((cells.len(), channels), grad_update).expect("a row per cell");
        let mut grad_hidden = product(&grad_update.view(), &self.output_weight.t());
        // The ReLU's gradient (its output is positive exactly where its input was), branch-free
        // so that it vectorises.
        let hidden_values = hidden.as_slice().expect("a new, standard-layout array");
        let grads = grad_hidden
            .as_slice_mut()
            .expect("a new, standard-layout array");
        for (grad, &value) in grads.iter_mut().zip(hidden_values) {
            *grad = if value > 0.0 { *grad } else { 0.0 };
        }
        let grad_perceived = product(&grad_hidden.view(), &self.hidden_weight.t());
        let block = Accumulated {
            filters: self
                .config
                .trainable_perception
                .then(|| self.filter_gradient(grid, state, cells, &grad_perceived)),
            hidden_weight: product(&perceived.t(), &grad_hidden.view()),
            hidden_bias: column_sums(&grad_hidden),
            output_weight: product(&hidden.t(), &grad_update.view()),
            output_bias: column_sums(&grad_update),
        };
        (block, grad_perceived)
    }

    /// Zero gradients for every parameter.
    pub(super) fn zero_gradients(&self) -> Accumulated {
        Accumulated {
            filters: self
                .config
                .trainable_perception
                .then(|| Array2::zeros((9, self.config.perception_channels()))),
            hidden_weight: Array2::zeros(self.hidden_weight.raw_dim()),
            hidden_bias: Array1::zeros(self.hidden_bias.raw_dim()),
            output_weight: Array2::zeros(self.output_weight.raw_dim()),
            output_bias: Array1::zeros(self.output_bias.raw_dim()),
        }
    }

    /// The accumulated gradients (and a goal model's goal gradients) in the model's layouts.
    pub(super) fn gradients(
        &self,
        total: Accumulated,
        goal: Option<GoalGradients>,
    ) -> FusedGradients {
        // Rows per perception value, back to the model's interleaved order.
        let interleaved = |bands: Array2<f32>| {
            let bands: Vec<f32> = bands.iter().copied().collect();
            perception_rows_to_interleaved(
                &bands,
                self.config.channels,
                self.config.perception_bands(),
            )
        };
        FusedGradients {
            // [9, bands·C] → the parameter's [bands·C, 1, 3, 3].
            perception: total
                .filters
                .map(|filters| interleaved(filters.reversed_axes())),
            hidden_weight: interleaved(total.hidden_weight),
            hidden_bias: total.hidden_bias.to_vec(),
            output_weight: total.output_weight.iter().copied().collect(),
            output_bias: total.output_bias.to_vec(),
            goal_embedding: goal
                .as_ref()
                .map(|goal| goal.embedding.iter().copied().collect()),
            goal_weight: goal.map(|goal| goal.weight.iter().copied().collect()),
        }
    }
}

impl Accumulated {
    pub(super) fn add(&mut self, other: &Accumulated) {
        if let (Some(filters), Some(other)) = (&mut self.filters, &other.filters) {
            *filters += other;
        }
        self.hidden_weight += &other.hidden_weight;
        self.hidden_bias += &other.hidden_bias;
        self.output_weight += &other.output_weight;
        self.output_bias += &other.output_bias;
    }
}

/// The sum of a block's rows.
#[inline(always)]
fn column_sums(rows: &Array2<f32>) -> Array1<f32> {
    let mut sums = Array1::zeros(rows.ncols());
    let out = sums.as_slice_mut().expect("a new array");
    for row in rows
        .as_slice()
        .expect("a standard-layout array")
        .chunks_exact(rows.ncols())
    {
        out.iter_mut()
            .zip(row)
            .for_each(|(sum, value)| *sum += value);
    }
    sums
}
