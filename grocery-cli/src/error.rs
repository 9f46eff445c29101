//! CLI errors and their exit codes (sysexits.h).

use std::process::ExitCode;

use grocery_core::ErrorKind;

use crate::output::Style;

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
    /// The server could not start or stopped with an error.
    #[error(transparent)]
    Serve(grocery_http::ServeError),
}

impl From<grocery_http::ServeError> for CliError {
    fn from(e: grocery_http::ServeError) -> Self {
        match e {
            grocery_http::ServeError::Core(c) => CliError::Core(c),
            other => CliError::Serve(other),
        }
    }
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            // A file the command named could not be read or written.
            CliError::Core(grocery_core::Error::Io { .. }) => 74,
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
            CliError::Serve(grocery_http::ServeError::Io { .. }) => 74,
            CliError::Serve(_) => 64,
        }
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            CliError::Core(e) => match e.kind() {
                ErrorKind::Config => Some("check --config, GROCERY_* variables and --db"),
                ErrorKind::InvalidInput => Some("fix the input and run the command again"),
                ErrorKind::NotUnderstood => Some("say it plainly, e.g. \"add milk and eggs\""),
                ErrorKind::NotFound => {
                    Some("`grocery list all`, `grocery list`, `grocery user list` show what exists")
                }
                ErrorKind::Conflict => Some("pick another name, or stop the other process"),
                ErrorKind::Forbidden => Some("ask the list's owner"),
                ErrorKind::StaleVersion => Some("read it again and retry"),
                ErrorKind::Upstream | ErrorKind::Timeout => {
                    Some("the price source is unavailable; try again later")
                }
                ErrorKind::Internal => Some("run again with -vv for details"),
            },
            CliError::Io(_) => Some("check the file or the output stream"),
            CliError::Usage(_) => Some("see `grocery --help`"),
            CliError::Serve(grocery_http::ServeError::Io { .. }) => {
                Some("is another server using the address? try --bind 127.0.0.1:PORT")
            }
            CliError::Serve(_) => Some("see `grocery serve --help`"),
        }
    }
}

/// The exit codes, for `--help`.
pub const EXIT_CODES: &str = "\
Exit codes (sysexits):
  0   success
  2   unknown command or flag, missing argument (clap)
  64  usage: a well-formed command that asks for something impossible
  65  invalid input: not understood, malformed, out of range, or a conflict
  66  not found: no such list, item, product, user or file
  69  a price source is unavailable
  70  internal error (storage, a bug)
  74  I/O error reading or writing a file or the output
  75  a price source timed out
  77  not allowed: the list is shared with you to view only
  78  configuration error: bad --config, GROCERY_* variable or --db file";

/// Print the error with its source chain and hint on stderr, once (red
/// `error:` on a terminal).
pub fn print(e: &CliError) {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    let color = crate::output::use_color(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    eprintln!("{} {msg}", Style::Red.paint(color, "error:"));
    if let Some(h) = e.hint() {
        eprintln!("{} {h}", Style::Dim.paint(color, "hint:"));
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
    print(e);
    ExitCode::from(e.exit_code())
}
