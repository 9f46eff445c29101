"""`g.ask` and `g.preview` from Python, against the Rust criterion bench.

The same work as benches/agent.rs on a file-backed database: `preview` runs
its six requests per iteration; `handle` adds and removes a dozen eggs (two
`ask` calls) so the list does not grow. Prints the median, mean and p10 / p90
of per-iteration times. Criterion's figures (target/criterion/agent/*/new/
estimates.json) are per sample, each the mean of many iterations, so compare
its median with the mean here as well as the median.

Run with (a release build, pinned like the criterion bench):
    just dev-py    # maturin develop --release
    taskset -c 0 .venv/bin/python grocery-py/bench/ask.py
    taskset -c 0 cargo bench --bench agent -- 'agent/(preview|handle)'
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import grocery

REQUESTS = [
    "add 2 gallons of milk and a dozen eggs",
    "we're out of coffee",
    "hey can you put bananas, bread and peanut butter on my costco list please",
    "scratch the eggs",
    "what's on my shopping list",
    "I need 3 cans of black beans and a 12 pack of coke",
]


def measure(name, step, seconds=5.0, warmup=1.0):
    """Run `step` repeatedly: `warmup` seconds unmeasured, then `seconds` of samples."""
    end = time.perf_counter() + warmup
    while time.perf_counter() < end:
        step()
    samples = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter_ns()
        step()
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    q = statistics.quantiles(samples, n=10)
    median = statistics.median(samples)
    mean = statistics.fmean(samples)
    print(f"{name:<16} median {median / 1000:8.1f} µs   mean {mean / 1000:8.1f}   "
          f"p10 {q[0] / 1000:8.1f}   p90 {q[-1] / 1000:8.1f}   ({len(samples)} iterations)")
    return median


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    g = grocery.Grocery(db=str(Path(tempfile.mkdtemp()) / "bench.db"))

    def preview():
        for r in REQUESTS:
            g.preview(r)

    def handle():
        g.ask("add a dozen eggs")
        g.ask("remove the eggs")

    measure("agent/preview", preview, seconds)
    measure("agent/handle", handle, seconds)
    # Crossing into Rust and back with a small reply (one list).
    measure("lists()", lambda: g.lists(), seconds)


if __name__ == "__main__":
    main()
