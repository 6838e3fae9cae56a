//! Controller log lines: controller-runtime's zap JSON, as Flux controllers write it.

use std::borrow::Cow;
use std::fmt;

use jiff::Timestamp;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::model::kind::Kind;
use crate::model::log::LogLine;
use crate::model::object::ObjectRef;
use crate::text::truncate_in_place;

/// The longest `msg` or `error` kept from a log line.
const MAX_LOG_FIELD: usize = 32768;

/// Why a log line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogLineError {
    /// The line is not a JSON object (a stack trace, a klog line, a cut line).
    #[error("not a JSON log line: {0}")]
    NotJson(String),
    /// The line is JSON but has no usable `ts`.
    #[error("log line without a valid \"ts\"")]
    NoTime,
}

/// Reads one log line written by `pod`/`container`.
///
/// Returns `Ok(None)` for a valid line that names no object (start-up lines): only lines that
/// name an object, through controller-runtime's `controllerKind`/`namespace`/`name` fields or
/// notification-controller's `eventInvolvedObject`, are kept.
pub fn parse_log_line(
    line: &str,
    pod: &str,
    container: &str,
) -> Result<Option<LogLine>, LogLineError> {
    let line = line.trim_end_matches(['\r', '\n']);
    // `kubectl logs --timestamps` puts the kubelet's RFC 3339 time before each line.
    let line = match line.split_once(' ') {
        Some((stamp, rest))
            if !line.starts_with('{')
                && rest.starts_with('{')
                && super::fields::parse_rfc3339(stamp).is_some() =>
        {
            rest
        }
        _ => line,
    };
    let raw: RawLine<'_> =
        serde_json::from_str(line).map_err(|e| LogLineError::NotJson(e.to_string()))?;
    let object = if let Some(kind) = raw.controller_kind.0.as_deref() {
        let (Some(name), namespace) = (raw.name.0.as_deref(), raw.namespace.0.as_deref()) else {
            return Ok(None);
        };
        let kind = match raw.controller_group.0.as_deref() {
            Some(group) => Kind::from_api(&format!("{group}/v1"), kind),
            None => Kind::from_name(kind),
        };
        ObjectRef::new(kind, namespace.unwrap_or_default(), name)
    } else if let Some(involved) = raw.event_involved_object {
        let (Some(kind), Some(name)) = (involved.kind.0, involved.name.0) else {
            return Ok(None);
        };
        let kind = match involved.api_version.0.as_deref() {
            Some(api) => Kind::from_api(api, &kind),
            None => Kind::from_name(&kind),
        };
        ObjectRef::new(kind, involved.namespace.0.unwrap_or_default(), name)
    } else {
        return Ok(None);
    };
    let time = raw.ts.ok_or(LogLineError::NoTime)?.0;
    let text = |field: Lenient<'_>| {
        field.0.map(|s| {
            let mut s = s.into_owned();
            truncate_in_place(&mut s, MAX_LOG_FIELD);
            s
        })
    };
    Ok(Some(LogLine {
        pod: pod.to_owned(),
        container: container.to_owned(),
        time,
        level: raw.level.0.unwrap_or_default().into_owned(),
        message: text(raw.msg).unwrap_or_default(),
        error: text(raw.error),
        revision: raw.revision.0.map(Cow::into_owned),
        reconcile_id: raw.reconcile_id.0.map(Cow::into_owned),
        object,
    }))
}

/// The fields fluxbrain reads; everything else in the line is skipped unread.
#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(default, borrow)]
    level: Lenient<'a>,
    #[serde(default)]
    ts: Option<LogTime>,
    #[serde(default, borrow)]
    msg: Lenient<'a>,
    #[serde(default, borrow, rename = "controllerKind")]
    controller_kind: Lenient<'a>,
    #[serde(default, borrow, rename = "controllerGroup")]
    controller_group: Lenient<'a>,
    #[serde(default, borrow)]
    namespace: Lenient<'a>,
    #[serde(default, borrow)]
    name: Lenient<'a>,
    #[serde(default, borrow, rename = "reconcileID")]
    reconcile_id: Lenient<'a>,
    #[serde(default, borrow)]
    revision: Lenient<'a>,
    #[serde(default, borrow)]
    error: Lenient<'a>,
    #[serde(default, borrow, rename = "eventInvolvedObject")]
    event_involved_object: Option<RawRef<'a>>,
}

#[derive(Deserialize)]
struct RawRef<'a> {
    #[serde(default, borrow)]
    kind: Lenient<'a>,
    #[serde(default, borrow)]
    namespace: Lenient<'a>,
    #[serde(default, borrow)]
    name: Lenient<'a>,
    #[serde(default, borrow, rename = "apiVersion")]
    api_version: Lenient<'a>,
}

