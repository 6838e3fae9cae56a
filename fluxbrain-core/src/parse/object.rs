//! Flux objects (and other objects with `status.conditions`) from JSON.

use serde_json::{Map, Value};

use super::fields::{
    Field, FieldError, Path, array, boolean, integer, object, required_string, string, time,
};
use crate::error::{ParseWarning, Problem};
use crate::model::kind::Kind;
use crate::model::object::{
    Condition, ConditionStatus, FluxObject, HELM_HISTORY_KEPT, HelmAttempt, HelmSnapshot,
    INVENTORY_KEPT, Inventory, Link, LinkVia, MAX_CONDITION_MESSAGE, ObjectRef, ObjectSilence,
    Revision, SILENCE_ANNOTATION, TestHook,
};
use crate::text::truncate_in_place;

/// Reads the facts of one object. `kind` and the map are what [`super::parse_document`]
/// already checked; warnings (corrected fields) are appended to `warnings`.
pub(crate) fn parse_object(
    api_version: &str,
    kind: Kind,
    doc: &Map<String, Value>,
    warnings: &mut Vec<ParseWarning>,
) -> Field<FluxObject> {
    let root = Path::Root;
    let metadata_path = root.key("metadata");
    let metadata = object(doc.get("metadata"), &metadata_path)?
        .ok_or_else(|| FieldError::new(&metadata_path, Problem::Missing))?;
    let name = required_string(metadata.get("name"), &metadata_path.key("name"))?;
    let namespace_path = metadata_path.key("namespace");
    let namespace = match string(metadata.get("namespace"), &namespace_path)? {
        Some(ns) if !ns.is_empty() => ns,
        // Every Flux kind is namespaced; other kinds may be cluster-scoped.
        _ if kind.group().is_some() => {
            return Err(FieldError::new(&namespace_path, Problem::Missing));
        }
        _ => "",
    };
    let key = ObjectRef::new(kind, namespace, name);

    let spec_path = root.key("spec");
    let spec = object(doc.get("spec"), &spec_path)?;
    let status_path = root.key("status");
    let status = object(doc.get("status"), &status_path)?;
    let get_spec = |k: &str| spec.and_then(|s| s.get(k));
    let get_status = |k: &str| status.and_then(|s| s.get(k));

    let revision = Revision {
        applied: string(
            get_status("lastAppliedRevision"),
            &status_path.key("lastAppliedRevision"),
        )?
        .filter(|s| !s.is_empty())
        .map(str::to_owned),
        attempted: string(
            get_status("lastAttemptedRevision"),
            &status_path.key("lastAttemptedRevision"),
        )?
        .filter(|s| !s.is_empty())
        .map(str::to_owned),
        artifact: artifact_revision(get_status("artifact"), &status_path.key("artifact"))?,
    };

    let links = if key.kind.group().is_some() {
        links(&key, spec, status, &spec_path, &status_path)?
    } else {
        Vec::new()
    };

    let url = if key.kind.is_source() {
        string(get_spec("url"), &spec_path.key("url"))?.map(str::to_owned)
    } else {
        None
    };

    let conditions = conditions(
        &key,
        get_status("conditions"),
        &status_path.key("conditions"),
        warnings,
    )?;

    Ok(FluxObject {
        api_version: api_version.to_owned(),
        uid: string(metadata.get("uid"), &metadata_path.key("uid"))?.map(str::to_owned),
        generation: integer(metadata.get("generation"), &metadata_path.key("generation"))?,
        observed_generation: integer(
            get_status("observedGeneration"),
            &status_path.key("observedGeneration"),
        )?,
        created: time(
            metadata.get("creationTimestamp"),
            &metadata_path.key("creationTimestamp"),
        )?,
        suspended: boolean(get_spec("suspend"), &spec_path.key("suspend"))?
            || reconcile_disabled(&key.kind, metadata),
        conditions,
        revision,
        links,
        url,
        inventory: if key.kind == Kind::ArtifactGenerator {
            generated_artifacts(get_status("inventory"), &status_path.key("inventory"))?
        } else {
            inventory(get_status("inventory"), &status_path.key("inventory"))?
        },
        helm_history: if key.kind == Kind::HelmRelease {
            helm_history(get_status("history"), &status_path.key("history"))?
        } else {
            Vec::new()
        },
        helm_attempt: if key.kind == Kind::HelmRelease {
            helm_attempt(status, &status_path)?
        } else {
            None
        },
        silence: silence_annotation(metadata),
        key,
    })
}

