use super::*;

fn now() -> Time {
    Time::parse("2026-04-21T09:00:00Z").unwrap()
}

fn request(matchers: &[&str], duration: &str) -> SilenceRequest {
    SilenceRequest {
        matchers: matchers.iter().map(|m| (*m).to_owned()).collect(),
        duration: Some(duration.to_owned()),
        ends: None,
        comment: "vendor outage".into(),
        author: "ana".into(),
    }
}

fn key(cluster: &str, kind: &str, namespace: &str, name: &str) -> IncidentKey {
    IncidentKey {
        cluster: cluster.into(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

#[test]
fn a_silence_matches_when_every_matcher_does_until_it_ends() {
    let mut control = Control::default();
    let silence = control
        .add_silence(
            &request(
                &["cluster=prod-*", "kind=HelmRelease", "reason=*Pull*"],
                "2h",
            ),
            now(),
        )
        .unwrap();
    assert_eq!(silence.id.len(), 12);
    assert_eq!(silence.ends, now().add_seconds(7200));
    let hit = key("prod-eu", "HelmRelease", "shop", "api");
    assert!(
        control
            .silence_for(&hit, "ChartPullFailed", now())
            .is_some()
    );
    assert!(control.silence_for(&hit, "InstallFailed", now()).is_none());
    let other = key("staging", "HelmRelease", "shop", "api");
    assert!(
        control
            .silence_for(&other, "ChartPullFailed", now())
            .is_none()
    );
    assert!(
        control
            .silence_for(&hit, "ChartPullFailed", now().add_seconds(7200))
            .is_none(),
        "ended"
    );
}

#[test]
fn bad_requests_are_refused_naming_the_problem() {
    let mut control = Control::default();
    let cases: Vec<(SilenceRequest, &str)> = vec![
        (request(&[], "1h"), "at least one --match"),
        (request(&["team=a"], "1h"), "unknown match key \"team\""),
        (request(&["name"], "1h"), "not KEY=VALUE"),
        (request(&["name=app-[12]"], "1h"), "invalid pattern"),
        (request(&["name="], "1h"), "invalid pattern"),
        (request(&["name=a"], "banana"), "--for \"banana\""),
        (request(&["name=a"], "0s"), "not after now"),
        (request(&["name=a"], "400d"), "at most a year"),
        (
            SilenceRequest {
                duration: None,
                ..request(&["name=a"], "1h")
            },
            "needs an end",
        ),
        (
            SilenceRequest {
                duration: None,
                ends: Some("2026-04-21T08:00:00Z".into()),
                ..request(&["name=a"], "1h")
            },
            "not after now",
        ),
        (
            SilenceRequest {
                duration: None,
                ends: Some("tomorrow".into()),
                ..request(&["name=a"], "1h")
            },
            "not an RFC 3339 time",
        ),
        (
            SilenceRequest {
                comment: "  ".into(),
                ..request(&["name=a"], "1h")
            },
            "--comment",
        ),
        (
            SilenceRequest {
                author: String::new(),
                ..request(&["name=a"], "1h")
            },
            "--author",
        ),
    ];
    for (req, says) in cases {
        let err = control.add_silence(&req, now()).unwrap_err().to_string();
        assert!(err.contains(says), "{req:?}: {err}");
    }
    assert!(control.silences.is_empty(), "nothing was added");
}

#[test]
fn expiring_by_id_or_prefix() {
    let mut control = Control::default();
    let a = control
        .add_silence(&request(&["name=a"], "1h"), now())
        .unwrap();
    let later = now().add_seconds(60);
    let ended = control.expire_silence(&a.id[..6], "ben", later).unwrap();
    assert_eq!(ended.ends, later);
    assert_eq!(ended.expired_by.as_deref(), Some("ben"));
    assert!(matches!(
        control.expire_silence(&a.id, "ben", later),
        Err(ControlError::SilenceEnded { .. })
    ));
    assert!(matches!(
        control.expire_silence("ffffffffffff", "ben", later),
        Err(ControlError::UnknownSilence(_))
    ));
    assert!(matches!(
        control.expire_silence("", "ben", later),
        Err(ControlError::UnknownSilence(_))
    ));
    // Ended silences are listed for a week, then dropped.
    let week = i64::try_from(ENDED_SILENCES_KEPT.as_secs()).unwrap();
    control.prune(later.add_seconds(week - 1), None);
    assert_eq!(control.silences.len(), 1);
    control.prune(later.add_seconds(week), None);
    assert!(control.silences.is_empty());
}

#[test]
fn acks_name_an_open_incident() {
    let mut control = Control::default();
    let open = ["aaaa-1111", "aaaa-2222", "bbbb-3333"];
    let ack = control
        .acknowledge("bbbb", "ana", Some(" looking "), now(), &open)
        .unwrap();
    assert_eq!(ack.incident_id, "bbbb-3333");
    assert_eq!(ack.comment.as_deref(), Some("looking"));
    assert!(matches!(
        control.acknowledge("aaaa", "ana", None, now(), &open),
        Err(ControlError::AmbiguousIncident(_))
    ));
    assert!(matches!(
        control.acknowledge("cccc", "ana", None, now(), &open),
        Err(ControlError::UnknownIncident(_))
    ));
    // Acking again replaces; acks of incidents no longer open are dropped.
    control
        .acknowledge("aaaa-1111", "ben", None, now(), &open)
        .unwrap();
    control
        .acknowledge("aaaa-1111", "cy", None, now(), &["aaaa-1111"])
        .unwrap();
    assert_eq!(control.acks.len(), 1);
    assert_eq!(control.ack_for("aaaa-1111").unwrap().by, "cy");
}

#[test]
fn documents_round_trip_and_other_versions_are_refused() {
    let mut control = Control::default();
    control
        .add_silence(&request(&["name=a"], "1h"), now())
        .unwrap();
    assert_eq!(decode(&encode(&control)).unwrap(), control);
    assert!(
        decode(br#"{"version": 2}"#)
            .unwrap_err()
            .contains("version 2")
    );
    assert!(
        decode(b"{")
            .unwrap_err()
            .contains("not a fluxbrain control document")
    );
}

/// A memory store in which another writer saves just before the first write of this one.
#[derive(Debug, Default)]
struct Racing {
    inner: crate::engine::MemoryStore,
    raced: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl StateStore for Racing {
    fn name(&self) -> String {
        "racing".into()
    }
    async fn load(&self) -> Result<Option<crate::engine::State>, StoreError> {
        self.inner.load().await
    }
    async fn save(&self, state: &crate::engine::State) -> Result<(), StoreError> {
        self.inner.save(state).await
    }
    async fn load_control(&self) -> Result<Option<(Control, Revision)>, StoreError> {
        self.inner.load_control().await
    }
    async fn save_control(
        &self,
        control: &Control,
        expected: Option<&Revision>,
    ) -> Result<(), StoreError> {
        if !self.raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let mut theirs = Control::default();
            theirs
                .add_silence(&request(&["name=theirs"], "1h"), now())
                .unwrap();
            self.inner.save_control(&theirs, None).await?;
        }
        self.inner.save_control(control, expected).await
    }
}

#[test]
fn update_retries_a_lost_race_from_a_fresh_read() {
    let store = Racing::default();
    let added = futures::executor::block_on(update(&store, |control| {
        control.add_silence(&request(&["name=ours"], "1h"), now())
    }))
    .unwrap();
    let (saved, _) = futures::executor::block_on(store.load_control())
        .unwrap()
        .unwrap();
    let texts: Vec<String> = saved.silences.iter().map(Silence::matchers_text).collect();
    assert_eq!(texts, vec!["name=theirs", "name=ours"], "both writes kept");
    assert_eq!(saved.silences[1].id, added.id);
    // A refused request writes nothing.
    let err = futures::executor::block_on(update(&store, |control| {
        control.add_silence(&request(&["bogus=a"], "1h"), now())
    }))
    .unwrap_err();
    assert!(matches!(
        err,
        UpdateError::Refused(ControlError::UnknownKey(_))
    ));
    let (after, _) = futures::executor::block_on(store.load_control())
        .unwrap()
        .unwrap();
    assert_eq!(after, saved);
}
