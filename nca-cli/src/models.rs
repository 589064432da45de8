//! Finding a model wherever the user points: a shipped model's name, a model file, a run
//! directory, a web-demo JSON.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::tensor::Device;
use nca_core::Nca;
use nca_data::{NotoEdition, TargetOptions};

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

/// One of the paper's 31 published models, shipped inside the binary (`models/paper/`).
#[derive(Debug, Clone, Copy)]
pub struct PaperModel {
    /// Its name in nca: `paper-<subject>-<experiment>`, such as `paper-lizard-growing`.
    pub name: &'static str,
    /// The paper's own file name without `.json`, such as `ex1_🦎`.
    pub paper_name: &'static str,
    /// The emoji it grows; `None` for the planarian, whose picture nca does not have.
    pub emoji: Option<&'static str>,
    /// The paper's experiment: `growing`, `persistent` or `regenerating`.
    pub experiment: &'static str,
    /// The model in the web demo's JSON format.
    pub json: &'static str,
}

macro_rules! paper_model {
    ($subject:literal, $emoji:literal, $target:expr, $experiment:literal, $number:literal) => {
        PaperModel {
            name: concat!("paper-", $subject, "-", $experiment),
            paper_name: concat!("ex", $number, "_", $emoji),
            emoji: $target,
            experiment: $experiment,
            json: include_str!(concat!(
                "../models/paper/",
                $subject,
                "-",
                $experiment,
                ".json"
            )),
        }
    };
}

macro_rules! paper_zoo {
    ($($subject:literal $emoji:literal),*) => {
        [
            $(
                paper_model!($subject, $emoji, Some($emoji), "growing", "1"),
                paper_model!($subject, $emoji, Some($emoji), "persistent", "2"),
                paper_model!($subject, $emoji, Some($emoji), "regenerating", "3"),
            )*
            paper_model!("planarian", "planarian", None, "regenerating", "3"),
        ]
    };
}

/// The paper's published models: its ten emoji in the order of its demo, each in the three
/// experiments, then the regenerating planarian.
pub const PAPER_ZOO: [PaperModel; 31] = paper_zoo!(
    "lizard" "🦎", "smiley" "😀", "boom" "💥", "eye" "👁", "fish" "🐠",
    "butterfly" "🦋", "ladybug" "🐞", "web" "🕸", "pretzel" "🥨", "tree" "🎄"
);

/// The paper's model called `name`, by nca's name or the paper's file name.
pub fn paper_model(name: &str) -> Option<&'static PaperModel> {
    let name = name
        .strip_suffix(".json")
        .unwrap_or(name)
        .replace('\u{FE0F}', "");
    PAPER_ZOO
        .iter()
        .find(|model| model.name == name || model.paper_name == name)
}

/// The target a shipped model was trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShippedTarget {
    /// The emoji.
    pub emoji: &'static str,
    /// How it was prepared.
    pub options: TargetOptions,
    /// The drawing of Noto Emoji it came from.
    pub edition: NotoEdition,
}

impl ShippedTarget {
    /// The target, prepared as the model saw it (embedded: no network needed).
    pub fn load(&self) -> Result<nca_data::Target, nca_data::DataError> {
        let source = nca_data::EmojiSource::with_edition(self.edition);
        let emoji = nca_data::TargetSource::Emoji(self.emoji.into());
        nca_data::Target::load(&emoji, self.options, &source)
    }
}

/// The target a shipped model was trained on, by the model's name.
pub fn shipped_target(name: &str) -> Option<ShippedTarget> {
    let gecko = |options| ShippedTarget {
        emoji: "🦎",
        options,
        edition: NotoEdition::Paper,
    };
    match name {
        // All trained on the paper's lizard.
        "gecko" => Some(gecko(TargetOptions {
            size: 24,
            padding: 6,
        })),
        "gecko-growing" | "gecko-persistent" | "gecko-regenerating" => {
            Some(gecko(TargetOptions::default()))
        }
        _ => paper_model(name)
            .and_then(|model| model.emoji)
            .map(|emoji| ShippedTarget {
                emoji,
                options: TargetOptions::default(),
                edition: NotoEdition::Paper,
            }),
    }
}

/// Loads the model at `path`: an nca model file, a run directory (its `model.nca`), a model of
/// the paper's web demo (`.json`, imported on the fly), or, when no such file exists, the name of
/// a shipped model or of one of the paper's.
pub fn load(path: &Path, device: &Device) -> anyhow::Result<Nca> {
    if !path.exists()
        && let Some((name, bytes)) = SHIPPED.iter().find(|(name, _)| Path::new(name) == path)
    {
        return Nca::from_bytes(bytes, device)
            .map_err(|problem| anyhow::anyhow!("the shipped model {name} {problem}"));
    }
    if !path.exists()
        && let Some(model) = path.to_str().and_then(paper_model)
    {
        return Ok(nca_data::import_demo_model(model.json, model.name, device)?);
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
        .chain(PAPER_ZOO.iter().map(|model| &model.name))
        .map(|candidate| (strsim::levenshtein(name, candidate), *candidate))
        .min()
        .filter(|(distance, _)| *distance <= 3);
    let mut message = format!(
        "{name} is neither a model file nor a shipped model ({}, and the paper's \
         paper-<subject>-<experiment>: `nca targets` lists them)",
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
