"""wordrnn app: type seven seed words, watch a word-level LSTM continue them.

    python app.py                                   # the embedded default model, http://127.0.0.1:7860
    python app.py --model owner/name --revision v1  # any wordrnn checkpoint on the Hub (or a folder)
    python app.py --host 0.0.0.0 --port 8080        # or GRADIO_SERVER_NAME / GRADIO_SERVER_PORT

API (gradio_client example in the README): /generate_text, /next_words, /generate (streams),
/generate_words (every word explained), /branch; an MCP server too with `mcp` installed. The
request logic is wordrnn/session.py; ranges and defaults wordrnn/controls.py; page text wordrnn/page.py.
"""

# No `from __future__ import annotations`: gr.api reads the handlers' type hints at run time.
try:  # ZeroGPU Spaces: `spaces` must come before torch, and its decorator lends a GPU per call.
    import spaces

    gpu = spaces.GPU(duration=60)  # effect-free off ZeroGPU
except ImportError:
    def gpu(fn):  # type: ignore[no-redef]
        return fn

import contextlib
import importlib.util
import inspect
import logging
import os
import sys
import time
from typing import Any, Iterator

import gradio as gr
import torch

from wordrnn import PromptError, cli, controls, detokenize, examples, gradio_sessions, page, session, source
from wordrnn.controls import K, LENGTH, NO_REPEAT, TEMPERATURE, TOP_P
from wordrnn.errors import CheckpointError, WordRNNError
from wordrnn.generate import MAX_PROMPT_CHARS, MODES, SEED_WORDS, Generator, Prompt
from wordrnn.scheduler import UPDATE_EVERY, update_every
from wordrnn.streams import Busy, halted
from wordrnn.worker import serve
from wordrnn.trace import Text

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
cli.quiet_known_warnings()  # the HTTP clients' line per request, among others

CONCURRENCY = 2  # generations at once without the scheduler (WORDRNN_BATCHING=0); with it, its own limit
QUEUE_SIZE = 64  # events waiting; a Generate click queues 3 in turn (its checks, the text, the chart)
STREAM_EVERY = UPDATE_EVERY  # s between a lone visitor's text updates; in a crowd, update_every's longer
CHIPS = 9  # suggestion buttons under the prompt: 3 unknown words x 3 suggestions
MCP = importlib.util.find_spec("mcp") is not None  # gradio[mcp]; without it the app serves the rest
# HighlightedText lays tokens out as flex items that break anywhere; ours are runs of prose.
CSS = """
#output .textfield { display: block; word-break: normal; overflow-wrap: anywhere; line-height: 1.8; }
#output .token-container, #output .token { display: inline; }
#output .line-break { display: block; }
#output .token, #output .token-container, #output .text { margin: 0; padding: 1px 0; cursor: pointer; }
#output .textfield, #output .token-container, #output .token { font-size: 0; text-align: left; }  /* no gaps between words */
#output .text { font-size: var(--text-lg); background-color: inherit; border-radius: 3px; }  /* the label colour of its token */
"""
# NO_ADDRESS: a version no link can write again (wordrnn.session.Session.address): the bare page.
NO_ADDRESS = "?"
URL_JS = (f"(query) => {{ if (query) window.history.replaceState(null, '', "
          f"query === '{NO_ADDRESS}' ? location.pathname : query); }}")
