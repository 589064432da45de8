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
//! The backward pass stores the state before every step (not the network's activations, which it
//! recomputes), so a training rollout of `T` steps holds `T + 1` states.

mod grid;

use ndarray::{Array1, Array2, Axis, Zip};
use rand::Rng;
use rayon::prelude::*;

use crate::model::fire_decisions;
use crate::{Nca, NcaConfig};
use grid::Grid;

/// How a model computes its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// burn tensor operations on the model's device: any backend, differentiable by autodiff.
    #[default]
    Tensor,
    /// nca's fused CPU kernel ([`FusedNca`]): the same maths on the host, computing only cells
    /// that fire and can live, with its own backward for training.
    Fused,
}

/// Cells per block of the kernel's matrix products (and per parallel task).
const BLOCK: usize = 256;

/// A model's weights on the host, laid out for the fused kernel.
#[derive(Debug, Clone)]
pub struct FusedNca {
    config: NcaConfig,
    /// `[9, 3C]`: the perception filters, one row per 3x3 tap.
    filters: Array2<f32>,
    /// `[3C, hidden]`.
    hidden_weight: Array2<f32>,
    hidden_bias: Array1<f32>,
    /// `[hidden, C]`.
    output_weight: Array2<f32>,
    output_bias: Array1<f32>,
}

/// What one training rollout of the fused kernel gives.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedIteration {
    /// The states after the rollout, `[B, C, H, W]` values.
    pub end: Vec<f32>,
    /// RGBA mean squared error of `end` against the target.
    pub loss: f64,
    /// Gradients of `loss` with respect to the model's parameters.
    pub gradients: FusedGradients,
}

/// Gradients of a loss with respect to a model's parameters, each laid out like its parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedGradients {
    /// `[3C, 1, 3, 3]`; only for a learned perception.
    pub perception: Option<Vec<f32>>,
    /// `[3C, hidden]`.
    pub hidden_weight: Vec<f32>,
    /// `[hidden]`.
    pub hidden_bias: Vec<f32>,
    /// `[hidden, C]`.
    pub output_weight: Vec<f32>,
    /// `[C]`.
    pub output_bias: Vec<f32>,
}

/// What a step leaves for its backward pass.
struct StepRecord {
    /// Cells whose update was computed and applied, ascending.
    updated: Vec<usize>,
    /// Cells alive before and after the step (the others were zeroed).
    kept: Vec<bool>,
}

/// A block of cells' perception and hidden pre-activations.
struct Activations {
    /// `[cells, 3C]`.
    perceived: Array2<f32>,
    /// `[cells, hidden]`, before the ReLU.
    hidden_input: Array2<f32>,
}

/// Parameter gradients summed over cells, in the kernel's layouts.
struct Accumulated {
    filters: Option<Array2<f32>>,
    hidden_weight: Array2<f32>,
    hidden_bias: Array1<f32>,
    output_weight: Array2<f32>,
    output_bias: Array1<f32>,
}

impl FusedNca {
    /// The weights of `nca`, copied to the host.
    pub fn new(nca: &Nca) -> Self {
        let config = nca.config().clone();
        let perception = config.perception_channels();
        let host = |tensor: burn::tensor::Tensor<2>| values(tensor.into_data());
        let row_major = |rows: usize, values: Vec<f32>| {
            Array2::from_shape_vec((rows, values.len() / rows), values)
                .expect("weights have the model's shape")
        };
        let filters = row_major(perception, nca.perception.filters(config.channels));
        let bias = |linear: &burn::nn::Linear| {
            linear.bias.as_ref().map_or_else(
                || vec![0.0; linear.weight.dims()[1]],
                |b| values(b.val().into_data()),
            )
        };
        let update = &nca.update;
        Self {
            filters: filters.t().as_standard_layout().into_owned(),
            hidden_weight: row_major(perception, host(update.hidden.weight.val())),
            hidden_bias: Array1::from(bias(&update.hidden)),
            output_weight: row_major(config.hidden_units, host(update.output.weight.val())),
            output_bias: Array1::from(bias(&update.output)),
            config,
        }
    }

