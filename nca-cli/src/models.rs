//! Finding a model wherever the user points: a shipped model's name, a model file, a run
//! directory, a web-demo JSON.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::tensor::Device;
use nca_core::Nca;
use nca_data::{NotoEdition, TargetOptions, TargetSource, TargetSpec};
use nca_train::TrainConfig;

/// Models that ship inside the binary, by name (see `models/README.md`).
pub const SHIPPED: [(&str, &[u8]); 6] = [
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
    ("dots", include_bytes!("../models/dots.nca")),
    ("goals", include_bytes!("../models/goals.nca")),
];

/// The shipped goal model's name and goals: the paper's lizard, butterfly and smiley, each
/// prepared as the paper's (Noto of February 2020, 40 px, padded by 16).
pub const SHIPPED_GOALS: (&str, [&str; 3]) = ("goals", ["🦎", "🦋", "😀"]);

/// The shipped model that regrows best: the default of `regenerate`, `grow` and `serve`.
pub const REGROWING: &str = "gecko-regenerating";

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

/// A goal as the ASCII text of a picture's caption: the paper's subject for one of its emoji
/// ("lizard" for 🦎), else the goal's own name.
pub fn caption(goal: &str) -> String {
    let emoji = goal.replace('\u{FE0F}', "");
    PAPER_ZOO
        .iter()
        .find(|model| model.emoji.map(|e| e.replace('\u{FE0F}', "")) == Some(emoji.clone()))
        .and_then(|model| model.name.strip_prefix("paper-")?.split('-').next())
        .map_or_else(|| goal.to_string(), str::to_string)
}

/// The target a shipped model (nca's or the paper's) was trained on, by the model's name.
pub fn shipped_target(name: &str) -> Option<TargetSpec> {
    let emoji = |emoji: &str, options| TargetSpec {
        source: TargetSource::Emoji(emoji.into()),
        options,
        edition: NotoEdition::Paper,
    };
    match name {
        // All trained on the paper's lizard.
        "gecko" => Some(emoji(
            "🦎",
            TargetOptions {
                size: 24,
                padding: 6,
            },
        )),
        "gecko-growing" | "gecko-persistent" | "gecko-regenerating" => {
            Some(emoji("🦎", TargetOptions::default()))
        }
        // A texture: nca's dots.png as `nca train --texture dots` prepares it.
        "dots" => Some(TargetSpec {
            source: TargetSource::Texture("dots".into()),
            options: TargetOptions {
                size: 128,
                padding: 0,
            },
            edition: NotoEdition::Paper,
        }),
        _ => paper_model(name)
            .and_then(|model| model.emoji)
            .map(|target| emoji(target, TargetOptions::default())),
    }
}

/// What the model at `path` was trained on, where that is known: a shipped model's target, a run
/// directory's (its config.toml), or, for a web-demo model, the emoji of the paper's model of that
/// file name (`ex3_😀.json`, or nca's `smiley-regenerating.json`) or the embedded emoji its name
/// ends with, as the paper prepared it.
pub fn target_of(path: &Path) -> anyhow::Result<Option<TargetSpec>> {
    if !path.exists() {
        return Ok(shipped_target(&path.to_string_lossy()));
    }
    if let Some(config) = run_config(path)? {
        return Ok(config.target);
    }
    let demo_emoji = path
        .file_stem()
        .filter(|_| path.extension().is_some_and(|ext| ext == "json"))
        .and_then(|stem| stem.to_str())
        .and_then(|stem| {
            let paper = paper_model(stem).or_else(|| paper_model(&format!("paper-{stem}")));
            paper.and_then(|model| model.emoji).or_else(|| {
                stem.rsplit('_')
                    .next()
                    .filter(|emoji| nca_data::embedded(emoji).is_some())
            })
        });
    Ok(demo_emoji.map(|emoji| TargetSpec {
        source: TargetSource::Emoji(emoji.into()),
        ..TargetSpec::default()
    }))
}

