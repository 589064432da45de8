//! What a cell sees: its own state and the Sobel gradients of its 3x3 neighbourhood.

use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

/// Depthwise 3x3 filters that turn `C` channels into `3C`: per channel its identity, x gradient
/// and y gradient, in that (interleaved) order. Zero padding keeps the grid size.
#[derive(Module, Debug)]
pub enum Perception {
    /// The paper's fixed identity and (optionally rotated) Sobel filters; not trained.
    Fixed(Tensor<4>),
    /// Filters learned with the update network, starting from the fixed ones.
    Learned(Param<Tensor<4>>),
}

impl Perception {
    /// The fixed identity + Sobel filters for `channels` channels, rotated by `angle_deg`.
    pub fn fixed(channels: usize, angle_deg: f64, device: &Device) -> Self {
        Self::Fixed(sobel_kernel(channels, angle_deg, device))
    }

    /// Trainable filters initialised to the fixed ones.
    pub fn learned(channels: usize, angle_deg: f64, device: &Device) -> Self {
        Self::Learned(Param::from_tensor(sobel_kernel(
            channels, angle_deg, device,
        )))
    }

    /// `[B, C, H, W]` → `[B, 3C, H, W]`.
    pub fn forward(&self, state: Tensor<4>) -> Tensor<4> {
        let kernel = match self {
            Self::Fixed(kernel) => kernel.clone(),
            Self::Learned(kernel) => kernel.val(),
        };
        let channels = state.dims()[1];
        conv2d(
            state,
            kernel,
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], channels),
        )
    }
}

/// The paper's Sobel x filter, `outer([1, 2, 1], [-1, 0, 1]) / 8`: rows are y, columns are x.
pub const SOBEL_X: [[f32; 3]; 3] = [
    [-0.125, 0.0, 0.125],
    [-0.25, 0.0, 0.25],
    [-0.125, 0.0, 0.125],
];

/// Builds the `[3C, 1, 3, 3]` depthwise kernel: identity, `cos θ·sx − sin θ·sy`, `sin θ·sx + cos θ·sy`.
fn sobel_kernel(channels: usize, angle_deg: f64, device: &Device) -> Tensor<4> {
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
    let values = per_channel.repeat(channels);
    Tensor::from_data(TensorData::new(values, [3 * channels, 1, 3, 3]), device)
}
