//! What the collector watches and how: clusters, the Flux namespace, logs, intervals, limits.
//!
//! [`CollectorConfig::from_env`] reads the Go fluxbrain's variables (`FLUXBRAIN_CLUSTER`,
//! `FLUXBRAIN_FLUX_NAMESPACE`, `FLUXBRAIN_COLLECT_LOGS`, `FLUXBRAIN_REQUEUE_INTERVAL`) and the
//! newer `FLUXBRAIN_CONTEXTS`, and finds each cluster's API server the way controller-runtime
//! does: `KUBECONFIG`, else the in-cluster service account, else `~/.kube/config`.

use std::path::PathBuf;
use std::time::Duration;

use fluxbrain_core::Backoff;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::error::Error;

/// Where a cluster's API server is and how to authenticate to it.
#[derive(Clone)]
pub struct ClusterConfig {
    /// The cluster's name in events (`cluster:<name>`) and incidents.
    pub name: String,
    /// kube-rs connection settings (URL, TLS, credentials). The collector sets its own read
    /// timeouts on copies of it.
    pub kube: kube::Config,
    /// A ready client to use instead of building one from `kube` (an in-process API in tests:
    /// see [`ClusterConfig::with_client`]).
    pub client: Option<kube::Client>,
}

impl std::fmt::Debug for ClusterConfig {
    // kube::Config holds credentials; only the name and the URL are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("name", &self.name)
            .field("url", &self.kube.cluster_url.to_string())
            .finish_non_exhaustive()
    }
}

impl ClusterConfig {
    /// A cluster named `name` at `kube`'s API server.
    pub fn new(name: impl Into<String>, kube: kube::Config) -> Self {
        ClusterConfig {
            name: name.into(),
            kube,
            client: None,
        }
    }

    /// A cluster named `name` read through `client` as it is. The collector still bounds every
    /// plain request by [`CollectorConfig::api_timeout`], but cannot give the client the read
    /// timeout that ends a watch gone silent; use it for in-process APIs, whose streams end
    /// when they stop.
    pub fn with_client(name: impl Into<String>, client: kube::Client) -> Self {
        // Only for `Debug`: the client carries its own address.
        let kube = kube::Config::new(http::Uri::from_static("http://in-process.invalid"));
        ClusterConfig {
            name: name.into(),
            kube,
            client: Some(client),
        }
    }
}

/// Settings of a [`KubeCollector`](super::KubeCollector).
///
/// [`CollectorConfig::new`] gives the defaults below for a list of clusters; every field may be
/// changed before the collector is built.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// The clusters, each read on its own: one unreachable cluster never hides the others.
    pub clusters: Vec<ClusterConfig>,
    /// Where the Flux controllers run (pods and logs); default `flux-system`.
    pub flux_namespace: String,
    /// Whether to read controller logs for failing objects; default `false`.
    pub collect_logs: bool,
    /// Continuous mode: a full relist of every kind this often, and re-discovery of the kinds a
    /// cluster serves; default 5 minutes.
    pub requeue_interval: Duration,
    /// At most this many log lines per controller pod and collection; default 500.
    pub log_tail_lines: u32,
    /// Continuous mode: controller logs read for a collection are reused by the next ones
    /// while the failing objects and their failure starts stay the same, for at most this
    /// long; default 1 minute. A new failure is always read at once.
    pub log_refresh_interval: Duration,
    /// Objects per list page in a one-shot collection; default 500.
    pub page_size: u32,
    /// Objects per list page of a watcher's (re)list; default 100. Every watch keeps its
    /// connection, and a connection keeps a read buffer as large as the largest answer made it
    /// grow (up to about 400 KiB): smaller pages keep the buffers of the 21 watches of a
    /// cluster small (against the simulator, 10k objects and 30k events watched: 38 MiB
    /// resident instead of 46 MiB, `benches/README.md`). An API server that serves
    /// `resourceVersion=0` lists from its watch cache may ignore the limit (older Kubernetes
    /// versions do); there this setting changes nothing.
    pub watch_page_size: u32,
    /// Bound on every plain API request (discovery, list pages, logs); default 30 seconds.
    pub api_timeout: Duration,
    /// Lists in flight at once per cluster in a one-shot collection; default 4.
    pub list_concurrency: usize,
    /// How often the API server sends watch bookmarks (Kubernetes: about a minute). A watch
    /// that shows nothing, not even a bookmark, for 2.5 times this is considered dead and
    /// restarted.
    pub bookmark_period: Duration,
    /// Delays between attempts to reach a cluster that could not be read (jittered).
    pub retry: Backoff,
}

