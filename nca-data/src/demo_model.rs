//! The paper's web-demo model format (distill `public/webgl_models8/*.json`): import and export.
//!
//! A demo model is a JSON array of two dense layers, each quantised to bytes: `(in + 1) x out`
//! values row by row (row `i` holds the weights from input `i`; the last row is the bias),
//! dequantised as `(byte / 255 − 0.5) · scale`. The first layer's inputs are in filter-band order
//! (all identities, then all x gradients, then all y gradients); ours are interleaved per channel.

use std::path::Path;

use base64::Engine;
use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Nca, NcaConfig, perception_rows_to_bands, perception_rows_to_interleaved};
use serde::{Deserialize, Serialize};

use crate::DataError;

/// One quantised dense layer as the web demo stores it.
#[derive(Debug, Deserialize, Serialize)]
struct DemoLayer {
    data_b64: String,
    in_ch: usize,
    out_ch: usize,
    weight_scale: f32,
    bias_scale: f32,
    #[serde(rename = "type")]
    kind: String,
}

/// A dequantised layer: `weights[input][output]` row-major, and `bias[output]`.
struct DenseLayer {
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// The largest web-demo model file read (128 MiB: the JSON of a network as large as nca's largest
/// model file, [`nca_core::MAX_MODEL_FILE_BYTES`], quantised to bytes); a longer one is refused
/// before it is read.
pub const MAX_DEMO_MODEL_BYTES: u64 = 128 << 20;

/// Reads a web-demo model file into an [`Nca`] with the paper's run settings (fire rate 0.5,
/// living threshold 0.1).
pub fn import_demo_model_file(path: &Path, device: &Device) -> Result<Nca, DataError> {
    let bytes = nca_core::io::read_limited(path, MAX_DEMO_MODEL_BYTES, "web-demo model").map_err(
        |err| match err {
            nca_core::NcaError::Io { path, source } => DataError::Io { path, source },
            other => other.into(),
        },
    )?;
    let source_name = path.display().to_string();
    let json = String::from_utf8(bytes).map_err(|_| DataError::BadModel {
        source_name: source_name.clone(),
        reason: "not a web-demo model: that is JSON text, this file is binary (an nca model file \
                 needs no import: give it to --model as it is)"
            .into(),
    })?;
    import_demo_model(&json, &source_name, device)
}

/// Builds an [`Nca`] from the JSON text of a web-demo model (a UTF-8 byte-order mark before it is
/// skipped); `source_name` names it in errors.
pub fn import_demo_model(json: &str, source_name: &str, device: &Device) -> Result<Nca, DataError> {
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    let bad = |reason: String| DataError::BadModel {
        source_name: source_name.into(),
        reason,
    };
    let layers: Vec<DemoLayer> = serde_json::from_str(json).map_err(|err| bad(err.to_string()))?;
    let [perceive, output] = layers.as_slice() else {
        return Err(bad(format!("expected 2 layers, found {}", layers.len())));
    };
    let channels = output.out_ch;
    if channels.checked_mul(3) != Some(perceive.in_ch) || output.in_ch != perceive.out_ch {
        return Err(bad(format!(
            "layer sizes {}→{} and {}→{} do not chain as 3C→hidden→C",
            perceive.in_ch, perceive.out_ch, output.in_ch, output.out_ch
        )));
    }
    let config = NcaConfig {
        channels,
        hidden_units: perceive.out_ch,
        ..NcaConfig::default()
    };
    config.validate().map_err(|err| bad(err.to_string()))?;
    let first = dequantise(perceive, 1).map_err(|reason| bad(format!("layer 1: {reason}")))?;
    let second = dequantise(output, 2).map_err(|reason| bad(format!("layer 2: {reason}")))?;

    let hidden = perceive.out_ch;
    let first_weights = perception_rows_to_interleaved(&first.weights, channels, 3);
    let mut nca = config.init(device, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    nca.update.hidden.weight = param(first_weights, [3 * channels, hidden], device);
    nca.update.hidden.bias = Some(param(first.bias, [hidden], device));
    nca.update.output.weight = param(second.weights, [hidden, channels], device);
    nca.update.output.bias = Some(param(second.bias, [channels], device));
    Ok(nca)
}

fn param<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_data(TensorData::new(values, shape), device)
}

fn dequantise(layer: &DemoLayer, number: usize) -> Result<DenseLayer, String> {
    if layer.kind != "uint8" {
        return Err(format!("type {:?} is not \"uint8\"", layer.kind));
    }
    if !(layer.weight_scale.is_finite() && layer.bias_scale.is_finite()) {
        return Err("weight_scale and bias_scale must be finite numbers".into());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&layer.data_b64)
        .map_err(|err| format!("data_b64 is not base64: {err}"))?;
    let expected = layer
        .in_ch
        .checked_add(1)
        .and_then(|rows| rows.checked_mul(layer.out_ch));
    if expected != Some(bytes.len()) {
        let expected = expected.map_or("more than can be addressed".into(), |n| n.to_string());
        return Err(format!(
            "data_b64 holds {} bytes, but {} inputs + bias times {} outputs need {expected} (layer {number})",
            bytes.len(),
            layer.in_ch,
            layer.out_ch
        ));
    }
    let value = |byte: u8, scale: f32| (f32::from(byte) / 255.0 - 0.5) * scale;
    let split = layer.in_ch * layer.out_ch;
    Ok(DenseLayer {
        weights: bytes[..split]
            .iter()
            .map(|&b| value(b, layer.weight_scale))
            .collect(),
        bias: bytes[split..]
            .iter()
            .map(|&b| value(b, layer.bias_scale))
            .collect(),
    })
}

/// The model as the web demo's JSON: two dense layers quantised to bytes as the paper's
/// `pack_layer` does (scale `2·max|w|`, `byte = round((w / scale + 0.5) · 255)`), perception
/// inputs in the demo's band order. A model's `update_scale` is folded into the second layer.
/// The format has no fire rate (the demo uses 0.5) and no living threshold (0.1 there).
///
/// Refused, naming `name` and the reason: a goal model (the format has no goal input), learned
/// perception (the demo's is fixed Sobel), a living threshold other than 0.1, channel or
/// hidden-unit counts that are not multiples of 4 (the demo's shaders read them four at a time).
pub fn export_demo_model(nca: &Nca, name: &str) -> Result<String, DataError> {
    let config = nca.config();
    let refuse = |reason: String| DataError::NotExportable {
        name: name.into(),
        reason,
    };
    if !config.is_growing() {
        return Err(refuse(
            "it is not a growing NCA (the demo has only a live seed cell, a zero border, alive masking and no Laplacian)".into(),
        ));
    }
    if config.has_goals() {
        return Err(refuse(format!(
            "it is goal-conditioned ({} goals), the demo's format has no goal input",
            config.goals.len()
        )));
    }
    if config.trainable_perception {
        return Err(refuse(
            "it has learned perception filters, the demo only fixed Sobel ones".into(),
        ));
    }
    if config.living_threshold != 0.1 {
        return Err(refuse(format!(
            "its living threshold is {}, the demo's is 0.1",
            config.living_threshold
        )));
    }
    let (channels, hidden) = (config.channels, config.hidden_units);
    if channels % 4 != 0 || hidden % 4 != 0 {
        return Err(refuse(format!(
            "{channels} channels and {hidden} hidden units must both be multiples of 4"
        )));
    }
    let weights = nca.update.host_weights();
    let scale = config.update_scale as f32;
    let scaled = |values: Vec<f32>| -> Vec<f32> { values.iter().map(|v| v * scale).collect() };
    let (second, second_bias) = (scaled(weights.output_weight), scaled(weights.output_bias));
    let first = perception_rows_to_bands(&weights.hidden_weight, channels, 3);
    let layers = [
        quantise(&first, &weights.hidden_bias, 3 * channels, hidden),
        quantise(&second, &second_bias, hidden, channels),
    ];
    Ok(serde_json::to_string(&layers).expect("layers serialise"))
}

/// One layer as the paper's `pack_layer` writes it (`weights[input][output]` row-major).
fn quantise(weights: &[f32], bias: &[f32], in_ch: usize, out_ch: usize) -> DemoLayer {
    let scale_of = |values: &[f32]| 2.0 * values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let (weight_scale, bias_scale) = (scale_of(weights), scale_of(bias));
    let byte = |value: f32, scale: f32| {
        if scale == 0.0 {
            128
        } else {
            ((value / scale + 0.5) * 255.0).round().clamp(0.0, 255.0) as u8
        }
    };
    let bytes: Vec<u8> = weights
        .iter()
        .map(|&w| byte(w, weight_scale))
        .chain(bias.iter().map(|&b| byte(b, bias_scale)))
        .collect();
    DemoLayer {
        data_b64: base64::engine::general_purpose::STANDARD.encode(bytes),
        in_ch,
        out_ch,
        weight_scale,
        bias_scale,
        kind: "uint8".into(),
    }
}
