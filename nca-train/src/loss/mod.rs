//! What training minimises: the [`Loss`] trait, which the trainer takes, and nca's two losses,
//! the paper's [`RgbaLoss`] (a target picture) and [`TextureLoss`] (a texture's patches).
//!
//! Every loss has the three forms a run needs: a tensor on burn's autodiff device (the tensor
//! engine), a value and gradient per sample on the host (the fused kernel, through nca-core's
//! [`HostLoss`]) and a ranking of pool states. A library user's own loss implements the same
//! trait and is given to [`Trainer::with_loss`](crate::Trainer::with_loss).

mod target;
mod texture;

use burn::tensor::Tensor;
use nca_core::HostLoss;
use rand::Rng;

use target::GoalBatch;
pub use target::RgbaLoss;
pub use texture::{TextureLoss, TextureOptions};

/// A loss on the end states of a training rollout; the batch's loss is the mean of its
/// samples'. Its [`HostLoss`] form gives one sample's loss and gradient on the host.
pub trait Loss: HostLoss + Send {
    /// The loss of a batch of states (`[B, C, H, W]`) as a tensor on their (autodiff) device.
    fn batch(&self, states: Tensor<4>) -> Tensor<1>;

    /// How far one state (`[C, H, W]` values of `shape`) is from what the run wants: the pool
    /// sorts its draws by this (the paper reseeds the worst). By default the sample's loss.
    fn rank(&self, state: &[f32], shape: [usize; 3]) -> f64 {
        self.sample_loss(state, shape).0
    }

    /// Draws the loss's random parts for the next iteration (a sliced loss's projections), from
    /// the run's generator; a loss without any draws nothing, and leaves the run's sequence as
    /// it was.
    fn prepare(&mut self, rng: &mut dyn Rng) {
        let _ = rng;
    }
}

/// What a run minimises: one loss for every sample (the paper's, a texture's or a library
/// user's), or a goal run's losses, each sample towards its own goal's target.
pub(crate) enum Objective {
    One(Box<dyn Loss>),
    Goals(Vec<RgbaLoss>),
}

impl Objective {
    /// The loss's draws for the next iteration (the goals' losses draw nothing).
    pub fn prepare(&mut self, rng: &mut dyn Rng) {
        if let Self::One(loss) = self {
            loss.prepare(rng);
        }
    }

    /// How far a pool state of goal `goal` is from what the run wants.
    pub fn rank(&self, goal: usize, state: &[f32], shape: [usize; 3]) -> f64 {
        match self {
            Self::One(loss) => loss.rank(state, shape),
            Self::Goals(losses) => losses[goal].rank(state, shape),
        }
    }

    /// The loss of a batch of states, each sample of goal `goals[sample]` (none without goals),
    /// as a tensor.
    pub fn batch(&self, states: Tensor<4>, goals: &[usize]) -> Tensor<1> {
        match self {
            Self::One(loss) => loss.batch(states),
            Self::Goals(losses) => GoalBatch { losses, goals }.tensor(states),
        }
    }

    /// `run` given the host form for a batch of `goals`.
    pub fn on_host<R>(&self, goals: &[usize], run: impl FnOnce(&dyn HostLoss) -> R) -> R {
        match self {
            Self::One(loss) => run(&**loss),
            Self::Goals(losses) => run(&GoalBatch { losses, goals }),
        }
    }
}
