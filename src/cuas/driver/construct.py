"""Building schema models from values a decoder has already checked, without pydantic's pass.

Validating a Detection with its nested GeoPoint, Identity and RawRef costs 10-20 us, as
much as decoding a radar plot; at tens of thousands of plots a second that is the budget.
A decoder that has produced every value with the field's exact type (float, not int;
the enum member, not its string; tuples and lists as declared) may build the model here
instead. What pydantic would still catch is checked here too: unknown and missing fields,
and the numeric bounds the schema declares (``ge``/``le``/``gt``/``lt``, e.g. a latitude
within +-90 deg), which raise :class:`DecodeError` naming the field. The object is set up
exactly as ``BaseModel.model_construct`` does it, so it compares, dumps and serialises
like a validated one; ``tests/driver/test_construct.py`` holds every model used here to
that, and fails if the schema grows a rule this module does not check.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, TypeVar

import annotated_types as at
from pydantic import BaseModel

from cuas.driver.api import DecodeError
from cuas.schema import Detection, GeoPoint, Identity, RawRef, Signature

M = TypeVar("M", bound=BaseModel)

_BOUNDS: dict[type, tuple[str, Callable[[Any, Any], bool], str]] = {
    at.Ge: ("ge", operator.ge, ">="),
    at.Le: ("le", operator.le, "<="),
    at.Gt: ("gt", operator.gt, ">"),
    at.Lt: ("lt", operator.lt, "<"),
}
_set = object.__setattr__


def checked_constraints(model: type[BaseModel]) -> dict[str, list[tuple[str, Any]]]:
    """Field -> [(operator symbol, bound)] for the bounds ``builder`` checks on ``model``."""
    out: dict[str, list[tuple[str, Any]]] = {}
    for name, field in model.model_fields.items():
        for meta in field.metadata:
            kind = _BOUNDS.get(type(meta))
            if kind is None:
                raise TypeError(f"{model.__name__}.{name}: constraint {meta!r} is not checked")
            attr, _, symbol = kind
            out.setdefault(name, []).append((symbol, getattr(meta, attr)))
    return out


def builder(model: type[M]) -> Callable[..., M]:
    """A fast constructor for ``model``: keyword arguments as for ``model(...)``."""
    if model.__pydantic_post_init__ or model.__private_attributes__:
        raise TypeError(f"{model.__name__} has post-init or private state: build it normally")
    decorators = model.__pydantic_decorators__
    if decorators.field_validators or decorators.model_validators or decorators.validators:
        raise TypeError(f"{model.__name__} has validators: build it normally")
    fields = model.model_fields
    names = frozenset(fields)
    required = tuple(n for n, f in fields.items() if f.is_required())
    template = {n: f.default for n, f in fields.items()}  # declaration order, kept by updates
    factories = tuple((n, f.default_factory) for n, f in fields.items() if f.default_factory)
    checks = tuple(
        (name, _BOUNDS[type(meta)][1], getattr(meta, _BOUNDS[type(meta)][0]), symbol)
        for name, bounds in checked_constraints(model).items()
        for meta, (symbol, _) in zip(fields[name].metadata, bounds, strict=True)
    )
    title = model.__name__

    def build(**values: Any) -> M:
        if not names.issuperset(values):
            raise TypeError(f"{title}: unknown field(s) {sorted(set(values) - names)}")
        for name in required:
            if name not in values:
                raise TypeError(f"{title}: field {name!r} is required")
        for name, compare, bound, symbol in checks:
            value = values.get(name)
            if value is not None and not compare(value, bound):
                raise DecodeError(f"{title}.{name}: {value} is not {symbol} {bound}")
        data = template.copy()
        data.update(values)
        for name, factory in factories:
            if name not in values:
                data[name] = factory()  # type: ignore[call-arg]
        obj = model.__new__(model)
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