COPY_JS = "(runs) => navigator.clipboard.writeText((runs || []).map(r => r.token ?? r[0]).join(''))"
# Gradio's markup for the text puts a space after every word's element, hidden (font-size 0) but
# still a place where a line may break: before a comma or a full stop. Each word's element holds
# its own space before it, so the page empties the others as they appear. It also makes the words
# reachable from the keyboard (Gradio's are not).
PAGE_JS = """() => {
  const empty = (node) => {
    const walk = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let text = walk.currentNode; text; text = walk.nextNode())
      if (text.nodeType === 3 && text.data && !text.data.trim() && !text.parentElement.closest('.text')) text.data = '';
  };
  // From the keyboard the text is one tab stop: the arrow keys move from word to word, Enter or
  // Space clicks one (what else it could have been), as a mouse does.
  const words = (output) => [...output.querySelectorAll('.token-container')];
  const stop = (output) => {
    const all = words(output);
    if (all.length && !all.some(w => w.tabIndex === 0)) all.forEach((w, i) => { w.tabIndex = i ? -1 : 0; });
  };
  const keys = (output) => output.addEventListener('keydown', (event) => {
    const all = words(output), at = all.indexOf(document.activeElement.closest('.token-container'));
    if (at < 0) return;
    const next = {ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1,
                  Home: 0, End: all.length - 1}[event.key];
    if (event.key === 'Enter' || event.key === ' ') {  // on the word itself: Gradio listens there
      event.preventDefault(); (all[at].querySelector('.text') || all[at]).click();
    }
    else if (next !== undefined && all[next]) {
      event.preventDefault(); all.forEach(w => { w.tabIndex = -1; }); all[next].tabIndex = 0; all[next].focus();
    }
  });
  const watch = () => {
    const output = document.querySelector('#output');
    if (!output) return setTimeout(watch, 100);
    empty(output); stop(output); keys(output);
    new MutationObserver(records => { records.forEach(r => r.addedNodes.forEach(empty)); stop(output); })
      .observe(output, {childList: true, subtree: true});
  };
  watch();
}"""
# The page numbers its Generate clicks and sends the number with Generate's checks and with Stop
# (wordrnn.stops): a Stop that overtakes its click's queued request still ends that generation.
NEXT_RUN_JS = "(...args) => { window.wordrnnRun = (window.wordrnnRun || 0) + 1; args[args.length - 1] = String(window.wordrnnRun); return args; }"
THIS_RUN_JS = "(...args) => { args[args.length - 1] = String(window.wordrnnRun || 0); return args; }"
REPLAY_JS = "() => { if (new URLSearchParams(location.search).get('prompt')) document.querySelector('#generate').click(); }"

# The flags are the host's only when app.py runs as a script (`gradio app.py -- --model x` too);
# an importer (a Space, a test) gets the environment's settings.
SCRIPT = __name__ == "__main__" or os.environ.get("GRADIO_WATCH_MODULE_NAME") == __name__
SETTINGS = page.settings(sys.argv[1:] if SCRIPT else [])
try:
    SOURCE = source.resolve(SETTINGS.model, SETTINGS.revision)
except CheckpointError as err:  # a message for the host, not a traceback
    raise SystemExit(f"wordrnn app cannot start: {err}") from None
# Loaded once; every request goes through one scheduler, in a process of its own, that steps all
# active texts together (WORDRNN_BATCHING=0: one stream per request, at most CONCURRENCY at once;
# =thread: the scheduler in this process). CUDA when available.
torch.set_num_threads(1)  # on the CPU the steps stay small: one core for them, one for Gradio
GEN = serve(Generator(SOURCE.checkpoint))
CONCURRENCY = getattr(GEN, "concurrency", CONCURRENCY)
QUEUE_SIZE = max(QUEUE_SIZE, CONCURRENCY)
SESSION = session.Session(GEN)  # the texts it writes, kept to explain and branch from
VOCAB = GEN.vocab
EXAMPLES = examples.examples(VOCAB, SOURCE.checkpoint.info)
HELD_OUT = examples.held_out(VOCAB, SOURCE.checkpoint.info)
DEFAULTS = controls.defaults()


# The API's settings, described once: each endpoint's docstring (Gradio's API page, MCP's tool
# schema) gets the lines of those it takes (_documented).
ARGS = {
    "prompt": f"the seed words, about {SEED_WORDS}" + (f' (e.g. "{EXAMPLES[0]}").' if EXAMPLES else "."),
    "length": f"how many words to generate, {LENGTH.low} to {LENGTH.high}.",
    "mode": '"greedy" (always the most likely word), "top-k" or "top-p" (random draws).',
    "k": f"top-k draws among the k most likely words, {K.low} to {K.high}.",
    "temperature": f"for top-k and top-p, {TEMPERATURE.low:g} to {TEMPERATURE.high:g}; below 1 sharper, above 1 flatter.",
    "top_p": "top-p draws among the most likely words whose probabilities add up to top_p.",
    "no_repeat": f"0 (off) or n up to {NO_REPEAT.high}: no n-word sequence appears twice.",
    "rng_seed": "a whole number from 0 to 2**63 - 1 makes a draw reproducible; empty for a random one.",
}


