//! Events as the continuous mode's store keeps them: each in one allocation.
//!
//! A cluster holds far more events than failing objects, and every event is kept (an object
//! that starts failing needs the events from before), yet only the events of failing objects
//! are ever read. A [`KubeEvent`] is 320 bytes plus up to nine strings of its own; a
//! [`StoredEvent`] is one byte string: the numbers, then the lengths of the strings (LEB128),
//! then the strings (241 bytes for the events of `benches`' collector harness).

use std::collections::HashSet;

use fluxbrain_core::{Kind, KubeEvent, ObjectRef};
use jiff::Timestamp;

/// One event, packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredEvent(Box<[u8]>);

/// Kinds by the one-byte tag they are stored as; [`OTHER`] is followed by the name.
const OTHER: u8 = u8::MAX;

/// Flags of the optional fields.
const FIRST: u8 = 1;
const LAST: u8 = 1 << 1;
const UID: u8 = 1 << 2;
const REPORTER: u8 = 1 << 3;
const REVISION: u8 = 1 << 4;
const ORIGIN: u8 = 1 << 5;

/// The strings, in stored order: the kind's name (empty for a Flux kind), the involved
/// object's namespace and name, its group and uid, type, reason, message, reporter, revision,
/// origin revision.
const STRINGS: usize = 11;

impl StoredEvent {
    /// Packs `event`.
    pub fn new(event: &KubeEvent) -> Self {
        let (tag, other) = match Kind::FLUX.iter().position(|k| *k == event.involved.kind) {
            Some(i) => (i as u8, ""),
            None => (OTHER, event.involved.kind.as_str()),
        };
        fn optional(v: &Option<String>, flag: u8) -> (&str, u8) {
            match v {
                Some(s) => (s, flag),
                None => ("", 0),
            }
        }
        let (uid, has_uid) = optional(&event.involved_uid, UID);
        let (reporter, has_reporter) = optional(&event.reporting_controller, REPORTER);
        let (revision, has_revision) = optional(&event.revision, REVISION);
        let (origin, has_origin) = optional(&event.origin_revision, ORIGIN);
        let strings: [&str; STRINGS] = [
            other,
            &event.involved.namespace,
            &event.involved.name,
            &event.involved_group,
            uid,
            &event.type_,
            &event.reason,
            &event.message,
            reporter,
            revision,
            origin,
        ];
        let flags = has_uid
            | has_reporter
            | has_revision
            | has_origin
            | if event.first.is_some() { FIRST } else { 0 }
            | if event.last.is_some() { LAST } else { 0 };
        let text: usize = strings.iter().map(|s| s.len()).sum();
        let mut out = Vec::with_capacity(2 + 8 + 2 * 12 + 2 * STRINGS + text);
        out.push(tag);
        out.push(flags);
        out.extend_from_slice(&event.count.to_le_bytes());
        for time in [event.first, event.last] {
            let time = time.unwrap_or_default();
            out.extend_from_slice(&time.as_second().to_le_bytes());
            out.extend_from_slice(&time.subsec_nanosecond().to_le_bytes());
        }
        for s in strings {
            push_length(&mut out, s.len());
        }
        for s in strings {
            out.extend_from_slice(s.as_bytes());
        }
        StoredEvent(out.into_boxed_slice())
    }

    /// The event again; `None` only if the bytes were not written by [`StoredEvent::new`].
    pub fn event(&self) -> Option<KubeEvent> {
        let v = self.view()?;
        let owned = |s: &str| s.to_owned();
        let optional = |s: &str, flag: u8| (v.flags & flag != 0).then(|| s.to_owned());
        let kind = match v.tag {
            OTHER => Kind::Other(v.strings[0].into()),
            i => Kind::FLUX.get(usize::from(i))?.clone(),
        };
        Some(KubeEvent {
            involved: ObjectRef::new(kind, v.strings[1], v.strings[2]),
            involved_group: owned(v.strings[3]),
            involved_uid: optional(v.strings[4], UID),
            type_: owned(v.strings[5]),
            reason: owned(v.strings[6]),
            message: owned(v.strings[7]),
            count: v.count,
            first: v.first.filter(|_| v.flags & FIRST != 0),
            last: v.last.filter(|_| v.flags & LAST != 0),
            reporting_controller: optional(v.strings[8], REPORTER),
            revision: optional(v.strings[9], REVISION),
            origin_revision: optional(v.strings[10], ORIGIN),
        })
    }

