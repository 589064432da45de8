//! What a cell sees: its own state and the Sobel gradients of its 3x3 neighbourhood.

use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Tensor, TensorData};

/// Per channel `C`, three values in this (interleaved) order: the channel itself, its x gradient
/// and its y gradient over the 3x3 neighbourhood, with zero padding at the border: `[B, C, H, W]`
/// becomes `[B, 3C, H, W]`.
#[derive(Module, Debug)]
pub enum Perception {
    /// The paper's identity and Sobel filters, rotated by an angle; not trained.
    Fixed(Sobel),
    /// Depthwise 3x3 filters `[3C, 1, 3, 3]` learned with the update network, starting from the
    /// fixed ones.
    Learned(Param<Tensor<4>>),
}

/// The fixed identity + Sobel perception, computed from shifted copies of the grid (the same
/// numbers as the depthwise convolution with [`SOBEL_X`] and its transpose, at a fraction of the
/// cost).
#[derive(Module, Debug)]
pub struct Sobel {
    #[module(skip)]
    angle_deg: f64,
}

impl Perception {
    /// The fixed identity + Sobel filters, rotated by `angle_deg`.
    pub fn fixed(angle_deg: f64) -> Self {
        Self::Fixed(Sobel { angle_deg })
    }

    /// Trainable filters for `channels` channels, initialised to the fixed ones.
    pub fn learned(channels: usize, angle_deg: f64, device: &Device) -> Self {
        Self::Learned(Param::from_tensor(sobel_kernel(
            channels, angle_deg, device,
        )))
    }

    /// The depthwise filters as host values, `[3C, 1, 3, 3]`: for channel `c` and band `b`
    /// (identity, x, y) the 3x3 filter at `(c * 3 + b) * 9`, applied by cross-correlation.
    pub fn filters(&self, channels: usize) -> Vec<f32> {
        match self {
            Self::Fixed(sobel) => sobel_filters(channels, sobel.angle_deg),
            Self::Learned(kernel) => crate::host_values(kernel.val()),
        }
    }

    /// `[B, C, H, W]` → `[B, 3C, H, W]`.
    pub fn forward(&self, state: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Fixed(sobel) => sobel.forward(state),
            Self::Learned(kernel) => {
                let channels = state.dims()[1];
                conv2d(
                    state,
                    kernel.val(),
                    None,
                    ConvOptions::new([1, 1], [1, 1], [1, 1], channels),
                )
            }
        }
    }
}

impl Sobel {
    /// `[B, C, H, W]` → `[B, 3C, H, W]`: identity, `cos θ·sx − sin θ·sy`, `sin θ·sx + cos θ·sy`.
    pub fn forward(&self, state: Tensor<4>) -> Tensor<4> {
        let [batch, channels, height, width] = state.dims();
        let padded = state.clone().pad((1, 1, 1, 1), PadMode::Constant(0.0));
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
        Tensor::stack::<5>(vec![state, dx, dy], 2).reshape([batch, 3 * channels, height, width])
    }
}

/// The paper's Sobel x filter, `outer([1, 2, 1], [-1, 0, 1]) / 8`: rows are y, columns are x.
pub const SOBEL_X: [[f32; 3]; 3] = [
    [-0.125, 0.0, 0.125],
    [-0.25, 0.0, 0.25],
    [-0.125, 0.0, 0.125],
];

/// The `[3C, 1, 3, 3]` depthwise kernel of the fixed perception on `device`.
fn sobel_kernel(channels: usize, angle_deg: f64, device: &Device) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(sobel_filters(channels, angle_deg), [3 * channels, 1, 3, 3]),
        device,
    )
}

/// The `[3C, 1, 3, 3]` depthwise filters of the fixed perception: identity,
/// `cos θ·sx − sin θ·sy`, `sin θ·sx + cos θ·sy`.
pub(crate) fn sobel_filters(channels: usize, angle_deg: f64) -> Vec<f32> {
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
    let per_channel: Vec<f32> = [identity, dx, dy]
        .iter()
        .flatten()
        .flatten()
        .copied()
        .collect();
    per_channel.repeat(channels)
}
