"""Cutting byte streams into frames, for the framings a driver can declare.

Each splitter consumes complete frames from the front of ``buf`` and leaves a partial
frame in it. A run that exceeds ``max_frame_bytes`` without completing is returned as
one oversize frame (the host counts it malformed) and dropped, so a peer that never sends
a delimiter cannot make the host buffer without bound.
"""

from __future__ import annotations

import struct


def split_lines(buf: bytearray, max_frame_bytes: int) -> list[bytes]:
    """Newline-terminated frames; CR before LF and empty lines are dropped."""
    frames: list[bytes] = []
    while True:
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) > max_frame_bytes:
                frames.append(bytes(buf[: max_frame_bytes + 1]))
                buf.clear()
            return frames
        line = bytes(buf[:end]).rstrip(b"\r")
        del buf[: end + 1]
        if line:
            frames.append(line)


def split_u32le(buf: bytearray, max_frame_bytes: int) -> list[bytes]:
    """Frames preceded by a 4-byte little-endian length (SAPIENT BSI Flex 335 over TCP).

    A declared length over the limit cannot be skipped safely (the stream is out of step),
    so the buffer is dropped and the oversize marker returned.
    """
    frames: list[bytes] = []
    while len(buf) >= 4:
        (length,) = struct.unpack_from("<I", buf, 0)
        if length > max_frame_bytes:
            frames.append(bytes(buf[: max_frame_bytes + 1]).ljust(max_frame_bytes + 1, b"\0"))
            buf.clear()
            return frames
        if len(buf) < 4 + length:
            break
        frames.append(bytes(buf[4 : 4 + length]))
        del buf[: 4 + length]
    return frames
