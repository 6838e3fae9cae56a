//! Scripts: timed mutations of the simulated cluster (a failure starts, repeats, recovers) and
//! timed faults, run on the simulator's injected clock.
//!
//! The format is documented on [`Script`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::faults::{Faults, FaultsSpec};
use crate::Error;

/// A parsed script: timed steps run on the simulator's clock
/// ([`Simulator::run_script`](super::Simulator::run_script), then
/// [`Simulator::advance`](super::Simulator::advance)).
///
/// # Format
///
/// One YAML document:
///
/// ```yaml
/// repeat: 30m            # optional: run the steps again every 30 minutes (longer than the last `at`)
/// steps:
/// - at: 1m               # offset from when the script was started (ms, s, m, h; e.g. 1m30s)
///   set_conditions:      # upsert status.conditions by type
///     kind: Kustomization          # Flux or core kind; `group:` optional
///     namespace: flux-system
///     name: apps
///     conditions:                  # lastTransitionTime: now if status/reason/message changed;
///     - type: Ready                # observedGeneration: metadata.generation, unless given
///       status: "False"
///       reason: HealthCheckFailed
///       message: "timeout waiting for: [Deployment/apps/web status: 'InProgress']"
/// - at: 1m
///   set_revision: {kind: Kustomization, namespace: flux-system, name: apps, revision: "main@sha1:0123abcd"}
/// - at: 1m
///   add_event:           # a core v1 Event as Flux's recorder writes it; the same reason and
///     kind: Kustomization   # message again bumps `count` and `lastTimestamp`
///     namespace: flux-system
///     name: apps
///     type: Warning
///     reason: HealthCheckFailed
///     message: "timeout waiting for ..."
///     annotations: {kustomize.toolkit.fluxcd.io/revision: "main@sha1:0123abcd"}   # optional
///     reporting_controller: kustomize-controller                                   # optional
/// - at: 1m
///   append_logs:         # lines written now; `{{now}}` becomes the time (zap's format)
///     pod: kustomize-controller-7b5d9c6f48-m2kzt    # namespace: optional
///     lines:
///     - '{"level":"error","ts":"{{now}}","msg":"Reconciliation failed"}'
/// - at: 2m
///   patch: {kind: Kustomization, namespace: flux-system, name: apps, merge: {spec: {suspend: true}}}
/// - at: 3m
///   apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: default}, data: {a: "1"}}
/// - at: 4m
///   delete: {kind: Kustomization, namespace: flux-system, name: apps}
/// - at: 5m
///   faults: {latency: 200ms, error_rate: 0.2, error_status: 429, retry_after: 1, watch_drop_after: 30s, request_contains: /apis/}
/// - at: 6m
///   faults: {}           # healthy again
/// - at: 6m
///   drop_watches: {}     # every open watch stream ends abruptly
/// - at: 6m
///   expire_resource_versions: {}   # history compacted: watches from older versions get 410
/// ```
///
/// Steps run in `at` order (ties in file order). Parse errors name the file and the step.
#[derive(Debug, Clone)]
pub struct Script {
    pub(crate) path: PathBuf,
    pub(crate) steps: Vec<Step>,
    pub(crate) repeat: Option<Duration>,
}

/// One timed step.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// 1-based position in the file.
    pub index: usize,
    pub at: Duration,
    pub at_text: String,
    pub action: Action,
}

/// The object a step is about.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Target {
    pub kind: String,
    pub group: Option<String>,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
}

/// What a step does.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    SetConditions {
        target: Target,
        conditions: Vec<Map<String, Value>>,
    },
    SetRevision {
        target: Target,
        revision: String,
    },
    Patch {
        target: Target,
        merge: Value,
    },
    AddEvent(EventSpec),
    AppendLogs {
        pod: String,
        namespace: Option<String>,
        lines: Vec<String>,
    },
    Apply(Value),
    Delete(Target),
    Faults(Faults),
    DropWatches,
    ExpireResourceVersions,
}