def _documented(fn: Any) -> Any:
    """`fn` with an Args section that describes its settings (ARGS), after its own arguments."""
    lines = [f"        {name}: {ARGS[name]}" for name in inspect.signature(fn).parameters if name in ARGS]
    doc = fn.__doc__.rstrip()
    fn.__doc__ = (doc if "\n    Args:\n" in doc else doc + "\n\n    Args:") + "\n" + "\n".join(lines) + "\n    "
    return fn


@contextlib.contextmanager
def _shown_errors(title: str | None = None) -> Iterator[None]:
    """A library error as the user sees it: its message, titled by its kind."""
    try:
        yield
    except Busy as err:
        raise gr.Error(f"The app is {err}: every place is taken.", title="Busy", print_exception=False) from None
    except WordRNNError as err:
        title = title or ("Seed words" if isinstance(err, PromptError) else "Error")
        raise gr.Error(str(err), title=title, print_exception=False) from None


@gpu
def _tokens(prompt: Prompt, length: int, options: dict[str, Any], visitor: str | None) -> Iterator[str]:
    with _shown_errors():
        tokens = SESSION.stream(prompt, length, options, visitor)  # the only GPU work of a generation
    yield from tokens


@gpu
def _explained(text: Text) -> list[Any]:
    """Every generated word of `text` explained (once per text)."""
    with _shown_errors():  # Busy: its states are read again through the scheduler (wordrnn.trace)
        return SESSION.texts.explain(text)


@gpu
def _after(text: Text) -> list[tuple[str, float]]:
    """The most likely words after the text's last one."""
    with _shown_errors():
        return SESSION.texts.after(text)


@gpu
def _branch(text_id: Any, position: Any, word: Any, options: dict[str, Any], words: int | None = None) -> Text:
    with _shown_errors():
        return SESSION.branch(text_id, position, word, options, words)


@gpu
def _next_words(prompt: Prompt) -> dict[str, float]:
    return SESSION.next_words(prompt)


def _numbers(values: dict[str, Any]) -> None:
    """A numeric control sent as no number ("abc", null) is refused, as a bad mode or rng seed
    is: the page's sliders send numbers, and clamping it to the default would hide the mistake."""
    try:
        controls.check(values)
    except ValueError as err:
        raise session.InputError(str(err)) from None


def _checked(prompt: Any, length: Any, *settings: Any) -> tuple[Prompt, dict[str, Any]]:
    """The seed words and the sampling options, or the message that refuses them."""
    with _shown_errors():
        _numbers(dict(zip(controls.NAMES[1:], (length, *settings))))
        return SESSION.prompt(prompt), session.options(*settings)


def _start(prompt: Any, length: Any, *settings: Any) -> tuple[Prompt, dict[str, Any], int]:
    seed_words, options = _checked(prompt, length, *settings)
    count, warning = session.length(length)
    for message, title in [(warning, "Warning"), (session.unknown_warning(seed_words), "Unknown words")]:
        if message:
            gr.Warning(message, title=title)
    return seed_words, options, count


@_documented
def generate(
    prompt: str, length: int = LENGTH.default, mode: str = DEFAULTS["mode"], k: int = K.default,
    temperature: float = TEMPERATURE.default, top_p: float = TOP_P.default, no_repeat: int = NO_REPEAT.default,
    rng_seed: str | int | None = None, request: gr.Request | None = None,
) -> Iterator[list[tuple[str, str | None]]]:
    """Continue the seed words, streaming the text so far: a list of (text, label) runs, labelled
    "seed" and "unknown" for the seed words, None for the generated text."""
    # `request` (Gradio's) names the page, whose Stop ends the text.
    seed_words, options, count = _start(prompt, length, mode, k, temperature, top_p, no_repeat, rng_seed)
    head: list[tuple[str, str | None]] = list(page.seed_runs(seed_words.words, seed_words.unknown, VOCAB.style))
    start = len(detokenize(seed_words.words, VOCAB.style))
    # The first update comes with the first word: an update before the stream starts would hold
    # the stream back behind Gradio's sending it, and in a crowd every visitor's with it.
    tokens, shown = list(seed_words.words), None
    # The page's Stop, checked here too: on a ZeroGPU Space the words may come from another process.
    visitor = _visitor(request)
    for token in halted(_tokens(seed_words, count, options, visitor), SESSION.halt(visitor)):
        tokens.append(token)
        if shown is None or time.monotonic() - shown >= update_every(GEN, STREAM_EVERY):
            shown = time.monotonic()
            yield head + [(detokenize(tokens, VOCAB.style)[start:], None)]
    yield head + [(detokenize(tokens, VOCAB.style)[start:], None)]


