"""Build the test session's release in a process of its own: ``python build_kit.py ROOT OUT
TOPIC...`` writes ``OUT/kit`` and then ``OUT/built.pickle`` (the ``Built`` and the seconds), or
``OUT/failed`` with the traceback (``tests/release/conftest.py`` starts it, the ``kit`` fixture
waits for it)."""

from __future__ import annotations

import os
import pickle
import sys
import time
import traceback
from pathlib import Path


def main(root: Path, out: Path, topics: tuple[str, ...]) -> None:
    try:
        from grader import config
        from grader.release.build import build

        started = time.perf_counter()
        built = build(config.load(root / "autograder.yml"), out / "kit", topics, check_tree=False)
        result, name = pickle.dumps((built, time.perf_counter() - started)), "built.pickle"
    except BaseException:
        result, name = traceback.format_exc().encode(), "failed"
    (out / f"{name}.part").write_bytes(result)
    os.replace(out / f"{name}.part", out / name)  # whole or not there


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), tuple(sys.argv[3:]))
