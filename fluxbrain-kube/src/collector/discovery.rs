//! Which Flux kinds a cluster serves, and at which version (DESIGN.md section 4).
//!
//! One request for the API groups (`/apis`), then one per version of each Flux group the
//! cluster has. A kind the cluster does not serve is simply absent; that is not an error.

use fluxbrain_core::{Kind, version_priority};
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

/// The Flux kinds `cluster` serves, in the order of [`Kind::FLUX`], each at its preferred
/// version: the group's preferred version when it serves the kind, else the highest version
/// that does (Flux 2.0 to 2.5 served OCIRepository, HelmRepository and Bucket only at v1beta2
/// while GitRepository was already v1, the group's preferred version).
pub(crate) async fn discover(
    cluster: &Cluster,
    counters: &Counters,
) -> Result<Vec<ServedKind>, ApiFailure> {
    let groups = cluster
        .call(
            "discover API groups",
            "discovery",
            counters,
            cluster.client.list_api_groups(),
        )
        .await?;
    let wanted = flux_groups();
    // Every version of every Flux group, the preferred one first.
    let mut versions: Vec<String> = Vec::new();
    for group in groups
        .groups
        .iter()
        .filter(|g| wanted.contains(&g.name.as_str()))
    {
        let preferred = group.preferred_version.as_ref().or(group.versions.first());
        let mut ordered: Vec<&str> = preferred
            .map(|v| v.group_version.as_str())
            .into_iter()
            .collect();
        let mut others: Vec<&str> = group
            .versions
            .iter()
            .map(|v| v.group_version.as_str())
            .filter(|gv| !ordered.contains(gv))
            .collect();
        others.sort_by_key(|gv| std::cmp::Reverse(version_priority(version_of(gv))));
        ordered.extend(others);
        versions.extend(ordered.into_iter().map(str::to_owned));
    }
    let lists = join_all(versions.iter().map(|gv| async move {
        let what = format!("discover {gv}");
        cluster
            .call(
                &what,
                "discovery",
                counters,
                cluster.client.list_api_group_resources(gv),
            )
            .await
    }))
    .await;
    let mut served: Vec<ServedKind> = Vec::new();
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
            // The first version listed for a kind wins: its group's order is preference.
            if resource.name.contains('/')
                || kind.group() != Some(group)
                || !listable
                || served.iter().any(|s| s.kind == kind)
            {
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
    Ok(served)
}

/// The version part of `group/version`.
fn version_of(group_version: &str) -> &str {
    group_version
        .rsplit_once('/')
        .map_or(group_version, |(_, v)| v)
}
