//! Arrays for Python users, written by the `nca` binary and read back here with the crates Python's
//! formats have in Rust: `nca grow --out states.npy` (npyz) and `nca export --format safetensors`
//! (safetensors), checked against what nca-core computes and holds.

use std::path::Path;

use burn::module::Param;
use burn::tensor::TensorData;
use nca_cli::backend::Compute;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Nca, NcaConfig, Perception, host_values};
use safetensors::{Dtype, SafeTensors};

mod support;
use support::{fails, ok, ok_notes, read_npy};

/// A model as the binary loads it by default (same backend and engine).
fn load(model: &Path) -> Nca {
    Compute::chosen(None)
        .unwrap()
        .load_model(model)
        .expect("the model loads")
}

/// The names in `dir`: nothing else (no temporary file) may be left there.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "cache")
        .collect();
    names.sort();
    names
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn grow_writes_the_gifs_frames_as_npy_states() {
    let dir = tempfile::tempdir().unwrap();
    let (size, steps, every, seed) = (24, 21, 4, 7);
    let run = |out: &str| {
        let args = [
            "grow", "--model", "gecko", "--grid", "24", "--steps", "21", "--every", "4", "--seed",
            "7", "--scale", "1", "--out", out,
        ];
        ok_notes(&args, dir.path())
    };
    let said = run("states.npy");
    assert!(said.contains("7 frames of 16x24x24 float32"), "{said}");
    assert_eq!(names(dir.path()), ["states.npy"]);

    let (shape, values) = read_npy(&dir.path().join("states.npy"));
    // The seed, after 4, 8, …, 20 steps, and the last (21).
    assert_eq!(shape, [7, 16, 24, 24]);
    let frame = 16 * size * size;
    let frames: Vec<&[f32]> = values.chunks_exact(frame).collect();

    // Frame 0 is the seed: one live cell at the centre, alpha and hidden channels 1, colour 0.
    let centre = (size / 2) * size + size / 2;
    for (index, &value) in frames[0].iter().enumerate() {
        let (channel, cell) = (index / (size * size), index % (size * size));
        let expected = if cell == centre && channel >= 3 {
            1.0
        } else {
            0.0
        };
        assert_eq!(value, expected, "seed: channel {channel}, cell {cell}");
    }

    // Every frame is the state nca-core computes for the same seed and steps.
    let model = load(Path::new("gecko"));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let expected = model.frames(model.seed(1, size, size), steps, every, &mut rng);
    assert_eq!(expected.len(), frames.len());
    for (number, (state, got)) in expected.into_iter().zip(&frames).enumerate() {
        let difference = max_difference(&host_values(state), got);
        assert!(difference < 1e-5, "frame {number} differs by {difference}");
    }
    let last = frames.last().unwrap();
    let alpha = &last[3 * size * size..4 * size * size];
    assert!(
        alpha.iter().filter(|&&a| a > 0.1).count() > 20,
        "the gecko has grown"
    );

    // The last frame is the picture `--out last.png` draws: colour over white, 8-bit.
    run("last.png");
    let png = image::open(dir.path().join("last.png")).unwrap().to_rgb8();
    assert_eq!(png.dimensions(), (size as u32, size as u32));
    for (x, y, pixel) in png.enumerate_pixels() {
        let cell = y as usize * size + x as usize;
        let a = last[3 * size * size + cell].clamp(0.0, 1.0);
        for (channel, &byte) in pixel.0.iter().enumerate() {
            let over_white = (last[channel * size * size + cell] - a + 1.0).clamp(0.0, 1.0);
            let difference = (over_white - f32::from(byte) / 255.0).abs();
            assert!(
                difference < 0.01,
                "pixel ({x}, {y}) differs by {difference}"
            );
        }
    }
}

#[test]
fn grow_npy_replaces_only_with_force_and_ignores_the_picture_limit() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "grow", "--model", "gecko", "--grid", "8", "--steps", "0", "--out", "s.npy",
    ];
    ok(&args, dir.path());
    let before = std::fs::read(dir.path().join("s.npy")).unwrap();
    assert!(fails(&args, dir.path()).contains("s.npy exists; pass --force"));
    assert_eq!(std::fs::read(dir.path().join("s.npy")).unwrap(), before);
    ok(
        &[
            "grow", "--model", "gecko", "--grid", "8", "--steps", "3", "--every", "1", "--out",
            "s.npy", "--force",
        ],
        dir.path(),
    );
    assert_eq!(read_npy(&dir.path().join("s.npy")).0, [4, 16, 8, 8]);
    assert!(
        fails(&["grow", "--out", "s.npz"], dir.path()).contains("must end in .gif or .png or .npy")
    );
    // No picture is drawn, so the picture size limit (--grid x --scale) does not apply.
    let big = [
        "grow", "--model", "gecko", "--grid", "300", "--scale", "32", "--steps", "0", "--out",
        "big.npy",
    ];
    ok(&big, dir.path());
    assert_eq!(read_npy(&dir.path().join("big.npy")).0, [1, 16, 300, 300]);
    assert_eq!(names(dir.path()), ["big.npy", "s.npy"]);
}

