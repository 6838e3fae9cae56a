//! Silences, acknowledgements, the silence annotation and the history, through the engine.

use futures::executor::block_on;
use serde_json::{Value, json};

use super::*;
use crate::control::{SilenceRequest, update};
use crate::notification::{DeliveryError, Receipt, Resolution};
use crate::parse::{Document, parse_document};
use crate::policy::Happened;

pub(super) fn t(minutes: i64) -> Time {
    Time::new(jiff::Timestamp::from_second(1_776_000_000 + minutes * 60).unwrap())
}

fn app(name: &str, ready: &str, annotations: Value) -> Value {
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
           "metadata": {"name": name, "namespace": "team-a", "annotations": annotations},
           "status": {"conditions": [{"type": "Ready", "status": ready,
               "reason": if ready == "True" { "ReconciliationSucceeded" } else { "BuildFailed" },
               "message": "m", "lastTransitionTime": "2026-04-21T09:00:00Z"}]}})
}

pub(super) fn observation(values: &[Value]) -> Vec<Result<ClusterObservation, CollectError>> {
    let mut snapshot = crate::model::snapshot::Snapshot::new("prod");
    for value in values {
        for doc in parse_document(value, &mut Vec::new()) {
            if let Ok(Document::Object(o)) = doc {
                snapshot.objects.push(o.into());
            }
        }
    }
    vec![Ok(ClusterObservation {
        snapshot,
        unobserved: vec![],
        unreadable: vec![],
    })]
}

#[derive(Debug, Default)]
pub(super) struct Recorder(pub(super) std::sync::Mutex<Vec<Notification>>);

#[async_trait::async_trait]
impl Notifier for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    async fn deliver(
        &self,
        note: &Notification,
        _: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError> {
        self.0.lock().unwrap().push(note.clone());
        Ok(Receipt::default())
    }
}

pub(super) struct Setup {
    store: Arc<MemoryStore>,
    pub(super) recorder: Arc<Recorder>,
    pub(super) engine: Engine,
}

fn setup() -> Setup {
    setup_with(EngineConfig {
        policy: PolicyConfig {
            remind_every: Some(Duration::from_secs(3600)),
            ..PolicyConfig::default()
        },
        ..EngineConfig::default()
    })
}

/// An engine on a memory store with one recording notifier.
pub(super) fn setup_with(config: EngineConfig) -> Setup {
    let store = Arc::new(MemoryStore::new());
    let recorder = Arc::new(Recorder::default());
    let engine = block_on(Engine::start(
        store.clone(),
        vec![recorder.clone()],
        None,
        config,
    ))
    .unwrap();
    Setup {
        store,
        recorder,
        engine,
    }
}

impl Setup {
    /// Observes `values` at minute `at` and delivers; what was delivered.
    pub(super) fn step(&self, values: &[Value], at: i64) -> Vec<(String, NotificationKind)> {
        let report = block_on(self.engine.observe(&observation(values), t(at))).unwrap();
        assert!(report.control_error.is_none());
        block_on(self.engine.deliver(0, t(at), 0.5)).unwrap();
        self.recorder
            .0
            .lock()
            .unwrap()
            .drain(..)
            .map(|n| (n.event.metadata.name.clone(), n.kind))
            .collect()
    }

    fn silence(&self, matchers: &[&str], duration: &str, at: i64) -> String {
        block_on(update(self.store.as_ref(), |c| {
            c.add_silence(
                &SilenceRequest {
                    matchers: matchers.iter().map(|m| (*m).to_owned()).collect(),
                    duration: Some(duration.into()),
                    ends: None,
                    comment: "maintenance".into(),
                    author: "ana".into(),
                },
                t(at),
            )
        }))
        .unwrap()
        .id
    }
}

fn named(name: &str, kind: NotificationKind) -> (String, NotificationKind) {
    (name.to_owned(), kind)
}

#[test]
fn a_silenced_incident_opens_quietly_and_is_announced_once_when_the_silence_ends() {
    let s = setup();
    s.silence(&["namespace=team-*", "reason=Build*"], "30m", 0);
    let failing = [app("a", "False", json!({}))];
    assert_eq!(s.step(&failing, 1), vec![]);
    let open = block_on(s.engine.state()).incidents;
    let record = open.values().next().unwrap();
    assert!(!record.fired);
    assert!(matches!(record.silenced, Some(SilencedBy::Silence { .. })));
    // The engine wakes when the silence ends.
    assert_eq!(s.engine.next_step(), Some(t(30)));
    assert_eq!(s.step(&failing, 20), vec![]);
    assert_eq!(
        s.step(&failing, 30),
        vec![named("a", NotificationKind::Firing)]
    );
    assert_eq!(s.step(&failing, 31), vec![], "announced once");
    assert_eq!(
        s.step(&[app("a", "True", json!({}))], 40),
        vec![named(
            "a",
            NotificationKind::Resolved(Resolution::Recovered)
        )]
    );
}

#[test]
fn an_incident_that_resolves_while_silenced_says_nothing_and_is_in_the_history() {
    let s = setup();
    let id = s.silence(&["name=a"], "2h", 0);
    assert_eq!(s.step(&[app("a", "False", json!({}))], 1), vec![]);
    assert_eq!(s.step(&[app("a", "True", json!({}))], 5), vec![]);
    let state = block_on(s.engine.state());
    assert!(state.incidents.is_empty());
    let resolved = &state.history[0];
    assert!(!resolved.announced);
    assert_eq!(resolved.resolution, Resolution::Recovered);
    let what: Vec<&Happened> = resolved.timeline.iter().map(|m| &m.what).collect();
    assert_eq!(
        what,
        vec![
            &Happened::Opened {
                reason: "BuildFailed".into()
            },
            &Happened::Silenced {
                by: format!("silence {id}"),
                until: Some(t(120)),
            },
            &Happened::Resolved {
                resolution: Resolution::Recovered
            },
        ]
    );
}

