//! Rollout speed of the paper's model on the CPU backend.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use burn::tensor::Device;
use criterion::{Criterion, criterion_group, criterion_main};
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Nca, NcaConfig};

fn rollout(c: &mut Criterion) {
    let device = Device::flex();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let nca = Nca::new(NcaConfig::default(), &device, &mut rng).expect("default config is valid");
    let mut group = c.benchmark_group("rollout_96_steps_72x72");
    group.sample_size(10);
    for batch in [1, 8] {
        group.bench_function(format!("flex/batch_{batch}"), |b| {
            b.iter(|| {
                let state = nca.rollout(nca.seed(batch, 72, 72), 96, &mut rng);
                state.into_data()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, rollout);
criterion_main!(benches);
