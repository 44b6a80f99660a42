"""Plausibility checks on every detection and sensor status before it can reach the tracker.

One non-finite or absurd number (an altitude of 1e308, a NaN time) used to poison a track's
state or the reorder buffer and crash or blind the engine. The driver host screens what its
drivers decode, and the engine screens what arrives on its bus again (a bus peer is not
trusted to have done it). A rejected item is skipped, counted by reason and logged once per
reason; the reason names the field and never carries the value, so counters stay few.

The bounds are far outside anything a real sensor reports, yet small enough that the
tracker's arithmetic (squares of ranges, geodetic conversions) stays finite.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable

from cuas.schema import Detection, GeoPoint, SensorStatus

log = logging.getLogger(__name__)

T_UNIX_MAX = 2.0**32  # 2106-02-07; times below 0 are rejected too
ALT_M_MIN, ALT_M_MAX = -2_000.0, 100_000.0  # WGS84 ellipsoid heights
RANGE_M_MAX = 2_000_000.0  # beyond any radar's instrumented range
ANGLE_RAD_MAX = 4 * math.pi  # azimuths arrive as 0..2pi or -pi..pi; allow one extra turn
SPEED_MPS_MAX = 3_000.0  # radial or broadcast velocity component
HALF_PI = math.pi / 2
VARIANCE_MAX = 1e12  # a covariance entry, in the measurement's units squared


def _number(value: float | None, low: float, high: float) -> bool:
    """True if value is absent, or within [low, high] (NaN fails the comparison)."""
    return value is None or low <= value <= high


def _point(point: GeoPoint | None) -> bool:
    return point is None or (
        -90.0 <= point.lat_deg <= 90.0
        and -180.0 <= point.lon_deg <= 180.0
        and (point.alt_m is None or ALT_M_MIN <= point.alt_m <= ALT_M_MAX)
    )


def _covariance(cov: list[list[float]]) -> bool:
    """A square, symmetric, positive semi-definite matrix of finite, bounded entries.

    A matrix that is not PSD would make the tracker's innovation covariance indefinite and
    its state NaN. Diagonal matrices (most drivers') are checked directly; others by a
    Cholesky factorisation in plain Python (4x4 at most: cheaper than numpy's call overhead).
    """
    n = len(cov)
    diagonal = True
    for i, row in enumerate(cov):
        if len(row) != n:
            return False
        for j, v in enumerate(row):
            if i == j:
                if not 0.0 <= v <= VARIANCE_MAX:
                    return False
            elif v != 0.0:
                if not -VARIANCE_MAX <= v <= VARIANCE_MAX:
                    return False
                diagonal = False
    return diagonal or _cholesky_psd(cov)


def _cholesky_psd(cov: list[list[float]]) -> bool:
    """Symmetric and positive semi-definite (entries already known finite)."""
    low: list[list[float]] = []
    for i, row in enumerate(cov):
        out: list[float] = []
        for j in range(i + 1):
            v = row[j]
            if abs(v - cov[j][i]) > 1e-9 * (abs(v) + 1.0):
                return False
            other = out if j == i else low[j]
            for k in range(j):
                v -= out[k] * other[k]
            if j == i:
                if v < -1e-9 * (row[i] + 1.0):
                    return False
                out.append(math.sqrt(max(v, 0.0)))
            elif other[j] > 0.0:
                out.append(v / other[j])
            elif abs(v) > 1e-9 * (abs(row[j]) + 1.0):  # a zero variance cannot correlate
                return False
            else:
                out.append(0.0)
        low.append(out)
    return True


def detection_fault(det: Detection) -> str | None:
    """The field that makes ``det`` unusable (not finite or out of range), or None.

    Every test is a chained comparison that NaN fails; absent fields pass. (Written for
    speed: the engine runs this on every detection it takes from the bus.)
    """
    if not 0.0 <= det.t_unix <= T_UNIX_MAX:
        return "t_unix"
    if det.position is not None and not _point(det.position):
        return "position"
    if det.range_m is not None and not 0.0 <= det.range_m <= RANGE_M_MAX:
        return "range_m"
    if det.azimuth_rad is not None and not -ANGLE_RAD_MAX <= det.azimuth_rad <= ANGLE_RAD_MAX:
        return "azimuth_rad"
    if det.elevation_rad is not None and not -HALF_PI <= det.elevation_rad <= HALF_PI:
        return "elevation_rad"
    if not _number(det.radial_velocity_mps, -SPEED_MPS_MAX, SPEED_MPS_MAX):
        return "radial_velocity_mps"
    if det.velocity_enu_mps is not None and not all(
        -SPEED_MPS_MAX <= v <= SPEED_MPS_MAX for v in det.velocity_enu_mps
    ):
        return "velocity_enu_mps"
    if det.covariance is not None and not _covariance(det.covariance):
        return "covariance"
    if (det.pilot is not None or det.home is not None) and not (
        _point(det.pilot) and _point(det.home)
    ):
        return "pilot_home"
    sig = det.signature
    if sig is not None and not (
        _number(sig.freq_mhz, 0.0, 1e7) and _number(sig.rssi_dbm, -1e3, 1e3)
    ):
        return "signature"
    return None


def status_fault(status: SensorStatus) -> str | None:
    """The field that makes ``status`` unusable, or None."""
    if not _number(status.t_unix, 0.0, T_UNIX_MAX):
        return "status_t_unix"
    if not _point(status.position):
        return "status_position"
    return None


class Screen:
    """Lets plausible items through; counts the others by reason and logs each reason once.

    ``counters`` is shared with the owner's own (a sensor's or the engine's), so the
    rejections show where its other counters do, as ``implausible`` and
    ``implausible_<field>``.
    """

    def __init__(self, where: str, counters: Counter[str] | None = None) -> None:
        self.where = where
        self.counters: Counter[str] = Counter() if counters is None else counters
        self._logged: set[str] = set()

    def detections(self, items: Iterable[Detection]) -> list[Detection]:
        return [d for d in items if self._admit(detection_fault(d), d.sensor_id)]

    def statuses(self, items: Iterable[SensorStatus]) -> list[SensorStatus]:
        return [s for s in items if self._admit(status_fault(s), s.sensor_id)]

    def _admit(self, fault: str | None, sensor_id: str) -> bool:
        if fault is None:
            return True
        self.counters["implausible"] += 1
        self.counters[f"implausible_{fault}"] += 1
        if fault not in self._logged:
            self._logged.add(fault)
            log.warning(
                "%s: skipped an item from sensor %s: %s not finite or out of range; "
                "further ones like it are only counted",
                self.where,
                sensor_id,
                fault,
            )
        return False
