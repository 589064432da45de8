//! `nca train`: a training run with progress, Ctrl-C handling and pictures in its directory.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use burn::tensor::{Device, Tensor, TensorData};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use nca_data::{GifOptions, NotoEdition, Target, TargetOptions, TargetSource, TargetSpec};
use nca_train::{
    CHECKPOINT_FILE, Checkpoint, Control, Experiment, GROWTH_PICTURE, GoalRun, GradientMode,
    LOSS_PICTURE, METRICS_FILE, MemoryUse, Metrics, Observer, POOL_PICTURE, RunDir, TrainConfig,
    TrainError, Trainer,
};

use crate::pictures::growth_frames;
use nca_cli::backend::Compute;
use nca_cli::memory;
use nca_cli::models;
use nca_cli::note;

use crate::noto::Noto;

/// What to train on and how.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Target emoji (default: the embedded 🦎; others are fetched from Noto Emoji and cached).
    /// Several (`--emoji 🦎 🦋 😀`) train one goal-conditioned model whose goals they are, each
    /// prepared as one target would be (`--target-size`, `--padding`, `--noto`).
    #[arg(long, group = "target", num_args = 1.., value_name = "EMOJI")]
    emoji: Vec<String>,
    /// Target image file (PNG, JPEG, GIF, WebP, BMP).
    #[arg(long, group = "target")]
    image: Option<PathBuf>,
    /// Target image URL (http or https).
    #[arg(long, group = "target")]
    url: Option<String>,
    /// Train a self-organising texture on this image (PNG, JPEG, GIF, WebP, BMP, or `dots`, the
    /// texture nca ships) instead of growing a target: the textures paper's model (12 channels, identity, Sobel and Laplacian
    /// perception, a wrapped grid, no alive masking, a zero seed) and a patch loss.
    #[arg(long, group = "target", conflicts_with_all = ["padding", "noto", "quick"])]
    texture: Option<PathBuf>,
    /// A texture run's grid side, in cells [default: 64].
    #[arg(long, value_name = "CELLS", value_parser = clap::value_parser!(u32).range(8..=1024))]
    grid: Option<u32>,
    /// The drawing of the paper's ten emoji: Noto of February 2020 as the paper, or today's
    /// [default: 2020].
    #[arg(long, value_enum)]
    noto: Option<Noto>,
    /// The target is scaled to fit a SIZE x SIZE box [default: 40, the paper's; a texture 128].
    #[arg(long, value_name = "SIZE", value_parser = clap::value_parser!(u32).range(1..=1024))]
    target_size: Option<u32>,
    /// Old name of --target-size.
    #[arg(long = "size", value_name = "SIZE", hide = true, conflicts_with = "target_size", value_parser = clap::value_parser!(u32).range(1..=1024))]
    old_size: Option<u32>,
    /// Empty cells around the target on every side [default: 16, the paper's].
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1024))]
    padding: Option<u32>,
    /// The paper's experiment: sets the pool and damage [default: regenerating; texture with
    /// --texture].
    #[arg(long, value_enum)]
    experiment: Option<Experiment>,
    /// Training config (TOML, e.g. a run's config.toml, which holds the target too); flags
    /// override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run directory for the model, checkpoint, metrics and pictures [default: runs/EXPERIMENT].
    #[arg(long, conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Continue the run in this directory from its checkpoint.
    #[arg(long, conflicts_with_all = [
        "target", "config", "experiment", "target_size", "old_size", "padding", "noto",
    ])]
    resume: Option<PathBuf>,
    /// Start from this model's weights instead of random ones (fine-tuning): a shipped model's
    /// name, a model file or a run directory. The run takes the model's architecture and settings.
    #[arg(long, conflicts_with_all = [
        "resume", "channels", "hidden_units", "fire_rate", "living_threshold", "update_scale",
        "trainable_perception", "angle",
    ])]
    from: Option<PathBuf>,
    /// Small and fast: 24 px target, padding 6, batch 4 (at most 1 damaged), 32 to 47 steps,
    /// 1000 iterations: about half a minute on 2 CPU cores, a gecko that grows in some 40 steps
    /// but is too small and short a run to keep its shape for long or to regrow it (`nca eval
    /// --model gecko`: persistence MSE @2000 5e-2, recovered below 0); the paper's settings, as
    /// in gecko-regenerating, do both.
    #[arg(long, conflicts_with_all = ["config", "resume", "target_size", "old_size", "padding"])]
    quick: bool,
    /// A goal run's share of each batch that starts from a grown pattern of one goal and learns
    /// to turn into another [default: 0.25; 0 without a pool, as in --experiment growing].
    #[arg(
        long,
        value_name = "SHARE",
        conflicts_with = "resume",
        allow_negative_numbers = true
    )]
    morph_share: Option<f64>,
    /// Write a checkpoint and refresh the pictures every N iterations [default: 100].
    #[arg(long)]
    checkpoint_every: Option<usize>,
    #[command(flatten)]
    overrides: Overrides,
}

