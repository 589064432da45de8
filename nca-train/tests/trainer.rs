//! The trainer: learning, write-back, gradient conditioning, checkpoints, resume, divergence.

use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use nca_core::{Engine, Nca, NcaConfig};
use nca_train::{
    CHECKPOINT_FILE, Checkpoint, Control, Experiment, GoalRun, GradientMode, LrSchedule,
    METRICS_FILE, MODEL_FILE, Metrics, Observer, RunDir, TextureOptions, TextureRun, TrainConfig,
    TrainError, Trainer, condition,
};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

fn device() -> Device {
    Device::flex()
}

/// A `size x size` grid with a centred `inner x inner` orange square (premultiplied, opaque).
fn square_target(size: usize, inner: usize) -> Tensor<3> {
    let mut values = vec![0.0f32; 4 * size * size];
    let start = (size - inner) / 2;
    for y in start..start + inner {
        for x in start..start + inner {
            for (channel, value) in [1.0, 0.5, 0.1, 1.0].into_iter().enumerate() {
                values[(channel * size + y) * size + x] = value;
            }
        }
    }
    Tensor::from_data(TensorData::new(values, [4, size, size]), &device())
}

/// A small, fast regenerating run: pool 16, batch 4 with 1 damaged, 8–11 steps, 16x16 grid.
fn small_config(iterations: usize) -> TrainConfig {
    TrainConfig {
        pool_size: 16,
        damaged_per_batch: 1,
        batch_size: 4,
        min_steps: 8,
        max_steps: 12,
        iterations,
        checkpoint_every: 3,
        seed: 11,
        ..TrainConfig::preset(Experiment::Regenerating)
    }
}

