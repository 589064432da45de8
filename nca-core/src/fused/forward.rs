//! The kernel's forward step: which cells to update, their updates block by block, and what the
//! backward pass needs of them.

use ndarray::{Array1, Array2, ArrayViewMut2};
use rayon::prelude::*;

use super::FusedNca;
use super::grid::Grid;
use super::matmul::matmul;
use super::simd::vectorized;

/// Cells per block of the kernel's matrix products (and per parallel task) for `cells` cells:
/// one block per thread, so a lone grid keeps every thread busy, within bounds that keep the
/// blocks' packing overhead small and their activations in cache.
pub(super) fn block_size(cells: usize) -> usize {
    cells.div_ceil(rayon::current_num_threads()).clamp(64, 1024)
}

/// What a step leaves for its backward pass.
pub(super) struct StepRecord {
    /// Cells whose update was computed and applied, ascending.
    pub updated: Vec<usize>,
    /// Cells alive before and after the step (the others were zeroed); `None` without alive
    /// masking, when every cell is kept.
    pub kept: Option<Vec<bool>>,
    /// When training: the activations of `updated`, block by block ([`block_size`] cells each),
    /// so that the backward pass need not compute them again.
    pub activations: Vec<Activations>,
}

/// A block of cells' perception and hidden activations.
pub(super) struct Activations {
    /// `[cells, bands·C]`, band order.
    pub perceived: Array2<f32>,
    /// `[cells, hidden]`, after the ReLU.
    pub hidden: Array2<f32>,
}

impl FusedNca {
    /// One step of one grid in the cell-major layout, in place, with `bias` as its hidden layer's
    /// bias (the model's, or a goal model's for the grid's goal); returns what its backward pass
    /// needs (the activations only when `training`).
    pub(super) fn step(
        &self,
        grid: Grid,
        state: &mut [f32],
        bias: &Array1<f32>,
        fired: Option<&[bool]>,
        training: bool,
    ) -> StepRecord {
        let alpha = self.config.alpha_channel();
        let threshold = self.config.living_threshold as f32;
        let channels = grid.channels;
        let masking = self.config.alive_masking;
        let alive_before = masking.then(|| grid.alive(state, alpha, threshold));
        // Without masking every cell may update; with it, only those that can live after.
        let near_life = alive_before.as_ref().map(|alive| grid.dilate(alive));
        let updated = match (fired, &near_life) {
            (Some(fired), Some(near)) => {
                cells_where(near.iter().zip(fired).map(|(&near, &fired)| near & fired))
            }
            (Some(fired), None) => cells_where(fired.iter().copied()),
            (None, Some(near)) => cells_where(near.iter().copied()),
            (None, None) => (0..grid.cells()).collect(),
        };
        let (updates, activations) = self.updates(grid, state, bias, &updated, training);
        for (&cell, update) in updated.iter().zip(updates.chunks_exact(channels)) {
            let values = &mut state[cell * channels..(cell + 1) * channels];
            values
                .iter_mut()
                .zip(update)
                .for_each(|(value, delta)| *value += delta);
        }
        let kept = alive_before.map(|before| {
            let after = grid.alive(state, alpha, threshold);
            let kept: Vec<bool> = before
                .iter()
                .zip(&after)
                .map(|(&before, &after)| before && after)
                .collect();
            for (values, &keep) in state.chunks_exact_mut(channels).zip(&kept) {
                if !keep {
                    values.fill(0.0);
                }
            }
            kept
        });
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
        bias: &Array1<f32>,
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
                        || self.block_updates(grid, state, bias, cells, perceived, hidden, out),
                    );
                    Some(kept)
                } else {
                    // Taken out and put back, so that the work itself runs inside `vectorized`.
                    let mut scratch = SCRATCH.take();
                    let perceived = scratch.perceived.rows(cells.len(), perception);
                    let hidden = scratch.hidden.rows(cells.len(), hidden);
                    vectorized(
                        #[inline(always)]
                        || self.block_updates(grid, state, bias, cells, perceived, hidden, out),
                    );
                    SCRATCH.set(scratch);
                    None
                }
            })
            .collect();
        (updates, activations.into_iter().flatten().collect())
    }

    /// A block of cells' scaled updates into `out` (`[cells, C]`), and their activations into
    /// `perceived` and `hidden` (whose bias is `bias`).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn block_updates(
        &self,
        grid: Grid,
        state: &[f32],
        bias: &Array1<f32>,
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
        matmul(&mut hidden, &perceived.view(), &self.hidden_weight.view());
        add_bias(&mut hidden, bias, relu);
        let mut update =
            ArrayViewMut2::from_shape((cells.len(), grid.channels), out).expect("a row per cell");
        matmul(&mut update, &hidden.view(), &self.output_weight.view());
        let scale = self.config.update_scale as f32;
        add_bias(&mut update, &self.output_bias, |value| value * scale);
    }
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

#[inline(always)]
fn relu(value: f32) -> f32 {
    value.max(0.0)
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
