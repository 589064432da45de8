//! `nca bench`: times training iterations and rollouts on the chosen backend.

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::{Tensor, TensorData};
use clap::builder::RangedU64ValueParser;
use clap::{Args, ValueEnum};
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::rand::{RngExt, SeedableRng};
use nca_core::{Engine, NcaConfig, host_values};
use nca_train::{Experiment, MemoryUse, TrainConfig, Trainer};
use serde::Serialize;

use nca_cli::backend::Compute;
use nca_cli::{memory, note, say};

/// What to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Task {
    /// One training iteration (rollout, loss, backward, Adam step).
    TrainStep,
    /// A rollout without gradients.
    Rollout,
    /// Both.
    All,
    /// The CPU's multiply-add peak (GFLOP/s, all threads), the ceiling of the fused kernel.
    Peak,
}

/// The states the timed runs start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Seeds: the pattern grows from one cell, as in the paper's growing experiment.
    Seed,
    /// Full grids: every cell alive (alpha 1, colour and hidden channels random, the same in
    /// every run): the cost of a pool of grown patterns at its worst.
    Full,
}

/// Arguments of `nca bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The model to run and train from: a shipped model's name, a model file or a run directory.
    /// Its cost depends on how much of the grid it keeps alive.
    #[arg(long, default_value = "gecko")]
    model: PathBuf,
    /// Samples per training batch (rollouts run with 1 and with this many).
    #[arg(long = "batch-size", default_value_t = 8, value_parser = at_least(1))]
    batch: usize,
    /// Old name of --batch-size.
    #[arg(long = "batch", hide = true, conflicts_with = "batch", value_parser = at_least(1))]
    old_batch: Option<usize>,
    /// Steps per training iteration.
    #[arg(long, default_value_t = 64, value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_STEPS))]
    steps: usize,
    /// Steps per rollout.
    #[arg(long, default_value_t = 96, value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_STEPS))]
    rollout_steps: usize,
    /// Grid size (square).
    #[arg(long, default_value_t = 72, value_parser = RangedU64ValueParser::<usize>::new().range(3..=1024))]
    grid: usize,
    /// Timed runs per task (after one warm-up run).
    #[arg(long, default_value_t = 3, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    runs: usize,
    /// Which task to time.
    #[arg(long, value_enum, default_value_t = Task::All)]
    task: Task,
    /// The states the runs start from.
    #[arg(long, value_enum, default_value_t = Workload::Seed)]
    workload: Workload,
}

#[derive(Serialize)]
struct Record<'a> {
    #[serde(rename = "impl")]
    implementation: &'a str,
    backend: String,
    model: &'a str,
    task: &'a str,
    workload: &'a str,
    batch: usize,
    steps: usize,
    grid: usize,
    seconds_min: f64,
    seconds_median: f64,
    runs: usize,
    /// For rollouts: the share of cells living (alpha above the threshold) at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    living_at_end: Option<f64>,
}

/// Runs `nca bench`.
pub fn run(mut args: BenchArgs, compute: &Compute) -> anyhow::Result<()> {
    if let Some(batch) = args.old_batch {
        note!("note: bench's --batch is now --batch-size (samples per batch, as in train)");
        args.batch = batch;
    }
    if args.task == Task::Peak {
        let record = serde_json::json!({
            "impl": "nca",
            "task": "multiply_add_peak",
            "threads": rayon::current_num_threads(),
            "gflops": nca_core::bench::multiply_add_peak(2.0),
        });
        say!("{record}");
        return Ok(());
    }
    let model = compute.load_model(&args.model)?;
    let config = model.config().clone();
    check_memory(&args, &config, compute.engine)?;
    let model_name = args.model.display().to_string();
    let workload = args
        .workload
        .to_possible_value()
        .expect("no variant is skipped");
    let workload = workload.get_name();
    let grid = args.grid;
    let start = |batch: usize| -> Vec<f32> {
        match args.workload {
            Workload::Seed => host_values(model.seed(batch, grid, grid)),
            Workload::Full => full_grids(&config, batch, grid),
        }
    };
    let print = |task: &str, batch: usize, steps: usize, seconds: Vec<f64>, living| {
        let record = Record {
            implementation: "nca",
            backend: compute.backend.to_string(),
            model: &model_name,
            task,
            workload,
            batch,
            steps,
            grid,
            seconds_min: seconds.iter().copied().fold(f64::INFINITY, f64::min),
            seconds_median: median(seconds),
            runs: args.runs,
            living_at_end: living,
        };
        say!(
            "{}",
            serde_json::to_string(&record).expect("records serialise")
        );
    };
    if matches!(args.task, Task::TrainStep | Task::All) {
        let train = train_config(&args, &config);
        let rgba = config.alpha_channel() + 1;
        // The picture's content costs nothing; a texture run's is the texture (any size).
        let picture = if train.texture.is_some() {
            TEXTURE_SIDE
        } else {
            grid
        };
        let target = Tensor::<3>::zeros([rgba, picture, picture], &compute.device);
        // A fresh run each time: training changes the weights, and with them how much of the
        // grid lives.
        let trainer = || -> anyhow::Result<(Trainer, Vec<f32>)> {
            let trainer = Trainer::new(train.clone(), target.clone(), &compute.device)?
                .with_engine(compute.engine)
                .with_model(model.clone())?;
            Ok((trainer, start(args.batch)))
        };
        let (seconds, _) = time(args.runs, trainer, |(mut trainer, start)| {
            Ok(trainer.step_from(start).map(drop)?)
        })?;
        print("train_step", args.batch, args.steps, seconds, None);
    }
    if matches!(args.task, Task::Rollout | Task::All) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        let mut batches = vec![1, args.batch];
        batches.dedup();
        for batch in batches {
            let shape = [batch, config.channels, grid, grid];
            let states = || {
                let values = TensorData::new(start(batch), shape);
                Ok(Tensor::<4>::from_data(values, &compute.device))
            };
            // Read back inside the timed region: a GPU's work is done only then.
            let (seconds, end) = time(args.runs, states, |states| {
                Ok(host_values(model.advance(
                    states,
                    args.rollout_steps,
                    &mut rng,
                )))
            })?;
            let living = living_share(&config, &end, grid * grid);
            print("rollout", batch, args.rollout_steps, seconds, Some(living));
        }
    }
    Ok(())
}

