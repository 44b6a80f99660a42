"""A track's class from all its evidence, each source weighed by how far it can be trusted.

Classes: drone, manned aircraft, bird. Every labelled detection on a track is evidence with
a likelihood P(label | true class) from its source's confusion matrix (``CONFUSION``): a radar
classifier (SAPIENT ``sapient``, ``radar``) calls birds and aircraft UAV about one time in
five and leaves birds unknown twice as often as drones, so its "unknown" is evidence too; an
RF signature (``rf_signature``, or a SAPIENT passive RF node) is right 19 times in 20;
identity-grade sources (``remote_id``, ``adsb``, ``mode_s``: the object says what it is) are
right but for 1 in 1000. A classifier's ``class_confidence`` q tempers its evidence (the
likelihood raised to the power q; none given: q = 1). A plot no classifier labelled is no
evidence.

Decision rule:

1. Log-likelihoods are summed per class in two tiers, identity-grade and the rest.
2. The belief is the posterior (uniform prior) of the identity tier when it holds any
   evidence, else of the other tier: an object broadcasting its ICAO address (whose
   messages the tracker associated with this track, so its positions agree with it) stays
   a manned aircraft whatever a radar calls it, however many plots.
3. Each tier's log-likelihoods are kept within ``LOG_ODDS_CAP`` (10^4 : 1) of their best
   class, so a long run of old evidence never makes the belief deaf to new.
4. The class is the most probable one when its posterior is at least ``DECIDE_P`` (0.98),
   else unknown. From a radar alone, a drone needs about four UAV labels more than the
   evidence against it (a bird label undoes about two UAV labels, an unknown half of one):
   a drone labelled UAV three times in four is decided in 8 plots (median; 13 at the 90th
   percentile), while a bird labelled bird 30 %, unknown 50 %, UAV 20 % of the time is
   decided a drone at some moment of 90 plots one time in 2000 (both with confidences
   drawn from 0.55-0.95; tests/engine/test_classification.py). Radar-only drones are
   decided a few seconds later than "last label wins" did; Remote ID or an RF signature
   decides at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from cuas.schema import ObjectClass

CLASSES = (ObjectClass.DRONE, ObjectClass.MANNED_AIRCRAFT, ObjectClass.BIRD)
IDENTITY_GRADE = frozenset({"remote_id", "adsb", "mode_s"})
DECIDE_P = 0.98
LOG_ODDS_CAP = math.log(1e4)
Decision = tuple[ObjectClass, dict[str, float] | None, list[str]]


# P(label | true class): rows the true class, columns the label, both in LABELS order. A
# radar classifier calls birds and aircraft UAV about one time in five and leaves more of
# them unknown than drones; a symmetric source's "unknown" is equally likely from each class.
LABELS = (*CLASSES, ObjectClass.UNKNOWN)
_RADAR = (
    (0.70, 0.02, 0.03, 0.25),  # a drone: UAV mostly, else unknown; rarely bird or aircraft
    (0.25, 0.50, 0.02, 0.23),  # a manned aircraft
    (0.20, 0.01, 0.30, 0.49),  # a bird
)


def _symmetric(right: float) -> tuple[tuple[float, ...], ...]:
    """A source right with probability ``right``, its errors spread evenly."""
    wrong = (1.0 - right) / (len(CLASSES) - 1)
    return tuple(tuple(right if i == j else wrong for j in range(3)) + (1.0,) for i in range(3))


CONFUSION: dict[str, tuple[tuple[float, ...], ...]] = {
    "remote_id": _symmetric(0.999),
    "adsb": _symmetric(0.999),
    "mode_s": _symmetric(0.999),
    "rf_signature": _symmetric(0.95),
    "sapient": _RADAR,
    "radar": _RADAR,
}
DEFAULT_CONFUSION = _RADAR  # a source we know nothing about is trusted like a classifier


@lru_cache(maxsize=256)
def log_likelihood(source: str | None, label: ObjectClass, q: float) -> tuple[float, ...]:
    """log P(label | class) for each class in CLASSES, tempered by confidence ``q``."""
    matrix = CONFUSION.get(source or "", DEFAULT_CONFUSION)
    column = LABELS.index(label)
    return tuple(q * math.log(matrix[row][column]) for row in range(len(CLASSES)))


@dataclass
class _Tier:
    loglik: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    weight: dict[str, float] = field(default_factory=dict)  # source -> evidence it gave

    def add(self, source: str, ll: tuple[float, ...]) -> None:
        top = max(a + b for a, b in zip(self.loglik, ll, strict=True))
        self.loglik = [
            max(a + b - top, -LOG_ODDS_CAP) for a, b in zip(self.loglik, ll, strict=True)
        ]
        self.weight[source] = self.weight.get(source, 0.0) + max(ll) - min(ll)

    def posterior(self) -> list[float]:
        p = [math.exp(v) for v in self.loglik]
        total = sum(p)
        return [v / total for v in p]


@dataclass
class ClassBelief:
    """What a track's labelled detections say about its class (module docstring)."""

    identity: _Tier = field(default_factory=_Tier)
    other: _Tier = field(default_factory=_Tier)
    _decided: Decision | None = None  # cached until the next evidence

    def add(self, label: ObjectClass, source: str | None, confidence: float | None) -> None:
        if label is ObjectClass.UNKNOWN and source is None:
            return  # no classifier spoke: a plot without a label
        q = 1.0 if confidence is None else round(confidence, 2)
        ll = log_likelihood(source, label, q)
        if max(ll) == min(ll):
            return  # a label every class gives alike: no evidence
        name = source or "unstated"
        tier = self.identity if name in IDENTITY_GRADE else self.other
        tier.add(name, ll)
        self._decided = None

    def decide(self) -> Decision:
        """The class, the belief per class (None: no evidence) and the sources that gave
        evidence, those of the deciding tier first, each tier strongest first."""
        if self._decided is None:
            self._decided = self._decide()
        return self._decided

    def _decide(self) -> Decision:
        tiers = [t for t in (self.identity, self.other) if t.weight]
        if not tiers:
            return ObjectClass.UNKNOWN, None, []
        p = tiers[0].posterior()
        best = max(range(len(CLASSES)), key=p.__getitem__)
        cls = CLASSES[best] if p[best] >= DECIDE_P else ObjectClass.UNKNOWN
        sources = [s for t in tiers for s in sorted(t.weight, key=t.weight.__getitem__)[::-1]]
        return cls, {c.value: round(v, 4) for c, v in zip(CLASSES, p, strict=True)}, sources
