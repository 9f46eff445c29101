"""The Python module builds, imports and searches the embedded catalog."""

import grocery


def test_version_is_exported():
    assert grocery.__version__.count(".") == 2


def test_search_finds_orange_juice_for_oj(g):
    hits = g.search("oj", limit=3)
    assert 1 <= len(hits) <= 3
    best = hits[0]
    assert "orange juice" in best["name"].lower()
    assert isinstance(best["price_cents"], int) and best["price_cents"] > 0
    assert best["score"] >= hits[-1]["score"]


def test_every_public_name_is_documented():
    for name in grocery.__all__:
        obj = getattr(grocery, name)
        if callable(obj):
            assert obj.__doc__, name
    for cls in (grocery.Grocery, grocery.List):
        for attr, member in vars(cls).items():
            if not attr.startswith("_"):
                assert member.__doc__, f"{cls.__name__}.{attr}"
