//! Objects the cluster listed but that could not be parsed: neither recovered nor deleted.

use futures::executor::block_on;
use serde_json::{Value, json};

use super::control_tests::{observation, setup_with, t};
use super::*;
use crate::collect::UnreadableObject;
use crate::model::kind::Kind;
use crate::model::object::ObjectRef;
use crate::notification::Resolution;

fn object(api_version: &str, kind: &str, name: &str, ready: &str, spec: Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind,
           "metadata": {"name": name, "namespace": "shop"},
           "spec": spec,
           "status": {"conditions": [{"type": "Ready", "status": ready,
               "reason": if ready == "True" { "Succeeded" } else { "BuildFailed" },
               "message": "m", "lastTransitionTime": "2026-04-21T09:00:00Z"}]}})
}

fn repo(ready: &str) -> Value {
    object(
        "source.toolkit.fluxcd.io/v1",
        "GitRepository",
        "git",
        ready,
        json!({"url": "https://git.example/shop"}),
    )
}

fn app(ready: &str) -> Value {
    object(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "web",
        ready,
        json!({"sourceRef": {"kind": "GitRepository", "name": "git"}}),
    )
}

/// What the collector reports for a listed object it could not parse.
fn unreadable(kind: Kind, name: &str) -> UnreadableObject {
    UnreadableObject {
        key: ObjectRef::new(kind, "shop", name),
        error: format!("{name}: status.conditions[0].status: missing"),
    }
}

/// `values` as parsed objects, and `broken` as objects that could not be parsed.
fn observe(
    s: &control_tests::Setup,
    values: &[Value],
    broken: Vec<UnreadableObject>,
    at: i64,
) -> (ObserveReport, Vec<(String, NotificationKind)>) {
    let mut observations = observation(values);
    if let Some(Ok(o)) = observations.first_mut() {
        o.unreadable = broken;
    }
    let report = block_on(s.engine.observe(&observations, t(at))).unwrap();
    block_on(s.engine.deliver(0, t(at), 0.5)).unwrap();
    let sent = s
        .recorder
        .0
        .lock()
        .unwrap()
        .drain(..)
        .map(|n| (n.event.metadata.name.clone(), n.kind))
        .collect();
    (report, sent)
}

fn hourly() -> control_tests::Setup {
    setup_with(EngineConfig {
        policy: PolicyConfig {
            remind_every: Some(Duration::from_secs(3600)),
            ..PolicyConfig::default()
        },
        ..EngineConfig::default()
    })
}

#[test]
fn a_failing_object_that_becomes_unreadable_keeps_its_incident_open_and_says_so() {
    let s = hourly();
    assert_eq!(
        s.step(&[app("False")], 0),
        vec![("web".to_owned(), NotificationKind::Firing)]
    );
    let id = block_on(s.engine.state())
        .incidents
        .values()
        .next()
        .unwrap()
        .id
        .clone();

    let broken = || vec![unreadable(Kind::Kustomization, "web")];
    let (report, sent) = observe(&s, &[], broken(), 10);
    assert_eq!(sent, vec![], "not resolved as deleted");
    assert_eq!(report.open_incidents, 1);
    assert_eq!(
        report.warnings,
        vec![format!(
            "prod: Kustomization shop/web could not be read (web: status.conditions[0].status: \
             missing); its incident {id} stays open, neither recovered nor deleted, until it can \
             be read again"
        )]
    );
    let (again, sent) = observe(&s, &[], broken(), 20);
    assert_eq!(sent, vec![]);
    assert!(again.warnings.is_empty(), "said once: {:?}", again.warnings);
    // Left alone while it cannot be read: no reminder either.
    assert_eq!(observe(&s, &[], broken(), 70).1, vec![]);
    let state = block_on(s.engine.state());
    assert_eq!(state.incidents.values().next().unwrap().id, id);
    assert!(state.history.is_empty(), "{:?}", state.history);

    // Readable again and still failing: the same incident, its overdue reminder now.
    assert_eq!(
        s.step(&[app("False")], 80),
        vec![("web".to_owned(), NotificationKind::Reminder)]
    );
    assert_eq!(
        block_on(s.engine.state())
            .incidents
            .values()
            .next()
            .unwrap()
            .id,
        id
    );
    // Gone from the list for real: resolved as deleted.
    assert_eq!(
        s.step(&[], 90),
        vec![(
            "web".to_owned(),
            NotificationKind::Resolved(Resolution::Deleted)
        )]
    );
}

#[test]
fn an_unreadable_object_without_an_incident_is_not_mentioned() {
    let s = hourly();
    assert_eq!(s.step(&[app("True")], 0), vec![]);
    let (report, sent) = observe(&s, &[], vec![unreadable(Kind::Kustomization, "web")], 10);
    assert_eq!((report.warnings, sent), (vec![], vec![]));
    assert_eq!(report.open_incidents, 0);
}

#[test]
fn a_downstream_stays_folded_while_its_upstream_cannot_be_read() {
    let s = hourly();
    let sent = s.step(&[repo("False"), app("False")], 0);
    assert_eq!(sent, vec![("git".to_owned(), NotificationKind::Firing)]);
    let folded = |s: &control_tests::Setup| {
        block_on(s.engine.state())
            .incidents
            .values()
            .find(|r| r.key.name == "web")
            .and_then(|r| r.folded_into.clone())
            .map(|k| k.name)
    };
    assert_eq!(folded(&s).as_deref(), Some("git"));

    // The source cannot be read: its incident stays open, and the Kustomization failing with
    // it is not announced on its own as if the source had recovered.
    let (report, sent) = observe(
        &s,
        &[app("False")],
        vec![unreadable(Kind::GitRepository, "git")],
        10,
    );
    assert_eq!(sent, vec![]);
    assert_eq!(report.open_incidents, 2);
    assert_eq!(folded(&s).as_deref(), Some("git"));

    // Readable again and recovered: then the Kustomization is on its own.
    let sent = s.step(&[repo("True"), app("False")], 20);
    assert!(
        sent.contains(&(
            "git".to_owned(),
            NotificationKind::Resolved(Resolution::Recovered)
        )) && sent.contains(&("web".to_owned(), NotificationKind::Firing)),
        "{sent:?}"
    );
}
