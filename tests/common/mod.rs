//! Shared helpers for the integration tests: a `Grocery` on a temp dir.

#![allow(dead_code)] // each test binary uses a different subset

use grocery_core::{Config, Grocery};
use tempfile::TempDir;

/// A fresh database (with the embedded catalog) in its own temp dir.
pub struct TestGrocery {
    pub grocery: Grocery,
    pub dir: TempDir,
}

pub fn config_in(dir: &TempDir) -> Config {
    let mut config = Config::default();
    config.store.path = Some(dir.path().join("grocery.db"));
    config
}

pub async fn open() -> TestGrocery {
    let dir = tempfile::tempdir().expect("temp dir");
    let grocery = Grocery::open(config_in(&dir)).await.expect("open");
    TestGrocery { grocery, dir }
}

pub async fn open_empty() -> TestGrocery {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = config_in(&dir);
    config.store.seed_catalog = false;
    let grocery = Grocery::open(config).await.expect("open");
    TestGrocery { grocery, dir }
}
