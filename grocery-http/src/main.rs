//! `grocery-http`: serve the API on `GROCERY_HTTP_ADDR` (default 127.0.0.1:8080).

use grocery_core::{Config, Grocery};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = Config::load(None)?;
    let grocery = Grocery::open(config).await?;
    let addr = std::env::var("GROCERY_HTTP_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%addr, "listening");
    let shutdown = async {
        // If the signal handler cannot be installed, run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    grocery_http::serve(grocery, listener, shutdown).await?;
    Ok(())
}