/// What each goal of the goal model at `path` was trained on, in the goals' order, where that is
/// known: the shipped goal model's emoji, or a goal run directory's config.toml's `[goals] targets`.
pub fn goal_targets_of(path: &Path) -> anyhow::Result<Option<Vec<TargetSpec>>> {
    if !path.exists() {
        let (name, goals) = SHIPPED_GOALS;
        return Ok((path == Path::new(name)).then(|| {
            goals
                .iter()
                .map(|&emoji| TargetSpec {
                    source: TargetSource::Emoji(emoji.into()),
                    ..TargetSpec::default()
                })
                .collect()
        }));
    }
    Ok(run_config(path)?
        .and_then(|config| config.goals)
        .map(|goals| goals.targets)
        .filter(|targets| !targets.is_empty()))
}

/// The training config of the run directory at `path`, if it is one.
fn run_config(path: &Path) -> anyhow::Result<Option<TrainConfig>> {
    let config = path.join(nca_train::CONFIG_FILE);
    if !config.is_file() {
        return Ok(None);
    }
    let text =
        nca_core::io::read_text_limited(&config, nca_train::MAX_CONFIG_BYTES, "training config")?;
    let parsed =
        TrainConfig::from_toml(&text).with_context(|| format!("config {}", config.display()))?;
    Ok(Some(parsed))
}

/// The side of the square grid a model grows on unless told otherwise: a texture run's grid, or
/// its target's larger side where the target is known (a texture's; for a URL, without fetching
/// it: the box and the padding), else the paper's 72.
pub fn own_grid(path: &Path) -> anyhow::Result<u32> {
    if let Some(texture) = run_config(path)?.and_then(|config| config.texture) {
        return Ok(texture.grid as u32);
    }
    Ok(match target_of(path)? {
        Some(spec) if matches!(spec.source, TargetSource::Url(_)) => {
            spec.options.size + 2 * spec.options.padding
        }
        Some(spec) => {
            let target = spec.load()?;
            target.height.max(target.width) as u32
        }
        None => PAPER_GRID,
    })
}

/// The paper's grid side: a 40-cell target with 16 cells around.
pub const PAPER_GRID: u32 = 72;

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
    Nca::load(&file, device).map_err(|err| match err {
        // The path said once: "cannot load a model from x.nca: No such file or directory".
        nca_core::NcaError::Io {
            path: failed,
            source,
        } if failed == path => {
            anyhow::anyhow!("cannot load a model from {}: {source}", path.display())
        }
        // The error names the file itself ("x.nca is not an nca model file").
        err @ (nca_core::NcaError::File { .. } | nca_core::NcaError::TooLarge { .. })
            if file == path =>
        {
            err.into()
        }
        err => {
            anyhow::Error::new(err).context(format!("cannot load a model from {}", path.display()))
        }
    })
}

/// The most models one command takes (`nca eval`, `nca export`, `nca serve`): each is loaded
/// and run, drawn on the eval sheet or written into the page.
pub const MAX_MODELS: usize = 64;

/// Refuses more than [`MAX_MODELS`] models given with `--model`.
pub fn check_count(models: &[PathBuf]) -> anyhow::Result<()> {
    if models.len() > MAX_MODELS {
        bail!(
            "--model names {} models; at most {MAX_MODELS} are taken at once",
            models.len()
        );
    }
    Ok(())
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
        "{} is neither a model file nor a shipped model ({}, and the paper's \
         paper-<subject>-<experiment>: `nca targets` lists them)",
        crate::out::shown(name),
        names.join(", ")
    );
    if let Some((_, candidate)) = nearest {
        message.push_str(&format!("; did you mean {candidate}?"));
    }
    message
}

/// The name to show for the model at `path`: its file or directory name without extension, its
/// control characters escaped ([`out::escaped`](crate::out::escaped)).
pub fn name(path: &Path) -> String {
    path.file_stem().map_or_else(
        || crate::out::path(path),
        |stem| crate::out::escaped(&stem.to_string_lossy()).into_owned(),
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
