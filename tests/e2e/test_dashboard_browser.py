"""The operator dashboard in a real headless Chromium, against the real running service."""

import contextlib
import io
import math
import re
import shutil
import sqlite3
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from support import free_port

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REF_LAT, REF_LON = 42.87460, 74.60360  # the demo site's reference (configs/demo.toml)
M_PER_DEG_LAT = 110540.0  # the dashboard's local projection (app.js), checked below
M_PER_DEG_LON = 111320.0
BOWL_RADIUS_M = (42.875635 - REF_LAT) * M_PER_DEG_LAT  # the demo's bowl: 16-gon about ref
TILE_RGB = (0, 230, 0)  # a colour nothing else on the dashboard uses
ZONE_NAMES = {"perimeter": "Stadium perimeter (450 m)", "bowl": "Stadium bowl"}


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A minimal RGB PNG (RFC 2083): signature, IHDR, one zlib IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class TileServer:
    """XYZ tiles on 127.0.0.1: every /tiles/Z/X/Y.png is the same green square; logs paths."""

    def __init__(self) -> None:
        self.requested: list[tuple[int, int, int]] = []
        png = solid_png(256, 256, TILE_RGB)
        requested = self.requested

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                m = re.fullmatch(r"/tiles/(\d+)/(\d+)/(\d+)\.png", self.path)
                if not m:
                    self.send_error(404)
                    return
                requested.append((int(m[1]), int(m[2]), int(m[3])))
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(png)))
                self.end_headers()
                self.wfile.write(png)

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def template(self) -> str:
        return f"http://127.0.0.1:{self.port}/tiles/{{z}}/{{x}}/{{y}}.png"


@pytest.fixture(scope="module")
def tile_server():
    server = TileServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


# A circle zone 300 m east of the reference, an ignore zone to the south, a coverage sector
# looking west, and the tile layer.
PARKING = {"lat_deg": 42.87460, "lon_deg": 74.60360 + 300 / (M_PER_DEG_LON * 0.7332), "r": 80.0}
EXTRA_ZONES = f"""
[[sites.zones]]
id = "parking"
name = "East car park"
level = "watch"
circle = {{ lat_deg = {PARKING["lat_deg"]}, lon_deg = {PARKING["lon_deg"]:.6f}, radius_m = 80.0 }}

[[sites.zones]]
id = "helipad"
name = "Helipad"
level = "ignore"
polygon = [[42.8722, 74.6030], [42.8722, 74.6042], [42.8716, 74.6042], [42.8716, 74.6030]]

"""
DEMO_COVERAGE = "coverage = { range_m = 2500.0, azimuth_width_deg = 360.0 }"
SECTOR = (
    "orientation = { yaw_deg = 270.0 }\n"
    "coverage = { range_m = 1500.0, azimuth_width_deg = 90.0, max_elevation_deg = 60.0 }"
)


@pytest.fixture(scope="module")
def rich_service(start_service, tile_server):
    """The demo at 2x with a circle zone, an ignore zone, a coverage sector and map tiles."""

    def edit(text: str) -> str:
        assert DEMO_COVERAGE in text and "[[sensors]]" in text and "[api]\n" in text
        text = text.replace(DEMO_COVERAGE, SECTOR)
        text = text.replace("[[sensors]]", EXTRA_ZONES + "[[sensors]]", 1)
        return text.replace(
            "[api]\n",
            f'[api]\nmap_tiles_url = "{tile_server.template}"\n'
            'map_tiles_attribution = "Test tiles, CC0"\nmap_tiles_max_zoom = 18\n',
            1,
        )

    return start_service(edit, speed=2)


@contextlib.contextmanager
def chromium_page():
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (Debian package 'chromium'; .ci/run installs it)")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 850})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, errors
        finally:
            browser.close()


@pytest.fixture
def page():
    with chromium_page() as opened:
        yield opened


