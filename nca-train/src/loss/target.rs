//! The paper's loss: the mean squared error of a state's RGBA channels against the target
//! (premultiplied). One home for its three uses: burn's autodiff ([`Loss::batch`]), the fused
//! kernel ([`HostLoss`]) and the pool's ranking ([`RgbaLoss::state`]).

use burn::tensor::{Device, Tensor, TensorData};
use nca_core::HostLoss;

use super::Loss;

/// The RGBA mean squared error against one target, shared by every sample of a batch.
#[derive(Debug, Clone)]
pub struct RgbaLoss {
    /// `[visible + 1, H, W]` values.
    values: Vec<f32>,
    /// The same target on the training device.
    target: Tensor<3>,
}

impl RgbaLoss {
    /// The loss towards `target` (`[visible + 1, H, W]` values, premultiplied), with a copy on
    /// `device` for [`batch`](Self::batch).
    ///
    /// # Panics
    /// If `values` does not hold `shape`'s count of values.
    pub fn new(values: Vec<f32>, shape: [usize; 3], device: &Device) -> Self {
        let target = Tensor::from_data(TensorData::new(values.clone(), shape), device);
        Self { values, target }
    }

    /// The target's values, `[visible + 1, H, W]`.
    pub fn target(&self) -> &[f32] {
        &self.values
    }

    /// The target's `[visible + 1, H, W]`.
    pub fn shape(&self) -> [usize; 3] {
        self.target.dims()
    }

    /// The loss of one state (`[C, H, W]` values), the pool's ranking.
    pub fn state(&self, state: &[f32]) -> f64 {
        let sum: f64 = state[..self.values.len()]
            .iter()
            .zip(&self.values)
            .map(|(value, target)| f64::from(value - target).powi(2))
            .sum();
        sum / self.values.len() as f64
    }
}

impl Loss for RgbaLoss {
    /// The loss of a batch of states (`[B, C, H, W]`) on the target's device, for autodiff.
    fn batch(&self, states: Tensor<4>) -> Tensor<1> {
        let [rgba, ..] = self.shape();
        (states.narrow(1, 0, rgba) - self.target.clone().unsqueeze::<4>())
            .square()
            .mean()
    }

    fn rank(&self, state: &[f32], _shape: [usize; 3]) -> f64 {
        self.state(state)
    }
}

/// The same loss for the fused kernel, whose batch loss is the mean of its samples' (as
/// [`batch`](Loss::batch)'s, since every sample has as many values).
impl HostLoss for RgbaLoss {
    fn sample_loss(&self, end: &[f32], _shape: [usize; 3]) -> (f64, Vec<f32>) {
        let count = self.values.len() as f64;
        let mut grad = vec![0.0; end.len()];
        for ((grad, value), target) in grad.iter_mut().zip(end).zip(&self.values) {
            *grad = (2.0 * f64::from(value - target) / count) as f32;
        }
        (self.state(end), grad)
    }
}

/// A goal run's loss for one batch: each sample's [`RgbaLoss`] towards its own goal's target
/// (`losses[goals[sample]]`); the batch's loss is the mean of its samples', as
/// [`RgbaLoss`]'s.
pub(crate) struct GoalBatch<'a> {
    /// One loss per goal.
    pub losses: &'a [RgbaLoss],
    /// Each sample's goal.
    pub goals: &'a [usize],
}

impl GoalBatch<'_> {
    /// The loss of the batch's end states (`[B, C, H, W]`) on their (autodiff) device: the
    /// squared error against each sample's goal's target, stacked by the batch's goals.
    pub fn tensor(&self, states: Tensor<4>) -> Tensor<1> {
        let [rgba, height, width] = self.losses[0].shape();
        let targets: Vec<f32> = self
            .goals
            .iter()
            .flat_map(|&goal| self.losses[goal].target().iter().copied())
            .collect();
        let targets = Tensor::<4>::from_data(
            TensorData::new(targets, [self.goals.len(), rgba, height, width]),
            &states.device(),
        );
        (states.narrow(1, 0, rgba) - targets).square().mean()
    }
}

impl HostLoss for GoalBatch<'_> {
    /// Never asked: the kernel asks each sample's loss by its index.
    fn sample_loss(&self, _end: &[f32], _shape: [usize; 3]) -> (f64, Vec<f32>) {
        unreachable!("a goal batch's loss depends on the sample: the kernel asks sample_loss_at")
    }

    fn sample_loss_at(&self, sample: usize, end: &[f32], shape: [usize; 3]) -> (f64, Vec<f32>) {
        self.losses[self.goals[sample]].sample_loss(end, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A target of two cells and two RGBA channels in a four-channel state.
    fn loss() -> RgbaLoss {
        RgbaLoss::new(vec![1.0, 0.0, 0.5, 0.5], [2, 1, 2], &Device::flex())
    }

    #[test]
    fn only_the_rgba_channels_count() {
        let state = [1.0, 0.0, 0.5, 0.5, 9.0, 9.0, 9.0, 9.0];
        assert_eq!(loss().state(&state), 0.0);
        assert_eq!(loss().state(&[0.0; 8]), (1.0 + 0.25 + 0.25) / 4.0);
    }

    #[test]
    fn host_and_tensor_losses_agree_with_the_gradient() {
        let state = vec![0.0, 1.0, 0.5, 1.5, 9.0, 9.0, 9.0, 9.0];
        let loss = loss();
        let (value, grad) = loss.sample_loss(&state, [4, 1, 2]);
        let tensor = Tensor::<4>::from_data(TensorData::new(state, [1, 4, 1, 2]), &Device::flex());
        let batch = loss.batch(tensor).into_scalar::<f64>();
        assert!((value - batch).abs() < 1e-7, "{value} vs {batch}");
        // d/dx mean((x - t)²) = 2(x - t)/4 on the RGBA channels, nothing on the others.
        assert_eq!(grad, vec![-0.5, 0.5, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]);
    }
}
