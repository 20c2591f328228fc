//! One module per subcommand: its clap `Args` and an async `run`.

pub mod monitor;
pub mod registry;
