//! The self-organising textures' loss without a pretrained network: the sliced Wasserstein
//! distance between the distributions of small patches of the grid's colours and of the
//! texture's, at several scales, plus the textures paper's overflow loss.
//!
//! Each iteration draws random unit directions in patch space ([`Loss::prepare`]); every patch
//! of the grid and of the texture is projected on each, and the sorted projections of the grid
//! are compared with the texture's quantiles (the one-dimensional optimal transport). A grid that
//! shows the texture's patches, anywhere and in any arrangement, has a loss near zero.

use burn::tensor::module::{avg_pool2d, conv2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions};
use burn::tensor::{Tensor, TensorData};
use nca_core::HostLoss;
use ndarray::{Array2, ArrayView2};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Loss;
use crate::TrainError;

/// Colour channels a texture has (RGB).
const COLOURS: usize = 3;

/// The texture loss's settings. A field left out takes its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextureOptions {
    /// Side of the square patches compared, in cells of each scale.
    pub patch: usize,
    /// Scales compared: the grid and the texture as they are, then each halved (2x2 averages),
    /// this many in all.
    pub scales: usize,
    /// Random directions the patches are projected on, per scale and iteration.
    pub projections: usize,
    /// Weight of the overflow loss, the sum of `|x − clamp(x, −1, 1)|` over a state's values
    /// (the textures paper's, which keeps the state bounded).
    pub overflow: f64,
}

impl Default for TextureOptions {
    /// 5x5 patches at 3 scales (up to 20 cells across), 64 directions each, overflow weight 1.
    fn default() -> Self {
        Self {
            patch: 5,
            scales: 3,
            projections: 64,
            overflow: 1.0,
        }
    }
}

impl TextureOptions {
    /// The smallest side, in cells, of a grid (or texture) whose coarsest scale still holds a
    /// patch.
    pub fn smallest_side(&self) -> usize {
        self.patch << (self.scales.max(1) - 1)
    }

    /// Refuses a texture (`[height, width]` pixels) whose coarsest scale holds no patch.
    pub fn check_texture(&self, [height, width]: [usize; 2]) -> Result<(), TrainError> {
        let smallest = self.smallest_side();
        if height.min(width) < smallest {
            return Err(TrainError::InvalidConfig {
                field: "texture",
                reason: format!(
                    "is {width}x{height} pixels, too small for {0}x{0} patches at {1} scales: it needs at least {smallest} pixels a side",
                    self.patch, self.scales
                ),
            });
        }
        Ok(())
    }

    /// Checks that every value is possible, naming the first that is not.
    pub fn validate(&self) -> Result<(), TrainError> {
        let invalid = |field: &'static str, reason: String| {
            Err(TrainError::InvalidConfig {
                field,
                reason: format!("(texture) {reason}"),
            })
        };
        if !(1..=16).contains(&self.patch) {
            return invalid("patch", format!("is {}, but must be 1 to 16", self.patch));
        }
        if !(1..=6).contains(&self.scales) {
            return invalid("scales", format!("is {}, but must be 1 to 6", self.scales));
        }
        if !(1..=1024).contains(&self.projections) {
            return invalid(
                "projections",
                format!("is {}, but must be 1 to 1024", self.projections),
            );
        }
        if !(self.overflow.is_finite() && self.overflow >= 0.0) {
            return invalid(
                "overflow",
                format!("is {}, but must be a finite number >= 0", self.overflow),
            );
        }
        Ok(())
    }
}

/// The patch loss towards one texture, shared by every sample of a batch. A state's colours are
/// its first three channels plus 0.5 (how a texture model's state is shown).
#[derive(Debug, Clone)]
pub struct TextureLoss {
    options: TextureOptions,
    /// `[3, h, w]`: the texture's colours minus 0.5, comparable with a state's channels.
    texture: Vec<f32>,
    texture_shape: [usize; 2],
    /// Per scale, this iteration's directions and the texture's projections on them.
    scales: Vec<Scale>,
}

/// One scale's draw: directions and the texture's sorted projections.
#[derive(Debug, Clone)]
struct Scale {
    /// `[P, 3, k, k]`: unit vectors in patch space.
    directions: Vec<f32>,
    /// `[P][patches]`: the texture's patches projected on each direction, ascending.
    sorted_texture: Vec<Vec<f32>>,
}

