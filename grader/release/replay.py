"""The reference as data: recorded from the solutions at build time, replayed in the release.

``RecordingReference`` stands where ``grader.pipeline.reference_of``'s reference stands while
``grader release`` grades the solutions on the public checks: every call a check makes (its
arguments' key, result, what it wrote into its arguments, numpy's global generator state after
it; see ``grader.judge.expected``) is kept as plain data, under the check that made it, and so
is every known mistake's output on the inputs of every comparison (``observe``): a fingerprint.
A check that needs what plain data cannot hold (a class of the reference, a handle, a torch
module) is marked unrecordable, with the reason; it is left out of the release.

``ReplayReference`` stands there in the release: the same lookups, answered from the data only.
A call that is not in the data raises ``NotInData`` naming the check and the command that
restores the data (the pipeline turns it into that check's visible error, never a pass or a
silent skip); a mistake's fingerprint that is not in the data is a note on the verdict.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from grader.judge import expected
from grader.judge.expected import CachedReference, Uncacheable, key_of
from grader.protocol.values import Workload
from grader.release.data import RESTORE, Encoder, Unrecordable, decode

MISTAKE = "@mistake:"  # the label prefix of a known mistake's model (grader.pipeline)


class NotInData(BaseException):
    """A reference answer the release does not hold. A ``BaseException``, so that no check's
    ``except Exception`` mistakes it for a student's fault; ``grader.pipeline.run_check``
    turns it into the check's verdict."""


class NoFingerprint(Exception):
    """A known mistake's output that the release does not hold: that mistake does not match
    (``grader.checks.diagnose`` skips a model that raises), and the verdict says so."""


class _NoStore:
    """What ``grader.pipeline.grade_topic`` saves after a topic: nothing, here."""

    def save(self) -> None:
        return None


def _keyable(value: Any) -> Any:
    """``value`` with each ``Workload`` (a frozen description of a simulated kernel: plain data
    in a dataclass) as a tuple of its fields, so a call taking one can be looked up; so is any
    object whose class says what plain data it stands for (``as_data()``: an autograd program,
    say, which the reference engine runs judge-side)."""
    if isinstance(value, Workload):
        return ("Workload", value.kind, value.params)
    as_data = getattr(type(value), "as_data", None)
    if callable(as_data):
        return (type(value).__name__, _keyable(as_data(value)))
    if type(value) in (tuple, list):
        return type(value)(_keyable(v) for v in value)
    if type(value) is dict:
        return {k: _keyable(v) for k, v in value.items()}
    return value


def _call_key(label: str, args: tuple, kwargs: dict) -> str:
    return key_of(label, _keyable(args), _keyable(kwargs))


