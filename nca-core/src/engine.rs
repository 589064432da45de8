//! How a model computes its steps: the [`Engine`] it runs on, and the fire decisions every engine
//! draws the same way.
//!
//! [`Nca::advance`](crate::Nca::advance) and [`Nca::frames`](crate::Nca::frames) honour the
//! model's engine, and so does nca-train's `Trainer::step`; [`Nca::step`](crate::Nca::step) and
//! [`Nca::rollout`](crate::Nca::rollout) are always burn tensor operations (differentiable).

use rand::{Rng, RngExt};

/// How a model computes its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// burn tensor operations on the model's device: any backend, differentiable by autodiff.
    #[default]
    Tensor,
    /// nca's fused CPU kernel ([`FusedNca`](crate::FusedNca)): the same maths on the host,
    /// computing only cells that fire and can live, with its own backward for training.
    Fused,
}

/// Whether each of `cells` cells (in `[B, H, W]` order) fires this step, each with probability
/// `rate`; `None` when every cell fires (`rate >= 1`), which draws nothing from `rng`.
pub(crate) fn fire_decisions(cells: usize, rate: f64, rng: &mut impl Rng) -> Option<Vec<bool>> {
    (rate < 1.0).then(|| (0..cells).map(|_| rng.random::<f64>() < rate).collect())
}
