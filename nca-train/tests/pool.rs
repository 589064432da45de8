//! The pool rules and damage geometry.

use burn::tensor::Device;
use nca_train::{RgbaLoss, SamplePool, damage};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

const SHAPE: [usize; 3] = [5, 6, 6];

/// A state whose every value is `value`: its RGBA loss against a zero target is `value²`.
fn filled(value: f32) -> Vec<f32> {
    vec![value; 5 * 36]
}

#[test]
fn a_batch_is_sorted_by_loss_the_worst_reseeded_the_best_damaged() {
    let states: Vec<Vec<f32>> = (0..8).map(|i| filled(0.1 * (i + 1) as f32)).collect();
    let pool = SamplePool::from_states(states, SHAPE);
    let seed = filled(-1.0);
    let target = RgbaLoss::new(vec![0.0; 4 * 36], [4, 6, 6], &Device::flex());
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let batch = pool.draw(8, 2, &seed, |state| target.state(state), &mut rng);

    let indices: Vec<usize> = batch.iter().map(|(index, _)| *index).collect();
    assert_eq!(
        indices,
        vec![7, 6, 5, 4, 3, 2, 1, 0],
        "all drawn, highest loss first"
    );
    assert_eq!(batch[0].1, seed, "the highest-loss sample becomes a seed");
    for (index, state) in &batch[1..6] {
        assert_eq!(
            state,
            pool.get(*index),
            "samples in the middle are untouched"
        );
    }
    for (index, state) in &batch[6..] {
        let zeroed = state.iter().filter(|&&v| v == 0.0).count();
        assert!(
            zeroed > 0 && zeroed % 5 == 0,
            "sample {index}: a disc is cut through all 5 channels"
        );
        assert!(state.iter().all(|&v| v == 0.0 || v == pool.get(*index)[0]));
    }
}

#[test]
fn sampling_is_without_replacement() {
    let pool = SamplePool::new(16, filled(0.0), SHAPE);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    for _ in 0..50 {
        let mut indices = pool.sample_indices(8, &mut rng);
        indices.sort();
        indices.dedup();
        assert_eq!(indices.len(), 8);
        assert!(indices.iter().all(|&i| i < 16));
    }
}

#[test]
fn random_damage_stays_within_the_papers_ranges() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let n = 41;
    let coordinate = |i: usize| -1.0 + 2.0 * i as f64 / (n - 1) as f64;
    for _ in 0..200 {
        let mut state = vec![1.0f32; n * n];
        damage(&mut state, [1, n, n], &mut rng);
        let erased: Vec<(f64, f64)> = (0..n * n)
            .filter(|&i| state[i] == 0.0)
            .map(|i| (coordinate(i % n), coordinate(i / n)))
            .collect();
        // Centre within ±0.5 and radius at most 0.4: nothing beyond 0.9 from the middle is hit.
        assert!(erased.iter().all(|(x, y)| x.abs() < 0.9 && y.abs() < 0.9));
        // Radius in [0.1, 0.4]: the disc covers between π·0.1² and π·0.4² of the 2 x 2 square.
        let area = erased.len() as f64 * (2.0 / (n - 1) as f64).powi(2);
        assert!(
            area > 0.5 * std::f64::consts::PI * 0.01 && area < 1.3 * std::f64::consts::PI * 0.16,
            "area {area}"
        );
    }
}
