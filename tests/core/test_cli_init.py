"""`cuas init` writes a site that `cuas check` passes: circle zones, GeoJSON polygons and a
sensor of every built-in driver; bad input is named."""

import json
import subprocess
import sys
import tomllib

BUILT_IN = ["dragonsync", "odid_frames", "dronescout", "sbs", "beast", "asterix", "sapient"]
BUILT_IN += ["rfserial"]


def cuas(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cuas", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_init_writes_a_site_with_circles_and_every_driver_that_check_passes(tmp_path):
    sensors = [arg for d in BUILT_IN for arg in ("--sensor", d)]
    made = cuas("init", "North Gate Substation", "--reference", "51.5,-0.12,30",
                "--zones", "1500,500,200", *sensors, cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    path = tmp_path / "north-gate-substation.toml"
    checked = cuas("check", "--config", str(path))
    assert checked.returncode == 0, checked.stderr
    assert "1 sites, 3 zones, 8 sensors" in checked.stdout
    config = tomllib.loads(path.read_text())
    site = config["sites"][0]
    assert site["reference"] == {"lat_deg": 51.5, "lon_deg": -0.12, "alt_m": 30.0}
    zones = {z["circle"]["radius_m"]: z["level"] for z in site["zones"]}
    assert zones == {1500: "watch", 500: "warning", 200: "critical"}
    assert sorted(s["driver"] for s in config["sensors"]) == sorted(BUILT_IN)
    assert "# max_remembered = 1024" in path.read_text()  # the driver's options, commented


def test_init_takes_zones_from_geojson_polygons(tmp_path):
    ring = [[74.6010, 42.8730], [74.6060, 42.8730], [74.6060, 42.8760], [74.6010, 42.8730]]
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": "Main hall"},
             "geometry": {"type": "Polygon", "coordinates": [ring]}},
        ],
    }  # fmt: skip
    polygon = tmp_path / "site.geojson"
    polygon.write_text(json.dumps(geojson))
    out = tmp_path / "hall.toml"
    made = cuas("init", "Hall", "--reference", "42.8745,74.6035", "--polygon", str(polygon),
                "--sensor", "dragonsync", "-o", str(out))  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert cuas("check", "--config", str(out)).returncode == 0
    zone = tomllib.loads(out.read_text())["sites"][0]["zones"][0]
    assert zone["name"] == "Main hall"
    assert zone["polygon"] == [[42.873, 74.601], [42.873, 74.606], [42.876, 74.606]]  # lat, lon


def test_init_names_what_is_wrong(tmp_path):
    bad_ref = cuas("init", "X", "--reference", "91,0", "--zones", "100", cwd=tmp_path)
    assert bad_ref.returncode == 2 and "--reference" in bad_ref.stderr
    no_zone = cuas("init", "X", "--reference", "1,2", cwd=tmp_path)
    assert no_zone.returncode == 2 and "zone" in no_zone.stderr
    unknown = cuas("init", "X", "--reference", "1,2", "--zones", "100", "--sensor", "nope",
                   cwd=tmp_path)  # fmt: skip
    assert unknown.returncode == 2 and "'nope'" in unknown.stderr and "dragonsync" in unknown.stderr
    assert cuas("init", "X", "--reference", "1,2", "--zones", "100", cwd=tmp_path).returncode == 0
    again = cuas("init", "X", "--reference", "1,2", "--zones", "100", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    for result in (bad_ref, no_zone, unknown, again):
        assert "Traceback" not in result.stderr