/// `--gradient`: the kinds of [`GradientMode`] (global clipping's norm is `--max-norm`).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Gradient {
    /// The paper: each parameter's gradient divided by its own norm.
    PerParameterNorm,
    /// All gradients scaled down together above `--max-norm` (jax-nca, CAX).
    GlobalClip,
    /// Gradients as they are.
    Raw,
}

/// Flags for every training config field; each overrides the preset or config file.
#[derive(Args, Debug, Default)]
struct Overrides {
    /// Random seed of the whole run [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Training iterations; with --resume, the new total, to train a finished run further
    /// [default: 8000, --quick 1000].
    #[arg(long)]
    iterations: Option<usize>,
    /// Samples per batch [default: 8, --quick 4].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Sample pool size, 0 for none: every batch starts from seeds [default: 1024, growing 0].
    #[arg(long)]
    pool_size: Option<usize>,
    /// Samples damaged per batch [default: 3, growing and persistent 0].
    #[arg(long)]
    damaged: Option<usize>,
    /// Fewest rollout steps per iteration [default: 64, --quick 32].
    #[arg(long)]
    min_steps: Option<usize>,
    /// Rollout steps are drawn from --min-steps up to this, this excluded, as the paper's
    /// randint(64, 96) draws 64 to 95 [default: 96, --quick 48].
    #[arg(long)]
    max_steps: Option<usize>,
    /// Initial learning rate [default: 2e-3].
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Learning rate drops: ITERATION:RATE, comma separated, or `none` [default: 2000:2e-4].
    #[arg(long, value_delimiter = ',', value_parser = parse_drop)]
    lr_drops: Option<Vec<LrDrop>>,
    /// Gradient conditioning [default: per-parameter-norm, the paper's].
    #[arg(long, value_enum)]
    gradient: Option<Gradient>,
    /// Largest joint gradient norm for --gradient global-clip [default: 1].
    #[arg(long, allow_negative_numbers = true)]
    max_norm: Option<f64>,
    /// Channels per cell [default: 16].
    #[arg(long)]
    channels: Option<usize>,
    /// Hidden units of the update network [default: 128].
    #[arg(long)]
    hidden_units: Option<usize>,
    /// Probability that a cell updates in a step, in (0, 1] [default: 0.5].
    #[arg(long, allow_negative_numbers = true)]
    fire_rate: Option<f64>,
    /// Alpha above which a cell's neighbourhood is alive [default: 0.1].
    #[arg(long, allow_negative_numbers = true)]
    living_threshold: Option<f64>,
    /// Factor on every update [default: 1].
    #[arg(long, allow_negative_numbers = true)]
    update_scale: Option<f64>,
    /// Learn the perception filters.
    #[arg(long)]
    trainable_perception: bool,
    /// Rotation of the perception filters in degrees [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    angle: Option<f64>,
}

/// One item of `--lr-drops`: a drop, or `none`.
#[derive(Debug, Clone, Copy)]
enum LrDrop {
    At(usize, f64),
    None,
}

fn parse_drop(text: &str) -> Result<LrDrop, String> {
    if text.trim() == "none" {
        return Ok(LrDrop::None);
    }
    let (iteration, rate) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not ITERATION:RATE"))?;
    let iteration = iteration
        .trim()
        .parse()
        .map_err(|_| format!("{iteration:?} is not an iteration number"))?;
    let rate = rate
        .trim()
        .parse()
        .map_err(|_| format!("{rate:?} is not a learning rate"))?;
    Ok(LrDrop::At(iteration, rate))
}

