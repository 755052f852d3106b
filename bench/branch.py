"""What a branch costs: rewriting a 128-word text from its word 100, from the state kept there
(wordrnn.trace), against writing 28 new words and against a fresh generation from the edited
prefix (which reads all 107 words of it again).

    python -m bench.branch                          # the default model, the app's fast CPU path
    python -m bench.branch --model owner/name --repeats 20

One process, one thread, the app's Generator; medians over the repeats, each with its own rng seed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.crowd import cpu
from wordrnn import Generator, controls, detokenize
from wordrnn.prompt import Prompt
from wordrnn.source import resolve
from wordrnn.trace import Texts

PROMPT = "and god said , let there be light"
OPTIONS = dict(mode=controls.DEFAULT_MODE, top_p=controls.TOP_P.default,  # the app's default decoding
               temperature=controls.TEMPERATURE.default, no_repeat_ngram=controls.NO_REPEAT.default)


def texts_of(model: str | None) -> tuple[Generator, Texts, Prompt]:
    """The app's Generator over `model` (None: the embedded one) on one thread, its Texts, and
    the benchmarks' prompt."""
    torch.set_num_threads(1)
    gen = Generator(resolve(model).checkpoint)
    return gen, Texts(gen), gen.prompt(PROMPT)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.branch", description=__doc__.splitlines()[0])
    p.add_argument("--model", help="checkpoint folder or Hub repo id (default: the embedded model)")
    p.add_argument("--words", type=int, default=128, help="the text's length")
    p.add_argument("--at", type=int, default=100, help="the generated word to branch from")
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args()
    gen, texts, prompt = texts_of(args.model)
    rest = args.words - args.at
    times: dict[str, list[float]] = {"branch": [], "new": [], "fresh": []}
    for seed in range(args.repeats):
        options = dict(OPTIONS, seed=seed)
        tokens = list(texts.stream(prompt, args.words, **options))
        text = texts.get(Texts.key(prompt, args.words, options))
        word = texts.explain(text)[args.at].alternatives[1][0]
        edited = gen.prompt(detokenize(prompt.words + tokens[: args.at] + [word]))
        runs = {"branch": lambda: texts.branch(text.id, args.at, word, options),
                "new": lambda: list(gen.stream(prompt, rest, **options)),
                "fresh": lambda: list(gen.stream(edited, rest - 1, **options))}
        results = {}
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            times[name].append(1000 * (time.perf_counter() - start))
        branched = [gen.vocab.tokens[i] for i in results["branch"].ids[text.start :]]
        assert branched == tokens[: args.at] + [word] + results["fresh"], "a branch must equal a fresh generation"
    ms = {name: statistics.median(values) for name, values in times.items()}
    print(f"{cpu()}; {gen.device}, {'int8 fast' if gen.fast else 'exact'} path; {args.repeats} repeats")
    print(f"| rewrite words {args.at}-{args.words - 1} of a {args.words}-word text | ms (median) | vs {rest} new words |")
    print("|---|---:|---:|")
    for name, label in (("branch", "branch from the kept state"), ("new", f"{rest} new words after the seed"),
                        ("fresh", f"fresh generation from the edited prefix ({len(edited.ids)} prompt words)")):
        print(f"| {label} | {ms[name]:.1f} | {ms[name] / ms['new']:.2f}x |")


if __name__ == "__main__":
    main()
