# Format the workspace.
fmt:
    cargo fmt --all

# Clippy with warnings as errors.
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# The whole test suite, exactly as CI runs it.
test:
    scripts/test

# Python module tests only (builds the extension into .venv).
test-py:
    VIRTUAL_ENV="$PWD/.venv" .venv/bin/maturin develop -m grocery-py/Cargo.toml && .venv/bin/python -m pytest -q grocery-py/tests

# Criterion benchmarks.
bench:
    cargo bench --bench search

# Build the Python module into .venv for notebook use.
dev-py:
    VIRTUAL_ENV="$PWD/.venv" .venv/bin/maturin develop --release -m grocery-py/Cargo.toml
