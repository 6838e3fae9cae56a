//! Paged lists (once mode): every page within the API timeout, continue tokens followed,
//! an expired token (410) answered by listing again from the start.

use std::borrow::Cow;
use std::time::Duration;

use fluxbrain_core::Backoff;
use kube::api::ListParams;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

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

/// One page of a list, its items as raw JSON borrowed from the page's text (so an item that
/// is not needed costs a scan, not a parse).
#[derive(Debug, Deserialize)]
struct Page<'a> {
    #[serde(default, borrow, rename = "apiVersion")]
    api_version: Cow<'a, str>,
    #[serde(default, borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    metadata: PageMeta,
    #[serde(default, borrow)]
    items: Vec<&'a RawValue>,
}

/// The items of one page.
#[derive(Debug)]
pub(crate) struct PageItems<'a> {
    /// The list's `apiVersion`, for items that lack theirs.
    api_version: &'a str,
    /// The item kind (the list's kind without `List`), for items that lack theirs.
    kind: &'a str,
    /// The items, unparsed.
    pub raw: Vec<&'a RawValue>,
}

impl PageItems<'_> {
    /// One item as the JSON document core parses, with `apiVersion` and `kind`; `None` when
    /// it nests deeper than the JSON parser's recursion limit.
    pub fn document(&self, raw: &RawValue) -> Option<Value> {
        let mut value: Value = serde_json::from_str(raw.get()).ok()?;
        complete(&mut value, self.api_version, self.kind);
        Some(value)
    }
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
    /// The kind listed (for metrics and logs).
    pub kind: String,
    /// The collection path, e.g. `/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations`.
    pub path: String,
    /// A field selector.
    pub fields: Option<String>,
    /// Objects per page.
    pub page_size: u32,
}

/// Every item of the collection, fed to `sink` page by page (so a page's text is dropped
/// before the next one arrives).
///
/// A page that fails with a retryable error is asked again (same continue token); an expired
/// continue token (410) starts the list over, after `restart` told the caller to drop what
/// `sink` received.
pub(crate) async fn list_all(
    cluster: &Cluster,
    counters: &Counters,
    request: &ListRequest,
    mut sink: impl FnMut(&PageItems<'_>),
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
            let text: String = loop {
                attempt += 1;
                let http = target.list(&params).map_err(|e| ApiFailure {
                    what: request.what.clone(),
                    class: ErrorClass::Invalid,
                    detail: e.to_string(),
                    code: None,
                })?;
                match cluster
                    .call(
                        &request.what,
                        &request.kind,
                        counters,
                        cluster.client.request_text(http),
                    )
                    .await
                {
                    Ok(text) => break text,
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
            let page: Page<'_> = serde_json::from_str(&text).map_err(|e| {
                let failure = ApiFailure {
                    what: request.what.clone(),
                    class: ErrorClass::Invalid,
                    detail: format!("the answer is not a list: {e}"),
                    code: None,
                };
                counters.failed(&cluster.name, &request.kind, &failure);
                failure
            })?;
            sink(&PageItems {
                api_version: &page.api_version,
                kind: page.kind.strip_suffix("List").unwrap_or(&page.kind),
                raw: page.items,
            });
            match page.metadata.continue_.filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
    }
}
