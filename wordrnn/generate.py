"""The generator: seed words in, text out, one word at a time. The app, the CLI and the tests
all use it.

    gen = Generator(Checkpoint.from_pretrained("models/kjv-lstm"))
    gen.text("in the beginning god created the heaven", words=32, mode="top-k", seed=0)
    for word in gen.stream("and god said", words=64): ...   # tokens as they come ("<eol>" too)
    gen.next_words("and god said", n=10)                      # [("let", 0.41), ...]

The prompt runs through the LSTM once; after that each new word is one LSTM step from the
carried state (the teaching notebook re-ran a 7-word window for every word). On the CPU the
prompt and the steps take the int8 fast path of `wordrnn.stepper` unless `exact=True`;
`next_words` always uses the exact model. For many visitors at once, see wordrnn.scheduler.

    python -m wordrnn.generate "in the beginning god created the heaven and" --words 64
    python -m wordrnn.generate --interactive --mode top-p --seed 0
"""

from __future__ import annotations

import logging
import math
import shlex
import sys
from typing import Any, Iterator

import torch

from wordrnn.checkpoint import Checkpoint
from wordrnn.cli import Parser, fail, integer, number
from wordrnn.errors import PromptError, WordRNNError
from wordrnn.examples import examples
from wordrnn.model import State
from wordrnn.prompt import MAX_PROMPT_CHARS, MAX_PROMPT_WORDS, SEED_WORDS, Prompt, parse
from wordrnn.sampling import MODES, Sampler
from wordrnn.source import DEFAULT_MODEL, resolve
from wordrnn.stepper import ExactStepper, FastStepper
from wordrnn.detokenizer import detokenize
from wordrnn.tokenizer import EOL
from wordrnn.trail import keep

__all__ = ["MAX_PROMPT_CHARS", "MAX_PROMPT_WORDS", "MAX_WORDS", "MODES",
           "SEED_WORDS", "Generator", "Prompt"]

log = logging.getLogger(__name__)

MAX_WORDS = 500  # per generation: enough for a page, little enough to keep a shared app responsive


class Generator:
    """Generates from a checkpoint on `device` (None: CUDA when available, else the CPU). Moves
    the checkpoint's model there. `exact=True` turns off the CPU fast path."""

    def __init__(
        self, checkpoint: Checkpoint, device: str | torch.device | None = None, exact: bool = False
    ) -> None:
        self.device = _device(device)
        self.model = checkpoint.model.to(self.device)
        self.vocab = checkpoint.vocab
        self.exact_stepper = ExactStepper(self.model)  # next_words, and every step unless fast
        self.fast = not exact and self.device.type == "cpu" and FastStepper.supports(self.model)
        self.stepper = FastStepper(self.model) if self.fast else self.exact_stepper
        log.info("generating on %s, %s path", self.device, "int8 fast" if self.fast else "exact")

    def prompt(self, text: str | None) -> Prompt:
        """Check and encode seed words; PromptError (with a message for the user) if unusable."""
        return parse(text, self.vocab)

    def stream(
        self, prompt: str | Prompt, words: int = 128, mode: str = "greedy", k: int = 10,
        temperature: float = 1.0, top_p: float = 0.9, seed: int | None = None, no_repeat_ngram: int = 0,
        state: State | None = None, trail: list[State] | None = None,
    ) -> Iterator[str]:
        """Yield `words` generated tokens (strings; "<eol>" is a line break). Checks the prompt
        and settings now, so errors come from this call rather than from the first word.

        `state`: the LSTM state after every prompt word but the last (from a `trail`): only the
        last is read, the same text as from the whole prompt. `trail`: a list that gets a copy of
        the state after each word read (the prompt's, then each generated one but the last)."""
        prompt, sampler = self.request(prompt, words, mode, k, temperature, top_p, seed, no_repeat_ngram)
        if state is None and trail is None:
            return self._generate(prompt.ids, words, sampler)
        return self._traced(self.context(prompt.ids) if state is None else prompt.ids[-1:], words, sampler, state, trail)

    def request(
        self, prompt: str | Prompt, words: int, mode: str, k: int, temperature: float, top_p: float,
        seed: int | None, no_repeat_ngram: int,
    ) -> tuple[Prompt, Sampler]:
        """The checked prompt and a sampler that has read it: what `stream` starts from."""
        prompt = prompt if isinstance(prompt, Prompt) else self.prompt(prompt)
        if not isinstance(words, int) or not 1 <= words <= MAX_WORDS:
            raise ValueError(f"words must be a whole number between 1 and {MAX_WORDS}, got {words!r}")
        sampler = Sampler(mode, k, temperature, top_p, seed, no_repeat_ngram, never=[self.vocab.unk_id])
        sampler.observe(prompt.ids)
        return prompt, sampler

    @torch.inference_mode()  # on a generator function it applies to each step, not across yields
    def _generate(self, ids: list[int], words: int, sampler: Sampler) -> Iterator[str]:
        logits, state = self.stepper.start(self.context(ids), sampler.candidates())
        for n in range(words):
            token = sampler.choose(logits)
            yield self.vocab.tokens[token]
            if n + 1 < words:
                logits, state = self.stepper.step(token, state, sampler.candidates())

    @torch.inference_mode()
    def _traced(self, inputs: list[int], words: int, sampler: Sampler, state: State | None,
                trail: list[State] | None) -> Iterator[str]:
        """_generate one word at a time, keeping each state: the same numbers (start steps so too)."""
        for n in range(len(inputs) + words - 1):
            token = inputs[n] if n < len(inputs) else token
            features, (state,) = self.stepper.advance([token], [state])
            if trail is not None:
                keep(trail, state)
            if n + 1 >= len(inputs):
                token = sampler.choose(self.stepper.logits(features, [sampler.candidates()])[0])
                yield self.vocab.tokens[token]

    def text(self, prompt: str | Prompt, words: int = 128, **options: Any) -> str:
        """The prompt and `words` generated words as text; options as for `stream`."""
        prompt = prompt if isinstance(prompt, Prompt) else self.prompt(prompt)
        return detokenize(prompt.words + list(self.stream(prompt, words, **options)), self.vocab.style)

    @torch.inference_mode()
    def next_words(self, prompt: str | Prompt, n: int = 10) -> list[tuple[str, float]]:
        """The `n` most likely next words and their probabilities, from the exact model, over
        the words the generator can pick (all but <unk>)."""
        prompt = prompt if isinstance(prompt, Prompt) else self.prompt(prompt)
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        logits = self.exact_stepper.start(self.context(prompt.ids))[0].values.float().cpu()
        logits[self.vocab.unk_id] = -float("inf")
        probs, ids = logits.softmax(-1).topk(min(n, len(self.vocab) - 1))
        return [(self.vocab.tokens[i], p) for i, p in zip(ids.tolist(), probs.tolist())]

    def context(self, ids: list[int]) -> list[int]:
        """The prompt as the model reads it: after an end of line, as every line in training was.
        A blank state is something the model met only at the start of each epoch."""
        eol = self.vocab.id(EOL)
        return ids if eol == self.vocab.unk_id else [eol, *ids]


