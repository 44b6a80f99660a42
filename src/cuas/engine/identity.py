"""Stable identity keys for association, across messages that name an object differently.

A Remote ID broadcaster is first heard by its MAC; its serial number arrives in a later
Basic ID message; a second receiver may hear the serial first. The resolver gives every
object one canonical key for its whole life: the first token it was known by. Tokens seen
together in one detection are linked, so the serial and the MAC then lead to the same key
and an ID never moves from one track to another.
"""

from __future__ import annotations

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