/// Whether the kind's own "do not reconcile" annotation is set: source-watcher and the Flux
/// Operator have no `spec.suspend`; `<group>/reconcile: disabled` (any case) is how their
/// objects are suspended.
fn reconcile_disabled(kind: &Kind, metadata: &Map<String, Value>) -> bool {
    let annotation = match kind {
        Kind::ArtifactGenerator => "source.extensions.fluxcd.io/reconcile",
        Kind::FluxInstance | Kind::ResourceSet | Kind::ResourceSetInputProvider => {
            "fluxcd.controlplane.io/reconcile"
        }
        _ => return false,
    };
    metadata
        .get("annotations")
        .and_then(Value::as_object)
        .and_then(|a| a.get(annotation))
        .and_then(Value::as_str)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("disabled"))
}

/// The `fluxbrain.io/silence` annotation; a value of the wrong type is kept as malformed
/// (an annotation is the operator's, never a reason to skip the object).
fn silence_annotation(metadata: &Map<String, Value>) -> Option<ObjectSilence> {
    let value = metadata
        .get("annotations")?
        .as_object()?
        .get(SILENCE_ANNOTATION)?;
    match value {
        Value::String(text) => ObjectSilence::parse(text),
        Value::Null => None,
        other => Some(ObjectSilence::Malformed(other.to_string())),
    }
}

fn conditions(
    key: &ObjectRef,
    value: Option<&Value>,
    path: &Path<'_>,
    warnings: &mut Vec<ParseWarning>,
) -> Field<Vec<Condition>> {
    let Some(items) = array(value, path)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = path.index(i);
        let map = object(Some(item), &item_path)?
            .ok_or_else(|| FieldError::new(&item_path, Problem::Missing))?;
        let status_path = item_path.key("status");
        let status = match map.get("status") {
            Some(Value::String(s)) => match s.as_str() {
                "True" => ConditionStatus::True,
                "False" => ConditionStatus::False,
                "Unknown" => ConditionStatus::Unknown,
                other => {
                    return Err(FieldError::new(
                        &status_path,
                        Problem::Invalid {
                            value: super::fields::shorten(other),
                            expected: "\"True\", \"False\" or \"Unknown\"",
                        },
                    ));
                }
            },
            None | Some(Value::Null) => {
                return Err(FieldError::new(&status_path, Problem::Missing));
            }
            Some(other) => {
                return Err(FieldError::new(
                    &status_path,
                    Problem::WrongType {
                        expected: "the string \"True\", \"False\" or \"Unknown\"",
                        found: super::fields::describe(other),
                    },
                ));
            }
        };
        let message_path = item_path.key("message");
        let mut message = string(map.get("message"), &message_path)?
            .unwrap_or_default()
            .to_owned();
        let full = message.len();
        if truncate_in_place(&mut message, MAX_CONDITION_MESSAGE) {
            warnings.push(ParseWarning {
                object: key.to_string(),
                field: message_path.to_string(),
                message: format!(
                    "{full} bytes, more than the Kubernetes API allows ({MAX_CONDITION_MESSAGE}); \
                     kept the first {} bytes",
                    message.len()
                ),
            });
        }
        out.push(Condition {
            type_: required_string(map.get("type"), &item_path.key("type"))?.to_owned(),
            status,
            reason: string(map.get("reason"), &item_path.key("reason"))?
                .unwrap_or_default()
                .to_owned(),
            message,
            last_transition_time: time(
                map.get("lastTransitionTime"),
                &item_path.key("lastTransitionTime"),
            )?,
            observed_generation: integer(
                map.get("observedGeneration"),
                &item_path.key("observedGeneration"),
            )?,
        });
    }
    Ok(out)
}

