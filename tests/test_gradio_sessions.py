"""wordrnn.gradio_sessions: a visitor's Gradio state that builds its block configs on first use
holds what Gradio's own would, and the app's deep links still work."""

import json
import subprocess
import sys
import urllib.request

import gradio as gr
from app_server import ROOT, app_env, app_model, app_server  # noqa: F401  (fixtures)
from gradio.state_holder import SessionState
from gradio_client import Client

from wordrnn.gradio_sessions import LazySessionState


def blocks() -> gr.Blocks:
    with gr.Blocks(analytics_enabled=False) as demo:
        text = gr.Textbox("seed words", label="Seed")
        length = gr.Slider(1, 500, 128, step=1)
        kept = gr.State([1, 2])
        with gr.Row():
            out = gr.HighlightedText()
            gr.Button("Go").click(lambda t, n, k: [(t, None)], [text, length, kept], out)
    return demo


def test_a_lazy_state_holds_what_the_eager_one_holds():
    demo = blocks()
    eager, lazy = SessionState(demo), LazySessionState(demo)
    assert not lazy.config_values  # nothing built at the start
    keys = list(demo.blocks)
    for state in (eager, lazy):  # what a run of an event does to a session's state
        state._update_value_in_config(keys[0], "new seed words")
        state._update_value_in_config(keys[3], [("a", None)])  # an output's value
        state[keys[1]] = gr.Slider(1, 500, 64, step=1)
        state[keys[2]] = [3]
    assert set(lazy.config_values) == {keys[1], keys[2]}  # values alone build no config
    assert lazy[keys[2]] == eager[keys[2]] == [3]
    assert list(lazy.components) == list(eager.components)  # a deep link's view: every block, in order
    eager, lazy = SessionState(demo), LazySessionState(demo)
    for state in (eager, lazy):  # a gr.update with props: a fresh config, then its value
        state._update_value_in_config(keys[0], "older words")
        state.blocks_config.blocks[keys[0]] = gr.Textbox("typed", label="Seed words", render=False)
        state._update_config(keys[0])
        state._update_value_in_config(keys[3], [("b", None)])
    assert list(lazy.components) == list(eager.components)  # a deep link's view: every block, in order
    assert [c["id"] for c in lazy.components] == [c["id"] for c in eager.components]


def test_the_app_starts_its_visitors_lazily():
    code = "import app; print(type(app.demo.state_holder['a visitor']).__name__)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=app_env(WORDRNN_BATCHING="0"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "LazySessionState"


def test_the_apps_deep_links_work(app_server):
    client = Client(app_server.url, verbose=False, download_files=False, analytics_enabled=False)
    client.predict("and god said", 4, "greedy", 10, 1.0, 0.9, 0, None, api_name="/generate")
    url = f"{app_server.url}gradio_api/deep_link?session_hash={client.session_hash}"
    with urllib.request.urlopen(url, timeout=30) as response:
        link = json.loads(response.read())
    assert isinstance(link, str) and link
    assert "SessionState" not in app_server.log()
