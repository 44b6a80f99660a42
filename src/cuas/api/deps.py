"""Dependencies shared by the routers, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel

from cuas.api.auth import Role, require_role
from cuas.api.live import LiveState
from cuas.config import DeploymentConfig
from cuas.store.sqlite import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_live(request: Request) -> LiveState:
    return request.app.state.live


def get_config(request: Request) -> DeploymentConfig:
    return request.app.state.config


SQLITE_INT_MAX = 2**63 - 1  # a larger int overflows SQLite's INTEGER: a 500, not a 404
RowId = Annotated[int, Path(ge=0, le=SQLITE_INT_MAX, description="a stored row's number")]
Offset = Annotated[int, Query(ge=0, le=SQLITE_INT_MAX, description="rows to skip")]

StoreDep = Annotated[Store, Depends(get_store)]
LiveDep = Annotated[LiveState, Depends(get_live)]
ConfigDep = Annotated[DeploymentConfig, Depends(get_config)]

# Roles (cuas.api.auth): a router takes ``dependencies=[RequireViewer]``, a route that
# needs more adds its own; ``principal: Annotated[Principal, RequireOperator]`` says who.
RequireViewer = Depends(require_role(Role.VIEWER))
RequireOperator = Depends(require_role(Role.OPERATOR))
RequireAdmin = Depends(require_role(Role.ADMIN))
RequireStreamViewer = Depends(require_role(Role.VIEWER, stream=True))  # also ?api_key=


class ErrorMessage(BaseModel):
    """Every 4xx answer: what was wrong and what to do."""

    detail: str


def error(description: str) -> dict:
    return {"model": ErrorMessage, "description": description}


#: documented on every route that needs a key (a dict for ``APIRouter(responses=...)``)
AUTH_RESPONSES: dict[int | str, dict] = {
    401: error("no API key, or one not recognised or revoked"),
    403: error("the key's role is too low for this"),
}
NOT_FOUND: dict[int | str, dict] = {404: error("no such object")}
BODY_TOO_LARGE: dict[int | str, dict] = {413: error("request body over [api] max_body_bytes")}