@_documented
def generate_text(
    prompt: str, length: int = LENGTH.default, mode: str = DEFAULTS["mode"], k: int = K.default,
    temperature: float = TEMPERATURE.default, top_p: float = TOP_P.default, no_repeat: int = NO_REPEAT.default,
    rng_seed: str | None = None,
) -> str:
    """Continue seed words with the word-level LSTM and return the whole text (seed words first)."""
    runs: list[tuple[str, str | None]] = []
    for runs in generate(prompt, length, mode, k, temperature, top_p, no_repeat, rng_seed):
        pass
    return "".join(text for text, _ in runs)


@_documented
def next_words(prompt: str) -> dict[str, float]:
    """The 10 most likely words after the seed words, most likely first: {word: probability}."""
    with _shown_errors():
        seed_words = SESSION.prompt(prompt)
    return _next_words(seed_words)


def _described(text: Text) -> dict[str, Any]:
    return session.described(text, _explained(text), VOCAB.style)


@_documented
def generate_words(
    prompt: str, length: int = LENGTH.default, mode: str = DEFAULTS["mode"], k: int = K.default,
    temperature: float = TEMPERATURE.default, top_p: float = TOP_P.default, no_repeat: int = NO_REPEAT.default,
    rng_seed: str | None = None,
) -> dict[str, Any]:
    """Continue seed words and explain every generated word: {"text_id", "text", "words": [{"word",
    "probability", "rank", "alternatives": [{"word", "probability"}, ...]}, ...]}. A word's
    probability and rank are the model's (temperature 1) at its position; its alternatives are the
    10 most likely words there. An empty rng seed is drawn (the text's is in the result);
    text_id is for /branch."""
    with _shown_errors():
        used = session.used_seed(session.options(mode, k, temperature, top_p, no_repeat, rng_seed)["seed"])
    generate_text(prompt, length, mode, k, temperature, top_p, no_repeat, used)
    return _described(SESSION.kept(prompt, length, mode, k, temperature, top_p, no_repeat, used))


@_documented
def branch(
    text_id: str, position: int, word: str, mode: str = DEFAULTS["mode"], k: int = K.default,
    temperature: float = TEMPERATURE.default, top_p: float = TOP_P.default, no_repeat: int = NO_REPEAT.default,
    rng_seed: str | None = None,
) -> dict[str, Any]:
    """Replace a generated word of a text from /generate_words (or /branch) and write the rest
    again from there, as many words as followed it; returns what /generate_words returns. The
    same as generating from the edited text (seed words, the words before `position`, `word`)
    with the same settings and rng seed.

    Args:
        text_id: the text's id, from /generate_words or /branch.
        position: which generated word to replace, 0 for the first after the seed words.
        word: the word to put there (e.g. one of its alternatives).
    """
    with _shown_errors():
        _numbers(dict(k=k, temperature=temperature, top_p=top_p, no_repeat=no_repeat))
        options = session.options(mode, k, temperature, top_p, no_repeat, rng_seed)
    return _described(_branch(text_id, position, word, options))


# ------------------------------------------------------------------ the page: prompt help, URL, versions


def describe(text: str) -> list[Any]:
    """The word count, the unknown words and a button per suggestion, on each keystroke."""
    info, pairs = page.prompt_info(text, VOCAB, SESSION.closest, MAX_PROMPT_CHARS)
    chips = [gr.update(value=f"{word} → {close}", visible=True) for word, close in pairs[:CHIPS]]
    return [info, *chips, *[gr.update(visible=False)] * (CHIPS - len(chips))]


def replace(text: str, chip: str) -> str:
    word, _, close = str(chip).partition(" → ")
    return page.replace_word(text or "", word, close)


