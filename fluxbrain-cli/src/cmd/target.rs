//! Where `status`, `silence` and `ack` read and write: a running instance's HTTP API
//! (`--server`) or the state store itself.

use std::sync::Arc;
use std::time::Duration;

use fluxbrain_core::{State, StateStore};
use serde::de::DeserializeOwned;

use crate::error::CliError;
use crate::given::Problems;
use crate::settings::{StateSpec, api_token};

/// Bound of every request.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// The arguments that choose where to read and write.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
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

/// Where to read and write, validated.
#[derive(Debug)]
pub(crate) enum Target {
    /// A running instance and its token.
    Server { base: String, token: Option<String> },
    /// The state store.
    Store(StateSpec),
}

impl TargetArgs {
    /// The target, or problems naming the flag or variable at fault.
    pub(crate) fn resolve(&self, problems: &mut Problems<'_>) -> Target {
        let state = problems.parse("state", self.state.as_deref(), str::parse::<StateSpec>);
        match &self.server {
            Some(server) => {
                let base = server.trim().trim_end_matches('/').to_owned();
                if !(base.starts_with("http://") || base.starts_with("https://")) {
                    problems.add(
                        "server",
                        format!("{server:?} is not an http:// or https:// URL"),
                    );
                }
                let token = api_token(self.api_token.as_deref(), self.api_token_file.as_deref())
                    .unwrap_or_else(|problem| {
                        problems.add("api_token", problem);
                        None
                    });
                Target::Server { base, token }
            }
            None => {
                let env = |k: &str| std::env::var(k).ok();
                Target::Store(
                    state.unwrap_or_else(|| StateSpec::default_for(&env, &self.flux_namespace)),
                )
            }
        }
    }
}

impl Target {
    /// Opens the state store (with a cluster client when it is a ConfigMap).
    pub(crate) async fn store(spec: &StateSpec) -> Result<Arc<dyn StateStore>, CliError> {
        let client = match spec {
            StateSpec::ConfigMap { .. } => {
                Some(kube::Client::try_default().await.map_err(|e| {
                    state_error(
                        spec,
                        format!(
                            "no cluster to read it from ({}); set KUBECONFIG or run in a pod",
                            crate::error::chain(&e)
                        ),
                    )
                })?)
            }
            _ => None,
        };
        spec.open(client, TIMEOUT)
            .map_err(|problem| state_error(spec, problem))
    }

    /// The engine's saved state (empty, with a note on stderr, when nothing was saved).
    pub(crate) async fn load(
        spec: &StateSpec,
        store: &dyn StateStore,
        command: &str,
    ) -> Result<State, CliError> {
        match store.load().await {
            Ok(Some(state)) => Ok(state),
            Ok(None) => {
                eprintln!("fluxbrain {command}: {} holds no state yet", store.name());
                Ok(State::default())
            }
            Err(e) => Err(state_error(spec, e.to_string())),
        }
    }
}

/// A problem with the state store.
pub(crate) fn state_error(spec: &StateSpec, problem: String) -> CliError {
    CliError::State {
        store: spec.to_string(),
        problem,
    }
}

/// An HTTP client for the /v1 routes.
pub(crate) fn client(command: &'static str) -> Result<reqwest::Client, CliError> {
    Ok(
        fluxbrain_notify::http::client_builder(command).and_then(|b| {
            b.timeout(TIMEOUT)
                .build()
                .map_err(|e| fluxbrain_notify::Error::Client {
                    notifier: command,
                    reason: e.to_string(),
                })
        })?,
    )
}

/// Sends `request` (with the bearer token) and reads a JSON answer. A 4xx answer's text is
/// the error: `refused` maps its status to the error to return (usage or not found), so the
/// exit code says what it says locally.
pub(crate) async fn call<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    url: &str,
    token: Option<&str>,
) -> Result<T, CliError> {
    let problem = |problem: String| CliError::Server {
        url: url.to_owned(),
        problem,
    };
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let answer = request
        .send()
        .await
        .map_err(|e| problem(crate::error::chain(&e)))?;
    let status = answer.status();
    let body = answer.text().await.map_err(|e| problem(e.to_string()))?;
    if !status.is_success() {
        let text = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| body.trim().to_owned());
        return Err(match status.as_u16() {
            400 => CliError::Refused {
                problem: text,
                usage: true,
            },
            404 | 409 => CliError::Refused {
                problem: text,
                usage: false,
            },
            _ => problem(format!("{status}: {text}")),
        });
    }
    serde_json::from_str(&body).map_err(|e| problem(format!("not a fluxbrain answer: {e}")))
}

/// `request` with `body` as its JSON body.
pub(crate) fn with_json(
    request: reqwest::RequestBuilder,
    body: &impl serde::Serialize,
) -> reqwest::RequestBuilder {
    request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(body).unwrap_or_default())
}
