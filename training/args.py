"""Command-line options of `python -m training.train`, grouped as data / model / optimization /
output, each checked where it is parsed. Options that default to "by the rule" are None here and
chosen from the corpus and the budget by training/rules.py. On `--resume` the saved options are
merged over the parser's defaults once (`resumed`), except those in RUN_CONTROL. Which flags were
typed is read from the command line itself (`given`), not from a value differing from its default:
`--batch-size 32` typed on a run trained at 16 is a change even though 32 is the default."""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from wordrnn.cli import (Parser, UsageError, duration, existing_file, integer, invoked_as, module_name,
                         non_negative_float, positive_float, positive_int, rate)

# Options that may change between a run and its resumption: they stop, show or publish the run
# but do not change what it computes. Those in _SAVED_UNLESS_GIVEN come from the saved run unless
# typed again: a resume without --time-budget keeps the run's budget (the total, not extra time).
RUN_CONTROL = ("max_steps", "time_budget", "push_to_hub", "private", "progress", "threads", "device",
               "resume", "save_interval", "language")
_SAVED_UNLESS_GIVEN = ("threads", "device", "time_budget", "language")
# Runs saved before these options existed resume with them off.
OFF_IN_OLD_RUNS = {"activation_penalty": 0.0, "temporal_penalty": 0.0, "embedding_dropout": 0.0,
                   "weight_dropout": 0.0, "average_epochs": 0.0}
BY_RULE = "default: by the rule, printed at the start"


def parser() -> argparse.ArgumentParser:
    p = Parser("training.train", description="Train a word-level LSTM on a text file and save a Hub-ready checkpoint.",
        epilog="Example: python -m training.train --text my.txt --out runs/mine --time-budget 30m",
    )
    data = p.add_argument_group("data")
    data.add_argument("--text", type=existing_file, help="UTF-8 training text (required unless --resume)")
    data.add_argument("--valid", type=existing_file, help="UTF-8 validation text (default: hold out 5%% of --text)")
    data.add_argument("--test", type=existing_file, help="UTF-8 test text, scored once at the end for the model card")
    data.add_argument("--min-count", type=positive_int,
                      help="drop rarer words to <unk> (default: by the rule, 2 unless the text has its own <unk>s)")
    data.add_argument("--max-vocab", type=integer(2), help="keep at most this many tokens, <unk> included")
    model = p.add_argument_group("model (every default: by the rule, printed at the start)")
    model.add_argument("--embedding-size", type=positive_int, help="width of the word vectors")
    model.add_argument("--hidden-sizes", type=positive_int, nargs="+", help="one LSTM layer per size, e.g. 1024 512")
    model.add_argument("--dropout", type=rate, help="variational dropout between layers and on the output")
    model.add_argument("--input-dropout", type=rate, help="variational dropout on the embeddings (with --dropout given: the same)")
    model.add_argument("--embedding-dropout", type=rate, help="drop whole words from the embedding matrix")
    model.add_argument("--weight-dropout", type=rate, help="DropConnect on the hidden-to-hidden weights")
    model.add_argument("--activation-penalty", type=non_negative_float,
                       help="AR: penalty on the last layer's squared outputs")
    model.add_argument("--temporal-penalty", type=non_negative_float,
                       help="TAR: penalty on their squared step-to-step changes")
    model.add_argument("--tie", dest="tie_weights", action="store_true", default=None,
                       help="share the embedding with the output layer (a full softmax)")
    model.add_argument("--no-tie", dest="tie_weights", action="store_false", default=None,
                       help="do not share the embedding with the output layer")
    model.add_argument("--adaptive-cutoffs", type=positive_int, nargs="*",
                       help="adaptive softmax cluster boundaries, e.g. 2000 6000 (implies --no-tie); "
                       "give none for a full softmax")
    opt = p.add_argument_group("optimization")
    opt.add_argument("--batch-size", type=positive_int, default=32, help="parallel streams B")
    opt.add_argument("--seq-len", type=positive_int, default=64, help="truncated-BPTT length T")
    opt.add_argument("--lr", type=positive_float, default=3e-3, help="peak AdamW learning rate")
    opt.add_argument("--weight-decay", type=non_negative_float, default=0.01, help="AdamW's decoupled weight decay")
    opt.add_argument("--warmup", type=positive_int, help=f"linear warm-up steps ({BY_RULE})")
    opt.add_argument("--clip", type=positive_float, default=0.5, help="gradient norm clipping")
    opt.add_argument("--epochs", type=positive_float,
                     help="length of the schedule (default: 10, or what --time-budget fits)")
    opt.add_argument("--average-epochs", type=non_negative_float,
                     help="hold the learning rate at its floor for the last N epochs and keep the "
                     f"mean of their weights (0: no averaging; {BY_RULE})")
    opt.add_argument("--max-steps", type=positive_int, help="stop after this many steps")
    opt.add_argument("--time-budget", type=duration,
                     help="e.g. 15m, 1h30m or 90s: the schedule is sized to end when the budget does "
                     "(default: none, --epochs decide)")
    opt.add_argument("--seed", type=int, default=0, help="random seed of the initial weights and the dropout masks")
    opt.add_argument("--device", help="cpu, cuda, cuda:1 or mps (default: the best available)")
    opt.add_argument("--threads", type=positive_int, help="CPU threads per process (default: torch's; "
                     "a resumed run: the saved run's)")
    opt.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                     help="autocast: auto is bf16 where the GPU or CPU multiplies it natively, "
                     "fp16 with a gradient scaler on CUDA GPUs without bf16, else fp32")
    out = p.add_argument_group("output")
    out.add_argument("--out", required=True, help="run folder: model/, training_state/, metrics.jsonl")
    out.add_argument("--eval-interval", type=positive_int, default=500, help="validate every N steps")
    out.add_argument("--save-interval", type=duration, default=300.0,
                     help="also save the training state this often: seconds, or e.g. 5m")
    out.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    out.add_argument("--language", type=language,
                     help="the text's language as an ISO 639-1 code, e.g. en or de, for the model card "
                     "(default: not stated)")
    out.add_argument("--push-to-hub", metavar="REPO_ID", help="push the best checkpoint at the end")
    out.add_argument("--private", action="store_true", help="create the Hub repo as private")
    out.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = parser()
    args = p.parse_args(argv)
    if not args.resume and not args.text:
        p.error("--text is required (or --resume to continue a run)")
    if args.adaptive_cutoffs:
        if args.tie_weights:
            p.error("an adaptive softmax cannot be tied")
        args.tie_weights = False
    if args.average_epochs is not None and args.epochs is not None and args.average_epochs >= args.epochs:
        p.error(f"--average-epochs must be less than --epochs ({args.epochs}), got {args.average_epochs}")
    return args


