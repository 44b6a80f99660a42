"""A hand-made scene for the alert tests: square zones around a site, and tracks in it.

Site "site": inner 200 m square (critical) inside an outer 800 m square (warning), both
centred on the site reference; positions are east/north metres from it.
"""

from cuas.geo import EnuFrame
from cuas.schema import GeoPoint, Identity, ObjectClass, Site, Track, TrackStatus, Zone, ZoneLevel

FRAME = EnuFrame(42.0, 74.0, 800.0)


def poly(half_m: float, centre=(0.0, 0.0)):
    e0, n0 = centre
    pts = [(-half_m, -half_m), (half_m, -half_m), (half_m, half_m), (-half_m, half_m)]
    return [tuple(float(v) for v in FRAME.to_geodetic([e0 + e, n0 + n, 0.0])[:2]) for e, n in pts]


REFERENCE = GeoPoint(lat_deg=42.0, lon_deg=74.0, alt_m=800.0)
INNER = Zone(id="inner", name="Inner", level=ZoneLevel.CRITICAL, polygon=poly(100.0))
OUTER = Zone(id="outer", name="Outer", level=ZoneLevel.WARNING, polygon=poly(400.0))
SITE = Site(id="site", name="Site", reference=REFERENCE, zones=[INNER, OUTER])


def trk(
    track_id,
    e,
    n,
    *,
    t=0.0,
    v=(0.0, 0.0),
    status=TrackStatus.CONFIRMED,
    cls=ObjectClass.DRONE,
    key=None,
    height=60.0,
    std=3.0,
    identity=None,
):
    lat, lon, alt = FRAME.to_geodetic([e, n, height])
    return Track(
        track_id=track_id,
        site_id="site",
        t_unix=t,
        status=status,
        position=GeoPoint(lat_deg=float(lat), lon_deg=float(lon), alt_m=float(alt)),
        enu_m=(e, n, height),
        velocity_enu_mps=(v[0], v[1], 0.0),
        position_std_m=std,
        object_class=cls,
        identity=identity or Identity(rid_serial=key[4:] if key else None),
        identity_key=key,
    )
