"""wordrnn app: type seven seed words, watch a word-level LSTM continue them.

    python app.py                                   # the embedded default model, http://127.0.0.1:7860
    python app.py --model owner/name --revision v1  # any wordrnn checkpoint on the Hub (or a folder)
    python app.py --host 0.0.0.0 --port 8080        # or GRADIO_SERVER_NAME / GRADIO_SERVER_PORT

API: /generate streams the text so far, /next_words gives the 10 most likely next words (see the
README for a gradio_client example). Model choice and fallback live in wordrnn/source.py.
"""

from __future__ import annotations

try:  # ZeroGPU Spaces: `spaces` must come before torch, and its decorator lends a GPU per call.
    import spaces

    gpu = spaces.GPU(duration=60)  # effect-free off ZeroGPU
except ImportError:
    def gpu(fn):  # type: ignore[no-redef]
        return fn

import functools
import logging
import sys
import time
from typing import Any, Iterator

import gradio as gr
import torch

from wordrnn import EOL, PromptError, detokenize, source
from wordrnn.errors import CheckpointError
from wordrnn.generate import MAX_PROMPT_CHARS, MAX_WORDS, SEED_WORDS, Generator, Prompt

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise

CONCURRENCY = 2  # generations at once: a free CPU Space has 2 vCPUs, one generation keeps one busy
QUEUE_SIZE = 64  # each Generate click queues 2 events (text, chart): 32 visitors waiting at most
STREAM_EVERY = 0.05  # s between text updates: ~20 a second reads as word by word, costs little CPU
MODES = ["greedy", "top-k"]
TOP_WORDS = 10
# HighlightedText lays tokens out as flex items that break anywhere; ours are runs of prose.
CSS = """
#output .textfield { display: block; word-break: normal; overflow-wrap: anywhere; line-height: 1.8; }
#output .token-container, #output .token { display: inline; }
#output .line-break { display: block; }
"""

SETTINGS = source.settings(sys.argv[1:] if __name__ == "__main__" else [])
try:
    SOURCE = source.resolve(SETTINGS.model, SETTINGS.revision)
except CheckpointError as err:  # a message for the host, not a traceback
    raise SystemExit(f"wordrnn app cannot start: {err}") from None
GEN = Generator(SOURCE.checkpoint)  # CUDA when available; loaded once, shared by every request
if GEN.device.type == "cpu":
    torch.set_num_threads(1)  # batch-1 steps are too small to split; requests run side by side
VOCAB = GEN.vocab
EXAMPLES = source.examples(VOCAB, SOURCE.checkpoint.info)


def _seed(value: Any) -> int | None:
    """A whole number makes top-k reproducible; empty means a fresh random draw."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    seed = source.clamp(value, 0, 2**63 - 1, None)
    if seed is None:
        raise gr.Error(f"The seed must be a whole number, or empty for a random draw; got {str(value)[:20]!r}.",
                       print_exception=False)
    return seed


def _prompt(text: Any) -> Prompt:
    if not isinstance(text, (str, type(None))):
        raise gr.Error(f"The prompt must be text, not {type(text).__name__}.", print_exception=False)
    try:
        return GEN.prompt(text)
    except PromptError as err:
        raise gr.Error(str(err), title="Seed words", print_exception=False) from None


@gpu
def _tokens(prompt: Prompt, words: int, options: dict[str, Any]) -> Iterator[str]:
    yield from GEN.stream(prompt, words, **options)  # the only GPU work of a generation


@gpu
def _next_words(prompt: Prompt) -> list[tuple[str, float]]:
    return GEN.next_words(prompt, TOP_WORDS)


def generate(
    text: str, words: int = 128, mode: str = "greedy", k: int = 10, temperature: float = 1.0,
    seed: str | int | None = None,
) -> Iterator[list[tuple[str, str | None]]]:
    """Continue the seed words by `words` words (1-500), greedy or top-k (k 1-100, temperature
    0.1-2, seed: a whole number for a reproducible draw, empty for a random one). Yields the text
    so far as (text, label) runs: "seed" and "unknown" for the seed words, None for the rest."""
    prompt = _prompt(text)
    if mode not in MODES:
        raise gr.Error(f"mode must be one of {', '.join(MODES)}, not {str(mode)[:40]!r}.", print_exception=False)
    count = source.clamp(words, 1, MAX_WORDS, 128)
    if count != words:
        gr.Warning(f"Words to generate must be a whole number from 1 to {MAX_WORDS}; using {count}.")
    options = dict(  # the slider ranges of the page; API calls are clamped to them too
        mode=mode, k=source.clamp(k, 1, 100, 10), temperature=source.clamp(temperature, 0.1, 2.0, 1.0, integer=False),
        seed=_seed(seed),
    )
    if prompt.unknown:
        close = [f"{w!r}" + (f" (did you mean {', '.join(c)}?)" if c else "") for w, c in prompt.unknown.items()]
        # Toasts render HTML: no "<unk>" here, and user words only as quoted single tokens.
        gr.Warning(f"Not in the vocabulary (read as an unknown word): {'; '.join(close)}", title="Unknown words")
    head: list[tuple[str, str | None]] = list(source.seed_runs(prompt.words, prompt.unknown))
    start = len(detokenize(prompt.words))
    tokens, shown = list(prompt.words), time.monotonic()
    yield head
    for token in _tokens(prompt, count, options):
        tokens.append(token)
        if time.monotonic() - shown >= STREAM_EVERY:
            shown = time.monotonic()
            yield head + [(detokenize(tokens)[start:], None)]
    yield head + [(detokenize(tokens)[start:], None)]


def next_words(text: str) -> dict[str, float]:
    """The 10 most likely words after the seed words, most likely first: {word: probability}."""
    return {("↵ (new line)" if w == EOL else w): p for w, p in _next_words(_prompt(text))}


def chart_words(text: str) -> dict[str, float] | None:
    """next_words for the page's chart: a bad prompt is already reported by generate."""
    try:
        return next_words(text)
    except gr.Error:
        return None