impl TextureLoss {
    /// The loss towards `texture` (`[3, height, width]` colours in `[0, 1]`); ready to use, with
    /// directions drawn from a fixed seed until [`prepare`](Loss::prepare) draws new ones.
    pub fn new(
        texture: &[f32],
        [height, width]: [usize; 2],
        options: TextureOptions,
    ) -> Result<Self, TrainError> {
        options.validate()?;
        assert_eq!(
            texture.len(),
            COLOURS * height * width,
            "a texture is [3, height, width]"
        );
        options.check_texture([height, width])?;
        let mut loss = Self {
            options,
            texture: texture.iter().map(|value| value - 0.5).collect(),
            texture_shape: [height, width],
            scales: Vec::new(),
        };
        loss.prepare(&mut Xoshiro256PlusPlus::seed_from_u64(0));
        Ok(loss)
    }

    /// The loss towards a premultiplied picture (`[visible + 1, height, width]`, as targets are
    /// loaded) as it looks over white: how a texture run and `nca eval` take their texture.
    pub fn of_picture(
        picture: &[f32],
        [channels, height, width]: [usize; 3],
        options: TextureOptions,
    ) -> Result<Self, TrainError> {
        let plane = height * width;
        let alpha = &picture[(channels - 1) * plane..];
        let colours: Vec<f32> = picture[..(channels - 1) * plane]
            .chunks_exact(plane)
            .flat_map(|colour| colour.iter().zip(alpha).map(|(c, a)| c + 1.0 - a))
            .collect();
        Self::new(&colours, [height, width], options)
    }

    /// Refuses a grid whose coarsest scale holds no patch, naming its size.
    pub fn check_grid(&self, [height, width]: [usize; 2]) -> Result<(), TrainError> {
        let smallest = self.options.smallest_side();
        if height.min(width) < smallest {
            return Err(TrainError::InvalidConfig {
                field: "grid",
                reason: format!(
                    "is {width}x{height} cells, too small for the texture loss's {0}x{0} patches at {1} scales: it needs at least {smallest} cells a side",
                    self.options.patch, self.options.scales
                ),
            });
        }
        Ok(())
    }

    /// The settings.
    pub fn options(&self) -> &TextureOptions {
        &self.options
    }

    /// The patch part of one state's loss (`[C, H, W]` values), and its gradient with respect to
    /// the state's colours when `grad` is given (`[3, H, W]`, added to).
    fn patch_loss(
        &self,
        state: &[f32],
        [height, width]: [usize; 2],
        mut grad: Option<&mut [f32]>,
    ) -> f64 {
        let colours = &state[..COLOURS * height * width];
        let k = self.options.patch;
        let mut total = 0.0;
        for (index, scale) in self.scales.iter().enumerate() {
            let factor = 1 << index;
            let (pooled, shape) = pool(colours, [height, width], factor);
            let projected = project(&pooled, shape, k, &scale.directions);
            let count = projected.ncols();
            let share = 1.0 / (projected.len()) as f64;
            let mut grad_projected = Array2::zeros(projected.raw_dim());
            for ((values, texture), mut grads) in projected
                .rows()
                .into_iter()
                .zip(&scale.sorted_texture)
                .zip(grad_projected.rows_mut())
            {
                for (rank, patch) in ascending_order(values.as_slice().expect("rows"))
                    .into_iter()
                    .enumerate()
                {
                    let difference = f64::from(values[patch] - quantile(texture, rank, count));
                    total += difference * difference * share;
                    grads[patch] = (2.0 * difference * share) as f32;
                }
            }
            if let Some(grad) = grad.as_deref_mut() {
                let grad_pooled = project_transpose(&grad_projected, shape, k, &scale.directions);
                unpool_into(&grad_pooled, shape, factor, [height, width], grad);
            }
        }
        total
    }

    /// The texture's patches projected on `directions` at scale `index`, each sorted.
    fn sorted_texture(&self, index: usize, directions: &[f32]) -> Vec<Vec<f32>> {
        let (pooled, shape) = pool(&self.texture, self.texture_shape, 1 << index);
        let projected = project(&pooled, shape, self.options.patch, directions);
        projected
            .rows()
            .into_iter()
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|values| {
                let values = values.as_slice().expect("rows");
                ascending_order(values)
                    .into_iter()
                    .map(|index| values[index])
                    .collect()
            })
            .collect()
    }
}