impl Action {
    /// The action's name as written in scripts.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SetConditions { .. } => "set_conditions",
            Self::SetRevision { .. } => "set_revision",
            Self::Patch { .. } => "patch",
            Self::AddEvent(_) => "add_event",
            Self::AppendLogs { .. } => "append_logs",
            Self::Apply(_) => "apply",
            Self::Delete(_) => "delete",
            Self::Faults(_) => "faults",
            Self::DropWatches => "drop_watches",
            Self::ExpireResourceVersions => "expire_resource_versions",
        }
    }
}

/// An event to record.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventSpec {
    pub kind: String,
    pub group: Option<String>,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
    #[serde(rename = "type", default = "normal")]
    pub event_type: String,
    pub reason: String,
    pub message: String,
    #[serde(default)]
    pub annotations: Map<String, Value>,
    pub reporting_controller: Option<String>,
}

impl EventSpec {
    /// The object the event is about.
    pub fn target(&self) -> Target {
        Target {
            kind: self.kind.clone(),
            group: self.group.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

fn normal() -> String {
    "Normal".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetConditions {
    kind: String,
    group: Option<String>,
    #[serde(default)]
    namespace: String,
    name: String,
    conditions: Vec<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetRevision {
    kind: String,
    group: Option<String>,
    #[serde(default)]
    namespace: String,
    name: String,
    revision: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchSpec {
    kind: String,
    group: Option<String>,
    #[serde(default)]
    namespace: String,
    name: String,
    merge: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendLogs {
    pod: String,
    namespace: Option<String>,
    #[serde(default)]
    lines: Vec<String>,
    line: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

impl Script {
    /// Reads a script file.
    ///
    /// # Errors
    /// [`Error::Read`] if the file cannot be read, [`Error::Parse`] if it is not YAML,
    /// [`Error::Script`] naming the step that is not valid.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml(&text, path)
    }

    /// Parses script text; `name` is used in errors.
    ///
    /// # Errors
    /// As [`Script::from_file`].
    pub fn from_yaml(text: &str, name: impl AsRef<Path>) -> Result<Self, Error> {
        let path = name.as_ref().to_path_buf();
        let err = |step: usize, message: String| Error::Script {
            path: path.clone(),
            step,
            message,
        };
        let root: Value = serde_yaml_ng::from_str(text).map_err(|e| Error::Parse {
            path: path.clone(),
            document: 1,
            source: Box::new(e),
        })?;
        let Value::Object(mut root) = root else {
            return Err(err(
                0,
                "a script is a mapping with `steps` (and optionally `repeat`)".to_string(),
            ));
        };
        let repeat = match root.remove("repeat") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                fluxbrain_core::duration::parse(&s).map_err(|e| err(0, format!("repeat: {e}")))?,
            ),
            Some(other) => {
                return Err(err(
                    0,
                    format!("repeat: expected a duration like \"10m\", got {other}"),
                ));
            }
        };
        let steps_value = root.remove("steps").unwrap_or(Value::Array(Vec::new()));
        if let Some(key) = root.keys().next() {
            return Err(err(
                0,
                format!("unknown top-level key `{key}` (expected `steps`, `repeat`)"),
            ));
        }
        let Value::Array(raw_steps) = steps_value else {
            return Err(err(0, "`steps` must be a list".to_string()));
        };
        let mut steps = Vec::new();
        for (i, raw) in raw_steps.into_iter().enumerate() {
            let index = i + 1;
            steps.push(parse_step(index, raw).map_err(|m| err(index, m))?);
        }
        steps.sort_by_key(|s| s.at);
        if let (Some(every), Some(last)) = (repeat, steps.last())
            && every <= last.at
        {
            return Err(err(
                0,
                format!(
                    "repeat ({every:?}) must be longer than the last step's time ({})",
                    last.at_text
                ),
            ));
        }
        if repeat == Some(Duration::ZERO) {
            return Err(err(0, "repeat must be longer than zero".to_string()));
        }
        Ok(Self {
            path,
            steps,
            repeat,
        })
    }

    /// The file (or name) the script was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the script has no steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

fn parse_step(index: usize, raw: Value) -> Result<Step, String> {
    let Value::Object(mut map) = raw else {
        return Err("a step is a mapping with `at` and one action".to_string());
    };
    let at_text = match map.remove("at") {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) if n.as_u64() == Some(0) => "0".to_string(),
        Some(other) => return Err(format!("at: expected a duration like \"30s\", got {other}")),
        None => return Err("missing `at`".to_string()),
    };
    let at = fluxbrain_core::duration::parse(&at_text).map_err(|e| format!("at: {e}"))?;
    if map.len() != 1 {
        let keys: Vec<&String> = map.keys().collect();
        return Err(format!(
            "a step has exactly one action besides `at`, found {keys:?}"
        ));
    }
    let Some((name, body)) = map.into_iter().next() else {
        return Err("missing action".to_string());
    };
    let de = |e: serde_json::Error| format!("{name}: {e}");
    let target = |kind: String, group: Option<String>, namespace: String, name: String| Target {
        kind,
        group,
        namespace,
        name,
    };
    let action = match name.as_str() {
        "set_conditions" => {
            let s: SetConditions = serde_json::from_value(body).map_err(de)?;
            for (i, c) in s.conditions.iter().enumerate() {
                if !c.get("type").is_some_and(Value::is_string)
                    || !c.get("status").is_some_and(Value::is_string)
                {
                    return Err(format!(
                        "set_conditions: condition {} needs string `type` and `status` (quote \"True\"/\"False\")",
                        i + 1
                    ));
                }
            }
            Action::SetConditions {
                target: target(s.kind, s.group, s.namespace, s.name),
                conditions: s.conditions,
            }
        }
        "set_revision" => {
            let s: SetRevision = serde_json::from_value(body).map_err(de)?;
            if revision_fields(&s.kind).is_empty() {
                return Err(format!(
                    "set_revision: {} has no revision field; use `patch`",
                    s.kind
                ));
            }
            Action::SetRevision {
                target: target(s.kind, s.group, s.namespace, s.name),
                revision: s.revision,
            }
        }
        "patch" => {
            let s: PatchSpec = serde_json::from_value(body).map_err(de)?;
            if !s.merge.is_object() {
                return Err("patch: `merge` must be a mapping (a JSON merge patch)".to_string());
            }
            Action::Patch {
                target: target(s.kind, s.group, s.namespace, s.name),
                merge: s.merge,
            }
        }
        "add_event" => Action::AddEvent(serde_json::from_value(body).map_err(de)?),
        "append_logs" => {
            let s: AppendLogs = serde_json::from_value(body).map_err(de)?;
            let mut lines = s.lines;
            lines.extend(s.line);
            Action::AppendLogs {
                pod: s.pod,
                namespace: s.namespace,
                lines,
            }
        }
        "apply" => {
            let ok = body.get("apiVersion").is_some_and(Value::is_string)
                && body.get("kind").is_some_and(Value::is_string)
                && body.pointer("/metadata/name").is_some_and(Value::is_string);
            if !ok {
                return Err(
                    "apply: needs an object with apiVersion, kind and metadata.name".to_string(),
                );
            }
            Action::Apply(body)
        }
        "delete" => Action::Delete(serde_json::from_value(body).map_err(de)?),
        "faults" => {
            let spec: FaultsSpec = serde_json::from_value(body).map_err(de)?;
            Action::Faults(spec.into_faults().map_err(|e| format!("faults: {e}"))?)
        }
        "drop_watches" => {
            let _: Empty = serde_json::from_value(if body.is_null() { json!({}) } else { body })
                .map_err(de)?;
            Action::DropWatches
        }
        "expire_resource_versions" => {
            let _: Empty = serde_json::from_value(if body.is_null() { json!({}) } else { body })
                .map_err(de)?;
            Action::ExpireResourceVersions
        }
        other => {
            return Err(format!(
                "unknown action `{other}` (set_conditions, set_revision, patch, add_event, append_logs, apply, delete, \
                 faults, drop_watches, expire_resource_versions)"
            ));
        }
    };
    Ok(Step {
        index,
        at,
        at_text,
        action,
    })
}

/// The status fields holding a kind's revision (DESIGN section 8's revision fact).
pub(crate) fn revision_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Kustomization" => &[
            "/status/lastAttemptedRevision",
            "/status/lastAppliedRevision",
        ],
        "HelmRelease" => &["/status/lastAttemptedRevision"],
        "GitRepository" | "OCIRepository" | "Bucket" | "HelmChart" | "HelmRepository" => {
            &["/status/artifact/revision"]
        }
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_action_in_time_order() {
        let text = r#"
repeat: 10m
steps:
- at: 2m
  delete: {kind: Kustomization, namespace: flux-system, name: apps}
- at: 1m
  set_conditions: {kind: Kustomization, namespace: flux-system, name: apps, conditions: [{type: Ready, status: "False", reason: X, message: y}]}
- at: 1m
  add_event: {kind: Kustomization, namespace: flux-system, name: apps, type: Warning, reason: X, message: y}
- at: 1m30s
  append_logs: {pod: p, line: "{{now}}"}
- at: 0
  faults: {latency: 100ms, error_rate: 0.5, error_status: 429, retry_after: 2}
- at: 3m
  drop_watches: {}
- at: 3m
  expire_resource_versions:
"#;
        let script = Script::from_yaml(text, "s.yaml");
        let Ok(script) = script else {
            panic!("{script:?}")
        };
        let names: Vec<&str> = script.steps.iter().map(|s| s.action.name()).collect();
        assert_eq!(
            names,
            [
                "faults",
                "set_conditions",
                "add_event",
                "append_logs",
                "delete",
                "drop_watches",
                "expire_resource_versions"
            ]
        );
        assert_eq!(script.repeat, Some(Duration::from_secs(600)));
    }

    #[test]
    fn errors_name_the_step() {
        let cases = [
            (
                "steps:\n- at: 1m\n  set_conditions: {kind: K, name: a, conditions: [{type: Ready, status: false}]}\n",
                "s.yaml: step 1: set_conditions: condition 1 needs string `type` and `status`",
            ),
            (
                "steps:\n- at: 1m\n  delete: {kind: K, name: a}\n- at: soon\n  drop_watches: {}\n",
                "s.yaml: step 2: at: \"soon\" is not a duration",
            ),
            (
                "steps:\n- at: 1m\n  explode: {}\n",
                "s.yaml: step 1: unknown action `explode`",
            ),
            (
                "steps:\n- at: 1m\n  add_event: {kind: K, name: a, reason: r, mesage: m}\n",
                "s.yaml: step 1: add_event: ",
            ),
            (
                "steps:\n- at: 1m\n  faults: {error_rate: 2}\n",
                "s.yaml: step 1: faults: error_rate must be between 0 and 1",
            ),
            (
                "repeat: 1m\nsteps:\n- at: 1m\n  drop_watches: {}\n",
                "s.yaml: step 0: repeat",
            ),
            (
                "stepz: []\n",
                "s.yaml: step 0: unknown top-level key `stepz`",
            ),
        ];
        for (text, want) in cases {
            let got = Script::from_yaml(text, "s.yaml")
                .map(|_| ())
                .map_err(|e| e.to_string());
            let Err(message) = got else {
                panic!("{text} should fail")
            };
            assert!(message.starts_with(want), "{message} / {want}");
        }
        let bad_yaml = Script::from_yaml("steps: [\n", "s.yaml")
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(
            bad_yaml,
            Err("s.yaml: document 1: not valid YAML/JSON".to_string())
        );
    }
}
