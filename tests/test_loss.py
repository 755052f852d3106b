"""training/loss.py: the blockwise cross-entropy is F.cross_entropy, values and gradients."""

import pytest
import torch

from training.loss import BlockCrossEntropy


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_block_cross_entropy_equals_the_reference(dtype):
    torch.manual_seed(0)
    rows = BlockCrossEntropy.BLOCK * 2 + 37  # a last block that is not full
    logits = (3 * torch.randn(rows, 500)).to(dtype).requires_grad_()
    targets = torch.randint(0, 500, (rows,))
    weights = torch.rand(rows)  # a gradient that differs per row

    ours = BlockCrossEntropy.apply(logits, targets)
    (ours * weights).sum().backward()
    ours_grad, logits.grad = logits.grad, None
    reference = torch.nn.functional.cross_entropy(logits.float(), targets, reduction="none")
    (reference * weights).sum().backward()

    assert ours.dtype == torch.float32 and ours_grad.dtype == dtype
    torch.testing.assert_close(ours, reference.detach(), rtol=1e-6, atol=1e-5)
    ulp = 2.0**-7 if dtype == torch.bfloat16 else 1e-5  # both round the same float32 gradient
    torch.testing.assert_close(ours_grad.float(), logits.grad.float(), rtol=ulp, atol=1e-6)


def test_block_cross_entropy_leaves_its_input_alone():
    logits = torch.randn(300, 50, requires_grad=True)
    before = logits.detach().clone()
    BlockCrossEntropy.apply(logits, torch.zeros(300, dtype=torch.long)).sum().backward()
    assert torch.equal(logits.detach(), before)
