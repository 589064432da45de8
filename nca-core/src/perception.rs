//! What a cell sees: its own state and the Sobel gradients (and, optionally, the Laplacian) of
//! its 3x3 neighbourhood.

use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Tensor, TensorData};

use crate::config::Border;

/// Per channel `C`, its bands in this (interleaved) order: the channel itself, its x gradient,
/// its y gradient and, with the Laplacian, its Laplacian, over the 3x3 neighbourhood with the
/// model's [`Border`]: `[B, C, H, W]` becomes `[B, bands·C, H, W]`.
#[derive(Module, Debug)]
pub enum Perception {
    /// The paper's identity and Sobel filters, rotated by an angle (and the Laplacian); not
    /// trained.
    Fixed(Sobel),
    /// Depthwise 3x3 filters `[bands·C, 1, 3, 3]` learned with the update network, starting
    /// from the fixed ones.
    Learned(Param<Tensor<4>>),
}

/// The fixed identity + Sobel (+ Laplacian) perception, computed from shifted copies of the grid
/// (the same numbers as the depthwise convolution with [`SOBEL_X`], its transpose and
/// [`LAPLACIAN`], at a fraction of the cost).
#[derive(Module, Debug)]
pub struct Sobel {
    #[module(skip)]
    angle_deg: f64,
    #[module(skip)]
    laplacian: bool,
}

impl Perception {
    /// The fixed identity + Sobel filters, rotated by `angle_deg`, and with `laplacian` the
    /// Laplacian.
    pub fn fixed(angle_deg: f64, laplacian: bool) -> Self {
        Self::Fixed(Sobel {
            angle_deg,
            laplacian,
        })
    }

    /// Trainable filters for `channels` channels, initialised to the fixed ones.
    pub fn learned(channels: usize, angle_deg: f64, laplacian: bool, device: &Device) -> Self {
        let filters = fixed_filters(channels, angle_deg, laplacian);
        let rows = filters.len() / 9;
        Self::Learned(Param::from_tensor(Tensor::from_data(
            TensorData::new(filters, [rows, 1, 3, 3]),
            device,
        )))
    }

    /// The depthwise filters as host values, `[bands·C, 1, 3, 3]`: for channel `c` and band `b`
    /// the 3x3 filter at `(c · bands + b) · 9`, applied by cross-correlation.
    pub fn filters(&self, channels: usize) -> Vec<f32> {
        match self {
            Self::Fixed(sobel) => fixed_filters(channels, sobel.angle_deg, sobel.laplacian),
            Self::Learned(kernel) => crate::host_values(kernel.val()),
        }
    }

    /// `[B, C, H, W]` → `[B, bands·C, H, W]`, with `border` beyond the edge.
    pub fn forward(&self, state: Tensor<4>, border: Border) -> Tensor<4> {
        let padded = border.pad(state);
        match self {
            Self::Fixed(sobel) => sobel.forward(padded),
            Self::Learned(kernel) => {
                let channels = padded.dims()[1];
                conv2d(
                    padded,
                    kernel.val(),
                    None,
                    ConvOptions::new([1, 1], [0, 0], [1, 1], channels),
                )
            }
        }
    }
}

impl Border {
    /// `[B, C, H, W]` → `[B, C, H + 2, W + 2]`: the grid with a ring of what lies beyond it.
    pub fn pad(self, state: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Zero => state.pad((1, 1, 1, 1), PadMode::Constant(0.0)),
            Self::Wrap => {
                let wrap = |tensor: Tensor<4>, dim: usize| {
                    let len = tensor.dims()[dim];
                    let last = tensor.clone().narrow(dim, len - 1, 1);
                    let first = tensor.clone().narrow(dim, 0, 1);
                    Tensor::cat(vec![last, tensor, first], dim)
                };
                wrap(wrap(state, 2), 3)
            }
        }
    }
}

impl Sobel {
    /// A padded grid `[B, C, H + 2, W + 2]` → `[B, bands·C, H, W]`: identity,
    /// `cos θ·sx − sin θ·sy`, `sin θ·sx + cos θ·sy` (and the Laplacian).
    pub fn forward(&self, padded: Tensor<4>) -> Tensor<4> {
        let [batch, channels, height, width] = padded.dims();
        let (height, width) = (height - 2, width - 2);
        let column = |offset: usize| padded.clone().narrow(3, offset, width);
        let row = |tensor: &Tensor<4>, offset: usize| tensor.clone().narrow(2, offset, height);
        // Sobel x = [1, 2, 1]ᵀ (rows) ⊗ [-1, 0, 1] (columns) / 8; Sobel y is its transpose.
        let difference = column(2) - column(0);
        let smoothed = column(0) + column(1) * 2.0 + column(2);
        let sx = (row(&difference, 0) + row(&difference, 1) * 2.0 + row(&difference, 2)) / 8.0;
        let sy = (row(&smoothed, 2) - row(&smoothed, 0)) / 8.0;
        let (dx, dy) = if self.angle_deg == 0.0 {
            (sx, sy)
        } else {
            let (sin, cos) = self.angle_deg.to_radians().sin_cos();
            (sx.clone() * cos - sy.clone() * sin, sx * sin + sy * cos)
        };
        let mut bands = vec![row(&column(1), 1), dx, dy];
        if self.laplacian {
            // [1, 2, 1] above and below, [2, −12, 2] between, over 8.
            let sides = column(0) + column(2);
            let middle = row(&sides, 1) * 2.0 - row(&column(1), 1) * 12.0;
            bands.push((row(&smoothed, 0) + middle + row(&smoothed, 2)) / 8.0);
        }
        let count = bands.len();
        Tensor::stack::<5>(bands, 2).reshape([batch, count * channels, height, width])
    }
}

/// The paper's Sobel x filter, `outer([1, 2, 1], [-1, 0, 1]) / 8`: rows are y, columns are x.
pub const SOBEL_X: [[f32; 3]; 3] = [
    [-0.125, 0.0, 0.125],
    [-0.25, 0.0, 0.25],
    [-0.125, 0.0, 0.125],
];

/// The Laplacian of the self-organising textures' notebook, `[[1, 2, 1], [2, −12, 2],
/// [1, 2, 1]]`, over 8 as [`SOBEL_X`] is (the notebook divides neither, so their ratio is its).
pub const LAPLACIAN: [[f32; 3]; 3] = [
    [0.125, 0.25, 0.125],
    [0.25, -1.5, 0.25],
    [0.125, 0.25, 0.125],
];

/// The `[bands·C, 1, 3, 3]` depthwise filters of the fixed perception: identity,
/// `cos θ·sx − sin θ·sy`, `sin θ·sx + cos θ·sy` (and the Laplacian, which no rotation changes).
pub(crate) fn fixed_filters(channels: usize, angle_deg: f64, laplacian: bool) -> Vec<f32> {
    let (sin, cos) = (angle_deg.to_radians() as f32).sin_cos();
    let mut identity = [[0.0f32; 3]; 3];
    identity[1][1] = 1.0;
    let mut dx = [[0.0f32; 3]; 3];
    let mut dy = [[0.0f32; 3]; 3];
    for row in 0..3 {
        for col in 0..3 {
            let (sx, sy) = (SOBEL_X[row][col], SOBEL_X[col][row]);
            dx[row][col] = cos * sx - sin * sy;
            dy[row][col] = sin * sx + cos * sy;
        }
    }
    let mut filters = vec![identity, dx, dy];
    if laplacian {
        filters.push(LAPLACIAN);
    }
    let per_channel: Vec<f32> = filters.iter().flatten().flatten().copied().collect();
    per_channel.repeat(channels)
}
