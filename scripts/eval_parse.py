#!/usr/bin/env python3
"""Measure understanding on the labelled sets in ../shared/eval (see its README).

Usage: scripts/eval_parse.py [EVAL_DIR] [GROCERY_BINARY] [--misses]
Runs `grocery parse` on each set and prints intent accuracy (requests) and
quantity / unit / name accuracy (ingredient lines). The sets stay outside this
repository; nothing here knows their sentences.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
MISSES = "--misses" in sys.argv  # print every miss to stderr
EVAL = ARGS[0] if ARGS else os.path.join(os.path.dirname(__file__), "../../shared/eval")
BIN = ARGS[1] if len(ARGS) > 1 else "target/release/grocery"

LISTS_MAP = {
    "lists_createoradd": {"add", "create_list"},
    "lists_query": {"show"},
    "lists_remove": {"remove", "check", "delete_list"},
}
CLINC_MAP = {
    "shopping_list": {"show"},
    "shopping_list_update": {"add", "remove", "update", "check"},
    "oos": {"unknown"},
}
UNIT_ALIASES = {
    "tbsp": "tablespoon", "tablespoon": "tablespoon", "tsp": "teaspoon", "teaspoon": "teaspoon",
    "c": "cup", "cup": "cup", "g": "gram", "gram": "gram", "kg": "kilogram", "kilogram": "kilogram",
    "oz": "ounce", "ounce": "ounce", "lb": "pound", "pound": "pound", "ml": "milliliter",
    "milliliter": "milliliter", "l": "liter", "liter": "liter", "litre": "liter", "fl": "fluid ounce",
    "fluid ounce": "fluid ounce", "pint": "pint", "pt": "pint", "quart": "quart", "qt": "quart",
    "gallon": "gallon", "gal": "gallon", "package": "pack", "cm": "centimeter", "centimeter": "centimeter", "mm": "millimeter",
    "millimeter": "millimeter", "in": "inch", "inch": "inch", "pkg": "pack", "pack": "pack",
}
# Words the gold sometimes puts in the unit that size or qualify it ("2 large cloves",
# "1 heaped tsp"); the lenient unit score skips them to reach the unit itself.
UNIT_QUALIFIERS = {"small", "large", "medium", "sm", "lg", "md", "med", "big", "good", "generous",
                   "scant", "heaped", "heaping", "level", "rounded", "thin", "thick", "fat", "extra",
                   "extra-large", "packed"}


def run(mode, texts, db):
    inp = "\n".join(t.replace("\n", " ") for t in texts) + "\n"
    t0 = time.time()
    out = subprocess.run([BIN, "--db", db, "parse", "--mode", mode], input=inp, capture_output=True,
                         text=True, check=True).stdout
    dt = time.time() - t0
    return [json.loads(l) for l in out.splitlines()], dt


def num(q):
    q = q.strip().lower().rstrip("x")
    words = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "a": 1, "an": 1, "half": 0.5}
    if q in words:
        return words[q]
    if "-" in q:
        q = q.split("-")[-1]
    frac = {"½": .5, "¼": .25, "¾": .75, "⅓": 1 / 3, "⅔": 2 / 3, "⅛": .125}
    total = 0.0
    for part in q.split():
        if part in frac:
            total += frac[part]
        elif "/" in part:
            a, b = part.split("/", 1)
            total += float(a) / float(b)
        else:
            m = re.match(r"^([0-9.]+)([½¼¾⅓⅔⅛])?$", part)
            if not m:
                return None
            total += float(m.group(1)) + frac.get(m.group(2) or "", 0)
    return total


def canon_unit(u):
    if not u:
        return None
    u = u.lower()
    return UNIT_ALIASES.get(u, u)


def norm_name(n):
    words = re.sub(r"[^a-z0-9 ]", " ", n.lower()).split()
    return " ".join(singular(w) for w in words)


def singular(w):
    """A key shared by a word's singular and plural (leaf/leaves, clove/cloves)."""
    for plural, one in (("ves", "v"), ("ies", "y"), ("oes", "o"), ("ches", "ch"), ("shes", "sh")):
        if w.endswith(plural) and len(w) > len(plural) + 1:
            return w[: -len(plural)] + one
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        w = w[:-1]
    for end, key in (("fe", "v"), ("ve", "v"), ("f", "v")):
        if w.endswith(end) and len(w) > len(end) + 2:
            return w[: -len(end)] + key
    return w


def main():
    db = os.path.join(tempfile.mkdtemp(), "eval.db")
    for name, mapping in (("lists_hwu_slurp.dev.jsonl", LISTS_MAP), ("clinc_shopping.dev.jsonl", CLINC_MAP)):
        rows = [json.loads(l) for l in open(os.path.join(EVAL, name))]
        outs, dt = run("request", [r["text"] for r in rows], db)
        ok = 0
        for r, o in zip(rows, outs):
            got = o["commands"][0]["intent"] if o["commands"] else "unknown"
            ok += got in mapping[r["intent"]]
            if MISSES and got not in mapping[r["intent"]]:
                print(f"MISS {name[:5]} {r['intent']} -> {got}: {r['text']}", file=sys.stderr)
        print(f"{name}: intent accuracy {ok}/{len(rows)} = {100 * ok / len(rows):.1f}%  ({len(rows) / dt:.0f} lines/s incl. resolution and process start)")
    rows = [json.loads(l) for l in open(os.path.join(EVAL, "ingredients.dev.jsonl"))]
    outs, dt = run("item", [r["text"] for r in rows], db)
    q_ok = u_ok = ul_ok = n_ok = 0
    for r, o in zip(rows, outs):
        items = o["commands"][0]["items"] if o["commands"] else []
        it = items[0] if items else {}
        gold_q = num(r["quantity"][0]) if r["quantity"] else None
        got_q = it.get("quantity")
        q_ok += (gold_q is None and got_q is None) or (gold_q is not None and got_q is not None and abs(gold_q - got_q) < 1e-6)
        gold_u = canon_unit(r["unit"].split()[0]) if r["unit"] else None
        u_ok += gold_u == canon_unit(it.get("unit"))
        gold_ul = next((canon_unit(w) for w in r["unit"].split() if w.lower() not in UNIT_QUALIFIERS), None)
        ul_ok += gold_ul == canon_unit(it.get("unit"))
        n_ok += norm_name(r["name"]) == norm_name(it.get("name", ""))
        if MISSES:
            for field, gold, got in (("quantity", gold_q, got_q), ("unit", gold_u, canon_unit(it.get("unit"))),
                                     ("name", norm_name(r["name"]), norm_name(it.get("name", "")))):
                if field == "quantity":
                    same = (gold is None and got is None) or (gold is not None and got is not None and abs(gold - got) < 1e-6)
                else:
                    same = gold == got
                if not same:
                    print(f"MISS {field} gold={gold!r} got={got!r}: {r['text']}", file=sys.stderr)
    n = len(rows)
    print(f"ingredients: quantity {100 * q_ok / n:.1f}%, unit {100 * u_ok / n:.1f}% "
          f"(skipping size words in the gold unit: {100 * ul_ok / n:.1f}%), name {100 * n_ok / n:.1f}%  ({n / dt:.0f} lines/s)")


if __name__ == "__main__":
    main()
