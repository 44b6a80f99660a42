"""CURVE on the bus, on real ZeroMQ sockets over loopback: who gets in, who is refused, logs."""

from __future__ import annotations

import logging
import shutil
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import zmq

from cuas.bus import TOPIC_DETECTIONS, Publisher, Subscriber
from cuas.config import ConfigError, load_config
from cuas.keys import CurveClientKeys, CurveServerKeys, client_keys, create_keypair, server_keys
from cuas.schema import Detection, MeasurementKind

from support import DEMO_CONFIG, free_port

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="libzmq built without CURVE")


def _det(i: int) -> Detection:
    return Detection(sensor_id="rf-1", t_unix=1000.0 + i, kind=MeasurementKind.PRESENCE)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """engine, driver and stranger keypairs; only the driver's public key is authorised."""
    for name in ("engine", "driver", "stranger"):
        create_keypair(tmp_path / "keys", name)
    (tmp_path / "authorized").mkdir()
    shutil.copy(tmp_path / "keys" / "driver.key", tmp_path / "authorized")
    return tmp_path


def _server(keys: Path) -> CurveServerKeys:
    public, secret = zmq.auth.load_certificate(keys / "keys" / "engine.key_secret")
    assert secret is not None
    return CurveServerKeys(public, secret, keys / "authorized")


def _client(keys: Path, name: str) -> CurveClientKeys:
    public, secret = zmq.auth.load_certificate(keys / "keys" / f"{name}.key_secret")
    server_public, _ = zmq.auth.load_certificate(keys / "keys" / "engine.key")
    assert secret is not None
    return CurveClientKeys(public, secret, server_public)


