"""Mixed precision: which autocast dtype a device gets, and the optimizer step that goes with it.

bfloat16 where the hardware multiplies it natively (it keeps float32's range, so no loss
scaling); float16 on CUDA GPUs without bfloat16, with a gradient scaler so that small gradients
do not flush to zero; float32 elsewhere.
"""

from __future__ import annotations

import contextlib

import torch

from wordrnn.cli import UsageError


def cpu_features() -> dict[str, bool]:
    """The CPU features that decide bfloat16 (torch's checks are private, so looked up)."""
    checks = {"AVX-512 BF16": "_is_avx512_bf16_supported", "AMX": "_is_amx_tile_supported",
              "AVX2": "_is_avx2_supported", "AVX-512": "_is_avx512_supported"}
    return {name: bool(getattr(torch.cpu, check, lambda: False)()) for name, check in checks.items()}


def cpu_summary() -> str:
    """The detected features, for benchmark headers and error messages."""
    return ", ".join(name for name, ok in cpu_features().items() if ok) or "none of AVX2, AVX-512, AMX"


def native_bf16(device: torch.device) -> bool:
    """Whether the device multiplies bfloat16 natively: CUDA from Ampere on, or a CPU with
    AVX-512 BF16 or AMX. Elsewhere bfloat16 is emulated and slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    features = cpu_features()
    return device.type == "cpu" and (features["AVX-512 BF16"] or features["AMX"])


def autocast_dtype(precision: str, device: torch.device, native: bool | None = None) -> torch.dtype | None:
    """The autocast dtype for --precision on `device` (None: float32), refusing what cannot run.

    auto: bfloat16 where native; float16 (with a gradient scaler) on CUDA GPUs without it;
    float32 elsewhere. `native` overrides the hardware check (for tests)."""
    native = native_bf16(device) if native is None else native
    if precision == "fp32" or (precision == "auto" and not native and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.bfloat16 if native else torch.float16
    if precision == "fp16":
        if device.type != "cuda":
            raise UsageError(f"--precision fp16 needs a CUDA GPU; on {device.type} use bf16 or fp32")
        return torch.float16
    if not native and device.type == "cpu":
        raise UsageError("--precision bf16 needs a CPU that multiplies bfloat16 natively (AVX-512 BF16 "
                         f"or AMX; this one has {cpu_summary()}): PyTorch's LSTM refuses bfloat16 without it, "
                         "and emulated it would be slower than float32; use --precision auto or fp32")
    return torch.bfloat16


class Precision:
    """Runs the forward pass under the chosen autocast and takes the matching optimizer step."""

    def __init__(self, precision: str, device: torch.device) -> None:
        self.device = device
        self.dtype = autocast_dtype(precision, device)
        self.scaler = torch.amp.GradScaler("cuda") if self.dtype == torch.float16 else None

    def autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None)

    def step(self, objective: torch.Tensor, optimizer: torch.optim.Optimizer, parameters, clip: float) -> None:
        """Backward, clip the gradient norm to `clip`, and step."""
        if self.scaler is None:
            objective.backward()
            torch.nn.utils.clip_grad_norm_(parameters, clip)
            optimizer.step()
            return
        self.scaler.scale(objective).backward()
        self.scaler.unscale_(optimizer)  # clip the true gradients
        torch.nn.utils.clip_grad_norm_(parameters, clip)
        self.scaler.step(optimizer)
        self.scaler.update()

    @property
    def name(self) -> str:
        """The precision as --precision names it, for a resumption to compare."""
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    def state(self) -> dict | None:
        return self.scaler.state_dict() if self.scaler else None

    def restore(self, saved: dict | None) -> None:
        if self.scaler and saved:
            self.scaler.load_state_dict(saved)
