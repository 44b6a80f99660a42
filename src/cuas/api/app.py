"""The FastAPI application: REST under /api/v1, the live stream, and the dashboard at /."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from cuas import __version__
from cuas.api.auth import ApiKeyStore, AuthGate, install_log_redaction
from cuas.api.headers import SecurityHeaders
from cuas.api.limits import BodySizeLimit
from cuas.api.live import TRACK_STALE_MIN_S, LiveState
from cuas.api.origin import HostOriginGuard
from cuas.api.routes import (
    alerts,
    friends,
    health,
    metrics,
    picture,
    sensors,
    sites,
    stream,
    tracks,
    ui,
)
from cuas.api.routes.ui import dashboard_csp
from cuas.config import DeploymentConfig
from cuas.store.sqlite import Store

STATIC_DIR = Path(__file__).parent / "static"


def create_app(config: DeploymentConfig, store: Store, output_endpoint: str | None) -> FastAPI:
    """Build the app; ``output_endpoint`` is the engine's bus output (None: no live feed)."""
    live = LiveState(
        store,
        output_endpoint,
        config.service.history_retention_h * 3600.0,
        track_stale_s=max(TRACK_STALE_MIN_S, 4 * config.tracker.publish_interval_s),
    )
    keys = ApiKeyStore(store.path)  # its connection lives as long as the app
    install_log_redaction()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await live.start()
        yield
        await live.stop()

    app = FastAPI(
        title="cuas",
        version=__version__,
        description="Counter-drone sensor fusion and alerting: sites, sensors, tracks, alerts.",
        lifespan=lifespan,
        redirect_slashes=False,  # its redirect would echo the Host header back as a URL
    )
    app.state.config = config
    app.state.store = store
    app.state.live = live
    app.state.auth = AuthGate(keys, config.api.keys_required, live.counters)
    app.add_middleware(BodySizeLimit, max_bytes=config.api.max_body_bytes)
    app.add_middleware(
        HostOriginGuard,
        enabled=not config.api.keys_required,
        allowed_hosts=config.api.allowed_hosts,
        counters=live.counters,
    )
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, refusals included

    api = APIRouter(prefix="/api/v1")
    for module in (health, sites, sensors, tracks, alerts, friends, picture, stream, ui):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(metrics.router)  # /metrics, where Prometheus looks by default
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.add_exception_handler(RequestValidationError, _validation_error)
    csp = dashboard_csp(config.api)

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Content-Security-Policy": csp})

    return app


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, except that an input JSON cannot carry (NaN, Infinity: Python's JSON
    reader takes them) is quoted rather than crashing the answer into a 500."""
    errors = []
    for error in exc.errors():  # type: ignore[attr-defined]
        try:
            json.dumps(jsonable_encoder(error), allow_nan=False)
        except ValueError:
            error = {**error, "input": repr(error.get("input"))}
        errors.append(jsonable_encoder(error))
    return JSONResponse({"detail": errors}, status_code=422)
