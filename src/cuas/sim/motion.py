"""Object motion for ``cuas simulate``: each behaviour steers, one integrator enforces limits.

A behaviour (transit, loiter, orbit, dive, swarm slot-keeping, bird wander, airliner leg)
is a guidance law giving the velocity it wants; ``_integrate`` moves the object towards it
at a fixed step without ever exceeding its class limits (``scenario.CLASS_LIMITS``):
horizontal speed, acceleration magnitude, turn rate of the horizontal velocity (checked
above 1 m/s, where a heading means something), climb and descent rates. A dive lifts the
descent limit to its dive speed. Everything is in the site's ENU frame, metres and seconds
from the scenario start; random wander comes from per-object generators seeded from the
scenario seed, so the same file gives the same paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cuas.schema import ObjectClass
from cuas.sim.scenario import (
    Birds,
    DiveDrone,
    Limits,
    LoiterDrone,
    MannedAircraft,
    OrbitDrone,
    RemoteId,
    RfEmitter,
    Scenario,
    SwarmDrones,
    TransitDrone,
    member_serial,
)

STEP_S = 0.1
TURN_CHECK_SPEED_MPS = 1.0  # below this the horizontal velocity has no meaningful heading

Vec = tuple[float, float, float]


@dataclass(frozen=True)
class SimObject:
    """One flying thing (a swarm member, a single bird) and what it broadcasts."""

    object_id: str
    object_class: ObjectClass
    remote_id: RemoteId | None = None
    rf: RfEmitter | None = None
    icao24: str | None = None
    callsign: str | None = None
    transponder: bool = False


@dataclass(frozen=True)
class Motion:
    """Sampled paths of every object on one time grid: ``t_s = k * dt_s``."""

    dt_s: float
    objects: list[SimObject]
    pos_enu_m: NDArray  # (n_objects, n_steps, 3)
    vel_enu_mps: NDArray  # (n_objects, n_steps, 3)
    alive: NDArray  # (n_objects, n_steps) bool

    def state_at(self, t_s: float) -> tuple[NDArray, NDArray, NDArray]:
        """Positions, velocities (linearly interpolated) and the alive mask at ``t_s``."""
        n_steps = self.alive.shape[1]
        x = min(max(t_s / self.dt_s, 0.0), n_steps - 1.0)
        k = min(int(x), n_steps - 2) if n_steps > 1 else 0
        f = x - k
        k1 = min(k + 1, n_steps - 1)
        pos = self.pos_enu_m[:, k] * (1 - f) + self.pos_enu_m[:, k1] * f
        vel = self.vel_enu_mps[:, k] * (1 - f) + self.vel_enu_mps[:, k1] * f
        alive = self.alive[:, k] & (self.alive[:, k1] | (f == 0.0))
        return pos, vel, alive

    def states_at(self, t_s: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        """Like :meth:`state_at`, but object ``i`` at its own time ``t_s[i]``."""
        n_steps = self.alive.shape[1]
        x = np.clip(np.asarray(t_s, dtype=float) / self.dt_s, 0.0, n_steps - 1.0)
        k = np.minimum(x.astype(int), max(n_steps - 2, 0))
        f = (x - k)[:, None]
        k1 = np.minimum(k + 1, n_steps - 1)
        rows = np.arange(len(k))
        pos = self.pos_enu_m[rows, k] * (1 - f) + self.pos_enu_m[rows, k1] * f
        vel = self.vel_enu_mps[rows, k] * (1 - f) + self.vel_enu_mps[rows, k1] * f
        alive = self.alive[rows, k] & (self.alive[rows, k1] | (f[:, 0] == 0.0))
        return pos, vel, alive


class _Guidance:
    """Wants a velocity at each step; may lift the descent limit or end the flight."""

    max_descent_mps: float | None = None
    done = False

    def __call__(self, t_s: float, p: Vec, v: Vec) -> Vec:
        raise NotImplementedError


def _towards(p: Vec, target: Vec, speed: float, stop: bool, accel: float) -> Vec:
    d = (target[0] - p[0], target[1] - p[1], target[2] - p[2])
    dist = math.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2)
    if dist < 1e-6:
        return (0.0, 0.0, 0.0)
    if stop:  # arrive at rest: v = sqrt(2 a d) with half the acceleration in hand
        speed = min(speed, math.sqrt(accel * dist), dist)
    return (d[0] / dist * speed, d[1] / dist * speed, d[2] / dist * speed)


class _Waypoints(_Guidance):
    def __init__(self, waypoints: list[Vec], speed: float, loop: bool, lim: Limits) -> None:
        self.waypoints, self.speed, self.loop, self.lim = waypoints, speed, loop, lim
        self.index = 0
        # pass an intermediate waypoint once inside the radius of a 90-degree turn
        self.accept_m = max(5.0, speed**2 / lim.max_accel_mps2)

    def __call__(self, t_s: float, p: Vec, v: Vec) -> Vec:
        last = self.index == len(self.waypoints) - 1 and not self.loop
        wp = self.waypoints[self.index]
        if not last and math.dist(p, wp) < self.accept_m:
            self.index = (self.index + 1) % len(self.waypoints)
            wp = self.waypoints[self.index]
        return _towards(p, wp, self.speed, last, self.lim.max_accel_mps2)


class _Loiter(_Guidance):
    """Hold a point while the airframe wanders (a first-order Gauss-Markov offset)."""

    TAU_S = 20.0

    def __init__(self, point: Vec, drift_m: float, speed: float, lim: Limits, rng) -> None:
        self.point, self.drift_m, self.speed, self.lim, self.rng = point, drift_m, speed, lim, rng
        self.offset = [0.0, 0.0, 0.0]

    def __call__(self, t_s: float, p: Vec, v: Vec) -> Vec:
        a = math.exp(-STEP_S / self.TAU_S)
        kick = self.drift_m * math.sqrt(1 - a * a)
        noise = self.rng.normal(0.0, 1.0, 3)
        self.offset = [a * o + kick * float(z) for o, z in zip(self.offset, noise, strict=True)]
        self.offset[2] *= 0.5  # altitude holds better than position
        target = tuple(c + o for c, o in zip(self.point, self.offset, strict=True))
        return _towards(p, target, self.speed, True, self.lim.max_accel_mps2)  # type: ignore[arg-type]


class _Orbit(_Guidance):
    """A vector field whose integral curves spiral onto the circle (radial error -> 0)."""

    def __init__(self, centre: Vec, radius: float, speed: float, cw: bool, lim: Limits) -> None:
        self.centre, self.radius, self.speed, self.cw, self.lim = centre, radius, speed, cw, lim
        self.capture_m = max(10.0, 0.3 * radius)

    def __call__(self, t_s: float, p: Vec, v: Vec) -> Vec:
        rx, ry = p[0] - self.centre[0], p[1] - self.centre[1]
        rho = math.hypot(rx, ry) or 1e-6
        ux, uy = rx / rho, ry / rho
        tx, ty = (uy, -ux) if self.cw else (-uy, ux)
        radial = -self.speed * math.tanh((rho - self.radius) / self.capture_m)
        tangential = math.sqrt(max(self.speed**2 - radial**2, 0.0))
        climb = max(-2.0, min(2.0, 0.5 * (self.centre[2] - p[2])))
        return (tx * tangential + ux * radial, ty * tangential + uy * radial, climb)


class _Dive(_Guidance):
    """Cruise legs, then a straight dive at ``angle`` onto the target; ends at impact."""

    def __init__(
        self,
        cruise: list[Vec],
        target: Vec,
        speed: float,
        dive_speed: float,
        angle_deg: float,
        lim: Limits,
    ) -> None:
        self.cruise = _Waypoints(cruise, speed, False, lim) if cruise else None
        self.target, self.dive_speed, self.lim = target, dive_speed, lim
        self.tan_angle = math.tan(math.radians(angle_deg))
        self.speed = speed
        self.diving = False

    def __call__(self, t_s: float, p: Vec, v: Vec) -> Vec:
        height = p[2] - self.target[2]
        horizontal = math.hypot(self.target[0] - p[0], self.target[1] - p[1])
        if not self.diving and (height <= 0 or horizontal <= height / self.tan_angle):
            self.diving = True
            self.max_descent_mps = self.dive_speed
        if math.dist(p, self.target) < max(1.0, self.dive_speed * STEP_S):
            self.done = True
        if self.diving:
            return _towards(p, self.target, self.dive_speed, False, self.lim.max_accel_mps2)
        if self.cruise is not None and self.cruise.index < len(self.cruise.waypoints) - 1:
            return self.cruise(t_s, p, v)
        level = (self.target[0], self.target[1], p[2])
        return _towards(p, level, self.speed, False, self.lim.max_accel_mps2)


class _Slot(_Guidance):
    """Keep a formation slot: the leader's velocity plus a pull towards the slot."""

    GAIN_PER_S = 0.6

    def __init__(self, slot_pos: NDArray, leader_vel: NDArray) -> None:
        self.slot_pos, self.leader_vel = slot_pos, leader_vel
        self.k = 0

    def __call__(self, t_s: float, p: Vec, v: Vec) -> Vec:
        k = min(self.k, len(self.slot_pos) - 1)
        self.k += 1
        s, lv = self.slot_pos[k], self.leader_vel[k]
        g = self.GAIN_PER_S
        return tuple(float(lv[i] + g * (s[i] - p[i])) for i in range(3))  # type: ignore[return-value]


