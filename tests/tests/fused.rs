//! The fused CPU kernel against the tensor reference: the same states, loss and gradients for the
//! same weights, start and random draws.
//!
//! Tolerances: both compute in f32 but sum in different orders (blocked matrix products, threads),
//! about 1e-7 relative per operation; a wrong kernel (a missed mask, a flipped filter, a skipped
//! cell that mattered) is off by 1e-2 or more.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use nca_core::rand::RngExt;
use nca_core::{
    Border, Engine, FusedGradients, FusedNca, Nca, NcaConfig, Perception, Seed, host_values,
};
use nca_tests::{assert_gradients_match, max_abs_diff, param, random_model, rng, uniform};
use nca_train::{Experiment, Loss, RgbaLoss, TextureLoss, TextureOptions, TrainConfig};

fn device() -> Device {
    Device::flex()
}

/// Seeds plus a few random live patches, `[batch, C, height, width]`.
fn start(config: &NcaConfig, batch: usize, [height, width]: [usize; 2]) -> Tensor<4> {
    let mut rng = rng(99);
    let nca = config.clone().init(&device(), &mut rng).unwrap();
    let mut state = host_values(nca.seed(batch, height, width));
    let plane = height * width;
    for sample in 0..batch {
        for _ in 0..3 {
            let cell = rng.random_range(0..plane);
            for channel in 0..config.channels {
                state[(sample * config.channels + channel) * plane + cell] =
                    rng.random_range(0.0..1.0);
            }
        }
    }
    Tensor::from_data(
        TensorData::new(state, [batch, config.channels, height, width]),
        &device(),
    )
}

/// Square grids, and non-square ones (as `nca train --image` makes) both ways round.
const GRIDS: [[usize; 2]; 3] = [[24, 24], [17, 30], [29, 19]];

fn configs() -> Vec<NcaConfig> {
    vec![
        NcaConfig::default(),
        NcaConfig {
            fire_rate: 1.0,
            update_scale: 0.5,
            perception_angle_deg: 30.0,
            ..NcaConfig::default()
        },
        NcaConfig {
            trainable_perception: true,
            channels: 8,
            hidden_units: 32,
            ..NcaConfig::default()
        },
        // The variants' options, each in at least one model.
        NcaConfig {
            border: Border::Wrap,
            laplacian: true,
            ..NcaConfig::default()
        },
        NcaConfig {
            alive_masking: false,
            seed: Seed::Zeros,
            ..NcaConfig::default()
        },
        texture_config(),
        NcaConfig {
            trainable_perception: true,
            laplacian: true,
            border: Border::Wrap,
            alive_masking: false,
            channels: 8,
            hidden_units: 32,
            ..NcaConfig::default()
        },
        goal_config(),
    ]
}

/// A goal model of the paper's structure with three goals; its batches mix them
/// ([`goals_of`]).
fn goal_config() -> NcaConfig {
    NcaConfig {
        goals: vec!["🦎".into(), "🦋".into(), "😀".into()],
        goal_size: 4,
        ..NcaConfig::default()
    }
}

/// For a goal model, a goal per sample of a `batch`, mixing the goals (2, 0, 1, 2, …); `None`
/// for a plain model.
fn goals_of(config: &NcaConfig, batch: usize) -> Option<Vec<usize>> {
    let count = config.goals.len();
    (count > 0).then(|| (0..batch).map(|sample| (sample + 2) % count).collect())
}

/// `steps` steps of `nca` (on its engine) from `start`, each sample towards its goal in a goal
/// model.
fn advance(
    nca: &Nca,
    start: Tensor<4>,
    steps: usize,
    rng: &mut impl nca_core::rand::Rng,
) -> Vec<f32> {
    let batch = start.dims()[0];
    host_values(match goals_of(nca.config(), batch) {
        Some(goals) => nca.advance_toward(start, &goals, steps, rng),
        None => nca.advance(start, steps, rng),
    })
}

/// The self-organising textures' model (12 channels, 96 hidden units, identity, Sobel and
/// Laplacian on a wrapped grid, no alive masking, a zero seed), as nca trains it.
fn texture_config() -> NcaConfig {
    TrainConfig::preset(Experiment::Texture).model
}

