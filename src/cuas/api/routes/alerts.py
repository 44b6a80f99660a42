from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from cuas.api.deps import LiveDep, StoreDep
from cuas.schema import Alert, AlertEvent, AlertState
from cuas.store.sqlite import AlertNotFound, AlertStateError

router = APIRouter(prefix="/alerts", tags=["alerts"])


class AlertPage(BaseModel):
    items: list[Alert]
    total: int
    limit: int
    offset: int


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operator: str = Field(min_length=1, max_length=64, description="who acknowledges")
    note: str | None = Field(None, max_length=1000)


@router.get("", response_model=AlertPage)
def list_alerts(
    store: StoreDep,
    state: Annotated[list[AlertState] | None, Query()] = None,
    site_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AlertPage:
    """Alerts newest first, filtered by state (repeat the parameter for several) and site."""
    items, total = store.list_alerts(state, site_id, limit, offset)
    return AlertPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{alert_id}", response_model=Alert)
def get_alert(alert_id: int, store: StoreDep) -> Alert:
    try:
        return store.get(alert_id)
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/{alert_id}/events", response_model=list[AlertEvent])
def alert_events(alert_id: int, store: StoreDep) -> list[AlertEvent]:
    """The audit trail: every transition of the alert, oldest first."""
    try:
        store.get(alert_id)
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return store.events(alert_id)


@router.post("/{alert_id}/ack", response_model=Alert)
async def acknowledge(alert_id: int, body: AckRequest, store: StoreDep, live: LiveDep) -> Alert:
    try:
        alert = await asyncio.to_thread(
            store.acknowledge, alert_id, body.operator.strip(), body.note, time.time()
        )
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except AlertStateError as exc:
        raise HTTPException(409, str(exc)) from None
    live.on_alerts([alert])
    return alert