def language(value: str) -> str:
    """An ISO 639-1 code, checked loosely: two or three letters, an optional region (pt-BR)."""
    if not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?", value):
        raise argparse.ArgumentTypeError(f"expected a language code such as en, de or pt-BR, got {value!r}")
    code, _, region = value.replace("_", "-").partition("-")
    return code.lower() + (f"-{region}" if region else "")


def given(argv: list[str] | None = None) -> set[str]:
    """The options typed on the command line (their dests), whatever their values: parsed again
    with every default suppressed, so only typed flags land in the namespace."""
    p = parser()
    for action in p._actions:  # noqa: SLF001 (argparse has no public list)
        action.default = argparse.SUPPRESS
    return set(vars(p.parse_args(argv)))


def defaults() -> dict[str, Any]:
    """Every option's default, as a run without flags would have it."""
    p = parser()
    return {a.dest: a.default for a in p._actions if a.dest != "help"}  # noqa: SLF001 (argparse has no public list)


def resumed(args: argparse.Namespace, saved: dict[str, Any], typed: set[str]) -> argparse.Namespace:
    """The saved run's options over the parser's defaults, with this command's RUN_CONTROL
    (those of _SAVED_UNLESS_GIVEN only when `typed`)."""
    merged = {**defaults(), **OFF_IN_OLD_RUNS}
    merged.update({k: v for k, v in saved.items() if k in merged})
    for name in RUN_CONTROL:
        if name not in _SAVED_UNLESS_GIVEN or name in typed:
            merged[name] = getattr(args, name)
    return argparse.Namespace(**merged)


def check_unchanged(args: argparse.Namespace, saved: dict[str, Any], typed: set[str]) -> None:
    """Refuse options typed with --resume that would change the saved run: it continues with
    its own, so ignoring them would train something other than what was asked."""
    base, actions = defaults(), parser()._actions  # noqa: SLF001 (argparse has no public list)
    changed = []
    for name, value in vars(args).items():
        if name in RUN_CONTROL or name not in base or name not in typed:
            continue
        old = saved.get(name, OFF_IN_OLD_RUNS.get(name, base[name]))
        if value != old and not _same_file(value, old):
            flag = next(a for a in actions if a.dest == name and (a.const is None or a.const == value))
            given = flag.option_strings[0] + ("" if flag.const is not None else f" {_shown(value)}")
            changed.append(f"{given} (the run's: {_shown(old)})")
    if changed:
        control = ", ".join(a.option_strings[0] for a in actions if a.dest in RUN_CONTROL and a.dest != "resume")
        raise UsageError(f"--resume continues the saved run with its own options, so {'; '.join(changed)} "
                         f"cannot apply; only {control} may change. To train with other options, start a new "
                         "run with another --out")


def _shown(value: Any) -> Any:
    return " ".join(map(str, value)) if isinstance(value, list) else value


def _same_file(a: Any, b: Any) -> bool:
    try:
        return isinstance(a, str) and isinstance(b, str) and os.path.samefile(a, b)
    except OSError:
        return False


def check_resumable(saved: dict[str, Any], world_size: int, device_type: str) -> None:
    """Refuse a resumption that could not continue the saved run exactly."""
    if saved.get("world_size", 1) != world_size:
        n = saved.get("world_size", 1)
        how = (f"torchrun --nproc_per_node {n} -m {module_name('training.train')}" if n > 1
               else invoked_as("training.train"))
        raise UsageError(f"this run was trained by {n} process(es) and cannot continue exactly with "
                         f"{world_size}; resume it with `{how} --out ... --resume`")
    if saved.get("device_type", device_type) != device_type:
        raise UsageError(f"this run was trained on {saved['device_type']} and cannot continue exactly on "
                         f"{device_type}; pass --device {saved['device_type']}")
