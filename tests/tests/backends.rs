//! The behaviour suite on every backend compiled into this build (nca's fused CPU kernel and both
//! burn CPU backends by default), and parity with the CPU reference (flex): the same weights and
//! start give the same rollout and the same gradients. Rollouts and training run with each
//! backend's engine ([`Compute`]).
//!
//! Tolerances: backends sum in different orders (matmul blocking, threads), so results agree to
//! f32 rounding, about 1e-7 relative per operation. Over 64 steps of a trained model those
//! differences grow but stay far below 1e-4 (the bound the suite asserts); a wrong kernel (a
//! flipped Sobel sign, a missed mask) is off by 1e-2 or more after a single step.

use std::path::PathBuf;

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use nca_cli::backend::{Backend, Compute};
use nca_core::{Border, Engine, FusedNca, Nca, NcaConfig, Perception};
use nca_tests::{assert_gradients_match, max_abs_diff, paper_model, rng};
use nca_train::{Experiment, GradientMode, Loss, RgbaLoss, TrainConfig, Trainer};

/// Every compiled backend with its engine and device.
fn backends() -> Vec<Compute> {
    Compute::compiled()
}

/// The CPU reference the others are compared with.
fn reference() -> Compute {
    Compute::of(Backend::Flex).expect("the flex backend is the reference")
}

fn values(tensor: Tensor<4>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
}

/// Every backend this crate's features ask for is compiled in and computes, so a run with an
/// extra backend (CI's wgpu run, `tests/tch.sh`) cannot pass without it.
#[test]
fn every_requested_backend_computes() {
    let requested = [
        (cfg!(feature = "flex"), Backend::Flex),
        (cfg!(feature = "ndarray"), Backend::Ndarray),
        (cfg!(feature = "wgpu"), Backend::Wgpu),
        (cfg!(feature = "cuda"), Backend::Cuda),
        (cfg!(feature = "tch"), Backend::Tch),
    ];
    for (_, backend) in requested.into_iter().filter(|(wanted, _)| *wanted) {
        assert!(Backend::compiled().contains(&backend), "{backend}");
        let device = backend.device().unwrap();
        let sum = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device)
            .sum()
            .into_scalar::<f32>();
        assert_eq!(sum, 6.0, "{backend}");
    }
}

#[test]
fn a_fresh_model_leaves_the_seed_unchanged_on_every_backend() {
    for Compute {
        backend,
        engine,
        device,
    } in backends()
    {
        let nca = NcaConfig::default()
            .init(&device, &mut rng(1))
            .unwrap()
            .with_engine(engine);
        let seed = nca.seed(2, 24, 24);
        let after = nca.advance(seed.clone(), 30, &mut rng(2));
        assert_eq!(values(after), values(seed), "{backend}");
    }
}

#[test]
fn perception_gives_the_sobel_values_on_every_backend() {
    for Compute {
        backend, device, ..
    } in backends()
    {
        let mut input = vec![0.0f32; 4 * 25];
        input[2 * 5 + 2] = 1.0;
        let state = Tensor::<4>::from_data(TensorData::new(input, [1, 4, 5, 5]), &device);
        for perception in [
            Perception::fixed(0.0, false),
            Perception::learned(4, 0.0, false, &device),
        ] {
            let out = values(perception.forward(state.clone(), Border::Zero));
            let at = |channel: usize, y: usize, x: usize| out[(channel * 5 + y) * 5 + x];
            assert_eq!(
                [
                    at(0, 2, 2),
                    at(1, 2, 1),
                    at(1, 1, 1),
                    at(2, 1, 2),
                    at(2, 3, 2)
                ],
                [1.0, 0.25, 0.125, 0.25, -0.25],
                "{backend}"
            );
        }
    }
}

#[test]
fn stochastic_updates_and_alive_masking_on_every_backend() {
    for Compute {
        backend,
        engine,
        device,
    } in backends()
    {
        let config = NcaConfig {
            fire_rate: 0.3,
            ..NcaConfig::default()
        };
        let mut nca = config
            .init(&device, &mut rng(0))
            .unwrap()
            .with_engine(engine);
        let mut bias = vec![0.0f32; 16];
        bias[4] = 1.0;
        nca.update.output.bias = Some(Param::from_data(TensorData::new(bias, [16]), &device));
        let size = 96;
        let mut state = vec![0.0f32; 16 * size * size];
        state[3 * size * size..4 * size * size].fill(1.0); // alive everywhere
        state[3 * size * size] = 0.0; // …but a lone dead corner would still be alive (neighbours)
        let state = Tensor::<4>::from_data(TensorData::new(state, [1, 16, size, size]), &device);
        let after = values(nca.advance(state, 1, &mut rng(3)));
        let hidden = &after[4 * size * size..5 * size * size];
        let fraction = hidden.iter().filter(|&&v| v == 1.0).count() as f64 / (size * size) as f64;
        let sigma = (0.3f64 * 0.7 / (size * size) as f64).sqrt();
        assert!(
            (fraction - 0.3).abs() < 3.0 * sigma,
            "{backend}: {fraction}"
        );
        assert!(hidden.iter().all(|&v| v == 0.0 || v == 1.0), "{backend}");

        // A cell whose neighbourhood has no alpha above 0.1 is zeroed.
        let mut lone = vec![0.0f32; 16 * 49];
        lone[3 * 49 + 24] = 0.05;
        lone[6 * 49 + 24] = 0.9;
        let lone = Tensor::<4>::from_data(TensorData::new(lone, [1, 16, 7, 7]), &device);
        assert!(
            values(nca.advance(lone, 1, &mut rng(4)))
                .iter()
                .all(|&v| v == 0.0),
            "{backend}"
        );
    }
}