impl Loss for TextureLoss {
    fn batch(&self, states: Tensor<4>) -> Tensor<1> {
        let [batch, ..] = states.dims();
        let k = self.options.patch;
        let colours = states.clone().narrow(1, 0, COLOURS);
        let mut terms = Vec::new();
        for (index, scale) in self.scales.iter().enumerate() {
            let factor = 1 << index;
            let pooled = if factor == 1 {
                colours.clone()
            } else {
                avg_pool2d(
                    colours.clone(),
                    AvgPoolOptions::new([factor, factor]).with_stride([factor, factor]),
                )
            };
            let directions = Tensor::<4>::from_data(
                TensorData::new(
                    scale.directions.clone(),
                    [self.options.projections, COLOURS, k, k],
                ),
                &states.device(),
            );
            let projected = conv2d(
                pooled,
                directions,
                None,
                ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
            );
            let [_, projections, rows, columns] = projected.dims();
            let count = rows * columns;
            let sorted = projected.reshape([batch, projections, count]).sort(2);
            let quantiles: Vec<f32> = scale
                .sorted_texture
                .iter()
                .flat_map(|texture| (0..count).map(|rank| quantile(texture, rank, count)))
                .collect();
            let quantiles = Tensor::<3>::from_data(
                TensorData::new(quantiles, [1, projections, count]),
                &states.device(),
            );
            terms.push((sorted - quantiles).square().mean());
        }
        let overflow = (states.clone() - states.clamp(-1.0, 1.0)).abs().sum() / batch as f64
            * self.options.overflow;
        terms.into_iter().fold(overflow, |total, term| total + term)
    }

    fn prepare(&mut self, rng: &mut dyn Rng) {
        let k = self.options.patch;
        let dimensions = COLOURS * k * k;
        self.scales = (0..self.options.scales)
            .map(|index| {
                let directions: Vec<f32> = (0..self.options.projections)
                    .flat_map(|_| unit_vector(dimensions, rng))
                    .collect();
                let sorted_texture = self.sorted_texture(index, &directions);
                Scale {
                    directions,
                    sorted_texture,
                }
            })
            .collect();
    }
}

impl HostLoss for TextureLoss {
    fn sample_loss(&self, end: &[f32], [_, height, width]: [usize; 3]) -> (f64, Vec<f32>) {
        let mut grad = vec![0.0; end.len()];
        let mut loss = self.patch_loss(end, [height, width], Some(&mut grad));
        let weight = self.options.overflow;
        if weight > 0.0 {
            for (value, grad) in end.iter().zip(&mut grad) {
                let excess = value - value.clamp(-1.0, 1.0);
                loss += weight * f64::from(excess.abs());
                *grad += (weight as f32) * excess.signum() * f32::from(u8::from(excess != 0.0));
            }
        }
        (loss, grad)
    }
}

/// The indices of `values` in ascending order of their values. Sorts one integer key per value
/// (the value's bits made to order as the floats do, then its index), which is several times
/// faster than sorting indices by looking their values up.
fn ascending_order(values: &[f32]) -> Vec<usize> {
    let mut keys: Vec<u64> = values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let bits = value.to_bits();
            let ordered = if bits >> 31 == 1 {
                !bits
            } else {
                bits | 1 << 31
            };
            u64::from(ordered) << 32 | index as u64
        })
        .collect();
    keys.sort_unstable();
    keys.into_iter()
        .map(|key| (key & u64::from(u32::MAX)) as usize)
        .collect()
}

/// The texture's value at `rank` of `count` evenly spaced quantiles (the texture may have more or
/// fewer patches than the grid).
fn quantile(sorted: &[f32], rank: usize, count: usize) -> f32 {
    let at = ((2 * rank + 1) * sorted.len()) / (2 * count);
    sorted[at.min(sorted.len() - 1)]
}

/// A random direction: `dimensions` normal draws (Box–Muller), scaled to length 1.
fn unit_vector(dimensions: usize, rng: &mut dyn Rng) -> Vec<f32> {
    let mut values: Vec<f64> = (0..dimensions)
        .map(|_| {
            let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        })
        .collect();
    let length = values.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
    values.iter_mut().for_each(|v| *v /= length);
    values.into_iter().map(|v| v as f32).collect()
}

/// `[3, H, W]` colours averaged over `factor x factor` blocks (a remainder left out), and the
/// pooled shape.
fn pool(colours: &[f32], [height, width]: [usize; 2], factor: usize) -> (Vec<f32>, [usize; 2]) {
    if factor == 1 {
        return (
            colours[..COLOURS * height * width].to_vec(),
            [height, width],
        );
    }
    let (rows, columns) = (height / factor, width / factor);
    let share = 1.0 / (factor * factor) as f32;
    let mut pooled = vec![0.0; COLOURS * rows * columns];
    for channel in 0..COLOURS {
        for y in 0..rows * factor {
            for x in 0..columns * factor {
                pooled[(channel * rows + y / factor) * columns + x / factor] +=
                    colours[(channel * height + y) * width + x] * share;
            }
        }
    }
    (pooled, [rows, columns])
}