#[test]
fn fused_rollouts_equal_the_tensor_rollouts() {
    for config in configs() {
        for grid in GRIDS {
            let nca = random_model(config.clone(), 1);
            let start = start(&config, 3, grid);
            let expected = host_values(match goals_of(&config, 3) {
                Some(goals) => nca.rollout_toward(start.clone(), &goals, 40, &mut rng(5)),
                None => nca.rollout(start.clone(), 40, &mut rng(5)),
            });
            let fused = nca.clone().with_engine(Engine::Fused);
            let got = advance(&fused, start.clone(), 40, &mut rng(5));
            assert!(
                expected.iter().filter(|v| v.abs() > 0.05).count() > 200,
                "the pattern lives: {config:?} {grid:?}"
            );
            let difference = max_abs_diff(&got, &expected);
            assert!(
                difference < 1e-4,
                "{config:?} {grid:?}: max |difference| {difference}"
            );
        }
    }
}

#[test]
fn frames_of_both_engines_agree() {
    for config in [NcaConfig::default(), texture_config()] {
        let nca = random_model(config.clone(), 2);
        let start = start(&config, 1, [16, 16]);
        let tensor = nca.frames(start.clone(), 10, 4, &mut rng(3));
        let fused = nca
            .with_engine(Engine::Fused)
            .frames(start, 10, 4, &mut rng(3));
        assert_eq!(fused.len(), 4, "steps 0, 4, 8 and 10");
        for (a, b) in tensor.into_iter().zip(fused) {
            assert!(max_abs_diff(&host_values(a), &host_values(b)) < 1e-5);
        }
    }
}

/// On a wrapped grid a value at the left edge is perceived by the right edge's cells after one
/// step, on both engines; with a zero border it is not.
#[test]
fn wrapped_grids_join_their_left_and_right_columns() {
    for border in [Border::Wrap, Border::Zero] {
        let config = NcaConfig {
            border,
            fire_rate: 1.0,
            ..texture_config()
        };
        let nca = random_model(config.clone(), 4);
        let [height, width] = [6, 8];
        let mut state = vec![0.0f32; config.channels * height * width];
        state[3 * width] = 1.0; // channel 0, row 3, column 0
        let state =
            Tensor::<4>::from_data(TensorData::new(state, [1, 12, height, width]), &device());
        // Every cell moves by the update of zero perception (the biases); the rest is the value.
        let empty = Tensor::<4>::zeros([1, 12, height, width], &device());
        let background = host_values(nca.step(empty, &mut rng(0)));
        for engine in [Engine::Tensor, Engine::Fused] {
            let next = host_values(nca.clone().with_engine(engine).advance(
                state.clone(),
                1,
                &mut rng(0),
            ));
            let moved = |y: usize, x: usize| {
                (0..12)
                    .map(|c| {
                        let at = (c * height + y) * width + x;
                        (next[at] - background[at]).abs()
                    })
                    .fold(0.0f32, f32::max)
            };
            let far_right = moved(3, width - 1);
            let middle = moved(3, width / 2);
            assert_eq!(
                middle, 0.0,
                "{border:?} {engine:?}: the middle sees nothing"
            );
            match border {
                Border::Wrap => assert!(far_right > 1e-4, "{engine:?}: {far_right}"),
                Border::Zero => assert_eq!(far_right, 0.0, "{engine:?}"),
            }
        }
    }
}

/// Without alive masking a cell with no live neighbour still updates (and is not zeroed).
#[test]
fn without_alive_masking_dead_cells_update() {
    for alive_masking in [false, true] {
        let config = NcaConfig {
            alive_masking,
            fire_rate: 1.0,
            ..NcaConfig::default()
        };
        let nca = random_model(config.clone(), 5);
        let empty = Tensor::<4>::zeros([1, 16, 8, 8], &device());
        for engine in [Engine::Tensor, Engine::Fused] {
            let next = host_values(nca.clone().with_engine(engine).advance(
                empty.clone(),
                1,
                &mut rng(0),
            ));
            let changed = next.iter().filter(|v| **v != 0.0).count();
            if alive_masking {
                assert_eq!(changed, 0, "{engine:?}: nothing lives");
            } else {
                assert!(
                    changed > 8 * 8,
                    "{engine:?}: every cell updates ({changed})"
                );
            }
        }
    }
}

