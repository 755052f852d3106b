"""The app through its API, as gradio_client users see it: one real `python app.py` per module
(tests/app_server.py) serving the tiny checkpoint."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from app_server import ROOT, AppServer, app_env, app_model, app_server  # noqa: F401  (fixtures)
from gradio_client import Client
from gradio_client.exceptions import AppError

from wordrnn import Checkpoint, controls, detokenize, examples, tokenize

pytestmark = pytest.mark.slow
SEED = "and god said , let there be"


@pytest.fixture(scope="module")
def client(app_server) -> Client:
    return Client(app_server.url, verbose=False, download_files=False, analytics_enabled=False)


def generate(client: Client, text: object, length: object = 16, mode: object = "greedy", k: object = 10,
             temperature: object = 1.0, rng_seed: object = None, top_p: object = 0.9, no_repeat: object = 0,
             api_name: str = "/generate") -> list[dict]:
    return client.predict(text, length, mode, k, temperature, top_p, no_repeat, rng_seed, api_name=api_name)


def generated(parts: list[dict]) -> str:
    return "".join(p["token"] for p in parts if p["class_or_confidence"] is None)


def count(text: str) -> int:
    """Tokens of a generated text: words and punctuation, plus line breaks."""
    return len(tokenize(text, eol=False)) + text.count("\n")


def test_named_endpoints(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/generate", "/generate_text", "/next_words", "/generate_words", "/branch"}
    for name in ("/generate", "/generate_text", "/generate_words"):  # the page's names and defaults, declared once
        parameters = {p["parameter_name"]: p.get("parameter_default") for p in endpoints[name]["parameters"]}
        assert list(parameters) == list(controls.NAMES)
        assert {n: parameters[n] for n in controls.RANGES} == {n: r.default for n, r in controls.RANGES.items()}
        assert parameters["mode"] == controls.DEFAULT_MODE
    assert endpoints["/generate_text"]["returns"][0]["python_type"]["type"] == "str"
    assert endpoints["/next_words"]["returns"][0]["python_type"]["type"] == "dict(str, float)"


def test_generate_streams_seed_and_first_word_then_the_rest(client):
    job = client.submit(SEED, 500, "greedy", 10, 1.0, 0.9, 0, None, api_name="/generate")
    final = job.result(timeout=120)
    updates = job.outputs()
    # The tiny model writes 500 words in a few updates' time (STREAM_EVERY): the seed comes
    # with the first word, then the rest; the next test counts the parts without the clock.
    assert len(updates) >= 2
    assert updates[0][0] == {"token": "And god said, let there be", "class_or_confidence": "seed"}
    assert count(generated(updates[0])) == 1
    lengths = [len(generated(u)) for u in updates]
    assert lengths == sorted(lengths) and lengths[-1] > 0  # each update extends the text
    assert final == updates[-1] and count(generated(final)) == 500


def test_generate_yields_a_growing_text_at_every_update():
    # app.generate itself, in a process of its own (the app sets threads and starts gradio),
    # with an update after every word instead of every STREAM_EVERY seconds.
    code = ("import json, app; app.STREAM_EVERY = 0.0; "
            f"print(json.dumps([u[-1][0] for u in app.generate({SEED!r}, 20)]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=app_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    texts = json.loads(result.stdout.splitlines()[-1])
    assert len(texts) == 21 and texts[-1] == texts[-2]  # one update a word, then the final one
    assert count(texts[0]) == 1  # the first word (the seed is the update's first part)
    assert all(count(b) == count(a) + 1 for a, b in zip(texts, texts[1:-1]))


def test_top_k_with_seed_is_reproducible(client):
    first = generate(client, SEED, 40, "top-k", 5, 1.5, "1234")
    assert first == generate(client, SEED, 40, "top-k", 5, 1.5, 1234)
    assert count(generated(first)) == 40


@pytest.mark.parametrize("length, expected", [(0, 1), (-5, 1), (10_000, 500), (7.6, 8), ("12", 12), (" 3 ", 3)])
@pytest.mark.parametrize("endpoint", ["/generate", "/generate_text"])
def test_length_is_clamped(client, endpoint, length, expected):
    result = generate(client, SEED, length, api_name=endpoint)
    text = result if endpoint == "/generate_text" else "".join(p["token"] for p in result)
    assert count(text) == count("And god said, let there be") + expected


@pytest.mark.parametrize("mode", ["top-k", "top-p"])
@pytest.mark.parametrize("k, temperature, top_p, no_repeat, rng_seed", [
    (0, 0, 0, -1, 0), (10**9, 1e9, 5, 10**6, 2**63 - 1), ("3", "0.5", "1", "2", ""), (2.5, 1, 0.5, 3.4, "37"),
])
def test_sampling_settings_are_clamped(client, mode, k, temperature, top_p, no_repeat, rng_seed):
    assert generated(generate(client, SEED, 8, mode, k, temperature, rng_seed, top_p, no_repeat))


@pytest.mark.parametrize("value, sent", [("abc", "'abc'"), (None, "nothing"), ("nan", "'nan'"), (True, "'True'")])
@pytest.mark.parametrize("name", list(controls.RANGES))
def test_a_setting_that_is_no_number_is_refused_clearly(client, name, value, sent):
    # Clamped to its default, it would answer a request that was never made (a 128-word text).
    declared = controls.RANGES[name]
    message = f"{name} must be a number from {declared.low:g} to {declared.high:g}; got {sent}."
    for endpoint in ("/generate", "/generate_text", "/generate_words"):
        with pytest.raises(AppError, match=re.escape(message)):
            client.predict(prompt=SEED, **{name: value}, api_name=endpoint)
    if name != "length":  # /branch checks its settings before it looks for the text
        with pytest.raises(AppError, match=re.escape(message)):
            client.predict(text_id="nope", position=0, word="god", **{name: value}, api_name="/branch")


def test_generate_text_is_the_plain_text_of_generate(client):
    for mode, rng_seed in (("greedy", None), ("top-p", "42"), ("top-k", 7)):
        parts = generate(client, SEED, 40, mode, 10, 0.7, rng_seed, 0.9, 4)
        text = generate(client, SEED, 40, mode, 10, 0.7, rng_seed, 0.9, 4, api_name="/generate_text")
        assert isinstance(text, str) and text == "".join(p["token"] for p in parts)
        assert text.startswith("And god said, let there be ") and count(text) == 7 + 40


def test_greedy_without_the_guard_is_the_generators_argmax(client, app_model):
    from wordrnn import Checkpoint, Generator

    expected = Generator(Checkpoint.from_pretrained(app_model)).text(SEED, 60, mode="greedy")
    assert generate(client, SEED, 60, "greedy", api_name="/generate_text") == expected


def explained(client: Client, mode: str, rng_seed: object = "5", length: int = 40, no_repeat: int = 0) -> dict:
    return client.predict(SEED, length, mode, 10, 0.8, 0.9, no_repeat, rng_seed, api_name="/generate_words")


@pytest.mark.parametrize("mode", ["greedy", "top-k", "top-p"])
def test_every_word_is_explained(client, mode):
    result = explained(client, mode)
    words = result["words"]
    assert len(words) == 40 and result["text"] == generate(client, SEED, 40, mode, 10, 0.8, "5", api_name="/generate_text")
    for w in words:
        alternatives = {a["word"]: a["probability"] for a in w["alternatives"]}
        assert 0 <= w["probability"] <= 1 and len(alternatives) == 10 and sum(alternatives.values()) <= 1 + 1e-5
        assert w["rank"] > 10 or alternatives[w["word"]] == w["probability"]  # the chosen word among them
        assert w["rank"] == 1 + sum(p > w["probability"] for p in alternatives.values()) or w["rank"] > 10
        if mode == "greedy":
            assert w["rank"] == 1
        if mode == "top-k":
            assert w["rank"] <= 10


def test_a_branch_is_a_fresh_generation_from_the_edited_text(client):
    first = explained(client, "top-p", "11", 30, 4)
    position = 12
    word = first["words"][position]["alternatives"][3]["word"]
    branched = client.predict(first["text_id"], position, word, "top-p", 10, 0.8, 0.9, 4, "11", api_name="/branch")
    kept = [w["word"] for w in first["words"][:position]]
    assert [w["word"] for w in branched["words"][: position + 1]] == kept + [word]
    edited = detokenize(tokenize(SEED, eol=False) + kept + [word])
    fresh = generate(client, edited, 30 - position - 1, "top-p", 10, 0.8, "11", 0.9, 4, api_name="/generate_text")
    assert branched["text"] == fresh


def test_a_branch_of_an_unknown_text_is_refused_clearly(client):
    with pytest.raises(AppError, match="not kept on the server"):
        client.predict("nope", 0, "god", api_name="/branch")


@pytest.mark.parametrize("seed", ["lucky", "3.7", -1, 2**80])
def test_bad_seed_is_refused_clearly(client, seed):
    for endpoint in ("/generate", "/generate_text"):
        with pytest.raises(AppError, match="rng seed must be a whole number from 0 to 2"):
            generate(client, SEED, 8, "top-k", 10, 1.0, seed, api_name=endpoint)


def test_unknown_mode_is_refused_clearly(client):
    with pytest.raises(AppError, match="mode must be one of greedy, top-k, top-p"):
        generate(client, SEED, 8, "beam")


def test_the_app_lists_its_tools_for_mcp(app_server, app_model):
    # gradio[mcp] is a requirement: without it the app would still run, but this must not pass.
    with urllib.request.urlopen(app_server.url + "gradio_api/mcp/schema", timeout=30) as response:
        tools = {tool["name"]: tool for tool in json.load(response)}
    checkpoint = Checkpoint.from_pretrained(app_model)
    first = examples.examples(checkpoint.vocab, checkpoint.info)[0]  # this model's example, not KJV's
    assert tools["generate_text"]["inputSchema"]["properties"]["prompt"]["description"] == (
        f'the seed words, about 7 (e.g. "{first}").')
    assert {"generate", "generate_text", "next_words", "generate_words", "branch"} <= set(tools)
    assert set(tools["generate_text"]["inputSchema"]["properties"]) == set(controls.NAMES)
    for name, tool in tools.items():  # every argument described for the model that calls the tool
        described = {arg: spec.get("description") for arg, spec in tool["inputSchema"]["properties"].items()}
        assert tool["description"] and all(described.values()), (name, described)
        assert "request" not in tool["description"], name  # nothing of Gradio's internals


def test_unknown_words_are_marked(client):
    parts = generate(client, "and god saaid , let there be", 4)
    assert {"token": " saaid", "class_or_confidence": "unknown"} in parts
    assert "".join(p["token"] for p in parts).startswith("And god saaid, let there be ")


HOSTILE = {
    "empty": "",
    "spaces": " \n\t ",
    "100 kB": "light " * 17_000,
    "control characters": "and god\x00 said\x1b[31m , let\u202e there\u200b be\x7f",
    "html": "<b>and</b> god <img src=x onerror=alert(1)> said",
    "script": "<script>alert('x')</script>",
    "emoji": "and god 😀 said 🙏 let there be",
    "only emoji": "😀🙏🔥",
    "right-to-left": "and god שלום said مرحبا let there be",
    "not a string": 12345,
    "null": None,
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_gives_text_or_a_clear_error(client, text):
    for call in (lambda: generate(client, text, 8), lambda: generate(client, text, 8, api_name="/generate_text"),
                 lambda: client.predict(text, api_name="/next_words")):
        try:
            result = call()
        except AppError as err:  # a gr.Error: its message is sent, a crash's is not
            message = str(err)
            assert "prompt" in message.lower() or "vocabulary" in message.lower(), message
            assert "Traceback" not in message
        else:
            assert result, result


def test_next_words(client):
    result = client.predict(SEED, api_name="/next_words")
    probabilities = list(result.values())
    assert len(result) == 10 and probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1.0001 and all(isinstance(w, str) for w in result)


def test_concurrent_clients_all_succeed(app_server):
    def one(i: int) -> str:
        client = Client(app_server.url, verbose=False, download_files=False, analytics_enabled=False)
        return generated(generate(client, SEED, 64, "top-k", 10, 1.0, i))

    with ThreadPoolExecutor(6) as pool:
        texts = list(pool.map(one, range(6)))
    assert all(count(t) == 64 for t in texts)


def test_examples_use_known_words(app_server, app_model):
    from wordrnn import Vocabulary

    with urllib.request.urlopen(app_server.url + "config", timeout=10) as response:
        config = json.load(response)
    datasets = [c for c in config["components"] if c.get("type") == "dataset"]
    samples = [row[0] for c in datasets for row in c["props"]["samples"]]
    vocab = Vocabulary.load(app_model / "vocab.json")
    assert samples, "the page offers example prompts"
    for sample in samples:
        words = tokenize(sample, eol=False)
        assert sum(any(c.isalnum() for c in w) for w in words) == 7 and all(w in vocab for w in words), sample


def test_a_model_without_example_prompts_offers_none(tmp_path):
    """A model that knows fewer than 7 words has no example and no held-out line to give: the page
    says so by leaving them out, not with an empty "e.g.", Examples heading and Fill button."""
    from wordrnn import Checkpoint, ModelConfig, Vocabulary, WordRNN

    vocab = Vocabulary.build(tokenize("hello world .\ngood night moon .\nhello moon ."))
    model = WordRNN(ModelConfig(vocab_size=len(vocab), embedding_size=8, hidden_sizes=[8], dropout=0.0))
    Checkpoint(model, vocab, {}).save_pretrained(tmp_path / "small")
    with AppServer(tmp_path / "small") as server:
        with urllib.request.urlopen(server.url + "config", timeout=10) as response:
            components = json.load(response)["components"]

    props = {c["props"].get("elem_id"): c["props"] for c in components}
    assert props["prompt"]["placeholder"] == "7 words"
    assert not [c for c in components if c.get("type") == "dataset"]
    assert props["fill"]["visible"] is False


FAKE_SPACES = """
import functools, inspect, os

