"""API keys and roles: who may read, who may acknowledge, who may change the site's lists.

A key is ``cuas_`` + 32 random bytes (URL-safe base64). Only its SHA-256 is stored, in the
``api_keys`` table of the deployment's SQLite file; the key itself is shown once, when it is
made (``cuas apikey create``). A plain hash suffices because the key is random and 256 bits
long: there is nothing to guess or look up. The recognisable prefix lets log redaction and
secret scanners find a key that was pasted where it should not be.

Roles are ordered: viewer (read) < operator (read, acknowledge, resolve) < admin (everything,
friend lists and configuration included). Keys are required unless the API listens on a
loopback address and ``[api] require_key_on_loopback`` is false (the demo); there, a request
without a key acts as admin, and a request with one is still checked.
"""

import hashlib
import logging
import re
import secrets
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from cuas.store.database import Database

log = logging.getLogger(__name__)

KEY_PREFIX = "cuas_"
KEY_HEADER = "X-API-Key"
KEY_QUERY = "api_key"  # stream endpoints only: browsers cannot set headers on EventSource
WS_KEY_SUBPROTOCOL = "cuas.key."  # WebSocket: offer ["cuas.v1", "cuas.key.<key>"]
WS_SUBPROTOCOL = "cuas.v1"
MAX_KEY_CHARS = 128  # anything longer is not one of ours; refused before hashing
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
LAST_USED_EVERY_S = 60.0  # last_used_t is written at most this often per key
REJECT_LOG_EVERY_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    created_t REAL NOT NULL,
    last_used_t REAL,
    revoked_t REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_active_name ON api_keys(name) WHERE revoked_t IS NULL;
"""


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: "Role") -> bool:
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: int
    name: str
    role: Role
    created_t_unix: float
    last_used_t_unix: float | None
    revoked_t_unix: float | None


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a key's name and role, or the keyless loopback user."""

    name: str
    role: Role
    key_id: int | None = None


LOOPBACK_PRINCIPAL = Principal(name="loopback", role=Role.ADMIN)


class AuthError(Exception):
    """A request without the right key: ``status`` is 401 (no or bad key) or 403 (role)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class ApiKeyError(ValueError):
    """A key operation that cannot be done (bad name, name taken, nothing to revoke)."""


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _row(row: tuple) -> ApiKey:
    return ApiKey(row[0], row[1], Role(row[2]), row[3], row[4], row[5])


class ApiKeyStore(Database):
    """The ``api_keys`` table, on its own connection to the deployment's SQLite file.

    Same connection conventions as the rest of the store (``cuas.store.database``).
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA)
        self._used_written: dict[int, float] = {}

    def create(self, name: str, role: Role, t_unix: float | None = None) -> tuple[ApiKey, str]:
        """Make a key; returns it and its secret, which is not stored and cannot be shown again."""
        if not NAME_PATTERN.match(name):
            raise ApiKeyError(
                f"key name {name!r}: use 1 to 64 letters, digits or _ . @ - (e.g. the person)"
            )
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        now = time.time() if t_unix is None else t_unix
        try:
            with self.write():
                cur = self._db.execute(
                    "INSERT INTO api_keys (name, role, key_sha256, created_t) VALUES (?,?,?,?)",
                    (name, role.value, hash_key(secret), now),
                )
        except sqlite3.IntegrityError:
            raise ApiKeyError(
                f"an active key is already named {name!r}; revoke it first "
                f"(`cuas apikey revoke {name}`) or choose another name"
            ) from None
        return ApiKey(int(cur.lastrowid), name, role, now, None, None), secret

    def list_keys(self) -> list[ApiKey]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key_id, name, role, created_t, last_used_t, revoked_t FROM api_keys"
                " ORDER BY key_id"
            ).fetchall()
        return [_row(r) for r in rows]

    def revoke(self, which: str, t_unix: float | None = None) -> ApiKey:
        """Revoke the active key with this id or name; it stops working at once."""
        now = time.time() if t_unix is None else t_unix
        with self.write():
            column = "key_id" if which.isdigit() else "name"
            row = self._db.execute(
                "SELECT key_id, name, role, created_t, last_used_t, revoked_t FROM api_keys"
                f" WHERE {column}=? AND revoked_t IS NULL",
                (int(which) if which.isdigit() else which,),
            ).fetchone()
            if row is None:
                raise ApiKeyError(
                    f"no active key with id or name {which!r} (see `cuas apikey list`)"
                )
            self._db.execute("UPDATE api_keys SET revoked_t=? WHERE key_id=?", (now, row[0]))
        key = _row(row)
        return ApiKey(key.key_id, key.name, key.role, key.created_t_unix, key.last_used_t_unix, now)

    def verify(self, secret: str) -> ApiKey | None:
        """The active key with this secret, or None; notes its use at most once a minute."""
        if len(secret) > MAX_KEY_CHARS:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT key_id, name, role, created_t, last_used_t, revoked_t FROM api_keys"
                " WHERE key_sha256=? AND revoked_t IS NULL",
                (hash_key(secret),),
            ).fetchone()
        if row is None:
            return None
        key = _row(row)
        now = time.time()
        if now - self._used_written.get(key.key_id, 0.0) >= LAST_USED_EVERY_S:
            self._used_written[key.key_id] = now
            with self.write():
                self._db.execute(
                    "UPDATE api_keys SET last_used_t=? WHERE key_id=?", (now, key.key_id)
                )
        return key


