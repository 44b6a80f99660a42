"""Stable identity keys for association, across messages that name an object differently.

A Remote ID broadcaster is first heard by its MAC; its serial number arrives in a later
Basic ID message; a second receiver may hear the serial first. The resolver gives every
object one canonical key for its whole life: the first token it was known by. Tokens seen
together in one detection are linked, so the serial and the MAC then lead to the same key
and an ID never moves from one track to another. ``ClaimGate`` checks that a message under
an identity could come from the object that identity has been.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from cuas.schema import Identity


class IdentityResolver:
    def __init__(self, max_tokens: int = 100_000) -> None:
        self._canonical: OrderedDict[str, str] = OrderedDict()
        self.max_tokens = max_tokens

    def key(self, identity: Identity) -> str | None:
        tokens = identity.tokens()
        if not tokens:
            return None
        known = next((self._canonical[t] for t in tokens if t in self._canonical), None)
        canonical = known or tokens[0]
        for token in tokens:
            self._canonical[token] = canonical
            self._canonical.move_to_end(token)
        while len(self._canonical) > self.max_tokens:
            self._canonical.popitem(last=False)  # forget the least recently heard
        return canonical


class ClaimGate:
    """An identity is a claim: a position message under an identity must be one the object
    that identity has been could have reached since it was last heard.

    Remote ID is unauthenticated and can be replayed or forged; identity-first association
    would move a friend's track to wherever its serial is heard. So each identity keeps its
    own history (the last position accepted under it); a message farther from it than
    ``max_speed_mps`` (by key kind: an ICAO address is an aircraft) times the time since,
    plus ``slack_m`` for both positions' errors (F3411 horizontal accuracy classes reach
    30 m; a track's own spread is not used, so a coasting friend does not widen the gate),
    is a different object: its caller keys it apart and flags it a possible spoof. The
    identity is then disputed (``disputed``): whichever object was heard first may be the
    forger, so the caller flags both from then on, and the friend list silences neither.
    """

    MAX_SPEED_MPS = {"icao": 350.0}  # by key kind; everything else is a drone
    DRONE_MAX_SPEED_MPS = 60.0  # faster than any Remote ID drone flies (racing drones aside)
    SLACK_M = 60.0

    def __init__(self, max_keys: int = 100_000) -> None:
        self._last: OrderedDict[str, tuple[float, float, float, float]] = OrderedDict()
        self.max_keys = max_keys
        self.disputed: set[str] = set()  # keys claimed from two places at once

    def plausible(self, key: str, t_unix: float, enu_m: tuple[float, float, float]) -> bool:
        """Whether the object known as ``key`` can be at ``enu_m`` (site frame) at
        ``t_unix``; a plausible claim becomes the identity's latest position."""
        last = self._last.get(key)
        if last is not None:
            t0, e0, n0, u0 = last
            speed = self.MAX_SPEED_MPS.get(key.split(":", 1)[0], self.DRONE_MAX_SPEED_MPS)
            reach_m = speed * abs(t_unix - t0) + self.SLACK_M
            if math.dist((e0, n0, u0), enu_m) > reach_m:
                self.disputed.add(key)
                return False
        if last is None or t_unix >= last[0]:
            self._last[key] = (t_unix, *enu_m)
            self._last.move_to_end(key)
            while len(self._last) > self.max_keys:
                self.disputed.discard(self._last.popitem(last=False)[0])
        return True