impl Overrides {
    fn apply(&self, mut config: TrainConfig) -> anyhow::Result<TrainConfig> {
        macro_rules! set {
            ($($flag:ident => $($field:ident).+),* $(,)?) => {
                $(if let Some(value) = self.$flag.clone() { config.$($field).+ = value; })*
            };
        }
        set!(
            seed => seed, iterations => iterations, batch_size => batch_size, pool_size => pool_size,
            damaged => damaged_per_batch, min_steps => min_steps, max_steps => max_steps,
            lr => learning_rate.initial, channels => model.channels,
            hidden_units => model.hidden_units, fire_rate => model.fire_rate,
            living_threshold => model.living_threshold, update_scale => model.update_scale,
            angle => model.perception_angle_deg,
        );
        if let Some(drops) = &self.lr_drops {
            config.learning_rate.drops = drops
                .iter()
                .filter_map(|drop| match *drop {
                    LrDrop::At(iteration, rate) => Some((iteration, rate)),
                    LrDrop::None => None,
                })
                .collect();
        }
        if self.trainable_perception {
            config.model.trainable_perception = true;
        }
        if let Some(gradient) = self.gradient {
            config.gradient = match gradient {
                Gradient::PerParameterNorm => GradientMode::PerParameterNorm,
                Gradient::GlobalClip => GradientMode::GlobalClip {
                    max_norm: self.max_norm.unwrap_or(1.0),
                },
                Gradient::Raw => GradientMode::Raw,
            };
        }
        if self.max_norm.is_some() && !matches!(config.gradient, GradientMode::GlobalClip { .. }) {
            bail!("--max-norm applies only with --gradient global-clip");
        }
        Ok(config)
    }
}

impl TrainArgs {
    fn experiment(&self) -> Experiment {
        match self.texture {
            Some(_) => Experiment::Texture,
            None => self.experiment.unwrap_or_default(),
        }
    }

    /// Refuses a texture flag in a growing run and the reverse.
    fn check_kind(&self) -> anyhow::Result<()> {
        match (self.texture.is_some(), self.experiment) {
            (true, Some(experiment)) if experiment != Experiment::Texture => bail!(
                "--texture trains a texture, but --experiment {experiment} grows a target picture; leave one out"
            ),
            (false, Some(Experiment::Texture)) if self.config.is_none() => {
                bail!("--experiment texture needs the texture: pass --texture IMAGE")
            }
            _ => Ok(()),
        }
    }

    /// The config of a new run: preset or file, then `--quick`, then the flags.
    fn new_config(&self) -> anyhow::Result<TrainConfig> {
        self.check_kind()?;
        let mut config = match &self.config {
            Some(path) => {
                let text = nca_core::io::read_text_limited(
                    path,
                    nca_train::MAX_CONFIG_BYTES,
                    "training config",
                )
                .with_context(|| format!("cannot read config {}", path.display()))?;
                TrainConfig::from_toml(&text)
                    .with_context(|| format!("config {}", path.display()))?
            }
            None => TrainConfig::preset(self.experiment()),
        };
        if self.config.is_some() && self.experiment.is_some() {
            let preset = TrainConfig::preset(self.experiment());
            (
                config.experiment,
                config.pool_size,
                config.damaged_per_batch,
            ) = (
                preset.experiment,
                preset.pool_size,
                preset.damaged_per_batch,
            );
        }
        if self.quick {
            config = TrainConfig {
                batch_size: 4,
                damaged_per_batch: config.damaged_per_batch.min(1),
                min_steps: 32,
                max_steps: 48,
                iterations: 1000,
                checkpoint_every: 100,
                ..config
            };
        }
        if let Some(every) = self.checkpoint_every {
            config.checkpoint_every = every;
        }
        let fresh_texture = self.texture.is_some() && config.target.is_none();
        if self.emoji.len() > 1 {
            // A goal run from the command line: one target per emoji, each as one would be.
            let base = self.target_spec(config.target.take())?;
            let targets = self
                .emoji
                .iter()
                .map(|emoji| TargetSpec {
                    source: TargetSource::Emoji(emoji.clone()),
                    ..base.clone()
                })
                .collect();
            config.model.goals = self.emoji.clone();
            config.goals = Some(GoalRun {
                targets,
                ..config.goals.take().unwrap_or_default()
            });
        } else if config.goals.is_some() && !self.has_target_flag() {
            // A goal run's config: each goal's target takes the flags as one target would.
            let goals = config.goals.as_mut().expect("checked");
            for spec in &mut goals.targets {
                *spec = self.target_spec(Some(spec.clone()))?;
            }
        } else {
            if self.has_target_flag() {
                // One target given over a goal run's config: a run of that one target.
                config.model.goals.clear();
                config.goals = None;
            }
            config.target = Some(self.target_spec(config.target.take())?);
        }
        if let Some(spec) = config.target.as_mut().filter(|_| fresh_texture) {
            // A texture keeps its pixels: a larger box, nothing around it.
            spec.options = TargetOptions {
                size: self.target_size.unwrap_or(TEXTURE_SIZE),
                padding: 0,
            };
        }
        match (&mut config.texture, self.grid) {
            (Some(texture), Some(grid)) => texture.grid = grid as usize,
            (None, Some(_)) => bail!(
                "--grid sets a texture run's grid; a growing run's grid is its target with --padding around"
            ),
            _ => {}
        }
        let mut config = self.overrides.apply(config)?;
        match (&mut config.goals, self.morph_share) {
            (Some(goals), Some(share)) => goals.morph_share = share,
            // Morphs start from grown pool states: a run without a pool trains none.
            (Some(goals), None) if config.pool_size == 0 => goals.morph_share = 0.0,
            (None, Some(_)) => {
                bail!("--morph-share applies to a goal run, of several targets (--emoji 🦎 🦋 😀)")
            }
            _ => {}
        }
        config.validate()?;
        Ok(config)
    }

