//! `fluxbrain render`: files in, ErrorEvents out, as a pure function of the files and flags.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use fluxbrain_core::{BuildOptions, Environment, Time, build_all, canonical};

use crate::files;
use crate::given::{Given, Problems};
use crate::settings::build_options;

/// Arguments of `fluxbrain render`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Inputs: Flux objects, Events and Pods as YAML (multi-document, `kind: List`) or JSON files, and \
controller logs as `*.log` files of JSON lines named after their pod (`<pod>.log`, or a first \
line `# pod: <namespace>/<pod>[/<container>]`). Folders are read recursively.

Exit codes: 0 all inputs read; 1 something was skipped or corrected (the rest is still \
printed); 2 usage error.")]
pub struct Args {
    /// Cluster name written into every event.
    #[arg(long, env = "FLUXBRAIN_CLUSTER")]
    cluster: String,
    /// "Now" for the failure window of log lines (RFC 3339); without it no line is too new.
    #[arg(long)]
    now: Option<String>,
    /// Indent each event (still one event after another, separated by newlines).
    #[arg(long)]
    pretty: bool,
    /// `source.environment` of every event.
    #[arg(long, env = "FLUXBRAIN_ENVIRONMENT")]
    environment: Option<String>,
    /// Extra `source.tags`, comma-separated.
    #[arg(long, env = "FLUXBRAIN_TAGS", value_delimiter = ',')]
    tags: Vec<String>,
    /// Files or folders to read.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Runs the command; problems with inputs are reported on stderr and make the exit code 1.
pub fn run(args: Args, given: Given<'_>) -> ExitCode {
    let mut problems = Problems::new(given);
    let cluster = problems.parse("cluster", Some(&args.cluster), non_empty);
    let now = problems.parse("now", args.now.as_deref(), parse_time);
    let environment = problems.parse("environment", args.environment.as_deref(), |s| {
        s.parse::<Environment>()
    });
    let cluster = match (problems.finish(), cluster) {
        (Ok(()), Some(cluster)) => cluster,
        (Err(e), _) => return e.report("render"),
        (Ok(()), None) => return ExitCode::from(2),
    };
    let loaded = files::load(&args.paths, &cluster);
    for problem in &loaded.problems {
        eprintln!("fluxbrain: {problem}");
    }
    let options = BuildOptions {
        now,
        ..build_options(environment, &args.tags)
    };
    let events = build_all(&loaded.snapshot, &options);
    let out = canonical::to_ndjson(&events, args.pretty);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(&out).and_then(|()| stdout.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("fluxbrain: writing events to stdout: {e}");
        }
        return ExitCode::FAILURE;
    }
    if loaded.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "fluxbrain: {} event(s) printed; {} input problem(s) above",
            events.len(),
            loaded.problems.len()
        );
        ExitCode::FAILURE
    }
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("must not be empty: the cluster's name goes into every event".to_owned())
    } else {
        Ok(s.trim().to_owned())
    }
}

fn parse_time(s: &str) -> Result<Time, String> {
    Time::parse(s)
        .ok_or_else(|| format!("{s:?} is not an RFC 3339 time such as 2026-04-21T09:30:00Z"))
}
