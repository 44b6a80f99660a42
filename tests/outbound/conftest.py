"""A real HTTP receiver for webhook tests (scripted answers, every request recorded), and a
deployment config for the outbound process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support import free_port


@dataclass
class Received:
    t_monotonic: float
    headers: dict[str, str]
    body: bytes
    status: int  # what we answered


class Receiver:
    """Answers POSTs from ``script`` (status, headers) in order, then ``then_status``."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.then_status = 200
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status, extra = (
                        receiver.script.pop(0) if receiver.script else (receiver.then_status, {})
                    )
                    receiver.requests.append(
                        Received(time.monotonic(), dict(self.headers.items()), body, status)
                    )
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, predicate, timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                got = list(self.requests)
            if predicate(got):
                return got
            time.sleep(0.02)
        raise AssertionError(f"receiver: condition not met in {timeout_s} s; got {len(got)}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.close()


@pytest.fixture
def outbound_config(tmp_path) -> Callable[..., Path]:
    """``outbound_config(hook_url, cot_port, hooks_toml="")``: a deployment on free loopback
    ports in tmp_path with one webhook (fast retries; ``hooks_toml`` adds keys to it) and one
    CoT destination; returns the TOML file."""

    def write(hook_url: str, cot_port: int, hooks_toml: str = "") -> Path:
        path = tmp_path / "deploy.toml"
        path.write_text(
            f"""
[service]
data_dir = "{(tmp_path / "data").as_posix()}"
log_level = "warning"
[bus]
ingest = "tcp://127.0.0.1:{free_port()}"
output = "tcp://127.0.0.1:{free_port()}"
[[sites]]
id = "s"
name = "s"
reference = {{ lat_deg = 42.8746, lon_deg = 74.6036, alt_m = 780.0 }}
[[outbound.webhooks]]
id = "ops"
url = "{hook_url}"
secret_env = "CUAS_TEST_WEBHOOK_SECRET"
retry_initial_s = 0.1
retry_max_s = 0.4
{hooks_toml}
[[outbound.cot]]
address = "127.0.0.1"
port = {cot_port}
min_interval_s = 0
"""
        )
        return path

    return write
