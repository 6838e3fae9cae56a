//! The names of a fleet's objects in the home cluster, made from cluster names and replica
//! identities that Kubernetes may not accept as they are.
//!
//! A name is the prefix and the given name when that is already a valid, unambiguous object
//! name (lowercase letters, digits and `-`, starting and ending alphanumeric, short enough).
//! Otherwise it is the prefix, the name made valid (lowercased, every other character turned
//! into `-`, cut short) and `-` with the first 8 hex digits of the name's SHA-256, so two names
//! that read alike once made valid (`Prod.EU`, `prod-eu`) still get two objects. Cluster names
//! starting with `member-` get the hash too: a cluster's Lease can never be a replica's
//! membership Lease.

use sha2::{Digest, Sha256};

/// The Lease of `cluster`: `fluxbrain-<cluster>`.
pub fn lease_name(cluster: &str) -> String {
    object_name("fluxbrain-", cluster, cluster.starts_with("member-"))
}

/// The state ConfigMap of `cluster` when the single-document state was ConfigMap `base`:
/// `<base>-<cluster>` (`fluxbrain-state-<cluster>` by default).
pub fn state_name(base: &str, cluster: &str) -> String {
    object_name(&format!("{base}-"), cluster, false)
}

/// The prefix of membership Leases.
pub const MEMBER_PREFIX: &str = "fluxbrain-member-";

/// The membership Lease of replica `identity`: `fluxbrain-member-<identity>`.
pub fn member_name(identity: &str) -> String {
    object_name(MEMBER_PREFIX, identity, false)
}

/// Longest name part kept before the hash: the name stays far under the 253 characters of an
/// object name, with room for the state's part suffixes.
const LONGEST: usize = 180;

fn object_name(prefix: &str, raw: &str, force_hash: bool) -> String {
    let valid: String = raw
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .take(LONGEST)
        .collect();
    let valid = valid.trim_matches('-');
    if !force_hash && valid == raw && !valid.is_empty() {
        return format!("{prefix}{valid}");
    }
    let digest = Sha256::digest(raw.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    if valid.is_empty() {
        format!("{prefix}{hash}")
    } else {
        format!("{prefix}{valid}-{hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_dns_subdomain(name: &str) -> bool {
        name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric())
    }

    #[test]
    fn valid_names_are_kept_as_they_are() {
        assert_eq!(lease_name("prod-eu-1"), "fluxbrain-prod-eu-1");
        assert_eq!(
            state_name("fluxbrain-state", "prod-eu-1"),
            "fluxbrain-state-prod-eu-1"
        );
        assert_eq!(
            member_name("fluxbrain-7d9f-x2"),
            "fluxbrain-member-fluxbrain-7d9f-x2"
        );
    }

    #[test]
    fn other_names_are_made_valid_and_told_apart() {
        let names = [
            "Prod.EU",
            "prod-eu",
            "prod_eu",
            "-edge-",
            "",
            "日本",
            "member-a",
            &"x".repeat(400),
        ];
        let leases: Vec<String> = names.iter().map(|n| lease_name(n)).collect();
        for (name, lease) in names.iter().zip(&leases) {
            assert!(is_dns_subdomain(lease), "{name:?} -> {lease}");
            assert!(
                is_dns_subdomain(&state_name("fluxbrain-state", name)),
                "{name:?}"
            );
            assert!(is_dns_subdomain(&member_name(name)), "{name:?}");
        }
        let distinct: std::collections::BTreeSet<&String> = leases.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{leases:?}");
        assert!(leases[0].starts_with("fluxbrain-prod-eu-"), "{}", leases[0]);
        assert_ne!(lease_name("member-a"), member_name("a"));
    }
}
