"""The alert-outcome checker on hand-made truth and alerts: missed, late, false, flapping."""

from __future__ import annotations

import numpy as np
import pytest

from cuas.alerting.zones import build_zones
from cuas.geo import EnuFrame
from cuas.schema import Alert, AlertState, GeoPoint, Site, Track, Zone, ZoneLevel
from cuas.score.metrics import TruthPath
from cuas.score.outcome import check_outcome
from cuas.sim.scenario import Expect

REF = GeoPoint(lat_deg=42.8746, lon_deg=74.6036, alt_m=780.0)
FRAME = EnuFrame(REF.lat_deg, REF.lon_deg, REF.alt_m)


def _circle(radius_m: float) -> list[tuple[float, float]]:
    a = np.radians(np.arange(0, 360, 30))
    lat, lon, _ = FRAME.to_geodetic(np.column_stack([radius_m * np.sin(a), radius_m * np.cos(a),
                                                      np.zeros_like(a)]))  # fmt: skip
    return [(float(x), float(y)) for x, y in zip(lat, lon, strict=True)]


SITE = Site(
    id="s",
    name="s",
    reference=REF,
    zones=[
        Zone(
            id="core",
            name="core",
            level=ZoneLevel.CRITICAL,
            polygon=_circle(100.0),
            floor_m=0.0,
            ceiling_m=400.0,
        )
    ],  # fmt: skip
)
ZONES = build_zones([SITE], FRAME)


def _path(object_id: str, object_class: str, start_north_m: float, speed_mps: float) -> TruthPath:
    """Flying south along the meridian at 50 m, from ``start_north_m`` at t = 0, for 100 s."""
    from cuas.schema import ObjectClass

    t = np.arange(0.0, 100.0, 1.0)
    enu = np.column_stack([np.zeros_like(t), start_north_m - speed_mps * t, np.full_like(t, 50)])
    return TruthPath(object_id, ObjectClass(object_class), t, enu, np.full_like(t, REF.alt_m + 50))


def _alert(alert_id: int, t: float, path: TruthPath, level=ZoneLevel.CRITICAL) -> Alert:
    enu = path.at(np.array([t]))[0][0]
    lat, lon, alt = FRAME.to_geodetic(enu)
    track = Track.model_validate({
        "track_id": "T1", "site_id": "s", "status": "confirmed", "t_unix": t, "position_std_m": 3.0,
        "position": {"lat_deg": float(lat), "lon_deg": float(lon), "alt_m": float(alt)},
        "enu_m": [float(v) for v in enu], "velocity_enu_mps": [0.0, -10.0, 0.0],
    })  # fmt: skip
    return Alert(alert_id=alert_id, site_id="s", zone_id="core", zone_level=level,
                 rule="time_to_breach", object_key="track:T1", track_id="T1", raised_t_unix=t,
                 state=AlertState.RAISED, updated_t_unix=t, track=track)  # fmt: skip


def test_a_drone_alerted_early_enough_passes_and_one_alerted_late_is_missed():
    early, late = _path("early", "drone", 600.0, 10.0), _path("late", "drone", 600.0, 10.0)
    # both breach the 100 m circle at t = 50 s
    expect = {"early": Expect(alert="critical"), "late": Expect(alert="critical")}
    out = check_outcome([early], [_alert(1, 25.0, early)], ZONES, {"early": expect["early"]})
    # the breach is found on a 0.1 s grid, at the circle's 12-gon
    assert out.failures() == [] and out.objects[0].lead_s == pytest.approx(25.0, abs=0.2)
    out = check_outcome([late], [_alert(1, 40.0, late)], ZONES, {"late": expect["late"]})
    assert out.missed == 1 and "s before the breach (at least 20 s)" in out.failures()[0]
    assert out.objects[0].lead_s == pytest.approx(10.0, abs=0.2)


def test_a_bird_alert_is_false_and_a_second_alert_per_zone_is_a_flap():
    bird = _path("gull", "bird", 600.0, 10.0)
    out = check_outcome(
        [bird], [_alert(1, 20.0, bird), _alert(2, 35.0, bird)], ZONES,
        {"gull": Expect(alert="none")},
    )  # fmt: skip
    assert out.false_drone_alerts == 2 and out.flaps == 1
    assert len(out.failures()) == 2


def test_an_alert_on_no_object_is_counted_apart_and_a_group_key_covers_its_members():
    member = _path("flock-03", "bird", 600.0, 10.0)
    far = _path("elsewhere", "drone", 5000.0, 0.0)
    out = check_outcome([member, far], [_alert(1, 20.0, member)], ZONES,
                        {"flock": Expect(alert="none")})  # fmt: skip
    assert [o.object_id for o in out.objects] == ["flock-03"] and out.false_drone_alerts == 1
    ghost = _alert(2, 20.0, _path("ghost", "drone", 2000.0, 0.0))
    assert (
        check_outcome([member], [ghost], ZONES, {"flock": Expect(alert="none")}).as_dict()[
            "unmatched_alerts"
        ]
        == 1
    )
