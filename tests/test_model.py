"""WordRNN: stepwise == full sequence, shapes, weight tying, adaptive softmax, config checks."""

import pytest
import torch
from torch import nn

from wordrnn.model import ModelConfig, WordRNN, detach

V = 40
CONFIGS = {
    # tied, last hidden size != embedding size: the last LSTM projects down (LSTMP)
    "tied-projection": ModelConfig(V, embedding_size=8, hidden_sizes=[16, 12], dropout=0.3, tie_weights=True),
    "tied-same-size": ModelConfig(V, embedding_size=8, hidden_sizes=[8], dropout=0.3, tie_weights=True),
    "untied": ModelConfig(V, embedding_size=8, hidden_sizes=[12, 12], dropout=0.3, tie_weights=False),
    # the teaching notebook's [1024, 512] stack, scaled down: every layer has its own size
    "per-layer-sizes": ModelConfig(V, embedding_size=6, hidden_sizes=[20, 10], dropout=0.3, tie_weights=False),
    # tails of width 16 // 4 and 16 // 16 (div_value 4)
    "adaptive": ModelConfig(V, embedding_size=8, hidden_sizes=[16], dropout=0.3, tie_weights=False,
                            adaptive_cutoffs=[5, 20]),
}


def make(name: str, seed: int = 0) -> WordRNN:
    torch.manual_seed(seed)
    model = WordRNN(CONFIGS[name])
    with torch.no_grad():  # the default init (zero biases, small weights) would hide mistakes
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return model.eval()