    /// `steps` steps from `state` (`[batch, C, height, width]` values), drawing fire decisions from
    /// `rng` exactly as [`Nca::step`] does.
    pub fn advance(
        &self,
        state: &[f32],
        [batch, height, width]: [usize; 3],
        steps: usize,
        rng: &mut impl Rng,
    ) -> Vec<f32> {
        let grid = self.grid(state, batch, height, width);
        let mut state = grid.to_cell_major(state);
        for _ in 0..steps {
            state = self.step(grid, &state, rng).0;
        }
        grid.to_channel_major(&state)
    }

    /// One training rollout: `steps` steps from `start` (`[batch, C, height, width]` values), the
    /// RGBA mean squared error against `target` (`[visible + 1, height, width]`, the same for every
    /// sample) and its gradients with respect to the weights, by backpropagation through all
    /// steps.
    pub fn train_rollout(
        &self,
        start: &[f32],
        [batch, height, width]: [usize; 3],
        steps: usize,
        target: &[f32],
        rng: &mut impl Rng,
    ) -> FusedIteration {
        let grid = self.grid(start, batch, height, width);
        let rgba = self.config.alpha_channel() + 1;
        assert_eq!(
            target.len(),
            rgba * grid.plane(),
            "target must be [visible + 1, H, W]"
        );
        let mut states = vec![grid.to_cell_major(start)];
        let mut records = Vec::with_capacity(steps);
        for _ in 0..steps {
            let (next, record) = self.step(grid, states.last().expect("never empty"), rng);
            states.push(next);
            records.push(record);
        }
        let end = states.pop().expect("the end state");
        let (loss, mut grad) = self.loss(grid, &end, target);
        let mut total = self.zero_gradients();
        while let (Some(state), Some(record)) = (states.pop(), records.pop()) {
            self.backward_step(grid, &state, &record, &mut grad, &mut total);
        }
        FusedIteration {
            end: grid.to_channel_major(&end),
            loss,
            gradients: total.into_gradients(),
        }
    }

    fn grid(&self, state: &[f32], batch: usize, height: usize, width: usize) -> Grid {
        let grid = Grid {
            batch,
            height,
            width,
            channels: self.config.channels,
        };
        assert_eq!(
            state.len(),
            grid.cells() * grid.channels,
            "state must be [batch, channels, height, width]"
        );
        grid
    }

    /// One step in the cell-major layout, and what its backward pass needs.
    fn step(&self, grid: Grid, state: &[f32], rng: &mut impl Rng) -> (Vec<f32>, StepRecord) {
        let alpha = self.config.alpha_channel();
        let threshold = self.config.living_threshold as f32;
        let channels = grid.channels;
        let alive_before = grid.alive(state, alpha, threshold);
        let fired = fire_decisions(grid.cells(), self.config.fire_rate, rng);
        let near_life = grid.dilate(&alive_before);
        let updated: Vec<usize> = (0..grid.cells())
            .filter(|&cell| near_life[cell] && fired.as_ref().is_none_or(|fired| fired[cell]))
            .collect();
        let updates = self.updates(grid, state, &updated);
        let mut next = state.to_vec();
        for (&cell, update) in updated.iter().zip(updates.chunks_exact(channels)) {
            let values = &mut next[cell * channels..(cell + 1) * channels];
            values
                .iter_mut()
                .zip(update)
                .for_each(|(value, delta)| *value += delta);
        }
        let alive_after = grid.alive(&next, alpha, threshold);
        let kept: Vec<bool> = alive_before
            .iter()
            .zip(&alive_after)
            .map(|(&before, &after)| before && after)
            .collect();
        for (values, &keep) in next.chunks_exact_mut(channels).zip(&kept) {
            if !keep {
                values.fill(0.0);
            }
        }
        (next, StepRecord { updated, kept })
    }

