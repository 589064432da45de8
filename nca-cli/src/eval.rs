//! `nca eval`: the scorecard of one or more models, side by side (protocols in
//! [`nca_train::eval`]): growing models by the growing protocol, texture models by the texture
//! protocol, each kind in its own table, JSON section and sheet.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use clap::Args;
use image::RgbImage;
use nca_core::{Nca, NcaConfig};
use nca_data::{EmojiSource, NotoEdition, Target, TargetOptions, TargetSource};
use nca_train::eval::{
    Course, Cut, Frames, ModelReport, PROTOCOL, Reference, Report, Scorecard, Stat,
    TEXTURE_PROTOCOL, TextureScorecard,
};
use nca_train::{CHECKPOINT_FILE, Checkpoint};
use unicode_width::UnicodeWidthStr;

use crate::noto::Noto;
use crate::pictures::{GridArg, check_output};
use crate::train::{TEXTURE_SIZE, texture_source};
use nca_cli::backend::Compute;
use nca_cli::{memory, models};
use nca_cli::{note, say};

/// Arguments of `nca eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Models to score, side by side: shipped names, model files, run directories, web-demo
    /// models (.json).
    #[arg(long, num_args = 1.., required = true)]
    model: Vec<PathBuf>,
    /// Seeds of the fire decisions (0, 1, …): every figure is the mean and spread over them.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    seeds: u64,
    /// Score against this emoji (default: each model's own target where it is known).
    #[arg(long, group = "target")]
    emoji: Option<String>,
    /// Score against this image file.
    #[arg(long, group = "target")]
    image: Option<PathBuf>,
    /// With --emoji: the drawing of the paper's ten emoji, Noto of February 2020 or today's.
    #[arg(long, value_enum, default_value_t)]
    noto: Noto,
    /// Score texture models against this image file, or `dots`, the texture nca ships (default:
    /// each one's own texture where it is known).
    #[arg(long, value_name = "IMAGE")]
    texture: Option<PathBuf>,
    /// With --emoji or --image: the target is scaled to fit a SIZE x SIZE box; with --texture,
    /// the texture, with nothing around it [default: 40, the paper's; a texture 128].
    #[arg(long, value_name = "SIZE", value_parser = clap::value_parser!(u32).range(1..=1024))]
    target_size: Option<u32>,
    /// With --emoji or --image: empty cells around the target on every side.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(0..=1024))]
    padding: u32,
    /// Models whose target is known score on its grid; the others on this one; texture models on
    /// this one or the texture protocol's (64).
    #[command(flatten)]
    grid: GridArg,
    /// Print one row per model (growth @96, persistence @2000, recovered over discs / halves /
    /// all, rotation; a texture's loss @96 and @500 and recovered) as Markdown tables, instead of
    /// the full tables.
    #[arg(long)]
    summary: bool,
    /// Write every number and the exact protocol as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a contact sheet (PNG): per model, its growth and persistence, then each cut and its
    /// regrowth (a texture model: one strip of its states).
    #[arg(long)]
    sheet: Option<PathBuf>,
    /// Replace the --json or --sheet file if it exists.
    #[arg(long)]
    force: bool,
}

