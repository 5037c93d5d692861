"""Framing between judge and worker: a small JSON header followed by raw array bytes.

A frame is ``>I`` (header length) + UTF-8 JSON header + the concatenated raw bytes of every
array the header declares in ``header["blobs"]`` (``[{"dtype": "<f8", "shape": [2, 3]}, ...]``).
Nothing here deserialises objects: the reader checks each declared dtype against a numeric
allowlist, the shape, and the byte count before it builds a plain ``numpy.ndarray``.

The module is imported by the worker too, so it depends on numpy and the standard library only.
"""

from __future__ import annotations

import json
import os
import re
import select
import struct
import time
from typing import Any

import numpy as np

HEADER_LIMIT = 4 * 1024 * 1024
MAX_NDIM = 8
MAX_BLOBS = 4096
# Nesting of a header's JSON: a value tree of ``grader.protocol.values`` is at most
# ``values.MAX_DEPTH`` deep, two levels per node, inside a batch reply's few levels. Checked on
# the bytes before ``json.loads`` (whose recursion would otherwise raise RecursionError) and so
# before any recursive decoding of the values.
MAX_HEADER_DEPTH = 160

# Numeric dtypes only (little-endian or byte-order free); no object, void, string or datetime.
ALLOWED_DTYPES = frozenset(
    ["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8"]
    + ["<c8", "<c16"]
)


class ProtocolError(Exception):
    """A frame that is malformed, too large, or arrived too late."""


class PeerClosed(ProtocolError):
    """The other side closed the channel (the worker died or exited)."""


class Deadline(ProtocolError):
    """No complete frame arrived before the deadline."""


class MalformedHeader(ProtocolError):
    """A header that is too long, too deeply nested or not a JSON object. The bytes after it
    (its arrays) cannot be told apart from the next frame, so the channel is out of step: the
    reader must stop using it (the judge replaces the worker)."""


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text ``data`` (brackets inside strings
    do not count), found without parsing: a linear scan, no recursion."""
    opening = data.count(b"[") + data.count(b"{")
    if opening <= MAX_HEADER_DEPTH:  # the common case: too few brackets to be too deep
        return opening
    bare = np.frombuffer(_JSON_STRING.sub(b'""', data), dtype=np.uint8)
    step = np.isin(bare, (0x5B, 0x7B)).astype(np.int64) - np.isin(bare, (0x5D, 0x7D))
    return int(np.cumsum(step).max(initial=0))


# Most buffers one ``os.writev`` takes (Linux: 1024).
IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 16


def _frame_parts(header: dict[str, Any], blobs: list[np.ndarray]) -> list[memoryview]:
    """A frame as buffers: the length and header, then each array's bytes in place (C order;
    a non-contiguous array is copied once). Everything that can fail is done here, before any
    byte is written."""
    descr = []
    parts = []
    for arr in blobs:
        if not arr.flags.c_contiguous:  # (np.ascontiguousarray would turn 0-d into 1-d)
            arr = arr.copy(order="C")
        descr.append({"dtype": arr.dtype.str, "shape": list(arr.shape)})
        if arr.nbytes:
            parts.append(memoryview(arr.reshape(-1).view(np.uint8)))
    head = json.dumps({**header, "blobs": descr}, separators=(",", ":")).encode()
    return [memoryview(struct.pack(">I", len(head)) + head), *parts]


def encode_frame(header: dict[str, Any], blobs: list[np.ndarray]) -> bytes:
    """Return one frame: ``header`` plus the raw bytes of ``blobs`` (C order)."""
    return b"".join(_frame_parts(header, blobs))


def write_frame(fd: int, header: dict[str, Any], blobs: list[np.ndarray]) -> None:
    """Write one frame with ``os.writev``: the arrays' bytes go from their own memory into the
    channel, with no frame-sized copy in between (a speed check's round is MiBs)."""
    parts = _frame_parts(header, blobs)
    first = 0
    while first < len(parts):
        written = os.writev(fd, parts[first : first + IOV_MAX])
        while first < len(parts) and written >= len(parts[first]):
            written -= len(parts[first])
            first += 1
        if written:
            parts[first] = parts[first][written:]


# The first buffer a read sets aside; it doubles as the bytes arrive, so that a header that
# declares a large frame and sends little costs the reader little.
FIRST_READ_BYTES = 16 << 20


def _read_exact(fd: int, n: int, deadline: float | None) -> bytearray:
    buf = bytearray(min(n, FIRST_READ_BYTES))
    got = 0
    while got < n:
        if got == len(buf):  # (no view of buf is alive here: it can grow)
            buf.extend(bytes(min(len(buf), n - len(buf))))
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Deadline(f"no reply within the deadline ({got}/{n} bytes read)")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
        count = os.readv(fd, [memoryview(buf)[got : min(len(buf), got + (1 << 20))]])
        if not count:
            raise PeerClosed("channel closed")
        got += count
    return buf


def _blob_nbytes(desc: Any) -> tuple[np.dtype, tuple[int, ...], int]:
    if not isinstance(desc, dict) or set(desc) != {"dtype", "shape"}:
        raise ProtocolError(f"bad array descriptor {desc!r:.200}")
    dtype_str, shape = desc["dtype"], desc["shape"]
    if dtype_str not in ALLOWED_DTYPES:
        raise ProtocolError(f"dtype {dtype_str!r:.40} is not an allowed numeric dtype")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(type(s) is int and s >= 0 for s in shape)
    ):
        raise ProtocolError(f"bad shape {shape!r:.200}")
    dtype = np.dtype(dtype_str)
    count = 1
    for s in shape:
        count *= s
    return dtype, tuple(shape), count * dtype.itemsize


