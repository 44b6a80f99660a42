"""Dependencies shared by the routers, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cuas.api.live import LiveState
from cuas.config import DeploymentConfig
from cuas.store.sqlite import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_live(request: Request) -> LiveState:
    return request.app.state.live


def get_config(request: Request) -> DeploymentConfig:
    return request.app.state.config


StoreDep = Annotated[Store, Depends(get_store)]
LiveDep = Annotated[LiveState, Depends(get_live)]
ConfigDep = Annotated[DeploymentConfig, Depends(get_config)]
