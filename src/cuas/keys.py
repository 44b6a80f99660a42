"""ZeroMQ CURVE for the bus: sensor links that are authenticated and encrypted.

The side that binds a bus endpoint and decides who may talk to it (the engine's ingest)
is the CURVE *server*: it holds a secret key and a folder of the public keys it admits.
Each peer that connects (the driver process, a remote driver box) is a *client*: it holds
its own keypair and the server's public key. Keys are the ZeroMQ certificate files that
``cuas keys create DIR --name NAME`` writes: ``NAME.key`` (public, safe to copy) and
``NAME.key_secret`` (secret, mode 0600, never leaves its machine).

A ZAP handler (:class:`CurveAuthenticator`) admits the keys found in the folder, re-reading
it when an unknown key knocks so a newly copied key needs no restart, and logs each
refused key once with the peer's address. A socket monitor (:class:`CurveGuard`) logs
handshakes that fail before ZAP is asked, e.g. a client without CURVE.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

from cuas.config import BusConfig, ConfigError

log = logging.getLogger(__name__)

PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"
ZAP_DOMAIN = "cuas"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_RELOAD_INTERVAL_S = 1.0
_MONITOR_EVENTS = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


@dataclass(frozen=True)
class CurveServerKeys:
    """What a CURVE server needs: its keypair and the folder of admitted client keys."""

    public: bytes  # Z85
    secret: bytes  # Z85
    authorized_dir: Path


@dataclass(frozen=True)
class CurveClientKeys:
    """What a CURVE client needs: its keypair and the public key of the server."""

    public: bytes
    secret: bytes
    server_public: bytes


CurveKeys = CurveServerKeys | CurveClientKeys


def create_keypair(directory: str | Path, name: str) -> tuple[Path, Path]:
    """Write ``NAME.key`` and ``NAME.key_secret`` into ``directory``; never overwrite."""
    if not _NAME.match(name):
        raise ValueError(f"--name {name!r}: use 1-64 of A-Z a-z 0-9 _ . -")
    folder = Path(directory)
    public, secret = folder / f"{name}{PUBLIC_SUFFIX}", folder / f"{name}{SECRET_SUFFIX}"
    for path in (public, secret):
        if path.exists():
            raise ValueError(f"{path} already exists; remove it first or choose another --name")
    folder.mkdir(parents=True, exist_ok=True)
    zmq.auth.create_certificates(folder, name)
    os.chmod(secret, 0o600)
    return public, secret


def _load(path: Path, key: str, want_secret: bool) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"bus.{key}: {path}: not a ZeroMQ certificate ({exc})") from None
    if want_secret and secret is None:
        raise ConfigError(
            f"bus.{key}: {path} holds no secret key; name the {SECRET_SUFFIX} file that "
            "`cuas keys create` wrote"
        )
    return public, secret


def server_keys(bus: BusConfig, base_dir: Path) -> CurveServerKeys | None:
    """The ingest server's keys from ``[bus]``, or None when CURVE is off."""
    files = bus.curve_files(base_dir)
    if not files:
        return None
    public, secret = _load(files["curve_server_secret"], "curve_server_secret", True)
    assert secret is not None
    return CurveServerKeys(public, secret, files["curve_authorized_dir"])


def client_keys(bus: BusConfig, base_dir: Path) -> CurveClientKeys | None:
    """A driver process's keys from ``[bus]``, or None when CURVE is off."""
    files = bus.curve_files(base_dir)
    if not files:
        return None
    public, secret = _load(files["curve_client_secret"], "curve_client_secret", True)
    server_public, _ = _load(files["curve_server_public"], "curve_server_public", False)
    assert secret is not None
    return CurveClientKeys(public, secret, server_public)