/// Runs `nca eval`.
pub fn run(args: EvalArgs, compute: &Compute) -> anyhow::Result<()> {
    if let Some(json) = &args.json {
        check_output(json, &["json"], args.force)?;
    }
    if let Some(sheet) = &args.sheet {
        check_output(sheet, &["png"], args.force)?;
    }
    models::check_count(&args.model)?;
    let explicit = explicit_target(&args)?;
    let explicit_texture = explicit_texture(&args)?;
    let grid = args.grid.given(MIN_GRID as u32..=1024)?;
    let seeds: Vec<u64> = (0..args.seeds).collect();
    let mut reports = Vec::new();
    let mut textures = Vec::new();
    let mut sheets = Vec::new();
    for path in &args.model {
        let model = compute.load_model(path)?;
        let name = path.display().to_string();
        if model.config().is_texture() {
            let texture = match &explicit_texture {
                Some(texture) => texture.clone(),
                None => known_target(path)?.ok_or_else(|| {
                    anyhow!(
                        "{name} is a texture model, and eval scores it against its texture, which is not known for it: give it with --texture IMAGE"
                    )
                })?,
            };
            let side = grid.map_or(TEXTURE_PROTOCOL.grid, |side| side as usize);
            let smallest = TEXTURE_PROTOCOL.loss.smallest_side();
            if side < smallest {
                bail!(
                    "--grid {side} is too small for the texture protocol's patches, which need at least {smallest} cells a side"
                );
            }
            let grid = [side; 2];
            check_memory(model.config(), grid, &seeds, compute, &sheets, &args)?;
            note!(
                "scoring {name} against its texture on a {side}x{side} grid over {} …",
                seeds_phrase(seeds.len())
            );
            let picture = (texture.rgba.as_slice(), [4, texture.height, texture.width]);
            let (scorecard, course) = TEXTURE_PROTOCOL
                .evaluate(&model, picture, texture.description.clone(), grid, &seeds)
                .with_context(|| format!("cannot score {name} against its texture"))?;
            if args.sheet.is_some() {
                let device = &compute.device;
                let texture = texture_frame(&texture, grid, device);
                sheets.push(texture_sheet(&name, &model, texture, &course, grid, device));
            }
            textures.push(ModelReport {
                model: name,
                parameters: model.num_params(),
                scorecard,
            });
            continue;
        }
        if model.config().has_goals() {
            let goals = model.config().goals.clone();
            if explicit.is_some() {
                bail!(
                    "{name} is a goal model ({}): eval scores each goal against its own target; leave out --emoji and --image",
                    goals.join(", ")
                );
            }
            let targets = known_goal_targets(path, &goals)?;
            let grid = growing_grid(path, &model, targets.as_ref().map(|t| &t[0]), grid)?;
            check_memory(model.config(), grid, &seeds, compute, &sheets, &args)?;
            note!(
                "scoring {} goal by goal ({}) on a {}x{} grid over {} …",
                path.display(),
                goals.join(", "),
                grid[0],
                grid[1],
                seeds_phrase(seeds.len())
            );
            let target_values: Option<Vec<(&[f32], String)>> = targets.as_ref().map(|targets| {
                targets
                    .iter()
                    .map(|t| (t.rgba.as_slice(), t.description.clone()))
                    .collect()
            });
            let cards = PROTOCOL.evaluate_goals(&model, target_values.as_deref(), grid, &seeds);
            for (goal, (scorecard, frames)) in goals.iter().zip(cards) {
                if args.sheet.is_some() {
                    let name = format!("{name}, goal {}", models::caption(goal));
                    sheets.push(sheet(&name, &model, &frames, grid, &compute.device));
                }
                reports.push(ModelReport {
                    model: name.clone(),
                    parameters: model.num_params(),
                    scorecard,
                });
            }
            continue;
        }
        let target = match &explicit {
            Some(target) => Some(target.clone()),
            None => known_target(path)?,
        };
        let grid = growing_grid(path, &model, target.as_ref(), grid)?;
        check_memory(model.config(), grid, &seeds, compute, &sheets, &args)?;
        note!(
            "scoring {} on a {}x{} grid over {} …",
            path.display(),
            grid[0],
            grid[1],
            seeds_phrase(seeds.len())
        );
        let target_values = target
            .as_ref()
            .map(|t| (t.rgba.as_slice(), t.description.clone()));
        let (scorecard, frames) = PROTOCOL.evaluate(&model, target_values, grid, &seeds);
        if args.sheet.is_some() {
            sheets.push(sheet(&name, &model, &frames, grid, &compute.device));
        }
        reports.push(ModelReport {
            model: name,
            parameters: model.num_params(),
            scorecard,
        });
    }
    let report = Report::new(reports, textures);
    let text = if args.summary {
        sections(&report, growing_summary, texture_summary)
    } else {
        sections(&report, growing_table, texture_table)
    };
    say!("{}", text.trim_end());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).expect("reports serialise");
        nca_core::io::write_atomic(path, json.as_bytes())?;
        note!("wrote {}", path.display());
    }
    if let Some(path) = &args.sheet {
        nca_data::save_png(path, stack(&sheets))?;
        note!("wrote {}", path.display());
    }
    Ok(())
}