def GPU(fn=None, duration=60):
    # Like spaces.GPU: a decorator, with or without arguments; records each call.
    def decorate(fn):
        def note():
            with open(os.environ["SPACES_CALLS"], "a") as calls:
                calls.write(fn.__name__ + "\\n")
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def stream(*args, **kwargs):
                note()
                yield from fn(*args, **kwargs)
            return stream
        @functools.wraps(fn)
        def call(*args, **kwargs):
            note()
            return fn(*args, **kwargs)
        return call
    return decorate(fn) if fn is not None else decorate
"""


def test_gpu_work_goes_through_spaces_gpu_when_importable(app_model, tmp_path):
    """On ZeroGPU the `spaces` package is there: the model calls, and only they, ask it for a GPU."""
    (tmp_path / "spaces.py").write_text(FAKE_SPACES)
    calls = tmp_path / "calls.txt"
    env = app_env(PYTHONPATH=f"{tmp_path}:{ROOT}", SPACES_CALLS=str(calls))
    with AppServer(app_model, env=env) as server:
        client = Client(server.url, verbose=False, download_files=False, analytics_enabled=False)
        assert generated(generate(client, SEED, 5))
        assert len(client.predict(SEED, api_name="/next_words")) == 10
        with pytest.raises(AppError):
            generate(client, "", 5)  # refused before any GPU is asked for
    assert calls.read_text().split() == ["_tokens", "_next_words"]


def test_missing_model_folder_stops_the_app_with_a_message(tmp_path):
    missing = tmp_path / "no-such-model"
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--model", str(missing)], cwd=ROOT,
                            env=app_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert f"wordrnn app cannot start: there is no checkpoint folder at {missing}" in result.stderr
    assert "Traceback" not in result.stderr


def test_server_log_has_no_traceback(app_server):
    """Last in the module: every request above was answered without a crash."""
    assert "Traceback" not in app_server.log(), app_server.log()[-5000:]


def test_a_port_in_use_stops_the_app_with_one_line(app_model):
    with socket.socket() as other:  # another program listening on the port
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--model", str(app_model), "--port", str(port)],
                                cwd=ROOT, env=app_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.splitlines()[-1] == (
        f"python app.py: error: port {port} is already in use: pass another --port, "
        "or neither --port nor $GRADIO_SERVER_PORT to take the first free port from 7860")
    assert "Traceback" not in result.stderr


def test_unknown_flags_stop_the_app_with_its_usage_line():
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--modle", "x", "--prot", "99"], cwd=ROOT,
                            env=app_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: python app.py") and "unrecognized arguments: --modle x --prot 99" in result.stderr
    assert "Traceback" not in result.stderr
