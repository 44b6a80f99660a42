"""Keep Numba's on-disk kernel cache honest across edits and upgrades.

Numba (``cache=True``) re-validates a cached kernel against its own source file only. Our
kernels call kernels in sibling modules (the IMM step calls the EKF update), so a change
to one file can leave another file's cache holding the old code. This drops the whole
package's cache whenever any kernel source (a module that mentions Numba) changes, before
anything is compiled or loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CACHE = _PACKAGE / "__pycache__"
_STAMP = _CACHE / "cuas-kernels.sha256"


def invalidate_stale_kernels() -> bool:
    """Delete cached kernels if the sources changed since they were built; True if deleted."""
    digest = hashlib.sha256()
    for source in sorted(_PACKAGE.glob("*.py")):
        text = source.read_bytes()
        if b"numba" in text:  # kernel modules; editing plain-Python stages keeps the cache
            digest.update(source.name.encode())
            digest.update(text)
    current = digest.hexdigest()
    try:
        if _STAMP.read_text() == current:
            return False
    except OSError:
        pass
    try:
        _CACHE.mkdir(exist_ok=True)
        for cached in (*_CACHE.glob("*.nbi"), *_CACHE.glob("*.nbc")):
            cached.unlink(missing_ok=True)
        _STAMP.write_text(current)
    except OSError:
        return False  # a read-only install: Numba then caches elsewhere or not at all
    return True
