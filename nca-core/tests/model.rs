//! The paper's model, pinned: parameter count, perception values, masks, stochastic updates,
//! rotation, determinism.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use nca_core::{Border, Nca, NcaConfig, Perception, host_values};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

fn device() -> Device {
    Device::flex()
}

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

fn model(config: NcaConfig) -> Nca {
    config.init(&device(), &mut rng(7)).unwrap()
}

fn tensor(values: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), &device())
}

fn max_abs_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
    host_values(a)
        .iter()
        .zip(host_values(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Sets the output layer's bias so that every cell proposes `value` for `channel`.
fn with_constant_update(mut nca: Nca, channel: usize, value: f32) -> Nca {
    let channels = nca.config().channels;
    let mut bias = vec![0.0; channels];
    bias[channel] = value;
    nca.update.output.bias = Some(Param::from_data(
        TensorData::new(bias, [channels]),
        &device(),
    ));
    nca
}

#[test]
fn default_model_has_the_papers_8336_parameters() {
    assert_eq!(model(NcaConfig::default()).num_params(), 8_336);
}

#[test]
fn trainable_perception_adds_one_3x3_filter_per_perception_channel() {
    let config = NcaConfig {
        trainable_perception: true,
        ..NcaConfig::default()
    };
    assert_eq!(model(config).num_params(), 8_336 + 48 * 9);
}

#[test]
fn fresh_model_leaves_the_seed_unchanged_for_100_steps() {
    let nca = model(NcaConfig::default());
    let seed = nca.seed(2, 40, 40);
    let after = nca.rollout(seed.clone(), 100, &mut rng(1));
    assert_eq!(host_values(after), host_values(seed));
}

#[test]
fn seed_has_one_live_cell_with_alpha_and_hidden_set() {
    let nca = model(NcaConfig::default());
    let seed = host_values(nca.seed(1, 6, 5));
    let cell = |channel: usize, y: usize, x: usize| seed[(channel * 6 + y) * 5 + x];
    for channel in 0..16 {
        assert_eq!(
            cell(channel, 3, 2),
            if channel < 3 { 0.0 } else { 1.0 },
            "channel {channel}"
        );
    }
    assert_eq!(seed.iter().filter(|&&v| v != 0.0).count(), 13);
}

#[test]
fn perception_of_an_impulse_gives_the_hand_computed_sobel_values() {
    let perception = Perception::fixed(0.0, false);
    let mut input = vec![0.0; 4 * 5 * 5];
    input[2 * 5 + 2] = 1.0; // channel 0, row 2, column 2
    let out = host_values(perception.forward(tensor(input, [1, 4, 5, 5]), Border::Zero));
    let at = |channel: usize, y: usize, x: usize| out[(channel * 5 + y) * 5 + x];
    // Channel 0 yields outputs 0 (identity), 1 (d/dx), 2 (d/dy).
    assert_eq!(at(0, 2, 2), 1.0);
    assert_eq!(at(0, 2, 1), 0.0);
    // Left of the impulse the value rises to the right: positive x gradient, 2/8 on the row.
    assert_eq!(at(1, 2, 1), 0.25);
    assert_eq!(at(1, 2, 3), -0.25);
    assert_eq!(at(1, 1, 1), 0.125);
    assert_eq!(at(1, 2, 2), 0.0);
    // Above the impulse (smaller row) the value rises downwards: positive y gradient.
    assert_eq!(at(2, 1, 2), 0.25);
    assert_eq!(at(2, 3, 2), -0.25);
    assert_eq!(at(2, 1, 3), 0.125);
    // Other channels see nothing.
    assert!(out[3 * 25..].iter().all(|&v| v == 0.0));
}

#[test]
fn perception_of_a_ramp_is_its_slope_with_zero_padding_at_the_border() {
    let perception = Perception::fixed(0.0, false);
    let input: Vec<f32> = (0..4 * 6 * 6).map(|i| (i % 6) as f32).collect(); // value = column
    let out = host_values(perception.forward(tensor(input, [1, 4, 6, 6]), Border::Zero));
    let at = |channel: usize, y: usize, x: usize| out[(channel * 6 + y) * 6 + x];
    assert_eq!(at(1, 3, 3), 1.0, "interior x gradient of f = x");
    assert_eq!(at(2, 3, 3), 0.0, "interior y gradient of f = x");
    // Column 0: the padded left neighbour is 0 instead of -1, the right one is 1.
    assert_eq!(at(1, 3, 0), 0.5);
    // Row 0: the padded upper row is missing, so the y gradient sees the lower row only.
    assert_eq!(at(2, 0, 3), 0.5 * 3.0);
}

#[test]
fn fixed_perception_equals_the_depthwise_sobel_convolution_at_any_angle() {
    let input = Tensor::<4>::random(
        [2, 16, 11, 9],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &device(),
    );
    for angle in [0.0, 30.0, 90.0, 200.0] {
        let shifted = Perception::fixed(angle, false).forward(input.clone(), Border::Zero);
        let convolved =
            Perception::learned(16, angle, false, &device()).forward(input.clone(), Border::Zero);
        assert_eq!(shifted.dims(), [2, 48, 11, 9]);
        assert!(max_abs_diff(shifted, convolved) < 1e-5, "angle {angle}");
    }
}

/// `g[y][x] = f[x][N-1-y]`: the grid turned by 90° so that the x axis points up.
fn rotate(grid: Tensor<4>) -> Tensor<4> {
    grid.swap_dims(2, 3).flip([2])
}

#[test]
fn perception_rotated_by_90_degrees_sees_a_rotated_grid_as_the_unrotated_one() {
    let input = Tensor::<4>::random(
        [1, 16, 9, 9],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &device(),
    );
    let plain = Perception::fixed(0.0, false);
    let turned = Perception::fixed(90.0, false);
    let expected = rotate(plain.forward(input.clone(), Border::Zero));
    let actual = turned.forward(rotate(input), Border::Zero);
    assert!(max_abs_diff(actual, expected) < 1e-5);
}

#[test]
fn alive_masking_zeroes_cells_without_a_live_neighbourhood() {
    let nca = model(NcaConfig::default());
    let (h, w) = (7, 7);
    let mut state = vec![0.0f32; 16 * h * w];
    let set = |state: &mut Vec<f32>, channel: usize, y: usize, x: usize, v: f32| {
        state[(channel * h + y) * w + x] = v
    };
    // A live cell at (1, 1) and a neighbour of it with hidden state but no alpha.
    set(&mut state, 3, 1, 1, 1.0);
    set(&mut state, 5, 1, 2, 0.7);
    // A lone cell at (5, 5) whose alpha 0.05 is below the threshold 0.1.
    set(&mut state, 3, 5, 5, 0.05);
    set(&mut state, 6, 5, 5, 0.9);
    let after = host_values(nca.step(tensor(state, [1, 16, h, w]), &mut rng(0)));
    let at = |channel: usize, y: usize, x: usize| after[(channel * h + y) * w + x];
    assert_eq!(at(3, 1, 1), 1.0);
    assert_eq!(at(5, 1, 2), 0.7, "a neighbour of a live cell is alive");
    assert_eq!(
        at(3, 5, 5),
        0.0,
        "no alpha above the threshold nearby: dead"
    );
    assert_eq!(at(6, 5, 5), 0.0);
}

/// Fraction of cells whose channel 4 changed in one step of a model that adds 1 to channel 4 of
/// every cell, on a grid that is alive everywhere.
fn fraction_updated(fire_rate: f64, size: usize) -> f64 {
    let config = NcaConfig {
        fire_rate,
        ..NcaConfig::default()
    };
    let nca = with_constant_update(model(config), 4, 1.0);
    let mut state = vec![0.0f32; 16 * size * size];
    state[3 * size * size..4 * size * size].fill(1.0);
    let after = host_values(nca.step(tensor(state, [1, 16, size, size]), &mut rng(3)));
    let hidden = &after[4 * size * size..5 * size * size];
    assert!(
        hidden.iter().all(|&v| v == 0.0 || v == 1.0),
        "an update is applied whole or not at all"
    );
    hidden.iter().filter(|&&v| v == 1.0).count() as f64 / (size * size) as f64
}

#[test]
fn at_fire_rate_0_3_about_30_percent_of_cells_update() {
    let cells = 128.0 * 128.0;
    let sigma = (0.3f64 * 0.7 / cells).sqrt();
    let fraction = fraction_updated(0.3, 128);
    assert!(
        (fraction - 0.3).abs() < 3.0 * sigma,
        "fraction {fraction}, 3σ = {}",
        3.0 * sigma
    );
}

#[test]
fn at_fire_rate_1_every_live_cell_updates() {
    assert_eq!(fraction_updated(1.0, 32), 1.0);
}

#[test]
fn update_is_applied_per_cell_to_every_channel_at_once() {
    // Both channel 4 and 5 get +1; whether a cell fired must be the same decision for both.
    let config = NcaConfig {
        fire_rate: 0.5,
        ..NcaConfig::default()
    };
    let mut nca = with_constant_update(model(config), 4, 1.0);
    let mut bias = vec![0.0; 16];
    bias[4] = 1.0;
    bias[5] = 1.0;
    nca.update.output.bias = Some(Param::from_data(TensorData::new(bias, [16]), &device()));
    let size = 32;
    let mut state = vec![0.0f32; 16 * size * size];
    state[3 * size * size..4 * size * size].fill(1.0);
    let after = host_values(nca.step(tensor(state, [1, 16, size, size]), &mut rng(4)));
    let (c4, c5) = (
        &after[4 * size * size..5 * size * size],
        &after[5 * size * size..6 * size * size],
    );
    assert_eq!(c4, c5);
}

#[test]
fn same_seed_gives_the_same_rollout_and_another_seed_does_not() {
    let run = |model_seed: u64, step_seed: u64| {
        let nca = NcaConfig::default()
            .init(&device(), &mut rng(model_seed))
            .unwrap();
        let nca = with_constant_update(nca, 5, 0.1);
        let grid = nca.seed(1, 24, 24);
        host_values(nca.rollout(grid, 20, &mut rng(step_seed)))
    };
    assert_eq!(run(1, 2), run(1, 2));
    assert_ne!(run(1, 2), run(1, 3));
}

#[test]
fn frames_hold_every_kth_state_and_the_last_without_autodiff() {
    let device = device().autodiff();
    let nca = NcaConfig::default().init(&device, &mut rng(0)).unwrap();
    let frames = nca.frames(nca.seed(1, 16, 16), 10, 3, &mut rng(0));
    assert_eq!(frames.len(), 5, "steps 0, 3, 6, 9 and 10");
    assert!(frames.iter().all(|frame| !frame.is_autodiff()));
}

#[test]
fn rollout_on_an_autodiff_device_carries_gradients_to_the_weights() {
    let nca = model(NcaConfig {
        fire_rate: 1.0,
        ..NcaConfig::default()
    });
    let nca = with_constant_update(nca, 3, 0.1).train();
    assert!(nca.device().is_autodiff());
    let grid = nca.seed(1, 12, 12);
    let loss = nca
        .rollout(grid, 3, &mut rng(0))
        .narrow(1, 0, 4)
        .powi_scalar(2)
        .mean();
    let grads = loss.backward();
    let grad = nca
        .update
        .output
        .weight
        .grad(&grads)
        .expect("the output layer has a gradient");
    assert!(grad.abs().sum().into_scalar::<f32>() > 0.0);
}

#[test]
fn rgba_and_over_white_pictures() {
    let config = NcaConfig::default();
    let mut state = vec![0.0f32; 16];
    state[0] = 0.25; // red, premultiplied
    state[3] = 0.5; // alpha
    let state = tensor(state, [1, 16, 1, 1]);
    assert_eq!(
        host_values(config.rgba(state.clone())),
        vec![0.25, 0.0, 0.0, 0.5]
    );
    assert_eq!(
        host_values(config.over_white(state.clone())),
        vec![0.75, 0.5, 0.5]
    );
    // Without alive masking (textures) alpha means nothing: colour + 0.5.
    let mut opaque = vec![0.0f32; 16];
    (opaque[0], opaque[1], opaque[3]) = (0.25, -0.75, 1.0);
    let opaque = tensor(opaque, [1, 16, 1, 1]);
    assert_eq!(
        host_values(config.over_white(opaque.clone())),
        vec![0.25, 0.0, 0.0]
    );
    let texture = NcaConfig {
        alive_masking: false,
        ..config
    };
    assert_eq!(
        host_values(texture.over_white(opaque)),
        vec![0.75, 0.0, 0.5]
    );
}

fn goal_config() -> NcaConfig {
    NcaConfig {
        goals: vec!["🦎".into(), "🦋".into(), "😀".into()],
        ..NcaConfig::default()
    }
}

#[test]
fn goals_add_an_embedding_per_goal_and_its_map_onto_the_hidden_layer() {
    let nca = model(goal_config());
    assert_eq!(nca.num_params(), 8_336 + 3 * 8 + 8 * 128);
    let goal = nca.goal.as_ref().expect("a goal model has a goal input");
    assert_eq!(goal.embedding.dims(), [3, 8]);
    assert_eq!(goal.weight.dims(), [8, 128]);
    assert!(model(NcaConfig::default()).goal.is_none());
    // The goal input is drawn after the update network: the same generator gives a goal model
    // the plain model's update network.
    let weight = |nca: &Nca| host_values(nca.update.hidden.weight.val());
    assert_eq!(weight(&nca), weight(&model(NcaConfig::default())));
    let embedding = host_values(goal.embedding.val());
    let mean = embedding.iter().sum::<f32>() / 24.0;
    assert!(mean.abs() < 0.7, "drawn from N(0, 1): mean {mean}");
    assert!(embedding.iter().any(|v| v.abs() > 1.0), "{embedding:?}");
}

#[test]
fn the_goals_of_a_model_cannot_change_with_its_run_config() {
    let nca = model(goal_config());
    let faster = NcaConfig {
        fire_rate: 1.0,
        ..goal_config()
    };
    assert_eq!(
        nca.clone()
            .with_run_config(faster)
            .unwrap()
            .config()
            .fire_rate,
        1.0
    );
    for config in [
        NcaConfig::default(),
        NcaConfig {
            goals: vec!["🦎".into(), "😀".into(), "🦋".into()],
            ..NcaConfig::default()
        },
        NcaConfig {
            goal_size: 4,
            ..goal_config()
        },
    ] {
        let err = nca.clone().with_run_config(config).unwrap_err().to_string();
        assert!(err.contains("`goals` (or goal_size) differs"), "{err}");
    }
    let err = model(NcaConfig::default())
        .with_run_config(goal_config())
        .unwrap_err()
        .to_string();
    assert!(err.contains("`goals`"), "{err}");
}

#[test]
fn changing_the_run_config_keeps_the_weights() {
    let nca = with_constant_update(model(NcaConfig::default()), 4, 0.5);
    let rotated = nca
        .clone()
        .with_run_config(NcaConfig {
            fire_rate: 1.0,
            perception_angle_deg: 45.0,
            ..NcaConfig::default()
        })
        .unwrap();
    assert_eq!(rotated.config().fire_rate, 1.0);
    let weight = |nca: &Nca| host_values(nca.update.hidden.weight.val());
    assert_eq!(weight(&rotated), weight(&nca));
    let err = nca
        .with_run_config(NcaConfig {
            hidden_units: 64,
            ..NcaConfig::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("differs from the model"), "{err}");
}

#[test]
fn the_angle_of_learned_perception_cannot_change_but_its_fire_rate_can() {
    let learned = model(NcaConfig {
        trainable_perception: true,
        ..NcaConfig::default()
    });
    let rotated = NcaConfig {
        perception_angle_deg: 90.0,
        ..learned.config().clone()
    };
    let err = learned.clone().with_run_config(rotated).unwrap_err();
    assert!(err.to_string().contains("perception_angle_deg"), "{err}");
    let slower = NcaConfig {
        fire_rate: 0.25,
        ..learned.config().clone()
    };
    assert_eq!(
        learned.with_run_config(slower).unwrap().config().fire_rate,
        0.25
    );
}
