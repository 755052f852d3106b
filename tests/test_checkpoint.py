"""Checkpoint folders: exact round trip, atomic save, float16, and every way a folder can be bad.

Every broken folder must give a CheckpointError that names the file at fault; nothing may ever be
unpickled, and a hostile config.json must fail before anything big is allocated.
"""

import contextlib
import copy
import dataclasses
import json
import os
import pickle
import re
import resource
import shutil
from pathlib import Path

import pytest
import safetensors.torch
import torch
from huggingface_hub import ModelCard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open

import wordrnn
from wordrnn import Checkpoint, CheckpointError, ModelConfig, Vocabulary, WordRNN, card
from wordrnn.weights import expected_shapes

IDS = "and god said , let there be light : and there was light .".split()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def logits(checkpoint: Checkpoint) -> torch.Tensor:
    with torch.no_grad():
        return checkpoint.model(torch.tensor([checkpoint.vocab.encode(IDS)]))[0]


def random_checkpoint(seed: int = 1, **config) -> Checkpoint:
    torch.manual_seed(seed)
    vocab = Vocabulary.build(IDS + ["<eol>"])
    options = {"embedding_size": 8, "hidden_sizes": [12], "dropout": 0.0, **config}
    return Checkpoint(WordRNN(ModelConfig(len(vocab), **options)).eval(), vocab, {"metrics": {"train_loss": 1.5}})


@pytest.fixture
def folder(tiny_checkpoint, tmp_path) -> Path:
    return tiny_checkpoint.save_pretrained(tmp_path / "model")


def test_save_load_is_exact(tiny_checkpoint, folder):
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "card.json", "config.json", "model.safetensors",
                                                        "vocab.json"]
    loaded = Checkpoint.from_pretrained(folder)
    assert torch.equal(logits(loaded), logits(tiny_checkpoint))
    assert loaded.vocab == tiny_checkpoint.vocab and loaded.vocab.counts == tiny_checkpoint.vocab.counts
    assert loaded.info == tiny_checkpoint.info and loaded.model.config == tiny_checkpoint.model.config
    assert loaded.name_or_path == str(folder) and not loaded.model.training
    assert loaded.model.output.weight is loaded.model.embedding.weight  # still tied
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert "output.weight" not in f.keys()  # the tied matrix is stored once


@pytest.mark.parametrize("config", [
    {"tie_weights": False, "hidden_sizes": [10, 6]},
    {"tie_weights": False, "hidden_sizes": [16], "adaptive_cutoffs": [4, 8]},
])
def test_untied_and_adaptive_round_trip(tmp_path, config):
    checkpoint = random_checkpoint(**config)
    loaded = Checkpoint.from_pretrained(checkpoint.save_pretrained(tmp_path / "m"))
    assert torch.equal(logits(loaded), logits(checkpoint))
    assert loaded.model.config == checkpoint.model.config


@pytest.mark.parametrize("config", [
    ModelConfig(30, 8, [16, 12], tie_weights=True),
    ModelConfig(30, 8, [8], tie_weights=True),
    ModelConfig(30, 6, [20, 10], tie_weights=False),
    ModelConfig(30, 8, [16], tie_weights=False, adaptive_cutoffs=[5, 20]),
    ModelConfig(30, 8, [16], tie_weights=False, adaptive_cutoffs=[5, 10]),
])
def test_expected_shapes_match_the_model(config):
    """They are read from a model on the meta device: the same as a real one's, without memory."""
    state = WordRNN(config).state_dict()
    if config.tie_weights:
        del state["output.weight"]
    assert expected_shapes(config) == {k: tuple(v.shape) for k, v in state.items()}


def test_save_replaces_a_folder_atomically(tiny_checkpoint, folder):
    other = random_checkpoint(embedding_size=4, hidden_sizes=[6])
    other.assets["curve.png"] = PNG
    other.save_pretrained(folder)
    loaded = Checkpoint.from_pretrained(folder)
    assert torch.equal(logits(loaded), logits(other)) and loaded.assets == {"curve.png": PNG}
    assert os.listdir(folder.parent) == ["model"]  # no temporary or old folder left behind
    assert folder.stat().st_mode & 0o755 == 0o755  # readable by others, like any saved folder


@contextlib.contextmanager
def old_folder_survives(tiny_checkpoint, folder):
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    yield
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert torch.equal(logits(Checkpoint.from_pretrained(folder)), logits(tiny_checkpoint))
    assert os.listdir(folder.parent) == ["model"]


