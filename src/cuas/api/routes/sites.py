from __future__ import annotations

from fastapi import APIRouter, HTTPException

from cuas.api.deps import AUTH_RESPONSES, NOT_FOUND, ConfigDep, RequireViewer
from cuas.schema import Site

router = APIRouter(
    prefix="/sites", tags=["sites"], dependencies=[RequireViewer], responses=AUTH_RESPONSES
)


@router.get("", response_model=list[Site])
def list_sites(config: ConfigDep) -> list[Site]:
    return config.sites


@router.get("/{site_id}", response_model=Site, responses=NOT_FOUND)
def get_site(site_id: str, config: ConfigDep) -> Site:
    for site in config.sites:
        if site.id == site_id:
            return site
    raise HTTPException(404, f"no site {site_id!r}")
