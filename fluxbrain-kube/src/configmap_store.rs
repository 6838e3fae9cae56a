//! The ConfigMap state store: fluxbrain's state in the cluster it watches, compressed, split
//! across ConfigMaps past 1 MiB, written with optimistic concurrency.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use fluxbrain_core::control::{self, Control, Revision};
use fluxbrain_core::engine::{
    DecodeError, STATE_VERSION, State, StateStore, StoreError, decode, encode,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

/// The key of the compressed state (or of one chunk of it) in `binaryData`.
const DATA_KEY: &str = "state.json.gz";
/// Chunks stay well under the 1 MiB object limit (the API server's own bound, etcd's too).
const CHUNK: usize = 900 * 1024;
const PARTS: &str = "fluxbrain.io/parts";
const GENERATION: &str = "fluxbrain.io/generation";
const DIGEST: &str = "fluxbrain.io/sha256";
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "fluxbrain");
/// The most parts a head may name: far past any state fluxbrain writes (900 MiB compressed). A
/// larger count is a garbled annotation, refused before a name is made for each part.
const MAX_PARTS: usize = 1000;
/// The key of the control document (plain JSON: people read it) in `data`.
const CONTROL_KEY: &str = "control.json";

/// Keeps the engine's state in ConfigMap `namespace/name` (and `name-<generation>-<i>` parts
/// when it is larger than one ConfigMap holds), and the operators' control document (silences,
/// acknowledgements) in ConfigMap `name-control`.
///
/// Every save is a compare-and-swap on the head ConfigMap's `resourceVersion` from the last
/// load or save: a writer that lost its Lease (and so missed the new leader's writes) gets
/// [`StoreError::Conflict`] instead of overwriting. Parts are written before the head that
/// names them and deleted after it moved on, so a crash never leaves a head without its parts.
///
/// State that cannot be read (truncated, garbled, written by a newer fluxbrain) is an error
/// naming the ConfigMap, the key and what is wrong, and is left exactly as it is: no copy is
/// made in the cluster. Nothing can write over it meanwhile: a store that never loaded has no
/// resourceVersion to replace, so its save is a create, which the API server refuses while the
/// ConfigMap exists. The error says how to keep a copy and start over.
#[derive(Debug)]
pub struct ConfigMapStore {
    api: Api<ConfigMap>,
    namespace: String,
    name: String,
    /// The control ConfigMap's name.
    control: String,
    timeout: Duration,
    /// The head's resourceVersion and parts generation as last read or written.
    seen: Mutex<Option<Seen>>,
}

#[derive(Debug, Clone)]
struct Seen {
    resource_version: String,
    generation: Option<String>,
    parts: usize,
}

impl ConfigMapStore {
    /// A store in `namespace/name` through `client`; every API call is bounded by `timeout`.
    pub fn new(client: kube::Client, namespace: &str, name: &str, timeout: Duration) -> Self {
        ConfigMapStore {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            control: format!("{name}-control"),
            timeout,
            seen: Mutex::new(None),
        }
    }

    /// Reads and writes the control document (silences, acknowledgements) in ConfigMap
    /// `name` instead of `<state name>-control`: the per-cluster states of a fleet share
    /// one control document.
    #[must_use]
    pub fn with_control(mut self, name: &str) -> Self {
        name.clone_into(&mut self.control);
        self
    }

    fn unavailable(&self, what: &str, e: impl std::fmt::Display) -> StoreError {
        StoreError::Unavailable {
            store: self.name(),
            message: format!("{what}: {e}"),
        }
    }

    /// The state is damaged: `problem` says how, `parts` are the part ConfigMaps the head
    /// names (to copy and delete with it).
    fn corrupt(&self, problem: String, parts: &[String]) -> StoreError {
        StoreError::Corrupt {
            store: self.name(),
            message: format!(
                "{problem}; left as it is; to start over, {}",
                self.start_over(parts)
            ),
        }
    }