class AuthGate:
    """Turns the key a request carries into a Principal, or an AuthError with a message."""

    def __init__(self, keys: ApiKeyStore, keys_required: bool, counters: Counter[str]) -> None:
        self.keys = keys
        self.keys_required = keys_required
        self.counters = counters
        self._last_reject_log = -REJECT_LOG_EVERY_S

    def principal(self, secret: str | None, client: str) -> Principal:
        if not secret:
            if not self.keys_required:
                return LOOPBACK_PRINCIPAL
            self.rejected("no API key", client)
            raise AuthError(
                401,
                f"API key needed: send 'Authorization: Bearer <key>' or '{KEY_HEADER}: <key>' "
                "(from `cuas apikey create`)",
            )
        key = self.keys.verify(secret)
        if key is None:
            self.rejected("an unknown or revoked API key", client)
            raise AuthError(401, "API key not recognised or revoked; ask an admin for a valid key")
        return Principal(name=key.name, role=key.role, key_id=key.key_id)

    def rejected(self, what: str, client: str) -> None:
        """Counted always, logged at most once a minute (never with the key itself)."""
        self.counters["auth_rejected"] += 1
        now = time.monotonic()
        if now - self._last_reject_log >= REJECT_LOG_EVERY_S:
            self._last_reject_log = now
            log.warning(
                "API: refused a request with %s from %s (%d refused so far)",
                what,
                client,
                self.counters["auth_rejected"],
            )


def check_role(principal: Principal, needed: Role) -> Principal:
    if not principal.role.allows(needed):
        raise AuthError(
            403,
            f"key {principal.name!r} has role {principal.role.value}; this needs "
            f"{needed.value} or higher",
        )
    return principal


