//! Saving and loading a model with its config; every way a file can be wrong.

use std::path::Path;

use burn::tensor::Device;
use nca_core::{Nca, NcaConfig, NcaError, host_values};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

fn device() -> Device {
    Device::flex()
}

fn model(config: NcaConfig, seed: u64) -> Nca {
    Nca::new(
        config,
        &device(),
        &mut Xoshiro256PlusPlus::seed_from_u64(seed),
    )
    .unwrap()
}

fn load_error(bytes: &[u8]) -> NcaError {
    Nca::from_bytes(bytes, Path::new("model.nca"), &device()).unwrap_err()
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
fn a_file_that_is_not_ours_is_refused() {
    let err = load_error(b"\x89PNG\r\n\x1a\n not a model at all");
    assert!(matches!(err, NcaError::NotAModel { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("model.nca is not an nca model file"),
        "{err}"
    );
    assert!(matches!(load_error(b""), NcaError::NotAModel { .. }));
}

#[test]
fn a_truncated_file_is_refused_whereever_it_is_cut() {
    let bytes = model(NcaConfig::default(), 1).to_bytes().unwrap();
    for cut in [10, 20, 40, bytes.len() / 2, bytes.len() - 1] {
        let err = load_error(&bytes[..cut]);
        assert!(
            matches!(
                err,
                NcaError::Truncated { .. } | NcaError::Weights { .. } | NcaError::BadConfig { .. }
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
            .contains("format version 99; this build reads version 1"),
        "{err}"
    );
}

/// A file whose config says one shape while its weights have another.
#[test]
fn weights_of_another_shape_are_refused_naming_the_mismatch() {
    // Weights of 128 hidden units under a config of 64 (a config asking for more weights than
    // the file holds is refused earlier, see below).
    let large = model(NcaConfig::default(), 1).to_bytes().unwrap();
    let config_len = u32::from_le_bytes(large[12..16].try_into().unwrap()) as usize;
    let weights = &large[16 + config_len..];
    let config = serde_json::to_vec(&NcaConfig {
        hidden_units: 64,
        ..Default::default()
    })
    .unwrap();
    let mut forged = large[..12].to_vec();
    forged.extend_from_slice(&(config.len() as u32).to_le_bytes());
    forged.extend_from_slice(&config);
    forged.extend_from_slice(weights);
    let err = load_error(&forged);
    assert!(matches!(err, NcaError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("shape mismatch"), "{err}");
}

#[test]
fn an_invalid_config_inside_the_file_is_refused() {
    let bytes = model(NcaConfig::default(), 1).to_bytes().unwrap();
    let config_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let text = String::from_utf8(bytes[16..16 + config_len].to_vec()).unwrap();
    let bad = text.replace("\"fire_rate\":0.5", "\"fire_rate\":2.5");
    assert_eq!(bad.len(), text.len());
    let mut forged = bytes.clone();
    forged[16..16 + config_len].copy_from_slice(bad.as_bytes());
    let err = load_error(&forged);
    assert!(matches!(err, NcaError::BadConfig { .. }), "{err}");
    assert!(err.to_string().contains("fire_rate"), "{err}");
}

/// `bytes` with the config's JSON replaced by `edit` of it (any length).
fn with_config(bytes: &[u8], edit: impl Fn(&str) -> String) -> Vec<u8> {
    let config_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let text = String::from_utf8(bytes[16..16 + config_len].to_vec()).unwrap();
    let edited = edit(&text);
    let mut forged = bytes[..12].to_vec();
    forged.extend_from_slice(&(edited.len() as u32).to_le_bytes());
    forged.extend_from_slice(edited.as_bytes());
    forged.extend_from_slice(&bytes[16 + config_len..]);
    forged
}

#[test]
fn a_header_asking_for_more_weights_than_the_file_holds_is_refused_before_allocating() {
    let bytes = model(NcaConfig::default(), 1).to_bytes().unwrap();
    // 999,999,999 hidden units would be a 192 GB allocation; usize::MAX channels overflow.
    for (field, huge) in [
        ("\"hidden_units\":128", "\"hidden_units\":999999999"),
        ("\"channels\":16", "\"channels\":18446744073709551615"),
    ] {
        let forged = with_config(&bytes, |text| text.replace(field, huge));
        let err = load_error(&forged);
        assert!(matches!(err, NcaError::BadConfig { .. }), "{huge}: {err}");
        assert!(err.to_string().contains("cannot hold"), "{huge}: {err}");
    }
}