/// What [`pool`] sends back: each pooled cell's gradient shared by its block, added to `grad`.
fn unpool_into(
    grad_pooled: &[f32],
    [rows, columns]: [usize; 2],
    factor: usize,
    [height, width]: [usize; 2],
    grad: &mut [f32],
) {
    let share = 1.0 / (factor * factor) as f32;
    for channel in 0..COLOURS {
        for y in 0..rows * factor {
            for x in 0..columns * factor {
                grad[(channel * height + y) * width + x] +=
                    grad_pooled[(channel * rows + y / factor) * columns + x / factor] * share;
            }
        }
    }
}

/// Every `k x k` patch (inside the picture) of `[3, H, W]` colours projected on each direction
/// (`[P, 3, k, k]`): `[P, patches]`, patches in row-major order of their top-left cell. One
/// matrix product of the directions and the patches.
fn project(colours: &[f32], shape: [usize; 2], k: usize, directions: &[f32]) -> Array2<f32> {
    directions_matrix(directions, k).dot(&patches(colours, shape, k).t())
}

/// The transpose of [`project`]: the gradient of the colours (`[3, H, W]`) from the
/// projections' (`[P, patches]`).
fn project_transpose(
    grad_projected: &Array2<f32>,
    [height, width]: [usize; 2],
    k: usize,
    directions: &[f32],
) -> Vec<f32> {
    let columns = width + 1 - k;
    let grad_patches = grad_projected.t().dot(&directions_matrix(directions, k));
    let mut grad = vec![0.0f32; COLOURS * height * width];
    for (index, patch) in grad_patches.rows().into_iter().enumerate() {
        let (y, x) = (index / columns, index % columns);
        let patch = patch.as_slice().expect("a standard-layout product");
        for channel in 0..COLOURS {
            for dy in 0..k {
                let row = (channel * height + y + dy) * width + x;
                let from = (channel * k + dy) * k;
                grad[row..row + k]
                    .iter_mut()
                    .zip(&patch[from..from + k])
                    .for_each(|(out, g)| *out += g);
            }
        }
    }
    grad
}

/// The directions as a `[P, 3·k·k]` matrix.
fn directions_matrix(directions: &[f32], k: usize) -> ArrayView2<'_, f32> {
    let size = COLOURS * k * k;
    ArrayView2::from_shape((directions.len() / size, size), directions).expect("whole directions")
}

/// Every `k x k` patch of `[3, H, W]` colours as a row of a `[patches, 3·k·k]` matrix.
fn patches(colours: &[f32], [height, width]: [usize; 2], k: usize) -> Array2<f32> {
    let (rows, columns) = (height + 1 - k, width + 1 - k);
    let mut out = Array2::zeros((rows * columns, COLOURS * k * k));
    for (index, mut patch) in out.rows_mut().into_iter().enumerate() {
        let patch = patch.as_slice_mut().expect("a new matrix");
        gather_patch(
            colours,
            [height, width],
            k,
            [index / columns, index % columns],
            patch,
        );
    }
    out
}

