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
    #[arg(long, default_value = nca_cli::models::REGROWING)]
    pub model: PathBuf,
    #[command(flatten)]
    pub grid: GridArg,
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
    /// Milliseconds per frame (GIF keeps hundredths of a second: 10 to 655,350).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(10..=655_350))]
    pub delay: u32,
    /// Random seed of the fire decisions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The goal a goal-conditioned model grows, by name (`nca info` lists them) [default: its
    /// first].
    #[arg(long, value_name = "NAME")]
    pub goal: Option<String>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

impl RunArgs {
    pub fn model(&self, compute: &Compute) -> anyhow::Result<Nca> {
        let model = compute.load_model(&self.model)?;
        let mut config = model.config().clone();
        config.fire_rate = self.fire_rate.unwrap_or(config.fire_rate);
        config.perception_angle_deg = self.angle.unwrap_or(config.perception_angle_deg);
        Ok(model.with_run_config(config)?)
    }

    /// The goal `model` grows: `--goal`'s index among the model's goals, else goal 0 (with a note
    /// naming the goals, for a goal model); refused in one line for a goal the model does not
    /// have, and for `--goal` on a model without goals.
    pub fn goal(&self, model: &Nca) -> anyhow::Result<usize> {
        let config = model.config();
        match &self.goal {
            None if config.has_goals() => {
                nca_cli::note!(
                    "note: {} grows one of the goals {}; growing the first, {} (pass --goal NAME for another)",
                    nca_cli::models::name(&self.model),
                    config.goals.join(", "),
                    config.goals[0]
                );
                Ok(0)
            }
            None => Ok(0),
            Some(goal) => self.goal_named(model, goal, "--goal"),
        }
    }

    /// The index of the goal `name` among `model`'s goals; refused in one line, naming `flag`,
    /// for a goal the model does not have or a model without goals.
    pub fn goal_named(&self, model: &Nca, name: &str, flag: &str) -> anyhow::Result<usize> {
        let config = model.config();
        let model_name = nca_cli::models::name(&self.model);
        if !config.has_goals() {
            bail!(
                "{flag} {name}: {model_name} has no goals (it grows one target); leave {flag} out"
            )
        }
        config.goal_index(name).ok_or_else(|| {
            anyhow::anyhow!(
                "{name} is not a goal of {model_name}; it has {}",
                config.goals.join(", ")
            )
        })
    }

    /// The grid's side: `--grid`, else the model's own.
    pub fn grid_side(&self) -> anyhow::Result<usize> {
        let side = self
            .grid
            .side(std::slice::from_ref(&self.model), 3..=1024)?;
        Ok(side as usize)
    }

    /// Refuses frames of a `grid`-cell side larger than [`MAX_PICTURE_SIDE`] pixels, before any
    /// work is done.
    pub fn check_picture_size(&self, grid: usize) -> anyhow::Result<()> {
        let side = grid as u64 * u64::from(self.scale);
        if side > u64::from(MAX_PICTURE_SIDE) {
            bail!(
                "frames of {grid} cells at --scale {} would be {side}x{side} pixels, over the limit of {MAX_PICTURE_SIDE}; lower --scale or --grid",
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

/// `--grid`: the side of the square grid, by default the models' own (the old spelling `--size`
/// still works, with a note).
#[derive(Args, Debug)]
pub struct GridArg {
    /// Grid side in cells (square) [default: the model's own, its target's grid where known
    /// (36 for gecko), else the paper's 72].
    #[arg(long)]
    grid: Option<u32>,
    /// Old name of --grid.
    #[arg(long = "size", hide = true, conflicts_with = "grid")]
    old_size: Option<u32>,
}

impl GridArg {
    /// The side chosen, else the largest own grid of `models`; refused outside `allowed`.
    pub fn side(
        &self,
        models: &[PathBuf],
        allowed: std::ops::RangeInclusive<u32>,
    ) -> anyhow::Result<u32> {
        if let Some(side) = self.given(allowed.clone())? {
            return Ok(side);
        }
        let mut largest = 0;
        for model in models {
            largest = largest.max(nca_cli::models::own_grid(model)?);
        }
        Ok(largest.clamp(*allowed.start(), *allowed.end()))
    }

    /// The side given on the command line, if any; refused outside `allowed`.
    pub fn given(&self, allowed: std::ops::RangeInclusive<u32>) -> anyhow::Result<Option<u32>> {
        if self.old_size.is_some() {
            nca_cli::note!("note: --size is now --grid (the grid's side in cells)");
        }
        let side = self.grid.or(self.old_size);
        if let Some(side) = side
            && !allowed.contains(&side)
        {
            bail!(
                "--grid {side} is outside {}..={}",
                allowed.start(),
                allowed.end()
            );
        }
        Ok(side)
    }
}

/// Frames (over white) of `model` growing `goal` (0 for a model without goals) from its seed on
/// a `height x width` grid: the seed and every `every`-th step up to `steps`, with their step
/// numbers.
pub fn growth_frames(
    model: &Nca,
    goal: usize,
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
        goal,
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

/// Runs `model` towards `goal` (an index into its goals; 0 for a model without goals) for
/// `steps` steps from `state`, handing `frame` the state and its step number
/// (counted from `first_step`) at the start, after every `every` steps and at the end, so that
/// no more than one state is kept however long the run; returns the last state. The same fire
/// decisions as one [`Nca::advance_toward_goal`] of `steps` steps.
#[allow(clippy::too_many_arguments)]
pub fn run_frames(
    model: &Nca,
    goal: usize,
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
        state = model.advance_toward_goal(state, goal, chunk, rng);
        done += chunk;
        frame(&state, first_step + done)?;
    }
    Ok(state)
}

/// A one-sample state over white.
pub fn picture(model: &Nca, state: &Tensor<4>) -> RgbImage {
    nca_data::white_images(model.config(), state.clone()).remove(0)
}

/// The most steps `grow` and `regenerate` run in one stretch (a million: about a quarter of an hour
/// of a 72x72 grid on 2 cores).
pub const MAX_STEPS: u32 = 1_000_000;

/// The largest side of a picture, in pixels.
const MAX_PICTURE_SIDE: u32 = 4096;

/// Refuses to run, before any work is done, when the output's directory does not exist, its
/// extension is none of `formats` (lower case, e.g. `["gif", "png"]`), it is a directory, or it
/// exists and `force` is false: nothing is replaced without `--force`. Returns the extension.
pub fn check_output(path: &Path, formats: &[&str], force: bool) -> anyhow::Result<String> {
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
    if path.is_dir() {
        bail!("cannot write {}: it is a directory", path.display());
    }
    if !force && path.symlink_metadata().is_ok() {
        bail!("{} exists; pass --force to replace it", path.display());
    }
    Ok(extension)
}
