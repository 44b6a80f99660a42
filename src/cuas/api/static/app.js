/* cuas operator dashboard v0.
 *
 * Plain ES2020, no framework, no external requests: everything comes from the same
 * origin (REST under /api/v1 and the WebSocket /api/v1/stream).
 *
 * API key: where the server requires one, open the dashboard as /#key=<key> (a fragment
 * never reaches the server or its logs) or enter it when asked. It is kept for this tab
 * only (sessionStorage), sent as X-API-Key on REST calls and as the WebSocket subprotocol
 * "cuas.key.<key>" beside "cuas.v1" (browsers cannot set headers on a WebSocket).
 *
 * Security: identifiers on tracks (Remote ID serials, operator IDs, MACs, ...) are
 * broadcast over the air by whoever flies the drone, i.e. attacker-controlled. Every
 * string from the API reaches the DOM through textContent / setAttribute only; this file
 * never assigns innerHTML.
 */
'use strict';

(() => {
  // ---------------------------------------------------------------- constants
  const API = '/api/v1';
  const TRAIL_LEN = 60;              // positions kept per track, client side
  const VECTOR_S = 10;               // velocity vector = this many seconds of travel
  const FIT_TRACK_MAX_M = 5000;      // tracks farther than this from the reference are left out of the fit
  const RING_STEPS_M = [100, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000];
  const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000];
  const LEVEL_RANK = { critical: 3, warning: 2, watch: 1 };
  const OP_KEY = 'cuas.operator';
  const SOUND_KEY = 'cuas.sound';
  const SVGNS = 'http://www.w3.org/2000/svg';
  // Alerts an operator must acknowledge: raised, and escalated (a pre-alert whose drone
  // entered the zone needs a fresh acknowledgement).
  const needsAck = (a) => a.state === 'raised' || a.state === 'escalated';
  const M_PER_DEG_LAT = 110540;
  const M_PER_DEG_LON = 111320;

  const SHAPES = {
    drone: 'M0,-8 L8,0 L0,8 L-8,0 Z',
    unknown: 'M0,-8 L8,0 L0,8 L-8,0 Z',
    bird: 'M0,-7 L6.5,5.5 L-6.5,5.5 Z',
  };
  const CLASS_LABEL = { drone: 'drone', manned_aircraft: 'manned aircraft', bird: 'bird', unknown: 'unknown' };
  const CLASS_SHORT = { drone: 'drone', manned_aircraft: 'aircraft', bird: 'bird', unknown: 'unknown' };

  // ---------------------------------------------------------------- state
  const state = {
    sites: [],
    ref: null,                        // {lat0, lon0, cos0, alt0}
    zoneIndex: new Map(),             // zone id -> zone (with site)
    tracks: new Map(),                // track_id -> track
    trails: new Map(),                // track_id -> [[x, y, t], ...]
    alerts: new Map(),                // alert_id -> alert (open ones: raised / acknowledged)
    sensors: new Map(),               // sensor_id -> sensor status
    sensorConf: new Map(),            // sensor_id -> {position, orientation, coverage} from the config
    ui: null,                         // /ui settings: the optional map tile layer
    clockSkew: 0,                     // server data time minus this browser's clock, s
    selected: null,                   // selected track_id
    selectedLost: null,               // last known copy of a selected track that was deleted
    sitesLoaded: false,
    view: { cx: 0, cy: 0, scale: 0.5, w: 0, h: 0 },   // world centre (m), px per m
    userMoved: false,                 // the operator panned / zoomed: stop auto-fitting
    fitted: false,
    snapshotSeen: false,
    conn: 'connecting',
    connSince: Date.now(),
    lastMsg: 0,
    tab: 'queue',
    sound: { wanted: false, ctx: null },
    ackTarget: null,
  };

  // The stream always writes the live picture; the screen shows it, or while looking back
  // (state.past, from GET /picture) the stored picture at a past time.
  const live = { tracks: state.tracks, trails: state.trails, alerts: state.alerts };
  for (const k of Object.keys(live)) {
    Object.defineProperty(state, k, { get: () => (state.past ? state.past[k] : live[k]) });
  }
  state.past = null; // {t, tracks, trails, alerts} while looking back

  // ---------------------------------------------------------------- small helpers
  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    if (attrs) for (const k of Object.keys(attrs)) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  const str = (v) => (v === null || v === undefined ? '' : String(v));
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const cssToken = (v) => String(v || 'unknown').toLowerCase().replace(/[^a-z0-9_-]/g, '');
  const pad2 = (n) => String(n).padStart(2, '0');

  function utcTime(tUnix) {
    if (num(tUnix) === null) return '—';
    const d = new Date(tUnix * 1000);
    return `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  }

  function utcDateTime(tUnix) {
    if (num(tUnix) === null) return '—';
    const d = new Date(tUnix * 1000);
    return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${utcTime(tUnix)}`;
  }

  function age(tUnix) {
    if (num(tUnix) === null) return '';
    let s = Math.max(0, Math.floor(Date.now() / 1000 - tUnix));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    s %= 60;
    if (m < 60) return `${m}m ${pad2(s)}s`;
    const h = Math.floor(m / 60);
    return `${h}h ${pad2(m % 60)}m`;
  }

  function fmt(v, digits = 0, unit = '') {
    const n = num(v);
    if (n === null) return '—';
    return `${n.toFixed(digits)}${unit}`;
  }

  function fmtDist(m) {
    if (m >= 1000) return `${(m / 1000).toFixed(m % 1000 === 0 ? 0 : 1)} km`;
    return `${Math.round(m)} m`;
  }

  function speedOf(t) {
    const v = t && Array.isArray(t.velocity_enu_mps) ? t.velocity_enu_mps : null;
    if (!v) return null;
    const ve = num(v[0]) || 0;
    const vn = num(v[1]) || 0;
    return Math.hypot(ve, vn);
  }

  function headingOf(t) {
    const v = t && Array.isArray(t.velocity_enu_mps) ? t.velocity_enu_mps : null;
    if (!v) return null;
    const ve = num(v[0]) || 0;
    const vn = num(v[1]) || 0;
    if (Math.hypot(ve, vn) < 0.3) return null;
    return (Math.atan2(ve, vn) * 180 / Math.PI + 360) % 360;
  }

  /** Height above the site reference: the track's own ENU up, else from its altitude. */
  function heightOf(t) {
    if (t && Array.isArray(t.enu_m) && num(t.enu_m[2]) !== null) return t.enu_m[2];
    const alt = t && t.position ? num(t.position.alt_m) : null;
    if (alt !== null && state.ref && state.ref.alt0 !== null) return alt - state.ref.alt0;
    return null;
  }

  function serialOf(t) {
    const id = (t && t.identity) || {};
    return id.rid_serial || id.caa_id || id.icao24 || id.mac || id.sensor_track_id || '';
  }

  function zoneName(zoneId) {
    const z = state.zoneIndex.get(zoneId);
    return z ? z.name : str(zoneId);
  }

  // ---------------------------------------------------------------- projection
  function setReference(site) {
    const r = (site && site.reference) || {};
    const lat0 = num(r.lat_deg) ?? 0;
    const lon0 = num(r.lon_deg) ?? 0;
    state.ref = { lat0, lon0, cos0: Math.cos(lat0 * Math.PI / 180), alt0: num(r.alt_m) };
  }

  /** WGS84 lat/lon -> local metres east (x) / north (y) of the first site's reference. */
  function project(lat, lon) {
    const r = state.ref;
    if (!r || num(lat) === null || num(lon) === null) return null;
    return [(lon - r.lon0) * r.cos0 * M_PER_DEG_LON, (lat - r.lat0) * M_PER_DEG_LAT];
  }

  function projectPoint(p) {
    return p ? project(p.lat_deg, p.lon_deg) : null;
  }

  function toScreen(x, y) {
    const v = state.view;
    return [v.w / 2 + (x - v.cx) * v.scale, v.h / 2 - (y - v.cy) * v.scale];
  }

  function toWorld(sx, sy) {
    const v = state.view;
    return [v.cx + (sx - v.w / 2) / v.scale, v.cy - (sy - v.h / 2) / v.scale];
  }

  // ---------------------------------------------------------------- view: fit / zoom / pan
  function contentBounds() {
    const pts = [];
    for (const site of state.sites) {
      for (const z of site.zones || []) {
        for (const v of z.polygon || []) {
          const p = project(v[0], v[1]);
          if (p) pts.push(p);
        }
        const c = z.circle ? projectPoint(z.circle) : null;
        const r = z.circle ? num(z.circle.radius_m) : null;
        if (c && r !== null) pts.push([c[0] - r, c[1] - r], [c[0] + r, c[1] + r]);
      }
    }
    for (const s of state.sensors.values()) {
      const p = projectPoint(s.position);
      if (p) pts.push(p);
    }
    for (const t of state.tracks.values()) {
      const p = projectPoint(t.position);
      if (p && Math.hypot(p[0], p[1]) <= FIT_TRACK_MAX_M) pts.push(p);
      const pp = projectPoint(t.pilot);
      if (pp && Math.hypot(pp[0], pp[1]) <= FIT_TRACK_MAX_M) pts.push(pp);
    }
    // Always show the reference and a little ground around it.
    pts.push([-250, -250], [250, 250]);
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const [x, y] of pts) {
      if (x < minX) minX = x;
      if (y < minY) minY = y;
      if (x > maxX) maxX = x;
      if (y > maxY) maxY = y;
    }
    return { minX, minY, maxX, maxY };
  }

  function fit() {
    const v = state.view;
    if (!v.w || !v.h || !state.ref) return;
    const b = contentBounds();
    const margin = 70; // px on each side, keeps symbols and labels clear of the edges
    const spanX = Math.max(b.maxX - b.minX, 1);
    const spanY = Math.max(b.maxY - b.minY, 1);
    v.scale = Math.min((v.w - 2 * margin) / spanX, (v.h - 2 * margin) / spanY);
    v.scale = Math.min(Math.max(v.scale, 0.002), 20);
    v.cx = (b.minX + b.maxX) / 2;
    v.cy = (b.minY + b.maxY) / 2;
    state.fitted = true;
    scheduleRender();
  }

  /** While the operator has not moved the map, keep nearby drones and unknowns in view.
   * (Manned aircraft crossing the edge do not re-zoom the picture on their own.) */
  function maybeAutoFit() {
    if (state.userMoved || !ensureRef()) return;
    if (!state.fitted) {
      fit();
      return;
    }
    const v = state.view;
    for (const t of state.tracks.values()) {
      if (t.object_class !== 'drone' && t.object_class !== 'unknown') continue;
      const p = projectPoint(t.position);
      if (!p || Math.hypot(p[0], p[1]) > FIT_TRACK_MAX_M) continue;
      const [sx, sy] = toScreen(p[0], p[1]);
      if (sx < 30 || sy < 30 || sx > v.w - 30 || sy > v.h - 30) {
        fit();
        return;
      }
    }
  }

  function zoomAt(factor, sx, sy) {
    const v = state.view;
    const [wx, wy] = toWorld(sx, sy);
    v.scale = Math.min(Math.max(v.scale * factor, 0.002), 20);
    // keep the world point under the cursor fixed
    v.cx = wx - (sx - v.w / 2) / v.scale;
    v.cy = wy + (sy - v.h / 2) / v.scale;
    state.userMoved = true;
    scheduleRender();
  }

  function setupMapInteraction() {
    const map = $('map');
    let drag = null;

    map.addEventListener('wheel', (ev) => {
      ev.preventDefault();
      const r = map.getBoundingClientRect();
      const factor = Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015));
      zoomAt(factor, ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });

    map.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0) return;
      const hit = ev.target.closest ? ev.target.closest('[data-track-id]') : null;
      drag = {
        x: ev.clientX, y: ev.clientY, cx: state.view.cx, cy: state.view.cy, moved: false,
        trackId: hit ? hit.getAttribute('data-track-id') : null, id: ev.pointerId,
      };
    });

    map.addEventListener('pointermove', (ev) => {
      if (!drag || ev.pointerId !== drag.id) return;
      const dx = ev.clientX - drag.x;
      const dy = ev.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) > 4) {
        drag.moved = true;
        try { map.setPointerCapture(ev.pointerId); } catch (_) { /* ignore */ }
        map.classList.add('dragging');
      }
      if (drag.moved) {
        state.view.cx = drag.cx - dx / state.view.scale;
        state.view.cy = drag.cy + dy / state.view.scale;
        state.userMoved = true;
        scheduleRender();
      }
    });

    const end = (ev) => {
      if (!drag || ev.pointerId !== drag.id) return;
      // Selection is decided from the element under pointerdown, so a re-render of the
      // track layer between press and release cannot swallow the click.
      if (!drag.moved && ev.type === 'pointerup') selectTrack(drag.trackId);
      map.classList.remove('dragging');
      drag = null;
    };
    map.addEventListener('pointerup', end);
    map.addEventListener('pointercancel', end);

    $('zoom-in').addEventListener('click', () => zoomAt(1.5, state.view.w / 2, state.view.h / 2));
    $('zoom-out').addEventListener('click', () => zoomAt(1 / 1.5, state.view.w / 2, state.view.h / 2));
    $('fit').addEventListener('click', () => {
      state.userMoved = false;
      fit();
    });

    const resize = () => {
      const r = map.getBoundingClientRect();
      const first = !state.view.w;
      state.view.w = r.width;
      state.view.h = r.height;
      if (first || !state.userMoved) fit();
      else scheduleRender();
    };
    if (typeof ResizeObserver === 'function') new ResizeObserver(resize).observe(map);
    window.addEventListener('resize', resize);
    resize();
  }

  // ---------------------------------------------------------------- rendering: map
  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      renderMap();
    });
  }

  function niceScaleLength(maxM) {
    const p = Math.pow(10, Math.floor(Math.log10(maxM)));
    for (const m of [5, 2, 1]) if (m * p <= maxM) return m * p;
    return p;
  }

  function renderRings(layer) {
    clear(layer);
    const v = state.view;
    const [ox, oy] = toScreen(0, 0);
    const diag = Math.hypot(v.w, v.h);
    const rings = RING_STEPS_M.filter((r) => r * v.scale >= 28 && r * v.scale <= diag * 1.2);
    // Thin out rings that would crowd each other.
    const shown = [];
    for (const r of rings) {
      if (!shown.length || (r - shown[shown.length - 1]) * v.scale >= 26) shown.push(r);
    }
    const ang = -60 * Math.PI / 180; // labels along the 030° bearing, clear of the north axis
    for (const r of shown) {
      const rp = r * v.scale;
      layer.appendChild(svg('circle', { class: 'ring', cx: ox, cy: oy, r: rp }));
      const lx = ox + rp * Math.cos(ang);
      const ly = oy + rp * Math.sin(ang);
      layer.appendChild(svg('text', { class: 'ring-label', x: lx + 4, y: ly - 3 }, fmtDist(r)));
      occupied.push(labelBox(lx + 2, ly - 14, 8 + 7 * fmtDist(r).length, 14));
    }
    // Cross-hair on the reference point with cardinal ticks.
    const cross = Math.max(...shown.map((r) => r * v.scale), 60);
    layer.appendChild(svg('line', { class: 'axis', x1: ox - cross, y1: oy, x2: ox + cross, y2: oy }));
    layer.appendChild(svg('line', { class: 'axis', x1: ox, y1: oy - cross, x2: ox, y2: oy + cross }));
    layer.appendChild(svg('circle', { class: 'ref-dot', cx: ox, cy: oy, r: 3 }));
  }

  function polygonCentroid(pts) {
    let a = 0, cx = 0, cy = 0;
    for (let i = 0; i < pts.length; i++) {
      const [x0, y0] = pts[i];
      const [x1, y1] = pts[(i + 1) % pts.length];
      const f = x0 * y1 - x1 * y0;
      a += f;
      cx += (x0 + x1) * f;
      cy += (y0 + y1) * f;
    }
    if (Math.abs(a) < 1e-9) {
      const n = pts.length || 1;
      return [pts.reduce((s, p) => s + p[0], 0) / n, pts.reduce((s, p) => s + p[1], 0) / n];
    }
    return [cx / (3 * a), cy / (3 * a)];
  }

  // Screen rectangles already holding text this frame; track labels avoid them.
  let occupied = [];
  const labelBox = (x, y, w, h) => ({ x0: x, y0: y, x1: x + w, y1: y + h });
  const overlaps = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

  function renderZones(layer) {
    clear(layer);
    const zones = [];
    for (const site of state.sites) for (const z of site.zones || []) zones.push(z);
    // Draw the least severe first so critical zones sit on top.
    zones.sort((a, b) => (LEVEL_RANK[a.level] || 0) - (LEVEL_RANK[b.level] || 0));
    const labels = [];
    for (const z of zones) {
      const lvl = cssToken(z.level);
      const g = svg('g', { class: `zone lvl-${lvl}`, 'data-zone-id': str(z.id) });
      const centre = z.circle ? projectPoint(z.circle) : null;
      const radius = z.circle ? num(z.circle.radius_m) : null;
      if (centre && radius !== null) {
        const [sx, sy] = toScreen(centre[0], centre[1]);
        const rp = radius * state.view.scale;
        g.setAttribute('data-zone-shape', 'circle');
        g.appendChild(svg('circle', { class: 'zone-shape', cx: sx.toFixed(1), cy: sy.toFixed(1), r: rp.toFixed(1) }));
        layer.appendChild(g);
        labels.push({ z, lvl, sx, sy, top: sy - rp, bottom: sy + rp });
        continue;
      }
      const world = (z.polygon || []).map((v) => project(v[0], v[1])).filter(Boolean);
      if (world.length < 3) continue;
      const scr = world.map(([x, y]) => toScreen(x, y));
      g.setAttribute('data-zone-shape', 'polygon');
      g.appendChild(svg('polygon', { class: 'zone-shape', points: scr.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join(' ') }));
      layer.appendChild(g);
      const [cx, cy] = polygonCentroid(world);
      const [sx, sy] = toScreen(cx, cy);
      let minY = Infinity;
      let maxY = -Infinity;
      for (const p of scr) {
        minY = Math.min(minY, p[1]);
        maxY = Math.max(maxY, p[1]);
      }
      labels.push({ z, lvl, sx, sy, top: minY, bottom: maxY });
    }
    // Zone names at the top edge of each polygon so they do not sit under tracks.
    const v = state.view;
    for (const l of labels) {
      // Keep the name on screen while any of the zone is: slide it down from an
      // off-screen top edge and in from the sides.
      let y = l.top + 14;
      if (y < 18 && l.bottom > 60) y = Math.min(18, l.bottom - 30);
      const x = Math.min(Math.max(l.sx, 80), v.w - 80);
      l.sx = x;
      occupied.push(labelBox(x - 60, y - 12, 120, 26));
      const t = svg('text', { class: `zone-label lvl-${l.lvl}`, x: l.sx, y }, l.z.name || l.z.id);
      layer.appendChild(t);
      const band = [];
      if (num(l.z.floor_m) !== null && l.z.floor_m > 0) band.push(`${Math.round(l.z.floor_m)}`);
      else band.push('SFC');
      if (num(l.z.ceiling_m) !== null && l.z.ceiling_m < 10000) band.push(`${Math.round(l.z.ceiling_m)} m`);
      else band.push('UNL');
      layer.appendChild(svg('text', { class: `zone-sub lvl-${l.lvl}`, x: l.sx, y: y + 12 },
        `${str(l.z.level).toUpperCase()} · ${band.join('–')}`));
    }
  }

  // ---------------------------------------------------------------- map tiles (optional)
  // Web Mercator XYZ tiles from [api] map_tiles_url, drawn under the picture. The picture's
  // projection is local (metres east/north of the reference), so each tile is placed by
  // projecting its corners; within a tile the Mercator stretch is far below a pixel.
  const TILE_PX = 256;
  const MERC_M_PER_PX_Z0 = 156543.03392; // equatorial metres per tile pixel at zoom 0
  const tileNodes = new Map(); // "z/x/y" -> <image>

  function unproject(x, y) {
    const r = state.ref;
    return [r.lat0 + y / M_PER_DEG_LAT, r.lon0 + x / (r.cos0 * M_PER_DEG_LON)];
  }

  const tileLon = (x, n) => x / n * 360 - 180;
  const tileLat = (y, n) => Math.atan(Math.sinh(Math.PI * (1 - 2 * y / n))) * 180 / Math.PI;
  const lonTile = (lon, n) => Math.floor((lon + 180) / 360 * n);
  function latTile(lat, n) {
    const c = Math.min(Math.max(lat, -85.0511), 85.0511) * Math.PI / 180;
    return Math.floor((1 - Math.log(Math.tan(c) + 1 / Math.cos(c)) / Math.PI) / 2 * n);
  }

  function renderTiles(layer) {
    const ui = state.ui;
    const template = ui && typeof ui.map_tiles_url === 'string' ? ui.map_tiles_url : '';
    const v = state.view;
    const want = new Set();
    if (template) {
      const maxZ = Math.min(Math.max(num(ui.map_tiles_max_zoom) ?? 19, 0), 22);
      const mPerPx = MERC_M_PER_PX_Z0 * state.ref.cos0;
      const z = Math.min(Math.max(Math.round(Math.log2(mPerPx * v.scale)), 0), maxZ);
      const n = 2 ** z;
      const [latN, lonW] = unproject(...toWorld(0, 0));
      const [latS, lonE] = unproject(...toWorld(v.w, v.h));
      const x0 = lonTile(lonW, n);
      const x1 = lonTile(lonE, n);
      const y0 = Math.max(latTile(latN, n), 0);
      const y1 = Math.min(latTile(latS, n), n - 1);
      if ((x1 - x0 + 1) * (y1 - y0 + 1) <= 200) {
        for (let ty = y0; ty <= y1; ty++) {
          for (let tx = x0; tx <= x1; tx++) {
            const wx = ((tx % n) + n) % n;
            const key = `${z}/${wx}/${ty}`;
            const nw = project(tileLat(ty, n), tileLon(tx, n));
            const se = project(tileLat(ty + 1, n), tileLon(tx + 1, n));
            const [ax, ay] = toScreen(nw[0], nw[1]);
            const [bx, by] = toScreen(se[0], se[1]);
            let img = tileNodes.get(key);
            if (!img) {
              img = svg('image', { class: 'tile', preserveAspectRatio: 'none', 'data-tile': key });
              img.setAttribute('href', template.replaceAll('{z}', z).replaceAll('{x}', wx).replaceAll('{y}', ty));
              tileNodes.set(key, img);
              layer.appendChild(img);
            }
            // Half a pixel of overlap hides the seams between neighbours.
            img.setAttribute('x', (ax - 0.25).toFixed(2));
            img.setAttribute('y', (ay - 0.25).toFixed(2));
            img.setAttribute('width', (bx - ax + 0.5).toFixed(2));
            img.setAttribute('height', (by - ay + 0.5).toFixed(2));
            want.add(key);
          }
        }
      }
    }
    for (const [key, img] of tileNodes) {
      if (!want.has(key)) {
        img.remove();
        tileNodes.delete(key);
      }
    }
  }

  function renderAttribution() {
    const box = $('tiles-attribution');
    const ui = state.ui;
    box.hidden = !(ui && ui.map_tiles_url);
    box.textContent = ui && ui.map_tiles_attribution ? str(ui.map_tiles_attribution) : 'map tiles';
  }

  // ---------------------------------------------------------------- sensor coverage
  /** Each sensor's configured coverage: a sector centred on its yaw, or a circle at 360°. */
  function renderCoverage(layer) {
    clear(layer);
    for (const [id, conf] of state.sensorConf) {
      const cov = conf.coverage || {};
      const live = state.sensors.get(id);
      const p = projectPoint((live && live.position) || conf.position);
      const range = num(cov.range_m);
      if (!p || range === null) continue;
      const [sx, sy] = toScreen(p[0], p[1]);
      const rp = range * state.view.scale;
      const width = num(cov.azimuth_width_deg) ?? 360;
      const yaw = num(conf.orientation && conf.orientation.yaw_deg) ?? 0;
      const attrs = { class: `coverage st-${cssToken(live ? live.state : 'offline')}`, 'data-coverage-sensor': str(id) };
      let node;
      if (width >= 360) {
        node = svg('circle', { ...attrs, cx: sx.toFixed(1), cy: sy.toFixed(1), r: rp.toFixed(1) });
      } else {
        // Azimuth clockwise from north: screen x = sin, screen y = -cos; sweep-flag 1 is clockwise.
        const at = (deg) => {
          const a = deg * Math.PI / 180;
          return `${(sx + rp * Math.sin(a)).toFixed(1)},${(sy - rp * Math.cos(a)).toFixed(1)}`;
        };
        const d = `M${sx.toFixed(1)},${sy.toFixed(1)} L${at(yaw - width / 2)} A${rp.toFixed(1)},${rp.toFixed(1)} 0 ${width > 180 ? 1 : 0} 1 ${at(yaw + width / 2)} Z`;
        node = svg('path', { ...attrs, d });
      }
      const elev = [num(cov.min_elevation_deg), num(cov.max_elevation_deg)];
      const elevText = elev[0] === null && elev[1] === null ? '' : `, elevation ${elev[0] ?? -90}° to ${elev[1] ?? 90}°`;
      const dir = width >= 360 ? 'all round' : `${width}° centred on ${pad3(Math.round(((yaw % 360) + 360) % 360))}°`;
      node.appendChild(svg('title', null, `${str(id)} coverage: ${fmtDist(range)}, ${dir}${elevText}`));
      layer.appendChild(node);
    }
  }

  // ---------------------------------------------------------------- time to breach
  /** Seconds on the server's data clock (track times), however this browser's clock is set. */
  const dataNow = () => (state.past ? state.past.t : Date.now() / 1000 + state.clockSkew);

  function noteDataTime(tracks) {
    let latest = null;
    for (const t of tracks || []) if (t && num(t.t_unix) !== null && (latest === null || t.t_unix > latest)) latest = t.t_unix;
    if (latest !== null) state.clockSkew = latest - Date.now() / 1000;
  }

  const isPreAlert = (a) => a.rule === 'time_to_breach' && (needsAck(a) || a.state === 'acknowledged');

  /** When a pre-alert's object is predicted to enter the zone (UNIX s), or null: the track's
   * live prediction (track.breaches, refreshed with every track update), else the one the
   * alert was raised with. */
  function breachDueT(a) {
    const track = state.tracks.get(str(a.track_id));
    const live = track && (track.breaches || []).find((b) => str(b.zone_id) === str(a.zone_id));
    if (live && num(live.time_to_breach_s) !== null && num(track.t_unix) !== null) {
      return track.t_unix + live.time_to_breach_s;
    }
    const ttb = num(a.time_to_breach_s);
    const t0 = num(a.raised_t_unix);
    return ttb === null || t0 === null ? null : t0 + ttb;
  }

  function breachText(dueT) {
    const left = dueT - dataNow();
    return left >= 0.5 ? `in ${Math.round(left)} s` : `due ${Math.round(-left)} s ago`;
  }

  /** The predicted entry point of each open pre-alert, joined to its track's position. */
  function renderBreachPoints(layer) {
    clear(layer);
    for (const a of state.alerts.values()) {
      if (!isPreAlert(a)) continue;
      const p = projectPoint(a.breach_point);
      if (!p) continue;
      const [bx, by] = toScreen(p[0], p[1]);
      const lvl = cssToken(a.zone_level);
      const t = state.tracks.get(str(a.track_id));
      const tp = t ? projectPoint(t.position) : null;
      if (tp) {
        const [sx, sy] = toScreen(tp[0], tp[1]);
        layer.appendChild(svg('line', { class: `breach-path lvl-${lvl}`, x1: sx, y1: sy, x2: bx, y2: by }));
      }
      const g = svg('g', { class: `breach-mark lvl-${lvl}`, transform: `translate(${bx.toFixed(1)},${by.toFixed(1)})`, 'data-breach-alert-id': str(a.alert_id) });
      g.appendChild(svg('circle', { r: 7 }));
      g.appendChild(svg('path', { d: 'M-4,-4 L4,4 M-4,4 L4,-4' }));
      const due = breachDueT(a);
      const when = due === null ? '' : ` ${breachText(due)}`;
      g.appendChild(svg('title', null, `Predicted entry of ${str(a.track_id)} into ${zoneName(a.zone_id)}${when}`));
      layer.appendChild(g);
      const label = `${str(a.track_id)}${when}`;
      layer.appendChild(svg('text', { class: `breach-label lvl-${lvl}`, x: bx + 10, y: by - 8 }, label));
      occupied.push(labelBox(bx - 8, by - 20, 18 + 6.2 * label.length, 28));
    }
  }

  function renderSensors(layer) {
    clear(layer);
    for (const s of state.sensors.values()) {
      const p = projectPoint(s.position);
      if (!p) continue;
      const [sx, sy] = toScreen(p[0], p[1]);
      const g = svg('g', { class: `sensor-mark st-${cssToken(s.state)}`, transform: `translate(${sx.toFixed(1)},${sy.toFixed(1)})`, 'data-sensor-id': str(s.sensor_id) });
      g.appendChild(svg('rect', { class: `sensor st-${cssToken(s.state)}`, x: -5, y: -5, width: 10, height: 10 }));
      g.appendChild(svg('text', { class: 'sensor-label', x: 9, y: 4 }, s.sensor_id));
      occupied.push(labelBox(sx - 6, sy - 7, 16 + 6.5 * str(s.sensor_id).length, 14));
      const title = svg('title', null, `${str(s.sensor_id)} (${str(s.driver)}): ${str(s.state)} ${str(s.detail)}`);
      g.appendChild(title);
      layer.appendChild(g);
    }
  }

  function openAlertTrackIds() {
    const raised = new Set();
    for (const a of state.alerts.values()) if (needsAck(a)) raised.add(a.track_id);
    return raised;
  }

  const trackNodes = new Map(); // track_id -> <g data-track-id>

  function renderTracks(trailLayer, linkLayer, trackLayer, labelLayer) {
    clear(trailLayer);
    clear(linkLayer);
    // Track symbols are kept per id across frames (only their content and position
    // change), so a click or a test locator holding one is not cut off by a redraw.
    const seen = new Set();
    clear(labelLayer);
    const alerted = openAlertTrackIds();
    const list = [...state.tracks.values()];
    const labelQueue = [];
    // Paint threats last so they are on top.
    const rank = (t) => (t.object_class === 'drone' ? 3 : t.object_class === 'unknown' ? 2 : 1);
    list.sort((a, b) => rank(a) - rank(b));
    for (const t of list) {
      const p = projectPoint(t.position);
      if (!p) continue;
      const [sx, sy] = toScreen(p[0], p[1]);
      const cls = cssToken(t.object_class);
      const st = cssToken(t.status);
      const id = str(t.track_id);

      // trail
      const trail = state.trails.get(id);
      if (trail && trail.length > 1) {
        const pts = trail.map(([la, lo]) => {
          const w = project(la, lo);
          const q = toScreen(w[0], w[1]);
          return `${q[0].toFixed(1)},${q[1].toFixed(1)}`;
        }).join(' ');
        trailLayer.appendChild(svg('polyline', { class: `trail cls-${cls} st-${st}`, points: pts }));
      }

      // pilot (Remote ID operator position) joined to the drone
      const pp = projectPoint(t.pilot);
      if (pp) {
        const [px, py] = toScreen(pp[0], pp[1]);
        linkLayer.appendChild(svg('line', { class: `pilot-link cls-${cls}`, x1: sx, y1: sy, x2: px, y2: py }));
        const pg = svg('g', { class: 'pilot-mark', transform: `translate(${px.toFixed(1)},${py.toFixed(1)})` });
        pg.appendChild(svg('circle', { r: 6 }));
        pg.appendChild(svg('path', { d: 'M-3.5,0 H3.5 M0,-3.5 V3.5' }));
        pg.appendChild(svg('title', null, `Pilot of ${id}`));
        linkLayer.appendChild(pg);
        labelLayer.appendChild(svg('text', { class: 'pilot-label', x: px + 9, y: py + 4 }, `pilot ${id}`));
        occupied.push(labelBox(px - 7, py - 8, 16 + 6.5 * (6 + id.length), 16));
      }
      // home (take-off) point from Remote ID or DroneID, joined to the drone
      const hp = projectPoint(t.home);
      if (hp) {
        const [hx, hy] = toScreen(hp[0], hp[1]);
        linkLayer.appendChild(svg('line', { class: `home-link cls-${cls}`, x1: sx, y1: sy, x2: hx, y2: hy }));
        const hg = svg('g', { class: 'home-mark', transform: `translate(${hx.toFixed(1)},${hy.toFixed(1)})` });
        hg.appendChild(svg('path', { d: 'M-6,5 V-1 L0,-7 L6,-1 V5 Z' }));
        hg.appendChild(svg('title', null, `Home point of ${id}`));
        linkLayer.appendChild(hg);
        labelLayer.appendChild(svg('text', { class: 'home-label', x: hx + 9, y: hy + 4 }, `home ${id}`));
        occupied.push(labelBox(hx - 7, hy - 8, 16 + 6.5 * (5 + id.length), 16));
      }

      let g = trackNodes.get(id);
      if (!g) {
        g = svg('g');
        g.setAttribute('data-track-id', id);
        trackNodes.set(id, g);
      }
      seen.add(id);
      clear(g);
      g.setAttribute('class', `track cls-${cls} st-${st}${state.selected === id ? ' selected' : ''}${alerted.has(id) ? ' alerted' : ''}`);
      g.setAttribute('transform', `translate(${sx.toFixed(1)},${sy.toFixed(1)})`);
      // velocity vector: VECTOR_S seconds of travel
      const v = Array.isArray(t.velocity_enu_mps) ? t.velocity_enu_mps : [0, 0, 0];
      const ve = num(v[0]) || 0;
      const vn = num(v[1]) || 0;
      if (Math.hypot(ve, vn) > 0.3) {
        g.appendChild(svg('line', { class: 'vector', x1: 0, y1: 0, x2: ve * VECTOR_S * state.view.scale, y2: -vn * VECTOR_S * state.view.scale }));
      }
      if (alerted.has(id)) g.appendChild(svg('circle', { class: 'alert-ring', r: 16 }));
      if (state.selected === id) g.appendChild(svg('circle', { class: 'select-ring', r: 13 }));
      // generous invisible hit target
      g.appendChild(svg('circle', { class: 'hit', r: 13 }));
      if (cls === 'manned_aircraft') g.appendChild(svg('circle', { class: 'sym', r: 7 }));
      else g.appendChild(svg('path', { class: 'sym', d: SHAPES[cls] || SHAPES.unknown }));
      g.appendChild(svg('title', null, `${id} ${CLASS_LABEL[t.object_class] || str(t.object_class)} (${str(t.status)})`));
      trackLayer.appendChild(g);
      occupied.push(labelBox(sx - 8, sy - 8, 16, 16));

      labelQueue.push({ t, id, cls, st, sx, sy, ve });
    }
    for (const [id, g] of trackNodes) {
      if (!seen.has(id)) {
        g.remove();
        trackNodes.delete(id);
      }
    }
    // Labels after all symbols, threats first, each in the first free spot around its
    // symbol (right, left, below, above), avoiding zone/sensor names and other labels.
    labelQueue.reverse();
    for (const q of labelQueue) placeTrackLabel(labelLayer, q);
  }

  function placeTrackLabel(layer, q) {
    const { t, id, cls, st, sx, sy, ve } = q;
    const serialFull = serialOf(t);
    const serial = serialFull.length > 24 ? `${serialFull.slice(0, 23)}…` : serialFull;
    const h = heightOf(t);
    const spd = speedOf(t);
    const kin = `${h === null ? '—' : Math.round(h)} m · ${spd === null ? '—' : spd.toFixed(1)} m/s`;
    const badges = [t.exercise ? 'EXERCISE' : '', t.friendly ? 'FRIEND' : ''].filter(Boolean);
    const badgeW = badges.reduce((sum, b) => sum + 6 + 6.4 * b.length, 0);
    const w = Math.max(7.2 * id.length + (serial ? 6 + 6.4 * serial.length : 0) + badgeW, 6.4 * kin.length) + 4;
    const hgt = 28;
    // Prefer the side away from the velocity vector.
    const right = ve <= 0.3;
    const cands = [
      [12, -16], [-12 - w, -16], [12, 6], [-12 - w, 6], [-w / 2, 12], [-w / 2, -14 - hgt], [12, -34], [-12 - w, -34],
    ];
    if (!right) [cands[0], cands[1], cands[2], cands[3]] = [cands[1], cands[0], cands[3], cands[2]];
    const v = state.view;
    const inView = (b) => b.x0 >= 4 && b.y0 >= 4 && b.x1 <= v.w - 4 && b.y1 <= v.h - 4;
    let pick = null;
    let fallback = null;
    for (const c of cands) {
      const box = labelBox(sx + c[0], sy + c[1], w, hgt);
      if (!inView(box)) continue;
      if (!fallback) fallback = c;
      if (!occupied.some((o) => overlaps(o, box))) {
        pick = c;
        break;
      }
    }
    pick = pick || fallback || cands[0];
    occupied.push(labelBox(sx + pick[0], sy + pick[1], w, hgt));
    const lx = sx + pick[0] + 2;
    const ly = sy + pick[1] + 11;
    const text = svg('text', { class: `track-label cls-${cls} st-${st}`, x: lx, y: ly });
    text.appendChild(svg('tspan', { class: 'tl-id' }, id));
    if (t.exercise) text.appendChild(svg('tspan', { class: 'tl-exercise', dx: 6 }, 'EXERCISE'));
    if (t.friendly) text.appendChild(svg('tspan', { class: 'tl-friend', dx: 6 }, 'FRIEND'));
    if (serial) text.appendChild(svg('tspan', { class: 'tl-serial', dx: 6 }, serial));
    text.appendChild(svg('tspan', { class: 'tl-kin', x: lx, dy: 13 }, kin));
    layer.appendChild(text);
  }

  function renderOverlay(layer) {
    clear(layer);
    const v = state.view;
    // north arrow, top left
    const na = svg('g', { class: 'north', transform: 'translate(34,44)' });
    na.appendChild(svg('circle', { r: 20 }));
    na.appendChild(svg('path', { class: 'north-arrow', d: 'M0,-15 L6,6 L0,2 L-6,6 Z' }));
    na.appendChild(svg('text', { x: 0, y: -24 }, 'N'));
    layer.appendChild(na);
    // scale bar, bottom left (above the legend)
    const maxM = 160 / v.scale;
    const m = niceScaleLength(maxM);
    const w = m * v.scale;
    const x0 = 20;
    const y0 = v.h - 52;
    const sb = svg('g', { class: 'scalebar', transform: `translate(${x0},${y0})` });
    sb.appendChild(svg('rect', { class: 'sb-bg', x: -8, y: -20, width: w + 16, height: 30, rx: 4 }));
    sb.appendChild(svg('path', { class: 'sb-line', d: `M0,-6 V2 H${w.toFixed(1)} V-6 M${(w / 2).toFixed(1)},-3 V2` }));
    sb.appendChild(svg('text', { x: w / 2, y: -9 }, fmtDist(m)));
    layer.appendChild(sb);
  }

  /** With no site configured, centre the picture on the first sensor or track seen. */
  function ensureRef() {
    if (state.ref || !state.sitesLoaded) return !!state.ref;
    const pos = [...state.sensors.values()].map((s) => s.position).concat([...state.tracks.values()].map((t) => t.position))
      .find((p) => p && num(p.lat_deg) !== null && num(p.lon_deg) !== null);
    if (!pos) return false;
    setReference({ reference: pos });
    return true;
  }

  /** HTML overlays on the map (controls, legend, detail card) as screen boxes to keep labels off. */
  function overlayBoxes() {
    const m = $('map').getBoundingClientRect();
    const boxes = [labelBox(0, 0, 64, 74)]; // north arrow
    const sb = 160 + 24;
    boxes.push(labelBox(0, state.view.h - 80, sb, 40)); // scale bar
    for (const id of ['legend', 'map-controls', 'track-detail', 'stale-banner', 'past-banner']) {
      const e = document.querySelector(`#map-wrap > .${id}, #${id}`);
      if (!e || e.hidden) continue;
      const r = e.getBoundingClientRect();
      if (!r.width) continue;
      boxes.push(labelBox(r.left - m.left - 4, r.top - m.top - 4, r.width + 8, r.height + 8));
    }
    return boxes;
  }

  function renderMap() {
    if (!ensureRef() || !state.view.w) return;
    occupied = [];
    renderTiles($('layer-tiles'));
    renderCoverage($('layer-coverage'));
    renderRings($('layer-rings'));
    renderZones($('layer-zones'));
    occupied.push(...overlayBoxes());
    renderSensors($('layer-sensors'));
    renderBreachPoints($('layer-breach'));
    renderTracks($('layer-trails'), $('layer-links'), $('layer-tracks'), $('layer-labels'));
    renderOverlay($('layer-overlay'));
  }

  // ---------------------------------------------------------------- rendering: panels
  function sortAlerts(list) {
    return list.sort((a, b) => {
      const ra = needsAck(a) ? 1 : 0;
      const rb = needsAck(b) ? 1 : 0;
      if (ra !== rb) return rb - ra;
      const la = LEVEL_RANK[a.zone_level] || 0;
      const lb = LEVEL_RANK[b.zone_level] || 0;
      if (la !== lb) return lb - la;
      return (num(b.raised_t_unix) || 0) - (num(a.raised_t_unix) || 0);
    });
  }

  function alertTrackText(a) {
    const t = state.tracks.get(a.track_id) || a.track;
    const serial = serialOf(t);
    return serial ? `${str(a.track_id)} · ${serial}` : str(a.track_id);
  }

  const alertCards = new Map(); // alert_id -> {sig, card}

  /** Cards are rebuilt only when what they show changed, so an Acknowledge click is not
   * lost to a redraw triggered by some other alert. */
  function renderAlerts() {
    const box = $('alerts');
    const list = sortAlerts([...state.alerts.values()]);
    const seen = new Set();
    list.forEach((a, i) => {
      const sig = JSON.stringify([a.state, a.zone_level, zoneName(a.zone_id), alertTrackText(a), a.rule, a.raised_t_unix,
        a.acknowledged_by, a.acknowledged_t_unix, a.note, state.past && state.past.t]);
      seen.add(a.alert_id);
      let entry = alertCards.get(a.alert_id);
      if (!entry || entry.sig !== sig) {
        const card = buildAlertCard(a);
        if (entry) entry.card.replaceWith(card);
        entry = { sig, card };
        alertCards.set(a.alert_id, entry);
      }
      if (box.children[i] !== entry.card) box.insertBefore(entry.card, box.children[i] || null);
    });
    for (const [id, entry] of alertCards) {
      if (!seen.has(id)) {
        entry.card.remove();
        alertCards.delete(id);
      }
    }
    $('alerts-empty').hidden = list.length > 0 || state.tab !== 'queue';
    const liveList = [...live.alerts.values()];
    const raised = liveList.filter((a) => needsAck(a)).length;
    $('count-alerts').textContent = String(liveList.length);
    $('count-raised').textContent = String(raised);
    $('count-raised').parentElement.classList.toggle('hot', raised > 0);
    $('tab-queue-count').textContent = String(list.length);
    $('tab-queue-count').classList.toggle('hot', raised > 0);
  }

  function buildAlertCard(a) {
    const lvl = cssToken(a.zone_level);
    const st = cssToken(a.state);
    const card = el('div', `alert lvl-${lvl} st-${st}`);
    card.setAttribute('data-alert-id', str(a.alert_id));

    const head = el('div', 'alert-head');
    head.appendChild(el('span', `lvl-badge lvl-${lvl}`, str(a.zone_level).toUpperCase()));
    if (a.exercise) head.appendChild(el('span', 'exercise-badge', 'EXERCISE'));
    head.appendChild(el('span', 'alert-zone', zoneName(a.zone_id)));
    head.appendChild(el('span', `state-badge st-${st}`, a.state === 'acknowledged' ? 'ACK' : str(a.state).toUpperCase()));
    card.appendChild(head);

    const body = el('div', 'alert-body');
    const trk = el('button', 'linklike alert-track', alertTrackText(a));
    trk.type = 'button';
    trk.title = 'Select track';
    trk.addEventListener('click', () => selectTrack(a.track_id, true));
    body.appendChild(trk);
    const due = isPreAlert(a) ? breachDueT(a) : null;
    if (due !== null) {
      // A pre-alert counts down to its predicted breach instead of naming its rule.
      const ttb = el('span', 'alert-rule ttb', breachText(due));
      ttb.setAttribute('data-breach-t', String(due));
      ttb.title = 'time to breach: predicted entry into the zone';
      body.appendChild(ttb);
    } else {
      body.appendChild(el('span', 'alert-rule', str(a.rule).replace(/_/g, ' ')));
    }
    card.appendChild(body);

    const time = el('div', 'alert-time');
    time.appendChild(el('span', null, `raised ${utcTime(a.raised_t_unix)}Z`));
    const ageSpan = el('span', 'age', age(a.raised_t_unix));
    ageSpan.setAttribute('data-age-t', str(a.raised_t_unix));
    time.appendChild(ageSpan);
    card.appendChild(time);

    if (a.state === 'acknowledged') {
      const ack = el('div', 'alert-ack', `ack by ${str(a.acknowledged_by) || '?'} at ${utcTime(a.acknowledged_t_unix)}Z`);
      card.appendChild(ack);
      if (a.note) card.appendChild(el('div', 'alert-note', `“${str(a.note)}”`));
    }
    if (state.past) {
      card.appendChild(el('div', 'alert-past', `state at ${utcTime(state.past.t)}Z (past view)`));
    } else if (needsAck(a)) {
      const btn = el('button', 'btn btn-ack ack', 'Acknowledge');
      btn.type = 'button';
      btn.addEventListener('click', () => openAckDialog(a.alert_id));
      card.appendChild(btn);
    }
    return card;
  }

  const trackRows = new Map(); // track_id -> {tr, cells}

  /** Rows are kept per track and updated in place, so clicks are never lost to a redraw. */
  function renderTrackList() {
    const body = $('tracks');
    const list = [...state.tracks.values()].sort((a, b) => {
      const r = (t) => (t.object_class === 'drone' ? 0 : t.object_class === 'unknown' ? 1 : t.object_class === 'manned_aircraft' ? 2 : 3);
      return r(a) - r(b) || str(a.track_id).localeCompare(str(b.track_id), undefined, { numeric: true });
    });
    const seen = new Set();
    list.forEach((t, i) => {
      const id = str(t.track_id);
      seen.add(id);
      let row = trackRows.get(id);
      if (!row) {
        const tr = el('tr');
        tr.setAttribute('data-track-row', id);
        const cells = {};
        const sw = el('td');
        sw.appendChild(el('span', 'swatch'));
        tr.appendChild(sw);
        tr.appendChild(el('td', 'mono', id));
        for (const [k, cls] of [['cls', null], ['ident', 'mono ellipsis'], ['h', 'r mono'], ['spd', 'r mono'], ['status', 'status']]) {
          cells[k] = el('td', cls);
          tr.appendChild(cells[k]);
        }
        tr.addEventListener('click', () => selectTrack(id, true));
        row = { tr, cells };
        trackRows.set(id, row);
      }
      const { tr, cells } = row;
      const cls = `track-row cls-${cssToken(t.object_class)} st-${cssToken(t.status)}${state.selected === id ? ' selected' : ''}`;
      if (tr.className !== cls) tr.className = cls;
      const serial = serialOf(t);
      const h = heightOf(t);
      const spd = speedOf(t);
      setText(cells.cls, CLASS_SHORT[t.object_class] || str(t.object_class));
      setText(cells.ident, serial || '—');
      cells.ident.title = serial;
      setText(cells.h, h === null ? '—' : String(Math.round(h)));
      setText(cells.spd, spd === null ? '—' : spd.toFixed(1));
      setText(cells.status, str(t.status));
      cells.status.className = `status st-${cssToken(t.status)}`;
      if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
    });
    for (const [id, row] of trackRows) {
      if (!seen.has(id)) {
        row.tr.remove();
        trackRows.delete(id);
      }
    }
    $('tracks-empty').hidden = list.length > 0;
    $('tracks-count').textContent = String(list.length);
    $('count-tracks').textContent = String(list.length);
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function renderSensorList() {
    const box = $('sensors');
    clear(box);
    const list = [...state.sensors.values()].sort((a, b) => str(a.sensor_id).localeCompare(str(b.sensor_id), undefined, { numeric: true }));
    const order = { offline: 0, degraded: 1, ok: 2 };
    list.sort((a, b) => (order[a.state] ?? 3) - (order[b.state] ?? 3));
    for (const s of list) {
      const st = cssToken(s.state);
      const row = el('div', `sensor-row st-${st}`);
      row.setAttribute('data-sensor-id', str(s.sensor_id));
      const top = el('div', 'sensor-top');
      top.appendChild(el('span', `dot st-${st}`));
      top.appendChild(el('span', 'sensor-id mono', s.sensor_id));
      top.appendChild(el('span', 'sensor-driver', s.driver));
      top.appendChild(el('span', `state-text st-${st}`, str(s.state).toUpperCase()));
      row.appendChild(top);
      const c = s.counters || {};
      const counters = el('div', 'sensor-counters mono');
      const add = (label, v) => {
        const span = el('span', 'ctr');
        span.appendChild(el('span', 'ctr-k', label));
        span.appendChild(el('span', `ctr-v${label === 'malformed' && v > 0 ? ' warn' : ''}`, num(v) === null ? '—' : v));
        counters.appendChild(span);
      };
      add('frames', c.frames);
      add('detections', c.detections);
      add('malformed', c.malformed);
      const upd = el('span', 'ctr age');
      upd.setAttribute('data-age-t', str(s.t_unix));
      upd.textContent = age(s.t_unix);
      upd.title = `last status ${utcDateTime(s.t_unix)}Z`;
      counters.appendChild(upd);
      row.appendChild(counters);
      if (s.detail) row.appendChild(el('div', 'sensor-detail', s.detail));
      box.appendChild(row);
    }
    if (!list.length) box.appendChild(el('div', 'empty', 'No sensors reported'));
    $('sensors-count').textContent = String(list.length);
  }

  function renderDetail() {
    const card = $('track-detail');
    if (!state.selected) {
      card.hidden = true;
      return;
    }
    const live = state.tracks.get(state.selected);
    const t = live || state.selectedLost;
    if (!t) {
      card.hidden = true;
      return;
    }
    card.hidden = false;
    const cls = cssToken(t.object_class);
    $('td-swatch').className = `td-swatch cls-${cls}`;
    $('td-title').textContent = `${str(t.track_id)} · ${CLASS_LABEL[t.object_class] || str(t.object_class)}`;
    const status = live ? str(t.status) : 'lost';
    const badge = $('td-status');
    badge.textContent = status;
    badge.className = `badge st-${cssToken(status)}`;
    const dl = $('td-body');
    clear(dl);
    const row = (k, v, cls2) => {
      dl.appendChild(el('dt', null, k));
      dl.appendChild(el('dd', cls2 || null, v === null || v === undefined || v === '' ? '—' : v));
    };
    const sources = Array.isArray(t.class_sources) && t.class_sources.length ? t.class_sources : t.class_source ? [t.class_source] : [];
    const from = sources.length ? ` (from ${sources.map((s) => str(s).replace(/_/g, ' ')).join(', ')})` : ' (no source)';
    row('Class', `${CLASS_LABEL[t.object_class] || str(t.object_class)}${from}`);
    if (t.class_belief && typeof t.class_belief === 'object') {
      const parts = Object.entries(t.class_belief)
        .filter(([, v]) => num(v) !== null)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${CLASS_SHORT[k] || str(k)} ${num(v).toFixed(2)}`);
      row('Belief', parts.join(' · '), 'mono');
    }
    if (Array.isArray(t.flags) && t.flags.includes('possible_spoof')) {
      row('Warning', 'possible spoofed Remote ID: its identity was also heard where this object cannot be', 'flag-spoof');
    }
    const mine = sortAlerts([...state.alerts.values()].filter((a) => str(a.track_id) === str(t.track_id) && a.zone_id));
    for (const a of mine) {
      const lvl = cssToken(a.zone_level);
      if (isPreAlert(a)) {
        const due = breachDueT(a);
        dl.appendChild(el('dt', `breach-k lvl-${lvl}`, 'Breach'));
        const dd = el('dd', `breach mono lvl-${lvl}`);
        dd.setAttribute('data-breach-zone', zoneName(a.zone_id));
        if (due !== null) dd.setAttribute('data-breach-t', String(due));
        dd.textContent = breachRowText(zoneName(a.zone_id), due);
        dl.appendChild(dd);
      } else if (a.rule === 'drone_in_zone') {
        dl.appendChild(el('dt', `breach-k lvl-${lvl}`, 'In zone'));
        dl.appendChild(el('dd', `breach mono lvl-${lvl}`, `${zoneName(a.zone_id)} since ${utcTime(a.updated_t_unix)}Z`));
      }
    }
    const id = t.identity || {};
    const idRows = [['RID serial', id.rid_serial], ['CAA ID', id.caa_id], ['Operator ID', id.operator_id], ['ICAO24', id.icao24], ['MAC', id.mac], ['Sensor trk', id.sensor_track_id]];
    let anyId = false;
    for (const [k, v] of idRows) {
      if (v) {
        row(k, str(v), 'mono');
        anyId = true;
      }
    }
    if (!anyId) row('Identity', 'none broadcast');
    row('Sensors', Array.isArray(t.sensors) && t.sensors.length ? t.sensors.map(str).join(', ') : '—', 'mono');
    const spd = speedOf(t);
    const hdg = headingOf(t);
    const vu = Array.isArray(t.velocity_enu_mps) ? num(t.velocity_enu_mps[2]) : null;
    row('Speed', spd === null ? '—' : `${spd.toFixed(1)} m/s${hdg === null ? '' : ` · hdg ${pad3(Math.round(hdg) % 360)}°`}${vu === null ? '' : ` · ${vu >= 0 ? '+' : ''}${vu.toFixed(1)} m/s vert`}`, 'mono');
    const h = heightOf(t);
    row('Height', h === null ? '—' : `${Math.round(h)} m above site ref`, 'mono');
    row('Altitude', t.position ? fmt(t.position.alt_m, 0, ' m WGS84') : '—', 'mono');
    row('Position', t.position ? `${fmt(t.position.lat_deg, 5)}, ${fmt(t.position.lon_deg, 5)}` : '—', 'mono');
    const p = projectPoint(t.position);
    if (p) {
      const rng = Math.hypot(p[0], p[1]);
      const brg = (Math.atan2(p[0], p[1]) * 180 / Math.PI + 360) % 360;
      row('From ref', `${fmtDist(rng)} · brg ${pad3(Math.round(brg) % 360)}°`, 'mono');
    }
    row('Pos. std', fmt(t.position_std_m, 1, ' m'), 'mono');
    if (t.pilot) {
      const pp = projectPoint(t.pilot);
      let d = '';
      if (p && pp) d = ` · ${fmtDist(Math.hypot(p[0] - pp[0], p[1] - pp[1]))} from drone`;
      row('Pilot', `${fmt(t.pilot.lat_deg, 5)}, ${fmt(t.pilot.lon_deg, 5)}${d}`, 'mono');
    }
    if (t.home) {
      const hp = projectPoint(t.home);
      const d = p && hp ? ` · ${fmtDist(Math.hypot(p[0] - hp[0], p[1] - hp[1]))} from drone` : '';
      row('Home', `${fmt(t.home.lat_deg, 5)}, ${fmt(t.home.lon_deg, 5)}${d}`, 'mono');
    }
    if (t.friendly) row('Friend', str(t.friendly), 'friend');
    if (t.exercise) row('Exercise', 'fed by an injected exercise scenario', 'exercise');
    row('Status', live ? str(t.status) : 'no longer held (deleted)');
    row('Hits', num(t.hits) === null ? '—' : String(t.hits), 'mono');
    const upd = el('dd', 'mono age');
    upd.setAttribute('data-age-t', str(t.t_unix));
    upd.textContent = `${utcTime(t.t_unix)}Z (${age(t.t_unix)} ago)`;
    dl.appendChild(el('dt', null, 'Updated'));
    dl.appendChild(upd);
  }

  const pad3 = (n) => String(n).padStart(3, '0');

  const breachRowText = (zone, dueT) => `${zone}: ${dueT === null ? 'predicted' : breachText(dueT)}`;

  /** A banner while any exercise sensor reports, or an exercise track or open alert exists. */
  function renderExerciseBanner() {
    let banner = $('exercise-banner');
    const live = [...state.sensors.values()].some((s) => s.exercise && s.state !== 'offline')
      || [...state.tracks.values()].some((t) => t.exercise)
      || [...state.alerts.values()].some((a) => a.exercise && (needsAck(a) || a.state === 'acknowledged'));
    if (!banner) {
      if (!live) return;
      banner = el('div', 'exercise-banner', 'EXERCISE IN PROGRESS: items marked EXERCISE come from an injected scenario');
      banner.id = 'exercise-banner';
      banner.setAttribute('role', 'status');
      document.body.prepend(banner);
    }
    banner.hidden = !live;
  }

  function renderPanels() {
    renderExerciseBanner();
    renderAlerts();
    renderTrackList();
    renderSensorList();
    renderDetail();
  }

  let panelsQueued = false;
  function schedulePanels() {
    if (panelsQueued) return;
    panelsQueued = true;
    // Panels are cheaper to redraw less often than the map and must not steal clicks
    // mid-press: coalesce to at most ~4 Hz.
    setTimeout(() => {
      panelsQueued = false;
      renderPanels();
    }, 250);
  }

  function selectTrack(id, center) {
    state.selected = id || null;
    state.selectedLost = null;
    if (id && center) {
      const t = state.tracks.get(id);
      const p = t ? projectPoint(t.position) : null;
      if (p) {
        const [sx, sy] = toScreen(p[0], p[1]);
        const v = state.view;
        if (sx < 40 || sy < 40 || sx > v.w - 40 || sy > v.h - 40) {
          v.cx = p[0];
          v.cy = p[1];
          state.userMoved = true;
        }
      }
    }
    renderDetail();
    renderTrackList();
    scheduleRender();
  }

  // ---------------------------------------------------------------- data ingest
  function applySites(sites) {
    state.sites = Array.isArray(sites) ? sites : [];
    state.sitesLoaded = true;
    state.zoneIndex.clear();
    for (const s of state.sites) for (const z of s.zones || []) state.zoneIndex.set(z.id, z);
    if (state.sites.length) {
      setReference(state.sites[0]);
      const names = state.sites.map((s) => s.name || s.id);
      $('site-name').textContent = names.length > 1 ? `${names[0]} (+${names.length - 1})` : names[0];
      $('site-name').title = names.join(', ');
      document.title = `cuas — ${names[0]}`;
    } else {
      $('site-name').textContent = 'no site configured';
    }
  }

  /** force: the update is authoritative (a snapshot) even if older than what we hold. */
  function upsertTrack(t, force = false) {
    if (!t || t.track_id === undefined || t.track_id === null) return;
    const id = str(t.track_id);
    if (t.status === 'deleted') {
      if (state.selected === id) state.selectedLost = live.tracks.get(id) || t;
      live.tracks.delete(id);
      live.trails.delete(id);
      return;
    }
    const prev = live.tracks.get(id);
    if (!force && prev && num(prev.t_unix) !== null && num(t.t_unix) !== null && t.t_unix < prev.t_unix) return; // stale
    live.tracks.set(id, t);
    const lat = t.position ? num(t.position.lat_deg) : null;
    const lon = t.position ? num(t.position.lon_deg) : null;
    if (lat === null || lon === null) return;
    // Trails keep geodetic points, projected at draw time (the site may load later).
    let trail = live.trails.get(id);
    if (!trail) {
      trail = [];
      live.trails.set(id, trail);
    }
    if (trail.length && num(t.t_unix) !== null && t.t_unix < trail[trail.length - 1][2]) trail.length = 0;
    const last = trail[trail.length - 1];
    if (!last || last[2] !== t.t_unix || last[0] !== lat || last[1] !== lon) {
      trail.push([lat, lon, t.t_unix]);
      if (trail.length > TRAIL_LEN) trail.splice(0, trail.length - TRAIL_LEN);
    }
  }

  function replaceTracks(list, force = false) {
    const keep = new Set();
    for (const t of list || []) {
      if (t && t.status !== 'deleted') keep.add(str(t.track_id));
    }
    for (const id of [...live.tracks.keys()]) {
      if (!keep.has(id)) {
        if (state.selected === id) state.selectedLost = live.tracks.get(id);
        live.tracks.delete(id);
        live.trails.delete(id);
      }
    }
    for (const t of list || []) upsertTrack(t, force);
  }

  /** Returns true if this update is a newly raised alert (for the beep). */
  function upsertAlert(a) {
    if (!a || a.alert_id === undefined || a.alert_id === null) return false;
    const prev = live.alerts.get(a.alert_id);
    if (prev && num(prev.updated_t_unix) !== null && num(a.updated_t_unix) !== null && a.updated_t_unix < prev.updated_t_unix) return false;
    if (a.state === 'cleared') {
      live.alerts.delete(a.alert_id);
      return false;
    }
    live.alerts.set(a.alert_id, a);
    return needsAck(a) && (!prev || !needsAck(prev));
  }

  function replaceAlerts(list) {
    live.alerts.clear();
    for (const a of list || []) upsertAlert(a);
  }

  function upsertSensor(s) {
    if (!s || s.sensor_id === undefined || s.sensor_id === null) return;
    const prev = state.sensors.get(s.sensor_id);
    if (prev && num(prev.t_unix) !== null && num(s.t_unix) !== null && s.t_unix < prev.t_unix) return;
    state.sensors.set(s.sensor_id, s);
  }

  function handleMessage(msg) {
    if (!msg || typeof msg !== 'object') return;
    state.lastMsg = Date.now();
    switch (msg.type) {
      case 'snapshot': {
        const hadSnapshot = state.snapshotSeen;
        const knownRaised = new Set([...live.alerts.values()].filter((a) => needsAck(a)).map((a) => a.alert_id));
        state.snapshotSeen = true;
        noteDataTime(msg.tracks);
        replaceTracks(Array.isArray(msg.tracks) ? msg.tracks : [], true);
        replaceAlerts(Array.isArray(msg.alerts) ? msg.alerts : []);
        if (hadSnapshot) {
          // After a reconnect: sound for alerts raised while we were away.
          const missed = [...live.alerts.values()].filter((a) => needsAck(a) && !knownRaised.has(a.alert_id));
          if (missed.length) beep(missed.some((a) => a.zone_level === 'critical') ? 'critical' : missed[0].zone_level);
        }
        if (Array.isArray(msg.sensors)) {
          state.sensors.clear();
          for (const s of msg.sensors) upsertSensor(s);
        }
        setConn('live');
        maybeAutoFit();
        renderPanels();
        scheduleRender();
        if (state.tab === 'history') loadHistory();
        break;
      }
      case 'tracks':
        noteDataTime(msg.items);
        for (const t of msg.items || []) upsertTrack(t);
        maybeAutoFit();
        scheduleRender();
        schedulePanels();
        break;
      case 'alerts': {
        let fresh = null;
        for (const a of msg.items || []) {
          if (upsertAlert(a)) {
            if (!fresh || (LEVEL_RANK[a.zone_level] || 0) > (LEVEL_RANK[fresh.zone_level] || 0)) fresh = a;
          }
        }
        if (fresh) beep(fresh.zone_level);
        if (state.past) renderPastBanner();
        renderAlerts();
        scheduleRender();
        if (state.tab === 'history') scheduleHistory();
        break;
      }
      case 'sensors':
        for (const s of msg.items || []) upsertSensor(s);
        schedulePanels();
        scheduleRender();
        break;
      default:
        break; // unknown message types are ignored (forward compatible)
    }
  }

  // ---------------------------------------------------------------- API key
  const KEY_STORE = 'cuas.apikey';
  let keyDeclined = false;

  function takeKeyFromFragment() {
    const m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
    if (!m) return;
    sessionStorage.setItem(KEY_STORE, decodeURIComponent(m[1]).trim());
    history.replaceState(null, '', location.pathname + location.search);
  }

  function apiKey() {
    return sessionStorage.getItem(KEY_STORE) || '';
  }

  function authHeaders(headers) {
    const key = apiKey();
    return key ? { ...headers, 'X-API-Key': key } : headers;
  }

  /** A 401 for a request sent with key `used`: ask for a key, unless one was entered since. */
  function keyRejected(used, body) {
    if (keyDeclined || apiKey() !== used) return;
    sessionStorage.removeItem(KEY_STORE);
    const why = errorDetail(body, 401);
    const key = window.prompt(`${why}\n\nAPI key for this cuas server (ask your administrator):`);
    if (key && key.trim()) {
      sessionStorage.setItem(KEY_STORE, key.trim());
      if (!ws) connect();  // the stream waits in its backoff: try the new key at once
    } else {
      keyDeclined = true;
      toast('No API key: this dashboard shows nothing until you reload and enter one.', 'error');
    }
  }

  // ---------------------------------------------------------------- REST
  async function getJSON(path) {
    const used = apiKey();
    const r = await fetch(API + path, { headers: authHeaders({ Accept: 'application/json' }), cache: 'no-store' });
    if (r.status === 401) keyRejected(used, await r.json().catch(() => null));
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.json();
  }

  function errorDetail(body, status) {
    if (body && typeof body === 'object') {
      const d = body.detail;
      if (typeof d === 'string') return d;
      if (Array.isArray(d)) return d.map((x) => (x && x.msg ? String(x.msg) : JSON.stringify(x))).join('; ');
      if (d !== undefined) return JSON.stringify(d);
    }
    return `request failed (HTTP ${status})`;
  }

  async function loadSites() {
    for (let attempt = 0; ; attempt++) {
      try {
        applySites(await getJSON('/sites'));
        return;
      } catch (e) {
        console.warn('cuas: loading sites failed, retrying', e);
        $('site-name').textContent = 'loading…';
        await new Promise((res) => setTimeout(res, Math.min(1000 * 2 ** attempt, 15000)));
      }
    }
  }

  /** Initial picture over REST, so the screen is useful even before the socket is up. */
  async function loadInitial() {
    const jobs = [
      getJSON('/sensors').then((list) => {
        for (const s of list || []) {
          if (s && s.coverage) state.sensorConf.set(s.sensor_id, { position: s.position, orientation: s.orientation, coverage: s.coverage });
        }
        scheduleRender();
        if (state.snapshotSeen) return;
        for (const s of list || []) upsertSensor(s);
      }),
      getJSON('/tracks').then((list) => {
        if (state.snapshotSeen) return;
        replaceTracks(list || []);
      }),
      getJSON('/alerts?state=raised&state=escalated&state=acknowledged&limit=300').then((r) => {
        if (state.snapshotSeen) return;
        replaceAlerts(r.items || []);
      }),
      getJSON('/ui').then((ui) => {
        state.ui = ui;
        renderAttribution();
        scheduleRender();
      }),
    ];
    const res = await Promise.allSettled(jobs);
    for (const x of res) if (x.status === 'rejected') console.warn('cuas: initial load', x.reason);
    maybeAutoFit();
    renderPanels();
    scheduleRender();
  }

  let historyTimer = null;
  function scheduleHistory() {
    clearTimeout(historyTimer);
    historyTimer = setTimeout(loadHistory, 500);
  }

  async function loadHistory() {
    const status = $('history-status');
    try {
      const res = await getJSON('/alerts?limit=50');
      const body = $('history-body');
      clear(body);
      const items = Array.isArray(res.items) ? res.items : [];
      for (const a of items) {
        const tr = el('tr', `hist-row st-${cssToken(a.state)}`);
        tr.setAttribute('data-history-alert-id', str(a.alert_id));
        tr.appendChild(el('td', 'mono', a.alert_id));
        tr.appendChild(el('td', 'mono', utcTime(a.raised_t_unix)));
        const z = el('td');
        z.appendChild(el('span', `lvl-dot lvl-${cssToken(a.zone_level)}`));
        z.appendChild(document.createTextNode(zoneName(a.zone_id)));
        tr.appendChild(z);
        const trk = el('td', 'mono ellipsis', alertTrackText(a));
        trk.title = alertTrackText(a);
        tr.appendChild(trk);
        const st = el('td', `state-text st-${cssToken(a.state)}`, a.state === 'acknowledged' && a.acknowledged_by ? `ack · ${str(a.acknowledged_by)}` : str(a.state));
        if (a.note) st.title = str(a.note);
        tr.appendChild(st);
        body.appendChild(tr);
      }
      const total = num(res.total);
      status.textContent = items.length ? `showing ${items.length}${total !== null ? ` of ${total}` : ''} most recent` : 'No alerts recorded';
    } catch (e) {
      status.textContent = `Could not load history: ${e.message}`;
    }
  }

  // ---------------------------------------------------------------- look back
  // The picture at a past time (GET /picture): the stored tracks with their trails and the
  // alerts open then, in their state then. The stream keeps filling the live maps meanwhile,
  // so "Live" shows the current picture at once. Past alerts never sound and cannot be
  // acknowledged; a new live alert still sounds and is named in the banner.
  const LOOKBACK_TRAIL_S = 30;
  let lbRange = null; // {oldest, now}: UNIX s, from GET /picture/range
  let lbRequest = 0; // the latest look-back request; answers to older ones are dropped
  let lbTimer = null;

  /** "YYYY-MM-DD HH:MM[:SS]" or "HH:MM[:SS]" (today), UTC -> UNIX s, or null. */
  function parseUtc(text) {
    const m = /^\s*(?:(\d{4})-(\d{2})-(\d{2})[ T])?(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d*)?))?\s*Z?\s*$/i.exec(text);
    if (!m || +m[4] > 23 || +m[5] > 59 || +(m[6] || 0) >= 60) return null;
    const today = new Date((Date.now() / 1000 + state.clockSkew) * 1000);
    const day = m[1]
      ? Date.UTC(+m[1], +m[2] - 1, +m[3])
      : Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
    if (m[1] && new Date(day).getUTCDate() !== +m[3]) return null; // e.g. 31 April
    return day / 1000 + +m[4] * 3600 + +m[5] * 60 + +(m[6] || 0);
  }

  async function loadRange() {
    try {
      const r = await getJSON('/picture/range');
      const oldest = num(r.oldest_t_unix);
      const now = num(r.now_t_unix);
      lbRange = oldest === null || now === null ? null : { oldest, now };
    } catch (e) {
      console.warn('cuas: history range', e);
    }
    renderLookback();
  }

  function renderLookback() {
    const slider = $('lb-slider');
    slider.disabled = !lbRange;
    if (lbRange && document.activeElement !== slider) {
      slider.min = String(Math.floor(lbRange.oldest));
      slider.max = String(Math.ceil(lbRange.now));
      slider.value = String(Math.round(state.past ? state.past.t : lbRange.now));
    }
    $('lb-live').disabled = !state.past;
    const status = $('lb-status');
    if (state.past) status.textContent = `Showing ${utcDateTime(state.past.t)}Z`;
    else if (!lbRange) status.textContent = 'No history stored yet.';
    else status.textContent = `History from ${utcDateTime(lbRange.oldest)}Z: drag the slider or enter a time.`;
  }

  async function showPast(t) {
    const req = ++lbRequest;
    clearTimeout(lbTimer);
    $('lb-status').textContent = `Loading ${utcDateTime(t)}Z…`;
    const used = apiKey();
    let r;
    let body = null;
    try {
      const q = `t=${encodeURIComponent(t)}&trail_s=${LOOKBACK_TRAIL_S}`;
      r = await fetch(`${API}/picture?${q}`, { headers: authHeaders({ Accept: 'application/json' }), cache: 'no-store' });
      try { body = await r.json(); } catch (_) { body = null; }
    } catch (e) {
      if (req === lbRequest) $('lb-status').textContent = `Could not load the picture: ${e.message}`;
      return;
    }
    if (req !== lbRequest) return; // superseded by a later time, or by Live
    if (r.status === 401) keyRejected(used, body);
    if (!r.ok || !body) {
      $('lb-status').textContent = errorDetail(body, r.status);
      return;
    }
    applyPast(body);
  }

  function applyPast(p) {
    const past = { t: p.t_unix, tracks: new Map(), trails: new Map(), alerts: new Map() };
    for (const a of p.alerts || []) if (a && a.alert_id !== undefined && a.alert_id !== null) past.alerts.set(a.alert_id, a);
    // Track history keeps position, class and status; an alert's snapshot adds the identity.
    const snaps = new Map();
    for (const a of past.alerts.values()) if (a.track) snaps.set(str(a.track_id), a.track);
    for (const t of p.tracks || []) {
      const id = str(t.track_id);
      const snap = snaps.get(id);
      past.tracks.set(id, {
        ...t,
        identity: (snap && snap.identity) || {},
        class_source: snap ? snap.class_source : null,
        velocity_enu_mps: trailVelocity(t.trail || []),
      });
      past.trails.set(id, (t.trail || []).map((q) => [q[1], q[2], q[0]]));
    }
    if (!state.past) closeAckDialog();
    state.past = past;
    $('lb-time').value = utcDateTime(past.t);
    renderPast();
  }

  /** History keeps no velocity: east/north/up m/s from the last two stored points (about a
   * second apart), or null. */
  function trailVelocity(trail) {
    if (trail.length < 2 || !state.ref) return null;
    const [t0, lat0, lon0, alt0] = trail[trail.length - 2];
    const [t1, lat1, lon1, alt1] = trail[trail.length - 1];
    const dt = t1 - t0;
    if (!(dt > 0)) return null;
    const up = num(alt0) !== null && num(alt1) !== null ? (alt1 - alt0) / dt : 0;
    return [(lon1 - lon0) * state.ref.cos0 * M_PER_DEG_LON / dt, (lat1 - lat0) * M_PER_DEG_LAT / dt, up];
  }

  function returnToLive() {
    lbRequest++;
    clearTimeout(lbTimer);
    if (!state.past) return;
    state.past = null;
    $('lb-time').value = '';
    renderPast();
    loadRange();
  }

  function renderPast() {
    document.body.classList.toggle('past', !!state.past);
    renderPastBanner();
    renderPastAlerts();
    renderLookback();
    renderPanels();
    scheduleRender();
  }

  function renderPastBanner() {
    $('past-banner').hidden = !state.past;
    if (!state.past) return;
    const p = state.past;
    $('past-text').textContent = `${utcDateTime(p.t)}Z · ${p.tracks.size} track${p.tracks.size === 1 ? '' : 's'}, ${p.alerts.size} open alert${p.alerts.size === 1 ? '' : 's'} then`;
    const waiting = [...live.alerts.values()].filter((a) => needsAck(a)).length;
    const note = $('past-live-note');
    note.hidden = waiting === 0;
    note.textContent = `LIVE: ${waiting} alert${waiting === 1 ? '' : 's'} to acknowledge`;
  }

  /** The alerts open at the past time, under the look-back control. */
  function renderPastAlerts() {
    const box = $('lb-alerts');
    clear(box);
    box.hidden = !state.past;
    if (!state.past) return;
    const list = sortAlerts([...state.past.alerts.values()]);
    const when = `${utcTime(state.past.t)}Z`;
    box.appendChild(el('div', 'label', list.length ? `Open at ${when}` : `No alert open at ${when}`));
    for (const a of list) box.appendChild(buildAlertCard(a));
  }

  function setupLookback() {
    const slider = $('lb-slider');
    const field = $('lb-time');
    const fromField = () => {
      const t = parseUtc(field.value);
      if (t === null) $('lb-status').textContent = 'Enter a UTC time: YYYY-MM-DD HH:MM:SS, or HH:MM:SS for today.';
      else showPast(t);
    };
    slider.addEventListener('input', () => {
      const t = +slider.value;
      field.value = utcDateTime(t);
      clearTimeout(lbTimer);
      lbTimer = setTimeout(() => showPast(t), 250);
    });
    slider.addEventListener('change', () => showPast(+slider.value));
    field.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') fromField();
    });
    $('lb-show').addEventListener('click', fromField);
    $('lb-live').addEventListener('click', returnToLive);
    $('past-live').addEventListener('click', returnToLive);
    renderLookback();
  }

  // ---------------------------------------------------------------- acknowledge
  function openAckDialog(alertId) {
    const a = state.past ? null : state.alerts.get(alertId);
    if (!a) return;
    state.ackTarget = alertId;
    $('ack-alert-label').textContent = `#${str(alertId)}`;
    $('ack-alert-summary').textContent = `${str(a.zone_level).toUpperCase()} · ${zoneName(a.zone_id)} · ${alertTrackText(a)} · raised ${utcTime(a.raised_t_unix)}Z`;
    const op = $('ack-operator');
    op.value = localStorage.getItem(OP_KEY) || '';
    $('ack-note').value = '';
    $('ack-error').hidden = true;
    $('ack-submit').disabled = false;
    $('ack-cancel').textContent = 'Cancel';
    const dlg = $('ack-dialog');
    if (typeof dlg.showModal === 'function') dlg.showModal();
    else dlg.setAttribute('open', '');
    (op.value ? $('ack-note') : op).focus();
  }

  function closeAckDialog() {
    const dlg = $('ack-dialog');
    if (dlg.open) {
      if (typeof dlg.close === 'function') dlg.close();
      else dlg.removeAttribute('open');
    }
    state.ackTarget = null;
  }

  async function submitAck(ev) {
    ev.preventDefault();
    const alertId = state.ackTarget;
    if (alertId === null || alertId === undefined) return;
    const operator = $('ack-operator').value.trim();
    const note = $('ack-note').value.trim();
    if (!operator) {
      showAckError('Enter your name.');
      $('ack-operator').focus();
      return;
    }
    localStorage.setItem(OP_KEY, operator);
    $('ack-submit').disabled = true;
    const payload = { operator };
    if (note) payload.note = note;
    try {
      const used = apiKey();
      const r = await fetch(`${API}/alerts/${encodeURIComponent(alertId)}/ack`, {
        method: 'POST',
        headers: authHeaders({ 'Content-Type': 'application/json', Accept: 'application/json' }),
        body: JSON.stringify(payload),
      });
      let body = null;
      try { body = await r.json(); } catch (_) { body = null; }
      if (r.status === 401) keyRejected(used, body);
      if (!r.ok) {
        const msg = errorDetail(body, r.status);
        showAckError(msg);
        toast(`Alert #${alertId}: ${msg}`, 'error');
        $('ack-submit').disabled = false;
        // A 404/409 usually means the alert moved on (cleared): refresh our view of it.
        refreshAlert(alertId);
        return;
      }
      if (body && body.alert_id !== undefined) upsertAlert(body);
      closeAckDialog();
      toast(`Alert #${alertId} acknowledged by ${operator}`, 'ok');
      renderAlerts();
      scheduleRender();
      if (state.tab === 'history') scheduleHistory();
    } catch (e) {
      showAckError(`Network error: ${e.message}`);
      $('ack-submit').disabled = false;
    }
  }

  async function refreshAlert(alertId) {
    try {
      const res = await getJSON('/alerts?limit=100');
      const found = (res.items || []).find((x) => x.alert_id === alertId);
      if (found) {
        upsertAlert(found);
        renderAlerts();
        scheduleRender();
      }
      // Nothing left to acknowledge: leave only Cancel in the dialog.
      const now = state.alerts.get(alertId);
      if (state.ackTarget === alertId && (!now || !needsAck(now))) {
        $('ack-submit').disabled = true;
        $('ack-cancel').textContent = 'Close';
      }
    } catch (_) { /* the stream will correct us */ }
  }

  function showAckError(msg) {
    const e = $('ack-error');
    e.textContent = msg;
    e.hidden = false;
  }

  function toast(msg, kind) {
    const box = $('toasts');
    const t = el('div', `toast ${kind || ''}`, msg);
    box.appendChild(t);
    setTimeout(() => t.remove(), kind === 'error' ? 9000 : 4000);
  }

  // ---------------------------------------------------------------- sound
  function ensureAudio() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    if (!state.sound.ctx) {
      try { state.sound.ctx = new AC(); } catch (_) { return null; }
    }
    if (state.sound.ctx.state === 'suspended') state.sound.ctx.resume().catch(() => {});
    return state.sound.ctx;
  }

  function renderSoundButton() {
    const b = $('sound-toggle');
    const ctx = state.sound.ctx;
    const running = ctx && ctx.state === 'running';
    b.setAttribute('aria-pressed', state.sound.wanted ? 'true' : 'false');
    b.classList.toggle('on', state.sound.wanted && !!running);
    b.classList.toggle('pending', state.sound.wanted && !running);
    b.textContent = !state.sound.wanted ? 'Sound off' : running ? 'Sound on' : 'Sound: click to enable';
  }

  function beep(level) {
    if (!state.sound.wanted) return;
    const ctx = ensureAudio();
    if (!ctx || ctx.state !== 'running') return;
    const tones = level === 'critical' ? [880, 660, 880] : level === 'warning' ? [740, 740] : [620];
    let t0 = ctx.currentTime + 0.02;
    for (const f of tones) {
      const o = ctx.createOscillator();
      const g = ctx.createGain();
      o.type = 'square';
      o.frequency.value = f;
      g.gain.setValueAtTime(0.0001, t0);
      g.gain.exponentialRampToValueAtTime(0.12, t0 + 0.01);
      g.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.14);
      o.connect(g).connect(ctx.destination);
      o.start(t0);
      o.stop(t0 + 0.16);
      t0 += 0.18;
    }
  }

  function setupSound() {
    state.sound.wanted = localStorage.getItem(SOUND_KEY) === 'on';
    $('sound-toggle').addEventListener('click', () => {
      const ctx0 = state.sound.ctx;
      const locked = state.sound.wanted && !(ctx0 && ctx0.state === 'running');
      // "Sound: click to enable" means on but locked by the browser: this click unlocks it.
      if (!locked) state.sound.wanted = !state.sound.wanted;
      localStorage.setItem(SOUND_KEY, state.sound.wanted ? 'on' : 'off');
      if (state.sound.wanted) {
        const ctx = ensureAudio();
        if (ctx) {
          ctx.resume().then(() => { renderSoundButton(); beep('watch'); }).catch(() => {});
          ctx.onstatechange = renderSoundButton;
        }
      }
      renderSoundButton();
    });
    // Browsers keep audio locked until a user gesture: the first click anywhere unlocks
    // it when the operator had sound on last time.
    const unlock = () => {
      if (state.sound.wanted) {
        const ctx = ensureAudio();
        if (ctx) ctx.onstatechange = renderSoundButton;
      }
      renderSoundButton();
    };
    document.addEventListener('pointerdown', unlock, { capture: true });
    document.addEventListener('keydown', unlock, { capture: true });
    renderSoundButton();
  }

  // ---------------------------------------------------------------- connection
  let ws = null;
  let attempt = 0;
  let retryAt = 0;
  let retryTimer = null;

  function setConn(s) {
    if (state.conn !== s) {
      state.conn = s;
      state.connSince = Date.now();
    }
    renderConn();
  }

  function renderConn() {
    const pill = $('conn-state');
    pill.setAttribute('data-state', state.conn);
    pill.textContent = state.conn; // exactly "live" when connected
    const detail = $('conn-detail');
    const banner = $('stale-banner');
    const live = state.conn === 'live';
    document.body.classList.toggle('stale', !live);
    if (live) {
      detail.textContent = '';
      banner.hidden = true;
      return;
    }
    const lostS = Math.round((Date.now() - (state.lastMsg || state.connSince)) / 1000);
    if (state.conn === 'reconnecting' && retryAt) {
      const inS = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      detail.textContent = inS > 0 ? `retry in ${inS}s` : 'retrying…';
    } else {
      detail.textContent = '';
    }
    banner.hidden = false;
    $('stale-text').textContent = state.lastMsg
      ? `live feed lost ${lostS}s ago — showing last known picture`
      : 'waiting for live feed…';
  }

  function connect() {
    clearTimeout(retryTimer);
    retryAt = 0;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    setConn(attempt === 0 ? 'connecting' : 'reconnecting');
    const key = apiKey();
    let sock;
    try {
      const url = `${proto}//${location.host}${API}/stream`;
      sock = key ? new WebSocket(url, ['cuas.v1', `cuas.key.${key}`]) : new WebSocket(url);
    } catch (e) {
      console.warn('cuas: websocket', e);
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.onopen = () => {
      // "live" only once the snapshot has arrived: until then the picture is not current.
    };
    sock.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) {
        console.warn('cuas: bad message', e);
        return;
      }
      if (msg && msg.type === 'snapshot') attempt = 0;
      try { handleMessage(msg); } catch (e) { console.error('cuas: handling message failed', e); }
      // Normally the snapshot has already made us live; any later message proves it too.
      if (state.conn !== 'live' && ws === sock) setConn('live');
    };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      if (ev.code === 4401) keyRejected(key, { detail: ev.reason });  // 4000 + HTTP 401
      if (!ws) scheduleReconnect();  // unless a key was just entered and connect() ran
    };
    sock.onerror = () => { /* onclose follows */ };
  }

  function scheduleReconnect() {
    const base = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    attempt++;
    retryAt = Date.now() + delay;
    setConn('reconnecting');
    retryTimer = setTimeout(connect, delay);
  }

  // ---------------------------------------------------------------- ticking
  function tick() {
    const now = new Date();
    $('clock-time').textContent = `${pad2(now.getUTCHours())}:${pad2(now.getUTCMinutes())}:${pad2(now.getUTCSeconds())}`;
    $('clock-date').textContent = `${now.getUTCFullYear()}-${pad2(now.getUTCMonth() + 1)}-${pad2(now.getUTCDate())}`;
    for (const node of document.querySelectorAll('[data-age-t]')) {
      const t = parseFloat(node.getAttribute('data-age-t'));
      if (!Number.isFinite(t)) continue;
      if (node.tagName === 'DD') node.textContent = `${utcTime(t)}Z (${age(t)} ago)`;
      else node.textContent = age(t);
    }
    for (const node of document.querySelectorAll('[data-breach-t]')) {
      const t = parseFloat(node.getAttribute('data-breach-t'));
      if (!Number.isFinite(t)) continue;
      const zone = node.getAttribute('data-breach-zone');
      node.textContent = zone === null ? breachText(t) : breachRowText(zone, t);
    }
    if ([...state.alerts.values()].some(isPreAlert)) scheduleRender();
    if (state.conn !== 'live') {
      renderConn();
    } else {
      // Connected but silent for a while: say so (the server normally sends sensor
      // status periodically), without calling the picture stale.
      const quiet = state.lastMsg ? Math.floor((Date.now() - state.lastMsg) / 1000) : 0;
      $('conn-detail').textContent = quiet >= 15 ? `no data for ${age(state.lastMsg / 1000)}` : '';
    }
  }

  // ---------------------------------------------------------------- tabs and wiring
  function setTab(tab) {
    state.tab = tab;
    for (const b of document.querySelectorAll('.tab')) {
      const on = b.getAttribute('data-tab') === tab;
      b.classList.toggle('active', on);
      b.setAttribute('aria-selected', on ? 'true' : 'false');
    }
    $('alerts').hidden = tab !== 'queue';
    $('history').hidden = tab !== 'history';
    $('alerts-empty').hidden = tab !== 'queue' || state.alerts.size > 0;
    if (tab === 'history') {
      loadHistory();
      loadRange();
    }
  }

  function setupUi() {
    for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => setTab(b.getAttribute('data-tab')));
    $('td-close').addEventListener('click', () => selectTrack(null));
    $('ack-form').addEventListener('submit', submitAck);
    $('ack-cancel').addEventListener('click', closeAckDialog);
    $('ack-dialog').addEventListener('cancel', () => { state.ackTarget = null; });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && state.selected && !$('ack-dialog').open) selectTrack(null);
    });
    setInterval(tick, 1000);
    setInterval(() => {
      if (state.tab === 'history') {
        loadHistory();
        loadRange();
      }
    }, 15000);
    setupLookback();
    tick();
  }

  async function main() {
    takeKeyFromFragment();
    setupUi();
    setupSound();
    renderConn();
    setupMapInteraction();
    renderPanels();
    // The stream and the initial REST picture do not wait for the site list; the map
    // draws as soon as the site reference is known.
    connect();
    loadInitial();
    await loadSites();
    if (!state.userMoved) fit();
    renderPanels();
    scheduleRender();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
  else main();
})();
