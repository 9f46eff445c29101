//! Core errors as Python exceptions: one class per [`ErrorKind`], all under
//! `grocery.GroceryError` (like polars' `exceptions.rs`).

use grocery_core::ErrorKind;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    grocery,
    GroceryError,
    PyException,
    "Base class of every error the grocery module raises.\n\n`kind` is the error's stable code, as in the HTTP API's error bodies."
);
create_exception!(
    grocery,
    NotUnderstoodError,
    GroceryError,
    "The request was not understood; `hint` says what could be said instead."
);
create_exception!(
    grocery,
    InvalidInputError,
    GroceryError,
    "An argument is malformed or out of range."
);
create_exception!(
    grocery,
    NotFoundError,
    GroceryError,
    "The list, item or product asked for does not exist."
);
create_exception!(
    grocery,
    ConflictError,
    GroceryError,
    "The change conflicts with the current state (a duplicate list name)."
);
create_exception!(
    grocery,
    ForbiddenError,
    GroceryError,
    "This user may see the list but not make this change to it."
);
create_exception!(
    grocery,
    StaleVersionError,
    GroceryError,
    "The list changed since the version the change was based on; nothing was written."
);
create_exception!(
    grocery,
    UpstreamError,
    GroceryError,
    "A price source or the LLM failed."
);
create_exception!(
    grocery,
    GroceryTimeoutError,
    GroceryError,
    "A price source or the LLM did not answer in time."
);
create_exception!(
    grocery,
    ConfigError,
    GroceryError,
    "The configuration is invalid, or the file is not a grocery database."
);
create_exception!(
    grocery,
    InternalError,
    GroceryError,
    "Storage, I/O or another internal failure."
);

/// Every error kind, for module init and the mapping tests.
pub(crate) const KINDS: [ErrorKind; 10] = [
    ErrorKind::NotUnderstood,
    ErrorKind::InvalidInput,
    ErrorKind::NotFound,
    ErrorKind::Conflict,
    ErrorKind::Forbidden,
    ErrorKind::StaleVersion,
    ErrorKind::Upstream,
    ErrorKind::Timeout,
    ErrorKind::Config,
    ErrorKind::Internal,
];

/// The exception class of a kind. One exhaustive `match` without a `_` arm:
/// a new kind breaks the build here.
pub(crate) fn class_of(py: Python<'_>, kind: ErrorKind) -> Bound<'_, pyo3::types::PyType> {
    match kind {
        ErrorKind::NotUnderstood => py.get_type::<NotUnderstoodError>(),
        ErrorKind::InvalidInput => py.get_type::<InvalidInputError>(),
        ErrorKind::NotFound => py.get_type::<NotFoundError>(),
        ErrorKind::Conflict => py.get_type::<ConflictError>(),
        ErrorKind::Forbidden => py.get_type::<ForbiddenError>(),
        ErrorKind::StaleVersion => py.get_type::<StaleVersionError>(),
        ErrorKind::Upstream => py.get_type::<UpstreamError>(),
        ErrorKind::Timeout => py.get_type::<GroceryTimeoutError>(),
        ErrorKind::Config => py.get_type::<ConfigError>(),
        ErrorKind::Internal => py.get_type::<InternalError>(),
    }
}

/// A core error on its way to Python (`From<..> for PyErr` cannot go on the
/// core type: the orphan rule).
#[derive(Debug)]
pub(crate) struct CoreError(pub grocery_core::Error);

impl From<CoreError> for PyErr {
    fn from(CoreError(e): CoreError) -> PyErr {
        // The message with its source chain, as the CLI prints it once.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        let hint = match &e {
            grocery_core::Error::NotUnderstood { hint } => Some(hint.clone()),
            _ => None,
        };
        // Errors are rare: take the interpreter to build the instance and set
        // `hint` (`kind` is a class attribute, set at module init).
        Python::attach(|py| {
            let err = PyErr::from_type(class_of(py, e.kind()), message);
            match hint.map(|h| err.value(py).setattr("hint", h)) {
                Some(Err(set)) => set,
                _ => err,
            }
        })
    }
}

/// Add the exception classes to the module and give each its `kind` code.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let base = py.get_type::<GroceryError>();
    base.setattr("kind", "error")?;
    m.add("GroceryError", base)?;
    for kind in KINDS {
        let class = class_of(py, kind);
        class.setattr("kind", kind.code())?;
        m.add(class.name()?, class)?;
    }
    py.get_type::<NotUnderstoodError>().setattr("hint", "")?;
    Ok(())
}

/// Raise the exception of the kind named `kind` (a code such as
/// `"not_found"`), through the same mapping as every core error. For the
/// tests of kinds the Python API cannot provoke (a shared list is not exposed).
#[pyfunction]
#[pyo3(name = "_raise_kind")]
pub(crate) fn raise_kind(kind: &str) -> PyResult<()> {
    use grocery_core::Error;
    let e = match kind {
        "not_understood" => Error::NotUnderstood {
            hint: "try \"add milk\"".into(),
        },
        "invalid_input" => Error::invalid("bad"),
        "not_found" => Error::not_found("list", "x"),
        "conflict" => Error::Conflict("dup".into()),
        "forbidden" => Error::Forbidden("viewer".into()),
        "stale_version" => Error::StaleVersion {
            what: "list",
            expected: 1,
            current: 2,
        },
        "upstream" => Error::Upstream {
            service: "demo".into(),
            source: "refused".into(),
        },
        "timeout" => Error::Timeout {
            service: "demo".into(),
        },
        "config" => Error::Config("bad".into()),
        "internal" => Error::Internal("bug".into()),
        other => return Err(GroceryError::new_err(format!("no error kind {other:?}"))),
    };
    Err(CoreError(e).into())
}
