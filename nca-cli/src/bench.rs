//! `nca bench`: times training iterations and rollouts on the chosen backend.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use burn::tensor::Tensor;
use clap::{Args, ValueEnum};
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_train::{Experiment, TrainConfig, Trainer};
use serde::Serialize;

use nca_cli::backend::Compute;
use nca_cli::say;

/// What to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Task {
    /// One training iteration (rollout, loss, backward, Adam step).
    TrainStep,
    /// A rollout without gradients.
    Rollout,
    /// Both.
    All,
}

/// Arguments of `nca bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The model to run and train from: a shipped model's name, a model file or a run directory.
    /// Its cost depends on how much of the grid it keeps alive.
    #[arg(long, default_value = "gecko")]
    model: PathBuf,
    /// Samples per training batch (rollouts run with 1 and with this many).
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Steps per training iteration.
    #[arg(long, default_value_t = 64)]
    steps: usize,
    /// Steps per rollout.
    #[arg(long, default_value_t = 96)]
    rollout_steps: usize,
    /// Grid size (square).
    #[arg(long, default_value_t = 72)]
    grid: usize,
    /// Timed runs per task (after one warm-up run).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Which task to time.
    #[arg(long, value_enum, default_value_t = Task::All)]
    task: Task,
}

#[derive(Serialize)]
struct Record<'a> {
    #[serde(rename = "impl")]
    implementation: &'a str,
    backend: String,
    model: &'a str,
    task: &'a str,
    batch: usize,
    steps: usize,
    grid: usize,
    seconds_min: f64,
    seconds_median: f64,
    runs: usize,
}

/// Runs `nca bench`.
pub fn run(args: BenchArgs, compute: &Compute) -> anyhow::Result<()> {
    if [args.batch, args.steps, args.rollout_steps, args.runs].contains(&0) || args.grid < 3 {
        bail!(
            "--batch, --steps, --rollout-steps and --runs must be at least 1 and --grid at least 3"
        );
    }
    let model = compute.load_model(&args.model)?;
    let model_name = args.model.display().to_string();
    let print = |task: &str, batch: usize, steps: usize, seconds: Vec<f64>| {
        let record = Record {
            implementation: "nca",
            backend: compute.backend.to_string(),
            model: &model_name,
            task,
            batch,
            steps,
            grid: args.grid,
            seconds_min: seconds.iter().copied().fold(f64::INFINITY, f64::min),
            seconds_median: median(seconds),
            runs: args.runs,
        };
        say!(
            "{}",
            serde_json::to_string(&record).expect("records serialise")
        );
    };
    if matches!(args.task, Task::TrainStep | Task::All) {
        let config = TrainConfig {
            model: model.config().clone(),
            batch_size: args.batch,
            min_steps: args.steps,
            max_steps: args.steps + 1,
            ..TrainConfig::preset(Experiment::Growing)
        };
        let rgba = model.config().alpha_channel() + 1;
        let target = Tensor::<3>::zeros([rgba, args.grid, args.grid], &compute.device);
        // A fresh run each time: training changes the weights, and with them how much of the
        // grid lives.
        let trainer = || -> anyhow::Result<Trainer> {
            Ok(
                Trainer::new(config.clone(), target.clone(), &compute.device)?
                    .with_engine(compute.engine)
                    .with_model(model.clone())?,
            )
        };
        let seconds = time(args.runs, trainer, |mut trainer| {
            Ok(trainer.step().map(drop)?)
        })?;
        print("train_step", args.batch, args.steps, seconds);
    }
    if matches!(args.task, Task::Rollout | Task::All) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        let mut batches = vec![1, args.batch];
        batches.dedup();
        for batch in batches {
            let seed = || Ok(model.seed(batch, args.grid, args.grid));
            let seconds = time(args.runs, seed, |seed| {
                model
                    .advance(seed, args.rollout_steps, &mut rng)
                    .into_data();
                Ok(())
            })?;
            print("rollout", batch, args.rollout_steps, seconds);
        }
    }
    Ok(())
}

/// Wall times of `runs` calls of `task`, after one untimed warm-up call; each call gets a fresh
/// input from `setup`, made outside the timed region.
fn time<T>(
    runs: usize,
    setup: impl Fn() -> anyhow::Result<T>,
    mut task: impl FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<f64>> {
    task(setup()?)?;
    (0..runs)
        .map(|_| {
            let input = setup()?;
            let started = Instant::now();
            task(input)?;
            Ok(started.elapsed().as_secs_f64())
        })
        .collect()
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