/// The paper's regenerating 😀 model at fire rate 1, grown 64 steps from the seed with the
/// backend's engine.
fn grown_smiley(Compute { engine, device, .. }: &Compute) -> Vec<f32> {
    let nca =
        nca_data::import_demo_model_file(&paper_model("smiley-regenerating"), device).unwrap();
    let config = NcaConfig {
        fire_rate: 1.0,
        ..nca.config().clone()
    };
    let nca = nca.with_run_config(config).unwrap().with_engine(*engine);
    values(nca.advance(nca.seed(1, 72, 72), 64, &mut rng(0)))
}

#[test]
fn rollouts_match_the_cpu_reference_within_1e4() {
    let expected = grown_smiley(&reference());
    assert!(
        expected.iter().filter(|v| v.abs() > 0.1).count() > 1000,
        "the smiley grew"
    );
    for compute in backends() {
        let backend = compute.backend;
        let difference = max_abs_diff(&grown_smiley(&compute), &expected);
        assert!(
            difference < 1e-4,
            "{backend}: max |difference| {difference} after 64 steps"
        );
    }
}

/// Loss and (unconditioned) gradient norm of the second iteration of a small regenerating run,
/// computed with the backend's engine.
fn second_iteration(Compute { engine, device, .. }: &Compute) -> (f64, f64) {
    let size = 20;
    let mut target = vec![0.0f32; 4 * size * size];
    for y in 6..14 {
        for x in 6..14 {
            for (channel, value) in [0.9f32, 0.4, 0.1, 1.0].into_iter().enumerate() {
                target[(channel * size + y) * size + x] = value;
            }
        }
    }
    let target = Tensor::<3>::from_data(TensorData::new(target, [4, size, size]), device);
    let config = TrainConfig {
        pool_size: 8,
        damaged_per_batch: 1,
        batch_size: 4,
        min_steps: 16,
        max_steps: 17,
        iterations: 2,
        gradient: GradientMode::Raw,
        ..TrainConfig::preset(Experiment::Regenerating)
    };
    let mut trainer = Trainer::new(config, target, device)
        .unwrap()
        .with_engine(*engine);
    trainer.step().unwrap(); // the fresh model's gradient reaches the last layer only
    let metrics = trainer.step().unwrap();
    (metrics.loss, metrics.grad_norm)
}

#[test]
fn training_losses_match_the_cpu_reference() {
    let reference = reference();
    let (loss, norm) = second_iteration(&reference);
    assert!(norm > 0.0);
    for compute in backends() {
        let backend = compute.backend;
        if backend == reference.backend {
            continue;
        }
        let (other_loss, _) = second_iteration(&compute);
        let relative = (other_loss - loss).abs() / loss.abs().max(1e-12);
        assert!(relative < 1e-4, "{backend}: loss {other_loss} vs {loss}");
    }
}

/// The loss and every parameter's gradient (hidden weight and bias, output weight and bias) of
/// one 24-step training rollout of the shipped gecko from two seeds, computed with the backend's
/// engine: burn's autodiff on its device, or the fused kernel's own backward pass.
fn parameter_gradients(Compute { engine, device, .. }: &Compute) -> (f64, Vec<Vec<f32>>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../nca-cli/models/gecko.nca");
    let size = 36;
    let target: Vec<f32> = (0..4 * size * size)
        .map(|i| {
            if (i / size) % size > 12 && i % size > 12 {
                0.6
            } else {
                0.0
            }
        })
        .collect();
    match *engine {
        Engine::Fused => {
            let model = Nca::load(&path, device).unwrap();
            let start = nca_core::host_values(model.seed(2, size, size));
            let loss = RgbaLoss::new(target, [4, size, size], device);
            let iteration = FusedNca::new(&model).train_rollout(
                &start,
                [2, size, size],
                24,
                &loss,
                &mut rng(8),
            );
            let grads = iteration.gradients;
            let all = vec![
                grads.hidden_weight,
                grads.hidden_bias,
                grads.output_weight,
                grads.output_bias,
            ];
            (iteration.loss, all)
        }
        Engine::Tensor => {
            let device = device.clone().autodiff();
            let model = Nca::load(&path, &device).unwrap();
            let target = RgbaLoss::new(target, [4, size, size], &device);
            let end = model.rollout(model.seed(2, size, size), 24, &mut rng(8));
            let loss = target.batch(end);
            let loss_value = loss.clone().into_scalar::<f64>();
            let grads = loss.backward();
            let grad2 =
                |param: &Param<Tensor<2>>| nca_core::host_values(param.grad(&grads).unwrap());
            let grad1 =
                |param: &Param<Tensor<1>>| nca_core::host_values(param.grad(&grads).unwrap());
            let update = &model.update;
            let all = vec![
                grad2(&update.hidden.weight),
                grad1(update.hidden.bias.as_ref().unwrap()),
                grad2(&update.output.weight),
                grad1(update.output.bias.as_ref().unwrap()),
            ];
            (loss_value, all)
        }
    }
}

#[test]
fn every_parameters_gradient_matches_the_cpu_reference() {
    let reference = reference();
    let (loss, expected) = parameter_gradients(&reference);
    for compute in backends() {
        let backend = compute.backend;
        if backend == reference.backend {
            continue;
        }
        let (other_loss, got) = parameter_gradients(&compute);
        assert!(
            (other_loss - loss).abs() < 1e-4 * loss,
            "{backend}: loss {other_loss} vs {loss}"
        );
        assert_gradients_match(&backend.to_string(), &got, &expected);
    }
}
