//! Rollouts (B=1 and B=8, 72x72, 96 steps) and one training iteration (B=8, 64 steps) of the
//! shipped gecko model (the paper's architecture) on every compiled backend, each with its
//! engine. Each measurement reads the result back to the host, so GPU work is finished inside the
//! timed region.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::path::Path;

use burn::tensor::Tensor;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use nca_cli::backend::Compute;
use nca_core::Nca;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_train::{Experiment, TrainConfig, Trainer};

/// The shipped gecko where `compute` says: a model that grows, so the fused kernel does real work.
fn gecko(compute: &Compute) -> Nca {
    compute
        .load_model(Path::new("gecko"))
        .expect("the shipped model loads")
}

fn rollout(c: &mut Criterion) {
    let mut group = c.benchmark_group("rollout_96_steps_72x72");
    group.sample_size(10);
    for compute in Compute::compiled() {
        let nca = gecko(&compute);
        let backend = compute.backend;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        for batch in [1, 8] {
            group.bench_function(format!("{backend}/batch_{batch}"), |b| {
                b.iter(|| {
                    nca.advance(nca.seed(batch, 72, 72), 96, &mut rng)
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
    for compute in Compute::compiled() {
        let nca = gecko(&compute);
        let device = &compute.device;
        let config = TrainConfig {
            model: nca.config().clone(),
            min_steps: 64,
            max_steps: 65,
            ..TrainConfig::preset(Experiment::Growing)
        };
        let target = Tensor::<3>::zeros([4, 72, 72], device);
        // A fresh run per iteration: training changes how much of the grid lives.
        let trainer = || {
            Trainer::new(config.clone(), target.clone(), device)
                .and_then(|trainer| trainer.with_engine(compute.engine).with_model(nca.clone()))
                .expect("valid config")
        };
        group.bench_function(compute.backend.to_string(), |b| {
            b.iter_batched(
                trainer,
                |mut trainer| trainer.step().expect("finite loss"),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, rollout, train_step);
criterion_main!(benches);
