"""What the app does with a request, without Gradio: it checks the inputs, builds the sampler's
options, keeps the page's texts (to explain, branch, continue and go back) and its URL state. The
app (app.py) only lays out the page: it turns these errors into toasts (a WordRNNError's message is
the user's) and shows the warnings these functions return.

    session = Session(serve(Generator(checkpoint)))
    prompt = session.prompt("and god said , let there be light")   # PromptError / InputError
    opts = options("top-p", 10, 0.7, 0.9, 4, "")                      # clamped; InputError if unusable
    text = session.kept(prompt_text, 128, *settings)                    # the text that was written, or None
"""

from __future__ import annotations

import functools
from typing import Any, Iterator, Mapping, Sequence

from wordrnn import controls, page
from wordrnn.controls import K, LENGTH, NO_REPEAT, TEMPERATURE, TOP_P
from wordrnn.errors import WordRNNError
from wordrnn.generate import MODES, Prompt
from wordrnn.stops import Stops
from wordrnn.streams import Halt, halted
from wordrnn.detokenizer import Style, detokenize
from wordrnn.trace import Text, Texts, Word

__all__ = ["InputError", "Session", "choice", "continued_note", "described", "from_url", "history_after",
           "length", "options", "rewrite_options", "settle", "unknown_warning", "used_seed"]

TOP_WORDS = 10  # the chart's words and /next_words's


class InputError(WordRNNError, ValueError):
    """A request the app cannot serve as sent: a wrong type, an unknown mode, a bad rng seed."""


def options(mode: Any, k: Any, temperature: Any, top_p: Any, no_repeat: Any, rng_seed: Any) -> dict[str, Any]:
    """The sampler's settings, clamped to the page's ranges (API callers can send anything)."""
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, not {str(mode)[:40]!r}.")
    return dict(mode=mode, k=K.clamp(k), temperature=TEMPERATURE.clamp(temperature), top_p=TOP_P.clamp(top_p),
                no_repeat_ngram=NO_REPEAT.clamp(no_repeat), seed=_rng_seed(rng_seed))


def _rng_seed(value: Any) -> int | None:
    try:
        return controls.rng_seed(value)
    except ValueError as err:
        raise InputError(str(err)) from None


def length(value: Any) -> tuple[int, str | None]:
    """The number of words to generate, and a warning when `value` was not one."""
    count = LENGTH.clamp(value)
    if count == value:
        return count, None
    return count, f"Length must be a whole number of words from {LENGTH.low} to {LENGTH.high}; using {count}."


def unknown_warning(prompt: Prompt) -> str | None:
    """What to say about the seed words the model does not know (None: it knows them all)."""
    if not prompt.unknown:
        return None
    close = [f"{w!r}" + (f" (did you mean {', '.join(c)}?)" if c else "") for w, c in prompt.unknown.items()]
    # Toasts render HTML: no "<unk>" here, and user words only as quoted single tokens.
    return f"Not in the vocabulary (read as an unknown word): {'; '.join(close)}"


def used_seed(seed: int | None) -> str:
    """The rng seed a text is written with: the caller's, else a drawn one."""
    return str(controls.draw_seed() if seed is None else seed)


def described(text: Text, words: list[Word], style: Style | None = None) -> dict[str, Any]:
    """What /generate_words and /branch return for a text and its explained words, each word
    named as the page names it (page.shown)."""
    return {"text_id": text.id, "text": detokenize(text.seed.words + [w.word for w in words], style),
            "words": [w.to_json(lambda token: page.shown(token, style)) for w in words]}


def settle(prompt: Any, length: Any, mode: Any, k: Any, temperature: Any, top_p: Any, no_repeat: Any,
           rng_seed: Any) -> tuple[str, str, str]:
    """Before a page generation: the rng seed to use (drawn when the box is empty), what to say
    about it, and the URL query that reproduces the text."""
    seed = _rng_seed(rng_seed)
    used = controls.draw_seed() if seed is None else seed
    values = dict(prompt=prompt, length=length, mode=mode, k=k, temperature=temperature, top_p=top_p,
                  no_repeat=no_repeat, rng_seed=used)
    note = [] if mode == "greedy" else [f"rng seed **{used}**" + (" (drawn)" if seed is None else "")]
    return str(used), " · ".join(note + ["the page's address now reproduces this text"]), controls.query(values)


