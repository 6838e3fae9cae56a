//! The file state store: one versioned JSON file, replaced atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use fluxbrain_core::control::{self, Control, Revision};
use fluxbrain_core::engine::{State, StateStore, StoreError, decode, encode};
use sha2::{Digest, Sha256};

/// Keeps the engine's state in one file, and the operators' control document (silences,
/// acknowledgements) beside it (`state.json` → `state.control.json`).
///
/// Saves write a temporary file beside it, fsync it, rename it over the old one and fsync the
/// folder, so a crash leaves the old or the new state. A file that cannot be read is renamed
/// aside (`<file>.corrupt-<unix seconds>`) and reported, never silently replaced.
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
        decode(&bytes).map(Some).map_err(|problem| {
            let seconds = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let aside = self.path.with_file_name(format!(
                "{}.corrupt-{seconds}",
                self.path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("state.json")
            ));
            let kept = match std::fs::rename(&self.path, &aside) {
                Ok(()) => format!(
                    "kept as {}; the next start begins with empty state",
                    aside.display()
                ),
                Err(e) => format!("could not move it aside ({e}); move or delete it to start over"),
            };
            StoreError::Corrupt {
                store: self.name(),
                message: format!("{problem}; {kept}"),
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
        std::fs::rename(&tmp, path)?;
        // The rename is durable once the folder is.
        std::fs::File::open(&dir)?.sync_all()
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
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

    #[tokio::test]
    async fn corrupt_file_is_an_error_and_is_kept_aside() {
        let dir = temp_dir("corrupt");
        let path = dir.join("state.json");
        std::fs::write(&path, b"{\"version\": 1, \"incidents\": [").unwrap();
        let store = FileStore::new(&path);
        let err = store.load().await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{text}");
        assert!(
            text.contains(&path.display().to_string()) && text.contains("kept as"),
            "{text}"
        );
        let aside: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            aside.iter().any(|n| n.starts_with("state.json.corrupt-")),
            "{aside:?}"
        );
        assert_eq!(
            store.load().await.unwrap(),
            None,
            "starts over after moving it aside"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn other_versions_are_refused() {
        let dir = temp_dir("version");
        let path = dir.join("state.json");
        std::fs::write(&path, br#"{"version": 2}"#).unwrap();
        let err = FileStore::new(&path).load().await.unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
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