def _until(condition: Callable[[], object], poke: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 5.0
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        poke()


class Link:
    """An engine-side CURVE subscriber and one publisher connecting to it."""

    def __init__(self, server: CurveServerKeys, client: CurveClientKeys | None) -> None:
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.sub = Subscriber(endpoint, bind=True, topics=[TOPIC_DETECTIONS], curve=server)
        self.pub = Publisher(endpoint, bind=False, src="drivers", curve=client)
        self.got: list[Detection] = []

    def pump(self) -> None:
        """Publish one detection and read for a while (the subscriber's thread does the work)."""
        self.pub.publish(TOPIC_DETECTIONS, [_det(len(self.got))])
        msg = self.sub.recv(20)
        if msg is not None:
            self.got.extend(msg.items)  # type: ignore[arg-type]

    def close(self) -> None:
        self.pub.close()
        self.sub.close()


@pytest.fixture
def link():
    links: list[Link] = []

    def make(server: CurveServerKeys, client: CurveClientKeys | None) -> Link:
        links.append(Link(server, client))
        return links[-1]

    yield make
    for made in links:
        made.close()


def test_an_authorised_client_gets_its_messages_through(keys, link):
    lk = link(_server(keys), _client(keys, "driver"))
    _until(lambda: len(lk.got) >= 3, lk.pump, "three detections over CURVE")
    assert all(d.sensor_id == "rf-1" for d in lk.got)
    assert lk.sub.counters["auth_refused"] == 0 and lk.sub.counters["handshake_failed"] == 0


def test_an_unknown_key_gets_nothing_and_the_refusal_is_logged_once_and_counted(keys, link, caplog):
    caplog.set_level(logging.WARNING, logger="cuas.keys")
    lk = link(_server(keys), _client(keys, "stranger"))
    _until(lambda: lk.sub.counters["auth_refused"] >= 1, lk.pump, "the ZAP refusal")
    _until(lambda: lk.pub.counters["auth_refused"] >= 1, lk.pump, "the client to hear of it")
    for _ in range(20):
        lk.pump()
    assert lk.got == []
    stranger = zmq.auth.load_certificate(keys / "keys" / "stranger.key")[0].decode()
    server_logs = [r.getMessage() for r in caplog.records if "is not in" in r.getMessage()]
    assert len(server_logs) == 1
    assert stranger in server_logs[0] and "127.0.0.1" in server_logs[0]
    assert str(keys / "authorized") in server_logs[0]
    assert any("refused this client's CURVE key" in r.getMessage() for r in caplog.records)
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_a_plain_client_is_refused_when_curve_is_on(keys, link, caplog):
    caplog.set_level(logging.WARNING, logger="cuas.keys")
    lk = link(_server(keys), None)
    _until(lambda: lk.sub.counters["handshake_failed"] >= 1, lk.pump, "a refused handshake")
    for _ in range(20):
        lk.pump()
    assert lk.got == []
    refusals = [r.getMessage() for r in caplog.records if "CURVE handshake" in r.getMessage()]
    # the server sees a mechanism mismatch, or the plain client hanging up on our greeting
    assert all("does not use CURVE" in m or "without CURVE" in m for m in refusals)
    assert 1 <= len(refusals) <= 2, "logged once per cause"
    assert lk.sub.counters["handshake_failed"] >= len(refusals)


def test_a_key_copied_into_the_folder_is_admitted_without_a_restart(keys, link):
    server = _server(keys)
    refused = link(server, _client(keys, "stranger"))
    _until(lambda: refused.sub.counters["auth_refused"] >= 1, refused.pump, "the refusal")
    shutil.copy(keys / "keys" / "stranger.key", keys / "authorized")
    time.sleep(1.05)  # the folder is read again at most once a second
    admitted = link(server, _client(keys, "stranger"))
    _until(lambda: len(admitted.got) >= 1, admitted.pump, "the newly authorised key")


def test_a_client_with_the_wrong_server_key_is_refused(keys, link):
    wrong = CurveClientKeys(
        *zmq.auth.load_certificate(keys / "keys" / "driver.key_secret"),  # type: ignore[arg-type]
        server_public=zmq.auth.load_certificate(keys / "keys" / "stranger.key")[0],
    )
    lk = link(_server(keys), wrong)
    _until(lambda: lk.sub.counters["handshake_failed"] >= 1, lk.pump, "the failed handshake")
    assert lk.got == []


# --- keys and config ------------------------------------------------------------------------


def test_create_keypair_writes_a_private_secret_and_never_overwrites(tmp_path):
    public, secret = create_keypair(tmp_path / "k", "engine")
    assert (public.name, secret.name) == ("engine.key", "engine.key_secret")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    loaded_public, loaded_secret = zmq.auth.load_certificate(secret)
    assert loaded_secret is not None and zmq.auth.load_certificate(public)[0] == loaded_public
    with pytest.raises(ValueError, match="already exists"):
        create_keypair(tmp_path / "k", "engine")
    with pytest.raises(ValueError, match="--name"):
        create_keypair(tmp_path / "k", "../evil")


def _config(tmp_path: Path, bus_lines: str) -> Path:
    text = DEMO_CONFIG.read_text().replace("[bus]\n", "[bus]\n" + bus_lines)
    text = text.replace("../replay_data/", f"{DEMO_CONFIG.parent.parent / 'replay_data'}/")
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


CURVE_LINES = """curve_server_secret = "keys/engine.key_secret"
curve_authorized_dir = "authorized"
curve_client_secret = "keys/driver.key_secret"
curve_server_public = "keys/engine.key"
"""


def test_config_keys_relative_to_the_config_file_make_a_working_link(keys, link):
    config = load_config(_config(keys, CURVE_LINES))
    server, client = (
        server_keys(config.bus, config.base_dir),
        client_keys(config.bus, config.base_dir),
    )
    assert server is not None and client is not None
    lk = link(server, client)
    _until(lambda: len(lk.got) >= 1, lk.pump, "a detection")


def test_config_without_curve_keys_means_no_curve(tmp_path):
    config = load_config(_config(tmp_path, ""))
    assert server_keys(config.bus, config.base_dir) is None
    assert client_keys(config.bus, config.base_dir) is None


def test_config_with_only_some_curve_keys_names_the_missing_ones(keys):
    partial = CURVE_LINES.replace('curve_server_public = "keys/engine.key"\n', "")
    with pytest.raises(ConfigError, match=r"bus: .*missing bus\.curve_server_public"):
        load_config(_config(keys, partial))


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("keys/engine.key_secret", "keys/nope.key_secret", "bus.curve_server_secret"),
        ('"authorized"', '"no-such-dir"', "bus.curve_authorized_dir"),
        ('"keys/engine.key"', '"keys/nope.key"', "bus.curve_server_public"),
    ],
)
def test_a_missing_key_file_is_named_with_its_key(keys, old, new, key):
    config = load_config(_config(keys, CURVE_LINES.replace(old, new)))
    with pytest.raises(ConfigError, match=rf"{key}: .*no such"):
        server_keys(config.bus, config.base_dir)


def test_a_public_key_where_a_secret_is_needed_is_named(keys):
    text = CURVE_LINES.replace('"keys/driver.key_secret"', '"keys/driver.key"')
    config = load_config(_config(keys, text))
    with pytest.raises(ConfigError, match=r"bus\.curve_client_secret: .*holds no secret key"):
        client_keys(config.bus, config.base_dir)
