//! The file state store: one versioned JSON file, replaced atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use fluxbrain_core::control::{self, Control, Revision};
use fluxbrain_core::engine::{
    DecodeError, STATE_VERSION, State, StateStore, StoreError, decode, encode,
};
use sha2::{Digest, Sha256};

/// Keeps the engine's state in one file, and the operators' control document (silences,
/// acknowledgements) beside it (`state.json` → `state.control.json`).
///
/// Saves write a temporary file beside it, fsync it, rename it over the old one and fsync the
/// folder, so a crash leaves the old or the new state.
///
/// A state file that cannot be read (truncated, garbled) is an error naming the file and what
/// is wrong; it is left where it is, so every later start refuses too until an operator moves
/// it away (under a restart policy, renaming it aside would start over on the next restart, by
/// itself), and a copy is kept as `<file>.bad-<UTC time>` (one per distinct content), so
/// deleting the file to start over still leaves it for a bug report. A file written by a newer
/// fluxbrain is left untouched and no copy is made: it is not damaged, and that fluxbrain reads
/// it.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store at `path` (its folder is created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore { path: path.into() }
    }

    /// The default location: `$XDG_STATE_HOME/fluxbrain/state.json`, else
    /// `~/.local/state/fluxbrain/state.json`, else `./fluxbrain-state.json`.
    pub fn default_path(lookup: impl Fn(&str) -> Option<String>) -> PathBuf {
        if let Some(dir) = lookup("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
            return Path::new(&dir).join("fluxbrain/state.json");
        }
        match lookup("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Path::new(&home).join(".local/state/fluxbrain/state.json"),
            None => PathBuf::from("fluxbrain-state.json"),
        }
    }

    /// The control document's path: `<stem>.control.json` beside the state.
    pub fn control_path(&self) -> PathBuf {
        let stem = self
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("state");
        self.path.with_file_name(format!("{stem}.control.json"))
    }

    fn load_control_blocking(&self) -> Result<Option<(Control, Revision)>, StoreError> {
        let path = self.control_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(self.error(format!("cannot read {}: {e}", path.display())));
            }
        };
        let control = control::decode(&bytes).map_err(|problem| StoreError::Corrupt {
            store: format!("file:{}", path.display()),
            message: format!(
                "{problem}; left as it is: fix it, or delete it to drop every silence and acknowledgement"
            ),
        })?;
        Ok(Some((control, revision_of(&bytes))))
    }

    /// Compare-and-swap under an exclusive lock on `<control>.lock`, so that two processes
    /// writing at once cannot both win.
    fn save_control_blocking(
        &self,
        bytes: &[u8],
        expected: Option<&Revision>,
    ) -> Result<(), StoreError> {
        let path = self.control_path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| self.error(format!("cannot create {}: {e}", dir.display())))?;
        }
        let lock_path = path.with_extension("json.lock");
        let lock = std::fs::File::create(&lock_path)
            .map_err(|e| self.error(format!("cannot open {}: {e}", lock_path.display())))?;
        lock.lock()
            .map_err(|e| self.error(format!("cannot lock {}: {e}", lock_path.display())))?;
        let current = match std::fs::read(&path) {
            Ok(bytes) => Some(revision_of(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.error(format!("cannot read {}: {e}", path.display()))),
        };
        if current.as_ref() != expected {
            return Err(StoreError::Conflict {
                store: format!("file:{}", path.display()),
            });
        }
        write_atomically(&path, bytes)
            .map_err(|e| self.error(format!("cannot write {}: {e}", path.display())))
    }

    fn error(&self, message: String) -> StoreError {
        StoreError::Unavailable {
            store: self.name(),
            message,
        }
    }

    fn load_blocking(&self) -> Result<Option<State>, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(format!("cannot read: {e}"))),
        };
        let path = self.path.display();
        decode(&bytes).map(Some).map_err(|e| match e {
            DecodeError::Newer { found } => StoreError::Newer {
                store: self.name(),
                found,
                reads: STATE_VERSION,
                message: format!(
                    "left as it is: run that fluxbrain (or a newer one) again, or, to start over \
                     with this one, move {path} away"
                ),
            },
            problem => {
                let stamp = jiff::Timestamp::now()
                    .strftime("%Y%m%dT%H%M%SZ")
                    .to_string();
                let kept = match keep_copy(&self.path, &bytes, &stamp) {
                    Ok(copy) => format!("a copy is kept as {}", copy.display()),
                    Err(e) => format!("no copy could be kept ({e}); the file is left as it is"),
                };
                StoreError::Corrupt {
                    store: self.name(),
                    message: format!(
                        "the file {problem}; {kept}; to start over, move {path} away (or delete it)"
                    ),
                }
            }
        })
    }

    fn save_blocking(&self, bytes: &[u8]) -> Result<(), StoreError> {
        write_atomically(&self.path, bytes).map_err(|e| self.error(format!("cannot write: {e}")))
    }
}