/// The grid a growing model at `path` is scored on: its target's, or without one `given` (or
/// the paper's); refused when the protocol has no room on it or a target meets a model whose
/// visible channels are not RGBA.
fn growing_grid(
    path: &Path,
    model: &Nca,
    target: Option<&KnownTarget>,
    given: Option<u32>,
) -> anyhow::Result<[usize; 2]> {
    let visible = model.config().alpha_channel() + 1;
    let grid = match target {
        Some(target) => {
            if visible != 4 {
                bail!(
                    "{} has {} visible channels and alpha, but targets are RGBA (4): score it without a target",
                    path.display(),
                    visible
                );
            }
            [target.height, target.width]
        }
        None => [given.unwrap_or(models::PAPER_GRID) as usize; 2],
    };
    if grid.iter().any(|&side| side < MIN_GRID) {
        bail!(
            "the target's grid of {}x{} cells is too small for the protocol (at least {MIN_GRID}x{MIN_GRID}); raise --target-size or --padding",
            grid[0],
            grid[1]
        );
    }
    Ok(grid)
}

/// Refuses a model whose scoring on `grid` cannot fit in memory, after the earlier `sheets`.
fn check_memory(
    config: &NcaConfig,
    grid: [usize; 2],
    seeds: &[u64],
    compute: &Compute,
    sheets: &[RgbImage],
    args: &EvalArgs,
) -> anyhow::Result<()> {
    memory::check(&memory::eval(
        config,
        grid,
        seeds.len(),
        compute.engine,
        sheets.iter().map(|sheet| sheet.len() as u128).sum(),
        args.sheet.is_some(),
    ))
}

/// The smallest grid side the protocol runs on (its cuts need room).
const MIN_GRID: usize = 8;

/// A target with its description.
#[derive(Clone)]
pub(crate) struct KnownTarget {
    pub rgba: Vec<f32>,
    pub height: usize,
    pub width: usize,
    pub description: String,
}

impl KnownTarget {
    fn load(
        emoji_or_file: TargetSource,
        options: TargetOptions,
        edition: NotoEdition,
    ) -> anyhow::Result<Self> {
        let target = Target::load(&emoji_or_file, options, &EmojiSource::with_edition(edition))?;
        let edition_note = match (&emoji_or_file, edition) {
            (TargetSource::Emoji(emoji), NotoEdition::Current)
                if nca_data::embedded(emoji).is_some() =>
            {
                " (today's Noto)"
            }
            _ => "",
        };
        Ok(Self {
            rgba: target.rgba,
            height: target.height,
            width: target.width,
            description: format!(
                "{emoji_or_file}{edition_note} in {} px, padding {}",
                options.size, options.padding
            ),
        })
    }
}

/// The target given by `--emoji` or `--image`, if any.
fn explicit_target(args: &EvalArgs) -> anyhow::Result<Option<KnownTarget>> {
    let source = match (&args.emoji, &args.image) {
        (Some(emoji), _) => TargetSource::Emoji(emoji.clone()),
        (_, Some(path)) => TargetSource::File(path.clone()),
        _ => return Ok(None),
    };
    let options = TargetOptions {
        size: args.target_size.unwrap_or(TargetOptions::default().size),
        padding: args.padding,
    };
    KnownTarget::load(source, options, args.noto.into()).map(Some)
}

/// The texture given by `--texture`, if any: fitted into `--target-size` (a texture run's box
/// by default), nothing around it, as `nca train --texture` takes it.
fn explicit_texture(args: &EvalArgs) -> anyhow::Result<Option<KnownTarget>> {
    let Some(path) = &args.texture else {
        return Ok(None);
    };
    let options = TargetOptions {
        size: args.target_size.unwrap_or(TEXTURE_SIZE),
        padding: 0,
    };
    KnownTarget::load(texture_source(path), options, NotoEdition::default()).map(Some)
}

/// What the model at `path` was trained on, where that is known: a run directory's checkpoint
/// (its very pixels), else [`models::target_of`].
pub(crate) fn known_target(path: &Path) -> anyhow::Result<Option<KnownTarget>> {
    let checkpoint = path.join(CHECKPOINT_FILE);
    if checkpoint.is_file() {
        let checkpoint = Checkpoint::load(&checkpoint)?;
        let [_, height, width] = checkpoint.target_shape;
        return Ok(Some(KnownTarget {
            rgba: checkpoint.target,
            height,
            width,
            description: format!("the target in {}", path.display()),
        }));
    }
    match models::target_of(path)? {
        Some(spec) => KnownTarget::load(spec.source, spec.options, spec.edition)
            .map(Some)
            .with_context(|| format!("cannot prepare the target of {}", path.display())),
        None => Ok(None),
    }
}

