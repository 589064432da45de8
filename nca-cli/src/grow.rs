//! `nca grow` and `nca regenerate`: a model's growth and regrowth as pictures.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::{Args, ValueEnum};
use image::RgbImage;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Nca, host_values};
use nca_data::GifOptions;

use crate::models;
use nca_cli::backend::{self, Backend};
use nca_cli::note;

/// How a model runs and how its pictures look.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Shipped model name (`nca targets` lists them), model file, run directory, or web-demo model
    /// (.json).
    #[arg(long, default_value = "gecko")]
    model: PathBuf,
    /// Grid size in cells (square).
    #[arg(long, default_value_t = 72, value_parser = clap::value_parser!(u32).range(3..=1024))]
    size: u32,
    /// Fire rate (default: the model's).
    #[arg(long)]
    fire_rate: Option<f64>,
    /// Rotation of the perception in degrees (default: the model's).
    #[arg(long)]
    angle: Option<f64>,
    /// Each cell becomes SCALE x SCALE pixels.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    scale: u32,
    /// Keep every N-th step as a frame.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    every: u32,
    /// Milliseconds per frame.
    #[arg(long, default_value_t = 40)]
    delay: u32,
    /// Random seed of the fire decisions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Arguments of `nca grow`.
#[derive(Args, Debug)]
pub struct GrowArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Steps to grow.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Output: a .gif of the growth, or a .png of the last state.
    #[arg(long, default_value = "growth.gif")]
    out: PathBuf,
}

/// What `nca regenerate` cuts away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cut {
    /// A disc of radius 0.4 (grid spans [-1, 1]) a little off centre.
    Disc,
    /// The right half of the grid.
    Half,
}

/// Arguments of `nca regenerate`.
#[derive(Args, Debug)]
pub struct RegenerateArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Steps to grow before the cut.
    #[arg(long, default_value_t = 200)]
    grow_steps: usize,
    /// Steps to regrow after the cut.
    #[arg(long, default_value_t = 200)]
    regrow_steps: usize,
    /// What to cut away.
    #[arg(long, value_enum, default_value_t = Cut::Disc)]
    cut: Cut,
    /// Output GIF.
    #[arg(long, default_value = "regenerate.gif")]
    out: PathBuf,
}

impl RunArgs {
    fn model(&self, backend: Option<Backend>) -> anyhow::Result<Nca> {
        let (backend, device) = backend::device(backend)?;
        let model = models::load(&self.model, &device)?.with_engine(backend.engine());
        let mut config = model.config().clone();
        config.fire_rate = self.fire_rate.unwrap_or(config.fire_rate);
        config.perception_angle_deg = self.angle.unwrap_or(config.perception_angle_deg);
        Ok(model.with_run_config(config)?)
    }

    fn gif(&self) -> GifOptions {
        GifOptions {
            frame_delay_ms: self.delay,
            scale: self.scale,
        }
    }
}

/// Frames (over white) of `model` growing from its seed on a `height x width` grid: the seed and
/// every `every`-th step up to `steps`, with their step numbers.
pub fn growth_frames(
    model: &Nca,
    height: usize,
    width: usize,
    steps: usize,
    every: usize,
    seed: u64,
) -> (Vec<RgbImage>, Vec<usize>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let states = model.frames(model.seed(1, height, width), steps, every, &mut rng);
    frames_of(model, states, every, 0, steps)
}

fn frames_of(
    model: &Nca,
    states: Vec<burn::tensor::Tensor<4>>,
    every: usize,
    first_step: usize,
    last_step: usize,
) -> (Vec<RgbImage>, Vec<usize>) {
    let count = states.len();
    let steps = (0..count)
        .map(|i| {
            if i + 1 == count {
                last_step
            } else {
                first_step + i * every
            }
        })
        .collect();
    let images = states
        .into_iter()
        .flat_map(|state| nca_data::white_images(model.config(), state))
        .collect();
    (images, steps)
}

/// Refuses to run, before any work is done, when the output's directory does not exist or its
/// extension is none of `formats` (lower case, e.g. `["gif", "png"]`); returns the extension.
pub fn check_output(path: &Path, formats: &[&str]) -> anyhow::Result<String> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!(
            "cannot write {}: directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    let extension = path
        .extension()
        .and_then(|ext| ext.to_str())
        .map(str::to_lowercase)
        .unwrap_or_default();
    if !formats.contains(&extension.as_str()) {
        bail!(
            "cannot write {}: the output must end in .{}",
            path.display(),
            formats.join(" or .")
        );
    }
    Ok(extension)
}

/// Runs `nca grow`.
pub fn grow(args: GrowArgs, backend: Option<Backend>) -> anyhow::Result<()> {
    let format = check_output(&args.out, &["gif", "png"])?;
    let model = args.run.model(backend)?;
    let size = args.run.size as usize;
    let (frames, steps) = growth_frames(
        &model,
        size,
        size,
        args.steps,
        args.run.every as usize,
        args.run.seed,
    );
    if format == "png" {
        let last = frames.last().expect("frames hold at least the seed");
        nca_data::save_png(&args.out, nca_data::scale_up(last, args.run.scale))?;
    } else {
        nca_data::save_gif(&args.out, &frames, Some(&steps), args.run.gif())?;
    }
    note!("wrote {} ({} steps)", args.out.display(), args.steps);
    Ok(())
}

/// Runs `nca regenerate`: grow, cut, regrow, one GIF.
pub fn regenerate(args: RegenerateArgs, backend: Option<Backend>) -> anyhow::Result<()> {
    check_output(&args.out, &["gif"])?;
    let model = args.run.model(backend)?;
    let size = args.run.size as usize;
    let every = args.run.every as usize;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.run.seed);
    let mut grown = model.frames(model.seed(1, size, size), args.grow_steps, every, &mut rng);
    let before = grown.last().expect("frames hold at least the seed").clone();
    let channels = model.config().channels;
    let mut values = host_values(before);
    match args.cut {
        Cut::Disc => nca_train::erase_disc(&mut values, [channels, size, size], (0.15, 0.1), 0.4),
        Cut::Half => {
            for row in values.chunks_exact_mut(size) {
                row[size / 2..].fill(0.0);
            }
        }
    }
    let cut = burn::tensor::Tensor::<4>::from_data(
        burn::tensor::TensorData::new(values, [1, channels, size, size]),
        &model.device(),
    );
    let regrown = model.frames(cut, args.regrow_steps, every, &mut rng);
    let (mut frames, mut steps) = frames_of(
        &model,
        std::mem::take(&mut grown),
        every,
        0,
        args.grow_steps,
    );
    let (after, after_steps) = frames_of(
        &model,
        regrown,
        every,
        args.grow_steps,
        args.grow_steps + args.regrow_steps,
    );
    frames.extend(after);
    steps.extend(after_steps);
    nca_data::save_gif(&args.out, &frames, Some(&steps), args.run.gif())?;
    note!("wrote {} ({} frames)", args.out.display(), frames.len());
    Ok(())
}
