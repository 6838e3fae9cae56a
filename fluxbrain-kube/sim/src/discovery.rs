//! Discovery documents: `/version`, legacy `/api`, `/apis`, `/apis/<group>[/<version>]` and the
//! aggregated `apidiscovery.k8s.io/v2` lists kubectl asks for first.

use serde_json::{Value, json};

use super::resources::{Resource, Resources, api_version};

/// `/version`.
pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-fluxbrain-sim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// Legacy `/api`.
pub(crate) fn api_versions(host: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})
}

fn group_entry(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": api_version(name, v), "version": v}))
        .collect();
    let preferred = vs.first().cloned().unwrap_or(Value::Null);
    json!({"name": name, "versions": vs, "preferredVersion": preferred})
}

/// Legacy `/apis`.
pub(crate) fn api_group_list(resources: &Resources) -> Value {
    let groups: Vec<Value> = resources
        .groups()
        .iter()
        .map(|(g, vs)| group_entry(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// Legacy `/apis/<group>`, if served.
pub(crate) fn api_group(resources: &Resources, group: &str) -> Option<Value> {
    let groups = resources.groups();
    let (name, versions) = groups.iter().find(|(g, _)| g == group)?;
    let mut entry = group_entry(name, versions);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

fn served_at<'a>(
    resources: &'a Resources,
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'a Resource> + 'a {
    resources
        .all()
        .iter()
        .filter(move |r| r.group == group && r.serves(version))
}

/// Legacy `/api/v1` or `/apis/<group>/<version>`, if served.
pub(crate) fn api_resource_list(
    resources: &Resources,
    group: &str,
    version: &str,
) -> Option<Value> {
    let mut list = Vec::new();
    for r in served_at(resources, group, version) {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs(),
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        list.push(entry);
        for (sub, verbs) in subresources(r) {
            list.push(json!({"name": format!("{}/{sub}", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": r.kind, "verbs": verbs}));
        }
    }
    if list.is_empty() {
        return None;
    }
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version(group, version), "resources": list}),
    )
}

fn subresources(r: &Resource) -> Vec<(&'static str, &'static [&'static str])> {
    let mut subs: Vec<(&'static str, &'static [&'static str])> = Vec::new();
    if r.group.is_empty() && r.kind == "Pod" {
        subs.push(("log", &["get"]));
    }
    if r.status_subresource {
        let verbs: &'static [&'static str] = if r.writable {
            &["get", "patch", "update"]
        } else {
            &["get"]
        };
        subs.push(("status", verbs));
    }
    subs
}

/// Aggregated discovery: the core group (`/api`) or every named group (`/apis`).
pub(crate) fn aggregated(resources: &Resources, core: bool) -> Value {
    let mut items = Vec::new();
    let groups: Vec<(String, Vec<String>)> = if core {
        vec![(String::new(), vec!["v1".to_string()])]
    } else {
        resources.groups()
    };
    for (group, versions) in &groups {
        let mut vs = Vec::new();
        for version in versions {
            let mut res = Vec::new();
            for r in served_at(resources, group, version) {
                let kind = json!({"group": r.group, "version": version, "kind": r.kind});
                let subs: Vec<Value> = subresources(r)
                    .into_iter()
                    .map(|(sub, verbs)| json!({"subresource": sub, "responseKind": kind, "verbs": verbs}))
                    .collect();
                let mut entry = json!({
                    "resource": r.plural,
                    "responseKind": kind,
                    "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                    "singularResource": r.singular,
                    "verbs": r.verbs(),
                });
                if !r.short_names.is_empty() {
                    entry["shortNames"] = json!(r.short_names);
                }
                if !r.categories.is_empty() {
                    entry["categories"] = json!(r.categories);
                }
                if !subs.is_empty() {
                    entry["subresources"] = json!(subs);
                }
                res.push(entry);
            }
            vs.push(json!({"version": version, "resources": res, "freshness": "Current"}));
        }
        items.push(json!({"metadata": {"name": group}, "versions": vs}));
    }
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::FLUX_KINDS;

    #[test]
    fn only_flux_kinds_in_the_state_are_discovered() {
        let res = Resources::new(&[(
            &FLUX_KINDS[1],
            ["v2".to_string(), "v2beta2".to_string()].into(),
        )]);
        let groups = api_group_list(&res);
        let names: Vec<&str> = groups["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "coordination.k8s.io",
                "events.k8s.io",
                "helm.toolkit.fluxcd.io"
            ]
        );
        let helm = api_group(&res, "helm.toolkit.fluxcd.io").unwrap_or_default();
        assert_eq!(helm["preferredVersion"]["version"], "v2");
        assert!(api_resource_list(&res, "kustomize.toolkit.fluxcd.io", "v1").is_none());
        let v1 = api_resource_list(&res, "", "v1").unwrap_or_default();
        let names: Vec<&str> = v1["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "namespaces",
                "namespaces/status",
                "pods",
                "pods/log",
                "pods/status",
                "events",
                "configmaps"
            ]
        );
        let agg = aggregated(&res, false);
        assert_eq!(agg["items"][2]["versions"][1]["version"], "v2beta2");
        assert_eq!(
            agg["items"][2]["versions"][0]["resources"][0]["subresources"][0]["subresource"],
            "status"
        );
    }
}