    /// How to keep a copy of the state and start over: what to run.
    fn start_over(&self, parts: &[String]) -> String {
        let names = std::iter::once(self.name.as_str())
            .chain(parts.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        let ns = &self.namespace;
        format!(
            "keep a copy (`kubectl -n {ns} get configmap {names} -o yaml > {}.bad.yaml`), then `kubectl -n {ns} delete configmap {names}`",
            self.name
        )
    }

    async fn call<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(kube::Error::Api(status))) if status.code == 409 => {
                Err(StoreError::Conflict { store: self.name() })
            }
            Ok(Err(e)) => Err(self.unavailable(what, e)),
            Err(_) => Err(self.unavailable(what, format!("no answer within {:?}", self.timeout))),
        }
    }

    fn control_name(&self) -> String {
        self.control.clone()
    }

    fn part_name(&self, generation: &str, i: usize) -> String {
        part_name(&self.name, generation, i)
    }

    fn object(&self, name: String, data: Vec<u8>) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(self.namespace.clone()),
                labels: Some([(MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned())].into()),
                ..ObjectMeta::default()
            },
            binary_data: Some([(DATA_KEY.to_owned(), ByteString(data))].into()),
            ..ConfigMap::default()
        }
    }

    async fn delete_parts(&self, generation: &str, parts: usize) {
        for i in 0..parts {
            let name = self.part_name(generation, i);
            // Leftover parts are harmless (the head never names them again); log and go on.
            if let Err(e) = self
                .call(
                    "delete part",
                    self.api.delete(&name, &DeleteParams::default()),
                )
                .await
            {
                tracing::warn!(configmap = %name, error = %e, "could not delete an old state part");
            }
        }
    }
}

#[async_trait::async_trait]
impl StateStore for ConfigMapStore {
    fn name(&self) -> String {
        format!("configmap:{}/{}", self.namespace, self.name)
    }

    async fn load(&self) -> Result<Option<State>, StoreError> {
        let Some(head) = self.call("get", self.api.get_opt(&self.name)).await? else {
            *self.seen.lock().await = None;
            return Ok(None);
        };
        let annotations = head.metadata.annotations.clone().unwrap_or_default();
        let layout = layout(&annotations).map_err(|problem| self.corrupt(problem, &[]))?;
        let part_names = layout.part_names(&self.name);
        let Layout { parts, generation } = layout;
        let subject = subject(&part_names);
        let mut compressed = Vec::new();
        if parts == 0 {
            compressed = data_of(&head)
                .ok_or_else(|| self.corrupt(format!("binaryData.{DATA_KEY} is missing"), &[]))?;
        } else {
            for name in &part_names {
                let part = self
                    .call("get part", self.api.get_opt(name))
                    .await?
                    .ok_or_else(|| {
                        self.corrupt(format!("part ConfigMap {name} is missing"), &part_names)
                    })?;
                compressed.extend(data_of(&part).ok_or_else(|| {
                    self.corrupt(
                        format!("part ConfigMap {name} has no binaryData.{DATA_KEY}"),
                        &part_names,
                    )
                })?);
            }
        }
        let digest = annotations.get(DIGEST).map(String::as_str);
        let state = unpack(&compressed, digest, &subject).map_err(|e| match e {
            Unreadable::Newer(found) => StoreError::Newer {
                store: self.name(),
                found,
                reads: STATE_VERSION,
                message: format!(
                    "left as it is: run that fluxbrain (or a newer one) again, or, to start over with this one, {}",
                    self.start_over(&part_names)
                ),
            },
            Unreadable::Damaged(problem) => self.corrupt(problem, &part_names),
        })?;
        *self.seen.lock().await = Some(Seen {
            resource_version: head.metadata.resource_version.clone().unwrap_or_default(),
            generation,
            parts,
        });
        Ok(Some(state))
    }

    async fn save(&self, state: &State) -> Result<(), StoreError> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder
            .write_all(&encode(state))
            .map_err(|e| self.unavailable("compress", e))?;
        let compressed = encoder
            .finish()
            .map_err(|e| self.unavailable("compress", e))?;
        let digest = hex(&Sha256::digest(&compressed));

        let mut seen = self.seen.lock().await;
        let (head_data, generation, parts) = if compressed.len() <= CHUNK {
            (compressed, None, 0)
        } else {
            let generation = digest[..12].to_owned();
            let chunks: Vec<&[u8]> = compressed.chunks(CHUNK).collect();
            for (i, chunk) in chunks.iter().enumerate() {
                let object = self.object(self.part_name(&generation, i), chunk.to_vec());
                // A part of this generation may exist from an interrupted save: replace it.
                let name = self.part_name(&generation, i);
                let _ = self
                    .call(
                        "delete stale part",
                        self.api.delete(&name, &DeleteParams::default()),
                    )
                    .await;
                self.call(
                    "create part",
                    self.api.create(&PostParams::default(), &object),
                )
                .await?;
            }
            (Vec::new(), Some(generation), chunks.len())
        };

