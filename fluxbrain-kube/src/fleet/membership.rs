//! Who is in the fleet: every replica holds a membership Lease of its own in the home
//! namespace and renews it every retry period; the live members are the holders of the
//! membership Leases whose renewal was seen to move within the last lease duration.
//!
//! Liveness is judged on this replica's own clock (when a Lease's `renewTime` last changed,
//! as seen here), as the Lease election does, so clocks skewed between nodes do not matter.
//! A Lease seen for the first time counts as alive for one duration.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::Api;
use kube::api::ListParams;
use tokio::time::Instant;

use super::names::{MEMBER_PREFIX, member_name};
use crate::lease::{LeaderElector, LeaseConfig};

/// This replica's membership and its view of the others'.
#[derive(Debug)]
pub struct Membership {
    api: Api<Lease>,
    own: LeaderElector,
    identity: String,
    duration: Duration,
    timeout: Duration,
    /// Per Lease of the namespace: its spec as last seen, and when that last changed.
    seen: HashMap<String, (LeaseSpec, Instant)>,
}

impl Membership {
    /// The membership of `identity` in `namespace` of the home cluster.
    pub fn new(home: kube::Client, namespace: &str, identity: &str, duration: Duration) -> Self {
        let mut config = LeaseConfig::new(namespace, member_name(identity), identity);
        config.duration = duration;
        let timeout = config.timeout;
        Membership {
            api: Api::namespaced(home.clone(), namespace),
            own: LeaderElector::new(home, config),
            identity: identity.to_owned(),
            duration,
            timeout,
            seen: HashMap::new(),
        }
    }

    /// Renews this replica's membership and lists the live members, sorted (this replica
    /// among them only while its own renewal succeeds).
    ///
    /// # Errors
    /// The home cluster's answer when the Leases cannot be listed.
    pub async fn round(&mut self, now: Instant) -> Result<Vec<String>, String> {
        let me = self.own.tick_at(now).await;
        let leases =
            match tokio::time::timeout(self.timeout, self.api.list(&ListParams::default())).await {
                Ok(Ok(list)) => list.items,
                Ok(Err(e)) => return Err(format!("listing Leases: {e}")),
                Err(_) => {
                    return Err(format!(
                        "listing Leases: no answer within {:?}",
                        self.timeout
                    ));
                }
            };
        let mut live = Vec::new();
        let mut present = std::collections::HashSet::new();
        for lease in leases {
            let Some(name) = lease.metadata.name.clone() else {
                continue;
            };
            present.insert(name.clone());
            let spec = lease.spec.unwrap_or_default();
            let changed = match self.seen.get(&name) {
                Some((before, at)) if *before == spec => *at,
                _ => now,
            };
            self.seen.insert(name.clone(), (spec.clone(), changed));
            if !name.starts_with(MEMBER_PREFIX) {
                continue;
            }
            if let Some(holder) = spec.holder_identity.filter(|h| !h.is_empty())
                && spec.renew_time.is_some()
                && now.saturating_duration_since(changed) < self.duration
                && holder != self.identity
            {
                live.push(holder);
            }
        }
        self.seen.retain(|name, _| present.contains(name));
        if me {
            live.push(self.identity.clone());
        }
        live.sort();
        live.dedup();
        Ok(live)
    }

    /// Lease `name` of the namespace as the last round saw it, and since when it is so.
    pub fn seen(&self, name: &str) -> Option<(LeaseSpec, Instant)> {
        self.seen.get(name).cloned()
    }

    /// Gives the membership up (a clean shutdown): the others count this replica out at
    /// their next round instead of after the lease duration.
    pub async fn leave(&mut self) {
        self.own.release().await;
    }
}
