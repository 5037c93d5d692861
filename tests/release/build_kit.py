"""Build the test session's release in a process of its own (``tests/early.py``):
``python build_kit.py OUT ROOT TOPIC...`` writes ``OUT/kit`` and the ``Built`` with the seconds."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests import early


def _build(out: Path, root: Path, topics: tuple[str, ...]):
    from grader import config
    from grader.release.build import build

    started = time.perf_counter()
    built = build(config.load(root / "autograder.yml"), out / "kit", topics, check_tree=False)
    return built, time.perf_counter() - started


if __name__ == "__main__":
    out = Path(sys.argv[1])
    early.finish(out, lambda: _build(out, Path(sys.argv[2]), tuple(sys.argv[3:])))