/// Writes a temporary file beside `path`, fsyncs it, renames it over `path` and fsyncs the
/// folder (created if missing): a crash leaves the old or the new content.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fluxbrain_core::crash::point(fluxbrain_core::crash::STATE_FILE_MID_SAVE);
        std::fs::rename(&tmp, path)?;
        // The rename is durable once the folder is.
        std::fs::File::open(&dir)?.sync_all()
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Keeps `bytes`, read from `path` and found damaged, as `<path>.bad-<stamp>` beside it, or
/// names the copy an earlier load already kept of the same bytes (a process that restarts
/// over and over keeps one copy, not one per start). Never overwrites a file.
fn keep_copy(path: &Path, bytes: &[u8], stamp: &str) -> std::io::Result<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let prefix = format!(
        "{}.bad-",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state")
    );
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let kept = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix))
            && entry
                .metadata()
                .is_ok_and(|m| m.is_file() && m.len() == size)
            && std::fs::read(entry.path()).is_ok_and(|b| b == bytes);
        if kept {
            return Ok(entry.path());
        }
    }
    // Two different damaged files in one second: the second gets a suffix.
    for n in 1..=100 {
        let name = match n {
            1 => format!("{prefix}{stamp}"),
            n => format!("{prefix}{stamp}-{n}"),
        };
        let copy = dir.join(name);
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&copy)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        return file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .map(|()| copy.clone())
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&copy);
            });
    }
    Err(std::io::Error::other(format!(
        "{prefix}{stamp} and 99 more names are taken"
    )))
}