fn artifact_revision(value: Option<&Value>, path: &Path<'_>) -> Field<Option<String>> {
    let Some(artifact) = object(value, path)? else {
        return Ok(None);
    };
    Ok(string(artifact.get("revision"), &path.key("revision"))?
        .filter(|s| !s.is_empty())
        .map(str::to_owned))
}

/// The links a Flux object declares, namespaces defaulted to the object's, in [`LinkVia`] order.
fn links(
    key: &ObjectRef,
    spec: Option<&Map<String, Value>>,
    status: Option<&Map<String, Value>>,
    spec_path: &Path<'_>,
    status_path: &Path<'_>,
) -> Field<Vec<Link>> {
    let mut links = Vec::new();
    let Some(spec) = spec else {
        return Ok(links);
    };
    let default_kind = match key.kind {
        Kind::ImageUpdateAutomation => Some(Kind::GitRepository),
        _ => None,
    };
    // HelmChart's sourceRef has no namespace field: it is always the chart's own.
    let namespaced = key.kind != Kind::HelmChart;
    if let Some(link) = reference(
        key,
        spec.get("sourceRef"),
        &spec_path.key("sourceRef"),
        default_kind,
        namespaced,
        LinkVia::SourceRef,
    )? {
        links.push(link);
    }
    if key.kind == Kind::HelmRelease {
        if let Some(link) = reference(
            key,
            spec.get("chartRef"),
            &spec_path.key("chartRef"),
            None,
            true,
            LinkVia::ChartRef,
        )? {
            links.push(link);
        }
        let helm_chart_path = status_path.key("helmChart");
        if let Some(chart) = string(status.and_then(|s| s.get("helmChart")), &helm_chart_path)? {
            let (namespace, name) = chart.split_once('/').unwrap_or((&key.namespace, chart));
            if !name.is_empty() {
                links.push(Link {
                    via: LinkVia::HelmChart,
                    target: ObjectRef::new(Kind::HelmChart, namespace, name),
                });
            }
        }
        let chart_path = spec_path.key("chart");
        if let Some(chart) = object(spec.get("chart"), &chart_path)? {
            let chart_spec_path = chart_path.key("spec");
            if let Some(chart_spec) = object(chart.get("spec"), &chart_spec_path)?
                && let Some(link) = reference(
                    key,
                    chart_spec.get("sourceRef"),
                    &chart_spec_path.key("sourceRef"),
                    None,
                    true,
                    LinkVia::ChartSourceRef,
                )?
            {
                links.push(link);
            }
        }
    }
    if key.kind == Kind::ImagePolicy
        && let Some(link) = reference(
            key,
            spec.get("imageRepositoryRef"),
            &spec_path.key("imageRepositoryRef"),
            Some(Kind::ImageRepository),
            true,
            LinkVia::ImageRepositoryRef,
        )?
    {
        links.push(link);
    }
    match key.kind {
        Kind::ArtifactGenerator => {
            let sources_path = spec_path.key("sources");
            for (i, item) in array(spec.get("sources"), &sources_path)?
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                if let Some(link) = reference(
                    key,
                    Some(item),
                    &sources_path.index(i),
                    None,
                    true,
                    LinkVia::Sources,
                )? {
                    links.push(link);
                }
            }
        }
        Kind::ResourceSet => {
            // Providers named in `inputsFrom` (always in the set's namespace); those chosen
            // by a label selector name no object and are not links.
            let inputs_path = spec_path.key("inputsFrom");
            for (i, item) in array(spec.get("inputsFrom"), &inputs_path)?
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let item_path = inputs_path.index(i);
                let named = object(Some(item), &item_path)?
                    .is_some_and(|m| m.get("name").is_some_and(|n| !n.is_null()));
                if !named {
                    continue;
                }
                if let Some(link) = reference(
                    key,
                    Some(item),
                    &item_path,
                    Some(Kind::ResourceSetInputProvider),
                    false,
                    LinkVia::InputsFrom,
                )? {
                    links.push(link);
                }
            }
        }
        Kind::FluxInstance => {
            if let Some(link) = sync_source(key, spec, &spec_path.key("sync"))? {
                links.push(link);
            }
        }
        _ => {}
    }
    let depends_path = spec_path.key("dependsOn");
    if let Some(items) = array(spec.get("dependsOn"), &depends_path)? {
        for (i, item) in items.iter().enumerate() {
            if let Some(link) = reference(
                key,
                Some(item),
                &depends_path.index(i),
                Some(key.kind.clone()),
                true,
                LinkVia::DependsOn,
            )? {
                links.push(link);
            }
        }
    }
    Ok(links)
}

