//! # grocery-py
//!
//! Python bindings for Grocery Agent, built with maturin as the module
//! `grocery._grocery` and re-exported by the `grocery` package. This first cut
//! exposes catalog search; lists and the agent follow.
//!
//! ```python
//! import grocery
//! g = grocery.Grocery(db="/tmp/g.db")
//! print(g.search("oj", limit=3)[0]["name"])
//! ```

use std::path::PathBuf;
use std::sync::LazyLock;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    grocery,
    GroceryError,
    PyException,
    "Base class of every grocery error."
);

/// One tokio runtime per process, shared by every handle.
static RUNTIME: LazyLock<Result<tokio::runtime::Runtime, String>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
});

fn run<T: Send>(
    py: Python<'_>,
    fut: impl std::future::Future<Output = grocery_core::Result<T>> + Send,
) -> PyResult<T> {
    let rt = RUNTIME
        .as_ref()
        .map_err(|e| GroceryError::new_err(e.clone()))?;
    py.detach(|| rt.block_on(fut))
        .map_err(|e| GroceryError::new_err(e.to_string()))
}

/// A handle on a grocery database.
#[pyclass(name = "Grocery", module = "grocery", frozen)]
struct PyGrocery {
    inner: grocery_core::Grocery,
}

#[pymethods]
impl PyGrocery {
    /// Open a database (default: the user's data directory).
    ///
    /// Args:
    ///     db: path of the SQLite file.
    ///
    /// Raises:
    ///     GroceryError: the database cannot be opened.
    #[new]
    #[pyo3(signature = (db=None))]
    fn new(py: Python<'_>, db: Option<PathBuf>) -> PyResult<Self> {
        let mut config =
            grocery_core::Config::load(None).map_err(|e| GroceryError::new_err(e.to_string()))?;
        if db.is_some() {
            config.store.path = db;
        }
        let inner = run(py, grocery_core::Grocery::open(config))?;
        Ok(PyGrocery { inner })
    }

    /// Search the catalog.
    ///
    /// Args:
    ///     query: what to look for ("2% milk", "bannana", "oj").
    ///     limit: most results.
    ///
    /// Returns:
    ///     list of (id, name, brand, price_cents) tuples, best first.
    #[pyo3(signature = (query, limit=10))]
    fn search(
        &self,
        py: Python<'_>,
        query: String,
        limit: usize,
    ) -> PyResult<Vec<(String, String, String, i64)>> {
        let g = self.inner.clone();
        let hits = run(py, async move { g.catalog().search(&query, limit).await })?;
        Ok(hits
            .into_iter()
            .map(|h| {
                (
                    h.product.id,
                    h.product.name,
                    h.product.brand,
                    h.product.price.cents,
                )
            })
            .collect())
    }
}

/// The native module.
#[pymodule]
fn _grocery(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGrocery>()?;
    m.add("GroceryError", m.py().get_type::<GroceryError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