/// A `size x size` grid with a centred blue cross, arms 2 cells wide and `size - 6` long
/// (premultiplied, opaque).
fn cross_target(size: usize) -> Tensor<3> {
    let mut values = vec![0.0f32; 4 * size * size];
    let (start, end) = (3, size - 3);
    let (middle, half) = (size / 2 - 1, size / 2 + 1);
    for y in start..end {
        for x in start..end {
            if (middle..half).contains(&x) || (middle..half).contains(&y) {
                for (channel, value) in [0.1, 0.3, 1.0, 1.0].into_iter().enumerate() {
                    values[(channel * size + y) * size + x] = value;
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(values, [4, size, size]), &device())
}

/// [`small_config`] as a goal run of two goals (a square and a cross), a quarter of each batch
/// (1 of 4) morphing.
fn small_goal_config(iterations: usize) -> TrainConfig {
    let config = small_config(iterations);
    TrainConfig {
        model: NcaConfig {
            goals: vec!["square".into(), "cross".into()],
            ..config.model.clone()
        },
        goals: Some(GoalRun::default()),
        ..config
    }
}

/// The two goals' targets of [`small_goal_config`], on a 16x16 grid.
fn goal_targets() -> Vec<Tensor<3>> {
    vec![square_target(16, 6), cross_target(16)]
}

/// A new run of `config`: a goal run towards [`goal_targets`] for a model with goals, else
/// towards a square.
fn new_trainer(config: TrainConfig) -> Trainer {
    if config.model.has_goals() {
        Trainer::new_goals(config, goal_targets(), &device()).unwrap()
    } else {
        Trainer::new(config, square_target(16, 6), &device()).unwrap()
    }
}

/// A small, fast texture run: pool 16, batch 2, 8–11 steps, a 16x16 grid, 3x3 patches at 2
/// scales.
fn small_texture_config(iterations: usize) -> TrainConfig {
    TrainConfig {
        pool_size: 16,
        batch_size: 2,
        min_steps: 8,
        max_steps: 12,
        iterations,
        checkpoint_every: 3,
        seed: 5,
        texture: Some(TextureRun {
            grid: 16,
            loss: TextureOptions {
                patch: 3,
                scales: 2,
                projections: 8,
                overflow: 1.0,
            },
        }),
        ..TrainConfig::preset(Experiment::Texture)
    }
}

/// A `size x size` texture of diagonal orange stripes on blue (premultiplied, opaque).
fn stripes(size: usize) -> Tensor<3> {
    let mut values = vec![1.0f32; 4 * size * size];
    for y in 0..size {
        for x in 0..size {
            let colour = if (x + y) % 6 < 3 {
                [1.0, 0.5, 0.1]
            } else {
                [0.1, 0.2, 0.8]
            };
            for (channel, value) in colour.into_iter().enumerate() {
                values[(channel * size + y) * size + x] = value;
            }
        }
    }
    Tensor::from_data(TensorData::new(values, [4, size, size]), &device())
}

/// Every weight and bias of a model (parameter ids aside, which are random per model).
fn weights(nca: &Nca) -> Vec<Vec<f32>> {
    let layers = [&nca.update.hidden, &nca.update.output];
    let mut all: Vec<Vec<f32>> = layers
        .iter()
        .flat_map(|layer| {
            [
                layer.weight.val().flatten::<1>(0, 1),
                layer.bias.as_ref().unwrap().val(),
            ]
        })
        .map(|values| values.into_data().try_to_vec::<f32>().unwrap())
        .collect();
    if let nca_core::Perception::Learned(kernel) = &nca.perception {
        all.push(nca_core::host_values(kernel.val()));
    }
    all
}

#[test]
fn the_loss_falls_by_a_real_factor_on_a_small_target() {
    let config = TrainConfig {
        batch_size: 4,
        min_steps: 16,
        max_steps: 24,
        iterations: 60,
        ..TrainConfig::preset(Experiment::Growing)
    };
    let mut trainer = Trainer::new(config, square_target(24, 8), &device()).unwrap();
    let losses: Vec<f64> = (0..60).map(|_| trainer.step().unwrap().loss).collect();
    let first = losses[0];
    let last = losses[50..].iter().sum::<f64>() / 10.0;
    assert!(
        last < first / 4.0,
        "loss went from {first} to {last}: {losses:?}"
    );
}

#[test]
fn a_texture_runs_loss_falls_from_its_zero_seed() {
    let config = TrainConfig {
        texture: Some(TextureRun {
            grid: 24,
            ..small_texture_config(0).texture.unwrap()
        }),
        batch_size: 4,
        min_steps: 16,
        max_steps: 24,
        ..small_texture_config(80)
    };
    let mut trainer = Trainer::new(config, stripes(24), &device())
        .unwrap()
        .with_engine(Engine::Fused);
    assert_eq!(trainer.grid(), [24, 24]);
    let losses: Vec<f64> = (0..80).map(|_| trainer.step().unwrap().loss).collect();
    // Medians: the overflow term spikes now and then while the state finds its range.
    let median = |window: &[f64]| {
        let mut sorted = window.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    let (first, last) = (median(&losses[..10]), median(&losses[60..]));
    assert!(
        last < 0.85 * first,
        "loss went from {first} to {last}: {losses:?}"
    );
}

#[test]
fn metrics_report_the_iteration_schedule_and_steps() {
    let config = TrainConfig {
        learning_rate: LrSchedule {
            initial: 1e-3,
            drops: vec![(1, 5e-4)],
        },
        ..small_config(2)
    };
    let mut trainer = Trainer::new(config, square_target(16, 6), &device()).unwrap();
    let first = trainer.step().unwrap();
    let second = trainer.step().unwrap();
    assert_eq!((first.iteration, second.iteration), (0, 1));
    assert_eq!((first.lr, second.lr), (1e-3, 5e-4));
    assert!((8..12).contains(&first.steps));
    assert!(first.loss > 0.0 && first.grad_norm > 0.0 && first.seconds > 0.0);
    assert_eq!(trainer.iteration(), 2);
}

#[test]
fn the_batch_is_written_back_into_the_pool_and_nothing_else_changes() {
    let mut trainer = Trainer::new(small_config(2), square_target(16, 6), &device()).unwrap();
    // The untrained model changes nothing (its last layer is zero); after one step it does.
    trainer.step().unwrap();
    let before = trainer.pool().unwrap().clone();
    trainer.step().unwrap();
    let after = trainer.pool().unwrap();
    let changed = (0..before.len())
        .filter(|&i| before.get(i) != after.get(i))
        .count();
    assert!(
        changed > 0 && changed <= 4,
        "{changed} pool states changed; at most the batch of 4 may"
    );
}

#[test]
fn per_parameter_normalisation_gives_every_gradient_unit_norm() {
    let device = device().autodiff();
    let mut nca = NcaConfig {
        fire_rate: 1.0,
        ..NcaConfig::default()
    }
    .init(&device, &mut Xoshiro256PlusPlus::seed_from_u64(0))
    .unwrap();
    // A fresh model's last layer is zero, which leaves the first layer without gradient.
    let mut values = Xoshiro256PlusPlus::seed_from_u64(9);
    let random: Vec<f32> = (0..128 * 16)
        .map(|_| rand::RngExt::random_range(&mut values, -0.1..0.1))
        .collect();
    let random = Tensor::<2>::from_data(TensorData::new(random, [128, 16]), &device);
    nca.update.output.weight = burn::module::Param::from_tensor(random);
    let target = square_target(12, 4).to_device(&device).unsqueeze::<4>();
    let gradients = |mode: GradientMode| {
        let loss = (nca
            .rollout(
                nca.seed(1, 12, 12),
                4,
                &mut Xoshiro256PlusPlus::seed_from_u64(0),
            )
            .narrow(1, 0, 4)
            - target.clone())
        .square()
        .mean();
        let mut grads = GradientsParams::from_grads(loss.backward(), &nca);
        let before = condition(&nca, &mut grads, mode);
        let norm = |t: Tensor<2>| t.square().sum().into_scalar::<f64>().sqrt();
        let weights = [nca.update.hidden.weight.id, nca.update.output.weight.id]
            .map(|id| norm(grads.get::<2>(id).unwrap()));
        (before, weights)
    };
    let (raw_norm, raw) = gradients(GradientMode::Raw);
    assert!(raw_norm > 0.0);
    assert!(
        raw.iter().all(|n| (n - 1.0).abs() > 1e-3),
        "raw gradients are not unit length: {raw:?}"
    );
    let (_, normalised) = gradients(GradientMode::PerParameterNorm);
    assert!(
        normalised.iter().all(|n| (n - 1.0).abs() < 1e-4),
        "{normalised:?}"
    );
    let clip = raw_norm / 10.0;
    let (_, clipped) = gradients(GradientMode::GlobalClip { max_norm: clip });
    for (c, r) in clipped.iter().zip(raw) {
        assert!(
            (c - r / 10.0).abs() < 1e-6 * r.max(1.0),
            "clipped {c} vs raw {r}"
        );
    }
}

#[test]
fn an_interrupted_and_resumed_run_ends_with_the_same_model() {
    let runs = [small_config(6), small_goal_config(6)];
    for (config, engine) in runs
        .iter()
        .flat_map(|config| [(config, Engine::Tensor), (config, Engine::Fused)])
    {
        let trainer = || new_trainer(config.clone()).with_engine(engine);
        let mut straight = trainer();
        straight.run(None, &mut ()).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let mut first = trainer();
        let run = RunDir::create(dir.path(), first.config()).unwrap();
        first.run(Some(&run), &mut StopAfter(2)).unwrap();
        assert_eq!(first.iteration(), 2);
        drop((first, run));

        let (run, checkpoint) = RunDir::open(dir.path()).unwrap();
        assert_eq!(checkpoint.iteration, 2);
        assert_eq!(checkpoint.goal_targets.len(), config.model.goals.len());
        let mut resumed = Trainer::resume(checkpoint, &device())
            .unwrap()
            .with_engine(engine);
        resumed.run(Some(&run), &mut ()).unwrap();
        assert_eq!(resumed.iteration(), 6);
        assert_eq!(
            weights(&resumed.model()),
            weights(&straight.model()),
            "{engine:?}"
        );
        assert_eq!(resumed.pool(), straight.pool(), "{engine:?}");

        let logged: Vec<usize> = std::fs::read_to_string(dir.path().join(METRICS_FILE))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<Metrics>(line).unwrap().iteration)
            .collect();
        assert_eq!(logged, vec![0, 1, 2, 3, 4, 5], "each iteration logged once");
        let saved = Nca::load(dir.path().join(MODEL_FILE), &device()).unwrap();
        assert_eq!(
            saved.to_bytes().unwrap(),
            resumed.model().to_bytes().unwrap()
        );
    }
}

/// Asks the run to stop after `n` iterations, as Ctrl-C does in the CLI.
struct StopAfter(usize);

impl Observer for StopAfter {
    fn on_iteration(&mut self, metrics: &Metrics) -> Control {
        if metrics.iteration + 1 >= self.0 {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

#[test]
fn a_non_finite_loss_stops_the_run_naming_the_iteration_and_keeps_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut good = Trainer::new(small_config(3), square_target(16, 6), &device()).unwrap();
    let run = RunDir::create(dir.path(), good.config()).unwrap();
    good.run(Some(&run), &mut ()).unwrap();
    let checkpoint_before = std::fs::read(dir.path().join(CHECKPOINT_FILE)).unwrap();
    let model_before = std::fs::read(dir.path().join(MODEL_FILE)).unwrap();

    let poisoned = square_target(16, 6).mask_fill(square_target(16, 6).greater_elem(0.0), f32::NAN);
    let mut bad = Trainer::new(small_config(3), poisoned, &device()).unwrap();
    let err = bad.run(Some(&run), &mut ()).unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::NonFinite {
                iteration: 0,
                what: "loss",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("training diverged at iteration 0: the loss is NaN"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join(CHECKPOINT_FILE)).unwrap(),
        checkpoint_before
    );
    assert_eq!(
        std::fs::read(dir.path().join(MODEL_FILE)).unwrap(),
        model_before
    );
}

#[test]
fn bad_checkpoints_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut trainer = Trainer::new(small_config(1), square_target(16, 6), &device()).unwrap();
    let run = RunDir::create(dir.path(), trainer.config()).unwrap();
    trainer.run(Some(&run), &mut ()).unwrap();
    let path = dir.path().join(CHECKPOINT_FILE);
    let bytes = std::fs::read(&path).unwrap();

    let truncated = dir.path().join("truncated.nckpt");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let err = Checkpoint::load(&truncated).unwrap_err().to_string();
    assert!(err.contains("truncated.nckpt: truncated"), "{err}");

    let flipped = dir.path().join("flipped.nckpt");
    let mut changed = bytes.clone();
    let at = changed.len() - 200;
    changed[at] ^= 1;
    std::fs::write(&flipped, &changed).unwrap();
    let err = Checkpoint::load(&flipped).unwrap_err().to_string();
    assert!(
        err.contains("damaged: its checksum does not match"),
        "{err}"
    );

    // A checkpoint of format version 1 (no payload length, no checksum) still loads.
    let mut version_1 = b"NCACKPT\0".to_vec();
    version_1.extend_from_slice(&1u32.to_le_bytes());
    version_1.extend_from_slice(&bytes[12..16]);
    version_1.extend_from_slice(&bytes[24..bytes.len() - 4]);
    assert_eq!(version_1.len(), bytes.len() - 12);
    let old = dir.path().join("old.nckpt");
    std::fs::write(&old, &version_1).unwrap();
    let loaded = Checkpoint::load(&old).unwrap();
    assert_eq!(loaded.iteration, Checkpoint::load(&path).unwrap().iteration);

    // A forged header (format 1 has no checksum) with impossible sizes is refused, not obeyed.
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[24..24 + header_len]).unwrap();
    let payload = &bytes[24 + header_len..bytes.len() - 4];
    for (field, value, reason) in [
        (
            "target_shape",
            serde_json::json!([usize::MAX, 2, 2]),
            "impossible sizes",
        ),
        (
            "pool_len",
            serde_json::json!(usize::MAX / 8),
            "impossible sizes",
        ),
        ("pool_len", serde_json::json!(1_000_000_000), "truncated"),
    ] {
        let mut forged_header = header.clone();
        forged_header[field] = value;
        let text = serde_json::to_vec(&forged_header).unwrap();
        let mut forged = b"NCACKPT\0".to_vec();
        forged.extend_from_slice(&1u32.to_le_bytes());
        forged.extend_from_slice(&(text.len() as u32).to_le_bytes());
        forged.extend_from_slice(&text);
        forged.extend_from_slice(payload);
        let path = dir.path().join("forged.nckpt");
        std::fs::write(&path, &forged).unwrap();
        let err = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(err.contains(reason), "{field}: {err}");
    }

    let model = dir.path().join(MODEL_FILE);
    let err = Checkpoint::load(&model).unwrap_err().to_string();
    assert!(err.contains("not an nca checkpoint"), "{err}");

    let err = Checkpoint::load(&dir.path().join("missing.nckpt")).unwrap_err();
    assert!(matches!(err, TrainError::Io { .. }), "{err}");

    // A checkpoint whose model does not have the shape its config says.
    let mut mismatched = Checkpoint::load(&path).unwrap();
    mismatched.config.model.hidden_units = 64;
    let err = Trainer::resume(mismatched, &device())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("differs from its training config"), "{err}");
}

#[test]
fn a_target_of_the_wrong_shape_is_refused() {
    let target = Tensor::<3>::zeros([3, 16, 16], &device());
    let err = Trainer::new(small_config(1), target, &device())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("the target must be a [4, H, W] tensor"),
        "{err}"
    );
}

#[test]
fn the_fused_engine_trains_like_the_tensor_engine() {
    let learned = TrainConfig {
        model: NcaConfig {
            trainable_perception: true,
            channels: 8,
            hidden_units: 32,
            ..NcaConfig::default()
        },
        ..small_config(4)
    };
    for config in [
        small_config(4),
        learned,
        small_texture_config(4),
        small_goal_config(4),
    ] {
        compare_engines(config);
    }
}

/// Four iterations of `config` with each engine: the same losses, weights and pool.
fn compare_engines(config: TrainConfig) {
    let run = |engine: Engine| {
        let mut trainer = new_trainer(config.clone()).with_engine(engine);
        let losses: Vec<f64> = (0..4).map(|_| trainer.step().unwrap().loss).collect();
        assert_eq!(
            trainer.model().engine(),
            engine,
            "the engine survives Adam steps"
        );
        (
            losses,
            weights(&trainer.model()),
            trainer.pool().unwrap().clone(),
        )
    };
    let (tensor_losses, tensor_weights, tensor_pool) = run(Engine::Tensor);
    let (fused_losses, fused_weights, fused_pool) = run(Engine::Fused);
    for (fused, tensor) in fused_losses.iter().zip(&tensor_losses) {
        assert!(
            (fused - tensor).abs() < 1e-4 * tensor,
            "losses {fused_losses:?} vs {tensor_losses:?}"
        );
    }
    for (fused, tensor) in fused_weights
        .iter()
        .flatten()
        .zip(tensor_weights.iter().flatten())
    {
        assert!((fused - tensor).abs() < 1e-4, "weights {fused} vs {tensor}");
    }
    for (fused, tensor) in fused_pool
        .states()
        .iter()
        .flatten()
        .zip(tensor_pool.states().iter().flatten())
    {
        assert!((fused - tensor).abs() < 1e-3, "pool {fused} vs {tensor}");
    }
    assert_eq!(tensor_pool.goals(), fused_pool.goals(), "the pools' goals");
    assert_ne!(
        tensor_weights,
        weights(&new_trainer(config.clone()).model()),
        "the runs trained"
    );
}

/// The mean squared error of a state's RGBA channels (`[C, H, W]` values) against a target.
fn rgba_mse(state: &[f32], target: &[f32]) -> f64 {
    let sum: f64 = target
        .iter()
        .zip(state)
        .map(|(target, value)| f64::from(value - target).powi(2))
        .sum();
    sum / target.len() as f64
}

#[test]
fn a_goal_run_grows_each_goal_towards_its_own_target() {
    let config = TrainConfig {
        model: NcaConfig {
            goals: vec!["square".into(), "cross".into()],
            channels: 12,
            hidden_units: 64,
            ..NcaConfig::default()
        },
        goals: Some(GoalRun::default()),
        batch_size: 8,
        pool_size: 32,
        damaged_per_batch: 0,
        min_steps: 16,
        max_steps: 24,
        iterations: 400,
        seed: 3,
        ..TrainConfig::preset(Experiment::Persistent)
    };
    let mut trainer = new_trainer(config).with_engine(Engine::Fused);
    trainer.run(None, &mut ()).unwrap();
    let goals = trainer.pool().unwrap().goals().to_vec();
    assert!(
        goals.contains(&0) && goals.contains(&1),
        "the pool mixes goals"
    );
    let model = trainer.model();
    let targets: Vec<Vec<f32>> = goal_targets()
        .into_iter()
        .map(nca_core::host_values)
        .collect();
    let seeds = model.seed(2, 16, 16);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let grown = nca_core::host_values(model.advance_toward(seeds, &[0, 1], 20, &mut rng));
    let cells = grown.len() / 2;
    for goal in 0..2 {
        let state = &grown[goal * cells..(goal + 1) * cells];
        let own = rgba_mse(state, &targets[goal]);
        let other = rgba_mse(state, &targets[1 - goal]);
        assert!(
            own < 0.6 * other,
            "goal {goal}: MSE {own} against its own target, {other} against the other's"
        );
    }
}

#[test]
fn a_goal_run_needs_one_target_per_goal() {
    let refused = |result: Result<Trainer, TrainError>| match result {
        Err(TrainError::InvalidConfig { field, reason }) => format!("{field}: {reason}"),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("not refused"),
    };
    assert_eq!(
        refused(Trainer::new_goals(
            small_goal_config(2),
            vec![square_target(16, 6)],
            &device()
        )),
        "goals: 1 targets given, but the model has 2 goals (one target per goal)"
    );
    assert_eq!(
        refused(Trainer::new(
            small_goal_config(2),
            square_target(16, 6),
            &device()
        )),
        "goals: the model has 2 goals (model.goals): a goal run takes one target per goal"
    );
    assert_eq!(
        refused(Trainer::new_goals(
            small_goal_config(2),
            vec![square_target(16, 6), square_target(20, 6)],
            &device()
        )),
        "goals: the goals' targets differ in shape: [4, 20, 20] and [4, 16, 16]"
    );
}

#[test]
fn a_morph_gives_a_grown_pool_state_another_goal_and_keeps_the_rest() {
    // A quarter of a batch of 4 is one morph per iteration; the pool starts cycling the goals.
    let mut trainer = new_trainer(small_goal_config(2));
    let cycled: Vec<usize> = (0..16).map(|index| index % 2).collect();
    assert_eq!(trainer.pool().unwrap().goals(), cycled);
    trainer.step().unwrap();
    let changed = trainer
        .pool()
        .unwrap()
        .goals()
        .iter()
        .zip(&cycled)
        .filter(|(now, before)| now != before)
        .count();
    assert_eq!(
        changed, 1,
        "one state of the batch morphed to the other goal"
    );
    let none = TrainConfig {
        goals: Some(GoalRun {
            morph_share: 0.0,
            ..GoalRun::default()
        }),
        ..small_goal_config(2)
    };
    let mut trainer = new_trainer(none);
    trainer.step().unwrap();
    assert_eq!(trainer.pool().unwrap().goals(), cycled, "no morphs");
}
