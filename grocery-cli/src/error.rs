//! CLI errors and their exit codes (sysexits.h).

use std::process::ExitCode;

use grocery_core::ErrorKind;

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An error from the core library.
    #[error(transparent)]
    Core(#[from] grocery_core::Error),
    /// Writing output failed.
    #[error("i/o error")]
    Io(#[from] std::io::Error),
    /// The command line is well-formed but asks for something impossible.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Core(e) => match e.kind() {
                ErrorKind::NotUnderstood
                | ErrorKind::InvalidInput
                | ErrorKind::Conflict
                | ErrorKind::StaleVersion => 65,
                ErrorKind::Forbidden => 77,
                ErrorKind::NotFound => 66,
                ErrorKind::Upstream => 69,
                ErrorKind::Timeout => 75,
                ErrorKind::Config => 78,
                ErrorKind::Internal => 70,
            },
            CliError::Io(_) => 74,
            CliError::Usage(_) => 64,
        }
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            CliError::Core(e) => match e.kind() {
                ErrorKind::Config => Some("check --config, GROCERY_* variables and --db"),
                ErrorKind::InvalidInput => Some("fix the input and run the command again"),
                ErrorKind::Internal => Some("run again with -vv for details"),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Print the error with its source chain once, and return its exit code.
pub fn report(e: &CliError) -> ExitCode {
    // `grocery ... | head`: the reader left; that is not a failure.
    if let CliError::Io(io) = e
        && io.kind() == std::io::ErrorKind::BrokenPipe
    {
        return ExitCode::SUCCESS;
    }
    let mut msg = format!("error: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    eprintln!("{msg}");
    if let Some(h) = e.hint() {
        eprintln!("hint: {h}");
    }
    ExitCode::from(e.exit_code())
}
