"""Time to breach on the bundled demo, checked against the recording's ground truth."""

import numpy as np
import pytest

from cuas.alerting.zones import build_zones
from cuas.config import load_config
from cuas.geo import EnuFrame
from cuas.replay.format import ReplayReader, Truth
from cuas.replay.pipeline import run_replay
from cuas.schema import AlertState
from cuas.store.sqlite import Store

from support import DEMO_CONFIG, DEMO_RECORDING


@pytest.fixture(scope="module")
def demo():
    config = load_config(DEMO_CONFIG)
    store = Store(":memory:")
    summary = run_replay(config, DEMO_RECORDING, store=store)
    truth = [r for r in ReplayReader(DEMO_RECORDING) if isinstance(r, Truth)]
    return config, store, summary, truth


def truth_entry(config, truth, zone_id):
    """When and where the intruder's true path (interpolated to 20 ms) first enters a zone."""
    ref = config.sites[0].reference
    frame = EnuFrame(ref.lat_deg, ref.lon_deg, ref.alt_m)
    [shape] = [s for s in build_zones(config.sites, frame) if s.zone.id == zone_id]
    path = [r for r in truth if r.object_id == "intruder"]
    t = np.array([r.t_unix for r in path])
    enu = frame.from_geodetic(
        np.array([r.lat_deg for r in path]),
        np.array([r.lon_deg for r in path]),
        np.array([r.alt_m for r in path]),
    )
    fine = np.arange(t[0], t[-1], 0.02)
    e, n = np.interp(fine, t, enu[:, 0]), np.interp(fine, t, enu[:, 1])
    alt = np.interp(fine, t, np.array([r.alt_m for r in path]))
    inside = shape.contains(np.column_stack([e, n]), alt)
    k = int(np.argmax(inside))
    assert inside[k]
    return float(fine[k]), np.array([e[k], n[k]]), frame


@pytest.mark.parametrize("zone_id", ["perimeter", "bowl"])
def test_pre_alert_comes_well_before_the_breach_and_predicts_it(demo, zone_id):
    config, store, summary, truth = demo
    [alert] = [a for a in summary.alerts.values() if a.zone_id == zone_id]
    t_entry, entry_en, frame = truth_entry(config, truth, zone_id)
    events = store.events(alert.alert_id)
    assert [e.to_state for e in events] == [AlertState.RAISED, AlertState.ESCALATED]
    raised, escalated = events
    horizon = config.alerts.breach_horizon_s
    # raised as a pre-alert nearly a full horizon ahead of the true breach
    assert alert.rule == "drone_in_zone" and "predicted to enter" in raised.reason
    assert horizon - 5.0 < t_entry - raised.t_unix <= horizon + 1.0
    # the predicted breach time lands within 2 s of the true one
    assert abs(raised.t_unix + alert.time_to_breach_s - t_entry) < 2.0
    # and the predicted entry point within 50 m of where the drone really crossed
    p = alert.breach_point
    predicted_en = frame.from_geodetic(p.lat_deg, p.lon_deg, p.alt_m).reshape(3)[:2]
    assert np.linalg.norm(predicted_en - entry_en) < 50.0
    # the in-zone escalation follows the true breach within the 1 Hz update and lag
    assert 0.0 <= escalated.t_unix - t_entry < 2.0
    assert alert.identity.rid_serial == "1581F5FJD239C00DW22E"
    assert alert.pilot is not None and alert.class_source