/// A dead cell's update can keep a live neighbour alive: the kernel must compute it.
///
/// Row 4 of a 10x10 grid: A (alpha 0.15, hidden channel 4 = 1) at x 4, X (empty) at x 5,
/// R (alpha 0.1, not above the threshold) at x 6. Every cell's alpha moves by +0.05, minus 1
/// where channel 4 is set. A dies, R rises to 0.15, X (alive before thanks to A) stays alive only
/// because of R, which was not alive before the step.
#[test]
fn the_update_of_a_dead_cell_next_to_a_live_one_counts() {
    let config = NcaConfig {
        fire_rate: 1.0,
        ..NcaConfig::default()
    };
    let mut nca = config.clone().init(&device(), &mut rng(0)).unwrap();
    let (channels, hidden) = (config.channels, config.hidden_units);
    let mut hidden_weight = vec![0.0; 3 * channels * hidden];
    hidden_weight[(3 * 4) * hidden] = 1.0; // identity of channel 4 → hidden unit 0
    let mut output_weight = vec![0.0; hidden * channels];
    output_weight[3] = -1.0; // hidden unit 0 → alpha
    let mut output_bias = vec![0.0; channels];
    output_bias[3] = 0.05;
    nca.update.hidden.weight = param(hidden_weight, [3 * channels, hidden]);
    nca.update.hidden.bias = Some(param(vec![0.0; hidden], [hidden]));
    nca.update.output.weight = param(output_weight, [hidden, channels]);
    nca.update.output.bias = Some(param(output_bias, [channels]));

    let mut state = vec![0.0f32; channels * 100];
    let at = |channel: usize, x: usize| channel * 100 + 4 * 10 + x;
    state[at(3, 4)] = 0.15;
    state[at(4, 4)] = 1.0;
    state[at(3, 6)] = 0.1;
    let state = Tensor::<4>::from_data(TensorData::new(state, [1, channels, 10, 10]), &device());

    let expected = host_values(nca.step(state.clone(), &mut rng(0)));
    assert!(
        (expected[at(3, 5)] - 0.05).abs() < 1e-6,
        "X kept its update"
    );
    let got = host_values(
        nca.with_engine(Engine::Fused)
            .advance(state, 1, &mut rng(0)),
    );
    assert!(max_abs_diff(&got, &expected) < 1e-6);
}

/// Loss and gradients of one training rollout by burn's autodiff (each sample towards its goal
/// in a goal model), in the order of [`fused_gradients`].
fn autodiff_iteration(
    nca: &Nca,
    start: Tensor<4>,
    steps: usize,
    loss: &dyn Loss,
) -> (f64, Vec<Vec<f32>>) {
    let nca = nca.clone().train();
    let end = match goals_of(nca.config(), start.dims()[0]) {
        Some(goals) => nca.rollout_toward(start.autodiff(), &goals, steps, &mut rng(8)),
        None => nca.rollout(start.autodiff(), steps, &mut rng(8)),
    };
    let loss = loss.batch(end);
    let loss_value = loss.clone().into_scalar::<f64>();
    let grads = loss.backward();
    let grad = |param: &Param<Tensor<2>>| host_values(param.grad(&grads).unwrap());
    let grad1 = |param: &Param<Tensor<1>>| host_values(param.grad(&grads).unwrap());
    let update = &nca.update;
    let mut all = vec![
        grad(&update.hidden.weight),
        grad1(update.hidden.bias.as_ref().unwrap()),
        grad(&update.output.weight),
        grad1(update.output.bias.as_ref().unwrap()),
    ];
    if let Perception::Learned(kernel) = &nca.perception {
        all.push(host_values(kernel.grad(&grads).unwrap()));
    }
    if let Some(goal) = &nca.goal {
        all.push(grad(&goal.embedding));
        all.push(grad(&goal.weight));
    }
    (loss_value, all)
}

