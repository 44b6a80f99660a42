"""The tactical picture at a past time, for reviewing what happened: tracks with their
trails and the alerts open then, rebuilt from the stored history (``cuas.store.lookback``)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cuas.api.deps import AUTH_RESPONSES, RequireViewer, StoreDep, error
from cuas.schema import Alert, GeoPoint, ObjectClass, TrackStatus
from cuas.store import lookback
from cuas.store.sqlite import Store

router = APIRouter(
    prefix="/picture", tags=["picture"], dependencies=[RequireViewer], responses=AUTH_RESPONSES
)

_T_EXAMPLE = 1764403260.0


class PastTrack(BaseModel):
    """A track as the store last saw it at or before the picture's time."""

    track_id: str
    t_unix: float = Field(description="time of its latest stored point at or before t")
    status: TrackStatus
    object_class: ObjectClass
    position: GeoPoint
    trail: list[tuple[float, float, float, float | None]] = Field(
        description="[t_unix, lat_deg, lon_deg, alt_m] of its stored points from t - trail_s "
        "up to and including this one, oldest first (about one a second)"
    )


class Picture(BaseModel):
    """The tactical picture at a past time."""

    t_unix: float = Field(description="the time looked back to, UNIX s")
    window_s: float = Field(description="a track is shown when its latest point is this recent")
    trail_s: float
    tracks: list[PastTrack]
    alerts: list[Alert] = Field(
        description="alerts open at t (raised, escalated or acknowledged), each as it stood "
        "after its latest transition at or before t"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "t_unix": _T_EXAMPLE,
                    "window_s": 5.0,
                    "trail_s": 30.0,
                    "tracks": [
                        {
                            "track_id": "T3",
                            "t_unix": _T_EXAMPLE,
                            "status": "confirmed",
                            "object_class": "drone",
                            "position": {"lat_deg": 42.8751, "lon_deg": 74.6041, "alt_m": 842.0},
                            "trail": [
                                [_T_EXAMPLE - 1, 42.8750, 74.6041, 842.0],
                                [_T_EXAMPLE, 42.8751, 74.6041, 842.0],
                            ],
                        }
                    ],
                    "alerts": [],
                }
            ]
        }
    )


class HistoryRange(BaseModel):
    """How far back the picture can be looked at."""

    oldest_t_unix: float | None = Field(
        description="the oldest stored track point or alert transition; null: nothing stored"
    )
    newest_t_unix: float | None
    now_t_unix: float = Field(description="the server's clock: a later t is refused")


@router.get("/range", response_model=HistoryRange)
async def history_range(store: StoreDep) -> HistoryRange:
    """The span of stored history, for choosing a time to look back to."""
    span = await asyncio.to_thread(lookback.history_span, store)
    return HistoryRange(
        oldest_t_unix=span.oldest_t_unix if span else None,
        newest_t_unix=span.newest_t_unix if span else None,
        now_t_unix=time.time(),
    )


@router.get(
    "",
    response_model=Picture,
    responses={
        404: error("t is after the server's clock, or before the oldest stored history"),
    },
)
async def picture_at(
    store: StoreDep,
    t: Annotated[
        float,
        Query(
            gt=0,
            lt=1e11,
            allow_inf_nan=False,
            description="the time to look back to, UNIX seconds (UTC)",
            openapi_examples={"a minute into the demo": {"value": _T_EXAMPLE}},
        ),
    ],
    trail_s: Annotated[
        float,
        Query(ge=0, le=300, allow_inf_nan=False, description="seconds of trail before t"),
    ] = 30.0,
    window_s: Annotated[
        float,
        Query(
            gt=0,
            le=60,
            allow_inf_nan=False,
            description="show a track only if it has a stored point this recent before t",
        ),
    ] = 5.0,
) -> Response:
    """The tactical picture at time ``t``: the tracks then, with their trails, and the
    alerts open then in their state at that moment. Live state is on the stream instead."""
    now = time.time()
    if t > now:
        raise HTTPException(
            404, f"t={t:.3f} is in the future (server time {now:.3f}); pick a past time"
        )
    span = await asyncio.to_thread(lookback.history_span, store)
    if span is None:
        raise HTTPException(404, "no history stored yet: nothing to look back to")
    if t < span.oldest_t_unix:
        raise HTTPException(
            404,
            f"t={t:.3f} is before the oldest stored history ({span.oldest_t_unix:.3f}); "
            "pick a later time (GET /api/v1/picture/range gives the span)",
        )
    tracks, alerts = await asyncio.to_thread(_read, store, t, window_s, trail_s)
    # Built as JSON here rather than validated model by model: 1,000 tracks with 30 s
    # trails are 30,000 points (tests check the body against Picture).
    body = {
        "t_unix": t,
        "window_s": window_s,
        "trail_s": trail_s,
        "tracks": [_past_track(track) for track in tracks],
        "alerts": [a.model_dump(mode="json") for a in alerts],
    }
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def _read(
    store: Store, t: float, window_s: float, trail_s: float
) -> tuple[list[lookback.TrackAt], list[Alert]]:
    return lookback.tracks_at(store, t, window_s, trail_s), lookback.alerts_at(store, t)


def _past_track(track: lookback.TrackAt) -> dict:
    return {
        "track_id": track.track_id,
        "t_unix": track.t_unix,
        "status": track.status,
        "object_class": track.object_class,
        "position": {"lat_deg": track.lat_deg, "lon_deg": track.lon_deg, "alt_m": track.alt_m},
        "trail": track.trail,
    }