def _client(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown client"


def _http_error(exc: AuthError) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return HTTPException(exc.status, exc.detail, headers=headers)


_bearer = HTTPBearer(
    auto_error=False, description="an API key from `cuas apikey create`, as a bearer token"
)
_header = APIKeyHeader(
    name=KEY_HEADER, auto_error=False, description="an API key from `cuas apikey create`"
)
_query = APIKeyQuery(
    name=KEY_QUERY,
    auto_error=False,
    description="stream endpoints only, for browsers that cannot set headers",
)


def _gate(conn: HTTPConnection) -> AuthGate:
    return conn.app.state.auth


def presented_key(conn: HTTPConnection, stream: bool) -> str | None:
    """The one key a request carries, or None; a malformed or second, different key is an
    error rather than ignored, so a bad credential never rides along with a good one.

    Headers always; on the stream endpoints also the ``cuas.key.<key>`` WebSocket
    subprotocol and ``?api_key=``.
    """
    presented: list[str] = []
    authorization = conn.headers.get("authorization")
    if authorization is not None:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise AuthError(401, "the Authorization header must be 'Bearer <key>'")
        presented.append(credentials.strip())
    if conn.headers.get(KEY_HEADER):
        presented.append(conn.headers[KEY_HEADER])
    if stream:
        presented += [
            offered.removeprefix(WS_KEY_SUBPROTOCOL)
            for offered in conn.scope.get("subprotocols", [])
            if offered.startswith(WS_KEY_SUBPROTOCOL)
        ]
        if conn.query_params.get(KEY_QUERY):
            presented.append(conn.query_params[KEY_QUERY])
    if len(set(presented)) > 1:
        raise AuthError(401, "different API keys in one request; send one")
    return presented[0] if presented else None


def _authenticate(conn: HTTPConnection, stream: bool) -> Principal:
    gate, client = _gate(conn), _client(conn)
    try:
        secret = presented_key(conn, stream)
    except AuthError:
        gate.rejected("a malformed or ambiguous API key", client)
        raise
    return gate.principal(secret, client)


# The Security parameters below put the two schemes into the OpenAPI schema (and the
# "Authorize" button of /docs); the key itself is read by presented_key, which also
# refuses what those parsers would silently skip.
def get_principal(
    request: Request,
    _bearer_scheme: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    _header_scheme: Annotated[str | None, Security(_header)],
) -> Principal:
    """The caller, from ``Authorization: Bearer`` or ``X-API-Key``."""
    try:
        return _authenticate(request, stream=False)
    except AuthError as exc:
        raise _http_error(exc) from None


def get_stream_principal(
    request: Request,
    _bearer_scheme: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    _header_scheme: Annotated[str | None, Security(_header)],
    _query_scheme: Annotated[str | None, Security(_query)],
) -> Principal:
    """As ``get_principal``, also taking ``?api_key=`` (EventSource sets no headers)."""
    try:
        return _authenticate(request, stream=True)
    except AuthError as exc:
        raise _http_error(exc) from None


def require_role(needed: Role, stream: bool = False) -> Callable[..., Principal]:
    """A dependency that lets through callers whose role is ``needed`` or higher."""
    # no `from __future__ import annotations` in this module: FastAPI must see this
    # closure's annotation as an object, it cannot resolve `source` from a string
    source = get_stream_principal if stream else get_principal

    def dependency(principal: Annotated[Principal, Depends(source)]) -> Principal:
        try:
            return check_role(principal, needed)
        except AuthError as exc:
            raise _http_error(exc) from None

    dependency.__name__ = f"require_{needed.value}"
    return dependency


def websocket_principal(conn: HTTPConnection, needed: Role) -> Principal:
    """The caller of a WebSocket: header, ``cuas.key.<key>`` subprotocol, or ``?api_key=``."""
    return check_role(_authenticate(conn, stream=True), needed)


# -- keeping keys out of logs -------------------------------------------------------------
_SECRET_PATTERNS = (
    re.compile(rf"({KEY_QUERY}=)[^&\s\"']+"),
    re.compile(rf"({re.escape(WS_KEY_SUBPROTOCOL)})[A-Za-z0-9_-]+"),
    re.compile(rf"()\b{KEY_PREFIX}[A-Za-z0-9_-]{{16,}}"),
)


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


class RedactKeys(logging.Filter):
    """Masks API keys in log records: uvicorn logs request paths, query strings included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn")


def install_log_redaction() -> None:
    """Adds the filter to the server's loggers, once."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in logger.filters):
            logger.addFilter(RedactKeys())
