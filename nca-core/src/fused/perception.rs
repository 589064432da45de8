//! The kernel's perception, one cell at a time in band order (see [`FusedNca`]), and its two
//! gradients: with respect to the state (its transpose) and to the filters.

use ndarray::Array2;

use super::FusedNca;
use super::grid::Grid;
use super::simd::{lanes, multiply_add};

impl FusedNca {
    /// Writes what `cell` perceives (band order, `[bands, C]`) into `out`: 16 channels at a time
    /// (the paper's 16 in one pass, each sum in a vector register), then 4 at a time (a texture's
    /// 12), the rest one by one.
    #[inline(always)]
    pub(super) fn perceive(&self, grid: Grid, state: &[f32], cell: usize, out: &mut [f32]) {
        if self.config.laplacian {
            self.perceive_groups::<true>(grid, state, cell, out);
        } else {
            self.perceive_groups::<false>(grid, state, cell, out);
        }
    }

    #[inline(always)]
    fn perceive_groups<const LAPLACIAN: bool>(
        &self,
        grid: Grid,
        state: &[f32],
        cell: usize,
        out: &mut [f32],
    ) {
        let (sixteens, fours) = lane_groups(grid.channels);
        for first in (0..sixteens).step_by(16) {
            self.perceive_channels::<16, LAPLACIAN>(grid, state, cell, first, out);
        }
        for first in (sixteens..fours).step_by(4) {
            self.perceive_channels::<4, LAPLACIAN>(grid, state, cell, first, out);
        }
        for first in fours..grid.channels {
            self.perceive_channels::<1, LAPLACIAN>(grid, state, cell, first, out);
        }
    }

    /// [`perceive`](Self::perceive) for channels `first..first + N`, summed over the taps in
    /// order. Every tap and band is summed, zero weights too, as burn's convolution does. Each
    /// band's sums are a named array (a loop over an array of bands kept them on the stack).
    #[inline(always)]
    fn perceive_channels<const N: usize, const LAPLACIAN: bool>(
        &self,
        grid: Grid,
        state: &[f32],
        cell: usize,
        first: usize,
        out: &mut [f32],
    ) {
        let channels = grid.channels;
        let bands = 3 + usize::from(LAPLACIAN);
        let filter = |tap: usize, band: usize| {
            lanes::<N>(&self.filters, (bands * tap + band) * channels + first)
        };
        let (mut identity, mut x, mut y) = ([0.0f32; N], [0.0f32; N], [0.0f32; N]);
        let mut laplacian = [0.0f32; N];
        grid.for_each_neighbour(
            cell,
            #[inline(always)]
            |tap, neighbour| {
                let values = lanes::<N>(state, neighbour * channels + first);
                let (identity_filter, x_filter, y_filter) =
                    (filter(tap, 0), filter(tap, 1), filter(tap, 2));
                for lane in 0..N {
                    identity[lane] += identity_filter[lane] * values[lane];
                    x[lane] += x_filter[lane] * values[lane];
                    y[lane] += y_filter[lane] * values[lane];
                }
                if LAPLACIAN {
                    let laplacian_filter = filter(tap, 3);
                    for lane in 0..N {
                        laplacian[lane] += laplacian_filter[lane] * values[lane];
                    }
                }
            },
        );
        for (band, sums) in [identity, x, y, laplacian][..bands].iter().enumerate() {
            out[band * channels + first..][..N].copy_from_slice(sums);
        }
    }

    /// Perception's transpose: adds to the gradient of each of `cell`'s neighbours what the
    /// gradient of the cell's perception (`perceived`, band order) sends back through the
    /// filters.
    #[inline(always)]
    pub(super) fn perceive_transpose(
        &self,
        grid: Grid,
        cell: usize,
        perceived: &[f32],
        grad: &mut [f32],
    ) {
        if self.config.laplacian {
            self.perceive_transpose_groups::<true>(grid, cell, perceived, grad);
        } else {
            self.perceive_transpose_groups::<false>(grid, cell, perceived, grad);
        }
    }

    #[inline(always)]
    fn perceive_transpose_groups<const LAPLACIAN: bool>(
        &self,
        grid: Grid,
        cell: usize,
        perceived: &[f32],
        grad: &mut [f32],
    ) {
        let (sixteens, fours) = lane_groups(grid.channels);
        for first in (0..sixteens).step_by(16) {
            self.perceive_transpose_channels::<16, LAPLACIAN>(grid, cell, first, perceived, grad);
        }
        for first in (sixteens..fours).step_by(4) {
            self.perceive_transpose_channels::<4, LAPLACIAN>(grid, cell, first, perceived, grad);
        }
        for first in fours..grid.channels {
            self.perceive_transpose_channels::<1, LAPLACIAN>(grid, cell, first, perceived, grad);
        }
    }

    /// [`perceive_transpose`](Self::perceive_transpose) for channels `first..first + N`.
    #[inline(always)]
    fn perceive_transpose_channels<const N: usize, const LAPLACIAN: bool>(
        &self,
        grid: Grid,
        cell: usize,
        first: usize,
        perceived: &[f32],
        grad: &mut [f32],
    ) {
        let channels = grid.channels;
        let bands = 3 + usize::from(LAPLACIAN);
        let band = |band: usize| lanes::<N>(perceived, band * channels + first);
        let (identity, x, y) = (band(0), band(1), band(2));
        let laplacian = if LAPLACIAN { band(3) } else { identity };
        let filter = |tap: usize, band: usize| {
            lanes::<N>(&self.filters, (bands * tap + band) * channels + first)
        };
        grid.for_each_neighbour(
            cell,
            #[inline(always)]
            |tap, neighbour| {
                let at = neighbour * channels + first;
                let (identity_filter, x_filter, y_filter) =
                    (filter(tap, 0), filter(tap, 1), filter(tap, 2));
                let grad: &mut [f32; N] = (&mut grad[at..at + N]).try_into().expect("N values");
                for lane in 0..N {
                    grad[lane] += identity_filter[lane] * identity[lane];
                    grad[lane] += x_filter[lane] * x[lane];
                    grad[lane] += y_filter[lane] * y[lane];
                }
                if LAPLACIAN {
                    let laplacian_filter = filter(tap, 3);
                    for lane in 0..N {
                        grad[lane] += laplacian_filter[lane] * laplacian[lane];
                    }
                }
            },
        );
    }

    /// Gradient of the filters (`[9, bands·C]`, band order) from a block of `cells` and the gradient
    /// of what each perceived (`grad_perceived`, a row per cell).
    #[inline(always)]
    pub(super) fn filter_gradient(
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
            grid.for_each_neighbour(
                cell,
                #[inline(always)]
                |tap, neighbour| {
                    let values = &state[neighbour * channels..(neighbour + 1) * channels];
                    let mut row = grad.row_mut(tap);
                    let row = row.as_slice_mut().expect("contiguous rows");
                    for (out, perceived) in row
                        .chunks_exact_mut(channels)
                        .zip(perceived.chunks_exact(channels))
                    {
                        multiply_add(out, perceived, values);
                    }
                },
            );
        }
        grad
    }
}

/// Where a cell's channels switch from groups of 16 to groups of 4, and from those to single
/// channels: `(16 · ⌊C / 16⌋, that + 4 · ⌊rest / 4⌋)`.
#[inline(always)]
fn lane_groups(channels: usize) -> (usize, usize) {
    let sixteens = channels / 16 * 16;
    (sixteens, sixteens + (channels - sixteens) / 4 * 4)
}
