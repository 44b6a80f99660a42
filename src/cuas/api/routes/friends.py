"""The friend list: authorised Remote ID serials, operator IDs, MACs and ICAO addresses.

Reading needs a viewer key, changing it an admin key; every change is audited with who
made it. The engine picks changes up within a second.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cuas.alerting.friends import Friend, FriendEvent, FriendKind, FriendSpec, normalise
from cuas.api.deps import (
    AUTH_RESPONSES,
    BODY_TOO_LARGE,
    NOT_FOUND,
    Offset,
    RequireAdmin,
    RequireViewer,
    RowId,
    StoreDep,
)
from cuas.store.lists import FriendNotFound, FriendStore

EXPIRES_T_UNIX_MAX = 4_102_444_800.0  # 2100-01-01: past it, a typo (or 1e308), not a plan

router = APIRouter(
    prefix="/friends", tags=["friends"], dependencies=[RequireViewer], responses=AUTH_RESPONSES
)


def get_friends(store: StoreDep) -> FriendStore:
    return FriendStore(store)


FriendsDep = Annotated[FriendStore, Depends(get_friends)]


class FriendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: FriendKind
    value: str = Field(min_length=1, max_length=64, description="the ID, as broadcast")
    label: str = Field("", max_length=200)
    expires_t_unix: float | None = Field(
        None,
        gt=0,
        le=EXPIRES_T_UNIX_MAX,
        allow_inf_nan=False,
        description="UNIX time it stops applying (before the year 2100)",
    )
    operator: str = Field(min_length=1, max_length=64, description="who makes the change")

    @field_validator("value")
    @classmethod
    def _valid_value(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is not None:
            normalise(kind, value)
        return value


class FriendEventPage(BaseModel):
    items: list[FriendEvent]
    total: int
    limit: int
    offset: int


@router.get("", response_model=list[Friend])
def list_friends(friends: FriendsDep) -> list[Friend]:
    """Every entry, expired ones included (``expired`` says which)."""
    return friends.list(time.time())


@router.get("/events", response_model=FriendEventPage)
def friend_events(
    friends: FriendsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> FriendEventPage:
    """The audit trail of the list, newest first."""
    items, total = friends.events(limit, offset)
    return FriendEventPage(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "",
    response_model=Friend,
    status_code=201,
    dependencies=[RequireAdmin],
    responses={200: {"description": "an entry for the same ID was updated"}, **BODY_TOO_LARGE},
)
async def put_friend(body: FriendRequest, friends: FriendsDep, response: Response) -> Friend:
    """Add an entry, or update the one for the same kind and ID (200)."""
    now = time.time()
    if body.expires_t_unix is not None and body.expires_t_unix <= now:
        msg = "expires_t_unix is in the past; leave it out for no expiry"
        loc = ("body", "expires_t_unix")  # a 422 in the documented shape, like pydantic's
        raise RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg}])
    expires = None
    if body.expires_t_unix is not None:
        expires = datetime.fromtimestamp(body.expires_t_unix, UTC)
    spec = FriendSpec(kind=body.kind, value=body.value, label=body.label, expires=expires)
    entry, created = await asyncio.to_thread(friends.put, spec, body.operator.strip(), now)
    if not created:
        response.status_code = 200
    return entry


@router.delete(
    "/{friend_id}", response_model=Friend, dependencies=[RequireAdmin], responses=NOT_FOUND
)
async def delete_friend(
    friend_id: RowId,
    friends: FriendsDep,
    operator: Annotated[str, Query(min_length=1, max_length=64, description="who removes it")],
) -> Friend:
    try:
        return await asyncio.to_thread(friends.remove, friend_id, operator.strip(), time.time())
    except FriendNotFound as exc:
        raise HTTPException(404, str(exc)) from None