/// `FLUXBRAIN_FLUX_NAMESPACE`'s default.
pub const DEFAULT_FLUX_NAMESPACE: &str = "flux-system";

impl CollectorConfig {
    /// The defaults for `clusters`.
    pub fn new(clusters: Vec<ClusterConfig>) -> Self {
        CollectorConfig {
            clusters,
            flux_namespace: DEFAULT_FLUX_NAMESPACE.to_owned(),
            collect_logs: false,
            requeue_interval: Duration::from_secs(300),
            log_tail_lines: 500,
            log_refresh_interval: Duration::from_secs(60),
            page_size: 500,
            watch_page_size: 100,
            api_timeout: Duration::from_secs(30),
            list_concurrency: 4,
            bookmark_period: Duration::from_secs(60),
            retry: Backoff {
                base: Duration::from_secs(1),
                cap: Duration::from_secs(60),
            },
        }
    }

    /// The silence after which a watch is restarted: 2.5 bookmark periods.
    pub fn dead_watch_after(&self) -> Duration {
        self.bookmark_period.mul_f64(2.5)
    }

    /// Reads the configuration from the environment (`lookup` is `std::env::var(..).ok()` in
    /// production, a map in tests) and the `--context` flags.
    ///
    /// Clusters: `contexts_flag` (each `name=context` or `context`), else `FLUXBRAIN_CONTEXTS`
    /// (the same, comma-separated), all from one kubeconfig (`KUBECONFIG`, a path list, else
    /// `$HOME/.kube/config`); else one cluster named `FLUXBRAIN_CLUSTER` from `KUBECONFIG`'s
    /// current context, else the in-cluster service account (`KUBERNETES_SERVICE_HOST`), else
    /// `$HOME/.kube/config`. Then `FLUXBRAIN_FLUX_NAMESPACE` (default `flux-system`),
    /// `FLUXBRAIN_COLLECT_LOGS` (Go's boolean spellings; default false) and
    /// `FLUXBRAIN_REQUEUE_INTERVAL` (`5m`, `1h30m`; default 5m).
    ///
    /// # Errors
    /// [`Error::Variable`] naming the variable (or `--context`) whose value is invalid or
    /// missing; [`Error::Kubeconfig`] or [`Error::InCluster`] when the connection settings
    /// cannot be loaded.
    pub async fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
        contexts_flag: &[String],
    ) -> Result<Self, Error> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let contexts = if contexts_flag.is_empty() {
            match var("FLUXBRAIN_CONTEXTS") {
                Some(value) => parse_contexts("FLUXBRAIN_CONTEXTS", value.split(','))?,
                None => Vec::new(),
            }
        } else {
            parse_contexts("--context", contexts_flag.iter().map(String::as_str))?
        };
        let kubeconfig_paths: Option<Vec<PathBuf>> =
            var("KUBECONFIG").map(|v| std::env::split_paths(&v).collect());
        let home_config =
            || var("HOME").map(|home| vec![PathBuf::from(home).join(".kube").join("config")]);
        let mut clusters = Vec::new();
        if contexts.is_empty() {
            let name = var("FLUXBRAIN_CLUSTER").ok_or_else(|| Error::Variable {
                variable: "FLUXBRAIN_CLUSTER",
                message: "required when no contexts are given (FLUXBRAIN_CONTEXTS or --context)"
                    .to_owned(),
            })?;
            let kube = match kubeconfig_paths {
                Some(paths) => load_context(&paths, "KUBECONFIG", None).await?,
                None if var("KUBERNETES_SERVICE_HOST").is_some() => {
                    kube::Config::incluster().map_err(|source| Error::InCluster { source })?
                }
                None => {
                    let paths = home_config().ok_or_else(|| Error::Variable {
                        variable: "KUBECONFIG",
                        message: "not set, not in a pod, and no HOME to find ~/.kube/config"
                            .to_owned(),
                    })?;
                    load_context(&paths, "$HOME/.kube/config", None).await?
                }
            };
            clusters.push(ClusterConfig::new(name.trim(), kube));
        } else {
            let origin = if kubeconfig_paths.is_some() {
                "KUBECONFIG"
            } else {
                "$HOME/.kube/config"
            };
            let paths = kubeconfig_paths
                .or_else(home_config)
                .ok_or_else(|| Error::Variable {
                    variable: "KUBECONFIG",
                    message: "contexts need a kubeconfig: set KUBECONFIG or HOME".to_owned(),
                })?;
            for (name, context) in contexts {
                let kube = load_context(&paths, origin, Some(&context)).await?;
                clusters.push(ClusterConfig::new(name, kube));
            }
        }
        let mut config = CollectorConfig::new(clusters);
        if let Some(ns) = var("FLUXBRAIN_FLUX_NAMESPACE") {
            config.flux_namespace = ns.trim().to_owned();
        }
        if let Some(value) = var("FLUXBRAIN_COLLECT_LOGS") {
            config.collect_logs = parse_bool(value.trim()).ok_or_else(|| Error::Variable {
                variable: "FLUXBRAIN_COLLECT_LOGS",
                message: format!("{value:?} is not a boolean (true or false)"),
            })?;
        }
        if let Some(value) = var("FLUXBRAIN_REQUEUE_INTERVAL") {
            config.requeue_interval = fluxbrain_core::duration::parse_positive(value.trim())
                .map_err(|e| Error::Variable {
                    variable: "FLUXBRAIN_REQUEUE_INTERVAL",
                    message: e.to_string(),
                })?;
        }
        Ok(config)
    }
}

