//! Grids in the kernel's cell-major layout `[B, H, W, C]`: layout changes, alive masks and the
//! 3x3 neighbourhoods that perception reads and its gradient writes.

/// The shape of a batch of grids; cell `i` is `sample · H·W + y · W + x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grid {
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    /// Whether the grid wraps around (a torus), or has nothing beyond its edge.
    pub wrap: bool,
}

impl Grid {
    /// Cells in one grid.
    pub fn plane(&self) -> usize {
        self.height * self.width
    }

    /// Cells in the batch.
    pub fn cells(&self) -> usize {
        self.batch * self.plane()
    }

    /// The shape of one of the grids.
    pub fn sample(self) -> Grid {
        Grid { batch: 1, ..self }
    }

    /// Cell-major values split into one vector per sample.
    pub fn samples(self, values: &[f32]) -> Vec<Vec<f32>> {
        values
            .chunks_exact(self.plane() * self.channels)
            .map(<[f32]>::to_vec)
            .collect()
    }

    /// `[B, C, H, W]` values → `[B, H, W, C]`.
    pub fn to_cell_major(self, values: &[f32]) -> Vec<f32> {
        let (plane, channels) = (self.plane(), self.channels);
        let mut out = vec![0.0; values.len()];
        for (sample, grid) in values.chunks_exact(plane * channels).enumerate() {
            for (channel, plane_values) in grid.chunks_exact(plane).enumerate() {
                for (cell, &value) in plane_values.iter().enumerate() {
                    out[(sample * plane + cell) * channels + channel] = value;
                }
            }
        }
        out
    }

    /// `[B, H, W, C]` values → `[B, C, H, W]`.
    pub fn to_channel_major(self, values: &[f32]) -> Vec<f32> {
        let (plane, channels) = (self.plane(), self.channels);
        let mut out = vec![0.0; values.len()];
        for (cell, cell_values) in values.chunks_exact(channels).enumerate() {
            let (sample, within) = (cell / plane, cell % plane);
            for (channel, &value) in cell_values.iter().enumerate() {
                out[(sample * channels + channel) * plane + within] = value;
            }
        }
        out
    }

    /// Cells whose 3x3 neighbourhood holds an alpha above `threshold`.
    pub fn alive(&self, state: &[f32], alpha: usize, threshold: f32) -> Vec<bool> {
        let living: Vec<bool> = state
            .chunks_exact(self.channels)
            .map(|cell| cell[alpha] > threshold)
            .collect();
        self.dilate(&living)
    }

    /// Cells with a marked cell in their 3x3 neighbourhood (a 3x3 max filter, rows then columns;
    /// across the edge when the grid wraps).
    pub fn dilate(&self, marked: &[bool]) -> Vec<bool> {
        let width = self.width;
        let mut rows = marked.to_vec();
        for (out, row) in rows.chunks_exact_mut(width).zip(marked.chunks_exact(width)) {
            or_into(&mut out[1..], &row[..width - 1]);
            or_into(&mut out[..width - 1], &row[1..]);
            if self.wrap {
                out[0] |= row[width - 1];
                out[width - 1] |= row[0];
            }
        }
        let mut out = rows.clone();
        let (plane, last) = (self.plane(), self.plane() - width);
        for (out, rows) in out.chunks_exact_mut(plane).zip(rows.chunks_exact(plane)) {
            or_into(&mut out[width..], &rows[..last]);
            or_into(&mut out[..last], &rows[width..]);
            if self.wrap {
                or_into(&mut out[..width], &rows[last..]);
                or_into(&mut out[last..], &rows[..width]);
            }
        }
        out
    }

    /// Calls `visit(tap, neighbour)` for each cell of [`neighbours`](Self::neighbours), in order.
    /// Cells away from the border take a path of fixed length without bounds checks, which
    /// compiles to straight-line code.
    #[inline(always)]
    pub fn for_each_neighbour(&self, cell: usize, mut visit: impl FnMut(usize, usize)) {
        let within = cell % self.plane();
        let (y, x) = (within / self.width, within % self.width);
        if (1..self.height - 1).contains(&y) && (1..self.width - 1).contains(&x) {
            let top_left = cell - self.width - 1;
            for tap in 0..9 {
                visit(tap, top_left + tap / 3 * self.width + tap % 3);
            }
        } else {
            for (tap, neighbour) in self.neighbours(cell) {
                visit(tap, neighbour);
            }
        }
    }

