//! Scripts on the injected clock, and startup errors for bad state and scripts.

use std::time::Duration;

use fluxbrain_sim::Error;
use fluxbrain_sim::{Script, Simulator, State};
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, LogParams, WatchEvent,
    WatchParams,
};
use serde_json::Value;

use crate::support::{START, TempDir, config, kube_client, start};

fn ks_api(client: kube::Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization");
    Api::namespaced_with(
        client,
        "flux-system",
        &ApiResource::from_gvk_with_plural(&gvk, "kustomizations"),
    )
}

fn at(offset_secs: i64) -> String {
    let start: jiff::Timestamp = START.parse().unwrap();
    (start + jiff::SignedDuration::from_secs(offset_secs)).to_string()
}

const FAILURE: &str = r#"
steps:
- at: 1m
  set_conditions:
    kind: Kustomization
    namespace: flux-system
    name: flux-system
    conditions:
    - {type: Ready, status: "False", reason: BuildFailed, message: "kustomize build failed: boom"}
- at: 1m
  add_event: {kind: Kustomization, namespace: flux-system, name: flux-system, type: Warning, reason: BuildFailed, message: "kustomize build failed: boom"}
- at: 1m30s
  append_logs:
    pod: kustomize-controller-7b5d9c6f48-m2kzt
    line: '{"level":"error","ts":"{{now}}","msg":"Reconciliation failed","name":"flux-system"}'
- at: 3m
  set_revision: {kind: Kustomization, namespace: flux-system, name: flux-system, revision: "main@sha1:0000000000000000000000000000000000000001"}
- at: 3m
  set_conditions:
    kind: Kustomization
    namespace: flux-system
    name: flux-system
    conditions:
    - {type: Ready, status: "True", reason: ReconciliationSucceeded, message: "Applied revision: main@sha1:0000000000000000000000000000000000000001"}
"#;

#[tokio::test]
async fn failure_starts_and_recovers_on_the_injected_clock() {
    let (sim, server) = start().await;
    sim.run_script(Script::from_yaml(FAILURE, "failure.yaml").unwrap());
    let client = kube_client(&server).await;
    let ks = ks_api(client.clone());
    let before = ks.get("flux-system").await.unwrap();
    // Like an API server that just started, the loaded state's watch history begins at the
    // list's version: watches start from a list, not from an object's older version.
    let rv = ks
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut watch = ks
        .watch(
            &WatchParams::default().fields("metadata.name=flux-system"),
            &rv,
        )
        .await
        .unwrap()
        .boxed();

    assert_eq!(
        sim.advance(Duration::from_secs(59)).unwrap(),
        0,
        "nothing is due before 1m"
    );
    assert_eq!(
        ks.get("flux-system")
            .await
            .unwrap()
            .metadata
            .resource_version,
        before.metadata.resource_version
    );
    assert_eq!(sim.advance(Duration::from_secs(1)).unwrap(), 2);
    assert_eq!(sim.now().to_string(), at(60));

    let failing = match tokio::time::timeout(Duration::from_secs(10), watch.try_next())
        .await
        .unwrap()
        .unwrap()
    {
        Some(WatchEvent::Modified(o)) => o,
        other => panic!("{other:?}"),
    };
    let ready = &failing.data["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "BuildFailed");
    assert_eq!(
        ready["lastTransitionTime"],
        Value::String(at(60)),
        "time comes from the injected clock"
    );
    assert_eq!(
        ready["observedGeneration"],
        failing.metadata.generation.unwrap()
    );

    let events: Api<Event> = Api::namespaced(client.clone(), "flux-system");
    let recorded = events
        .list(&ListParams::default().fields("involvedObject.name=flux-system,reason=BuildFailed"))
        .await
        .unwrap();
    assert_eq!(recorded.items.len(), 1);
    let event = &recorded.items[0];
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(
        event.reporting_component.as_deref(),
        Some("kustomize-controller")
    );
    assert_eq!(event.involved_object.uid, before.metadata.uid);
    assert_eq!(
        event.last_timestamp.as_ref().map(|t| t.0.to_string()),
        Some(at(60))
    );

    let pods: Api<Pod> = Api::namespaced(client, "flux-system");
    let pod = "kustomize-controller-7b5d9c6f48-m2kzt";
    let params = LogParams {
        follow: true,
        since_seconds: Some(1),
        ..LogParams::default()
    };
    let mut lines = pods.log_stream(pod, &params).await.unwrap().lines();
    assert_eq!(sim.advance(Duration::from_secs(30)).unwrap(), 1);
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        line.contains("Reconciliation failed")
            && line.contains(&format!("\"ts\":\"{}\"", "2026-04-21T09:31:30.000Z")),
        "{line}"
    );

    assert_eq!(sim.advance(Duration::from_secs(120)).unwrap(), 2);
    let recovered = ks.get("flux-system").await.unwrap();
    assert_eq!(
        recovered.data["status"]["lastAttemptedRevision"],
        "main@sha1:0000000000000000000000000000000000000001"
    );
    assert_eq!(
        recovered.data["status"]["lastAppliedRevision"],
        "main@sha1:0000000000000000000000000000000000000001"
    );
    let ready = recovered.data["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(
        (
            ready["status"].as_str(),
            ready["lastTransitionTime"].as_str()
        ),
        (Some("True"), Some(at(180).as_str()))
    );
}

