"""Grocery Agent: shopping lists that understand how people shop.

    >>> import grocery
    >>> g = grocery.Grocery(db="groceries.db")
    >>> g.ask("add 2 gallons of milk and a dozen eggs")["message"]
    >>> g.list("Shopping").total      # cents
    >>> await g.ask_async("we're out of coffee")

Every method is one call into the Rust core, made with the interpreter
released (threads run in parallel); `*_async` twins return awaitables on the
same runtime. Errors are subclasses of `GroceryError`, one per kind.

Do not `fork` after first use; use multiprocessing's "spawn" start method.
"""

import atexit

from grocery._grocery import (
    ConfigError,
    ConflictError,
    ForbiddenError,
    Grocery,
    GroceryError,
    GroceryTimeoutError,
    InternalError,
    InvalidInputError,
    List,
    NotFoundError,
    NotUnderstoodError,
    StaleVersionError,
    UpstreamError,
    __version__,
    _flush_all,
)

# Agent sessions are written behind the requests; write the last ones before
# the interpreter exits so the next process continues the conversation.
atexit.register(_flush_all)

__all__ = [
    "ConfigError",
    "ConflictError",
    "ForbiddenError",
    "Grocery",
    "GroceryError",
    "GroceryTimeoutError",
    "InternalError",
    "InvalidInputError",
    "List",
    "NotFoundError",
    "NotUnderstoodError",
    "StaleVersionError",
    "UpstreamError",
    "__version__",
]
