//! kube-rs against the simulator: typed and dynamic APIs, and a watcher that survives faults.

use std::collections::BTreeMap;
use std::time::Duration;

use fluxbrain_sim::Faults;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;

use crate::support::{kube_client, raw_client, start};

fn ks_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization");
    ApiResource::from_gvk_with_plural(&gvk, "kustomizations")
}

fn kustomizations(client: kube::Client) -> Api<DynamicObject> {
    Api::all_with(client, &ks_resource())
}

fn ks_in(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization");
    Api::namespaced_with(
        client,
        ns,
        &ApiResource::from_gvk_with_plural(&gvk, "kustomizations"),
    )
}

fn key_rv(o: &DynamicObject) -> (String, String, String) {
    (
        o.metadata.namespace.clone().unwrap_or_default(),
        o.metadata.name.clone().unwrap_or_default(),
        o.metadata.resource_version.clone().unwrap_or_default(),
    )
}

#[tokio::test]
async fn list_pages_and_label_selectors() {
    let (_sim, server) = start().await;
    let api = kustomizations(kube_client(&server).await);
    let first = api.list(&ListParams::default().limit(4)).await.unwrap();
    assert_eq!(first.items.len(), 4);
    assert_eq!(first.metadata.remaining_item_count, Some(5));
    let token = first.metadata.continue_.clone().unwrap();
    let rest = api
        .list(&ListParams::default().limit(100).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 5);
    assert_eq!(rest.metadata.continue_, None);
    assert_eq!(
        rest.metadata.resource_version, first.metadata.resource_version,
        "a continued list keeps its version"
    );
    let labelled = api
        .list(&ListParams::default().labels("kustomize.toolkit.fluxcd.io/name=flux-system"))
        .await
        .unwrap();
    assert!(!labelled.items.is_empty());
    assert!(labelled.items.iter().all(
        |o| o.metadata.labels.as_ref().unwrap()["kustomize.toolkit.fluxcd.io/name"]
            == "flux-system"
    ));
    let none = api
        .list(&ListParams::default().labels("app notin (x),missing"))
        .await
        .unwrap();
    assert!(none.items.is_empty());
}

#[tokio::test]
async fn writes_conflict_bump_generation_and_split_status() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "flux-system");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("fluxbrain-state".into());
    cm.data = Some([("a".to_string(), "1".to_string())].into());
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    assert!(created.metadata.uid.is_some());
    let mut update = created.clone();
    update.data = Some([("a".to_string(), "2".to_string())].into());
    let updated = cms
        .replace("fluxbrain-state", &PostParams::default(), &update)
        .await
        .unwrap();
    assert_ne!(
        updated.metadata.resource_version,
        created.metadata.resource_version
    );
    let stale = cms
        .replace("fluxbrain-state", &PostParams::default(), &update)
        .await;
    match stale {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 409);
            assert_eq!(status.reason, "Conflict");
        }
        other => panic!("stale replace: {other:?}"),
    }
    let dup = cms.create(&PostParams::default(), &cm).await;
    assert!(
        matches!(dup, Err(kube::Error::Api(ref s)) if s.code == 409 && s.reason == "AlreadyExists"),
        "{dup:?}"
    );

    let ks = ks_in(client, "shop");
    let before = ks.get("shop-apps").await.unwrap();
    let gen_before = before.metadata.generation.unwrap();
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "ok", "lastTransitionTime": "2026-04-21T09:31:00Z"}]}});
    let patched = ks
        .patch_status("shop-apps", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    assert_eq!(
        patched.metadata.generation,
        Some(gen_before),
        "status writes keep generation"
    );
    assert_eq!(patched.data["status"]["conditions"][0]["status"], "True");
    let spec = json!({"spec": {"interval": "10m"}, "status": {"conditions": []}});
    let patched = ks
        .patch("shop-apps", &PatchParams::default(), &Patch::Merge(&spec))
        .await
        .unwrap();
    assert_eq!(
        patched.metadata.generation,
        Some(gen_before + 1),
        "spec writes bump generation"
    );
    assert_eq!(
        patched.data["status"]["conditions"][0]["status"], "True",
        "the main resource ignores status"
    );
    let deleted = ks
        .delete("shop-apps", &DeleteParams::default())
        .await
        .unwrap();
    let gone = deleted.left().unwrap();
    assert!(
        gone.metadata.deletion_timestamp.is_some(),
        "finalizers first mark the object"
    );
    let missing = ks.get("shop-apps").await;
    assert!(
        matches!(missing, Err(kube::Error::Api(ref s)) if s.code == 404),
        "{missing:?}"
    );
}

