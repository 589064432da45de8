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
