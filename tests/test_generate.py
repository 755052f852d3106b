"""Tests for wordrnn.generate and wordrnn.stepper: the engine, its exact and fast paths, the CLI."""
import copy
import io
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from wordrnn import UNK, Checkpoint, ModelConfig, PromptError, Vocabulary, WordRNN, generate, source, tokenize
from wordrnn.generate import MAX_WORDS, MODES, Generator
from wordrnn.sampling import Sampler
from wordrnn.stepper import ExactStepper

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ["in the beginning god", "and god said , let there be", "and the earth was without form",
           "darkness", "and god saw the light , that it was good", "the spirit of god moved upon"]


@pytest.fixture(scope="module")
def exact(tiny_checkpoint):
    return Generator(tiny_checkpoint, device="cpu", exact=True)


@pytest.fixture(scope="module")
def fast(tiny_checkpoint):
    gen = Generator(tiny_checkpoint, device="cpu")
    assert gen.fast
    return gen


def greedy_ids(gen, stepper, prompt, forced=None, words=40):
    """Greedy choices along a generation; with `forced`, the stepper is fed those words."""
    logits, state = gen.exact_stepper.start(gen.context(gen.prompt(prompt).ids))
    picked, candidates = [], Sampler("greedy", never=[gen.vocab.unk_id]).candidates()  # as greedy asks
    with torch.inference_mode():
        for n in range(words):
            logits = logits.values.clone()
            logits[gen.vocab.unk_id] = -float("inf")
            picked.append(int(logits.argmax()))
            logits, state = stepper.step(forced[n] if forced else picked[-1], state, candidates)
    return picked


def test_greedy_is_deterministic_and_starts_with_the_prompt(exact, fast):
    for gen in (exact, fast):
        text = gen.text("and god said", words=30)
        assert text == gen.text("and god said", words=30)
        assert text.startswith("And god said")
    assert len(list(exact.stream("and god said", words=30))) == 30