/// The `k x k` patch of `[3, H, W]` colours at `[y, x]` (its top-left cell), as `[3, k, k]`.
fn gather_patch(
    colours: &[f32],
    [height, width]: [usize; 2],
    k: usize,
    [y, x]: [usize; 2],
    out: &mut [f32],
) {
    for channel in 0..COLOURS {
        for dy in 0..k {
            let row = (channel * height + y + dy) * width + x;
            out[(channel * k + dy) * k..][..k].copy_from_slice(&colours[row..row + k]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// A 24x24 texture of coloured stripes and dots, in `[0, 1]`.
    fn texture() -> Vec<f32> {
        let side = 24;
        let mut values = vec![0.0; 3 * side * side];
        for y in 0..side {
            for x in 0..side {
                let stripe = f32::from(u8::from((x + y) % 6 < 2));
                let dot = f32::from(u8::from(x % 8 == 3 && y % 8 == 5));
                values[y * side + x] = 0.9 * stripe;
                values[(side + y) * side + x] = 0.2 + 0.6 * dot;
                values[(2 * side + y) * side + x] = 0.5 * (1.0 - stripe);
            }
        }
        values
    }

    fn options() -> TextureOptions {
        TextureOptions {
            patch: 3,
            scales: 2,
            projections: 16,
            overflow: 1.0,
        }
    }

    fn loss() -> TextureLoss {
        TextureLoss::new(&texture(), [24, 24], options()).unwrap()
    }

    /// A 4-channel state showing `colours` (`[3, H, W]` in `[0, 1]`).
    fn state_of(colours: &[f32]) -> Vec<f32> {
        let mut state: Vec<f32> = colours.iter().map(|v| v - 0.5).collect();
        state.extend(vec![0.3; colours.len() / 3]);
        state
    }

    #[test]
    fn the_texture_against_itself_scores_zero_and_altered_copies_do_not() {
        let loss = loss();
        let shape = [4, 24, 24];
        let (itself, _) = loss.sample_loss(&state_of(&texture()), shape);
        assert!(itself < 1e-9, "{itself}");
        // The same pixels shuffled: the same colours, other patches.
        let plane = 24 * 24;
        let mut shuffled = texture();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        for cell in (1..plane).rev() {
            let other = rng.random_range(0..=cell);
            for channel in 0..3 {
                shuffled.swap(channel * plane + cell, channel * plane + other);
            }
        }
        // Recoloured: red and blue swapped.
        let mut recoloured = texture();
        let (red, rest) = recoloured.split_at_mut(plane);
        red.swap_with_slice(&mut rest[plane..]);
        for (name, colours) in [("shuffled", shuffled), ("recoloured", recoloured)] {
            let (value, _) = loss.sample_loss(&state_of(&colours), shape);
            assert!(value > 1e-3, "{name}: {value}");
        }
    }

    #[test]
    fn host_and_tensor_forms_agree_in_value_and_gradient() {
        let device = Device::flex().autodiff();
        let loss = TextureLoss::new(&texture(), [24, 24], options()).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        // Two samples of a 20x18 grid, some values beyond [−1, 1] for the overflow.
        let shape = [4, 20, 18];
        let values: Vec<f32> = (0..2 * 4 * 20 * 18)
            .map(|_| rng.random_range(-1.3..1.3))
            .collect();
        let states =
            Tensor::<4>::from_data(TensorData::new(values.clone(), [2, 4, 20, 18]), &device)
                .require_grad();
        let tensor_loss = loss.batch(states.clone());
        let value = tensor_loss.clone().into_scalar::<f64>();
        let grads = tensor_loss.backward();
        let expected = nca_core::host_values(states.grad(&grads).unwrap());
        let size = 4 * 20 * 18;
        let mut host_value = 0.0;
        let mut host_grad = Vec::new();
        for sample in values.chunks_exact(size) {
            let (value, grad) = loss.sample_loss(sample, shape);
            host_value += value / 2.0;
            host_grad.extend(grad.iter().map(|g| g / 2.0));
        }
        assert!(
            (host_value - value).abs() < 1e-5 * value,
            "{host_value} vs {value}"
        );
        let worst = host_grad
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let largest = expected.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-4 * largest, "worst {worst} of {largest}");
    }

    #[test]
    fn gradient_steps_on_a_state_lower_the_loss() {
        let loss = loss();
        let shape = [4, 24, 24];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut state: Vec<f32> = (0..4 * 24 * 24)
            .map(|_| rng.random_range(-0.5..0.5))
            .collect();
        let (first, _) = loss.sample_loss(&state, shape);
        for _ in 0..20 {
            let (_, grad) = loss.sample_loss(&state, shape);
            let norm = grad.iter().map(|g| g * g).sum::<f32>().sqrt();
            state
                .iter_mut()
                .zip(&grad)
                .for_each(|(v, g)| *v -= 0.5 * g / norm);
        }
        let (last, _) = loss.sample_loss(&state, shape);
        assert!(last < 0.7 * first, "{first} → {last}");
    }

    #[test]
    fn ascending_order_sorts_as_the_floats_order() {
        let values = [
            0.5,
            -2.0,
            0.0,
            -0.0,
            3.25,
            -0.125,
            1e-30,
            f32::MIN,
            f32::MAX,
        ];
        let order = ascending_order(&values);
        let sorted: Vec<f32> = order.iter().map(|&index| values[index]).collect();
        let mut expected = values.to_vec();
        expected.sort_by(f32::total_cmp);
        assert_eq!(sorted, expected);
    }

    #[test]
    fn textures_and_grids_too_small_for_the_patches_are_refused() {
        let small = vec![0.5; 3 * 5 * 5];
        let err = TextureLoss::new(&small, [5, 5], options()).unwrap_err();
        assert!(
            err.to_string()
                .contains("5x5 pixels, too small for 3x3 patches at 2 scales"),
            "{err}"
        );
        let err = loss().check_grid([5, 40]).unwrap_err();
        assert!(err.to_string().contains("40x5 cells"), "{err}");
    }
}
