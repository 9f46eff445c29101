//! Core values as plain Python data: dicts, lists, str, int, float, bool and
//! None, the same shapes as the CLI's `--json` and the HTTP API's bodies.

use pyo3::prelude::*;
use serde::Serialize;

/// A serde value that converts to plain Python objects (pythonize, no JSON
/// text in between). Sync methods return it, and async twins resolve to it,
/// so both give the same result.
#[derive(Debug)]
pub(crate) struct Plain<T>(pub T);

impl<'py, T: Serialize> IntoPyObject<'py> for Plain<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        pythonize::pythonize(py, &self.0).map_err(PyErr::from)
    }
}

/// One observed price, flat for a table or a DataFrame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct HistoryRow {
    /// The product.
    pub product_id: String,
    /// Its display name.
    pub name: String,
    /// When the price was seen, RFC 3339 in UTC.
    pub observed_at: String,
    /// The price of one pack, in cents.
    pub price_cents: i64,
    /// The currency code (`USD`).
    pub currency: &'static str,
    /// The store it came from.
    pub source: String,
}