        let mut head = self.object(self.name.clone(), head_data);
        if parts > 0 {
            head.binary_data = None;
        }
        let mut annotations = BTreeMap::new();
        annotations.insert(PARTS.to_owned(), parts.to_string());
        annotations.insert(DIGEST.to_owned(), digest);
        if let Some(g) = &generation {
            annotations.insert(GENERATION.to_owned(), g.clone());
        }
        head.metadata.annotations = Some(annotations);
        fluxbrain_core::crash::point(fluxbrain_core::crash::STATE_CONFIGMAP_MID_SAVE);
        let written = match seen.as_ref() {
            Some(s) => {
                head.metadata.resource_version = Some(s.resource_version.clone());
                self.call(
                    "replace",
                    self.api.replace(&self.name, &PostParams::default(), &head),
                )
                .await
            }
            None => {
                self.call("create", self.api.create(&PostParams::default(), &head))
                    .await
            }
        };
        let written = match written {
            Ok(w) => w,
            Err(e) => {
                if let Some(g) = &generation
                    && seen.as_ref().and_then(|s| s.generation.as_ref()) != Some(g)
                {
                    self.delete_parts(g, parts).await;
                }
                return Err(e);
            }
        };
        let previous = seen.replace(Seen {
            resource_version: written.metadata.resource_version.unwrap_or_default(),
            generation: generation.clone(),
            parts,
        });
        if let Some(old) = previous
            && let Some(old_generation) = old.generation
            && Some(&old_generation) != generation.as_ref()
        {
            self.delete_parts(&old_generation, old.parts).await;
        }
        Ok(())
    }

    async fn load_control(&self) -> Result<Option<(Control, Revision)>, StoreError> {
        let name = self.control_name();
        let Some(cm) = self.call("get control", self.api.get_opt(&name)).await? else {
            return Ok(None);
        };
        let corrupt = |message: String| StoreError::Corrupt {
            store: format!("configmap:{}/{name}", self.namespace),
            message: format!(
                "{message}; left as it is: inspect it, then `kubectl -n {} delete configmap {name}` to drop every silence and acknowledgement",
                self.namespace
            ),
        };
        let control = control_of(cm.data.as_ref()).map_err(corrupt)?;
        let revision = Revision(cm.metadata.resource_version.unwrap_or_default());
        Ok(Some((control, revision)))
    }

    async fn save_control(
        &self,
        control: &Control,
        expected: Option<&Revision>,
    ) -> Result<(), StoreError> {
        let text = String::from_utf8(control::encode(control))
            .map_err(|e| self.unavailable("encode control", e))?;
        let object = ConfigMap {
            metadata: ObjectMeta {
                name: Some(self.control_name()),
                namespace: Some(self.namespace.clone()),
                labels: Some([(MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned())].into()),
                resource_version: expected.map(|r| r.0.clone()),
                ..ObjectMeta::default()
            },
            data: Some([(CONTROL_KEY.to_owned(), text)].into()),
            ..ConfigMap::default()
        };
        // Creating one that exists, or replacing at a stale resourceVersion, is a 409: a
        // conflict, and the caller reads again.
        match expected {
            None => {
                self.call(
                    "create control",
                    self.api.create(&PostParams::default(), &object),
                )
                .await?;
            }
            Some(_) => {
                self.call(
                    "replace control",
                    self.api
                        .replace(&self.control_name(), &PostParams::default(), &object),
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// Where a head ConfigMap's annotations say the state is: in the head (`parts` 0), or in
/// `parts` part ConfigMaps of `generation`.
struct Layout {
    parts: usize,
    generation: Option<String>,
}

impl Layout {
    /// The names of the part ConfigMaps of head `name`, in order.
    fn part_names(&self, name: &str) -> Vec<String> {
        match &self.generation {
            Some(g) => (0..self.parts).map(|i| part_name(name, g, i)).collect(),
            None => Vec::new(),
        }
    }
}

fn part_name(name: &str, generation: &str, i: usize) -> String {
    format!("{name}-{generation}-{i}")
}

/// Where the compressed state was read, for messages.
fn subject(part_names: &[String]) -> String {
    if part_names.is_empty() {
        format!("binaryData.{DATA_KEY}")
    } else {
        format!("binaryData.{DATA_KEY} of parts {}", part_names.join(", "))
    }
}

/// Reads the head's annotations; what is wrong with them otherwise.
fn layout(annotations: &BTreeMap<String, String>) -> Result<Layout, String> {
    let parts: usize = match annotations.get(PARTS) {
        Some(p) => p
            .parse()
            .map_err(|_| format!("annotation {PARTS}={p:?} is not a number"))?,
        None => 0,
    };
    if parts > MAX_PARTS {
        return Err(format!(
            "annotation {PARTS} says {parts} parts, more than the {MAX_PARTS} fluxbrain ever \
             writes (garbled?)"
        ));
    }
    let generation = annotations.get(GENERATION).cloned();
    if parts > 0 && generation.is_none() {
        return Err(format!(
            "annotation {PARTS} says {parts} parts but {GENERATION} is missing"
        ));
    }
    Ok(Layout { parts, generation })
}

/// Why the stored state cannot be read.
enum Unreadable {
    /// What is wrong, naming `subject`.
    Damaged(String),
    /// The state version found, written by a newer fluxbrain.
    Newer(u32),
}

/// Checks `compressed` (the head's data, or the parts' joined) against its `digest`
/// annotation, then gunzips and decodes it; `subject` names where it was read.
fn unpack(compressed: &[u8], digest: Option<&str>, subject: &str) -> Result<State, Unreadable> {
    if let Some(expected) = digest
        && hex(&Sha256::digest(compressed)) != expected
    {
        return Err(Unreadable::Damaged(format!(
            "{subject} does not match its annotation {DIGEST} (cut short or changed by hand?)"
        )));
    }
    let mut json = Vec::new();
    GzDecoder::new(compressed)
        .read_to_end(&mut json)
        .map_err(|e| {
            Unreadable::Damaged(match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    format!("{subject} ends early ({e}): truncated?")
                }
                _ => format!("{subject} is not gzip data ({e})"),
            })
        })?;
    decode(&json).map_err(|e| match e {
        DecodeError::Newer { found } => Unreadable::Newer(found),
        problem => Unreadable::Damaged(format!("the state in {subject} (after gunzip) {problem}")),
    })
}

/// The control document in a control ConfigMap's `data`; what is wrong otherwise.
fn control_of(data: Option<&BTreeMap<String, String>>) -> Result<Control, String> {
    let text = data
        .and_then(|d| d.get(CONTROL_KEY))
        .ok_or_else(|| format!("no data.{CONTROL_KEY}"))?;
    control::decode(text.as_bytes())
}

/// Reads state as [`ConfigMapStore::load`] does, from a head ConfigMap's annotations and its
/// compressed data (the parts' data joined, when the annotations name parts), without a
/// cluster. For the fuzz targets in `fuzz/`; not a stable API.
#[doc(hidden)]
pub fn read_state(
    annotations: &BTreeMap<String, String>,
    compressed: &[u8],
) -> Result<State, String> {
    let parts = layout(annotations)?.part_names("fluxbrain-state");
    unpack(
        compressed,
        annotations.get(DIGEST).map(String::as_str),
        &subject(&parts),
    )
    .map_err(|e| match e {
        Unreadable::Damaged(problem) => problem,
        Unreadable::Newer(found) => format!("written by a newer fluxbrain (version {found})"),
    })
}

/// Reads a control ConfigMap's `data` as [`ConfigMapStore::load_control`] does. For the fuzz
/// targets in `fuzz/`; not a stable API.
#[doc(hidden)]
pub fn read_control(data: &BTreeMap<String, String>) -> Result<Control, String> {
    control_of(Some(data))
}

fn data_of(cm: &ConfigMap) -> Option<Vec<u8>> {
    cm.binary_data.as_ref()?.get(DATA_KEY).map(|b| b.0.clone())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Found by the `configmap_state` fuzz target: a garbled part count made the store build
    /// a name for each of millions of parts (out of memory) before reading any.
    #[test]
    fn a_garbled_part_count_is_refused_before_naming_parts() {
        let garbled = annotations(&[
            (PARTS, "00000000000000000008198552"),
            (GENERATION, "3f6c1d2a9b8e"),
        ]);
        let problem = read_state(&garbled, b"").unwrap_err();
        assert!(
            problem.contains("8198552 parts, more than the 1000"),
            "{problem}"
        );

        let most = MAX_PARTS.to_string();
        let layout = layout(&annotations(&[(PARTS, &most), (GENERATION, "g")])).unwrap();
        assert_eq!(layout.part_names("state").len(), MAX_PARTS);
    }

    #[test]
    fn parts_need_a_generation() {
        let problem = read_state(&annotations(&[(PARTS, "2")]), b"").unwrap_err();
        assert!(
            problem.contains("fluxbrain.io/generation is missing"),
            "{problem}"
        );
    }
}