/// The targets of a goal model at `path` with `goals` goals, one per goal in its order, where
/// they are known: a goal run directory's checkpoint (their very pixels), else its config.toml's
/// `[goals] targets` ([`models::goal_targets_of`]).
fn known_goal_targets(path: &Path, goals: &[String]) -> anyhow::Result<Option<Vec<KnownTarget>>> {
    let checkpoint = path.join(CHECKPOINT_FILE);
    let checkpoint = if checkpoint.is_file() {
        Some(Checkpoint::load(&checkpoint)?)
    } else {
        None
    };
    let targets = match checkpoint.filter(|c| !c.goal_targets.is_empty()) {
        Some(checkpoint) => {
            let [_, height, width] = checkpoint.target_shape;
            checkpoint
                .goal_targets
                .into_iter()
                .zip(goals)
                .map(|(rgba, goal)| KnownTarget {
                    rgba,
                    height,
                    width,
                    description: format!("{goal}'s target in {}", path.display()),
                })
                .collect()
        }
        None => {
            let Some(specs) = models::goal_targets_of(path)? else {
                return Ok(None);
            };
            specs
                .into_iter()
                .map(|spec| KnownTarget::load(spec.source, spec.options, spec.edition))
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(|| format!("cannot prepare the targets of {}", path.display()))?
        }
    };
    if targets.len() != goals.len() {
        bail!(
            "{} has {} goals but {} targets: eval scores each goal against its own target",
            path.display(),
            goals.len(),
            targets.len()
        );
    }
    if targets
        .iter()
        .any(|t| [t.height, t.width] != [targets[0].height, targets[0].width])
    {
        bail!(
            "the targets of {} differ in size, but eval scores every goal on one grid",
            path.display()
        );
    }
    Ok(Some(targets))
}

/// The report's text: the growing models' part by `growing`, then the texture models' by
/// `texture`, each where there are such models.
fn sections(
    report: &Report,
    growing: fn(&[ModelReport]) -> String,
    texture: fn(&[ModelReport<TextureScorecard>]) -> String,
) -> String {
    let mut parts = Vec::new();
    if !report.models.is_empty() {
        parts.push(growing(&report.models));
    }
    if let Some(section) = &report.texture {
        parts.push(texture(&section.models));
    }
    parts.join("\n")
}

/// The growing protocol's table: one column per model.
fn growing_table(models: &[ModelReport]) -> String {
    let mut table = Table::new(models, models.iter().map(column_name).collect());
    table.row("reference", |card| match &card.reference {
        Reference::Target { description } => format!("target: {description}"),
        Reference::OwnState { step } => format!("own state at step {step} (no target known)"),
    });
    table.row("grid", |card| format!("{}x{}", card.grid[0], card.grid[1]));
    for (index, step) in PROTOCOL.growth_steps.iter().enumerate() {
        table.row(format!("growth MSE @{step}"), |card| {
            mse(&card.growth[index].mse)
        });
    }
    for (index, step) in PROTOCOL.persistence_steps.iter().enumerate() {
        table.row(format!("persistence MSE @{step}"), |card| {
            mse(&card.persistence[index].mse)
        });
    }
    let last_growth = PROTOCOL.growth_steps.len() - 1;
    let last_persistence = PROTOCOL.persistence_steps.len() - 1;
    table.row(
        format!(
            "live cells @{} → @{}",
            PROTOCOL.last_growth_step(),
            PROTOCOL.last_persistence_step()
        ),
        |card| {
            format!(
                "{:.0} → {:.0}",
                card.growth[last_growth].live_cells.mean,
                card.persistence[last_persistence].live_cells.mean
            )
        },
    );
    table.row("persistence", |card| {
        card.persistence_verdict.describe().into()
    });
    for (index, cut) in PROTOCOL.battery().iter().enumerate() {
        table.row(format!("recovered, {}", cut.name()), |card| {
            share(&card.regeneration[index].recovered)
        });
        table.row(
            format!("  shape IoU after {}", PROTOCOL.regrow_steps),
            |card| share(&card.regeneration[index].iou_end),
        );
    }
    table.row("recovered, mean of the discs", |card| {
        format!("{:.2}", recovered_of(card, true))
    });
    table.row("recovered, mean of the halves", |card| {
        format!("{:.2}", recovered_of(card, false))
    });
    table.row("recovered, mean of all cuts", |card| {
        share(&card.recovered_mean)
    });
    table.row(
        format!(
            "rotation {}° MSE @{}",
            PROTOCOL.rotation_deg(),
            PROTOCOL.last_growth_step()
        ),
        |card| {
            card.rotation_mse
                .as_ref()
                .map_or("n/a (learned perception)".into(), mse)
        },
    );
    morph_rows(&mut table, models);
    let seeds = models.first().map_or(0, |m| m.scorecard.seeds.len());
    table.render(format!(
        "{}: mean ± sd over {} of the fire decisions; MSE of RGBA as the paper's loss",
        PROTOCOL.name,
        seeds_phrase(seeds)
    ))
}

