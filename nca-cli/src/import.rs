//! `nca import`: a model of the paper's web demo into an nca model file.

use std::path::PathBuf;

use anyhow::{Context, bail};
use burn::module::Module;
use clap::Args;

use crate::pictures::check_output;
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
    check_output(&args.out, &["nca"], args.force)?;
    if args.out.canonicalize().ok() == Some(args.from.canonicalize()?) {
        bail!(
            "{} is the model being imported: choose another --out",
            args.out.display()
        );
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
