//! `nca export`: a model in the paper's web-demo format, or one HTML file that runs models in
//! any browser on its GPU (WebGL2), with nothing installed and no server.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, ValueEnum};
use nca_core::Nca;

use crate::pictures::check_output;
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
}

/// Arguments of `nca export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Models to export (shipped names, model files, run directories, web-demo .json); the page
    /// offers them all, the distill format takes one.
    #[arg(long, num_args = 1.., required = true)]
    model: Vec<PathBuf>,
    /// The format.
    #[arg(long, value_enum)]
    format: Format,
    /// The file to write (.json for distill, .html for html).
    #[arg(long)]
    out: PathBuf,
    /// Grid size of the page, in cells.
    #[arg(long, default_value_t = 72, value_parser = clap::value_parser!(u32).range(8..=256))]
    size: u32,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
}

/// Runs `nca export`.
pub fn run(args: ExportArgs, compute: &Compute) -> anyhow::Result<()> {
    let extension = match args.format {
        Format::Distill => "json",
        Format::Html => "html",
    };
    check_output(&args.out, &[extension])?;
    if args.out.exists() && !args.force {
        bail!("{} exists; pass --force to replace it", args.out.display());
    }
    let loaded = args
        .model
        .iter()
        .map(|path| Ok((models::name(path), compute.load_model(path)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let text = match args.format {
        Format::Distill => {
            let [(name, model)] = loaded.as_slice() else {
                bail!("the distill format holds one model; export one at a time");
            };
            nca_data::export_demo_model(model, name)?
        }
        Format::Html => {
            let named: Vec<(&str, &Nca)> = loaded.iter().map(|(n, m)| (n.as_str(), m)).collect();
            standalone_page(&named, args.size as usize)
        }
    };
    nca_core::io::write_atomic(&args.out, text.as_bytes())?;
    note!(
        "wrote {} ({} model{})",
        args.out.display(),
        loaded.len(),
        if loaded.len() == 1 { "" } else { "s" }
    );
    Ok(())
}
