"""Gradio's per-visitor state, made cheap to start: app.py calls `install()` before it builds
its Blocks.

Every new session (each page, each gradio_client) makes a `gradio.state_holder.SessionState`,
which builds the config of every block of the app at once: about 2.7 ms for the app's 80 blocks
on a quiet core (`inspect.signature` for each), on Gradio's event loop, one session at a time.
Only deep links (`/gradio_api/deep_link`) read those configs. In a burst of 64 new visitors
that was about a sixth of the app process's time (py-spy, README "What limits it"). Then each
event built the configs of its inputs and output the first time it set their values (about 5%
of the app process's time in a burst). Here a session builds a block's config only when
something asks for the config itself: a new block or a changed one (gr.update with props), or
a deep link, which gets every block's config, with the values set since, in the same order as
before.

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
        self._values: dict[int, Any] = {}  # values set on blocks whose config is not built yet

    def _update_value_in_config(self, key: int, value: Any) -> None:
        if key in self.config_values:
            super()._update_value_in_config(key, value)
        else:
            # Into the config if a deep link builds it. A config built before that (a new or
            # changed block) starts afresh, as Gradio's does.
            self._values[key] = value

    @property
    def components(self) -> Iterator[dict]:
        """Every block's config, as the eager state kept them: built now where still missing."""
        built, configs = self.config_values, {}
        for key, block in self.blocks_config.blocks.items():
            if key in built:
                configs[key] = built[key]
            elif key in self._configurable or key in self._values:
                configs[key] = self.blocks_config.config_for_block(key, [], block)
                if key in self._values and "props" in configs[key]:
                    configs[key]["props"]["value"] = self._values[key]
        self.config_values, self._values = configs, {}
        return super().components


def install() -> None:
    """Make Gradio's state holder start every later session as a LazySessionState."""
    gradio.state_holder.SessionState = LazySessionState
