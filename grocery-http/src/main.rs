//! `grocery-server`: serve the API (the same as `grocery serve`).
//!
//! `grocery-server [--bind ADDR] [--db PATH] [--config FILE] [--no-auth]`

use std::process::ExitCode;

use grocery_core::Config;

/// jemalloc: fewer cycles per allocation than glibc's malloc when the runtime,
/// the store's writer and its readers hand buffers between threads, and it
/// gives freed memory back to the system (after about a second, from a
/// background thread) instead of keeping it in per-thread arenas.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut options = grocery_http::ServeOptions::default();
    let (mut db, mut config_path) = (None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bind" => options.bind = args.next(),
            "--db" => db = args.next(),
            "--config" => config_path = args.next(),
            "--no-auth" => options.no_auth = true,
            "-h" | "--help" => {
                println!(
                    "grocery-server [--bind ADDR] [--db PATH] [--config FILE] [--no-auth]\n\
                     Serves the Grocery Agent API until SIGTERM or Ctrl-C."
                );
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("grocery-server: unknown argument `{other}` (try --help)");
                return ExitCode::from(64);
            }
        }
    }
    let mut config = match Config::load(config_path.as_deref().map(std::path::Path::new)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("grocery-server: {e}");
            return ExitCode::from(78);
        }
    };
    if let Some(db) = db {
        config.store.path = Some(db.into());
    }
    grocery_http::init_tracing(&config.server);
    let runtime = match grocery_http::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("grocery-server: {e}");
            return ExitCode::from(71);
        }
    };
    match runtime.block_on(grocery_http::run(config, options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("grocery-server: {e}");
            ExitCode::from(78)
        }
    }
}
