"""training/loss.py: the blockwise cross-entropy is F.cross_entropy, values and gradients; the
objective adds the activation penalties only in training."""

import pytest
import torch

from training.loss import BlockCrossEntropy, NextWordLoss
from wordrnn import ModelConfig, WordRNN


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


def test_activation_penalties_are_added_to_the_objective_in_training_only():
    torch.manual_seed(0)
    model = WordRNN(ModelConfig(50, 16, [24], dropout=0.0, tie_weights=False))
    ids = torch.randint(0, 50, (3, 9))
    inputs, targets = ids[:, :-1], ids[:, 1:]
    plain = NextWordLoss(model)
    penalized = NextWordLoss(model, activation=2.0, temporal=1.0)
    objective, loss, _, _ = plain(inputs, targets)
    assert torch.equal(objective, loss)

    h = model.features(inputs)[0]  # (B, T, O): deterministic with dropout 0
    expected = loss + 2.0 * h.pow(2).mean() + 1.0 * (h[:, 1:] - h[:, :-1]).pow(2).mean()
    objective, penalized_loss, _, _ = penalized(inputs, targets)
    torch.testing.assert_close(penalized_loss, loss)
    torch.testing.assert_close(objective, expected)
    assert objective > loss

    penalized.eval()
    objective, loss, _, _ = penalized(inputs, targets)
    assert torch.equal(objective, loss)
