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

mod backward;
mod grid;
mod matmul;
mod peak;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;
use ndarray::{Array1, Array2, ArrayViewMut2, Axis};
use rand::Rng;
use rayon::prelude::*;

use crate::engine::fire_decisions;
use crate::{Nca, NcaConfig, Perception};
use backward::Accumulated;
use grid::Grid;
use matmul::matmul;
pub use peak::multiply_add_peak;

/// Cells per block of the kernel's matrix products (and per parallel task) for `cells` cells:
/// one block per thread, so a lone grid keeps every thread busy, within bounds that keep the
/// blocks' packing overhead small and their activations in cache.
fn block_size(cells: usize) -> usize {
    cells.div_ceil(rayon::current_num_threads()).clamp(64, 1024)
}

/// A model's weights on the host, laid out for the fused kernel.
///
/// Perception values are kept planar, `[3, C]` (all identities, then all x gradients, then all
/// y gradients), where the model interleaves them per channel, `[C, 3]`: each filter then runs
/// over contiguous channels. `order` maps planar positions to the model's.
#[derive(Debug, Clone)]
pub struct FusedNca {
    config: NcaConfig,
    /// `order[planar] = interleaved` position of each perception value.
    order: Vec<usize>,
    /// `[9, 3C]` (planar): the perception filters, one row per 3x3 tap.
    filters: Vec<f32>,
    /// `[3C (planar), hidden]`.
    hidden_weight: Array2<f32>,
    hidden_bias: Array1<f32>,
    /// `[hidden, C]`.
    output_weight: Array2<f32>,
    output_bias: Array1<f32>,
}

/// A loss on the end state of each sample of a training rollout, which
/// [`FusedNca::train_rollout`] backpropagates; the batch's loss is the mean of its samples'.
pub trait HostLoss: Sync {
    /// The loss of one sample's end state (`[C, H, W]` values) and its gradient with respect to
    /// that state (the same layout).
    fn sample_loss(&self, end: &[f32]) -> (f64, Vec<f32>);
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

/// What a step leaves for its backward pass.
struct StepRecord {
    /// Cells whose update was computed and applied, ascending.
    updated: Vec<usize>,
    /// Cells alive before and after the step (the others were zeroed).
    kept: Vec<bool>,
    /// When training: the activations of `updated`, block by block ([`block_size`] cells each),
    /// so that the backward pass need not compute them again.
    activations: Vec<Activations>,
}

/// A block of cells' perception and hidden activations.
struct Activations {
    /// `[cells, 3C]`.
    perceived: Array2<f32>,
    /// `[cells, hidden]`, after the ReLU.
    hidden: Array2<f32>,
}

impl FusedNca {
    /// The weights of `nca`, copied to the host.
    pub fn new(nca: &Nca) -> Self {
        let config = nca.config().clone();
        let channels = config.channels;
        let order: Vec<usize> = (0..3)
            .flat_map(|kind| (0..channels).map(move |channel| 3 * channel + kind))
            .collect();
        let planar = |rows: usize, values: Vec<f32>| {
            Array2::from_shape_vec((rows, values.len() / rows), values)
                .expect("weights have the model's shape")
                .select(Axis(0), &order)
        };
        let filters: Vec<f32> = planar(3 * channels, nca.perception.filters(channels))
            .reversed_axes()
            .iter()
            .copied()
            .collect();
        let weights = nca.update.host_weights();
        Self {
            hidden_weight: planar(3 * channels, weights.hidden_weight),
            hidden_bias: Array1::from(weights.hidden_bias),
            output_weight: Array2::from_shape_vec(
                (config.hidden_units, channels),
                weights.output_weight,
            )
            .expect("weights have the model's shape"),
            output_bias: Array1::from(weights.output_bias),
            order,
            filters,
            config,
        }
    }

    /// `steps` steps from `state` (`[batch, C, height, width]` values), drawing fire decisions from
    /// `rng` exactly as [`Nca::step`] does.
    ///
    /// # Panics
    /// If `state` does not hold `batch · C · height · width` values.
    pub fn advance(
        &self,
        state: &[f32],
        [batch, height, width]: [usize; 3],
        steps: usize,
        rng: &mut impl Rng,
    ) -> Vec<f32> {
        let grid = self.grid(state, batch, height, width);
        let fires = self.fire_decisions(grid, steps, rng);
        let mut samples = grid.samples(&grid.to_cell_major(state));
        samples
            .par_iter_mut()
            .enumerate()
            .for_each(|(sample, state)| {
                for fired in &fires {
                    self.step(grid.sample(), state, sample_of(fired, grid, sample), false);
                }
            });
        grid.to_channel_major(&samples.concat())
    }

