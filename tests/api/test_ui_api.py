"""The dashboard's settings route, sensor coverage on /sensors, and the page's CSP."""

import httpx

from cuas.api.auth import Role


def test_ui_settings_say_no_tiles_by_default_and_the_csp_allows_none(serve):
    served = serve()
    ui = httpx.get(f"{served.base}/api/v1/ui").json()
    assert ui == {"map_tiles_url": None, "map_tiles_attribution": "", "map_tiles_max_zoom": 19}
    page = httpx.get(f"{served.base}/")
    csp = page.headers["content-security-policy"]
    assert "img-src 'self' data:;" in csp and "script-src 'self';" in csp
    assert "http://" not in csp and "https://" not in csp


def test_configured_tiles_reach_the_dashboard_and_only_their_origin_is_allowed(serve):
    url = "http://127.0.0.1:8123/osm/{z}/{x}/{y}.png"
    served = serve(map_tiles_url=url, map_tiles_attribution="© OpenStreetMap contributors")
    ui = httpx.get(f"{served.base}/api/v1/ui").json()
    assert ui["map_tiles_url"] == url
    assert ui["map_tiles_attribution"] == "© OpenStreetMap contributors"
    csp = httpx.get(f"{served.base}/").headers["content-security-policy"]
    assert "img-src 'self' data: http://127.0.0.1:8123;" in csp
    assert "connect-src 'self' ws: wss:;" in csp  # scripts still talk only to us


def test_sensors_carry_their_configured_coverage_and_orientation(serve):
    served = serve()
    [sensor] = httpx.get(f"{served.base}/api/v1/sensors").json()
    # configs/demo.toml: the Remote ID receiver hears all round out to 2.5 km
    assert sensor["sensor_id"] == "rid-1" and sensor["state"] == "offline"
    assert sensor["coverage"] == {
        "range_m": 2500.0,
        "min_range_m": 0.0,
        "azimuth_width_deg": 360.0,
        "min_elevation_deg": None,
        "max_elevation_deg": None,
    }
    assert sensor["orientation"]["yaw_deg"] == 0.0
    assert sensor["position"] == {"lat_deg": 42.8743, "lon_deg": 74.6042, "alt_m": 805.0}


def test_ui_route_needs_a_key_where_keys_are_required_and_is_documented(serve):
    served = serve(require_key_on_loopback=True)
    assert httpx.get(f"{served.base}/api/v1/ui").status_code == 401
    key = served.key(Role.VIEWER)
    ok = httpx.get(f"{served.base}/api/v1/ui", headers={"X-API-Key": key})
    assert ok.status_code == 200
    spec = httpx.get(f"{served.base}/openapi.json").json()
    ui = spec["paths"]["/api/v1/ui"]["get"]
    assert "401" in ui["responses"]
    settings = spec["components"]["schemas"]["UiSettings"]["properties"]
    assert "{z}" in settings["map_tiles_url"]["description"]
    sensors = spec["paths"]["/api/v1/sensors"]["get"]["responses"]["200"]
    ref = sensors["content"]["application/json"]["schema"]["items"]["$ref"]
    view = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert "azimuth_width_deg" in view["coverage"]["description"]
    assert "SensorCoverage" in str(view["coverage"])
