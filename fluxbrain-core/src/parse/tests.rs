use serde_json::json;

use super::*;
use crate::model::health::Health;
use crate::model::object::{LinkVia, ObjectRef};

fn one(value: serde_json::Value) -> Result<Document, ParseError> {
    let mut warnings = Vec::new();
    let mut docs = parse_document(&value, &mut warnings);
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

fn kustomization(status: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "shop", "generation": 3},
        "spec": {"sourceRef": {"kind": "GitRepository", "name": "repo", "namespace": "flux-system"},
                 "dependsOn": [{"name": "infra"}, {"name": "crds", "namespace": "flux-system"}]},
        "status": status,
    })
}

#[test]
fn failing_kustomization() {
    let doc = one(kustomization(json!({
        "conditions": [{"type": "Ready", "status": "False", "reason": "BuildFailed",
                        "message": "boom", "lastTransitionTime": "2026-04-21T09:22:52Z"}],
        "lastAttemptedRevision": "main@sha1:abc",
        "lastAppliedRevision": "main@sha1:old",
    })))
    .unwrap();
    let Document::Object(o) = doc else {
        panic!("{doc:?}")
    };
    assert_eq!(o.health(), Health::Failing);
    assert_eq!(o.revision_fact(), "main@sha1:abc");
    assert_eq!(o.links.len(), 3);
    assert_eq!(o.links[0].via, LinkVia::SourceRef);
    assert_eq!(
        o.links[1].target,
        ObjectRef::new(Kind::Kustomization, "shop", "infra"),
        "dependsOn namespace defaults to the object's"
    );
    assert_eq!(o.links[2].target.namespace, "flux-system");
}

#[test]
fn states() {
    let cases = [
        (
            json!({"conditions": [{"type": "Ready", "status": "True"}]}),
            Health::Healthy,
        ),
        (
            json!({"conditions": [{"type": "Ready", "status": "Unknown"}]}),
            Health::Progressing,
        ),
        (json!({"observedGeneration": -1}), Health::Unknown),
        (
            json!({"conditions": [{"type": "Stalled", "status": "True"},
                               {"type": "Ready", "status": "Unknown"}]}),
            Health::Failing,
        ),
    ];
    for (status, want) in cases {
        let Ok(Document::Object(o)) = one(kustomization(status.clone())) else {
            panic!("{status}")
        };
        assert_eq!(o.health(), want, "{status}");
    }
    let mut suspended =
        kustomization(json!({"conditions": [{"type": "Ready", "status": "False"}]}));
    suspended["spec"]["suspend"] = json!(true);
    let Ok(Document::Object(o)) = one(suspended) else {
        panic!()
    };
    assert_eq!(o.health(), Health::Suspended);
}

#[test]
fn errors_name_object_and_field() {
    let err = one(kustomization(json!({"conditions": [{"status": "False"}]}))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Kustomization shop/apps: status.conditions[0].type: missing"
    );
    let err = one(kustomization(
        json!({"conditions": [{"type": "Ready", "status": false}]}),
    ))
    .unwrap_err();
    assert_eq!(err.field, "status.conditions[0].status");
    assert!(err.to_string().contains("found a boolean (false)"), "{err}");
    let err = one(kustomization(json!({"conditions": {"type": "Ready"}}))).unwrap_err();
    assert_eq!(err.field, "status.conditions");
    let err = one(kustomization(
        json!({"conditions": [{"type": "Ready", "status": "False",
        "lastTransitionTime": "2026-04-21 09:14:07 +0000 UTC"}]}),
    ))
    .unwrap_err();
    assert_eq!(err.field, "status.conditions[0].lastTransitionTime");
}

#[test]
fn list_items_are_parsed_one_by_one() {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        kustomization(json!({})),
        {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
    ]});
    let mut warnings = Vec::new();
    let docs = parse_document(&list, &mut warnings);
    assert_eq!(docs.len(), 3);
    assert!(matches!(docs[0], Ok(Document::Object(_))));
    let err = docs[1].as_ref().unwrap_err();
    assert_eq!(err.object, "items[1] (Kustomization <no name>)");
    assert!(matches!(docs[2], Ok(Document::Ignored { .. })));
}

#[test]
fn oversized_message_is_kept_shortened_with_a_warning() {
    let big = "x".repeat(40_000);
    let mut warnings = Vec::new();
    let docs = parse_document(
        &kustomization(
            json!({"conditions": [{"type": "Ready", "status": "False", "message": big}]}),
        ),
        &mut warnings,
    );
    let Ok(Document::Object(o)) = &docs[0] else {
        panic!()
    };
    assert_eq!(o.conditions[0].message.len(), 32768);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].field, "status.conditions[0].message");
}

