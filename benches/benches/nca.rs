//! Rollouts (B=1 and B=8, 72x72, 96 steps) and one training iteration (B=8, 64 steps) of the
//! paper's model on every compiled backend. Each measurement reads the result back to the host,
//! so GPU work is finished inside the timed region.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use burn::tensor::Tensor;
use criterion::{Criterion, criterion_group, criterion_main};
use nca_cli::backend::Backend;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Nca, NcaConfig};
use nca_train::{Experiment, TrainConfig, Trainer};

fn rollout(c: &mut Criterion) {
    let mut group = c.benchmark_group("rollout_96_steps_72x72");
    group.sample_size(10);
    for backend in Backend::compiled() {
        let device = backend.device().expect("compiled backends have a device");
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        let nca =
            Nca::new(NcaConfig::default(), &device, &mut rng).expect("default config is valid");
        for batch in [1, 8] {
            group.bench_function(format!("{backend}/batch_{batch}"), |b| {
                b.iter(|| {
                    nca.rollout(nca.seed(batch, 72, 72), 96, &mut rng)
                        .into_data()
                })
            });
        }
    }
    group.finish();
}

fn train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step_b8_64_steps_72x72");
    group.sample_size(10);
    for backend in Backend::compiled() {
        let device = backend.device().expect("compiled backends have a device");
        let config = TrainConfig {
            min_steps: 64,
            max_steps: 65,
            ..TrainConfig::preset(Experiment::Growing)
        };
        let target = Tensor::<3>::zeros([4, 72, 72], &device);
        let mut trainer = Trainer::new(config, target, &device).expect("valid config");
        group.bench_function(backend.to_string(), |b| {
            b.iter(|| trainer.step().expect("finite loss"))
        });
    }
    group.finish();
}

criterion_group!(benches, rollout, train_step);
criterion_main!(benches);
