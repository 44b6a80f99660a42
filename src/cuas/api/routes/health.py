"""``GET /api/v1/health``: whether the service can be trusted right now, and why not.

It answers without a key (for load balancers and probes), so it tells an anonymous caller
nothing about the picture: the live track count only to callers who may view. ``status``
is "degraded", with each reason in ``problems``, when the engine has gone quiet, a sensor
is silent or not ok, bus messages were lost, or the store's disk is nearly full.
"""

from __future__ import annotations

import shutil
import time

from fastapi import APIRouter, Request
from pydantic import BaseModel

from cuas import __version__
from cuas.api.auth import AuthError, presented_key
from cuas.api.deps import ConfigDep, LiveDep
from cuas.api.live import LiveState
from cuas.config import DeploymentConfig
from cuas.schema import SCHEMA_VERSION, SensorState

router = APIRouter(prefix="/health", tags=["health"])

SILENT_S = 10.0  # the engine relays each sensor's status every 2 s: 10 s of nothing is news
DISK_FREE_MIN_BYTES = 100 * 1024 * 1024


class Health(BaseModel):
    status: str  # "ok" or "degraded"
    problems: list[str]
    version: str
    schema_version: int
    uptime_s: float
    tracks: int | None  # only for callers who may view the picture
    sensors: int
    stream_clients: int
    counters: dict[str, int]


def _may_view(request: Request) -> bool:
    gate = request.app.state.auth
    if not gate.keys_required:
        return True
    try:
        secret = presented_key(request, stream=False)
        return secret is not None and gate.keys.verify(secret) is not None
    except AuthError:
        return False


def problems(live: LiveState, config: DeploymentConfig) -> list[str]:
    """What makes the service untrustworthy now, one sentence each."""
    now = time.monotonic()
    found = []
    since_start_s = now - live.started_monotonic
    if live.endpoint and config.sensors:
        quiet_s = now - (live.last_message_monotonic or live.started_monotonic)
        if quiet_s > SILENT_S:
            found.append(f"no word from the engine for {quiet_s:.0f} s")
    for sensor in config.sensors:
        status = live.sensors.get(sensor.id)
        heard = live.sensor_heard_monotonic.get(sensor.id)
        if heard is None:
            if since_start_s > SILENT_S:
                found.append(f"sensor {sensor.id}: never heard from since the API started")
        elif now - heard > SILENT_S:
            found.append(f"sensor {sensor.id}: silent for {now - heard:.0f} s")
        elif status is not None and status.state is not SensorState.OK:
            found.append(f"sensor {sensor.id} {status.state.value}: {status.detail}")
    if live.counters["bus_lost"]:
        found.append(f"{live.counters['bus_lost']} bus messages from the engine lost")
    try:
        free = shutil.disk_usage(config.data_dir).free
    except OSError as exc:
        found.append(f"store: data dir unreadable ({exc.strerror})")
    else:
        if free < DISK_FREE_MIN_BYTES:
            found.append(f"store: only {free // 2**20} MB free on its disk")
    return found


@router.get("", response_model=Health)
def health(request: Request, live: LiveDep, config: ConfigDep) -> Health:
    found = problems(live, config)
    return Health(
        status="degraded" if found else "ok",
        problems=found,
        version=__version__,
        schema_version=SCHEMA_VERSION,
        uptime_s=round(time.time() - live.started_unix, 3),
        tracks=len(live.tracks) if _may_view(request) else None,
        sensors=len(live.sensors),
        stream_clients=len(live.clients),
        counters=dict(live.counters),
    )
