//! The resource types the simulator serves: core kinds always, Flux kinds when the state has them.

use std::collections::BTreeSet;

/// Verbs of a read-only resource (the simulator models no controller that would write them).
const READ: &[&str] = &["get", "list", "watch"];
/// Verbs of a writable resource.
const WRITE: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Index of a served resource in the [`Resources`] table.
pub(crate) type ResId = usize;

/// How stored objects of a resource are converted when served (events.k8s.io shares core Events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// Served as stored.
    Native,
    /// `events.k8s.io/v1` view of core `v1` Events.
    EventsV1,
}

/// One served resource type.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    /// API group; `""` for core.
    pub group: String,
    /// Served version (the preferred one).
    pub version: String,
    /// Other versions the kind is also served at (objects are served under the requested one).
    pub versions: Vec<String>,
    /// Kind, e.g. `Kustomization`.
    pub kind: String,
    /// Plural resource name used in paths.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Short names kubectl accepts.
    pub short_names: Vec<&'static str>,
    /// Categories (`all`, ...).
    pub categories: Vec<&'static str>,
    /// Namespaced or cluster scoped.
    pub namespaced: bool,
    /// Whether writes are allowed.
    pub writable: bool,
    /// Whether a `status` subresource exists (main-resource writes keep status).
    pub status_subresource: bool,
    /// Whether `metadata.generation` is maintained (custom resources).
    pub generation: bool,
    /// Whether this is a Flux custom resource (strategic merge patch is refused for those).
    pub custom: bool,
    /// Index of the resource whose storage this one uses (itself unless a view).
    pub storage: ResId,
    /// Conversion applied when serving.
    pub view: View,
    /// The Flux controller that owns the kind (event source for scripted events).
    pub controller: Option<&'static str>,
}

impl Resource {
    /// Verbs listed in discovery.
    pub fn verbs(&self) -> &'static [&'static str] {
        if self.writable { WRITE } else { READ }
    }

    /// Whether the resource is served at `version`.
    pub fn serves(&self, version: &str) -> bool {
        self.version == version || self.versions.iter().any(|v| v == version)
    }
}

/// `group/version`, or `version` for the core group.
pub(crate) fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Splits an `apiVersion` into group and version.
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// A Flux kind from DESIGN section 4.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FluxKind {
    pub group: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub short_names: &'static [&'static str],
    pub controller: &'static str,
    /// The versions a cluster serves it at, as seen in the wild (DESIGN section 4).
    pub versions: &'static [&'static str],
}

const KUSTOMIZE: &str = "kustomize.toolkit.fluxcd.io";
const HELM: &str = "helm.toolkit.fluxcd.io";
const SOURCE: &str = "source.toolkit.fluxcd.io";
const IMAGE: &str = "image.toolkit.fluxcd.io";
const NOTIFICATION: &str = "notification.toolkit.fluxcd.io";
const SOURCE_EXTENSIONS: &str = "source.extensions.fluxcd.io";
const CONTROLPLANE: &str = "fluxcd.controlplane.io";

/// Versions of the source and image kinds.
const V1_V1BETA2: &[&str] = &["v1", "v1beta2"];

