"""Config keys the dashboard draws: sensor coverage and the optional map tile layer."""

from pathlib import Path

import pytest

from cuas.config import ConfigError, parse_config

PATH = Path("site.toml")


def _raw(sensor: dict | None = None, api: dict | None = None) -> dict:
    return {
        "api": api or {},
        "sites": [
            {
                "id": "s",
                "name": "S",
                "reference": {"lat_deg": 1.0, "lon_deg": 2.0, "alt_m": 0.0},
                "zones": [
                    {
                        "id": "z",
                        "name": "Z",
                        "level": "watch",
                        "circle": {"lat_deg": 1.0, "lon_deg": 2.0, "radius_m": 50.0},
                    }
                ],
            }
        ],
        "sensors": [
            {
                "id": "radar-1",
                "driver": "dragonsync",
                "source": "zmq+tcp://127.0.0.1:4224",
                **(sensor or {}),
            }
        ],
    }


def test_coverage_is_optional_and_a_sector_keeps_its_values():
    assert parse_config(_raw(), PATH).sensors[0].coverage is None
    cov = {"range_m": 3000, "azimuth_width_deg": 120, "min_elevation_deg": -2}
    cov["max_elevation_deg"] = 40
    sensor = parse_config(_raw({"coverage": cov, "orientation": {"yaw_deg": 45}}), PATH).sensors[0]
    assert sensor.coverage.range_m == 3000 and sensor.coverage.azimuth_width_deg == 120
    assert (sensor.coverage.min_elevation_deg, sensor.coverage.max_elevation_deg) == (-2, 40)
    # all round unless a width is given
    only_range = parse_config(_raw({"coverage": {"range_m": 500}}), PATH).sensors[0].coverage
    assert only_range.azimuth_width_deg == 360


@pytest.mark.parametrize(
    ("coverage", "key", "reason"),
    [
        ({"range_m": 0}, "coverage.range_m", "greater than 0"),
        ({}, "coverage.range_m", "Field required"),
        ({"range_m": 10, "azimuth_width_deg": 0}, "coverage.azimuth_width_deg", "greater than 0"),
        ({"range_m": 10, "azimuth_width_deg": 361}, "coverage.azimuth_width_deg", "360"),
        ({"range_m": 10, "max_elevation_deg": 91}, "coverage.max_elevation_deg", "90"),
        (
            {"range_m": 10, "min_elevation_deg": 30, "max_elevation_deg": 10},
            "coverage",
            "min_elevation_deg (30) must be below max_elevation_deg (10)",
        ),
        ({"range_m": 10, "ragne_m": 5}, "coverage.ragne_m", "Extra inputs are not permitted"),
    ],
)
def test_bad_coverage_names_the_key_and_the_reason(coverage, key, reason):
    with pytest.raises(ConfigError) as err:
        parse_config(_raw({"coverage": coverage}), PATH)
    message = str(err.value)
    assert message.startswith(f"site.toml: sensors[0].{key}: "), message
    assert reason in message


def test_map_tiles_are_off_by_default_and_take_an_xyz_template():
    api = parse_config(_raw(), PATH).api
    assert api.map_tiles_url is None and api.map_tiles_attribution == ""
    url = "https://tiles.example.org/osm/{z}/{x}/{y}.png?key=abc"
    api = parse_config(_raw(api={"map_tiles_url": url, "map_tiles_attribution": "© OSM"}), PATH).api
    assert api.map_tiles_url == url and api.map_tiles_attribution == "© OSM"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://tiles.example.org/{z}/{x}.png", "must contain {y}"),
        ("https://tiles.example.org/tile.png", "must contain {z}, {x}, {y}"),
        ("file:///srv/tiles/{z}/{x}/{y}.png", "http:// or https://"),
        ("ftp://tiles.example.org/{z}/{x}/{y}.png", "http:// or https://"),
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "host must be fixed"),
    ],
)
def test_bad_tile_url_names_the_key_and_the_reason(url, reason):
    with pytest.raises(ConfigError) as err:
        parse_config(_raw(api={"map_tiles_url": url}), PATH)
    message = str(err.value)
    assert message.startswith("site.toml: api.map_tiles_url: "), message
    assert reason in message


def test_tile_max_zoom_is_bounded():
    with pytest.raises(ConfigError, match=r"api\.map_tiles_max_zoom: .*less than or equal to 22"):
        parse_config(_raw(api={"map_tiles_max_zoom": 30}), PATH)
