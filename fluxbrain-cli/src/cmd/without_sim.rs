//! `demo` and `sim serve` in a binary built without the simulator (the shipped image): the
//! commands exist, so scripts get a clear answer instead of "unrecognized subcommand".

use std::process::ExitCode;

/// What both commands say.
const WITHOUT_SIM: &str = "this fluxbrain was built without the simulator (cargo feature `sim`, \
     off in the container image); `demo` and `sim serve` need it: run them from a build with \
     default features, e.g. `cargo run -p fluxbrain-cli -- demo`";

/// Any arguments, accepted and ignored: the command cannot run whatever they are.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        hide = true,
        num_args = 0..
    )]
    pub(super) rest: Vec<String>,
}

fn refuse(command: &str) -> ExitCode {
    eprintln!("fluxbrain {command}: {WITHOUT_SIM}");
    ExitCode::from(2)
}

/// `fluxbrain demo` without the simulator.
pub mod demo {
    pub use super::Args;

    /// Exits 2, saying the binary was built without the simulator.
    pub fn run(_: Args) -> std::process::ExitCode {
        super::refuse("demo")
    }
}

/// `fluxbrain sim` without the simulator.
pub mod sim {
    pub use super::Args;

    /// Exits 2, saying the binary was built without the simulator.
    pub fn run(args: Args) -> std::process::ExitCode {
        match args.rest.first() {
            Some(sub) if !sub.starts_with('-') => super::refuse(&format!("sim {sub}")),
            _ => super::refuse("sim"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args as _, FromArgMatches};

    fn parse(argv: &[&str]) -> Args {
        let command = Args::augment_args(clap::Command::new("demo"));
        let matches = command.try_get_matches_from(argv).unwrap();
        Args::from_arg_matches(&matches).unwrap()
    }

    #[test]
    fn demo_and_sim_exit_2_whatever_their_arguments() {
        let code = demo::run(parse(&["demo", "--duration", "1h", "--pace", "0"]));
        assert_eq!(code, ExitCode::from(2));
        let code = sim::run(parse(&[
            "sim",
            "serve",
            "--state",
            "x",
            "--addr",
            "1.2.3.4:5",
        ]));
        assert_eq!(code, ExitCode::from(2));
        assert!(WITHOUT_SIM.contains("built without the simulator"));
    }
}
