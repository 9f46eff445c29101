"""Grocery Agent: shopping lists and catalog search that understand how people shop."""

from grocery._grocery import Grocery, GroceryError, __version__

__all__ = ["Grocery", "GroceryError", "__version__"]
