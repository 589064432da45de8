//! The paper's published web-demo models, imported and grown: the acceptance test of the importer.
//! The three 😀 models are read from `../shared/models/` beside the checkout (never copied in).

use std::path::PathBuf;

use base64::Engine;
use burn::tensor::{Device, Tensor};
use nca_core::Nca;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_data::{DataError, EmojiSource, Target, TargetOptions, TargetSource, import_demo_model, import_demo_model_file};

fn shared_model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/models").join(name)
}

fn smiley() -> Target {
    let source = TargetSource::Emoji("😀".into());
    Target::load(&source, TargetOptions::default(), &EmojiSource::default()).unwrap()
}

/// RGBA mean squared error of a `[1, C, H, W]` state against a target.
fn rgba_mse(state: Tensor<4>, target: &[f32]) -> f32 {
    let rgba = state.narrow(1, 0, 4).into_data().try_to_vec::<f32>().unwrap();
    rgba.iter().zip(target).map(|(a, b)| (a - b).powi(2)).sum::<f32>() / target.len() as f32
}

/// The target upside down, to tell an upright smiley from an inverted one.
fn flipped(target: &Target) -> Vec<f32> {
    let (h, w) = (target.height, target.width);
    let mut out = target.rgba.clone();
    for c in 0..4 {
        for y in 0..h {
            for x in 0..w {
                out[(c * h + y) * w + x] = target.rgba[(c * h + h - 1 - y) * w + x];
            }
        }
    }
    out
}

/// MSE against the target after each of `checkpoints` steps, grown from the seed at fire rate 0.5.
fn grow(nca: &Nca, target: &Target, checkpoints: &[usize]) -> Vec<(f32, f32)> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2020);
    let mut state = nca.seed(1, target.height, target.width);
    let mut done = 0;
    checkpoints
        .iter()
        .map(|&steps| {
            state = nca.rollout(state.clone(), steps - done, &mut rng);
            done = steps;
            (rgba_mse(state.clone(), &target.rgba), rgba_mse(state.clone(), &flipped(target)))
        })
        .collect()
}

const GROWN: f32 = 0.04;

#[test]
fn the_three_demo_models_grow_an_upright_smiley() {
    let target = smiley();
    let empty = rgba_mse(Tensor::zeros([1, 4, 72, 72], &Device::flex()), &target.rgba);
    assert!(empty > 0.1, "an empty grid scores {empty}");
    for (file, holds) in [("ex1_😀.json", false), ("ex2_😀.json", true), ("ex3_😀.json", true)] {
        let nca = import_demo_model_file(&shared_model(file), &Device::flex()).unwrap();
        assert_eq!(nca.config().fire_rate, 0.5);
        let checkpoints: &[usize] = if holds { &[96, 300] } else { &[96] };
        let scores = grow(&nca, &target, checkpoints);
        let (at_96, flipped_96) = scores[0];
        assert!(at_96 < GROWN, "{file}: MSE {at_96} after 96 steps (empty grid: {empty})");
        assert!(at_96 * 2.0 < flipped_96, "{file}: upright {at_96} vs upside down {flipped_96}");
        if holds {
            let (at_300, _) = scores[1];
            assert!(at_300 < GROWN, "{file}: MSE {at_300} after 300 steps");
        }
    }
}

#[test]
fn a_model_with_random_weights_does_not_grow_the_smiley() {
    let json = std::fs::read_to_string(shared_model("ex2_😀.json")).unwrap();
    let mut layers: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    for layer in layers.as_array_mut().unwrap() {
        let len = base64::engine::general_purpose::STANDARD.decode(layer["data_b64"].as_str().unwrap()).unwrap().len();
        let bytes: Vec<u8> = (0..len).map(|_| nca_core::rand::RngExt::random(&mut rng)).collect();
        layer["data_b64"] = base64::engine::general_purpose::STANDARD.encode(bytes).into();
    }
    let nca = import_demo_model(&layers.to_string(), "random", &Device::flex()).unwrap();
    let (mse, _) = grow(&nca, &smiley(), &[96])[0];
    assert!(mse > GROWN * 2.0, "random weights scored {mse}");
}

fn import_error(json: &str) -> String {
    let err = import_demo_model(json, "bad.json", &Device::flex()).unwrap_err();
    assert!(matches!(err, DataError::BadModel { .. }), "{err}");
    err.to_string()
}

fn demo_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(shared_model("ex1_😀.json")).unwrap()).unwrap()
}

#[test]
fn malformed_model_files_are_refused_with_the_reason() {
    assert!(import_error("{ not json").starts_with("bad.json is not a usable web-demo model"));

    let mut one_layer = demo_json();
    one_layer.as_array_mut().unwrap().pop();
    assert!(import_error(&one_layer.to_string()).contains("expected 2 layers, found 1"));

    let mut bad_base64 = demo_json();
    bad_base64[0]["data_b64"] = "***".into();
    assert!(import_error(&bad_base64.to_string()).contains("layer 1: data_b64 is not base64"));

    let mut short = demo_json();
    short[1]["data_b64"] = base64::engine::general_purpose::STANDARD.encode([1u8, 2, 3]).into();
    assert!(import_error(&short.to_string()).contains("data_b64 holds 3 bytes, but 128 inputs + bias times 16 outputs need 2064"));

    let mut channels = demo_json();
    channels[0]["in_ch"] = 47.into();
    assert!(import_error(&channels.to_string()).contains("do not chain as 3C→hidden→C"));

    let mut kind = demo_json();
    kind[1]["type"] = "float32".into();
    assert!(import_error(&kind.to_string()).contains("layer 2: type \"float32\" is not \"uint8\""));
}

#[test]
fn a_missing_model_file_is_named() {
    let err = import_demo_model_file(&PathBuf::from("/no/model.json"), &Device::flex()).unwrap_err();
    assert!(err.to_string().starts_with("/no/model.json: "), "{err}");
}