    /// The scaled updates of `cells`, `[cells, C]` values.
    fn updates(&self, grid: Grid, state: &[f32], cells: &[usize]) -> Vec<f32> {
        let mut updates = vec![0.0; cells.len() * grid.channels];
        let scale = self.config.update_scale as f32;
        updates
            .par_chunks_mut(BLOCK * grid.channels)
            .zip(cells.par_chunks(BLOCK))
            .for_each(|(out, cells)| {
                let hidden = self.activations(grid, state, cells).hidden_input.mapv(relu);
                let update = hidden.dot(&self.output_weight) + &self.output_bias;
                out.iter_mut()
                    .zip(update.iter())
                    .for_each(|(out, &value)| *out = value * scale);
            });
        updates
    }

    /// Perception and hidden pre-activations of a block of cells.
    fn activations(&self, grid: Grid, state: &[f32], cells: &[usize]) -> Activations {
        let mut perceived = Array2::zeros((cells.len(), self.filters.ncols()));
        for (mut row, &cell) in perceived.rows_mut().into_iter().zip(cells) {
            let row = row
                .as_slice_mut()
                .expect("rows of a standard array are contiguous");
            for (tap, neighbour) in grid.neighbours(cell) {
                let values = &state[neighbour * grid.channels..(neighbour + 1) * grid.channels];
                let filters = self.filters.row(tap);
                let filters = filters.as_slice().expect("contiguous");
                for ((out, filter), &value) in row
                    .chunks_exact_mut(3)
                    .zip(filters.chunks_exact(3))
                    .zip(values)
                {
                    out.iter_mut()
                        .zip(filter)
                        .for_each(|(o, f)| *o += f * value);
                }
            }
        }
        let hidden_input = perceived.dot(&self.hidden_weight) + &self.hidden_bias;
        Activations {
            perceived,
            hidden_input,
        }
    }

    /// The loss of `end` (cell-major) against `target` (`[visible + 1, H, W]`) and its gradient
    /// with respect to `end`.
    fn loss(&self, grid: Grid, end: &[f32], target: &[f32]) -> (f64, Vec<f32>) {
        let rgba = self.config.alpha_channel() + 1;
        let plane = grid.plane();
        let count = (grid.batch * rgba * plane) as f64;
        let mut grad = vec![0.0; end.len()];
        let mut sum = 0.0;
        for (cell, (values, grad)) in end
            .chunks_exact(grid.channels)
            .zip(grad.chunks_exact_mut(grid.channels))
            .enumerate()
        {
            for channel in 0..rgba {
                let difference =
                    f64::from(values[channel] - target[channel * plane + cell % plane]);
                sum += difference * difference;
                grad[channel] = (2.0 * difference / count) as f32;
            }
        }
        (sum / count, grad)
    }

