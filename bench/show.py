"""What the page's server does after a generation, against the generation itself.

    python -m bench.show                         # the default model, the app's fast CPU path
    python -m bench.show --model owner/name --repeats 20

When a text is complete the page shows it word by word with the chart of the words most likely
after it. With shading off (the default) that needs the words and one step after the last one
(Texts.after, from the one state a new text keeps); with shading on, or when a word is clicked,
every word is explained too (Texts.explain: the text's states read again from its words, then
the float32 output layer at every position). Times each, and writing the text,
for --repeats texts of --words words (the page's default decoding, each its own rng seed).
One process, one thread, the app's Generator; medians.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.branch import OPTIONS, texts_of
from bench.crowd import cpu
from wordrnn import page
from wordrnn.trace import Texts


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.show", description=__doc__.splitlines()[0])
    p.add_argument("--model", help="checkpoint folder or Hub repo id (default: the embedded model)")
    p.add_argument("--words", type=int, default=128, help="each text's length")
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args()
    gen, texts, prompt = texts_of(args.model)
    times: dict[str, list[float]] = {"write": [], "plain": [], "explained": []}
    for seed in range(args.repeats + 1):  # the first: warm-up
        options = dict(OPTIONS, seed=seed)
        began = time.perf_counter()
        words = list(texts.stream(prompt, args.words, **options))
        written = time.perf_counter()
        text = texts.get(Texts.key(prompt, args.words, options))
        texts.after(text)
        page.word_runs(text.seed.words, text.seed.unknown, words)
        plain = time.perf_counter()
        explained = texts.explain(text)
        page.word_runs(text.seed.words, text.seed.unknown, words, [w.probability for w in explained])
        done = time.perf_counter()
        if seed:
            for name, seconds in (("write", written - began), ("plain", plain - written), ("explained", done - plain)):
                times[name].append(1000 * seconds)
    ms = {name: statistics.median(values) for name, values in times.items()}
    print(f"{cpu()}; {gen.device}, {'int8 fast' if gen.fast else 'exact'} path; {args.repeats} texts of {args.words} words")
    print("| step | ms (median) | vs writing the text |\n|---|---:|---:|")
    for name, label in (("write", "writing the text"), ("plain", "the page's view, shading off: the words and the chart after them"),
                        ("explained", "explaining every word (shading on, or a word clicked), once a text")):
        print(f"| {label} | {ms[name]:.1f} | {ms[name] / ms['write']:.2f}x |")


if __name__ == "__main__":
    main()
