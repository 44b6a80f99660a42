from __future__ import annotations

import time

from fastapi import APIRouter
from pydantic import Field

from cuas.api.deps import AUTH_RESPONSES, ConfigDep, LiveDep, RequireViewer
from cuas.config import Orientation, SensorCoverage
from cuas.schema import SensorState, SensorStatus

router = APIRouter(
    prefix="/sensors", tags=["sensors"], dependencies=[RequireViewer], responses=AUTH_RESPONSES
)


class SensorView(SensorStatus):
    """A sensor's latest status with its configured mounting and coverage."""

    orientation: Orientation | None = Field(
        None, description="mounting from the config; null for a sensor not configured"
    )
    coverage: SensorCoverage | None = Field(
        None,
        description="where it can see: a sector of azimuth_width_deg centred on "
        "orientation.yaw_deg (clockwise from true north) out to range_m; null: not given",
    )


@router.get("", response_model=list[SensorView])
def list_sensors(config: ConfigDep, live: LiveDep) -> list[SensorView]:
    """Every configured sensor with its latest status (never heard from = offline), its
    orientation and coverage; then sensors reporting that the config does not name."""
    out = []
    for sensor in config.sensors:
        status = live.sensors.get(sensor.id) or SensorStatus(
            sensor_id=sensor.id,
            t_unix=time.time(),
            state=SensorState.OFFLINE,
            driver=sensor.driver,
            detail="no status received yet",
            exercise=sensor.exercise,
        )
        view = status.model_dump()
        view["position"] = status.position or sensor.position
        out.append(SensorView(**view, orientation=sensor.orientation, coverage=sensor.coverage))
    known = {s.id for s in config.sensors}
    out.extend(SensorView(**s.model_dump()) for sid, s in live.sensors.items() if sid not in known)
    return out
