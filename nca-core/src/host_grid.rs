//! One grid's state on the host, for the edits that training, evaluation and the viewers make:
//! plant a seed, erase a disc, erase a half. The one home of their index arithmetic.

use burn::tensor::{Device, Tensor, TensorData};

/// A half of the grid (for [`HostGrid::erase_half`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Half {
    /// Columns `0 .. W/2`.
    Left,
    /// Columns `W/2 .. W`.
    Right,
    /// Rows `0 .. H/2`.
    Top,
    /// Rows `H/2 .. H`.
    Bottom,
}

impl std::fmt::Display for Half {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Half::Left => "left",
            Half::Right => "right",
            Half::Top => "top",
            Half::Bottom => "bottom",
        })
    }
}

/// A `[C, H, W]` state in row-major order, owned (`Vec<f32>`) or borrowed (`&mut [f32]`, to edit a
/// state kept elsewhere, such as a sample pool's).
#[derive(Debug, Clone, PartialEq)]
pub struct HostGrid<V = Vec<f32>> {
    values: V,
    shape: [usize; 3],
}

impl HostGrid {
    /// The first sample of a `[B, C, H, W]` tensor, read back to the host.
    pub fn from_tensor(state: Tensor<4>) -> Self {
        let [_, channels, height, width] = state.dims();
        let mut values = crate::host_values(state);
        values.truncate(channels * height * width);
        Self::new(values, [channels, height, width])
    }

    /// The values.
    pub fn into_values(self) -> Vec<f32> {
        self.values
    }
}

impl<V: AsRef<[f32]> + AsMut<[f32]>> HostGrid<V> {
    /// `values` as a `[C, H, W]` grid.
    ///
    /// # Panics
    /// If there are not `C·H·W` values.
    pub fn new(values: V, shape: [usize; 3]) -> Self {
        assert_eq!(
            values.as_ref().len(),
            shape.iter().product::<usize>(),
            "a grid of shape {shape:?}"
        );
        Self { values, shape }
    }

    /// `[C, H, W]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// The values, row-major.
    pub fn values(&self) -> &[f32] {
        self.values.as_ref()
    }

    /// As a `[1, C, H, W]` tensor on `device`.
    pub fn to_tensor(&self, device: &Device) -> Tensor<4> {
        let [channels, height, width] = self.shape;
        Tensor::from_data(
            TensorData::new(self.values().to_vec(), [1, channels, height, width]),
            device,
        )
    }

    /// Sets channels `from..C` of the cell at `(row, column)` to 1: a seed, when `from` is the
    /// alpha channel (alpha and hidden channels 1, colour 0 as the grid had it).
    pub fn plant_seed(&mut self, row: usize, column: usize, from: usize) {
        let [channels, height, width] = self.shape;
        let values = self.values.as_mut();
        for channel in from..channels {
            values[(channel * height + row) * width + column] = 1.0;
        }
    }

    /// Zeroes every channel where `(x − cx)² + (y − cy)² < r²`, with `x` and `y` running over
    /// `[-1, 1]` across the grid (`centre` is `(cx, cy)`), as the paper's `make_circle_masks`.
    pub fn erase_disc(&mut self, centre: (f64, f64), radius: f64) {
        let [_, height, width] = self.shape;
        let coordinate = |i: usize, n: usize| {
            if n > 1 {
                -1.0 + 2.0 * i as f64 / (n - 1) as f64
            } else {
                0.0
            }
        };
        self.erase_cells(|y, x| {
            let (dx, dy) = (
                coordinate(x, width) - centre.0,
                coordinate(y, height) - centre.1,
            );
            dx * dx + dy * dy < radius * radius
        });
    }

    /// Zeroes every channel of one half of the grid.
    pub fn erase_half(&mut self, half: Half) {
        let [_, height, width] = self.shape;
        self.erase_cells(|y, x| match half {
            Half::Left => x < width / 2,
            Half::Right => x >= width / 2,
            Half::Top => y < height / 2,
            Half::Bottom => y >= height / 2,
        });
    }

    /// Zeroes every channel of the cells `(row, column)` for which `erased` says so.
    fn erase_cells(&mut self, erased: impl Fn(usize, usize) -> bool) {
        let [_, height, width] = self.shape;
        for plane in self.values.as_mut().chunks_exact_mut(height * width) {
            for (row, cells) in plane.chunks_exact_mut(width).enumerate() {
                for (column, cell) in cells.iter_mut().enumerate() {
                    if erased(row, column) {
                        *cell = 0.0;
                    }
                }
            }
        }
    }
}
