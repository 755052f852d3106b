"""Prefixes: the LSTM state after the prompts a Scheduler has read lately, so that a stream
whose prompt was read before starts at its last word instead of reading it all again.

    prefixes = Prefixes()
    prefixes.start(stream)   # at admission: skip to the prompt's last word if it was read before
    prefixes.keep()          # before each tick: keep what the streams admitted since have read

Many visitors click one of the page's examples, so many texts begin with a prompt the model has
read already. Reading it costs a stream one tick per word before its first word (9 for a seed
of 8 words: the line break first): with a crowd, each tick is a batched step for every stream.
The state after a prompt depends on its words alone: a stream's numbers never depend on the
streams beside it (wordrnn.stepper), so a stream that starts from a kept state writes the same
words, bit for bit, as one that reads its prompt.

Only the prompt's words but its last are skipped: the last is read in the stream's own first
tick, whose features give its first word. Streams that keep every state (a trail for each word:
re-reading a text, a branch) read their prompt as before.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from wordrnn.model import State
from wordrnn.streams import Stream

MAX_BYTES = 16 * 2**20  # of kept states: about 2,000 prompts for the default model (8 KB each)


class Prefixes:
    """States after prompts (all words of a stream's prompt but the last), the least recently
    used dropped beyond `max_bytes`. Used by the scheduler's thread alone."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._states: OrderedDict[tuple[int, ...], State] = OrderedDict()
        self._bytes = 0
        self._reading: list[tuple[Stream, tuple[int, ...]]] = []  # streams whose prompt state to keep

    def __len__(self) -> int:
        return len(self._states)

    def start(self, stream: Stream) -> None:
        """A new stream that reads its whole prompt from a blank state starts at the prompt's
        last word when the words before it were read before; otherwise they are kept once read."""
        if stream.state is not None or len(stream.inputs) < 2 or stream.kept == "all":
            return
        words = tuple(stream.inputs)[:-1]
        state = self._states.get(words)
        if state is None:
            self._reading.append((stream, words))
            return
        self._states.move_to_end(words)
        stream.inputs = deque([stream.inputs[-1]])
        stream.state = state  # shared: nothing writes to a state once made (wordrnn.batch_states)

    def keep(self) -> None:
        """Before a tick: keep the state of each stream whose next word is its prompt's last."""
        reading = []
        for stream, words in self._reading:
            if len(stream.inputs) == 1 and not stream.cancelled:
                self._add(words, stream.state)
            elif not stream.cancelled:
                reading.append((stream, words))
        self._reading = reading

    def _add(self, words: tuple[int, ...], state: State) -> None:
        if words in self._states or _size(words, state) > self.max_bytes:
            return
        self._states[words] = [(h.clone(), c.clone()) for h, c in state]  # a fast step's: views of its batch
        self._bytes += _size(words, state)
        while self._bytes > self.max_bytes:
            self._bytes -= _size(*self._states.popitem(last=False))


def _size(words: tuple[int, ...], state: State) -> int:
    """Bytes a kept prompt takes: its state and its words."""
    return sum(h.nbytes + c.nbytes for h, c in state) + 8 * len(words)
