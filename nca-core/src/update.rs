//! The per-cell update rule: a two-layer network applied to every cell (1x1 convolutions).

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, RngExt};

/// `perception → dense(hidden) → ReLU → dense(channels)`, shared by every cell.
///
/// Both layers have a bias. The first is Glorot-uniform initialised (Keras' default, as in the
/// paper's notebook); the last starts at zero, so an untrained model leaves its input unchanged.
#[derive(Module, Debug)]
pub struct UpdateNet {
    /// `[3C] → [hidden]`.
    pub hidden: Linear,
    /// `[hidden] → [C]`, zero-initialised.
    pub output: Linear,
}

impl UpdateNet {
    /// A fresh network with `inputs → hidden → outputs` units.
    pub fn new(
        inputs: usize,
        hidden: usize,
        outputs: usize,
        device: &Device,
        rng: &mut impl Rng,
    ) -> Self {
        let limit = (6.0 / (inputs + hidden) as f64).sqrt() as f32;
        let weights = (0..inputs * hidden)
            .map(|_| rng.random_range(-limit..limit))
            .collect();
        Self {
            hidden: Linear {
                weight: Param::from_data(TensorData::new(weights, [inputs, hidden]), device),
                bias: Some(Param::from_data(
                    TensorData::zeros::<f32, _>([hidden]),
                    device,
                )),
            },
            output: LinearConfig::new(hidden, outputs)
                .with_initializer(Initializer::Zeros)
                .init(device),
        }
    }

    /// `[B, 3C, H, W]` → `[B, C, H, W]`, computed per cell as a matrix product over channels;
    /// `goal`, a goal model's `[B, hidden]` term of each sample
    /// ([`GoalEmbedding::forward`](crate::GoalEmbedding::forward)), is added to the hidden
    /// layer's pre-activation of every cell of its sample.
    pub fn forward(&self, perception: Tensor<4>, goal: Option<Tensor<2>>) -> Tensor<4> {
        let cells = perception.permute([0, 2, 3, 1]);
        let mut hidden = self.hidden.forward(cells);
        if let Some(goal) = goal {
            let [batch, units] = goal.dims();
            hidden = hidden + goal.reshape([batch, 1, 1, units]);
        }
        self.output.forward(relu(hidden)).permute([0, 3, 1, 2])
    }
}

/// The update network's weights on the host, row-major `[inputs][outputs]`; a missing bias is
/// zeros.
#[derive(Debug, Clone, PartialEq)]
pub struct HostWeights {
    /// `[3C][hidden]`.
    pub hidden_weight: Vec<f32>,
    /// `[hidden]`.
    pub hidden_bias: Vec<f32>,
    /// `[hidden][C]`.
    pub output_weight: Vec<f32>,
    /// `[C]`.
    pub output_bias: Vec<f32>,
}

impl UpdateNet {
    /// The weights read back to the host.
    pub fn host_weights(&self) -> HostWeights {
        let bias = |linear: &Linear| {
            linear.bias.as_ref().map_or_else(
                || vec![0.0; linear.weight.dims()[1]],
                |bias| crate::host_values(bias.val()),
            )
        };
        HostWeights {
            hidden_weight: crate::host_values(self.hidden.weight.val()),
            hidden_bias: bias(&self.hidden),
            output_weight: crate::host_values(self.output.weight.val()),
            output_bias: bias(&self.output),
        }
    }
}
