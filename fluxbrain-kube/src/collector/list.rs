//! Paged lists (once mode): every page within the API timeout, continue tokens followed,
//! an expired token (410) answered by listing again from the start.

use std::time::Duration;

use fluxbrain_core::Backoff;
use kube::api::ListParams;
use serde::Deserialize;
use serde_json::Value;

use super::cluster::Cluster;
use super::error::{ApiFailure, ErrorClass};
use super::facts::complete;
use super::metrics::Counters;

/// Attempts of one page before its failure is reported (kube-rs itself already retries 429,
/// 503 and 504 three times per request; this also covers 500 and transport errors), and
/// restarts of a list whose continue token expired.
const ATTEMPTS: u32 = 6;

/// Delays between attempts.
const RETRY: Backoff = Backoff {
    base: Duration::from_millis(100),
    cap: Duration::from_secs(2),
};

/// One page of a list, items as raw JSON.
#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default, rename = "apiVersion")]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: PageMeta,
    #[serde(default)]
    items: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct PageMeta {
    #[serde(default, rename = "continue")]
    continue_: Option<String>,
}

/// What to list.
#[derive(Debug, Clone)]
pub(crate) struct ListRequest {
    /// e.g. `list kustomizations` (for messages).
    pub what: String,
    /// The collection path, e.g. `/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations`.
    pub path: String,
    /// A field selector.
    pub fields: Option<String>,
    /// Objects per page.
    pub page_size: u32,
}

/// Every item of the collection, each with `apiVersion` and `kind`, fed to `sink` page by page
/// (so a page's JSON is dropped before the next one arrives).
///
/// A page that fails with a retryable error is asked again (same continue token); an expired
/// continue token (410) starts the list over, after `restart` told the caller to drop what
/// `sink` received.
pub(crate) async fn list_all(
    cluster: &Cluster,
    counters: &Counters,
    request: &ListRequest,
    mut sink: impl FnMut(Vec<Value>),
    mut restart: impl FnMut(),
) -> Result<(), ApiFailure> {
    let target = kube::core::Request::new(request.path.clone());
    let mut restarts = 0;
    'list: loop {
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().limit(request.page_size);
            if let Some(fields) = &request.fields {
                params = params.fields(fields);
            }
            if let Some(token) = &token {
                params = params.continue_token(token);
            }
            let mut attempt = 0;
            let page: Page = loop {
                attempt += 1;
                let http = target.list(&params).map_err(|e| ApiFailure {
                    what: request.what.clone(),
                    class: ErrorClass::Invalid,
                    detail: e.to_string(),
                })?;
                match cluster
                    .call(&request.what, counters, cluster.client.request(http))
                    .await
                {
                    Ok(page) => break page,
                    Err(e) if e.class == ErrorClass::Retryable && attempt < ATTEMPTS => {
                        tracing::debug!(cluster = %cluster.name, error = %e, "asking again");
                        tokio::time::sleep(RETRY.delay(attempt, fastrand::f64())).await;
                    }
                    Err(e)
                        if e.class == ErrorClass::Gone
                            && token.is_some()
                            && restarts < ATTEMPTS =>
                    {
                        tracing::debug!(cluster = %cluster.name, error = %e, "listing again");
                        restarts += 1;
                        restart();
                        continue 'list;
                    }
                    Err(e) => return Err(e),
                }
            };
            let item_kind = page
                .kind
                .strip_suffix("List")
                .unwrap_or(&page.kind)
                .to_owned();
            let mut items = page.items;
            for item in &mut items {
                complete(item, &page.api_version, &item_kind);
            }
            sink(items);
            match page.metadata.continue_.filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
    }
}
