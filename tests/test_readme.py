"""Every code block of README.md that can run is run, and every output it shows is what it prints.

Conventions, for README writers:
- ```python and ```bash (or sh, shell) blocks are code; any other fence is text.
- `<!-- not run: REASON -->` on the line before a block (blank lines between allowed) skips it,
  and the skip shows with its reason in pytest's summary.
- `CODE  # -> OUTPUT` checks OUTPUT against what CODE prints (or, for a Python expression that
  prints nothing, its repr). `...` stands for any text, a decimal number matches any number that
  rounds to it (give or take float32 noise: CPUs differ in the last bits, and 0.7049999 on one is
  0.7050002 on another), and runs of whitespace compare equal. In Python the comment goes on the
  last line of a top-level statement; in bash, on the last line of a command.
- Blocks run in README order in one workspace: a copy of the checkout (models/kjv-lstm included)
  with `my.txt`, a small text. `python` is this environment's; pyproject's console scripts are on
  PATH; the Hub is the tests' local one (HF_ENDPOINT, token-free), and http://127.0.0.1:7860/ is
  an app started on the default model.
- Each block has 300 s and its own process group, ended with whatever it started. scripts/test.sh
  and scripts/app.sh refuse to run in a block (WORDRNN_README_BLOCK): recursion and a server.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import signal
import sys
import tokenize
import tomllib
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LANGUAGES = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash"}
FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
NOT_RUN = re.compile(r"<!--\s*not run:\s*((?:(?!-->).)+?)\s*-->\Z", re.DOTALL)
OUTPUT = re.compile(r"#\s*->\s?(.*)$")
APP_URL = "http://127.0.0.1:7860/"
BLOCK_TIMEOUT = 300  # s: a block that needs longer (a server, a real training) needs a "not run" marker


class Block(NamedTuple):
    line: int  # of the opening fence, 1-based
    language: str  # "python" or "bash"
    code: str
    not_run: str | None  # the marker's reason


def blocks(text: str) -> list[Block]:
    found = []
    for match in FENCE.finditer(text):
        language = LANGUAGES.get(match.group(1).lower())
        if language:
            marker = NOT_RUN.search(text[: match.start()].rstrip())
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(line, language, match.group(2), marker.group(1) if marker else None))
    return found


def matches(expected: str, actual: str) -> bool:
    """Whether `actual` is what the `# -> expected` comment shows (conventions above)."""
    pattern, shown = "", []
    for part in re.split(r"(\.\.\.|-?\d+\.\d+)", " ".join(expected.split())):
        if part == "...":
            pattern += ".*?"
        elif re.fullmatch(r"-?\d+\.\d+", part):
            pattern += r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
            shown.append(part)
        else:
            pattern += re.escape(part)
    found = re.fullmatch(pattern, " ".join(actual.split()), re.DOTALL)
    return bool(found) and all(rounds_to(float(got), want) for got, want in zip(found.groups(), shown))


def rounds_to(got: float, want: str) -> bool:
    """Whether `got` rounds to the decimal `want`, with a relative 1e-5 for float32 results
    whose last bits depend on the CPU's kernels."""
    half = 0.5 * 10.0 ** -len(want.split(".")[1])
    return abs(got - float(want)) <= half + 1e-5 * max(1.0, abs(got))


def expected_outputs(source: str, offset: int = 0) -> dict[int, str]:
    """Line number (+ offset) -> the output its `# -> ` comment shows."""
    return {
        tok.start[0] + offset: found.group(1).strip()
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT and (found := OUTPUT.match(tok.string))
    }