#[test]
fn events_of_both_groups() {
    let core = one(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "e", "namespace": "shop",
                     "annotations": {"kustomize.toolkit.fluxcd.io/revision": "main@sha1:1"}},
        "involvedObject": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "name": "apps"},
        "reason": "BuildFailed", "message": "m", "type": "Warning", "count": 3,
        "firstTimestamp": "2026-04-21T08:00:00Z", "lastTimestamp": "2026-04-21T09:00:00Z",
        "source": {"component": "kustomize-controller"}, "reportingComponent": ""
    }))
    .unwrap();
    let Document::Event(e) = core else { panic!() };
    assert_eq!(
        e.involved,
        ObjectRef::new(Kind::Kustomization, "shop", "apps")
    );
    assert_eq!(e.count, 3);
    assert_eq!(
        e.reporting_controller.as_deref(),
        Some("kustomize-controller")
    );
    assert_eq!(e.revision.as_deref(), Some("main@sha1:1"));

    let new = one(json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "e", "namespace": "shop", "creationTimestamp": "2026-04-21T08:00:00Z"},
        "regarding": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "name": "apps", "namespace": "shop"},
        "note": "n", "reason": "BuildFailed", "type": "Warning", "eventTime": null,
        "deprecatedCount": 2, "deprecatedLastTimestamp": "2026-04-21T08:40:44Z",
        "reportingController": "kustomize-controller"
    }))
    .unwrap();
    let Document::Event(e) = new else { panic!() };
    assert_eq!(e.message, "n");
    assert_eq!(e.count, 2);
    assert_eq!(
        e.first.map(|t| t.to_string()).as_deref(),
        Some("2026-04-21T08:00:00Z")
    );

    let err = one(
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "x", "namespace": "n"}}),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "Event n/x: involvedObject: missing");
}

#[test]
fn helm_release_links() {
    let doc = one(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "gw", "namespace": "observability"},
        "spec": {"chart": {"spec": {"chart": "gw", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}},
        "status": {"helmChart": "observability/observability-gw", "lastAttemptedRevision": "2.4.1",
                   "history": [{"version": 7, "status": "failed", "chartVersion": "4.3.0"}]}
    }))
    .unwrap();
    let Document::Object(o) = doc else { panic!() };
    let vias: Vec<_> = o.links.iter().map(|l| l.via).collect();
    assert_eq!(vias, [LinkVia::HelmChart, LinkVia::ChartSourceRef]);
    assert_eq!(
        o.source_link().map(|l| l.target.name.as_str()),
        Some("observability-gw")
    );
    assert_eq!(o.helm_history[0].version, Some(7));
}

#[test]
fn generic_objects_need_conditions() {
    let doc = one(
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "c", "namespace": "n"},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Failed"}]}}),
    )
    .unwrap();
    let Document::Object(o) = doc else { panic!() };
    assert_eq!(o.key.kind, Kind::Other("Certificate".into()));
    assert_eq!(o.health(), Health::Failing);
    assert!(matches!(
        one(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}))
            .unwrap(),
        Document::Ignored { .. }
    ));
}

#[test]
fn not_an_object() {
    let err = one(json!([1, 2])).unwrap_err();
    assert!(
        err.to_string().contains("expected a Kubernetes object"),
        "{err}"
    );
}

#[test]
fn api_server_lists_name_their_items_kind() {
    let list = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "KustomizationList",
        "metadata": {"resourceVersion": "7"},
        "items": [{"metadata": {"name": "apps", "namespace": "shop"},
                   "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "BuildFailed"}]}}]});
    let mut warnings = Vec::new();
    let docs = parse_document(&list, &mut warnings);
    let Ok(Document::Object(o)) = &docs[0] else {
        panic!("{docs:?}")
    };
    assert_eq!(o.key, ObjectRef::new(Kind::Kustomization, "shop", "apps"));
    assert_eq!(o.api_version, "kustomize.toolkit.fluxcd.io/v1");
    assert_eq!(o.health(), Health::Failing);
}

#[test]
fn timeless_failure_uses_now_and_events_without_api_version_count() {
    use crate::event::{BuildOptions, build_all};
    use crate::model::snapshot::Snapshot;
    use crate::time::Time;
    let mut snapshot = Snapshot::new("c");
    let object = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "shop"},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "BuildFailed"}]}});
    let Ok(Document::Object(o)) = one(object) else {
        panic!()
    };
    snapshot.objects.push(o.into());
    let now = Time::parse("2026-04-21T09:30:00Z").unwrap();
    let options = BuildOptions {
        now: Some(now),
        ..BuildOptions::default()
    };
    assert_eq!(build_all(&snapshot, &options)[0].timestamp, now);
    assert_eq!(
        build_all(&snapshot, &BuildOptions::default())[0].timestamp,
        Time::UNIX_EPOCH
    );

    let event = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "shop"},
        "involvedObject": {"kind": "Kustomization", "name": "apps"}, "reason": "BuildFailed",
        "message": "m", "type": "Warning", "lastTimestamp": "2026-04-21T09:10:00Z"});
    let Ok(Document::Event(e)) = one(event) else {
        panic!()
    };
    snapshot.events.push(e);
    let built = build_all(&snapshot, &BuildOptions::default());
    assert_eq!(
        built[0].timestamp,
        Time::parse("2026-04-21T09:10:00Z").unwrap()
    );
}