class CurveAuthenticator(ThreadAuthenticator):
    """ZAP handler admitting the client keys in a folder; refusals are logged and counted."""

    def __init__(self, ctx: zmq.Context, authorized_dir: Path, counters: Counter[str]) -> None:
        super().__init__(ctx, log=logging.getLogger("cuas.keys.zap"))
        self.authorized_dir = authorized_dir
        self.counters = counters
        self._keys = self._read()
        self._read_at = time.monotonic()
        self._peer = "?"
        self._logged: set[bytes] = set()

    def _read(self) -> dict[bytes, bool]:
        try:
            return zmq.auth.load_certificates(self.authorized_dir)
        except (OSError, ValueError) as exc:
            log.warning("bus: cannot read authorised keys in %s: %s", self.authorized_dir, exc)
            return {}

    def start(self) -> None:
        super().start()
        self.configure_curve_callback(domain=ZAP_DOMAIN, credentials_provider=self)

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        # frame 3 of a ZAP request is the peer's address: remember it for the refusal log
        self._peer = msg[3].decode("ascii", "replace") if len(msg) > 3 else "?"
        await super().handle_zap_message(msg)

    def callback(self, domain: str, key: bytes) -> bool:
        """Called by the ZAP handler with the client's public key (Z85)."""
        if key in self._keys:
            return True
        if time.monotonic() - self._read_at >= _RELOAD_INTERVAL_S:
            self._keys, self._read_at = self._read(), time.monotonic()
            if key in self._keys:
                return True
        self.counters["auth_refused"] += 1
        if key not in self._logged and len(self._logged) < 1024:
            self._logged.add(key)
            log.warning(
                "bus: refused a client from %s: CURVE key %s is not in %s (further refusals of "
                "this key are only counted)",
                self._peer,
                key.decode("ascii", "replace"),
                self.authorized_dir,
            )
        return False


def apply_curve(sock: zmq.Socket, keys: CurveKeys) -> None:
    """Set a socket's CURVE options; before it binds or connects."""
    sock.curve_publickey = keys.public
    sock.curve_secretkey = keys.secret
    if isinstance(keys, CurveServerKeys):
        sock.zap_domain = ZAP_DOMAIN.encode()
        sock.curve_server = True
    else:
        sock.curve_serverkey = keys.server_public


class CurveGuard:
    """The watch over one CURVE bus socket: the ZAP handler (server) and a handshake monitor.

    A context has one ZAP handler, so each CURVE server socket needs its own context.
    """

    def __init__(self, ctx: zmq.Context, keys: CurveKeys, counters: Counter[str]) -> None:
        self.counters = counters
        self.server = isinstance(keys, CurveServerKeys)
        self.auth: CurveAuthenticator | None = None
        if isinstance(keys, CurveServerKeys):
            self.auth = CurveAuthenticator(ctx, keys.authorized_dir, counters)
            self.auth.start()
        self.monitor: zmq.Socket | None = None
        self._logged: set[str] = set()

    def watch(self, sock: zmq.Socket) -> None:
        """Report ``sock``'s failed handshakes to :meth:`drain`."""
        self.monitor = sock.get_monitor_socket(_MONITOR_EVENTS)

    def drain(self) -> None:
        """Log and count the handshake failures reported since the last call."""
        while self.monitor is not None:
            try:
                event = recv_monitor_message(self.monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            kind, value = event["event"], event["value"]
            counter = "handshake_failed"
            if kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                if self.server:
                    continue  # the ZAP handler has logged and counted it, with the key
                cause = (
                    f"the server refused this client's CURVE key (ZAP status {value}); copy "
                    "this side's public .key into the server's curve_authorized_dir"
                )
                counter = "auth_refused"
            elif value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
                cause = "security mechanism mismatch: one side does not use CURVE"
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                # the peer hung up mid-handshake: a plain client sees our CURVE greeting first
                cause = (
                    f"the peer hung up during the handshake (errno {value}): a client without "
                    "CURVE, or with the wrong server key"
                )
            else:
                cause = (
                    f"handshake protocol error {value:#x}: a wrong server key, or not a cuas peer"
                )
            self.counters[counter] += 1
            if cause not in self._logged:
                self._logged.add(cause)
                log.warning(
                    "bus: refused a connection at the CURVE handshake: %s (further ones only "
                    "counted)",
                    cause,
                )

    def close(self, sock: zmq.Socket) -> None:
        """Stop monitoring ``sock`` (call before closing it) and the ZAP handler."""
        if self.monitor is not None:
            sock.disable_monitor()
            self.monitor.close()
        if self.auth is not None:
            self.auth.stop()