/// The source object a FluxInstance's `spec.sync` makes: of `sync.kind`, named `sync.name`,
/// else after the instance's namespace, in that namespace (the Flux Operator's sync template).
fn sync_source(key: &ObjectRef, spec: &Map<String, Value>, path: &Path<'_>) -> Field<Option<Link>> {
    let Some(sync) = object(spec.get("sync"), path)? else {
        return Ok(None);
    };
    let kind = required_string(sync.get("kind"), &path.key("kind"))?;
    let name = string(sync.get("name"), &path.key("name"))?
        .filter(|n| !n.is_empty())
        .unwrap_or(&key.namespace);
    Ok(Some(Link {
        via: LinkVia::Sync,
        target: ObjectRef::new(Kind::from_name(kind), &key.namespace, name),
    }))
}

/// One `{kind?, name, namespace?}` reference.
fn reference(
    owner: &ObjectRef,
    value: Option<&Value>,
    path: &Path<'_>,
    default_kind: Option<Kind>,
    namespaced: bool,
    via: LinkVia,
) -> Field<Option<Link>> {
    let Some(map) = object(value, path)? else {
        return Ok(None);
    };
    let kind_path = path.key("kind");
    let kind = match (string(map.get("kind"), &kind_path)?, default_kind) {
        (Some(kind), _) if !kind.is_empty() => Kind::from_name(kind),
        (_, Some(kind)) => kind,
        _ => return Err(FieldError::new(&kind_path, Problem::Missing)),
    };
    let name = required_string(map.get("name"), &path.key("name"))?;
    let namespace = if namespaced {
        string(map.get("namespace"), &path.key("namespace"))?
            .filter(|ns| !ns.is_empty())
            .unwrap_or(&owner.namespace)
    } else {
        &owner.namespace
    };
    Ok(Some(Link {
        via,
        target: ObjectRef::new(kind, namespace, name),
    }))
}

fn inventory(value: Option<&Value>, path: &Path<'_>) -> Field<Option<Inventory>> {
    let Some(map) = object(value, path)? else {
        return Ok(None);
    };
    let entries_path = path.key("entries");
    let entries = array(map.get("entries"), &entries_path)?.unwrap_or_default();
    let mut first = Vec::with_capacity(entries.len().min(INVENTORY_KEPT));
    for (i, entry) in entries.iter().take(INVENTORY_KEPT).enumerate() {
        let entry_path = entries_path.index(i);
        let entry = object(Some(entry), &entry_path)?
            .ok_or_else(|| FieldError::new(&entry_path, Problem::Missing))?;
        first.push(required_string(entry.get("id"), &entry_path.key("id"))?.to_owned());
    }
    Ok(Some(Inventory {
        total: entries.len() as u64,
        first,
    }))
}

