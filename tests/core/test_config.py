from pathlib import Path

import pytest

from cuas.config import ConfigError, load_config, parse_config
from cuas.driver.registry import build_driver

from support import DEMO_CONFIG


def _raw(**over):
    raw = {
        "sites": [
            {
                "id": "s",
                "name": "S",
                "reference": {"lat_deg": 1.0, "lon_deg": 2.0, "alt_m": 0.0},
                "zones": [
                    {
                        "id": "z",
                        "name": "Z",
                        "level": "critical",
                        "polygon": [[1.0, 2.0], [1.001, 2.0], [1.001, 2.001]],
                    }
                ],
            }
        ],
        "sensors": [{"id": "r1", "driver": "dragonsync", "source": "zmq+tcp://127.0.0.1:4224"}],
    }
    raw.update(over)
    return raw


def test_bundled_demo_config_is_valid():
    config = load_config(DEMO_CONFIG)
    assert config.sites[0].zones and config.sensors[0].driver == "dragonsync"
    assert config.resolve("x").parent == DEMO_CONFIG.parent.resolve()


@pytest.mark.parametrize(
    "override, message",
    [
        ({"sites": []}, "sites: List should have at least 1 item"),
        ({"bus": {"ingest": "localhost:1"}}, "bus.ingest: Value error, must be a ZeroMQ endpoint"),
        ({"api": {"port": 70000}}, "api.port: Input should be less than or equal to 65535"),
        ({"tracker": {"confirm_hits": 0}}, "tracker.confirm_hits"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_errors_name_the_key_and_the_reason(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_config(_raw(**override), Path("site.toml"))


def test_zone_level_and_polygon_errors_name_the_zone():
    raw = _raw()
    raw["sites"][0]["zones"][0]["level"] = "apocalyptic"
    with pytest.raises(ConfigError, match=r"sites\[0\]\.zones\[0\]\.level"):
        parse_config(raw, Path("site.toml"))
    raw = _raw()
    raw["sites"][0]["zones"][0]["polygon"] = [[1.0, 2.0]]
    with pytest.raises(ConfigError, match=r"sites\[0\]\.zones\[0\]\.polygon"):
        parse_config(raw, Path("site.toml"))


def test_duplicate_ids_are_refused():
    raw = _raw(sensors=[{"id": "a", "driver": "dragonsync", "source": "x"}] * 2)
    with pytest.raises(ConfigError, match=r"sensors\[1\]\.id: 'a' is used twice"):
        parse_config(raw, Path("site.toml"))


def test_unknown_driver_and_bad_driver_option_name_the_key():
    config = parse_config(_raw(), Path("site.toml"))
    sensor = config.sensors[0].model_copy(update={"driver": "radr"})
    with pytest.raises(ConfigError, match=r"sensors\[0\]\.driver: unknown driver 'radr'"):
        build_driver(sensor, "sensors[0]")
    sensor = config.sensors[0].model_copy(update={"options": {"max_remembered": -5}})
    with pytest.raises(ConfigError, match=r"sensors\[0\]\.options\.max_remembered"):
        build_driver(sensor, "sensors[0]")


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[sites\nid=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")
