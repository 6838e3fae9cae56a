//! The objects Flux names in its own messages, read as facts: health checks that failed
//! (fluxcd/pkg `ssa` `WaitForSet`, used by kustomize-controller, helm-controller ≥ 1.5 and the
//! Flux Operator) and Helm release drift (helm-controller's `DriftDetected` and
//! `DriftCorrected`). Nothing is inferred: an item that does not read as Flux writes it is left
//! out, and a message without the shape gives nothing.

use crate::errorbrain::{DriftObject, HealthCheckObject};

/// The objects a failed health check lists, and how it ended (`timeout` or `stalled`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HealthChecks {
    /// `timeout` (`timeout waiting for: [...]`) or `stalled` (`failed early due to stalled
    /// resources: [...]`).
    pub outcome: &'static str,
    /// The objects, in the message's order.
    pub objects: Vec<HealthCheckObject>,
}

/// Reads a failed health check out of a condition message, anywhere in it (kustomize-controller
/// prefixes `health check failed after <duration>: `, helm-controller `Helm upgrade failed for
/// release ...: `, the Flux Operator `reconciliation failed: `).
pub(crate) fn health_checks(message: &str) -> Option<HealthChecks> {
    const HEADERS: [(&str, &str); 2] = [
        ("timeout waiting for: [", "timeout"),
        ("failed early due to stalled resources: [", "stalled"),
    ];
    let (start, header, outcome) = HEADERS
        .iter()
        .filter_map(|(header, outcome)| message.find(header).map(|at| (at, *header, *outcome)))
        .min_by_key(|(at, _, _)| *at)?;
    let rest = &message[start + header.len()..];
    // The list ends at the last `]` of its line (an item's error may hold brackets).
    let line = rest.lines().next().unwrap_or_default();
    let items = &line[..line.rfind(']')?];
    let objects: Vec<HealthCheckObject> = split_items(items).filter_map(health_item).collect();
    (!objects.is_empty()).then_some(HealthChecks { outcome, objects })
}

/// Items are joined with `", "`; a piece that does not start like an object (`Kind/...` or
/// `can't determine`) belongs to the previous item's error text.
fn split_items(list: &str) -> impl Iterator<Item = String> + '_ {
    let mut items: Vec<String> = Vec::new();
    for piece in list.split(", ") {
        let starts_item = piece.starts_with("can't determine status for ")
            || object_path(piece.split_whitespace().next().unwrap_or_default()).is_some();
        match items.last_mut() {
            Some(last) if !starts_item => {
                last.push_str(", ");
                last.push_str(piece);
            }
            _ => items.push(piece.to_owned()),
        }
    }
    items.into_iter()
}

/// `Kind/ns/name status: 'Status'[: error]` or `can't determine status for Kind/ns/name`.
fn health_item(item: String) -> Option<HealthCheckObject> {
    if let Some(path) = item.strip_prefix("can't determine status for ") {
        let (kind, namespace, name) = object_path(path.trim())?;
        return Some(HealthCheckObject {
            kind,
            namespace,
            name,
            status: None,
            error: Some("can't determine status".to_owned()),
        });
    }
    let (path, rest) = item.split_once(" status: '")?;
    let (kind, namespace, name) = object_path(path)?;
    let (status, tail) = rest.split_once('\'')?;
    Some(HealthCheckObject {
        kind,
        namespace,
        name,
        status: Some(status.to_owned()),
        error: tail
            .strip_prefix(": ")
            .map(str::to_owned)
            .filter(|e| !e.is_empty()),
    })
}

/// `Kind/namespace/name` or `Kind/name` (cluster-scoped): names hold no `/`; a kind is a
/// word starting with a capital letter.
fn object_path(path: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    let (kind, namespace, name) = match parts.as_slice() {
        [kind, namespace, name] => (*kind, *namespace, *name),
        [kind, name] => (*kind, "", *name),
        _ => return None,
    };
    let is_kind = kind.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && kind.chars().all(|c| c.is_ascii_alphanumeric());
    let valid = is_kind && !name.is_empty() && !name.contains(char::is_whitespace);
    valid.then(|| (kind.to_owned(), namespace.to_owned(), name.to_owned()))
}

/// A Helm release's drift as helm-controller reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReleaseDrift {
    /// `namespace/name.vN` of the release.
    pub release: String,
    /// The objects and what changed (`removed`, `changed`, `excluded`, `unchanged`) or what
    /// the correction did (`created`, `configured`, ...).
    pub objects: Vec<DriftObject>,
}

/// `DriftDetected` (event and, from helm-controller 1.6, the `Drifted` condition): `Cluster
/// state of release <ns>/<name>.v<N> has drifted from the desired state:` then one line per
/// object.
pub(crate) fn drift_detected(message: &str) -> Option<ReleaseDrift> {
    release_lines(
        message,
        "Cluster state of release ",
        " has drifted from the desired state:",
    )
}

/// `DriftCorrected`: `Cluster state of release <release> has been corrected:` then one
/// `Kind/ns/name <action>` line per object.
pub(crate) fn drift_corrected(message: &str) -> Option<ReleaseDrift> {
    release_lines(message, "Cluster state of release ", " has been corrected:")
}

