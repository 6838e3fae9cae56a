//! Leader election on a Kubernetes `Lease` (coordination.k8s.io/v1), the protocol client-go's
//! leader election uses: the holder renews `renewTime`; others take over when they have seen no
//! renewal for the lease duration, measured on their own clock (so clock skew between replicas
//! does not matter). Kubernetes is the coordination engine; this is only its client side.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use tokio::time::Instant;

/// Lease settings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name (one per cluster shard, e.g. `fluxbrain` or `fluxbrain-<cluster>`).
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease lasts without renewal (15 s).
    pub duration: Duration,
    /// Bound of every API call.
    pub timeout: Duration,
}

impl LeaseConfig {
    /// The defaults for `namespace/name` held by `identity`: a 15 s lease, 5 s API calls.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        LeaseConfig {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            timeout: Duration::from_secs(5),
        }
    }

    /// How often to call [`LeaderElector::tick`]: 2 s (client-go's retry period), at most a
    /// third of the duration, so a holder renews well before the others may take over and a
    /// released lease is taken within 2 s.
    pub fn retry_period(&self) -> Duration {
        (self.duration / 3).min(Duration::from_secs(2))
    }
}

/// Acquires and renews one Lease.
#[derive(Debug)]
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    /// The last lease record seen, and when (local clock) it last changed.
    observed: Option<(Observed, Instant)>,
    leading_since_renewal: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Observed {
    holder: Option<String>,
    renew: Option<String>,
    transitions: i32,
}

impl Observed {
    fn of(spec: &LeaseSpec) -> Self {
        Observed {
            holder: spec.holder_identity.clone(),
            renew: spec.renew_time.as_ref().map(|t| t.0.to_string()),
            transitions: spec.lease_transitions.unwrap_or(0),
        }
    }
}

impl LeaderElector {
    /// Starts from what was already seen of the Lease (by another reader of it on this
    /// replica): `spec`, unchanged since `since` on the local clock. Its expiry then counts
    /// from `since`, not from this elector's first look.
    pub fn seen_since(&mut self, spec: &LeaseSpec, since: Instant) {
        self.observed = Some((Observed::of(spec), since));
    }

    /// An elector for `config` through `client`.
    pub fn new(client: kube::Client, config: LeaseConfig) -> Self {
        LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
            leading_since_renewal: None,
        }
    }

    /// How often to call [`LeaderElector::tick`] ([`LeaseConfig::retry_period`]).
    pub fn retry_period(&self) -> Duration {
        self.config.retry_period()
    }

    /// The Lease's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// How long the lease lasts without renewal.
    pub fn duration(&self) -> Duration {
        self.config.duration
    }

    /// When this replica last renewed (or acquired) the Lease, while it leads.
    pub fn renewed_at(&self) -> Option<Instant> {
        self.leading_since_renewal
    }

    /// Whether this replica holds the lease at `now`: its last renewal is younger than the
    /// lease duration.
    pub fn is_leader(&self, now: Instant) -> bool {
        self.leading_since_renewal
            .is_some_and(|renewed| now.saturating_duration_since(renewed) < self.config.duration)
    }

    /// One round at [`Instant::now`]; see [`LeaderElector::tick_at`].
    pub async fn tick(&mut self) -> bool {
        self.tick_at(Instant::now()).await
    }

    /// One round at `now` (the local clock; tests pass their own): acquire the lease when it
    /// is free or has not changed for the lease duration, renew it when held. Returns whether
    /// this replica leads. When the API cannot be reached, it keeps leading only until its last
    /// renewal is older than the lease duration.
    pub async fn tick_at(&mut self, now: Instant) -> bool {
        match self.round(now).await {
            Ok(leading) => leading,
            Err(e) => {
                tracing::warn!(lease = %self.config.name, error = %e, "lease round failed");
                self.is_leader(now)
            }
        }
    }

    /// One round at `now`, as [`LeaderElector::tick_at`], but an API failure is returned
    /// (`"<status code> <message>"`, e.g. a 403 when RBAC forbids the Lease) instead of logged.
    pub async fn round(&mut self, now: Instant) -> Result<bool, String> {
        let leading = self.try_tick(now).await?;
        self.leading_since_renewal = leading.then_some(now);
        Ok(leading)
    }

    async fn try_tick(&mut self, local_now: Instant) -> Result<bool, String> {
        let now = MicroTime(jiff::Timestamp::now());
        let current = self.call(self.api.get_opt(&self.config.name)).await?;
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now.clone(), Some(now), 0)),
            };
            return match self
                .call(self.api.create(&PostParams::default(), &lease))
                .await
            {
                Ok(_) => Ok(true),
                Err(e) if e.contains("409") => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let seen = Observed::of(&spec);
        let changed_at = match &self.observed {
            Some((previous, at)) if *previous == seen => *at,
            _ => local_now,
        };
        self.observed = Some((seen.clone(), changed_at));

        let mine = seen.holder.as_deref() == Some(self.config.identity.as_str());
        let held = seen.holder.as_deref().is_some_and(|h| !h.is_empty());
        let expired = local_now.saturating_duration_since(changed_at) >= self.config.duration;
        if !mine && held && !expired {
            return Ok(false);
        }
        let (acquire, transitions) = if mine {
            (spec.acquire_time.clone(), seen.transitions)
        } else {
            (Some(now.clone()), seen.transitions + 1)
        };
        lease.spec = Some(self.spec(now, acquire, transitions));
        if mine {
            fluxbrain_core::crash::point(fluxbrain_core::crash::LEASE_MID_RENEW);
        }
        // Compare-and-swap on the resourceVersion just read: two contenders cannot both win.
        match self
            .call(
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.contains("409") => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn spec(&self, renew: MicroTime, acquire: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.config.duration.as_secs()).unwrap_or(15),
            ),
            acquire_time: acquire,
            renew_time: Some(renew),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    async fn call<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.config.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(kube::Error::Api(status))) => Err(format!("{} {}", status.code, status.message)),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.config.timeout)),
        }
    }

    /// Gives the lease up (on shutdown), so another replica takes over at once.
    pub async fn release(&mut self) {
        if self.leading_since_renewal.is_none() {
            return;
        }
        if let Ok(Some(mut lease)) = self.call(self.api.get_opt(&self.config.name)).await
            && let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(self.config.identity.as_str())
        {
            spec.holder_identity = None;
            spec.renew_time = None;
            let _ = self
                .call(
                    self.api
                        .replace(&self.config.name, &PostParams::default(), &lease),
                )
                .await;
        }
        self.leading_since_renewal = None;
    }
}
