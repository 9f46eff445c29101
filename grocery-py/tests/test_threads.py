"""The handle is thread-safe, and the interpreter is released inside the core."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import grocery

ITEMS = ["milk", "eggs", "bread", "butter", "cheddar cheese", "apples", "bananas", "coffee"]


def test_eight_threads_ask_at_once(g):
    start = threading.Barrier(len(ITEMS))

    def ask(item):
        start.wait(timeout=30)
        return g.ask(f"add 2 {item}", session=item)

    with ThreadPoolExecutor(len(ITEMS)) as pool:
        replies = list(pool.map(ask, ITEMS))
    assert all(r["actions"] and r["actions"][0]["action"] == "added" for r in replies)
    assert len(g.list().items) == len(ITEMS)


@pytest.mark.network
def test_eight_asks_are_inside_the_core_together(g, tmp_path, config_file):
    """Each ask waits for a fake LLM that answers only once all eight requests
    have arrived. The server is Python, in this process: it can answer only if
    every `ask` released the interpreter while it waits, so eight LLM answers
    prove eight calls in the core at once (no timing involved)."""
    arrived = threading.Barrier(8, timeout=10)

    class FakeOllama(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            text = body["messages"][-1]["content"]
            try:
                arrived.wait()
            except threading.BrokenBarrierError:
                self.send_response(503)
                self.end_headers()
                return
            item = text.rsplit(" ", 1)[-1]
            answer = {"commands": [{"intent": "add", "list": None,
                                    "items": [{"name": item, "quantity": 2, "unit": None}]}]}
            payload = json.dumps({"message": {"role": "assistant",
                                              "content": json.dumps(answer)}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOllama)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = config_file(
            f"""
[llm]
enabled = true
api = "ollama"
url = "http://127.0.0.1:{server.server_port}"
model = "fake"
threshold = 1.0
timeout_ms = 5000
[llm.breaker]
slow_call_ms = 60000
"""
        )
        texts = [f"hmm perhaps we could use {item.replace(' ', '')}" for item in ITEMS]
        # Unsure enough for the LLM to be asked (checked without the LLM).
        assert all(g.preview(t)["confidence"] < 1.0 for t in texts)
        with_llm = grocery.Grocery(db=str(tmp_path / "llm.db"), config=str(cfg))
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda t: with_llm.ask(t, session=t), texts))
    finally:
        server.shutdown()
    assert [r["understood_by"] for r in replies] == ["llm"] * 8
    assert len(with_llm.list().items) == 8