def run_python(source: str, fence: int = 0) -> list[str]:
    """Runs `source`, the block after README line `fence`, statement by statement as a script in
    this process; returns the mismatches between its `# -> ` comments and what it prints."""
    expected, scope, problems = expected_outputs(source, fence), {"__name__": "__main__"}, []
    tree = ast.increment_lineno(ast.parse(source), fence)  # tracebacks name README.md's lines
    checked = {node.end_lineno for node in tree.body if not hasattr(node, "body")}  # simple statements
    problems += [f"README line {n}: a `# ->` comment must end a top-level simple statement"
                 for n in expected if n not in checked]
    for node in tree.body:
        printed, value = io.StringIO(), None
        with contextlib.redirect_stdout(printed):
            if isinstance(node, ast.Expr):
                value = eval(compile(ast.Expression(node.value), "README.md", "eval"), scope)
            else:
                exec(compile(ast.Module([node], []), "README.md", "exec"), scope)
        sys.stdout.write(printed.getvalue())
        if node.end_lineno in checked and node.end_lineno in expected:
            actual, want = printed.getvalue().strip() or repr(value), expected[node.end_lineno]
            if not matches(want, actual):
                problems.append(f"README line {node.end_lineno}: shows {want!r}, prints {actual!r}")
    return problems


def bash_script(source: str, outputs: Path) -> tuple[str, dict[str, str]]:
    """The block with each `cmd  # -> OUTPUT` line's output sent to a file; returns the script and
    {file name: OUTPUT}."""
    lines, expected = [], {}
    for number, line in enumerate(source.splitlines(), 1):
        found = re.search(r"\s#\s*->\s?(.*)$", line)
        if found:
            expected[f"{number}.out"] = found.group(1).strip()
            line = f'{line[: found.start()]} > "{outputs / f"{number}.out"}"'
        lines.append(line)
    return "set -euo pipefail\n" + "\n".join(lines) + "\n", expected


