//! The fused kernel's backward pass: one step at a time, from the last to the first.

use ndarray::{Array1, Array2};
use rayon::prelude::*;

use super::grid::Grid;
use super::matmul::product;
use super::{
    Activations, FusedGradients, FusedNca, StepRecord, block_size, column_sums, multiply_add,
    vectorized,
};

/// Parameter gradients summed over cells, in the kernel's (planar) layouts.
pub(super) struct Accumulated {
    filters: Option<Array2<f32>>,
    hidden_weight: Array2<f32>,
    hidden_bias: Array1<f32>,
    output_weight: Array2<f32>,
    output_bias: Array1<f32>,
}

impl FusedNca {
    /// Turns `grad` (of the loss with respect to one grid's state after a step, cell-major) into the
    /// gradient with respect to the state before it, `state`, adding the weights' share to
    /// `total`.
    pub(super) fn backward_step(
        &self,
        grid: Grid,
        state: &[f32],
        record: &StepRecord,
        grad: &mut [f32],
        total: &mut Accumulated,
    ) {
        let channels = grid.channels;
        // Zeroed cells pass no gradient; the masks themselves have none.
        for (grad, &keep) in grad.chunks_exact_mut(channels).zip(&record.kept) {
            if !keep {
                grad.fill(0.0);
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

    /// Gradient of the perception filters (`[9, 3C]`, planar) from a block of cells.
    fn filter_gradient(
        &self,
        grid: Grid,
        state: &[f32],
        cells: &[usize],
        grad_perceived: &Array2<f32>,
    ) -> Array2<f32> {
        let channels = grid.channels;
        let mut grad = Array2::zeros((9, self.config.perception_channels()));
        for (&cell, perceived) in cells.iter().zip(grad_perceived.rows()) {
            let perceived = perceived.to_slice().expect("contiguous rows");
            grid.for_each_neighbour(cell, |tap, neighbour| {
                let values = &state[neighbour * channels..(neighbour + 1) * channels];
                let mut row = grad.row_mut(tap);
                let row = row.as_slice_mut().expect("contiguous rows");
                for (out, perceived) in row
                    .chunks_exact_mut(channels)
                    .zip(perceived.chunks_exact(channels))
                {
                    multiply_add(out, perceived, values);
                }
            });
        }
        grad
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

    /// The accumulated gradients in the model's layouts.
    pub(super) fn gradients(&self, total: Accumulated) -> FusedGradients {
        // Planar perception rows back to the model's interleaved order.
        let interleaved = |planar: Array2<f32>| {
            let mut out = Array2::zeros(planar.raw_dim());
            for (row, &position) in planar.rows().into_iter().zip(&self.order) {
                out.row_mut(position).assign(&row);
            }
            out.iter().copied().collect::<Vec<f32>>()
        };
        FusedGradients {
            // [9, 3C] → the parameter's [3C, 1, 3, 3].
            perception: total
                .filters
                .map(|filters| interleaved(filters.reversed_axes())),
            hidden_weight: interleaved(total.hidden_weight),
            hidden_bias: total.hidden_bias.to_vec(),
            output_weight: total.output_weight.iter().copied().collect(),
            output_bias: total.output_bias.to_vec(),
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
