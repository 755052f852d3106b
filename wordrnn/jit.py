"""How wordrnn compiles its numba kernels: the options, the CPU target and where compiled code is
cached.

Two process-wide effects, both here and both at import:
- On AVX-512 CPUs it sets NUMBA_CPU_NAME and NUMBA_CPU_FEATURES (unless the user set
  NUMBA_CPU_NAME) so that LLVM may use 512-bit vectors; its tuning for many such CPUs prefers
  256-bit ones, which makes the int8 products slower. numba re-reads its environment at every
  compilation, so the variables cannot be put back after import: they stay set for the process
  and apply to any other numba code it compiles.
- It adds a cache locator for wordrnn's own kernels (no other function) so that compiled code
  lives in a per-user folder that survives a fresh or read-only package folder: NUMBA_CACHE_DIR
  when set (numba's own rule), else `$HF_HOME/wordrnn-numba` (~/.cache/huggingface/...), which on
  a Hugging Face Space with persistent storage is under /data. numba keys its cache by the source
  file's contents, so a fresh copy of the same code still finds it. If that folder cannot be
  written, numba's usual places (next to the source, then ~/.cache/numba) apply.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent

# How every wordrnn kernel is compiled: without the GIL and cached on disk. FAST may reorder
# float sums within one row (for SIMD) but keeps inf and NaN; EXACT (integer work, rounding)
# is plain IEEE.
FAST = dict(nogil=True, fastmath={"reassoc", "contract", "nsz", "arcp", "afn"}, cache=True,
            error_model="numpy")
EXACT = dict(nogil=True, cache=True, error_model="numpy")


def _wide_vectors() -> None:
    if "numba" in sys.modules or "NUMBA_CPU_NAME" in os.environ:
        return
    import llvmlite.binding as llvm

    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # a host LLVM cannot describe: numba's defaults
        return
    if "+avx512f" in features.split(","):
        os.environ["NUMBA_CPU_NAME"] = llvm.get_host_cpu_name()
        os.environ["NUMBA_CPU_FEATURES"] = features + ",-prefer-256-bit"


def cache_dir() -> Path:
    """Where wordrnn's compiled kernels are cached (unless NUMBA_CACHE_DIR says otherwise)."""
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    return Path(home) / "wordrnn-numba"


_wide_vectors()

from numba.core import caching, config  # noqa: E402 (after the CPU target is chosen)


class _Locator(caching.UserWideCacheLocator):
    """numba's user-wide locator, for files of this package, in `cache_dir()`."""

    def __init__(self, py_func, py_file):
        super().__init__(py_func, py_file)
        self._cache_path = str(cache_dir() / self.get_suitable_cache_subpath(py_file))

    @classmethod
    def from_function(cls, py_func, py_file):
        if config.CACHE_DIR or PACKAGE not in Path(py_file).resolve().parents:
            return None  # the user's folder, or not our code: numba's own rules
        return super().from_function(py_func, py_file)


if _Locator not in caching.CacheImpl._locator_classes:
    caching.CacheImpl._locator_classes.insert(0, _Locator)


def kernel_cache() -> Path:
    """The folder wordrnn's compiled kernels go to: NUMBA_CACHE_DIR, else `cache_dir()`."""
    return Path(config.CACHE_DIR) if config.CACHE_DIR else cache_dir()


def cached_kernels() -> bool:
    """Whether compiled kernels of this installation from an earlier run lie in the cache (False:
    this run compiles them, about 20 s on a first run per machine). numba keeps each source
    folder's kernels apart (its name and a hash of its path): another checkout's or another
    installation's do not count."""
    folder = kernel_cache() / _Locator.get_suitable_cache_subpath(str(PACKAGE / "kernels.py"))
    return folder.is_dir() and any(folder.glob("*.nbi"))