/// The fused kernel's training rollout of `nca` (each sample towards its goal in a goal model)
/// with the same random draws as [`autodiff_iteration`]: its loss and gradients in the same
/// order.
fn fused_iteration(
    nca: &Nca,
    start: Tensor<4>,
    steps: usize,
    loss: &dyn Loss,
) -> (f64, Vec<Vec<f32>>) {
    let [batch, _, height, width] = start.dims();
    let fused = FusedNca::new(nca);
    let start = host_values(start);
    let shape = [batch, height, width];
    let iteration = match goals_of(nca.config(), batch) {
        Some(goals) => fused.train_rollout_toward(&start, shape, &goals, steps, loss, &mut rng(8)),
        None => fused.train_rollout(&start, shape, steps, loss, &mut rng(8)),
    };
    (iteration.loss, fused_gradients(iteration.gradients))
}

/// Every gradient the kernel gave, in the order [`autodiff_iteration`] lists burn's.
fn fused_gradients(grads: FusedGradients) -> Vec<Vec<f32>> {
    let mut all = vec![
        grads.hidden_weight,
        grads.hidden_bias,
        grads.output_weight,
        grads.output_bias,
    ];
    all.extend(grads.perception);
    all.extend(grads.goal_embedding);
    all.extend(grads.goal_weight);
    all
}

#[test]
fn fused_training_gradients_equal_autodiff() {
    for config in configs() {
        for [height, width] in [[20, 20], [14, 23]] {
            let nca = random_model(config.clone(), 3);
            let start = start(&config, 2, [height, width]);
            let target: Vec<f32> = uniform(4 * height * width, 1.0, &mut rng(4))
                .iter()
                .map(|v| v.abs())
                .collect();
            let loss_fn = RgbaLoss::new(target, [4, height, width], &device().autodiff());
            let (loss, expected) = autodiff_iteration(&nca, start.clone(), 24, &loss_fn);
            let (fused_loss, got) = fused_iteration(&nca, start, 24, &loss_fn);
            let case = format!("{config:?} {height}x{width}");
            assert!(
                (fused_loss - loss).abs() < 1e-6 * loss,
                "{case}: loss {fused_loss} vs {loss}"
            );
            assert_gradients_match(&case, &got, &expected);
        }
    }
}

/// The texture loss's gradients through a texture model's rollout: the fused kernel and burn's
/// autodiff agree.
#[test]
fn fused_texture_gradients_equal_autodiff() {
    let config = texture_config();
    let nca = random_model(config.clone(), 6);
    let [height, width] = [24, 20];
    let start = start(&config, 2, [height, width]);
    let texture: Vec<f32> = uniform(3 * 16 * 16, 1.0, &mut rng(7))
        .iter()
        .map(|v| v.abs())
        .collect();
    let options = TextureOptions {
        patch: 3,
        scales: 2,
        projections: 8,
        overflow: 1.0,
    };
    let loss = TextureLoss::new(&texture, [16, 16], options).unwrap();
    let (expected_loss, expected) = autodiff_iteration(&nca, start.clone(), 16, &loss);
    let (fused_loss, got) = fused_iteration(&nca, start, 16, &loss);
    assert!(
        (fused_loss - expected_loss).abs() < 1e-5 * expected_loss,
        "loss {fused_loss} vs {expected_loss}"
    );
    assert_gradients_match("texture", &got, &expected);
}

/// From one start state, each goal grows its own pattern and the same goal the same pattern, on
/// both engines (every cell fires, so that only the goals tell the samples apart).
#[test]
fn different_goals_grow_different_patterns_from_the_same_start() {
    let config = NcaConfig {
        fire_rate: 1.0,
        ..goal_config()
    };
    let nca = random_model(config.clone(), 7);
    let one = start(&config, 1, [20, 20]);
    let start = Tensor::cat(vec![one; 4], 0);
    for engine in [Engine::Tensor, Engine::Fused] {
        let nca = nca.clone().with_engine(engine);
        let end = host_values(nca.advance_toward(start.clone(), &[0, 1, 2, 1], 30, &mut rng(3)));
        let sample = end.len() / 4;
        let of = |index: usize| &end[index * sample..(index + 1) * sample];
        for (a, b) in [(0, 1), (1, 2), (0, 2)] {
            let difference = max_abs_diff(of(a), of(b));
            assert!(
                difference > 1e-2,
                "{engine:?}: goals {a} and {b} differ by {difference}"
            );
        }
        let same = max_abs_diff(of(1), of(3));
        assert!(same < 1e-6, "{engine:?}: goal 1 twice differs by {same}");
    }
}

