//! One module per subcommand.

#[cfg(feature = "sim")]
pub mod demo;
pub mod render;
pub mod run;
#[cfg(feature = "sim")]
pub mod sim;
pub mod status;
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
