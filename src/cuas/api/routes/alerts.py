from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from cuas.api.auth import LOOPBACK_PRINCIPAL, Principal
from cuas.api.deps import (
    AUTH_RESPONSES,
    BODY_TOO_LARGE,
    NOT_FOUND,
    LiveDep,
    Offset,
    RequireOperator,
    RequireViewer,
    RowId,
    StoreDep,
    error,
)
from cuas.api.live import LiveState
from cuas.schema import Alert, AlertEvent, AlertState
from cuas.store.sqlite import AlertNotFound, AlertStateError

router = APIRouter(
    prefix="/alerts", tags=["alerts"], dependencies=[RequireViewer], responses=AUTH_RESPONSES
)


class AlertPage(BaseModel):
    items: list[Alert]
    total: int
    limit: int
    offset: int


OPERATOR_DOC = (
    "who acts, for the keyless loopback demo; with an API key the audit records the key's "
    "name, whatever this says"
)


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operator: str | None = Field(None, min_length=1, max_length=64, description=OPERATOR_DOC)
    note: str | None = Field(None, max_length=1000)


@router.get("", response_model=AlertPage)
def list_alerts(
    store: StoreDep,
    state: Annotated[list[AlertState] | None, Query()] = None,
    site_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
    exercise: Annotated[
        bool | None, Query(description="true: only exercise alerts; false: only live ones")
    ] = None,
) -> AlertPage:
    """Alerts newest first, filtered by state (repeat the parameter for several), site and
    whether an exercise caused them."""
    items, total = store.list_alerts(state, site_id, limit, offset, exercise=exercise)
    return AlertPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{alert_id}", response_model=Alert, responses=NOT_FOUND)
def get_alert(alert_id: RowId, store: StoreDep) -> Alert:
    try:
        return store.get(alert_id)
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/{alert_id}/events", response_model=list[AlertEvent], responses=NOT_FOUND)
def alert_events(alert_id: RowId, store: StoreDep) -> list[AlertEvent]:
    """The audit trail: every transition of the alert, oldest first."""
    try:
        store.get(alert_id)
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return store.events(alert_id)


@router.post(
    "/{alert_id}/ack",
    response_model=Alert,
    responses={
        **NOT_FOUND,
        409: error("the alert is not in a state that can be acknowledged"),
        **BODY_TOO_LARGE,
    },
)
async def acknowledge(
    alert_id: RowId,
    body: AckRequest,
    store: StoreDep,
    live: LiveDep,
    principal: Annotated[Principal, RequireOperator],
) -> Alert:
    return await _operator_transition(store.acknowledge, alert_id, body, live, principal)


async def _operator_transition(
    transition: Callable[[int, str, str | None, float], Alert],
    alert_id: int,
    body: AckRequest | ResolveRequest,
    live: LiveState,
    principal: Principal,
) -> Alert:
    """Apply an operator's transition in the store (404/409 with its reason), then stream it.

    The audit's actor is the API key's name, so nobody acts in another's name; only the
    keyless loopback demo takes the name from the request."""
    actor = principal.name
    if principal is LOOPBACK_PRINCIPAL and body.operator and body.operator.strip():
        actor = body.operator.strip()
    try:
        alert = await asyncio.to_thread(transition, alert_id, actor, body.note, time.time())
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except AlertStateError as exc:
        raise HTTPException(409, str(exc)) from None
    live.on_alerts([alert])
    return alert


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operator: str | None = Field(None, min_length=1, max_length=64, description=OPERATOR_DOC)
    note: str | None = Field(None, max_length=1000, description="what it turned out to be")


@router.post(
    "/{alert_id}/resolve",
    response_model=Alert,
    responses={
        **NOT_FOUND,
        409: error("the alert is still open in the engine, or already resolved"),
        **BODY_TOO_LARGE,
    },
)
async def resolve(
    alert_id: RowId,
    body: ResolveRequest,
    store: StoreDep,
    live: LiveDep,
    principal: Annotated[Principal, RequireOperator],
) -> Alert:
    """Close a cleared alert (409 while the engine still holds it open)."""
    return await _operator_transition(store.resolve, alert_id, body, live, principal)
