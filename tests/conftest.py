"""Fixtures shared by every test folder. Plain helpers live in support.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import SHARED_DATA


@pytest.fixture
def shared_data() -> Path:
    """The recorded protocol samples beside the repo (present in CI, absent in a user's clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared protocol samples not found at ../shared/data ({SHARED_DATA})")
    return SHARED_DATA
