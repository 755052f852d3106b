"""wordrnn app: type seven seed words, watch a word-level LSTM continue them.

    python app.py                                   # the embedded default model, http://127.0.0.1:7860
    python app.py --model owner/name --revision v1  # any wordrnn checkpoint on the Hub (or a folder)
    python app.py --host 0.0.0.0 --port 8080        # or GRADIO_SERVER_NAME / GRADIO_SERVER_PORT

API (see the README for a gradio_client example): /generate_text returns the text as a string,
/next_words the 10 most likely next words, /generate streams the text as the page shows it. With
the `mcp` package installed the app is also an MCP server (/gradio_api/mcp/). Which model: the
resolver in wordrnn/source.py; control ranges and defaults: wordrnn/controls.py; page helpers:
wordrnn/page.py.
"""

# No `from __future__ import annotations`: gr.api reads the handlers' type hints at run time.
try:  # ZeroGPU Spaces: `spaces` must come before torch, and its decorator lends a GPU per call.
    import spaces

    gpu = spaces.GPU(duration=60)  # effect-free off ZeroGPU
except ImportError:
    def gpu(fn):  # type: ignore[no-redef]
        return fn

import functools
import importlib.util
import logging
import os
import sys
import time
from typing import Any, Iterator

import gradio as gr
import torch

from wordrnn import EOL, PromptError, controls, detokenize, page, source
from wordrnn.controls import K, LENGTH, NO_REPEAT, TEMPERATURE, TOP_P
from wordrnn.errors import CheckpointError
from wordrnn.generate import MAX_PROMPT_CHARS, MODES, SEED_WORDS, Generator, Prompt
from wordrnn.scheduler import UPDATE_EVERY, Busy, serve, update_every

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise

CONCURRENCY = 2  # generations at once without the scheduler (WORDRNN_BATCHING=0); with it, its own limit
QUEUE_SIZE = 64  # each Generate click queues 2 events (text, chart): 32 visitors waiting at most
STREAM_EVERY = UPDATE_EVERY  # s between a lone visitor's text updates; in a crowd, update_every's longer
TOP_WORDS = 10
CHIPS = 9  # suggestion buttons under the prompt: 3 unknown words x 3 suggestions
MCP = importlib.util.find_spec("mcp") is not None  # gradio[mcp]; without it the app serves the rest
# HighlightedText lays tokens out as flex items that break anywhere; ours are runs of prose.
CSS = """
#output .textfield { display: block; word-break: normal; overflow-wrap: anywhere; line-height: 1.8; }
#output .token-container, #output .token { display: inline; }
#output .line-break { display: block; }
"""
URL_JS = "(query) => { if (query) window.history.replaceState(null, '', query); }"
COPY_JS = "(runs) => navigator.clipboard.writeText((runs || []).map(r => r.token ?? r[0]).join(''))"
REPLAY_JS = "() => { if (new URLSearchParams(location.search).get('prompt')) document.querySelector('#generate').click(); }"

# The flags are the host's only when app.py runs as a script (`gradio app.py -- --model x` too);
# an importer (a Space, a test) gets the environment's settings.
SCRIPT = __name__ == "__main__" or os.environ.get("GRADIO_WATCH_MODULE_NAME") == __name__
SETTINGS = page.settings(sys.argv[1:] if SCRIPT else [])
try:
    SOURCE = source.resolve(SETTINGS.model, SETTINGS.revision)
except CheckpointError as err:  # a message for the host, not a traceback
    raise SystemExit(f"wordrnn app cannot start: {err}") from None
# Loaded once; every request goes through one scheduler that steps all active texts together
# (WORDRNN_BATCHING=0: one stream per request, at most CONCURRENCY at once). CUDA when available.
GEN = serve(Generator(SOURCE.checkpoint))
if GEN.device.type == "cpu":
    torch.set_num_threads(1)  # the scheduler's steps stay small: one core for them, one for Gradio
CONCURRENCY = getattr(GEN, "concurrency", CONCURRENCY)
QUEUE_SIZE = max(QUEUE_SIZE, CONCURRENCY)
VOCAB = GEN.vocab
EXAMPLES = page.examples(VOCAB, SOURCE.checkpoint.info)
HELD_OUT = page.held_out(VOCAB, SOURCE.checkpoint.info)
DEFAULTS = controls.defaults()


def _error(message: str, title: str = "Error") -> gr.Error:
    return gr.Error(message, title=title, print_exception=False)


