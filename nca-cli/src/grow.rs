//! `nca grow` and `nca regenerate`: a model's growth and regrowth as pictures.

use std::path::{Path, PathBuf};

use anyhow::bail;
use burn::tensor::{Tensor, TensorData};
use clap::{Args, ValueEnum};
use image::RgbImage;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Nca, host_values};
use nca_data::{GifOptions, GifWriter};

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
    #[arg(long, allow_negative_numbers = true)]
    fire_rate: Option<f64>,
    /// Rotation of the perception in degrees (default: the model's).
    #[arg(long, allow_negative_numbers = true)]
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

    /// Refuses frames larger than [`MAX_PICTURE_SIDE`] pixels before any work is done.
    fn check_picture_size(&self) -> anyhow::Result<()> {
        let side = u64::from(self.size) * u64::from(self.scale);
        if side > u64::from(MAX_PICTURE_SIDE) {
            bail!(
                "frames of {0} cells at --scale {1} would be {side}x{side} pixels, over the limit of {MAX_PICTURE_SIDE}; lower --scale or --size",
                self.size,
                self.scale
            );
        }
        Ok(())
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
    let (mut images, mut numbers) = (Vec::new(), Vec::new());
    let seed_state = model.seed(1, height, width);
    run_frames(
        model,
        seed_state,
        0,
        steps,
        every,
        &mut rng,
        |state, step| {
            images.push(picture(model, state));
            numbers.push(step);
            Ok(())
        },
    )
    .expect("collecting frames cannot fail");
    (images, numbers)
}

/// Runs `model` for `steps` steps from `state`, handing `frame` the state and its step number
/// (counted from `first_step`) at the start, after every `every` steps and at the end, so that
/// no more than one state is kept however long the run; returns the last state. The same fire
/// decisions as one [`Nca::advance`] of `steps` steps.
fn run_frames(
    model: &Nca,
    mut state: Tensor<4>,
    first_step: usize,
    steps: usize,
    every: usize,
    rng: &mut Xoshiro256PlusPlus,
    mut frame: impl FnMut(&Tensor<4>, usize) -> anyhow::Result<()>,
) -> anyhow::Result<Tensor<4>> {
    frame(&state, first_step)?;
    let mut done = 0;
    while done < steps {
        let chunk = every.min(steps - done);
        state = model.advance(state, chunk, rng);
        done += chunk;
        frame(&state, first_step + done)?;
    }
    Ok(state)
}

/// A one-sample state over white.
fn picture(model: &Nca, state: &Tensor<4>) -> RgbImage {
    nca_data::white_images(model.config(), state.clone()).remove(0)
}

/// The largest side of a picture, in pixels.
const MAX_PICTURE_SIDE: u32 = 4096;

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
    args.run.check_picture_size()?;
    let model = args.run.model(backend)?;
    let size = args.run.size as usize;
    let every = args.run.every as usize;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.run.seed);
    let seed = model.seed(1, size, size);
    if format == "png" {
        let last = run_frames(&model, seed, 0, args.steps, every, &mut rng, |_, _| Ok(()))?;
        let image = nca_data::scale_up(&picture(&model, &last), args.run.scale);
        nca_data::save_png(&args.out, image)?;
    } else {
        let mut gif = GifWriter::create(&args.out, args.run.gif())?;
        run_frames(
            &model,
            seed,
            0,
            args.steps,
            every,
            &mut rng,
            |state, step| Ok(gif.push(&picture(&model, state), Some(step))?),
        )?;
        gif.finish()?;
    }
    note!("wrote {} ({} steps)", args.out.display(), args.steps);
    Ok(())
}

/// Runs `nca regenerate`: grow, cut, regrow, one GIF.
pub fn regenerate(args: RegenerateArgs, backend: Option<Backend>) -> anyhow::Result<()> {
    check_output(&args.out, &["gif"])?;
    args.run.check_picture_size()?;
    let model = args.run.model(backend)?;
    let size = args.run.size as usize;
    let every = args.run.every as usize;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.run.seed);
    let mut gif = GifWriter::create(&args.out, args.run.gif())?;
    let mut frames = 0;
    let mut push = |state: &Tensor<4>, step: usize| -> anyhow::Result<()> {
        frames += 1;
        Ok(gif.push(&picture(&model, state), Some(step))?)
    };
    let seed = model.seed(1, size, size);
    let grown = run_frames(&model, seed, 0, args.grow_steps, every, &mut rng, &mut push)?;
    let channels = model.config().channels;
    let mut values = host_values(grown);
    match args.cut {
        Cut::Disc => nca_train::erase_disc(&mut values, [channels, size, size], (0.15, 0.1), 0.4),
        Cut::Half => {
            for row in values.chunks_exact_mut(size) {
                row[size / 2..].fill(0.0);
            }
        }
    }
    let cut = Tensor::<4>::from_data(
        TensorData::new(values, [1, channels, size, size]),
        &model.device(),
    );
    let regrow = args.regrow_steps;
    run_frames(
        &model,
        cut,
        args.grow_steps,
        regrow,
        every,
        &mut rng,
        &mut push,
    )?;
    gif.finish()?;
    note!("wrote {} ({frames} frames)", args.out.display());
    Ok(())
}
