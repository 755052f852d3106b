# Sourced by app.sh and test.sh (from the checkout's root): the .venv both commands install into.

# A working .venv: made when missing, made again when a first try left it half-made (Debian's
# python3 without python3-venv writes .venv/bin/python, then fails; every later run would too).
venv_ready() {
  if [ -x .venv/bin/python ] && .venv/bin/python -m pip --version >/dev/null 2>&1; then
    return
  fi
  if ! python3 -c "import ensurepip" 2>/dev/null; then
    echo "error: this python3 cannot make a virtualenv (no ensurepip): install python3-venv" \
         "(Debian, Ubuntu: sudo apt install python3-venv), then run $0 again" >&2
    exit 1
  fi
  rm -rf .venv
  python3 -m venv .venv
}

# torch from PyTorch's CPU index on a machine without an NVIDIA GPU, as requirements.txt pins it:
# PyPI's Linux torch is the CUDA build (about 2.7 GB with its libraries). Where that index cannot
# be reached (an offline mirror), requirements.txt's install takes torch from the usual index.
cpu_torch() {
  local pinned
  pinned=$(grep -E '^torch==' requirements.txt || true)
  if [ -z "$pinned" ] || command -v nvidia-smi >/dev/null \
     || .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"; then
    return
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check --retries 0 --timeout 10 \
    --index-url https://download.pytorch.org/whl/cpu "$pinned" >/dev/null 2>&1 \
    && echo "torch: the CPU build (no NVIDIA GPU here)" || true
}
