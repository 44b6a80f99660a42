from __future__ import annotations

from fastapi import APIRouter, HTTPException

from cuas.api.deps import ConfigDep
from cuas.schema import Site

router = APIRouter(prefix="/sites", tags=["sites"])


@router.get("", response_model=list[Site])
def list_sites(config: ConfigDep) -> list[Site]:
    return config.sites


@router.get("/{site_id}", response_model=Site)
def get_site(site_id: str, config: ConfigDep) -> Site:
    for site in config.sites:
        if site.id == site_id:
            return site
    raise HTTPException(404, f"no site {site_id!r}")
