//! Gradient conditioning before the optimiser: per-parameter normalisation or global clipping.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use nca_core::{FusedGradients, Nca, Perception};

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

/// The fused kernel's gradients as burn's gradients of `model`'s parameters, on `device` (the
/// training device without autodiff, where burn's own gradients live).
pub(crate) fn gradients_params(
    model: &Nca,
    gradients: FusedGradients,
    device: &Device,
) -> GradientsParams {
    let mut params = GradientsParams::new();
    let update = &model.update;
    register(
        &mut params,
        &update.hidden.weight,
        gradients.hidden_weight,
        device,
    );
    register(
        &mut params,
        &update.output.weight,
        gradients.output_weight,
        device,
    );
    for (bias, values) in [
        (&update.hidden.bias, gradients.hidden_bias),
        (&update.output.bias, gradients.output_bias),
    ] {
        if let Some(bias) = bias {
            register(&mut params, bias, values, device);
        }
    }
    if let (Perception::Learned(kernel), Some(values)) = (&model.perception, gradients.perception) {
        register(&mut params, kernel, values, device);
    }
    params
}

fn register<const D: usize>(
    params: &mut GradientsParams,
    param: &Param<Tensor<D>>,
    values: Vec<f32>,
    device: &Device,
) {
    let tensor = Tensor::<D>::from_data(TensorData::new(values, param.dims()), device);
    params.register(param.id, tensor);
}

#[cfg(test)]
mod tests {
    use super::*;
    use nca_core::NcaConfig;
    use nca_core::rand::SeedableRng;

    /// Each fused gradient lands on its own parameter: a permuted or missed one fails here.
    #[test]
    fn fused_gradients_reach_their_own_parameters() {
        let device = Device::flex();
        let config = NcaConfig {
            trainable_perception: true,
            channels: 8,
            hidden_units: 12,
            ..NcaConfig::default()
        };
        let mut rng = nca_core::rand::rngs::Xoshiro256PlusPlus::seed_from_u64(0);
        let model = Nca::new(config, &device, &mut rng).unwrap();
        let filled = |len: usize, value: f32| vec![value; len];
        let gradients = FusedGradients {
            perception: Some(filled(24 * 9, 5.0)),
            hidden_weight: filled(24 * 12, 1.0),
            hidden_bias: filled(12, 2.0),
            output_weight: filled(12 * 8, 3.0),
            output_bias: filled(8, 4.0),
        };
        let params = gradients_params(&model, gradients, &device);
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
    }
}
