//! The one error type of the simulator.

use std::path::PathBuf;

/// Errors of `fluxbrain-sim`: loading a state folder or script, serving, writing a kubeconfig.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A state file or script holds a document that is not valid YAML or JSON.
    #[error("{path}: document {document}: not valid YAML/JSON")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based index of the YAML document in the file.
        document: usize,
        /// The parser's error (it carries line and column).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A state file or script document is well-formed but not what the simulator accepts.
    #[error("{path}: document {document}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based index of the document (for scripts, of the step).
        document: usize,
        /// What is wrong.
        message: String,
    },
    /// A script step is not what the script format accepts (see [`crate::Script`]).
    #[error("{path}: step {step}: {message}")]
    Script {
        /// The script file.
        path: PathBuf,
        /// 1-based index of the step; 0 for the script's top level.
        step: usize,
        /// What is wrong.
        message: String,
    },
    /// A scripted step could not be applied when its time came.
    #[error("script step {step} ({action}) at {at}: {message}")]
    Step {
        /// 1-based index of the step in the script.
        step: usize,
        /// The step's action name.
        action: &'static str,
        /// The step's time offset as written.
        at: String,
        /// What went wrong.
        message: String,
    },
    /// The server could not bind or serve.
    #[error("simulator server on {addr}")]
    Serve {
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
