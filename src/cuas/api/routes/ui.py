"""Settings the dashboard needs beyond the data: the optional map tile layer, and the
Content-Security-Policy that lets the page load those tiles and nothing else from outside."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cuas.api.deps import AUTH_RESPONSES, ConfigDep, RequireViewer
from cuas.config import ApiConfig

router = APIRouter(
    prefix="/ui", tags=["ui"], dependencies=[RequireViewer], responses=AUTH_RESPONSES
)


class UiSettings(BaseModel):
    map_tiles_url: str | None = Field(
        None,
        description="XYZ (Web Mercator, 256 px) tile URL template with {z}, {x} and {y}; "
        "null: no tile layer, the picture is drawn on its own",
    )
    map_tiles_attribution: str = Field("", description="to show beside the tiles")
    map_tiles_max_zoom: int = Field(19, description="deepest tile zoom the server has")


@router.get("", response_model=UiSettings)
def ui_settings(config: ConfigDep) -> UiSettings:
    """The dashboard's settings from the config's [api] section."""
    api = config.api
    return UiSettings(
        map_tiles_url=api.map_tiles_url,
        map_tiles_attribution=api.map_tiles_attribution,
        map_tiles_max_zoom=api.map_tiles_max_zoom,
    )


def dashboard_csp(api: ApiConfig) -> str:
    """Same origin only, images also from the tile server when one is configured."""
    img = "'self' data:"
    if api.map_tiles_url:
        parts = urlsplit(api.map_tiles_url)
        img += f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src 'self' ws: wss:; object-src 'none'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