def test_operator_sees_track_and_alert_and_acknowledges_it(service, page, tmp_path):
    _, base, db_path = service
    pg, errors = page
    foreign: list[str] = []
    pg.on("request", lambda r: None if r.url.startswith(base) else foreign.append(r.url))
    pg.goto(base + "/")
    playwright_api.expect(pg.locator("#conn-state")).to_have_text("live", timeout=20_000)
    # The engine's first step compiles the Numba kernels unless their cache is warm: on a cold
    # cache and a busy machine that alone takes most of a minute.
    pg.locator("#map [data-track-id]").first.wait_for(timeout=120_000)
    ack_button = pg.locator("#alerts [data-alert-id] button.ack").first
    ack_button.wait_for(timeout=45_000)
    alert_id = int(
        pg.locator("#alerts [data-alert-id]").first.get_attribute("data-alert-id") or "0"
    )
    ack_button.click()
    pg.fill("#ack-operator", "browser-operator")
    pg.fill("#ack-note", "seen from the dashboard")
    pg.click("#ack-submit")
    # The store's audit trail has the acknowledgement, by the name and with the note typed.
    assert wait_for_acknowledgement(db_path, alert_id) == "seen from the dashboard"
    # The card shows who acknowledged it, unless the engine has moved the alert on since (a
    # pre-alert escalates to a breach, a track leaves and its alert clears): on a loaded
    # machine that can happen before the page is redrawn, and then the card is right to
    # show the newer state.
    card = pg.locator(f'#alerts [data-alert-id="{alert_id}"]')
    deadline = time.monotonic() + 20
    while True:
        state = alert_state(db_path, alert_id)
        shown = card.all_inner_texts()
        if state != "acknowledged" or any("browser-operator" in text for text in shown):
            break
        assert time.monotonic() < deadline, f"acknowledged alert {alert_id} shows {shown}"
        pg.wait_for_timeout(100)
    pg.screenshot(path=str(tmp_path / "dashboard.png"))
    # No tile server configured: the page stays on its own origin and draws no tiles.
    assert foreign == []
    assert pg.locator("#map [data-tile]").count() == 0
    assert pg.locator("#tiles-attribution").is_hidden()
    # The demo's Remote ID receiver hears all round: its coverage is a circle.
    assert pg.locator('#map circle[data-coverage-sensor="rid-1"]').count() == 1
    assert errors == [], f"JavaScript errors on the page: {errors}"


def alert_state(db_path, alert_id: int) -> str:
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        return db.execute("SELECT state FROM alerts WHERE alert_id=?", (alert_id,)).fetchone()[0]


