//! The ConfigMap state store against the simulator: conformance, splitting, fencing.

use std::time::Duration;

use fluxbrain_core::engine::{StateStore, StoreError, conformance};
use fluxbrain_kube::ConfigMapStore;

use crate::support::{kube_client, start};

const TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_including_10k_incidents() {
    let (_sim, server) = start().await;
    let store = ConfigMapStore::new(
        kube_client(&server).await,
        "flux-system",
        "fluxbrain-state",
        TIMEOUT,
    );
    conformance::run(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_state_is_split_and_old_parts_are_removed() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    let store = ConfigMapStore::new(client.clone(), "flux-system", "fluxbrain-state", TIMEOUT);
    assert_eq!(store.load().await.unwrap(), None);
    // Distinct messages (as real ones are: temp dirs, digests, durations) compress far less
    // than the conformance sample's repeated ones.
    let mut big = conformance::sample_state(10_000);
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for record in big.incidents.values_mut() {
        record.event.message = (0..40)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                format!("{seed:016x}")
            })
            .collect();
    }
    store.save(&big).await.unwrap();
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client.clone(), "flux-system");
    let parts = || async {
        api.list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|cm| cm.metadata.name)
            .filter(|n| n.starts_with("fluxbrain-state-"))
            .collect::<Vec<_>>()
    };
    let first = parts().await;
    assert!(
        first.len() >= 2,
        "10k incidents need more than one ConfigMap: {first:?}"
    );
    // A fresh store (a restart) reads it back whole.
    let again = ConfigMapStore::new(client.clone(), "flux-system", "fluxbrain-state", TIMEOUT);
    assert_eq!(again.load().await.unwrap().as_ref(), Some(&big));
    // Saving a small state drops the parts.
    again.save(&conformance::sample_state(2)).await.unwrap();
    let left = parts().await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_writer_is_fenced_off() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    let old_leader = ConfigMapStore::new(client.clone(), "flux-system", "fluxbrain-state", TIMEOUT);
    let new_leader = ConfigMapStore::new(client, "flux-system", "fluxbrain-state", TIMEOUT);
    old_leader.load().await.unwrap();
    old_leader
        .save(&conformance::sample_state(1))
        .await
        .unwrap();
    // The new leader loads and writes; the old one, still holding its old view, cannot.
    new_leader.load().await.unwrap();
    new_leader
        .save(&conformance::sample_state(2))
        .await
        .unwrap();
    let err = old_leader
        .save(&conformance::sample_state(3))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(
        new_leader.load().await.unwrap().map(|s| s.incidents.len()),
        Some(2),
        "the new leader's state stands"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_state_is_an_error_and_left_in_place() {
    let (sim, server) = start().await;
    sim.apply(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "fluxbrain-state", "namespace": "flux-system"},
        "binaryData": {"state.json.gz": "bm90IGd6aXA="}
    }))
    .unwrap();
    let store = ConfigMapStore::new(
        kube_client(&server).await,
        "flux-system",
        "fluxbrain-state",
        TIMEOUT,
    );
    let err = store.load().await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("kubectl -n flux-system delete configmap fluxbrain-state"),
        "{err}"
    );
    assert!(
        sim.object("v1", "ConfigMap", "flux-system", "fluxbrain-state")
            .is_some()
    );
}