fn release_lines(message: &str, prefix: &str, suffix: &str) -> Option<ReleaseDrift> {
    let mut lines = message.lines();
    let release = lines
        .next()?
        .trim_end()
        .strip_prefix(prefix)?
        .strip_suffix(suffix)?;
    let objects = lines.filter_map(drift_line).collect();
    Some(ReleaseDrift {
        release: release.to_owned(),
        objects,
    })
}

/// `Kind/ns/name changed (1 additions, 2 changes, 0 removals)`, `Kind/ns/name removed`, ...
fn drift_line(line: &str) -> Option<DriftObject> {
    let (path, change) = line.trim().split_once(' ')?;
    let (kind, namespace, name) = object_path(path)?;
    let mut object = DriftObject {
        kind,
        namespace,
        name,
        change: change.to_owned(),
        additions: None,
        changes: None,
        removals: None,
    };
    if let Some(counts) = change
        .strip_prefix("changed (")
        .and_then(|c| c.strip_suffix(')'))
    {
        object.change = "changed".to_owned();
        for count in counts.split(", ") {
            let (n, what) = count.split_once(' ')?;
            let n: u64 = n.parse().ok()?;
            match what {
                "additions" => object.additions = Some(n),
                "changes" => object.changes = Some(n),
                "removals" => object.removals = Some(n),
                _ => return None,
            }
        }
    }
    Some(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(objects: &[HealthCheckObject]) -> Vec<(String, String, String, Option<String>)> {
        objects
            .iter()
            .map(|o| {
                (
                    o.kind.clone(),
                    o.namespace.clone(),
                    o.name.clone(),
                    o.status.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn kustomize_controller_health_check_timeout() {
        let message = "health check failed after 2m0.012345678s: timeout waiting for: \
            [Deployment/podinfo/frontend status: 'InProgress', Deployment/podinfo/backend status: 'Failed', \
            ClusterRole/podinfo-reader status: 'NotFound']";
        let checks = health_checks(message).unwrap();
        assert_eq!(checks.outcome, "timeout");
        let s = |v: &str| v.to_owned();
        assert_eq!(
            named(&checks.objects),
            [
                (
                    s("Deployment"),
                    s("podinfo"),
                    s("frontend"),
                    Some(s("InProgress"))
                ),
                (
                    s("Deployment"),
                    s("podinfo"),
                    s("backend"),
                    Some(s("Failed"))
                ),
                (
                    s("ClusterRole"),
                    s(""),
                    s("podinfo-reader"),
                    Some(s("NotFound"))
                ),
            ]
        );
    }

    #[test]
    fn stalled_undetermined_and_errors_with_commas() {
        let checks = health_checks(
            "Helm upgrade failed for release podinfo/podinfo with chart podinfo@6.5.4: \
             failed early due to stalled resources: [Deployment/podinfo/podinfo status: 'Failed': \
             rollout failed, see [events], can't determine status for HelmRelease/flux-system/podinfo]",
        )
        .unwrap();
        assert_eq!(checks.outcome, "stalled");
        assert_eq!(checks.objects.len(), 2);
        assert_eq!(
            checks.objects[0].error.as_deref(),
            Some("rollout failed, see [events]")
        );
        assert_eq!(checks.objects[1].kind, "HelmRelease");
        assert_eq!(checks.objects[1].status, None);
        // The Flux Operator adds lines after the list: only the list is read.
        let operator = "reconciliation failed: timeout waiting for: [GitRepository/flux-system/flux-system status: 'InProgress']\n\
            GitRepository/flux-system/flux-system status: failed to checkout";
        let checks = health_checks(operator).unwrap();
        assert_eq!(checks.objects.len(), 1);
        assert_eq!(checks.objects[0].error, None);
    }

    #[test]
    fn messages_without_a_health_check_give_nothing() {
        for message in [
            "",
            "Helm install failed for release a/b with chart c@1: context deadline exceeded",
            "timeout waiting for: [",
            "timeout waiting for: []",
            "timeout waiting for: [not an object]",
        ] {
            assert_eq!(health_checks(message), None, "{message}");
        }
    }

    #[test]
    fn helm_drift_detected_and_corrected() {
        let detected = drift_detected(
            "Cluster state of release podinfo/podinfo.v3 has drifted from the desired state:\n\
             Deployment/podinfo/podinfo changed (0 additions, 1 changes, 0 removals)\n\
             Service/podinfo/podinfo removed\n\
             ClusterRole/podinfo-reader changed (1 additions, 0 changes, 2 removals)",
        )
        .unwrap();
        assert_eq!(detected.release, "podinfo/podinfo.v3");
        assert_eq!(detected.objects.len(), 3);
        assert_eq!(detected.objects[0].change, "changed");
        assert_eq!(detected.objects[0].changes, Some(1));
        assert_eq!(detected.objects[1].change, "removed");
        assert_eq!(detected.objects[1].additions, None);
        assert_eq!(detected.objects[2].namespace, "");
        assert_eq!(detected.objects[2].removals, Some(2));
        let corrected = drift_corrected(
            "Cluster state of release mock-ns/mock-release.v3 has been corrected:\n\
             Secret/namespace/name created\nDeployment/namespace/name configured",
        )
        .unwrap();
        assert_eq!(corrected.objects[1].change, "configured");
        assert_eq!(drift_detected("Helm upgrade succeeded"), None);
        assert_eq!(
            drift_corrected("Cluster state of release x has drifted from the desired state:"),
            None
        );
    }
}
