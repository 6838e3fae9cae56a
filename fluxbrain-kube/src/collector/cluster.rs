//! One cluster's clients: one for plain requests, one for watches, each with its own timeout.

use std::time::Duration;

use kube::Client;

use super::config::{ClusterConfig, CollectorConfig};
use super::error::{ApiFailure, Error};
use super::metrics::Counters;

/// A cluster and the clients that read it.
#[derive(Clone)]
pub(crate) struct Cluster {
    /// The configured name.
    pub name: String,
    /// For discovery, list pages and logs: a read timeout of the API timeout.
    pub client: Client,
    /// For watches: a read timeout of 2.5 bookmark periods, so a watch that goes silent (not
    /// even a bookmark) fails and is resumed instead of hanging forever.
    pub watch_client: Client,
    /// The bound on every plain request, headers and body.
    pub timeout: Duration,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Builds the clients (no request is made).
    pub fn new(cluster: &ClusterConfig, config: &CollectorConfig) -> Result<Self, Error> {
        if let Some(client) = &cluster.client {
            return Ok(Cluster {
                name: cluster.name.clone(),
                client: client.clone(),
                watch_client: client.clone(),
                timeout: config.api_timeout,
            });
        }
        let build = |read_timeout: Duration| {
            let mut kube = cluster.kube.clone();
            kube.read_timeout = Some(read_timeout);
            // Without this, the time a pooled connection sat idle counts against the read
            // timeout of the next request on it.
            kube.reset_reader_on_write = true;
            // kube-rs would retry 429, 503 and 504 up to 15 times inside the client, unseen:
            // the collector retries itself (list pages, watches with their backoff), so that
            // each failure is counted and logged with its cluster and kind.
            kube.default_retry = false;
            if kube.connect_timeout.is_none_or(|t| t > config.api_timeout) {
                kube.connect_timeout = Some(config.api_timeout);
            }
            Client::try_from(kube).map_err(|source| Error::Client {
                cluster: cluster.name.clone(),
                source,
            })
        };
        Ok(Cluster {
            name: cluster.name.clone(),
            client: build(config.api_timeout)?,
            watch_client: build(config.dead_watch_after())?,
            timeout: config.api_timeout,
        })
    }

    /// Runs one API call about `kind` within the timeout, counting it and its failure (and
    /// logging the failure, rate-limited, or the end of earlier ones).
    pub async fn call<T, F>(
        &self,
        what: &str,
        kind: &str,
        counters: &Counters,
        call: F,
    ) -> Result<T, ApiFailure>
    where
        F: std::future::Future<Output = Result<T, kube::Error>>,
    {
        counters.request();
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => {
                counters.succeeded(&self.name, kind);
                return Ok(value);
            }
            Ok(Err(err)) => ApiFailure::new(what, &err),
            Err(_) => ApiFailure::timeout(what, self.timeout),
        };
        counters.failed(&self.name, kind, &result);
        Err(result)
    }
}
