from __future__ import annotations

import time

from fastapi import APIRouter
from pydantic import BaseModel

from cuas import __version__
from cuas.api.deps import LiveDep
from cuas.schema import SCHEMA_VERSION

router = APIRouter(prefix="/health", tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    schema_version: int
    uptime_s: float
    tracks: int
    sensors: int
    stream_clients: int
    counters: dict[str, int]


@router.get("", response_model=Health)
def health(live: LiveDep) -> Health:
    return Health(
        status="ok",
        version=__version__,
        schema_version=SCHEMA_VERSION,
        uptime_s=round(time.time() - live.started_unix, 3),
        tracks=len(live.tracks),
        sensors=len(live.sensors),
        stream_clients=len(live.clients),
        counters=dict(live.counters),
    )
