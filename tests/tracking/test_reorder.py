"""The reorder buffer releases in time order after the lag and flags what comes too late."""

import numpy as np

from cuas.tracking.reorder import ReorderBuffer


def test_shuffled_items_come_out_in_time_order_after_the_lag() -> None:
    rng = np.random.default_rng(0)
    times = np.round(np.arange(0.0, 10.0, 0.05), 3)
    arrival = times + rng.uniform(0.0, 0.19, times.size)  # latency below the 0.2 s lag
    buf: ReorderBuffer[float] = ReorderBuffer(0.2)
    out: list[float] = []
    for i in np.argsort(arrival, kind="stable"):
        assert buf.push(float(times[i]), float(times[i]))
        released = buf.release(float(arrival[i]))
        assert all(t <= arrival[i] - 0.2 for t in released)
        out += released
    out += buf.release(np.inf)
    assert out == sorted(times.tolist()) and len(buf) == 0


def test_an_item_older_than_what_was_released_is_late_and_not_held() -> None:
    buf: ReorderBuffer[str] = ReorderBuffer(0.5)
    assert buf.push(1.0, "a") and buf.push(2.0, "b")
    assert buf.release(2.0) == ["a"]
    assert not buf.push(0.9, "late")
    assert buf.push(1.0, "same time as released")  # not older: still in order
    assert buf.release(3.0) == ["same time as released", "b"]
