"""Every core error kind raises its own class, all under GroceryError."""

import socket

import pytest

import grocery

CLASSES = {
    "not_understood": grocery.NotUnderstoodError,
    "invalid_input": grocery.InvalidInputError,
    "not_found": grocery.NotFoundError,
    "conflict": grocery.ConflictError,
    "forbidden": grocery.ForbiddenError,
    "stale_version": grocery.StaleVersionError,
    "upstream": grocery.UpstreamError,
    "timeout": grocery.GroceryTimeoutError,
    "config": grocery.ConfigError,
    "internal": grocery.InternalError,
}


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_each_kind_maps_to_its_class(kind):
    cls = CLASSES[kind]
    assert issubclass(cls, grocery.GroceryError) and cls is not grocery.GroceryError
    assert cls.kind == kind
    with pytest.raises(cls) as raised:
        grocery._grocery._raise_kind(kind)
    assert raised.value.kind == kind
    # No kind's exception is caught as another kind's.
    others = tuple(c for k, c in CLASSES.items() if k != kind)
    assert not isinstance(raised.value, others)


def test_not_understood_carries_the_hint():
    with pytest.raises(grocery.NotUnderstoodError) as raised:
        grocery._grocery._raise_kind("not_understood")
    assert raised.value.hint == 'try "add milk"'


def test_classes_are_exported_and_named():
    for cls in CLASSES.values():
        assert getattr(grocery, cls.__name__) is cls
        assert cls.__module__ == "grocery"


# Kinds the public API can provoke, provoked for real.


def test_not_found(g):
    with pytest.raises(grocery.NotFoundError, match="list not found"):
        g.list("nope", create=False)
    with pytest.raises(grocery.NotFoundError):
        g.list().remove("unicorn")


def test_invalid_input(g):
    with pytest.raises(grocery.InvalidInputError):
        g.ask("add 10000000000000 eggs")
    with pytest.raises(grocery.InvalidInputError):
        g.track("milk")
    with pytest.raises(grocery.InvalidInputError):
        g.track("milk", drop=500)
    with pytest.raises(grocery.InvalidInputError):
        g.price("milk", max_age=-1)
    with pytest.raises(grocery.InvalidInputError):
        g.history("milk", days=0)
    with pytest.raises(grocery.InvalidInputError):
        g.list().add("milk", quantity="lots")


def test_conflict(g):
    g.create_list("Party")
    with pytest.raises(grocery.ConflictError):
        g.create_list("party")


def test_config(tmp_path, config_file):
    with pytest.raises(grocery.ConfigError):
        grocery.Grocery(db=str(tmp_path / "g.db"), config=str(config_file("[store]\nbogus = 1\n")))
    not_ours = tmp_path / "not-a-db.db"
    not_ours.write_bytes(b"certainly not SQLite" * 100)
    with pytest.raises(grocery.ConfigError):
        grocery.Grocery(db=str(not_ours))


def test_internal(tmp_path):
    # A directory where the database file should be.
    with pytest.raises(grocery.GroceryError) as raised:
        grocery.Grocery(db=str(tmp_path))
    assert type(raised.value) in (grocery.InternalError, grocery.ConfigError)


def walmart_config(config_file, port):
    return config_file(
        f"""
[pricing]
demo = false
[pricing.walmart]
base_url = "http://127.0.0.1:{port}"
consumer_id = "test"
api_key = "test"
timeout_ms = 300
[pricing.guard]
timeout_ms = 300
[pricing.guard.retry]
max_attempts = 1
"""
    )


@pytest.mark.network
def test_upstream_when_the_store_refuses(tmp_path, config_file):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Closed now: connections to it are refused.
    g = grocery.Grocery(db=str(tmp_path / "g.db"), config=str(walmart_config(config_file, port)))
    with pytest.raises(grocery.UpstreamError, match="walmart"):
        g.price("milk")


@pytest.mark.network
def test_timeout_when_the_store_never_answers(tmp_path, config_file):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)  # connections complete in the backlog; nothing answers
        port = s.getsockname()[1]
        g = grocery.Grocery(
            db=str(tmp_path / "g.db"), config=str(walmart_config(config_file, port))
        )
        with pytest.raises(grocery.GroceryTimeoutError, match="walmart"):
            g.price("milk")