    /// The target of a new run: the config file's, each part replaced by the flags given;
    /// `--quick` fits it into 24 cells with 6 around.
    fn target_spec(&self, from_config: Option<TargetSpec>) -> anyhow::Result<TargetSpec> {
        let mut spec = from_config.unwrap_or_default();
        match (self.emoji.first(), &self.image, &self.url) {
            (Some(emoji), _, _) => spec.source = TargetSource::Emoji(emoji.clone()),
            (_, Some(path), _) => spec.source = TargetSource::File(path.clone()),
            (_, _, Some(url)) => spec.source = TargetSource::Url(url.clone()),
            _ => {}
        }
        if let Some(path) = &self.texture {
            spec.source = texture_source(path);
        }
        if let TargetSource::File(path) = &spec.source
            && path.to_str().is_none()
        {
            bail!(
                "the image path {} is not UTF-8, which a run's config.toml cannot hold; rename it",
                path.display()
            );
        }
        if self.quick {
            spec.options = TargetOptions {
                size: 24,
                padding: 6,
            };
        }
        if let Some(size) = self.old_size {
            note!("note: train's --size is now --target-size (the target's box)");
            spec.options.size = size;
        }
        spec.options.size = self.target_size.unwrap_or(spec.options.size);
        spec.options.padding = self.padding.unwrap_or(spec.options.padding);
        spec.edition = self.noto.map_or(spec.edition, NotoEdition::from);
        Ok(spec)
    }

    /// Whether a target is given by a flag (`--emoji`, `--image`, `--url`, `--texture`).
    fn has_target_flag(&self) -> bool {
        !self.emoji.is_empty()
            || self.image.is_some()
            || self.url.is_some()
            || self.texture.is_some()
    }

    /// Loads the run's target (or texture), refusing one with no shape to grow.
    fn target(spec: &TargetSpec, texture: bool) -> anyhow::Result<Target> {
        let target = spec.load()?;
        let source = &spec.source;
        let cells = target.height * target.width;
        if target.rgba[3 * cells..].iter().all(|&alpha| alpha == 0.0) {
            bail!("{source} is fully transparent: it has no shape to grow");
        }
        if !target.had_alpha && !texture {
            note!(
                "note: {source} has no alpha channel; the whole image is taken as the shape to grow"
            );
        }
        Ok(target)
    }
}

/// `--texture`: an image file, or when no such file exists, one of nca's built-in textures.
pub(crate) fn texture_source(path: &std::path::Path) -> TargetSource {
    match path
        .to_str()
        .filter(|name| !path.exists() && nca_data::texture_png(name).is_some())
    {
        Some(name) => TargetSource::Texture(name.into()),
        None => TargetSource::File(path.into()),
    }
}

