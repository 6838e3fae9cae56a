//! The ConfigMap state store against the simulator: conformance, splitting, fencing.

use std::time::Duration;

use std::collections::BTreeMap;
use std::io::Write;

use fluxbrain_core::engine::{STATE_VERSION, StateStore, StoreError, conformance, encode};
use fluxbrain_kube::ConfigMapStore;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

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

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

const KEEP: &str = "keep a copy (`kubectl -n flux-system get configmap fluxbrain-state -o yaml > \
                    fluxbrain-state.bad.yaml`), then `kubectl -n flux-system delete configmap \
                    fluxbrain-state`";

/// Replaces the head's data and annotations by hand, as a person or a broken tool might.
async fn put_head(api: &Api<ConfigMap>, data: Vec<u8>, annotations: BTreeMap<String, String>) {
    let mut head = api.get("fluxbrain-state").await.unwrap();
    head.binary_data = Some([("state.json.gz".to_owned(), ByteString(data))].into());
    head.metadata.annotations = Some(annotations);
    api.replace("fluxbrain-state", &PostParams::default(), &head)
        .await
        .unwrap();
}

/// Loads with a fresh store (a restart): the error. Then checks that the head was left
/// exactly as it was and that this store cannot write over it either.
async fn refused(client: &kube::Client, api: &Api<ConfigMap>) -> StoreError {
    let before = api.get("fluxbrain-state").await.unwrap();
    let store = ConfigMapStore::new(client.clone(), "flux-system", "fluxbrain-state", TIMEOUT);
    let err = store.load().await.unwrap_err();
    assert!(
        matches!(
            store.save(&conformance::sample_state(1)).await,
            Err(StoreError::Conflict { .. })
        ),
        "a store that could not load cannot replace what it could not read"
    );
    let after = api.get("fluxbrain-state").await.unwrap();
    assert_eq!(
        (&after.binary_data, &after.metadata.annotations),
        (&before.binary_data, &before.metadata.annotations),
        "left as it is"
    );
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_state_names_the_configmap_its_key_and_what_is_wrong_and_is_left_in_place() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "flux-system");
    let store = ConfigMapStore::new(client.clone(), "flux-system", "fluxbrain-state", TIMEOUT);
    store.save(&conformance::sample_state(5)).await.unwrap();
    let head = api.get("fluxbrain-state").await.unwrap();
    let annotations = head.metadata.annotations.clone().unwrap();
    let compressed = head.binary_data.unwrap()["state.json.gz"].0.clone();
    let json = encode(&conformance::sample_state(5));
    let cut_json = &json[..json.len() / 2];
    let no_digest: BTreeMap<String, String> =
        [("fluxbrain.io/parts".to_owned(), "0".to_owned())].into();

    let cases = [
        (
            compressed[..compressed.len() / 2].to_vec(),
            annotations.clone(),
            "binaryData.state.json.gz does not match its annotation fluxbrain.io/sha256 (cut \
             short or changed by hand?)"
                .to_owned(),
        ),
        (
            compressed[..compressed.len() / 2].to_vec(),
            no_digest.clone(),
            "binaryData.state.json.gz ends early (".to_owned(),
        ),
        (
            b"{\"version\": 1} is JSON, not gzip".to_vec(),
            no_digest.clone(),
            "binaryData.state.json.gz is not gzip data (".to_owned(),
        ),
        (
            gzip(cut_json),
            no_digest.clone(),
            format!(
                "the state in binaryData.state.json.gz (after gunzip) ends early (EOF while \
                 parsing a string at line 1 column {}): truncated?",
                cut_json.len()
            ),
        ),
    ];
    for (data, annotations, problem) in cases {
        put_head(&api, data, annotations).await;
        let err = refused(&client, &api).await;
        let text = err.to_string();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{text}");
        assert!(
            text.starts_with(&format!("configmap:flux-system/fluxbrain-state: {problem}")),
            "{text}"
        );
        assert!(
            text.ends_with(&format!("; left as it is; to start over, {KEEP}")),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_from_a_newer_fluxbrain_is_refused_naming_both_versions_and_left_untouched() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "flux-system");
    let store = ConfigMapStore::new(client.clone(), "flux-system", "fluxbrain-state", TIMEOUT);
    store.save(&conformance::sample_state(1)).await.unwrap();
    let newer = STATE_VERSION + 2;
    let json = format!(r#"{{"version": {newer}, "incidents": {{"in": "a new shape"}}}}"#);
    put_head(&api, gzip(json.as_bytes()), BTreeMap::new()).await;
    let err = refused(&client, &api).await;
    assert_eq!(
        err.to_string(),
        format!(
            "configmap:flux-system/fluxbrain-state: written by a newer fluxbrain (state version \
             {newer}; this one reads {STATE_VERSION}); left as it is: run that fluxbrain (or a \
             newer one) again, or, to start over with this one, {KEEP}"
        )
    );
    assert!(matches!(err, StoreError::Newer { found, .. } if found == newer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_part_is_named_and_the_way_out_lists_every_part() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "flux-system");
    let store = ConfigMapStore::new(client.clone(), "flux-system", "fluxbrain-state", TIMEOUT);
    store.save(&conformance::sample_state(1)).await.unwrap();
    let parts: BTreeMap<String, String> = [
        ("fluxbrain.io/parts".to_owned(), "2".to_owned()),
        ("fluxbrain.io/generation".to_owned(), "abc".to_owned()),
    ]
    .into();
    put_head(&api, Vec::new(), parts).await;
    let text = refused(&client, &api).await.to_string();
    assert!(
        text.starts_with(
            "configmap:flux-system/fluxbrain-state: part ConfigMap fluxbrain-state-abc-0 is \
             missing; left as it is"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "`kubectl -n flux-system delete configmap fluxbrain-state fluxbrain-state-abc-0 \
             fluxbrain-state-abc-1`"
        ),
        "{text}"
    );
}
