"""Make the README's dashboard screenshot from the real bundled demo.

Starts `cuas run` on configs/demo.toml (free loopback ports, a temporary data folder),
opens the dashboard in headless Chromium through Playwright (Debian's /usr/bin/chromium,
as the browser tests use; install the test extra), waits until a drone track and its
time-to-breach pre-alert are on screen, selects the drone and writes docs/dashboard.png.

    .venv/bin/python docs/screenshot.py [--out docs/dashboard.png] [--chromium PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from PIL import Image
from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "demo.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_config(data_dir: Path) -> str:
    """configs/demo.toml on free ports, with a private data folder and absolute paths."""
    text = DEMO.read_text(encoding="utf-8")
    swaps = {
        r"^port = 8000$": f"port = {free_port()}",
        r"tcp://127\.0\.0\.1:5550": f"tcp://127.0.0.1:{free_port()}",
        r"tcp://127\.0\.0\.1:5551": f"tcp://127.0.0.1:{free_port()}",
        r'^data_dir = ".*?"': f'data_dir = "{data_dir.as_posix()}"',
        r'"replay:\.\./': f'"replay:{REPO.as_posix()}/',
    }
    for pattern, new in swaps.items():
        text, n = re.subn(pattern, new, text, count=1, flags=re.MULTILINE)
        if n != 1:
            raise SystemExit(f"{DEMO} no longer matches {pattern!r}; update {__file__}")
    return text


@contextlib.contextmanager
def demo_service(workdir: Path) -> Iterator[str]:
    """`cuas run` on the demo; yields the dashboard's base URL once health answers."""
    text = demo_config(workdir / "data")
    config = workdir / "demo.toml"
    config.write_text(text, encoding="utf-8")
    port = int(re.search(r"^port = (\d+)$", text, re.MULTILINE)[1])
    log = (workdir / "service.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cuas", "run", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopping it reaches every child
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the demo did not start; see {workdir / 'service.log'}")
            time.sleep(0.2)
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def shoot(base: str, out: Path, chromium: str) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 850})
            page.goto(base + "/")
            expect(page.locator("#conn-state")).to_have_text("live", timeout=30_000)
            page.locator("#map [data-track-id]").first.wait_for(timeout=60_000)
            print("track on screen; waiting for the pre-alert", file=sys.stderr)
            card = page.locator("#alerts [data-alert-id]", has=page.locator(".ttb")).first
            card.wait_for(timeout=90_000)
            card.locator(".alert-track").click()  # the track details, with time to breach
            # One step out and a little east, so the details card leaves the intruder's
            # approach from the west in view.
            page.click("#zoom-out")
            box = page.locator("#map").bounding_box()
            y = box["y"] + box["height"] * 0.75
            page.mouse.move(box["x"] + 400, y)
            page.mouse.down()
            page.mouse.move(box["x"] + 570, y, steps=8)
            page.mouse.up()
            page.wait_for_timeout(6000)  # a few seconds closer, the trail grows
            png = page.screenshot()
        finally:
            browser.close()
    # A 256-colour palette keeps the flat dark UI sharp at a third of the size.
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256).save(out, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "dashboard.png")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="cuas-screenshot-") as tmp,
        demo_service(Path(tmp)) as base,
    ):
        print(f"demo at {base}", file=sys.stderr)
        shoot(base, args.out, args.chromium)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
