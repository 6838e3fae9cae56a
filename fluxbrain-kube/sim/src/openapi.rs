//! A minimal OpenAPI v3 index: enough for kubectl to see that every kind's PATCH takes
//! `fieldValidation`, so it validates on the server instead of downloading schemas.
//!
//! kubectl (`resource.queryParamVerifierV3`) looks in `/openapi/v3/<gv>` for a PATCH operation
//! tagged `x-kubernetes-group-version-kind` with a `fieldValidation` query parameter. The
//! simulator has no schemas: it accepts the parameter and stores what it is given.

use serde_json::{Map, Value, json};

use super::resources::{Resources, api_version};

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
    for r in resources
        .all()
        .iter()
        .filter(|r| r.group == group && r.serves(version))
    {
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
        "components": {"schemas": {}}
    }))
}