def console_scripts(folder: Path) -> None:
    """pyproject's console scripts as commands that run the checkout's code (its package-dir map
    gives wordrnn.training.train -> training.train)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_dir = config["tool"]["setuptools"]["package-dir"]
    for name, target in config["project"]["scripts"].items():
        module, function = target.split(":")
        package = max((p for p in package_dir if module == p or module.startswith(p + ".")), key=len)
        module = package_dir[package].replace("/", ".") + module[len(package):]
        script = folder / name
        script.write_text(f"#!{sys.executable}\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n")
        script.chmod(0o755)


if __name__ == "__main__":  # runs one Python block: python test_readme.py BLOCK.py FENCE_LINE RESULT.json
    sys.path[0] = os.getcwd()  # as for `python -`: the workspace, not tests/
    problems = run_python(Path(sys.argv[1]).read_text(encoding="utf-8"), int(sys.argv[2]))
    Path(sys.argv[3]).write_text(json.dumps(problems))
    sys.exit(0)

import subprocess  # noqa: E402 (the tests below; the runner above needs none of it)

import pytest  # noqa: E402

from app_server import AppServer  # noqa: E402
from test_package import copy_checkout  # noqa: E402
from tiny import TEXT  # noqa: E402

BLOCKS = blocks(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, hub) -> dict:
    """A copy of the checkout to run the blocks in, and the environment they run with."""
    root = copy_checkout(tmp_path_factory.mktemp("readme") / "wordrnn", caches=True)
    (root / "my.txt").write_text(TEXT * 5 + "\n", encoding="utf-8")
    (bin_dir := root.parent / "bin").mkdir()
    console_scripts(bin_dir)
    # WORDRNN_README_BLOCK: scripts/test.sh and app.sh refuse to run inside a block (recursion, servers).
    env = dict(os.environ, PYTHONPATH=str(root), HF_TOKEN="hf_readme", PYTHONUNBUFFERED="1", WORDRNN_README_BLOCK="1",
               PATH=os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]]))
    space = {"root": root, "env": env, "app": None}  # the app: started by the first block that calls it
    yield space
    if space["app"]:
        space["app"].stop()


def run_block(cmd: list[str], workspace: dict) -> tuple[int | str, str, str]:
    """Runs a block in its own process group, ended with everything it started (a server, say)."""
    process = subprocess.Popen(cmd, cwd=workspace["root"], env=workspace["env"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=BLOCK_TIMEOUT)
        returncode: int | str = process.returncode
    except subprocess.TimeoutExpired:
        returncode = f"nothing: it ran past {BLOCK_TIMEOUT} s (a server or a long run? mark it <!-- not run: ... -->)"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    if not isinstance(returncode, int):
        out, err = process.communicate()
    return returncode, out, err


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{b.line}-{b.language}" for b in BLOCKS])
def test_readme_block(block: Block, workspace: dict, tmp_path):
    if block.not_run:
        pytest.skip(f"README line {block.line}: not run: {block.not_run}")
    code = block.code
    if APP_URL in code:
        workspace["app"] = workspace["app"] or AppServer(None).start()
        code = code.replace(APP_URL, workspace["app"].url)
    result_file = tmp_path / "result.json"
    if block.language == "python":
        (tmp_path / "block.py").write_text(code, encoding="utf-8")
        cmd = [sys.executable, __file__, str(tmp_path / "block.py"), str(block.line), str(result_file)]
    else:
        script, expected = bash_script(code, tmp_path)
        (tmp_path / "block.sh").write_text(script, encoding="utf-8")
        cmd = ["bash", str(tmp_path / "block.sh")]
    returncode, out, err = run_block(cmd, workspace)
    where = f"README line {block.line} ({block.language}) exited {returncode}"
    assert returncode == 0, f"{where}:\n{out[-3000:]}\n{err[-3000:]}"
    if block.language == "python":
        problems = json.loads(result_file.read_text())
    else:
        printed = {name: (tmp_path / name).read_text() for name in expected}
        problems = [f"README line {block.line + int(name[:-4])}: shows {want!r}, prints {printed[name]!r}"
                    for name, want in expected.items() if not matches(want, printed[name])]
    assert not problems, "\n".join(problems)


def test_readme_has_code_and_every_marker_is_before_a_block():
    text = README.read_text(encoding="utf-8")
    assert any(not b.not_run for b in BLOCKS), "no README block runs"
    markers = len(re.findall(r"<!--\s*not run:", text))
    assert markers == sum(1 for b in BLOCKS if b.not_run), "a <!-- not run: ... --> is not right before a block"


@pytest.mark.parametrize("expected, actual, ok", [
    ("{'a': 0.19, ...}", "{'a': 0.1923, 'no': 0.18}", True),
    ("{'a': 0.19, ...}", "{'a': 0.1977, 'no': 0.18}", False),  # rounds to 0.20
    ("[('unto', 0.70)]", "[('unto', 0.7050020098686218)]", True),  # float32 noise over the half-way mark
    ("[('unto', 0.70)]", "[('unto', 0.7051)]", False),
    ("{'light': 0.41, ...}", "{'a': 0.19, 'no': 0.18}", False),
    ("(1, 35)", "(1, 35)", True),
    ("(1, 35)", "(1, 36)", False),
    ("In the beginning ... earth.", "In the beginning God\ncreated the heaven and the earth.", True),
    ("and god said", "and god said unto", False),
])
def test_output_comparison(expected, actual, ok):
    assert matches(expected, actual) is ok


def test_bash_outputs_are_checked(tmp_path):
    script, expected = bash_script('echo "in the  beginning"  # -> in the beginning\nprintf 41.3  # -> 41\n', tmp_path)
    subprocess.run(["bash", "-c", script], check=True)
    assert expected == {"1.out": "in the beginning", "2.out": "41"}
    assert matches(expected["1.out"], (tmp_path / "1.out").read_text())
    assert not matches(expected["2.out"], (tmp_path / "2.out").read_text())  # 41 is an integer: exact


def test_python_outputs_are_checked():
    problems = run_python('x = 2\nx + 1  # -> 3\nprint("hi")  # -> hello\nfor i in [1]:\n    i  # -> 1\n', fence=10)
    assert problems == [
        "README line 15: a `# ->` comment must end a top-level simple statement",
        "README line 13: shows 'hello', prints 'hi'",
    ]
