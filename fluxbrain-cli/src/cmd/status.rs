//! `fluxbrain status`: the open incidents and a summary, from a running instance's HTTP API
//! (`--server`) or straight from the state store.

use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::CliError;
use crate::given::{Given, Problems};
use crate::settings::{StateSpec, api_token};
use crate::summary::{Incidents, Summary, incidents_table, summary_text};

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

Exit codes: 0 success; 1 the state or the server could not be read; 2 usage error.")]
pub struct Args {
    /// `table` or `json`.
    #[arg(long, short, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// A running instance, e.g. `http://fluxbrain.flux-system:8080`.
    #[arg(long, env = "FLUXBRAIN_SERVER")]
    server: Option<String>,
    /// The bearer token of its /v1 routes.
    #[arg(long, env = "FLUXBRAIN_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// A file holding that token.
    #[arg(long, env = "FLUXBRAIN_API_TOKEN_FILE")]
    api_token_file: Option<std::path::PathBuf>,
    /// memory, file:PATH or configmap:NAMESPACE/NAME.
    #[arg(long, env = "FLUXBRAIN_STATE")]
    state: Option<String>,
    /// Where the default ConfigMap state lives.
    #[arg(long, env = "FLUXBRAIN_FLUX_NAMESPACE", default_value = "flux-system")]
    flux_namespace: String,
}

/// Bound of every request.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What `--output json` prints.
#[derive(Debug, Serialize)]
struct Status {
    summary: Summary,
    #[serde(flatten)]
    incidents: Incidents,
}

/// Where `status` reads from, validated.
#[derive(Debug)]
enum Source {
    /// A running instance and its token.
    Server { base: String, token: Option<String> },
    /// The state store.
    Store(StateSpec),
}

/// Runs the command.
pub fn run(args: Args, given: Given<'_>) -> ExitCode {
    let mut problems = Problems::new(given);
    let state = problems.parse("state", args.state.as_deref(), str::parse::<StateSpec>);
    let source = match &args.server {
        Some(server) => {
            let base = server.trim().trim_end_matches('/').to_owned();
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                problems.add(
                    "server",
                    format!("{server:?} is not an http:// or https:// URL"),
                );
            }
            let token = api_token(args.api_token.as_deref(), args.api_token_file.as_deref())
                .unwrap_or_else(|problem| {
                    problems.add("api_token", problem);
                    None
                });
            Source::Server { base, token }
        }
        None => {
            let env = |k: &str| std::env::var(k).ok();
            Source::Store(
                state.unwrap_or_else(|| StateSpec::default_for(&env, &args.flux_namespace)),
            )
        }
    };
    if let Err(e) = problems.finish() {
        return e.report("status");
    }
    let runtime = match super::runtime("status") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let status = match runtime.block_on(read(&source)) {
        Ok(status) => status,
        Err(e) => return e.report("status"),
    };
    let text = match args.output {
        Output::Table => summary_text(&status.summary) + "\n" + &incidents_table(&status.incidents),
        Output::Json => match serde_json::to_string_pretty(&status) {
            Ok(json) => json + "\n",
            Err(e) => {
                eprintln!("fluxbrain status: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    print!("{text}");
    ExitCode::SUCCESS
}

async fn read(source: &Source) -> Result<Status, CliError> {
    let spec = match source {
        Source::Server { base, token } => {
            let client = fluxbrain_notify::http::client_builder("status").and_then(|b| {
                b.timeout(TIMEOUT)
                    .build()
                    .map_err(|e| fluxbrain_notify::Error::Client {
                        notifier: "status",
                        reason: e.to_string(),
                    })
            })?;
            let token = token.as_deref();
            return Ok(Status {
                summary: fetch(&client, &format!("{base}/v1/summary"), token).await?,
                incidents: fetch(&client, &format!("{base}/v1/incidents"), token).await?,
            });
        }
        Source::Store(spec) => spec,
    };
    let state_error = |problem: String| CliError::State {
        store: spec.to_string(),
        problem,
    };
    let client = match spec {
        StateSpec::ConfigMap { .. } => Some(kube::Client::try_default().await.map_err(|e| {
            state_error(format!(
                "no cluster to read it from ({}); set KUBECONFIG or run in a pod",
                crate::error::chain(&e)
            ))
        })?),
        _ => None,
    };
    let store = spec.open(client, TIMEOUT).map_err(state_error)?;
    let state = match store.load().await {
        Ok(Some(state)) => state,
        Ok(None) => {
            eprintln!("fluxbrain status: {} holds no state yet", store.name());
            fluxbrain_core::State::default()
        }
        Err(e) => return Err(state_error(e.to_string())),
    };
    Ok(Status {
        summary: Summary::of_state(&state),
        incidents: Incidents::of(&state),
    })
}

async fn fetch<T: DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<T, CliError> {
    let problem = |problem: String| CliError::Server {
        url: url.to_owned(),
        problem,
    };
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request
        .send()
        .await
        .map_err(|e| problem(crate::error::chain(&e)))?;
    let status = answer.status();
    let body = answer.text().await.map_err(|e| problem(e.to_string()))?;
    if !status.is_success() {
        return Err(problem(format!("{status}: {}", body.trim())));
    }
    serde_json::from_str(&body).map_err(|e| problem(format!("not a fluxbrain answer: {e}")))
}
