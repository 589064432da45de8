//! `nca export`: a model in the paper's web-demo format, or one HTML file that runs models in
//! any browser on its GPU (WebGL2), with nothing installed and no server.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, ValueEnum};
use nca_core::Nca;
use serde::Serialize;

use crate::pictures::check_output;
use crate::serve::{CONTROLS_HTML, CONTROLS_PLACEHOLDER};
use nca_cli::backend::Compute;
use nca_cli::models;
use nca_cli::note;

/// The page: WebGL2 shaders, and placeholders for the controls and the models.
const PAGE: &str = include_str!("page.html");
/// Where the models' JSON goes in [`PAGE`].
const MODELS_PLACEHOLDER: &str = "__NCA_MODELS_JSON__";
/// The look of `nca serve`'s page, which the exported page shares.
const STYLE: &str = include_str!("../serve/assets/style.css");
/// Where [`STYLE`] goes in [`PAGE`].
const STYLE_PLACEHOLDER: &str = "__NCA_STYLE__";

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
            page(&named, args.size as usize)
        }
    };
    nca_core::write_atomic(&args.out, text.as_bytes())?;
    note!(
        "wrote {} ({} model{})",
        args.out.display(),
        loaded.len(),
        if loaded.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

/// The page with `models` (named) in it, on a `grid`-cell grid.
pub fn page(models: &[(&str, &Nca)], grid: usize) -> String {
    let page_models: Vec<PageModel> = models
        .iter()
        .map(|(name, model)| PageModel::new(name, model))
        .collect();
    let json = serde_json::to_string(&PageModels {
        grid,
        models: page_models,
    })
    .expect("models serialise")
    // Inside a <script> element: no `</script>` may appear.
    .replace('<', "\\u003c");
    PAGE.replacen(STYLE_PLACEHOLDER, STYLE.trim_end(), 1)
        .replacen(CONTROLS_PLACEHOLDER, CONTROLS_HTML.trim_end(), 1)
        .replacen(MODELS_PLACEHOLDER, &json, 1)
}

/// What the page reads: the grid and every model's settings and weights.
#[derive(Serialize)]
struct PageModels {
    grid: usize,
    models: Vec<PageModel>,
}

/// One model for the page (the layout of `page.html`'s loader).
#[derive(Serialize)]
struct PageModel {
    name: String,
    channels: usize,
    visible: usize,
    hidden: usize,
    fire_rate: f64,
    living_threshold: f64,
    update_scale: f64,
    angle_deg: f64,
    learned_perception: bool,
    /// `[3C, 1, 3, 3]`.
    filters: Vec<f32>,
    /// `[3C][hidden]`.
    w1: Vec<f32>,
    b1: Vec<f32>,
    /// `[hidden][C]`.
    w2: Vec<f32>,
    b2: Vec<f32>,
}

impl PageModel {
    fn new(name: &str, model: &Nca) -> Self {
        let config = model.config();
        let weights = model.update.host_weights();
        Self {
            name: name.into(),
            channels: config.channels,
            visible: config.visible_channels,
            hidden: config.hidden_units,
            fire_rate: config.fire_rate,
            living_threshold: config.living_threshold,
            update_scale: config.update_scale,
            angle_deg: config.perception_angle_deg,
            learned_perception: config.trainable_perception,
            filters: model.perception.filters(config.channels),
            w1: weights.hidden_weight,
            b1: weights.hidden_bias,
            w2: weights.output_weight,
            b2: weights.output_bias,
        }
    }
}
