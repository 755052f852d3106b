"""training/average.py: the running mean of the weights, and its way through the training state."""

import pytest
import torch

from training.average import WeightAverage
from wordrnn import ModelConfig, WordRNN


def _model(seed: int) -> WordRNN:
    torch.manual_seed(seed)
    return WordRNN(ModelConfig(30, 8, [12, 10], tie_weights=True))


def test_the_average_is_the_mean_of_the_models_it_saw():
    models = [_model(seed) for seed in range(3)]
    average = WeightAverage(models[0])
    for model in models:
        average.update(model)
    assert average.count == 3
    for name, mean in average.model.named_parameters():
        values = [dict(m.named_parameters())[name] for m in models]
        torch.testing.assert_close(mean, sum(values) / 3)
    # Tied weights stay one tensor in the mean too.
    assert average.model.output.weight is average.model.embedding.weight
    assert not any(p.requires_grad for p in average.model.parameters())


def test_the_average_goes_back_from_its_tensors():
    average = WeightAverage(_model(0))
    assert average.tensors() == {}
    average.update(_model(1))
    average.update(_model(2))
    copy = WeightAverage(_model(5))
    copy.restore({k: v.clone() for k, v in average.tensors().items()}, average.count)
    assert copy.count == 2
    for (name, a), (_, b) in zip(average.model.named_parameters(), copy.model.named_parameters()):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="does not match"):
        copy.restore({"embedding.weight": torch.zeros(30, 8)}, 1)