/// The Flux kinds the simulator knows (DESIGN section 4).
pub(crate) const FLUX_KINDS: &[FluxKind] = &[
    flux(
        KUSTOMIZE,
        "Kustomization",
        "kustomizations",
        &["ks"],
        "kustomize-controller",
        V1_V1BETA2,
    ),
    flux(
        HELM,
        "HelmRelease",
        "helmreleases",
        &["hr"],
        "helm-controller",
        &["v2", "v2beta2", "v2beta1"],
    ),
    flux(
        SOURCE,
        "GitRepository",
        "gitrepositories",
        &["gitrepo"],
        "source-controller",
        V1_V1BETA2,
    ),
    flux(
        SOURCE,
        "HelmRepository",
        "helmrepositories",
        &["helmrepo"],
        "source-controller",
        V1_V1BETA2,
    ),
    flux(
        SOURCE,
        "HelmChart",
        "helmcharts",
        &["hc"],
        "source-controller",
        V1_V1BETA2,
    ),
    flux(
        SOURCE,
        "Bucket",
        "buckets",
        &[],
        "source-controller",
        V1_V1BETA2,
    ),
    flux(
        SOURCE,
        "OCIRepository",
        "ocirepositories",
        &["ocirepo"],
        "source-controller",
        V1_V1BETA2,
    ),
    flux(
        IMAGE,
        "ImageRepository",
        "imagerepositories",
        &[],
        "image-reflector-controller",
        V1_V1BETA2,
    ),
    flux(
        IMAGE,
        "ImagePolicy",
        "imagepolicies",
        &[],
        "image-reflector-controller",
        V1_V1BETA2,
    ),
    flux(
        IMAGE,
        "ImageUpdateAutomation",
        "imageupdateautomations",
        &[],
        "image-automation-controller",
        V1_V1BETA2,
    ),
    flux(
        NOTIFICATION,
        "Receiver",
        "receivers",
        &[],
        "notification-controller",
        &["v1"],
    ),
    flux(
        SOURCE,
        "ExternalArtifact",
        "externalartifacts",
        &[],
        "source-watcher",
        &["v1"],
    ),
    flux(
        SOURCE_EXTENSIONS,
        "ArtifactGenerator",
        "artifactgenerators",
        &["ag"],
        "source-watcher",
        &["v1beta1"],
    ),
    flux(
        CONTROLPLANE,
        "FluxInstance",
        "fluxinstances",
        &[],
        "flux-operator",
        &["v1"],
    ),
    flux(
        CONTROLPLANE,
        "ResourceSet",
        "resourcesets",
        &["rset"],
        "flux-operator",
        &["v1"],
    ),
    flux(
        CONTROLPLANE,
        "ResourceSetInputProvider",
        "resourcesetinputproviders",
        &["rsip"],
        "flux-operator",
        &["v1"],
    ),
];

const fn flux(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    short_names: &'static [&'static str],
    controller: &'static str,
    versions: &'static [&'static str],
) -> FluxKind {
    FluxKind {
        group,
        kind,
        plural,
        short_names,
        controller,
        versions,
    }
}

/// Looks up a Flux kind by group and kind.
pub(crate) fn flux_kind(group: &str, kind: &str) -> Option<&'static FluxKind> {
    FLUX_KINDS
        .iter()
        .find(|f| f.group == group && f.kind == kind)
}

/// Core resource names, fixed indices at the start of every table.
pub(crate) const NAMESPACES: ResId = 0;
/// Core `v1` Pods.
pub(crate) const PODS: ResId = 1;
/// Core `v1` Events (storage of both event APIs).
pub(crate) const EVENTS: ResId = 2;
/// Core `v1` ConfigMaps.
pub(crate) const CONFIGMAPS: ResId = 3;
/// `coordination.k8s.io/v1` Leases.
pub(crate) const LEASES: ResId = 4;
/// `events.k8s.io/v1` Events (a view of [`EVENTS`]).
pub(crate) const EVENTS_V1: ResId = 5;

/// The table of served resources.
#[derive(Debug, Clone)]
pub(crate) struct Resources {
    all: Vec<Resource>,
}