#[tokio::test]
async fn repeated_events_aggregate_like_client_go() {
    let (sim, server) = start().await;
    let script = "repeat: 10m\nsteps:\n- at: 1m\n  add_event: {kind: HelmRelease, namespace: shop, name: storefront, type: Warning, reason: UpgradeFailed, message: again}\n";
    sim.run_script(Script::from_yaml(script, "repeat.yaml").unwrap());
    assert_eq!(sim.advance(Duration::from_secs(25 * 60)).unwrap(), 3);
    let events: Api<Event> = Api::namespaced(kube_client(&server).await, "shop");
    let list = events
        .list(&ListParams::default().fields("reason=UpgradeFailed,involvedObject.kind=HelmRelease"))
        .await
        .unwrap();
    let ours: Vec<&Event> = list
        .items
        .iter()
        .filter(|e| e.message.as_deref() == Some("again"))
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].count, Some(3));
    assert_eq!(
        ours[0].first_timestamp.as_ref().map(|t| t.0.to_string()),
        Some(at(60))
    );
    assert_eq!(
        ours[0].last_timestamp.as_ref().map(|t| t.0.to_string()),
        Some(at(21 * 60))
    );
    assert_eq!(
        ours[0].source.as_ref().and_then(|s| s.component.as_deref()),
        Some("helm-controller")
    );
}

#[tokio::test]
async fn scripted_faults_and_dropped_watches() {
    let (sim, server) = start().await;
    let script = "steps:\n- at: 1m\n  faults: {error_rate: 1.0, error_status: 500, request_contains: /apis/}\n- at: 2m\n  faults: {}\n- at: 3m\n  drop_watches: {}\n- at: 4m\n  delete: {kind: Kustomization, namespace: flux-system, name: nope}\n";
    sim.run_script(Script::from_yaml(script, "faults.yaml").unwrap());
    let client = kube_client(&server).await;
    let ks = ks_api(client.clone());
    sim.advance(Duration::from_secs(60)).unwrap();
    let failed = ks.get("flux-system").await;
    assert!(
        matches!(failed, Err(kube::Error::Api(ref s)) if s.code == 500),
        "{failed:?}"
    );
    let pods: Api<Pod> = Api::namespaced(client, "flux-system");
    assert_eq!(
        pods.list(&ListParams::default()).await.unwrap().items.len(),
        6,
        "only matching requests fail"
    );
    sim.advance(Duration::from_secs(60)).unwrap();
    let rv = ks
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut watch = ks
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    sim.advance(Duration::from_secs(60)).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .unwrap();
    assert!(
        !matches!(ended, Some(Ok(_))),
        "the dropped stream ends: {ended:?}"
    );
    let err = sim.advance(Duration::from_secs(60)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Step {
                step: 4,
                action: "delete",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("flux-system/nope does not exist"),
        "{err}"
    );
}

#[test]
fn bad_state_and_scripts_are_startup_errors_naming_file_and_document() {
    let dir = TempDir::new("bad-state");
    let truncated = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fixtures/malformed/truncated-document.yaml");
    std::fs::copy(&truncated, dir.path().join("objects.yaml")).unwrap();
    let err = State::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.ends_with("objects.yaml: document 2: not valid YAML/JSON"),
        "{err}"
    );

    let dir = TempDir::new("orphan-log");
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("logs/ghost.log"), "{}\n").unwrap();
    let err = Simulator::new(State::load_dir(dir.path()).unwrap(), config())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ghost.log: document 1: log of pod ghost which the state does not have"),
        "{err}"
    );

    let path = dir.path().join("script.yaml");
    std::fs::write(&path, "steps:\n- at: 1m\n  drop_watches: {}\n- at: 2m\n  set_revision: {kind: ImagePolicy, namespace: a, name: b, revision: x}\n").unwrap();
    let err = Script::from_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("script.yaml: step 2: set_revision: ImagePolicy has no revision field"),
        "{err}"
    );
    let err = Script::from_file(dir.path().join("missing.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot read") && err.contains("missing.yaml"),
        "{err}"
    );
}