def stopped_note(mode: Any, used: Any, words: Any) -> str:
    """The note under a text cut short by Stop: its page's address still writes the whole text."""
    seed = [] if mode == "greedy" or not used else [f"rng seed **{used}**"]
    count, _ = length(words)
    return " · ".join(seed + [f"stopped: the page's address writes the whole text ({count} words)"])


def from_url(params: Mapping[str, str]) -> list[Any] | None:
    """The controls (controls.NAMES) as a shared link sets them; None without a link's prompt
    (nothing changes then: the visitor may already be typing)."""
    if "prompt" not in params:
        return None
    values = controls.from_query(params)
    return [values[name] if values[name] is not None else "" for name in controls.NAMES]


def history_after(history: list[str], current: str | None, new: str) -> list[str]:
    """The earlier versions once text `new` replaces text `current` on the page."""
    return history + [current] if current and current != new else history


def choice(text: Text, words: list[Word], index: int, style: Style | None = None
           ) -> tuple[int, str, dict[str, float], list[tuple[str, str]]] | None:
    """A click on run `index` of the page's text: the generated word's position, the chart's label,
    the chart and the alternatives' choices, words as the `style` writes them; None for a seed
    word (or a text still streaming)."""
    position = index - len(page.seed_runs(text.seed.words, text.seed.unknown))
    if not 0 <= position < len(words):
        return None
    chosen = words[position]
    name = page.shown(chosen.word, style)
    # quoted: a comma or a full stop written there would read as the label's own punctuation
    label = f"Most likely words at word {position + 1} (written: “{name}”, {chosen.probability:.1%}, rank {chosen.rank})"
    chart = page.chart(chosen.alternatives, style)
    return position, label, chart, [(f"{w} {p:.0%}", w) for w, p in chart.items()]


def rewrite_options(settings: Sequence[Any]) -> dict[str, Any]:
    """Options from the page's (mode, k, temperature, top_p, no_repeat, rng_seed), an empty rng
    seed drawn: a rewritten text can be found again."""
    *sampling, rng_seed = settings
    return options(*sampling, str(controls.draw_seed()) if not str(rng_seed or "").strip() else rng_seed)


def continued_note(position: int, words: int | None, opts: dict[str, Any], linked: bool = True) -> str:
    what = f"continued with {words} words" if words else f"rewritten from word {position + 1}"
    seed = "" if opts["mode"] == "greedy" else f" with rng seed **{opts['seed']}**"
    link = ("the page's address now reproduces it" if linked
            else "no link can write it again: the page's address is cleared")
    return f"{what.capitalize()}{seed} · {link} · **Back** returns to the last version"


