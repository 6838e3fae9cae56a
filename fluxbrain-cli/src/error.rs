//! The one error type of the command line: each variant names what the user set or what
//! failed, and says which exit code it means.

use std::fmt;
use std::process::ExitCode;

/// Everything a `fluxbrain` command can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A setting has a value fluxbrain cannot use. `name` is what the user set: the flag
    /// (`--requeue-interval`) when it came from the command line, the variable
    /// (`FLUXBRAIN_REQUEUE_INTERVAL`) when it came from the environment.
    #[error("{name}: {problem}")]
    Setting {
        /// The flag or the variable.
        name: String,
        /// What is wrong with its value.
        problem: String,
    },
    /// Several problems, reported together.
    #[error("{}", Lines(.0))]
    Several(Vec<CliError>),
    /// A notifier or the analyzer is misconfigured (the message names its variable).
    #[error(transparent)]
    Notify(#[from] fluxbrain_notify::Error),
    /// The clusters could not be configured (the message names the variable or kubeconfig).
    #[error(transparent)]
    Collector(#[from] fluxbrain_kube::collector::Error),
    /// No cluster to read: no kubeconfig, not in a pod.
    #[error(
        "no cluster to read: {tried}; point fluxbrain at a cluster with KUBECONFIG=PATH (or \
         ~/.kube/config), --context NAME=CONTEXT for several, or run it in a pod"
    )]
    NoCluster {
        /// What was looked for.
        tried: String,
    },
    /// The state store could not be opened, read or written.
    #[error("state {store}: {problem}")]
    State {
        /// The store (`file:...`, `configmap:...`).
        store: String,
        /// What failed.
        problem: String,
    },
    /// The HTTP endpoints could not listen.
    #[error("cannot listen on {addr} (FLUXBRAIN_LISTEN)")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// A running instance could not be asked.
    #[error("{url}: {problem}")]
    Server {
        /// What was asked.
        url: String,
        /// What went wrong.
        problem: String,
    },
    /// Writing the output failed.
    /// An operator's request (a silence, an ack) was refused: `usage` when it was malformed
    /// (exit 2), otherwise it named something that does not exist (exit 1).
    #[error("{problem}")]
    Refused {
        /// What was wrong.
        problem: String,
        /// Whether it was a malformed request.
        usage: bool,
    },
    #[error("writing to stdout")]
    Output(#[source] std::io::Error),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
}

impl From<fluxbrain_core::ControlError> for CliError {
    fn from(e: fluxbrain_core::ControlError) -> Self {
        use fluxbrain_core::ControlError as E;
        let usage = !matches!(
            e,
            E::UnknownSilence(_)
                | E::AmbiguousSilence(_)
                | E::SilenceEnded { .. }
                | E::UnknownIncident(_)
                | E::AmbiguousIncident(_)
        );
        CliError::Refused {
            problem: e.to_string(),
            usage,
        }
    }
}

impl CliError {
    /// Whether the user can fix it by changing a flag or variable (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            CliError::Setting { .. } | CliError::NoCluster { .. } => true,
            CliError::Refused { usage, .. } => *usage,
            CliError::Several(all) => all.iter().all(CliError::is_usage),
            CliError::Notify(e) => e.retry() == fluxbrain_core::Retry::Never,
            CliError::Collector(e) => e.is_configuration(),
            _ => false,
        }
    }

    /// 2 for usage and configuration errors, 1 for everything else.
    pub fn exit_code(&self) -> ExitCode {
        if self.is_usage() {
            ExitCode::from(2)
        } else {
            ExitCode::FAILURE
        }
    }

    /// Several problems as one error (or the only one, or none).
    pub fn all(mut problems: Vec<CliError>) -> Result<(), CliError> {
        match problems.len() {
            0 => Ok(()),
            1 => Err(problems.remove(0)),
            _ => Err(CliError::Several(problems)),
        }
    }

    /// Prints the error and its causes once on stderr, prefixed by `command`, and returns
    /// its exit code.
    pub fn report(&self, command: &str) -> ExitCode {
        match self {
            CliError::Several(all) => {
                eprintln!("fluxbrain {command}: {} problems:", all.len());
                for e in all {
                    eprintln!("  - {}", chain(e));
                }
            }
            e => eprintln!("fluxbrain {command}: {}", chain(e)),
        }
        self.exit_code()
    }
}

/// An error and its causes, `: `-separated, skipping a cause whose text the previous one
/// already ends with (kube and hyper repeat their sources).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// One error per line.
struct Lines<'a>(&'a [CliError]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
