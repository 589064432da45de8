//! Saving and loading a model with its config; every way a file can be wrong.

use std::path::Path;

use burn::tensor::Device;
use nca_core::{ModelFileError, Nca, NcaConfig, NcaError, host_values};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

fn device() -> Device {
    Device::flex()
}

fn model(config: NcaConfig, seed: u64) -> Nca {
    config
        .init(&device(), &mut Xoshiro256PlusPlus::seed_from_u64(seed))
        .unwrap()
}

fn load_error(bytes: &[u8]) -> ModelFileError {
    Nca::from_bytes(bytes, &device()).unwrap_err()
}

/// The config (JSON text) and the weights (burnpack bytes) of a model file's bytes.
fn parts(bytes: &[u8]) -> (String, Vec<u8>) {
    let config_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let weights_len = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    let config = String::from_utf8(bytes[24..24 + config_len].to_vec()).unwrap();
    let weights = bytes[24 + config_len..24 + config_len + weights_len].to_vec();
    (config, weights)
}

/// A model file of format version 1 (before checksums), as a forger or an old nca writes it.
fn version_1_file(config: &str, weights: &[u8]) -> Vec<u8> {
    let mut bytes = b"NCAMODEL".to_vec();
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&(config.len() as u32).to_le_bytes());
    bytes.extend_from_slice(config.as_bytes());
    bytes.extend_from_slice(weights);
    bytes
}

#[test]
fn save_then_load_is_bit_exact_with_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.nca");
    let config = NcaConfig {
        fire_rate: 0.75,
        perception_angle_deg: 30.0,
        ..Default::default()
    };
    let original = model(config.clone(), 3);
    original.save(&path).unwrap();
    let loaded = Nca::load(&path, &device()).unwrap();
    assert_eq!(loaded.config(), &config);
    assert_eq!(loaded.to_bytes().unwrap(), original.to_bytes().unwrap());
    let weights = |nca: &Nca| host_values(nca.update.hidden.weight.val());
    assert_eq!(weights(&loaded), weights(&original));
}