def _prompt(text: Any) -> Prompt:
    if not isinstance(text, (str, type(None))):
        raise _error(f"The prompt must be text, not {type(text).__name__}.")
    try:
        return GEN.prompt(text)
    except PromptError as err:
        raise _error(str(err), "Seed words") from None


def _options(mode: Any, k: Any, temperature: Any, top_p: Any, no_repeat: Any, rng_seed: Any) -> dict[str, Any]:
    """The sampler's settings, clamped to the page's ranges (API callers can send anything)."""
    if mode not in MODES:
        raise _error(f"mode must be one of {', '.join(MODES)}, not {str(mode)[:40]!r}.")
    try:
        seed = controls.rng_seed(rng_seed)
    except ValueError as err:
        raise _error(str(err)) from None
    return dict(mode=mode, k=K.clamp(k), temperature=TEMPERATURE.clamp(temperature), top_p=TOP_P.clamp(top_p),
                no_repeat_ngram=NO_REPEAT.clamp(no_repeat), seed=seed)


def _length(length: Any) -> int:
    count = LENGTH.clamp(length)
    if count != length:
        gr.Warning(f"Length must be a whole number of words from {LENGTH.low} to {LENGTH.high}; using {count}.")
    return count


@gpu
def _tokens(prompt: Prompt, length: int, options: dict[str, Any]) -> Iterator[str]:
    try:
        tokens = GEN.stream(prompt, length, **options)  # the only GPU work of a generation
    except Busy as err:
        raise _error(f"The app is {err}: every place is taken.", title="Busy") from None
    yield from tokens


@gpu
def _next_words(prompt: Prompt) -> list[tuple[str, float]]:
    return GEN.next_words(prompt, TOP_WORDS)


def generate(
    prompt: str, length: int = LENGTH.default, mode: str = DEFAULTS["mode"], k: int = K.default,
    temperature: float = TEMPERATURE.default, top_p: float = TOP_P.default, no_repeat: int = NO_REPEAT.default,
    rng_seed: str | int | None = None,
) -> Iterator[list[tuple[str, str | None]]]:
    """Continue the seed words, streaming the text so far as (text, label) runs: "seed" and
    "unknown" for the seed words, None for the rest. Arguments as for generate_text."""
    seed_words, options, count = _prompt(prompt), _options(mode, k, temperature, top_p, no_repeat, rng_seed), _length(length)
    if seed_words.unknown:
        close = [f"{w!r}" + (f" (did you mean {', '.join(c)}?)" if c else "") for w, c in seed_words.unknown.items()]
        # Toasts render HTML: no "<unk>" here, and user words only as quoted single tokens.
        gr.Warning(f"Not in the vocabulary (read as an unknown word): {'; '.join(close)}", title="Unknown words")
    head: list[tuple[str, str | None]] = list(page.seed_runs(seed_words.words, seed_words.unknown))
    start = len(detokenize(seed_words.words))
    tokens, shown = list(seed_words.words), time.monotonic()
    yield head
    for token in _tokens(seed_words, count, options):
        tokens.append(token)
        if time.monotonic() - shown >= update_every(GEN, STREAM_EVERY):
            shown = time.monotonic()
            yield head + [(detokenize(tokens)[start:], None)]
    yield head + [(detokenize(tokens)[start:], None)]


def generate_text(
    prompt: str, length: int = LENGTH.default, mode: str = DEFAULTS["mode"], k: int = K.default,
    temperature: float = TEMPERATURE.default, top_p: float = TOP_P.default, no_repeat: int = NO_REPEAT.default,
    rng_seed: str | None = None,
) -> str:
    """Continue seed words with the word-level LSTM and return the whole text (seed words first).

    Args:
        prompt: the seed words, about 7 (e.g. "and god said , let there be light").
        length: how many words to generate, 1 to 500.
        mode: "greedy" (always the most likely word), "top-k" or "top-p" (random draws).
        k: top-k draws among the k most likely words, 1 to 100.
        temperature: for top-k and top-p, 0.1 to 2; below 1 sharper, above 1 flatter.
        top_p: top-p draws among the most likely words whose probabilities add up to top_p.
        no_repeat: 0 (off) or n: no n-word sequence appears twice.
        rng_seed: a whole number makes a draw reproducible; empty for a random one.
    """
    runs: list[tuple[str, str | None]] = []
    for runs in generate(prompt, length, mode, k, temperature, top_p, no_repeat, rng_seed):
        pass
    return "".join(text for text, _ in runs)


