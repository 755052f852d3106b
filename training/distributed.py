"""torchrun support: process-group setup, device choice and the few collectives training needs.

Run the same command under `torchrun --nproc_per_node N`; without torchrun everything here is a
no-op on a single process. Backend: nccl on CUDA, gloo on CPU.
"""

from __future__ import annotations

import logging
import os
import platform
from dataclasses import dataclass

import torch
import torch.distributed as dist

from wordrnn.cli import UsageError

log = logging.getLogger(__name__)


@dataclass
class Process:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def hardware(self) -> str:
        """What the model card says the run trained on, e.g. '2 x NVIDIA H200'."""
        if self.device.type == "cuda":
            name = torch.cuda.get_device_name(self.device)
        else:
            name = f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
        return f"{self.world_size} x {name}" if self.distributed else name


def pick_device(name: str | None = None) -> torch.device:
    """The requested device, else CUDA, then Apple MPS, then CPU. A device this machine does not
    have is refused with what it has."""
    if name:
        return _available(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _has_mps():
        return torch.device("mps")
    return torch.device("cpu")


def _has_mps() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def _available(name: str) -> torch.device:
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps = _has_mps()
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    usable = device is not None and (device.type == "cpu" or (device.type == "mps" and mps)
                                     or (device.type == "cuda" and (device.index or 0) < gpus))
    if not usable:
        has = ["cpu"] + (["cuda" if gpus == 1 else f"cuda (cuda:0 to cuda:{gpus - 1})"] if gpus else [])
        has += ["mps"] if mps else []
        raise UsageError(f"--device {name}: this machine has no such device; it has {', '.join(has)}")
    return device


def setup(device_name: str | None = None, threads: int | None = None) -> Process:
    """Join the torchrun process group if there is one, and pick this process's device.

    Thread counts: an explicit `threads` wins; under torchrun, OMP_NUM_THREADS (which torchrun
    sets per rank) is respected, because ranks that each use every core fight over them
    (measured: 8x slower with 2 ranks x 2 threads on 2 cores).
    """
    if threads:
        torch.set_num_threads(threads)
    elif "OMP_NUM_THREADS" in os.environ:
        torch.set_num_threads(max(1, int(os.environ["OMP_NUM_THREADS"])))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Process(device=pick_device(device_name))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    log.info("rank %d of %d on %s with %d threads", rank, world_size, device, torch.get_num_threads())
    return Process(rank, world_size, device)


def any_flag(process: Process, flag: bool) -> bool:
    """True on every rank if `flag` is true on any rank (so all ranks stop at the same step)."""
    if not process.distributed:
        return flag
    value = torch.tensor([float(flag)], device=process.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def same_on_all_ranks(process: Process, parameters: list[torch.Tensor]) -> bool:
    """Whether every rank holds the same parameters (DDP keeps them in step; this checks it)."""
    if not process.distributed:
        return True
    with torch.no_grad():
        flat = torch.cat([p.detach().reshape(-1).double() for p in parameters])
        weights = torch.arange(1, flat.numel() + 1, dtype=torch.float64, device=flat.device)
        fingerprint = torch.stack([flat.sum(), (flat * weights).sum() / flat.numel()])
    gathered = [torch.empty_like(fingerprint) for _ in range(process.world_size)]
    dist.all_gather(gathered, fingerprint)
    return all(torch.equal(g, gathered[0]) for g in gathered)


def broadcast_int(process: Process, value: int) -> int:
    """Rank 0's `value` on every rank (a plan made from one rank's clock, so all ranks agree)."""
    if not process.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.long, device=process.device)
    dist.broadcast(tensor, src=0)
    return int(tensor.item())


def barrier(process: Process) -> None:
    if process.distributed:
        dist.barrier()


def teardown(process: Process) -> None:
    if process.distributed and dist.is_initialized():
        dist.destroy_process_group()
