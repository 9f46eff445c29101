# %% [markdown]
# # Price history of a few products
#
# Notebook-style script (also `examples/price_history.ipynb`): loads the price
# history of a few products into pandas and plots it with matplotlib.
#
# Run with: `python examples/price_history.py [OUT.png]` in a venv with the
# module (`just dev-py`), pandas and matplotlib. Headless: `MPLBACKEND=Agg`.
#
# A new database has no history yet: prices are recorded as they are fetched.
# `backfill_demo` records the embedded demo market's last 90 days (demo data,
# deterministic per product and day) so there is something to look at.

# %%
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

import grocery

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "price_history.png")
PRODUCTS = ["whole milk gallon", "large eggs dozen", "ground coffee", "peanut butter"]
DAYS = 90

# %%
g = grocery.Grocery(db=str(Path(tempfile.mkdtemp()) / "history.db"))
for query in PRODUCTS:
    g.backfill_demo(query, days=DAYS)
g.price(PRODUCTS[0], max_age=0)  # today's price, as any lookup records it

frames = [g.history_frame(query, days=DAYS) for query in PRODUCTS]
history = pd.concat(frames, ignore_index=True)
history.groupby("name")["price"].agg(["min", "mean", "max", "count"]).round(2)

# %%
# One panel per product (their prices differ by an order of magnitude). A price
# holds until the next observation, so each series is drawn as steps up to now.
now = pd.Timestamp.now(tz="UTC")
fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex=True, layout="constrained")
for ax, (name, rows) in zip(axes.flat, history.groupby("name")):
    x = list(rows["observed_at"]) + [now]
    y = list(rows["price"]) + [rows["price"].iloc[-1]]
    ax.step(x, y, where="post", color="tab:blue")
    low = rows.loc[rows["price"].idxmin()]
    ax.scatter([low["observed_at"]], [low["price"]], color="tab:green", zorder=3,
               label=f"lowest ${low['price']:.2f}")
    ax.set_title(name, fontsize="medium")
    ax.yaxis.set_major_formatter("${x:,.2f}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
fig.suptitle(f"Demo market prices, last {DAYS} days")
fig.autofmt_xdate()
fig.savefig(OUT, dpi=120)
print(f"wrote {OUT} ({len(history)} prices of {history['name'].nunique()} products)")