@pytest.mark.parametrize("name", CONFIGS)
def test_stepwise_equals_full_sequence(name):
    model = make(name)
    ids = torch.randint(0, V, (3, 9))
    with torch.no_grad():
        full, full_state = model(ids)
        state, steps = None, []
        for t in range(ids.size(1)):  # one word at a time, carrying the state (as generation does)
            logits, state = model(ids[:, t : t + 1], state)
            steps.append(logits)
        # and in two windows (as truncated BPTT does)
        first, mid = model(ids[:, :4])
        second, _ = model(ids[:, 4:], detach(mid))
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.cat([first, second], 1), full, atol=1e-5, rtol=1e-5)
    for (h, c), (h2, c2) in zip(state, full_state):
        torch.testing.assert_close(h, h2, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(c, c2, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", CONFIGS)
def test_shapes(name):
    model = make(name)
    config = model.config
    with torch.no_grad():
        logits, state = model(torch.randint(0, V, (2, 5)))
        features, _ = model.features(torch.randint(0, V, (2, 5)))
    assert logits.shape == (2, 5, V) and logits.dtype == torch.float32
    assert features.shape == (2, 5, config.output_size)
    assert len(state) == len(config.hidden_sizes)
    for i, (h, c) in enumerate(state):
        last = i == len(state) - 1
        assert c.shape == (1, 2, config.hidden_sizes[i])
        assert h.shape == (1, 2, config.output_size if last else config.hidden_sizes[i])


def test_adaptive_softmax_gives_log_probabilities():
    model = make("adaptive")
    with torch.no_grad():
        logits, _ = model(torch.randint(0, V, (2, 5)))
        features, _ = model.features(torch.randint(0, V, (2, 5)))
        log_probs = model.output.log_prob(features.flatten(0, 1))
    torch.testing.assert_close(logits.logsumexp(-1), torch.zeros(2, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(model.logits(features).flatten(0, 1), log_probs)


def test_eval_mode_is_deterministic_and_train_mode_uses_dropout():
    model = make("untied")
    ids = torch.randint(0, V, (2, 6))
    with torch.no_grad():
        assert torch.equal(model(ids)[0], model(ids)[0])
        model.train()
        assert not torch.equal(model(ids)[0], model(ids)[0])


@pytest.mark.parametrize("name", ["tied-projection", "tied-same-size"])
def test_tying_shares_one_matrix(name):
    model = make(name)
    assert model.output.weight is model.embedding.weight
    assert model.output.weight.data_ptr() == model.embedding.weight.data_ptr()
    unique = {p.data_ptr(): p.numel() for p in model.state_dict().values()}
    assert model.num_parameters() == sum(unique.values())
    untied_count = sum(p.numel() for p in model.state_dict().values())
    assert untied_count - model.num_parameters() == V * model.config.embedding_size
    # Training keeps them one matrix.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randint(0, V, (2, 4)))[0].sum().backward()
    optimizer.step()
    assert torch.equal(model.output.weight, model.embedding.weight)


def test_projection_only_when_tied_sizes_differ():
    assert make("tied-projection").layers[-1].proj_size == 8
    assert make("tied-same-size").layers[-1].proj_size == 0
    assert all(lstm.proj_size == 0 for lstm in make("per-layer-sizes").layers)
    assert [lstm.hidden_size for lstm in make("per-layer-sizes").layers] == [20, 10]
    assert isinstance(make("untied").output, nn.Linear)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hidden_sizes": []},
        {"hidden_sizes": [0]},
        {"hidden_sizes": [16, -1]},
        {"hidden_sizes": [True]},
        {"hidden_sizes": [2.5]},
        {"embedding_size": 0},
        {"vocab_size": 0},
        {"dropout": 1.0},
        {"dropout": -0.1},
        {"weight_dropout": 1.0},
        {"embedding_dropout": -0.5},
        {"input_dropout": "high"},
        {"adaptive_cutoffs": [5]},  # tied: an adaptive softmax has no single matrix to share
        {"adaptive_cutoffs": [20, 5], "tie_weights": False},
        {"adaptive_cutoffs": [5, 5], "tie_weights": False},
        {"adaptive_cutoffs": [0, 5], "tie_weights": False},
        {"adaptive_cutoffs": [5, V - 1], "tie_weights": False},
    ],
)
def test_invalid_configs_raise(kwargs):
    with pytest.raises(ValueError):
        ModelConfig(**{"vocab_size": V, **kwargs})


def test_config_json_round_trip():
    for config in CONFIGS.values():
        data = config.to_json()
        assert data["model_type"] == "wordrnn-lstm"
        assert ModelConfig.from_json(data) == config


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_adaptive_tails_must_not_be_empty():
    with pytest.raises(ValueError, match="0 wide"):
        ModelConfig(V, embedding_size=8, hidden_sizes=[12], tie_weights=False, adaptive_cutoffs=[5, 20])


AWD = dict(vocab_size=V, embedding_size=8, hidden_sizes=[12, 12], tie_weights=False, dropout=0.3,
           input_dropout=0.4, embedding_dropout=0.2, weight_dropout=0.5)


def test_regularizers_change_nothing_in_eval_mode():
    torch.manual_seed(0)
    regularized = WordRNN(ModelConfig(**AWD)).eval()
    plain = WordRNN(ModelConfig(V, 8, [12, 12], dropout=0.0, tie_weights=False)).eval()
    plain.load_state_dict(regularized.state_dict())
    ids = torch.randint(0, V, (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(regularized(ids)[0], plain(ids)[0], rtol=0, atol=0)


def test_weight_dropout_trains_the_recurrent_weights_and_leaves_them_in_place():
    torch.manual_seed(0)
    model = WordRNN(ModelConfig(**{**AWD, "dropout": 0.0, "input_dropout": 0.0, "embedding_dropout": 0.0}))
    before = model.layers[0].weight_hh_l0.detach().clone()
    ids = torch.randint(0, V, (2, 7))
    a, _ = model(ids)
    b, _ = model(ids)
    assert not torch.equal(a, b)  # a new DropConnect mask per call
    a.sum().backward()
    assert torch.equal(model.layers[0].weight_hh_l0.detach(), before)
    assert model.layers[0].weight_hh_l0.grad.abs().sum() > 0


def test_variational_dropout_uses_one_mask_for_every_time_step():
    from wordrnn.dropout import LockedDropout

    drop = LockedDropout(0.5).train()
    out = drop(torch.ones(3, 11, 20))
    assert torch.equal(out, out[:, :1].expand_as(out))  # the same mask at every step
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert not torch.equal(out[0], out[1])  # a different one per sequence


def test_embedding_dropout_drops_whole_words():
    from wordrnn.dropout import embedding_dropout

    torch.manual_seed(0)
    embedding = nn.Embedding(V, 6)
    ids = torch.arange(V).repeat(4, 1)  # every word, in each of 4 rows
    out = embedding_dropout(embedding, ids, 0.5, training=True)  # (4, V, 6)
    dropped = (out == 0).all(-1)  # (4, V)
    assert dropped.any() and not dropped.all()
    assert torch.equal(dropped, dropped[:1].expand_as(dropped))  # a word is dropped everywhere or nowhere
    kept = ~dropped[0]
    torch.testing.assert_close(out[0, kept], 2 * embedding.weight[kept])


def test_configs_saved_before_the_regularizers_existed_still_load():
    old = {"model_type": "wordrnn-lstm", "vocab_size": V, "embedding_size": 8, "hidden_sizes": [12],
           "dropout": 0.3, "tie_weights": False, "adaptive_cutoffs": []}
    config = ModelConfig.from_json(old)
    assert (config.input_dropout, config.embedding_dropout, config.weight_dropout) == (None, 0.0, 0.0)
    assert ModelConfig.from_json(ModelConfig(**AWD).to_json()) == ModelConfig(**AWD)

