"""``grader release``: the student kit, with the public checks' answers as data, no solutions.

- ``build``: the kit folder and its zip (stubs, notebooks, README, public autograder.yml, a
  small pyproject, the grader package without judge-side mistake code, the data);
- ``record``: the public checks graded on the solutions under the public secret, every
  reference answer and every known mistake's output recorded (``replay.RecordingReference``);
- ``data``: the on-disk format (``data/manifest.json``, ``data/<topic>.json`` + ``.npz``);
- ``replay``: the reference of a release, answering from the data only;
- ``strip``: the AST rewrite that takes the mistakes' model code out of the copied package;
- ``leak``: the scan that proves nothing of ``solutions/``, no mistake model, no hidden check
  and no secret is in a release.

A course folder without its solutions folder is a release: ``grader.pipeline.reference_of``
then asks ``reference_for`` here, which answers from ``data/`` (a missing, truncated or
foreign data file is one ``DataProblem`` line saying how to restore it).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from grader.release.data import DataProblem, read_manifest, read_topic

DATA = "data"  # the data folder of a release, beside autograder.yml
PUBLIC = "public"  # the secret of every release: the public checks' inputs derive from it


class ReleaseRefused(Exception):
    """The tree cannot be released (validation failed, a solution fails, a leak was found)."""


_recording: dict[str, Any] | None = None  # topic -> RecordingReference, while recording
_replays: dict[tuple[Path, str], Any] = {}
_lock = threading.Lock()


def is_release(course: Any) -> bool:
    """A course without its reference solutions grades from the release data."""
    return not course.solutions_dir.is_dir()


def reference_for(course: Any, topic: str) -> Any | None:
    """The reference ``grader.pipeline`` should use for ``topic``: the recording one while
    ``grader release`` records, the replay one in a release, else None (the solutions)."""
    if _recording is not None and topic in _recording:
        return _recording[topic]
    if not is_release(course):
        return None
    from grader.release.replay import ReplayReference

    folder = course.root / DATA
    with _lock:
        key = (folder.resolve(), topic)
        if key not in _replays:
            if not folder.is_dir():
                raise DataProblem(
                    f"no reference solutions ({course.config.solutions}/) and no release data "
                    f"({folder}/): restore the kit's data/ folder from the release zip "
                    "(instructor: grader release --out DIR)"
                )
            manifest = read_manifest(folder)
            entries, arrays = read_topic(folder, topic, manifest)
            excluded = manifest["topics"][topic].get("excluded", {})
            stub = folder / "api" / f"{topic}.py"  # the stub as built: its signatures
            _replays[key] = ReplayReference(stub, topic, entries, arrays, excluded)
        return _replays[key]


__all__ = ["DATA", "PUBLIC", "DataProblem", "ReleaseRefused", "is_release", "reference_for"]