    /// One training rollout: `steps` steps from `start` (`[batch, C, height, width]` values), the
    /// `loss` of the end states and its gradients with respect to the weights, by backpropagation
    /// through all steps.
    ///
    /// # Panics
    /// If `start` does not hold as many values as its shape says, or the loss's gradient not as
    /// many as a sample's state.
    pub fn train_rollout(
        &self,
        start: &[f32],
        [batch, height, width]: [usize; 3],
        steps: usize,
        loss: &impl HostLoss,
        rng: &mut impl Rng,
    ) -> FusedIteration {
        let grid = self.grid(start, batch, height, width);
        let fires = self.fire_decisions(grid, steps, rng);
        // Samples are independent until their gradients are summed, in order.
        let samples: Vec<(f64, Vec<f32>, Accumulated)> = grid
            .samples(&grid.to_cell_major(start))
            .into_par_iter()
            .enumerate()
            .map(|(sample, start)| {
                let fired = fires.iter().map(|fired| sample_of(fired, grid, sample));
                self.train_sample(grid.sample(), start, fired, loss, batch)
            })
            .collect();
        let mut total = self.zero_gradients();
        let mut loss_sum = 0.0;
        let mut end = Vec::with_capacity(start.len());
        for (sample_loss, sample_end, gradients) in samples {
            loss_sum += sample_loss;
            end.extend(sample_end);
            total.add(&gradients);
        }
        FusedIteration {
            end,
            loss: loss_sum / batch as f64,
            gradients: self.gradients(total),
        }
    }

