#!/usr/bin/env bash
# The README's test command: install everything the suite needs, then run it.
#   ./scripts/test.sh            # whole suite
#   ./scripts/test.sh -k hub     # extra arguments go to pytest
# System packages (Debian): chromium for the browser tests (Playwright drives it; it never
# downloads a browser) and bible-kjv for the corpus tests. Installed when missing and root.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v bible >/dev/null || need+=(bible-kjv)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${need[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "note: ${need[*]} missing and not root; the tests that need them will be skipped" >&2
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.txt
exec .venv/bin/python -m pytest "$@"