/// The most steps of a training iteration or a rollout.
const MAX_STEPS: u64 = 100_000;

/// A value parser of `usize` values from `min` on.
fn at_least(min: usize) -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(min as u64..)
}

/// The side of the texture a texture model's timed iterations compare with.
const TEXTURE_SIDE: usize = 128;

/// The training config of the timed iterations: the growing preset (for a model without alive
/// masking the texture preset, on the bench's grid), one step count.
fn train_config(args: &BenchArgs, config: &NcaConfig) -> TrainConfig {
    let mut preset = if config.alive_masking {
        TrainConfig::preset(Experiment::Growing)
    } else {
        TrainConfig::preset(Experiment::Texture)
    };
    if let Some(texture) = &mut preset.texture {
        texture.grid = args.grid;
    }
    TrainConfig {
        model: config.clone(),
        batch_size: args.batch,
        min_steps: args.steps,
        max_steps: args.steps + 1,
        ..preset
    }
}

/// Refuses, before anything is allocated, tasks that cannot fit in the memory available
/// ([`memory::check`]): a training iteration keeps every step's states for the backward pass
/// (batch x steps states), a rollout one state per sample (and, on the fused kernel, its fire
/// decisions).
fn check_memory(args: &BenchArgs, config: &NcaConfig, engine: Engine) -> anyhow::Result<()> {
    let grid = [args.grid, args.grid];
    if matches!(args.task, Task::TrainStep | Task::All) {
        let need = train_config(args, config).memory_need(grid);
        memory::check(&memory::Need {
            bytes: need.bytes,
            flags: match need.largest {
                MemoryUse::UpdateNetwork => "a smaller --model",
                _ => "--batch-size, --steps, --grid",
            },
            mostly: need.largest.to_string(),
        })?;
    }
    if matches!(args.task, Task::Rollout | Task::All) {
        memory::check(&memory::rollout(
            config,
            grid,
            args.batch,
            args.rollout_steps,
            engine,
        ))?;
    }
    Ok(())
}

/// `batch` full grids: alpha 1 everywhere, colour in `[0, 1)` and hidden channels in
/// `[-1, 1)` drawn from a fixed seed.
fn full_grids(config: &NcaConfig, batch: usize, grid: usize) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let plane = grid * grid;
    let alpha = config.alpha_channel();
    (0..batch * config.channels)
        .flat_map(|index| {
            let channel = index % config.channels;
            (0..plane)
                .map(|_| match channel {
                    c if c < alpha => rng.random_range(0.0..1.0),
                    c if c == alpha => 1.0,
                    _ => rng.random_range(-1.0..1.0),
                })
                .collect::<Vec<f32>>()
        })
        .collect()
}

/// The share of cells whose alpha is above the living threshold in `[B, C, H, W]` values.
fn living_share(config: &NcaConfig, states: &[f32], plane: usize) -> f64 {
    let threshold = config.living_threshold as f32;
    let alphas: Vec<&[f32]> = states
        .chunks_exact(config.channels * plane)
        .map(|sample| &sample[config.alpha_channel() * plane..][..plane])
        .collect();
    let living = alphas
        .iter()
        .flat_map(|alpha| alpha.iter())
        .filter(|&&alpha| alpha > threshold)
        .count();
    living as f64 / (alphas.len() * plane) as f64
}

/// Wall times of `runs` calls of `task`, after one untimed warm-up call, and what the last call
/// gave; each call gets a fresh input from `setup`, made outside the timed region.
fn time<T, R>(
    runs: usize,
    setup: impl Fn() -> anyhow::Result<T>,
    mut task: impl FnMut(T) -> anyhow::Result<R>,
) -> anyhow::Result<(Vec<f64>, R)> {
    let mut last = task(setup()?)?;
    let mut seconds = Vec::with_capacity(runs);
    for _ in 0..runs {
        let input = setup()?;
        let started = Instant::now();
        last = task(input)?;
        seconds.push(started.elapsed().as_secs_f64());
    }
    Ok((seconds, last))
}
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if !values.len().is_multiple_of(2) {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}