/// A column's heading: the model, and a goal model's goal.
fn column_name(model: &ModelReport) -> String {
    match &model.scorecard.goal {
        Some(goal) => format!("{}, goal {goal}", model.model),
        None => model.model.clone(),
    }
}

/// The goal models' morph rows: "morph → B" per goal B of the table's goal models, the MSE
/// against B's target [`Protocol::morph_steps`](nca_train::eval::Protocol::morph_steps) after the
/// switch (blank where a column has no morph into B), or one row of the mean over each column's
/// morphs where there are more goals than [`MORPH_ROWS`].
fn morph_rows(table: &mut Table<'_, Scorecard>, models: &[ModelReport]) {
    let mut goals: Vec<&str> = Vec::new();
    for morph in models.iter().flat_map(|m| &m.scorecard.morph) {
        if !goals.contains(&morph.to.as_str()) {
            goals.push(&morph.to);
        }
    }
    if goals.is_empty() {
        return;
    }
    let after = format!(
        "MSE {} steps after the switch @{}",
        PROTOCOL.morph_steps, PROTOCOL.cut_at
    );
    if goals.len() > MORPH_ROWS {
        table.row(format!("morph, mean over pairs: {after}"), |card| {
            mean_morph_mse(card).map_or(String::new(), |mean| format!("{mean:.2e}"))
        });
        return;
    }
    table.row(format!("morph: {after}"), |_| String::new());
    for goal in goals {
        table.row(format!("  morph → {goal}"), |card| {
            card.morph
                .iter()
                .find(|morph| morph.to == goal)
                .map_or(String::new(), |morph| mse(&morph.mse))
        });
    }
}

/// The mean of a goal's morph MSEs over the other goals (`None` without morphs).
fn mean_morph_mse(card: &Scorecard) -> Option<f64> {
    let count = card.morph.len();
    (count > 0).then(|| card.morph.iter().map(|morph| morph.mse.mean).sum::<f64>() / count as f64)
}

/// The most goals the growing table gives a morph row each; beyond, one row of the mean.
const MORPH_ROWS: usize = 10;

/// The texture protocol's table: one column per model.
fn texture_table(models: &[ModelReport<TextureScorecard>]) -> String {
    let mut table = Table::new(models, models.iter().map(|m| m.model.clone()).collect());
    table.row("texture", |card| card.texture.clone());
    table.row("grid", |card| format!("{}x{}", card.grid[0], card.grid[1]));
    for (index, step) in TEXTURE_PROTOCOL.steps.iter().enumerate() {
        table.row(format!("texture loss @{step}"), |card| {
            mse(&card.steps[index].loss)
        });
    }
    for (index, cut) in TEXTURE_PROTOCOL.cuts.iter().enumerate() {
        table.row(
            format!("after a {} @{}", cut.name(), TEXTURE_PROTOCOL.cut_at),
            |card| mse(&card.cuts[index].loss_cut),
        );
        table.row(
            format!("  {} steps later", TEXTURE_PROTOCOL.regrow_steps),
            |card| mse(&card.cuts[index].loss_end),
        );
        table.row("  recovered", |card| share(&card.cuts[index].recovered));
    }
    let seeds = models.first().map_or(0, |m| m.scorecard.seeds.len());
    table.render(format!(
        "{}: mean ± sd over {} of the fire decisions; texture loss from zeros",
        TEXTURE_PROTOCOL.name,
        seeds_phrase(seeds)
    ))
}

