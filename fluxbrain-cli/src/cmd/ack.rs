//! `fluxbrain ack INCIDENT`: stop the reminders of an open incident until it resolves or is
//! superseded, against the state store or a running instance.

use std::process::ExitCode;

use fluxbrain_core::Ack;
use serde::{Deserialize, Serialize};

use super::target::{Target, TargetArgs, call, client};
use crate::error::CliError;
use crate::given::{Given, Problems};
use crate::operate;

/// Arguments of `fluxbrain ack`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The acknowledgement (who, when, the comment) is shown by `status` and in the incident's later \
notifications (an update, its resolution).

Exit codes: 0 success; 1 no such open incident, or the state or server could not be reached; \
2 usage error.")]
pub struct Args {
    /// The incident's id (or a unique beginning of it), as `fluxbrain status` shows it.
    incident: String,
    /// Why, or what is being done.
    #[arg(long)]
    comment: Option<String>,
    /// Who (default: the OS user).
    #[arg(long)]
    author: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
}

/// Who writes, and why: the body of `POST /v1/incidents/{id}/ack` and of
/// `DELETE /v1/silences/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OperatorNote {
    /// Who.
    pub author: String,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Runs the command.
pub fn run(args: Args, given: Given<'_>) -> ExitCode {
    match ack(args, given) {
        Ok(ack) => {
            let comment = ack
                .comment
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            println!(
                "incident {} acknowledged by {} at {}{comment}; no more reminders until it resolves",
                ack.incident_id, ack.by, ack.at
            );
            ExitCode::SUCCESS
        }
        Err(e) => e.report("ack"),
    }
}

fn ack(args: Args, given: Given<'_>) -> Result<Ack, CliError> {
    let mut problems = Problems::new(given);
    let author = match args.author.clone().or_else(operate::default_author) {
        Some(a) if !a.trim().is_empty() => a,
        _ => {
            problems.add("author", "no author: give --author NAME (USER is not set)");
            String::new()
        }
    };
    if args.incident.trim().is_empty() {
        problems.add("incident", "the incident id is empty");
    }
    let target = args.target.resolve(&mut problems);
    problems.finish()?;
    let runtime = super::runtime_or_error()?;
    runtime.block_on(async {
        match &target {
            Target::Server { base, token } => {
                let url = format!("{base}/v1/incidents/{}/ack", args.incident.trim());
                let request = super::target::with_json(
                    client("ack")?.post(&url),
                    &OperatorNote {
                        author,
                        comment: args.comment.clone(),
                    },
                );
                call::<Ack>(request, &url, token.as_deref()).await
            }
            Target::Store(spec) => {
                let store = Target::store(spec).await?;
                operate::acknowledge(
                    store.as_ref(),
                    &args.incident,
                    &author,
                    args.comment.as_deref(),
                    operate::now(),
                )
                .await
            }
        }
    })
}
