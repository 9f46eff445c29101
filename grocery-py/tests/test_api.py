"""The sync API: agent, lists, search, prices, tracking."""

import pytest

import grocery


def test_ask_adds_priced_items_and_returns_the_reply(g):
    reply = g.ask("add 2 gallons of milk and a dozen eggs")
    assert [a["action"] for a in reply["actions"]] == ["added", "added"]
    assert reply["understood_by"] == "builtin"
    names = [line["name"].lower() for line in reply["list"]["items"]]
    assert any("milk" in n for n in names) and any("egg" in n for n in names)
    assert reply["list"]["total_cents"] > 0
    assert isinstance(reply["message"], str) and reply["message"]


def test_sessions_keep_the_conversation(g):
    g.ask("add milk", session="kitchen")
    g.ask("add eggs", session="other", list="Costco")
    g.ask("undo", session="kitchen")
    assert g.list().items == []
    assert [i["name"].lower() for i in g.list("Costco").items] == ["eggs"]


def test_preview_changes_nothing(g):
    reply = g.preview("add coffee")
    assert reply["actions"] == [] and reply["list"] is None
    assert reply["commands"][0]["intent"] == "add"
    assert reply["commands"][0]["items"][0]["product_id"]
    assert g.lists() == []


def test_list_add_check_remove_and_total(g):
    lst = g.list("Costco")
    assert lst.name == "Costco" and lst.items == []
    milk = g.search("whole milk gallon", limit=1)[0]
    item = lst.add("milk", quantity="2 gal", product=milk["id"])
    lst.add("napkins", quantity=3, note="the big pack")
    assert [i["name"] for i in lst.items] == ["milk", "napkins"]
    assert lst.total == 2 * milk["price_cents"]
    lst.check("MILK")
    assert lst.items[0]["checked"] is True
    assert lst.total == 0
    lst.check(item["id"], checked=False)
    lst.remove("napkins")
    assert [i["name"] for i in lst.items] == ["milk"]
    assert lst.priced()["total"]["cents"] == lst.total
    summary = {s["name"]: s for s in g.lists()}
    assert summary["Costco"]["items"] == 1
    assert "Costco" in repr(lst)


def test_list_sees_what_the_agent_did(g):
    lst = g.list()
    g.ask("add bananas")
    assert len(lst.items) == 1 and lst.total > 0


def test_price_by_query_and_by_id(g):
    by_query = g.price("2% milk")
    assert by_query["price_cents"] > 0 and by_query["source"] == "demo"
    by_id = g.price(by_query["product_id"], max_age=3600)
    assert by_id["product_id"] == by_query["product_id"]
    assert by_id["tier"] in ("l1", "l2", "l3")
    assert g.price(by_query["product_id"], max_age=0)["tier"] == "upstream"


def test_history_is_oldest_first_and_fills_from_prices(g):
    assert g.history("coffee") == []
    g.price("coffee", max_age=0)
    rows = g.history("coffee")
    assert len(rows) == 1
    assert set(rows[0]) == {"product_id", "name", "observed_at", "price_cents", "currency", "source"}
    added = g.backfill_demo("coffee", days=30)
    assert 1 <= added <= 30
    rows = g.history("coffee", days=30)
    stamps = [r["observed_at"] for r in rows]
    assert stamps == sorted(stamps) and len(rows) >= 2


def test_history_frame_has_datetime_and_dollars(g):
    pd = pytest.importorskip("pandas")
    g.backfill_demo("eggs", days=20)
    frame = g.history_frame("eggs", days=20)
    assert len(frame) >= 1
    assert str(frame["observed_at"].dtype).startswith("datetime64")
    assert (frame["price"] * 100).round().astype(int).tolist() == frame["price_cents"].tolist()
    assert frame["observed_at"].is_monotonic_increasing
    empty = g.history_frame("bananas")
    assert list(empty.columns)[:6] == [
        "product_id", "name", "observed_at", "price_cents", "currency", "source"
    ]
    assert isinstance(empty, pd.DataFrame) and len(empty) == 0


def test_history_frame_without_pandas_says_how_to_get_it(g, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    monkeypatch.delitem(__import__("sys").modules, "pandas", raising=False)
    with pytest.raises(ImportError, match="pip install pandas"):
        g.history_frame("milk")


def test_track_and_alerts(g):
    t = g.track("eggs", drop=10)
    assert t["target"] == {"kind": "drop_percent", "value": 10} and not t["crossed"]
    t = g.track("coffee", below="$2.50")
    assert t["target"] == {"kind": "below", "value": {"cents": 250, "currency": "USD"}}
    assert g.alerts() == []
    # Already under $1000: the track fires at once.
    t = g.track("coffee", below=1000.0)
    assert t["target"]["value"]["cents"] == 100000
    alerts = g.alerts()
    assert [a["product_id"] for a in alerts] == [t["product_id"]]


def test_context_manager_flushes(tmp_path):
    db = str(tmp_path / "s.db")
    with grocery.Grocery(db=db) as g:
        g.ask("add milk", session="s")
        assert g.db.endswith("s.db")
    g2 = grocery.Grocery(db=db)
    assert g2.ask("undo", session="s")["actions"] == [{"action": "undone"}]


def test_sessions_are_saved_at_exit(tmp_path):
    """`python -c` runs end before the background flush: the package flushes
    at exit, so the next process can undo."""
    import subprocess
    import sys

    db = str(tmp_path / "exit.db")
    add = f"import grocery; grocery.Grocery(db={db!r}).ask('add milk', session='s')"
    subprocess.run([sys.executable, "-c", add], check=True, timeout=120)
    g = grocery.Grocery(db=db)
    assert g.ask("undo", session="s")["actions"] == [{"action": "undone"}]
    assert g.list().items == []


def test_redis_url_turns_on_the_shared_tier(tmp_path):
    with pytest.raises(grocery.ConfigError, match="redis_url"):
        grocery.Grocery(db=str(tmp_path / "bad.db"), redis_url="not a url")
    # A Redis that is down is logged and skipped, never an error (the test
    # command starts one on 127.0.0.1:6379).
    g = grocery.Grocery(db=str(tmp_path / "r.db"), redis_url="redis://127.0.0.1:6379/0")
    assert g.price("milk", max_age=0)["tier"] == "upstream"
    assert g.price("milk")["tier"] == "l1"


def test_optimize_and_deals_on_the_list(tmp_path):
    g = grocery.Grocery(db=str(tmp_path / "g.db"))
    g.ask("add 2 gallons of milk and a dozen eggs")
    plan = g.optimize(max_stores=1)
    assert [line["item"] for line in plan["lines"]] == ["milk", "eggs"]
    assert 0 < plan["total_cents"] <= plan["naive_total_cents"]
    assert plan["savings_cents"] == plan["naive_total_cents"] - plan["total_cents"]
    assert g.optimize(budget_cents=1)["budget"]["fits"] is False
    own = g.optimize(max_stores=1, substitutes=False)
    assert not any(line["substituted"] for line in own["lines"])
    assert own["total_cents"] >= plan["total_cents"]
    assert isinstance(g.deals(), list)
    assert len(g.deals(all=True, limit=3)) <= 3
    with pytest.raises(grocery.InvalidInputError):
        g.optimize(stores=["nowhere"])
    with pytest.raises(grocery.NotFoundError):
        g.optimize(list="nope")
    assert g.usuals() == []
    assert isinstance(g.usuals(forgotten=True), list)
