//! `FLUXBRAIN_REPORT_DRIFT`: a Ready HelmRelease whose `Drifted` condition is `True` is an
//! incident of its own only when drift is reported, and resolves when Flux says no drift.

use futures::executor::block_on;
use serde_json::{Value, json};

use super::control_tests::{observation, setup_with, t};
use super::*;
use crate::errorbrain::Severity;
use crate::notification::Resolution;

fn release(drifted: Option<bool>) -> Value {
    let mut conditions = vec![json!({"type": "Ready", "status": "True",
        "reason": "UpgradeSucceeded",
        "message": "Helm upgrade succeeded for release shop/storefront.v3 with chart storefront@4.3.0",
        "lastTransitionTime": "2026-04-21T08:00:00Z"})];
    match drifted {
        Some(true) => conditions.push(json!({"type": "Drifted", "status": "True",
            "reason": "DriftDetected",
            "message": "Cluster state of release shop/storefront.v3 has drifted from the desired state:\nDeployment/shop/storefront changed (0 additions, 1 changes, 0 removals)",
            "lastTransitionTime": "2026-04-21T09:00:00Z"})),
        Some(false) => conditions.push(json!({"type": "Drifted", "status": "False",
            "reason": "NoDriftDetected", "message": "No drift detected against the cluster state",
            "lastTransitionTime": "2026-04-21T09:10:00Z"})),
        None => {}
    }
    json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
           "metadata": {"name": "storefront", "namespace": "shop"},
           "spec": {"driftDetection": {"mode": "warn"}},
           "status": {"conditions": conditions}})
}

fn config(report_drift: bool) -> EngineConfig {
    EngineConfig {
        build: BuildOptions {
            report_drift,
            ..BuildOptions::default()
        },
        ..EngineConfig::default()
    }
}

#[test]
fn a_drifted_release_is_a_warning_incident_only_when_drift_is_reported() {
    let quiet = setup_with(config(false));
    assert_eq!(quiet.step(&[release(Some(true))], 1), vec![]);
    assert!(block_on(quiet.engine.state()).incidents.is_empty());

    let s = setup_with(config(true));
    let report = block_on(s.engine.observe(&observation(&[release(Some(true))]), t(1))).unwrap();
    assert_eq!(report.notifications.len(), 1);
    let firing = &report.notifications[0];
    assert_eq!(firing.kind, NotificationKind::Firing);
    assert_eq!(firing.event.severity, Some(Severity::Warning));
    assert_eq!(firing.event.error_type.as_deref(), Some("DriftDetected"));
    assert!(firing.event.message.contains("has drifted"));
    // The drifted objects are in the evidence, as facts.
    let evidence = serde_json::to_value(&firing.event.evidence).unwrap();
    let drift = evidence
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["data"]["kind"] == "drift")
        .expect("drift evidence");
    assert_eq!(drift["data"]["state"], "detected");
    assert_eq!(drift["data"]["from"], "condition");
    assert_eq!(drift["data"]["objects"][0]["name"], "storefront");
    assert_eq!(drift["data"]["objects"][0]["changes"], 1);
    block_on(s.engine.deliver(0, t(1), 0.5)).unwrap();
    s.recorder.0.lock().unwrap().clear();

    // Still drifted: quiet. No drift any more (Drifted=False): resolved.
    assert_eq!(s.step(&[release(Some(true))], 2), vec![]);
    assert_eq!(
        s.step(&[release(Some(false))], 3),
        vec![(
            "storefront".to_owned(),
            NotificationKind::Resolved(Resolution::Recovered)
        )]
    );
    // A condition that disappears (drift detection turned off) resolves it as well.
    let again = setup_with(config(true));
    assert_eq!(again.step(&[release(Some(true))], 1).len(), 1);
    assert_eq!(
        again.step(&[release(None)], 2),
        vec![(
            "storefront".to_owned(),
            NotificationKind::Resolved(Resolution::Recovered)
        )]
    );
}

#[test]
fn a_suspended_drifted_release_is_not_reported() {
    let s = setup_with(config(true));
    let mut suspended = release(Some(true));
    suspended["spec"]["suspend"] = true.into();
    assert_eq!(s.step(&[suspended], 1), vec![]);
}
