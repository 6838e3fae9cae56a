//! One module per subcommand.

pub mod demo;
pub mod render;
pub mod run;
pub mod sim;
pub mod status;
