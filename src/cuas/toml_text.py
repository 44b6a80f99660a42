"""Values written as a TOML config spells them, for what cuas prints or writes as config."""

from __future__ import annotations

import json


def toml_value(value: object) -> str:
    """A value as it is written in a TOML config: enums by value, strings quoted, arrays and
    inline tables (TOML has no null: the caller shows an unset default in words)."""
    from enum import Enum

    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return "[" + ", ".join(toml_value(v) for v in items) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if hasattr(value, "model_dump"):
        return toml_value(value.model_dump(mode="json"))
    return json.dumps(str(value))