/// `name=context` or `context` entries; names must be unique.
fn parse_contexts<'a>(
    variable: &'static str,
    entries: impl Iterator<Item = &'a str>,
) -> Result<Vec<(String, String)>, Error> {
    let mut out: Vec<(String, String)> = Vec::new();
    for entry in entries.map(str::trim).filter(|e| !e.is_empty()) {
        let (name, context) = match entry.split_once('=') {
            Some((name, context)) => (name.trim(), context.trim()),
            None => (entry, entry),
        };
        if name.is_empty() || context.is_empty() {
            return Err(Error::Variable {
                variable,
                message: format!("{entry:?} is not name=context"),
            });
        }
        if let Some((_, first)) = out.iter().find(|(n, _)| n == name) {
            return Err(Error::Variable {
                variable,
                message: format!(
                    "cluster name {name:?} is given twice (contexts {first:?} and {context:?}); every cluster needs a name of its own"
                ),
            });
        }
        out.push((name.to_owned(), context.to_owned()));
    }
    Ok(out)
}

/// The kube config of `context` (the current context when `None`) in the merged kubeconfig
/// files.
async fn load_context(
    paths: &[PathBuf],
    origin: &'static str,
    context: Option<&str>,
) -> Result<kube::Config, Error> {
    let files: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let kubeconfig_error = |source: kube::config::KubeconfigError| Error::Kubeconfig {
        files: files.join(":"),
        origin,
        context: context.map_or_else(
            || "current context".to_owned(),
            |c| format!("context {c:?}"),
        ),
        problem: match source {
            // kube's message quotes the path as a debug string and repeats the cause.
            kube::config::KubeconfigError::ReadConfig(io, _) if paths.len() == 1 => {
                format!("cannot read it: {io}")
            }
            kube::config::KubeconfigError::ReadConfig(io, path) => {
                format!("cannot read {}: {io}", path.display())
            }
            other => crate::collector::error::error_chain(&other),
        },
    };
    let mut merged: Option<Kubeconfig> = None;
    for path in paths.iter().filter(|p| !p.as_os_str().is_empty()) {
        let one = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
        merged = Some(match merged {
            Some(m) => m.merge(one).map_err(kubeconfig_error)?,
            None => one,
        });
    }
    let merged = merged.unwrap_or_default();
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    kube::Config::from_custom_kubeconfig(merged, &options)
        .await
        .map_err(kubeconfig_error)
}

