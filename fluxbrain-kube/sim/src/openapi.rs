//! Minimal OpenAPI documents: enough for kubectl to validate on the server and to explain kinds.
//!
//! kubectl (`resource.queryParamVerifierV3`) looks in `/openapi/v3/<gv>` for a PATCH operation
//! tagged `x-kubernetes-group-version-kind` with a `fieldValidation` query parameter, and
//! `kubectl explain` for a `components.schemas` entry carrying the kind's GVK. The simulator has
//! no schemas: each kind is an object whose fields keep whatever they are given, and the
//! simulator stores what it is given. The PATCH operations list no request body, so kubectl's
//! `apply` keeps computing its patches as it does without OpenAPI (a schema saying "strategic
//! merge patch" would make it send those for Flux kinds, which the simulator refuses).

use serde_json::{Map, Value, json};

use super::resources::{Resource, Resources, api_version};

/// `/openapi/v2`: a Swagger 2.0 document with one definition per served kind and version.
///
/// Served as JSON only. kubectl asks for this document in protobuf alone and, refused,
/// uses what it has built in, as it does when v3 names no strategic merge patch.
pub(crate) fn swagger(resources: &Resources) -> Value {
    let mut definitions = Map::new();
    for r in resources.all() {
        for version in std::iter::once(&r.version).chain(&r.versions) {
            definitions.insert(definition_name(r, version), kind_schema(r, version));
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": {},
        "definitions": definitions
    })
}

/// The name the API server gives a kind's definition: `io.k8s.api.core.v1.ConfigMap` for a
/// built-in kind, the reversed group for a custom resource
/// (`io.fluxcd.toolkit.kustomize.v1.Kustomization`).
fn definition_name(r: &Resource, version: &str) -> String {
    let group = if r.group.is_empty() {
        "io.k8s.api.core".to_string()
    } else if let Some(builtin) = r.group.strip_suffix(".k8s.io") {
        format!(
            "io.k8s.api.{}",
            builtin.split('.').next().unwrap_or(builtin)
        )
    } else {
        r.group.rsplit('.').collect::<Vec<_>>().join(".")
    };
    format!("{group}.{version}.{}", r.kind)
}

/// The schema of a kind at `version`: its GVK, the fields every object has, `spec` and
/// `status` for the kinds that have them (those with a status subresource), and any other
/// field kept as given.
fn kind_schema(r: &Resource, version: &str) -> Value {
    let preserved = |description: &str| {
        json!({
            "description": description,
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true
        })
    };
    let mut schema = json!({
        "description": format!(
            "{} ({}), as stored by the simulator: it has no schema for the kind and keeps every field it is given.",
            r.kind,
            api_version(&r.group, version)
        ),
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": r.group, "version": version, "kind": r.kind}],
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {
            "apiVersion": {
                "description": "The versioned schema of this representation of the object.",
                "type": "string"
            },
            "kind": {
                "description": "The REST resource this object represents.",
                "type": "string"
            },
            "metadata": preserved("Standard object metadata: name, namespace, labels, annotations and the fields the server sets.")
        }
    });
    if r.status_subresource {
        schema["properties"]["spec"] = preserved("The desired state, kept as given.");
        schema["properties"]["status"] = preserved("The observed state, kept as given.");
    }
    schema
}

/// `/openapi/v3`: one entry per served group version.
pub(crate) fn root(resources: &Resources) -> Value {
    let mut paths = Map::new();
    paths.insert(
        "api/v1".to_string(),
        json!({"serverRelativeURL": "/openapi/v3/api/v1?hash=fluxbrain-sim"}),
    );
    for (group, versions) in resources.groups() {
        for version in versions {
            let key = format!("apis/{group}/{version}");
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash=fluxbrain-sim")}),
            );
        }
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`, if served.
pub(crate) fn group_version(resources: &Resources, group: &str, version: &str) -> Option<Value> {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for r in resources
        .all()
        .iter()
        .filter(|r| r.group == group && r.serves(version))
    {
        schemas.insert(definition_name(r, version), kind_schema(r, version));
        let prefix = if group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{}", api_version(group, version))
        };
        let path = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{prefix}/{}/{{name}}", r.plural)
        };
        let patch = json!({
            "operationId": format!("patch{}", r.kind),
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": r.kind},
            "parameters": [
                {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}
            ],
            "responses": {"200": {"description": "OK"}}
        });
        paths.insert(path, json!({"patch": patch}));
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas}
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::resources::FLUX_KINDS;

    fn resources() -> Resources {
        let kustomization = FLUX_KINDS
            .iter()
            .find(|k| k.kind == "Kustomization")
            .expect("Kustomization is a Flux kind");
        let versions: BTreeSet<String> = ["v1", "v1beta2"].map(String::from).into();
        Resources::new(&[(kustomization, versions)])
    }

    #[test]
    fn swagger_has_one_definition_per_kind_and_version() {
        let doc = swagger(&resources());
        assert_eq!(doc["swagger"], "2.0");
        assert_eq!(doc["paths"], json!({}));
        let definitions = doc["definitions"].as_object().expect("definitions");
        for name in [
            "io.k8s.api.core.v1.ConfigMap",
            "io.k8s.api.core.v1.Namespace",
            "io.k8s.api.coordination.v1.Lease",
            "io.k8s.api.events.v1.Event",
            "io.fluxcd.toolkit.kustomize.v1.Kustomization",
            "io.fluxcd.toolkit.kustomize.v1beta2.Kustomization",
        ] {
            assert!(definitions.contains_key(name), "{name} missing");
        }
        let ks = &definitions["io.fluxcd.toolkit.kustomize.v1beta2.Kustomization"];
        assert_eq!(
            ks["x-kubernetes-group-version-kind"],
            json!([{"group": "kustomize.toolkit.fluxcd.io", "version": "v1beta2", "kind": "Kustomization"}])
        );
        assert_eq!(ks["type"], "object");
        assert_eq!(ks["properties"]["kind"]["type"], "string");
        assert_eq!(ks["properties"]["metadata"]["type"], "object");
        assert_eq!(
            ks["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
        let cm = &definitions["io.k8s.api.core.v1.ConfigMap"];
        assert_eq!(cm["x-kubernetes-preserve-unknown-fields"], true);
        assert!(cm["properties"].get("spec").is_none(), "{cm}");
    }

    #[test]
    fn group_version_documents_carry_their_kinds_schemas() {
        let doc = group_version(&resources(), "kustomize.toolkit.fluxcd.io", "v1")
            .expect("served group version");
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        assert_eq!(
            schemas.keys().collect::<Vec<_>>(),
            ["io.fluxcd.toolkit.kustomize.v1.Kustomization"]
        );
        let core = group_version(&resources(), "", "v1").expect("core");
        assert!(
            core["components"]["schemas"]["io.k8s.api.core.v1.Pod"]["properties"]["spec"]
                .is_object()
        );
        // No request body: kubectl must not take these PATCH operations for strategic merge.
        let patch = &doc["paths"]["/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/{namespace}/kustomizations/{name}"]
            ["patch"];
        assert!(
            patch.is_object() && patch.get("requestBody").is_none(),
            "{doc}"
        );
    }
}