def _visitor(request: gr.Request | None) -> str | None:
    """The page a request comes from (its Gradio session), for its Stop button."""
    return getattr(request, "session_hash", None)


def settle(prompt: Any, length: Any, mode: Any, k: Any, temperature: Any, top_p: Any, no_repeat: Any,
           rng_seed: Any, run: Any, request: gr.Request) -> list[Any]:
    """Before a page generation: the seed words (an empty box takes the example its placeholder
    shows), the rng seed, the note under the text and the page's query. Seed words or settings
    that generate would refuse stop here with its message, before the text on the page or its
    address change. From here the page's Stop ends the generation, even one still waiting for
    its turn, and a Stop pressed after this click (`run`, the page's number) before it got here."""
    if not str(prompt or "").strip() and EXAMPLES:
        prompt = EXAMPLES[0]
    _checked(prompt, length, mode, k, temperature, top_p, no_repeat, rng_seed)
    with _shown_errors():
        settled = session.settle(prompt, length, mode, k, temperature, top_p, no_repeat, rng_seed)
    SESSION.begin(_visitor(request), run)
    return [prompt, *settled]


def stopped(prompt: Any, length: Any, mode: Any, k: Any, temperature: Any, top_p: Any, no_repeat: Any, used: Any,
            shade: Any, current: Any, history: Any, run: Any, request: gr.Request) -> list[Any]:
    """Stop: the page's generation ends at its next word, as a generation ends (Gradio's own
    cancelling may leave an error badge over the text in a crowd). A text that ended anyway is
    shown as after any generation; one cut short keeps its words on the page but stops being the
    page's current text (it is not kept), so a word click or Continue cannot act on the text
    before it, which Back still brings back."""
    SESSION.stop(_visitor(request), run)
    settings = (mode, k, temperature, top_p, no_repeat, used, shade, current, history)
    note = "Stopped: generate again to see the next words and to explore the text"
    earlier = session.history_after(history, current, "")
    cut = [gr.skip(), gr.update(value=None, label=note), None, earlier, gr.update(visible=False, value=None),
           session.stopped_note(mode, used, length), gr.update(interactive=False), gr.update(interactive=bool(earlier))]
    return _after_generation(prompt, length, settings, cut)


def from_url(request: gr.Request) -> list[Any]:
    values = session.from_url(dict(request.query_params))
    return [gr.skip()] * len(controls.NAMES) if values is None else values


def _view(text: Text, shade: bool, selected: int | None = None) -> Any:
    # unshaded, the words alone: a text is explained when a word is clicked or shading is on
    probabilities = [w.probability for w in _explained(text)] if shade else None
    runs = page.word_runs(text.seed.words, text.seed.unknown, SESSION.words(text), probabilities, selected, VOCAB.style)
    return gr.update(value=runs, color_map=page.colors(shade))


VERSION = 8  # outputs of a page version: _shown's list, the `version` blocks below


def _shown(text: Text, shade: bool, history: list[str], note: Any = gr.skip()) -> list[Any]:
    """Outputs [output, chart, text_id, history, alternatives, drawn, Continue, Back] for a new
    version: Continue and Back can be pressed where they have something to act on."""
    after = _after(text)
    return [_view(text, shade), gr.update(value=page.chart(after, VOCAB.style), label="Most likely next words after the text"),
            text.id, history, gr.update(visible=False, value=None), note, gr.update(interactive=True),
            gr.update(interactive=bool(history))]


def show(prompt: Any, length: Any, *settings: Any) -> list[Any]:
    """After a generation: the text word by word, and the chart after its last word."""
    return _after_generation(prompt, length, settings, cut=[gr.skip()] * VERSION)  # cut: nothing to explain


def _after_generation(prompt: Any, length: Any, settings: tuple[Any, ...], cut: list[Any]) -> list[Any]:
    """The version outputs for the text these inputs wrote if it is kept, else `cut`."""
    *settings, shade, current, history = settings
    text = SESSION.kept(prompt, length, *settings)
    if text is None:
        return cut
    return _shown(text, shade, session.history_after(history, current, text.id))