/// The box a texture image is scaled into by default, in pixels (one pixel per cell).
pub(crate) const TEXTURE_SIZE: u32 = 128;

/// A refused run directory with what to do instead, in this command's flags.
fn with_hint(err: TrainError) -> anyhow::Error {
    let message = match &err {
        TrainError::RunExists { path } => {
            let shown = path.display();
            match Checkpoint::progress(&path.join(CHECKPOINT_FILE)) {
                Some((done, total)) if done >= total => format!(
                    "{shown} has finished its {}; pass --resume {shown} --iterations N \
                     (N > {done}) to train on, or choose another --out",
                    iterations(done)
                ),
                Some((done, total)) => format!(
                    "{shown} already holds a run, stopped at iteration {done} of {total}; \
                     continue it with --resume {shown} or choose another --out"
                ),
                None => format!("{err}; continue it with --resume {shown} or choose another --out"),
            }
        }
        TrainError::NotEmpty { .. } => format!("{err}; choose a new or empty directory with --out"),
        TrainError::RunDir { path, .. } if path.exists() && !path.is_dir() => format!(
            "{} is {}; choose a new or empty directory with --out",
            path.display(),
            if path.is_file() {
                "a file, not a run directory"
            } else {
                "not a directory"
            }
        ),
        _ => return err.into(),
    };
    anyhow::anyhow!(message)
}

/// Refuses to resume a run with nothing left to train: one that has `done` the iterations its
/// config, as `--iterations` (`given`) may have changed it, asks for.
fn check_left(
    dir: &std::path::Path,
    done: usize,
    wanted: &TrainConfig,
    given: Option<usize>,
) -> anyhow::Result<()> {
    if done < wanted.iterations {
        return Ok(());
    }
    let dir = dir.display();
    match given {
        Some(given) if given < done => bail!(
            "{dir} has done {}, more than --iterations {given}; pass --iterations N \
             (N > {done}) to train on",
            iterations(done)
        ),
        _ => bail!(
            "{dir} has finished its {}; pass --iterations N (N > {done}) to train on",
            iterations(done)
        ),
    }
}

/// "1 iteration", "2 iterations".
fn iterations(count: usize) -> String {
    format!("{count} iteration{}", if count == 1 { "" } else { "s" })
}