/// A terminal table with one column per model, its rows added one at a time.
struct Table<'a, S> {
    models: &'a [ModelReport<S>],
    /// Label and one cell per model, the models' names first.
    rows: Vec<(String, Vec<String>)>,
}

impl<'a, S> Table<'a, S> {
    /// The table of `models`, its columns headed by `names`.
    fn new(models: &'a [ModelReport<S>], names: Vec<String>) -> Self {
        Self {
            models,
            rows: vec![(String::new(), names)],
        }
    }

    /// A row: its label, and `cell` of each model's scorecard.
    fn row(&mut self, label: impl Into<String>, cell: impl Fn(&S) -> String) {
        let cells = self.models.iter().map(|m| cell(&m.scorecard)).collect();
        self.rows.push((label.into(), cells));
    }

    /// The table under `heading`: models side by side as far as [`TABLE_WIDTH`] allows, then
    /// the next block below.
    fn render(self, heading: String) -> String {
        let label_width = self.rows.iter().map(|(l, _)| l.width()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..self.models.len())
            .map(|column| {
                self.rows
                    .iter()
                    .map(|(_, cells)| cells[column].width())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = heading + "\n";
        let mut first = 0;
        while first < widths.len() {
            let mut end = first + 1;
            let mut used = label_width + 2 + widths[first];
            while end < widths.len() && used + 2 + widths[end] <= TABLE_WIDTH {
                used += 2 + widths[end];
                end += 1;
            }
            out.push('\n');
            for (label, cells) in &self.rows {
                let mut line = padded(label, label_width);
                for (cell, &width) in cells[first..end].iter().zip(&widths[first..end]) {
                    line.push_str("  ");
                    line.push_str(&padded(cell, width));
                }
                out.push_str(line.trim_end());
                out.push('\n');
            }
            first = end;
        }
        out
    }
}

/// "1 seed", "4 seeds".
fn seeds_phrase(seeds: usize) -> String {
    format!("{seeds} seed{}", if seeds == 1 { "" } else { "s" })
}

/// The widest the terminal table grows before it continues below, in characters.
const TABLE_WIDTH: usize = 100;

/// The mean share recovered over the battery's discs (`true`) or halves (`false`).
fn recovered_of(card: &Scorecard, discs: bool) -> f64 {
    let shares: Vec<f64> = card
        .regeneration
        .iter()
        .filter(|regrowth| matches!(regrowth.cut, Cut::Disc { .. }) == discs)
        .map(|regrowth| regrowth.recovered.mean)
        .collect();
    shares.iter().sum::<f64>() / shares.len().max(1) as f64
}

/// The growing models' summary: one Markdown row per model with the headline figures.
fn growing_summary(models: &[ModelReport]) -> String {
    let growth = PROTOCOL.last_growth_step();
    let persistence = PROTOCOL.last_persistence_step();
    // Goal models get a column of their morphs: the mean MSE against the new goals' targets.
    let morphs = models.iter().any(|model| !model.scorecard.morph.is_empty());
    let (morph_heading, morph_rule) = if morphs {
        (
            format!(
                " morph MSE @{}, mean over the other goals |",
                PROTOCOL.morph_steps
            ),
            "---|",
        )
    } else {
        (String::new(), "")
    };
    let mut out = format!(
        "{}, mean over {}\n\n| model | growth MSE @{growth} | persistence MSE @{persistence} | \
         recovered: discs / halves / all | rotation {}° MSE @{growth} |{morph_heading}\n\
         |---|---|---|---|---|{morph_rule}\n",
        PROTOCOL.name,
        seeds_phrase(models.first().map_or(0, |m| m.scorecard.seeds.len())),
        PROTOCOL.rotation_deg()
    );
    for model in models {
        let card = &model.scorecard;
        let morph = match mean_morph_mse(card) {
            _ if !morphs => String::new(),
            None => " n/a |".into(),
            Some(mean) => format!(" {mean:.1e} |"),
        };
        out.push_str(&format!(
            "| {} | {:.1e} | {:.1e} | {:.2} / {:.2} / {:.2} | {} |{morph}\n",
            column_name(model),
            card.growth[card.growth.len() - 1].mse.mean,
            card.persistence[card.persistence.len() - 1].mse.mean,
            recovered_of(card, true),
            recovered_of(card, false),
            card.recovered_mean.mean,
            card.rotation_mse
                .as_ref()
                .map_or("n/a".into(), |stat| format!("{:.1e}", stat.mean)),
        ));
    }
    out
}

/// The texture models' summary: one Markdown row per model, the loss at each step and the
/// recovered shares.
fn texture_summary(models: &[ModelReport<TextureScorecard>]) -> String {
    let joined = |parts: Vec<String>| parts.join(" / ");
    let steps = joined(
        TEXTURE_PROTOCOL
            .steps
            .map(|step| format!("@{step}"))
            .to_vec(),
    );
    let cuts = joined(TEXTURE_PROTOCOL.cuts.map(|cut| cut.name()).to_vec());
    let mut out = format!(
        "{}, mean over {}\n\n| model | texture loss {steps} | recovered: {cuts} |\n|---|---|---|\n",
        TEXTURE_PROTOCOL.name,
        seeds_phrase(models.first().map_or(0, |m| m.scorecard.seeds.len())),
    );
    for model in models {
        let card = &model.scorecard;
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            model.model,
            joined(
                card.steps
                    .iter()
                    .map(|at| format!("{:.1e}", at.loss.mean))
                    .collect()
            ),
            joined(
                card.cuts
                    .iter()
                    .map(|cut| format!("{:.2}", cut.recovered.mean))
                    .collect()
            ),
        ));
    }
    out
}

