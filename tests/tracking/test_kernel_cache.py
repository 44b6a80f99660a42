"""A change to any kernel source drops the package's whole Numba cache."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy

import cuas.tracking


def test_editing_one_kernel_file_invalidates_every_cached_kernel(tmp_path):
    package = Path(cuas.tracking.__file__).resolve().parents[1]  # .../cuas
    copy = tmp_path / "src"
    shutil.copytree(package, copy / "cuas", ignore=shutil.ignore_patterns("__pycache__"))
    probe = (
        "import cuas.tracking, pathlib;"
        "from cuas.tracking.imm import imm_predict_batch;"
        "import numpy as np;"
        "imm_predict_batch(np.zeros((1,3,6)), np.zeros((1,3,6,6)), np.full((1,3),1/3),"
        " np.zeros((1,6)), np.zeros((1,6,6)), np.ones(1), np.zeros(3), np.ones(3), 5.0)"
    )
    # -S: no site processing, so the editable install's import hook cannot redirect `cuas`
    # to the original tree; the copy and the installed dependencies are named explicitly.
    site_packages = Path(numpy.__file__).resolve().parents[1]
    env = {"PYTHONPATH": f"{copy}:{site_packages}", "PATH": "/usr/bin:/bin"}
    python = [sys.executable, "-S", "-c"]
    subprocess.run([*python, probe], env=env, check=True, timeout=300)
    cache = copy / "cuas" / "tracking" / "__pycache__"
    assert list(cache.glob("imm.*.nbc")), "the kernel was not cached"
    measurement = copy / "cuas" / "tracking" / "measurement.py"
    measurement.write_text(measurement.read_text() + "\n# edited\n")
    subprocess.run([*python, "import cuas.tracking"], env=env, check=True, timeout=300)
    assert not list(cache.glob("imm.*.nbc")), "imm's cache survived a change to measurement.py"