def wait_for_acknowledgement(db_path, alert_id: int) -> str:
    """The note of the alert's acknowledgement by browser-operator, once the store has it."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.closing(sqlite3.connect(db_path)) as db:
            row = db.execute(
                "SELECT reason FROM alert_events WHERE alert_id=? AND to_state='acknowledged'"
                " AND actor='browser-operator'",
                (alert_id,),
            ).fetchone()
        if row is not None:
            return row[0]
        time.sleep(0.1)
    raise AssertionError(f"no acknowledgement of alert {alert_id} by browser-operator stored")


MEASURE_JS = """(selectors) => Object.fromEntries(Object.entries(selectors).map(([k, sel]) => {
  const e = document.querySelector(sel);
  if (!e) return [k, null];
  const r = e.getBoundingClientRect();
  const s = getComputedStyle(e);
  return [k, { x: r.x, y: r.y, width: r.width, height: r.height, fill: s.fill,
               stroke: s.stroke, points: e.getAttribute('points') }];
}))"""


def measure(pg, **selectors: str) -> dict[str, dict]:
    """Screen boxes and styles of several elements, read in one go once all are drawn: the
    map's layers are redrawn as tracks move, so separate reads could straddle a redraw, and
    each layer appears when its data first arrives, later on a loaded machine."""
    for selector in selectors.values():
        pg.locator(selector).first.wait_for(state="attached", timeout=30_000)
    got = pg.evaluate(MEASURE_JS, selectors)
    missing = [selectors[k] for k, v in got.items() if v is None]
    assert not missing, f"not on the page: {missing}"
    return got


def bbox(pg, selector: str) -> dict:
    return measure(pg, it=selector)["it"]


def centre(box: dict) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def open_fitted(pg, base: str) -> float:
    """Open the dashboard, wait for the picture; return its scale in px per metre, measured
    on the bowl polygon whose size the config gives."""
    pg.goto(base + "/")
    playwright_api.expect(pg.locator("#conn-state")).to_have_text("live", timeout=20_000)
    pg.locator('#map [data-zone-id="bowl"] polygon').wait_for()
    # Zooming in and out again returns to the fitted scale and stops the picture from
    # re-fitting to moving tracks between the measurements below.
    pg.click("#zoom-in")
    pg.click("#zoom-out")
    pg.wait_for_timeout(200)
    return bbox(pg, '#map [data-zone-id="bowl"] polygon')["height"] / (2 * BOWL_RADIUS_M)


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    """The slippy-map tile holding a point (OSM wiki, "Slippy map tilenames")."""
    n = 2**z
    lat_r = math.radians(lat)
    return (
        int((lon + 180.0) / 360.0 * n),
        int((1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n),
    )


def test_circle_and_ignore_zones_coverage_sector_and_map_tiles(rich_service, tile_server):
    _, base, _ = rich_service
    with chromium_page() as (pg, errors):
        ok_tiles: list[str] = []
        pg.on("response", lambda r: ok_tiles.append(r.url) if "/tiles/" in r.url and r.ok else 0)
        scale = open_fitted(pg, base)
        got = measure(
            pg,
            bowl='#map [data-zone-id="bowl"] polygon',
            circle='#map [data-zone-id="parking"][data-zone-shape="circle"] circle',
            ignore='#map [data-zone-id="helipad"].lvl-ignore polygon',
            sensor='#map [data-sensor-id="rid-1"] rect',
            sector='#map path[data-coverage-sensor="rid-1"]',
        )
        bowl = centre(got["bowl"])

        # The circle zone: where and as large as configured, styled as a watch zone.
        cbox = got["circle"]
        east_px = centre(cbox)[0] - bowl[0]
        assert east_px == pytest.approx(300 * scale, rel=0.03)
        assert centre(cbox)[1] == pytest.approx(bowl[1], abs=2)
        assert cbox["width"] / 2 == pytest.approx(PARKING["r"] * scale, rel=0.05)
        assert "232, 212, 77" in cbox["stroke"]  # --watch, as a polygon watch zone would be
        # The ignore zone is hatched grey.
        assert "hatch-ignore" in got["ignore"]["fill"]

        # Coverage: a 90-degree sector looking west, 1500 m deep, from the sensor.
        sensor = centre(got["sensor"])
        sector = got["sector"]
        assert sector["x"] + sector["width"] == pytest.approx(sensor[0], abs=2)
        assert sector["width"] == pytest.approx(1500 * scale, rel=0.03)
        assert sector["height"] == pytest.approx(2 * 1500 * math.sin(math.pi / 4) * scale, rel=0.03)
        assert centre(sector)[1] == pytest.approx(sensor[1], abs=2)

        # Tiles: requested around the site at a zoom fitting the view, drawn where they belong.
        pg.locator("#map image[data-tile]").first.wait_for()
        deadline = time.monotonic() + 10
        while not ok_tiles and time.monotonic() < deadline:
            pg.wait_for_timeout(100)
        assert ok_tiles and tile_server.requested
        zooms = {z for z, _, _ in tile_server.requested}
        # ~1 m per screen pixel here, so a zoom whose tile pixels are about that size.
        want_z = round(math.log2(156543.03392 * math.cos(math.radians(REF_LAT)) * scale))
        assert want_z in zooms and 12 <= want_z <= 18
        ref_tile = (want_z, *tile_of(REF_LAT, REF_LON, want_z))
        assert ref_tile in tile_server.requested
        got = measure(
            pg, tile=f'#map image[data-tile="{"/".join(map(str, ref_tile))}"]', ref="#map .ref-dot"
        )
        tile_box, ref_dot = got["tile"], centre(got["ref"])
        assert tile_box["x"] <= ref_dot[0] <= tile_box["x"] + tile_box["width"]
        assert tile_box["y"] <= ref_dot[1] <= tile_box["y"] + tile_box["height"]
        m_per_tile_px = 156543.03392 * math.cos(math.radians(REF_LAT)) / 2**want_z
        assert tile_box["width"] == pytest.approx(256 * m_per_tile_px * scale, rel=0.05)
        playwright_api.expect(pg.locator("#tiles-attribution")).to_have_text("Test tiles, CC0")
        # and they show: the map's empty ground is tinted with the tiles' green (once painted)
        deadline = time.monotonic() + 20
        while True:
            r, g, b = ground_colour(pg)
            if g > r + 30 and g > b + 30:
                break
            assert time.monotonic() < deadline, (r, g, b)
            pg.wait_for_timeout(200)
        assert errors == [], f"JavaScript errors on the page: {errors}"


def ground_colour(pg) -> tuple[int, int, int]:
    """The median colour of a patch of the map's empty ground, from a screenshot."""
    from PIL import Image

    shot = Image.open(io.BytesIO(pg.screenshot())).convert("RGB")
    patch = [shot.getpixel((60 + i, 300 + j)) for i in range(0, 20, 4) for j in range(20)]
    r, g, b = (sorted(c[k] for c in patch)[len(patch) // 2] for k in range(3))
    return r, g, b


def test_pre_alert_shows_time_to_breach_and_entry_point(rich_service):
    _, base, _ = rich_service
    with chromium_page() as (pg, errors):
        open_fitted(pg, base)
        countdown = pg.locator("#alerts [data-alert-id] .ttb").first
        countdown.wait_for(timeout=45_000)
        card = pg.locator("#alerts [data-alert-id]", has=pg.locator(".ttb")).first
        alert_id = card.get_attribute("data-alert-id")
        alert = httpx.get(f"{base}/api/v1/alerts/{alert_id}").json()
        assert alert["rule"] == "time_to_breach" and alert["breach_point"]
        due = alert["raised_t_unix"] + alert["time_to_breach_s"]

        zone_id = alert["zone_id"]
        assert zone_id in ZONE_NAMES, alert

        card.locator(".alert-track").click()
        row = pg.locator("#td-body dd.breach", has_text=ZONE_NAMES[zone_id])
        playwright_api.expect(row).to_contain_text(f"{ZONE_NAMES[zone_id]}: in ")
        # the card shows the class, its belief and the sources that made it
        assert alert["track"]["class_sources"], alert["track"]
        body = pg.locator("#td-body")
        playwright_api.expect(body).to_contain_text("drone (from ")
        belief = body.locator("dt", has_text="Belief").locator("xpath=following-sibling::dd[1]")
        playwright_api.expect(belief).to_contain_text("drone ")
        # the countdown follows the live prediction the track carries (refreshed with each
        # published picture); read both until one picture has it (the track may be between)
        for _ in range(20):
            text = row.inner_text()
            track = httpx.get(f"{base}/api/v1/tracks/{alert['track_id']}").json()
            live = [b for b in track["breaches"] if b["zone_id"] == zone_id]
            if live and "in " in text:
                break
            pg.wait_for_timeout(250)
        assert live, f"track {track['track_id']} carries no live breach of {zone_id}: {track}"
        shown = int(re.search(r"in (\d+) s", text)[1])
        assert live[0]["time_to_breach_s"] == pytest.approx(due - track["t_unix"], abs=5.0)
        assert shown == pytest.approx(
            track["t_unix"] + live[0]["time_to_breach_s"] - time.time(), abs=2.5
        )
        pg.wait_for_timeout(2200)
        later = re.search(r"in (\d+) s", row.inner_text())
        if later:  # still ahead: it counts down
            assert int(later[1]) <= shown - 1

        # The predicted entry point is on the map, on the perimeter zone's edge.
        got = measure(
            pg,
            mark=f'#map [data-breach-alert-id="{alert_id}"] circle',
            zone=f'#map [data-zone-id="{zone_id}"] polygon',
            svg="#map",
        )
        # polygon points are in the SVG's own pixels, boxes in the page's
        mark = centre(got["mark"])
        mark = (mark[0] - got["svg"]["x"], mark[1] - got["svg"]["y"])
        points = got["zone"]["points"]
        poly = [tuple(map(float, p.split(","))) for p in points.split()]
        assert distance_to_outline(mark, poly) < 15
        assert errors == [], f"JavaScript errors on the page: {errors}"


def distance_to_outline(p: tuple[float, float], poly: list[tuple[float, float]]) -> float:
    best = math.inf
    for (ax, ay), (bx, by) in zip(poly, poly[1:] + poly[:1], strict=True):
        dx, dy = bx - ax, by - ay
        u = max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / (dx * dx + dy * dy)))
        best = min(best, math.hypot(p[0] - ax - u * dx, p[1] - ay - u * dy))
    return best