    /// Whether the event is about an object whose `(kind, namespace, name)` is in `objects`
    /// (reads only those three strings: this runs for every stored event on every collection).
    pub fn is_about(&self, objects: &HashSet<(&str, &str, &str)>) -> bool {
        let Some((tag, mut r)) = self.strings() else {
            return false;
        };
        let mut lengths = [0; 3];
        for length in &mut lengths {
            match r.length() {
                Some(n) => *length = n,
                None => return false,
            }
        }
        // Past the remaining lengths to the strings.
        for _ in 3..STRINGS {
            if r.length().is_none() {
                return false;
            }
        }
        let mut text = |n| r.take(n).and_then(|b| std::str::from_utf8(b).ok());
        let (Some(other), Some(namespace), Some(name)) =
            (text(lengths[0]), text(lengths[1]), text(lengths[2]))
        else {
            return false;
        };
        let kind = match tag {
            OTHER => other,
            i => match Kind::FLUX.get(usize::from(i)) {
                Some(k) => k.as_str(),
                None => return false,
            },
        };
        objects.contains(&(kind, namespace, name))
    }

    /// The kind tag, and a reader at the lengths of the strings.
    fn strings(&self) -> Option<(u8, Reader<'_>)> {
        let mut r = Reader(&self.0);
        let tag = r.byte()?;
        r.take(1 + 8 + 2 * 12)?;
        Some((tag, r))
    }

    /// The fields, borrowed.
    fn view(&self) -> Option<View<'_>> {
        let mut r = Reader(&self.0);
        let tag = r.byte()?;
        let flags = r.byte()?;
        let count = i64::from_le_bytes(r.array()?);
        let mut time = || {
            let seconds = i64::from_le_bytes(r.array()?);
            let nanos = i32::from_le_bytes(r.array()?);
            Some(Timestamp::new(seconds, nanos).ok())
        };
        let first = time()?;
        let last = time()?;
        let mut lengths = [0; STRINGS];
        for length in &mut lengths {
            *length = r.length()?;
        }
        let mut strings = [""; STRINGS];
        for (s, length) in strings.iter_mut().zip(lengths) {
            *s = std::str::from_utf8(r.take(length)?).ok()?;
        }
        Some(View {
            tag,
            flags,
            count,
            first,
            last,
            strings,
        })
    }
}

/// A stored event's fields.
struct View<'a> {
    tag: u8,
    flags: u8,
    count: i64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    strings: [&'a str; STRINGS],
}

/// A cursor over stored bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// An unsigned LEB128 length.
    fn length(&mut self) -> Option<usize> {
        let mut value = 0usize;
        for shift in (0..usize::BITS).step_by(7) {
            let byte = self.byte()?;
            value |= usize::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

/// Appends `n` as unsigned LEB128.
fn push_length(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: Kind) -> KubeEvent {
        KubeEvent {
            involved: ObjectRef::new(kind, "apps", "podinfo"),
            involved_group: "helm.toolkit.fluxcd.io".to_owned(),
            involved_uid: Some("3f1c".to_owned()),
            type_: "Warning".to_owned(),
            reason: "InstallFailed".to_owned(),
            message: "é".repeat(300),
            count: 7,
            first: Some("2026-04-21T09:14:07.25Z".parse().unwrap()),
            last: None,
            reporting_controller: None,
            revision: Some(String::new()),
            origin_revision: Some("main@sha1:0a1b".to_owned()),
        }
    }

    #[test]
    fn every_field_comes_back() {
        for kind in [
            Kind::HelmRelease,
            Kind::Other("Bucket".into()),
            Kind::Other(String::new().into()),
        ] {
            let original = event(kind);
            let stored = StoredEvent::new(&original);
            assert_eq!(stored.event().as_ref(), Some(&original));
        }
        let mut bare = event(Kind::Kustomization);
        bare.involved_uid = None;
        bare.first = None;
        bare.revision = None;
        bare.origin_revision = None;
        bare.count = i64::MIN;
        assert_eq!(StoredEvent::new(&bare).event(), Some(bare));
    }

    #[test]
    fn lengths_round_trip() {
        for n in [0, 1, 127, 128, 300, 16383, 16384, 1 << 40, usize::MAX] {
            let mut out = Vec::new();
            push_length(&mut out, n);
            let mut r = Reader(&out);
            assert_eq!(r.length(), Some(n));
            assert!(r.0.is_empty());
        }
    }

    #[test]
    fn tells_what_it_is_about() {
        let stored = StoredEvent::new(&event(Kind::HelmRelease));
        let about: HashSet<(&str, &str, &str)> = [("HelmRelease", "apps", "podinfo")].into();
        let other: HashSet<(&str, &str, &str)> = [("HelmRelease", "apps", "other")].into();
        assert!(stored.is_about(&about));
        assert!(!stored.is_about(&other));
    }

    #[test]
    fn damaged_bytes_read_as_nothing() {
        let stored = StoredEvent::new(&event(Kind::HelmRelease));
        for cut in [0, 1, 10, 40, stored.0.len() - 1] {
            let damaged = StoredEvent(stored.0[..cut].into());
            assert_eq!(damaged.event(), None);
        }
    }
}
