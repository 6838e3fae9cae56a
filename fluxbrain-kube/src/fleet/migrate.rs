//! From one state document for every cluster to one per cluster.

use std::sync::Arc;

use fluxbrain_core::control::{Control, Revision};
use fluxbrain_core::engine::{State, StateStore, StoreError};

/// A cluster's own state store that, while it holds nothing yet, starts from that cluster's
/// part of the single document an earlier fluxbrain wrote for every cluster (`legacy`); the
/// first save writes it to the cluster's own document, and from then on the legacy document
/// is not read again for this cluster. The legacy document is never changed: delete it once
/// every cluster has its own (`fluxbrain status` and the log say when a cluster moved).
#[derive(Debug)]
pub struct Migrating {
    own: Arc<dyn StateStore>,
    legacy: Arc<dyn StateStore>,
    cluster: String,
}

impl Migrating {
    /// `cluster`'s store `own`, migrating from `legacy` when `own` is empty.
    pub fn new(own: Arc<dyn StateStore>, legacy: Arc<dyn StateStore>, cluster: &str) -> Self {
        Migrating {
            own,
            legacy,
            cluster: cluster.to_owned(),
        }
    }
}

#[async_trait::async_trait]
impl StateStore for Migrating {
    fn name(&self) -> String {
        self.own.name()
    }

    async fn load(&self) -> Result<Option<State>, StoreError> {
        if let Some(state) = self.own.load().await? {
            return Ok(Some(state));
        }
        let Some(all) = self.legacy.load().await? else {
            return Ok(None);
        };
        let mine = all.for_cluster(&self.cluster);
        tracing::info!(
            cluster = %self.cluster,
            from = %self.legacy.name(),
            to = %self.own.name(),
            incidents = mine.incidents.len(),
            outbox = mine.outbox.len(),
            "moving the cluster's state to a document of its own"
        );
        Ok(Some(mine))
    }

    async fn save(&self, state: &State) -> Result<(), StoreError> {
        self.own.save(state).await
    }

    async fn load_control(&self) -> Result<Option<(Control, Revision)>, StoreError> {
        self.own.load_control().await
    }

    async fn save_control(
        &self,
        control: &Control,
        expected: Option<&Revision>,
    ) -> Result<(), StoreError> {
        self.own.save_control(control, expected).await
    }
}
