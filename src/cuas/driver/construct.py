"""Building schema models from values a decoder has already checked, without pydantic's pass.

Validating a Detection with its nested GeoPoint, Identity and RawRef costs 10-20 us, as
much as decoding a radar plot; at tens of thousands of plots a second that is the budget.
A decoder that has produced every value with the field's exact type (float, not int;
the enum member, not its string; tuples and lists as declared) may build the model here
instead. What pydantic would still catch is checked here too: unknown and missing fields,
and the numeric bounds the schema declares (``ge``/``le``, e.g. a latitude within
+-90 deg), which raise :class:`DecodeError` naming the field. The object is set up
exactly as ``BaseModel.model_construct`` does it, so it compares, dumps and serialises
like a validated one; ``tests/driver/test_construct.py`` holds every model used here to
that, and fails if the schema grows a rule this module does not check.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import annotated_types as at
from pydantic import BaseModel

from cuas.driver.api import DecodeError
from cuas.schema import Detection, GeoPoint, Identity, RawRef, Signature

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__


def checked_constraints(model: type[BaseModel]) -> dict[str, tuple[float, float]]:
    """Field -> (lowest, highest) allowed, for the ``ge``/``le`` bounds ``model`` declares.

    Any other constraint is refused here, so a schema change cannot slip past the builder.
    """
    out: dict[str, tuple[float, float]] = {}
    for name, field in model.model_fields.items():
        low, high = -math.inf, math.inf
        for meta in field.metadata:
            if isinstance(meta, at.Ge):
                low = meta.ge
            elif isinstance(meta, at.Le):
                high = meta.le
            else:
                raise TypeError(f"{model.__name__}.{name}: constraint {meta!r} is not checked")
        if field.metadata:
            out[name] = (low, high)
    return out


def builder(model: type[M]) -> Callable[..., M]:
    """A fast constructor for ``model``: keyword arguments as for ``model(...)``."""
    if model.__pydantic_post_init__ or model.__private_attributes__:
        raise TypeError(f"{model.__name__} has post-init or private state: build it normally")
    decorators = model.__pydantic_decorators__
    if decorators.field_validators or decorators.model_validators or decorators.validators:
        raise TypeError(f"{model.__name__} has validators: build it normally")
    fields = model.model_fields
    n_fields = len(fields)
    required = frozenset(n for n, f in fields.items() if f.is_required())
    template = {n: f.default for n, f in fields.items()}  # declaration order, kept by updates
    factories = tuple((n, f.default_factory) for n, f in fields.items() if f.default_factory)
    checks = tuple((name, low, high) for name, (low, high) in checked_constraints(model).items())
    title = model.__name__
    new = object.__new__

    def build(**values: Any) -> M:
        data = template.copy()
        data.update(values)
        if len(data) != n_fields:
            raise TypeError(f"{title}: unknown field(s) {sorted(set(data) - set(fields))}")
        if not values.keys() >= required:
            raise TypeError(f"{title}: field(s) {sorted(required - values.keys())} required")
        for name, factory in factories:
            if name not in values:
                data[name] = factory()  # type: ignore[call-arg]
        for name, low, high in checks:
            value = data[name]
            if value is not None and not low <= value <= high:
                raise DecodeError(f"{title}.{name}: {value} is not within [{low}, {high}]")
        obj = new(model)
        _set(obj, "__dict__", data)
        _set(obj, "__pydantic_fields_set__", set(values))
        _set(obj, "__pydantic_extra__", None)
        _set(obj, "__pydantic_private__", None)
        return obj

    build.__doc__ = f"A {title} from checked values (see cuas.driver.construct)."
    return build


detection = builder(Detection)
geo_point = builder(GeoPoint)
identity = builder(Identity)
raw_ref = builder(RawRef)
signature = builder(Signature)
