//! Event ids: UUIDv8 from the fingerprint and the incident start.

use sha2::{Digest, Sha256};

use crate::fingerprint::{Fingerprint, write_hex};
use crate::time::Time;

/// The id of the events of one incident: a lowercase RFC 9562 version 8 UUID made of the
/// first 16 bytes of `sha256("fluxbrain/v1:" + fingerprint + ":" + started)`.
///
/// Retries and replays of an incident carry the same id; a new incident (new fingerprint or
/// new start) gets a new one.
pub fn event_id(fingerprint: &Fingerprint, started: Time) -> String {
    let digest = Sha256::new()
        .chain_update(b"fluxbrain/v1:")
        .chain_update(fingerprint.to_string().as_bytes())
        .chain_update(b":")
        .chain_update(started.to_string().as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
    let mut hex = [0u8; 32];
    write_hex(&bytes, &mut hex);
    let mut out = String::with_capacity(36);
    for (i, range) in [0..8, 8..12, 12..16, 16..20, 20..32]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push('-');
        }
        out.extend(hex[range].iter().map(|&b| char::from(b)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::FingerprintInput;

    #[test]
    fn version_and_variant() {
        let fp = Fingerprint::of(&FingerprintInput {
            cluster: "c",
            namespace: "n",
            kind: "Kustomization",
            name: "a",
            reason: "BuildFailed",
            revision: "",
        });
        let started = Time::parse("2026-04-21T09:22:52Z").unwrap();
        let id = event_id(&fp, started);
        // Computed independently (Python: hashlib + uuid) from the same definition.
        assert_eq!(fp.to_string(), "35aa618a8c76a478d3d138f1529f0b58");
        assert_eq!(id, "8fb65ffb-b6c9-83df-bb34-0186dc258db7");
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "8");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_eq!(id, event_id(&fp, started));
        let later = Time::parse("2026-04-21T09:22:53Z").unwrap();
        assert_ne!(id, event_id(&fp, later));
    }
}
