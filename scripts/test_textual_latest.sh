#!/usr/bin/env bash
# The test suite against the newest Textual 8.x instead of the pinned one, in a venv of its
# own (.venv-textual-latest), so an upgrade is a known quantity before the pin moves.
# Usage: bash scripts/test_textual_latest.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-textual-latest
.venv-textual-latest/bin/pip install -q -e '.[test]'
.venv-textual-latest/bin/pip install -q --upgrade 'textual>=8,<9'
.venv-textual-latest/bin/python -c 'import textual; print("textual", textual.__version__)'
.venv-textual-latest/bin/python -m pytest -n auto --ignore=tests/test_benchmarks.py "$@"
