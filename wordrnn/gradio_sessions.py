"""Gradio's per-visitor state, made cheap to start: app.py calls `install()` before it builds
its Blocks.

Every new session (each page, each gradio_client) makes a `gradio.state_holder.SessionState`,
which builds the config of every block of the app at once: about 2.7 ms for the app's 80 blocks
on a quiet core (`inspect.signature` for each), on Gradio's event loop, one session at a time.
Only deep links (`/gradio_api/deep_link`) read those configs. In a burst of 64 new visitors
that was about a sixth of the app process's time (py-spy, README "What limits it"). Here a
session builds a block's config when something first asks for it: an update of the block, or
a deep link, which gets every block's config in the same order as before.

    from wordrnn import gradio_sessions
    gradio_sessions.install()   # later sessions of every Blocks in this process
"""

from __future__ import annotations

from typing import Any, Iterator

import gradio.state_holder
from gradio.state_holder import SessionState


class _Unconfigured:
    """What SessionState.__init__ reads of a Blocks (its default config, its blocks), with no
    blocks to build a config for."""

    def __init__(self, blocks: Any) -> None:
        self.default_config, self.blocks = blocks.default_config, {}


class LazySessionState(SessionState):
    """A SessionState whose per-block configs are built on first use."""

    def __init__(self, blocks: Any) -> None:
        super().__init__(_Unconfigured(blocks))
        self._configurable = blocks.blocks  # the blocks the eager state would have configured

    @property
    def components(self) -> Iterator[dict]:
        """Every block's config, as the eager state kept them: built now where still missing."""
        built = self.config_values
        self.config_values = {
            key: built[key] if key in built else self.blocks_config.config_for_block(key, [], block)
            for key, block in self.blocks_config.blocks.items()
            if key in self._configurable or key in built
        }
        return super().components


def install() -> None:
    """Make Gradio's state holder start every later session as a LazySessionState."""
    gradio.state_holder.SessionState = LazySessionState
