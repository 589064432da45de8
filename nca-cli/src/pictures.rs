//! What `nca grow`, `nca regenerate`, `nca train`, `nca eval` and `nca export` share about
//! running a model for pictures: the run arguments, frames streamed step by step, outputs checked
//! before any work.

use std::path::{Path, PathBuf};

use anyhow::bail;
use burn::tensor::Tensor;
use clap::Args;
use image::RgbImage;
use nca_core::Nca;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_data::GifOptions;

use nca_cli::backend::Compute;

/// How a model runs and how its pictures look.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Shipped model name (`nca targets` lists them), model file, run directory, or web-demo model
    /// (.json).
    #[arg(long, default_value = "gecko")]
    pub model: PathBuf,
    /// Grid size in cells (square).
    #[arg(long, default_value_t = 72, value_parser = clap::value_parser!(u32).range(3..=1024))]
    pub size: u32,
    /// Fire rate (default: the model's).
    #[arg(long, allow_negative_numbers = true)]
    pub fire_rate: Option<f64>,
    /// Rotation of the perception in degrees (default: the model's).
    #[arg(long, allow_negative_numbers = true)]
    pub angle: Option<f64>,
    /// Each cell becomes SCALE x SCALE pixels.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub scale: u32,
    /// Keep every N-th step as a frame.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub every: u32,
    /// Milliseconds per frame.
    #[arg(long, default_value_t = 40)]
    pub delay: u32,
    /// Random seed of the fire decisions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl RunArgs {
    pub fn model(&self, compute: &Compute) -> anyhow::Result<Nca> {
        let model = compute.load_model(&self.model)?;
        let mut config = model.config().clone();
        config.fire_rate = self.fire_rate.unwrap_or(config.fire_rate);
        config.perception_angle_deg = self.angle.unwrap_or(config.perception_angle_deg);
        Ok(model.with_run_config(config)?)
    }

    /// Refuses frames larger than [`MAX_PICTURE_SIDE`] pixels before any work is done.
    pub fn check_picture_size(&self) -> anyhow::Result<()> {
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

    pub fn gif(&self) -> GifOptions {
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
pub fn run_frames(
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
pub fn picture(model: &Nca, state: &Tensor<4>) -> RgbImage {
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
