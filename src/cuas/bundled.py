"""Where the bundled demo (config and recording) is: in a checkout, or inside the installed
package, so ``cuas run`` with no arguments works from a wheel too."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from cuas.config import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
# In the wheel, the demo keeps the checkout's layout, so the config's relative paths hold.
PACKAGED = Path(__file__).resolve().parent / "demo_files"
DEMO_FILES = (Path("configs") / "demo.toml", Path("replay_data") / "demo.jsonl.gz")
COPY_DIR = "cuas-demo"


def demo_file(relative: Path) -> Path:
    """A bundled demo file to read: the checkout's, else the installed package's."""
    for base in (REPO_ROOT, PACKAGED):
        if (base / relative).is_file():
            return base / relative
    raise ConfigError(f"the bundled {relative.as_posix()} is missing; reinstall cuas")


def demo_config() -> Path:
    """The demo config to run. From a checkout (or its folder) that is configs/demo.toml;
    from an installed package the demo is first copied to ./cuas-demo/, since its store
    (``data_dir``, relative to the config) must be somewhere writable."""
    for base in (REPO_ROOT, Path.cwd()):
        if (base / DEMO_FILES[0]).is_file():
            return base / DEMO_FILES[0]
    target = Path.cwd() / COPY_DIR
    for relative in DEMO_FILES:
        source, dest = demo_file(relative), target / relative
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
    print(f"no --config given: running the bundled demo from ./{COPY_DIR}/", file=sys.stderr)
    return target / DEMO_FILES[0]
