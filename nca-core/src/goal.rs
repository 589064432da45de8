//! The goal of a goal-conditioned model: a learned vector per goal, mapped onto the update
//! network's hidden layer.

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, RngExt};

/// A goal model's goal input ([`NcaConfig::goals`](crate::NcaConfig::goals)).
///
/// Each sample of a rollout has a goal `g`; every one of its cells, at every step, adds
/// `embedding[g] · weight` to the update network's hidden pre-activation (a per-sample bias on
/// top of the layer's own).
#[derive(Module, Debug)]
pub struct GoalEmbedding {
    /// `[goals, goal_size]`: one learned vector per goal, drawn from N(0, 1) (as
    /// PyTorch's `nn.Embedding`).
    pub embedding: Param<Tensor<2>>,
    /// `[goal_size, hidden]`: from a goal's vector to the hidden layer, Glorot-uniform (as the
    /// update network's first layer).
    pub weight: Param<Tensor<2>>,
}

/// A goal input's weights on the host, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostGoal {
    /// `[goals][goal_size]`.
    pub embedding: Vec<f32>,
    /// `[goal_size][hidden]`.
    pub weight: Vec<f32>,
}

impl GoalEmbedding {
    /// A fresh goal input for `goals` goals of `size` values each, onto `hidden` units.
    pub fn new(
        goals: usize,
        size: usize,
        hidden: usize,
        device: &Device,
        rng: &mut impl Rng,
    ) -> Self {
        let embedding = (0..goals * size).map(|_| standard_normal(rng)).collect();
        let limit = (6.0 / (size + hidden) as f64).sqrt() as f32;
        let weight = (0..size * hidden)
            .map(|_| rng.random_range(-limit..limit))
            .collect();
        Self {
            embedding: Param::from_data(TensorData::new(embedding, [goals, size]), device),
            weight: Param::from_data(TensorData::new(weight, [size, hidden]), device),
        }
    }

    /// How many goals there are.
    pub fn goals(&self) -> usize {
        self.embedding.dims()[0]
    }

    /// Each sample's term of the hidden pre-activation, `[goals.len(), hidden]`.
    ///
    /// # Panics
    /// If a goal index is out of range (callers check goals against the model's).
    pub fn forward(&self, goals: &[usize]) -> Tensor<2> {
        self.check(goals);
        let embedding = self.embedding.val();
        let indices: Vec<i64> = goals.iter().map(|&goal| goal as i64).collect();
        let indices = Tensor::<1, Int>::from_data(
            TensorData::new(indices, [goals.len()]),
            &embedding.device(),
        );
        embedding.select(0, indices).matmul(self.weight.val())
    }

    /// The weights read back to the host.
    pub fn host(&self) -> HostGoal {
        HostGoal {
            embedding: crate::host_values(self.embedding.val()),
            weight: crate::host_values(self.weight.val()),
        }
    }

    /// Panics, naming the index, if a goal is out of range.
    pub(crate) fn check(&self, goals: &[usize]) {
        check_goals(goals, self.goals());
    }
}

/// Panics, naming the index, if a goal is not below `count`.
pub(crate) fn check_goals(goals: &[usize], count: usize) {
    if let Some(goal) = goals.iter().find(|&&goal| goal >= count) {
        if count == 0 {
            panic!("goal index {goal} given to a model without goals");
        }
        panic!("goal index {goal} out of range: the model has {count} goals");
    }
}

/// A draw from N(0, 1) by the Box–Muller transform.
fn standard_normal(rng: &mut impl Rng) -> f32 {
    let radius = (-2.0 * (1.0 - rng.random::<f64>()).ln()).sqrt();
    let angle = std::f64::consts::TAU * rng.random::<f64>();
    (radius * angle.cos()) as f32
}