class _Wander(_Guidance):
    """A bird: legs of a few seconds at random speeds towards random points in its area."""

    def __init__(self, centre: Vec, spec: Birds, lim: Limits, rng) -> None:
        self.centre, self.spec, self.lim, self.rng = centre, spec, lim, rng
        self.t_next = -1.0
        self.target: Vec = centre
        self.speed = spec.speed_mps[0]

    def __call__(self, t_s: float, p: Vec, v: Vec) -> Vec:
        if t_s >= self.t_next:
            r = self.spec.radius_m * math.sqrt(float(self.rng.random()))
            a = float(self.rng.uniform(0.0, 2 * math.pi))
            h = float(self.rng.uniform(self.spec.min_height_m, self.spec.max_height_m))
            self.target = (self.centre[0] + r * math.sin(a), self.centre[1] + r * math.cos(a), h)
            self.speed = float(self.rng.uniform(*self.spec.speed_mps))
            self.t_next = t_s + float(self.rng.uniform(2.0, 8.0))
        return _towards(p, self.target, self.speed, False, self.lim.max_accel_mps2)


class _Straight(_Guidance):
    def __init__(self, vel: Vec) -> None:
        self.vel = vel

    def __call__(self, t_s: float, p: Vec, v: Vec) -> Vec:
        return self.vel