/// A string field that tolerates other JSON types: numbers and booleans become their text,
/// objects and lists are skipped, so one odd field never discards a line.
#[derive(Default)]
struct Lenient<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Lenient<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lenient<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Lenient(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Lenient(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Lenient(Some(Cow::Owned(v))))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Lenient(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `ts`: ISO 8601 text (Flux's setting) or epoch seconds (zap's default).
struct LogTime(Timestamp);

impl<'de> Deserialize<'de> for LogTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LogTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time or epoch seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                super::fields::parse_rfc3339(v)
                    .map(LogTime)
                    .ok_or_else(|| E::custom("ts is not an RFC 3339 time"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                let nanos = v * 1e9;
                if !nanos.is_finite() || nanos.abs() > i64::MAX as f64 {
                    return Err(E::custom("ts out of range"));
                }
                Timestamp::from_nanosecond(nanos as i128)
                    .map(LogTime)
                    .map_err(|_| E::custom("ts out of range"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Timestamp::from_second(v)
                    .map(LogTime)
                    .map_err(|_| E::custom("ts out of range"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                let v = i64::try_from(v).map_err(|_| E::custom("ts out of range"))?;
                self.visit_i64(v)
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_runtime_line() {
        let line = r#"{"level":"error","ts":"2026-04-21T09:29:14.771Z","msg":"Reconciliation failed after 1.2s, next try in 1m0s","controller":"kustomization","controllerGroup":"kustomize.toolkit.fluxcd.io","controllerKind":"Kustomization","Kustomization":{"name":"infra-configs","namespace":"flux-system"},"namespace":"flux-system","name":"infra-configs","reconcileID":"df4d","revision":"v1@sha256:d2","error":"dry-run failed\n"}"#;
        let got = parse_log_line(line, "kc-1", "manager").unwrap().unwrap();
        assert_eq!(
            got.object,
            ObjectRef::new(Kind::Kustomization, "flux-system", "infra-configs")
        );
        assert_eq!(got.level, "error");
        assert_eq!(got.error.as_deref(), Some("dry-run failed\n"));
        assert_eq!(got.revision.as_deref(), Some("v1@sha256:d2"));
        assert_eq!(got.reconcile_id.as_deref(), Some("df4d"));
        assert_eq!(got.time.to_string(), "2026-04-21T09:29:14.771Z");
    }

    #[test]
    fn kubectl_timestamps_prefix_is_skipped() {
        let line = r#"2026-04-21T09:29:14.771234567Z {"level":"error","ts":"2026-04-21T09:29:14.771Z","msg":"m","controllerKind":"Bucket","namespace":"n","name":"b"}"#;
        let got = parse_log_line(line, "p", "c").unwrap().unwrap();
        assert_eq!(got.object, ObjectRef::new(Kind::Bucket, "n", "b"));
        assert!(parse_log_line("not-a-time {\"a\":1}", "p", "c").is_err());
    }

    #[test]
    fn event_server_line() {
        let line = r#"{"level":"info","ts":"2026-04-21T08:52:12.055Z","logger":"event-server","msg":"dispatching event","eventInvolvedObject":{"kind":"HelmRelease","namespace":"shop","name":"storefront","apiVersion":"helm.toolkit.fluxcd.io/v2"},"message":"x"}"#;
        let got = parse_log_line(line, "nc", "manager").unwrap().unwrap();
        assert_eq!(
            got.object,
            ObjectRef::new(Kind::HelmRelease, "shop", "storefront")
        );
    }

    #[test]
    fn startup_line_names_nothing() {
        let line = r#"{"level":"info","ts":"2026-04-20T22:04:29.928Z","logger":"setup","msg":"starting manager"}"#;
        assert_eq!(parse_log_line(line, "p", "c"), Ok(None));
    }

    #[test]
    fn odd_field_types_are_tolerated() {
        let line = r#"{"level":1,"ts":1776765254.5,"msg":{"a":[1]},"controllerKind":"Bucket","name":"b","namespace":"n","revision":7}"#;
        let got = parse_log_line(line, "p", "c").unwrap().unwrap();
        assert_eq!(got.level, "1");
        assert_eq!(got.message, "");
        assert_eq!(got.revision.as_deref(), Some("7"));
    }

    #[test]
    fn bad_lines() {
        assert!(matches!(
            parse_log_line("panic: runtime error", "p", "c"),
            Err(LogLineError::NotJson(_))
        ));
        assert!(matches!(
            parse_log_line(r#"{"level":"info","ts":"2026-04-21T09:1"#, "p", "c"),
            Err(LogLineError::NotJson(_))
        ));
        assert_eq!(
            parse_log_line(
                r#"{"controllerKind":"Bucket","name":"b","ts":"yesterday"}"#,
                "p",
                "c"
            )
            .map_err(|e| matches!(e, LogLineError::NotJson(_))),
            Err(true)
        );
        assert_eq!(
            parse_log_line(r#"{"controllerKind":"Bucket","name":"b"}"#, "p", "c"),
            Err(LogLineError::NoTime)
        );
    }
}
