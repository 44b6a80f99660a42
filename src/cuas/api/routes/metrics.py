"""``GET /metrics``: the running service's counters in the Prometheus text format (0.0.4).

The API's own counters and what it holds live; each sensor's counters from its latest status
(the driver host sends them); the engine's and the outbound process's latest snapshots from
the store (``cuas.store.metrics``), with their age, so a stalled process shows; and the
webhook queue's depth by subscription and state, read from the queue itself.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterable

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from cuas.api.deps import AUTH_RESPONSES, LiveDep, RequireViewer, StoreDep
from cuas.schema import SensorState
from cuas.store.metrics import ProcessCounters
from cuas.store.outbox import DeliveryState

router = APIRouter(tags=["metrics"], dependencies=[RequireViewer])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ERROR_SCHEMA = "#/components/schemas/ErrorMessage"  # AUTH_RESPONSES' model, as JSON


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def family(
    name: str, kind: str, about: str, samples: Iterable[tuple[dict[str, str], float]]
) -> list[str]:
    """One metric family: HELP, TYPE and its samples."""
    lines = [f"# HELP {name} {about}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}")
    return lines


def _queue_depth(store_file: str) -> list[tuple[dict[str, str], float]]:
    try:
        with sqlite3.connect(f"file:{store_file}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT subscription, count(*) FROM webhook_outbox WHERE state = ?"
                " GROUP BY subscription",
                (DeliveryState.PENDING.value,),
            ).fetchall()
    except sqlite3.OperationalError:  # no outbound process has made the queue yet
        return []
    return [({"subscription": sub}, n) for sub, n in rows]


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    # the route's own media type is text; the auth errors stay JSON, as everywhere else
    responses={
        code: {
            "description": spec["description"],
            "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA}}},
        }
        for code, spec in AUTH_RESPONSES.items()
    },
)
def metrics(live: LiveDep, store: StoreDep) -> PlainTextResponse:
    now = time.time()
    snapshot = ProcessCounters(store.path)
    try:
        processes = snapshot.latest()
    finally:
        snapshot.close()
    ages = {process: now - t for process, _, _, t in processes}
    lines = family(
        "cuas_process_counter",
        "counter",
        "A process's counter (late, reorder, drops, deliveries...), as it last wrote it.",
        (({"process": p, "counter": n}, v) for p, n, v, _ in processes),
    )
    lines += family(
        "cuas_process_counters_age_seconds",
        "gauge",
        "Seconds since the process last wrote its counters (written every 5 s while it runs).",
        (({"process": p}, age) for p, age in sorted(ages.items())),
    )
    lines += family(
        "cuas_sensor_counter",
        "counter",
        "A sensor's counter from its latest status (frames, detections, malformed, drops...).",
        (
            ({"sensor": s.sensor_id, "counter": name}, value)
            for s in sorted(live.sensors.values(), key=lambda s: s.sensor_id)
            for name, value in sorted(s.counters.items())
        ),
    )
    lines += family(
        "cuas_sensor_ok",
        "gauge",
        "1 while the sensor's latest status is ok, else 0.",
        (
            ({"sensor": s.sensor_id, "state": s.state.value}, s.state is SensorState.OK)
            for s in sorted(live.sensors.values(), key=lambda s: s.sensor_id)
        ),
    )
    lines += family(
        "cuas_api_counter",
        "counter",
        "The API process's counter (bus messages, stream clients dropped, auth refusals...).",
        (({"counter": name}, value) for name, value in sorted(live.counters.items())),
    )
    lines += family("cuas_tracks", "gauge", "Live tracks the API holds.", [({}, len(live.tracks))])
    lines += family(
        "cuas_webhook_queue",
        "gauge",
        "Webhook deliveries queued and not yet delivered (nor dead-lettered), by subscription.",
        _queue_depth(store.path),
    )
    return PlainTextResponse("\n".join(lines) + "\n", media_type=CONTENT_TYPE)