    /// Forward and backward through one sample's rollout: its loss, end state (`[C, H, W]`) and
    /// weight gradients (of the batch's loss, the mean over `batch` samples).
    fn train_sample<'a>(
        &self,
        grid: Grid,
        start: Vec<f32>,
        fires: impl ExactSizeIterator<Item = Option<&'a [bool]>>,
        loss: &impl HostLoss,
        batch: usize,
    ) -> (f64, Vec<f32>, Accumulated) {
        let mut states = Vec::with_capacity(fires.len() + 1);
        states.push(start);
        let mut records = Vec::with_capacity(fires.len());
        for fired in fires {
            let mut next = states.last().expect("never empty").clone();
            let record = self.step(grid, &mut next, fired, true);
            states.push(next);
            records.push(record);
        }
        let end = grid.to_channel_major(&states.pop().expect("the end state"));
        let (sample_loss, grad) = loss.sample_loss(&end);
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

    /// One step of one grid in the cell-major layout, in place; returns what its backward pass
    /// needs (the activations only when `training`).
    fn step(
        &self,
        grid: Grid,
        state: &mut [f32],
        fired: Option<&[bool]>,
        training: bool,
    ) -> StepRecord {
        let alpha = self.config.alpha_channel();
        let threshold = self.config.living_threshold as f32;
        let channels = grid.channels;
        let alive_before = grid.alive(state, alpha, threshold);
        let near_life = grid.dilate(&alive_before);
        let updated = match fired {
            Some(fired) => cells_where(
                near_life
                    .iter()
                    .zip(fired)
                    .map(|(&near, &fired)| near & fired),
            ),
            None => cells_where(near_life.iter().copied()),
        };
        let (updates, activations) = self.updates(grid, state, &updated, training);
        for (&cell, update) in updated.iter().zip(updates.chunks_exact(channels)) {
            let values = &mut state[cell * channels..(cell + 1) * channels];
            values
                .iter_mut()
                .zip(update)
                .for_each(|(value, delta)| *value += delta);
        }
        let alive_after = grid.alive(state, alpha, threshold);
        let kept: Vec<bool> = alive_before
            .iter()
            .zip(&alive_after)
            .map(|(&before, &after)| before && after)
            .collect();
        for (values, &keep) in state.chunks_exact_mut(channels).zip(&kept) {
            if !keep {
                values.fill(0.0);
            }
        }
        StepRecord {
            updated,
            kept,
            activations,
        }
    }

    /// The scaled updates of `cells`, `[cells, C]` values, and with `keep`, their activations
    /// block by block. Without `keep`, each thread reuses one set of buffers for the activations.
    fn updates(
        &self,
        grid: Grid,
        state: &[f32],
        cells: &[usize],
        keep: bool,
    ) -> (Vec<f32>, Vec<Activations>) {
        let mut updates = vec![0.0; cells.len() * grid.channels];
        let block = block_size(cells.len());
        let (perception, hidden) = (self.config.perception_channels(), self.config.hidden_units);
        let activations: Vec<Option<Activations>> = updates
            .par_chunks_mut(block * grid.channels)
            .zip(cells.par_chunks(block))
            .map(|(out, cells)| {
                if keep {
                    let mut kept = Activations {
                        perceived: Array2::zeros((cells.len(), perception)),
                        hidden: Array2::zeros((cells.len(), hidden)),
                    };
                    let (perceived, hidden) = (kept.perceived.view_mut(), kept.hidden.view_mut());
                    vectorized(
                        #[inline(always)]
                        || self.block_updates(grid, state, cells, perceived, hidden, out),
                    );
                    Some(kept)
                } else {
                    // Taken out and put back, so that the work itself runs inside `vectorized`.
                    let mut scratch = SCRATCH.take();
                    let perceived = scratch.perceived.rows(cells.len(), perception);
                    let hidden = scratch.hidden.rows(cells.len(), hidden);
                    vectorized(
                        #[inline(always)]
                        || self.block_updates(grid, state, cells, perceived, hidden, out),
                    );
                    SCRATCH.set(scratch);
                    None
                }
            })
            .collect();
        (updates, activations.into_iter().flatten().collect())
    }

    /// A block of cells' scaled updates into `out` (`[cells, C]`), and their activations into
    /// `perceived` and `hidden`.
    #[inline(always)]
    fn block_updates(
        &self,
        grid: Grid,
        state: &[f32],
        cells: &[usize],
        mut perceived: ArrayViewMut2<'_, f32>,
        mut hidden: ArrayViewMut2<'_, f32>,
        out: &mut [f32],
    ) {
        for (mut row, &cell) in perceived.rows_mut().into_iter().zip(cells) {
            self.perceive(
                grid,
                state,
                cell,
                row.as_slice_mut().expect("contiguous rows"),
            );
        }
        matmul(
            &mut hidden,
            &perceived.view(),
            &self.hidden_weight.view(),
            false,
        );
        add_bias(&mut hidden, &self.hidden_bias, relu);
        let mut update =
            ArrayViewMut2::from_shape((cells.len(), grid.channels), out).expect("a row per cell");
        matmul(
            &mut update,
            &hidden.view(),
            &self.output_weight.view(),
            false,
        );
        let scale = self.config.update_scale as f32;
        add_bias(&mut update, &self.output_bias, |value| value * scale);
    }

    /// Writes what `cell` perceives (planar, `[3, C]`) into `out`: 16 channels at a time (the
    /// paper's 16 in one pass, each sum in a vector register), the rest one by one.
    #[inline(always)]
    fn perceive(&self, grid: Grid, state: &[f32], cell: usize, out: &mut [f32]) {
        let lanes = grid.channels / 16 * 16;
        for first in (0..lanes).step_by(16) {
            self.perceive_channels::<16>(grid, state, cell, first, out);
        }
        for first in lanes..grid.channels {
            self.perceive_channels::<1>(grid, state, cell, first, out);
        }
    }

    /// [`perceive`](Self::perceive) for channels `first..first + N`, summed over the taps in
    /// order. Every tap and kind is summed, zero weights too, as burn's convolution does.
    #[inline(always)]
    fn perceive_channels<const N: usize>(
        &self,
        grid: Grid,
        state: &[f32],
        cell: usize,
        first: usize,
        out: &mut [f32],
    ) {
        let channels = grid.channels;
        let filter = |tap: usize, kind: usize| {
            lanes::<N>(&self.filters, (3 * tap + kind) * channels + first)
        };
        let (mut identity, mut x, mut y) = ([0.0f32; N], [0.0f32; N], [0.0f32; N]);
        grid.for_each_neighbour(cell, |tap, neighbour| {
            let values = lanes::<N>(state, neighbour * channels + first);
            let (identity_filter, x_filter, y_filter) =
                (filter(tap, 0), filter(tap, 1), filter(tap, 2));
            for lane in 0..N {
                identity[lane] += identity_filter[lane] * values[lane];
                x[lane] += x_filter[lane] * values[lane];
                y[lane] += y_filter[lane] * values[lane];
            }
        });
        for (kind, sums) in [identity, x, y].iter().enumerate() {
            out[kind * channels + first..][..N].copy_from_slice(sums);
        }
    }

    /// Perception's transpose: adds to the gradient of each of `cell`'s neighbours what the
    /// gradient of the cell's perception (`perceived`, planar) sends back through the filters.
    #[inline(always)]
    fn perceive_transpose(&self, grid: Grid, cell: usize, perceived: &[f32], grad: &mut [f32]) {
        let lanes = grid.channels / 16 * 16;
        for first in (0..lanes).step_by(16) {
            self.perceive_transpose_channels::<16>(grid, cell, first, perceived, grad);
        }
        for first in lanes..grid.channels {
            self.perceive_transpose_channels::<1>(grid, cell, first, perceived, grad);
        }
    }

    /// [`perceive_transpose`](Self::perceive_transpose) for channels `first..first + N`.
    #[inline(always)]
    fn perceive_transpose_channels<const N: usize>(
        &self,
        grid: Grid,
        cell: usize,
        first: usize,
        perceived: &[f32],
        grad: &mut [f32],
    ) {
        let channels = grid.channels;
        let kind = |kind: usize| lanes::<N>(perceived, kind * channels + first);
        let (identity, x, y) = (kind(0), kind(1), kind(2));
        let filter = |tap: usize, kind: usize| {
            lanes::<N>(&self.filters, (3 * tap + kind) * channels + first)
        };
        grid.for_each_neighbour(cell, |tap, neighbour| {
            let at = neighbour * channels + first;
            let (identity_filter, x_filter, y_filter) =
                (filter(tap, 0), filter(tap, 1), filter(tap, 2));
            let grad: &mut [f32; N] = (&mut grad[at..at + N]).try_into().expect("N values");
            for lane in 0..N {
                grad[lane] += identity_filter[lane] * identity[lane];
                grad[lane] += x_filter[lane] * x[lane];
                grad[lane] += y_filter[lane] * y[lane];
            }
        });
    }
}

/// The `N` values from `start`.
#[inline(always)]
fn lanes<const N: usize>(values: &[f32], start: usize) -> &[f32; N] {
    values[start..start + N].try_into().expect("N values")
}

/// The indices of the `true` flags, ascending. Branch-free: a fire decision is a coin toss, which
/// no branch predictor guesses.
#[inline(always)]
fn cells_where(flags: impl ExactSizeIterator<Item = bool>) -> Vec<usize> {
    let mut cells = vec![0; flags.len()];
    let mut count = 0;
    for (cell, flag) in flags.enumerate() {
        cells[count] = cell;
        count += usize::from(flag);
    }
    cells.truncate(count);
    cells
}

/// One sample's share of a step's fire decisions.
fn sample_of(fired: &Option<Vec<bool>>, grid: Grid, sample: usize) -> Option<&[bool]> {
    let plane = grid.plane();
    fired
        .as_deref()
        .map(|fired| &fired[sample * plane..(sample + 1) * plane])
}

/// `rows[i][j] = then(rows[i][j] + bias[j])` over a block's rows.
#[inline(always)]
fn add_bias(rows: &mut ArrayViewMut2<'_, f32>, bias: &Array1<f32>, then: impl Fn(f32) -> f32) {
    let bias = bias.as_slice().expect("a contiguous bias");
    let values = rows.as_slice_mut().expect("contiguous rows");
    for row in values.chunks_exact_mut(bias.len()) {
        for (value, &bias) in row.iter_mut().zip(bias) {
            *value = then(*value + bias);
        }
    }
}

/// Buffers a thread reuses from block to block and step to step.
#[derive(Default)]
struct Scratch {
    perceived: Buffer,
    hidden: Buffer,
}

std::thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Values that grow to the largest block asked for.
#[derive(Default)]
struct Buffer(Vec<f32>);

impl Buffer {
    /// The first `rows · columns` values as a matrix (their contents left from earlier use).
    fn rows(&mut self, rows: usize, columns: usize) -> ArrayViewMut2<'_, f32> {
        let len = rows * columns;
        if self.0.len() < len {
            self.0.resize(len, 0.0);
        }
        ArrayViewMut2::from_shape((rows, columns), &mut self.0[..len]).expect("enough values")
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

/// Runs `work` compiled for the best SIMD instructions this CPU has (AVX2, AVX-512, …), chosen
/// at run time: the loops inlined into it are vectorised for them.
#[inline(always)]
fn vectorized<R>(work: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(work)
}

/// `out[i] += a[i] · b[i]` over a cell's channels. The paper's 16 channels take a path of fixed
/// length, which compiles to single vector instructions (one AVX-512 register, two AVX2 ones).
#[inline(always)]
fn multiply_add(out: &mut [f32], a: &[f32], b: &[f32]) {
    if let (Ok(out), Ok(a), Ok(b)) = (
        <&mut [f32; 16]>::try_from(&mut *out),
        <&[f32; 16]>::try_from(a),
        <&[f32; 16]>::try_from(b),
    ) {
        // Read all, then write: the compiler need not prove that `out` overlaps neither input.
        let (a, b) = (*a, *b);
        let mut sum = *out;
        for lane in 0..16 {
            sum[lane] += a[lane] * b[lane];
        }
        *out = sum;
        return;
    }
    for ((out, a), b) in out.iter_mut().zip(a).zip(b) {
        *out += a * b;
    }
}

#[inline(always)]
fn relu(value: f32) -> f32 {
    value.max(0.0)
}
