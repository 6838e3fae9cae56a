//! The `fluxbrain` command line as a library: its binary is `main` calling [`run`].
//!
//! It is thin: flags and `FLUXBRAIN_*` variables in, validated together (every problem named
//! by the flag or variable that was set, [`given`], [`error::CliError`]), the library crates
//! wired together, results printed, failures mapped to exit codes (0 success, 1 runtime
//! failure, 2 usage or configuration error). No policy, JSON or Kubernetes logic lives here.
//!
//! The map:
//! - [`cmd`]: one module per subcommand (`run`, `render`, `status`, `silence`, `ack`; `demo`
//!   and `sim` behind the `sim` feature);
//! - [`operate`]: operators' writes (silences, acknowledgements) against a state store;
//! - [`settings`]: state specs, log settings, tokens, the lookup library crates read;
//! - [`http`]: continuous mode's endpoints (health, readiness, metrics, `/v1`);
//! - [`files`]: render's file reader; [`state_file`]: the file state store;
//!   [`print`](mod@print): notifications as people and scripts read them; [`summary`]: what `status`
//!   shows.

pub mod cmd;
pub mod error;
pub mod files;
pub mod given;
pub mod http;
pub mod operate;
pub mod print;
pub mod settings;
pub mod state_file;
pub mod summary;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use given::Given;

/// fluxbrain: FluxCD failures as deterministic, fingerprinted facts.
#[derive(Debug, Parser)]
#[command(name = "fluxbrain", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Play the main job on an embedded simulated cluster (no cluster or network needed).
    Demo(cmd::demo::Args),
    /// Watch clusters, open and close incidents, deliver notifications.
    Run(Box<cmd::run::Args>),
    /// Print the ErrorEvent of every failing object in files or folders (offline).
    Render(cmd::render::Args),
    /// The in-process Kubernetes API simulator.
    Sim(cmd::sim::Args),
    /// The open incidents and a summary, from the state store or a running instance.
    Status(cmd::status::Args),
    /// Hold back the notifications of matching incidents for a while.
    Silence(cmd::silence::Args),
    /// Acknowledge an open incident: no more reminders until it resolves.
    Ack(cmd::ack::Args),
}

/// Parses the command line and runs the command; returns the process exit code.
pub fn run() -> ExitCode {
    match fluxbrain_core::crash::arm_from_env() {
        Ok(Some((point, hit))) => eprintln!("fluxbrain: crash point {point} armed (hit {hit})"),
        Ok(None) => {}
        Err(e) => {
            eprintln!("fluxbrain: {e}");
            return ExitCode::from(2);
        }
    }
    let command = Cli::command();
    let matches = command.clone().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // Which flag or variable each value came from, for the messages of `run` and `status`.
    let sub = matches.subcommand().and_then(|(name, sub_matches)| {
        command
            .find_subcommand(name)
            .map(|sub_command| (sub_command, sub_matches))
    });
    let Some((mut sub_command, mut sub_matches)) = sub else {
        eprintln!("fluxbrain: a command is required (see fluxbrain --help)");
        return ExitCode::from(2);
    };
    // The innermost subcommand (`silence add`) names the flags.
    while let Some((name, inner)) = sub_matches.subcommand() {
        match sub_command.find_subcommand(name) {
            Some(inner_command) => {
                sub_command = inner_command;
                sub_matches = inner;
            }
            None => break,
        }
    }
    let given = Given::new(sub_command, sub_matches);
    match cli.command {
        Command::Demo(args) => cmd::demo::run(args),
        Command::Run(args) => cmd::run::run(*args, given),
        Command::Render(args) => cmd::render::run(args, given),
        Command::Sim(args) => cmd::sim::run(args),
        Command::Status(args) => cmd::status::run(args, given),
        Command::Silence(args) => cmd::silence::run(args, given),
        Command::Ack(args) => cmd::ack::run(args, given),
    }
}