def pick(text_id: str | None, shade: bool, evt: gr.SelectData) -> list[Any]:
    """A click on a word: its alternatives in the chart and as choices; [output, chart, selected, alternatives]."""
    try:
        text = SESSION.texts.get(text_id)
    except WordRNNError:
        return [gr.skip()] * 4
    chosen = session.choice(text, _explained(text), evt.index, VOCAB.style)
    if chosen is None:  # a seed word (or the text still streaming)
        return [gr.skip()] * 4
    position, label, chart, choices = chosen
    return [_view(text, shade, position), gr.update(value=chart, label=label), position,
            gr.update(choices=choices, value=None, visible=True, label=f"Rewrite from word {position + 1} with")]


def rewrite(text_id: str | None, position: Any, word: Any, words: int | None, shade: bool, history: list[str],
            *settings: Any) -> list[Any]:
    """A new version from `position` (an alternative chosen, or Continue) with the current settings:
    _shown's outputs, then the page's new address."""
    if word is None or position is None:
        return [gr.skip()] * (VERSION + 1)  # and the address
    with _shown_errors():
        options = session.rewrite_options(settings)
    text = _branch(text_id, position, word, options, words)
    address = SESSION.address(text)
    note = session.continued_note(position, words, options, linked=address is not None)
    return [*_shown(text, shade, history + [text_id], note), address or NO_ADDRESS]


def more(text_id: str | None, length: Any, shade: bool, history: list[str], *settings: Any) -> list[Any]:
    with _shown_errors():
        last, word = SESSION.continuation(text_id)
    return rewrite(text_id, last, word, LENGTH.clamp(length), shade, history, *settings)


def back(shade: bool, history: list[str]) -> list[Any]:
    with _shown_errors(title="Back"):
        text = SESSION.previous(history)
    return [*_shown(text, shade, history[:-1], "Back to the last version"), SESSION.address(text) or NO_ADDRESS]


def reshade(text_id: str | None, shade: bool, selected: int | None) -> Any:
    try:
        return _view(SESSION.texts.get(text_id), shade, selected)
    except WordRNNError:
        return gr.skip()


