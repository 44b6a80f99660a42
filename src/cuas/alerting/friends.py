"""Friend lists: identifiers of authorised drones and aircraft, which raise no drone alerts.

An entry names one identifier of the kind a track or detection carries (``cuas.schema.
Identity``): a Remote ID serial, a Remote ID operator ID, a radio MAC address or an ADS-B
ICAO address, optionally until an expiry time. Entries come from ``[[alerts.friends]]`` in
the config and from the API; ``cuas.store.lists`` keeps them and their audit trail.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from cuas.schema import Identity


class FriendKind(StrEnum):
    """Which identifier an entry names; the values are ``Identity`` field names."""

    RID_SERIAL = "rid_serial"
    OPERATOR_ID = "operator_id"
    MAC = "mac"
    ICAO24 = "icao24"


_HEX = re.compile(r"^[0-9a-f]+$")


def normalise(kind: FriendKind, value: str) -> str:
    """The form entries are matched in; raises ValueError naming what is wrong.

    MAC: 12 hex digits, separators dropped; ICAO: 6 hex digits; serial and operator ID:
    compared case-insensitively (ANSI/CTA-2063-A serials are upper case, receivers vary).
    """
    text = value.strip().casefold()
    if kind is FriendKind.MAC:
        text = re.sub(r"[:\-.]", "", text)
        if len(text) != 12 or not _HEX.match(text):
            raise ValueError(
                f"{value!r} is not a MAC address (12 hex digits, e.g. 60:60:1f:a3:41:7c)"
            )
    elif kind is FriendKind.ICAO24:
        if len(text) != 6 or not _HEX.match(text):
            raise ValueError(f"{value!r} is not an ICAO 24-bit address (6 hex digits, e.g. 4ca7b3)")
    elif not text:
        raise ValueError("must not be empty")
    return text


class FriendSpec(BaseModel):
    """One entry as written in ``[[alerts.friends]]`` or posted to the API."""

    model_config = ConfigDict(extra="forbid")

    kind: FriendKind
    value: str = Field(min_length=1, max_length=64)
    label: str = Field("", max_length=200, description="who or what it is, for the operator")
    expires: AwareDatetime | None = Field(
        None, description="when the entry stops applying, with a time zone (e.g. ...Z)"
    )

    @field_validator("value")
    @classmethod
    def _valid_value(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is not None:
            normalise(kind, value)
        return value.strip()

    @property
    def expires_t_unix(self) -> float | None:
        return self.expires.timestamp() if self.expires else None


class Friend(BaseModel):
    """A stored entry."""

    friend_id: int
    kind: FriendKind
    value: str
    label: str = ""
    expires_t_unix: float | None = None
    origin: Literal["config", "api"]
    added_by: str  # who last added or changed it ("config" for the config file)
    added_t_unix: float
    expired: bool = False  # as of the time it was read

    def describe(self) -> str:
        label = f" ({self.label})" if self.label else ""
        return f"friend list entry {self.friend_id}: {self.kind.value} {self.value}{label}"


class FriendEvent(BaseModel):
    """One audited change of the friend list."""

    event_id: int
    friend_id: int
    t_unix: float
    actor: str
    action: Literal["added", "updated", "removed"]
    kind: FriendKind
    value: str
    detail: str = ""


class FriendMatcher:
    """Looks identities up in the active entries; rebuilt whenever the list is reloaded."""

    def __init__(self, friends: list[Friend]) -> None:
        self._index: dict[tuple[FriendKind, str], Friend] = {
            (f.kind, normalise(f.kind, f.value)): f for f in friends
        }

    def match(self, identity: Identity, t_unix: float) -> Friend | None:
        """The entry that covers any of the identity's IDs at ``t_unix``, else None."""
        if not self._index:
            return None
        for kind in FriendKind:
            value = getattr(identity, kind.value)
            if not value:
                continue
            try:
                entry = self._index.get((kind, normalise(kind, value)))
            except ValueError:  # a malformed ID on the air matches nothing
                continue
            if entry is not None and (
                entry.expires_t_unix is None or t_unix < entry.expires_t_unix
            ):
                return entry
        return None