def _device(name: str | torch.device | None) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}; use cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but this machine has no CUDA GPU; use cpu")
    return device


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("wordrnn.stepper").setLevel(logging.INFO)  # a first run's 20 s of compiling, said
    sampling = dict(mode=args.mode, k=args.k, temperature=args.temperature, top_p=args.top_p,
                    seed=args.seed, no_repeat_ngram=args.no_repeat_ngram)
    try:
        checkpoint = resolve(args.model, args.revision, fallback=False).checkpoint
        if not args.interactive and not (args.prompt or "").strip():
            fail(_no_prompt(checkpoint))
        gen = Generator(checkpoint, args.device, exact=args.exact)
        if args.interactive:
            _interactive(gen, words=args.words, **sampling)
        else:
            prompt = gen.prompt(args.prompt)
            for note in prompt.notes():
                print(note, file=sys.stderr)
            print(gen.text(prompt, words=args.words, **sampling))
    except (WordRNNError, ValueError) as err:
        fail(str(err))
    except KeyboardInterrupt:
        return 130
    return 0


def _no_prompt(checkpoint: Checkpoint) -> str:
    """The message for a command line without seed words, with a prompt this model knows: an
    example from another model's text would only be refused as unknown words."""
    known = examples(checkpoint.vocab, checkpoint.info)  # none for a model of fewer words than that
    example = f", e.g. {shlex.quote(known[0])}" if known else ""  # quoted as the shell takes it
    return f"give seed words ({SEED_WORDS} work best){example}, or --interactive"


def _interactive(gen: Generator, **options: Any) -> None:
    """The notebook's loop: seed words in, text out, until an empty line or the end of input."""
    while True:
        try:
            line = input(f"Seed words ({SEED_WORDS} work best; empty line quits): ")
        except EOFError:
            print()
            return
        if not line.strip():
            return
        try:
            prompt = gen.prompt(line)
        except PromptError as err:
            print(err)
            continue
        for note in prompt.notes():
            print(note)
        print(gen.text(prompt, **options), end="\n\n")


def _parser() -> Parser:
    p = Parser("wordrnn.generate", "Continue seed words with a wordrnn model.")
    p.add_argument("prompt", nargs="?", help=f"seed words ({SEED_WORDS} work best)")
    p.add_argument("--interactive", action="store_true", help="ask for seed words again and again")
    p.add_argument("--words", type=integer(1, MAX_WORDS), default=128, help=f"words to generate, 1 to {MAX_WORDS}")
    p.add_argument("--mode", choices=MODES, default="greedy", help="how the next word is chosen")
    p.add_argument("--k", type=integer(1), default=10, help="top-k: draw among the k most likely words")
    p.add_argument("--temperature", type=number(0, math.inf, low_open=True), default=1.0,
                   help="above 1 flatter, below 1 sharper")
    p.add_argument("--top-p", type=number(0, 1, low_open=True), default=0.9,
                   help="top-p: probability mass to draw from")
    p.add_argument("--seed", type=integer(0), help="makes top-k and top-p reproducible")
    p.add_argument("--no-repeat-ngram", type=integer(0), default=0, metavar="N",
                   help="no N-word sequence twice (0: off)")
    p.add_argument("--model", help=f"checkpoint folder or Hub repo id (default: the embedded model, {DEFAULT_MODEL})")
    p.add_argument("--revision", help="Hub branch, tag or commit")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    p.add_argument("--exact", action="store_true", help="float32 on the CPU too (slower; no int8 fast path)")
    return p


if __name__ == "__main__":
    sys.exit(main())
