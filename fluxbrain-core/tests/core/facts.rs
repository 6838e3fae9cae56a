//! Flux's own facts in the evidence: objects a failed health check names, Helm release drift,
//! the Helm history with its test hooks and what helm-controller last attempted.

use fluxbrain_core::{BuildOptions, Document, ErrorEvent, Snapshot, build_all, parse_document};
use serde_json::{Value, json};

use crate::support::{fixtures, load, now, schema};

fn snapshot(values: &[Value]) -> Snapshot {
    let mut snapshot = Snapshot::new("prod");
    for value in values {
        for doc in parse_document(value, &mut Vec::new()) {
            match doc {
                Ok(Document::Object(o)) => snapshot.objects.push(o.into()),
                Ok(Document::Event(e)) => snapshot.events.push(e),
                other => panic!("{other:?}"),
            }
        }
    }
    snapshot
}

fn events(snapshot: &Snapshot) -> Vec<ErrorEvent> {
    let events = build_all(
        snapshot,
        &BuildOptions {
            now: Some(now()),
            ..BuildOptions::default()
        },
    );
    let schema = schema("error_event.schema.json");
    let validator = jsonschema::validator_for(&schema).unwrap();
    for event in &events {
        let value = serde_json::to_value(event).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
    events
}

/// The `data` of the custom evidence item of `kind`.
fn custom(event: &ErrorEvent, kind: &str) -> Option<Value> {
    serde_json::to_value(&event.evidence)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "custom" && e["data"]["kind"] == kind)
        .map(|e| e["data"].clone())
}

#[test]
fn a_failed_health_check_lists_its_objects() {
    let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "HealthCheckFailed",
             "message": "health check failed after 2m0.01s: timeout waiting for: [Deployment/podinfo/frontend status: 'InProgress', ClusterRole/podinfo-reader status: 'NotFound']",
             "lastTransitionTime": "2026-04-21T09:00:00Z"},
            {"type": "Healthy", "status": "False", "reason": "HealthCheckFailed",
             "message": "timeout waiting for: [Deployment/podinfo/frontend status: 'InProgress', ClusterRole/podinfo-reader status: 'NotFound']",
             "lastTransitionTime": "2026-04-21T09:00:00Z"}]}});
    let events = events(&snapshot(&[ks]));
    let checks = custom(&events[0], "health_checks").expect("health_checks evidence");
    assert_eq!(
        checks,
        json!({"kind": "health_checks", "condition": "Ready", "outcome": "timeout", "objects": [
            {"kind": "Deployment", "namespace": "podinfo", "name": "frontend", "status": "InProgress"},
            {"kind": "ClusterRole", "name": "podinfo-reader", "status": "NotFound"}]})
    );
}

#[test]
fn a_message_without_a_health_check_adds_no_health_check_facts() {
    let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "BuildFailed",
            "message": "kustomize build failed: timeout waiting for: [nothing]"}]}});
    let events = events(&snapshot(&[ks]));
    assert_eq!(custom(&events[0], "health_checks"), None);
}

