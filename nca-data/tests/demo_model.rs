//! The paper's web-demo model format: its published models imported and grown (the acceptance
//! test of the importer), and ours exported to it and back.
//! The paper's three 😀 models are read from `nca-cli/models/paper/` (with their attribution).

use std::path::PathBuf;

use base64::Engine;
use burn::tensor::{Device, Tensor};
use nca_core::Nca;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_data::{
    DataError, EmojiSource, Target, TargetOptions, TargetSource, import_demo_model,
    import_demo_model_file,
};
use nca_tests::{mse, paper_model, shipped};

fn smiley() -> Target {
    let source = TargetSource::Emoji("😀".into());
    Target::load(&source, TargetOptions::default(), &EmojiSource::default()).unwrap()
}

/// RGBA of a `[1, C, H, W]` state on the host.
fn rgba(state: Tensor<4>) -> Vec<f32> {
    state
        .narrow(1, 0, 4)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

/// How far (in rows) the dark features (eyes, mouth) sit below the middle of the shape: the
/// darkness-weighted mean row minus the alpha-weighted mean row. Positive for an upright 😀,
/// whose large mouth is in its lower half; negative upside down.
fn dark_offset(rgba: &[f32], height: usize, width: usize) -> f32 {
    let cells = height * width;
    let (mut alpha_rows, mut alpha_sum, mut dark_rows, mut dark_sum) = (0.0, 0.0, 0.0, 0.0);
    for cell in 0..cells {
        let row = (cell / width) as f32;
        let alpha = rgba[3 * cells + cell].clamp(0.0, 1.0);
        let brightness = (rgba[cell] + rgba[cells + cell] + rgba[2 * cells + cell]) / 3.0;
        let dark = (0.45 * alpha - brightness).max(0.0); // eyes and mouth, not the yellow face
        alpha_rows += row * alpha;
        alpha_sum += alpha;
        dark_rows += row * dark;
        dark_sum += dark;
    }
    dark_rows / dark_sum - alpha_rows / alpha_sum
}

/// How a grown state compares with the target.
struct Score {
    /// RGBA MSE over the whole grid.
    mse: f32,
    /// [`dark_offset`] of the grown state.
    dark_offset: f32,
}

/// Scores after each of `checkpoints` steps, grown from the seed at fire rate 0.5.
fn grow(nca: &Nca, target: &Target, checkpoints: &[usize]) -> Vec<Score> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2020);
    let mut state = nca.seed(1, target.height, target.width);
    let mut done = 0;
    checkpoints
        .iter()
        .map(|&steps| {
            state = nca.rollout(state.clone(), steps - done, &mut rng);
            done = steps;
            let values = rgba(state.clone());
            Score {
                mse: mse(&values, &target.rgba),
                dark_offset: dark_offset(&values, target.height, target.width),
            }
        })
        .collect()
}

const GROWN: f32 = 0.04;

#[test]
fn the_three_demo_models_grow_an_upright_smiley() {
    let target = smiley();
    let empty = mse(&vec![0.0; target.rgba.len()], &target.rgba);
    assert!(empty > 0.1, "an empty grid scores {empty}");
    for (file, holds) in [
        ("smiley-growing", false),
        ("smiley-persistent", true),
        ("smiley-regenerating", true),
    ] {
        let nca = import_demo_model_file(&paper_model(file), &Device::flex()).unwrap();
        assert_eq!(nca.config().fire_rate, 0.5);
        let checkpoints: &[usize] = if holds { &[96, 300] } else { &[96] };
        let scores = grow(&nca, &target, checkpoints);
        let first = &scores[0];
        assert!(
            first.mse < GROWN,
            "{file}: MSE {} after 96 steps (empty grid: {empty})",
            first.mse
        );
        let expected = dark_offset(&target.rgba, target.height, target.width);
        assert!(
            expected > 1.5,
            "the target's mouth is below its middle ({expected} rows)"
        );
        assert!(
            (first.dark_offset - expected).abs() < expected / 2.0,
            "{file}: dark features {} rows below the middle, the target's {expected}: not upright",
            first.dark_offset
        );
        if let Some(later) = scores.get(1) {
            assert!(
                later.mse < GROWN,
                "{file}: MSE {} after 300 steps",
                later.mse
            );
        }
    }
}

#[test]
fn a_model_with_random_weights_does_not_grow_the_smiley() {
    let json = std::fs::read_to_string(paper_model("smiley-persistent")).unwrap();
    let mut layers: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    for layer in layers.as_array_mut().unwrap() {
        let len = base64::engine::general_purpose::STANDARD
            .decode(layer["data_b64"].as_str().unwrap())
            .unwrap()
            .len();
        let bytes: Vec<u8> = (0..len)
            .map(|_| nca_core::rand::RngExt::random(&mut rng))
            .collect();
        layer["data_b64"] = base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into();
    }
    let nca = import_demo_model(&layers.to_string(), "random", &Device::flex()).unwrap();
    let score = &grow(&nca, &smiley(), &[96])[0];
    // Random weights blow up (NaN) or grow something else: either way, far from the smiley.
    assert!(
        score.mse.is_nan() || score.mse >= GROWN * 2.0,
        "random weights scored {}",
        score.mse
    );
}

fn import_error(json: &str) -> String {
    let err = import_demo_model(json, "bad.json", &Device::flex()).unwrap_err();
    assert!(matches!(err, DataError::BadModel { .. }), "{err}");
    err.to_string()
}

