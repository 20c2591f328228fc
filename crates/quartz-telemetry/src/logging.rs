use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Sets up tracing to stderr. `RUST_LOG` wins when set; otherwise `verbosity` (count of `-v`)
/// picks info, debug or trace for Quartz's own targets and warn for dependencies.
pub fn init_tracing(verbosity: u8, format: LogFormat) {
    let default = match verbosity {
        0 => "warn,quartz=info",
        1 => "warn,quartz=debug,tower_http=debug",
        _ => "info,quartz=trace,tower_http=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Ignore the error of a second init (tests); the first subscriber stays.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