/// Reads a safetensors file written by `nca export` and checks it holds `model`, by `name`: a
/// goal model's goal weights and names too.
fn check_safetensors(path: &Path, model: &Nca, name: &str) {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let config = model.config();
    let (c, hidden) = (config.channels, config.hidden_units);
    let weights = model.update.host_weights();
    let mut expected: Vec<(&str, Vec<usize>, Vec<f32>)> = vec![
        (
            "perception.filters",
            vec![3 * c, 1, 3, 3],
            model.perception.filters(c),
        ),
        (
            "update.hidden.weight",
            vec![3 * c, hidden],
            weights.hidden_weight,
        ),
        ("update.hidden.bias", vec![hidden], weights.hidden_bias),
        (
            "update.output.weight",
            vec![hidden, c],
            weights.output_weight,
        ),
        ("update.output.bias", vec![c], weights.output_bias),
    ];
    if let Some(goal) = &model.goal {
        let (goals, size) = (config.goals.len(), config.goal_size);
        let host = goal.host();
        expected.push(("goal.embedding", vec![goals, size], host.embedding));
        expected.push(("goal.weight", vec![size, hidden], host.weight));
    }
    let mut stored = file.names();
    stored.sort_unstable();
    let mut wanted: Vec<&str> = expected.iter().map(|(name, ..)| *name).collect();
    wanted.sort_unstable();
    assert_eq!(stored, wanted);
    for (name, shape, values) in expected {
        let tensor = file.tensor(name).unwrap();
        assert_eq!(tensor.dtype(), Dtype::F32, "{name}");
        assert_eq!(tensor.shape(), shape, "{name}");
        let stored: Vec<f32> = tensor
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(stored, values, "{name}");
    }

    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().as_ref().expect("metadata");
    assert_eq!(metadata["format"], "nca-safetensors");
    assert_eq!(metadata["format_version"], "1");
    assert_eq!(metadata["name"], name);
    assert!(metadata["layout"].contains("update.hidden.weight"));
    let parsed: NcaConfig = serde_json::from_str(&metadata["config"]).unwrap();
    assert_eq!(&parsed, config);
    if config.has_goals() {
        let goals: Vec<String> = serde_json::from_str(&metadata["goals"]).unwrap();
        assert_eq!(goals, config.goals);
        assert!(metadata["layout"].contains("goal.embedding"));
    } else {
        assert!(!metadata.contains_key("goals"));
    }
}

#[test]
fn export_writes_the_weights_and_config_as_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "export",
        "--model",
        "gecko-regenerating",
        "--format",
        "safetensors",
        "--out",
        "gecko.safetensors",
    ];
    ok(&args, dir.path());
    let path = dir.path().join("gecko.safetensors");
    check_safetensors(
        &path,
        &load(Path::new("gecko-regenerating")),
        "gecko-regenerating",
    );
    assert_eq!(names(dir.path()), ["gecko.safetensors"]);
    assert!(fails(&args, dir.path()).contains("gecko.safetensors exists; pass --force"));

    // Learned perception filters are the model's own, not the Sobel filters.
    let device = Compute::chosen(None).unwrap().device;
    let config = NcaConfig {
        channels: 8,
        hidden_units: 12,
        trainable_perception: true,
        fire_rate: 0.25,
        ..NcaConfig::default()
    };
    let mut model = config
        .init(&device, &mut Xoshiro256PlusPlus::seed_from_u64(3))
        .unwrap();
    let filters: Vec<f32> = (0..24 * 9).map(|i| (i as f32 * 0.37).sin()).collect();
    model.perception = Perception::Learned(Param::from_data(
        TensorData::new(filters, [24, 1, 3, 3]),
        &device,
    ));
    model.save(dir.path().join("learned.nca")).unwrap();
    ok(
        &[
            "export",
            "--model",
            "learned.nca",
            "--format",
            "safetensors",
            "--out",
            "learned.safetensors",
        ],
        dir.path(),
    );
    let model = load(&dir.path().join("learned.nca"));
    check_safetensors(&dir.path().join("learned.safetensors"), &model, "learned");

    // A goal model's goal weights, by name, and its goals in the metadata.
    let config = NcaConfig {
        channels: 8,
        hidden_units: 12,
        goals: vec!["🦎".into(), "🦋".into(), "😀".into()],
        goal_size: 5,
        ..NcaConfig::default()
    };
    config
        .init(&device, &mut Xoshiro256PlusPlus::seed_from_u64(4))
        .unwrap()
        .save(dir.path().join("goals.nca"))
        .unwrap();
    ok(
        &[
            "export",
            "--model",
            "goals.nca",
            "--format",
            "safetensors",
            "--out",
            "goals.safetensors",
        ],
        dir.path(),
    );
    let model = load(&dir.path().join("goals.nca"));
    assert!(model.goal.is_some());
    check_safetensors(&dir.path().join("goals.safetensors"), &model, "goals");

    let two = [
        "export",
        "--model",
        "gecko",
        "gecko-growing",
        "--format",
        "safetensors",
        "--out",
        "two.safetensors",
    ];
    assert!(fails(&two, dir.path()).contains("the safetensors format holds one model"));
    let wrong = [
        "export",
        "--model",
        "gecko",
        "--format",
        "safetensors",
        "--out",
        "x.npy",
    ];
    assert!(fails(&wrong, dir.path()).contains("must end in .safetensors"));
}