fn revision_of(bytes: &[u8]) -> Revision {
    Revision(
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

#[async_trait::async_trait]
impl StateStore for FileStore {
    fn name(&self) -> String {
        format!("file:{}", self.path.display())
    }

    async fn load(&self) -> Result<Option<State>, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.load_blocking())
            .await
            .map_err(|e| self.error(format!("load task failed: {e}")))?
    }

    async fn save(&self, state: &State) -> Result<(), StoreError> {
        let bytes = encode(state);
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.save_blocking(&bytes))
            .await
            .map_err(|e| self.error(format!("save task failed: {e}")))?
    }

    async fn load_control(&self) -> Result<Option<(Control, Revision)>, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.load_control_blocking())
            .await
            .map_err(|e| self.error(format!("load task failed: {e}")))?
    }

    async fn save_control(
        &self,
        control: &Control,
        expected: Option<&Revision>,
    ) -> Result<(), StoreError> {
        let bytes = control::encode(control);
        let expected = expected.cloned();
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.save_control_blocking(&bytes, expected.as_ref()))
            .await
            .map_err(|e| self.error(format!("save task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fluxbrain-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn conformance() {
        let dir = temp_dir("conformance");
        fluxbrain_core::engine::conformance::run(&FileStore::new(dir.join("sub/state.json"))).await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The names in `dir` that start with `prefix`, sorted.
    fn names(dir: &Path, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(prefix))
            .collect();
        names.sort();
        names
    }

    /// Loads `bytes` as a state file: the error, and the store (to load again).
    async fn damaged(dir: &Path, bytes: &[u8]) -> (String, FileStore) {
        let path = dir.join("state.json");
        std::fs::write(&path, bytes).unwrap();
        let store = FileStore::new(&path);
        let err = store.load().await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        (err.to_string(), store)
    }

    #[tokio::test]
    async fn a_truncated_file_is_an_error_naming_it_kept_in_place_and_copied() {
        let dir = temp_dir("truncated");
        let path = dir.join("state.json");
        let whole = encode(&fluxbrain_core::engine::conformance::sample_state(20));
        let cut = &whole[..whole.len() / 2];
        let (text, store) = damaged(&dir, cut).await;
        let copies = names(&dir, "state.json.bad-");
        assert_eq!(copies.len(), 1, "{copies:?}");
        let copy = dir.join(&copies[0]);
        assert_eq!(
            text,
            format!(
                "file:{path}: the file ends early (EOF while parsing a string at line 1 column \
                 {len}): truncated?; a copy is kept as {copy}; to start over, move {path} away \
                 (or delete it)",
                path = path.display(),
                len = cut.len(),
                copy = copy.display(),
            )
        );
        assert_eq!(
            std::fs::read(&copy).unwrap(),
            cut,
            "the copy is the bad file"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            cut,
            "the file is left in place"
        );

        // Every start refuses again, and one copy of the same bytes is enough.
        let again = store.load().await.unwrap_err().to_string();
        assert!(again.contains(&copy.display().to_string()), "{again}");
        assert_eq!(names(&dir, "state.json.bad-"), copies);

        // Moved away (as the error says): the next start begins empty.
        std::fs::rename(&path, dir.join("aside.json")).unwrap();
        assert_eq!(store.load().await.unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn garbage_and_strangers_are_errors_saying_what_they_are() {
        let dir = temp_dir("garbage");
        for (bytes, problem) in [
            (
                &b"\x1f\x8b\x08\x00\x00\x00"[..],
                "the file is not valid JSON (expected value at line 1 column 1)",
            ),
            (b"", "the file is empty"),
            (
                br#"{"apiVersion": "v1", "kind": "ConfigMap"}"#,
                "the file is not fluxbrain state (missing field `version` at line 1 column 41)",
            ),
        ] {
            let (text, _) = damaged(&dir, bytes).await;
            assert!(text.contains(problem), "{text}");
        }
        // One copy per distinct content.
        assert_eq!(names(&dir, "state.json.bad-").len(), 3);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_file_from_a_newer_fluxbrain_is_refused_and_left_untouched() {
        let dir = temp_dir("newer");
        let path = dir.join("state.json");
        let newer = STATE_VERSION + 2;
        let bytes = format!(r#"{{"version": {newer}, "incidents": {{"in": "a new shape"}}}}"#);
        std::fs::write(&path, &bytes).unwrap();
        let err = FileStore::new(&path).load().await.unwrap_err();
        assert_eq!(
            err,
            StoreError::Newer {
                store: format!("file:{}", path.display()),
                found: newer,
                reads: STATE_VERSION,
                message: format!(
                    "left as it is: run that fluxbrain (or a newer one) again, or, to start over \
                     with this one, move {} away",
                    path.display()
                ),
            }
        );
        assert!(
            err.to_string().contains(&format!(
                "written by a newer fluxbrain (state version {newer}; this one reads \
                 {STATE_VERSION})"
            )),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), bytes);
        assert_eq!(names(&dir, "state.json."), Vec::<String>::new(), "no copy");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn copies_never_overwrite_each_other() {
        let dir = temp_dir("copies");
        let path = dir.join("state.json");
        let first = keep_copy(&path, b"{", "20260421T100000Z").unwrap();
        let second = keep_copy(&path, b"[", "20260421T100000Z").unwrap();
        let first_again = keep_copy(&path, b"{", "20260421T100001Z").unwrap();
        assert_eq!(first, dir.join("state.json.bad-20260421T100000Z"));
        assert_eq!(second, dir.join("state.json.bad-20260421T100000Z-2"));
        assert_eq!(first_again, first);
        assert_eq!(std::fs::read(&first).unwrap(), b"{");
        assert_eq!(std::fs::read(&second).unwrap(), b"[");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn default_path_follows_xdg() {
        let xdg = |k: &str| (k == "XDG_STATE_HOME").then(|| "/x".to_owned());
        assert_eq!(
            FileStore::default_path(xdg),
            Path::new("/x/fluxbrain/state.json")
        );
        let home = |k: &str| (k == "HOME").then(|| "/h".to_owned());
        assert_eq!(
            FileStore::default_path(home),
            Path::new("/h/.local/state/fluxbrain/state.json")
        );
    }
}
