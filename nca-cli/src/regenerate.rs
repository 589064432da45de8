//! `nca regenerate`: grow a model, cut part of it away, watch it regrow (GIF).

use std::path::PathBuf;

use burn::tensor::Tensor;
use clap::{Args, ValueEnum};
use nca_core::HostLoss;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Half, HostGrid, Nca, host_values};
use nca_data::GifWriter;
use nca_train::TextureLoss;
use nca_train::eval::{TEXTURE_PROTOCOL, recovered, shown_mse};

use crate::pictures::{MAX_STEPS, RunArgs, check_output, picture, run_frames};
use nca_cli::backend::Compute;
use nca_cli::{note, say};

/// What `nca regenerate` cuts away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cut {
    /// A disc of radius 0.4 (grid spans [-1, 1]) a little off centre.
    Disc,
    /// The right half of the grid.
    Half,
}

/// Arguments of `nca regenerate`.
#[derive(Args, Debug)]
pub struct RegenerateArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Steps to grow before the cut.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_STEPS)))]
    grow_steps: u32,
    /// Steps to regrow after the cut.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_STEPS)))]
    regrow_steps: u32,
    /// What to cut away.
    #[arg(long, value_enum, default_value_t = Cut::Disc)]
    cut: Cut,
    /// Measure the recovery over this many seeds of the fire decisions, from --seed on (the
    /// GIF shows the first).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    seeds: u64,
    /// Output: a .gif of the growth, cut and regrowth, or a .png of the grown, cut and regrown
    /// pattern side by side.
    #[arg(long, default_value = "regenerate.gif")]
    out: PathBuf,
}

/// Runs `nca regenerate`: grow, cut, regrow, one GIF; the share recovered over the seeds.
pub fn run(args: RegenerateArgs, compute: &Compute) -> anyhow::Result<()> {
    let format = check_output(&args.out, &["gif", "png"], args.run.force)?;
    let size = args.run.grid_side()?;
    args.run.check_picture_size(size)?;
    let model = args.run.model(compute)?;
    let goal = args.run.goal(&model)?;
    let measure = Measure::of(&args, &model, size)?;
    let first = args.run.seed;
    let (share, stages) = if format == "png" {
        regrow(&args, &model, goal, &measure, size, first, &mut |_, _| {
            Ok(())
        })?
    } else {
        let mut gif = GifWriter::create(&args.out, args.run.gif())?;
        let mut frames = 0;
        let mut push = |state: &Tensor<4>, step: usize| -> anyhow::Result<()> {
            frames += 1;
            Ok(gif.push(&picture(&model, state), Some(step))?)
        };
        let regrown = regrow(&args, &model, goal, &measure, size, first, &mut push)?;
        gif.finish()?;
        note!("wrote {} ({frames} frames)", args.out.display());
        regrown
    };
    if format == "png" {
        let stages: Vec<_> = stages
            .iter()
            .map(|state| nca_data::scale_up(&picture(&model, state), args.run.scale))
            .collect();
        nca_data::save_png(&args.out, nca_data::grid_image(&stages, 3))?;
        note!("wrote {} (grown, cut, regrown)", args.out.display());
    }
    let Some(share) = share else {
        return Ok(());
    };
    let mut shares = vec![share];
    for seed in first + 1..first + args.seeds {
        let (share, _) = regrow(
            &args,
            &model,
            goal,
            &measure,
            size,
            seed,
            &mut |_, _| Ok(()),
        )?;
        shares.push(share.expect("measured as the first seed"));
    }
    let percent = |share: &f64| format!("{:.0}", 100.0 * share);
    let mean = shares.iter().sum::<f64>() / shares.len() as f64;
    let by_seed = if shares.len() > 1 {
        let each: Vec<String> = shares.iter().map(percent).collect();
        format!(
            " (mean of seeds {first}–{}: {})",
            first + args.seeds - 1,
            each.join(", ")
        )
    } else {
        format!(" (seed {first})")
    };
    let formula = match measure {
        Measure::Picture => "1 − MSE(regrown, uncut) / MSE(cut, uncut), pictures over white",
        _ => "texture loss: 1 − (regrown − uncut) / (cut − uncut), as nca eval",
    };
    say!(
        "recovered {} % of the cut's damage in {} steps{by_seed} ({formula})",
        percent(&mean),
        args.regrow_steps as usize
    );
    Ok(())
}

