//! `grocery completions SHELL`.

use clap::CommandFactory;

use crate::error::CliError;

/// Print a shell completion script, e.g. `grocery completions bash >
/// /usr/share/bash-completion/completions/grocery`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

impl Args {
    pub fn run(self) -> Result<(), CliError> {
        let mut cmd = crate::cli::Cli::command();
        let mut stdout = std::io::stdout().lock();
        clap_complete::generate(self.shell, &mut cmd, "grocery", &mut stdout);
        Ok(())
    }
}
