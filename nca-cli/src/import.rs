//! `nca import`: a model of the paper's web demo into an nca model file.

use std::path::PathBuf;

use anyhow::{Context, bail};
use burn::module::Module;
use clap::Args;

use nca_cli::backend::Compute;
use nca_cli::note;

/// Arguments of `nca import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A model of the paper's web demo (`public/webgl_models8/*.json`).
    from: PathBuf,
    /// The nca model file to write (`.nca`; a web-demo model cannot be its own output).
    #[arg(long, default_value = "imported.nca")]
    out: PathBuf,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
}

/// Runs `nca import`.
pub fn run(args: ImportArgs, compute: &Compute) -> anyhow::Result<()> {
    if !args.from.is_file() {
        bail!(
            "{} is not a file: give a web-demo model (.json) to import",
            args.from.display()
        );
    }
    if args.out.extension().is_none_or(|ext| ext != "nca") {
        bail!(
            "{} must end in .nca: import writes an nca model file",
            args.out.display()
        );
    }
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
    let model = nca_data::import_demo_model_file(&args.from, &compute.device)?;
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
