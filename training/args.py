"""Command-line options of `python -m training.train`, grouped as data / model / optimization /
output. On `--resume` the saved options are used, except those in RUN_CONTROL."""

from __future__ import annotations

import argparse
import re

# Options that may change between a run and its resumption: they stop or publish the run but do
# not change what it computes (the learning-rate schedule follows --epochs, not --max-steps).
RUN_CONTROL = ("max_steps", "time_budget", "push_to_hub", "private", "progress", "threads", "resume")


def duration(text: str) -> float:
    """'90', '90s', '15m', '1.5h' -> seconds."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 15m or 1.5h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training.train",
        description="Train a word-level LSTM on a text file and save a Hub-ready checkpoint.",
        epilog="Example: python -m training.train --text data/kjv/train.txt "
        "--valid data/kjv/valid.txt --out runs/kjv --time-budget 60m",
    )
    data = p.add_argument_group("data")
    data.add_argument("--text", help="UTF-8 training text (required unless --resume)")
    data.add_argument("--valid", help="UTF-8 validation text (default: hold out 5%% of --text)")
    data.add_argument("--test", help="UTF-8 test text, scored once at the end for the model card")
    data.add_argument("--min-count", type=int, default=1, help="drop rarer words to <unk> (default 1)")
    data.add_argument("--max-vocab", type=int, help="keep at most this many tokens, <unk> included")
    model = p.add_argument_group("model")
    model.add_argument("--embedding-size", type=int, default=256)
    model.add_argument("--hidden-sizes", type=int, nargs="+", default=[512, 512],
                       help="one LSTM layer per size, e.g. 1024 512 (default 512 512)")
    model.add_argument("--dropout", type=float, default=0.2,
                       help="variational dropout between layers and on the output (default 0.2)")
    model.add_argument("--input-dropout", type=float,
                       help="variational dropout on the embeddings (default: --dropout)")
    model.add_argument("--embedding-dropout", type=float, default=0.0,
                       help="drop whole words from the embedding matrix (AWD-LSTM: 0.1)")
    model.add_argument("--weight-dropout", type=float, default=0.0,
                       help="DropConnect on the hidden-to-hidden weights (AWD-LSTM: 0.5)")
    model.add_argument("--activation-penalty", type=float, default=0.0,
                       help="AR: penalty on the last layer's squared outputs (AWD-LSTM: 2)")
    model.add_argument("--temporal-penalty", type=float, default=0.0,
                       help="TAR: penalty on their squared step-to-step changes (AWD-LSTM: 1)")
    model.add_argument("--no-tie", dest="tie_weights", action="store_false",
                       help="do not share the embedding with the output layer")
    model.add_argument("--adaptive-cutoffs", type=int, nargs="*", default=[],
                       help="adaptive softmax cluster boundaries, e.g. 2000 6000 (implies --no-tie)")
    opt = p.add_argument_group("optimization")
    opt.add_argument("--batch-size", type=int, default=32, help="parallel streams B (default 32)")
    opt.add_argument("--seq-len", type=int, default=64, help="truncated-BPTT length T (default 64)")
    opt.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate (default 3e-3)")
    opt.add_argument("--weight-decay", type=float, default=0.01)
    opt.add_argument("--warmup", type=int, default=100, help="linear warm-up steps (default 100)")
    opt.add_argument("--clip", type=float, default=0.5, help="gradient norm clipping (default 0.5)")
    opt.add_argument("--epochs", type=float, default=10, help="length of the schedule (default 10)")
    opt.add_argument("--average-epochs", type=float, default=0.0,
                     help="hold the learning rate at its floor for the last N of --epochs and keep "
                     "the mean of their weights (default 0: no averaging)")
    opt.add_argument("--max-steps", type=int, help="stop after this many steps")
    opt.add_argument("--time-budget", type=duration, help="stop after this long, e.g. 15m")
    opt.add_argument("--seed", type=int, default=0)
    opt.add_argument("--device", help="cpu, cuda, cuda:1 or mps (default: the best available)")
    opt.add_argument("--threads", type=int, help="CPU threads per process")
    opt.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                     help="bf16 autocast, fp32, or auto: bf16 where the GPU or CPU (AVX-512 BF16, "
                     "AMX) multiplies it natively (default auto)")
    out = p.add_argument_group("output")
    out.add_argument("--out", required=True, help="run folder: model/, training_state/, metrics.jsonl")
    out.add_argument("--eval-interval", type=int, default=500, help="validate every N steps")
    out.add_argument("--resume", action="store_true", help="continue the run saved in --out")
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
        args.tie_weights = False
    if not 0 <= args.average_epochs < args.epochs:
        p.error(f"--average-epochs must be at least 0 and less than --epochs ({args.epochs}), "
                f"got {args.average_epochs}")
    for name in ("activation_penalty", "temporal_penalty"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must not be negative")
    return args