    /// The neighbourhood of `cell`, as `(tap, neighbour)`: `tap` is `3 · (dy + 1) + (dx + 1)`,
    /// the index into a row-major 3x3 filter. Neighbours beyond the edge are left out, or with
    /// [`wrap`](Self::wrap) taken from the opposite edge.
    #[inline(always)]
    pub fn neighbours(&self, cell: usize) -> impl Iterator<Item = (usize, usize)> + use<> {
        let (height, width) = (self.height as isize, self.width as isize);
        let (plane, wrap) = (self.plane(), self.wrap);
        let (sample, within) = (cell / plane, cell % plane);
        let (y, x) = (
            (within / self.width) as isize,
            (within % self.width) as isize,
        );
        (0..9).filter_map(move |tap| {
            let (mut ny, mut nx) = (y + tap as isize / 3 - 1, x + tap as isize % 3 - 1);
            if wrap {
                (ny, nx) = (ny.rem_euclid(height), nx.rem_euclid(width));
            }
            let inside = (0..height).contains(&ny) && (0..width).contains(&nx);
            inside.then(|| (tap, sample * plane + (ny * width + nx) as usize))
        })
    }
}

/// `out[i] |= other[i]`.
fn or_into(out: &mut [bool], other: &[bool]) {
    out.iter_mut()
        .zip(other)
        .for_each(|(out, &other)| *out |= other);
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID: Grid = Grid {
        batch: 2,
        height: 3,
        width: 4,
        channels: 5,
        wrap: false,
    };

    #[test]
    fn layout_round_trips() {
        let values: Vec<f32> = (0..GRID.cells() * GRID.channels)
            .map(|v| v as f32)
            .collect();
        let cell_major = GRID.to_cell_major(&values);
        // sample 1, channel 2, y 1, x 3 → index ((1·5 + 2)·3 + 1)·4 + 3
        assert_eq!(
            cell_major[(12 + 4 + 3) * 5 + 2],
            values[((5 + 2) * 3 + 1) * 4 + 3]
        );
        assert_eq!(GRID.to_channel_major(&cell_major), values);
    }

    #[test]
    fn corner_cells_have_four_neighbours_and_inner_ones_nine() {
        assert_eq!(
            GRID.neighbours(0).collect::<Vec<_>>(),
            vec![(4, 0), (5, 1), (7, 4), (8, 5)]
        );
        assert_eq!(GRID.neighbours(12 + 5).count(), 9);
        assert!(GRID.neighbours(12 + 5).all(|(_, n)| (12..24).contains(&n)));
    }

    #[test]
    fn every_cell_visits_its_neighbours_in_order() {
        for grid in [
            GRID,
            Grid {
                batch: 2,
                height: 5,
                width: 6,
                channels: 1,
                wrap: false,
            },
            Grid { wrap: true, ..GRID },
        ] {
            for cell in 0..grid.cells() {
                let mut visited = Vec::new();
                grid.for_each_neighbour(cell, |tap, neighbour| visited.push((tap, neighbour)));
                assert_eq!(
                    visited,
                    grid.neighbours(cell).collect::<Vec<_>>(),
                    "cell {cell}"
                );
            }
        }
    }

    #[test]
    fn wrapped_grids_take_neighbours_from_the_opposite_edge() {
        let wrapped = Grid { wrap: true, ..GRID };
        // Cell 0 of sample 1 (y 0, x 0): rows 2, 0, 1 and columns 3, 0, 1 of that sample.
        let expected: Vec<(usize, usize)> = [2, 0, 1]
            .iter()
            .flat_map(|y| [3, 0, 1].map(|x| 12 + y * 4 + x))
            .enumerate()
            .collect();
        assert_eq!(wrapped.neighbours(12).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn wrapped_alive_masks_reach_across_the_edge() {
        let wrapped = Grid { wrap: true, ..GRID };
        let mut state = vec![0.0; GRID.cells() * GRID.channels];
        state[3] = 0.2; // sample 0, y 0, x 0
        let alive = wrapped.alive(&state, 3, 0.1);
        let expected: Vec<bool> = (0..GRID.cells())
            .map(|cell| cell < 12 && [0, 1, 3].contains(&(cell % 4)))
            .collect();
        assert_eq!(alive, expected);
    }

    #[test]
    fn alive_marks_the_neighbourhood_of_cells_above_the_threshold() {
        let mut state = vec![0.0; GRID.cells() * GRID.channels];
        state[5 * GRID.channels + 3] = 0.2; // sample 0, y 1, x 1
        state[(12 + 11) * GRID.channels + 3] = 0.1; // not above the threshold
        let alive = GRID.alive(&state, 3, 0.1);
        let expected: Vec<bool> = (0..GRID.cells())
            .map(|cell| cell < 12 && cell % 4 <= 2)
            .collect();
        assert_eq!(alive, expected);
    }
}
