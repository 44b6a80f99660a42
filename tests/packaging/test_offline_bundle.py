"""The offline bundle: `quickstart.py bundle` then an install from it with no index at all,
and what the installed wheel holds (the demo, no stray packages, runtime dependencies only)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path, timeout_s: float = 900) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_bundle_installs_with_no_network_and_runs_the_demo_check(tmp_path):
    bundle = tmp_path / "bundle"
    run(sys.executable, ROOT / "quickstart.py", "bundle", bundle, cwd=tmp_path)
    wheels = sorted(p.name for p in bundle.glob("*.whl"))
    assert any(w.startswith("cuas-") for w in wheels), wheels
    assert (bundle / "requirements.txt").read_text() == (
        ROOT / "requirements" / "runtime.txt"
    ).read_text()

    # --no-index: pip may not look at any index, so everything comes from the bundle
    venv = tmp_path / "site-venv"
    run(sys.executable, bundle / "install.py", venv, "--no-warmup", cwd=tmp_path)
    python = venv / "bin" / "python"
    installed = run(python, "-m", "pip", "list", "--format=freeze", cwd=tmp_path).lower()
    names = {line.split("==")[0] for line in installed.split()}
    assert "cuas" in names and "numba" in names
    assert not names & {"filterpy", "pymap3d", "matplotlib", "pytest"}, names  # test/plots only

    # The stray drivers/template folder is not a package of the wheel.
    probe = "import importlib.util as u; print(u.find_spec('template'))"
    assert run(python, "-c", probe, cwd=tmp_path).strip() == "None"

    # An installed cuas finds its bundled demo away from any checkout.
    site = tmp_path / "site"
    site.mkdir()
    out = run(venv / "bin" / "cuas", "check", cwd=site)
    assert "OK (1 sites" in out
    assert (site / "cuas-demo" / "replay_data" / "demo.jsonl.gz").is_file()
