"""Shared memory between the judge and one worker, for facts the judge must read itself.

Whether a student's function modified its input in place must not be decided by code that runs
in the worker after the student's code (which may have patched numpy, ``copy``, ``hashlib`` or the
worker's own serialisation). So the judge puts the watched input arrays into an ``Arena``: an
anonymous shared memory file (``memfd``) that it maps and hands to the worker when the worker
starts. The request names each such argument by its place in the arena (a ``shared`` node); the
worker gives the student an array *over that memory*, and after the call the judge reads the
bytes back from its own mapping and compares them with the copy it kept. An in-place
modification lands in the shared bytes whatever the student patched.

The arena is a bump allocator: a region is never reused during the worker's life (an array the
worker kept, in a forward pass's cache say, may still look at it). When it is full, watched
arguments travel as ordinary copies again and the worker's echo is used, as before.

Standard library and numpy only: the worker side (``attach``) runs in the worker.
"""

from __future__ import annotations

import mmap
import os
from typing import Any

import numpy as np

ALIGN = 64
_NDARRAY, _DTYPE = np.ndarray, np.dtype  # bound before any student code runs in the worker


class Arena:
    """The judge's side: create, place arrays, read them back."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.fd = os.memfd_create("grader-arena", os.MFD_CLOEXEC)
        try:
            os.ftruncate(self.fd, size)
            self.map = mmap.mmap(self.fd, size)
        except OSError:
            os.close(self.fd)
            raise
        self.top = 0

    @classmethod
    def create(cls, size_mb: int) -> Arena | None:
        """An arena, or None where the platform has no memfd (then the worker's echo is used)."""
        if size_mb <= 0 or not hasattr(os, "memfd_create"):
            return None
        try:
            return cls(size_mb * 1024 * 1024)
        except OSError:
            return None

    def place(self, array: np.ndarray) -> dict[str, Any] | None:
        """Copy ``array`` into a fresh region; the ``shared`` node naming it, or None when it
        does not fit or is not plain numbers."""
        if array.dtype.hasobject or array.dtype.kind not in "biufc":
            return None
        data = np.ascontiguousarray(array)
        offset = -(-self.top // ALIGN) * ALIGN
        if offset + data.nbytes > self.size:
            return None
        self.map[offset : offset + data.nbytes] = data.tobytes()
        self.top = offset + data.nbytes
        return {"t": "shared", "offset": offset, "dtype": data.dtype.str, "shape": list(data.shape)}

    def read(self, node: dict[str, Any]) -> np.ndarray:
        """The bytes of a placed array now (a copy), as the judge's own mapping shows them."""
        dtype = np.dtype(node["dtype"])
        count = int(np.prod(node["shape"], dtype=np.int64))
        flat = np.frombuffer(self.map, dtype=dtype, count=count, offset=node["offset"])
        return flat.reshape(node["shape"]).copy()

    def close(self) -> None:
        try:
            self.map.close()
        except (BufferError, ValueError):
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass


def attach(fd: int, size: int) -> mmap.mmap:
    """The worker's side: map the judge's arena (before isolation)."""
    return mmap.mmap(fd, size)


def view(arena: mmap.mmap, offset: int, dtype: str, shape: list[int]) -> np.ndarray:
    """A writable array over the arena's bytes (what the student gets)."""
    return _NDARRAY(tuple(shape), dtype=_DTYPE(dtype), buffer=arena, offset=offset)
