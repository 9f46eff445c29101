"""Fixtures: a fresh database per test, no user config or GROCERY_* variables."""

import os
from pathlib import Path

import grocery
import pytest


@pytest.fixture(autouse=True)
def hermetic_config(tmp_path_factory, monkeypatch):
    """Tests see defaults only: no ~/.config/grocery, no GROCERY_* variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    for name in list(os.environ):
        if name.startswith("GROCERY_"):
            monkeypatch.delenv(name)


@pytest.fixture()
def g(tmp_path):
    return grocery.Grocery(db=str(tmp_path / "g.db"))


@pytest.fixture()
def config_file(tmp_path):
    """Write a TOML config and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "grocery.toml"
        path.write_text(text)
        return path

    return write
