//! `fluxbrain status`: the open incidents and a summary, from a running instance's HTTP API
//! (`--server`) or straight from the state store.

use std::process::ExitCode;

use serde::Serialize;

use super::target::{Target, TargetArgs, call, client, state_error};
use crate::error::CliError;
use crate::given::{Given, Problems};
use crate::summary::{
    History, Incidents, NotFound, OneIncident, Summary, history_table, incidents_table,
    summary_text, timeline_text,
};

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// A summary and a table of incidents.
    Table,
    /// `{"summary": {...}, "incidents": [...]}`.
    Json,
}

/// Arguments of `fluxbrain status`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Without --server, reads the state store fluxbrain run uses (FLUXBRAIN_STATE; default: a \
ConfigMap in a pod, else ~/.local/state/fluxbrain/state.json); it knows the incidents and \
notifiers, not the clusters. With --server, asks a running instance (its /v1 routes).

`status ID` shows one incident (open or resolved; a unique beginning of its id will do) and \
its timeline; `status --history` the resolved incidents kept.

Exit codes: 0 success; 1 the state or the server could not be read, or no such incident; \
2 usage error.")]
pub struct Args {
    /// One incident's id (or a unique beginning of it): show it and its timeline.
    incident: Option<String>,
    /// Show the resolved incidents kept instead of the open ones.
    #[arg(long, conflicts_with = "incident")]
    history: bool,
    /// `table` or `json`.
    #[arg(long, short, value_enum, default_value_t = Output::Table)]
    output: Output,
    #[command(flatten)]
    target: TargetArgs,
}

/// What `--output json` prints.
#[derive(Debug, Serialize)]
struct Status {
    summary: Summary,
    #[serde(flatten)]
    incidents: Incidents,
}

/// What was asked for.
#[derive(Debug)]
enum View {
    Open(Status),
    History(History),
    One(OneIncident),
}

/// Runs the command.
pub fn run(args: Args, given: Given<'_>) -> ExitCode {
    let mut problems = Problems::new(given);
    let target = args.target.resolve(&mut problems);
    if let Err(e) = problems.finish() {
        return e.report("status");
    }
    let runtime = match super::runtime("status") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let view = match runtime.block_on(read(&target, &args)) {
        Ok(view) => view,
        Err(e) => return e.report("status"),
    };
    let text = match args.output {
        Output::Table => match &view {
            View::Open(status) => {
                summary_text(&status.summary) + "\n" + &incidents_table(&status.incidents)
            }
            View::History(history) => history_table(history),
            View::One(one) => timeline_text(one),
        },
        Output::Json => {
            let json = match &view {
                View::Open(status) => serde_json::to_string_pretty(status),
                View::History(history) => serde_json::to_string_pretty(history),
                View::One(one) => serde_json::to_string_pretty(one),
            };
            match json {
                Ok(json) => json + "\n",
                Err(e) => {
                    eprintln!("fluxbrain status: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    print!("{text}");
    ExitCode::SUCCESS
}

async fn read(target: &Target, args: &Args) -> Result<View, CliError> {
    let spec = match target {
        Target::Server { base, token } => {
            let client = client("status")?;
            let token = token.as_deref();
            let get = |path: &str| {
                let url = format!("{base}{path}");
                (client.get(&url), url)
            };
            if let Some(id) = &args.incident {
                let (request, url) = get(&format!("/v1/incidents/{}", id.trim()));
                return Ok(View::One(call(request, &url, token).await?));
            }
            if args.history {
                let (request, url) = get("/v1/history");
                return Ok(View::History(call(request, &url, token).await?));
            }
            let (request, url) = get("/v1/summary");
            let summary = call(request, &url, token).await?;
            let (request, url) = get("/v1/incidents");
            let incidents = call(request, &url, token).await?;
            return Ok(View::Open(Status { summary, incidents }));
        }
        Target::Store(spec) => spec,
    };
    let store = Target::store(spec).await?;
    let state = Target::load(spec, store.as_ref(), "status").await?;
    if let Some(id) = &args.incident {
        return match OneIncident::find(&state, id) {
            Ok(one) => Ok(View::One(one)),
            Err(NotFound::None) => Err(CliError::Refused {
                problem: format!("no incident {:?}, open or in the history", id.trim()),
                usage: false,
            }),
            Err(NotFound::Ambiguous) => Err(CliError::Refused {
                problem: format!(
                    "{:?} names more than one incident: give more of the id",
                    id.trim()
                ),
                usage: false,
            }),
        };
    }
    if args.history {
        return Ok(View::History(History::of(&state)));
    }
    let control = store
        .load_control()
        .await
        .map_err(|e| state_error(spec, e.to_string()))?
        .map(|(c, _)| c)
        .unwrap_or_default();
    Ok(View::Open(Status {
        summary: Summary::of_state(&state).with_control(&control, crate::operate::now()),
        incidents: Incidents::of(&state),
    }))
}
