//! `fluxbrain status`: the open incidents and a summary, from a running instance's HTTP API
//! (`--server`) or straight from the state store.

use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::settings::{Lookup, StateSpec, api_token};
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
    /// A running instance, e.g. http://fluxbrain.flux-system:8080.
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
    state: Option<StateSpec>,
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

/// Runs the command.
pub fn run(args: Args) -> ExitCode {
    let runtime = match super::runtime("status") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let status = match runtime.block_on(read(&args)) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("fluxbrain: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = match args.output {
        Output::Table => summary_text(&status.summary) + "\n" + &incidents_table(&status.incidents),
        Output::Json => match serde_json::to_string_pretty(&status) {
            Ok(json) => json + "\n",
            Err(e) => {
                eprintln!("fluxbrain: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    print!("{text}");
    ExitCode::SUCCESS
}

async fn read(args: &Args) -> Result<Status, String> {
    if let Some(server) = &args.server {
        let base = server.trim_end_matches('/');
        let client = fluxbrain_notify::http::client_builder("status")
            .and_then(|b| {
                b.timeout(TIMEOUT)
                    .build()
                    .map_err(|e| fluxbrain_notify::Error::Client {
                        notifier: "status",
                        reason: e.to_string(),
                    })
            })
            .map_err(|e| e.to_string())?;
        let token = api_token(args.api_token.as_deref(), args.api_token_file.as_deref())?;
        let token = token.as_deref();
        return Ok(Status {
            summary: fetch(&client, &format!("{base}/v1/summary"), token).await?,
            incidents: fetch(&client, &format!("{base}/v1/incidents"), token).await?,
        });
    }
    let lookup = Lookup::default();
    let get = |k: &str| lookup.get(k);
    let spec = args
        .state
        .clone()
        .unwrap_or_else(|| StateSpec::default_for(&get, &args.flux_namespace));
    let client = match spec {
        StateSpec::ConfigMap { .. } => Some(
            kube::Client::try_default()
                .await
                .map_err(|e| format!("no cluster to read the state from: {e}"))?,
        ),
        _ => None,
    };
    let store = spec.open(client, TIMEOUT)?;
    let state = match store.load().await {
        Ok(Some(state)) => state,
        Ok(None) => {
            eprintln!("fluxbrain: {} holds no state yet", store.name());
            fluxbrain_core::State::default()
        }
        Err(e) => return Err(format!("{}: {e}", store.name())),
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
) -> Result<T, String> {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = answer.status();
    let body = answer.text().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url}: {status}: {}", body.trim()));
    }
    serde_json::from_str(&body).map_err(|e| format!("{url}: not a fluxbrain answer: {e}"))
}
