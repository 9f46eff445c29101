//! `grocery`: shopping lists and catalog search from the terminal.

mod cli;
mod commands;
mod error;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// jemalloc, as in `grocery-server`: `grocery serve` is the same server.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // A server logs by default; other commands print their own lines.
    let serves = cli.serves();
    cli::init_tracing(
        if serves {
            cli.verbose.max(1)
        } else {
            cli.verbose
        },
        cli.quiet,
    );
    let mut builder = if serves {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return error::report(&error::CliError::Io(e)),
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => error::report(&e),
    }
}
