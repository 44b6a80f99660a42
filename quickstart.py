#!/usr/bin/env python3
"""Set up a virtual environment and run cuas, with nothing but Python 3.11+ installed.

    python3 quickstart.py demo    # install, then run the bundled demo and print the dashboard URL
    python3 quickstart.py test    # install with test extras, then run the whole test suite
    python3 quickstart.py bundle [DIR]   # build an offline bundle (default dist/cuas-bundle)

Extra arguments after demo or test go to ``cuas run`` or to pytest.

Dependencies come from the locks in requirements/ (exact versions, every file's SHA-256), so
every machine runs what the tests ran. An offline bundle holds cuas and those locked wheels
for this platform and Python, with install.py: copy the folder to a machine without internet
and run ``python3 install.py VENV`` there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCKS = {"base": ROOT / "requirements" / "runtime.txt", "test": ROOT / "requirements" / "test.txt"}

# The installer written into a bundle: standard library only, run on the target machine.
BUNDLE_INSTALLER = '''\
#!/usr/bin/env python3
"""Install cuas from this folder, with no network: python3 install.py [VENV] [--no-warmup]
(default VENV: .venv). Afterwards VENV/bin/cuas runs; --no-warmup leaves the tracker's
kernels to be compiled at the first start instead of now."""
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
args = [a for a in sys.argv[1:] if a != "--no-warmup"]
target = Path(args[0] if args else ".venv").resolve()
if not (target / "bin" / "python").exists():
    venv.EnvBuilder(with_pip=True).create(target)
pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
       "--no-index", "--find-links", str(HERE)]
subprocess.run([*pip, "--require-hashes", "-r", str(HERE / "requirements.txt")], check=True)
subprocess.run([*pip, "--no-deps", "cuas"], check=True)
if "--no-warmup" not in sys.argv:
    subprocess.run([str(target / "bin" / "cuas"), "warmup"], check=True)
print(f"installed: {target / 'bin' / 'cuas'}")
'''


def _python() -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin") / "python"


def _pip(*args: str, python: Path | None = None) -> None:
    subprocess.run(
        [str(python or _python()), "-m", "pip", "--disable-pip-version-check", *args],
        cwd=ROOT,
        check=True,
    )


def _create_venv() -> None:
    if not _python().exists():
        print(f"creating virtual environment in {VENV.name}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)


def _setup(extras: str) -> None:
    """Install the locked dependencies, then cuas itself (editable) without resolving again,
    then compile the tracker's kernels so the first start does not."""
    _create_venv()
    stamp = VENV / f".installed-{extras}"
    sources = [ROOT / "pyproject.toml", LOCKS[extras]]
    if stamp.exists() and all(stamp.stat().st_mtime >= s.stat().st_mtime for s in sources):
        return
    lock = LOCKS[extras].relative_to(ROOT)
    print(f"installing the locked dependencies ({lock}; the first run takes minutes) ...")
    _pip("install", "-q", "--require-hashes", "-r", str(lock))
    target = "." if extras == "base" else f".[{extras}]"
    print(f"installing cuas {target} ...", flush=True)
    _pip("install", "-q", "--no-deps", "-e", target)
    subprocess.run([str(_python()), "-m", "cuas", "warmup"], cwd=ROOT, check=True)
    stamp.touch()


def _bundle(out: Path) -> None:
    """cuas's wheel and every locked runtime dependency's wheel for this platform, the lock,
    and install.py: everything an offline site needs."""
    python = Path(sys.executable)  # this Python's pip if it has one, else the venv's
    if subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode:
        _create_venv()
        python = _python()
    out.mkdir(parents=True, exist_ok=True)
    print(f"building the cuas wheel into {out} ...", flush=True)
    _pip("wheel", "-q", "--no-deps", "-w", str(out), str(ROOT), python=python)
    print("downloading the locked dependencies' wheels ...", flush=True)
    lock = str(LOCKS["base"])
    _pip("download", "-q", "--require-hashes", "--only-binary=:all:", "-d", str(out), "-r", lock,
         python=python)  # fmt: skip
    shutil.copyfile(LOCKS["base"], out / "requirements.txt")
    (out / "install.py").write_text(BUNDLE_INSTALLER, encoding="utf-8")
    print(f"bundle ready: copy {out} to the site and run `python3 install.py` there")


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script must run on old Pythons to say so
        print(f"cuas needs Python 3.11 or newer; this is {sys.version.split()[0]}")
        return 1
    if not argv or argv[0] not in {"demo", "test", "bundle"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "bundle":
            _bundle(Path(rest[0]).resolve() if rest else ROOT / "dist" / "cuas-bundle")
            return 0
        _setup("base" if command == "demo" else "test")
    except subprocess.CalledProcessError as exc:
        print(f"setup failed ({exc}); see the output above", file=sys.stderr)
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