impl Resources {
    /// Core kinds plus the given Flux kinds, each with the versions seen (`(group, kind) -> versions`).
    pub fn new(flux: &[(&'static FluxKind, BTreeSet<String>)]) -> Self {
        let mut all = vec![
            core(
                "",
                "v1",
                "Namespace",
                "namespaces",
                &["ns"],
                &[],
                false,
                false,
                NAMESPACES,
            ),
            core(
                "",
                "v1",
                "Pod",
                "pods",
                &["po"],
                &["all"],
                true,
                false,
                PODS,
            ),
            core(
                "",
                "v1",
                "Event",
                "events",
                &["ev"],
                &[],
                true,
                true,
                EVENTS,
            ),
            core(
                "",
                "v1",
                "ConfigMap",
                "configmaps",
                &["cm"],
                &[],
                true,
                true,
                CONFIGMAPS,
            ),
            core(
                "coordination.k8s.io",
                "v1",
                "Lease",
                "leases",
                &[],
                &[],
                true,
                true,
                LEASES,
            ),
            core(
                "events.k8s.io",
                "v1",
                "Event",
                "events",
                &["ev"],
                &[],
                true,
                true,
                EVENTS,
            ),
        ];
        all[PODS].status_subresource = true;
        all[NAMESPACES].status_subresource = true;
        all[EVENTS_V1].view = View::EventsV1;
        for (fk, versions) in flux {
            let mut sorted: Vec<String> = versions.iter().cloned().collect();
            sorted.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
            let Some(preferred) = sorted.first().cloned() else {
                continue;
            };
            let id = all.len();
            all.push(Resource {
                group: fk.group.to_string(),
                version: preferred,
                versions: sorted[1..].to_vec(),
                kind: fk.kind.to_string(),
                plural: fk.plural.to_string(),
                singular: fk.kind.to_ascii_lowercase(),
                short_names: fk.short_names.to_vec(),
                categories: Vec::new(),
                namespaced: true,
                writable: true,
                status_subresource: true,
                generation: true,
                custom: true,
                storage: id,
                view: View::Native,
                controller: Some(fk.controller),
            });
        }
        Self { all }
    }

    /// Every served resource, in discovery order.
    pub fn all(&self) -> &[Resource] {
        &self.all
    }

    /// The resource at `id`.
    pub fn get(&self, id: ResId) -> &Resource {
        // Ids only come from this table, built once and never shrunk.
        &self.all[id]
    }

    /// Finds the resource served at `group/version` under `plural`.
    pub fn by_path(&self, group: &str, version: &str, plural: &str) -> Option<ResId> {
        self.all
            .iter()
            .position(|r| r.group == group && r.plural == plural && r.serves(version))
    }

    /// Finds the storage resource for an object's `apiVersion` and `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<ResId> {
        let (group, version) = split_api_version(api_version);
        self.all
            .iter()
            .position(|r| r.group == group && r.kind == kind && r.serves(version))
            .map(|id| self.all[id].storage)
            .or_else(|| {
                if group == "events.k8s.io" && kind == "Event" {
                    Some(EVENTS)
                } else {
                    None
                }
            })
    }

    /// Finds a resource by kind name alone (scripts), optionally restricted to a group.
    pub fn by_kind_name(&self, group: Option<&str>, kind: &str) -> Option<ResId> {
        self.all.iter().position(|r| {
            r.kind == kind && group.is_none_or(|g| g == r.group) && r.view == View::Native
        })
    }

    /// API groups in discovery order: each group once with its versions (preferred first).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.all {
            if r.group.is_empty() {
                continue;
            }
            let mut versions = vec![r.version.clone()];
            versions.extend(r.versions.iter().cloned());
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, vs)) => {
                    for v in versions {
                        if !vs.contains(&v) {
                            vs.push(v);
                        }
                    }
                    vs.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
                }
                None => out.push((r.group.clone(), versions)),
            }
        }
        out
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "a table row, read best as one call"
)]
fn core(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    short_names: &[&'static str],
    categories: &[&'static str],
    namespaced: bool,
    writable: bool,
    storage: ResId,
) -> Resource {
    Resource {
        group: group.to_string(),
        version: version.to_string(),
        versions: Vec::new(),
        kind: kind.to_string(),
        plural: plural.to_string(),
        singular: kind.to_ascii_lowercase(),
        short_names: short_names.to_vec(),
        categories: categories.to_vec(),
        namespaced,
        writable,
        status_subresource: false,
        generation: false,
        custom: false,
        storage,
        view: View::Native,
        controller: None,
    }
}

/// Kubernetes version priority (core's rule, shared with the collector's discovery).
pub(crate) use fluxbrain_core::version_priority;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_like_kubernetes() {
        let mut vs = vec!["v1beta2", "v2beta1", "v1", "v2", "v1alpha1", "v2beta2"];
        vs.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(
            vs,
            ["v2", "v1", "v2beta2", "v2beta1", "v1beta2", "v1alpha1"]
        );
    }

    #[test]
    fn preferred_flux_version_is_the_highest_seen() {
        let ks = flux_kind("kustomize.toolkit.fluxcd.io", "Kustomization");
        let Some(ks) = ks else {
            panic!("kustomization is a flux kind")
        };
        let res = Resources::new(&[(ks, ["v1beta2".to_string(), "v1".to_string()].into())]);
        let id = res.by_path("kustomize.toolkit.fluxcd.io", "v1beta2", "kustomizations");
        let Some(id) = id else {
            panic!("served at v1beta2")
        };
        assert_eq!(res.get(id).version, "v1");
        assert_eq!(
            res.by_kind("kustomize.toolkit.fluxcd.io/v1beta2", "Kustomization"),
            Some(id)
        );
        assert_eq!(res.by_kind("events.k8s.io/v1", "Event"), Some(EVENTS));
    }
}
