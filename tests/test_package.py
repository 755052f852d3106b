"""The wheel as a new user meets it: built from the checkout, installed into a fresh virtualenv
and used from a folder outside the checkout.

The virtualenv reuses this environment's installed dependencies through a .pth file and gets the
wheel with `pip install --no-deps --no-index`, and the wheel is built without build isolation
(setuptools from requirements-test.txt): nothing is downloaded, and the test takes seconds, not
the minutes of a torch install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SCRIPTS = sorted(PROJECT["scripts"])
# Checkout folder -> where the wheel puts it (pyproject.toml's package-dir).
LAYOUT = {"wordrnn": "wordrnn", "training": "wordrnn/training", "models": "wordrnn/models"}
# Never built into a wheel: what a checkout accumulates beside the sources.
LOCAL_ONLY = {".git", ".venv", "venv", "build", "dist", "data", "runs", "artifacts", ".pytest_cache", ".hypothesis"}
PROMPT = "in the beginning god created the heaven"

pytestmark = pytest.mark.slow


def run(cmd: list[str], cwd: Path, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{cmd} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def user_env() -> dict[str, str]:
    """The environment without the test session's PYTHONPATH: the venv must find wordrnn itself."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def fresh_venv(folder: Path) -> Path:
    """A virtualenv without pip whose site-packages also sees this environment's packages. Returns
    its python."""
    run([sys.executable, "-m", "venv", "--without-pip", str(folder)], cwd=folder.parent)
    python = folder / "bin" / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=folder).stdout
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    # Appended after the venv's own site-packages, so the installed wordrnn wins over any in here.
    Path(purelib.strip(), "_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python


def pip_install(python: Path, requirement: str, cwd: Path) -> None:
    """pip installs `requirement` alone; --ignore-installed: a wordrnn this environment has (an
    editable install, say) is neither read nor touched."""
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
         "--ignore-installed", "--no-build-isolation", "--disable-pip-version-check", "-q", requirement],
        cwd=cwd, env=user_env())


def copy_checkout(dest: Path, caches: bool = False) -> Path:
    """The checkout's files without what a checkout accumulates (LOCAL_ONLY, egg-info); with
    `caches`, the __pycache__ folders too (numba's compiled kernels)."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        local = LOCAL_ONLY if Path(folder) == ROOT else set()
        return {n for n in names if n in local or n.endswith(".egg-info") or (n == "__pycache__" and not caches)}

    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    return dest


def site_packages(python: Path) -> Path:
    out = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=python.parent)
    return Path(out.stdout.strip())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the checkout: an in-tree build would leave build/ and
    *.egg-info in it."""
    tmp = tmp_path_factory.mktemp("wheel")
    copy_checkout(tmp / "src")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(tmp / "dist"), str(tmp / "src")], cwd=tmp)
    [built] = (tmp / "dist").glob("wordrnn-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel installed; returns its python."""
    python = fresh_venv(tmp_path_factory.mktemp("venv") / "env")
    pip_install(python, str(wheel), cwd=wheel.parent)
    return python


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory) -> Path:
    """A working folder outside the checkout, with no models/ in it."""
    return tmp_path_factory.mktemp("elsewhere")


def test_wheel_holds_every_source_and_data_file_under_wordrnn_only(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    top = {name.split("/")[0] for name in names}
    assert top == {"wordrnn", wheel.name.split("-py3")[0] + ".dist-info"}
    for folder, target in LAYOUT.items():  # code and documents everywhere, every file of models/
        for path in (ROOT / folder).rglob("*"):
            shipped = folder == "models" or path.suffix in (".py", ".md")
            if path.is_file() and shipped and "__pycache__" not in path.parts:
                assert f"{target}/{path.relative_to(ROOT / folder).as_posix()}" in names, path
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_the_version_has_one_source(wheel):
    from wordrnn import __version__

    assert wheel.name.startswith(f"wordrnn-{__version__}-")


def test_installs_nothing_under_a_generic_top_level_name(venv):
    installed = {p.name for p in site_packages(venv).iterdir()} - {"_test_dependencies.pth", "__pycache__"}
    assert {n for n in installed if not n.endswith(".dist-info")} == {"wordrnn"}


def test_default_model_loads_and_generates_from_outside_the_checkout(venv, elsewhere):
    code = f"""
import json, wordrnn
from wordrnn import Checkpoint, Generator
from wordrnn.generate import DEFAULT_MODEL
gen = Generator(Checkpoint.from_pretrained(DEFAULT_MODEL), exact=True)
print(json.dumps({{"package": wordrnn.__file__, "model": str(DEFAULT_MODEL),
                  "text": gen.text({PROMPT!r}, words=8)}}))
"""
    out = json.loads(run([str(venv), "-c", code], cwd=elsewhere, env=user_env()).stdout.splitlines()[-1])
    site = site_packages(venv)
    assert Path(out["package"]).is_relative_to(site)
    assert Path(out["model"]) == site / "wordrnn" / "models" / "kjv-lstm"

    from wordrnn import Checkpoint, Generator

    checkout = Generator(Checkpoint.from_pretrained(ROOT / "models" / "kjv-lstm"), device="cpu", exact=True)
    assert out["text"] == checkout.text(PROMPT, words=8)  # the same model, the same greedy words


def test_every_console_script_answers_help(venv, elsewhere):
    bin_dir = venv.parent
    runs = {name: subprocess.Popen([str(bin_dir / name), "--help"], cwd=elsewhere, env=user_env(), text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE) for name in SCRIPTS}
    for name, process in runs.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"{name} --help exited {process.returncode}:\n{err}"
        assert out.startswith(f"usage: {name}"), f"{name} --help printed:\n{out}"
        assert "-m training." not in out, f"{name} --help names a module only a checkout has:\n{out}"
        if name == "wordrnn-train":
            assert "Example: wordrnn-train --text my.txt" in out
    module = run([str(venv), "-m", "wordrnn.training.train", "--help"], cwd=elsewhere, env=user_env()).stdout
    assert module.startswith("usage: python -m wordrnn.training.train") and "-m training." not in module
    assert "Example: python -m wordrnn.training.train --text my.txt" in module  # its example, as installed


def test_pip_installs_from_a_git_url(tmp_path, elsewhere):
    """`pip install "wordrnn @ git+file://localhost/..."`: pip clones the repository (its committed
    HEAD, not the working tree) and builds the wheel from the clone. (pip 23's URL parser refuses
    the host-less git+file:///path; a host works in every pip.)"""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("the checkout is not a git repository")
    python = fresh_venv(tmp_path / "env")
    pip_install(python, f"wordrnn @ git+file://localhost{quote(ROOT.as_posix())}", cwd=tmp_path)  # a path with spaces too
    code = "from wordrnn.generate import DEFAULT_MODEL; print(DEFAULT_MODEL.is_dir(), DEFAULT_MODEL)"
    out = run([str(python), "-c", code], cwd=elsewhere, env=user_env()).stdout.split()
    assert out[0] == "True" and Path(out[1]).is_relative_to(site_packages(python))
    assert all((python.parent / name).is_file() for name in SCRIPTS)


def test_requirements_txt_lists_what_pyproject_requires():
    """requirements.txt (the app's and a Space's install) and pyproject.toml (the package's) name
    the same requirements: the dependencies and the app extra, with the same versions."""
    listed = {line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()}
    declared = set(PROJECT["dependencies"]) | set(PROJECT["optional-dependencies"]["app"])
    assert listed - {""} == declared
