//! `nca grow`: a model's growth from its seed as a GIF, its last state as a PNG, or its states
//! as a `.npy` array for numpy; a goal model's morph from goal to goal with `--then`.

use std::path::PathBuf;

use anyhow::bail;
use burn::tensor::Tensor;
use clap::Args;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_data::GifWriter;

use crate::arrays::{NpyFrames, frame_count};
use crate::pictures::{MAX_STEPS, RunArgs, check_output, picture, run_frames};
use nca_cli::backend::Compute;
use nca_cli::note;

/// Arguments of `nca grow`.
#[derive(Args, Debug)]
pub struct GrowArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Steps to grow (toward each goal, with --then).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_STEPS)))]
    steps: u32,
    /// A goal model's next goals: after --steps steps toward --goal, the pattern turns into each
    /// of these in turn, --steps steps each (`--goal 🦎 --then 🦋 😀`).
    #[arg(long, value_name = "GOAL", num_args = 1..)]
    then: Vec<String>,
    /// Output: a .gif of the growth, a .png of the last state, or a .npy of the states (float32,
    /// [frames, channels, height, width]: the GIF's frames, every channel) for numpy.
    #[arg(long, default_value = "growth.gif")]
    out: PathBuf,
    /// Show each picture repeated N x N times, edge to edge (a texture's wrapped grid tiles with
    /// no seam).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
    tile: u32,
}

/// Runs `nca grow`.
pub fn run(args: GrowArgs, compute: &Compute) -> anyhow::Result<()> {
    let format = check_output(&args.out, &["gif", "png", "npy"], args.run.force)?;
    let size = args.run.grid_side()?;
    if format != "npy" {
        args.run.check_picture_size(size * args.tile as usize)?;
    } else if args.tile > 1 {
        bail!("--tile repeats pictures; a .npy holds the states themselves");
    }
    let shown =
        |model: &nca_core::Nca, state: &_| nca_data::tiled(&picture(model, state), args.tile);
    let model = args.run.model(compute)?;
    let then = (args.then.iter())
        .map(|name| args.run.goal_named(&model, name, "--then"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let goals: Vec<usize> = std::iter::once(args.run.goal(&model)?)
        .chain(then)
        .collect();
    let (each, every) = (args.steps as usize, args.run.every as usize);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.run.seed);
    let seed = model.seed(1, size, size);
    // The one rollout, whatever the format: each hands the frames somewhere else. Each goal
    // takes on from the last one's end state, whose frame is handed over once.
    let grow = |frame: &mut dyn FnMut(&Tensor<4>, usize) -> anyhow::Result<()>| -> anyhow::Result<Tensor<4>> {
        let mut state = seed;
        for (turn, &goal) in goals.iter().enumerate() {
            let mut skip = turn > 0;
            let first_step = turn * each;
            state = run_frames(
                &model,
                goal,
                state,
                first_step,
                each,
                every,
                &mut rng,
                |state, step| {
                    if std::mem::take(&mut skip) {
                        Ok(())
                    } else {
                        frame(state, step)
                    }
                },
            )?;
        }
        Ok(state)
    };
    let steps = goals.len() * each;
    let course = if goals.len() > 1 {
        let names: Vec<&str> = goals
            .iter()
            .map(|&goal| model.config().goals[goal].as_str())
            .collect();
        format!("{steps} steps: {}, {} steps each", names.join(" → "), each)
    } else {
        format!("{steps} steps")
    };
    if format == "npy" {
        let frames = 1 + goals.len() * (frame_count(each, every) - 1);
        let shape = [model.config().channels, size, size];
        let mut npy = NpyFrames::create(&args.out, frames, shape)?;
        grow(&mut |state, _| npy.push(state))?;
        npy.finish()?;
        note!(
            "wrote {} ({course}; {frames} frames of {}x{size}x{size} float32)",
            args.out.display(),
            shape[0]
        );
        return Ok(());
    }
    if format == "png" {
        let last = grow(&mut |_, _| Ok(()))?;
        let image = nca_data::scale_up(&shown(&model, &last), args.run.scale);
        nca_data::save_png(&args.out, image)?;
    } else {
        let mut gif = GifWriter::create(&args.out, args.run.gif())?;
        grow(&mut |state, step| Ok(gif.push(&shown(&model, state), Some(step))?))?;
        gif.finish()?;
    }
    note!("wrote {} ({course})", args.out.display());
    Ok(())
}
