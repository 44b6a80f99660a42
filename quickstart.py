#!/usr/bin/env python3
"""Set up a virtual environment and run cuas, with nothing but Python 3.11+ installed.

    python3 quickstart.py demo    # install, then run the bundled demo and print the dashboard URL
    python3 quickstart.py test    # install with test extras, then run the whole test suite

Extra arguments after the command go to ``cuas run`` or to pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"


def _python() -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin") / "python"


def _setup(extras: str) -> None:
    if not _python().exists():
        print(f"creating virtual environment in {VENV.name}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    pyproject = ROOT / "pyproject.toml"
    if stamp.exists() and stamp.stat().st_mtime >= pyproject.stat().st_mtime:
        return
    target = f".[{extras}]" if extras else "."
    print(f"installing cuas {target} (first run takes a minute) ...", flush=True)
    subprocess.run(
        [str(_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", target],
        cwd=ROOT,
        check=True,
    )
    stamp.touch()


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script must run on old Pythons to say so
        print(f"cuas needs Python 3.11 or newer; this is {sys.version.split()[0]}")
        return 1
    if not argv or argv[0] not in {"demo", "test"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    try:
        _setup("" if command == "demo" else "test")
    except subprocess.CalledProcessError as exc:
        print(f"setup failed ({exc}); see the pip output above", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    args = ["-m", "cuas", "run", *rest] if command == "demo" else ["-m", "pytest", *rest]
    os.chdir(ROOT)
    if os.name == "posix":
        # Become the program, so Ctrl-C and SIGTERM reach it directly and it can stop cleanly.
        os.execv(_python(), [str(_python()), *args])
    return subprocess.call([str(_python()), *args])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
