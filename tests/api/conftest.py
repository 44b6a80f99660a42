"""A real uvicorn server for the API tests: the app on a free loopback port, in a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from cuas.api.app import create_app
from cuas.api.auth import ApiKeyStore, Role
from cuas.bus import Publisher
from cuas.config import DeploymentConfig, load_config
from cuas.store.database import store_path
from cuas.store.sqlite import Store

from support import DEMO_CONFIG, free_port


@dataclass
class Served:
    base: str
    data_dir: Path  # holds cuas.sqlite: `cuas apikey --config` on a config naming it reaches it
    app: FastAPI
    store: Store
    keys: ApiKeyStore  # its own connection to the store file, as `cuas apikey` has
    pub: Publisher  # stands in for the engine's output bus
    loop: asyncio.AbstractEventLoop  # the server's loop (LiveState lives there)

    @property
    def ws_base(self) -> str:
        return self.base.replace("http://", "ws://")

    def key(self, role: Role, name: str | None = None) -> str:
        return self.keys.create(name or f"{role.value}-{time.monotonic_ns()}", role)[1]


def demo_config(data_dir: Path, **api: Any) -> DeploymentConfig:
    config = load_config(DEMO_CONFIG)
    config.api = config.api.model_copy(update=api)
    config.service = config.service.model_copy(update={"data_dir": str(data_dir)})
    return config


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """``serve(**api_keys)``: the app with these [api] settings behind a real uvicorn."""
    started: list[tuple[uvicorn.Server, threading.Thread, Served]] = []

    def start(**api: Any) -> Served:
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        pub = Publisher(endpoint, bind=True, src="engine")
        config = demo_config(tmp_path / f"data{len(started)}", **api)
        store = Store(store_path(config.data_dir))
        app = create_app(config, store, endpoint)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level="info",
                log_config=None,  # records reach the root logger, so caplog sees uvicorn's too
                ws_max_size=65536,
                timeout_graceful_shutdown=2,  # an SSE stream left open must not hold teardown
            )
        )
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=loop.run_until_complete, args=(server.serve(),), name="uvicorn", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        assert pub.wait_for_subscriber(5.0), "API never subscribed to the engine output"
        keys = ApiKeyStore(store.path)
        served = Served(f"http://127.0.0.1:{port}", config.data_dir, app, store, keys, pub, loop)
        started.append((server, thread, served))
        return served

    yield start
    for server, thread, served in started:
        server.should_exit = True
        thread.join(10)
        served.pub.close()
        served.keys.close()
        served.store.close()
        served.loop.close()
