//! `nca`: train, grow, regenerate, score (`eval`), share (`export`, `serve`), import, inspect
//! (`info`, `targets`) and benchmark growing neural cellular automata: one module per command.

mod arrays;
mod bench;
mod eval;
mod export;
mod grow;
mod import;
mod info;
mod noto;
mod pictures;
mod plot;
mod regenerate;
mod serve;
mod targets;
mod train;
mod web;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

use nca_cli::backend::{Backend, Compute};
use nca_cli::{note, out};

/// Growing Neural Cellular Automata (Mordvintsev et al., Distill 2020) in Rust, on burn
///
/// Train a tiny network that every cell of a grid runs on its neighbourhood, so that one seed
/// cell grows into a target image, keeps it and regrows it after damage.
#[derive(Parser, Debug)]
#[command(name = "nca", version)]
struct Cli {
    /// Compute backend (default: the first compiled in, CPU first).
    #[arg(long, global = true, value_enum)]
    backend: Option<Backend>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model on an emoji, an image file or an image URL.
    Train(Box<train::TrainArgs>),
    /// Grow a model from its seed: the growth as a GIF, the last state as PNG, the states as .npy.
    Grow(grow::GrowArgs),
    /// Grow a model, cut part of it away, and watch it regrow (GIF, or PNG: grown, cut, regrown).
    Regenerate(regenerate::RegenerateArgs),
    /// Convert a model of the paper's web demo (JSON) into an nca model file.
    Import(import::ImportArgs),
    /// Score models side by side on a fixed protocol: growth, persistence, regeneration, rotation.
    Eval(eval::EvalArgs),
    /// Export models: an HTML page that runs them in a browser, the web-demo JSON, or .safetensors.
    Export(export::ExportArgs),
    /// Show what a model file, run directory or checkpoint holds.
    Info(info::InfoArgs),
    /// List the emoji that ship inside nca (usable offline with --emoji).
    Targets,
    /// Time a training iteration and rollouts on the chosen backend; prints JSON lines.
    Bench(bench::BenchArgs),
    /// The paper's interactive demo in your browser: watch a model grow, cut it, see it heal.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err)
            if !err.use_stderr()
                || err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            err.exit()
        }
        Err(err) => {
            // One line, like every other error of nca: the message with the lines that complete
            // it (e.g. the list of missing arguments), without the usage, a `--help` away.
            let rendered = err.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .take_while(|line| !line.is_empty())
                .collect();
            let message = message.join(" ");
            note!(
                "{} (see --help)",
                if message.is_empty() {
                    "error: invalid arguments".into()
                } else {
                    out::cut_echoes(&message)
                }
            );
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Targets => {
            targets::run();
            Ok(())
        }
        command => Compute::chosen(cli.backend).and_then(|compute| run(command, &compute)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            note!("error: {}", out::cut_echoes(&one_line(&err)));
            ExitCode::FAILURE
        }
    }
}

/// Runs a command that computes, on `compute`.
fn run(command: Command, compute: &Compute) -> anyhow::Result<()> {
    match command {
        Command::Train(args) => train::run(*args, compute),
        Command::Grow(args) => grow::run(args, compute),
        Command::Regenerate(args) => regenerate::run(args, compute),
        Command::Import(args) => import::run(args, compute),
        Command::Eval(args) => eval::run(args, compute),
        Command::Export(args) => export::run(args, compute),
        Command::Info(args) => info::run(args, compute),
        Command::Bench(args) => bench::run(args, compute),
        Command::Serve(args) => serve::run(args, compute),
        Command::Targets => {
            targets::run();
            Ok(())
        }
    }
}

/// The error and its causes on one line, each said once: a cause whose text its parent already
/// includes (as errors that embed their source do) is not repeated.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}
