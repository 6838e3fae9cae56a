//! Settings shared by the commands: state specs, log settings, tokens, and the [`Lookup`]
//! through which library crates read their own `FLUXBRAIN_*` variables.
//!
//! The settings of `run` and `status` are flags with a variable each (clap merges them, the
//! flag winning); library crates read theirs through a [`Lookup`] over the merged values, so
//! a flag and its variable can never disagree. Notifier settings are variables only (they are
//! secrets, mounted from a Secret).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fluxbrain_core::engine::{MemoryStore, StateStore};
use fluxbrain_core::{BuildOptions, Environment};

use crate::state_file::FileStore;

/// What every event carries: `source.environment` and extra `source.tags` (empty ones
/// dropped).
pub fn build_options(environment: Option<Environment>, tags: &[String]) -> BuildOptions {
    BuildOptions {
        environment,
        tags: tags
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        now: None,
        report_drift: false,
    }
}

/// How logs are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the event's
    /// fields (`notifier`, `cluster`, `incident`, `error`, ...).
    Json,
    /// Human-readable lines.
    Text,
}

/// Where the engine keeps its state (`FLUXBRAIN_STATE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateSpec {
    /// `memory`: nothing survives the process.
    Memory,
    /// `file:PATH`.
    File(PathBuf),
    /// `configmap:NAMESPACE/NAME`.
    ConfigMap {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
}

impl std::str::FromStr for StateSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            None if s == "memory" => Ok(StateSpec::Memory),
            Some(("file", path)) if !path.is_empty() => Ok(StateSpec::File(PathBuf::from(path))),
            Some(("configmap", target)) => match target.split_once('/') {
                Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                    Ok(StateSpec::ConfigMap {
                        namespace: ns.to_owned(),
                        name: name.to_owned(),
                    })
                }
                _ => Err(format!("{s:?}: expected configmap:NAMESPACE/NAME")),
            },
            _ => Err(format!(
                "{s:?}: expected memory, file:PATH or configmap:NAMESPACE/NAME"
            )),
        }
    }
}

/// As `FLUXBRAIN_STATE` spells it.
impl std::fmt::Display for StateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateSpec::Memory => f.write_str("memory"),
            StateSpec::File(path) => write!(f, "file:{}", path.display()),
            StateSpec::ConfigMap { namespace, name } => write!(f, "configmap:{namespace}/{name}"),
        }
    }
}

impl StateSpec {
    /// The default: a ConfigMap in the Flux namespace when running in a pod, else a file under
    /// the user's state folder.
    pub fn default_for(lookup: &dyn Fn(&str) -> Option<String>, flux_namespace: &str) -> Self {
        if lookup("KUBERNETES_SERVICE_HOST").is_some_and(|h| !h.is_empty()) {
            StateSpec::ConfigMap {
                namespace: flux_namespace.to_owned(),
                name: "fluxbrain-state".to_owned(),
            }
        } else {
            StateSpec::File(FileStore::default_path(lookup))
        }
    }

    /// Opens the store; a ConfigMap store needs a client of the cluster that holds it.
    pub fn open(
        &self,
        client: Option<kube::Client>,
        timeout: Duration,
    ) -> Result<Arc<dyn StateStore>, String> {
        Ok(match self {
            StateSpec::Memory => Arc::new(MemoryStore::new()),
            StateSpec::File(path) => Arc::new(FileStore::new(path)),
            StateSpec::ConfigMap { namespace, name } => {
                let client = client
                    .ok_or("FLUXBRAIN_STATE: configmap state needs a cluster to store it in")?;
                Arc::new(fluxbrain_kube::ConfigMapStore::new(
                    client, namespace, name, timeout,
                ))
            }
        })
    }
}

/// A lookup over flag values (by variable name) first, then the process environment.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    flags: BTreeMap<&'static str, String>,
}

impl Lookup {
    /// Records a flag's value under its variable's name.
    pub fn set(&mut self, variable: &'static str, value: impl Into<String>) {
        self.flags.insert(variable, value.into());
    }

    /// The value of `variable`: its flag, else the environment.
    pub fn get(&self, variable: &str) -> Option<String> {
        self.flags
            .get(variable)
            .cloned()
            .or_else(|| std::env::var(variable).ok())
    }
}

/// A duration flag or variable: core's one rule (`0`, or numbers with units: `90s`, `4h`).
pub fn parse_interval(s: &str) -> Result<Duration, fluxbrain_core::DurationError> {
    fluxbrain_core::duration::parse(s)
}

/// A duration that must be longer than zero.
pub fn parse_positive(s: &str) -> Result<Duration, fluxbrain_core::DurationError> {
    fluxbrain_core::duration::parse_positive(s)
}

/// `error`, `warn`, `info`, `debug` or `trace`.
pub fn parse_level(s: &str) -> Result<tracing::Level, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not error, warn, info, debug or trace"))
}

/// `json` or `text`.
pub fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s.trim() {
        "json" => Ok(LogFormat::Json),
        "text" => Ok(LogFormat::Text),
        other => Err(format!("{other:?} is not json or text")),
    }
}

/// Sends tracing output to stderr at `level`, as `format` says (default: JSON unless stderr
/// is a terminal).
///
/// kube-rs's own request tracing is left out: its client logs every failed HTTP request at
/// ERROR (`failed with status 503`, `failed with error ... EOF` on a dropped watch) with no
/// cluster, kind or URL, at the request rate. The collector reports the same failures itself,
/// once per cluster, kind and status per interval, with what it was doing.
pub fn init_logging(level: tracing::Level, format: Option<LogFormat>) {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let format = format.unwrap_or(if std::io::stderr().is_terminal() {
        LogFormat::Text
    } else {
        LogFormat::Json
    });
    let targets = log_filter();
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .finish()
            .with(targets)
            .try_init(),
        LogFormat::Text => builder.with_target(false).finish().with(targets).try_init(),
    };
}

