//! What one list or watch reads: a kind's objects, the events about a kind, the controller pods.

use kube::api::ApiResource;

use super::discovery::ServedKind;
use super::list::ListRequest;

/// One collection the collector reads, listed once or watched.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// The objects of a kind, across namespaces.
    Objects(ServedKind),
    /// The events about objects of a kind, across namespaces (`involvedObject.kind` field
    /// selector, so the API server filters; the group is checked on each event).
    Events(ServedKind),
    /// The pods in the Flux namespace.
    Pods(String),
}

impl Source {
    /// The sources of a cluster serving `served`: objects, then events, then pods.
    pub(crate) fn all(served: &[ServedKind], flux_namespace: &str) -> Vec<Source> {
        let mut sources: Vec<Source> = served.iter().cloned().map(Source::Objects).collect();
        sources.extend(served.iter().cloned().map(Source::Events));
        sources.push(Source::Pods(flux_namespace.to_owned()));
        sources
    }

    /// For messages, e.g. `kustomizations.kustomize.toolkit.fluxcd.io`.
    pub(crate) fn what(&self) -> String {
        match self {
            Source::Objects(s) => format!("{}.{}", s.plural, s.group()),
            Source::Events(s) => format!("events of {}", s.kind),
            Source::Pods(ns) => format!("pods in {ns}"),
        }
    }

    /// The kind its requests are about, for metrics and logs: the Flux kind, `Event` or `Pod`.
    pub(crate) fn kind(&self) -> &str {
        match self {
            Source::Objects(s) => s.kind.as_str(),
            Source::Events(_) => "Event",
            Source::Pods(_) => "Pod",
        }
    }

    /// The field selector, if any.
    pub(crate) fn fields(&self) -> Option<String> {
        match self {
            Source::Events(s) => Some(format!("involvedObject.kind={}", s.kind)),
            Source::Objects(_) | Source::Pods(_) => None,
        }
    }

    /// The resource read, for kube-rs.
    pub(crate) fn api_resource(&self) -> ApiResource {
        let core = |kind: &str, plural: &str| ApiResource {
            group: String::new(),
            version: "v1".to_owned(),
            api_version: "v1".to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
        };
        match self {
            Source::Objects(s) => s.api_resource(),
            Source::Events(_) => core("Event", "events"),
            Source::Pods(_) => core("Pod", "pods"),
        }
    }

    /// The list request of this source.
    pub(crate) fn request(&self, page_size: u32) -> ListRequest {
        let path = match self {
            Source::Objects(s) => s.url_path(),
            Source::Events(_) => "/api/v1/events".to_owned(),
            Source::Pods(ns) => format!("/api/v1/namespaces/{ns}/pods"),
        };
        ListRequest {
            what: format!("list {}", self.what()),
            kind: self.kind().to_owned(),
            path,
            fields: self.fields(),
            page_size,
        }
    }
}
