//! `nca info`: what a model file, run directory or checkpoint holds.

use std::path::PathBuf;

use burn::module::Module;
use clap::Args;
use nca_core::Nca;
use nca_train::Checkpoint;

use nca_cli::backend::Compute;
use nca_cli::{out, say};

/// Arguments of `nca info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// A model file, run directory, web-demo model (.json) or checkpoint (.nckpt).
    path: PathBuf,
}

/// Runs `nca info`.
pub fn run(args: InfoArgs, compute: &Compute) -> anyhow::Result<()> {
    let device = &compute.device;
    let checkpoint = if args.path.extension().is_some_and(|ext| ext == "nckpt") {
        Some(args.path.clone())
    } else {
        Some(args.path.join(nca_train::CHECKPOINT_FILE)).filter(|path| path.is_file())
    };
    if let Some(path) = checkpoint {
        let checkpoint = Checkpoint::load(&path)?;
        let model = Nca::from_bytes(&checkpoint.model, device)
            .map_err(|problem| anyhow::anyhow!("the model in {} {problem}", path.display()))?;
        say!("checkpoint {}", out::path(&path));
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
        let model = compute.load_model(&args.path)?;
        say!("model {}", out::path(&args.path));
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
    if config.has_goals() {
        say!(
            "goals: {} ({} goals, embeddings of {}; `nca grow --goal NAME`)",
            config.goals.join(", "),
            config.goals.len(),
            config.goal_size
        );
    }
}