class Session:
    """The loaded model and the texts it wrote; the methods that call the model are the app's GPU work."""

    def __init__(self, model: Any) -> None:
        self.model, self.vocab = model, model.vocab  # a Scheduler, or a Generator
        self.texts = Texts(model)  # every page text with a known rng seed, to explain and branch from
        self.closest = functools.lru_cache(maxsize=4096)(self._closest)
        self.stops = Stops()  # each page's Stop button

    def _closest(self, word: str) -> tuple[str, ...]:
        return tuple(self.vocab.closest(word))  # ~50 ms on a 12k vocabulary: once per word, then cached

    def prompt(self, text: Any) -> Prompt:
        """The seed words; PromptError or InputError with a message for the user."""
        if not isinstance(text, (str, type(None))):
            raise InputError(f"The prompt must be text, not {type(text).__name__}.")
        return self.model.prompt(text)

    def stream(self, prompt: Prompt, count: int, opts: dict[str, Any], visitor: str | None = None) -> Iterator[str]:
        """The generated words; Busy comes from this call. Kept (to explain and branch from) when
        the text can be found again: a known rng seed, or greedy. `visitor`'s Stop (`stop`) ends
        the words of its page generation (`begin`)."""
        halt = self.halt(visitor)
        if opts["seed"] is not None or opts["mode"] == "greedy":
            return self.texts.stream(prompt, count, halt=halt, **opts)
        return halted(self.model.stream(prompt, count, **opts), halt)

    def begin(self, visitor: str | None, run: Any = None) -> None:
        """A page generation of `visitor` is on its way, from Generate click `run` (wordrnn.stops)."""
        self.stops.begin(visitor, run)

    def halt(self, visitor: str | None) -> Halt | None:
        return self.stops.halt(visitor)

    def stop(self, visitor: str | None, run: Any = None) -> None:
        """The page's Stop: `visitor`'s latest generation ends at its next word (the words so far
        stay on the page; the text is not kept). The generation itself ends as usual, so the page
        gets its last update instead of a cancelled event (which Gradio may show as an error)."""
        self.stops.stop(visitor, run)

    def explained(self, text: Text) -> tuple[list[Word], list[tuple[str, float]]]:
        return self.texts.explain(text), self.texts.after(text)

    def words(self, text: Text) -> list[str]:
        """The generated words of a text, without explaining them (that reads its states again
        and takes the output layer at every position: about 70 ms for 128 words on a CPU core)."""
        return [self.texts.vocab.tokens[i] for i in text.ids[text.start :]]

    def branch(self, text_id: Any, position: Any, word: Any, opts: dict[str, Any], words: int | None = None) -> Text:
        position = int(position) if isinstance(position, (int, float)) and position == int(position) else position
        return self.texts.branch(text_id, position, page.word(word), opts, words)

    def next_words(self, prompt: Prompt) -> dict[str, float]:
        return page.chart(self.model.next_words(prompt, TOP_WORDS), self.texts.vocab.style)

    def kept(self, prompt: Any, count: Any, *settings: Any) -> Text | None:
        """The text that generate wrote with these inputs, if it is kept."""
        try:
            return self.texts.get(Texts.key(self.prompt(prompt), LENGTH.clamp(count), options(*settings)))
        except WordRNNError:
            return None

    def continuation(self, text_id: Any) -> tuple[int, str]:
        """Where Continue branches from: the last word again (then `length` more)."""
        try:
            text = self.texts.get(text_id)
        except WordRNNError:
            raise InputError("There is no text on the page to continue: generate one first (a text cut short "
                             "by Stop is not kept).") from None
        return len(text.ids) - text.start - 1, self.vocab.tokens[text.ids[-1]]

    def address(self, text: Text) -> str | None:
        """The page's URL query that writes `text` again, or None when no link can. A branch (or
        a continued text) is what a fresh generation from its words up to the rewritten one
        writes with the same settings (wordrnn.trace), so its link's seed words are those words:
        None when they are more than a prompt may hold, when a prompt would not read them back
        as the same words (a prompt reads two line breaks in a row as one), or when no word
        follows them."""
        typed = text.seed.words + [self.vocab.tokens[i] for i in text.ids[text.start : text.written_from]]
        prompt, count = detokenize(typed, self.vocab.style), len(text.ids) - text.written_from
        try:
            read = self.prompt(prompt)
        except WordRNNError:  # over the prompt's limits
            return None
        context = text.start - len(text.seed.ids)  # the line break the model reads first, if any
        if read.ids != text.ids[context : text.written_from] or not LENGTH.low <= count <= LENGTH.high:
            return None
        opts = text.options
        return controls.query(dict(prompt=prompt, length=count, mode=opts["mode"], k=opts["k"],
                                   temperature=opts["temperature"], top_p=opts["top_p"],
                                   no_repeat=opts["no_repeat_ngram"], rng_seed=opts["seed"]))

    def previous(self, history: list[str]) -> Text:
        if not history:
            raise InputError("There is no earlier version.")
        return self.texts.get(history[-1])