    /// Turns `grad` (of the loss with respect to the state after a step, cell-major) into the
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
        // Zeroed cells pass no gradient; masks themselves have none.
        for (grad, &keep) in grad.chunks_exact_mut(channels).zip(&record.kept) {
            if !keep {
                grad.fill(0.0);
            }
        }
        let cells: Vec<usize> = record
            .updated
            .iter()
            .copied()
            .filter(|&cell| record.kept[cell])
            .collect();
        let scale = self.config.update_scale as f32;
        let blocks: Vec<(Accumulated, Array2<f32>)> = cells
            .par_chunks(BLOCK)
            .map(|cells| {
                let Activations {
                    perceived,
                    hidden_input,
                } = self.activations(grid, state, cells);
                let grad_update = Array2::from_shape_fn((cells.len(), channels), |(k, c)| {
                    grad[cells[k] * channels + c] * scale
                });
                let mut grad_hidden = grad_update.dot(&self.output_weight.t());
                Zip::from(&mut grad_hidden)
                    .and(&hidden_input)
                    .for_each(|g, &input| {
                        if input <= 0.0 {
                            *g = 0.0;
                        }
                    });
                let grad_perceived = grad_hidden.dot(&self.hidden_weight.t());
                let block = Accumulated {
                    filters: self
                        .config
                        .trainable_perception
                        .then(|| self.filter_gradient(grid, state, cells, &grad_perceived)),
                    hidden_weight: perceived.t().dot(&grad_hidden),
                    hidden_bias: grad_hidden.sum_axis(Axis(0)),
                    output_weight: hidden_input.mapv(relu).t().dot(&grad_update),
                    output_bias: grad_update.sum_axis(Axis(0)),
                };
                (block, grad_perceived)
            })
            .collect();
        for (block, _) in &blocks {
            total.add(block);
        }
        // Perception's transpose: each cell's perception gradient flows back to its neighbours.
        // Samples are independent, so they run in parallel.
        let plane = grid.plane();
        grad.par_chunks_mut(plane * channels)
            .enumerate()
            .for_each(|(sample, grad)| {
                let first = cells.partition_point(|&cell| cell < sample * plane);
                let end = cells.partition_point(|&cell| cell < (sample + 1) * plane);
                for (index, &cell) in cells.iter().enumerate().take(end).skip(first) {
                    let grad_perceived = blocks[index / BLOCK].1.row(index % BLOCK);
                    let grad_perceived = grad_perceived.as_slice().expect("contiguous");
                    for (tap, neighbour) in grid.neighbours(cell) {
                        let local = neighbour - sample * plane;
                        let grad = &mut grad[local * channels..(local + 1) * channels];
                        let filters = self.filters.row(tap);
                        let filters = filters.as_slice().expect("contiguous");
                        for ((grad, filter), g) in grad
                            .iter_mut()
                            .zip(filters.chunks_exact(3))
                            .zip(grad_perceived.chunks_exact(3))
                        {
                            *grad += filter[0] * g[0] + filter[1] * g[1] + filter[2] * g[2];
                        }
                    }
                }
            });
    }

    /// Gradient of the perception filters (`[9, 3C]`) from a block of cells.
    fn filter_gradient(
        &self,
        grid: Grid,
        state: &[f32],
        cells: &[usize],
        grad_perceived: &Array2<f32>,
    ) -> Array2<f32> {
        let mut grad = Array2::zeros(self.filters.raw_dim());
        for (&cell, grad_perceived) in cells.iter().zip(grad_perceived.rows()) {
            for (tap, neighbour) in grid.neighbours(cell) {
                let values = &state[neighbour * grid.channels..(neighbour + 1) * grid.channels];
                let mut row = grad.row_mut(tap);
                for (k, out) in row.iter_mut().enumerate() {
                    *out += grad_perceived[k] * values[k / 3];
                }
            }
        }
        grad
    }

    fn zero_gradients(&self) -> Accumulated {
        Accumulated {
            filters: self
                .config
                .trainable_perception
                .then(|| Array2::zeros(self.filters.raw_dim())),
            hidden_weight: Array2::zeros(self.hidden_weight.raw_dim()),
            hidden_bias: Array1::zeros(self.hidden_bias.raw_dim()),
            output_weight: Array2::zeros(self.output_weight.raw_dim()),
            output_bias: Array1::zeros(self.output_bias.raw_dim()),
        }
    }
}

impl Accumulated {
    fn add(&mut self, other: &Accumulated) {
        if let (Some(filters), Some(other)) = (&mut self.filters, &other.filters) {
            *filters += other;
        }
        self.hidden_weight += &other.hidden_weight;
        self.hidden_bias += &other.hidden_bias;
        self.output_weight += &other.output_weight;
        self.output_bias += &other.output_bias;
    }

    fn into_gradients(self) -> FusedGradients {
        let vec = |array: Array2<f32>| array.iter().copied().collect();
        FusedGradients {
            // [9, 3C] → the parameter's [3C, 1, 3, 3].
            perception: self.filters.map(|filters| vec(filters.reversed_axes())),
            hidden_weight: vec(self.hidden_weight),
            hidden_bias: self.hidden_bias.to_vec(),
            output_weight: vec(self.output_weight),
            output_bias: self.output_bias.to_vec(),
        }
    }
}

fn relu(value: f32) -> f32 {
    value.max(0.0)
}

pub(crate) fn values(data: burn::tensor::TensorData) -> Vec<f32> {
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 after convert")
}
