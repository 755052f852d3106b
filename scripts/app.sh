#!/usr/bin/env bash
# The README's start command: install the app's requirements into .venv and start it.
#   ./scripts/app.sh                          # the embedded default model, http://127.0.0.1:7860
#   ./scripts/app.sh --model owner/repo       # any wordrnn checkpoint on the Hub
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${WORDRNN_README_BLOCK:-}" ]; then  # set by tests/test_readme.py for the README's blocks
  echo "error: $0 starts a server that never exits: give its README block a <!-- not run: reason --> line" >&2
  exit 2
fi
. scripts/venv.sh
venv_ready
cpu_torch
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
# The package itself, editable, so that `. .venv/bin/activate` also gives the wordrnn-* commands.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
exec .venv/bin/python app.py "$@"