#[test]
fn a_silence_stops_reminders_and_updates_of_an_announced_incident_but_not_its_resolution() {
    let s = setup();
    let failing = [app("a", "False", json!({}))];
    assert_eq!(
        s.step(&failing, 0),
        vec![named("a", NotificationKind::Firing)]
    );
    s.silence(&["name=a"], "3h", 10);
    assert_eq!(s.step(&failing, 60), vec![], "no reminder while silenced");
    assert_eq!(s.step(&failing, 120), vec![]);
    assert_eq!(
        s.step(&failing, 190),
        vec![named("a", NotificationKind::Reminder)],
        "reminders resume when it ends"
    );
    s.silence(&["name=a"], "3h", 200);
    assert_eq!(
        s.step(&[app("a", "True", json!({}))], 210),
        vec![named(
            "a",
            NotificationKind::Resolved(Resolution::Recovered)
        )],
        "a resolution of an announced incident is sent, silenced or not"
    );
}

#[test]
fn an_ack_stops_reminders_and_is_in_later_notifications() {
    let s = setup();
    let failing = [app("a", "False", json!({}))];
    s.step(&failing, 0);
    let id = block_on(s.engine.state())
        .incidents
        .values()
        .next()
        .unwrap()
        .id
        .clone();
    block_on(update(s.store.as_ref(), |c| {
        c.acknowledge(&id[..8], "ben", Some("rolling back"), t(5), &[id.as_str()])
    }))
    .unwrap();
    assert_eq!(s.step(&failing, 61), vec![]);
    assert_eq!(s.step(&failing, 181), vec![]);
    block_on(
        s.engine
            .observe(&observation(&[app("a", "True", json!({}))]), t(200)),
    )
    .unwrap();
    block_on(s.engine.deliver(0, t(200), 0.5)).unwrap();
    let sent = s.recorder.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let ack = sent[0].acknowledged.as_ref().unwrap();
    assert_eq!(
        (ack.by.as_str(), ack.comment.as_deref()),
        ("ben", Some("rolling back"))
    );
    let history = block_on(s.engine.state()).history;
    assert_eq!(history[0].ack.as_ref().unwrap().by, "ben");
    assert!(history[0].timeline.iter().any(|m| matches!(
        &m.what,
        Happened::Delivered { notification, .. } if notification.ends_with(":resolved:1")
    )));
}

#[test]
fn a_superseded_incident_does_not_keep_the_ack() {
    let s = setup();
    s.step(&[app("a", "False", json!({}))], 0);
    let id = block_on(s.engine.state())
        .incidents
        .values()
        .next()
        .unwrap()
        .id
        .clone();
    block_on(update(s.store.as_ref(), |c| {
        c.acknowledge(&id, "ben", None, t(1), &[id.as_str()])
    }))
    .unwrap();
    s.step(&[app("a", "False", json!({}))], 2);
    let mut other = app("a", "False", json!({}));
    other["status"]["conditions"][0]["reason"] = json!("HealthCheckFailed");
    let sent = s.step(&[other.clone()], 3);
    assert_eq!(
        sent,
        vec![
            named("a", NotificationKind::Resolved(Resolution::Superseded)),
            named("a", NotificationKind::Firing)
        ]
    );
    assert_eq!(
        s.step(&[other], 64),
        vec![named("a", NotificationKind::Reminder)]
    );
}

#[test]
fn the_annotation_silences_from_git_and_a_malformed_one_is_warned_about_once() {
    let s = setup();
    let always = [app("a", "False", json!({"fluxbrain.io/silence": "true"}))];
    assert_eq!(s.step(&always, 0), vec![]);
    let until = [app(
        "a",
        "False",
        json!({"fluxbrain.io/silence": "1970-01-01T00:00:00Z"}),
    )];
    assert_eq!(
        s.step(&until, 1),
        vec![named("a", NotificationKind::Firing)],
        "an end in the past silences nothing"
    );
    let bad = [app(
        "b",
        "False",
        json!({"fluxbrain.io/silence": "next week"}),
    )];
    let report = block_on(s.engine.observe(&observation(&bad), t(2))).unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("next week"),
        "{:?}",
        report.warnings
    );
    assert_eq!(
        report.notifications.len(),
        2,
        "ignored: b fires (and a resolves)"
    );
    let again = block_on(s.engine.observe(&observation(&bad), t(3))).unwrap();
    assert!(again.warnings.is_empty(), "once");
}

#[test]
fn the_history_is_bounded_by_count_and_age() {
    let store = Arc::new(MemoryStore::new());
    let engine = block_on(Engine::start(
        store,
        vec![],
        None,
        EngineConfig {
            history: HistoryConfig {
                keep: 3,
                max_age: Duration::from_secs(3600),
            },
            ..EngineConfig::default()
        },
    ))
    .unwrap();
    for i in 0..5 {
        let name = format!("app-{i}");
        block_on(engine.observe(&observation(&[app(&name, "False", json!({}))]), t(i * 2)))
            .unwrap();
        block_on(engine.observe(&observation(&[app(&name, "True", json!({}))]), t(i * 2 + 1)))
            .unwrap();
    }
    let names = |engine: &Engine| -> Vec<String> {
        block_on(engine.state())
            .history
            .iter()
            .map(|r| r.key.name.clone())
            .collect()
    };
    assert_eq!(names(&engine), vec!["app-2", "app-3", "app-4"]);
    // An hour after the last resolution, nothing is left.
    block_on(engine.observe(&observation(&[]), t(9 + 60))).unwrap();
    assert_eq!(names(&engine), Vec::<String>::new());
}
