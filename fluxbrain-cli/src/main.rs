//! `fluxbrain`: senses FluxCD failures and reports them as errorbrain v1 events.
//!
//! The binary is thin: it reads flags and `FLUXBRAIN_*` variables into settings, wires the
//! library crates together and maps failures to exit codes (0 success, 1 runtime failure,
//! 2 usage or configuration error).

mod cmd;
mod files;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// fluxbrain: FluxCD failures as deterministic, fingerprinted facts.
#[derive(Debug, Parser)]
#[command(name = "fluxbrain", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the ErrorEvent of every failing object in files or folders (offline).
    Render(cmd::render::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Render(args) => cmd::render::run(args),
    }
}
