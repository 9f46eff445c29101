//! # grocery-py
//!
//! Python bindings for Grocery Agent, built with maturin as the module
//! `grocery._grocery` and re-exported by the `grocery` package
//! (`python/grocery`). The classes wrap the core handle; each method is one
//! core call, run with the interpreter released on one shared tokio runtime,
//! with an awaitable twin (`ask` / `ask_async`).
//!
//! ```python
//! import grocery
//! g = grocery.Grocery(db="/tmp/g.db")
//! print(g.ask("add milk and eggs")["message"])
//! print(await g.search_async("oj", limit=3))
//! ```
//!
//! - [`runtime`]: the runtime and the sync / async bridges;
//! - [`errors`]: one exception class per core `ErrorKind`;
//! - [`grocery`]: the `Grocery` and `List` classes;
//! - [`types`]: core values as plain Python data.

mod errors;
mod grocery;
mod runtime;
mod types;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _grocery(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtime::init()?;
    m.add_class::<grocery::PyGrocery>()?;
    m.add_class::<grocery::PyList>()?;
    errors::register(m)?;
    m.add_function(wrap_pyfunction!(grocery::flush_all, m)?)?;
    m.add_function(wrap_pyfunction!(errors::raise_kind, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
