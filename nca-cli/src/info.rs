//! `nca import`, `nca info` and `nca targets`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use burn::module::Module;
use clap::Args;
use nca_core::Nca;
use nca_train::Checkpoint;

use crate::models;
use nca_cli::backend::{self, Backend};
use nca_cli::{note, say};

/// Arguments of `nca import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A model of the paper's web demo (`public/webgl_models8/*.json`).
    from: PathBuf,
    /// The nca model file to write.
    #[arg(long, default_value = "imported.nca")]
    out: PathBuf,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
}

/// Runs `nca import`.
pub fn import(args: ImportArgs, backend: Option<Backend>) -> anyhow::Result<()> {
    if args.out.is_dir() {
        bail!(
            "{} is a directory; give the file to write, e.g. --out {}",
            args.out.display(),
            args.out.join("imported.nca").display()
        );
    }
    if args.out.exists() && !args.force {
        bail!("{} exists; pass --force to replace it", args.out.display());
    }
    let (_, device) = backend::device(backend)?;
    let model = nca_data::import_demo_model_file(&args.from, &device)?;
    model
        .save(&args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    note!(
        "wrote {} ({} parameters)",
        args.out.display(),
        model.num_params()
    );
    Ok(())
}

/// Arguments of `nca info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// A model file, run directory, web-demo model (.json) or checkpoint (.nckpt).
    path: PathBuf,
}

/// Runs `nca info`.
pub fn info(args: InfoArgs, backend: Option<Backend>) -> anyhow::Result<()> {
    let (_, device) = backend::device(backend)?;
    let checkpoint = if args.path.extension().is_some_and(|ext| ext == "nckpt") {
        Some(args.path.clone())
    } else {
        Some(args.path.join(nca_train::CHECKPOINT_FILE)).filter(|path| path.is_file())
    };
    if let Some(path) = checkpoint {
        let checkpoint = Checkpoint::load(&path)?;
        let model = Nca::from_bytes(&checkpoint.model, &path, &device)?;
        say!("checkpoint {}", path.display());
        say!(
            "iteration: {} of {}",
            checkpoint.iteration,
            checkpoint.config.iterations
        );
        say!(
            "target: {:?} (colour + alpha, height, width)",
            checkpoint.target_shape
        );
        say!(
            "pool: {}",
            checkpoint
                .pool
                .as_ref()
                .map_or("none".into(), |p| format!("{} states", p.len()))
        );
        print_model(&model);
        say!("\n[training config]\n{}", checkpoint.config.to_toml());
    } else {
        let model = models::load(&args.path, &device)?;
        say!("model {}", args.path.display());
        print_model(&model);
    }
    Ok(())
}

fn print_model(model: &Nca) {
    let config = model.config();
    say!("parameters: {}", model.num_params());
    say!(
        "channels: {} ({} visible + alpha + {} hidden), hidden units: {}",
        config.channels,
        config.visible_channels,
        config.channels - config.visible_channels - 1,
        config.hidden_units
    );
    say!(
        "fire rate: {}, living threshold: {}, update scale: {}, perception: {} at {}°",
        config.fire_rate,
        config.living_threshold,
        config.update_scale,
        if config.trainable_perception {
            "learned"
        } else {
            "Sobel"
        },
        config.perception_angle_deg
    );
}

/// Runs `nca targets`.
pub fn targets() {
    say!("embedded emoji (no network needed):");
    for (emoji, _) in nca_data::EMBEDDED {
        let name = nca_data::noto_file_name(emoji).unwrap_or_default();
        let marker = if emoji == nca_data::DEFAULT_EMOJI {
            "  (default)"
        } else {
            ""
        };
        say!("  {emoji}  {name}{marker}");
    }
    say!(
        "any other emoji is fetched from Noto Emoji once and cached (set {} for a mirror)",
        nca_data::BASE_URL_ENV
    );
    let shipped: Vec<&str> = crate::models::SHIPPED
        .iter()
        .map(|(name, _)| *name)
        .collect();
    say!(
        "shipped models (give the name to --model): {}",
        shipped.join(", ")
    );
}
