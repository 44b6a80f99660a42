"""Every operation in our OpenAPI schema, fuzzed by schemathesis against a real server.

Checks schemathesis' defaults (no 5xx, status codes, content types, headers and bodies as
the schema documents them, invalid input refused, valid input accepted), with an admin
key so authentication hides nothing. The SSE stream is left out: it never ends, so it
has no response to validate (tests/api/test_sse.py covers it).
"""

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from cuas.api.auth import Role
from cuas.bus import TOPIC_STATUS, TOPIC_TRACKS
from cuas.schema import (
    SensorState,
    SensorStatus,
    ZoneLevel,
)

from support import drone_track

EXAMPLES_PER_OPERATION = 30
# Operations whose bodies are checked beyond what their schema states, so a schema-valid
# body may rightly get 422: "valid data accepted" is not checked there.
SEMANTIC_CHECKS = {
    "POST /api/v1/friends": "the value must fit its kind (a MAC, a serial, an ICAO address)",
}


@pytest.fixture
def fuzz_target(serve):
    """A server that requires keys, an admin key, and a little of everything to find."""
    served = serve(require_key_on_loopback=True)
    for i in range(3):
        served.store.raise_alert(
            site_id="dolen-omurzakov",
            zone_id="bowl",
            zone_level=ZoneLevel.CRITICAL,
            rule="drone_in_zone",
            object_key=f"rid:S{i}",
            track=drone_track(f"T{i}"),
            t_unix=time.time(),
            reason="in",
        )
    served.pub.publish(TOPIC_TRACKS, [drone_track("T0"), drone_track("T1")])
    status = SensorStatus(
        sensor_id="rid-1", t_unix=time.time(), state=SensorState.OK, driver="dragonsync"
    )
    served.pub.publish(TOPIC_STATUS, [status])
    return served, served.key(Role.ADMIN, "fuzzer")


def test_every_operation_conforms_to_its_schema(fuzz_target):
    served, admin_key = fuzz_target
    schema = schemathesis.openapi.from_url(f"{served.base}/openapi.json")
    # Driven by hand rather than by schemathesis' pytest plugin, which breaks on pytest 9.
    operations = [op.ok() for op in schema.exclude(path="/api/v1/stream/sse").get_all_operations()]
    assert len(operations) >= 11, [op.label for op in operations]

    for operation in operations:
        excluded = [positive_data_acceptance] if operation.label in SEMANTIC_CHECKS else []

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,  # the same examples every run
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"X-API-Key": admin_key},
                timeout=10,
                excluded_checks=excluded,  # noqa: B023 (the test runs inside this iteration)
            )

        fuzz()