/// `text` and spaces up to `width` terminal columns (an emoji takes two).
fn padded(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(text.width())))
}

/// An MSE with its spread over the seeds (none with one seed).
fn mse(stat: &Stat) -> String {
    with_spread(
        format!("{:.2e}", stat.mean),
        stat,
        format!("{:.1e}", stat.sd),
    )
}

/// A share with its spread over the seeds (none with one seed).
fn share(stat: &Stat) -> String {
    with_spread(format!("{:.2}", stat.mean), stat, format!("{:.2}", stat.sd))
}

fn with_spread(mean: String, stat: &Stat, sd: String) -> String {
    if stat.sd == 0.0 {
        mean
    } else {
        format!("{mean} ± {sd}")
    }
}

/// One model's contact sheet, 2x scale, every picture captioned, under a line naming the model:
/// the reference, growth, persistence and the rotated growth in the first row; each cut in the
/// second; its regrowth in the third. Seed 0.
fn sheet(name: &str, model: &Nca, frames: &Frames, grid: [usize; 2], device: &Device) -> RgbImage {
    let picture = |state: &[f32], caption: &str| {
        nca_data::captioned(&frame(model, state, grid, device), caption)
    };
    let mut first = vec![picture(&frames.reference, "target")];
    first.extend(
        frames
            .course
            .timeline
            .iter()
            .map(|(step, state)| picture(state, &format!("@{step}"))),
    );
    if let Some(rotated) = &frames.rotated {
        let caption = format!(
            "rot{} @{}",
            PROTOCOL.rotation_deg(),
            PROTOCOL.last_growth_step()
        );
        first.push(picture(rotated, &caption));
    }
    let columns = first.len().max(frames.course.cuts.len());
    let blank = RgbImage::from_pixel(first[0].width(), first[0].height(), image::Rgb([255; 3]));
    let pad = |mut row: Vec<RgbImage>| {
        row.resize(columns, blank.clone());
        row
    };
    let battery = PROTOCOL.battery();
    let mut images = pad(first);
    images.extend(pad(frames
        .course
        .cuts
        .iter()
        .zip(&battery)
        .enumerate()
        .map(|(index, ((cut, _), kind))| picture(cut, &short_name(kind, index)))
        .collect()));
    let regrown = format!("+{}", PROTOCOL.regrow_steps);
    images.extend(pad(frames
        .course
        .cuts
        .iter()
        .map(|(_, end)| picture(end, &regrown))
        .collect()));
    // A goal model's morphs: the pattern at the cut step turned toward each other goal.
    if !frames.morphed.is_empty() {
        let morphs = frames.morphed.iter().map(|(to, state)| {
            let caption = format!("->{} +{}", models::caption(to), PROTOCOL.morph_steps);
            picture(state, &caption)
        });
        images.extend(pad(morphs.collect()));
    }
    let grid = nca_data::grid_image(&images, columns);
    let morphs = if frames.morphed.is_empty() {
        String::new()
    } else {
        format!("; morphs from step {}", PROTOCOL.cut_at)
    };
    let title = format!(
        "{name}: growth @step; cuts at step {}, then {} steps{morphs}",
        PROTOCOL.cut_at, PROTOCOL.regrow_steps
    );
    nca_data::captioned(&grid, &title)
}

