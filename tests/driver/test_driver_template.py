"""The driver template installs with pip as a real third-party plugin and cuas finds it.

The template is copied (so the build leaves nothing in the repo), installed into a
throwaway venv, and used there through the ``cuas`` command line: discovery through the
entry point, its options, a decode of the recording it ships, and its own tests.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from support import REPO

TEMPLATE = REPO / "drivers" / "template"


def _can_build_wheels() -> bool:
    """setuptools builds wheels by itself from 70.1; older ones need the wheel package."""
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    major, minor = (int(x) for x in version.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(python of a venv with the template installed, the copy it was installed from)."""
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not available to this interpreter")
    if not _can_build_wheels():
        pytest.skip("setuptools < 70.1 without the wheel package cannot build the plugin")
    tmp = tmp_path_factory.mktemp("plugin")
    source = tmp / "cuas-driver-template"
    shutil.copytree(TEMPLATE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    env_dir = tmp / "venv"
    try:
        venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot create a venv here: {exc}")
    python = env_dir / "bin" / "python"
    # --system-site-packages reaches the base interpreter's packages; when the tests run in a
    # venv (as .venv), cuas lives in that venv's site-packages, so bridge to it as well.
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    bridge = Path(purelib.stdout.strip()) / "cuas_parent_env.pth"
    bridge.write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages())
    )
    install = _run(
        sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
        "--no-deps", "--no-build-isolation", "--no-index", source,
    )  # fmt: skip
    if install.returncode != 0 and "no such option: --python" in install.stderr:
        pytest.skip("this pip cannot install into another interpreter (pip >= 22.3 needed)")
    assert install.returncode == 0, install.stderr
    return python, source


def test_cuas_drivers_list_in_the_plugin_venv_shows_the_driver_and_its_options(plugin_env):
    python, _ = plugin_env
    result = _run(python, "-m", "cuas", "drivers", "list")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(
        r"^example_radar  \(cuas_driver_template\.driver:ExampleRadarDriver, framing: line\)$",
        out,
        re.M,
    )
    assert "options.min_range_m = 30.0  plots closer than this are clutter" in out
    assert "options.max_range_m = 5000.0" in out
    assert "dragonsync" in out, "the built-in drivers are still there"


def test_the_plugin_decodes_its_recording_through_cuas_drivers_test(plugin_env):
    python, source = plugin_env
    sample = source / "cuas_driver_template" / "data" / "sample.jsonl"
    result = _run(python, "-m", "cuas", "drivers", "test", "example_radar", "--input", sample)
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"^    range_az_el  range 14\d\d\.\d m", result.stdout, re.M)) == 2
    assert "malformed: 1" in result.stdout and "other_lines: 1" in result.stdout
    assert "out_of_range: 1" in result.stdout


def test_the_plugins_own_tests_pass_against_the_installed_package(plugin_env):
    python, source = plugin_env
    result = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=source)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