def test_failed_write_keeps_the_old_folder(tiny_checkpoint, folder, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", disk_full)
    with old_folder_survives(tiny_checkpoint, folder), pytest.raises(OSError, match="No space"):
        random_checkpoint().save_pretrained(folder)


def test_unwritable_asset_name_keeps_the_old_folder(tiny_checkpoint, folder):
    bad = random_checkpoint()
    bad.assets = {"curve\0.png": PNG}  # no file system accepts a NUL in a name
    with old_folder_survives(tiny_checkpoint, folder), pytest.raises(ValueError, match="null"):
        bad.save_pretrained(folder)


@pytest.mark.parametrize("name", ["../escape.png", "sub/x.png", "model.safetensors", "config.json"])
def test_bad_asset_names_are_refused_and_keep_the_old_folder(tiny_checkpoint, folder, name):
    bad = copy.copy(tiny_checkpoint)
    bad.assets = {name: PNG}
    with old_folder_survives(tiny_checkpoint, folder), pytest.raises(CheckpointError, match="asset"):
        bad.save_pretrained(folder)
    assert not (folder.parent.parent / "escape.png").exists()


def test_float16_storage(tiny_checkpoint, tmp_path):
    full = tiny_checkpoint.save_pretrained(tmp_path / "f32")
    half = tiny_checkpoint.save_pretrained(tmp_path / "f16", dtype=torch.float16)
    with safe_open(str(half / "model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}
    assert (half / "model.safetensors").stat().st_size < 0.6 * (full / "model.safetensors").stat().st_size
    loaded = Checkpoint.from_pretrained(half)
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    torch.testing.assert_close(logits(loaded), logits(tiny_checkpoint), atol=2e-2, rtol=1e-2)


def evil_pickle(marker: Path) -> bytes:
    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))  # runs if anyone ever unpickles the file

    return pickle.dumps({"embedding.weight": Evil()})


@pytest.mark.parametrize("only_the_pickle", [False, True])
def test_pickled_weights_are_refused_never_loaded(folder, tmp_path, only_the_pickle):
    marker = tmp_path / "pwned"
    for path in folder.iterdir():
        if only_the_pickle or path.name == "model.safetensors":
            path.unlink()
    (folder / "pytorch_model.bin").write_bytes(evil_pickle(marker))
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin(?=.*pickl)(?=.*safetensors)"):
        Checkpoint.from_pretrained(folder)
    assert not marker.exists()


def test_a_pickle_beside_safetensors_is_ignored(tiny_checkpoint, folder, tmp_path):
    marker = tmp_path / "pwned"
    (folder / "pytorch_model.bin").write_bytes(evil_pickle(marker))
    assert torch.equal(logits(Checkpoint.from_pretrained(folder)), logits(tiny_checkpoint))
    assert not marker.exists()


def test_no_code_can_unpickle():
    unpickling = re.compile(r"\btorch\.load\b|\bpickle\b\s*\.|import pickle|\bdill\b|\bjoblib\b|weights_only")
    package = Path(wordrnn.__file__).parent
    offenders = [f"{p.name}:{n}" for p in package.rglob("*.py")
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if unpickling.search(line)]
    assert offenders == []


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "vocab.json"])
def test_missing_file_is_named(folder, name):
    (folder / name).unlink()
    with pytest.raises(CheckpointError, match=re.escape(name) + ".*missing"):
        Checkpoint.from_pretrained(folder)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_weights_are_named(folder, damage):
    path = folder / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00garbage" * 512, "empty": b""}[damage])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is truncated or corrupt"):
        Checkpoint.from_pretrained(folder)


@pytest.mark.parametrize("name", ["config.json", "vocab.json"])
def test_corrupt_json_is_named(folder, name):
    path = folder / name
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(CheckpointError, match=re.escape(name) + " is not valid JSON"):
        Checkpoint.from_pretrained(folder)


def test_config_from_another_library(folder):
    gpt2 = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 768, "vocab_size": 50257}
    (folder / "config.json").write_text(json.dumps(gpt2))
    with pytest.raises(CheckpointError, match=r"config\.json describes a 'gpt2' model, not a wordrnn checkpoint"):
        Checkpoint.from_pretrained(folder)


@pytest.mark.parametrize("change, field", [
    ({"hidden_sizes": []}, "hidden_sizes"), ({"dropout": "high"}, "dropout"), ({"hidden_sizes": 5}, "hidden_sizes"),
    ({"tie_weights": "false"}, "tie_weights"), ({"tie_weights": 0}, "tie_weights"), ({"dropout": True}, "dropout"),
    ({"hidden_sizes": [True]}, "hidden size"), ({"embedding_size": 8.0}, "embedding_size"),
    ({"tie_weights": False, "adaptive_cutoffs": [2.5, 5.5]}, "adaptive_cutoffs"),
    ({"tie_weights": False, "adaptive_cutoffs": "2, 5"}, "adaptive_cutoffs"),
])
def test_invalid_config_values(folder, change, field):
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(CheckpointError, match=r"config\.json is not a valid wordrnn config") as error:
        Checkpoint.from_pretrained(folder)
    assert field in str(error.value) and "model.safetensors" not in str(error.value)  # the fault is the config's