def parse_header(data: bytes) -> dict[str, Any]:
    """The JSON object of a frame's header, refused (``MalformedHeader``) when nested deeper
    than ``MAX_HEADER_DEPTH`` (before any parsing), not JSON, or not an object."""
    depth = nesting_depth(data)
    if depth > MAX_HEADER_DEPTH:
        raise MalformedHeader(f"header nested {depth} deep, more than {MAX_HEADER_DEPTH}")
    try:
        header = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: JSON, digits
        raise MalformedHeader(f"header is not JSON: {str(exc)[:200]}") from None
    if not isinstance(header, dict):
        raise MalformedHeader("header is not a JSON object")
    return header


def read_frame(
    fd: int, deadline: float | None, max_bytes: int
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Read one frame; return the header and the arrays it declares (plain, C-ordered ndarrays).

    Raises ``Deadline`` when the frame is not complete by ``deadline`` (``time.monotonic``),
    ``PeerClosed`` on EOF and ``ProtocolError`` for anything malformed or over ``max_bytes``.
    """
    (length,) = struct.unpack(">I", _read_exact(fd, 4, deadline))
    if length > HEADER_LIMIT:
        raise MalformedHeader(f"header of {length} bytes exceeds {HEADER_LIMIT}")
    header = parse_header(_read_exact(fd, length, deadline))
    descs = header.get("blobs", [])
    if not isinstance(descs, list) or len(descs) > MAX_BLOBS:
        raise MalformedHeader("bad blob list")
    try:
        layout = [_blob_nbytes(d) for d in descs]
    except ProtocolError as exc:
        raise MalformedHeader(str(exc)) from None
    total = sum(n for _, _, n in layout)
    if total > max_bytes:
        raise MalformedHeader(f"reply of {total} bytes exceeds the limit of {max_bytes} bytes")
    payload = _read_exact(fd, total, deadline) if total else bytearray()
    arrays = []
    offset = 0
    for dtype, shape, nbytes in layout:
        if nbytes == 0:
            arrays.append(np.empty(shape, dtype=dtype))
            continue
        arr = np.frombuffer(payload, dtype=dtype, count=nbytes // dtype.itemsize, offset=offset)
        # a view of this frame's own buffer (no other reader has it), copied only when its
        # offset leaves it unaligned for its dtype
        arrays.append(arr.reshape(shape) if arr.flags.aligned else arr.reshape(shape).copy())
        offset += nbytes
    return header, arrays
