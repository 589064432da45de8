//! Cross-crate tests of nca live in `tests/tests/`: they join `nca-data`, `nca-train` and
//! `nca-core` the way the `nca` binary does, without the binary. This library is what they share.

use std::path::PathBuf;

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::rand::{RngExt, SeedableRng};
use nca_core::{Nca, NcaConfig, Perception, host_values};

/// A model shipped in `nca-cli/models/`, by name, on flex.
pub fn shipped(name: &str) -> Nca {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../nca-cli/models")
        .join(format!("{name}.nca"));
    Nca::load(&path, &Device::flex()).expect("the shipped model loads")
}

/// One of the paper's published models shipped in `nca-cli/models/paper/`, by its file name
/// without `.json` (`smiley-regenerating`).
pub fn paper_model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../nca-cli/models/paper")
        .join(format!("{name}.json"))
}

/// The tests' random number generator, seeded.
pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// `count` values drawn uniformly from `(-limit, limit)`.
pub fn uniform(count: usize, limit: f32, rng: &mut Xoshiro256PlusPlus) -> Vec<f32> {
    (0..count)
        .map(|_| rng.random_range(-limit..limit))
        .collect()
}

/// A parameter of `values` in `shape`, on flex.
pub fn param<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Param<Tensor<D>> {
    Param::from_data(TensorData::new(values, shape), &Device::flex())
}

/// A model of `config` on flex whose every parameter is random (the fresh model's last layer is
/// zero, which would leave the seed unchanged), small enough that 40 steps stay bounded.
pub fn random_model(config: NcaConfig, seed: u64) -> Nca {
    let mut rng = rng(seed);
    let mut nca = config.clone().init(&Device::flex(), &mut rng).unwrap();
    let [hidden, channels] = [config.hidden_units, config.channels];
    nca.update.output.weight = param(
        uniform(hidden * channels, 0.05, &mut rng),
        [hidden, channels],
    );
    let mut output_bias = uniform(channels, 0.02, &mut rng);
    output_bias[config.alpha_channel()] = 0.03; // so that the pattern lives and grows
    nca.update.output.bias = Some(param(output_bias, [channels]));
    nca.update.hidden.bias = Some(param(uniform(hidden, 0.1, &mut rng), [hidden]));
    if let Perception::Learned(kernel) = &nca.perception {
        let sobel = host_values(kernel.val());
        let noise = uniform(sobel.len(), 0.1, &mut rng);
        let perturbed = sobel.iter().zip(noise).map(|(s, n)| s + n).collect();
        nca.perception = Perception::Learned(param(perturbed, [sobel.len() / 9, 1, 3, 3]));
    }
    nca
}

/// The largest absolute difference between two equally long lists of values.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "compared values differ in count");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The mean squared difference between two equally long lists of values.
pub fn mse(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "compared values differ in count");
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>() / a.len() as f32
}

/// Asserts the parity standard for gradients: one per parameter, each non-zero and within 1e-3
/// of its largest value of the reference's.
pub fn assert_gradients_match(case: &str, got: &[Vec<f32>], expected: &[Vec<f32>]) {
    assert_eq!(
        got.len(),
        expected.len(),
        "{case}: one gradient per parameter"
    );
    for (index, (got, expected)) in got.iter().zip(expected).enumerate() {
        let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{case}: parameter {index} has a gradient");
        let difference = max_abs_diff(got, expected);
        assert!(
            difference <= 1e-3 * scale,
            "{case}: parameter {index}: max |difference| {difference} of {scale}"
        );
    }
}
