//! One module per subcommand: its clap `Args` and an async `run`.

pub mod adapter;
pub mod cost;
pub mod deploy;
pub mod doctor;
pub mod executions;
pub mod logs;
pub mod monitor;
pub mod package;
pub mod performers;
pub mod registry;
pub mod release;
pub mod rollback;
pub mod runtime;
pub mod status;
pub mod synth;
pub mod up;
