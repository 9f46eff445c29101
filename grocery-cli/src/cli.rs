//! Global flags and the command tree.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use grocery_core::{Config, Grocery};

use crate::commands;
use crate::error::CliError;
use crate::output::Output;

/// Grocery Agent: shopping lists and a product catalog that understands how people shop.
#[derive(Debug, Parser)]
#[command(
    name = "grocery",
    version,
    about,
    propagate_version = true,
    after_long_help = crate::error::EXIT_CODES
)]
pub struct Cli {
    /// Database file (default: grocery.db in the user's data directory).
    #[arg(long, global = true, env = "GROCERY_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Configuration file (default: $GROCERY_CONFIG, then the user's config directory).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print machine-readable JSON (the core's types) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Only print errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More logging (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Tell the agent what you need (also: grocery "TEXT").
    Ask(commands::ask::Args),
    /// Talk to the agent line by line, keeping the conversation.
    Chat(commands::chat::Args),
    /// Show and edit your lists (without a subcommand: the current list).
    List(commands::list::Args),
    /// Search the product catalog.
    Search(commands::search::Args),
    /// The current price of a product.
    Price(commands::prices::PriceArgs),
    /// Deals on your list, or (--all) everything on sale.
    Deals(commands::deals::DealsArgs),
    /// The cheapest way to buy your list across stores.
    Optimize(commands::deals::OptimizeArgs),
    /// What you usually buy, and what is due again.
    Usuals(commands::deals::UsualsArgs),
    /// A product's price history.
    History(commands::prices::HistoryArgs),
    /// Watch a product's price.
    Track(commands::prices::TrackArgs),
    /// Price alerts.
    Alerts(commands::prices::AlertsArgs),
    /// The price cache: stats, warm, clear.
    #[command(subcommand)]
    Cache(commands::prices::CacheCommand),
    /// Show what the agent understands, one JSON object per stdin line.
    Parse(commands::parse::Args),
    /// Catalog statistics and import.
    #[command(subcommand)]
    Catalog(commands::catalog::Command),
    /// Show the effective configuration.
    #[command(subcommand)]
    Config(commands::config::Command),
    /// Users and their API tokens.
    #[command(subcommand)]
    User(commands::user::Command),
    /// Copy the database to FILE while it is in use.
    Backup(commands::db::BackupArgs),
    /// Replace the database with a backup.
    Restore(commands::db::RestoreArgs),
    /// Print a shell completion script.
    Completions(commands::completions::Args),
    /// Serve the HTTP API and web page until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Anything else is a request for the agent: grocery "add milk and eggs".
    #[command(external_subcommand)]
    Text(Vec<String>),
}

/// `grocery serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default: `[server] bind`, 127.0.0.1:8080).
    #[arg(long)]
    bind: Option<String>,
    /// Single-user mode: no tokens, every request is the local user. Refused
    /// on any address but loopback.
    #[arg(long)]
    no_auth: bool,
}

impl Cli {
    /// Whether the command is `serve` (a long-running server: logs on, a
    /// multi-threaded runtime).
    pub fn serves(&self) -> bool {
        matches!(self.command, Command::Serve(_))
    }

    /// Load the configuration, open the store and run the command.
    pub async fn run(self) -> Result<(), CliError> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(db) = self.db {
            config.store.path = Some(db);
        }
        let mut out = Output::new(self.json, self.quiet);
        // These work on files, not on an open database.
        let command = match self.command {
            Command::Config(cmd) => return cmd.run(&config, &mut out),
            Command::Completions(args) => return args.run(),
            Command::Restore(args) => return args.run(&config.database_path()?, &mut out).await,
            Command::Serve(args) => {
                // -q and -v win over `[server] log_level` (RUST_LOG over both).
                if let Some(level) = flag_level(self.verbose, self.quiet) {
                    config.server.log_level = level.into();
                }
                grocery_http::init_tracing(&config.server);
                let options = grocery_http::ServeOptions {
                    bind: args.bind,
                    no_auth: args.no_auth,
                };
                return Ok(grocery_http::run(config, options).await?);
            }
            other => other,
        };
        let grocery = Grocery::open(config).await?;
        let done = match command {
            Command::Ask(args) => args.run(&grocery, &mut out).await,
            Command::Chat(args) => args.run(&grocery, &mut out).await,
            Command::List(args) => args.run(&grocery, &mut out).await,
            Command::User(cmd) => cmd.run(&grocery, &mut out).await,
            Command::Backup(args) => args.run(&grocery, &mut out).await,
            Command::Text(words) => {
                commands::ask::Args::from_words(words)
                    .run(&grocery, &mut out)
                    .await
            }
            Command::Search(args) => args.run(&grocery, &mut out).await,
            Command::Catalog(cmd) => cmd.run(&grocery, &mut out).await,
            Command::Parse(args) => args.run(&grocery, &mut out).await,
            Command::Price(args) => args.run(&grocery, &mut out).await,
            Command::Deals(args) => args.run(&grocery, &mut out).await,
            Command::Optimize(args) => args.run(&grocery, &mut out).await,
            Command::Usuals(args) => args.run(&grocery, &mut out).await,
            Command::History(args) => args.run(&grocery, &mut out).await,
            Command::Track(args) => args.run(&grocery, &mut out).await,
            Command::Alerts(args) => args.run(&grocery, &mut out).await,
            Command::Cache(cmd) => cmd.run(&grocery, &mut out).await,
            Command::Config(_)
            | Command::Completions(_)
            | Command::Restore(_)
            | Command::Serve(_) => Ok(()),
        };
        // The next run continues this conversation and counts this run's cache use.
        let flushed = grocery.flush().await;
        done?;
        Ok(flushed?)
    }
}

/// The log level `-q` or `-v`/`-vv` ask for; `None` without either.
fn flag_level(verbose: u8, quiet: bool) -> Option<&'static str> {
    match (quiet, verbose) {
        (true, _) => Some("error"),
        (false, 0) => None,
        (false, 1) => Some("info"),
        _ => Some("debug"),
    }
}

/// Log to stderr; `RUST_LOG` overrides the level.
pub fn init_tracing(verbose: u8, quiet: bool) {
    // The command prints its own error line; logs are opt-in.
    let level = flag_level(verbose, quiet).unwrap_or("off");
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .init();
}