#[test]
fn saving_replaces_the_file_and_leaves_no_temporary_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.nca");
    model(NcaConfig::default(), 1).save(&path).unwrap();
    let second = model(NcaConfig::default(), 2);
    second.save(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), second.to_bytes().unwrap());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_missing_file_is_named() {
    let err = Nca::load("/nonexistent/model.nca", &device()).unwrap_err();
    assert!(matches!(err, NcaError::Io { .. }));
    assert!(
        err.to_string().starts_with("/nonexistent/model.nca: "),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_ours_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.nca");
    std::fs::write(&path, b"\x89PNG\r\n\x1a\n not a model at all").unwrap();
    let err = Nca::load(&path, &device()).unwrap_err();
    assert!(
        matches!(&err, NcaError::File { problem: ModelFileError::NotAModel, path: named } if *named == path),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("model.nca is not an nca model file"),
        "{err}"
    );
    assert!(matches!(load_error(b""), ModelFileError::NotAModel));
}

#[test]
fn a_truncated_file_is_refused_wherever_it_is_cut() {
    let bytes = model(NcaConfig::default(), 1).to_bytes().unwrap();
    for cut in [10, 20, 40, bytes.len() / 2, bytes.len() - 1] {
        let err = load_error(&bytes[..cut]);
        assert!(
            matches!(
                err,
                ModelFileError::Truncated { .. }
                    | ModelFileError::Corrupted
                    | ModelFileError::Weights { .. }
                    | ModelFileError::BadConfig { .. }
            ),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn a_newer_format_version_is_refused_with_both_versions_named() {
    let mut bytes = model(NcaConfig::default(), 1).to_bytes().unwrap();
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    let err = load_error(&bytes);
    assert!(
        err.to_string()
            .contains("format version 99; this build reads versions up to 3"),
        "{err}"
    );
}

/// A file whose config says one shape while its weights have another.
#[test]
fn weights_of_another_shape_are_refused_naming_the_mismatch() {
    // Weights of 128 hidden units under a config of 64 (a config asking for more weights than
    // the file holds is refused earlier, see below).
    let (_, weights) = parts(&model(NcaConfig::default(), 1).to_bytes().unwrap());
    let config = serde_json::to_string(&NcaConfig {
        hidden_units: 64,
        ..Default::default()
    })
    .unwrap();
    let forged = version_1_file(&config, &weights);
    let err = load_error(&forged);
    assert!(matches!(err, ModelFileError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("shape mismatch"), "{err}");
}

#[test]
fn an_invalid_config_inside_the_file_is_refused() {
    let (config, weights) = parts(&model(NcaConfig::default(), 1).to_bytes().unwrap());
    let bad = config.replace("\"fire_rate\":0.5", "\"fire_rate\":2.5");
    assert_ne!(bad, config);
    let forged = version_1_file(&bad, &weights);
    let err = load_error(&forged);
    assert!(matches!(err, ModelFileError::BadConfig { .. }), "{err}");
    assert!(err.to_string().contains("fire_rate"), "{err}");
}

#[test]
fn a_header_asking_for_more_weights_than_the_file_holds_is_refused_before_allocating() {
    let bytes = model(NcaConfig::default(), 1).to_bytes().unwrap();
    // 999,999,999 hidden units would be a 192 GB allocation; usize::MAX channels overflow.
    for (field, huge) in [
        ("\"hidden_units\":128", "\"hidden_units\":999999999"),
        ("\"channels\":16", "\"channels\":18446744073709551615"),
    ] {
        let (config, weights) = parts(&bytes);
        let forged = version_1_file(&config.replace(field, huge), &weights);
        let err = load_error(&forged);
        assert!(
            matches!(err, ModelFileError::BadConfig { .. }),
            "{huge}: {err}"
        );
        assert!(err.to_string().contains("cannot hold"), "{huge}: {err}");
    }
}

#[test]
fn a_changed_byte_anywhere_is_caught_by_the_checksum() {
    let bytes = model(NcaConfig::default(), 1).to_bytes().unwrap();
    for at in [30, bytes.len() / 2, bytes.len() - 10, bytes.len() - 1] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x10;
        let err = load_error(&flipped);
        assert!(
            matches!(
                err,
                ModelFileError::Corrupted | ModelFileError::BadConfig { .. }
            ),
            "byte {at}: {err}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(load_error(&longer), ModelFileError::Corrupted));
}

#[test]
fn files_of_format_version_1_still_load_and_are_saved_as_the_current_version() {
    // A quick gecko as an nca of before the checksum wrote it (the shipped `gecko` until 2026-12).
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gecko-format-1.nca");
    let old = std::fs::read(&path).unwrap();
    assert_eq!(old[8..12], 1u32.to_le_bytes());
    let model = Nca::load(&path, &device()).unwrap();
    let new = model.to_bytes().unwrap();
    assert_eq!(new[8..12], nca_core::FORMAT_VERSION.to_le_bytes());
    let again = Nca::from_bytes(&new, &device()).unwrap();
    assert_eq!(
        host_values(again.update.output.weight.val()),
        host_values(model.update.output.weight.val())
    );
}

#[test]
fn files_of_format_version_2_load_as_the_papers_growing_nca() {
    // Version 2 (before border, seed, alive masking and the Laplacian): a shipped gecko.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nca-cli/models/gecko.nca");
    let old = std::fs::read(&path).unwrap();
    assert_eq!(old[8..12], 2u32.to_le_bytes());
    let model = Nca::load(&path, &device()).unwrap();
    assert!(model.config().is_growing(), "{:?}", model.config());
    assert_eq!(model.config(), &NcaConfig::default());
}

#[test]
fn variant_options_round_trip_through_a_model_file() {
    let config = NcaConfig {
        channels: 12,
        hidden_units: 96,
        laplacian: true,
        border: nca_core::Border::Wrap,
        seed: nca_core::Seed::Zeros,
        alive_masking: false,
        ..NcaConfig::default()
    };
    let nca = model(config.clone(), 3);
    let again = Nca::from_bytes(&nca.to_bytes().unwrap(), &device()).unwrap();
    assert_eq!(again.config(), &config);
    assert_eq!(again.update.hidden.weight.val().dims(), [48, 96]);
}

#[test]
fn goals_round_trip_through_a_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("goals.nca");
    let config = NcaConfig {
        goals: vec!["🦎".into(), "🦋".into(), "😀".into()],
        goal_size: 5,
        ..NcaConfig::default()
    };
    let nca = model(config.clone(), 4);
    nca.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes[8..12], 3u32.to_le_bytes(), "still format 3");
    let (header, _) = parts(&bytes);
    assert!(header.contains(r#""goals":["🦎","🦋","😀"]"#), "{header}");
    let again = Nca::load(&path, &device()).unwrap();
    assert_eq!(again.config(), &config);
    let goal = |nca: &Nca| {
        let goal = nca.goal.as_ref().expect("a goal input");
        (
            host_values(goal.embedding.val()),
            host_values(goal.weight.val()),
        )
    };
    assert_eq!(goal(&again), goal(&nca));
    assert_eq!(goal(&again).0.len(), 3 * 5);
    assert_eq!(again.to_bytes().unwrap(), bytes);
}

/// A header whose goals its weights do not hold (another number of goals, or none) is refused.
#[test]
fn goals_and_weights_must_agree() {
    let goals = |names: &[&str]| NcaConfig {
        goals: names.iter().map(|name| name.to_string()).collect(),
        ..NcaConfig::default()
    };
    let two = model(goals(&["🦎", "🦋"]), 1).to_bytes().unwrap();
    let (_, two_weights) = parts(&two);
    let header = serde_json::to_string(&goals(&["🦎", "🦋", "😀"])).unwrap();
    let err = load_error(&version_1_file(&header, &two_weights));
    assert!(matches!(err, ModelFileError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("goal.embedding"), "{err}");

    let header = serde_json::to_string(&NcaConfig::default()).unwrap();
    let err = load_error(&version_1_file(&header, &two_weights));
    assert!(matches!(err, ModelFileError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("goal.embedding"), "{err}");
}

#[test]
fn non_finite_weights_are_refused() {
    let mut nca = model(NcaConfig::default(), 1);
    let mut weights = host_values(nca.update.hidden.weight.val());
    weights[7] = f32::NAN;
    let dims = nca.update.hidden.weight.val().dims();
    nca.update.hidden.weight =
        burn::module::Param::from_data(burn::tensor::TensorData::new(weights, dims), &device());
    assert!(!nca.weights_are_finite());
    let err = load_error(&nca.to_bytes().unwrap());
    assert!(matches!(err, ModelFileError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("NaN or infinite"), "{err}");
}