class _Recorded(expected._Function):
    """A reference function whose calls go through its owner's ``call``."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        def live(*args: Any, **kwargs: Any) -> Any:
            return getattr(self._owner.module, self.__name__)(*args, **kwargs)

        return self._owner.call(self.__name__, live, args, kwargs)


class DataReference(CachedReference):
    """Shared by recording and replay: one current check, functions through ``call``."""

    def __init__(self, path: Path, load: Callable[[Path], Any]) -> None:
        super().__init__(path, _NoStore(), load)  # type: ignore[arg-type]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        self._functions = {
            n.name: _Recorded(self, n.name, n) for n in tree.body if isinstance(n, ast.FunctionDef)
        }
        self.check_id = ""

    def begin(self, check_id: str) -> None:
        """The check whose calls follow (``grader.pipeline.grade_topic`` says)."""
        self.check_id = check_id

    def memoized(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.call(f"@{label}", fn, args, kwargs)

    def call(self, label: str, live: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        raise NotImplementedError

    @property
    def excluded(self) -> dict[str, str]:
        """Check id -> why the release leaves it out."""
        return {}

    def note(self, check_id: str) -> str | None:
        """What the data did not hold for the check (taken: said once)."""
        return None


class RecordingReference(DataReference):
    """The solutions' module, every call of it kept as data (module docstring)."""

    def __init__(self, path: Path, load: Callable[[Path], Any]) -> None:
        super().__init__(path, load)
        self.encoder = Encoder()
        self.entries: dict[str, dict] = {}
        self.keys: dict[str, list[str]] = {}  # check id -> keys, in the order first used
        self.unrecordable: dict[str, str] = {}  # check id -> why
        self.unprinted: dict[str, str] = {}  # check id -> a mistake that left no fingerprint
        self.inside = 0  # > 0 while a recorded call runs: what it uses of the module is its own

    def _use(self, key: str) -> None:
        used = self.keys.setdefault(self.check_id, [])
        if key not in used:
            used.append(key)

    def _cannot(self, why: str, label: str) -> None:
        if label.startswith(MISTAKE):
            self.unprinted.setdefault(self.check_id, f"{label[len(MISTAKE) :]}: {why}")
        else:
            self.unrecordable.setdefault(self.check_id, f"{label.lstrip('@')}: {why}")

    def call(self, label: str, live: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if self.inside:  # within a recorded call (a kept judge-side computation, a mistake's
            # model): its answer is the data, so what it calls of the reference runs as it is
            return live(*args, **kwargs)
        try:
            key = _call_key(label, args, kwargs)
        except Uncacheable as why:
            self._cannot(f"an argument is not plain data ({why})", label)
            return live(*args, **kwargs)
        before = expected._global_state()
        self.inside += 1
        try:
            value = live(*args, **kwargs)
        except Exception as exc:  # kept too: a mistake's model that does not apply raises
            state = expected._global_state()
            drew = not expected._same_state(before, state)
            final = expected._with_state(key, before) if drew else key
            self.entries.setdefault(final, {"raised": [type(exc).__name__, str(exc)[:200]]})
            self._use(final)
            raise
        finally:
            self.inside -= 1
        state = expected._global_state()
        drew = not expected._same_state(before, state)
        final = expected._with_state(key, before) if drew else key
        try:
            entry = {
                "result": self.encoder.encode(value),
                "after": self.encoder.encode(_snapshot(args, kwargs)),
                "state": self.encoder.encode(state) if drew else None,
            }
        except Unrecordable as why:
            self._cannot(f"a result that is not plain data ({why})", label)
            return value
        self.entries.setdefault(final, entry)
        self._use(final)
        # the caller gets what the release will give it: the value as the data holds it
        return decode(entry["result"], self.encoder.arrays)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") or name in self._functions:
            return super().__getattr__(name)
        value = getattr(self.module, name)
        if self.inside:  # used by a recorded call (``call``): not data of its own
            return value
        try:
            tree = self.encoder.encode(value)
        except Unrecordable:
            kind = type(value).__name__
            self.unrecordable.setdefault(
                self.check_id, f"uses the reference's {name} (a {kind}, not plain data)"
            )
            return value
        key = f"const:{name}"
        self.entries.setdefault(key, {"result": tree, "after": None, "state": None})
        self._use(key)
        return decode(tree, self.encoder.arrays)

    def observe(self, ctx: Any, seen: Any) -> None:
        """Fingerprints: every known mistake of ``seen.function`` on ``seen.inputs`` (through
        the pipeline's kept models, so their answers are recorded under their labels)."""
        from grader.checks.diagnose import reference_inputs

        for m in ctx.misconceptions:
            if m.function != seen.function:
                continue
            with np.errstate(all="ignore"):
                try:
                    m.variant(ctx.ref, *reference_inputs(list(seen.inputs)))
                except Exception:  # one that does not apply: recorded as such
                    continue


def _snapshot(args: tuple, kwargs: dict) -> Any:
    """What a caller can see of the arguments after a call (``expected._after``), as a tree."""
    positional, named = expected._after(args, kwargs)

    def plain(snap: Any) -> Any:
        return None if snap is None else (snap[0], snap[1])

    return [plain(s) for s in positional], {k: plain(s) for k, s in named.items()}


def _raise_recorded(name: str, message: str) -> None:
    kind = getattr(builtins, name, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        raise kind(message)
    raise RuntimeError(f"{name}: {message}")


class ReplayReference(DataReference):
    """The reference of a release topic: answers from the data only (module docstring).

    ``path`` is the topic's stub in the release: its source gives the signatures the checks
    read (the stubs have the solutions' signatures; ``grader validate`` proves it)."""

    def __init__(self, path: Path, topic: str, entries: dict, arrays: Any, excluded: dict) -> None:
        super().__init__(path, self._no_module)
        self.topic, self.entries, self.arrays = topic, entries, arrays
        self._excluded: dict[str, str] = dict(excluded)
        self.notes: dict[str, str] = {}  # check id -> what the data did not hold

    @property
    def excluded(self) -> dict[str, str]:
        return self._excluded

    def note(self, check_id: str) -> str | None:
        return self.notes.pop(check_id, None)

    def _no_module(self, path: Path) -> Any:
        raise NotInData(
            f"{self.check_id}: needs the reference module itself, which a release does not "
            f"ship; {RESTORE}"
        )

    def call(self, label: str, live: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        del live  # never run: there is no reference code here
        try:
            key = _call_key(label, args, kwargs)
        except Uncacheable as why:
            if label.startswith(MISTAKE):
                self._no_fingerprint(label)
            raise NotInData(
                f"{self.check_id}: {label.lstrip('@')} got an argument that is not plain data "
                f"({why}); {RESTORE}"
            ) from None
        before = expected._global_state()
        entry = self.entries.get(key) or self.entries.get(expected._with_state(key, before))
        if entry is None:
            if label.startswith(MISTAKE):
                self._no_fingerprint(label)
            raise NotInData(
                f"{self.check_id}: the reference's answer to {label.lstrip('@')}(...) on these "
                f"inputs is not in the release data; {RESTORE}"
            )
        if "raised" in entry:
            _raise_recorded(*entry["raised"])
        positional, named = decode(entry["after"], self.arrays)
        for value, snap in zip(args, positional):
            expected.put_back(value, snap)
        for name, snap in named.items():
            expected.put_back(kwargs[name], snap)
        if entry["state"] is not None:
            np.random.set_state(decode(entry["state"], self.arrays))
        return decode(entry["result"], self.arrays)

    def _no_fingerprint(self, label: str) -> None:
        """A known mistake whose output the data lacks: it does not match (raises), and the
        verdict says so (``note``)."""
        name = label[len(MISTAKE) :].split(":", 2)[-1]
        self.notes.setdefault(
            self.check_id,
            f"the release data has no fingerprint of the known mistake {name!r} for these "
            "inputs: it could not be named here (the instructor's grading can)",
        )
        raise NoFingerprint(name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        found = self._functions.get(name)
        if found is not None:
            return found
        entry = self.entries.get(f"const:{name}")
        if entry is None:
            raise NotInData(
                f"{self.check_id}: needs the reference's {name}, which is not in the release "
                f"data; {RESTORE}"
            )
        return decode(entry["result"], self.arrays)

    def __dir__(self) -> list[str]:
        return sorted(self._functions)