/// An ArtifactGenerator's `status.inventory`: a flat list of the ExternalArtifacts it
/// generated (`{name, namespace, digest, filename}`), as inventory ids in Flux's form
/// (`<namespace>_<name>_<group>_<Kind>`).
fn generated_artifacts(value: Option<&Value>, path: &Path<'_>) -> Field<Option<Inventory>> {
    let Some(items) = array(value, path)? else {
        return Ok(None);
    };
    let mut first = Vec::with_capacity(items.len().min(INVENTORY_KEPT));
    for (i, item) in items.iter().take(INVENTORY_KEPT).enumerate() {
        let item_path = path.index(i);
        let item = object(Some(item), &item_path)?
            .ok_or_else(|| FieldError::new(&item_path, Problem::Missing))?;
        let name = required_string(item.get("name"), &item_path.key("name"))?;
        let namespace =
            string(item.get("namespace"), &item_path.key("namespace"))?.unwrap_or_default();
        first.push(format!(
            "{namespace}_{name}_{}_{}",
            crate::model::kind::SOURCE_GROUP,
            Kind::ExternalArtifact
        ));
    }
    Ok(Some(Inventory {
        total: items.len() as u64,
        first,
    }))
}

fn helm_history(value: Option<&Value>, path: &Path<'_>) -> Field<Vec<HelmSnapshot>> {
    let Some(items) = array(value, path)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(items.len().min(HELM_HISTORY_KEPT));
    for (i, item) in items.iter().take(HELM_HISTORY_KEPT).enumerate() {
        let p = path.index(i);
        let map = object(Some(item), &p)?.ok_or_else(|| FieldError::new(&p, Problem::Missing))?;
        let text = |k: &'static str| -> Field<Option<String>> {
            Ok(string(map.get(k), &p.key(k))?.map(str::to_owned))
        };
        out.push(HelmSnapshot {
            version: integer(map.get("version"), &p.key("version"))?,
            status: text("status")?,
            chart_name: text("chartName")?,
            chart_version: text("chartVersion")?,
            app_version: text("appVersion")?,
            first_deployed: time(map.get("firstDeployed"), &p.key("firstDeployed"))?,
            last_deployed: time(map.get("lastDeployed"), &p.key("lastDeployed"))?,
            action: text("action")?,
            digest: text("digest")?,
            config_digest: text("configDigest")?,
            oci_digest: text("ociDigest")?,
            deleted: time(map.get("deleted"), &p.key("deleted"))?,
            test_hooks: test_hooks(map.get("testHooks"), &p.key("testHooks"))?,
        });
    }
    Ok(out)
}

/// A snapshot's `testHooks` map (`{name: {phase, lastStarted, lastCompleted}}`), by name.
fn test_hooks(value: Option<&Value>, path: &Path<'_>) -> Field<Vec<TestHook>> {
    let Some(hooks) = object(value, path)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(hooks.len());
    for (name, hook) in hooks {
        let p = path.key(name);
        let Some(hook) = object(Some(hook), &p)? else {
            continue;
        };
        out.push(TestHook {
            name: name.clone(),
            phase: string(hook.get("phase"), &p.key("phase"))?.map(str::to_owned),
            last_started: time(hook.get("lastStarted"), &p.key("lastStarted"))?,
            last_completed: time(hook.get("lastCompleted"), &p.key("lastCompleted"))?,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A HelmRelease's `status.lastAttempted*` and failure counters; `None` when it has none.
fn helm_attempt(
    status: Option<&Map<String, Value>>,
    path: &Path<'_>,
) -> Field<Option<Box<HelmAttempt>>> {
    let Some(status) = status else {
        return Ok(None);
    };
    let text = |k: &'static str| -> Field<Option<String>> {
        Ok(string(status.get(k), &path.key(k))?
            .filter(|s| !s.is_empty())
            .map(str::to_owned))
    };
    let number = |k: &'static str| integer(status.get(k), &path.key(k));
    let attempt = HelmAttempt {
        release_action: text("lastAttemptedReleaseAction")?,
        revision_digest: text("lastAttemptedRevisionDigest")?,
        config_digest: text("lastAttemptedConfigDigest")?,
        values_checksum: text("lastAttemptedValuesChecksum")?,
        // 0 is what current helm-controllers write to the deprecated field.
        release_revision: number("lastReleaseRevision")?.filter(|n| *n != 0),
        failures: number("failures")?,
        install_failures: number("installFailures")?,
        upgrade_failures: number("upgradeFailures")?,
    };
    Ok((attempt != HelmAttempt::default()).then(|| Box::new(attempt)))
}
