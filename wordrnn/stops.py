"""The pages' Stop buttons: each page's latest generation, and which Generate click its Stop
came after, so that a Stop pressed before that click's request reaches the server still ends it.

    stops = Stops()
    stops.begin("page-a", run=3)   # Generate click 3 of page a: its generation may start
    stops.halt("page-a")           # the Halt its words are read through (wordrnn.streams.halted)
    stops.stop("page-a", run=3)    # Stop, pressed after click 3: ends it, even before begin()

A page numbers its Generate clicks itself (the app's NEXT_RUN_JS) and sends the number with both
requests: the two travel separately, and Generate's goes through the queue.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from wordrnn.streams import Halt

MAX_VISITORS = 4096  # pages whose Stop button is remembered (the least recent are forgotten)


class Stops:
    """Every page's Stop: its latest generation's Halt, and the latest click a Stop followed."""

    def __init__(self) -> None:
        self._halts: OrderedDict[str, Halt] = OrderedDict()
        self._stopped: OrderedDict[str, int] = OrderedDict()  # the Generate click each page's last Stop came after
        self._lock = threading.Lock()

    def begin(self, visitor: str | None, run: Any = None) -> None:
        """A page generation of `visitor` (a page's session; None: no page) is on its way, from
        Generate click `run`: `stop` ends it, whether it is writing by then or still waiting for
        its turn; it is stopped already if a Stop came after that click."""
        if visitor is None:
            return
        run, halt = _number(run), Halt()
        with self._lock:
            _put(self._halts, visitor, halt)
            stopped = self._stopped.get(visitor)
        if run is not None and stopped is not None and stopped >= run:
            halt.set()

    def halt(self, visitor: str | None) -> Halt | None:
        """The Stop button of `visitor`'s latest page generation (None: none began)."""
        with self._lock:
            return self._halts.get(visitor) if visitor is not None else None

    def stop(self, visitor: str | None, run: Any = None) -> None:
        """The page's Stop, pressed after Generate click `run`: `visitor`'s latest generation ends
        at its next word, and so does that click's if its request has not arrived yet."""
        if visitor is None:
            return
        run = _number(run)
        with self._lock:
            if run is not None:
                _put(self._stopped, visitor, max(run, self._stopped.get(visitor, run)))
            halt = self._halts.get(visitor)
        if halt is not None:
            halt.set()


def _put(table: OrderedDict, key: str, value: Any) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > MAX_VISITORS:
        table.popitem(last=False)


def _number(run: Any) -> int | None:
    """A page's click number as sent (a string of digits), or None for anything else."""
    text = str(run).strip() if run is not None else ""
    return int(text) if text.isdigit() and len(text) < 19 else None