/// Runs `nca train`.
pub fn run(args: TrainArgs, compute: &Compute) -> anyhow::Result<()> {
    // First of all, so that Ctrl-C (or SIGTERM) at any moment stops the run with a checkpoint.
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    let device = compute.device.clone();
    let (trainer, run_dir) = match &args.resume {
        Some(dir) => {
            // Its errors name the directory or the checkpoint.
            let (run_dir, checkpoint) = RunDir::open(dir)?;
            let mut wanted = checkpoint.config.clone();
            wanted.checkpoint_every = args.checkpoint_every.unwrap_or(wanted.checkpoint_every);
            let wanted = args.overrides.apply(wanted)?;
            // A change that makes it another run is refused first, then a resume with nothing
            // left to train, before config.toml is rewritten to say what the checkpoint will.
            let cannot = || format!("cannot resume {}", dir.display());
            checkpoint.check_config(&wanted).with_context(cannot)?;
            check_left(
                dir,
                checkpoint.iteration,
                &wanted,
                args.overrides.iterations,
            )?;
            let checkpoint = run_dir.resume(checkpoint, wanted).with_context(cannot)?;
            (Trainer::resume(checkpoint, &device)?, run_dir)
        }
        None => {
            let start = args
                .from
                .as_ref()
                .map(|path| models::load(path, &device))
                .transpose()?;
            let mut config = args.new_config()?;
            if let Some(model) = &start {
                config.model = model.config().clone();
            }
            let dir = args
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from("runs").join(config.experiment.to_string()));
            // Refused before the target is fetched and anything allocated.
            RunDir::check_new(&dir).map_err(with_hint)?;
            let texture = config.texture.is_some();
            let specs = match (&mut config.target, &mut config.goals) {
                (Some(spec), _) => vec![spec],
                (None, Some(goals)) => goals.targets.iter_mut().collect(),
                (None, None) => unreachable!("new_config sets a target or the goals' targets"),
            };
            let mut targets = Vec::with_capacity(specs.len());
            for spec in specs {
                targets.push(TrainArgs::target(spec, texture)?);
                // Kept as an absolute path, so that the run's config.toml trains it again from
                // anywhere.
                if let TargetSource::File(path) = &spec.source {
                    spec.source = TargetSource::File(std::path::absolute(path)?);
                }
            }
            let target = &targets[0];
            let grid = config
                .texture
                .as_ref()
                .map_or([target.height, target.width], |texture| {
                    [texture.grid, texture.grid]
                });
            if let Some(texture) = &config.texture {
                texture.loss.check_texture([target.height, target.width])?;
            }
            check_memory(&config, grid)?;
            if config.model.has_goals() {
                note!(
                    "note: a goal run of {}; its growth.gif shows every goal, left to right (`nca grow --goal NAME` grows one)",
                    config.model.goals.join(", ")
                );
            }
            let tensors: Vec<_> = targets
                .iter()
                .map(|target| target.tensor(&device))
                .collect();
            let run_dir = RunDir::create(&dir, &config).map_err(with_hint)?;
            let trainer = if config.model.has_goals() {
                Trainer::new_goals(config, tensors, &device)?
            } else {
                let tensor = tensors.into_iter().next().expect("one target");
                Trainer::new(config, tensor, &device)?
            };
            let trainer = match start {
                Some(model) => trainer.with_model(model)?,
                None => trainer,
            };
            (trainer, run_dir)
        }
    };
    let dir = run_dir.path().to_path_buf();
    let mut trainer = trainer.with_engine(compute.engine);
    let config = trainer.config().clone();
    note!(
        "training {} ({} iterations, pool {}, {} damaged per batch) on {} into {}",
        config.experiment,
        config.iterations,
        config.pool_size,
        config.damaged_per_batch,
        compute.backend,
        dir.display()
    );
    let started = Instant::now();
    let first_iteration = trainer.iteration();
    let mut progress = Progress::new(&trainer, device, interrupted.clone());
    trainer.run(Some(&run_dir), &mut progress)?;
    progress.bar.finish_and_clear();
    let interrupted = interrupted.load(Ordering::SeqCst);
    let this_run = trainer.iteration() - first_iteration;
    let recent = run_dir.losses();
    let recent = &recent[recent.len().saturating_sub(SUMMARY_LOSSES)..];
    let final_loss = recent.iter().sum::<f64>() / recent.len().max(1) as f64;
    let progress_line = if interrupted {
        format!(
            "interrupted: checkpoint written at iteration {} of {}",
            trainer.iteration(),
            config.iterations
        )
    } else {
        format!("done: {} iterations", trainer.iteration())
    };
    note!(
        "{progress_line} ({this_run} in this run, {:.1} s); final loss {final_loss:.6} (mean of the last {})",
        started.elapsed().as_secs_f64(),
        recent.len(),
    );
    let path = |file: &str| dir.join(file).display().to_string();
    let mut pictures = vec![GROWTH_PICTURE, LOSS_PICTURE];
    if trainer.pool().is_some() {
        pictures.push(POOL_PICTURE);
    }
    let pictures = pictures.join(", ");
    note!("  model       {}", path(nca_train::MODEL_FILE));
    note!("  checkpoint  {}", path(CHECKPOINT_FILE));
    note!("  metrics     {}", path(METRICS_FILE));
    note!("  pictures    {} ({pictures})", dir.display());
    let dir = dir.display();
    // The run is over: its lock goes (`process::exit` below would skip the drop).
    drop(run_dir);
    if interrupted {
        note!("continue with `nca train --resume {dir}`");
        // As a Unix tool stopped by SIGINT, so that scripts tell it from a finished run.
        std::process::exit(130);
    } else if let Some(goal) = config.model.goals.last() {
        note!(
            "next: `nca grow --model {dir} --goal {goal}`, `nca regenerate --model {dir} --goal {goal}`, `nca eval --model {dir}`, `nca serve --model {dir}`"
        );
    } else {
        note!(
            "next: `nca grow --model {dir}`, `nca regenerate --model {dir}`, `nca eval --model {dir}`, `nca serve --model {dir}`"
        );
    }
    Ok(())
}

