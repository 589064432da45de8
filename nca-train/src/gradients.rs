//! Gradient conditioning before the optimiser: per-parameter normalisation or global clipping.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

use crate::GradientMode;

/// Conditions `grads` of `model`'s parameters as `mode` says; returns the joint L2 norm of the
/// gradients before conditioning.
pub fn condition(model: &impl Module, grads: &mut GradientsParams, mode: GradientMode) -> f64 {
    let mut norms = Norms {
        grads,
        norms: Vec::new(),
    };
    model.visit(&mut norms);
    let norms = norms.norms;
    let global = norms
        .iter()
        .map(|(_, norm)| norm * norm)
        .sum::<f64>()
        .sqrt();
    let factors: Vec<(ParamId, f64)> = match mode {
        GradientMode::PerParameterNorm => norms
            .iter()
            .map(|&(id, norm)| (id, 1.0 / (norm + 1e-8)))
            .collect(),
        GradientMode::GlobalClip { max_norm } if global > max_norm => norms
            .iter()
            .map(|&(id, _)| (id, max_norm / global))
            .collect(),
        GradientMode::GlobalClip { .. } | GradientMode::Raw => Vec::new(),
    };
    model.visit(&mut Scale { grads, factors });
    global
}

/// Collects the L2 norm of each parameter's gradient.
struct Norms<'a> {
    grads: &'a GradientsParams,
    norms: Vec<(ParamId, f64)>,
}

impl ModuleVisitor for Norms<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            let squares = grad.square().sum().into_scalar::<f64>();
            self.norms.push((param.id, squares.sqrt()));
        }
    }
}

/// Multiplies each listed parameter's gradient by its factor.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factors: Vec<(ParamId, f64)>,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(&(_, factor)) = self.factors.iter().find(|(id, _)| *id == param.id) else {
            return;
        };
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, grad * factor);
        }
    }
}

/// Gradients paired with their parameters ([`FusedGradients::into_params`]) as burn's gradients
/// of `model`'s parameters, on `device` (the training device without autodiff, where burn's own
/// gradients live).
///
/// # Panics
/// If a parameter of `model` is missing from `gradients`.
pub(crate) fn gradients_params(
    model: &impl Module,
    gradients: Vec<(ParamId, Vec<f32>)>,
    device: &Device,
) -> GradientsParams {
    let mut register = Register {
        gradients,
        params: GradientsParams::new(),
        device,
    };
    model.visit(&mut register);
    register.params
}

/// Registers each visited parameter's gradient, shaped like the parameter.
struct Register<'a> {
    gradients: Vec<(ParamId, Vec<f32>)>,
    params: GradientsParams,
    device: &'a Device,
}

impl ModuleVisitor for Register<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let index = self
            .gradients
            .iter()
            .position(|(id, _)| *id == param.id)
            .unwrap_or_else(|| panic!("no gradient for parameter {}", param.id));
        let (_, values) = self.gradients.swap_remove(index);
        let tensor = Tensor::<D>::from_data(TensorData::new(values, param.dims()), self.device);
        self.params.register(param.id, tensor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nca_core::rand::SeedableRng;
    use nca_core::{FusedGradients, NcaConfig, Perception};

    /// Each fused gradient lands on its own parameter: a permuted or missed one fails here.
    #[test]
    fn fused_gradients_reach_their_own_parameters() {
        let device = Device::flex();
        let config = NcaConfig {
            trainable_perception: true,
            channels: 8,
            hidden_units: 12,
            goals: vec!["a".into(), "b".into()],
            goal_size: 3,
            ..NcaConfig::default()
        };
        let mut rng = nca_core::rand::rngs::Xoshiro256PlusPlus::seed_from_u64(0);
        let model = config.init(&device, &mut rng).unwrap();
        let filled = |len: usize, value: f32| vec![value; len];
        let gradients = FusedGradients {
            perception: Some(filled(24 * 9, 5.0)),
            hidden_weight: filled(24 * 12, 1.0),
            hidden_bias: filled(12, 2.0),
            output_weight: filled(12 * 8, 3.0),
            output_bias: filled(8, 4.0),
            goal_embedding: Some(filled(2 * 3, 6.0)),
            goal_weight: Some(filled(3 * 12, 7.0)),
        };
        let params = gradients_params(&model, gradients.into_params(&model), &device);
        let value_of = |id: ParamId, dims: usize| -> f32 {
            let values: Vec<f32> = match dims {
                1 => nca_core::host_values(params.get::<1>(id).unwrap()),
                2 => nca_core::host_values(params.get::<2>(id).unwrap()),
                _ => nca_core::host_values(params.get::<4>(id).unwrap()),
            };
            assert!(values.windows(2).all(|w| w[0] == w[1]));
            values[0]
        };
        let update = &model.update;
        assert_eq!(value_of(update.hidden.weight.id, 2), 1.0);
        assert_eq!(value_of(update.hidden.bias.as_ref().unwrap().id, 1), 2.0);
        assert_eq!(value_of(update.output.weight.id, 2), 3.0);
        assert_eq!(value_of(update.output.bias.as_ref().unwrap().id, 1), 4.0);
        let Perception::Learned(kernel) = &model.perception else {
            panic!("learned perception")
        };
        assert_eq!(value_of(kernel.id, 4), 5.0);
        let goal = model.goal.as_ref().unwrap();
        assert_eq!(value_of(goal.embedding.id, 2), 6.0);
        assert_eq!(value_of(goal.weight.id, 2), 7.0);
    }

    /// A goal model's gradients without the goal input's fail loudly, not leave it untrained.
    #[test]
    #[should_panic(expected = "the fused kernel has no gradient for parameter")]
    fn a_goal_model_needs_its_goal_gradients() {
        let config = NcaConfig {
            goals: vec!["a".into()],
            ..NcaConfig::default()
        };
        let mut rng = nca_core::rand::rngs::Xoshiro256PlusPlus::seed_from_u64(0);
        let model = config.init(&Device::flex(), &mut rng).unwrap();
        let gradients = FusedGradients {
            perception: None,
            hidden_weight: vec![0.0; 48 * 128],
            hidden_bias: vec![0.0; 128],
            output_weight: vec![0.0; 128 * 16],
            output_bias: vec![0.0; 16],
            goal_embedding: Some(vec![0.0; 8]),
            goal_weight: None,
        };
        gradients.into_params(&model);
    }
}
