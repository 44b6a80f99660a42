from __future__ import annotations

import time

from fastapi import APIRouter

from cuas.api.deps import AUTH_RESPONSES, ConfigDep, LiveDep, RequireViewer
from cuas.schema import SensorState, SensorStatus

router = APIRouter(
    prefix="/sensors", tags=["sensors"], dependencies=[RequireViewer], responses=AUTH_RESPONSES
)


@router.get("", response_model=list[SensorStatus])
def list_sensors(config: ConfigDep, live: LiveDep) -> list[SensorStatus]:
    """Every configured sensor with its latest status; never heard from = offline."""
    out = []
    for sensor in config.sensors:
        status = live.sensors.get(sensor.id)
        out.append(
            status
            or SensorStatus(
                sensor_id=sensor.id,
                t_unix=time.time(),
                state=SensorState.OFFLINE,
                driver=sensor.driver,
                detail="no status received yet",
                position=sensor.position,
            )
        )
    known = {s.id for s in config.sensors}
    out.extend(s for sid, s in live.sensors.items() if sid not in known)
    return out
