import numpy as np
import pymap3d
import pytest

from cuas.geo import EnuFrame, ecef_to_geodetic, geodetic_to_ecef

RNG = np.random.default_rng(20261129)
LAT = RNG.uniform(-89.9, 89.9, 2000)
LON = RNG.uniform(-180.0, 180.0, 2000)
ALT = RNG.uniform(-400.0, 40_000.0, 2000)


def test_geodetic_to_ecef_matches_pymap3d():
    ours = np.stack(geodetic_to_ecef(LAT, LON, ALT))
    ref = np.stack(pymap3d.geodetic2ecef(LAT, LON, ALT))
    assert np.max(np.abs(ours - ref)) < 1e-6


def test_ecef_to_geodetic_matches_pymap3d_and_inverts():
    x, y, z = geodetic_to_ecef(LAT, LON, ALT)
    lat, lon, alt = ecef_to_geodetic(x, y, z)
    ref_lat, ref_lon, ref_alt = pymap3d.ecef2geodetic(x, y, z)
    assert np.max(np.abs(lat - ref_lat)) < 1e-9
    assert np.max(np.abs(lon - ref_lon)) < 1e-9
    assert np.max(np.abs(alt - ref_alt)) < 1e-5
    assert np.max(np.abs(lat - LAT)) < 1e-9 and np.max(np.abs(alt - ALT)) < 1e-5


@pytest.mark.parametrize("ref", [(42.8746, 74.6036, 780.0), (-33.9, 151.2, 20.0), (64.1, -21.9, 0)])
def test_enu_frame_matches_pymap3d_within_50_km(ref):
    frame = EnuFrame(*ref)
    lat = ref[0] + RNG.uniform(-0.4, 0.4, 500)
    lon = ref[1] + RNG.uniform(-0.4, 0.4, 500)
    alt = RNG.uniform(0.0, 3000.0, 500)
    enu = frame.from_geodetic(lat, lon, alt)
    ref_enu = np.stack(pymap3d.geodetic2enu(lat, lon, alt, *ref), axis=-1)
    assert np.max(np.abs(enu - ref_enu)) < 1e-6
    back = np.stack(frame.to_geodetic(enu), axis=-1)
    assert np.max(np.abs(back[:, :2] - np.stack([lat, lon], axis=-1))) < 1e-10
    assert np.max(np.abs(back[:, 2] - alt)) < 1e-5


def test_enu_axes_point_east_north_up():
    frame = EnuFrame(42.0, 74.0, 0.0)
    east = frame.from_geodetic(42.0, 74.001, 0.0)
    north = frame.from_geodetic(42.001, 74.0, 0.0)
    up = frame.from_geodetic(42.0, 74.0, 100.0)
    assert east[0] > 80 and abs(east[1]) < 0.01
    assert north[1] > 110 and abs(north[0]) < 0.01
    assert up[2] == pytest.approx(100.0, abs=1e-6)