/// Go's `strconv.ParseBool` spellings.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_parse() {
        let parsed = parse_contexts("FLUXBRAIN_CONTEXTS", "prod=gke-prod, staging ,".split(','));
        assert_eq!(
            parsed.unwrap(),
            vec![
                ("prod".to_owned(), "gke-prod".to_owned()),
                ("staging".to_owned(), "staging".to_owned())
            ]
        );
        let twice = parse_contexts("--context", ["a=x", "a=y"].into_iter())
            .unwrap_err()
            .to_string();
        assert!(twice.contains("--context"), "{twice}");
        assert!(
            twice.contains(r#"cluster name "a" is given twice (contexts "x" and "y")"#),
            "{twice}"
        );
        assert!(parse_contexts("--context", ["=x"].into_iter()).is_err());
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[tokio::test]
    async fn env_errors_name_the_variable() {
        let missing = CollectorConfig::from_env(env(&[]), &[]).await;
        assert!(matches!(
            missing,
            Err(Error::Variable {
                variable: "FLUXBRAIN_CLUSTER",
                ..
            })
        ));
        let dir = std::env::temp_dir().join(format!("fluxbrain-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster: {server: 'http://127.0.0.1:1'}\n\
             - name: b\n  cluster: {server: 'http://127.0.0.1:2'}\ncontexts:\n\
             - name: ctx-a\n  context: {cluster: a, user: u}\n- name: ctx-b\n  context: {cluster: b, user: u}\n\
             current-context: ctx-a\nusers:\n- name: u\n  user: {}\n",
        )
        .unwrap();
        let kubeconfig = path.display().to_string();
        let vars = [
            ("KUBECONFIG", kubeconfig.as_str()),
            ("FLUXBRAIN_CONTEXTS", "prod=ctx-a,staging=ctx-b"),
            ("FLUXBRAIN_COLLECT_LOGS", "true"),
            ("FLUXBRAIN_REQUEUE_INTERVAL", "2m"),
        ];
        let config = CollectorConfig::from_env(env(&vars), &[]).await.unwrap();
        let names: Vec<_> = config.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["prod", "staging"]);
        assert_eq!(config.clusters[1].kube.cluster_url, "http://127.0.0.1:2/");
        assert!(config.collect_logs);
        assert_eq!(config.requeue_interval, Duration::from_secs(120));
        assert_eq!(config.flux_namespace, "flux-system");

        let flag = vec!["only=ctx-b".to_owned()];
        let config = CollectorConfig::from_env(env(&vars), &flag).await.unwrap();
        assert_eq!(config.clusters.len(), 1);
        assert_eq!(config.clusters[0].name, "only");

        let single = [
            ("KUBECONFIG", kubeconfig.as_str()),
            ("FLUXBRAIN_CLUSTER", "prod"),
        ];
        let config = CollectorConfig::from_env(env(&single), &[]).await.unwrap();
        assert_eq!(config.clusters[0].name, "prod");
        assert_eq!(config.clusters[0].kube.cluster_url, "http://127.0.0.1:1/");

        let bad_interval = [
            ("KUBECONFIG", kubeconfig.as_str()),
            ("FLUXBRAIN_CLUSTER", "prod"),
            ("FLUXBRAIN_REQUEUE_INTERVAL", "often"),
        ];
        let bad = CollectorConfig::from_env(env(&bad_interval), &[])
            .await
            .unwrap_err();
        assert!(
            bad.to_string().contains("FLUXBRAIN_REQUEUE_INTERVAL"),
            "{bad}"
        );
        let bad_logs = [
            ("KUBECONFIG", kubeconfig.as_str()),
            ("FLUXBRAIN_CLUSTER", "prod"),
            ("FLUXBRAIN_COLLECT_LOGS", "yes please"),
        ];
        let bad = CollectorConfig::from_env(env(&bad_logs), &[])
            .await
            .unwrap_err();
        assert!(bad.to_string().contains("FLUXBRAIN_COLLECT_LOGS"), "{bad}");
        let bad_context = [
            ("KUBECONFIG", kubeconfig.as_str()),
            ("FLUXBRAIN_CONTEXTS", "prod=nope"),
        ];
        let bad = CollectorConfig::from_env(env(&bad_context), &[])
            .await
            .unwrap_err();
        assert!(matches!(bad, Error::Kubeconfig { .. }), "{bad}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