gradio_sessions.install()  # a new visitor's session builds its 80 block configs only when asked
with gr.Blocks(title="wordrnn") as demo:
    gr.Markdown(
        f"# wordrnn\nType {SEED_WORDS} seed words; a word-level LSTM continues them, one word at a time. "
        "**Greedy** always takes the most likely word; **top-k** and **top-p** draw among the likely ones."
    )
    if SOURCE.notice:
        gr.Markdown(f"⚠️ **{page.md_escape(SOURCE.notice)}**", elem_id="notice")
    with gr.Row():
        with gr.Column(scale=2):
            # A model that knows fewer than SEED_WORDS words has no prompt to offer: no example,
            # no Examples block, no Fill button, rather than empty ones.
            hint = f"{SEED_WORDS} words, e.g. {EXAMPLES[0]}" if EXAMPLES else f"{SEED_WORDS} words"
            prompt = gr.Textbox(label="Seed words", placeholder=hint, max_length=MAX_PROMPT_CHARS, elem_id="prompt")
            info = gr.Markdown(describe("")[0], elem_id="prompt-info")
            with gr.Row(elem_id="suggestions"):
                chips = [gr.Button(visible=False, size="sm", elem_classes="chip") for _ in range(CHIPS)]
            fill = gr.Button(f"Fill {SEED_WORDS} words from held-out text", size="sm", elem_id="fill",
                             visible=bool(HELD_OUT))
            if EXAMPLES:
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
            # interactive=False: as an input of Copy, it would otherwise turn editable (a label picker
            # and a remove button on the clicked word), and Gradio shows a toolbar button only then
            output = gr.HighlightedText(label="Text (click a word: what else it could have been)", color_map=page.colors(False),
                                        show_legend=True, elem_id="output", interactive=False)
            with gr.Row():
                shade = gr.Checkbox(label="Shade words by probability", elem_id="shade")
                # narrower than Gradio's 160 px: the row fits a desktop column without wrapping
                more_button = gr.Button("Continue", size="sm", elem_id="continue", interactive=False, min_width=90)
                back_button = gr.Button("Back", size="sm", elem_id="back", interactive=False, min_width=90)
                copy = gr.Button("Copy text", size="sm", elem_id="copy", min_width=90)
            alternatives = gr.Radio([], label="Rewrite from the word with", visible=False, elem_id="alternatives")
            drawn = gr.Markdown(elem_id="drawn")
            # no heading: Gradio's heading is the likeliest word, in large type, which read as the
            # word clicked (the label names it)
            chart = gr.Label(label="Most likely next words", num_top_classes=session.TOP_WORDS, elem_id="next-words",
                             show_heading=False)
            with gr.Accordion("Model", open=True):
                rows = page.summary(SOURCE, GEN.device)
                gr.Markdown("\n".join(f"- **{name}:** {page.md_escape(value)}" for name, value in rows), elem_id="model")
    # Hidden, not gr.State: /generate's API takes the rng seed that the page passes through `used`.
    used, query = gr.Textbox(visible="hidden", elem_id="used"), gr.Textbox(visible="hidden")
    run_number = gr.Textbox(visible="hidden")  # the page's Generate clicks, counted (NEXT_RUN_JS)
    note = gr.Textbox(visible="hidden")  # settle's note, for `drawn`: a Markdown would show settle's refusals as "Error"
    settings = [length, mode, k, temperature, top_p, no_repeat]
    # The text on the page (its id in wordrnn.trace), the earlier versions, the word clicked.
    text_id, history, selected = gr.State(None), gr.State([]), gr.State(None)
    version = [output, chart, text_id, history, alternatives, drawn, more_button, back_button]
    assert len(version) == VERSION
    sampling = [mode, k, temperature, top_p, no_repeat, rng_seed]

    hidden = dict(queue=False, show_progress="hidden", api_visibility="private")
    # Queued, though quick: Gradio's page shows no message from an event that is not (an error
    # or a warning there is lost), and these may refuse. Their own group: they never wait for a text.
    checks = dict(concurrency_id="page", concurrency_limit=None, show_progress="hidden", api_visibility="private")
    queued = dict(concurrency_id="model", preprocess=False, show_progress="minimal", api_visibility="private")
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
    start = gr.on([go.click, prompt.submit], settle, [prompt, *settings, rng_seed, run_number],
                  [prompt, used, note, query], js=NEXT_RUN_JS, preprocess=False, **checks)
    start.success(None, query, None, js=URL_JS, **hidden)
    start.success(None, note, drawn, js="(note) => note", **hidden)
    run = start.success(generate, [prompt, *settings, used], output, api_name="generate", concurrency_limit=CONCURRENCY,
                        concurrency_id="model", preprocess=False)
    run.success(show, [prompt, *settings, used, shade, text_id, history], version, **queued)
    output.select(pick, [text_id, shade], [output, chart, selected, alternatives], **queued)
    # A new version's address writes it again (or is cleared): the page's link shares what it shows.
    for event in [alternatives.input(lambda *a: rewrite(a[0], a[1], a[2], None, *a[3:]),
                                     [text_id, selected, alternatives, shade, history, *sampling], [*version, query],
                                     **queued),
                  more_button.click(more, [text_id, length, shade, history, *sampling], [*version, query], **queued),
                  back_button.click(back, [shade, history], [*version, query], **checks)]:
        event.success(None, query, None, js=URL_JS, **hidden)
    shade.change(reshade, [text_id, shade, selected], output, **hidden)
    gr.api(generate_text, api_name="generate_text", concurrency_id="model")  # a plain string for clients
    gr.api(next_words, api_name="next_words", concurrency_id="model")  # a plain {word: p} for clients
    gr.api(generate_words, api_name="generate_words", concurrency_id="model")  # every word explained
    gr.api(branch, api_name="branch", concurrency_id="model")  # a text rewritten from one of its words
    stop.click(stopped, [prompt, *settings, used, shade, text_id, history, run_number], version, js=THIS_RUN_JS,
               **hidden)
    demo.load(from_url, None, [prompt, *settings, rng_seed], **hidden).then(None, js=REPLAY_JS, **hidden)

demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)

if __name__ == "__main__":
    try:  # each waiting or streaming request holds one of Gradio's worker threads (40 by default)
        demo.launch(server_name=SETTINGS.host, server_port=SETTINGS.port, css=CSS, js=PAGE_JS, mcp_server=MCP,
                    max_threads=max(40, CONCURRENCY + 8))
    except OSError:
        page.check_port(SETTINGS)  # a port that another program holds: one line for the host
        raise
