"""A topic's calls planned by the judge: recorded once from the reference, sent in a few frames.

Every student of a course gets the same inputs for a check (they come from the course secret
and the check id), so the calls a check makes to a right solution are the same for everyone:
the calls the checks make when they grade the reference solution itself. ``record`` grades the
reference that way, in a worker like a student's, and keeps each check's first calls: those
that are plain data (no handle of an earlier call, no arguments read back for mutation, no
questions from a simulated device) and small (``MAX_PLANNED_BYTES``), up to the first one that
is not. Speed and GPU checks are
never planned: their calls are timed one by one, interleaved with the reference's.

When a student's topic is graded, ``StudentModule.prefetch`` sends the planned calls of the
checks that will run in a few ``stream`` requests (``grader.worker.calls``): the worker runs
them back to back, each with its check's seed, and answers each in a frame of its own, read
under that call's own deadline. The checks then run as always; a call a check makes is served
from what came back when it is, byte for byte, the next planned call of that check (``digest``:
its request as sent, with the seed it carries). A check whose plan stops short of its end (a
call with a handle of a planned one) goes on live after its planned calls, in the same worker,
with the generators put back as they were after them. A check that asks anything else (a wrong
answer can change what it asks next) runs again from its start with every call live, as does
one served by a stream whose worker has gone since: it costs a wrong answer the unused calls.

A stream changes no outcome. If it times out, crashes the worker or answers out of step, what
it answered stands as if it had been sent live: the checks it answered whole, and the check it
ended in, which meets that fault (counted as live: a function that timed out is not called
again) when it makes that call; the rest is sent live in a new worker. The deadline is spent
once. Only the order of calls differs: a topic's planned calls run before its live ones, so a
student module that keeps state across calls of different checks in module globals may see
them in another order than when each was sent alone (every run of the kit sends the same).

Plans are kept like the reference's answers (``grader.judge.expected.Store``): in memory for a
batch, and on disk, sealed with the course secret, under a version that changes with the
reference, the topic's check code, the numpy and torch versions and the secret.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from grader.judge.student import Call

# a stream request is cut after the request that brings it to this many arrays (a frame
# allows 4096) or requests (a request's header is small: far below the frame's 4 MiB)
MAX_BLOBS = 2048
MAX_OPS = 256
# a request with more array bytes than this is not planned: its round trip is small beside its
# data, which a plan would keep in memory for the whole batch (dropout's large masks)
MAX_PLANNED_BYTES = 256 * 1024


@dataclass(frozen=True)
class Planned:
    """One request of a check, as recorded: a ``call`` (one Call) or a ``batch`` (several)."""

    calls: tuple[Call, ...]
    batch: bool
    timeout: float
    seed: int | None
    digest: bytes

    def header(self, blobs: list[np.ndarray]) -> dict[str, Any]:
        return request_header(self.calls, self.batch, blobs, self.seed)


def request_header(
    calls: Sequence[Call], batch: bool, blobs: list[np.ndarray], seed: int | None
) -> dict[str, Any]:
    """The request for ``calls`` as the judge sends it, with ``seed`` folded in."""
    if batch:
        header: dict[str, Any] = {"op": "batch", "ops": [c.header(blobs) for c in calls]}
    else:
        header = calls[0].header(blobs)
    if seed is not None:
        header["seed"] = seed
    return header


def digest(header: dict[str, Any], blobs: Sequence[np.ndarray]) -> bytes:
    """A request's identity: its header and the bytes, dtype and shape of each array in it."""
    h = hashlib.blake2b(digest_size=20)
    h.update(json.dumps(header, sort_keys=True, separators=(",", ":")).encode())
    for arr in blobs:
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.digest()


def plannable(
    calls: Sequence[Call], header: dict[str, Any], blobs: Sequence[np.ndarray] = ()
) -> bool:
    """Plain data only: no handle, no arguments read back, no questions answered; and small."""
    if any(c.target is not None or c.echo or c.answer is not None for c in calls):
        return False
    if sum(a.nbytes for a in blobs) > MAX_PLANNED_BYTES:
        return False
    return '"t":"handle"' not in json.dumps(header, separators=(",", ":"))


@dataclass(frozen=True)
class Steps:
    """A check's planned requests; ``complete`` when they are all it asked of the reference
    (else it went on with a request that is not planned: sent live, after them)."""

    requests: tuple[Planned, ...]
    complete: bool


Plan = dict[str, Steps]  # check id -> its planned requests


class Recorder:
    """The first plain-data requests of each check, recorded while the reference is graded."""

    def __init__(self) -> None:
        self.plan: dict[str, list[Planned]] = {}
        self.incomplete: set[str] = set()
        self._check = ""
        self._current: list[Planned] | None = None

    def begin(self, check_id: str, planned: bool) -> None:
        """The requests from here on are ``check_id``'s (recorded when ``planned``)."""
        self._check = check_id
        self._current = self.plan.setdefault(check_id, []) if planned else None

    def note(
        self,
        calls: Sequence[Call],
        batch: bool,
        header: dict[str, Any],
        blobs: list[np.ndarray],
        timeout: float,
        seed: int | None,
    ) -> None:
        """A request about to be sent (``header`` without the seed); the first that is not
        plain data ends the check's plan."""
        if self._current is None:
            self.incomplete.add(self._check)
            return
        if not plannable(calls, header, blobs):
            self.stop()
            return
        sent = {**header, "seed": seed} if seed is not None else header
        self._current.append(Planned(tuple(calls), batch, timeout, seed, digest(sent, blobs)))

    def stop(self) -> None:
        """A request that is never planned (a ``getattr``): the check's plan ends here."""
        self._current = None
        self.incomplete.add(self._check)

    def result(self) -> Plan:
        return {
            cid: Steps(tuple(reqs), cid not in self.incomplete)
            for cid, reqs in self.plan.items()
            if reqs
        }


def stream_requests(
    entries: Sequence[Planned], keep_state: Collection[int] = ()
) -> list[tuple[list[int], dict[str, Any], list[np.ndarray]]]:
    """``entries`` as stream requests within the frame's limits: (their indices, the request,
    its arrays) for each. The requests of ``keep_state`` keep the generators' state after
    them (``snap``: for a live request that goes on from there)."""
    out: list[tuple[list[int], dict[str, Any], list[np.ndarray]]] = []
    indices: list[int] = []
    ops: list[dict[str, Any]] = []
    blobs: list[np.ndarray] = []
    for i, entry in enumerate(entries):
        op = entry.header(blobs)
        if i in keep_state:
            op["snap"] = i
        indices.append(i)
        ops.append(op)
        if len(blobs) >= MAX_BLOBS or len(ops) >= MAX_OPS:
            out.append((indices, {"op": "stream", "ops": ops}, blobs))
            indices, ops, blobs = [], [], []
    if ops:
        out.append((indices, {"op": "stream", "ops": ops}, blobs))
    return out


def dumps(plan: Plan) -> bytes:
    return pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Plan | None:
    try:
        plan = pickle.loads(data)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
        return None
    return plan if isinstance(plan, dict) else None