@functools.lru_cache(maxsize=4096)
def _closest(word: str) -> tuple[str, ...]:
    return tuple(VOCAB.closest(word))  # ~50 ms on a 12k vocabulary: once per word, then cached


def describe(text: str) -> str:
    """Word count and unknown words under the prompt, on each keystroke (no model call)."""
    return source.prompt_info(text, VOCAB, _closest, MAX_PROMPT_CHARS)


with gr.Blocks(title="wordrnn") as demo:
    gr.Markdown(
        f"# wordrnn\nType {SEED_WORDS} seed words; a word-level LSTM continues them, one word at a time. "
        "**Greedy** always takes the most likely word; **top-k** draws among the k most likely."
    )
    if SOURCE.notice:
        gr.Markdown(f"⚠️ **{source.md_escape(SOURCE.notice)}**", elem_id="notice")
    with gr.Row():
        with gr.Column(scale=2):
            prompt = gr.Textbox(
                label="Seed words", placeholder=f"{SEED_WORDS} words, e.g. {EXAMPLES[0] if EXAMPLES else ''}",
                max_length=MAX_PROMPT_CHARS, elem_id="prompt",
            )
            info = gr.Markdown(describe(""), elem_id="prompt-info")
            gr.Examples([[e] for e in EXAMPLES], inputs=prompt, label="Examples (click one)")
            words = gr.Slider(1, MAX_WORDS, value=128, step=1, label="Words to generate", elem_id="words")
            mode = gr.Radio(MODES, value="greedy", label="Decoding", elem_id="mode")
            with gr.Row(visible=False) as sampling:
                k = gr.Slider(1, 100, value=10, step=1, label="k", elem_id="k")
                temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature", elem_id="temperature")
                # A Textbox, not a Number: an empty Number is sent as 0, and empty must mean random.
                seed = gr.Textbox(label="Seed", placeholder="empty: random", max_length=20, elem_id="seed")
            with gr.Row():
                go = gr.Button("Generate", variant="primary", elem_id="generate")
                stop = gr.Button("Stop", variant="stop", elem_id="stop")
            chart = gr.Label(label="Most likely next words after the seed", num_top_classes=TOP_WORDS, elem_id="next-words")
        with gr.Column(scale=3):
            output = gr.HighlightedText(
                label="Text", color_map={"seed": "blue", "unknown": "red"}, show_legend=True, elem_id="output",
            )
            with gr.Accordion("Model", open=True):
                rows = source.summary(SOURCE, GEN.device)
                gr.Markdown("\n".join(f"- **{name}:** {source.md_escape(value)}" for name, value in rows), elem_id="model")

    hidden = dict(queue=False, show_progress="hidden", api_visibility="private")
    prompt.change(describe, prompt, info, trigger_mode="always_last", preprocess=False, **hidden)
    mode.change(lambda m: gr.update(visible=m == "top-k"), mode, sampling, **hidden)
    # preprocess=False: the handlers check raw values themselves (Gradio would raise a TypeError
    # on a string sent for a slider). One concurrency group: text and chart share the CPU cores.
    run = gr.on(
        [go.click, prompt.submit], generate, [prompt, words, mode, k, temperature, seed], output,
        api_name="generate", concurrency_limit=CONCURRENCY, concurrency_id="model", preprocess=False,
    )
    gr.on(
        [go.click, prompt.submit], chart_words, prompt, chart, api_visibility="private",
        concurrency_id="model", preprocess=False, show_progress="minimal",
    )
    gr.api(next_words, api_name="next_words", concurrency_id="model")  # a plain {word: p} for clients
    stop.click(None, cancels=[run], api_visibility="private")

demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)

if __name__ == "__main__":
    demo.launch(server_name=SETTINGS.host, server_port=SETTINGS.port, css=CSS)