/// How regrowth is measured: against the uncut picture for a growing model; for a texture, whose
/// regrown patches need not be the ones cut, by the texture loss (as `nca eval`), when its
/// texture is known.
enum Measure {
    Picture,
    Texture(Box<TextureLoss>),
    Unknown,
}

impl Measure {
    fn of(args: &RegenerateArgs, model: &Nca, size: usize) -> anyhow::Result<Self> {
        if !model.config().is_texture() {
            return Ok(Self::Picture);
        }
        // As `nca eval` finds it: a run's very pixels, else what the model is known to have learned.
        let Some(target) = crate::eval::known_target(&args.run.model)? else {
            note!("note: the model's texture is not known, so the recovery is not measured");
            return Ok(Self::Unknown);
        };
        let loss = TextureLoss::of_picture(
            &target.rgba,
            [4, target.height, target.width],
            TEXTURE_PROTOCOL.loss.clone(),
        )?;
        if loss.check_grid([size, size]).is_err() {
            note!(
                "note: the grid is too small for the texture loss, so the recovery is not measured"
            );
            return Ok(Self::Unknown);
        }
        Ok(Self::Texture(Box::new(loss)))
    }

    /// The share of the cut's damage that regrowth repaired; `None` when it is not measured.
    fn recovery(&self, model: &Nca, [uncut, cut, regrown]: &[Tensor<4>; 3]) -> Option<f64> {
        match self {
            Self::Picture => Some(recovery(model, uncut.clone(), cut.clone(), regrown.clone())),
            Self::Texture(loss) => {
                let [_, channels, height, width] = uncut.dims();
                let score = |state: &Tensor<4>| {
                    loss.sample_loss(&host_values(state.clone()), [channels, height, width])
                        .0
                };
                let base = score(uncut);
                Some(recovered(true, score(cut) - base, score(regrown) - base))
            }
            Self::Unknown => None,
        }
    }
}

/// Grows from the seed on a `size x size` grid with the fire decisions of `seed`, cuts, regrows,
/// each state given to `push` as the GIF wants it; the share of the cut's damage recovered (by
/// `measure`), and the grown, cut and regrown states.
fn regrow(
    args: &RegenerateArgs,
    model: &Nca,
    goal: usize,
    measure: &Measure,
    size: usize,
    seed: u64,
    push: &mut impl FnMut(&Tensor<4>, usize) -> anyhow::Result<()>,
) -> anyhow::Result<(Option<f64>, [Tensor<4>; 3])> {
    let every = args.run.every as usize;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let start = model.seed(1, size, size);
    let grown = run_frames(
        model,
        goal,
        start,
        0,
        args.grow_steps as usize,
        every,
        &mut rng,
        &mut *push,
    )?;
    let uncut = grown.clone();
    let mut grid = HostGrid::from_tensor(grown);
    match args.cut {
        Cut::Disc => grid.erase_disc((0.15, 0.1), 0.4),
        Cut::Half => grid.erase_half(Half::Right),
    }
    let cut = grid.to_tensor(&model.device());
    let regrown = run_frames(
        model,
        goal,
        cut.clone(),
        args.grow_steps as usize,
        args.regrow_steps as usize,
        every,
        &mut rng,
        &mut *push,
    )?;
    let stages = [uncut, cut, regrown];
    Ok((measure.recovery(model, &stages), stages))
}

/// The share of the cut's damage that regrowth repaired, as `nca eval` measures it, on the
/// pictures over white (one pixel a cell).
fn recovery(model: &Nca, uncut: Tensor<4>, cut: Tensor<4>, regrown: Tensor<4>) -> f64 {
    let config = model.config();
    let living = config.living_threshold as f32;
    let alpha = host_values(uncut.clone().narrow(1, config.alpha_channel(), 1));
    let grown = alpha.iter().any(|&value| value > living);
    let shown = |state: Tensor<4>| host_values(config.over_white(state));
    let uncut = shown(uncut);
    recovered(
        grown,
        shown_mse(&shown(cut), &uncut),
        shown_mse(&shown(regrown), &uncut),
    )
}
