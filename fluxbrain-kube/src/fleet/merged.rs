//! Every cluster's state document read as one, for the endpoints of any replica.

use std::sync::Arc;

use fluxbrain_core::control::{Control, Revision};
use fluxbrain_core::engine::{State, StateStore, StoreError};

/// The state of every cluster of a fleet, as their owners last saved it, read as one
/// ([`State::merged`]): what `/v1` answers on every replica, whichever clusters it owns. It is
/// read-only: a save is refused. The control document is `control`'s (the one the fleet's
/// per-cluster stores share).
#[derive(Debug)]
pub struct Merged {
    clusters: Vec<Arc<dyn StateStore>>,
    control: Arc<dyn StateStore>,
}

impl Merged {
    /// The union of `clusters`, with the control document of `control`.
    pub fn new(clusters: Vec<Arc<dyn StateStore>>, control: Arc<dyn StateStore>) -> Self {
        Merged { clusters, control }
    }
}

#[async_trait::async_trait]
impl StateStore for Merged {
    fn name(&self) -> String {
        format!("{} cluster state documents", self.clusters.len())
    }

    async fn load(&self) -> Result<Option<State>, StoreError> {
        let mut parts = Vec::with_capacity(self.clusters.len());
        for store in &self.clusters {
            if let Some(state) = store.load().await? {
                parts.push(state);
            }
        }
        Ok(Some(State::merged(parts)))
    }

    async fn save(&self, _: &State) -> Result<(), StoreError> {
        Err(StoreError::Unavailable {
            store: self.name(),
            message: "read-only: each cluster's owner writes its own".to_owned(),
        })
    }

    async fn load_control(&self) -> Result<Option<(Control, Revision)>, StoreError> {
        self.control.load_control().await
    }

    async fn save_control(
        &self,
        control: &Control,
        expected: Option<&Revision>,
    ) -> Result<(), StoreError> {
        self.control.save_control(control, expected).await
    }
}