def next_words(prompt: str) -> dict[str, float]:
    """The 10 most likely words after the seed words, most likely first: {word: probability}.

    Args:
        prompt: the seed words (e.g. "and god said , let there be").
    """
    return {("↵ (new line)" if w == EOL else w): p for w, p in _next_words(_prompt(prompt))}


def chart_words(prompt: str) -> dict[str, float] | None:
    """next_words for the page's chart: a bad prompt is already reported by generate."""
    try:
        return next_words(prompt)
    except gr.Error:
        return None


@functools.lru_cache(maxsize=4096)
def _closest(word: str) -> tuple[str, ...]:
    return tuple(VOCAB.closest(word))  # ~50 ms on a 12k vocabulary: once per word, then cached


def describe(text: str) -> list[Any]:
    """The word count, the unknown words and a button per suggestion, on each keystroke."""
    info, pairs = page.prompt_info(text, VOCAB, _closest, MAX_PROMPT_CHARS)
    chips = [gr.update(value=f"{word} → {close}", visible=True) for word, close in pairs[:CHIPS]]
    return [info, *chips, *[gr.update(visible=False)] * (CHIPS - len(chips))]


def replace(text: str, chip: str) -> str:
    word, _, close = str(chip).partition(" → ")
    return page.replace_word(text or "", word, close)


def settle(prompt: str, length: Any, mode: str, k: Any, temperature: Any, top_p: Any, no_repeat: Any,
           rng_seed: Any) -> tuple[str, str, str]:
    """Before a page generation: the rng seed to use (drawn when the box is empty), what to say
    about it, and the URL query that reproduces the text."""
    try:
        seed = controls.rng_seed(rng_seed)
    except ValueError as err:
        raise _error(str(err)) from None
    used = controls.draw_seed() if seed is None else seed
    values = dict(prompt=prompt, length=length, mode=mode, k=k, temperature=temperature, top_p=top_p,
                  no_repeat=no_repeat, rng_seed=used)
    note = "" if mode == "greedy" else f"rng seed **{used}**" + (" (drawn)" if seed is None else "")
    return str(used), note + " · the page's address now reproduces this text", controls.query(values)


def from_url(request: gr.Request) -> list[Any]:
    """The controls as a shared link sets them; nothing changes without one (the visitor may
    already be typing)."""
    params = dict(request.query_params)
    if "prompt" not in params:
        return [gr.skip()] * len(controls.NAMES)
    values = controls.from_query(params)
    return [values[name] if values[name] is not None else "" for name in controls.NAMES]


