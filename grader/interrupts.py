"""Ctrl-C and SIGTERM, remembered.

The CLI turns both into ``KeyboardInterrupt``. Library code can swallow one that lands inside
it: a garbage-collection callback of ``distributed`` prints "Exception ignored" and carries on,
and a batch would then grade to the end as if nobody had asked it to stop. So the signal also
sets a flag, which the batch and the executors' waiting loops check (``check``).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

REQUESTED = threading.Event()


def _handler(signum: int, frame: FrameType | None) -> None:
    REQUESTED.set()
    raise KeyboardInterrupt


def install() -> None:
    """SIGINT and SIGTERM raise ``KeyboardInterrupt`` and are remembered (main thread only)."""
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a stop was asked for, even one something swallowed."""
    if REQUESTED.is_set():
        raise KeyboardInterrupt
