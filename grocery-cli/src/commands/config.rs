//! `grocery config show`.

use grocery_core::Config;

use crate::error::CliError;
use crate::output::Output;

/// Configuration commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the effective configuration (defaults, file, environment, flags).
    Show,
}

impl Command {
    pub fn run(self, config: &Config, out: &mut Output) -> Result<(), CliError> {
        match self {
            Command::Show if out.is_json() => Ok(out.json(config)?),
            Command::Show => Ok(out.line(config.to_toml()?.trim_end())?),
        }
    }
}
