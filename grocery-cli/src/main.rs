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
    // A server logs as its configuration says (set up once that is read);
    // other commands print their own lines and log only with -v.
    let serves = cli.serves();
    if !serves {
        cli::init_tracing(cli.verbose, cli.quiet);
    }
    let runtime = if serves {
        grocery_http::runtime()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => return error::report(&error::CliError::Io(e)),
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => error::report(&e),
    }
}