/// A texture model's contact sheet, one strip under a line naming the model, 2x scale, every
/// picture captioned: the texture, the states at each scored step, each cut and its regrowth.
/// Seed 0.
fn texture_sheet(
    name: &str,
    model: &Nca,
    texture: RgbImage,
    course: &Course,
    grid: [usize; 2],
    device: &Device,
) -> RgbImage {
    let picture = |state: &[f32], caption: &str| {
        nca_data::captioned(&frame(model, state, grid, device), caption)
    };
    let mut images = vec![nca_data::captioned(&texture, "texture")];
    images.extend(
        course
            .timeline
            .iter()
            .map(|(step, state)| picture(state, &format!("@{step}"))),
    );
    let regrown = format!("+{}", TEXTURE_PROTOCOL.regrow_steps);
    for (index, ((cut, end), kind)) in course.cuts.iter().zip(&TEXTURE_PROTOCOL.cuts).enumerate() {
        images.push(picture(cut, &short_name(kind, index)));
        images.push(picture(end, &regrown));
    }
    let strip = nca_data::grid_image(&images, images.len());
    let title = format!(
        "{name}: texture from zeros @step; cuts at step {}, then {} steps",
        TEXTURE_PROTOCOL.cut_at, TEXTURE_PROTOCOL.regrow_steps
    );
    nca_data::captioned(&strip, &title)
}

/// A `[C, H, W]` state of `model` on a `[H, W]` grid as a sheet shows it: as it looks, 2 pixels
/// a cell.
fn frame(model: &Nca, state: &[f32], [height, width]: [usize; 2], device: &Device) -> RgbImage {
    let tensor = Tensor::<4>::from_data(
        TensorData::new(state.to_vec(), [1, model.config().channels, height, width]),
        device,
    );
    nca_data::scale_up(&nca_data::white_images(model.config(), tensor).remove(0), 2)
}

/// The texture as a sheet shows it beside a model's states on a `[H, W]` grid: over white, 2
/// pixels a pixel (a texture run learns it one pixel a cell), tiled or cut to the frame's size.
fn texture_frame(texture: &KnownTarget, [height, width]: [usize; 2], device: &Device) -> RgbImage {
    let tensor = Tensor::<4>::from_data(
        TensorData::new(texture.rgba.clone(), [1, 4, texture.height, texture.width]),
        device,
    );
    // The premultiplied RGBA picture over white, as a growing model's target is shown.
    let shown = nca_data::white_images(&NcaConfig::default(), tensor).remove(0);
    let shown = nca_data::scale_up(&shown, 2);
    RgbImage::from_fn(2 * width as u32, 2 * height as u32, |x, y| {
        *shown.get_pixel(x % shown.width(), y % shown.height())
    })
}

/// A cut's name that fits under a picture: `disc 1` to `disc 4`, `left`, `right`, `top`,
/// `bottom`.
fn short_name(cut: &Cut, index: usize) -> String {
    match cut {
        Cut::Disc { .. } => format!("disc {}", index + 1),
        Cut::Half(half) => half.to_string(),
    }
}

/// Sheets one under another, on white.
fn stack(sheets: &[RgbImage]) -> RgbImage {
    let width = sheets.iter().map(RgbImage::width).max().unwrap_or(1);
    let height = sheets.iter().map(|s| s.height() + 8).sum::<u32>().max(1);
    let mut out = RgbImage::from_pixel(width, height, image::Rgb([255; 3]));
    let mut top = 0;
    for sheet in sheets {
        image::imageops::replace(&mut out, sheet, 0, i64::from(top));
        top += sheet.height() + 8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::padded;

    #[test]
    fn cells_are_padded_to_terminal_columns_where_an_emoji_takes_two() {
        assert_eq!(padded("goal 🦎", 9), "goal 🦎  ");
        assert_eq!(padded("goal x", 9), "goal x   ");
        assert_eq!(padded("too long", 3), "too long");
    }
}
