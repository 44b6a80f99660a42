import numpy as np

from cuas.alerting.zones import build_zones, points_in_polygon
from cuas.geo import EnuFrame
from cuas.schema import GeoPoint, Site, Zone, ZoneLevel

SQUARE = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)
# A "U": the notch between x=3..7 above y=3 is outside.
U_SHAPE = np.array([[0, 0], [10, 0], [10, 10], [7, 10], [7, 3], [3, 3], [3, 10], [0, 10]], float)


def test_points_in_square():
    pts = np.array([[5, 5], [-1, 5], [11, 5], [5, 10.5], [0.01, 9.99]])
    assert points_in_polygon(pts, SQUARE).tolist() == [True, False, False, False, True]


def test_concave_polygon_notch_is_outside():
    pts = np.array([[5, 8], [1.5, 8], [8.5, 8], [5, 1]])
    assert points_in_polygon(pts, U_SHAPE).tolist() == [False, True, True, True]


def test_zone_from_latlon_uses_altitude_band_above_site_reference():
    ref = GeoPoint(lat_deg=42.0, lon_deg=74.0, alt_m=800.0)
    frame = EnuFrame(42.0, 74.0, 800.0)
    corners = [(e, n) for e, n in [(-100, -100), (100, -100), (100, 100), (-100, 100)]]
    poly = [tuple(map(float, frame.to_geodetic([e, n, 0.0])[:2])) for e, n in corners]
    zone = Zone(id="z", name="z", level=ZoneLevel.CRITICAL, polygon=poly, floor_m=10, ceiling_m=120)
    [shape] = build_zones([Site(id="s", name="s", reference=ref, zones=[zone])], frame)
    pts = np.array([[0, 0], [0, 0], [0, 0], [150, 0]], dtype=float)
    alts = np.array([850.0, 805.0, 930.0, 850.0])  # inside, under the floor, over ceiling, outside
    assert shape.contains(pts, alts).tolist() == [True, False, False, False]
    assert np.allclose(shape.polygon_en, np.array(corners), atol=1e-3)
