"""GET /metrics: the processes' counters in the Prometheus text format, from where each
process leaves them (the store, the sensors' status on the bus, the webhook queue)."""

import re
import time

import httpx

from cuas.api.auth import Role
from cuas.bus import TOPIC_STATUS
from cuas.schema import SensorState, SensorStatus
from cuas.store.metrics import ProcessCounters
from cuas.store.outbox import Delivery, Outbox

# A sample line of the text format 0.0.4: name, optional {label="value",...}, a number.
SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>(?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*)\})?'
    r" (?P<value>-?[0-9.e+-]+|NaN|[+-]Inf)$"
)


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    samples = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        assert m["name"] in typed, f"{m['name']} has no TYPE line before it"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m["labels"] or ""))
        samples[(m["name"], labels)] = float(m["value"])
    return samples


def test_metrics_show_engine_sensor_and_webhook_queue_counters(serve):
    served = serve()
    table = ProcessCounters(served.store.path)
    table.publish("engine", {"reorder_late": 3, "ingest_lost_messages": 1}, time.time() - 2)
    table.close()
    outbox = Outbox(served.store.path)
    now = time.time()
    outbox.enqueue(
        [Delivery(f"d{i}", "control-room", "alert", b"{}", now, now + 60) for i in range(4)]
    )
    outbox.close()
    status = SensorStatus(
        sensor_id='rid "1"',  # a label value that needs escaping
        t_unix=time.time(),
        state=SensorState.DEGRADED,
        driver="dragonsync",
        counters={"frames": 7, "malformed": 2},
    )
    served.pub.publish(TOPIC_STATUS, [status])

    deadline = time.monotonic() + 10
    while True:
        r = httpx.get(served.base + "/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        got = parse(r.text)
        if (
            "cuas_sensor_counter",
            frozenset({("sensor", 'rid \\"1\\"'), ("counter", "frames")}),
        ) in got:
            break
        assert time.monotonic() < deadline, r.text
        time.sleep(0.05)
    assert (
        got[
            (
                "cuas_sensor_counter",
                frozenset({("sensor", 'rid \\"1\\"'), ("counter", "malformed")}),
            )
        ]
        == 2
    )
    assert (
        got[("cuas_sensor_ok", frozenset({("sensor", 'rid \\"1\\"'), ("state", "degraded")}))] == 0
    )
    assert (
        got[
            (
                "cuas_process_counter",
                frozenset({("process", "engine"), ("counter", "reorder_late")}),
            )
        ]
        == 3
    )
    age = got[("cuas_process_counters_age_seconds", frozenset({("process", "engine")}))]
    assert 2 <= age < 60
    assert got[("cuas_webhook_queue", frozenset({("subscription", "control-room")}))] == 4


def test_metrics_need_a_viewer_key_where_keys_are_required(serve):
    served = serve(require_key_on_loopback=True)
    assert httpx.get(served.base + "/metrics").status_code == 401
    key = served.key(Role.VIEWER)
    r = httpx.get(served.base + "/metrics", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and "# TYPE cuas_tracks gauge" in r.text