def test_steps_from_the_carried_state_match_the_full_forward(tiny_checkpoint, exact):
    ids = exact.prompt("and god said , let there be light : and there was light").ids
    logits, state = exact.exact_stepper.start(ids[:3])
    stepped = [logits.values]
    with torch.inference_mode():
        for token in ids[3:]:
            logits, state = exact.exact_stepper.step(token, state)
            stepped.append(logits.values)
        full, _ = tiny_checkpoint.model(torch.tensor([ids]))  # (1, T, V)
    torch.testing.assert_close(torch.stack(stepped), full[0, 2:], atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", ["top-k", "top-p"])
def test_each_draw_is_among_the_most_likely_words_of_the_exact_model(tiny_checkpoint, exact, mode):
    prompt = exact.prompt("and the earth was")
    words = list(exact.stream(prompt, words=25, mode=mode, k=3, top_p=0.5, temperature=2.0, seed=1))
    context = exact.context(prompt.ids)  # as the generator reads it: after an end of line
    ids = context + tiny_checkpoint.vocab.encode(words)
    with torch.inference_mode():
        logits, _ = tiny_checkpoint.model(torch.tensor([ids]))  # (1, T, V)
    for n, token in enumerate(ids[len(context):]):
        scores = logits[0, len(context) + n - 1].clone()
        scores[tiny_checkpoint.vocab.unk_id] = -float("inf")
        if mode == "top-k":
            allowed = scores.topk(3).indices.tolist()
        else:
            probs, order = (scores / 2.0).softmax(-1).sort(descending=True)
            allowed = order[: int(((probs.cumsum(-1) - probs) < 0.5).sum())].tolist()
        assert token in allowed, f"word {n} ({words[n]!r}) is not among {allowed}"


def test_top_k_with_k_1_is_greedy(exact, fast):
    for gen in (exact, fast):
        assert gen.text("and god", 30, mode="top-k", k=1, seed=3) == gen.text("and god", 30)


@pytest.mark.parametrize("mode", ["top-k", "top-p"])
def test_a_seed_reproduces_a_text_and_other_seeds_differ(fast, mode):
    texts = [fast.text("and the", 30, mode=mode, k=20, top_p=0.95, temperature=1.5, seed=s) for s in range(4)]
    assert fast.text("and the", 30, mode=mode, k=20, top_p=0.95, temperature=1.5, seed=0) == texts[0]
    assert len(set(texts)) > 1


def test_fast_path_agrees_with_exact_greedy(exact, fast):
    same = total = 0
    for prompt in PROMPTS:
        reference = greedy_ids(exact, exact.stepper, prompt)
        followed = greedy_ids(fast, fast.stepper, prompt, forced=reference)
        same += sum(a == b for a, b in zip(reference, followed))
        total += len(reference)
    assert same / total >= 0.98


def test_fast_path_next_word_probabilities_are_close(exact, fast):
    ids = exact.prompt(" ".join(PROMPTS)).ids
    logits, state = exact.exact_stepper.start(ids[:1])
    fast_state = state
    with torch.inference_mode():
        for token in ids[1:]:
            logits, state = exact.stepper.step(token, state)
            fast_logits, fast_state = fast.stepper.step(token, fast_state, 10**6)
            logits, fast_logits = logits.values, fast_logits.values
            assert (fast_logits.softmax(-1) - logits.softmax(-1)).abs().max() < 0.02


@pytest.mark.parametrize("config", [
    dict(tie_weights=False),  # no projection, full softmax
    dict(tie_weights=False, adaptive_cutoffs=[10, 40]),  # adaptive softmax
    dict(embedding_size=20, hidden_sizes=[36, 28, 44]),  # three layers, sizes that need padding
])
def test_fast_path_follows_every_architecture(config):
    torch.manual_seed(0)
    vocab = Vocabulary([UNK, *(f"w{i}" for i in range(99))])
    model = WordRNN(ModelConfig(vocab_size=100, dropout=0.0, **config)).eval()
    for p in model.parameters():  # weights large enough for the logits to vary
        torch.nn.init.normal_(p, std=0.3)
    gen = Generator(Checkpoint(model, vocab), device="cpu")
    assert gen.fast
    _, state = gen.exact_stepper.start([1, 2, 3])
    with torch.inference_mode():
        for token in range(4, 30):  # one step each, from the same state: int8 rounding only
            fast_logits, _ = gen.stepper.step(token, state, 10**6)
            logits, state = ExactStepper(model).step(token, state)
            fast_logits, logits = fast_logits.values, logits.values
            spread = (logits.max() - logits.min()).item()
            torch.testing.assert_close(fast_logits, logits, atol=0.04 * spread, rtol=0)
            assert (fast_logits.softmax(-1) - logits.softmax(-1)).abs().max() < 0.05


def test_a_model_the_fast_path_cannot_run_takes_the_exact_path(tiny_checkpoint, exact):
    checkpoint = copy.deepcopy(tiny_checkpoint)
    checkpoint.model.output = torch.nn.Sequential(checkpoint.model.output)  # say, a custom output layer
    gen = Generator(checkpoint, device="cpu")
    assert not gen.fast
    assert gen.text("and god", 20) == exact.text("and god", 20)


def test_unk_is_never_generated(tiny_checkpoint):
    checkpoint = copy.deepcopy(tiny_checkpoint)
    with torch.no_grad():
        checkpoint.model.output.bias[checkpoint.vocab.unk_id] = 50.0  # the model's favourite word
    for exact in (True, False):
        gen = Generator(checkpoint, device="cpu", exact=exact)
        assert gen.next_words("and god", 1)[0][0] != UNK
        for mode in MODES:
            words = list(gen.stream("and god", words=40, mode=mode, k=3, temperature=2.0, seed=0))
            assert UNK not in words


def test_next_words_are_the_exact_distribution_without_unk(tiny_checkpoint, exact, fast):
    top = exact.next_words("and god said", n=5)
    assert fast.next_words("and god said", n=5) == top
    assert len(top) == 5 and all(w != UNK for w, _ in top)
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    with torch.inference_mode():
        logits, _ = tiny_checkpoint.model(torch.tensor([exact.context(exact.prompt("and god said").ids)]))
        logits[0, -1, tiny_checkpoint.vocab.unk_id] = -float("inf")
        probs = logits[0, -1].softmax(-1)
    assert top[0] == (tiny_checkpoint.vocab.tokens[int(probs.argmax())], pytest.approx(probs.max().item()))
    assert len(exact.next_words("god", n=1000)) == len(tiny_checkpoint.vocab) - 1


def test_errors_come_from_the_call_not_the_first_word(fast):
    with pytest.raises(PromptError, match="empty"):
        fast.stream("   ")
    with pytest.raises(ValueError, match=f"between 1 and {MAX_WORDS}"):
        fast.stream("god", words=MAX_WORDS + 1)
    with pytest.raises(ValueError, match="unknown mode"):
        fast.stream("god", mode="beam")
    with pytest.raises(ValueError, match="n must be"):
        fast.next_words("god", n=0)


def test_generation_neither_trains_nor_leaves_the_model_in_eval_mode(tiny_checkpoint):
    checkpoint = copy.deepcopy(tiny_checkpoint)
    checkpoint.model.config.dropout = 0.5
    checkpoint.model.dropout.p = 0.5
    checkpoint.model.train()  # as when training samples mid-run
    gen = Generator(checkpoint, device="cpu", exact=True)
    assert gen.text("and god", 20) == gen.text("and god", 20)  # no dropout while generating
    assert checkpoint.model.training


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_prompt_gives_text_or_a_prompt_error(fast, text):
    try:
        out = fast.text(text, words=3, mode="top-p", seed=0)
    except PromptError:
        return
    assert isinstance(out, str) and out


@pytest.fixture(scope="module")
def saved(tiny_checkpoint, tmp_path_factory):
    return tiny_checkpoint.save_pretrained(tmp_path_factory.mktemp("cli") / "ck")


def cli(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "wordrnn.generate", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_cli_generates_text(saved, fast):
    run = cli("and god saiid", "--words", "12", "--model", str(saved))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == fast.text("and god saiid", 12)
    assert "Unknown word 'saiid'" in run.stderr and "'said'" in run.stderr


def test_cli_interactive_loop_reads_until_an_empty_line(saved, fast):
    run = cli("--interactive", "--model", str(saved), "--mode", "top-k", "--k", "1", "--words", "8",
              stdin="and god said\nxqzv\n\nnever read\n")
    assert run.returncode == 0, run.stderr
    assert fast.text("and god said", 8) in run.stdout
    assert "The word 'xqzv' is not in the model's vocabulary" in run.stdout  # reported, and the loop goes on
    assert run.stdout.count("Seed words") == 3  # the empty line ends it


def test_cli_interactive_ends_at_end_of_input(saved, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("and god\n"))
    assert generate.main(["--interactive", "--model", str(saved), "--words", "5"]) == 0
    assert capsys.readouterr().out.count("Seed words") == 2


def test_cli_bad_model_exits_2_with_one_line(tmp_path):
    run = cli("and god", "--model", str(tmp_path / "nowhere"))
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "there is no checkpoint folder at" in errors[0] and "nowhere" in errors[0]


def test_cli_missing_default_model_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(source, "DEFAULT_MODEL", tmp_path / "models" / "kjv-lstm")
    with pytest.raises(SystemExit) as exit_:
        generate.main(["and god"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "the embedded default model is missing at" in err and "--model" in err


@pytest.mark.parametrize("device", ["gpu", "meta"])
def test_an_unknown_device_is_refused(tiny_checkpoint, device):
    with pytest.raises(ValueError, match=f"unknown device '{device}'; use cpu, cuda or cuda:N"):
        Generator(tiny_checkpoint, device=device)


def test_cli_bad_settings_exit_2_before_loading(capsys):
    with pytest.raises(SystemExit) as exit_:
        generate.main(["and god", "--mode", "top-p", "--top-p", "2", "--model", "/nowhere"])
    assert exit_.value.code == 2 and "--top-p: '2' is not a number in (0, 1]" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        generate.main(["and god", "--words", "0"])
    assert exit_.value.code == 2


def untrained(tmp_path: Path, text: str, info: dict) -> Path:
    """A checkpoint of an untrained model over `text`'s words: enough for what the CLI says."""
    vocab = Vocabulary.build(tokenize(text))
    model = WordRNN(ModelConfig(vocab_size=len(vocab), embedding_size=8, hidden_sizes=[8], dropout=0.0))
    return Checkpoint(model, vocab, info).save_pretrained(tmp_path / "model")


@pytest.mark.parametrize("prompt", ["", "   "])
def test_cli_without_seed_words_shows_an_example_the_model_knows(tmp_path, capsys, prompt):
    text = "the cat sat on the mat and the dog lay by the door .\nthe dog sat on the mat ."
    saved = untrained(tmp_path, text, {"examples": ["the dog sat on the mat and"]})
    with pytest.raises(SystemExit) as exit_:
        generate.main([prompt, "--model", str(saved)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "error: give seed words (7 work best), e.g. 'The dog sat on the mat and', or --interactive\n")


def test_cli_without_seed_words_shows_no_example_when_the_model_has_none(tmp_path, capsys):
    saved = untrained(tmp_path, "hello world .\ngood night moon .", {})  # fewer than 7 words
    with pytest.raises(SystemExit) as exit_:
        generate.main(["--model", str(saved)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "error: give seed words (7 work best), or --interactive\n"