def _limit(v: Vec, want: Vec, lim: Limits, max_descent: float) -> Vec:
    """The velocity after one step towards ``want`` within every limit."""
    wx, wy, wz = want
    h = math.hypot(wx, wy)
    if h > lim.max_speed_mps:
        wx, wy = wx * lim.max_speed_mps / h, wy * lim.max_speed_mps / h
    wz = max(-max_descent, min(lim.max_climb_mps, wz))
    dx, dy, dz = wx - v[0], wy - v[1], wz - v[2]
    dv = math.sqrt(dx * dx + dy * dy + dz * dz)
    dv_max = lim.max_accel_mps2 * STEP_S
    if dv > dv_max:
        dx, dy, dz = dx * dv_max / dv, dy * dv_max / dv, dz * dv_max / dv
    nx, ny, nz = v[0] + dx, v[1] + dy, v[2] + dz
    s_old, s_new = math.hypot(v[0], v[1]), math.hypot(nx, ny)
    if s_old > TURN_CHECK_SPEED_MPS and s_new > TURN_CHECK_SPEED_MPS:
        turn = math.atan2(v[0] * ny - v[1] * nx, v[0] * nx + v[1] * ny)
        turn_max = math.radians(lim.max_turn_rate_deg_s) * STEP_S
        if abs(turn) > turn_max:
            # rotate the old velocity by the largest turn allowed, keep the new speed;
            # a smaller angle at the same speed is also a smaller acceleration
            c, s = math.cos(math.copysign(turn_max, turn)), math.sin(math.copysign(turn_max, turn))
            ux, uy = v[0] / s_old, v[1] / s_old
            nx, ny = (ux * c - uy * s) * s_new, (ux * s + uy * c) * s_new
    return nx, ny, nz


def _integrate(
    guidance: _Guidance,
    lim: Limits,
    p0: Vec,
    v0: Vec,
    k0: int,
    k1: int,
    pos: NDArray,
    vel: NDArray,
    alive: NDArray,
) -> None:
    """Fly steps k0..k1-1 of one object into its rows of ``pos``, ``vel`` and ``alive``."""
    p, v = p0, _limit(v0, v0, lim, lim.max_descent_mps)
    for k in range(k0, k1):
        pos[k], vel[k], alive[k] = p, v, True
        want = guidance(k * STEP_S, p, v)
        if guidance.done:
            return
        descent = guidance.max_descent_mps or lim.max_descent_mps
        nv = _limit(v, want, lim, descent)
        p = (
            p[0] + 0.5 * (v[0] + nv[0]) * STEP_S,
            p[1] + 0.5 * (v[1] + nv[1]) * STEP_S,
            p[2] + 0.5 * (v[2] + nv[2]) * STEP_S,
        )
        v = nv


