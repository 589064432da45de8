//! Finding a model wherever the user points: a shipped model's name, a model file, a run
//! directory, a web-demo JSON.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::tensor::Device;
use nca_core::Nca;
use nca_data::TargetOptions;

/// Models that ship inside the binary, by name (see `models/README.md`).
pub const SHIPPED: [(&str, &[u8]); 4] = [
    ("gecko", include_bytes!("../models/gecko.nca")),
    (
        "gecko-growing",
        include_bytes!("../models/gecko-growing.nca"),
    ),
    (
        "gecko-persistent",
        include_bytes!("../models/gecko-persistent.nca"),
    ),
    (
        "gecko-regenerating",
        include_bytes!("../models/gecko-regenerating.nca"),
    ),
];

/// The target a shipped model was trained on (emoji and how it was prepared), by name.
pub fn shipped_target(name: &str) -> Option<(&'static str, TargetOptions)> {
    match name {
        "gecko" => Some((
            "🦎",
            TargetOptions {
                size: 24,
                padding: 6,
            },
        )),
        "gecko-growing" | "gecko-persistent" | "gecko-regenerating" => {
            Some(("🦎", TargetOptions::default()))
        }
        _ => None,
    }
}

/// Loads the model at `path`: an nca model file, a run directory (its `model.nca`), a model of
/// the paper's web demo (`.json`, imported on the fly), or, when no such file exists, the name of
/// a shipped model.
pub fn load(path: &Path, device: &Device) -> anyhow::Result<Nca> {
    if !path.exists()
        && let Some((name, bytes)) = SHIPPED.iter().find(|(name, _)| Path::new(name) == path)
    {
        return Ok(Nca::from_bytes(bytes, Path::new(name), device)?);
    }
    if !path.exists() && path.extension().is_none() && path.components().count() == 1 {
        bail!("{}", unknown_name(&path.to_string_lossy()));
    }
    let file = model_file(path);
    if file.extension().is_some_and(|ext| ext == "json") {
        return Ok(nca_data::import_demo_model_file(&file, device)?);
    }
    Nca::load(&file, device).with_context(|| format!("cannot load a model from {}", path.display()))
}

/// What to say of a name that is neither a file nor a shipped model: the shipped names, and the
/// nearest one when it is close.
fn unknown_name(name: &str) -> String {
    let names: Vec<&str> = SHIPPED.iter().map(|(name, _)| *name).collect();
    let nearest = names
        .iter()
        .map(|candidate| (strsim::levenshtein(name, candidate), *candidate))
        .min()
        .filter(|(distance, _)| *distance <= 3);
    let mut message = format!(
        "{name} is neither a model file nor a shipped model ({})",
        names.join(", ")
    );
    if let Some((_, candidate)) = nearest {
        message.push_str(&format!("; did you mean {candidate}?"));
    }
    message
}

/// The name to show for the model at `path`: its file or directory name without extension.
pub fn name(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |stem| stem.to_string_lossy().into_owned(),
    )
}

/// `path` itself, or the model file inside it when it is a run directory.
fn model_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(nca_train::MODEL_FILE)
    } else {
        path.to_path_buf()
    }
}
