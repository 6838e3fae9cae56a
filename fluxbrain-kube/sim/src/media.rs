//! Content negotiation: which representation an `Accept` header asks for.

use super::status::ApiError;

/// A representation the server can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// Plain JSON objects and lists.
    Json,
    /// `meta.k8s.io/v1` `Table` (what kubectl asks for to print columns).
    Table,
    /// `meta.k8s.io/v1` `PartialObjectMetadata(List)` (metadata-only clients).
    Metadata,
    /// `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList` (aggregated discovery).
    Discovery,
}

/// `Content-Type` of a plain JSON answer.
pub(crate) const JSON: &str = "application/json";
/// `Content-Type` of a Table.
pub(crate) const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
/// `Content-Type` of a metadata-only answer.
pub(crate) const METADATA: &str =
    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io";
/// `Content-Type` of an aggregated discovery answer.
pub(crate) const DISCOVERY: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Picks the first entry of `accept` that is one of `allowed`; no header means JSON.
pub(crate) fn negotiate(accept: Option<&str>, allowed: &[Want]) -> Result<Want, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Want::Json);
    };
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let mut params = (None, None, None);
        for p in parts {
            match p.split_once('=') {
                Some(("as", v)) => params.0 = Some(v),
                Some(("g", v)) => params.1 = Some(v),
                Some(("v", v)) => params.2 = Some(v),
                _ => {}
            }
        }
        let want = match (media, params) {
            ("application/json", (None, _, _)) | ("*/*" | "application/*", _) => Some(Want::Json),
            ("application/json", (Some("Table"), Some("meta.k8s.io"), Some("v1" | "v1beta1"))) => {
                Some(Want::Table)
            }
            (
                "application/json",
                (
                    Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                    Some("meta.k8s.io"),
                    Some("v1" | "v1beta1"),
                ),
            ) => Some(Want::Metadata),
            (
                "application/json",
                (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2")),
            ) => Some(Want::Discovery),
            _ => None,
        };
        if let Some(want) = want.filter(|w| allowed.contains(w)) {
            return Ok(want);
        }
    }
    Err(ApiError::not_acceptable(accept))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[Want] = &[Want::Json, Want::Table, Want::Metadata, Want::Discovery];

    #[test]
    fn kubectl_accept_headers() {
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(table), ALL), Ok(Want::Table));
        let discovery = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(negotiate(Some(discovery), ALL), Ok(Want::Discovery));
        assert_eq!(negotiate(Some(discovery), &[Want::Json]), Ok(Want::Json));
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf, */*"), ALL),
            Ok(Want::Json)
        );
        assert_eq!(negotiate(None, ALL), Ok(Want::Json));
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf"), ALL).map_err(|e| e.code),
            Err(406)
        );
    }
}