/// Refuses, before anything is allocated, a run that cannot fit in the memory this machine has
/// available ([`memory::check`]). The message names the flags that lower what takes the most.
fn check_memory(config: &TrainConfig, grid: [usize; 2]) -> anyhow::Result<()> {
    let need = config.memory_need(grid);
    let flags = match need.largest {
        MemoryUse::UpdateNetwork => "--hidden-units, --channels",
        MemoryUse::SamplePool { .. } => "--pool-size, or the grid: --size, --padding",
        MemoryUse::Rollouts { .. } => "--batch-size, --max-steps, or the grid: --size, --padding",
    };
    memory::check(&memory::Need {
        bytes: need.bytes,
        mostly: need.largest.to_string(),
        flags,
    })
}

/// Losses in the final-loss figure of the summary.
const SUMMARY_LOSSES: usize = 50;

/// Draws the progress bar, stops on Ctrl-C, refreshes the run's pictures at each checkpoint.
struct Progress {
    bar: ProgressBar,
    interrupted: Arc<AtomicBool>,
    device: Device,
}

impl Progress {
    fn new(trainer: &Trainer, device: Device, interrupted: Arc<AtomicBool>) -> Self {
        let bar = ProgressBar::new(trainer.config().iterations as u64)
            .with_position(trainer.iteration() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} {rate} eta {eta}")
                .expect("a valid template")
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                        let _ = write!(out, "{:.1} it/s", state.per_sec());
                    },
                ),
        );
        Self {
            bar,
            interrupted,
            device,
        }
    }
}

impl Observer for Progress {
    fn on_iteration(&mut self, metrics: &Metrics) -> Control {
        self.bar.set_position(metrics.iteration as u64 + 1);
        self.bar
            .set_message(format!("loss {:.5} lr {:.1e}", metrics.loss, metrics.lr));
        if self.interrupted.load(Ordering::SeqCst) {
            Control::Stop
        } else {
            Control::Continue
        }
    }

    fn on_checkpoint(&mut self, dir: &RunDir, trainer: &Trainer) {
        if let Err(err) = refresh_pictures(dir, trainer, &self.device) {
            let iteration = trainer.iteration();
            self.bar.suspend(|| {
                note!("warning: pictures not refreshed at iteration {iteration}: {err:#}")
            });
        }
    }
}

/// Rewrites the run directory's pictures: growth, loss and (with a pool) the pool.
fn refresh_pictures(dir: &RunDir, trainer: &Trainer, device: &Device) -> anyhow::Result<()> {
    let model = trainer.model();
    let [height, width] = trainer.grid();
    let steps = trainer.config().max_steps;
    // Every goal (a model without goals has one), side by side, from the same seed and fire
    // decisions.
    let goals = model.config().goals.len().max(1);
    let mut runs: Vec<_> = (0..goals)
        .map(|goal| growth_frames(&model, goal, height, width, steps, 2, 0))
        .collect();
    let (mut frames, numbers) = runs.remove(0);
    if goals > 1 {
        for (index, frame) in frames.iter_mut().enumerate() {
            let row: Vec<_> = std::iter::once(frame.clone())
                .chain(runs.iter().map(|(run, _)| run[index].clone()))
                .collect();
            *frame = nca_data::grid_image(&row, goals);
        }
    }
    nca_data::save_gif(
        &dir.file(GROWTH_PICTURE),
        &frames,
        Some(&numbers),
        GifOptions::default(),
    )?;

    nca_core::io::write_atomic(
        &dir.file(LOSS_PICTURE),
        crate::plot::loss_svg(&dir.losses()).as_bytes(),
    )?;

    if let Some(pool) = trainer.pool() {
        let [channels, height, width] = pool.shape();
        let shown: Vec<f32> = pool
            .states()
            .iter()
            .take(POOL_PICTURE_SAMPLES)
            .flatten()
            .copied()
            .collect();
        let count = shown.len() / (channels * height * width);
        let state = Tensor::<4>::from_data(
            TensorData::new(shown, [count, channels, height, width]),
            device,
        );
        let images: Vec<_> = nca_data::white_images(model.config(), state)
            .iter()
            .map(|image| nca_data::scale_up(image, 2))
            .collect();
        nca_data::save_png(&dir.file(POOL_PICTURE), nca_data::grid_image(&images, 8))?;
    }
    Ok(())
}

/// Pool states shown in the pool's picture.
const POOL_PICTURE_SAMPLES: usize = 32;