/// A watcher through a dropped stream, then a 410 (history compacted while it could not
/// re-watch), ends with the same store as a fresh list, and the server saw it relist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_survives_dropped_stream_and_gone() {
    let (sim, server) = start().await;
    // Without kube's own 503 retries, so the watcher itself sees the refused re-watches.
    let client = raw_client(&server).await;
    let api = kustomizations(client.clone());
    let writer = reflector::store::Writer::<DynamicObject>::new(ks_resource());
    let reader = writer.as_reader();
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stream = reflector(
        writer,
        watcher(api.clone(), watcher::Config::default()).default_backoff(),
    );
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let line = match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                    format!("apply {}", o.metadata.name.unwrap_or_default())
                }
                Ok(watcher::Event::Delete(o)) => {
                    format!("delete {}", o.metadata.name.unwrap_or_default())
                }
                Ok(watcher::Event::Init) => "init".to_string(),
                Ok(watcher::Event::InitDone) => "init-done".to_string(),
                Err(e) => format!("error {e}"),
            };
            if seen_tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut wait_for = async |want: &str| {
        let mut log = Vec::new();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), seen.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "waiting for {want:?}; saw {log:?}; requests {:#?}",
                        sim.requests()
                    )
                })
                .unwrap();
            let hit = line.starts_with(want);
            log.push(line);
            if hit {
                return log;
            }
        }
    };
    wait_for("init-done").await;
    assert_eq!(reader.state().len(), 9);
    let ks = ks_in(client.clone(), "shop");

    // 1. A dropped stream: the watcher re-watches from its last version, no relist.
    let count = |f: &dyn Fn(&String) -> bool| {
        sim.requests()
            .iter()
            .filter(|r| r.contains("/kustomizations?") && f(r))
            .count()
    };
    let lists_before = count(&|r| !r.contains("watch=true"));
    let watches_before = count(&|r| r.contains("watch=true"));
    sim.drop_watches();
    ks.patch(
        "shop-config",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"labels": {"step": "one"}}})),
    )
    .await
    .unwrap();
    wait_for("apply shop-config").await;
    assert_eq!(
        count(&|r| !r.contains("watch=true")),
        lists_before,
        "a dropped stream is resumed, not relisted"
    );
    assert!(
        count(&|r| r.contains("watch=true")) > watches_before,
        "the watcher opened a new watch"
    );

    // 2. Watches refused while things change, then the history is compacted: the re-watch gets
    //    410 Gone and the watcher must relist.
    sim.set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        request_contains: Some("watch=true".into()),
        ..Faults::default()
    });
    sim.drop_watches();
    ks.delete("shop-legacy", &DeleteParams::default())
        .await
        .unwrap();
    ks.patch(
        "shop-ingress",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"labels": {"step": "two"}}})),
    )
    .await
    .unwrap();
    let mut fresh = ks.get("shop-apps").await.unwrap();
    fresh.metadata = kube::api::ObjectMeta {
        name: Some("shop-new".into()),
        namespace: Some("shop".into()),
        ..Default::default()
    };
    ks.create(&PostParams::default(), &fresh).await.unwrap();
    sim.expire_resource_versions();
    let log = wait_for("error").await;
    assert!(log.last().unwrap().contains("503"), "{log:?}");
    sim.set_faults(Faults::default());
    wait_for("init").await;
    wait_for("init-done").await;

    let listed = api.list(&ListParams::default()).await.unwrap();
    let mut from_list: Vec<_> = listed.items.iter().map(key_rv).collect();
    let mut from_store: Vec<_> = reader.state().iter().map(|o| key_rv(o)).collect();
    from_list.sort();
    from_store.sort();
    assert_eq!(from_store, from_list);
    let names: BTreeMap<_, _> = from_store
        .iter()
        .map(|(ns, n, _)| (format!("{ns}/{n}"), ()))
        .collect();
    assert!(names.contains_key("shop/shop-new") && !names.contains_key("shop/shop-legacy"));

    let requests = sim.requests();
    let relists = requests
        .iter()
        .filter(|r| r.contains("/kustomizations?") && !r.contains("watch=true"))
        .count();
    assert!(
        relists > lists_before,
        "the 410 made the watcher list again: {requests:#?}"
    );
    task.abort();
}
