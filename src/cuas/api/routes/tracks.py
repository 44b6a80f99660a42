from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from cuas.api.deps import AUTH_RESPONSES, NOT_FOUND, LiveDep, RequireViewer, StoreDep
from cuas.schema import ObjectClass, Track, TrackStatus

router = APIRouter(
    prefix="/tracks", tags=["tracks"], dependencies=[RequireViewer], responses=AUTH_RESPONSES
)


class TrackPoint(BaseModel):
    t_unix: float
    lat_deg: float
    lon_deg: float
    alt_m: float | None
    status: TrackStatus


@router.get("", response_model=list[Track])
def list_tracks(
    live: LiveDep,
    status: Annotated[list[TrackStatus] | None, Query()] = None,
    object_class: Annotated[list[ObjectClass] | None, Query()] = None,
    exercise: Annotated[
        bool | None, Query(description="true: only exercise tracks; false: only live ones")
    ] = None,
) -> list[Track]:
    """Live tracks, optionally filtered by status, class and whether an exercise fed them."""
    return [
        t
        for t in live.tracks.values()
        if (not status or t.status in status)
        and (not object_class or t.object_class in object_class)
        and (exercise is None or t.exercise is exercise)
    ]


@router.get("/{track_id}", response_model=Track, responses=NOT_FOUND)
def get_track(track_id: str, live: LiveDep) -> Track:
    track = live.tracks.get(track_id)
    if track is None:
        raise HTTPException(404, f"no live track {track_id!r}")
    return track


@router.get("/{track_id}/history", response_model=list[TrackPoint])
def track_history(
    track_id: str, store: StoreDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> list[dict]:
    """Stored positions of a track, oldest first, at most one a second."""
    return store.track_history(track_id, limit)