@pytest.mark.parametrize("name, text, message", [
    ("config.json", "[" * 100000 + "]" * 100000, "nested too deeply"),
    ("vocab.json", "[" * 100000 + "]" * 100000, "nested too deeply"),
    ("config.json", '{"vocab_size": ' + "1" * 5000 + "}", "is not valid JSON"),  # Python's int digit limit
])
def test_hostile_json_is_named_not_a_traceback(folder, name, text, message):
    (folder / name).write_text(text)
    with pytest.raises(CheckpointError, match=re.escape(str(folder / name)) + ".*" + message):
        Checkpoint.from_pretrained(folder)


def test_a_vocabulary_far_larger_than_the_config_says_is_not_parsed(folder, monkeypatch):
    data = json.loads((folder / "vocab.json").read_text())
    data["tokens"] += [f"w{i}" for i in range(400_000)]  # 3.3 MB for a vocab_size of a few dozen
    (folder / "vocab.json").write_text(json.dumps(data))
    parsed = []
    monkeypatch.setattr(json, "loads", lambda text, **kw: parsed.append(len(text)) or json.JSONDecoder().decode(text))
    with pytest.raises(CheckpointError, match=r"vocab\.json is [\d,]+ bytes, too large for the vocab_size=\d+ of "
                                              r"config\.json"):
        Checkpoint.from_pretrained(folder)
    assert all(size < 10_000 for size in parsed)  # config.json only


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_saved_files_are_readable_as_the_umask_says(tiny_checkpoint, tmp_path, mask):
    old = os.umask(mask)
    try:
        folder = dataclasses.replace(tiny_checkpoint, assets={"curve.png": PNG}).save_pretrained(tmp_path / "model")
    finally:
        os.umask(old)
    assert {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()} == {
        name: 0o666 & ~mask for name in ("config.json", "model.safetensors", "vocab.json", "card.json", "README.md",
                                         "curve.png")}
    assert folder.stat().st_mode & 0o777 == 0o777 & ~mask


def test_a_path_that_is_no_folder_is_quoted_as_typed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match=r"there is no checkpoint folder at \./nonexist\. "):
        Checkpoint.from_pretrained("./nonexist")


