//! The one tokio runtime of the process, shared by sync calls and awaitables,
//! and the two ways Python enters it.
//!
//! Sync methods call [`EnterCore::enter`]: the interpreter is released
//! (`py.detach`) while the calling thread drives the future with
//! `Runtime::block_on`, so other Python threads run meanwhile and several
//! threads can be inside the core at once. Async twins call [`awaitable`],
//! which spawns the future on the same runtime and returns an asyncio future
//! (pyo3-async-runtimes). Both share the runtime's threads, the handle's SQLite
//! pool and its caches.

use std::future::Future;
use std::sync::LazyLock;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors::{CoreError, GroceryError};

/// Built on first use. A failure to build (no threads left) is kept and
/// raised by every call rather than panicking at import.
static RUNTIME: LazyLock<Result<Runtime, String>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("grocery-rt")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))
});

/// The shared runtime.
///
/// # Errors
/// `GroceryError` when it could not be built.
pub(crate) fn runtime() -> PyResult<&'static Runtime> {
    RUNTIME
        .as_ref()
        .map_err(|e| GroceryError::new_err(e.clone()))
}

/// Hand the shared runtime to pyo3-async-runtimes, so awaitables run on it
/// too. Called from module init; a second init (module re-imported in a
/// subinterpreter) keeps the runtime already set.
pub(crate) fn init() -> PyResult<()> {
    let _already_set = pyo3_async_runtimes::tokio::init_with_runtime(runtime()?);
    Ok(())
}

/// Running core futures from a thread that holds the interpreter (like
/// polars' `enter_polars`).
pub(crate) trait EnterCore {
    /// Run `fut` to completion on the shared runtime with the interpreter
    /// released, and map a core error to its Python exception.
    ///
    /// `fut` must own what it uses: no `Bound`, no Python calls inside.
    fn enter<T: Send>(
        self,
        fut: impl Future<Output = grocery_core::Result<T>> + Send,
    ) -> PyResult<T>;
}

impl EnterCore for Python<'_> {
    fn enter<T: Send>(
        self,
        fut: impl Future<Output = grocery_core::Result<T>> + Send,
    ) -> PyResult<T> {
        let rt = runtime()?;
        self.detach(|| rt.block_on(fut))
            .map_err(|e| CoreError(e).into())
    }
}

/// An asyncio awaitable for `fut`, which runs on the shared runtime.
pub(crate) fn awaitable<'py, T>(
    py: Python<'py>,
    fut: impl Future<Output = grocery_core::Result<T>> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        fut.await.map_err(|e| PyErr::from(CoreError(e)))
    })
}
