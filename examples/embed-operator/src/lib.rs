//! An operator that embeds fluxbrain: the collector and the engine run in-process, and a
//! custom [`Notifier`] records each notification as a Kubernetes Event on the Flux object it
//! is about, the way a Flux-adjacent operator surfaces what it knows (`kubectl describe
//! kustomization ...` shows it, and anything that watches Events can forward it).
//!
//! Each notification becomes one Event whose name is derived from the notification's stable
//! id, so a delivery that is repeated after a crash finds its Event already there (409) and
//! counts as delivered: one Event per notification.

use std::sync::Arc;

use fluxbrain_core::{
    Collector, DeliveryError, Engine, EngineConfig, MemoryStore, Notification, NotificationKind,
    Notifier, Receipt, Retry, Time,
};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time as KubeTime};
use kube::Api;
use kube::api::PostParams;

/// The `source.component` and `reportingComponent` of the Events.
pub const COMPONENT: &str = "fluxbrain-embed";

/// Records notifications as Events through `client`.
#[derive(Clone)]
pub struct EventNotifier {
    client: kube::Client,
}

impl std::fmt::Debug for EventNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventNotifier")
    }
}

impl EventNotifier {
    /// A notifier writing Events with `client`.
    pub fn new(client: kube::Client) -> Self {
        EventNotifier { client }
    }
}

/// `FluxbrainFiring`, `FluxbrainReminder`, `FluxbrainUpdated`, `FluxbrainResolved`.
pub fn reason(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Firing => "FluxbrainFiring",
        NotificationKind::Reminder => "FluxbrainReminder",
        NotificationKind::Updated => "FluxbrainUpdated",
        NotificationKind::Resolved(_) => "FluxbrainResolved",
    }
}

/// The Event recording `note`.
pub fn event_of(note: &Notification) -> Event {
    let m = &note.event.metadata;
    let failing = note.event.error_type.as_deref().unwrap_or("Failing");
    let message = match note.kind {
        NotificationKind::Resolved(r) => format!("{failing} resolved ({})", r.as_str()),
        NotificationKind::Updated => {
            let count = note.affected.len();
            format!("{failing}: {count} downstream object(s) now fail with it")
        }
        _ => format!("{failing}: {}", note.event.message),
    };
    let at = KubeTime(note.at.timestamp());
    Event {
        metadata: ObjectMeta {
            // DNS subdomain: the object's name and the notification id (`:` becomes `.`).
            name: Some(format!("{}.{}", m.name, note.id.replace(':', "."))),
            namespace: Some(m.namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some(m.api_version.clone()),
            kind: Some(m.kind.clone()),
            name: Some(m.name.clone()),
            namespace: Some(m.namespace.clone()),
            uid: m.uid.clone(),
            ..ObjectReference::default()
        },
        reason: Some(reason(note.kind).to_owned()),
        message: Some(message),
        type_: Some(match note.kind {
            NotificationKind::Resolved(_) => "Normal".to_owned(),
            _ => "Warning".to_owned(),
        }),
        source: Some(EventSource {
            component: Some(COMPONENT.to_owned()),
            host: None,
        }),
        reporting_component: Some(COMPONENT.to_owned()),
        reporting_instance: Some(COMPONENT.to_owned()),
        action: Some(note.kind.as_str().to_owned()),
        first_timestamp: Some(at.clone()),
        last_timestamp: Some(at),
        event_time: Some(MicroTime(note.at.timestamp())),
        count: Some(1),
        ..Event::default()
    }
}

#[async_trait::async_trait]
impl Notifier for EventNotifier {
    fn name(&self) -> &str {
        "kubernetes-events"
    }

    async fn deliver(
        &self,
        note: &Notification,
        _thread: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError> {
        let event = event_of(note);
        let api: Api<Event> = Api::namespaced(self.client.clone(), &note.event.metadata.namespace);
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => Ok(Receipt::default()),
            // Recorded by an earlier attempt whose acknowledgement was lost.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Receipt::default()),
            Err(e) => Err(DeliveryError {
                notifier: self.name().to_owned(),
                message: e.to_string(),
                retry: match &e {
                    kube::Error::Api(s) if s.code == 403 || s.code == 422 => Retry::Never,
                    _ => Retry::After(None),
                },
            }),
        }
    }
}

/// The operator's engine: fluxbrain's policy in memory, notifying through Events.
pub async fn engine(client: kube::Client, config: EngineConfig) -> Engine {
    let notifier: Arc<dyn Notifier> = Arc::new(EventNotifier::new(client));
    // A memory store never fails to load.
    Engine::start(Arc::new(MemoryStore::new()), vec![notifier], None, config)
        .await
        .unwrap_or_else(|e| unreachable!("a memory store failed to load: {e}"))
}

/// One pass: collect, run the policy, record what is due. Returns how many notifications
/// the pass made due and the delivery errors.
pub async fn pass(collector: &dyn Collector, engine: &Engine, now: Time) -> (usize, Vec<String>) {
    let observations = collector.collect().await;
    let due = match engine.observe(&observations, now).await {
        Ok(report) => report.notifications.len(),
        Err(e) => return (0, vec![e.to_string()]),
    };
    match engine.deliver(0, now, 0.5).await {
        Ok(report) => (due, report.errors),
        Err(e) => (due, vec![e.to_string()]),
    }
}
