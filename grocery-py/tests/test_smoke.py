"""The Python module builds, imports and searches the embedded catalog."""

import grocery
import pytest


@pytest.fixture()
def g(tmp_path):
    return grocery.Grocery(db=str(tmp_path / "g.db"))


def test_version_is_exported():
    assert grocery.__version__.count(".") == 2


def test_search_finds_orange_juice_for_oj(g):
    hits = g.search("oj", limit=3)
    assert 1 <= len(hits) <= 3
    product_id, name, brand, price_cents = hits[0]
    assert "orange juice" in name.lower()
    assert isinstance(price_cents, int) and price_cents > 0


def test_errors_are_grocery_errors(g):
    with pytest.raises(grocery.GroceryError):
        g.search("x" * 10_000)