fn demo_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(paper_model("smiley-growing")).unwrap()).unwrap()
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
    short[1]["data_b64"] = base64::engine::general_purpose::STANDARD
        .encode([1u8, 2, 3])
        .into();
    assert!(
        import_error(&short.to_string())
            .contains("data_b64 holds 3 bytes, but 128 inputs + bias times 16 outputs need 2064")
    );

    let mut channels = demo_json();
    channels[0]["in_ch"] = 47.into();
    assert!(import_error(&channels.to_string()).contains("do not chain as 3C→hidden→C"));

    let mut kind = demo_json();
    kind[1]["type"] = "float32".into();
    assert!(import_error(&kind.to_string()).contains("layer 2: type \"float32\" is not \"uint8\""));
}

#[test]
fn a_missing_model_file_is_named() {
    let err =
        import_demo_model_file(&PathBuf::from("/no/model.json"), &Device::flex()).unwrap_err();
    assert!(err.to_string().starts_with("/no/model.json: "), "{err}");
}

#[test]
fn huge_layer_sizes_are_refused_not_overflowed() {
    let huge = usize::MAX / 2;
    let mut out = demo_json();
    out[1]["out_ch"] = huge.into();
    assert!(import_error(&out.to_string()).contains("do not chain"));

    let mut both = demo_json();
    both[0]["out_ch"] = huge.into();
    both[1]["in_ch"] = huge.into();
    let err = import_error(&both.to_string());
    assert!(err.contains("layer 1: data_b64 holds"), "{err}");
}

#[test]
fn a_binary_file_is_named_as_not_a_demo_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.nca");
    std::fs::write(&path, [0x4e, 0x43, 0xff, 0xfe, 0x00]).unwrap();
    let err = import_demo_model_file(&path, &Device::flex()).unwrap_err();
    assert!(err.to_string().contains("binary"), "{err}");
    assert!(!err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn an_exported_model_imports_within_the_quantisation_and_grows_the_same() {
    let original = shipped("gecko-regenerating");
    let json = nca_data::export_demo_model(&original, "gecko-regenerating").unwrap();
    let layers: serde_json::Value = serde_json::from_str(&json).unwrap();
    let imported = import_demo_model(&json, "exported", &Device::flex()).unwrap();

    // Every weight within one quantisation step (scale / 255) of the original.
    let (before, after) = (
        original.update.host_weights(),
        imported.update.host_weights(),
    );
    let layer = |index: usize, key: &str| layers[index][key].as_f64().unwrap() as f32;
    for (name, ours, theirs, scale) in [
        (
            "w1",
            &before.hidden_weight,
            &after.hidden_weight,
            layer(0, "weight_scale"),
        ),
        (
            "b1",
            &before.hidden_bias,
            &after.hidden_bias,
            layer(0, "bias_scale"),
        ),
        (
            "w2",
            &before.output_weight,
            &after.output_weight,
            layer(1, "weight_scale"),
        ),
        (
            "b2",
            &before.output_bias,
            &after.output_bias,
            layer(1, "bias_scale"),
        ),
    ] {
        let worst = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= scale / 255.0,
            "{name}: {worst} > {}",
            scale / 255.0
        );
    }

    // The grown pattern: RGBA MSE against the unquantised model's below 2e-4 after 96 steps, the
    // bound README states (the same fire decisions; measured 1.0e-4).
    let grow = |nca: &Nca| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let fused = nca.clone().with_engine(nca_core::Engine::Fused);
        rgba(fused.advance(fused.seed(1, 72, 72), 96, &mut rng))
    };
    let error = mse(&grow(&imported), &grow(&original));
    assert!(error < 2e-4, "grown patterns differ by MSE {error}");
}

#[test]
fn the_export_has_the_published_models_keys_and_shapes() {
    let ours: serde_json::Value =
        serde_json::from_str(&nca_data::export_demo_model(&shipped("gecko"), "gecko").unwrap())
            .unwrap();
    let theirs: serde_json::Value = demo_json();
    let keys = |layer: &serde_json::Value| -> Vec<String> {
        layer.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(ours.as_array().unwrap().len(), 2);
    for index in 0..2 {
        assert_eq!(keys(&ours[index]), keys(&theirs[index]));
        for key in ["in_ch", "out_ch", "type"] {
            assert_eq!(ours[index][key], theirs[index][key], "layer {index} {key}");
        }
        let bytes = |layer: &serde_json::Value| {
            base64::engine::general_purpose::STANDARD
                .decode(layer["data_b64"].as_str().unwrap())
                .unwrap()
                .len()
        };
        assert_eq!(bytes(&ours[index]), bytes(&theirs[index]));
    }
}

#[test]
fn models_the_demo_cannot_run_are_refused_with_the_reason() {
    let device = Device::flex();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    for (config, reason) in [
        (
            nca_core::NcaConfig {
                trainable_perception: true,
                ..Default::default()
            },
            "learned perception",
        ),
        (
            nca_core::NcaConfig {
                goals: vec!["🦎".into(), "🦋".into()],
                ..Default::default()
            },
            "goal-conditioned (2 goals), the demo's format has no goal input",
        ),
        (
            nca_core::NcaConfig {
                living_threshold: 0.2,
                ..Default::default()
            },
            "living threshold is 0.2",
        ),
        (
            nca_core::NcaConfig {
                channels: 14,
                ..Default::default()
            },
            "multiples of 4",
        ),
    ] {
        let nca = config.init(&device, &mut rng).unwrap();
        let err = nca_data::export_demo_model(&nca, "random")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("random cannot be written in the web-demo format"),
            "{err}"
        );
        assert!(err.contains(reason), "{err}");
    }
}
