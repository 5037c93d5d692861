"""The reference's answers kept as data (grader/judge/expected.py): a replayed answer is
indistinguishable from a live call, and nothing a student could plant is ever read."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from grader import pipeline
from grader.judge import expected

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "submissions"


def _bump(config: dict, rng: np.random.Generator, x: np.ndarray) -> tuple:
    """Writes into its arguments and draws from a generator and the global state."""
    config["t"] = config.get("t", 0) + 1
    config["m"] = config.get("m", 0) + x
    noise = rng.standard_normal(x.shape) + np.random.rand(*x.shape)
    return x * config["t"] + noise, {"seen": config["t"]}


def _state_after(store, calls: list, *seeds: int):
    def counted(*args):
        calls.append(1)
        return _bump(*args)

    config = {"t": 1, "m": np.zeros(3)}
    rng = np.random.default_rng(seeds[0])
    np.random.seed(seeds[1])
    out = expected.memoized(store, "bump", counted, config, rng, np.arange(3.0))
    return out, config, rng.standard_normal(), np.random.rand()


def test_a_replayed_call_is_indistinguishable_from_a_live_one():
    store, calls = expected.Store(None, "t", "v"), []
    live = _state_after(store, calls, 1, 2)
    assert len(calls) == 1 and len(store.entries) == 1
    replayed = _state_after(store, calls, 1, 2)  # a hit: same bytes in, same global state
    assert len(calls) == 1
    for a, b in zip(live, replayed):  # result, arguments after, generator and global state
        np.testing.assert_equal(a, b)
    other = _state_after(store, calls, 1, 3)  # another global state: another key, a live call
    assert len(calls) == 2 and len(store.entries) == 2
    assert not np.array_equal(other[0][0], live[0][0])


def test_what_is_not_plain_data_runs_live_every_time():
    store = expected.Store(None, "t", "v")
    calls = []

    def f(obj, x):
        calls.append(1)
        return x + 1

    for _ in range(2):
        assert expected.memoized(store, "f", f, object(), 1.0) == 2.0
    assert len(calls) == 2 and not store.entries


def test_a_changed_or_planted_file_is_never_read(tmp_path):
    store = expected.Store(tmp_path, "losses", "v1", key=b"secret")
    expected.memoized(store, "f", lambda x: x * 2, np.ones(2))
    store.save()
    (path,) = tmp_path.glob("losses-v1.pickle")
    assert len(expected.Store(tmp_path, "losses", "v1", key=b"secret").entries) == 1
    assert expected.Store(tmp_path, "losses", "v1", key=b"another").entries == {}
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    assert expected.Store(tmp_path, "losses", "v1", key=b"secret").entries == {}
    import pickle

    path.write_bytes(pickle.dumps({"k": (b"", None, ())}))  # no seal at all
    assert expected.Store(tmp_path, "losses", "v1", key=b"secret").entries == {}


def test_half_written_files_of_killed_judges_are_removed_at_the_next_save(tmp_path):
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs
    left = tmp_path / f".losses-v1.pickle.{dead.pid}.tmp"
    live = tmp_path / f".losses-v1.pickle.{os.getppid()}.tmp"  # a judge still saving
    left.write_bytes(b"half")
    live.write_bytes(b"half")
    store = expected.Store(tmp_path, "losses", "v1", key=b"secret")
    expected.memoized(store, "f", lambda x: x * 2, np.ones(2))
    store.save()
    assert not left.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "losses-v1.pickle"]


@pytest.mark.parametrize(
    "topic, student",
    [("batchnorm", "dave"), ("optimizers", "erin"), ("preprocessing", "ivan"), ("dropout", "dave")],
)
def test_grading_with_kept_answers_equals_grading_with_live_ones(
    course, monkeypatch, tmp_path, topic, student
):
    """Running statistics written into bn_param, optimizer configs updated in place, seeded
    generators and the global random state: a buggy student is graded the same either way."""
    path = EXAMPLES / student / f"{topic}.py"
    sandbox = pipeline.sandbox_for(course)

    def graded(cache: str) -> list:
        monkeypatch.setenv("GRADER_EXPECTED_CACHE", cache)
        monkeypatch.setattr(pipeline, "_references", {})
        monkeypatch.setattr(pipeline, "KEEP_FROM_S", 0.0)  # every answer kept, cheap or not
        results, _ = pipeline.grade_topic(course, topic, path, None, sandbox)
        return [(r.check_id, r.outcome, r.points, r.message, r.misconception) for r in results]

    live = graded("off")
    graded(str(tmp_path))  # fills the folder
    kept = graded(str(tmp_path))  # a new process would read it: a fresh store, from disk
    assert list(tmp_path.glob(f"{topic}-*.pickle"))
    assert kept == live
    assert any(points == 0 for _, _, points, _, _ in live)  # the student is buggy here


def test_cheap_answers_are_not_kept_and_their_function_stops_being_looked_up():
    store = expected.Store(None, "t", "v", min_seconds=10.0)  # everything counts as cheap
    for i in range(expected.CHEAP_CALLS + 2):
        assert expected.memoized(store, "add", lambda a: a + 1, float(i)) == i + 1
    assert not store.entries and store.skipped("add")


def test_a_full_store_keeps_nothing_more_and_an_older_version_is_removed(tmp_path):
    old = expected.Store(tmp_path, "losses", "aaa-sec", key=b"k")
    expected.memoized(old, "f", lambda x: x, np.ones(4))
    old.save()
    store = expected.Store(
        tmp_path, "losses", "bbb-sec", key=b"k", budget_mb=0, family="losses-*-sec.pickle"
    )
    expected.memoized(store, "f", lambda x: x, np.ones(4))
    assert not store.entries  # over the budget: computed, not kept
    store.budget = 1 << 20
    expected.memoized(store, "f", lambda x: x, np.ones(4))
    store.save()
    assert [p.name for p in tmp_path.glob("losses-*.pickle")] == ["losses-bbb-sec.pickle"]