/// What is left out of the log: kube-rs's per-request client tracing entirely, and the rest
/// of its client (`eof in poll` on every dropped watch stream) and its watcher (which repeats
/// the collector's RBAC warnings) but for errors. Everything else passes (to the level set on
/// the formatter).
pub fn log_filter() -> tracing_subscriber::filter::FilterFn<fn(&tracing::Metadata<'_>) -> bool> {
    tracing_subscriber::filter::filter_fn(kept as fn(&tracing::Metadata<'_>) -> bool)
}

fn kept(metadata: &tracing::Metadata<'_>) -> bool {
    let target = metadata.target();
    if target.starts_with("kube_client::client::builder") {
        false
    } else if target.starts_with("kube_client") || target.starts_with("kube_runtime") {
        *metadata.level() == tracing::Level::ERROR
    } else {
        true
    }
}

/// The bearer token of the `/v1` routes: `FLUXBRAIN_API_TOKEN` (`token`), or the content of the
/// file `FLUXBRAIN_API_TOKEN_FILE` names (`file`, a mounted Secret), trimmed.
///
/// # Errors
/// Both given, an unreadable file, or an empty token, each naming the variable.
pub fn api_token(
    token: Option<&str>,
    file: Option<&std::path::Path>,
) -> Result<Option<String>, String> {
    let token = match (token, file) {
        (Some(_), Some(_)) => {
            return Err(
                "FLUXBRAIN_API_TOKEN and FLUXBRAIN_API_TOKEN_FILE are both set; keep one".into(),
            );
        }
        (Some(token), None) => token.trim().to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| format!("FLUXBRAIN_API_TOKEN_FILE: {}: {e}", path.display()))?
            .trim()
            .to_owned(),
        (None, None) => return Ok(None),
    };
    if token.is_empty() {
        return Err("FLUXBRAIN_API_TOKEN(_FILE): the token is empty".into());
    }
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_tokens() {
        let file = std::env::temp_dir().join(format!("fluxbrain-token-{}", std::process::id()));
        std::fs::write(&file, "  s3cret\n").unwrap();
        assert_eq!(api_token(None, None), Ok(None));
        assert_eq!(api_token(Some(" t "), None), Ok(Some("t".into())));
        assert_eq!(api_token(None, Some(&file)), Ok(Some("s3cret".into())));
        let both = api_token(Some("t"), Some(&file)).unwrap_err();
        assert!(both.contains("both set"), "{both}");
        let empty = api_token(Some("  "), None).unwrap_err();
        assert!(empty.contains("empty"), "{empty}");
        std::fs::remove_file(&file).unwrap();
        let missing = api_token(None, Some(&file)).unwrap_err();
        assert!(
            missing.starts_with("FLUXBRAIN_API_TOKEN_FILE: "),
            "{missing}"
        );
    }

    #[test]
    fn state_specs() {
        assert_eq!("memory".parse(), Ok(StateSpec::Memory));
        assert_eq!(
            "file:/var/lib/x.json".parse(),
            Ok(StateSpec::File("/var/lib/x.json".into()))
        );
        assert_eq!(
            "configmap:flux-system/fluxbrain".parse(),
            Ok(StateSpec::ConfigMap {
                namespace: "flux-system".into(),
                name: "fluxbrain".into()
            })
        );
        for bad in [
            "",
            "file:",
            "configmap:x",
            "configmap:/n",
            "redis://x",
            "memory:1",
        ] {
            assert!(bad.parse::<StateSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("0"), Ok(Duration::ZERO));
        assert_eq!(parse_interval("4h"), Ok(Duration::from_secs(14_400)));
        assert!(
            parse_interval("soon")
                .unwrap_err()
                .to_string()
                .contains("soon")
        );
        assert!(parse_positive("0").is_err());
    }

    #[test]
    fn default_state() {
        let pod = |k: &str| (k == "KUBERNETES_SERVICE_HOST").then(|| "10.0.0.1".to_owned());
        assert_eq!(
            StateSpec::default_for(&pod, "flux-system"),
            StateSpec::ConfigMap {
                namespace: "flux-system".into(),
                name: "fluxbrain-state".into()
            }
        );
        let laptop = |k: &str| (k == "HOME").then(|| "/home/me".to_owned());
        assert_eq!(
            StateSpec::default_for(&laptop, "flux-system"),
            StateSpec::File("/home/me/.local/state/fluxbrain/state.json".into())
        );
    }
}

#[cfg(test)]
mod log_target_tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn kube_client_noise_is_left_out() {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&out);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Writer(Arc::clone(&sink)))
            .finish()
            .with(super::log_filter());
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "kube_client::client", "eof in poll");
            tracing::error!(target: "kube_client::client::builder", "failed with status 503");
            tracing::warn!(target: "kube_runtime::watcher", "watcher error 403");
            tracing::error!(target: "kube_client::client", "kept");
            tracing::warn!(target: "fluxbrain_kube::collector", "ours");
        });
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("eof in poll"), "{text}");
        assert!(!text.contains("failed with status"), "{text}");
        assert!(!text.contains("watcher error"), "{text}");
        assert!(text.contains("kept"), "{text}");
        assert!(text.contains("ours"), "{text}");
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