def test_look_back_shows_the_past_track_and_alert_then_returns_to_live(start_service):
    _, base, _ = start_service(speed=5)
    with chromium_page() as (pg, errors):
        pg.goto(base + "/")
        playwright_api.expect(pg.locator("#conn-state")).to_have_text("live", timeout=20_000)
        card = pg.locator("#alerts [data-alert-id]", has=pg.locator("button.ack")).first
        card.wait_for(timeout=45_000)
        alert_id = card.get_attribute("data-alert-id")
        alert = httpx.get(f"{base}/api/v1/alerts/{alert_id}").json()
        # A few seconds after it was raised (the track has a trail by then, its history being
        # stored once a second), in whole seconds as typed.
        t_look = math.floor(alert["raised_t_unix"]) + 3
        while time.time() < t_look + 1.5:
            pg.wait_for_timeout(100)
        r = httpx.post(f"{base}/api/v1/alerts/{alert_id}/ack", json={"operator": "e2e-lookback"})
        assert r.status_code in (200, 409), r.text  # 409: it cleared already

        # Look back to then, before the acknowledgement.
        pg.click("#tab-history")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t_look))
        pg.fill("#lb-time", when)
        pg.press("#lb-time", "Enter")
        banner = pg.locator("#past-banner")
        playwright_api.expect(banner).to_be_visible(timeout=10_000)
        playwright_api.expect(banner).to_contain_text(f"PAST VIEW {when}Z")
        past_card = pg.locator(f'#lb-alerts [data-alert-id="{alert_id}"]')
        playwright_api.expect(past_card.locator(".state-badge")).to_have_text(
            re.compile("RAISED|ESCALATED")  # unacknowledged then, whatever it is now
        )
        assert past_card.locator("button.ack").count() == 0
        assert pg.locator("#alerts button.ack").count() == 0  # acknowledge is off in the past
        track = pg.locator(f'#map [data-track-id="{alert["track_id"]}"]')
        playwright_api.expect(track).to_be_visible()
        trail = pg.locator(f"#map polyline.trail.cls-{alert['object_class']}")
        assert trail.count() >= 1, httpx.get(f"{base}/api/v1/picture", params={"t": t_look}).text
        slider = pg.locator("#lb-slider")
        assert int(slider.get_attribute("min") or 0) <= t_look
        assert int(slider.input_value()) == t_look

        # Live: the current picture at once, with the acknowledgement made meanwhile.
        pg.click("#past-live")
        playwright_api.expect(banner).to_be_hidden()
        playwright_api.expect(pg.locator("#lb-alerts")).to_be_hidden()
        assert pg.locator(".alert-past").count() == 0
        pg.click("#tab-queue")
        live_card = pg.locator(f'#alerts [data-alert-id="{alert_id}"]')
        now = httpx.get(f"{base}/api/v1/alerts/{alert_id}").json()
        if now["state"] == "acknowledged":
            playwright_api.expect(live_card).to_contain_text("e2e-lookback")
        else:  # cleared since: gone from the live queue
            playwright_api.expect(live_card).to_have_count(0)
        assert errors == [], f"JavaScript errors on the page: {errors}"
