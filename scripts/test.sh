#!/usr/bin/env bash
# The README's test command: install everything the suite needs, then run it.
#   ./scripts/test.sh            # whole suite
#   ./scripts/test.sh -k hub     # extra arguments go to pytest
# System packages (Debian): chromium for the browser tests (Playwright drives it; it never
# downloads a browser), bible-kjv for the corpus tests, python3-venv for the virtualenvs (.venv
# here, fresh ones in tests/test_package.py) and git for its git+file install. Installed when
# missing and root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${WORDRNN_README_BLOCK:-}" ]; then  # set by tests/test_readme.py for the README's blocks
  echo "error: $0 runs the whole suite: give its README block a <!-- not run: reason --> line" >&2
  exit 2
fi

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v bible >/dev/null || need+=(bible-kjv)
command -v git >/dev/null || need+=(git)
python3 -c "import ensurepip" 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${need[*]} with apt-get"
    # A package this system lacks (Ubuntu has no chromium .deb) skips its tests, not the suite.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
    for package in "${need[@]}"; do
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null \
        || echo "note: apt-get could not install $package; the tests that need it will be skipped" >&2
    done
  else
    echo "note: ${need[*]} missing and not root; the tests that need them will be skipped" >&2
  fi
fi

. scripts/venv.sh
venv_ready
cpu_torch
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.txt
# The package itself, editable: the console scripts (wordrnn-generate, wordrnn-train, ...) on
# .venv's PATH, running this checkout's code. Built with the setuptools just installed.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
exec .venv/bin/python -m pytest "$@"