#[test]
fn helm_history_carries_test_hooks_digests_and_the_last_attempt() {
    let hr = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "podinfo", "namespace": "podinfo"},
        "status": {
            "conditions": [{"type": "Ready", "status": "False", "reason": "TestFailed",
                "message": "Helm test failed for release podinfo/podinfo.v3 with chart podinfo@6.5.4: pod podinfo-grpc-test-k2x9z failed",
                "lastTransitionTime": "2026-04-21T09:00:00Z"}],
            "failures": 1,
            "lastAttemptedReleaseAction": "upgrade",
            "lastAttemptedConfigDigest": "sha256:aa11",
            "lastAttemptedRevision": "6.5.4",
            "lastReleaseRevision": 0,
            "history": [{
                "name": "podinfo", "namespace": "podinfo", "version": 3, "status": "deployed",
                "action": "upgrade", "chartName": "podinfo", "chartVersion": "6.5.4",
                "appVersion": "6.5.4", "digest": "sha256:bb22", "configDigest": "sha256:aa11",
                "firstDeployed": "2026-04-20T10:00:00Z", "lastDeployed": "2026-04-21T08:59:00Z",
                "testHooks": {
                    "podinfo-jwt-test-x": {"phase": "Succeeded", "lastStarted": "2026-04-21T08:59:10Z", "lastCompleted": "2026-04-21T08:59:20Z"},
                    "podinfo-grpc-test-k2x9z": {"phase": "Failed", "lastStarted": "2026-04-21T08:59:10Z", "lastCompleted": "2026-04-21T08:59:40Z"}}}]}});
    let events = events(&snapshot(&[hr]));
    let history = custom(&events[0], "helm_history").expect("helm_history evidence");
    let entry = &history["entries"][0];
    assert_eq!(entry["action"], "upgrade");
    assert_eq!(entry["digest"], "sha256:bb22");
    assert_eq!(entry["config_digest"], "sha256:aa11");
    assert_eq!(
        entry["test_hooks"],
        json!([
            {"name": "podinfo-grpc-test-k2x9z", "phase": "Failed", "last_started": "2026-04-21T08:59:10Z", "last_completed": "2026-04-21T08:59:40Z"},
            {"name": "podinfo-jwt-test-x", "phase": "Succeeded", "last_started": "2026-04-21T08:59:10Z", "last_completed": "2026-04-21T08:59:20Z"}])
    );
    // lastReleaseRevision 0 is the deprecated field's placeholder, not a fact.
    assert_eq!(
        history["attempt"],
        json!({"release_action": "upgrade", "config_digest": "sha256:aa11", "failures": 1})
    );
}

#[test]
fn a_v2beta1_release_shows_its_last_attempt_without_a_history() {
    let loaded = load(&[fixtures().join("v2beta1-helmrelease.yaml")], "prod");
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let events = events(&loaded.snapshot);
    let history = custom(&events[0], "helm_history").expect("helm_history evidence");
    assert_eq!(history["entries"], json!([]));
    assert_eq!(
        history["attempt"],
        json!({"values_checksum": "304f7c290c233bf425e042f3b3c9822f19bf1e3d",
               "release_revision": 17, "failures": 6, "upgrade_failures": 3})
    );
}

#[test]
fn drift_events_of_older_helm_controllers_are_evidence_of_a_failing_release() {
    let hr = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "podinfo", "namespace": "podinfo"},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "UpgradeFailed",
            "message": "Helm upgrade failed for release podinfo/podinfo with chart podinfo@6.5.4: context deadline exceeded",
            "lastTransitionTime": "2026-04-21T09:00:00Z"}]}});
    let event = |reason: &str, message: &str, last: &str| {
        json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("podinfo.{reason}"), "namespace": "podinfo"},
            "involvedObject": {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                               "name": "podinfo", "namespace": "podinfo"},
            "type": "Warning", "reason": reason, "message": message, "count": 1,
            "firstTimestamp": last, "lastTimestamp": last,
            "source": {"component": "helm-controller"}})
    };
    let detected = event(
        "DriftDetected",
        "Cluster state of release podinfo/podinfo.v2 has drifted from the desired state:\nService/podinfo/podinfo removed",
        "2026-04-21T08:50:00Z",
    );
    let corrected = event(
        "DriftCorrected",
        "Cluster state of release podinfo/podinfo.v2 has been corrected:\nService/podinfo/podinfo created",
        "2026-04-21T08:51:00Z",
    );
    let events = events(&snapshot(&[hr, detected, corrected]));
    let evidence = serde_json::to_value(&events[0].evidence).unwrap();
    let drift: Vec<&Value> = evidence
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["kind"] == "drift")
        .map(|e| &e["data"])
        .collect();
    assert_eq!(drift.len(), 2);
    assert_eq!(drift[0]["state"], "detected");
    assert_eq!(drift[0]["from"], "event");
    assert_eq!(drift[0]["release"], "podinfo/podinfo.v2");
    assert_eq!(drift[0]["objects"][0]["change"], "removed");
    assert_eq!(drift[1]["state"], "corrected");
    assert_eq!(drift[1]["objects"][0]["change"], "created");
}
