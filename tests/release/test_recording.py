"""Recording at a higher level: a kept judge-side computation on the reference's classes is one
entry of plain data (what it uses of the module inside is not data of its own), an object that
says what plain data it stands for (``as_data``) is a key, and what is not plain data at the
check's own level is still left out with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from grader.judge.expected import kept
from grader.release.data import decode
from grader.release.replay import NotInData, RecordingReference, ReplayReference

SOURCE = """
import numpy as np


class Counter:
    def __init__(self, start):
        self.total = np.array(start, dtype=np.float64)

    def add(self, x):
        self.total = self.total + x
        return self


def double(x):
    return 2 * x
"""


@dataclass(frozen=True, eq=False)
class Script:
    """A judge-side description of a computation (eq=False: compared by identity, like the
    autograd programs)."""

    start: float
    steps: tuple[np.ndarray, ...]

    def as_data(self) -> tuple:
        return self.start, self.steps


def _run(ref: RecordingReference | ReplayReference, script: Script) -> np.ndarray:
    def live(script: Script) -> np.ndarray:
        counter = ref.Counter(script.start)  # the class: used only inside the kept call
        for x in script.steps:
            counter = counter.add(ref.double(x))
        return counter.total

    return kept(ref, "counter.run", live, script)


@pytest.fixture()
def module(tmp_path: Path) -> Path:
    path = tmp_path / "counting.py"
    path.write_text(SOURCE)
    return path


def _load(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("counting_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_kept_computation_on_a_class_is_one_entry(module: Path) -> None:
    ref = RecordingReference(module, _load)
    ref.begin("c1")
    script = Script(1.0, (np.array([1.0, 2.0]), np.array([0.5, 0.5])))
    got = _run(ref, script)
    assert np.array_equal(got, [4.0, 6.0])
    assert ref.unrecordable == {}
    assert len(ref.keys["c1"]) == 1  # the nested ref.double calls are not entries of their own
    (entry,) = (ref.entries[k] for k in ref.keys["c1"])
    assert np.array_equal(decode(entry["result"], ref.encoder.arrays), [4.0, 6.0])
    # the release answers it from the data alone, for an equal script (another object)
    replay = ReplayReference(module, "counting", ref.entries, ref.encoder.arrays, {})
    replay.begin("c1")
    again = Script(1.0, (np.array([1.0, 2.0]), np.array([0.5, 0.5])))
    assert np.array_equal(_run(replay, again), [4.0, 6.0])
    with pytest.raises(NotInData, match="not in the release data"):
        _run(replay, Script(1.0, (np.array([1.0, 2.5]), np.array([0.5, 0.5]))))


def test_the_class_used_by_the_check_itself_is_still_left_out(module: Path) -> None:
    ref = RecordingReference(module, _load)
    ref.begin("c2")
    ref.Counter(0.0).add(1.0)
    assert "Counter" in ref.unrecordable["c2"]
    ref.begin("c3")
    ref.double(np.ones(2))  # a plain call after it is recorded as before
    assert "c3" not in ref.unrecordable and len(ref.keys["c3"]) == 1
