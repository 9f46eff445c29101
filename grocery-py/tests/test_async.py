"""Async twins give the same results as the sync methods."""

import asyncio

import pytest

import grocery

REQUESTS = [
    "add 2 gallons of milk and a dozen eggs",
    "we're out of coffee",
    "put bananas, bread and peanut butter on my costco list",
    "make that 3",
    "scratch the eggs",
    "I got the milk",
    "what's on my shopping list",
    "undo",
]


def without_timing(reply):
    return {k: v for k, v in reply.items() if k != "elapsed_us"}


def test_ask_async_replies_like_ask(tmp_path):
    sync = grocery.Grocery(db=str(tmp_path / "sync.db"))
    aio = grocery.Grocery(db=str(tmp_path / "async.db"))

    async def run_all():
        return [await aio.ask_async(text, session="s") for text in REQUESTS]

    expected = [without_timing(sync.ask(text, session="s")) for text in REQUESTS]
    got = [without_timing(r) for r in asyncio.run(run_all())]
    assert got == expected


def test_read_twins_match(g):
    g.ask("add milk and eggs")
    g.backfill_demo("milk", days=10)

    async def reads():
        return await asyncio.gather(
            g.preview_async("add 3 cans of black beans"),
            g.lists_async(),
            g.search_async("peanut butter", limit=5),
            g.price_async("milk", max_age=3600),
            g.history_async("milk", days=10),
            g.alerts_async(),
        )

    preview, lists, search, price, history, alerts = asyncio.run(reads())
    assert without_timing(preview) == without_timing(g.preview("add 3 cans of black beans"))
    assert lists == g.lists()
    assert search == g.search("peanut butter", limit=5)
    assert price["product_id"] == g.price("milk", max_age=3600)["product_id"]
    assert history == g.history("milk", days=10)
    assert alerts == g.alerts()


def test_track_async_matches(g):
    async def track():
        return await g.track_async("coffee", below=3.49)

    t = asyncio.run(track())
    assert t["target"] == g.track("coffee", below=3.49)["target"]


def test_async_twins_need_a_running_loop(g):
    with pytest.raises(RuntimeError, match="no running event loop"):
        g.search_async("milk")


def test_async_errors_raise_the_same_class(g):
    async def bad():
        await g.track_async("milk")

    try:
        asyncio.run(bad())
    except grocery.InvalidInputError as e:
        assert e.kind == "invalid_input"
    else:
        raise AssertionError("no error")


def test_many_awaitables_at_once(g):
    async def many():
        return await asyncio.gather(*(g.search_async(q) for q in ["milk", "eggs", "bread"] * 20))

    results = asyncio.run(many())
    assert len(results) == 60 and all(results)