/// A goal model's methods without goals grow goal 0 in every sample: exactly the `*_toward`
/// methods with zeros, on both engines and in the fused kernel's own API.
#[test]
fn goal_0_without_goals_is_toward_zeros() {
    let config = goal_config();
    let nca = random_model(config.clone(), 8);
    let start = start(&config, 2, [16, 16]);
    let zeros = [0, 0];
    let same = |a: Tensor<4>, b: Tensor<4>, what: &str| {
        assert_eq!(host_values(a), host_values(b), "{what}");
    };
    same(
        nca.step(start.clone(), &mut rng(1)),
        nca.step_toward(start.clone(), &zeros, &mut rng(1)),
        "step",
    );
    same(
        nca.rollout(start.clone(), 5, &mut rng(1)),
        nca.rollout_toward(start.clone(), &zeros, 5, &mut rng(1)),
        "rollout",
    );
    for engine in [Engine::Tensor, Engine::Fused] {
        let nca = nca.clone().with_engine(engine);
        same(
            nca.advance(start.clone(), 5, &mut rng(1)),
            nca.advance_toward(start.clone(), &zeros, 5, &mut rng(1)),
            &format!("{engine:?} advance"),
        );
        let frames = nca.frames(start.clone(), 5, 2, &mut rng(1));
        let toward = nca.frames_toward(start.clone(), &zeros, 5, 2, &mut rng(1));
        assert_eq!(frames.len(), toward.len());
        for (a, b) in frames.into_iter().zip(toward) {
            same(a, b, &format!("{engine:?} frames"));
        }
    }
    let fused = FusedNca::new(&nca);
    let values = host_values(start);
    let shape = [2, 16, 16];
    assert_eq!(
        fused.advance(&values, shape, 5, &mut rng(1)),
        fused.advance_toward(&values, shape, &zeros, 5, &mut rng(1)),
    );
    let target = vec![0.5; 4 * 16 * 16];
    let loss = RgbaLoss::new(target, [4, 16, 16], &device());
    assert_eq!(
        fused.train_rollout(&values, shape, 5, &loss, &mut rng(1)),
        fused.train_rollout_toward(&values, shape, &zeros, 5, &loss, &mut rng(1)),
    );
}

/// `advance_toward_goal` grows every sample towards one goal, on both engines: a goal model's
/// `advance_toward` with that goal in every sample, a plain model's `advance` for goal 0.
#[test]
fn advance_toward_goal_is_one_goal_for_every_sample() {
    let config = goal_config();
    let start = start(&config, 2, [16, 16]);
    for engine in [Engine::Tensor, Engine::Fused] {
        let nca = random_model(config.clone(), 8).with_engine(engine);
        assert!(
            host_values(nca.advance_toward_goal(start.clone(), 1, 5, &mut rng(1)))
                == host_values(nca.advance_toward(start.clone(), &[1, 1], 5, &mut rng(1))),
            "{engine:?}: goal 1"
        );
        let plain = random_model(NcaConfig::default(), 8).with_engine(engine);
        assert!(
            host_values(plain.advance_toward_goal(start.clone(), 0, 5, &mut rng(1)))
                == host_values(plain.advance(start.clone(), 5, &mut rng(1))),
            "{engine:?}: a plain model's goal 0"
        );
    }
}

#[test]
#[should_panic(expected = "goal index 3 out of range: the model has 3 goals")]
fn a_goal_out_of_range_is_a_broken_invariant() {
    let nca = random_model(goal_config(), 9);
    let start = nca.seed(2, 8, 8);
    nca.with_engine(Engine::Fused)
        .advance_toward(start, &[0, 3], 1, &mut rng(0));
}

#[test]
#[should_panic(expected = "goal index 0 given to a model without goals")]
fn a_plain_model_has_no_goals() {
    let nca = random_model(NcaConfig::default(), 9);
    let start = nca.seed(1, 8, 8);
    nca.step_toward(start, &[0], &mut rng(0));
}