def test_vocabulary_must_fit_the_model(folder, tiny_checkpoint):
    data = json.loads((folder / "vocab.json").read_text())
    drop = next(i for i, t in enumerate(data["tokens"]) if t != "<unk>")
    del data["tokens"][drop], data["counts"][drop]
    (folder / "vocab.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=r"vocab\.json has \d+ tokens but config\.json says vocab_size"):
        Checkpoint.from_pretrained(folder)
    with pytest.raises(CheckpointError, match="vocabulary has"):
        Checkpoint(tiny_checkpoint.model, Vocabulary(data["tokens"]))


def rewrite_weights(folder: Path, change) -> None:
    path = folder / "model.safetensors"
    with safe_open(str(path), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    change(tensors)
    safetensors.torch.save_file(tensors, str(path))


@pytest.mark.parametrize("change, message", [
    (lambda t: t.update(extra=torch.zeros(2)), r"unexpected \['extra'\]"),
    (lambda t: t.pop("output.bias"), r"missing \['output.bias'\]"),
    (lambda t: t.update({"output.bias": torch.zeros(3)}), r"output.bias \(3,\) != \(\d+,\)"),
    (lambda t: t.update({"output.weight": torch.zeros_like(t["embedding.weight"])}), "unexpected.*output.weight"),
    (lambda t: t["layers.0.weight_hh_l0"].view(-1)[7].fill_(float("nan")), "non-finite.*layers.0.weight_hh_l0"),
    (lambda t: t["embedding.weight"].view(-1)[0].fill_(float("inf")), "non-finite.*embedding.weight"),
    (lambda t: t.update({"output.bias": t["output.bias"].long()}), "non-float.*output.bias"),
])
def test_weights_are_loaded_strictly(folder, change, message):
    rewrite_weights(folder, change)
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*" + message):
        Checkpoint.from_pretrained(folder)


def test_weights_must_fit_the_config(folder):
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_sizes": [64, 32]}))
    with pytest.raises(CheckpointError, match=r"model\.safetensors does not match config\.json: .*layers\.1\.weight_ih_l0 \(192, 64\) != \(128, 64\)"):
        Checkpoint.from_pretrained(folder)


@contextlib.contextmanager
def memory_limit(extra: int):
    """Let the process map at most `extra` more bytes: a big allocation fails instead of swapping."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs Linux /proc to read the address-space size")
    vm_kb = int(re.search(r"VmSize:\s+(\d+) kB", Path("/proc/self/status").read_text())[1])
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = vm_kb * 1024 + extra if hard == resource.RLIM_INFINITY else min(hard, vm_kb * 1024 + extra)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize("hidden_sizes", [[10**9], [4, 10**9], [10**20], [2**62], [2**31, 2**31]])
def test_hostile_config_fails_before_allocating(tmp_path, hidden_sizes):
    folder = tmp_path / "hostile"
    folder.mkdir()
    vocab = Vocabulary(["a", "<eol>", "<unk>"])
    vocab.save(folder / "vocab.json")
    config = {**ModelConfig(3, embedding_size=2, hidden_sizes=[2]).to_json(), "hidden_sizes": hidden_sizes}
    (folder / "config.json").write_text(json.dumps(config))
    safetensors.torch.save_file({"embedding.weight": torch.zeros(3, 2)}, str(folder / "model.safetensors"))
    with memory_limit(1 << 30), pytest.raises(CheckpointError, match=r"model\.safetensors does not match"):
        Checkpoint.from_pretrained(folder)


def test_model_card(folder):
    meta = ModelCard.load(folder / "README.md").data  # parsed by the Hub's own client
    assert meta.library_name == "wordrnn" and meta.pipeline_tag == "text-generation"
    assert {"wordrnn", "lstm", "text-generation"} <= set(meta.tags)
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert re.search(r"## Results\n\n\| Metric \| Value \|\n\|---\|---\|\n\| Training loss[^|]*\| [\d.]+ \|", text)


def test_model_card_without_metrics_has_no_results_table(tmp_path):
    checkpoint = random_checkpoint()
    checkpoint.info = {}
    checkpoint.assets = {"loss_curve.png": PNG}
    text = (checkpoint.save_pretrained(tmp_path / "m") / "README.md").read_text(encoding="utf-8")
    assert "## Results" not in text and "![loss_curve.png](loss_curve.png)" in text


def test_info_and_assets_survive_load_and_save(tmp_path):
    checkpoint = random_checkpoint()
    checkpoint.info = {"metrics": {"valid_perplexity": 12.25, "train_loss": float("nan")},
                       "training": {"steps": 100, "hardware": "2 x H200"},
                       "samples": [{"mode": "greedy", "prompt": "in the", "text": "In the beginning\nGod."}]}
    checkpoint.assets = {"loss_curve.png": PNG}
    again = Checkpoint.from_pretrained(Checkpoint.from_pretrained(checkpoint.save_pretrained(tmp_path / "a")).save_pretrained(tmp_path / "b"))
    assert again.assets == checkpoint.assets
    assert json.dumps(again.info, sort_keys=True) == json.dumps(checkpoint.info, sort_keys=True)  # nan == nan


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(metrics=st.dictionaries(TEXT, st.floats(allow_nan=False) | st.integers(), max_size=3),
       training=st.dictionaries(TEXT, TEXT | st.integers() | st.booleans(), max_size=3),
       samples=st.lists(st.fixed_dictionaries({"prompt": TEXT, "text": TEXT, "mode": TEXT}), max_size=2))
def test_read_info_round_trip(tmp_path, metrics, training, samples):
    info = {"metrics": metrics, "training": training, "samples": samples}
    (tmp_path / "card.json").write_text(card.data(info), encoding="utf-8")
    (tmp_path / "README.md").write_text(card.render(ModelConfig(5).to_json(), Vocabulary(["<unk>", "a", "b", "c", "d"]), 123, info, "m"), encoding="utf-8")
    assert card.read(tmp_path) == {k: v for k, v in info.items() if v}


def test_not_a_folder_nor_a_repo_id(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    for source in (tmp_path / "file.txt", tmp_path / "a" / "b" / "c"):
        with pytest.raises(CheckpointError, match="there is no checkpoint folder at"):
            Checkpoint.from_pretrained(source)


def test_copying_a_folder_keeps_it_loadable(tiny_checkpoint, folder, tmp_path):
    copy_ = Path(shutil.copytree(folder, tmp_path / "copy"))
    assert torch.equal(logits(Checkpoint.from_pretrained(copy_)), logits(tiny_checkpoint))
