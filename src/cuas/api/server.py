"""The API server process: uvicorn serving cuas.api.app on the configured address."""

from __future__ import annotations

import uvicorn

from cuas.api.app import create_app
from cuas.config import DeploymentConfig
from cuas.store.database import store_path
from cuas.store.sqlite import Store


def run_api(config: DeploymentConfig) -> None:
    store = Store(store_path(config.data_dir))
    app = create_app(config, store, config.bus.output)
    try:
        uvicorn.run(
            app,
            host=config.api.host,
            port=config.api.port,
            log_level="warning",
            # JSON logs: uvicorn's records go through the root logger's JSON handler too
            **({"log_config": None} if config.service.log_format == "json" else {}),
            ws_max_size=64 * 1024,  # clients only send pings; bound what they can make us buffer
        )
    finally:
        store.close()
