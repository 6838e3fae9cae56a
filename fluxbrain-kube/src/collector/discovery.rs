//! Which Flux kinds a cluster serves, and at which version (DESIGN.md section 4).
//!
//! One request for the API groups (`/apis`), then one per Flux group the cluster has, for its
//! preferred version only. A kind the cluster does not serve is simply absent; that is not an
//! error.

use fluxbrain_core::Kind;
use futures::future::join_all;
use kube::api::ApiResource;

use super::cluster::Cluster;
use super::error::{ApiFailure, ErrorClass};
use super::metrics::Counters;

/// A Flux kind a cluster serves, at its preferred version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServedKind {
    /// The kind.
    pub kind: Kind,
    /// Its served preferred version, e.g. `v1`.
    pub version: String,
    /// Its resource name, e.g. `kustomizations`.
    pub plural: String,
    /// Whether its objects live in namespaces (every Flux kind does).
    pub namespaced: bool,
}

impl ServedKind {
    /// `group/version`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group(), self.version)
    }

    /// The kind's API group.
    pub fn group(&self) -> &'static str {
        // Discovery only yields named Flux kinds, which all have a group.
        self.kind.group().unwrap_or_default()
    }

    /// The path of the collection across all namespaces.
    pub fn url_path(&self) -> String {
        format!("/apis/{}/{}/{}", self.group(), self.version, self.plural)
    }

    /// kube-rs's description of the resource.
    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group().to_owned(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.as_str().to_owned(),
            plural: self.plural.clone(),
        }
    }
}

/// The Flux API groups, each once, in the order of [`Kind::FLUX`].
pub(crate) fn flux_groups() -> Vec<&'static str> {
    let mut groups: Vec<&'static str> = Vec::new();
    for kind in Kind::FLUX {
        if let Some(group) = kind.group()
            && !groups.contains(&group)
        {
            groups.push(group);
        }
    }
    groups
}

/// The Flux kinds `cluster` serves, in the order of [`Kind::FLUX`].
pub(crate) async fn discover(
    cluster: &Cluster,
    counters: &Counters,
) -> Result<Vec<ServedKind>, ApiFailure> {
    let groups = cluster
        .call(
            "discover API groups",
            counters,
            cluster.client.list_api_groups(),
        )
        .await?;
    let wanted = flux_groups();
    let versions: Vec<String> = groups
        .groups
        .iter()
        .filter(|g| wanted.contains(&g.name.as_str()))
        .filter_map(|g| {
            g.preferred_version
                .as_ref()
                .or(g.versions.first())
                .map(|v| v.group_version.clone())
        })
        .collect();
    let lists = join_all(versions.iter().map(|gv| async move {
        let what = format!("discover {gv}");
        cluster
            .call(&what, counters, cluster.client.list_api_group_resources(gv))
            .await
    }))
    .await;
    let mut served = Vec::new();
    for (gv, list) in versions.iter().zip(lists) {
        let list = match list {
            Ok(list) => list,
            // Removed between the two requests: the kinds are absent, as if never installed.
            Err(e) if e.class == ErrorClass::NotFound => continue,
            Err(e) => return Err(e),
        };
        let (group, version) = gv.split_once('/').unwrap_or(("", gv));
        for resource in &list.resources {
            let kind = Kind::from_name(&resource.kind);
            let listable = ["list", "watch"]
                .iter()
                .all(|verb| resource.verbs.iter().any(|v| v == verb));
            if resource.name.contains('/') || kind.group() != Some(group) || !listable {
                continue;
            }
            served.push(ServedKind {
                kind,
                version: version.to_owned(),
                plural: resource.name.clone(),
                namespaced: resource.namespaced,
            });
        }
    }
    served.sort_by_key(|s| Kind::FLUX.iter().position(|k| *k == s.kind));
    served.dedup_by(|a, b| a.kind == b.kind);
    Ok(served)
}