with gr.Blocks(title="wordrnn") as demo:
    gr.Markdown(
        f"# wordrnn\nType {SEED_WORDS} seed words; a word-level LSTM continues them, one word at a time. "
        "**Greedy** always takes the most likely word; **top-k** and **top-p** draw among the likely ones."
    )
    if SOURCE.notice:
        gr.Markdown(f"⚠️ **{page.md_escape(SOURCE.notice)}**", elem_id="notice")
    with gr.Row():
        with gr.Column(scale=2):
            prompt = gr.Textbox(label="Seed words", placeholder=f"{SEED_WORDS} words, e.g. {(EXAMPLES or [''])[0]}",
                                max_length=MAX_PROMPT_CHARS, elem_id="prompt")
            info = gr.Markdown(describe("")[0], elem_id="prompt-info")
            with gr.Row(elem_id="suggestions"):
                chips = [gr.Button(visible=False, size="sm", elem_classes="chip") for _ in range(CHIPS)]
            fill = gr.Button(f"Fill {SEED_WORDS} words from held-out text", size="sm", elem_id="fill")
            gr.Examples([[e] for e in EXAMPLES], inputs=prompt, label="Examples (click one)")
            length = gr.Slider(LENGTH.low, LENGTH.high, value=LENGTH.default, step=LENGTH.step,
                               label="Length (words to generate)", elem_id="length")
            mode = gr.Radio(list(MODES), value=DEFAULTS["mode"], label="Decoding", elem_id="mode")
            with gr.Accordion("Decoding settings", open=False, elem_id="settings"):
                k = gr.Slider(K.low, K.high, value=K.default, step=K.step, label="k", elem_id="k",
                              visible=DEFAULTS["mode"] == "top-k")
                top_p = gr.Slider(TOP_P.low, TOP_P.high, value=TOP_P.default, step=TOP_P.step, label="top-p",
                                  elem_id="top_p", visible=DEFAULTS["mode"] == "top-p")
                temperature = gr.Slider(TEMPERATURE.low, TEMPERATURE.high, value=TEMPERATURE.default,
                                        step=TEMPERATURE.step, label="Temperature", elem_id="temperature",
                                        visible=DEFAULTS["mode"] != "greedy")
                no_repeat = gr.Slider(NO_REPEAT.low, NO_REPEAT.high, value=NO_REPEAT.default, step=NO_REPEAT.step,
                                      label="No-repeat n-gram (0: off)", elem_id="no_repeat")
                # A Textbox, not a Number: an empty Number is sent as 0, and empty must mean random.
                rng_seed = gr.Textbox(label="rng seed", placeholder="empty: random", max_length=20, elem_id="rng_seed")
            with gr.Row():
                go = gr.Button("Generate", variant="primary", elem_id="generate")
                stop = gr.Button("Stop", variant="stop", elem_id="stop")
        with gr.Column(scale=3):  # after the button on a phone, where the columns stack
            copy = gr.Button("Copy text", size="sm", elem_id="copy")
            output = gr.HighlightedText(label="Text", color_map={"seed": "blue", "unknown": "red"}, show_legend=True,
                                        elem_id="output", buttons=[copy])
            drawn = gr.Markdown(elem_id="drawn")
            chart = gr.Label(label="Most likely next words after the seed", num_top_classes=TOP_WORDS, elem_id="next-words")
            with gr.Accordion("Model", open=True):
                rows = page.summary(SOURCE, GEN.device)
                gr.Markdown("\n".join(f"- **{name}:** {page.md_escape(value)}" for name, value in rows), elem_id="model")
    # Hidden, not gr.State: /generate's API takes the rng seed that the page passes through `used`.
    used, query = gr.Textbox(visible="hidden", elem_id="used"), gr.Textbox(visible="hidden")
    settings = [length, mode, k, temperature, top_p, no_repeat]

    hidden = dict(queue=False, show_progress="hidden", api_visibility="private")
    prompt.change(describe, prompt, [info, *chips], trigger_mode="always_last", preprocess=False, **hidden)
    for chip in chips:
        chip.click(replace, [prompt, chip], prompt, preprocess=False, **hidden)
    fill.click(lambda: page.draw(HELD_OUT), None, prompt, **hidden)
    mode.change(lambda m: [gr.update(visible=m == "top-k"), gr.update(visible=m == "top-p"),
                           gr.update(visible=m != "greedy")], mode, [k, top_p, temperature], **hidden)
    # A click on greedy means the exact argmax: the no-repeat guard off (a link's settings stay as set).
    mode.input(lambda m: 0 if m == "greedy" else NO_REPEAT.default, mode, no_repeat, **hidden)
    copy.click(None, output, None, js=COPY_JS, **hidden)
    # preprocess=False: the handlers check raw values themselves (Gradio would raise a TypeError
    # on a string sent for a slider). One concurrency group: text and chart share the CPU cores.
    start = gr.on([go.click, prompt.submit], settle, [prompt, *settings, rng_seed], [used, drawn, query],
                  preprocess=False, **hidden)
    start.success(None, query, None, js=URL_JS, **hidden)
    run = start.success(generate, [prompt, *settings, used], output, api_name="generate", concurrency_limit=CONCURRENCY,
                        concurrency_id="model", preprocess=False)
    start.success(chart_words, prompt, chart, api_visibility="private", concurrency_id="model", preprocess=False,
                  show_progress="minimal")
    gr.api(generate_text, api_name="generate_text", concurrency_id="model")  # a plain string for clients
    gr.api(next_words, api_name="next_words", concurrency_id="model")  # a plain {word: p} for clients
    stop.click(None, cancels=[run], api_visibility="private")
    demo.load(from_url, None, [prompt, *settings, rng_seed], **hidden).then(None, js=REPLAY_JS, **hidden)

demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)

if __name__ == "__main__":
    # Each waiting or streaming request holds one of Gradio's worker threads (40 by default).
    demo.launch(server_name=SETTINGS.host, server_port=SETTINGS.port, css=CSS, mcp_server=MCP,
                max_threads=max(40, CONCURRENCY + 8))