def _formation_offsets(spec: SwarmDrones) -> list[tuple[float, float]]:
    """(along-track forward, cross-track right) metres of each member from the leader."""
    s, n = spec.spacing_m, spec.count
    if spec.formation == "line":
        return [(0.0, (k - (n - 1) / 2) * s) for k in range(n)]
    if spec.formation == "column":
        return [(-k * s, 0.0) for k in range(n)]
    if spec.formation == "vee":
        return [(-((k + 1) // 2) * s * 0.7, (-1) ** k * ((k + 1) // 2) * s * 0.7) for k in range(n)]
    cols = math.ceil(math.sqrt(n))
    return [(-(k // cols) * s, (k % cols - (cols - 1) / 2) * s) for k in range(n)]


def _heading_to(p: Vec, target: Vec) -> tuple[float, float]:
    dx, dy = target[0] - p[0], target[1] - p[1]
    d = math.hypot(dx, dy)
    return (dx / d, dy / d) if d > 1e-6 else (0.0, 1.0)


def simulate_motion(scenario: Scenario, seed: int | None = None) -> Motion:
    """Fly every object of the scenario; deterministic from ``seed`` (default its own)."""
    seed = scenario.seed if seed is None else seed
    frame = scenario.frame

    def enu(point) -> Vec:
        e, n, u = frame.from_geodetic(point.lat_deg, point.lon_deg, point.alt_m)
        return float(e), float(n), float(u)

    n_steps = int(math.ceil(scenario.duration_s / STEP_S)) + 1
    objects: list[SimObject] = []
    rows: list[tuple[NDArray, NDArray, NDArray]] = []

    def new_row() -> tuple[NDArray, NDArray, NDArray]:
        row = (np.zeros((n_steps, 3)), np.zeros((n_steps, 3)), np.zeros(n_steps, dtype=bool))
        rows.append(row)
        return row

    for index, spec in enumerate(scenario.objects):
        rng = np.random.default_rng([seed, 1, index])
        lim = spec.effective_limits()
        k0 = int(math.ceil(spec.start_s / STEP_S - 1e-9))
        k1 = n_steps if spec.end_s is None else min(n_steps, int(spec.end_s / STEP_S) + 1)

        def fly(guidance: _Guidance, p0: Vec, v0: Vec, lim: Limits = lim, span=(k0, k1)) -> None:
            _integrate(guidance, lim, p0, v0, *span, *new_row())

        if isinstance(spec, TransitDrone | LoiterDrone | OrbitDrone | DiveDrone):
            objects.append(SimObject(spec.id, ObjectClass.DRONE, spec.remote_id, spec.rf))
        if isinstance(spec, TransitDrone):
            wps = [enu(w) for w in spec.waypoints]
            p0 = enu(spec.start) if spec.start else wps[0]
            ux, uy = _heading_to(p0, wps[0])
            fly(
                _Waypoints(wps, spec.speed_mps, spec.loop, lim),
                p0,
                (ux * spec.speed_mps, uy * spec.speed_mps, 0.0),
            )
        elif isinstance(spec, LoiterDrone):
            point = enu(spec.point)
            p0 = enu(spec.start) if spec.start else point
            fly(_Loiter(point, spec.drift_m, spec.speed_mps, lim, rng), p0, (0.0, 0.0, 0.0))
        elif isinstance(spec, OrbitDrone):
            c = enu(spec.centre)
            p0 = enu(spec.start) if spec.start else (c[0], c[1] + spec.radius_m, c[2])
            guidance = _Orbit(c, spec.radius_m, spec.speed_mps, spec.direction == "cw", lim)
            fly(guidance, p0, guidance(0.0, p0, (0.0, 0.0, 0.0)))
        elif isinstance(spec, DiveDrone):
            p0, target = enu(spec.start), enu(spec.target)
            cruise = [enu(w) for w in spec.waypoints]
            ux, uy = _heading_to(p0, cruise[0] if cruise else target)
            guidance = _Dive(
                cruise, target, spec.speed_mps, spec.dive_speed_mps, spec.dive_angle_deg, lim
            )
            fly(guidance, p0, (ux * spec.speed_mps, uy * spec.speed_mps, 0.0))
        elif isinstance(spec, SwarmDrones):
            _swarm(
                spec,
                [enu(w) for w in spec.waypoints],
                enu(spec.start) if spec.start else None,
                lim,
                (k0, k1),
                n_steps,
                objects,
                new_row,
                rng,
            )
        elif isinstance(spec, Birds):
            centre = enu(spec.centre)
            for j in range(spec.count):
                bird_id = spec.id if spec.count == 1 else f"{spec.id}-{j + 1:02d}"
                objects.append(SimObject(bird_id, ObjectClass.BIRD))
                guidance = _Wander(centre, spec, lim, rng)
                r = spec.radius_m * math.sqrt(float(rng.random()))
                a = float(rng.uniform(0, 2 * math.pi))
                h = float(rng.uniform(spec.min_height_m, spec.max_height_m))
                p0 = (centre[0] + r * math.sin(a), centre[1] + r * math.cos(a), h)
                fly(guidance, p0, guidance(0.0, p0, (0.0, 0.0, 0.0)))
        elif isinstance(spec, MannedAircraft):
            objects.append(
                SimObject(
                    spec.id,
                    ObjectClass.MANNED_AIRCRAFT,
                    icao24=spec.icao24,
                    callsign=spec.callsign,
                    transponder=spec.transponder,
                )
            )
            p0 = enu(spec.start)
            if spec.heading_deg is not None:
                hd = math.radians(spec.heading_deg)
                v0 = (spec.speed_mps * math.sin(hd), spec.speed_mps * math.cos(hd), 0.0)
                fly(_Straight(v0), p0, v0)
            else:
                wps = [enu(w) for w in spec.waypoints]
                ux, uy = _heading_to(p0, wps[0])
                # an aircraft does not stop at its last waypoint: it flies on through it
                fly(
                    _Waypoints([*wps, _beyond(p0, wps)], spec.speed_mps, False, lim),
                    p0,
                    (ux * spec.speed_mps, uy * spec.speed_mps, 0.0),
                )
    return Motion(
        STEP_S,
        objects,
        np.stack([r[0] for r in rows]),
        np.stack([r[1] for r in rows]),
        np.stack([r[2] for r in rows]),
    )


def _beyond(p0: Vec, wps: list[Vec]) -> Vec:
    a = wps[-2] if len(wps) > 1 else p0
    b = wps[-1]
    ux, uy = _heading_to(a, b)
    return (b[0] + ux * 1e6, b[1] + uy * 1e6, b[2])


def _swarm(
    spec: SwarmDrones,
    wps: list[Vec],
    start: Vec | None,
    lim: Limits,
    span: tuple[int, int],
    n_steps: int,
    objects: list[SimObject],
    new_row,
    rng,
) -> None:
    """A virtual leader flies the path; each member keeps its slot in the formation."""
    k0, k1 = span
    p0 = start or wps[0]
    ux, uy = _heading_to(p0, wps[0])
    v0 = (ux * spec.speed_mps, uy * spec.speed_mps, 0.0)
    leader = (np.zeros((n_steps, 3)), np.zeros((n_steps, 3)), np.zeros(n_steps, dtype=bool))
    _integrate(_Waypoints(wps, spec.speed_mps, spec.loop, lim), lim, p0, v0, k0, k1, *leader)
    lpos, lvel = leader[0][k0:k1], leader[1][k0:k1]
    # heading of the leader (clockwise from north), held while it hovers
    fwd = np.zeros((len(lpos), 2))
    last = np.array([ux, uy])
    for k, (vx, vy, _) in enumerate(lvel):
        s = math.hypot(vx, vy)
        last = np.array([vx / s, vy / s]) if s > 0.5 else last
        fwd[k] = last
    right = np.column_stack([fwd[:, 1], -fwd[:, 0]])
    for j, (along, across) in enumerate(_formation_offsets(spec)):
        rid = spec.remote_id
        if rid is not None:
            rid = rid.model_copy(update={"serial": member_serial(rid.serial, j + 1)})
        objects.append(SimObject(f"{spec.id}-{j + 1:02d}", ObjectClass.DRONE, rid, spec.rf))
        slot = lpos.copy()
        slot[:, :2] += along * fwd + across * right
        slot[:, 2] += float(rng.normal(0.0, 1.0))  # members do not share one exact height
        sp0 = (float(slot[0, 0]), float(slot[0, 1]), float(slot[0, 2]))
        _integrate(_Slot(slot, lvel), lim, sp0, v0, k0, k1, *new_row())
