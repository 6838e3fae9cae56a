//! One module per subcommand.

pub mod ack;
#[cfg(feature = "sim")]
pub mod demo;
pub mod render;
pub mod run;
pub mod silence;
#[cfg(feature = "sim")]
pub mod sim;
pub mod status;
pub mod target;
#[cfg(not(feature = "sim"))]
mod without_sim;
#[cfg(not(feature = "sim"))]
pub use without_sim::{demo, sim};

/// A multi-thread async runtime, or the exit code after saying why there is none.
pub(crate) fn runtime(command: &str) -> Result<tokio::runtime::Runtime, std::process::ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("fluxbrain {command}: cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        })
}

/// A multi-thread async runtime, or the error saying why there is none.
pub(crate) fn runtime_or_error() -> Result<tokio::runtime::Runtime, crate::error::CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(crate::error::CliError::Runtime)
}
