"""Track history is kept for [service] history_retention_h and no longer: the look-back
window, bounded so the store file does not grow without end."""

import asyncio
import time

from cuas.api.live import LiveState
from cuas.schema import GeoPoint, Track, TrackStatus
from cuas.store.sqlite import Store


def point(track_id: str, t_unix: float) -> Track:
    return Track(
        track_id=track_id,
        site_id="s",
        t_unix=t_unix,
        status=TrackStatus.CONFIRMED,
        position=GeoPoint(lat_deg=42.0, lon_deg=74.0, alt_m=800.0),
        enu_m=(0.0, 0.0, 0.0),
        velocity_enu_mps=(0.0, 0.0, 0.0),
        position_std_m=1.0,
    )


def times_left(store: Store) -> list[float]:
    with store.read() as db:
        return [row[0] for row in db.execute("SELECT t FROM track_history ORDER BY t")]


def test_prune_deletes_only_what_is_older_in_small_batches(tmp_path):
    store = Store(tmp_path / "cuas.sqlite")
    store.add_track_points([point(f"T{i % 3}", 1000.0 + i) for i in range(100)])
    assert store.prune_track_history(1050.0, batch=7) == 50  # eight batches, the last short
    assert times_left(store) == [1000.0 + i for i in range(50, 100)]
    assert store.prune_track_history(1050.0) == 0
    store.close()


def test_the_api_process_prunes_history_past_the_retention(tmp_path):
    store = Store(tmp_path / "cuas.sqlite")
    now = time.time()
    store.add_track_points([point("T1", now - 7200.0), point("T1", now - 10.0)])
    live = LiveState(store, None, history_retention_s=3600.0)

    async def run() -> None:
        await live.start()
        for _ in range(100):
            if live.counters["history_pruned"]:
                break
            await asyncio.sleep(0.02)
        await live.stop()

    asyncio.run(run())
    assert live.counters["history_pruned"] == 1
    assert times_left(store) == [now - 10.0]
    store.close()
