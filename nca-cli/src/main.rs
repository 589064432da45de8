//! `nca`: the command-line front of the nca workspace.

use clap::Parser;

/// Growing Neural Cellular Automata (Mordvintsev et al., 2020) in Rust.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    Cli::parse();
    Ok(())
}
