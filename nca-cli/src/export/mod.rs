//! `nca export`: a model in the paper's web-demo format, one HTML file that runs models in any
//! browser on its GPU (WebGL2), with nothing installed and no server, or a model's weights as
//! safetensors for numpy and PyTorch.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, ValueEnum};
use nca_core::Nca;

use crate::arrays::safetensors_bytes;
use crate::pictures::{GridArg, check_output};
use crate::web::standalone_page;
use nca_cli::backend::Compute;
use nca_cli::models;
use nca_cli::note;

/// What `nca export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The paper's web-demo JSON (two quantised dense layers); one model.
    Distill,
    /// One self-contained HTML page running the models in the browser (WebGL2).
    Html,
    /// The weights as float32 tensors by name, the config in the metadata (numpy, PyTorch); one
    /// model.
    Safetensors,
}

impl Format {
    /// The name `--format` takes.
    fn name(self) -> &'static str {
        match self {
            Self::Distill => "distill",
            Self::Html => "html",
            Self::Safetensors => "safetensors",
        }
    }
}

/// Arguments of `nca export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Models to export (shipped names, model files, run directories, web-demo .json); the page
    /// offers them all, the distill and safetensors formats take one.
    #[arg(long, num_args = 1.., required = true)]
    model: Vec<PathBuf>,
    /// The format.
    #[arg(long, value_enum)]
    format: Format,
    /// The file to write (.json for distill, .html for html, .safetensors for safetensors).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    grid: GridArg,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
}

/// Runs `nca export`.
pub fn run(args: ExportArgs, compute: &Compute) -> anyhow::Result<()> {
    let extension = match args.format {
        Format::Distill => "json",
        Format::Html => "html",
        Format::Safetensors => "safetensors",
    };
    check_output(&args.out, &[extension], args.force)?;
    models::check_count(&args.model)?;
    let loaded = args
        .model
        .iter()
        .map(|path| Ok((models::name(path), compute.load_model(path)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let one = || match loaded.as_slice() {
        [(name, model)] => Ok((name.as_str(), model)),
        _ => Err(anyhow!(
            "the {} format holds one model; export one at a time",
            args.format.name()
        )),
    };
    let bytes = match args.format {
        Format::Distill => {
            let (name, model) = one()?;
            nca_data::export_demo_model(model, name)?.into_bytes()
        }
        Format::Html => {
            let grid = args.grid.side(&args.model, 8..=256)?;
            let named: Vec<(&str, &Nca)> = loaded.iter().map(|(n, m)| (n.as_str(), m)).collect();
            standalone_page(&named, grid as usize).into_bytes()
        }
        Format::Safetensors => {
            let (name, model) = one()?;
            safetensors_bytes(model, name)?
        }
    };
    nca_core::io::write_atomic(&args.out, &bytes)?;
    note!(
        "wrote {} ({} model{})",
        args.out.display(),
        loaded.len(),
        if loaded.len() == 1 { "" } else { "s" }
    );
    Ok(())
}
