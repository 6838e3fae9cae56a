//! Fingerprint vectors computed with Go's encoding/json.

use fluxbrain_core::{Fingerprint, FingerprintInput};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    cluster: String,
    namespace: String,
    kind: String,
    name: String,
    reason: String,
    revision: String,
    fingerprint: String,
}

#[test]
fn every_vector() {
    let text = std::fs::read_to_string(crate::support::vectors().join("fingerprint.json")).unwrap();
    let vectors: Vec<Vector> = serde_json::from_str(&text).unwrap();
    assert!(vectors.len() >= 8, "only {} vectors", vectors.len());
    for v in &vectors {
        let got = Fingerprint::of(&FingerprintInput {
            cluster: &v.cluster,
            namespace: &v.namespace,
            kind: &v.kind,
            name: &v.name,
            reason: &v.reason,
            revision: &v.revision,
        });
        assert_eq!(got.to_string(), v.fingerprint, "{}/{}", v.namespace, v.name);
    }
}
