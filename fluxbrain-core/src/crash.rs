//! Named crash points for the chaos suite (`fluxbrain-cli/tests/chaos`).
//!
//! Each [`point`] marks a place where a process dying would test what fluxbrain promises
//! (nothing lost, a repeat only under the same id). Built with the `failpoints` feature, the
//! binary reads `FLUXBRAIN_CRASH_AT=NAME[:N]` at start ([`arm_from_env`]) and aborts, as
//! `kill -9` would (no destructors, no flush, no Lease release), the `N`th time (default the
//! first) the process reaches point `NAME`. Without the feature a point compiles to nothing.
//! The mechanism is the `fail` crate's registry, with a callback that aborts.

/// Every crash point, by name.
pub const POINTS: &[&str] = &[
    OBSERVE_BEFORE_PLAN,
    OUTBOX_BEFORE_WRITE,
    OUTBOX_AFTER_WRITE,
    DELIVER_AFTER_ACCEPT,
    DELIVER_BATCH_AFTER_ACCEPT,
    STATE_FILE_MID_SAVE,
    STATE_CONFIGMAP_MID_SAVE,
    LEASE_MID_RENEW,
    SHUTDOWN_BEFORE_SAVE,
    SHUTDOWN_BEFORE_RELEASE,
];

/// A collection is in hand; the policy has not run on it.
pub const OBSERVE_BEFORE_PLAN: &str = "observe.before_plan";
/// The policy queued notifications in memory; the state holding them is not saved yet.
pub const OUTBOX_BEFORE_WRITE: &str = "outbox.before_write";
/// The queued notifications are saved; none is sent yet.
pub const OUTBOX_AFTER_WRITE: &str = "outbox.after_write";
/// A receiver answered 2xx; the acknowledgement is not stored yet.
pub const DELIVER_AFTER_ACCEPT: &str = "deliver.after_accept";
/// A batch (a Slack summary) was accepted; the acknowledgements are not stored yet.
pub const DELIVER_BATCH_AFTER_ACCEPT: &str = "deliver.batch_after_accept";
/// The file store wrote and synced its temporary file; the rename has not happened.
pub const STATE_FILE_MID_SAVE: &str = "state.file.mid_save";
/// The ConfigMap store wrote its parts (if any); the head is not written yet.
pub const STATE_CONFIGMAP_MID_SAVE: &str = "state.configmap.mid_save";
/// The Lease was read for a renewal; the renewed Lease is not written yet.
pub const LEASE_MID_RENEW: &str = "lease.mid_renew";
/// Shutdown: deliveries finished or were cut; the state is not saved yet.
pub const SHUTDOWN_BEFORE_SAVE: &str = "shutdown.before_save";
/// Shutdown: the state is saved; the Lease is not released yet.
pub const SHUTDOWN_BEFORE_RELEASE: &str = "shutdown.before_release";

/// The variable that arms a crash point.
pub const VARIABLE: &str = "FLUXBRAIN_CRASH_AT";

/// Marks crash point `name` (one of [`POINTS`]).
#[inline]
pub fn point(name: &'static str) {
    #[cfg(feature = "failpoints")]
    fail::fail_point!(name);
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

/// Whether this build has crash points.
pub const ENABLED: bool = cfg!(feature = "failpoints");

/// Arms the crash point `FLUXBRAIN_CRASH_AT` names, if it is set: `NAME` or `NAME:N` (abort
/// at the `N`th hit, `N` ≥ 1). Returns what was armed.
///
/// # Errors
/// The variable names no crash point, has a bad count, or this build has no crash points
/// (built without the `failpoints` feature).
pub fn arm_from_env() -> Result<Option<(&'static str, u64)>, String> {
    let Ok(spec) = std::env::var(VARIABLE) else {
        return Ok(None);
    };
    let (name, hit) = parse(&spec)?;
    if !ENABLED {
        return Err(format!(
            "{VARIABLE}={spec:?}: this fluxbrain was built without crash points (the \
             `failpoints` feature)"
        ));
    }
    arm(name, hit)?;
    Ok(Some((name, hit)))
}

/// `NAME[:N]` into the point and the hit.
fn parse(spec: &str) -> Result<(&'static str, u64), String> {
    let (name, hit) = match spec.split_once(':') {
        Some((name, hit)) => {
            let hit = hit.trim().parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                format!("{VARIABLE}={spec:?}: the hit count after ':' must be a whole number of at least 1")
            })?;
            (name, hit)
        }
        None => (spec, 1),
    };
    let name = POINTS
        .iter()
        .copied()
        .find(|p| *p == name.trim())
        .ok_or_else(|| {
            format!(
                "{VARIABLE}={spec:?}: no crash point {name:?}; the points are {}",
                POINTS.join(", ")
            )
        })?;
    Ok((name, hit))
}

#[cfg(feature = "failpoints")]
fn arm(name: &'static str, hit: u64) -> Result<(), String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let hits = AtomicU64::new(0);
    fail::cfg_callback(name, move || {
        if hits.fetch_add(1, Ordering::SeqCst) + 1 == hit {
            eprintln!("fluxbrain: crash point {name} reached (hit {hit}): aborting");
            std::process::abort();
        }
    })
}

#[cfg(not(feature = "failpoints"))]
fn arm(_: &'static str, _: u64) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_a_point_and_a_hit() {
        assert_eq!(parse("lease.mid_renew"), Ok((LEASE_MID_RENEW, 1)));
        assert_eq!(parse("outbox.after_write:3"), Ok((OUTBOX_AFTER_WRITE, 3)));
        let unknown = parse("outbox.sideways").unwrap_err();
        assert!(
            unknown.contains("no crash point \"outbox.sideways\""),
            "{unknown}"
        );
        assert!(unknown.contains("deliver.after_accept"), "{unknown}");
        for bad in [
            "outbox.after_write:0",
            "outbox.after_write:x",
            "outbox.after_write:",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("at least 1"), "{bad}: {e}");
        }
    }

    #[test]
    fn points_are_distinct() {
        let mut names = POINTS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), POINTS.len());
    }
}
