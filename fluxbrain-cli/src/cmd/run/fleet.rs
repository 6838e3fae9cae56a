//! `fluxbrain run` with `FLUXBRAIN_SHARDING=cluster`: this replica is one of a fleet that
//! shares the clusters out (`fluxbrain_kube::fleet`). The Leases and the state ConfigMaps
//! live in the namespace of the configmap state, in the first cluster (the home cluster).

use std::process::ExitCode;
use std::sync::Arc;

use fluxbrain_core::StateStore;
use fluxbrain_kube::ConfigMapStore;
use fluxbrain_kube::fleet::merged::Merged;
use fluxbrain_kube::fleet::migrate::Migrating;
use fluxbrain_kube::fleet::names::state_name;
use fluxbrain_kube::fleet::{Fleet, FleetConfig, StoreFor};
use fluxbrain_kube::runtime::RuntimeConfig;

use super::settings::RunSettings;
use super::{STORE_TIMEOUT, endpoints, shutdown_signal};
use crate::error::CliError;
use crate::http::Live;

/// Runs this replica of the fleet until SIGTERM or SIGINT, then hands its clusters over.
pub(super) async fn run(
    settings: RunSettings,
    home: kube::Client,
    namespace: String,
    base: String,
) -> Result<ExitCode, CliError> {
    let stores: StoreFor = {
        let (home, namespace, base) = (home.clone(), namespace.clone(), base.clone());
        Arc::new(move |cluster: &str| {
            let own = ConfigMapStore::new(
                home.clone(),
                &namespace,
                &state_name(&base, cluster),
                STORE_TIMEOUT,
            )
            .with_control(&format!("{base}-control"));
            let legacy = ConfigMapStore::new(home.clone(), &namespace, &base, STORE_TIMEOUT);
            Arc::new(Migrating::new(Arc::new(own), Arc::new(legacy), cluster))
                as Arc<dyn StateStore>
        })
    };
    let clusters: Vec<String> = settings
        .collector
        .clusters
        .iter()
        .map(|c| c.name.clone())
        .collect();
    // The control document every cluster's store reads: the single-document store's own.
    let control: Arc<dyn StateStore> = Arc::new(ConfigMapStore::new(
        home.clone(),
        &namespace,
        &base,
        STORE_TIMEOUT,
    ));
    let merged: Arc<dyn StateStore> = Arc::new(Merged::new(
        clusters.iter().map(|c| stores(c)).collect(),
        control.clone(),
    ));
    let config = FleetConfig {
        runtime: RuntimeConfig {
            requeue_interval: settings.requeue_interval,
            ..RuntimeConfig::default()
        },
        ..FleetConfig::new(namespace.clone(), settings.identity.clone())
    };
    let fleet = Fleet::new(
        home.clone(),
        config,
        settings.collector,
        stores,
        settings.notifiers,
    )
    .map_err(|e| CliError::State {
        store: format!("configmap:{namespace}/{base}"),
        problem: e.to_string(),
    })?
    .analyzer(settings.analyzer)
    .engine_config(settings.engine);
    let live = Arc::new(Live::fleet(
        crate::http::Fleet {
            ownership: fleet.ownership(),
            clusters: clusters.clone(),
            home,
            namespace: namespace.clone(),
        },
        merged,
        control,
        // Operators' writes take effect at each cluster's next step.
        Arc::new(tokio::sync::Notify::new()),
        settings.api_token.clone(),
    ));
    let server = endpoints(settings.endpoints, &live).await?;
    tracing::info!(
        clusters = clusters.len(),
        identity = %settings.identity,
        leases = %namespace,
        "sharing the clusters with the other replicas"
    );
    fleet.observer(live).run(shutdown_signal()).await;
    if let Some(server) = server {
        server.abort();
    }
    Ok(ExitCode::SUCCESS)
}
